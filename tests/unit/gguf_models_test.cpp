// The GGUF fixtures in ../shared/testdata/gguf: resolved config, all-position logits and greedy
// decoding, checked two ways (tolerances from that folder's README):
//  - exact mode (dequantized weights, f32 activations) against the float reference at 1e-3;
//  - the default fast mode (8-bit activations for block types, as llama.cpp) against llama.cpp's
//    own logits with the README's per-sequence median / mean / argmax-agreement bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/matmul.h"
#include "model/text_model.h"
#include "runtime/generator.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;
using nlohmann::json;

namespace {

struct Case {
  std::string model, type;
};

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const char* m : {"scout_gguf_tiny", "maverick_gguf_tiny"})
    for (const char* t : {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K_M"}) v.push_back({m, t});
  return v;
}

// README "Recommended tolerances when you compare with the llama.cpp logits".
struct CppTol {
  double median_row_max, mean, argmax_agree;
};
CppTol cpp_tol(const std::string& t) {
  if (t == "F32") return {1e-4, 3e-5, 1.0};
  if (t == "F16") return {0.011, 0.0032, 0.95};
  if (t == "BF16") return {0.092, 0.065, 0.85};
  if (t == "Q8_0") return {0.36, 0.13, 0.85};
  if (t == "Q4_0") return {0.61, 0.35, 0.78};
  return {0.41, 0.23, 0.82};  // Q4_K_M
}

struct Diff {
  double max_abs = 0, mean = 0, median_row_max = 0, argmax_agree = 0;
};
Diff compare(const std::vector<float>& got, const std::vector<float>& want, int64_t V) {
  Diff d;
  const int64_t T = static_cast<int64_t>(want.size()) / V;
  std::vector<double> row_max(T);
  int agree = 0;
  double sum = 0;
  for (int64_t t = 0; t < T; ++t) {
    double m = 0;
    for (int64_t i = 0; i < V; ++i) {
      double e = std::fabs(static_cast<double>(got[t * V + i]) - want[t * V + i]);
      m = std::max(m, e);
      sum += e;
    }
    row_max[t] = m;
    d.max_abs = std::max(d.max_abs, m);
    agree += argmax(got.data() + t * V, V) == argmax(want.data() + t * V, V);
  }
  d.mean = sum / static_cast<double>(T * V);
  std::sort(row_max.begin(), row_max.end());
  d.median_row_max = T % 2 ? row_max[T / 2] : 0.5 * (row_max[T / 2 - 1] + row_max[T / 2]);
  d.argmax_agree = static_cast<double>(agree) / static_cast<double>(T);
  return d;
}

class GgufModel : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    HERD_REQUIRE_SHARED();
    dir_ = test::testdata("gguf/" + GetParam().model);
    expected_ = test::read_json(dir_ / "expected.json");
    file_ = expected_["files"][GetParam().type];
    model_ = TextModel::load((dir_ / file_["file"].get<std::string>()).string());
  }
  void TearDown() override { set_matmul_exact(false); }

  std::vector<float> all_logits(const std::vector<int32_t>& ids) {
    const int64_t V = model_->config().vocab_size;
    std::vector<float> got(ids.size() * V);
    auto cache = model_->new_cache();
    model_->forward(ids.data(), static_cast<int64_t>(ids.size()), *cache, got.data(), true);
    return got;
  }
  // Greedy decode of n tokens through the KV cache; step logits [n, V].
  std::vector<int32_t> greedy(const std::vector<int32_t>& ids, size_t n, std::vector<float>& steps) {
    const int64_t V = model_->config().vocab_size;
    auto cache = model_->new_cache();
    std::vector<float> logits(V);
    model_->forward(ids.data(), static_cast<int64_t>(ids.size()), *cache, logits.data(), false);
    std::vector<int32_t> out;
    steps.clear();
    for (size_t j = 0; j < n; ++j) {
      steps.insert(steps.end(), logits.begin(), logits.end());
      int32_t next = argmax(logits.data(), V);
      out.push_back(next);
      model_->forward(&next, 1, *cache, logits.data(), false);
    }
    return out;
  }

  fs::path dir_;
  json expected_, file_;
  std::unique_ptr<TextModel> model_;
};

