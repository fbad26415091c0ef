#include "formats/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace herd {

Checkpoint::Checkpoint(const std::string& dir, FileAccess access) : dir_(dir) {
  fs::path d(dir);
  fs::path index = d / "model.safetensors.index.json";
  fs::path single = d / "model.safetensors";
  if (fs::exists(index)) {
    std::ifstream f(index);
    std::stringstream ss;
    ss << f.rdbuf();
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::exception& e) {
      fail(index.string(), ": malformed JSON: ", e.what());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail(index.string(), ": no \"weight_map\" object");
    std::map<std::string, SafetensorsFile*> shards;
    for (auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) fail(index.string(), ": weight_map entry for '", name, "' is not a file name");
      std::string fname = file.get<std::string>();
      if (fname.find('/') != std::string::npos || fname == "..")
        fail(index.string(), ": shard name '", fname, "' must be a plain file name");
      if (!shards.count(fname)) {
        fs::path p = d / fname;
        if (!fs::exists(p)) fail(index.string(), ": shard '", fname, "' listed for '", name, "' does not exist");
        files_.push_back(std::make_unique<SafetensorsFile>(p.string(), access));
        shards[fname] = files_.back().get();
      }
      auto& ts = shards[fname]->tensors();
      auto it = ts.find(name);
      if (it == ts.end()) fail(index.string(), ": tensor '", name, "' is mapped to '", fname, "' but that shard lacks it");
      index_[name] = &it->second;
    }
  } else if (fs::exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single.string(), access));
    for (auto& [name, t] : files_.back()->tensors()) index_[name] = &t;
  } else {
    fail(dir, ": no model.safetensors or model.safetensors.index.json");
  }
}

bool Checkpoint::has(const std::string& name) const { return index_.count(name) != 0; }

const TensorInfo& Checkpoint::get(const std::string& name) {
  auto it = index_.find(name);
  if (it == index_.end()) fail(dir_, ": missing tensor '", name, "'");
  used_.insert(name);
  return *it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> v;
  for (auto& [n, _] : index_) v.push_back(n);
  return v;
}

std::vector<std::string> Checkpoint::unused(const std::vector<std::string>& ignored_prefixes) const {
  std::vector<std::string> v;
  for (auto& [n, _] : index_) {
    if (used_.count(n)) continue;
    bool ignored = false;
    for (auto& p : ignored_prefixes) ignored |= n.rfind(p, 0) == 0;
    if (!ignored) v.push_back(n);
  }
  return v;
}

}  // namespace herd
