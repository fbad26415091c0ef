#pragma once
// GGUF (versions 2 and 3) reader: header, metadata, tensor infos; tensor data used in place from a
// memory mapping. Every structural problem (bad magic, unsupported version, unknown value or
// tensor type, truncation, tensor data out of bounds or misaligned) is a herd::Error naming the file.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"

namespace herd {

enum class GGUFType : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };
const char* gguf_type_name(GGUFType t);

struct GGUFValue {
  GGUFType type = GGUFType::U8;
  GGUFType elem = GGUFType::U8;  // arrays: element type
  uint64_t u = 0;                // unsigned integers and bool
  int64_t i = 0;                 // signed integers
  double f = 0;                  // floats
  std::string s;                 // string
  uint64_t count = 0;            // arrays: element count
  std::vector<std::string> strs;  // string arrays
  std::vector<int64_t> ints;      // integer and bool arrays
  std::vector<double> floats;     // float arrays

  bool is_integer() const;
  bool is_float() const { return type == GGUFType::F32 || type == GGUFType::F64; }
};

struct GGUFTensor {
  std::string name;
  uint32_t ggml_type = 0;
  DType type = DType::F32;
  std::vector<int64_t> ne;  // ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;      // relative to the data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;

  int64_t n_elements() const;
  std::string shape_str() const;  // "{64, 256}"
};

class GGUFFile {
 public:
  explicit GGUFFile(const std::string& path, FileAccess access = FileAccess::Map);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  size_t file_size() const { return file_.size(); }

  // Metadata in file order, and typed look-ups that fail with a clear message when the key is
  // missing or holds another type. Integer getters accept any integer type whose value fits.
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const { return kv_; }
  const GGUFValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  uint64_t get_uint(const std::string& key) const;
  uint64_t get_uint(const std::string& key, uint64_t fallback) const;
  double get_float(const std::string& key) const;
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  const std::vector<int64_t>& get_int_array(const std::string& key) const;
  const std::vector<double>& get_float_array(const std::string& key) const;

  const std::vector<GGUFTensor>& tensors() const { return tensors_; }
  const GGUFTensor* tensor(const std::string& name) const;

 private:
  const GGUFValue& need(const std::string& key) const;
  [[noreturn]] void wrong_type(const std::string& key, const GGUFValue& v, const char* want) const;

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32, data_offset_ = 0;
  std::vector<std::pair<std::string, GGUFValue>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<GGUFTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Name of a ggml type id for messages ("Q4_K", "IQ2_XXS", or "#99").
std::string ggml_type_name(uint32_t id);

}  // namespace herd
