#pragma once
// A fixed pool of worker threads for data-parallel loops. The calling thread takes part in the
// work, so a pool of N threads uses N cores and never oversubscribes.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace herd {

class ThreadPool {
 public:
  // n_threads <= 0 means one per hardware thread.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over [0, n) split into contiguous blocks of at least `grain` items.
  // Returns when all blocks are done. Nested calls from inside fn run serially.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Like parallel_for, but in blocks of exactly `chunk` items (the last one shorter) that threads
  // claim one at a time: for long memory-bound loops on a shared machine, where a thread that is
  // descheduled or slow should hold back only a small block at the end.
  void parallel_chunks(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t)>& fn);

  // Like parallel_chunks, but each thread starts on its own contiguous share of [0, n) (an equal
  // split, in blocks of `unit` items that it claims front to back, half of what is left at a time)
  // and a thread that runs out takes the back half of what is left of the fullest share. For
  // one-token decode products: each thread reads one long stream of weights instead of restarting
  // the hardware prefetchers at every block, a late thread's share is taken over, and a thread
  // descheduled mid-job holds back no more than the claim it is in (at most half its share).
  void parallel_stream(int64_t n, int64_t unit, const std::function<void(int64_t, int64_t)>& fn);

  // Process-wide pool used by the kernels; its size is set once by the front end (-t).
  static ThreadPool& global();
  static void set_global_threads(int n);

 private:
  void worker_loop();
  void run_blocks();
  void run_shares();
  void run_job(int64_t n, int64_t block, const std::function<void(int64_t, int64_t)>& fn, bool shares);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  std::atomic<uint64_t> generation_{0};  // bumped (under mu_) for each job
  std::atomic<bool> stop_{false};
  int sleeping_ = 0;  // workers blocked on cv_start_ (under mu_)

  // Current job. A worker takes part only while the job is open; the caller closes it once every
  // block is claimed and then waits only for the workers still running a block (running_), never
  // for one that has not woken up yet (on a busy machine that can take a whole time slice).
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, block_ = 1, n_blocks_ = 0;
  std::atomic<int64_t> next_block_{0};
  std::atomic<bool> open_{false};
  std::atomic<int> running_{0};
  std::atomic<bool> busy_{false};
  // parallel_stream: shares_[i] packs [front, end) of thread slot i in blocks (end << 32 | front);
  // a joining thread takes the next slot.
  bool by_shares_ = false;
  struct alignas(64) Share {  // one cache line each: owners update theirs without contention
    std::atomic<uint64_t> v{0};
  };
  std::unique_ptr<Share[]> shares_;
  std::atomic<int> next_slot_{0};
};

}  // namespace herd
