// The training model end to end: finite-difference gradients of the whole loss (cross-entropy
// plus every balancing loss) for every parameter tensor; logits equal to the inference engine's
// (TextModel) for a model saved by training; reference fixture logits reproduced.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "formats/hf_writer.h"
#include "kv/kv_cache.h"
#include "model/text_model.h"
#include "test_support.h"
#include "train/model.h"

using namespace herd;
using namespace herd::train;

namespace {

ModelConfig small_config(bool scout_like) {
  ModelConfig c;
  c.architecture = "Llama4ForCausalLM";
  c.vocab_size = 19;
  c.hidden_size = 12;
  c.n_layers = 4;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  c.expert_ffn = 6;
  c.dense_ffn = 10;
  c.n_experts = 4;
  c.top_k = scout_like ? 1 : 2;
  c.use_qk_norm = scout_like;
  c.rope_theta = 100.0;
  c.chunk_size = 3;
  c.attn_temperature_tuning = true;
  c.floor_scale = 2;  // temperature != 1 from position 1 on
  c.attn_scale = 0.3;
  c.max_position = 4096;
  c.tie_word_embeddings = !scout_like;
  for (int l = 0; l < c.n_layers; ++l) {
    c.rope_layer.push_back((l + 1) % 4 != 0);
    c.moe_layer.push_back(scout_like ? true : (l % 2 == 1));
  }
  return c;
}

struct FdResult {
  int checked = 0, skipped = 0, bad = 0;
};

// Central differences on `per_tensor` random entries of every parameter tensor. Samples where
// routing flips between the +eps and -eps evaluations are skipped (the loss is not smooth there).
FdResult fd_check(TrainModel& m, const std::vector<int32_t>& ids, const std::vector<int32_t>& tg, int64_t B, int64_t T,
                  int per_tensor, uint32_t seed) {
  auto loss = [&] { return m.forward(ids.data(), tg.data(), B, T) + m.balance_loss(); };
  m.zero_grad();
  for (auto& rs : m.router_state()) std::fill(rs.step_counts.begin(), rs.step_counts.end(), 0);
  loss();
  m.backward(1.0f);
  std::vector<float> an = m.grad();
  std::mt19937 g(seed);
  FdResult r;
  const float eps = 2e-3f;
  for (const Param& p : m.params()) {
    for (int s = 0; s < per_tensor; ++s) {
      const size_t i = p.offset + g() % p.numel;
      float& w = m.data()[i];
      const float old = w;
      auto reset = [&] { for (auto& rs : m.router_state()) std::fill(rs.step_counts.begin(), rs.step_counts.end(), 0); };
      w = old + eps;
      reset();
      const double lp = loss();
      auto sig_p = m.routing_signature();
      w = old - eps;
      reset();
      const double lm = loss();
      auto sig_m = m.routing_signature();
      w = old;
      if (sig_p != sig_m) {
        ++r.skipped;
        continue;
      }
      ++r.checked;
      const double fd = (lp - lm) / (2.0 * eps);
      if (std::fabs(fd - an[i]) > 2e-3 + 3e-2 * std::fabs(fd)) {
        ++r.bad;
        ADD_FAILURE() << p.name << " [" << i - p.offset << "]: analytic " << an[i] << " vs finite difference " << fd;
      }
    }
  }
  return r;
}

std::vector<int32_t> random_ids(int64_t n, int64_t V, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = static_cast<int32_t>(g() % V);
  return v;
}

}  // namespace

TEST(TrainModel, FiniteDifferenceScoutLikeWithAllBalancingLosses) {
  TrainModel m(small_config(true));
  m.init_random(1, 0.3f);
  m.routing().aux_alpha = 0.1;
  m.routing().z_coef = 0.01;
  m.routing().seq_alpha = 0.1;
  const int64_t B = 2, T = 7;
  auto ids = random_ids(B * T, 19, 2), tg = random_ids(B * T, 19, 3);
  FdResult r = fd_check(m, ids, tg, B, T, 4, 7);
  EXPECT_EQ(r.bad, 0);
  EXPECT_GT(r.checked, 3 * static_cast<int>(m.params().size()));
}

