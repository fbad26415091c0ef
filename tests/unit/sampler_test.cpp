#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "core/error.h"
#include "core/thread_pool.h"
#include "runtime/sampler.h"
#include "runtime/token_ids.h"

using namespace herd;

namespace {

std::vector<float> logits_of(std::vector<float> v) { return v; }

TEST(Sampler, GreedyIsArgmax) {
  Sampler s(SamplingParams{});
  auto l = logits_of({0.1f, 2.0f, -1.0f, 1.9f});
  EXPECT_EQ(s.sample(l.data(), 4, {}), 1);
}

// argmax (SIMD maximum, then its index) picks the first of equal maxima and never a NaN, at every
// length and position (vector body and scalar tail).
TEST(Sampler, ArgmaxFirstMaximumAtAnyPosition) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-30.0f, -1.0f);
  for (int64_t n : {1, 7, 8, 31, 32, 33, 100, 202048}) {
    std::vector<float> l(n);
    for (float& x : l) x = u(rng);
    for (int64_t at : {int64_t{0}, n / 2, n - 1}) {
      std::vector<float> v = l;
      v[at] = 5.0f;
      EXPECT_EQ(argmax(v.data(), n), at) << n;
      if (at + 1 < n) {
        v[n - 1] = 5.0f;  // a later tie: still the first
        EXPECT_EQ(argmax(v.data(), n), at) << n;
      }
      if (n > 1 && at > 0) {
        v[at - 1] = NAN;  // NaNs are skipped
        EXPECT_EQ(argmax(v.data(), n), at) << n;
      }
    }
  }
  const float neg[] = {-3.0f, -0.0f, 0.0f, -1.0f};
  EXPECT_EQ(argmax(neg, 4), 1);  // -0 == 0: the first of the two
  const float nan_only[] = {NAN, NAN};
  EXPECT_EQ(argmax(nan_only, 2), 0);
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  Sampler a(p), b(p);
  p.seed = 43;
  Sampler c(p);
  std::vector<int32_t> ra, rb, rc;
  for (int i = 0; i < 200; ++i) {
    auto l1 = logits_of({0.f, 0.5f, 1.f, 0.2f, -0.3f});
    auto l2 = l1, l3 = l1;
    ra.push_back(a.sample(l1.data(), 5, {}));
    rb.push_back(b.sample(l2.data(), 5, {}));
    rc.push_back(c.sample(l3.data(), 5, {}));
  }
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
}

TEST(Sampler, FrequenciesFollowSoftmax) {
  SamplingParams p;
  p.temperature = 0.5f;
  p.seed = 7;
  Sampler s(p);
  const std::vector<float> base = {0.f, 0.3f, 0.6f, -0.4f};
  double z = 0;
  std::vector<double> want;
  for (float x : base) want.push_back(std::exp(x / 0.5)), z += want.back();
  std::map<int, int> count;
  const int N = 20000;
  for (int i = 0; i < N; ++i) {
    auto l = base;
    ++count[s.sample(l.data(), 4, {})];
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(count[i] / double(N), want[i] / z, 0.015) << i;
}

TEST(Sampler, TopKOneAndTinyTopPAreGreedy) {
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  Sampler a(p);
  p.top_k = 0;
  p.top_p = 1e-6f;
  Sampler b(p);
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  Sampler c(p);
  for (int i = 0; i < 50; ++i) {
    auto l = logits_of({0.1f, 0.2f, 0.15f, 0.05f});
    auto l2 = l, l3 = l;
    EXPECT_EQ(a.sample(l.data(), 4, {}), 1);
    EXPECT_EQ(b.sample(l2.data(), 4, {}), 1);
    EXPECT_EQ(c.sample(l3.data(), 4, {}), 1);
  }
}

// A temperature so small that 1/T overflows a float (the old division-based weights gave the
// greedy token) is greedy on every path, never a token picked from NaN weights.
TEST(Sampler, TinyTemperatureIsGreedy) {
  const int64_t V = 5000;
  std::vector<float> base(V);
  for (int64_t i = 0; i < V; ++i) base[i] = std::sin(static_cast<float>(i));
  base[1234] = 3.0f;
  for (int mix = 0; mix < 4; ++mix) {
    SamplingParams p;
    p.temperature = 1e-40f;
    p.top_k = mix == 1 ? 5 : 0;
    p.top_p = mix == 2 ? 0.5f : 1.0f;
    p.min_p = mix == 3 ? 0.1f : 0.0f;
    Sampler s(p);
    for (int i = 0; i < 5; ++i) {
      auto l = base;
      EXPECT_EQ(s.sample(l.data(), V, {}), 1234) << "mix " << mix;
    }
    const auto& c = s.candidates(base.data(), V);
    ASSERT_EQ(c.size(), 1u) << "mix " << mix;
    EXPECT_EQ(c[0].second, 1234);
  }
}

TEST(Sampler, TopKRestrictsSupport) {
  SamplingParams p;
  p.temperature = 10.0f;
  p.top_k = 2;
  Sampler s(p);
  for (int i = 0; i < 500; ++i) {
    auto l = logits_of({0.f, 3.f, 2.9f, 1.f, 2.8f});
    int32_t t = s.sample(l.data(), 5, {});
    EXPECT_TRUE(t == 1 || t == 2) << t;
  }
}

TEST(Sampler, MinPDropsUnlikely) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = 0.5f;  // keeps tokens with p >= 0.5 * p_max
  Sampler s(p);
  for (int i = 0; i < 500; ++i) {
    auto l = logits_of({0.f, std::log(0.4f), std::log(0.6f) , -5.f});
    int32_t t = s.sample(l.data(), 4, {});
    EXPECT_NE(t, 3);
  }
}

