#pragma once
// GGUF version 3 writer: metadata in insertion order, tensors aligned to 32 bytes, data produced
// tensor by tensor through a callback (so a model never has to sit in memory twice). Written to
// `path.tmp` and renamed into place only when complete.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "formats/gguf.h"

namespace herd {

class GGUFWriter {
 public:
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  // Any value as read by GGUFFile (copies keys between files, e.g. an embedded tokenizer).
  void set_value(const std::string& key, const GGUFValue& v);
  bool has(const std::string& key) const;

  // ne[0] is the row length (a multiple of the type's block size). fill(dst) writes exactly
  // dtype_row_bytes(type, ne[0]) * ne[1] * ... bytes.
  using Fill = std::function<void(uint8_t* dst)>;
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, Fill fill);

  size_t data_bytes() const;  // sum of the tensors' sizes, padding included
  // progress(done_bytes, total_bytes) is called after each tensor.
  void write(const std::string& path, const std::function<void(size_t, size_t)>& progress = nullptr) const;

 private:
  struct Kv {
    std::string key;
    std::string bytes;  // type id + encoded value
  };
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    size_t nbytes;
    Fill fill;
  };
  void add_kv(const std::string& key, std::string bytes);
  std::vector<Kv> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace herd
