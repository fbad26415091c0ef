#include "core/mapped_file.h"

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "core/memory_info.h"

namespace herd {

namespace {

// Buffers read into memory (FileAccess::Ram), by start address, so that with_writable can change
// the protection of a whole buffer at once: mprotect on part of it splits the mapping there and,
// with it, the transparent huge pages (every matrix rewritten separately left ~2/3 of mini-scout's
// weights on 4 KiB pages, and decode reading them slower and unevenly).
std::mutex g_ram_mu;
std::map<uintptr_t, size_t> g_ram_buffers;

}  // namespace

MappedFile::MappedFile(const std::string& path, FileAccess access) : path_(path), access_(access) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail(path, ": cannot stat: ", std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0 && access == FileAccess::Ram) {
    // Anonymous memory is overcommitted: without this check a file larger than the free memory
    // would end in the OOM killer halfway through the read, not in an error.
    const int64_t avail = mem_available_bytes();
    if (avail > 0 && size_ > static_cast<size_t>(avail)) {
      ::close(fd);
      fail(path, ": ", size_, " bytes do not fit in the ", avail,
           " bytes of memory available to read it into (use --mmap to map it instead)");
    }
    void* p = map_huge_aligned(size_);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail(path, ": cannot allocate ", size_, " bytes to load it into memory: ", std::strerror(e));
    }
    size_t got = 0;
    while (got < size_) {
      const ssize_t r = ::pread(fd, static_cast<uint8_t*>(p) + got, std::min<size_t>(size_ - got, size_t{64} << 20),
                                static_cast<off_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        const int e = r < 0 ? errno : 0;
        ::munmap(p, size_);
        ::close(fd);
        if (e) fail(path, ": read failed at byte ", got, ": ", std::strerror(e));
        fail(path, ": file ended at byte ", got, " of ", size_, " while loading it (truncated meanwhile?)");
      }
      got += static_cast<size_t>(r);
    }
    ::mprotect(p, size_, PROT_READ);
    data_ = static_cast<const uint8_t*>(p);
    std::lock_guard<std::mutex> lk(g_ram_mu);
    g_ram_buffers[reinterpret_cast<uintptr_t>(p)] = size_;
  } else if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail(path, ": cannot map: ", std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() { release(); }

void with_writable(const std::vector<std::pair<const uint8_t*, size_t>>& ranges, const std::function<void()>& fn) {
  std::lock_guard<std::mutex> lk(g_ram_mu);
  std::map<uintptr_t, size_t> buffers;  // each buffer's protection changes once, however many ranges it holds
  for (const auto& [p, n] : ranges) {
    if (n == 0) continue;
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = g_ram_buffers.upper_bound(a);
    if (it == g_ram_buffers.begin() || a + n > std::prev(it)->first + std::prev(it)->second)
      fail("cannot make weights writable: they are not in a buffer read into memory");
    buffers.insert(*std::prev(it));
  }
  struct ReadOnlyAgain {  // also when fn throws
    std::vector<std::pair<uintptr_t, size_t>> done;
    ~ReadOnlyAgain() {
      for (const auto& [start, size] : done) ::mprotect(reinterpret_cast<void*>(start), size, PROT_READ);
    }
  } guard;
  for (const auto& [start, size] : buffers) {
    if (::mprotect(reinterpret_cast<void*>(start), size, PROT_READ | PROT_WRITE) != 0)
      fail("cannot make loaded weights writable: ", std::strerror(errno));
    guard.done.emplace_back(start, size);
  }
  fn();
}

void with_writable(const uint8_t* p, size_t n, const std::function<void(uint8_t*)>& fn) {
  with_writable({{p, n}}, [&] { fn(const_cast<uint8_t*>(p)); });
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : path_(std::move(o.path_)), data_(o.data_), size_(o.size_), access_(o.access_) {
  o.data_ = nullptr;
  o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    release();
    path_ = std::move(o.path_);
    data_ = o.data_;
    size_ = o.size_;
    access_ = o.access_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void MappedFile::release() {
  if (data_ && access_ == FileAccess::Ram) {
    std::lock_guard<std::mutex> lk(g_ram_mu);
    g_ram_buffers.erase(reinterpret_cast<uintptr_t>(data_));
  }
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace herd
