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
