#include "kernels/row_interleave.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/quants.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"

namespace herd {

namespace {

// Standard Q6_K block <-> its 256 six-bit values (quants.h: ql[128] | qh[64] | scales[16] | d).
void q6k_values(const uint8_t* blk, uint8_t* q) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 64; ++l) {
      const uint8_t b = blk[64 * h + l], hb = blk[128 + 32 * h + l % 32];
      const int s = 2 * (l / 32);  // qh bits of element 128h + l, and 4 higher for + 64
      q[128 * h + l] = static_cast<uint8_t>((b & 15) | ((hb >> s) & 3) << 4);
      q[128 * h + 64 + l] = static_cast<uint8_t>((b >> 4) | ((hb >> (s + 4)) & 3) << 4);
    }
}

void q6k_block(const uint8_t* q, uint8_t* blk) {
  std::memset(blk, 0, 192);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, j = e % 128;
    blk[64 * h + j % 64] |= static_cast<uint8_t>(j < 64 ? q[e] & 15 : (q[e] & 15) << 4);
    blk[128 + 32 * h + j % 32] |= static_cast<uint8_t>((q[e] >> 4) << (2 * (j / 32)));
  }
}

// 16 standard blocks (row r's at blocks + r * stride) -> one interleaved column, and back.
void q6k_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col) {
  uint8_t q[kInterleaveRows][256];
  for (int r = 0; r < kInterleaveRows; ++r) q6k_values(blocks + r * stride, q[r]);
  for (int c = 0; c < 32; ++c)
    for (int r = 0; r < kInterleaveRows; ++r)
      for (int i = 0; i < 4; ++i) col[64 * c + 4 * r + i] = static_cast<uint8_t>((q[r][4 * c + i] & 15) | (q[r][4 * (c + 32) + i] & 15) << 4);
  for (int c = 0; c < 16; ++c)
    for (int r = 0; r < kInterleaveRows; ++r)
      for (int i = 0; i < 4; ++i) {
        const uint8_t* v = q[r] + 4 * c + i;
        col[2048 + 64 * c + 4 * r + i] = static_cast<uint8_t>((v[0] >> 4) | (v[64] >> 4) << 2 | (v[128] >> 4) << 4 | (v[192] >> 4) << 6);
      }
  for (int r = 0; r < kInterleaveRows; ++r) {
    const uint8_t* blk = blocks + r * stride;
    for (int g = 0; g < 16; ++g) col[3072 + 16 * g + r] = blk[192 + g];
    std::memcpy(col + 3328 + 2 * r, blk + 208, 2);
  }
}

void q6k_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride) {
  for (int r = 0; r < kInterleaveRows; ++r) {
    uint8_t q[256];
    for (int k = 0; k < 64; ++k)
      for (int i = 0; i < 4; ++i) {
        const uint8_t l = col[64 * (k % 32) + 4 * r + i];
        const int nib = k < 32 ? l & 15 : l >> 4;
        const int hi = (col[2048 + 64 * (k % 16) + 4 * r + i] >> (2 * (k / 16))) & 3;
        q[4 * k + i] = static_cast<uint8_t>(nib | hi << 4);
      }
    uint8_t* blk = blocks + r * stride;
    q6k_block(q, blk);
    for (int g = 0; g < 16; ++g) blk[192 + g] = col[3072 + 16 * g + r];
    std::memcpy(blk + 208, col + 3328 + 2 * r, 2);
  }
}

// Standard Q4_K block <-> its 256 four-bit values and 8 six-bit scales and mins (quants.h:
// d | dmin | scales[12] | qs[128]; element 64j + l is the low (l < 32) or high nibble of qs[32j + l % 32]).
void q4k_values(const uint8_t* blk, uint8_t* q, uint8_t* sc, uint8_t* mn) {
  for (int k = 0; k < 128; ++k) {
    const uint8_t b = blk[16 + k];
    q[64 * (k / 32) + k % 32] = b & 15;
    q[64 * (k / 32) + 32 + k % 32] = b >> 4;
  }
  for (int j = 0; j < 8; ++j) quant::k_scale_min(j, blk + 4, &sc[j], &mn[j]);
}

