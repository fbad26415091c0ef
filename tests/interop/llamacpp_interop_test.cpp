// Interop: llama.cpp (node-llama-cpp 3.21.1 from npm, bench/llamacpp) loads GGUF files written by
// herd convert and its next-token probabilities match herd's. Skipped, with the reason, when node
// or the npm package is not installed (run `npm ci` in bench/llamacpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "model/text_model.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

namespace {

std::string capture(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return "";
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p.get())) > 0) out.append(buf, n);
  return out;
}

TEST(LlamaCppInterop, NextTokenProbabilitiesMatch) {
  HERD_REQUIRE_SHARED();
  const fs::path peer = fs::path(HERD_SOURCE_DIR) / "bench" / "llamacpp";
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  if (!fs::exists(peer / "node_modules" / "node-llama-cpp" / "package.json"))
    GTEST_SKIP() << "node-llama-cpp is not installed (cd bench/llamacpp && npm ci)";

  const fs::path dir = test::temp_dir("interop");
  auto r = test::run_herd("init --preset tiny --seed 5 --dtype f32 -o " + (dir / "hf").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string vocab = test::testdata("gguf/vocab/ggml-vocab-llama4.gguf").string();
  const std::string ids = "200000,1,500,20000,199999,42,7,7,9,1234";
  const std::vector<int32_t> id_vec = {200000, 1, 500, 20000, 199999, 42, 7, 7, 9, 1234};
  // |log p_llama.cpp - log p_herd| bound per type (herd's default numerics are llama.cpp's).
  for (auto [type, tol] : {std::pair<const char*, double>{"f32", 1e-3}, {"f16", 1e-3}, {"q8_0", 1e-2}, {"q4_k_m", 1e-2}}) {
    SCOPED_TRACE(type);
    const fs::path gguf = dir / (std::string(type) + ".gguf");
    r = test::run_herd("convert -q -m " + (dir / "hf").string() + " -o " + gguf.string() + " --type " + type + " --vocab " + vocab);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const std::string out = capture("cd " + peer.string() + " && node peer.mjs probs " + gguf.string() + " " + ids + " 2>&1");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(out);
    } catch (...) {
      FAIL() << "node-llama-cpp output: " << out.substr(0, 2000);
    }
    auto probs = j["probs"].get<std::vector<double>>();
    auto model = TextModel::load(gguf.string());
    const int64_t V = model->config().vocab_size;
    ASSERT_EQ(static_cast<int64_t>(probs.size()), V);
    std::vector<float> logits(V);
    auto cache = model->new_cache();
    model->forward(id_vec.data(), static_cast<int64_t>(id_vec.size()), *cache, logits.data(), false);
    double mx = -1e30, sum = 0;
    for (float x : logits) mx = std::max(mx, static_cast<double>(x));
    for (float x : logits) sum += std::exp(x - mx);
    double worst = 0;
    for (int64_t i = 0; i < V; ++i) {
      const double lp = logits[i] - mx - std::log(sum);
      ASSERT_GT(probs[i], 0.0) << "token " << i;
      worst = std::max(worst, std::fabs(std::log(probs[i]) - lp));
    }
    EXPECT_LE(worst, tol);
    std::printf("%s: max |log p difference| over %lld tokens = %.3g\n", type, static_cast<long long>(V), worst);
  }
  fs::remove_all(dir);
}

}  // namespace
