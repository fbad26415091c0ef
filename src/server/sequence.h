#pragma once
// One generation request as the scheduler sees it, and the channel its HTTP handler reads from.
// The handler thread fills the request, submits it, then waits on the channel; the scheduler thread
// appends text and token details as it samples, and marks it done.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "runtime/sampler.h"

namespace herd::server {

struct GenParams {
  int64_t max_tokens = 16;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings (not included in the output)
  int top_logprobs = -1;          // < 0: no logprobs; else logprobs of the chosen token and this many alternatives
};

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // best first
};

// What the handler takes from the channel: everything produced since its last take.
struct SequenceUpdate {
  std::string text;
  std::vector<TokenLogprob> tokens;  // only when logprobs were asked for
  bool started = false;              // the first token has been sampled
  bool done = false;
  std::string finish_reason;         // "stop" | "length" (when done)
  std::string error;                 // non-empty: generation failed (when done)
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};

class Sequence {
 public:
  Sequence(std::vector<int32_t> prompt, GenParams params) : prompt(std::move(prompt)), params(std::move(params)) {}

  const std::vector<int32_t> prompt;
  const GenParams params;
  const std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();

  // Handler side.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  // Waits up to `timeout` for news; returns false when there is none (and nothing was taken).
  bool take(SequenceUpdate& out, std::chrono::milliseconds timeout);

  // Scheduler side.
  void append(const std::string& text, const TokenLogprob* lp);
  void finish(const std::string& reason, int64_t completion_tokens, int64_t cached_tokens);
  void fail(const std::string& error);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  SequenceUpdate pending_;
  bool news_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace herd::server
