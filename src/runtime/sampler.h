#pragma once
// Turns a row of logits into the next token: repetition penalty, temperature, top-k, top-p,
// min-p, then a draw from a seeded generator (same seed and inputs, same tokens).
#include <cstdint>
#include <vector>

namespace herd {

struct SamplingParams {
  float temperature = 0.0f;        // <= 0: greedy (argmax)
  int top_k = 0;                   // 0: off
  float top_p = 1.0f;              // 1: off
  float min_p = 0.0f;              // 0: off; keep tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f; // 1: off; CTRL-style: logit/penalty if > 0 else logit*penalty
  int repeat_last_n = 64;          // window of history the penalty looks at (-1: all)
  uint64_t seed = 0;
};

// xoshiro256** seeded by splitmix64: fast, portable, and its state is four words that a session
// file can store.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next();
  double uniform();  // [0, 1)
  uint64_t state[4];
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p);
  // logits is modified (penalty, scaling). history: tokens so far (prompt and generated).
  int32_t sample(float* logits, int64_t vocab, const std::vector<int32_t>& history);
  const SamplingParams& params() const { return p_; }
  Rng& rng() { return rng_; }
  void set_rng(const Rng& r) { rng_ = r; }

 private:
  SamplingParams p_;
  Rng rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

int32_t argmax(const float* logits, int64_t n);

}  // namespace herd
