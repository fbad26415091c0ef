// Kernels against plain scalar references, on every dtype and layout.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <mutex>
#include <map>
#include <cmath>
#include <random>
#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/vec.h"

using namespace herd;

namespace {

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (down).
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);
  // 1 + 3*2^-8 is halfway with an odd lower neighbour: rounds up.
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
}

TEST(DType, F16ExhaustiveRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // halfway, ties to even
}

TEST(Vec, SimdMatchesScalar) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (size_t n : {1u, 7u, 8u, 31u, 64u, 100u, 1000u}) {
    std::vector<float> a(n), b(n), y1(n), y2(n);
    for (size_t i = 0; i < n; ++i) a[i] = nd(rng), b[i] = nd(rng), y1[i] = y2[i] = nd(rng);
    double ref = 0;
    for (size_t i = 0; i < n; ++i) ref += static_cast<double>(a[i]) * b[i];
    EXPECT_NEAR(dot_f32(a.data(), b.data(), n), ref, 1e-4 * std::sqrt(n));
    EXPECT_NEAR(scalar::dot_f32(a.data(), b.data(), n), ref, 1e-4 * std::sqrt(n));
    if (use_avx2()) {
      EXPECT_NEAR(avx2::dot_f32(a.data(), b.data(), n), ref, 1e-4 * std::sqrt(n));
    }
    axpy_f32(0.5f, a.data(), y1.data(), n);
    scalar::axpy_f32(0.5f, a.data(), y2.data(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-6);
  }
}

// sum_f32 (the bandwidth probe's loop) and max_f32 (argmax) at every level against double / plain
// loops, over lengths that end in the vector body and in the scalar tail.
TEST(Vec, SumAndMaxMatchScalar) {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd;
  for (size_t n : {0u, 1u, 7u, 8u, 63u, 64u, 127u, 128u, 129u, 1000u, 4099u}) {
    std::vector<float> a(n);
    double ref = 0;
    float mx = -INFINITY;
    for (size_t i = 0; i < n; ++i) a[i] = nd(rng), ref += a[i], mx = std::max(mx, a[i]);
    const double tol = 1e-5 * (n + 1);
    EXPECT_NEAR(sum_f32(a.data(), n), ref, tol) << n;
    for (ReadLoop loop : {ReadLoop::Plain, ReadLoop::Prefetch, ReadLoop::Paced}) {
      const int l = static_cast<int>(loop);
      EXPECT_NEAR(sum_f32(a.data(), n, loop), ref, tol) << n << " loop " << l;
      EXPECT_NEAR(scalar::sum_f32(a.data(), n, loop), ref, tol) << n << " loop " << l;
      if (use_avx2()) EXPECT_NEAR(avx2::sum_f32(a.data(), n, loop), ref, tol) << n << " loop " << l;
      if (use_avx512()) EXPECT_NEAR(avx512::sum_f32(a.data(), n, loop), ref, tol) << n << " loop " << l;
    }
    EXPECT_EQ(max_f32(a.data(), n), mx) << n;
    EXPECT_EQ(scalar::max_f32(a.data(), n), mx) << n;
    if (use_avx2()) EXPECT_EQ(avx2::max_f32(a.data(), n), mx) << n;
    if (n > 3) {  // a NaN is skipped by max_f32
      a[n / 2] = NAN;
      float m2 = -INFINITY;
      for (size_t i = 0; i < n; ++i)
        if (!std::isnan(a[i])) m2 = std::max(m2, a[i]);
      EXPECT_EQ(max_f32(a.data(), n), m2) << n;
    }
  }
}

// find_f32 (argmax's index pass) at every level: the first equal element in the vector body or the
// tail, -0 equal to 0, never a NaN (not even when a NaN is searched for), n when there is none.
TEST(Vec, FindFirstEqualAtEveryLevel) {
  auto check = [](const std::vector<float>& a, float v, size_t want, const char* what) {
    EXPECT_EQ(find_f32(a.data(), a.size(), v), want) << what << " n " << a.size();
    EXPECT_EQ(scalar::find_f32(a.data(), a.size(), v), want) << what << " n " << a.size();
    if (use_avx2()) EXPECT_EQ(avx2::find_f32(a.data(), a.size(), v), want) << what << " n " << a.size();
  };
  for (size_t n : {0u, 1u, 31u, 32u, 33u, 64u, 100u, 4099u}) {
    std::vector<float> a(n);
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>(i % 97) - 200.0f;
    check(a, 7.0f, n, "absent");
    for (size_t at : {size_t{0}, n / 2, n > 0 ? n - 1 : 0}) {
      if (at >= n) continue;
      std::vector<float> b = a;
      b[at] = 7.0f;
      if (at + 1 < n) b[n - 1] = 7.0f;  // a later copy: still the first
      check(b, 7.0f, at, "first");
      b[at] = -0.0f;
      check(b, 0.0f, at, "-0 == 0");
      b[at] = NAN;
      check(b, NAN, n, "NaN");
    }
  }
}

