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

// Runs fn(part, begin, end) for each of the parts [0, n) splits into, one contiguous part per pool
// thread (at least min_per_part items each, at most 64 parts; or max_parts parts, whatever the
// number of threads, where the results must not depend on it), on the pool: the sampler's passes
// over a vocabulary's logits, which the output matrix's job has mostly pushed out of the caches,
// read at every thread's bandwidth. Returns the number of parts (every one of them is run, by
// one thread when the pool is busy).
template <typename Fn>
int64_t for_parts(int64_t n, int64_t min_per_part, Fn&& fn, int64_t max_parts = 0) {
  if (n <= 0) return 0;
  ThreadPool& pool = ThreadPool::global();
  const int64_t most = max_parts > 0 ? max_parts : std::min<int64_t>(pool.size(), 64);
  const int64_t want = std::clamp<int64_t>(n / std::max<int64_t>(1, min_per_part), 1, most);
  const int64_t chunk = (n + want - 1) / want, parts = (n + chunk - 1) / chunk;
  auto run = [&](int64_t a, int64_t b) {
    for (int64_t p = a / chunk; p * chunk < b; ++p) fn(p, p * chunk, std::min(n, (p + 1) * chunk));
  };
  if (parts > 1 && pool.size() > 1) pool.parallel_chunks(n, chunk, run);
  else run(0, n);
  return parts;
}
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
  float best[64];
  int64_t at[64];
  const int64_t parts = for_parts(n, 8192, [&](int64_t p, int64_t a, int64_t b) {
    const float m = max_f32(logits + a, static_cast<size_t>(b - a));
    const size_t i = find_f32(logits + a, static_cast<size_t>(b - a), m);
    best[p] = m;
    at[p] = i < static_cast<size_t>(b - a) ? a + static_cast<int64_t>(i) : -1;  // -1: all NaN
  });
  int64_t r = -1;
  for (int64_t p = 0; p < parts; ++p)
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

namespace {

using Cand = std::pair<float, int32_t>;  // (logit or unnormalized probability, token id)

// Larger first, the lower id on a tie: the order the draw walks.
bool by_prob(const Cand& a, const Cand& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); }

// Moves the shortest prefix of c in by_prob order whose weights add up to at least `need` to the
// front of c and returns its length (c.size() when all of them together fall short); the rest of
// c is left unspecified (entries dropped, others repeated). Sorting a
// whole vocabulary to find it took ~33 ms per token for top-p over a near-uniform distribution:
// instead a histogram of the values finds the bucket where the running total reaches `need`, the
// entries above that bucket are kept whole, and only the bucket's entries are examined again (a
// finer histogram over their own range, until few are left or all are equal), then sorted. The
// prefix ends in by_prob order; the entries kept whole stay in id order before it, and the whole
// prefix is sorted at the end when it is short (the usual case), as a full sort would leave it.
template <typename Weight>
size_t best_prefix(std::vector<Cand>& c, Weight weight, double need, std::vector<Cand>& boundary) {
  constexpr size_t kSortUpTo = 2048;  // examine this few entries by sorting them
  constexpr int kBuckets = 2048;
  size_t base = 0, end = c.size();  // c[0, base) kept; c[base, end) still to examine
  double acc = 0;                   // weight of c[0, base)
  size_t keep = 0;
  std::vector<double> mass(kBuckets);
  for (;;) {
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = base; i < end; ++i) lo = std::min(lo, c[i].first), hi = std::max(hi, c[i].first);
    if (end - base <= kSortUpTo || !(hi > lo)) {
      std::sort(c.begin() + static_cast<std::ptrdiff_t>(base), c.begin() + static_cast<std::ptrdiff_t>(end), by_prob);
      keep = end;
      for (size_t i = base; i < end; ++i) {
        acc += weight(c[i]);
        if (acc >= need) {
          keep = i + 1;
          break;
        }
      }
      break;
    }
    // Bucket 0 holds the largest values. The same expression places an entry in both passes.
    const double scale = kBuckets / (static_cast<double>(hi) - static_cast<double>(lo));
    auto bucket = [&](float v) { return std::min(kBuckets - 1, static_cast<int>((static_cast<double>(hi) - v) * scale)); };
    std::fill(mass.begin(), mass.end(), 0.0);
    for (size_t i = base; i < end; ++i) mass[bucket(c[i].first)] += weight(c[i]);
    int b = 0;
    for (; b < kBuckets && acc + mass[b] < need; ++b) acc += mass[b];
    if (b == kBuckets) {  // all of them fall short (rounding): keep everything
      keep = end;
      break;
    }
    // Compact the entries above bucket b in place (id order kept), set bucket b's aside, drop the rest.
    boundary.clear();
    size_t w = base;
    for (size_t i = base; i < end; ++i) {
      const int k = bucket(c[i].first);
      if (k < b) c[w++] = c[i];
      else if (k == b) boundary.push_back(c[i]);
    }
    std::copy(boundary.begin(), boundary.end(), c.begin() + static_cast<std::ptrdiff_t>(w));
    base = w;
    end = w + boundary.size();
  }
  if (keep <= 4 * kSortUpTo) std::sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(keep), by_prob);
  return keep;
}

