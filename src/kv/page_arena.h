#pragma once
// Fixed-size KV pages carved out of huge-page-backed chunks (core/huge_buffer.h), so that decode
// attention walks a global layer's pages without a page walk per 4 KiB. A chunk reserves room for
// many pages but the system backs only what is touched, 2 MiB at a time; a released page's memory
// goes back to the system at once (a RAM budget stays a budget) and its slot is reused first.
// Pages smaller than kHugeMinBytes use ordinary pages.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/huge_buffer.h"

namespace herd {

class PageArena {
 public:
  explicit PageArena(size_t page_bytes);

  // A zero-filled page of page_bytes bytes, valid until released or the arena dies.
  uint8_t* acquire();
  void release(uint8_t* page);

 private:
  size_t page_bytes_, slot_bytes_, slots_per_chunk_;
  std::vector<HugeBuffer> chunks_;
  size_t used_in_last_ = 0;  // slots handed out of the newest chunk so far
  std::vector<uint8_t*> free_;
};

}  // namespace herd
