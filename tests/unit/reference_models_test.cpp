// Every model in ../shared/testdata/models (except long_ctx_tiny, see tests/slow) against its
// expected logits, hidden states, router choices and greedy continuations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "model/text_model.h"
#include "runtime/generator.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;
using nlohmann::json;

namespace {

constexpr float kTol = 1e-3f;  // README: f32 implementations must be within 1e-3 (max abs)

float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  if (!test::have_shared()) return names;
  for (auto& e : fs::directory_iterator(test::testdata("models")))
    if (e.is_directory() && fs::exists(e.path() / "expected.json") && e.path().filename() != "long_ctx_tiny")
      names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class ReferenceModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = test::testdata("models/" + GetParam());
    expected_ = test::read_json(dir_ / "expected.json");
    model_ = TextModel::load(dir_.string());
  }
  std::vector<int32_t> ids(const json& seq) { return seq["ids"].get<std::vector<int32_t>>(); }

  fs::path dir_;
  json expected_;
  std::unique_ptr<TextModel> model_;
};

TEST_P(ReferenceModel, ResolvedConfigMatches) {
  const ModelConfig& c = model_->config();
  const json& rc = expected_["resolved_config"];
  ASSERT_EQ(c.n_layers, rc["num_hidden_layers"].get<int>());
  for (int l = 0; l < c.n_layers; ++l) {
    EXPECT_EQ(c.uses_rope(l), rc["no_rope_layers"][l].get<int>() != 0) << "layer " << l;
    bool moe = std::find(rc["moe_layers"].begin(), rc["moe_layers"].end(), l) != rc["moe_layers"].end();
    EXPECT_EQ(c.is_moe(l), moe) << "layer " << l;
  }
  auto inv = c.rope_inv_freq();
  auto want = expected_["rope_inv_freq"].get<std::vector<double>>();
  ASSERT_EQ(inv.size(), want.size());
  for (size_t i = 0; i < inv.size(); ++i) EXPECT_NEAR(inv[i], want[i], 1e-12 * std::max(1.0, want[i])) << "pair " << i;
}

TEST_P(ReferenceModel, AllPositionLogits) {
  const int64_t V = model_->config().vocab_size;
  for (const json& seq : expected_["sequences"]) {
    auto in = ids(seq);
    auto want = test::read_f32(dir_ / seq["logits_file"].get<std::string>());
    ASSERT_EQ(want.size(), in.size() * V);
    std::vector<float> got(in.size() * V);
    auto cache = model_->new_cache();
    model_->forward(in.data(), static_cast<int64_t>(in.size()), *cache, got.data(), true);
    EXPECT_LE(max_abs_diff(got.data(), want.data(), got.size()), kTol) << "sequence " << seq["index"];
    auto argmax = seq["argmax"].get<std::vector<int>>();
    auto margin = seq["argmax_margin"].get<std::vector<double>>();
    for (size_t t = 0; t < in.size(); ++t)
      if (margin[t] > 4 * kTol) {
        EXPECT_EQ(herd::argmax(got.data() + t * V, V), argmax[t]) << "sequence " << seq["index"] << " position " << t;
      }
  }
}

TEST_P(ReferenceModel, HiddenStatesAndRouter) {
  const json& seq = expected_["sequences"][0];
  auto in = ids(seq);
  const int64_t T = static_cast<int64_t>(in.size()), D = model_->config().hidden_size;
  const int L = model_->config().n_layers;
  ForwardTrace trace;
  trace.keep_hidden = true;
  std::vector<float> logits(T * model_->config().vocab_size);
  auto cache = model_->new_cache();
  model_->forward(in.data(), T, *cache, logits.data(), true, &trace);

  auto hidden = test::read_f32(dir_ / seq["hidden_file"].get<std::string>());
  ASSERT_EQ(hidden.size(), static_cast<size_t>((L + 2) * T * D));
  ASSERT_EQ(trace.hidden.size(), static_cast<size_t>(L + 2));
  for (int s = 0; s < L + 2; ++s)
    EXPECT_LE(max_abs_diff(trace.hidden[s].data(), hidden.data() + s * T * D, T * D), kTol) << "stage " << s;
  auto resid = test::read_f32(dir_ / seq["attn_resid_file"].get<std::string>());
  ASSERT_EQ(trace.attn_resid.size(), static_cast<size_t>(L));
  for (int l = 0; l < L; ++l)
    EXPECT_LE(max_abs_diff(trace.attn_resid[l].data(), resid.data() + l * T * D, T * D), kTol) << "layer " << l;

  const int k = model_->config().top_k;
  for (auto& [layer, r] : seq["router"].items()) {
    int l = std::stoi(layer);
    ASSERT_TRUE(trace.router.count(l)) << "layer " << l;
    const RouterChoice& got = trace.router[l];
    for (int64_t t = 0; t < T; ++t)
      for (int j = 0; j < k; ++j) {
        EXPECT_EQ(got.experts[t * k + j], r["topk"][t][j].get<int>()) << "layer " << l << " token " << t;
        EXPECT_NEAR(got.scores[t * k + j], r["scores"][t][j].get<double>(), 1e-4);
      }
  }
}

