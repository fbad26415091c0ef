// long_ctx_tiny: 20,000 positions with the real chunk (8192) and temperature constants.
#include <gtest/gtest.h>

#include <cmath>

#include "model/text_model.h"
#include "runtime/sampler.h"
#include "test_support.h"

using namespace herd;

TEST(LongContext, TwentyThousandPositions) {
  HERD_REQUIRE_SHARED();
  auto dir = test::testdata("models/long_ctx_tiny");
  auto expected = test::read_json(dir / "expected.json");
  auto inputs = test::read_json(dir / "inputs.json");
  auto ids = inputs["sequences"][0].get<std::vector<int32_t>>();
  const auto& seq = expected["sequences"][0];
  auto positions = seq["logits_positions"].get<std::vector<int64_t>>();
  auto want = test::read_f32(dir / seq["logits_file"].get<std::string>());

  auto model = TextModel::load(dir.string());
  const int64_t V = model->config().vocab_size, T = static_cast<int64_t>(ids.size());
  ASSERT_EQ(T, 20000);
  auto cache = model->new_cache();
  // Prefill in slices that straddle the chunk boundaries, as a real run would.
  std::vector<float> logits;
  std::vector<float> slice_logits;
  const int64_t slice = 3000;
  size_t next_pos = 0;
  for (int64_t t = 0; t < T; t += slice) {
    int64_t n = std::min(slice, T - t);
    slice_logits.resize(n * V);
    model->forward(ids.data() + t, n, *cache, slice_logits.data(), true);
    while (next_pos < positions.size() && positions[next_pos] < t + n) {
      const float* got = slice_logits.data() + (positions[next_pos] - t) * V;
      float d = 0;
      for (int64_t i = 0; i < V; ++i) d = std::max(d, std::fabs(got[i] - want[next_pos * V + i]));
      EXPECT_LE(d, 1e-3f) << "position " << positions[next_pos];
      ++next_pos;
    }
  }
  ASSERT_EQ(next_pos, positions.size());

  // Greedy decode through the cache past position 20,000.
  auto tokens = seq["greedy"]["new_tokens"].get<std::vector<int32_t>>();
  auto step = test::read_f32(dir / seq["greedy"]["step_logits_file"].get<std::string>());
  std::vector<float> cur(slice_logits.end() - V, slice_logits.end());
  for (size_t j = 0; j < tokens.size(); ++j) {
    float d = 0;
    for (int64_t i = 0; i < V; ++i) d = std::max(d, std::fabs(cur[i] - step[j * V + i]));
    EXPECT_LE(d, 1e-3f) << "decode step " << j;
    int32_t next = argmax(cur.data(), V);
    ASSERT_EQ(next, tokens[j]) << "decode step " << j;
    model->forward(&next, 1, *cache, cur.data(), false);
  }
}

// Reduced-precision KV on the same 20,000 positions. A max-abs bound is not meaningful for
// reduced-precision storage (fixture README); these are the README's statistical checks for bf16
// pipelines (median relative L2 of a logits row <= 0.05, argmax agreement >= 0.9), applied to
// bf16 and q8_0 KV, and a looser documented bound for q4_0 (docs/kv-cache.md).
TEST(LongContext, ReducedPrecisionKv) {
  HERD_REQUIRE_SHARED();
  auto dir = test::testdata("models/long_ctx_tiny");
  auto expected = test::read_json(dir / "expected.json");
  auto ids = test::read_json(dir / "inputs.json")["sequences"][0].get<std::vector<int32_t>>();
  const auto& seq = expected["sequences"][0];
  auto positions = seq["logits_positions"].get<std::vector<int64_t>>();
  auto margin = seq["argmax_margin"].get<std::vector<double>>();
  auto argmax_want = seq["argmax"].get<std::vector<int>>();
  auto want = test::read_f32(dir / seq["logits_file"].get<std::string>());
  auto model = TextModel::load(dir.string());
  const int64_t V = model->config().vocab_size, T = static_cast<int64_t>(ids.size());
  struct Bound {
    const char* type;
    double median_rel_l2, argmax_agreement;
  } bounds[] = {{"bf16", 0.05, 0.9}, {"q8_0", 0.05, 0.9}, {"q4_0", 0.25, 0.7}};
  for (const Bound& b : bounds) {
    KVOptions o;
    o.k_type = o.v_type = parse_kv_type(b.type);
    auto cache = model->new_cache(o);
    std::vector<double> rel;
    int agree = 0, counted = 0;
    size_t next = 0;
    std::vector<float> logits;
    for (int64_t t = 0; t < T; t += 4000) {
      const int64_t n = std::min<int64_t>(4000, T - t);
      logits.resize(n * V);
      model->forward(ids.data() + t, n, *cache, logits.data(), true);
      for (; next < positions.size() && positions[next] < t + n; ++next) {
        const float* got = logits.data() + (positions[next] - t) * V;
        const float* ref = want.data() + next * V;
        double num = 0, den = 0;
        for (int64_t i = 0; i < V; ++i) num += (got[i] - ref[i]) * (got[i] - ref[i]), den += ref[i] * ref[i];
        rel.push_back(std::sqrt(num / den));
        if (margin[next] > 0.05) {  // rows where the reference has a clear winner
          ++counted;
          agree += argmax(got, V) == argmax_want[next];
        }
      }
    }
    std::sort(rel.begin(), rel.end());
    const double med = rel[rel.size() / 2];
    EXPECT_LE(med, b.median_rel_l2) << b.type;
    EXPECT_GE(static_cast<double>(agree) / counted, b.argmax_agreement) << b.type;
    std::printf("kv %s: median relative L2 %.4f, argmax agreement %d/%d\n", b.type, med, agree, counted);
  }
}
