// The per-step decode timers (herd bench --steps): every step of every layer is recorded once per
// decode token, MoE-only steps only for MoE layers, nothing while they are off, and the records add
// up to the time the tokens took.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "model/decode_steps.h"
#include "model/text_model.h"
#include "test_support.h"

using namespace herd;

namespace {

std::map<std::string, decode_steps::Summary> by_name() {
  std::map<std::string, decode_steps::Summary> m;
  for (const auto& s : decode_steps::summarize()) m[decode_steps::name(s.step)] = s;
  return m;
}

}  // namespace

TEST(DecodeSteps, EveryStepOncePerLayerAndToken) {
  HERD_REQUIRE_SHARED();
  for (const char* name : {"scout_tiny", "maverick_tiny"}) {
    SCOPED_TRACE(name);
    auto model = TextModel::load(test::testdata(std::string("models/") + name).string());
    const ModelConfig& c = model->config();
    int moe = 0;
    for (int l = 0; l < c.n_layers; ++l) moe += c.is_moe(l) ? 1 : 0;
    auto cache = model->new_cache();
    std::vector<float> logits(c.vocab_size);
    std::vector<int32_t> prompt = {1, 7, 42, 5};
    decode_steps::clear();
    model->forward(prompt.data(), 4, *cache, logits.data(), false);  // off: not recorded
    EXPECT_TRUE(decode_steps::summarize().empty());

    const int tokens = 5;
    decode_steps::enable(true);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < tokens; ++i) {
      decode_steps::begin();
      int32_t id = 10 + i;
      model->forward(&id, 1, *cache, logits.data(), false);
    }
    const double total_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    decode_steps::enable(false);
    int32_t id = 3;
    model->forward(&id, 1, *cache, logits.data(), false);  // paused: not recorded

    auto m = by_name();
    const int64_t per_layer = static_cast<int64_t>(c.n_layers) * tokens;
    for (const char* s : {"attn_norm", "qkv", "rope", "kv_write", "attend", "o_proj", "ffn_norm", "gate_up", "silu", "down",
                          "ffn_tail"}) {
      ASSERT_TRUE(m.count(s)) << s;
      EXPECT_EQ(m[s].n, per_layer) << s;
    }
    for (const char* s : {"router", "route", "gather"}) {
      if (moe == 0) {
        EXPECT_FALSE(m.count(s)) << s;
      } else {
        ASSERT_TRUE(m.count(s)) << s;
        EXPECT_EQ(m[s].n, static_cast<int64_t>(moe) * tokens) << s;
      }
    }
    EXPECT_EQ(m["out_norm"].n, tokens);
    EXPECT_EQ(m["lm_head"].n, tokens);
    EXPECT_FALSE(m.count("sample"));  // herd bench's own step
    double sum_us = 0;
    for (const auto& [k, s] : m) {
      EXPECT_LE(s.p50_us, s.p90_us) << k;
      EXPECT_LE(s.p99_us, s.max_us) << k;
      sum_us += s.mean_us * static_cast<double>(s.n);
    }
    // Consecutive marks from begin() on: the steps cover the tokens' time and nothing else.
    EXPECT_LE(sum_us, total_us * 1.0001 + 1);
    EXPECT_GE(sum_us, total_us * 0.5);
  }
  decode_steps::clear();
}