TEST_P(ReferenceModel, GreedyDecodeThroughKVCache) {
  const int64_t V = model_->config().vocab_size;
  for (const json& seq : expected_["sequences"]) {
    auto in = ids(seq);
    const json& g = seq["greedy"];
    auto want_tokens = g["new_tokens"].get<std::vector<int32_t>>();
    auto step_logits = test::read_f32(dir_ / g["step_logits_file"].get<std::string>());
    ASSERT_EQ(step_logits.size(), want_tokens.size() * V);

    auto cache = model_->new_cache();
    std::vector<float> logits(V);
    model_->forward(in.data(), static_cast<int64_t>(in.size()), *cache, logits.data(), false);
    for (size_t j = 0; j < want_tokens.size(); ++j) {
      EXPECT_LE(max_abs_diff(logits.data(), step_logits.data() + j * V, V), kTol) << "step " << j;
      int32_t next = herd::argmax(logits.data(), V);
      ASSERT_EQ(next, want_tokens[j]) << "sequence " << seq["index"] << " step " << j;
      model_->forward(&next, 1, *cache, logits.data(), false);
    }

    // The same through the Generator (greedy, EOS ignored as in the reference).
    auto cache2 = model_->new_cache();
    GenerateOptions opts;
    opts.max_new_tokens = static_cast<int64_t>(want_tokens.size());
    Generator gen(*model_, *cache2, opts);
    EXPECT_EQ(gen.generate(in, nullptr), want_tokens);
  }
}

TEST_P(ReferenceModel, IncrementalDecodeEqualsFullRecompute) {
  const json& seq = expected_["sequences"][0];
  auto in = ids(seq);
  const int64_t T = static_cast<int64_t>(in.size()), V = model_->config().vocab_size;
  std::vector<float> full(T * V);
  auto cache = model_->new_cache();
  model_->forward(in.data(), T, *cache, full.data(), true);

  // One token at a time, and in uneven slices that straddle chunk boundaries.
  for (int64_t slice : {int64_t{1}, int64_t{5}, int64_t{13}}) {
    auto c2 = model_->new_cache();
    std::vector<float> part(slice * V);
    for (int64_t t = 0; t < T; t += slice) {
      int64_t n = std::min(slice, T - t);
      model_->forward(in.data() + t, n, *c2, part.data(), true);
      EXPECT_LE(max_abs_diff(part.data(), full.data() + t * V, n * V), 1e-4f) << "slice " << slice << " at " << t;
    }
  }
}

TEST_P(ReferenceModel, RewindAndReplayMatches) {
  const json& seq = expected_["sequences"][0];
  auto in = ids(seq);
  const int64_t T = static_cast<int64_t>(in.size()), V = model_->config().vocab_size;
  auto cache = model_->new_cache();
  std::vector<float> a(V), b(V);
  model_->forward(in.data(), T, *cache, a.data(), false);
  cache->truncate(T / 2);
  ASSERT_EQ(cache->n_positions(), T / 2);
  model_->forward(in.data() + T / 2, T - T / 2, *cache, b.data(), false);
  EXPECT_LE(max_abs_diff(a.data(), b.data(), V), 1e-5f);
}

TEST_P(ReferenceModel, BatchedSequencesEqualSeparateRuns) {
  // Three sequences at different depths in one forward_batch call (continuous batching) must give
  // what each gives alone.
  const int64_t V = model_->config().vocab_size;
  std::vector<std::vector<int32_t>> seqs;
  for (const json& seq : expected_["sequences"]) seqs.push_back(ids(seq));
  std::vector<std::unique_ptr<KVCache>> batch_caches, solo_caches;
  for (auto& sq : seqs) {
    batch_caches.push_back(model_->new_cache());
    solo_caches.push_back(model_->new_cache());
    // Different depths: prefill all but the last token of each sequence separately first.
    if (sq.size() > 1) {
      std::vector<float> tmp(V);
      model_->forward(sq.data(), static_cast<int64_t>(sq.size()) - 1, *batch_caches.back(), tmp.data(), false);
      model_->forward(sq.data(), static_cast<int64_t>(sq.size()) - 1, *solo_caches.back(), tmp.data(), false);
    }
  }
  std::vector<std::vector<float>> got(seqs.size(), std::vector<float>(V));
  std::vector<TextModel::BatchItem> items;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int64_t start = static_cast<int64_t>(seqs[i].size()) - 1;
    items.push_back({seqs[i].data() + start, 1, batch_caches[i].get(), got[i].data(), false});
  }
  // Plus one fresh sequence with a multi-token prompt in the same batch.
  auto fresh_cache = model_->new_cache();
  std::vector<float> fresh_all(seqs[0].size() * V);
  items.push_back({seqs[0].data(), static_cast<int64_t>(seqs[0].size()), fresh_cache.get(), fresh_all.data(), true});
  model_->forward_batch(items);
  for (size_t i = 0; i < seqs.size(); ++i) {
    std::vector<float> want(V);
    const int64_t start = static_cast<int64_t>(seqs[i].size()) - 1;
    model_->forward(seqs[i].data() + start, 1, *solo_caches[i], want.data(), false);
    EXPECT_LE(max_abs_diff(got[i].data(), want.data(), V), 1e-5f) << "sequence " << i;
  }
  auto want0 = test::read_f32(dir_ / expected_["sequences"][0]["logits_file"].get<std::string>());
  EXPECT_LE(max_abs_diff(fresh_all.data(), want0.data(), fresh_all.size()), kTol);
  // Two items sharing a cache is refused before anything is written.
  std::vector<float> a(V), b(V);
  int32_t tok = 1;
  auto shared = model_->new_cache();
  EXPECT_THROW(model_->forward_batch({{&tok, 1, shared.get(), a.data(), false}, {&tok, 1, shared.get(), b.data(), false}}),
               herd::Error);
  EXPECT_EQ(shared->n_positions(), 0);
}

INSTANTIATE_TEST_SUITE_P(Models, ReferenceModel, ::testing::ValuesIn(model_names()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReferenceModel);

TEST(ReferenceModels, FixturesPresent) {
  HERD_REQUIRE_SHARED();
  EXPECT_GE(model_names().size(), 4u);
}

}  // namespace
