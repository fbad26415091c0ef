#include "kernels/row_interleave.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/quants.h"
#include "core/thread_pool.h"

namespace herd {

namespace {

constexpr size_t kColBytes = kInterleaveRows * quant::kQ6_KBytes;  // 3360

// Standard Q6_K block <-> its 256 six-bit values (quants.h: ql[128] | qh[64] | scales[16] | d).
void q6k_values(const uint8_t* blk, uint8_t* q) {
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, j = e % 128;
    const uint8_t l = blk[64 * h + j % 64];
    const int nib = j < 64 ? l & 15 : l >> 4;
    const int hi = (blk[128 + 32 * h + j % 32] >> (2 * (j / 32))) & 3;
    q[e] = static_cast<uint8_t>(nib | hi << 4);
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
  std::memset(col, 0, 3072);
  for (int r = 0; r < kInterleaveRows; ++r)
    for (int i = 0; i < 4; ++i) {
      for (int c = 0; c < 32; ++c)
        col[64 * c + 4 * r + i] = static_cast<uint8_t>((q[r][4 * c + i] & 15) | (q[r][4 * (c + 32) + i] & 15) << 4);
      for (int c = 0; c < 16; ++c)
        for (int m = 0; m < 4; ++m) col[2048 + 64 * c + 4 * r + i] |= static_cast<uint8_t>((q[r][4 * (c + 16 * m) + i] >> 4) << (2 * m));
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

}  // namespace

bool interleavable(DType t, int64_t rows, int64_t cols) {
  return t == DType::Q6_K && rows > 0 && rows % kInterleaveRows == 0 && cols > 0 && cols % 256 == 0;
}

void interleave_rows(DType t, uint8_t* data, int64_t rows, int64_t cols) {
  if (!interleavable(t, rows, cols)) fail("interleave_rows: ", dtype_name(t), " [", rows, ", ", cols, "] has no interleaved layout");
  const size_t row_bytes = dtype_row_bytes(t, cols), group_bytes = row_bytes * kInterleaveRows;
  const int64_t nb = cols / 256;
  ThreadPool::global().parallel_for(rows / kInterleaveRows, 16, [&](int64_t g0, int64_t g1) {
    std::vector<uint8_t> standard(group_bytes);
    for (int64_t g = g0; g < g1; ++g) {
      uint8_t* group = data + g * group_bytes;
      std::memcpy(standard.data(), group, group_bytes);
      for (int64_t b = 0; b < nb; ++b) q6k_interleave_column(standard.data() + b * quant::kQ6_KBytes, row_bytes, group + b * kColBytes);
    }
  });
}

void deinterleave_group(DType t, const uint8_t* group, int64_t cols, uint8_t* out) {
  if (!interleavable(t, kInterleaveRows, cols)) fail("deinterleave_group: ", dtype_name(t), " with ", cols, " columns has no interleaved layout");
  const size_t row_bytes = dtype_row_bytes(t, cols);
  for (int64_t b = 0; b < cols / 256; ++b) q6k_deinterleave_column(group + b * kColBytes, out + b * quant::kQ6_KBytes, row_bytes);
}

}  // namespace herd
