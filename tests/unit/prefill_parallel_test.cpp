// Prefill helpers that split work over the thread pool give the same bytes as the serial code.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/qdot.h"

namespace herd {
namespace {

TEST(PrefillParallel, QuantizeAndGroupMatchesSerial) {
  ThreadPool::set_global_threads(2);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (DType w : {DType::Q8_0, DType::Q4_K, DType::Q6_K})
    for (int64_t T : {4, 16, 37, 256}) {
      const int64_t n = 512;
      std::vector<float> x(T * n);
      for (float& v : x) v = nd(rng);
      QActs a1, a2;
      QGroups g1, g2;
      quantize_acts(x.data(), T, n, act_kind(w), a1);
      ASSERT_TRUE(make_groups(w, a1, g1));
      ASSERT_TRUE(quantize_and_group(x.data(), T, n, w, a2, g2));
      EXPECT_EQ(a1.q, a2.q);
      EXPECT_EQ(a1.d, a2.d);
      EXPECT_EQ(a1.sums, a2.sums);
      EXPECT_EQ(g1.G, g2.G);
      EXPECT_EQ(g1.ng, g2.ng);
      EXPECT_EQ(g1.T, g2.T);
      EXPECT_EQ(g1.off, g2.off);
      EXPECT_EQ(g1.dx, g2.dx);
      EXPECT_EQ(g1.fs, g2.fs);
      EXPECT_EQ(g1.xw, g2.xw);
    }
  QActs a;
  QGroups g;
  EXPECT_FALSE(quantize_and_group(nullptr, 4, 64, DType::Q4_0, a, g));
  ThreadPool::set_global_threads(0);
}

}  // namespace
}  // namespace herd
