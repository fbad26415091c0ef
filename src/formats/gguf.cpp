#include "formats/gguf.h"

#include <cstring>
#include <limits>

#include "core/error.h"

namespace herd {

const char* gguf_type_name(GGUFType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

std::string ggml_type_name(uint32_t id) {
  static const char* names[] = {"F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2", "Q4_3",  "Q5_0",  "Q5_1",
                                "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K", "Q5_K",  "Q6_K",  "Q8_K",
                                "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
                                "I8",      "I16",    "I32",     "I64",   "F64",  "IQ1_M", "BF16",  "Q4_0_4_4",
                                "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};
  if (id < sizeof(names) / sizeof(names[0])) return names[id];
  return "#" + std::to_string(id);
}

bool GGUFValue::is_integer() const {
  switch (type) {
    case GGUFType::U8: case GGUFType::I8: case GGUFType::U16: case GGUFType::I16:
    case GGUFType::U32: case GGUFType::I32: case GGUFType::U64: case GGUFType::I64: return true;
    default: return false;
  }
}

int64_t GGUFTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::string GGUFTensor::shape_str() const {
  std::string s = "{";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "}";
}

namespace {

class Reader {
 public:
  Reader(const uint8_t* p, size_t n, const std::string& path) : p_(p), n_(n), path_(path) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }

  void need(size_t k, const char* what) {
    if (k > left())
      fail(path_, ": file is truncated (", what, " at byte ", pos_, " needs ", k, " bytes, ", left(), " left)");
  }
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    uint64_t len = get<uint64_t>(what);
    if (len > left()) fail(path_, ": file is truncated (", what, " at byte ", pos_, " claims ", len, " bytes, ", left(), " left)");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  const std::string& path_;
};

size_t scalar_size(GGUFType t) {
  switch (t) {
    case GGUFType::U8: case GGUFType::I8: case GGUFType::BOOL: return 1;
    case GGUFType::U16: case GGUFType::I16: return 2;
    case GGUFType::U32: case GGUFType::I32: case GGUFType::F32: return 4;
    case GGUFType::U64: case GGUFType::I64: case GGUFType::F64: return 8;
    default: return 0;
  }
}

// Reads one scalar of type t into v (u / i / f as fits).
void read_scalar(Reader& r, GGUFType t, GGUFValue& v, const char* what) {
  switch (t) {
    case GGUFType::U8: v.u = r.get<uint8_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::U16: v.u = r.get<uint16_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::U32: v.u = r.get<uint32_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::U64: v.u = r.get<uint64_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I8: v.i = r.get<int8_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::I16: v.i = r.get<int16_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::I32: v.i = r.get<int32_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::I64: v.i = r.get<int64_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::BOOL: v.u = r.get<uint8_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::F32: v.f = r.get<float>(what); break;
    case GGUFType::F64: v.f = r.get<double>(what); break;
    default: break;
  }
}

}  // namespace

GGUFFile::GGUFFile(const std::string& path, FileAccess access) : file_(path, access) {
  const std::string& p = file_.path();
  Reader r(file_.data(), file_.size(), p);
  if (file_.size() < 4 || std::memcmp(file_.data(), "GGUF", 4) != 0)
    fail(p, ": not a GGUF file (bad magic; expected the bytes 'GGUF' at offset 0)");
  r.get<uint32_t>("magic");
  version_ = r.get<uint32_t>("version");
  if (version_ != 2 && version_ != 3) fail(p, ": unsupported GGUF version ", version_, " (herd reads versions 2 and 3)");
  const uint64_t n_tensors = r.get<uint64_t>("tensor count");
  const uint64_t n_kv = r.get<uint64_t>("metadata count");
  // Each key/value needs at least 12 bytes and each tensor info at least 28.
  if (n_kv > r.left() / 12) fail(p, ": metadata count ", n_kv, " cannot fit in the file (truncated or corrupt header)");
  if (n_tensors > r.left() / 28) fail(p, ": tensor count ", n_tensors, " cannot fit in the file (truncated or corrupt header)");

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = r.str("metadata key");
    GGUFValue v;
    const uint32_t t = r.get<uint32_t>("metadata value type");
    if (t > static_cast<uint32_t>(GGUFType::F64)) fail(p, ": metadata key '", key, "' has unknown value type ", t);
    v.type = static_cast<GGUFType>(t);
    if (v.type == GGUFType::STRING) {
      v.s = r.str("string value");
    } else if (v.type == GGUFType::ARRAY) {
      const uint32_t et = r.get<uint32_t>("array element type");
      if (et > static_cast<uint32_t>(GGUFType::F64) || et == static_cast<uint32_t>(GGUFType::ARRAY))
        fail(p, ": metadata key '", key, "' is an array of unsupported element type ", et);
      v.elem = static_cast<GGUFType>(et);
      v.count = r.get<uint64_t>("array length");
      const size_t es = v.elem == GGUFType::STRING ? 8 : scalar_size(v.elem);
      if (v.count > r.left() / es)
        fail(p, ": file is truncated (array '", key, "' claims ", v.count, " elements, ", r.left(), " bytes left)");
      if (v.elem == GGUFType::STRING) {
        v.strs.reserve(v.count);
        for (uint64_t j = 0; j < v.count; ++j) v.strs.push_back(r.str("array string"));
      } else {
        GGUFValue e;
        for (uint64_t j = 0; j < v.count; ++j) {
          read_scalar(r, v.elem, e, "array element");
          if (v.elem == GGUFType::F32 || v.elem == GGUFType::F64) v.floats.push_back(e.f);
          else v.ints.push_back(e.i);
        }
      }
    } else {
      read_scalar(r, v.type, v, "metadata value");
    }
    if (kv_index_.count(key)) fail(p, ": metadata key '", key, "' appears twice");
    kv_index_[key] = kv_.size();
    kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const GGUFValue* a = find("general.alignment")) {
    if (!a->is_integer()) wrong_type("general.alignment", *a, "an integer");
    alignment_ = a->u;
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0 || alignment_ > (1u << 20))
      fail(p, ": general.alignment ", alignment_, " is not a power of two (up to 1 MiB)");
  }