// The attention row loops against plain loops on the converted values, for every element type and
// for head_dim 128 (AVX-512 register path) and other sizes (generic path).
TEST(Vec, AttentionRowLoops) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (size_t n : {size_t{128}, size_t{16}, size_t{72}}) {
      const int64_t count = 37;
      const size_t es = dtype_size(t), stride = n * es + 2 * es;  // padded rows
      std::vector<uint8_t> rows(count * stride);
      std::vector<float> exact(count * n), q(n), p(count), acc(n), acc_ref(n), out(count);
      for (int64_t r = 0; r < count; ++r)
        for (size_t i = 0; i < n; ++i) {
          float v = nd(rng);
          uint8_t* dst = &rows[r * stride + i * es];
          if (t == DType::F32) std::memcpy(dst, &v, 4);
          if (t == DType::BF16) {
            uint16_t h = f32_to_bf16(v);
            std::memcpy(dst, &h, 2);
            v = bf16_to_f32(h);
          }
          if (t == DType::F16) {
            uint16_t h = f32_to_f16(v);
            std::memcpy(dst, &h, 2);
            v = f16_to_f32(h);
          }
          exact[r * n + i] = v;
        }
      for (auto& x : q) x = nd(rng);
      for (auto& x : p) x = std::fabs(nd(rng));
      for (size_t i = 0; i < n; ++i) acc[i] = acc_ref[i] = nd(rng);
      dot_rows(t, q.data(), rows.data(), stride, count, n, out.data());
      weighted_sum_rows(t, p.data(), rows.data(), stride, count, n, acc.data());
      for (int64_t r = 0; r < count; ++r) {
        double ref = 0;
        for (size_t i = 0; i < n; ++i) ref += static_cast<double>(q[i]) * exact[r * n + i];
        ASSERT_NEAR(out[r], ref, 1e-4 * std::sqrt(n)) << dtype_name(t) << " n=" << n << " row " << r;
        EXPECT_NEAR(dot_row(t, q.data(), rows.data() + r * stride, n), ref, 1e-4 * std::sqrt(n));
        for (size_t i = 0; i < n; ++i) acc_ref[i] += p[r] * exact[r * n + i];
      }
      for (size_t i = 0; i < n; ++i) ASSERT_NEAR(acc[i], acc_ref[i], 1e-3) << dtype_name(t) << " n=" << n;
    }
}

// Stores a random [rows, cols] matrix in dtype t, out- or in-major, and checks matmul against
// double-precision arithmetic on the stored (rounded) values.
void check_matmul(DType t, bool in_major, int64_t rows, int64_t cols, int64_t T) {
  std::mt19937 rng(static_cast<unsigned>(rows * 31 + cols + T));
  std::normal_distribution<float> nd;
  std::vector<float> exact(rows * cols);
  std::vector<uint8_t> store(rows * cols * dtype_size(t));
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t i = 0; i < cols; ++i) {
      float v = nd(rng);
      int64_t idx = in_major ? i * rows + o : o * cols + i;
      if (t == DType::F32) std::memcpy(&store[idx * 4], &v, 4);
      if (t == DType::BF16) {
        uint16_t h = f32_to_bf16(v);
        std::memcpy(&store[idx * 2], &h, 2);
        v = bf16_to_f32(h);
      }
      if (t == DType::F16) {
        uint16_t h = f32_to_f16(v);
        std::memcpy(&store[idx * 2], &h, 2);
        v = f16_to_f32(h);
      }
      exact[o * cols + i] = v;
    }
  WeightMatrix W{t, store.data(), rows, cols, in_major ? rows : cols, in_major};
  std::vector<float> x(T * cols), y(T * rows);
  for (auto& v : x) v = nd(rng);
  matmul(x.data(), T, W, y.data());
  for (int64_t tt = 0; tt < T; ++tt)
    for (int64_t o = 0; o < rows; ++o) {
      double ref = 0;
      for (int64_t i = 0; i < cols; ++i) ref += static_cast<double>(x[tt * cols + i]) * exact[o * cols + i];
      ASSERT_NEAR(y[tt * rows + o], ref, 1e-4 * std::sqrt(static_cast<double>(cols)))
          << dtype_name(t) << (in_major ? " in-major" : " out-major") << " t=" << tt << " o=" << o;
      ASSERT_FLOAT_EQ(W.at(o, 0), exact[o * cols]);
    }
}

