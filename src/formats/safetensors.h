#pragma once
// safetensors reader: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw data. The file is memory-mapped; tensors point into it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"

namespace herd {

struct TensorInfo {
  std::string name;
  std::string dtype_name;  // as written in the file ("F32", "BF16", "I64", ...)
  bool supported = false;  // dtype is one herd computes with (F32, F16, BF16)
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // path of the file holding it, for error messages

  int64_t numel() const;
  std::string shape_str() const;
};

class SafetensorsFile {
 public:
  // Validates the whole header (offsets, sizes, dtypes) and throws herd::Error naming the file
  // and the problem on any inconsistency.
  explicit SafetensorsFile(const std::string& path, FileAccess access = FileAccess::Map);

  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_.path(); }

 private:
  MappedFile file_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors to `path` atomically (temp file, then rename). Each entry is name -> (dtype
// name, shape, bytes). Used by `herd init`, training checkpoints and tests.
struct TensorToWrite {
  std::string name;
  std::string dtype_name;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace herd
