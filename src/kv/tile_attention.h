#pragma once
// Attention for a tile of queries that share one KV head, fed key/value segments in position
// order and combined with an online (running max) softmax, so no [queries x keys] matrix is ever
// formed and keys can stream from RAM, quantized pages or disk.
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace herd {

class TileAttention {
 public:
  // n_queries query positions; each has `group` heads whose vectors are at
  // q + t*q_stride + j*head_dim (j < group). Query t sees keys at positions [lo[t], pos[t]].
  void begin(int64_t n_queries, int group, int head_dim, float scale, const float* q, int64_t q_stride,
             const int64_t* pos, const int64_t* lo);
  // Keys and values of positions [first, first+len): rows of head_dim elements of type kt / vt
  // (F32, BF16 or F16), `k_stride` / `v_stride` bytes apart, read in place.
  void add_segment(int64_t first, int64_t len, const uint8_t* k, size_t k_stride, DType kt, const uint8_t* v,
                   size_t v_stride, DType vt);
  void add_segment(int64_t first, int64_t len, const float* k, const float* v) {
    add_segment(first, len, reinterpret_cast<const uint8_t*>(k), 4 * static_cast<size_t>(hd_), DType::F32,
                reinterpret_cast<const uint8_t*>(v), 4 * static_cast<size_t>(hd_), DType::F32);
  }
  // Writes each head's normalized output to out + t*out_stride + j*head_dim.
  void finish(float* out, int64_t out_stride) const;

 private:
  int64_t n_ = 0;
  int group_ = 1, hd_ = 0;
  float scale_ = 1;
  const float* q_ = nullptr;
  int64_t q_stride_ = 0;
  const int64_t* pos_ = nullptr;
  const int64_t* lo_ = nullptr;
  std::vector<float> m_, l_, acc_, scores_;
};

}  // namespace herd
