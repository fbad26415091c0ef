#include "runtime/machine_probe.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/mman.h>
#include <filesystem>
#include <unistd.h>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/vec.h"
#include "kv/paged_kv_cache.h"
#include "model/presets.h"
#include "runtime/kv_fill.h"

namespace herd {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

ReadBandwidth measure_read_bandwidth(size_t bytes) {
  // Every worker sums its own contiguous slice of a buffer far larger than the caches with the
  // widest vector loads the CPU has (sum_f32); best of several passes, as STREAM reports, over
  // three read loops in turn (ReadLoop): the plain loop with 8 accumulators alone read 15-20% less
  // on the development VM than the paced, prefetching one, and less than the decode kernels once
  // they prefetched into L2: no ceiling. (A scalar loop with 16 accumulators, the first version,
  // read ~20% less than the plain vector loop.)
  // Huge pages requested, as `--no-mmap` weights get: the ceiling for either weight placement
  // (4 KiB and 2 MiB pages measured alike for this loop on the development VM).
  const size_t n = bytes / sizeof(float);
  void* mem = ::mmap(nullptr, n * sizeof(float), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) fail("bandwidth probe: cannot allocate ", bytes, " bytes");
  ::madvise(mem, n * sizeof(float), MADV_HUGEPAGE);
  struct Unmap {
    size_t len;
    void operator()(void* p) const { ::munmap(p, len); }
  };
  std::unique_ptr<void, Unmap> hold(mem, Unmap{n * sizeof(float)});
  float* buf = static_cast<float*>(mem);
  ThreadPool& pool = ThreadPool::global();
  pool.parallel_for(static_cast<int64_t>(n), 1 << 16, [&](int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) buf[i] = static_cast<float>(i & 1023) * 1e-3f;
  });
  const int64_t parts = pool.size();
  ReadBandwidth r;
  double sink = 0;
  const ReadLoop loops[] = {ReadLoop::Plain, ReadLoop::Prefetch, ReadLoop::Paced};
  for (int pass = 0; pass < 9; ++pass) {
    const ReadLoop loop = loops[pass % 3];
    std::vector<double> part(parts, 0.0);
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(parts, 1, [&](int64_t a, int64_t b) {
      for (int64_t w = a; w < b; ++w) {
        const size_t lo = n * w / parts, hi = n * (w + 1) / parts;
        part[w] = sum_f32(buf + lo, hi - lo, loop);
      }
    });
    const double dt = seconds_since(t0);
    for (double x : part) sink += x;
    r.best = std::max(r.best, static_cast<double>(bytes) / dt);
    if (loop == ReadLoop::Plain) r.plain = std::max(r.plain, static_cast<double>(bytes) / dt);
  }
  if (sink == 12345.678) std::printf(" ");  // keep the sums alive
  return r;
}

double measure_memory_bandwidth(size_t bytes) { return measure_read_bandwidth(bytes).best; }

double measure_matmul_flops(bool bf16_weights) {
  const int64_t rows = 2048, cols = 2048, T = 64;
  std::vector<uint16_t> w16(rows * cols, f32_to_bf16(0.01f));
  std::vector<float> w32(rows * cols, 0.01f), x(T * cols, 0.5f), y(T * rows);
  WeightMatrix W = bf16_weights ? WeightMatrix{DType::BF16, reinterpret_cast<const uint8_t*>(w16.data()), rows, cols, cols, false}
                                : WeightMatrix{DType::F32, reinterpret_cast<const uint8_t*>(w32.data()), rows, cols, cols, false};
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    matmul(x.data(), T, W, y.data());
    best = std::max(best, 2.0 * rows * cols * T / seconds_since(t0));
  }
  return best;
}

double measure_matvec_bandwidth(const std::string& weight_type, size_t bytes) {
  // bf16/f16/f32 are measured directly; other types fall back to bf16 (same streaming pattern).
  const DType t = weight_type == "f32" ? DType::F32 : weight_type == "f16" ? DType::F16 : DType::BF16;
  const int64_t cols = 4096, rows = static_cast<int64_t>(bytes / dtype_size(t)) / cols;
  std::vector<uint8_t> w(static_cast<size_t>(rows * cols) * dtype_size(t), 0x3c);
  std::vector<float> x(cols, 0.5f), y(rows);
  WeightMatrix W{t, w.data(), rows, cols, cols, false};
  double best = 0;
  for (int pass = 0; pass < 4; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    matmul(x.data(), 1, W, y.data());
    if (pass > 0) best = std::max(best, static_cast<double>(w.size()) / seconds_since(t0));
  }
  return best;
}

double measure_attention_bandwidth(const std::string& kv_type, size_t bytes) {
  ModelConfig c = preset_config("long-scout");
  c.n_layers = 1;
  c.rope_layer = {false};  // one global layer
  c.moe_layer = {true};
  KVOptions o;
  o.k_type = o.v_type = parse_kv_type(kv_type);
  PagedKVCache cache(c, o);
  const int64_t n = std::max<int64_t>(1024, static_cast<int64_t>(bytes) / cache.bytes_per_token_layer());
  fill_kv_synthetic(c, cache, n, 3);
  std::vector<float> q(c.n_heads * c.head_dim, 0.01f), out(q.size());
  const int64_t p = n - 1;
  AttentionShape s{c.n_heads, c.n_kv_heads, c.head_dim, 0, 0.088f};
  double best = 0;
  for (int pass = 0; pass < 4; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    cache.attend(0, &p, 1, q.data(), out.data(), s);
    if (pass > 0) best = std::max(best, static_cast<double>(n * cache.bytes_per_token_layer()) / seconds_since(t0));
  }
  return best;
}

double measure_disk_bandwidth(const std::string& dir, size_t bytes) {
  const std::string d = dir.empty() ? std::filesystem::temp_directory_path().string() : dir;
  std::string path = d + "/herd-probe-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) fail("disk probe: cannot create a file in ", d);
  ::unlink(path.c_str());
  std::vector<char> buf(size_t{4} << 20, 'x');
  for (size_t done = 0; done < bytes; done += buf.size())
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
      ::close(fd);
      fail("disk probe: writing to ", d, " failed (disk full?)");
    }
  ::fsync(fd);
  ::posix_fadvise(fd, 0, static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);  // read cold, not from page cache
  auto t0 = std::chrono::steady_clock::now();
  size_t got = 0;
  ssize_t r;
  while ((r = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(got))) > 0) got += static_cast<size_t>(r);
  const double dt = seconds_since(t0);
  ::close(fd);
  return static_cast<double>(got) / dt;
}

int64_t physical_memory_bytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES), size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<int64_t>(pages) * size : 0;
}

}  // namespace herd
