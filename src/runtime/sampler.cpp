#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/vec.h"

namespace herd {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : state) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(state[1] * 5, 7) * 9;
  const uint64_t t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

int32_t argmax(const float* logits, int64_t n) {
  // The largest value (SIMD), then its first index: the first maximum, NaNs never chosen (index 0
  // when nothing else compares greater). A vocabulary's logits are split into one part per
  // thread, each part's maximum and its first index found by one thread; the parts' results then
  // combine in order (the larger maximum, the earlier part on a tie), which gives the same index.
  // Most of the logits were written early in the LM head's job and are no longer in L2: one
  // thread took ~53 us of a ~9 ms mini-scout decode step, one per thread ~35-40 us.
  if (n <= 0) return 0;
  constexpr int64_t kSplitFrom = 16384;
  ThreadPool& pool = ThreadPool::global();
  const int64_t parts = n >= kSplitFrom ? std::min<int64_t>(pool.size(), 64) : 1;
  const int64_t chunk = (n + parts - 1) / parts;
  float best[64];
  int64_t at[64];
  std::fill(at, at + parts, int64_t{-1});  // parts not run (the pool busy: one call did all)
  auto part = [&](int64_t a, int64_t b) {
    const float m = max_f32(logits + a, static_cast<size_t>(b - a));
    const size_t i = find_f32(logits + a, static_cast<size_t>(b - a), m);
    best[a / chunk] = m;
    at[a / chunk] = i < static_cast<size_t>(b - a) ? a + static_cast<int64_t>(i) : -1;  // -1: all NaN
  };
  if (parts > 1) pool.parallel_chunks(n, chunk, part);
  else part(0, n);
  int64_t r = -1;
  for (int64_t p = 0; p * chunk < n; ++p)
    if (at[p] >= 0 && (r < 0 || best[p] > logits[r])) r = at[p];
  return r >= 0 ? static_cast<int32_t>(r) : 0;
}

Sampler::Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature)) fail("temperature must be >= 0, got ", p.temperature);
  if (p.top_k < 0) fail("top-k must be >= 0, got ", p.top_k);
  if (!(p.top_p > 0 && p.top_p <= 1)) fail("top-p must be in (0, 1], got ", p.top_p);
  if (!(p.min_p >= 0 && p.min_p <= 1)) fail("min-p must be in [0, 1], got ", p.min_p);
  if (!(p.repetition_penalty > 0) || !std::isfinite(p.repetition_penalty))
    fail("repetition penalty must be > 0, got ", p.repetition_penalty);
}

int32_t Sampler::sample(float* logits, int64_t vocab, const std::vector<int32_t>& history) {
  if (p_.repetition_penalty != 1.0f && !history.empty()) {
    size_t from = (p_.repeat_last_n < 0 || static_cast<size_t>(p_.repeat_last_n) >= history.size())
                      ? 0 : history.size() - static_cast<size_t>(p_.repeat_last_n);
    std::unordered_set<int32_t> seen(history.begin() + static_cast<std::ptrdiff_t>(from), history.end());
    for (int32_t id : seen) {
      if (id < 0 || id >= vocab) continue;
      float& l = logits[id];
      l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
    }
  }
  if (p_.temperature <= 0.0f) return argmax(logits, vocab);

  // Candidates: tokens within 50 temperature-scaled nats of the best (the rest have probability
  // below e^-50 relative to it), as (unnormalized probability, id) in id order.
  float maxl = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i) maxl = std::max(maxl, logits[i]);
  const float cut = maxl - 50.0f * p_.temperature;
  cand_.clear();
  for (int64_t i = 0; i < vocab; ++i)
    if (logits[i] >= cut) cand_.emplace_back(logits[i], static_cast<int32_t>(i));
  auto by_prob = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < cand_.size()) {
    std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), by_prob);
    cand_.resize(p_.top_k);
  }
  double sum = 0;
  for (auto& c : cand_) {
    c.first = static_cast<float>(std::exp((c.first - maxl) / p_.temperature));
    sum += c.first;
  }
  // top-p: the most probable tokens until their mass reaches top_p. Sort only as far as needed.
  if (p_.top_p < 1.0f) {
    size_t sorted = 0, keep = cand_.size();
    for (size_t m = 64;; m *= 4) {
      m = std::min(m, cand_.size());
      std::partial_sort(cand_.begin() + static_cast<std::ptrdiff_t>(sorted), cand_.begin() + static_cast<std::ptrdiff_t>(m),
                        cand_.end(), by_prob);
      double acc = 0;
      bool done = false;
      for (size_t i = 0; i < m; ++i) {
        acc += cand_[i].first;
        if (acc >= p_.top_p * sum) {
          keep = i + 1;
          done = true;
          break;
        }
      }
      sorted = m;
      if (done || m == cand_.size()) break;
    }
    cand_.resize(keep);
  }
  // min-p: relative to the best token, whose unnormalized probability is 1.
  if (p_.min_p > 0.0f)
    cand_.erase(std::remove_if(cand_.begin(), cand_.end(), [&](const auto& c) { return c.first < p_.min_p; }), cand_.end());
  double total = 0;
  for (auto& c : cand_) total += c.first;
  double r = rng_.uniform() * total;
  for (auto& c : cand_) {
    r -= c.first;
    if (r < 0) return c.second;
  }
  return cand_.back().second;
}

}  // namespace herd
