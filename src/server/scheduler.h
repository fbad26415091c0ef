#pragma once
// Continuous batching: one thread owns the model and, step after step, runs a single batched
// forward pass holding the next token of every decoding sequence plus a slice of the prompts being
// prefilled. Finished or cancelled sequences leave and queued ones join between steps. HTTP
// handlers hand sequences over with submit() and read results from each Sequence's channel.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kv/kv_options.h"
#include "model/text_model.h"
#include "server/metrics.h"
#include "server/prefix_pool.h"
#include "server/sequence.h"
#include "tokenizer/tokenizer.h"

namespace herd::server {

struct SchedulerOptions {
  int parallel = 4;                // sequences decoded together
  size_t max_queue = 64;           // waiting requests beyond `parallel`; more get 429
  int64_t ctx = 4096;              // positions per sequence (prompt + completion)
  int64_t prefill_slice = 128;     // most prompt tokens of one sequence per step
  int64_t prefill_budget = 256;    // most prompt tokens of all sequences per step
  size_t prefix_cache = 8;         // finished sequences kept for prefix reuse (0: off)
  KVOptions kv;
  std::vector<int32_t> stop_ids;   // ids that end generation (not part of the output)
};

class Scheduler {
 public:
  Scheduler(TextModel& model, const Tokenizer& tok, Metrics& metrics, SchedulerOptions opts);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a sequence; false when the queue is full (the caller answers 429).
  bool submit(std::shared_ptr<Sequence> seq);
  // Ends the thread; sequences still running or queued fail with "server shutting down".
  void stop();
  const SchedulerOptions& options() const { return opts_; }

 private:
  struct Slot;
  void run();
  void admit(std::shared_ptr<Sequence> seq);
  bool step();  // one forward pass; false when there was nothing to do
  void sample(Slot& s);
  void retire(Slot& s, bool keep_cache);
  void update_gauges();

  TextModel& model_;
  const Tokenizer& tok_;
  Metrics& metrics_;
  SchedulerOptions opts_;
  int64_t vocab_;
  PrefixPool pool_;
  std::vector<std::unique_ptr<Slot>> slots_;  // scheduler thread only
  std::vector<float> logits_copy_;
  std::atomic<size_t> n_slots_{0};            // slots_.size(), for submit()

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Sequence>> waiting_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace herd::server