// What a draw should choose among, by a full sort in double precision: the candidates within 50
// temperature-scaled nats of the best, top-k of them by logit (ties: the lower id), weights
// e^((l - max) / T), top-p as the shortest prefix by weight reaching top_p of their sum, then
// min-p (which keeps a prefix too). The sampler sums float weights, so where a top-p boundary
// falls in a long tail of tiny weights it may move by a few tokens: `lo` and `hi` are the kept
// lengths for top_p's mass 1e-5 lower and higher.
struct FullSort {
  std::vector<int32_t> ids;  // by weight, the lower id first on a tie
  std::vector<double> w;
  size_t lo = 0, hi = 0;
};
FullSort full_sort(const std::vector<float>& l, const SamplingParams& p) {
  float mx = -INFINITY;
  for (float x : l) mx = x > mx ? x : mx;
  struct C {
    double logit, w;
    int32_t id;
  };
  std::vector<C> c;
  for (size_t i = 0; i < l.size(); ++i)
    if (l[i] >= mx - 50.0f * p.temperature) c.push_back({l[i], 0, static_cast<int32_t>(i)});
  std::sort(c.begin(), c.end(), [](const C& a, const C& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); });
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < c.size()) c.resize(p.top_k);
  double sum = 0;
  for (C& x : c) sum += x.w = std::exp((x.logit - mx) / p.temperature);
  auto kept = [&](double mass) {
    size_t n = c.size();
    double acc = 0;
    for (size_t i = 0; i < c.size() && p.top_p < 1.0f; ++i)
      if ((acc += c[i].w) >= mass) {
        n = i + 1;
        break;
      }
    while (n > 0 && c[n - 1].w < p.min_p) --n;
    return n;
  };
  FullSort f;
  f.lo = kept(p.top_p * sum * (1 - 1e-5));
  f.hi = kept(p.top_p * sum * (1 + 1e-5));
  for (const C& x : c) f.ids.push_back(x.id), f.w.push_back(x.w);
  return f;
}

