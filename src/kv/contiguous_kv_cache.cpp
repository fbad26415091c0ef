#include "kv/contiguous_kv_cache.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/vec.h"

namespace herd {

ContiguousKVCache::ContiguousKVCache(int n_layers, int n_kv_heads, int head_dim)
    : n_layers_(n_layers), kv_dim_(n_kv_heads * head_dim), k_(n_layers), v_(n_layers) {}

void ContiguousKVCache::write(int layer, const int64_t* pos, int64_t T, const float* k, const float* v) {
  auto& K = k_[layer];
  auto& V = v_[layer];
  for (int64_t t = 0; t < T; ++t) {
    int64_t have = static_cast<int64_t>(K.size()) / kv_dim_;
    if (pos[t] > have) fail("KV cache: position ", pos[t], " written before position ", have);
    if (pos[t] < have) {  // overwrite (rewind then rewrite)
      K.resize(pos[t] * kv_dim_);
      V.resize(pos[t] * kv_dim_);
    }
    K.insert(K.end(), k + t * kv_dim_, k + (t + 1) * kv_dim_);
    V.insert(V.end(), v + t * kv_dim_, v + (t + 1) * kv_dim_);
  }
}

void ContiguousKVCache::attend(int layer, const int64_t* pos, int64_t T, const float* q, float* out,
                               const AttentionShape& s) {
  const float* K = k_[layer].data();
  const float* V = v_[layer].data();
  const int64_t have = static_cast<int64_t>(k_[layer].size()) / kv_dim_;
  const int group = s.n_heads / s.n_kv_heads;
  const int hd = s.head_dim;
  const int64_t q_dim = static_cast<int64_t>(s.n_heads) * hd;
  for (int64_t t = 0; t < T; ++t)  // checked here: worker threads must not throw
    if (pos[t] < 0 || pos[t] >= have)
      fail("KV cache: attention at position ", pos[t], " but only ", have, " positions stored");
  ThreadPool::global().parallel_for(T * s.n_heads, 1, [&](int64_t w0, int64_t w1) {
    std::vector<float> scores;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t t = w / s.n_heads;
      const int h = static_cast<int>(w % s.n_heads);
      const int g = h / group;
      const int64_t p = pos[t];
      const int64_t lo = s.chunk > 0 ? (p / s.chunk) * s.chunk : 0;
      const int64_t n = p - lo + 1;
      scores.resize(n);
      const float* qv = q + t * q_dim + h * hd;
      float m = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        scores[j] = dot_f32(qv, K + (lo + j) * kv_dim_ + g * hd, hd) * s.scale;
        m = std::max(m, scores[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        scores[j] = std::exp(scores[j] - m);
        sum += scores[j];
      }
      float* o = out + t * q_dim + h * hd;
      std::fill(o, o + hd, 0.0f);
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n; ++j) axpy_f32(scores[j] * inv, V + (lo + j) * kv_dim_ + g * hd, o, hd);
    }
  });
}

int64_t ContiguousKVCache::n_positions() const {
  return n_layers_ ? static_cast<int64_t>(k_[n_layers_ - 1].size()) / kv_dim_ : 0;
}

KVCache::MemoryUse ContiguousKVCache::memory_use() const {
  MemoryUse m;
  for (int l = 0; l < n_layers_; ++l) m.ram_bytes += static_cast<int64_t>((k_[l].size() + v_[l].size()) * sizeof(float));
  return m;
}

void ContiguousKVCache::truncate(int64_t n) {
  for (int l = 0; l < n_layers_; ++l) {
    if (static_cast<int64_t>(k_[l].size()) > n * kv_dim_) {
      k_[l].resize(n * kv_dim_);
      v_[l].resize(n * kv_dim_);
    }
  }
}

}  // namespace herd
