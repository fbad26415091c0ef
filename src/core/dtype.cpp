#include "core/dtype.h"

#include <cctype>
#include <cmath>

#include "core/quants.h"

namespace herd {

namespace {
struct TypeInfo {
  DType t;
  const char* name;
  int ggml_id;
  int64_t block;
  size_t bytes;
};
constexpr TypeInfo kTypes[] = {
    {DType::F32, "F32", 0, 1, 4},          {DType::F16, "F16", 1, 1, 2},
    {DType::BF16, "BF16", 30, 1, 2},       {DType::Q8_0, "Q8_0", 8, 32, 34},
    {DType::Q4_0, "Q4_0", 2, 32, 18},      {DType::Q4_1, "Q4_1", 3, 32, 20},
    {DType::Q5_0, "Q5_0", 6, 32, 22},      {DType::Q5_1, "Q5_1", 7, 32, 24},
    {DType::Q4_K, "Q4_K", 12, 256, 144},   {DType::Q5_K, "Q5_K", 13, 256, 176},
    {DType::Q6_K, "Q6_K", 14, 256, 210},
};
const TypeInfo& info(DType t) { return kTypes[static_cast<int>(t)]; }
}  // namespace

const char* dtype_name(DType t) { return info(t).name; }
size_t dtype_size(DType t) { return info(t).bytes; }
bool dtype_is_quantized(DType t) { return info(t).block > 1; }
int64_t dtype_block_size(DType t) { return info(t).block; }
size_t dtype_block_bytes(DType t) { return info(t).bytes; }
size_t dtype_row_bytes(DType t, int64_t n) { return static_cast<size_t>(n / info(t).block) * info(t).bytes; }
int ggml_type_id(DType t) { return info(t).ggml_id; }

bool dtype_from_ggml(uint32_t id, DType* out) {
  for (const TypeInfo& i : kTypes)
    if (static_cast<uint32_t>(i.ggml_id) == id) {
      *out = i.t;
      return true;
    }
  return false;
}

bool dtype_from_name(const std::string& name, DType* out) {
  std::string up;
  for (char ch : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  for (const TypeInfo& i : kTypes)
    if (up == i.name) {
      *out = i.t;
      return true;
    }
  return false;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      u = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | man << 13;
  } else {
    u = sign | (exp + 112) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t au = u & 0x7fffffffu;
  if (au > 0x7f800000u) return sign | 0x7e00u;          // NaN
  if (au >= 0x477ff000u) return sign | 0x7c00u;         // overflow to inf (>= 65520)
  if (au < 0x38800000u) {                               // subnormal or zero in f16
    float af;
    std::memcpy(&af, &au, 4);
    // Scale so the f16 subnormal unit (2^-24) becomes 1, then round to nearest even.
    float scaled = af * 16777216.0f;
    uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
    return sign | static_cast<uint16_t>(m);
  }
  uint32_t mant_odd = (au >> 13) & 1u;
  au += 0xc8000fffu + mant_odd;  // re-bias exponent (-112 << 23) and round to nearest even
  return sign | static_cast<uint16_t>(au >> 13);
}

void to_f32(DType t, const void* src, float* dst, size_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    default:
      quant::dequantize(t, static_cast<const uint8_t*>(src), dst, static_cast<int64_t>(n));
      return;
  }
}

}  // namespace herd
