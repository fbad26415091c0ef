#pragma once
// Zero-filled anonymous memory on 2 MiB boundaries, advised for transparent huge pages, for large
// data that decode revisits between long streams of other memory (KV cache rows, logits). On
// 4 KiB pages every visit pays a page walk per 4 KiB, from memory, once the weight stream has
// evicted the page tables: mini-scout decode attention at 256-512 positions averaged 1.5-2.5x the
// time (per-step timers; the slow visits, not the typical one). A huge page is 2 MiB of memory
// once touched, so small buffers stay on ordinary pages (callers choose; kHugeMinBytes).
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace herd {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;
// Below this a buffer would waste more than 3/4 of a huge page: ordinary pages instead.
inline constexpr size_t kHugeMinBytes = size_t{512} << 10;

// n bytes (rounded up to the system page size) of zeroed, read-write anonymous memory starting on a
// huge-page boundary, advised MADV_HUGEPAGE; MAP_FAILED (errno set) on failure. Free with
// unmap_huge_aligned(p, n). `reserve_only`: MAP_NORESERVE, for address space that is mostly never
// touched (the KV page arena's chunks); memory that will all be filled is accounted up front.
void* map_huge_aligned(size_t n, bool reserve_only = false);
void unmap_huge_aligned(void* p, size_t n);

class HugeBuffer {
 public:
  HugeBuffer() = default;
  // `bytes` zeroed bytes; on huge pages (rounded up to whole ones: the kernel backs only ranges a
  // mapping covers completely) when `huge`, else on ordinary pages. Throws herd::Error naming
  // `what` when the memory cannot be had. `reserve_only` as for map_huge_aligned.
  HugeBuffer(size_t bytes, const char* what, bool huge = true, bool reserve_only = false);
  ~HugeBuffer();
  HugeBuffer(HugeBuffer&& o) noexcept;
  HugeBuffer& operator=(HugeBuffer&& o) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Gives the system pages inside [offset, offset + bytes) back; they read as zero afterwards.
  void release(size_t offset, size_t bytes);

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0, mapped_ = 0;
};

// std::vector storage from map_huge_aligned for buffers of kHugeMinBytes or more (rounded up to
// whole huge pages), operator new below.
void* allocate_huge_pages(size_t bytes);  // throws std::bad_alloc
void free_huge_pages(void* p, size_t bytes);

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugeMinBytes) return static_cast<T*>(::operator new(bytes));
    return static_cast<T*>(allocate_huge_pages(bytes));
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugeMinBytes) ::operator delete(p);
    else free_huge_pages(p, bytes);
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }
};

// Logits and other large vectors decode rewrites and rereads every token.
template <typename T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace herd