// The k entries of x[a, b) with the largest values (the lower index on a tie) into out, unordered.
// A SIMD scan adds the entries above a threshold; whenever out holds 4k of them, the best k are
// kept (nth_element) and the threshold rises to the k-th value. A later entry equal to that value
// has a larger index, so from then on only larger values enter.
void top_k_scan(const float* x, int64_t a, int64_t b, size_t k, std::vector<Cand>& out, std::vector<int32_t>& idx) {
  out.clear();
  const size_t cap = std::max<size_t>(4 * k, 1024);
  constexpr int64_t kBlock = 4096;
  idx.resize(kBlock);
  float t = -INFINITY;
  bool or_equal = true;
  auto trim = [&] {
    std::nth_element(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k - 1), out.end(), by_prob);
    out.resize(k);
    t = out[k - 1].first;
    or_equal = false;
  };
  for (int64_t i = a; i < b; i += kBlock) {
    const size_t m = indices_above(x + i, static_cast<size_t>(std::min(kBlock, b - i)), t, or_equal, static_cast<int32_t>(i), idx.data());
    for (size_t j = 0; j < m; ++j) out.emplace_back(x[idx[j]], idx[j]);
    if (out.size() >= cap) trim();
  }
  if (out.size() > k) trim();
}

constexpr int64_t kSumBlock = 1024;  // tokens per block sum (Sampler::block_sums)

// Index drawn with r uniform in [0, 1) from the weights of the blocks of `block` tokens whose sums
// are `sums` (not all zero); weigh(b, w) writes block b's weights to w, as the sums were made.
// A walk over a whole vocabulary, one dependent double addition per token, took ~0.3 ms.
template <typename Weigh>
int64_t draw_index(const std::vector<double>& sums, int64_t n, int64_t block, double r, std::vector<float>& w, Weigh weigh) {
  double total = 0;
  for (double x : sums) total += x;
  double left = r * total;
  const int64_t blocks = static_cast<int64_t>(sums.size());
  int64_t b = 0;
  for (; b + 1 < blocks && (left >= sums[b] || sums[b] <= 0); ++b) left -= sums[b];
  for (; b >= 0; --b) {  // the block, or (rounding) the last one before it with weight
    const int64_t len = std::min(block, n - b * block);
    w.resize(static_cast<size_t>(block));
    weigh(b, w.data());
    int64_t last = -1;
    for (int64_t i = 0; i < len; ++i)
      if (w[i] > 0) {
        last = i;
        left -= w[i];
        if (left < 0) return b * block + i;
      }
    if (last >= 0) return b * block + last;
  }
  return 0;
}

}  // namespace

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
  // A temperature so small that 1/T overflows is greedy too (the weights would be 0 * inf).
  if (p_.temperature <= 0.0f || !std::isfinite(1.0f / p_.temperature) || vocab <= 0) return argmax(logits, vocab);
  if (!narrows(vocab)) {
    // The whole vocabulary: the maximum, then the weights' sums per block (nothing stored), then
    // the block the draw lands in weighed again and walked. Two passes over the logits.
    const float maxl = parallel_max(logits, vocab);
    if (!(maxl > -INFINITY) || maxl == INFINITY) return argmax(logits, vocab);
    const float T = p_.temperature, cut = cut_for(maxl, p_.min_p);
    block_sums(logits, vocab, maxl, cut, false);
    auto weigh = [&](int64_t b, float* w) {
      exp_weights(logits + b * kSumBlock, static_cast<size_t>(std::min(kSumBlock, vocab - b * kSumBlock)), 1.0f / T, maxl, cut, w);
    };
    return static_cast<int32_t>(draw_index(sums_, vocab, kSumBlock, rng_.uniform(), scratch_, weigh));
  }
  if (select(logits, vocab))  // kept in weights_, summed per block in sums_
    return static_cast<int32_t>(draw_index(sums_, vocab, kSumBlock, rng_.uniform(), scratch_, [&](int64_t b, float* w) {
      std::copy_n(weights_.data() + b * kSumBlock, std::min(kSumBlock, vocab - b * kSumBlock), w);
    }));
  if (cand_.empty()) return argmax(logits, vocab);
  double total = 0;
  for (const auto& c : cand_) total += c.first;
  double r = rng_.uniform() * total;
  for (const auto& c : cand_) {
    r -= c.first;
    if (r < 0) return c.second;
  }
  return cand_.back().second;
}

