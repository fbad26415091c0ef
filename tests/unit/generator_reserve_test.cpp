// The generator asks its KV cache for room before a prompt and before each reply (so that a
// chunk ring never grows mid-reply), and what it generates does not depend on that.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "kv/paged_kv_cache.h"
#include "model/text_model.h"
#include "runtime/generator.h"
#include "test_support.h"

using namespace herd;

namespace {

// A PagedKVCache that records every reserve() call: (positions asked for, positions held then).
class RecordingCache : public PagedKVCache {
 public:
  using PagedKVCache::PagedKVCache;
  void reserve(int64_t n) override {
    calls.push_back({n, n_positions()});
    if (forward) PagedKVCache::reserve(n);
  }
  std::vector<std::pair<int64_t, int64_t>> calls;
  bool forward = true;
};

std::vector<int32_t> run(TextModel& m, RecordingCache& cache, const std::vector<int32_t>& prompt, int64_t n1, int64_t n2) {
  GenerateOptions o;
  o.max_new_tokens = n1;
  o.prefill_slice = 3;
  Generator g(m, cache, o);
  auto out = g.generate(prompt, [](int32_t) { return true; });
  auto more = g.generate_more(n2, [](int32_t) { return true; });
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

}  // namespace

TEST(GeneratorReserve, AsksBeforeThePromptAndBeforeEachReply) {
  HERD_REQUIRE_SHARED();
  auto model = TextModel::load(test::testdata("models/scout_tiny").string());
  const std::vector<int32_t> prompt = {1, 5, 9, 200, 7};
  RecordingCache cache(model->config(), KVOptions{});
  const auto out = run(*model, cache, prompt, 6, 4);
  ASSERT_EQ(out.size(), 10u);
  // generate(): prompt + 6 before anything is fed; generate_more() inside it: 6 more after the
  // prompt; the second generate_more(): 4 more after the 5 + 6 positions held by then (every
  // sampled token is fed).
  const int64_t max_pos = model->config().max_position;
  auto capped = [&](int64_t n) { return max_pos > 0 ? std::min(n, max_pos) : n; };
  ASSERT_EQ(cache.calls.size(), 3u);
  EXPECT_EQ(cache.calls[0], std::make_pair(capped(11), int64_t{0}));
  EXPECT_EQ(cache.calls[1], std::make_pair(capped(11), int64_t{5}));
  EXPECT_EQ(cache.calls[2], std::make_pair(capped(15), int64_t{11}));

  // Same tokens when the cache ignores the request (rings grow as they go).
  RecordingCache plain(model->config(), KVOptions{});
  plain.forward = false;
  EXPECT_EQ(run(*model, plain, prompt, 6, 4), out);
}

TEST(GeneratorReserve, HugeReplyLimitsAreCappedNotOverflowed) {
  HERD_REQUIRE_SHARED();
  auto model = TextModel::load(test::testdata("models/scout_tiny").string());
  RecordingCache cache(model->config(), KVOptions{});
  GenerateOptions o;
  o.max_new_tokens = std::numeric_limits<int64_t>::max();
  Generator g(*model, cache, o);
  int n = 0;
  g.generate({1, 2, 3}, [&](int32_t) { return ++n < 3; });
  ASSERT_FALSE(cache.calls.empty());
  const int64_t max_pos = model->config().max_position;
  EXPECT_EQ(cache.calls[0].first, max_pos > 0 ? max_pos : std::numeric_limits<int64_t>::max());
}
