#include "core/huge_buffer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"

namespace herd {

namespace {
size_t system_page() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }
}  // namespace

void* map_huge_aligned(size_t n, bool reserve_only) {
  // Map a huge page more than asked, then trim the ends so that the rest starts on a boundary.
  const size_t len = n + kHugePageBytes;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserve_only ? MAP_NORESERVE : 0);
  void* raw = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (raw == MAP_FAILED) return raw;
  const uintptr_t r = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t a = (r + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const uintptr_t end = a + round_up(n, system_page());
  if (a > r) ::munmap(raw, a - r);
  if (r + len > end) ::munmap(reinterpret_cast<void*>(end), r + len - end);
#ifdef MADV_HUGEPAGE
  ::madvise(reinterpret_cast<void*>(a), n, MADV_HUGEPAGE);  // a hint: ignored where THP is off
#endif
  return reinterpret_cast<void*>(a);
}

void unmap_huge_aligned(void* p, size_t n) {
  if (p && n) ::munmap(p, round_up(n, system_page()));
}

void* allocate_huge_pages(size_t bytes) {
  void* p = map_huge_aligned(round_up(bytes, kHugePageBytes));
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void free_huge_pages(void* p, size_t bytes) { unmap_huge_aligned(p, round_up(bytes, kHugePageBytes)); }

HugeBuffer::HugeBuffer(size_t bytes, const char* what, bool huge, bool reserve_only) : size_(bytes) {
  if (bytes == 0) return;
  mapped_ = round_up(bytes, huge ? kHugePageBytes : system_page());
  void* p = huge ? map_huge_aligned(mapped_, reserve_only)
                 : ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | (reserve_only ? MAP_NORESERVE : 0), -1, 0);
  if (p == MAP_FAILED) fail("cannot allocate ", bytes, " bytes for ", what, ": ", std::strerror(errno));
  data_ = static_cast<uint8_t*>(p);
}

HugeBuffer::~HugeBuffer() { unmap_huge_aligned(data_, mapped_); }

HugeBuffer::HugeBuffer(HugeBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), mapped_(std::exchange(o.mapped_, 0)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  if (this != &o) {
    unmap_huge_aligned(data_, mapped_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, 0);
  }
  return *this;
}

void HugeBuffer::release(size_t offset, size_t bytes) {
  if (offset >= size_) return;
  bytes = std::min(bytes, size_ - offset);
  // Only whole system pages can be dropped; bytes of partial pages at the ends are zeroed instead.
  const size_t pg = system_page();
  const size_t a = round_up(offset, pg), b = (offset + bytes) / pg * pg;
  if (a >= b) {
    std::memset(data_ + offset, 0, bytes);
    return;
  }
  std::memset(data_ + offset, 0, a - offset);
  std::memset(data_ + b, 0, offset + bytes - b);
  if (::madvise(data_ + a, b - a, MADV_DONTNEED) != 0) std::memset(data_ + a, 0, b - a);
}

}  // namespace herd
