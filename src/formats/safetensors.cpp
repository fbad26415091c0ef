#include "formats/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace herd {

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

// Element size of every dtype the safetensors format defines; 0 for names it does not define.
size_t element_size(const std::string& d) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2},
      {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"F64", 8}, {"I64", 8},
      {"U64", 8}};
  auto it = sizes.find(d);
  return it == sizes.end() ? 0 : it->second;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path, FileAccess access) : file_(path, access) {
  const size_t size = file_.size();
  if (size < 8) fail(path, ": not a safetensors file (", size, " bytes, need at least 8 for the header length)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file_.data(), 8);  // little-endian hosts only (x86-64, arm64)
  if (header_len > size - 8)
    fail(path, ": header length ", header_len, " runs past the end of the file (", size, " bytes)");
  if (header_len > 100u * 1024 * 1024) fail(path, ": header length ", header_len, " is implausibly large");
  const char* hdr = reinterpret_cast<const char*>(file_.data() + 8);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(hdr, hdr + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": malformed JSON header: ", e.what());
  }
  if (!j.is_object()) fail(path, ": JSON header is not an object");
  const uint8_t* data_start = file_.data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  for (auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (v.is_object())
        for (auto& [k, mv] : v.items())
          if (mv.is_string()) metadata_[k] = mv.get<std::string>();
      continue;
    }
    if (!v.is_object()) fail(path, ": tensor '", name, "': entry is not an object");
    TensorInfo t;
    t.name = name;
    t.file = path;
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(path, ": tensor '", name, "': missing dtype");
    t.dtype_name = v["dtype"].get<std::string>();
    size_t esize = element_size(t.dtype_name);
    if (esize == 0) fail(path, ": tensor '", name, "': unknown dtype '", t.dtype_name, "'");
    if (t.dtype_name == "F32") t.dtype = DType::F32, t.supported = true;
    if (t.dtype_name == "F16") t.dtype = DType::F16, t.supported = true;
    if (t.dtype_name == "BF16") t.dtype = DType::BF16, t.supported = true;
    if (!v.contains("shape") || !v["shape"].is_array()) fail(path, ": tensor '", name, "': missing shape");
    for (auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        fail(path, ": tensor '", name, "': shape has a non-integer or negative dimension");
      t.shape.push_back(d.get<int64_t>());
    }
    auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path, ": tensor '", name, "': data_offsets must be two non-negative integers");
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      fail(path, ": tensor '", name, "': data_offsets [", begin, ", ", end, "] outside the data block of ",
           data_size, " bytes (file truncated?)");
    // numel * esize with overflow checks
    uint64_t expect = esize;
    for (int64_t d : t.shape) {
      if (d != 0 && expect > UINT64_MAX / static_cast<uint64_t>(d)) fail(path, ": tensor '", name, "': shape overflows");
      expect *= static_cast<uint64_t>(d);
    }
    if (end - begin != expect)
      fail(path, ": tensor '", name, "': ", end - begin, " bytes stored but shape ", t.shape_str(), " of ",
           t.dtype_name, " needs ", expect);
    t.data = data_start + begin;
    t.nbytes = end - begin;
    tensors_.emplace(name, std::move(t));
  }
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json h;
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (auto& t : tensors) {
    h[t.name] = {{"dtype", t.dtype_name}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string header = h.dump();
  while ((header.size() + 8) % 8 != 0) header.push_back(' ');
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(tmp, ": cannot create");
    uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (auto& t : tensors) f.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    f.flush();
    if (!f) {
      f.close();
      std::filesystem::remove(tmp);
      fail(tmp, ": write failed (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace herd
