#pragma once
// Attention for a tile of queries that share one KV head, fed key/value segments in position
// order and combined with an online (running max) softmax, so no [queries x keys] matrix is ever
// formed and keys can stream from RAM, quantized pages or disk.
#include <cstdint>
#include <vector>

namespace herd {

class TileAttention {
 public:
  // n_queries query positions; each has `group` heads whose vectors are at
  // q + t*q_stride + j*head_dim (j < group). Query t sees keys at positions [lo[t], pos[t]].
  void begin(int64_t n_queries, int group, int head_dim, float scale, const float* q, int64_t q_stride,
             const int64_t* pos, const int64_t* lo);
  // Keys and values (f32, [len, head_dim]) of positions [first, first+len).
  void add_segment(int64_t first, int64_t len, const float* k, const float* v);
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
