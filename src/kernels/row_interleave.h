#pragma once
// Interleaved 16-row groups: a weight layout for one-token decode. The standard layout stores a
// Q6_K (Q4_K, Q8_0) row as consecutive 210 (144, 34)-byte blocks; a one-row kernel then spends
// most of its instructions on per-block scale handling and a horizontal sum per row, and at two
// threads it cannot keep up with memory. Here 16 consecutive rows are stored together, block
// column by block column, with the bytes of each column rearranged so that one 64-byte vector
// holds 4 consecutive weights of each of the 16 rows: a kernel multiplies it by 4 broadcast
// activations and keeps the 16 row sums in the lanes of one register (about a third of the
// instructions). Same size as the
// standard layout; applied in place to weights read into memory (never to a mapped file).
//
// Q6_K column (3360 bytes for 16 rows r, elements e = 4k + i of the 256-element block, q the
// 6-bit value):
//   [0, 2048)     32 chunks of 64: chunk c byte 4r + i = (q[r][4c + i] & 15) | (q[r][4(c + 32) + i] & 15) << 4
//   [2048, 3072)  16 chunks of 64: chunk c byte 4r + i = sum over m < 4 of (q[r][4(c + 16m) + i] >> 4) << 2m
//   [3072, 3328)  scale of 16-element group g of row r at 16g + r (int8)
//   [3328, 3360)  d of row r (f16) at 2r
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace herd {

constexpr int64_t kInterleaveRows = 16;

// Q4_K column (2304 bytes): see q4k_interleave_column in row_interleave.cpp (the 4-bit values as
// Q6_K's low nibbles, the 6-bit scales and mins split into 4 + 2 bits, d and dmin per row).

// Q8_0 column (544 bytes): the 32 int8 values in 8 chunks of [16 rows][4 bytes], then d per row.

// Whether a rows x cols matrix of type t has an interleaved layout (Q6_K, Q4_K or Q8_0, rows a
// multiple of 16).
bool interleavable(DType t, int64_t rows, int64_t cols);

// Rewrites the standard-layout matrix at data (rows x cols, rows packed) into interleaved groups,
// in place, spread over the thread pool.
void interleave_rows(DType t, uint8_t* data, int64_t rows, int64_t cols);

// One interleaved group (16 rows) back to 16 standard rows, packed, at out (vectorized where the CPU
// has AVX-512: the prefill GEMMs restore every panel they read).
void deinterleave_group(DType t, const uint8_t* group, int64_t cols, uint8_t* out);

namespace avx512 {  // row_interleave_avx512.cpp: one column back to 16 standard blocks, row r's at blocks + r * stride
void q4k_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride);
void q6k_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride);
void q80_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride);
// ... and 16 standard blocks to one column.
void q4k_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col);
void q6k_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col);
void q80_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col);
}  // namespace avx512

}  // namespace herd
