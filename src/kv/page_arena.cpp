#include "kv/page_arena.h"

#include <algorithm>

#include "core/error.h"

namespace herd {

namespace {
constexpr size_t kSlotAlign = 4096;                // whole system pages per slot: releasable alone
constexpr size_t kChunkReserve = size_t{64} << 20;  // address space per chunk (backed as touched)
}  // namespace

PageArena::PageArena(size_t page_bytes)
    : page_bytes_(page_bytes),
      slot_bytes_((std::max<size_t>(page_bytes, 1) + kSlotAlign - 1) / kSlotAlign * kSlotAlign),
      slots_per_chunk_(std::max<size_t>(1, kChunkReserve / slot_bytes_)) {}

uint8_t* PageArena::acquire() {
  if (!free_.empty()) {
    uint8_t* p = free_.back();
    free_.pop_back();
    return p;
  }
  if (chunks_.empty() || used_in_last_ == slots_per_chunk_) {
    // Pages under kHugeMinBytes stay on ordinary pages: a cache holding only a few of them would
    // otherwise take a whole huge page.
    chunks_.emplace_back(slots_per_chunk_ * slot_bytes_, "KV cache pages", page_bytes_ >= kHugeMinBytes,
                         /*reserve_only=*/true);
    used_in_last_ = 0;
  }
  return chunks_.back().data() + used_in_last_++ * slot_bytes_;
}

void PageArena::release(uint8_t* page) {
  for (HugeBuffer& c : chunks_)
    if (page >= c.data() && page < c.data() + c.size()) {
      c.release(static_cast<size_t>(page - c.data()), slot_bytes_);
      free_.push_back(page);
      return;
    }
  fail("KV page arena: released a page it does not own");
}

}  // namespace herd
