#include "kv/tile_attention.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/vec.h"

namespace herd {

void TileAttention::begin(int64_t n_queries, int group, int head_dim, float scale, const float* q, int64_t q_stride,
                          const int64_t* pos, const int64_t* lo) {
  if (!(scale > 0)) fail("attention: softmax scale must be positive, got ", scale);
  n_ = n_queries;
  group_ = group;
  hd_ = head_dim;
  scale_ = scale;
  q_ = q;
  q_stride_ = q_stride;
  pos_ = pos;
  lo_ = lo;
  m_.assign(n_ * group_, -INFINITY);
  l_.assign(n_ * group_, 0.0f);
  acc_.assign(n_ * group_ * hd_, 0.0f);
}

void TileAttention::add_segment(int64_t first, int64_t len, const uint8_t* k, size_t k_stride, DType kt,
                                const uint8_t* v, size_t v_stride, DType vt) {
  const int64_t last = first + len - 1;
  for (int64_t t = 0; t < n_; ++t) {
    const int64_t a = std::max(first, lo_[t]), b = std::min(last, pos_[t]);
    if (a > b) continue;
    const int64_t cnt = b - a + 1;
    const uint8_t* krows = k + (a - first) * k_stride;
    const uint8_t* vrows = v + (a - first) * v_stride;
    // The group's heads together: each key and value row is read once for all of them.
    scores_.resize(group_ * cnt);
    dot_rows_heads(kt, q_ + t * q_stride_, group_, krows, k_stride, cnt, hd_, scores_.data());
    for (int j = 0; j < group_; ++j) {
      float* sc = scores_.data() + j * cnt;
      const int64_t st = t * group_ + j;
      const float mx = std::max(m_[st], scale_ * max_f32(sc, cnt));  // scale_ > 0 (begin)
      if (mx > m_[st]) {  // rescale what was accumulated under the old maximum
        const float c = std::exp(m_[st] - mx);
        l_[st] *= c;
        scale_f32(c, acc_.data() + st * hd_, hd_);
        m_[st] = mx;
      }
      l_[st] += exp_affine_sum(sc, cnt, scale_, mx);
    }
    weighted_sum_rows_heads(vt, scores_.data(), group_, vrows, v_stride, cnt, hd_, acc_.data() + t * group_ * hd_);
  }
}

void TileAttention::finish(float* out, int64_t out_stride) const {
  for (int64_t t = 0; t < n_; ++t)
    for (int j = 0; j < group_; ++j) {
      const int64_t st = t * group_ + j;
      const float inv = l_[st] > 0 ? 1.0f / l_[st] : 0.0f;
      const float* acc = acc_.data() + st * hd_;
      float* o = out + t * out_stride + j * hd_;
      for (int d = 0; d < hd_; ++d) o[d] = acc[d] * inv;
    }
}

}  // namespace herd
