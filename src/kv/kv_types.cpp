#include "kv/kv_types.h"

#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/vec.h"

namespace herd {

const char* kv_type_name(KVType t) {
  switch (t) {
    case KVType::F32: return "f32";
    case KVType::F16: return "f16";
    case KVType::BF16: return "bf16";
    case KVType::Q8_0: return "q8_0";
    case KVType::Q4_0: return "q4_0";
  }
  return "?";
}

KVType parse_kv_type(const std::string& s) {
  if (s == "f32") return KVType::F32;
  if (s == "f16") return KVType::F16;
  if (s == "bf16") return KVType::BF16;
  if (s == "q8_0") return KVType::Q8_0;
  if (s == "q4_0") return KVType::Q4_0;
  fail("unknown KV type '", s, "' (use f32, f16, bf16, q8_0 or q4_0)");
}

int kv_block_size(int head_dim) { return head_dim % 32 == 0 ? 32 : head_dim; }

size_t kv_row_bytes(KVType t, int n, int block) {
  switch (t) {
    case KVType::F32: return 4 * static_cast<size_t>(n);
    case KVType::F16:
    case KVType::BF16: return 2 * static_cast<size_t>(n);
    case KVType::Q8_0: return static_cast<size_t>(n / block) * (2 + block);
    case KVType::Q4_0: return static_cast<size_t>(n / block) * (2 + block / 2);
  }
  return 0;
}

double kv_bytes_per_element(KVType t, int block) {
  return static_cast<double>(kv_row_bytes(t, block, block)) / block;
}

namespace {

// Q8_0 block: f16 scale d = max|x|/127, then int8 q = round(x/d).
void store_q8(const float* x, int block, uint8_t* dst) {
  float amax = 0;
  for (int i = 0; i < block; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const uint16_t dh = f32_to_f16(d);
  std::memcpy(dst, &dh, 2);
  const float id = d != 0 ? 1.0f / d : 0.0f;
  int8_t* q = reinterpret_cast<int8_t*>(dst + 2);
  for (int i = 0; i < block; ++i) q[i] = static_cast<int8_t>(std::lrintf(x[i] * id));
}

// Q4_0 block: the signed value of largest magnitude maps to -8, d = that / -8, q = round(x/d)+8
// in [0, 15], two per byte (element 2j in the low nibble, 2j+1 in the high nibble).
void store_q4(const float* x, int block, uint8_t* dst) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < block; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), vmax = x[i];
  const float d = vmax / -8.0f;
  const uint16_t dh = f32_to_f16(d);
  std::memcpy(dst, &dh, 2);
  const float id = d != 0 ? 1.0f / d : 0.0f;
  uint8_t* q = dst + 2;
  for (int i = 0; i < block; i += 2) {
    int a = std::min(15, std::max(0, static_cast<int>(std::lrintf(x[i] * id)) + 8));
    int b = std::min(15, std::max(0, static_cast<int>(std::lrintf(x[i + 1] * id)) + 8));
    q[i / 2] = static_cast<uint8_t>(a | (b << 4));
  }
}

}  // namespace

void kv_store_row(KVType t, const float* src, int n, int block, uint8_t* dst) {
  switch (t) {
    case KVType::F32:
      std::memcpy(dst, src, 4 * static_cast<size_t>(n));
      return;
    case KVType::F16:
      for (int i = 0; i < n; ++i) {
        uint16_t h = f32_to_f16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case KVType::BF16:
      for (int i = 0; i < n; ++i) {
        uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case KVType::Q8_0:
      for (int b = 0; b < n / block; ++b) store_q8(src + b * block, block, dst + b * (2 + block));
      return;
    case KVType::Q4_0:
      for (int b = 0; b < n / block; ++b) store_q4(src + b * block, block, dst + b * (2 + block / 2));
      return;
  }
}

void kv_load_row(KVType t, const uint8_t* src, int n, int block, float* dst) {
  switch (t) {
    case KVType::F32:
      std::memcpy(dst, src, 4 * static_cast<size_t>(n));
      return;
    case KVType::F16:
      row_to_f32(DType::F16, src, dst, n);
      return;
    case KVType::BF16:
      row_to_f32(DType::BF16, src, dst, n);
      return;
    case KVType::Q8_0:
      for (int b = 0; b < n / block; ++b) {
        const uint8_t* blk = src + b * (2 + block);
        uint16_t dh;
        std::memcpy(&dh, blk, 2);
        const float d = f16_to_f32(dh);
        const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
        for (int i = 0; i < block; ++i) dst[b * block + i] = d * q[i];
      }
      return;
    case KVType::Q4_0:
      for (int b = 0; b < n / block; ++b) {
        const uint8_t* blk = src + b * (2 + block / 2);
        uint16_t dh;
        std::memcpy(&dh, blk, 2);
        const float d = f16_to_f32(dh);
        for (int i = 0; i < block; i += 2) {
          const uint8_t byte = blk[2 + i / 2];
          dst[b * block + i] = d * static_cast<float>((byte & 15) - 8);
          dst[b * block + i + 1] = d * static_cast<float>((byte >> 4) - 8);
        }
      }
      return;
  }
}

void kv_load_rows(KVType t, const uint8_t* src, size_t stride, int64_t count, int n, int block, float* dst) {
  if (t == KVType::F32 && stride == 4 * static_cast<size_t>(n)) {
    std::memcpy(dst, src, stride * static_cast<size_t>(count));
    return;
  }
  for (int64_t r = 0; r < count; ++r) kv_load_row(t, src + r * stride, n, block, dst + r * n);
}

}  // namespace herd
