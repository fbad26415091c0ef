#pragma once
// The disk tier: an anonymous (unlinked) file that holds spilled KV pages, read back with
// pread and read-ahead hints. Nothing is left behind on disk when herd exits.
#include <cstdint>
#include <string>

namespace herd {

class PageFile {
 public:
  explicit PageFile(const std::string& dir);
  ~PageFile();
  PageFile(const PageFile&) = delete;
  PageFile& operator=(const PageFile&) = delete;

  // Appends bytes and returns their offset; throws herd::Error (disk full, I/O error).
  int64_t append(const uint8_t* data, size_t n);
  void read(int64_t offset, uint8_t* dst, size_t n) const;
  void prefetch(int64_t offset, size_t n) const;  // asynchronous read-ahead hint
  void reset();                                    // drops everything written
  int64_t size() const { return end_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int fd_ = -1;
  int64_t end_ = 0;
};

}  // namespace herd