TEST(Matmul, AllDtypesAndLayouts) {
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (bool im : {false, true}) {
      check_matmul(t, im, 37, 70, 1);
      check_matmul(t, im, 130, 33, 5);
      check_matmul(t, im, 150, 70, 20);  // prefill path: converted panels through SGEMM
    }
}

TEST(Ops, RmsNormAndSoftmax) {
  std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 2, 0.5f}, y(4);
  rms_norm(x.data(), w.data(), y.data(), 1, 4, 0.0f);
  float r = 1.0f / std::sqrt(7.5f);
  EXPECT_NEAR(y[2], 3 * r * 2, 1e-6);
  EXPECT_NEAR(y[3], 4 * r * 0.5f, 1e-6);
  std::vector<float> s = {1, 2, -INFINITY};
  softmax(s.data(), 3);
  EXPECT_NEAR(s[1], std::exp(1.0) / (1 + std::exp(1.0)), 1e-6);
  EXPECT_EQ(s[2], 0.0f);
}

// silu(gate) * up: the AVX-512 version (its own exp) against the scalar formula in double, over
// the whole useful range, past the exp clamps, zeros, infinities and a tail of n % 16 elements
// (values below 1e-30 in magnitude count as 0: the scalar float form flushes them too).
TEST(Ops, SiluMulMatchesScalar) {
  std::vector<float> g, u;
  for (float x = -100.0f; x <= 100.0f; x += 0.0137f) g.push_back(x);
  for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 87.5f, -87.5f, 88.5f, -88.5f, 1e30f, -1e30f, INFINITY, -INFINITY}) g.push_back(x);
  g.resize(g.size() / 16 * 16 + 7, 0.5f);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> ud(-2.0f, 2.0f);
  for (size_t i = 0; i < g.size(); ++i) u.push_back(ud(rng));
  std::vector<float> out(g.size(), -1.0f);
  silu_mul(g.data(), u.data(), out.data(), static_cast<int64_t>(g.size()));
  for (size_t i = 0; i < g.size(); ++i) {
    const double gd = g[i];
    if (std::isinf(gd)) {  // as the scalar float form: +inf * u, and -inf / inf = NaN
      const float sc = g[i] / (1.0f + std::exp(-g[i])) * u[i];
      if (std::isnan(sc)) EXPECT_TRUE(std::isnan(out[i])) << "g=" << g[i];
      else EXPECT_EQ(out[i], sc) << "g=" << g[i];
    } else {
      const double ref = gd / (1.0 + std::exp(-gd)) * u[i];
      EXPECT_NEAR(out[i], ref, 4e-7 * std::fabs(ref) + 1e-30) << "g=" << g[i] << " u=" << u[i];
    }
  }
}

TEST(Ops, RopeInterleavedRotatesAdjacentPairs) {
  std::vector<float> x = {1, 0, 0, 1};  // one head, head_dim 4
  int64_t pos = 3;
  double inv[2] = {0.5, 0.25};
  rope_interleaved(x.data(), 1, 1, 4, &pos, inv);
  EXPECT_NEAR(x[0], std::cos(1.5), 1e-6);
  EXPECT_NEAR(x[1], std::sin(1.5), 1e-6);
  EXPECT_NEAR(x[2], -std::sin(0.75), 1e-6);
  EXPECT_NEAR(x[3], std::cos(0.75), 1e-6);
  std::vector<float> y = {1, 0, 0, 1};  // rotate-half pairs (0,2) and (1,3)
  rope_rotate_half(y.data(), 1, 1, 4, &pos, inv);
  EXPECT_NEAR(y[0], std::cos(1.5), 1e-6);
  EXPECT_NEAR(y[2], std::sin(1.5), 1e-6);
  EXPECT_NEAR(y[1], -std::sin(0.75), 1e-6);
  EXPECT_NEAR(y[3], std::cos(0.75), 1e-6);
}