TEST_P(GgufModel, ResolvedConfig) {
  const ModelConfig& c = model_->config();
  const json& rc = expected_["resolved_config"];
  EXPECT_EQ(c.hidden_size, rc["hidden_size"].get<int64_t>());
  EXPECT_EQ(c.n_heads, rc["num_attention_heads"].get<int>());
  EXPECT_EQ(c.n_kv_heads, rc["num_key_value_heads"].get<int>());
  EXPECT_EQ(c.head_dim, rc["head_dim"].get<int>());
  EXPECT_EQ(c.vocab_size, rc["vocab_size"].get<int64_t>());
  EXPECT_EQ(c.expert_ffn, rc["intermediate_size"].get<int64_t>());
  EXPECT_EQ(c.dense_ffn, rc["intermediate_size_mlp"].get<int64_t>());
  EXPECT_EQ(c.n_experts, rc["num_local_experts"].get<int>());
  EXPECT_EQ(c.top_k, rc["num_experts_per_tok"].get<int>());
  EXPECT_EQ(c.use_qk_norm, rc["use_qk_norm"].get<bool>());
  EXPECT_EQ(c.chunk_size, rc["attention_chunk_size"].get<int64_t>());
  EXPECT_EQ(c.attn_temperature_tuning, rc["attn_temperature_tuning"].get<bool>());
  EXPECT_EQ(c.floor_scale, rc["floor_scale"].get<double>());
  EXPECT_EQ(c.attn_scale, rc["attn_scale"].get<double>());
  EXPECT_EQ(c.rope_theta, rc["rope_theta"].get<double>());
  EXPECT_EQ(static_cast<float>(c.rms_norm_eps), rc["rms_norm_eps"].get<float>());
  ASSERT_EQ(c.n_layers, rc["num_hidden_layers"].get<int>());
  for (int l = 0; l < c.n_layers; ++l) {
    EXPECT_EQ(c.uses_rope(l), rc["no_rope_layers"][l].get<int>() != 0) << "layer " << l;
    const json& ml = rc["moe_layers"];
    EXPECT_EQ(c.is_moe(l), std::find(ml.begin(), ml.end(), l) != ml.end()) << "layer " << l;
  }
  auto inv = c.rope_inv_freq();
  auto want = expected_["rope_inv_freq"].get<std::vector<double>>();
  ASSERT_EQ(inv.size(), want.size());
  for (size_t i = 0; i < inv.size(); ++i) EXPECT_NEAR(inv[i], want[i], 1e-6 * want[i]) << "pair " << i;
  EXPECT_EQ(!c.rope_freq_divisors.empty(), expected_["has_rope_freqs"].get<bool>());
}

TEST_P(GgufModel, ExactModeMatchesReference) {
  set_matmul_exact(true);
  const int64_t V = model_->config().vocab_size;
  for (const json& seq : file_["sequences"]) {
    const json& ref = seq["reference"];
    auto ids = seq["ids"].get<std::vector<int32_t>>();
    auto want = test::read_f32(dir_ / ref["logits_file"].get<std::string>());
    auto got = all_logits(ids);
    ASSERT_EQ(got.size(), want.size());
    Diff d = compare(got, want, V);
    EXPECT_LE(d.max_abs, 1e-3) << "sequence " << seq["index"];
    EXPECT_EQ(d.argmax_agree, 1.0) << "sequence " << seq["index"];

    auto want_tokens = ref["greedy"]["new_tokens"].get<std::vector<int32_t>>();
    auto want_steps = test::read_f32(dir_ / ref["greedy"]["step_logits_file"].get<std::string>());
    std::vector<float> steps;
    EXPECT_EQ(greedy(ids, want_tokens.size(), steps), want_tokens) << "sequence " << seq["index"];
    EXPECT_LE(compare(steps, want_steps, V).max_abs, 1e-3) << "sequence " << seq["index"];
  }
}

TEST_P(GgufModel, FastModeMatchesLlamaCpp) {
  set_matmul_exact(false);
  const int64_t V = model_->config().vocab_size;
  const CppTol tol = cpp_tol(GetParam().type);
  for (const json& seq : file_["sequences"]) {
    const json& cpp = seq["llamacpp"];
    auto ids = seq["ids"].get<std::vector<int32_t>>();
    auto want = test::read_f32(dir_ / cpp["logits_file"].get<std::string>());
    Diff d = compare(all_logits(ids), want, V);
    EXPECT_LE(d.median_row_max, tol.median_row_max) << "sequence " << seq["index"];
    EXPECT_LE(d.mean, tol.mean) << "sequence " << seq["index"];
    EXPECT_GE(d.argmax_agree, tol.argmax_agree) << "sequence " << seq["index"];

    // llama.cpp's greedy tokens equal the reference's for every fixture (README).
    auto want_tokens = cpp["greedy"]["new_tokens"].get<std::vector<int32_t>>();
    auto want_steps = test::read_f32(dir_ / cpp["greedy"]["step_logits_file"].get<std::string>());
    std::vector<float> steps;
    EXPECT_EQ(greedy(ids, want_tokens.size(), steps), want_tokens) << "sequence " << seq["index"];
    Diff ds = compare(steps, want_steps, V);
    EXPECT_LE(ds.median_row_max, tol.median_row_max) << "sequence " << seq["index"];
    EXPECT_LE(ds.mean, tol.mean) << "sequence " << seq["index"];
  }
}

// --no-mmap (FileAccess::Ram: the file read into anonymous memory) gives bit-identical logits.
TEST_P(GgufModel, RamLoadMatchesMappedLoad) {
  const std::string path = (dir_ / file_["file"].get<std::string>()).string();
  auto ram = TextModel::load(path, FileAccess::Ram);
  auto ids = file_["sequences"][0]["ids"].get<std::vector<int32_t>>();
  const int64_t V = model_->config().vocab_size;
  std::vector<float> a(ids.size() * V), b(ids.size() * V);
  auto ca = model_->new_cache(), cb = ram->new_cache();
  model_->forward(ids.data(), static_cast<int64_t>(ids.size()), *ca, a.data(), true);
  ram->forward(ids.data(), static_cast<int64_t>(ids.size()), *cb, b.data(), true);
  EXPECT_EQ(a, b);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufModel, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.model + "_" + info.param.type; });

}  // namespace
