// Optimizer, schedule, clipping, loss-free bias update and load telemetry against hand-computed
// values.
#include <gtest/gtest.h>

#include <cmath>

#include "train/optimizer.h"
#include "train/routing.h"
#include "train/trainer.h"

using namespace herd;
using namespace herd::train;

TEST(TrainOptim, WarmupCosineSchedule) {
  EXPECT_DOUBLE_EQ(lr_at(0, 100, 10, 1.0, 0.1), 0.1);
  EXPECT_DOUBLE_EQ(lr_at(9, 100, 10, 1.0, 0.1), 1.0);
  EXPECT_NEAR(lr_at(10, 100, 10, 1.0, 0.1), 1.0, 1e-12);
  EXPECT_NEAR(lr_at(55, 100, 10, 1.0, 0.1), 0.55, 1e-12);  // halfway: (1 + 0.1) / 2
  EXPECT_NEAR(lr_at(100, 100, 10, 1.0, 0.1), 0.1, 1e-12);
}

TEST(TrainOptim, AdamWFirstStepAndDecayExclusions) {
  // Tiny model; set every gradient to a constant and take one step. With bias correction the
  // first Adam step is lr * g/|g| (up to eps); decoupled decay multiplies by (1 - lr*wd) only
  // for decayed tensors (matrices except the embedding).
  ModelConfig c = train_model_config(10, 8, 1, 2, 1, 2, 1, 4, 4, 0, 0, 1, true, 64);
  TrainModel m(c);
  m.init_random(1, 0.5f);
  std::vector<float> w0 = m.data();
  std::fill(m.grad().begin(), m.grad().end(), -0.25f);
  AdamW opt(m.data().size());
  AdamWOptions o;
  o.weight_decay = 0.5;
  const double lr = 0.01;
  opt.step(m, lr, o);
  for (const Param& p : m.params()) {
    const double f = p.decay ? 1.0 - lr * 0.5 : 1.0;
    for (size_t i = p.offset; i < p.offset + p.numel; i += 7)
      EXPECT_NEAR(m.data()[i], w0[i] * f + lr, 1e-6) << p.name;
  }
  EXPECT_FALSE(m.param("model.embed_tokens.weight").decay);
  EXPECT_FALSE(m.param("model.norm.weight").decay);
  EXPECT_TRUE(m.param("lm_head.weight").decay);
}

TEST(TrainOptim, GradientClipping) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(grad_norm(g), 5.0);
  clip_grad(g, 5.0, 1.0);
  EXPECT_NEAR(g[0], 0.6f, 1e-6);
  EXPECT_NEAR(g[1], 0.8f, 1e-6);
  std::vector<float> h = {0.3f, 0.4f};
  clip_grad(h, 0.5, 1.0);
  EXPECT_EQ(h[0], 0.3f);
}

TEST(TrainOptim, LossFreeBiasMovesAgainstLoad) {
  std::vector<float> b(4, 0.0f);
  update_expert_bias(b, {70, 10, 10, 10}, 0.01);  // expert 0 overloaded
  // raw deltas -0.01, +0.01 x3; mean 0.005 removed
  EXPECT_NEAR(b[0], -0.015, 1e-7);
  EXPECT_NEAR(b[1], 0.005, 1e-7);
  EXPECT_NEAR(b[0] + b[1] + b[2] + b[3], 0.0, 1e-7);
  std::vector<float> e(3, 0.5f);
  update_expert_bias(e, {5, 5, 5}, 0.01);  // balanced: unchanged
  EXPECT_EQ(e, std::vector<float>(3, 0.5f));
}

TEST(TrainOptim, LoadStatsMatchWorkedNumbers) {
  // moe-training.md section 1.9 worked numbers for N = 8.
  LoadStats a = load_stats({3, 2, 2, 2, 2, 2, 2, 1});  // f_0 = 3/16 = 1.5x fair share
  EXPECT_NEAR(a.max_vio, 0.5, 1e-12);
  LoadStats b = load_stats({1, 1, 1, 1, 0, 0, 0, 0});  // four dead experts
  EXPECT_NEAR(b.max_vio, 1.0, 1e-12);
  EXPECT_NEAR(b.cv, 1.0, 1e-12);
  EXPECT_NEAR(b.entropy, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(b.effective, 4.0, 1e-9);
  EXPECT_EQ(b.dead, 4);
  LoadStats c = load_stats({8, 0, 0, 0, 0, 0, 0, 0});  // collapsed
  EXPECT_NEAR(c.max_vio, 7.0, 1e-12);
  EXPECT_NEAR(c.cv, std::sqrt(7.0), 1e-12);
  EXPECT_EQ(c.dead, 7);
}
