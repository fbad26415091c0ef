#pragma once
// A Hugging Face checkpoint's tensors: one model.safetensors, or shards listed in
// model.safetensors.index.json. Tracks which tensors were used so that unexpected extra tensors
// can be reported.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "formats/safetensors.h"

namespace herd {

class Checkpoint {
 public:
  explicit Checkpoint(const std::string& dir, FileAccess access = FileAccess::Map);

  bool has(const std::string& name) const;
  // Throws naming the directory when the tensor is missing.
  const TensorInfo& get(const std::string& name);
  const std::string& dir() const { return dir_; }
  std::vector<std::string> names() const;
  // Tensors never fetched with get(), excluding those whose name starts with an ignored prefix.
  std::vector<std::string> unused(const std::vector<std::string>& ignored_prefixes) const;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorInfo*> index_;
  std::set<std::string> used_;
};

}  // namespace herd
