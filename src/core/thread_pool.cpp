#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <memory>

namespace herd {

namespace {
thread_local bool t_in_pool = false;
std::unique_ptr<ThreadPool> g_pool;
std::mutex g_pool_mu;
int g_pool_threads = 0;
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  shares_ = std::make_unique<Share[]>(static_cast<size_t>(n_threads));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_start_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
// A worker polls for the next job for this long before it sleeps: decode issues a few dozen jobs
// per token with serial work of up to ~100 microseconds between them (attention, norms, routing),
// and waking a sleeping worker costs a futex call plus, on a VM, tens of microseconds before the
// vCPU runs again; a job started without its worker streams at one core's bandwidth.
// 50-1000 microseconds measured alike for mini-scout decode; 5 was ~4% slower.
constexpr int kSpinMicros = 200;
// The caller polls as long for workers still finishing a block before it sleeps: on this VM a
// vCPU is preempted for ~30 us a few hundred times a second, and a caller that slept through such
// a stall of its worker (after a few microseconds of polling, as before) woke ~50 us after the
// worker had finished. Tokens alternating both ways in one decode: 0.6-2.8% less time per token.
constexpr int kDoneSpinMicros = kSpinMicros;

// Polls until done() or `micros` have passed; true when done.
template <typename Done>
bool spin_until(Done&& done, int micros) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (int i = 1; !done(); ++i) {
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() >= until) return done();
  }
  return true;
}
}  // namespace

void ThreadPool::run_blocks() {
  for (;;) {
    int64_t b = next_block_.fetch_add(1, std::memory_order_relaxed);
    if (b >= n_blocks_) break;
    int64_t begin = b * block_;
    int64_t end = std::min(n_, begin + block_);
    (*fn_)(begin, end);
  }
}

namespace {
constexpr uint64_t pack_share(uint64_t front, uint64_t end) { return end << 32 | front; }
}  // namespace

void ThreadPool::run_shares() {
  const int slots = size();
  const int me = next_slot_.fetch_add(1);
  // Takes half of what is left of share s (at least one block) from its front until it is empty;
  // thieves may shorten it meanwhile. Every claim is a locked instruction, which waits for the
  // loads in flight: block by block cost a streaming decode job 10%, and an eighth at a time
  // (~40 claims per layer product) 1-2% of a decode token against a half (~8 claims; decode
  // tokens alternating between both in one run, Q8_0 and Q4_K_M). A quarter was 0.7% slower,
  // the whole share at once 4% (nothing left to even out the end).
  auto drain = [&](Share& s) {
    uint64_t v = s.v.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t f = v & 0xffffffffu, e = v >> 32;
      if (f >= e) return;
      const uint64_t k = std::max<uint64_t>(1, (e - f) / 2);
      if (!s.v.compare_exchange_weak(v, pack_share(f + k, e), std::memory_order_acq_rel)) continue;
      const int64_t b = static_cast<int64_t>(f) * block_;
      (*fn_)(b, std::min(n_, b + static_cast<int64_t>(k) * block_));
      v = s.v.load(std::memory_order_acquire);
    }
  };
  if (me < slots) drain(shares_[me]);
  for (;;) {  // steal the back half of the fullest share
    int victim = -1;
    uint64_t best = 0, v = 0;
    for (int i = 0; i < slots; ++i) {
      const uint64_t w = shares_[i].v.load(std::memory_order_acquire);
      const uint64_t f = w & 0xffffffffu, e = w >> 32;
      if (e > f && e - f > best) best = e - f, victim = i, v = w;
    }
    if (victim < 0) return;
    const uint64_t f = v & 0xffffffffu, e = v >> 32, mid = f + (e - f) / 2;
    if (!shares_[victim].v.compare_exchange_strong(v, pack_share(f, mid), std::memory_order_acq_rel)) continue;
    if (me < slots) {
      shares_[me].v.store(pack_share(mid, e), std::memory_order_release);
      drain(shares_[me]);
    } else {  // a second visit of one worker in the same job: no share of its own
      for (uint64_t k = mid; k < e; ++k) {
        const int64_t b = static_cast<int64_t>(k) * block_;
        (*fn_)(b, std::min(n_, b + block_));
      }
    }
  }
}

