#pragma once
// Turns a row of logits into the next token: repetition penalty, temperature, top-k, top-p,
// min-p, then a draw from a seeded generator (same seed and inputs, same tokens).
#include <cstddef>
#include <cstdint>
#include <utility>
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
  // logits is modified (the repetition penalty). history: tokens so far (prompt and generated).
  // ~0.06-0.13 ms at two threads for a 202,048-token vocabulary with any mix of the settings
  // (herd bench --temp ... --steps shows it as the step "sample").
  int32_t sample(float* logits, int64_t vocab, const std::vector<int32_t>& history);
  // The tokens a draw chooses among (at temperature 0 as if it were 1) after top-k, top-p and
  // min-p, as (unnormalized probability, id): by probability when top-k or top-p leave at most a
  // few thousand, else in id order. No repetition penalty.
  const std::vector<std::pair<float, int32_t>>& candidates(const float* logits, int64_t vocab);
  const SamplingParams& params() const { return p_; }
  Rng& rng() { return rng_; }
  void set_rng(const Rng& r) { rng_ = r; }

 private:
  bool narrows(int64_t vocab) const;  // top-k or top-p in effect
  float cut_for(float maxl, float min_weight) const;  // lowest candidate logit (min-p floor when > 0)
  float parallel_max(const float* logits, int64_t vocab);
  // sums_[b] = the weights' sum over tokens [1024 b, 1024 (b + 1)) (the weights kept in weights_
  // when store); their total. Fixed blocks summed in order: the same at any thread count.
  double block_sums(const float* logits, int64_t vocab, float maxl, float cut, bool store);
  // top-k / top-p / min-p: false with the tokens in cand_, true with them as the nonzero weights_
  // (every token's, in id order) and sums_ (a plain or wide selection).
  bool select(const float* logits, int64_t vocab);
  void top_p_wide(const float* logits, int64_t vocab, float maxl, float cut, double need);
  void top_k(const float* logits, int64_t vocab, size_t k);  // cand_ = the best k logits, by_prob order
  const std::vector<std::pair<float, int32_t>>& min_p_filter();

  SamplingParams p_;
  Rng rng_;
  std::vector<std::pair<float, int32_t>> cand_, boundary_;  // scratch kept across tokens
  std::vector<std::vector<std::pair<float, int32_t>>> part_cand_;
  std::vector<std::vector<int32_t>> part_idx_;
  std::vector<float> weights_, scratch_;
  std::vector<uint16_t> buckets_;
  std::vector<double> sums_, part_mass_;
};

int32_t argmax(const float* logits, int64_t n);

}  // namespace herd
