#pragma once
// The generation loop: prefill a prompt in slices, then sample one token at a time through the
// KV cache until a stop id or the token limit.
#include <cstdint>
#include <functional>
#include <vector>

#include "core/huge_buffer.h"
#include "kv/kv_cache.h"
#include "model/text_model.h"
#include "runtime/sampler.h"

namespace herd {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  SamplingParams sampling;
  std::vector<int32_t> stop_ids;  // generation ends after emitting one of these
  int64_t prefill_slice = 512;    // prompt tokens per forward call (bounds activation memory)
};

struct GenerateStats {
  int64_t prompt_tokens = 0, new_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  bool stopped_by_eos = false;
};

class Generator {
 public:
  Generator(TextModel& model, KVCache& cache, const GenerateOptions& opts);

  // Feeds tokens (prompt or a later user turn) into the cache; leaves next-token logits ready.
  void feed(const std::vector<int32_t>& ids);
  // Samples, feeds and returns the next token. Requires feed() first.
  int32_t step();
  // feed(prompt) then step() until a stop id or max_new_tokens; on_token returns false to stop.
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt, const std::function<bool(int32_t)>& on_token);
  // The step() loop of generate() alone, from whatever was fed or restored.
  std::vector<int32_t> generate_more(int64_t max_new_tokens, const std::function<bool(int32_t)>& on_token);

  // State needed to continue exactly where a session left off.
  const HugeVector<float>& next_logits() const { return logits_; }
  bool has_next_logits() const { return have_logits_; }
  Sampler& sampler() { return sampler_; }
  // Restores history, sampler state and the pending next-token logits (the cache is restored
  // separately). Afterwards step() continues exactly as the saved run would have.
  void restore(std::vector<int32_t> history, const Sampler& sampler, std::vector<float> next_logits);
  // Drops history past n (after the cache was truncated to n); feed() must follow.
  void rewind(size_t n);

  const GenerateStats& stats() const { return stats_; }
  const std::vector<int32_t>& history() const { return history_; }
  bool is_stop(int32_t id) const;

 private:
  // Asks the cache for room for `more` positions past what it holds (up to the context), before
  // a prompt or a reply: a chunk ring grown mid-reply copies itself (milliseconds per growth).
  void reserve(int64_t more);

  TextModel& model_;
  KVCache& cache_;
  GenerateOptions opts_;
  Sampler sampler_;
  HugeVector<float> logits_;  // rewritten and reread every token: on huge pages
  std::vector<int32_t> history_;
  bool have_logits_ = false;
  GenerateStats stats_;
};

}  // namespace herd