// candidates() (a SIMD scan for top-k, a histogram search for a wide top-p, weights by a SIMD exp)
// keeps the tokens a full sort keeps, by probability when there are few, on flat, peaked and tied
// vocabularies of several sizes, with NaN and -inf logits among them.
TEST(Sampler, CandidatesMatchAFullSort) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> small(-3, 3);
  struct Mix {
    int top_k;
    float top_p, min_p;
  };
  const Mix mixes[] = {{40, 1.0f, 0.0f}, {0, 0.9f, 0.0f}, {0, 0.5f, 0.0f}, {40, 0.95f, 0.05f}, {0, 1.0f, 0.05f},
                       {0, 0.9f, 0.02f}, {1000, 0.99f, 0.0f}, {1, 1.0f, 0.0f}, {0, 0.999f, 0.0f}};
  int checked_order = 0, exact = 0;
  for (int64_t V : {50, 5000, 202048})
    for (int shape = 0; shape < 4; ++shape) {
      std::vector<float> l(V);
      for (float& x : l)
        x = shape == 0 ? 0.05f * nd(rng) : shape == 1 ? 2.5f * nd(rng) : shape == 2 ? static_cast<float>(small(rng)) : 0.0f;
      if (shape == 1)
        for (int i = 0; i < 20; ++i) l[rng() % V] = 14.0f + 0.3f * i;  // a few clear winners
      if (V > 100) l[7] = NAN, l[V / 3] = -INFINITY, l[V - 1] = NAN;
      for (float T : {0.7f, 1.3f})
        for (const Mix& m : mixes) {
          SamplingParams p;
          p.temperature = T;
          p.top_k = m.top_k;
          p.top_p = m.top_p;
          p.min_p = m.min_p;
          Sampler s(p);
          const FullSort want = full_sort(l, p);
          std::vector<int32_t> got;
          for (const auto& c : s.candidates(l.data(), V)) got.push_back(c.second);
          const std::string what = "V " + std::to_string(V) + " shape " + std::to_string(shape) + " T " + std::to_string(T) +
                                   " k " + std::to_string(m.top_k) + " p " + std::to_string(m.top_p) + " min-p " + std::to_string(m.min_p);
          ASSERT_GE(got.size(), want.lo) << what;
          ASSERT_LE(got.size(), want.hi) << what;
          exact += want.lo == want.hi;
          // The same tokens as the full sort's prefix of that length ...
          std::vector<int32_t> a = got, b(want.ids.begin(), want.ids.begin() + static_cast<std::ptrdiff_t>(got.size()));
          std::sort(a.begin(), a.end());
          std::sort(b.begin(), b.end());
          ASSERT_EQ(a, b) << what;
          // ... and, narrowed to a few, by probability (float weights may tie where doubles differ).
          if (got.size() <= 4096 && (m.top_k > 0 || m.top_p < 1.0f)) {
            std::map<int32_t, double> w;
            for (size_t i = 0; i < want.ids.size(); ++i) w[want.ids[i]] = want.w[i];
            for (size_t i = 1; i < got.size(); ++i) ASSERT_GE(w[got[i - 1]], w[got[i]] * (1 - 1e-6)) << what << " at " << i;
            ++checked_order;
          }
        }
    }
  EXPECT_GT(checked_order, 50);
  EXPECT_GT(exact, 150);  // most boundaries leave no room at all
}

// The draw over a whole vocabulary (no top-k or top-p) walks block sums first: tokens in
// different blocks, and the last token, come up as often as their probabilities say.
TEST(Sampler, WholeVocabularyDrawFollowsSoftmax) {
  const int64_t V = 5000;
  std::vector<float> base(V, -INFINITY);
  const int32_t ids[] = {3, 1500, 2047, 2048, 4999};
  const float logit[] = {1.0f, 0.2f, 0.7f, -0.5f, 0.9f};
  double z = 0;
  for (float x : logit) z += std::exp(x);
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 9;
  Sampler s(p);
  std::map<int32_t, int> count;
  const int N = 20000;
  for (int i = 0; i < N; ++i) {
    auto l = base;
    for (int j = 0; j < 5; ++j) l[ids[j]] = logit[j];
    ++count[s.sample(l.data(), V, {})];
  }
  EXPECT_EQ(count.size(), 5u);
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(count[ids[j]] / double(N), std::exp(logit[j]) / z, 0.015) << ids[j];
}

// The sampler's passes over the vocabulary are split over the pool's threads: the tokens drawn
// are the same at any thread count, and inside a pool job (where the passes run on one thread).
TEST(Sampler, SameTokensAtAnyThreadCount) {
  const int64_t V = 202048;
  std::mt19937 rng(21);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> base(V);
  for (float& x : base) x = nd(rng);
  struct Mix {
    float T;
    int top_k;
    float top_p, min_p;
  };
  const Mix mixes[] = {{1.0f, 0, 1.0f, 0.0f}, {0.8f, 40, 1.0f, 0.0f}, {0.8f, 0, 0.9f, 0.0f}, {0.8f, 40, 0.95f, 0.05f}, {1.0f, 0, 1.0f, 0.05f}};
  auto draw = [&](const Mix& m) {
    SamplingParams p;
    p.temperature = m.T;
    p.top_k = m.top_k;
    p.top_p = m.top_p;
    p.min_p = m.min_p;
    p.seed = 5;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 40; ++i) {
      auto l = base;
      l[static_cast<size_t>(i) * 4999 % V] += 6.0f;  // a different favourite each time
      out.push_back(s.sample(l.data(), V, {}));
    }
    return out;
  };
  ThreadPool::set_global_threads(1);
  std::vector<std::vector<int32_t>> want;
  for (const Mix& m : mixes) want.push_back(draw(m));
  for (int threads : {2, 3}) {
    ThreadPool::set_global_threads(threads);
    for (size_t i = 0; i < std::size(mixes); ++i) EXPECT_EQ(draw(mixes[i]), want[i]) << threads << " threads, mix " << i;
    std::vector<std::vector<int32_t>> nested(2);
    ThreadPool::global().parallel_for(2, 1, [&](int64_t a, int64_t b) {
      for (int64_t j = a; j < b; ++j) nested[j] = draw(mixes[j]);
    });
    EXPECT_EQ(nested[0], want[0]) << threads << " threads, inside a pool job";
    EXPECT_EQ(nested[1], want[1]) << threads << " threads, inside a pool job";
  }
  ThreadPool::set_global_threads(0);
}