bool Sampler::narrows(int64_t vocab) const { return (p_.top_k > 0 && p_.top_k < vocab) || p_.top_p < 1.0f; }

float Sampler::cut_for(float maxl, float min_weight) const {
  // Candidates: tokens within 50 temperature-scaled nats of the best (the rest have probability
  // below e^-50 relative to it), weighed e^((logit - max) / T), the best exactly 1. A min-p floor
  // is the same kind of cut: weight >= min_p where logit >= max + T ln(min_p).
  const float T = p_.temperature > 0.0f ? p_.temperature : 1.0f;
  float cut = maxl - 50.0f * T;
  if (min_weight > 0.0f) cut = std::max(cut, maxl + T * std::log(min_weight));
  return cut;
}

double Sampler::block_sums(const float* logits, int64_t vocab, float maxl, float cut, bool store) {
  const float T = p_.temperature > 0.0f ? p_.temperature : 1.0f;
  sums_.assign(static_cast<size_t>((vocab + kSumBlock - 1) / kSumBlock), 0.0);
  if (store) weights_.resize(static_cast<size_t>(vocab));
  for_parts(static_cast<int64_t>(sums_.size()), 16, [&](int64_t, int64_t b0, int64_t b1) {
    float scratch[kSumBlock];
    for (int64_t b = b0; b < b1; ++b)
      sums_[static_cast<size_t>(b)] = exp_weights(logits + b * kSumBlock, static_cast<size_t>(std::min(kSumBlock, vocab - b * kSumBlock)),
                                                  1.0f / T, maxl, cut, store ? weights_.data() + b * kSumBlock : scratch);
  });
  double total = 0;
  for (double x : sums_) total += x;
  return total;
}

float Sampler::parallel_max(const float* logits, int64_t vocab) {
  float part_max[64];
  const int64_t parts = for_parts(vocab, 16384, [&](int64_t p, int64_t a, int64_t b) {
    part_max[p] = max_f32(logits + a, static_cast<size_t>(b - a));
  });
  float m = -INFINITY;
  for (int64_t p = 0; p < parts; ++p) m = std::max(m, part_max[p]);
  return m;
}

void Sampler::top_k(const float* logits, int64_t vocab, size_t k) {
  // Each thread scans its part of the vocabulary; the parts' best k together hold the best k.
  part_cand_.resize(64);
  part_idx_.resize(64);
  const int64_t parts = for_parts(vocab, 16384, [&](int64_t p, int64_t a, int64_t b) {
    top_k_scan(logits, a, b, k, part_cand_[p], part_idx_[p]);
  });
  cand_.clear();
  for (int64_t p = 0; p < parts; ++p) cand_.insert(cand_.end(), part_cand_[p].begin(), part_cand_[p].end());
  if (cand_.size() > k) {
    std::nth_element(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k - 1), cand_.end(), by_prob);
    cand_.resize(k);
  }
  std::sort(cand_.begin(), cand_.end(), by_prob);
}

const std::vector<std::pair<float, int32_t>>& Sampler::candidates(const float* logits, int64_t vocab) {
  if (select(logits, vocab)) {  // kept in weights_: list them (by probability under top-p when few)
    cand_.clear();
    for (int64_t i = 0; i < vocab; ++i)
      if (weights_[static_cast<size_t>(i)] > 0.0f) cand_.emplace_back(weights_[static_cast<size_t>(i)], static_cast<int32_t>(i));
    if (p_.top_p < 1.0f && cand_.size() <= 8192) std::sort(cand_.begin(), cand_.end(), by_prob);
  }
  return cand_;
}

