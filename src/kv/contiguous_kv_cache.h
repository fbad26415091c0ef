#pragma once
// The simplest correct cache: every position of every layer in f32, contiguous per layer.
// Chunked layers read only their chunk. Memory grows with the whole context; the long-context
// memory system replaces it for large contexts.
#include <vector>

#include "kv/kv_cache.h"

namespace herd {

class ContiguousKVCache : public KVCache {
 public:
  ContiguousKVCache(int n_layers, int n_kv_heads, int head_dim);

  void write(int layer, const int64_t* pos, int64_t T, const float* k, const float* v) override;
  void attend(int layer, const int64_t* pos, int64_t T, const float* q, float* out,
              const AttentionShape& shape) override;
  int64_t n_positions() const override;
  void truncate(int64_t n) override;
  MemoryUse memory_use() const override;

 private:
  int n_layers_, kv_dim_;
  std::vector<std::vector<float>> k_, v_;  // per layer: [positions, kv_dim]
};

}  // namespace herd
