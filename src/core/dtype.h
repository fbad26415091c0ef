#pragma once
// Element types herd stores weights and caches in, and exact scalar conversions between them.
#include <cstdint>
#include <cstring>
#include <string>

namespace herd {

// F32/F16/BF16 are plain element types. The rest are ggml's block-quantized formats (GGUF): a row
// of n elements is n / dtype_block_size() blocks of dtype_block_bytes() bytes (layouts in
// core/quants.h). Append-only: the numeric values are not file ids (see ggml_type_id()).
enum class DType : uint8_t { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K };

const char* dtype_name(DType t);
// Bytes per element for F32/F16/BF16; bytes per block for the block types.
size_t dtype_size(DType t);
bool dtype_is_quantized(DType t);
int64_t dtype_block_size(DType t);   // elements per block (1 for F32/F16/BF16)
size_t dtype_block_bytes(DType t);   // bytes per block
// Bytes of n elements (n a multiple of the block size).
size_t dtype_row_bytes(DType t, int64_t n);
// ggml type ids (GGUF tensor infos) and back; -1 / false for types herd does not read.
int ggml_type_id(DType t);
bool dtype_from_ggml(uint32_t id, DType* out);
// "f32", "q4_k", ... (case-insensitive) to a DType; false if unknown.
bool dtype_from_name(const std::string& name, DType* out);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as PyTorch does; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Converts n elements of type t at src to f32 (block types: n a multiple of the block size;
// bit-identical to ggml's dequantization).
void to_f32(DType t, const void* src, float* dst, size_t n);

}  // namespace herd