bool Sampler::select(const float* logits, int64_t vocab) {
  cand_.clear();
  if (vocab <= 0) return false;
  const float T = p_.temperature > 0.0f ? p_.temperature : 1.0f;
  if (!std::isfinite(1.0f / T)) {  // as greedy: the first maximum alone
    cand_.assign(1, {1.0f, argmax(logits, vocab)});
    return false;
  }
  auto weigh = [&](float maxl, float cut) {  // cand_'s logits (by_prob order) to weights; their sum
    weights_.resize(cand_.size());
    for (size_t i = 0; i < cand_.size(); ++i) weights_[i] = cand_[i].first;
    exp_weights(weights_.data(), weights_.size(), 1.0f / T, maxl, cut, weights_.data());
    double sum = 0;
    for (size_t i = 0; i < cand_.size(); ++i) sum += cand_[i].first = weights_[i];
    return sum;
  };
  auto no_candidates = [&] {  // nothing finite and below +inf: argmax's choice alone
    cand_.assign(1, {1.0f, argmax(logits, vocab)});
    return false;
  };
  if (p_.top_k > 0 && p_.top_k < vocab) {
    // top-k by logit in one pass (its best is the maximum), then their weights; top-p within them.
    top_k(logits, vocab, static_cast<size_t>(p_.top_k));
    const float maxl = cand_.front().first;
    if (!(maxl > -INFINITY) || maxl == INFINITY) return no_candidates();
    const float cut = cut_for(maxl, 0.0f);
    while (!cand_.empty() && !(cand_.back().first >= cut)) cand_.pop_back();
    const double sum = weigh(maxl, cut);
    if (p_.top_p < 1.0f) cand_.resize(best_prefix(cand_, [](const Cand& c) { return static_cast<double>(c.first); }, p_.top_p * sum, boundary_));
    min_p_filter();
    return false;
  }
  const float maxl = parallel_max(logits, vocab);
  if (!(maxl > -INFINITY) || maxl == INFINITY) return no_candidates();
  const float cut = cut_for(maxl, 0.0f);
  if (p_.top_p >= 1.0f) {  // every candidate (min-p aside)
    block_sums(logits, vocab, maxl, cut_for(maxl, p_.min_p), true);
    return true;
  }
  // top-p: the most probable tokens until their mass reaches top_p of all candidates'. A model's
  // nucleus is usually small, so it is looked for among the best 64, 1024 and 16384 logits first;
  // a wide one (a near-uniform distribution) by top_p_wide.
  const double need = p_.top_p * block_sums(logits, vocab, maxl, cut, false);
  for (size_t k = 64; k <= 16384 && k < static_cast<size_t>(vocab); k *= 16) {
    top_k(logits, vocab, k);
    while (!cand_.empty() && !(cand_.back().first >= cut)) cand_.pop_back();
    const bool all_in = cand_.size() < k;
    const float kth = cand_.back().first;
    weigh(maxl, cut);
    double acc = 0;
    for (size_t i = 0; i < cand_.size(); ++i)
      if ((acc += cand_[i].first) >= need) {
        cand_.resize(i + 1);
        min_p_filter();
        return false;
      }
    if (all_in) {  // every candidate is in and still short (rounding)
      min_p_filter();
      return false;
    }
    // The next 15k tokens weigh at most the k-th's weight each: when even that falls short,
    // go straight to the wide search.
    if (acc + 15.0 * static_cast<double>(k) * std::exp((static_cast<double>(kth) - maxl) / T) < need) break;
  }
  top_p_wide(logits, vocab, maxl, cut, need);
  return true;
}

