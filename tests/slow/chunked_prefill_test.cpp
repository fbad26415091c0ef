// Chunked prefill: prompts of any length go through in slices, so activation memory depends on the
// slice, not on the prompt length, and the result equals a one-shot prefill.
#include <gtest/gtest.h>

#include <cmath>

#include "model/text_model.h"
#include "runtime/generator.h"
#include "runtime/sampler.h"
#include "test_support.h"

using namespace herd;

TEST(ChunkedPrefill, ActivationMemoryIndependentOfPromptLength) {
  HERD_REQUIRE_SHARED();
  auto dir = test::testdata("models/long_ctx_tiny").string();
  auto ids = test::read_json(test::testdata("models/long_ctx_tiny/inputs.json"))["sequences"][0].get<std::vector<int32_t>>();
  GenerateOptions opts;
  opts.prefill_slice = 256;
  opts.max_new_tokens = 2;
  int64_t scratch[2];
  std::vector<int32_t> out[2];
  const size_t lengths[2] = {1000, 9000};  // the longer one crosses the 8192 chunk boundary
  for (int i = 0; i < 2; ++i) {
    auto model = TextModel::load(dir);
    auto cache = model->new_cache();
    Generator gen(*model, *cache, opts);
    out[i] = gen.generate(std::vector<int32_t>(ids.begin(), ids.begin() + lengths[i]), nullptr);
    scratch[i] = model->scratch_bytes();
  }
  EXPECT_EQ(scratch[0], scratch[1]);
  EXPECT_GT(scratch[0], 0);

  // Sliced prefill equals one-shot prefill for the 9000-token prompt.
  auto model = TextModel::load(dir);
  auto cache = model->new_cache();
  std::vector<float> logits(model->config().vocab_size);
  model->forward(ids.data(), 9000, *cache, logits.data(), false);
  auto cache2 = model->new_cache();
  Generator gen(*model, *cache2, opts);
  gen.feed(std::vector<int32_t>(ids.begin(), ids.begin() + 9000));
  float d = 0;
  for (size_t i = 0; i < logits.size(); ++i) d = std::max(d, std::fabs(logits[i] - gen.next_logits()[i]));
  EXPECT_LE(d, 1e-4f);
  EXPECT_EQ(argmax(logits.data(), model->config().vocab_size), out[1][0]);
}
