#pragma once
// KV caches of finished sequences, kept by the tokens they hold so that a later prompt with the same
// head (a system prompt, an earlier turn of the conversation) continues from them instead of
// computing those positions again. Bounded by entry count; the least recently used entry goes first.
// Used only from the scheduler thread.
#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "kv/kv_cache.h"

namespace herd::server {

class PrefixPool {
 public:
  explicit PrefixPool(size_t capacity, int64_t min_reuse = 4) : capacity_(capacity), min_reuse_(min_reuse) {}

  struct Hit {
    std::unique_ptr<KVCache> cache;  // truncated to `reused` positions; null on a miss
    int64_t reused = 0;
  };
  // Takes the entry sharing the longest head with `prompt` (at least min_reuse tokens, and always
  // leaving the last prompt token to compute so there are logits to sample from).
  Hit take(const std::vector<int32_t>& prompt);
  // Keeps `cache`, which holds exactly `tokens`. Evicts the oldest entry past capacity.
  void put(std::vector<int32_t> tokens, std::unique_ptr<KVCache> cache);

  size_t size() const { return entries_.size(); }
  KVCache::MemoryUse memory_use() const;
  void clear() { entries_.clear(); }

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    std::unique_ptr<KVCache> cache;
  };
  size_t capacity_;
  int64_t min_reuse_;
  std::list<Entry> entries_;  // most recently used first
};

}  // namespace herd::server