void ThreadPool::worker_loop() {
  t_in_pool = true;
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = seen;
    spin_until([&] { return (g = generation_.load(std::memory_order_acquire)) != seen || stop_.load(std::memory_order_relaxed); },
               kSpinMicros);
    if (g == seen) {
      std::unique_lock<std::mutex> lk(mu_);
      ++sleeping_;
      cv_start_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
      --sleeping_;
      g = generation_.load();
    }
    if (stop_.load()) return;
    seen = g;
    // Join the job that is open now (the one announced, or a later one: either way its fields
    // were written before it opened and stay put until running_ drops back to zero).
    running_.fetch_add(1);
    if (open_.load()) {
      if (by_shares_) run_shares();
      else run_blocks();
    }
    if (running_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lk(mu_);
      cv_done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int threads = size();
  // Serial when small, when nested, or when another caller already owns the pool.
  bool expected = false;
  if (threads == 1 || n <= grain || t_in_pool || !busy_.compare_exchange_strong(expected, true)) {
    fn(0, n);
    return;
  }
  // A few blocks per thread balances uneven work without much scheduling cost.
  int64_t want_blocks = std::min<int64_t>((n + grain - 1) / grain, static_cast<int64_t>(threads) * 4);
  run_job(n, (n + want_blocks - 1) / want_blocks, fn, false);
}

void ThreadPool::parallel_chunks(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(1, chunk);
  bool expected = false;
  if (size() == 1 || n <= chunk || t_in_pool || !busy_.compare_exchange_strong(expected, true)) {
    fn(0, n);
    return;
  }
  run_job(n, chunk, fn, false);
}

void ThreadPool::parallel_stream(int64_t n, int64_t unit, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  unit = std::max<int64_t>(1, unit);
  bool expected = false;
  if (size() == 1 || n <= unit || (n + unit - 1) / unit >= (int64_t{1} << 32) || t_in_pool || !busy_.compare_exchange_strong(expected, true)) {
    fn(0, n);
    return;
  }
  run_job(n, unit, fn, true);
}

// Runs a job on the pool; the caller owns busy_ and releases it.
void ThreadPool::run_job(int64_t n, int64_t block, const std::function<void(int64_t, int64_t)>& fn, bool shares) {
  block_ = block;
  n_ = n;
  n_blocks_ = (n + block_ - 1) / block_;
  fn_ = &fn;
  by_shares_ = shares;
  if (shares) {
    const int slots = size();
    for (int i = 0; i < slots; ++i)
      shares_[i].v.store(pack_share(static_cast<uint64_t>(n_blocks_ * i / slots), static_cast<uint64_t>(n_blocks_ * (i + 1) / slots)), std::memory_order_relaxed);
    next_slot_.store(0, std::memory_order_relaxed);
  }
  next_block_.store(0, std::memory_order_relaxed);
  open_.store(true);
  bool wake;
  {
    std::lock_guard<std::mutex> lk(mu_);
    generation_.fetch_add(1);
    wake = sleeping_ > 0;
  }
  if (wake) cv_start_.notify_all();
  t_in_pool = true;
  if (shares) run_shares();
  else run_blocks();
  t_in_pool = false;
  // Every block is claimed: close the job and wait for the workers still running one.
  open_.store(false);
  if (!spin_until([&] { return running_.load() == 0; }, kDoneSpinMicros)) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_done_.wait(lk, [&] { return running_.load() == 0; });
  }
  fn_ = nullptr;
  busy_.store(false);
}

ThreadPool& ThreadPool::global() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (!g_pool) g_pool = std::make_unique<ThreadPool>(g_pool_threads);
  return *g_pool;
}

void ThreadPool::set_global_threads(int n) {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  g_pool_threads = n;
  g_pool.reset();
}

}  // namespace herd
