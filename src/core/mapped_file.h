#pragma once
// A whole file's bytes, read-only: memory-mapped (weights stay in the page cache and are used in
// place), or read into anonymous memory with transparent huge pages requested (FileAccess::Ram,
// `--no-mmap`): a private copy and a full read at load time, but one-token decode streams the
// weights faster from there (2 MiB pages: fewer TLB misses, more contiguous DRAM; +14% mini-scout
// decode on the development VM, docs/performance.md).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace herd {

enum class FileAccess { Map, Ram };

// For bytes a MappedFile read into memory (FileAccess::Ram; kept read-only): runs fn with
// [p, p + n) writable, then makes the pages read-only again. Never for a mapped file (an error).
// The whole buffer's protection changes, once: on part of it the mapping and its huge pages split.
void with_writable(const uint8_t* p, size_t n, const std::function<void(uint8_t*)>& fn);
// The same for many ranges (a model's matrices): each buffer holding one is made writable once.
void with_writable(const std::vector<std::pair<const uint8_t*, size_t>>& ranges, const std::function<void()>& fn);

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path, FileAccess access = FileAccess::Map);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  FileAccess access() const { return access_; }

 private:
  void release();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  FileAccess access_ = FileAccess::Map;
};

}  // namespace herd
