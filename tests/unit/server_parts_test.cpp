// Pieces of herd serve that need no HTTP: stop strings, logprobs, prefix pool, metrics text.
#include <gtest/gtest.h>

#include <cmath>

#include "server/logprobs.h"
#include "server/metrics.h"
#include "server/prefix_pool.h"
#include "server/stop_matcher.h"
#include "server_fixture.h"

namespace herd::server {
namespace {

TEST(ServerStopMatcher, HoldsBackPossibleStartsAndCutsAtTheMatch) {
  StopMatcher m({"END", "\n\n"});
  EXPECT_EQ(m.push("Hello E"), "Hello ");  // "E" may start "END"
  EXPECT_EQ(m.push("x"), "Ex");
  EXPECT_EQ(m.push("tra EN"), "tra ");
  EXPECT_EQ(m.push("D and more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("later"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(ServerStopMatcher, EarliestMatchWinsAndFlushReturnsTheRest) {
  StopMatcher m({"cd", "b"});
  EXPECT_EQ(m.push("abcd"), "a");
  EXPECT_TRUE(m.stopped());
  StopMatcher n({"xyz"});
  EXPECT_EQ(n.push("abx"), "ab");
  EXPECT_EQ(n.flush(), "x");
  EXPECT_FALSE(n.stopped());
  StopMatcher none({});
  EXPECT_EQ(none.push("anything"), "anything");
}

TEST(ServerLogprobs, MatchesADirectLogSoftmax) {
  const std::vector<float> logits = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
  double z = 0;
  for (float v : logits) z += std::exp(static_cast<double>(v));
  TokenLogprob lp = token_logprobs(logits.data(), 5, 4, 3);
  EXPECT_EQ(lp.id, 4);
  EXPECT_NEAR(lp.logprob, 0.5 - std::log(z), 1e-5);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 1);  // ties: lower id first
  EXPECT_EQ(lp.top[1].first, 3);
  EXPECT_EQ(lp.top[2].first, 0);
  EXPECT_NEAR(lp.top[2].second, 1.0 - std::log(z), 1e-5);
  EXPECT_TRUE(token_logprobs(logits.data(), 5, 2, 0).top.empty());
}

TEST(ServerPrefixPool, TakesTheLongestSharedHeadAndTruncates) {
  auto& m = test::LoadedModel::get();
  std::vector<int32_t> a = {1, 10, 11, 12, 13, 14, 15, 16};
  std::vector<int32_t> b = {1, 10, 11, 12, 99, 98};
  std::vector<float> logits(static_cast<size_t>(m.model->config().vocab_size));
  auto fill = [&](const std::vector<int32_t>& ids) {
    auto c = m.model->new_cache();
    m.model->forward(ids.data(), static_cast<int64_t>(ids.size()), *c, logits.data(), false);
    return c;
  };
  PrefixPool pool(2, 2);
  pool.put(a, fill(a));
  pool.put(b, fill(b));
  EXPECT_EQ(pool.size(), 2u);
  // Shares 6 tokens with a, 4 with b.
  auto hit = pool.take({1, 10, 11, 12, 13, 14, 77});
  ASSERT_TRUE(hit.cache);
  EXPECT_EQ(hit.reused, 6);
  EXPECT_EQ(hit.cache->n_positions(), 6);
  EXPECT_EQ(pool.size(), 1u);
  // The last prompt token is always left to compute.
  auto whole = pool.take(b);
  ASSERT_TRUE(whole.cache);
  EXPECT_EQ(whole.reused, static_cast<int64_t>(b.size()) - 1);
  // Too short a shared head is a miss.
  pool.put(a, fill(a));
  EXPECT_FALSE(pool.take({1, 55, 56}).cache);
  // Capacity: the oldest entry goes.
  pool.put(b, fill(b));
  pool.put({1, 1, 2, 3}, fill({1, 1, 2, 3}));
  EXPECT_EQ(pool.size(), 2u);
  // a (which shared 8 tokens) is gone; b still shares 4.
  auto after = pool.take({1, 10, 11, 12, 13, 14, 15, 16, 17});
  ASSERT_TRUE(after.cache);
  EXPECT_EQ(after.reused, 4);
}

TEST(ServerMetrics, HistogramBucketsAreCumulative) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(0.7);
  h.observe(5);
  std::string out;
  h.render("x", out);
  EXPECT_NE(out.find("x_bucket{le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"1\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_sum 6.25\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count 4\n"), std::string::npos) << out;
}

TEST(ServerMetrics, RoutingCountsPerLayerAndExpert) {
  Metrics m(3, 4, {true, false, true});
  m.add_routing(0, {0, 1, 1, 3});
  m.add_routing(2, {2});
  m.add_routing(7, {1});    // no such layer: ignored
  m.add_routing(0, {9});    // no such expert: ignored
  const std::string t = m.render();
  EXPECT_NE(t.find("herd_expert_routed_tokens_total{layer=\"0\",expert=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("herd_expert_routed_tokens_total{layer=\"2\",expert=\"2\"} 1\n"), std::string::npos);
  EXPECT_EQ(t.find("herd_expert_routed_tokens_total{layer=\"1\""), std::string::npos);  // dense layer
  m.count_request("/v1/completions", 200);
  m.count_request("/v1/completions", 200);
  EXPECT_NE(m.render().find("herd_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 2\n"), std::string::npos);
}

}  // namespace
}  // namespace herd::server
