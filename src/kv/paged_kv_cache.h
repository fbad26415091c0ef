#pragma once
// herd's long-context KV cache. Chunked (RoPE) layers keep only a ring of the current chunk plus
// one prefill slice; global (NoPE) layers keep every position in fixed-size pages. Keys and values
// are stored as f32, f16, bf16, q8_0 or q4_0 (independently), and pages beyond a RAM budget spill
// to a disk file and stream back during attention. Rings and pages live on transparent huge pages
// (core/huge_buffer.h, kv/page_arena.h).
#include <memory>
#include <vector>

#include "core/huge_buffer.h"
#include "kv/kv_cache.h"
#include "kv/kv_options.h"
#include "kv/page_arena.h"
#include "kv/page_file.h"
#include "model/model_config.h"

namespace herd {

class PagedKVCache : public KVCache {
 public:
  PagedKVCache(const ModelConfig& config, const KVOptions& options);

  void write(int layer, const int64_t* pos, int64_t T, const float* k, const float* v) override;
  // Sizes the chunk rings for n positions (at most a chunk plus one prefill slice) and faults
  // them in. Global layers' pages still come one at a time (no copying: a page is never moved).
  void reserve(int64_t n_positions) override;
  void attend(int layer, const int64_t* pos, int64_t T, const float* q, float* out,
              const AttentionShape& shape) override;
  int64_t n_positions() const override;
  void truncate(int64_t n) override;
  bool can_truncate(int64_t n) const override;
  MemoryUse memory_use() const override;
  void save(std::ostream& out) const override;
  void load(std::istream& in) override;

  const KVOptions& options() const { return opt_; }
  // Bytes one position costs in one layer (K and V, all KV heads) at the configured types.
  int64_t bytes_per_token_layer() const;
  int64_t pages_on_disk() const;

 private:
  struct Page {
    uint8_t* data = nullptr;  // in pages_: [K: n_kv][P][rbk] then [V: n_kv][P][rbv]; null when spilled
    int64_t disk_offset = -1;
  };
  struct Layer {
    bool chunked = false;
    int64_t count = 0;  // positions written
    // chunked: a ring in rings_, K [n_kv][cap][rbk] then V [n_kv][cap][rbv]; slot = pos % cap
    int ring = -1;            // index among the chunked layers
    int64_t cap = 0, lo = 0;  // lo: oldest position still in the ring
    // global: pages of opt_.page_tokens positions
    std::vector<Page> pages;
  };

  // Makes every ring hold at least `need` positions (all chunked layers grow together).
  void grow_ring(int64_t need);
  // Moves the rings to a buffer of `cap` positions each, keeping the positions they hold.
  void set_ring_capacity(int64_t cap);
  uint8_t* ring_row(const HugeBuffer& rings, int64_t cap, int ring, bool value, int g, int64_t slot) const;
  uint8_t* ring_k(const Layer& L, int g, int64_t slot) const;
  uint8_t* ring_v(const Layer& L, int g, int64_t slot) const;
  int64_t ring_bytes() const;
  void drop_page(Page& p);
  Page& page_for_write(int layer, int64_t page_index);
  void enforce_budget(int keep_layer, int64_t keep_page);
  uint8_t* page_k(Page& p, int g) const;
  uint8_t* page_v(Page& p, int g) const;
  void attend_task(int layer, int g, const int64_t* pos, const int64_t* lo, int64_t n, const float* q, float* out,
                   const AttentionShape& s, std::vector<uint8_t>& io, std::vector<float>& kf,
                   std::vector<float>& vf) const;
  int64_t ram_page_bytes() const;

  ModelConfig cfg_;
  KVOptions opt_;
  int n_kv_, hd_, block_;
  size_t rbk_, rbv_, page_bytes_;
  std::vector<Layer> layers_;
  // Every chunked layer's ring in one buffer (they all hold the same positions, so they grow
  // together): one rounding to whole huge pages per cache, not one per layer.
  HugeBuffer rings_;
  int n_rings_ = 0, first_ring_ = 0;
  PageArena pages_;
  std::unique_ptr<PageFile> disk_;
  int64_t pages_in_ram_ = 0;
};

}  // namespace herd