void Sampler::top_p_wide(const float* logits, int64_t vocab, float maxl, float cut, double need) {
  // Every token's weight, and per part a histogram of the weights by logit (bucket 0: the
  // highest); the bucket where the running total reaches `need` is searched by best_prefix, the
  // buckets above it are kept whole and those below zeroed. Passes split over the threads, in a
  // fixed number of parts merged in order: the result does not depend on the thread count.
  // (Sorting all candidates took ~33 ms per token on a near-uniform distribution.)
  constexpr int kBuckets = 2048;
  constexpr int64_t kParts = 8;
  const float T = p_.temperature > 0.0f ? p_.temperature : 1.0f;
  weights_.resize(static_cast<size_t>(vocab));
  // Bucket by (max - logit) * scale in float: monotonic in the logit, so a bucket's tokens are all
  // more probable than the next bucket's. Computed once per token and kept for the second pass.
  const float scale = static_cast<float>(kBuckets) / (maxl - cut);
  buckets_.resize(static_cast<size_t>(vocab));
  part_mass_.assign(static_cast<size_t>(kParts * kBuckets), 0.0);
  const int64_t parts = for_parts(vocab, (vocab + kParts - 1) / kParts, [&](int64_t p, int64_t a, int64_t b) {
    float* w = weights_.data();
    uint16_t* bk = buckets_.data();
    exp_weights(logits + a, static_cast<size_t>(b - a), 1.0f / T, maxl, cut, w + a);
    for (int64_t i = a; i < b; ++i)  // (vectorizes; NaN and non-candidates have weight 0)
      bk[i] = static_cast<uint16_t>(std::min(static_cast<float>(kBuckets - 1), std::max(0.0f, (maxl - logits[i]) * scale)));
    // Four interleaved histograms: a near-uniform vocabulary puts long runs of tokens in one
    // bucket, and a single histogram would chain every addition through the same memory.
    std::vector<double> h(4 * kBuckets, 0.0);
    int64_t i = a;
    for (; i + 4 <= b; i += 4)
      for (int j = 0; j < 4; ++j) h[4 * bk[i + j] + j] += w[i + j];
    for (; i < b; ++i) h[4 * bk[i]] += w[i];
    double* mass = part_mass_.data() + p * kBuckets;
    for (int k = 0; k < kBuckets; ++k) mass[k] = (h[4 * k] + h[4 * k + 1]) + (h[4 * k + 2] + h[4 * k + 3]);
  }, kParts);
  double acc = 0;
  int top = 0;  // the boundary bucket
  for (; top < kBuckets; ++top) {
    double m = 0;
    for (int64_t p = 0; p < parts; ++p) m += part_mass_[static_cast<size_t>(p * kBuckets + top)];
    if (acc + m >= need) break;
    acc += m;
  }
  part_cand_.resize(static_cast<size_t>(kParts));
  for_parts(vocab, (vocab + kParts - 1) / kParts, [&](int64_t p, int64_t a, int64_t b) {
    std::vector<Cand>& edge = part_cand_[static_cast<size_t>(p)];
    edge.clear();
    float* w = weights_.data();
    const uint16_t* bk = buckets_.data();
    for (int64_t i = a; i < b; ++i) {
      if (bk[i] == top && w[i] > 0.0f) edge.emplace_back(w[i], static_cast<int32_t>(i));
      w[i] = bk[i] < top ? w[i] : 0.0f;  // the boundary bucket's are set again below
    }
  }, kParts);
  boundary_.clear();
  for (int64_t p = 0; p < parts; ++p) boundary_.insert(boundary_.end(), part_cand_[p].begin(), part_cand_[p].end());
  // (best_prefix leaves what follows the prefix unspecified: only the prefix is set again.)
  const size_t keep = best_prefix(boundary_, [](const Cand& c) { return static_cast<double>(c.first); }, need - acc, cand_);
  for (size_t i = 0; i < keep; ++i) weights_[static_cast<size_t>(boundary_[i].second)] = boundary_[i].first;
  cand_.clear();
  // min-p, and the block sums the draw walks.
  const float floor = p_.min_p;
  sums_.assign(static_cast<size_t>((vocab + kSumBlock - 1) / kSumBlock), 0.0);
  for_parts(static_cast<int64_t>(sums_.size()), 16, [&](int64_t, int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* w = weights_.data() + b * kSumBlock;
      const int64_t len = std::min(kSumBlock, vocab - b * kSumBlock);
      if (floor > 0.0f)
        for (int64_t i = 0; i < len; ++i) w[i] = w[i] < floor ? 0.0f : w[i];
      sums_[static_cast<size_t>(b)] = sum_f32(w, static_cast<size_t>(len));
    }
  });
}

const std::vector<std::pair<float, int32_t>>& Sampler::min_p_filter() {
  // min-p: relative to the best token, whose unnormalized probability is 1 (and which is kept).
  if (p_.min_p > 0.0f && !cand_.empty())
    cand_.erase(std::remove_if(cand_.begin(), cand_.end(), [&](const auto& c) { return c.first < p_.min_p; }), cand_.end());
  return cand_;
}

}  // namespace herd