TEST(Ops, RopeAnglesAreRecomputedWhenPositionOrFrequenciesChange) {
  // The per-thread cos/sin of the last position must not leak into another position, another
  // model's frequencies at the same position, or another head size.
  double a[2] = {0.5, 0.25}, b[2] = {0.125, 2.0}, c[1] = {0.75};
  for (int64_t pos : {3, 3, 7, 3}) {
    for (const double* f : {a, b, a}) {
      std::vector<float> x = {1, 0, 0, 1};
      rope_interleaved(x.data(), 1, 1, 4, &pos, f);
      EXPECT_NEAR(x[0], std::cos(pos * f[0]), 1e-6) << pos;
      EXPECT_NEAR(x[1], std::sin(pos * f[0]), 1e-6) << pos;
      EXPECT_NEAR(x[2], -std::sin(pos * f[1]), 1e-6) << pos;
      EXPECT_NEAR(x[3], std::cos(pos * f[1]), 1e-6) << pos;
    }
    std::vector<float> y = {1, 0};  // head_dim 2 with the first frequency of c
    rope_interleaved(y.data(), 1, 1, 2, &pos, c);
    EXPECT_NEAR(y[0], std::cos(pos * c[0]), 1e-6);
    EXPECT_NEAR(y[1], std::sin(pos * c[0]), 1e-6);
  }
  // Several positions in one call (prefill) and several heads.
  std::vector<int64_t> ps = {0, 5, 5, 9};
  std::vector<float> z(ps.size() * 2 * 4, 0.0f);
  for (size_t r = 0; r < ps.size() * 2; ++r) z[r * 4] = 1, z[r * 4 + 2] = 1;
  rope_interleaved(z.data(), static_cast<int64_t>(ps.size()), 2, 4, ps.data(), a);
  for (size_t t = 0; t < ps.size(); ++t)
    for (int h = 0; h < 2; ++h) {
      const float* v = z.data() + (t * 2 + h) * 4;
      EXPECT_NEAR(v[0], std::cos(ps[t] * a[0]), 1e-6);
      EXPECT_NEAR(v[3], std::sin(ps[t] * a[1]), 1e-6);
    }
}

TEST(Vec, AttentionHeadGroupLoopsMatchPerHeadLoops) {
  // dot_rows_heads / weighted_sum_rows_heads (one pass over the rows for a group of heads; the
  // AVX-512 path for head_dim 128 takes heads four at a time) against double precision.
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (size_t n : {size_t{128}, size_t{40}})
      for (int nq : {1, 2, 3, 4, 5, 8}) {
        const int64_t count = 29;
        const size_t es = dtype_size(t), stride = n * es + 4 * es;
        std::vector<uint8_t> rows(count * stride);
        std::vector<double> exact(count * n);
        for (int64_t r = 0; r < count; ++r)
          for (size_t i = 0; i < n; ++i) {
            const float v = nd(rng);
            uint8_t* dst = &rows[r * stride + i * es];
            if (t == DType::F32) std::memcpy(dst, &v, 4), exact[r * n + i] = v;
            if (t == DType::BF16) {
              const uint16_t h = f32_to_bf16(v);
              std::memcpy(dst, &h, 2);
              exact[r * n + i] = bf16_to_f32(h);
            }
            if (t == DType::F16) {
              const uint16_t h = f32_to_f16(v);
              std::memcpy(dst, &h, 2);
              exact[r * n + i] = f16_to_f32(h);
            }
          }
        std::vector<float> q(nq * n), p(nq * count), acc(nq * n), out(nq * count);
        for (auto& x : q) x = nd(rng);
        for (auto& x : p) x = std::fabs(nd(rng));
        for (auto& x : acc) x = nd(rng);
        std::vector<float> acc0 = acc;
        dot_rows_heads(t, q.data(), nq, rows.data(), stride, count, n, out.data());
        weighted_sum_rows_heads(t, p.data(), nq, rows.data(), stride, count, n, acc.data());
        for (int h = 0; h < nq; ++h) {
          for (int64_t r = 0; r < count; ++r) {
            double ref = 0;
            for (size_t i = 0; i < n; ++i) ref += static_cast<double>(q[h * n + i]) * exact[r * n + i];
            ASSERT_NEAR(out[h * count + r], ref, 1e-4 * std::sqrt(n)) << dtype_name(t) << " n=" << n << " nq=" << nq;
          }
          for (size_t i = 0; i < n; ++i) {
            double ref = acc0[h * n + i];
            for (int64_t r = 0; r < count; ++r) ref += static_cast<double>(p[h * count + r]) * exact[r * n + i];
            ASSERT_NEAR(acc[h * n + i], ref, 1e-3) << dtype_name(t) << " n=" << n << " nq=" << nq << " head " << h;
          }
        }
      }
}

