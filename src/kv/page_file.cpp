#include "kv/page_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

#include "core/error.h"

namespace herd {

PageFile::PageFile(const std::string& dir) : dir_(dir.empty() ? std::filesystem::temp_directory_path().string() : dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  std::string tmpl = dir_ + "/herd-kv-XXXXXX";
  fd_ = ::mkstemp(tmpl.data());
  if (fd_ < 0) fail("KV disk tier: cannot create a file in ", dir_, ": ", std::strerror(errno));
  ::unlink(tmpl.c_str());  // anonymous from now on: the space is freed when the fd closes
}

PageFile::~PageFile() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t PageFile::append(const uint8_t* data, size_t n) {
  const int64_t off = end_;
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd_, data + done, n - done, static_cast<off_t>(off + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("KV disk tier: writing ", n, " bytes to ", dir_, " failed: ", std::strerror(errno));
    }
    if (w == 0) fail("KV disk tier: writing to ", dir_, " made no progress (disk full?)");
    done += static_cast<size_t>(w);
  }
  end_ += static_cast<int64_t>(n);
  return off;
}

void PageFile::read(int64_t offset, uint8_t* dst, size_t n) const {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail("KV disk tier: reading from ", dir_, " failed: ", std::strerror(errno));
    }
    if (r == 0) fail("KV disk tier: short read in ", dir_);
    done += static_cast<size_t>(r);
  }
}

void PageFile::prefetch(int64_t offset, size_t n) const {
  ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), POSIX_FADV_WILLNEED);
}

void PageFile::reset() {
  if (::ftruncate(fd_, 0) != 0) fail("KV disk tier: cannot truncate spill file: ", std::strerror(errno));
  end_ = 0;
}

}  // namespace herd
