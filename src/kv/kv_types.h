#pragma once
// Storage types for cached keys and values. One "row" is one head's vector (head_dim values) at
// one position. Quantized rows are split into blocks that each carry an f16 scale.
#include <cstddef>
#include <cstdint>
#include <string>

namespace herd {

enum class KVType : uint8_t { F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3, Q4_0 = 4 };

const char* kv_type_name(KVType t);
KVType parse_kv_type(const std::string& s);  // "f32", "f16", "bf16", "q8_0", "q4_0"

// Elements per quantization block for a head size: 32 when it divides head_dim, else head_dim.
int kv_block_size(int head_dim);
// Bytes of one row of n values (n a multiple of block for quantized types).
size_t kv_row_bytes(KVType t, int n, int block);
// Average bytes per element (for planning): 4, 2, 2, 34/32, 18/32 with 32-element blocks.
double kv_bytes_per_element(KVType t, int block = 32);

void kv_store_row(KVType t, const float* src, int n, int block, uint8_t* dst);
void kv_load_row(KVType t, const uint8_t* src, int n, int block, float* dst);
// Loads `count` rows spaced `stride` bytes apart into dst [count, n].
void kv_load_rows(KVType t, const uint8_t* src, size_t stride, int64_t count, int n, int block, float* dst);

}  // namespace herd
