// The herd command line, end to end on the fixture models.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include <cmath>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

TEST(Cli, LogitsMatchReference) {
  HERD_REQUIRE_SHARED();
  auto dir = test::testdata("models/maverick_tiny");
  auto expected = test::read_json(dir / "expected.json");
  const auto& seq = expected["sequences"][1];
  std::string ids;
  for (auto& i : seq["ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(i.get<int>());
  auto tmp = test::temp_dir("cli");
  auto out = tmp / "l.f32";
  auto r = test::run_herd("logits -m " + dir.string() + " --ids " + ids + " --all --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto got = test::read_f32(out);
  auto want = test::read_f32(dir / seq["logits_file"].get<std::string>());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-3) << i;

  // --mmap and --no-mmap (a model this small is read into memory by default): the same logits.
  for (const char* flag : {" --mmap", " --no-mmap"}) {
    r = test::run_herd("logits -m " + dir.string() + " --ids " + ids + " --all --out " + out.string() + flag);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(test::read_f32(out), got) << flag;
  }
  r = test::run_herd("logits -m " + dir.string() + " --ids " + ids + " --mmap --no-mmap");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("excludes"), std::string::npos) << r.out;
  // $HERD_INTERLEAVE (the decode layout of weights read into memory): a bad value is an error
  // naming it; the valid ones give the same logits here (no matrix of this model qualifies).
  for (const char* v : {"0", "head", "all", "bogus"}) {
    ::setenv("HERD_INTERLEAVE", v, 1);
    r = test::run_herd("logits -m " + dir.string() + " --ids " + ids + " --all --no-mmap --out " + out.string());
    ::unsetenv("HERD_INTERLEAVE");
    if (std::string(v) == "bogus") {
      EXPECT_NE(r.exit_code, 0);
      EXPECT_NE(r.out.find("HERD_INTERLEAVE must be 0, head or all, got 'bogus'"), std::string::npos) << r.out;
    } else {
      ASSERT_EQ(r.exit_code, 0) << v << ": " << r.out;
      EXPECT_EQ(test::read_f32(out), got) << v;
    }
  }

  // Last position only without --all.
  r = test::run_herd("logits -m " + dir.string() + " --ids " + ids + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto last = test::read_f32(out);
  ASSERT_EQ(last.size(), 512u);
  for (size_t i = 0; i < 512; ++i) ASSERT_NEAR(last[i], want[want.size() - 512 + i], 1e-3);
  fs::remove_all(tmp);
}

TEST(Cli, RunGreedyMatchesReference) {
  HERD_REQUIRE_SHARED();
  auto dir = test::testdata("models/scout_tiny");
  auto expected = test::read_json(dir / "expected.json");
  const auto& seq = expected["sequences"][2];
  std::string ids, want;
  for (auto& i : seq["ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(i.get<int>());
  for (auto& i : seq["greedy"]["new_tokens"]) want += (want.empty() ? "" : " ") + std::to_string(i.get<int>());
  auto r = test::run_herd("run -m " + dir.string() + " --ids " + ids + " -n 16 --ignore-eos", false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, want + "\n");
}

TEST(Cli, SeededSamplingIsReproducible) {
  HERD_REQUIRE_SHARED();
  auto dir = test::testdata("models/top2_bf16_tiny").string();
  std::string cmd = "run -m " + dir + " --ids 5,6,7 -n 24 --temp 1.0 --top-p 0.95 --seed 1234 --ignore-eos";
  auto a = test::run_herd(cmd, false), b = test::run_herd(cmd, false);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  auto c = test::run_herd("run -m " + dir + " --ids 5,6,7 -n 24 --temp 1.0 --top-p 0.95 --seed 99 --ignore-eos", false);
  EXPECT_NE(a.out, c.out);
}

TEST(Cli, InfoShowsSchedule) {
  HERD_REQUIRE_SHARED();
  auto r = test::run_herd("info -m " + test::testdata("models/scout_tiny").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Llama4ForConditionalGeneration"), std::string::npos);
  EXPECT_NE(r.out.find("    3  NoPE      global   no       yes   MoE 8x32 top-1 + shared"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    0  RoPE      chunked  yes      no    MoE"), std::string::npos) << r.out;
}

// herd bench ARGS --json on scout_tiny: its JSON line (a test failure when there is none).
nlohmann::json bench_json(const std::string& args) {
  auto r = test::run_herd("bench -m " + test::testdata("models/scout_tiny").string() + " " + args + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const size_t at = r.out.find("{\"model\"");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no JSON from herd bench: " << r.out;
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(r.out.substr(at, r.out.find('\n', at) - at));
}

// herd bench --json on a fixture: the decode roofline figures are consistent with each other and
// with the two probe figures (the fastest read loop is the roofline; the plain loop is one of
// the loops it takes the best of, so never faster).
TEST(Cli, BenchReportsBothProbeFigures) {
  HERD_REQUIRE_SHARED();
  nlohmann::json j;
  ASSERT_NO_FATAL_FAILURE(j = bench_json("-p 4 -n 4 -r 1 -t 2"));
  const double best = j["probe_read_gbs"], plain = j["probe_plain_read_gbs"], gbs = j["decode_gbs"];
  EXPECT_GT(plain, 0.0);
  EXPECT_GE(best, plain);
  EXPECT_GT(gbs, 0.0);
  EXPECT_NEAR(j["decode_pct_of_probe"].get<double>(), 100.0 * gbs / best, 1e-9);
  EXPECT_NEAR(j["decode_pct_of_plain_probe"].get<double>(), 100.0 * gbs / plain, 1e-9);
  const double bytes = j["weight_bytes_per_token"].get<double>() + j["kv_bytes_per_token"].get<double>();
  EXPECT_NEAR(gbs, bytes * j["decode_tps_median"].get<double>() / 1e9, 1e-9 * gbs);
  // Per-token times: the median token is no slower than the p90 one, nor than all 4 tokens
  // together, and its share of the roofline uses the same bytes and probe.
  const double p50 = j["decode_token_ms_p50"], p90 = j["decode_token_ms_p90"];
  EXPECT_GT(p50, 0.0);
  EXPECT_LE(p50, p90);
  EXPECT_LE(p50, 4 * 1e3 / j["decode_tps_median"].get<double>());
  EXPECT_NEAR(j["decode_pct_of_probe_at_median_token"].get<double>(), 100.0 * bytes / (p50 * 1e-3) / 1e9 / best, 1e-9);
  EXPECT_FALSE(j.contains("decode_steps"));  // only with --steps
  EXPECT_EQ(j["sampling"], "greedy");
}

// herd bench --temp/--top-k/...: the decode loop draws each token with the sampler (its settings
// reported), and bad settings are refused before the model loads.
TEST(Cli, BenchSamplesWithTheGivenSettings) {
  HERD_REQUIRE_SHARED();
  nlohmann::json j;
  ASSERT_NO_FATAL_FAILURE(j = bench_json("-p 0 -n 3 -r 1 -t 2 --temp 0.8 --top-k 40 --top-p 0.95 --min-p 0.05 -s 3 --steps"));
  EXPECT_EQ(j["sampling"], "temperature 0.8, top-k 40, top-p 0.95, min-p 0.05");
  std::map<std::string, int64_t> n;
  for (const auto& s : j["decode_steps"]) n[s["step"].get<std::string>()] = s["n"].get<int64_t>();
  EXPECT_EQ(n["sample"], 3);
  auto r = test::run_herd("bench -m " + test::testdata("models/scout_tiny").string() + " -n 2 --temp 1 --top-p 0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("top-p must be in (0, 1]"), std::string::npos) << r.out;
}

// herd bench --steps: one record per decode token of every repetition for the per-token steps,
// none from the prompt or context prefill.
TEST(Cli, BenchStepsCountEveryDecodeToken) {
  HERD_REQUIRE_SHARED();
  nlohmann::json j;
  ASSERT_NO_FATAL_FAILURE(j = bench_json("-p 4 -n 3 -d 5 -r 2 -t 2 --steps"));
  ASSERT_TRUE(j.contains("decode_steps")) << j.dump();
  std::map<std::string, int64_t> n;
  for (const auto& s : j["decode_steps"]) n[s["step"].get<std::string>()] = s["n"].get<int64_t>();
  EXPECT_EQ(n["sample"], 6);
  EXPECT_EQ(n["lm_head"], 6);
  const auto config = test::read_json(test::testdata("models/scout_tiny") / "config.json");
  EXPECT_EQ(n["qkv"], 6 * config["text_config"]["num_hidden_layers"].get<int64_t>());
}

TEST(Cli, BadArguments) {
  auto r = test::run_herd("logits --ids 1,2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--out"), std::string::npos) << r.out;
  r = test::run_herd("run -m /nonexistent/dir --ids 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("/nonexistent/dir: no config.json"), std::string::npos) << r.out;
  r = test::run_herd("nosuchcommand");
  EXPECT_NE(r.exit_code, 0);
}
