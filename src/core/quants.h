#pragma once
// ggml's block-quantized weight formats (as stored in GGUF files): byte layouts, scalar
// dequantization (bit-identical to ggml's) and scalar quantizers used by the GGUF writer.
// Every block starts at a byte boundary and rows never share a block. f16 fields are IEEE halves.
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace herd::quant {

constexpr int64_t QK = 32;    // elements per block of Q8_0, Q4_0, Q4_1, Q5_0, Q5_1
constexpr int64_t QK_K = 256;  // elements per super-block of the K types

// Byte sizes:
//   Q8_0 34: d f16 | qs[32] i8                    v = d*q
//   Q4_0 18: d f16 | qs[16]                       v[j] = d*((qs[j]&15)-8), v[j+16] = d*((qs[j]>>4)-8)
//   Q4_1 20: d f16 | m f16 | qs[16]               v = d*q + m (q as Q4_0 without the -8)
//   Q5_0 22: d f16 | qh u32 | qs[16]              fifth bit j of qh for element j; v = d*(q-16)
//   Q5_1 24: d f16 | m f16 | qh u32 | qs[16]      v = d*q + m
//   Q4_K 144: d f16 | dmin f16 | scales[12] | qs[128]
//   Q5_K 176: d f16 | dmin f16 | scales[12] | qh[32] | qs[128]
//   Q6_K 210: ql[128] | qh[64] | scales[16] i8 | d f16
constexpr size_t kQ8_0Bytes = 34, kQ4_0Bytes = 18, kQ4_1Bytes = 20, kQ5_0Bytes = 22, kQ5_1Bytes = 24;
constexpr size_t kQ4_KBytes = 144, kQ5_KBytes = 176, kQ6_KBytes = 210;

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
inline float rdf16(const uint8_t* p) { return f16_to_f32(rd16(p)); }

// 6-bit scale and min of sub-block s (0..7) of a Q4_K / Q5_K block from its 12 packed bytes.
inline void k_scale_min(int s, const uint8_t* sc, uint8_t* scale, uint8_t* min) {
  if (s < 4) {
    *scale = sc[s] & 63;
    *min = sc[s + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((sc[s + 4] & 15) | ((sc[s - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((sc[s + 4] >> 4) | ((sc[s] >> 6) << 4));
  }
}

// n elements (a multiple of the block size) of type t to f32.
void dequantize(DType t, const uint8_t* src, float* dst, int64_t n);

// f32 to the block type t (n a multiple of its block size). Supported: Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1, Q4_K, Q5_K, Q6_K. Round-to-nearest quantizers with per-block scales chosen to cover the
// block's range (not ggml's search-based ones, so the bytes differ from llama-quantize's).
void quantize(DType t, const float* src, uint8_t* dst, int64_t n);

}  // namespace herd::quant