void q4k_block(const uint8_t* q, const uint8_t* sc, const uint8_t* mn, uint8_t* blk) {
  for (int k = 0; k < 128; ++k) {
    const int j = k / 32, l = k % 32;
    blk[16 + k] = static_cast<uint8_t>((q[64 * j + l] & 15) | (q[64 * j + 32 + l] & 15) << 4);
  }
  uint8_t* s = blk + 4;  // the inverse of k_scale_min
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
    s[j + 4] = static_cast<uint8_t>((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
  }
}

// Q4_K column (2304 bytes for 16 rows r; q the 4-bit values, sc / mn the 6-bit scales / mins of
// the 8 sub-blocks of 32):
//   [0, 2048)     32 chunks of 64: chunk c byte 4r + i = q[r][4c + i] | q[r][4(c + 32) + i] << 4
//   [2048, 2112)  scale low 4 bits: byte 16j + r = (sc[r][j] & 15) | (sc[r][j + 4] & 15) << 4, j < 4
//   [2112, 2144)  scale high 2 bits: byte 16k + r = sum over m < 4 of (sc[r][k + 2m] >> 4) << 2m, k < 2
//   [2144, 2240)  the mins, laid out as the scales
//   [2240, 2272)  d of row r (f16) at 2r; [2272, 2304) dmin
void q4k_pack_six(const uint8_t (*v)[8], uint8_t* lo, uint8_t* hi) {
  for (int r = 0; r < kInterleaveRows; ++r) {
    for (int j = 0; j < 4; ++j) lo[16 * j + r] = static_cast<uint8_t>((v[r][j] & 15) | (v[r][j + 4] & 15) << 4);
    for (int k = 0; k < 2; ++k) {
      uint8_t b = 0;
      for (int m = 0; m < 4; ++m) b = static_cast<uint8_t>(b | (v[r][k + 2 * m] >> 4) << (2 * m));
      hi[16 * k + r] = b;
    }
  }
}

uint8_t q4k_six(const uint8_t* lo, const uint8_t* hi, int r, int s) {
  const int nib = s < 4 ? lo[16 * s + r] & 15 : lo[16 * (s - 4) + r] >> 4;
  return static_cast<uint8_t>(nib | ((hi[16 * (s % 2) + r] >> (2 * (s / 2))) & 3) << 4);
}

void q4k_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col) {
  uint8_t q[kInterleaveRows][256], sc[kInterleaveRows][8], mn[kInterleaveRows][8];
  for (int r = 0; r < kInterleaveRows; ++r) q4k_values(blocks + r * stride, q[r], sc[r], mn[r]);
  for (int c = 0; c < 32; ++c)
    for (int r = 0; r < kInterleaveRows; ++r)
      for (int i = 0; i < 4; ++i) col[64 * c + 4 * r + i] = static_cast<uint8_t>(q[r][4 * c + i] | q[r][4 * (c + 32) + i] << 4);
  q4k_pack_six(sc, col + 2048, col + 2112);
  q4k_pack_six(mn, col + 2144, col + 2208);
  for (int r = 0; r < kInterleaveRows; ++r) {
    std::memcpy(col + 2240 + 2 * r, blocks + r * stride, 2);
    std::memcpy(col + 2272 + 2 * r, blocks + r * stride + 2, 2);
  }
}

void q4k_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride) {
  for (int r = 0; r < kInterleaveRows; ++r) {
    uint8_t q[256], sc[8], mn[8];
    for (int k = 0; k < 64; ++k)
      for (int i = 0; i < 4; ++i) {
        const uint8_t b = col[64 * (k % 32) + 4 * r + i];
        q[4 * k + i] = static_cast<uint8_t>(k < 32 ? b & 15 : b >> 4);
      }
    for (int s = 0; s < 8; ++s) sc[s] = q4k_six(col + 2048, col + 2112, r, s), mn[s] = q4k_six(col + 2144, col + 2208, r, s);
    uint8_t* blk = blocks + r * stride;
    q4k_block(q, sc, mn, blk);
    std::memcpy(blk, col + 2240 + 2 * r, 2);
    std::memcpy(blk + 2, col + 2272 + 2 * r, 2);
  }
}