TEST(Vec, ExpAffineSumMatchesStdExp) {
  std::mt19937 rng(12);
  std::normal_distribution<float> nd(0.0f, 8.0f);
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{300}}) {
    std::vector<float> x(n);
    for (auto& v : x) v = nd(rng);
    const float a = 0.088f, b = a * (n ? *std::max_element(x.begin(), x.end()) : 0.0f);
    std::vector<float> y = x;
    const float sum = exp_affine_sum(y.data(), n, a, b);
    double ref_sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const double e = std::exp(static_cast<double>(a) * x[i] - b);
      ASSERT_NEAR(y[i], e, 2e-6 * e + 1e-30) << "n=" << n << " i=" << i;
      ref_sum += e;
    }
    EXPECT_NEAR(sum, ref_sum, 1e-5 * ref_sum + 1e-30) << "n=" << n;
  }
  // Far below the maximum: underflows to 0, never NaN.
  std::vector<float> z = {-1e4f, 0.0f};
  EXPECT_FLOAT_EQ(exp_affine_sum(z.data(), 2, 1.0f, 0.0f), 1.0f);
  EXPECT_EQ(z[0], 0.0f);
}

// The sampler's scan for the entries above a threshold, at every level, against a plain loop:
// strict and non-strict, NaNs never, ties, both ends of the vector body and the tail.
TEST(Vec, IndicesAboveMatchScalar) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> small(-4, 4);
  for (size_t n : {size_t{0}, size_t{1}, size_t{31}, size_t{32}, size_t{33}, size_t{95}, size_t{4096}, size_t{4099}}) {
    std::vector<float> x(n);
    for (auto& v : x) v = static_cast<float>(small(rng));  // many exact ties with the threshold
    if (n > 2) x[1] = NAN, x[n - 1] = 4.0f;
    for (float t : {-INFINITY, -1.0f, 0.0f, 3.0f, 4.0f})
      for (bool or_equal : {false, true}) {
        std::vector<int32_t> want;
        for (size_t i = 0; i < n; ++i)
          if (x[i] > t || (or_equal && x[i] == t)) want.push_back(100 + static_cast<int32_t>(i));
        std::vector<int32_t> got(n + 1, -1);
        got.resize(indices_above(x.data(), n, t, or_equal, 100, got.data()));
        EXPECT_EQ(got, want) << "n " << n << " t " << t << " or_equal " << or_equal;
        std::vector<int32_t> g0(n + 1, -1);
        g0.resize(scalar::indices_above(x.data(), n, t, or_equal, 100, g0.data()));
        EXPECT_EQ(g0, want) << "scalar n " << n;
        if (use_avx2()) {
          std::vector<int32_t> g2(n + 1, -1);
          g2.resize(avx2::indices_above(x.data(), n, t, or_equal, 100, g2.data()));
          EXPECT_EQ(g2, want) << "avx2 n " << n;
        }
      }
  }
}