  for (uint64_t k = 0; k < n_tensors; ++k) {
    GGUFTensor t;
    t.name = r.str("tensor name");
    const uint32_t nd = r.get<uint32_t>("tensor dimension count");
    if (nd == 0 || nd > 4) fail(p, ": tensor '", t.name, "' has ", nd, " dimensions (1 to 4 allowed)");
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t n = r.get<uint64_t>("tensor dimension");
      if (n == 0 || n > (uint64_t{1} << 40)) fail(p, ": tensor '", t.name, "' has invalid dimension ", d, " of size ", n);
      t.ne.push_back(static_cast<int64_t>(n));
    }
    t.ggml_type = r.get<uint32_t>("tensor type");
    t.offset = r.get<uint64_t>("tensor offset");
    if (!dtype_from_ggml(t.ggml_type, &t.type))
      fail(p, ": tensor '", t.name, "' has ggml type ", ggml_type_name(t.ggml_type), " (id ", t.ggml_type,
           "), which herd does not read (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
    const int64_t bs = dtype_block_size(t.type);
    if (t.ne[0] % bs != 0)
      fail(p, ": tensor '", t.name, "' has rows of ", t.ne[0], " elements, not a multiple of the ", dtype_name(t.type),
           " block size ", bs);
    unsigned __int128 bytes = dtype_row_bytes(t.type, t.ne[0]);
    for (size_t d = 1; d < t.ne.size(); ++d) bytes *= static_cast<uint64_t>(t.ne[d]);
    if (bytes > (static_cast<unsigned __int128>(1) << 56)) fail(p, ": tensor '", t.name, "' is impossibly large ", t.shape_str());
    t.nbytes = static_cast<size_t>(bytes);
    if (tensor_index_.count(t.name)) fail(p, ": tensor '", t.name, "' appears twice");
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  for (GGUFTensor& t : tensors_) {
    if (t.offset % alignment_ != 0)
      fail(p, ": tensor '", t.name, "' data offset ", t.offset, " is not a multiple of the alignment ", alignment_);
    if (data_offset_ > file_.size() || t.offset > file_.size() - data_offset_ || t.nbytes > file_.size() - data_offset_ - t.offset)
      fail(p, ": tensor '", t.name, "' data (", t.nbytes, " bytes at offset ", t.offset, " in the data section at ", data_offset_,
           ") runs past the end of the file (", file_.size(), " bytes): truncated or corrupt");
    t.data = file_.data() + data_offset_ + t.offset;
  }
}

const GGUFValue* GGUFFile::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GGUFValue& GGUFFile::need(const std::string& key) const {
  const GGUFValue* v = find(key);
  if (!v) fail(path(), ": metadata key '", key, "' is missing");
  return *v;
}

void GGUFFile::wrong_type(const std::string& key, const GGUFValue& v, const char* want) const {
  std::string have = gguf_type_name(v.type);
  if (v.type == GGUFType::ARRAY) have = std::string("array of ") + gguf_type_name(v.elem);
  fail(path(), ": metadata key '", key, "' has type ", have, ", expected ", want);
}

uint64_t GGUFFile::get_uint(const std::string& key) const {
  const GGUFValue& v = need(key);
  if (!v.is_integer()) wrong_type(key, v, "an unsigned integer");
  if (v.i < 0 && v.type != GGUFType::U64) fail(path(), ": metadata key '", key, "' is negative (", v.i, ")");
  return v.u;
}
uint64_t GGUFFile::get_uint(const std::string& key, uint64_t fallback) const { return has(key) ? get_uint(key) : fallback; }

double GGUFFile::get_float(const std::string& key) const {
  const GGUFValue& v = need(key);
  if (v.is_float()) return v.f;
  if (v.is_integer()) return static_cast<double>(v.i);
  wrong_type(key, v, "a number");
}
double GGUFFile::get_float(const std::string& key, double fallback) const { return has(key) ? get_float(key) : fallback; }

bool GGUFFile::get_bool(const std::string& key, bool fallback) const {
  const GGUFValue* v = find(key);
  if (!v) return fallback;
  if (v->type != GGUFType::BOOL) wrong_type(key, *v, "bool");
  return v->u != 0;
}

std::string GGUFFile::get_string(const std::string& key) const {
  const GGUFValue& v = need(key);
  if (v.type != GGUFType::STRING) wrong_type(key, v, "string");
  return v.s;
}
std::string GGUFFile::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

const std::vector<std::string>& GGUFFile::get_string_array(const std::string& key) const {
  const GGUFValue& v = need(key);
  if (v.type != GGUFType::ARRAY || v.elem != GGUFType::STRING) wrong_type(key, v, "array of string");
  return v.strs;
}
const std::vector<int64_t>& GGUFFile::get_int_array(const std::string& key) const {
  const GGUFValue& v = need(key);
  if (v.type != GGUFType::ARRAY || v.elem == GGUFType::STRING || v.elem == GGUFType::F32 || v.elem == GGUFType::F64)
    wrong_type(key, v, "array of integers");
  return v.ints;
}
const std::vector<double>& GGUFFile::get_float_array(const std::string& key) const {
  const GGUFValue& v = need(key);
  if (v.type != GGUFType::ARRAY || (v.elem != GGUFType::F32 && v.elem != GGUFType::F64)) wrong_type(key, v, "array of floats");
  return v.floats;
}

const GGUFTensor* GGUFFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace herd