// Q8_0 column (544 bytes for 16 rows r of one 32-element block, d | q[32] each):
//   [0, 512)    8 chunks of 64: chunk c byte 4r + i = q[r][4c + i]
//   [512, 544)  d of row r (f16) at 2r
void q80_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col) {
  for (int r = 0; r < kInterleaveRows; ++r) {
    const uint8_t* blk = blocks + r * stride;
    for (int c = 0; c < 8; ++c) std::memcpy(col + 64 * c + 4 * r, blk + 2 + 4 * c, 4);
    std::memcpy(col + 512 + 2 * r, blk, 2);
  }
}

void q80_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride) {
  for (int r = 0; r < kInterleaveRows; ++r) {
    uint8_t* blk = blocks + r * stride;
    for (int c = 0; c < 8; ++c) std::memcpy(blk + 2 + 4 * c, col + 64 * c + 4 * r, 4);
    std::memcpy(blk, col + 512 + 2 * r, 2);
  }
}

size_t column_bytes(DType t) { return kInterleaveRows * dtype_block_bytes(t); }

void interleave_column(DType t, const uint8_t* blocks, size_t stride, uint8_t* col) {
  const bool vec = use_avx512();
  if (t == DType::Q6_K) vec ? avx512::q6k_interleave_column(blocks, stride, col) : q6k_interleave_column(blocks, stride, col);
  else if (t == DType::Q4_K) vec ? avx512::q4k_interleave_column(blocks, stride, col) : q4k_interleave_column(blocks, stride, col);
  else vec ? avx512::q80_interleave_column(blocks, stride, col) : q80_interleave_column(blocks, stride, col);
}

void deinterleave_column(DType t, const uint8_t* col, uint8_t* blocks, size_t stride) {
  const bool vec = use_avx512();
  if (t == DType::Q6_K) vec ? avx512::q6k_deinterleave_column(col, blocks, stride) : q6k_deinterleave_column(col, blocks, stride);
  else if (t == DType::Q4_K) vec ? avx512::q4k_deinterleave_column(col, blocks, stride) : q4k_deinterleave_column(col, blocks, stride);
  else vec ? avx512::q80_deinterleave_column(col, blocks, stride) : q80_deinterleave_column(col, blocks, stride);
}

}  // namespace

bool interleavable(DType t, int64_t rows, int64_t cols) {
  return (t == DType::Q6_K || t == DType::Q4_K || t == DType::Q8_0) && rows > 0 && rows % kInterleaveRows == 0 && cols > 0 &&
         cols % dtype_block_size(t) == 0;
}

void interleave_rows(DType t, uint8_t* data, int64_t rows, int64_t cols) {
  if (!interleavable(t, rows, cols)) fail("interleave_rows: ", dtype_name(t), " [", rows, ", ", cols, "] has no interleaved layout");
  const size_t row_bytes = dtype_row_bytes(t, cols), group_bytes = row_bytes * kInterleaveRows;
  const int64_t nb = cols / dtype_block_size(t);
  ThreadPool::global().parallel_for(rows / kInterleaveRows, 16, [&](int64_t g0, int64_t g1) {
    std::vector<uint8_t> standard(group_bytes);
    for (int64_t g = g0; g < g1; ++g) {
      uint8_t* group = data + g * group_bytes;
      std::memcpy(standard.data(), group, group_bytes);
      for (int64_t b = 0; b < nb; ++b) interleave_column(t, standard.data() + b * dtype_block_bytes(t), row_bytes, group + b * column_bytes(t));
    }
  });
}

void deinterleave_group(DType t, const uint8_t* group, int64_t cols, uint8_t* out) {
  if (!interleavable(t, kInterleaveRows, cols)) fail("deinterleave_group: ", dtype_name(t), " with ", cols, " columns has no interleaved layout");
  const size_t row_bytes = dtype_row_bytes(t, cols);
  for (int64_t b = 0; b < cols / dtype_block_size(t); ++b) deinterleave_column(t, group + b * column_bytes(t), out + b * dtype_block_bytes(t), row_bytes);
}

}  // namespace herd
