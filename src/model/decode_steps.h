#pragma once
// Optional timers for the steps of a one-token decode (herd bench --steps): the time since the
// previous mark is added to the step just finished, so that mean and percentiles per step show
// where a token's time goes (the products, attention, the serial work between them). Off by
// default: then mark() is one relaxed load and a branch, inline. Only the thread that runs
// forward() marks, so the records need no lock.
#include <atomic>
#include <cstdint>
#include <vector>

namespace herd::decode_steps {

enum class Step : int {
  AttnNorm,  // from the previous mark: the last layer's end, or begin() for layer 0
  QKV,
  Rope,      // RoPE and QK norm, or the NoPE temperature
  KVWrite,
  Attend,
  OProj,     // the o projection and the residual add
  FfnNorm,
  Router,
  Route,
  Gather,    // routed experts' inputs scaled by their gates
  GateUp,
  Silu,
  Down,
  FfnTail,   // experts' outputs added, the residual add
  OutNorm,
  LmHead,
  Sample,    // herd bench's choice of each token: argmax, or the sampler with --temp
  kCount
};

const char* name(Step s);

// Starts or pauses recording (what was recorded stays); clear() drops it.
void enable(bool on);
void clear();

inline std::atomic<bool> g_recording{false};
inline bool enabled() { return g_recording.load(std::memory_order_relaxed); }

void begin_now();
void mark_now(Step s);
// The reference time for the next mark (the start of a token).
inline void begin() {
  if (enabled()) begin_now();
}
// Adds the time since the previous mark (or begin) to step s.
inline void mark(Step s) {
  if (enabled()) mark_now(s);
}

struct Summary {
  Step step;
  int64_t n = 0;
  double mean_us = 0, p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
};
// Steps with at least one record, in pipeline order.
std::vector<Summary> summarize();

}  // namespace herd::decode_steps
