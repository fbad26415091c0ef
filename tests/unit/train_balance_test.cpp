// Deterministic induced-imbalance test (moe-training.md section 2.2): the router starts pushed
// onto expert 0 in every MoE layer. Without balancing the routing stays collapsed; the
// auxiliary load-balance + z-loss and the loss-free bias both recover it.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "runtime/sampler.h"
#include "test_support.h"
#include "train/data.h"
#include "train/trainer.h"

using namespace herd;
using namespace herd::train;
namespace fs = std::filesystem;

namespace {

// A token stream with learnable structure: a random sparse Markov chain over 48 tokens.
fs::path synthetic_data(const std::string& tag) {
  auto dir = test::temp_dir(tag);
  Rng rng(5);
  const int V = 48;
  std::vector<std::array<int, 3>> next(V);
  for (auto& n : next)
    for (auto& x : n) x = static_cast<int>(rng.next() % V);
  std::vector<uint16_t> toks;
  int cur = 0;
  for (int i = 0; i < 40000; ++i) {
    toks.push_back(static_cast<uint16_t>(cur));
    cur = next[cur][rng.next() % 3];
  }
  std::vector<uint16_t> val(toks.end() - 4000, toks.end());
  toks.resize(toks.size() - 4000);
  write_shard((dir / "train_000.bin").string(), toks, V);
  write_shard((dir / "val_000.bin").string(), val, V);
  nlohmann::json j = {{"vocab_size", V},
                      {"shards", {{{"file", "train_000.bin"}, {"split", "train"}, {"tokens", toks.size()}},
                                  {{"file", "val_000.bin"}, {"split", "val"}, {"tokens", val.size()}}}}};
  test::write_file(dir / "data.json", j.dump());
  return dir;
}

TrainSummary run_arm(const fs::path& data, const std::string& arm) {
  TrainOptions o;
  o.data_dir = data.string();
  o.out_dir = (data / ("run_" + arm)).string();
  o.model = train_model_config(48, 64, 2, 4, 2, 4, 1, 64, 64, 0, 2, 1, true, 256);
  o.batch = 8;
  o.seq = 64;
  o.steps = 200;
  o.lr = 3e-3;
  o.warmup = 10;
  o.seed = 3;
  o.collapse_init = 8.0;
  o.eval_every = 0;
  o.eval_batches = 8;
  o.save_every = 0;
  o.threads = 1;
  o.quiet = true;
  o.write_final = false;
  if (arm == "aux") {
    o.routing.aux_alpha = 1e-2;
    o.routing.z_coef = 1e-3;
  } else if (arm == "bias") {
    o.routing.bias_gamma = 5e-3;
  }
  return herd::train::train(o);
}

}  // namespace

TEST(TrainBalance, InducedCollapseRecoversOnlyWithBalancing) {
  auto data = synthetic_data("train_balance");
  TrainSummary none = run_arm(data, "none"), aux = run_arm(data, "aux"), bias = run_arm(data, "bias");
  std::printf("MaxVio_batch (last 10%% of steps, mean over layers; collapsed = 3): none %.3f, aux %.3f, bias %.3f\n",
              none.max_vio_batch_last, aux.max_vio_batch_last, bias.max_vio_batch_last);
  std::printf("MaxVio_global (validation): none %.3f, aux %.3f, bias %.3f\n", none.max_vio_global, aux.max_vio_global,
              bias.max_vio_global);
  // Stated thresholds (N = 4 experts; MaxVio 3 = everything on one expert, 0 = perfect balance):
  // no balancing stays collapsed (MaxVio_batch > 1.75: > 69% of tokens on one expert); both
  // balancing methods recover to MaxVio_batch < 0.75 and MaxVio_global (validation) < 0.5.
  EXPECT_GT(none.max_vio_batch_last, 1.75);
  EXPECT_GT(none.max_vio_global, 1.5);
  EXPECT_LT(aux.max_vio_batch_last, 0.75);
  EXPECT_LT(bias.max_vio_batch_last, 0.75);
  EXPECT_LT(aux.max_vio_global, 0.5);
  EXPECT_LT(bias.max_vio_global, 0.5);
  fs::remove_all(data);
}