TEST(Sampler, RepetitionPenaltyAvoidsRepeats) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  auto l = logits_of({1.0f, 1.5f, 0.9f});
  EXPECT_EQ(s.sample(l.data(), 3, {1}), 0);  // 1.5/2 = 0.75 < 1.0
  EXPECT_FLOAT_EQ(l[1], 0.75f);
  auto n = logits_of({-1.0f, -0.6f});
  s.sample(n.data(), 2, {1});
  EXPECT_FLOAT_EQ(n[1], -1.2f);  // negative logits are multiplied
}

TEST(Sampler, RejectsBadParameters) {
  SamplingParams p;
  p.top_p = 0;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  p.temperature = -1;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  p.repetition_penalty = 0;
  EXPECT_THROW(Sampler{p}, Error);
}

TEST(TokenIds, Parsing) {
  EXPECT_EQ(parse_token_ids("1,2, 3"), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse_token_ids("[4 5\n6]"), (std::vector<int32_t>{4, 5, 6}));
  EXPECT_TRUE(parse_token_ids("").empty());
  EXPECT_THROW(parse_token_ids("1,x"), Error);
  EXPECT_THROW(parse_token_ids("-3"), Error);
  EXPECT_THROW(parse_token_ids("99999999999"), Error);
}

// A vocabulary-sized argmax is split into one part per thread: the same index at every thread
// count, with the maximum at a part's edges, tied across parts, in a part of NaNs next to one of
// -inf, and when called inside a pool job (the pool busy: one call covers every part).
TEST(Sampler, ArgmaxSameAtAnyThreadCount) {
  const int64_t n = 202048;
  std::vector<float> base(n);
  for (int64_t i = 0; i < n; ++i) base[i] = -1.0f - static_cast<float>(i % 1000) * 1e-3f;
  struct Case {
    std::vector<float> v;
    int32_t want;
  };
  std::vector<Case> cases;
  for (int64_t at : {int64_t{0}, n / 4 - 1, n / 4, n / 3, n / 2 - 1, n / 2, n - 1}) {
    Case c{base, static_cast<int32_t>(at)};
    c.v[at] = 3.0f;
    if (at + 1 < n) c.v[n - 1] = 3.0f;  // tied in a later part
    cases.push_back(c);
  }
  Case nan_half{std::vector<float>(n, NAN), static_cast<int32_t>(n / 2 + 7)};
  for (int64_t i = n / 2 + 7; i < n; ++i) nan_half.v[i] = -INFINITY;  // first non-NaN: the first -inf
  cases.push_back(nan_half);
  cases.push_back({std::vector<float>(n, NAN), 0});
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool::set_global_threads(threads);
    for (const Case& c : cases) EXPECT_EQ(argmax(c.v.data(), n), c.want) << threads << " threads";
    std::vector<int32_t> nested(2, -1);
    ThreadPool::global().parallel_for(2, 1, [&](int64_t a, int64_t b) {
      for (int64_t j = a; j < b; ++j) nested[j] = argmax(cases[static_cast<size_t>(j + 2)].v.data(), n);
    });
    EXPECT_EQ(nested[0], cases[2].want) << threads << " threads, inside a pool job";
    EXPECT_EQ(nested[1], cases[3].want) << threads << " threads, inside a pool job";
  }
  ThreadPool::set_global_threads(0);
}

}  // namespace