// Sampling weights e^(a (x - m)) above a cut, 0 below it and for NaN, against std::exp in double, on
// every level the CPU has; in place too.
TEST(Vec, ExpWeightsMatchStdExp) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-60.0f, 1.0f);
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{17}, size_t{1023}, size_t{1024}, size_t{3001}}) {
    std::vector<float> x(n);
    for (auto& v : x) v = u(rng);
    if (n > 3) x[2] = NAN, x[3] = -INFINITY;
    const float a = 1.25f, m = 0.5f, cut = -40.0f;
    double ref = 0;
    std::vector<double> want(n);
    for (size_t i = 0; i < n; ++i) {
      want[i] = x[i] >= cut ? std::exp(static_cast<double>(a) * (static_cast<double>(x[i]) - m)) : 0.0;
      ref += want[i];
    }
    auto check = [&](auto fn, const char* level) {
      std::vector<float> w(n, -1.0f);
      const double sum = fn(x.data(), n, a, m, cut, w.data());
      // Relative error 2e-6, plus the float argument's rounding: ~1.2e-7 of its size.
      for (size_t i = 0; i < n; ++i) {
        const double arg = x[i] >= cut ? std::fabs(static_cast<double>(a) * (static_cast<double>(x[i]) - m)) : 0.0;
        ASSERT_NEAR(w[i], want[i], (2e-6 + 2.4e-7 * arg) * want[i] + 1e-38) << level << " n " << n << " i " << i;
      }
      EXPECT_NEAR(sum, ref, 1e-5 * ref + 1e-30) << level << " n " << n;
      std::vector<float> y = x;  // in place
      fn(y.data(), n, a, m, cut, y.data());
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], w[i]) << level << " in place, i " << i;
    };
    check(exp_weights, "dispatch");
    check(scalar::exp_weights, "scalar");
    if (use_avx2()) check(avx2::exp_weights, "avx2");
    if (use_avx512()) check(avx512::exp_weights, "avx512");
  }
}

TEST(ThreadPool, CoversRangeExactlyOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 17, 1000}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
  }
  // Nested calls run serially instead of deadlocking.
  std::atomic<int> total{0};
  pool.parallel_for(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) pool.parallel_for(10, 1, [&](int64_t b2, int64_t e2) { total += static_cast<int>(e2 - b2); });
  });
  EXPECT_EQ(total.load(), 80);
  // parallel_chunks: blocks of exactly `chunk` items (the last one shorter), each range once.
  for (int64_t n : {1, 5, 64, 1000}) {
    std::vector<std::atomic<int>> hits(n);
    std::atomic<int> bad{0};
    pool.parallel_chunks(n, 16, [&](int64_t b, int64_t e) {
      if (b % 16 != 0 || (e - b != 16 && e != n)) bad++;
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
    EXPECT_EQ(bad.load(), 0) << n;
  }
}

TEST(ThreadPool, StreamSharesCoverRangeOnceInWholeBlocks) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 7, 16, 17, 100, 4099}) {
      for (int64_t unit : {1, 4, 16}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<int> bad{0};
        pool.parallel_stream(n, unit, [&](int64_t b, int64_t e) {
          if (b % unit != 0 || (e % unit != 0 && e != n) || b >= e || e > n) bad++;
          for (int64_t i = b; i < e; ++i) hits[i]++;
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "threads " << threads << " n " << n << " unit " << unit << " i " << i;
        EXPECT_EQ(bad.load(), 0) << threads << " " << n << " " << unit;
      }
    }
  }
}

TEST(ThreadPool, StreamSharesOfAStalledThreadAreTakenOver) {
  // The thread that draws the first block stalls for 50 ms inside its first claim (half of its
  // share); the other must take the rest of that share instead of waiting for it.
  ThreadPool pool(2);
  const int64_t n = 1024;
  std::vector<std::atomic<int>> hits(n);
  std::atomic<bool> first{true};
  std::mutex mu;
  std::map<std::thread::id, int64_t> done_by;
  pool.parallel_stream(n, 1, [&](int64_t b, int64_t e) {
    if (first.exchange(false)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (int64_t i = b; i < e; ++i) hits[i]++;
    std::lock_guard<std::mutex> lk(mu);
    done_by[std::this_thread::get_id()] += e - b;
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
  ASSERT_EQ(done_by.size(), 2u);  // both threads took part
  int64_t most = 0;
  for (const auto& kv : done_by) most = std::max(most, kv.second);
  EXPECT_GE(most, n * 3 / 4);  // its own half and the stalled share's unclaimed half
  // Nested: serial.
  std::atomic<int64_t> total{0};
  pool.parallel_stream(4, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) pool.parallel_stream(10, 2, [&](int64_t b2, int64_t e2) { total += e2 - b2; });
  });
  EXPECT_EQ(total.load(), 40);
}

}  // namespace
