#include "formats/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"

namespace herd {

namespace {

constexpr size_t kAlign = 32;

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void put_str(std::string& s, const std::string& v) {
  put<uint64_t>(s, v.size());
  s += v;
}
size_t padded(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

}  // namespace

void GGUFWriter::add_kv(const std::string& key, std::string bytes) {
  for (const Kv& k : kv_)
    if (k.key == key) fail("GGUF writer: metadata key '", key, "' set twice");
  kv_.push_back({key, std::move(bytes)});
}

void GGUFWriter::set_u32(const std::string& key, uint32_t v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::U32));
  put(b, v);
  add_kv(key, b);
}
void GGUFWriter::set_i32(const std::string& key, int32_t v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::I32));
  put(b, v);
  add_kv(key, b);
}
void GGUFWriter::set_f32(const std::string& key, float v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::F32));
  put(b, v);
  add_kv(key, b);
}
void GGUFWriter::set_bool(const std::string& key, bool v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::BOOL));
  put<uint8_t>(b, v ? 1 : 0);
  add_kv(key, b);
}
void GGUFWriter::set_string(const std::string& key, const std::string& v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::STRING));
  put_str(b, v);
  add_kv(key, b);
}
void GGUFWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::ARRAY));
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::STRING));
  put<uint64_t>(b, v.size());
  for (const auto& s : v) put_str(b, s);
  add_kv(key, b);
}
void GGUFWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::ARRAY));
  put<uint32_t>(b, static_cast<uint32_t>(GGUFType::I32));
  put<uint64_t>(b, v.size());
  for (int32_t x : v) put(b, x);
  add_kv(key, b);
}

namespace {
void put_scalar(std::string& b, GGUFType t, const GGUFValue& v, size_t idx, bool array) {
  const bool fl = t == GGUFType::F32 || t == GGUFType::F64;
  const int64_t i = array && !fl && t != GGUFType::STRING ? v.ints[idx] : v.i;
  const double f = array && fl ? v.floats[idx] : v.f;
  switch (t) {
    case GGUFType::U8: case GGUFType::I8: case GGUFType::BOOL: put<uint8_t>(b, static_cast<uint8_t>(array ? i : static_cast<int64_t>(v.u))); break;
    case GGUFType::U16: case GGUFType::I16: put<uint16_t>(b, static_cast<uint16_t>(array ? i : static_cast<int64_t>(v.u))); break;
    case GGUFType::U32: case GGUFType::I32: put<uint32_t>(b, static_cast<uint32_t>(array ? i : static_cast<int64_t>(v.u))); break;
    case GGUFType::U64: case GGUFType::I64: put<uint64_t>(b, static_cast<uint64_t>(array ? i : static_cast<int64_t>(v.u))); break;
    case GGUFType::F32: put<float>(b, static_cast<float>(f)); break;
    case GGUFType::F64: put<double>(b, f); break;
    case GGUFType::STRING: put_str(b, array ? v.strs[idx] : v.s); break;
    default: fail("GGUF writer: cannot encode nested arrays");
  }
}
}  // namespace

void GGUFWriter::set_value(const std::string& key, const GGUFValue& v) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(v.type));
  if (v.type == GGUFType::ARRAY) {
    put<uint32_t>(b, static_cast<uint32_t>(v.elem));
    put<uint64_t>(b, v.count);
    for (size_t j = 0; j < v.count; ++j) put_scalar(b, v.elem, v, j, true);
  } else {
    put_scalar(b, v.type, v, 0, false);
  }
  add_kv(key, b);
}

bool GGUFWriter::has(const std::string& key) const {
  for (const Kv& k : kv_)
    if (k.key == key) return true;
  return false;
}

void GGUFWriter::add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, Fill fill) {
  if (ne.empty() || ne.size() > 4) fail("GGUF writer: tensor '", name, "' needs 1 to 4 dimensions");
  if (ne[0] % dtype_block_size(type) != 0)
    fail("GGUF writer: tensor '", name, "' rows of ", ne[0], " are not whole ", dtype_name(type), " blocks");
  size_t n = dtype_row_bytes(type, ne[0]);
  for (size_t i = 1; i < ne.size(); ++i) n *= static_cast<size_t>(ne[i]);
  for (const Tensor& t : tensors_)
    if (t.name == name) fail("GGUF writer: tensor '", name, "' added twice");
  tensors_.push_back({name, type, std::move(ne), n, std::move(fill)});
}

size_t GGUFWriter::data_bytes() const {
  size_t n = 0;
  for (const Tensor& t : tensors_) n += padded(t.nbytes);
  return n;
}

void GGUFWriter::write(const std::string& path, const std::function<void(size_t, size_t)>& progress) const {
  std::string head = "GGUF";
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_.size());
  for (const Kv& k : kv_) {
    put_str(head, k.key);
    head += k.bytes;
  }
  size_t off = 0;
  for (const Tensor& t : tensors_) {
    put_str(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(head, static_cast<uint64_t>(d));
    put<uint32_t>(head, static_cast<uint32_t>(ggml_type_id(t.type)));
    put<uint64_t>(head, off);
    off += padded(t.nbytes);
  }
  head.resize(padded(head.size()), '\0');

  const std::string tmp = path + ".tmp";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(tmp.c_str(), "wb"), std::fclose);
  if (!f) fail(path, ": cannot create ", tmp);
  auto out = [&](const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f.get()) != n) {
      std::remove(tmp.c_str());
      fail(path, ": write failed (disk full?)");
    }
  };
  out(head.data(), head.size());
  const size_t total = data_bytes();
  size_t done = 0;
  std::vector<uint8_t> buf;
  for (const Tensor& t : tensors_) {
    buf.assign(padded(t.nbytes), 0);
    t.fill(buf.data());
    out(buf.data(), buf.size());
    done += buf.size();
    if (progress) progress(done, total);
  }
  if (std::fflush(f.get()) != 0) fail(path, ": write failed");
  f.reset();
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(path, ": cannot rename ", tmp, ": ", ec.message());
}

}  // namespace herd
