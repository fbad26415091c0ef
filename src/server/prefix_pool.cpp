#include "server/prefix_pool.h"

#include <algorithm>

namespace herd::server {

PrefixPool::Hit PrefixPool::take(const std::vector<int32_t>& prompt) {
  Hit hit;
  auto best = entries_.end();
  int64_t best_n = 0;
  const size_t limit = prompt.empty() ? 0 : prompt.size() - 1;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    size_t n = 0;
    const size_t m = std::min(limit, it->tokens.size());
    while (n < m && it->tokens[n] == prompt[n]) ++n;
    if (static_cast<int64_t>(n) > best_n && it->cache->can_truncate(static_cast<int64_t>(n))) {
      best = it;
      best_n = static_cast<int64_t>(n);
    }
  }
  if (best == entries_.end() || best_n < min_reuse_) return hit;
  hit.cache = std::move(best->cache);
  hit.cache->truncate(best_n);
  hit.reused = best_n;
  entries_.erase(best);
  return hit;
}

void PrefixPool::put(std::vector<int32_t> tokens, std::unique_ptr<KVCache> cache) {
  if (capacity_ == 0 || !cache || tokens.empty()) return;
  // An entry whose tokens are a head of the new one only holds less: replace it.
  entries_.remove_if([&](const Entry& e) {
    return e.tokens.size() <= tokens.size() && std::equal(e.tokens.begin(), e.tokens.end(), tokens.begin());
  });
  entries_.push_front(Entry{std::move(tokens), std::move(cache)});
  while (entries_.size() > capacity_) entries_.pop_back();
}

KVCache::MemoryUse PrefixPool::memory_use() const {
  KVCache::MemoryUse m;
  for (const auto& e : entries_) {
    auto u = e.cache->memory_use();
    m.ram_bytes += u.ram_bytes;
    m.disk_bytes += u.disk_bytes;
  }
  return m;
}

}  // namespace herd::server