TEST(TrainModel, FiniteDifferenceMaverickLikeTop2TiedGlobalAux) {
  TrainModel m(small_config(false));
  m.init_random(4, 0.3f);
  m.routing().aux_alpha = 0.1;
  m.routing().aux_global = true;
  m.routing().z_coef = 0.01;
  const int64_t B = 2, T = 6;
  auto ids = random_ids(B * T, 19, 5), tg = random_ids(B * T, 19, 6);
  tg[3] = -1;  // an ignored target
  FdResult r = fd_check(m, ids, tg, B, T, 4, 8);
  EXPECT_EQ(r.bad, 0);
  EXPECT_GT(r.checked, 3 * static_cast<int>(m.params().size()));
}

TEST(TrainModel, BalancingLossValuesAtKnownPoints) {
  // Router weights zero: every logit 0, sigmoid 1/2 everywhere, so P_i = 1/N exactly and the
  // Switch loss is alpha * N * sum_i f_i / N = alpha whatever the counts; LSE = ln N.
  ModelConfig c = small_config(true);
  TrainModel m(c);
  m.init_random(3, 0.3f);
  for (const Param& p : m.params())
    if (p.name.find("router.weight") != std::string::npos) std::fill_n(m.data().begin() + p.offset, p.numel, 0.0f);
  m.routing().aux_alpha = 0.01;
  m.routing().z_coef = 1e-3;
  auto ids = random_ids(14, 19, 9), tg = random_ids(14, 19, 10);
  m.forward(ids.data(), tg.data(), 2, 7);
  for (int l = 0; l < c.n_layers; ++l) {
    EXPECT_NEAR(m.router_state()[l].last.aux, 0.01, 1e-7);
    EXPECT_NEAR(m.router_state()[l].last.lse2, std::log(4.0) * std::log(4.0), 1e-5);
    EXPECT_NEAR(m.router_state()[l].last.z, 1e-3 * std::log(4.0) * std::log(4.0), 1e-8);
    // all ties: lowest index wins, so expert 0 takes all 14 tokens
    EXPECT_EQ(m.router_state()[l].step_counts[0], 14);
  }
}

TEST(TrainModel, SavedCheckpointGivesInferenceEngineLogits) {
  for (bool scout_like : {true, false}) {
    ModelConfig c = small_config(scout_like);
    TrainModel m(c);
    m.init_random(11, 0.2f);
    auto dir = test::temp_dir(scout_like ? "train_parity_s" : "train_parity_m");
    write_hf_config(dir.string(), c);
    write_safetensors((dir / "model.safetensors").string(), m.hf_tensors("F32"));
    auto tm = TextModel::load(dir.string());
    const int64_t T = 11;
    auto ids = random_ids(T, c.vocab_size, 12);
    m.forward(ids.data(), nullptr, 1, T);
    std::vector<float> ref(T * c.vocab_size);
    auto cache = tm->new_cache();
    tm->forward(ids.data(), T, *cache, ref.data(), true);
    float mx = 0;
    for (size_t i = 0; i < ref.size(); ++i) mx = std::max(mx, std::fabs(ref[i] - m.logits()[i]));
    EXPECT_LE(mx, 1e-4f) << (scout_like ? "scout-like" : "maverick-like");
    std::filesystem::remove_all(dir);
  }
}

TEST(TrainModel, ReferenceFixturesLoadIntoTrainingEngine) {
  HERD_REQUIRE_SHARED();
  for (const char* name : {"scout_tiny", "maverick_tiny", "top2_bf16_tiny", "rope_llama3_tiny"}) {
    auto dir = test::testdata(std::string("models/") + name);
    auto expected = test::read_json(dir / "expected.json");
    TrainModel m = TrainModel::from_hf(dir.string());
    for (const auto& seq : expected["sequences"]) {
      auto ids = seq["ids"].get<std::vector<int32_t>>();
      const int64_t T = static_cast<int64_t>(ids.size());
      auto ref = test::read_f32(dir / seq["logits_file"].get<std::string>());
      m.forward(ids.data(), nullptr, 1, T);
      ASSERT_EQ(ref.size(), m.logits().size()) << name;
      float mx = 0;
      for (size_t i = 0; i < ref.size(); ++i) mx = std::max(mx, std::fabs(ref[i] - m.logits()[i]));
      EXPECT_LE(mx, 1e-3f) << name << " sequence " << seq["index"];
    }
  }
}
