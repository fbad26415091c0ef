// `herd tokenizer train`, `herd data prepare` and `herd train` end to end on a tiny generated
// corpus: bit-identical resume, NaN detection, a full disk during a checkpoint, a corrupt shard.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "model/text_model.h"
#include "test_support.h"

using namespace herd;
namespace fs = std::filesystem;

namespace {

std::string corpus() {
  std::string s;
  const char* words[] = {"whale", "ship", "sea", "captain", "harpoon", "the", "a", "and", "of", "white", "deep", "sail"};
  uint32_t x = 12345;
  for (int d = 0; d < 60; ++d) {
    for (int w = 0; w < 80; ++w) {
      x = x * 1664525u + 1013904223u;
      s += words[(x >> 16) % 12];
      s += (w % 11 == 10) ? ".\n" : " ";
    }
    s += "\n\n";
  }
  return s;
}

// Runs the herd binary through sh with a shell prefix (e.g. a file-size limit).
test::CommandResult run_sh(const std::string& prefix, const std::string& args) {
  const std::string cmd = "sh -c \"" + prefix + " " + HERD_BINARY + " " + args + "\" </dev/null 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}

class TrainRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir("train_run");
    test::write_file(dir_ / "c.txt", corpus());
    auto r = test::run_herd("tokenizer train " + (dir_ / "c.txt").string() + " --vocab-size 300 -o " + (dir_ / "tok").string());
    ASSERT_EQ(r.exit_code, 0) << r.out;
    r = test::run_herd("data prepare " + (dir_ / "c.txt").string() + " --tokenizer " + (dir_ / "tok").string() + " -o " +
                       (dir_ / "data").string() + " --val-fraction 0.2 --shard-tokens 2048");
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  std::string train_args(const std::string& out) const {
    return "train --data " + (dir_ / "data").string() + " -o " + out +
           " --layers 2 --hidden 32 --heads 2 --kv-heads 1 --experts 4 --expert-ffn 32 --chunk 8 --nope-every 2"
           " --batch 2 --seq 16 --steps 8 --warmup 2 --save-every 4 --eval-every 4 --eval-batches 2 --export-dtype F32"
           " --balance bias --bias-rate 0.01 --aux-global --seq-aux 1e-3 -t 1 -q";
  }
  static fs::path dir_;
};
fs::path TrainRun::dir_;

}  // namespace

TEST_F(TrainRun, ResumeIsBitIdenticalToAnUninterruptedRun) {
  const std::string a = (dir_ / "a").string(), b = (dir_ / "b").string();
  auto r = test::run_herd(train_args(a));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = test::run_herd(train_args(b) + " --stop-after 5");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(fs::exists(fs::path(b) / "final"));
  EXPECT_EQ(test::read_text(fs::path(b) / "checkpoints" / "latest"), "step_0000005\n");
  r = test::run_herd(train_args(b) + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* f : {"final/model.safetensors", "checkpoints/step_0000008/model.safetensors",
                        "checkpoints/step_0000008/optimizer.safetensors"}) {
    const std::string x = test::read_text(fs::path(a) / f), y = test::read_text(fs::path(b) / f);
    EXPECT_FALSE(x.empty()) << f;
    EXPECT_TRUE(x == y) << f << " differs between the uninterrupted and the resumed run";
  }
  // The exported model loads in the inference engine and herd run generates from it.
  auto m = TextModel::load((fs::path(a) / "final").string());
  EXPECT_EQ(m->config().vocab_size, 300 + 2048);
  r = test::run_herd("run -m " + (fs::path(a) / "final").string() + " --ids 300,5,6 -n 4");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // Telemetry: one record per step with per-layer fractions, and an evaluation with MaxVio_global.
  auto log = test::read_jsonl(fs::path(a) / "log.jsonl");
  int steps = 0, evals = 0;
  for (auto& j : log) {
    if (j["type"] == "step") {
      ++steps;
      ASSERT_EQ(j["layers"].size(), 2u);
      double s = 0;
      for (auto& f : j["layers"][0]["frac"]) s += f.get<double>();
      EXPECT_NEAR(s, 1.0, 1e-9);
      EXPECT_EQ(j["layers"][0]["bias"].size(), 4u);
    }
    if (j["type"] == "eval") {
      ++evals;
      EXPECT_TRUE(j.contains("max_vio_global_mean"));
    }
  }
  EXPECT_EQ(steps, 8);
  EXPECT_EQ(evals, 2);
  // herd report renders the run: loss curves, MaxVio, heatmap, per-layer stacked fractions.
  r = test::run_herd("report " + a + " -o " + (fs::path(a) / "r.html").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string html = test::read_text(fs::path(a) / "r.html");
  size_t svgs = 0, pos = 0;
  while ((pos = html.find("<svg ", pos)) != std::string::npos) ++svgs, ++pos;
  EXPECT_EQ(svgs, 2u + 1u + 2u);  // loss, MaxVio, heatmap, one stacked plot per MoE layer
  for (const char* s : {"MaxVio per step", "expert load N*f", "expert token fractions, layer 1", "<polyline", "val loss"})
    EXPECT_NE(html.find(s), std::string::npos) << s;
}

TEST_F(TrainRun, NanLossStopsWithAMessage) {
  auto r = test::run_herd(train_args((dir_ / "nan").string()) + " --lr 1e30 --clip 0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("NaN/Inf"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step skipped"), std::string::npos) << r.out;
}

TEST_F(TrainRun, FullDiskDuringACheckpointKeepsThePreviousOne) {
  const fs::path c = dir_ / "disk";
  auto r = test::run_herd(train_args(c.string()) + " --stop-after 4");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_EQ(test::read_text(c / "checkpoints" / "latest"), "step_0000004\n");
  // Files over 200 KiB cannot be written: logs fit, the next checkpoint's weights do not.
  r = run_sh("trap '' XFSZ; ulimit -f 200;", train_args(c.string()) + " --resume");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("checkpoint at step 8 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step_0000004 is intact"), std::string::npos) << r.out;
  EXPECT_EQ(test::read_text(c / "checkpoints" / "latest"), "step_0000004\n");
  for (auto& e : fs::directory_iterator(c / "checkpoints"))
    EXPECT_EQ(e.path().filename().string().rfind(".tmp", 0), std::string::npos) << e.path();
  auto m = TextModel::load((c / "checkpoints" / "step_0000004").string());
  EXPECT_EQ(m->config().n_layers, 2);
}

TEST_F(TrainRun, CorruptShardIsReported) {
  const fs::path d = dir_ / "bad_data";
  fs::copy(dir_ / "data", d);
  std::string s = test::read_text(d / "train_000.bin");
  s[100] ^= 0x55;
  test::write_file(d / "train_000.bin", s);
  auto r = test::run_herd("train --data " + d.string() + " -o " + (dir_ / "bad").string() + " --steps 2 -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("checksum"), std::string::npos) << r.out;
}
