// Block-quantized formats and kernels: hand-built blocks with known values, quantizer round
// trips, activation quantization, and every integer dot-product kernel (scalar, AVX2, AVX-512)
// against the scalar reference and against dequantize-then-f32, plus matmul fast vs exact mode.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/dtype.h"
#include "core/error.h"
#include "core/quants.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/qgemm_amx.h"
#include "kernels/row_interleave.h"

using namespace herd;

namespace {

const DType kBlockTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                             DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

TEST(Quant, BlockSizes) {
  EXPECT_EQ(dtype_row_bytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(dtype_row_bytes(DType::Q6_K, 256), 210u);
  EXPECT_EQ(dtype_row_bytes(DType::Q5_0, 64), 44u);
  EXPECT_EQ(dtype_row_bytes(DType::BF16, 3), 6u);
  DType t;
  ASSERT_TRUE(dtype_from_ggml(14, &t));
  EXPECT_EQ(t, DType::Q6_K);
  ASSERT_TRUE(dtype_from_ggml(30, &t));
  EXPECT_EQ(t, DType::BF16);
  EXPECT_FALSE(dtype_from_ggml(16, &t));
  ASSERT_TRUE(dtype_from_name("q4_k", &t));
  EXPECT_EQ(t, DType::Q4_K);
}

TEST(Quant, Q4_1HandBuiltBlock) {
  uint8_t b[20];
  put16(b, 0x3800);      // d = 0.5
  put16(b + 2, 0xBC00);  // m = -1
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  to_f32(DType::Q4_1, b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j * 0.5f - 1.0f) << j;
    EXPECT_EQ(y[j + 16], (15 - j) * 0.5f - 1.0f) << j;
  }
}

TEST(Quant, Q5_1HandBuiltBlock) {
  uint8_t b[24];
  put16(b, 0x3400);      // d = 0.25
  put16(b + 2, 0x3C00);  // m = 1
  const uint32_t qh = 0xF0F0F00Fu;
  std::memcpy(b + 4, &qh, 4);
  for (int j = 0; j < 16; ++j) b[8 + j] = static_cast<uint8_t>((j & 15) | (((j * 3) & 15) << 4));
  float y[32];
  to_f32(DType::Q5_1, b, y, 32);
  for (int j = 0; j < 16; ++j) {
    const int lo = (j & 15) | (((qh >> j) & 1) << 4), hi = ((j * 3) & 15) | (((qh >> (j + 16)) & 1) << 4);
    EXPECT_EQ(y[j], lo * 0.25f + 1.0f) << j;
    EXPECT_EQ(y[j + 16], hi * 0.25f + 1.0f) << j;
  }
}

// Random row of `blocks` blocks with every bit pattern possible in the quant fields and small
// finite f16 scales.
std::vector<uint8_t> random_blocks(DType t, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> v(dtype_row_bytes(t, n));
  for (auto& x : v) x = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> u(0.001f, 0.05f);
  const size_t bb = dtype_block_bytes(t);
  for (size_t b = 0; b < v.size() / bb; ++b) {
    uint8_t* p = v.data() + b * bb;
    auto h = [&](float s) { return f32_to_f16(rng() % 2 ? s : -s); };
    switch (t) {
      case DType::Q4_K:
      case DType::Q5_K:
        put16(p, f32_to_f16(u(rng)));
        put16(p + 2, f32_to_f16(u(rng)));
        break;
      case DType::Q6_K: put16(p + 208, h(u(rng))); break;
      default:
        put16(p, h(u(rng)));
        if (t == DType::Q4_1 || t == DType::Q5_1) put16(p + 2, h(u(rng)));
    }
  }
  return v;
}

std::vector<float> random_floats(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> g(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

TEST(Quant, QuantizeRoundTripError) {
  std::mt19937 rng(7);
  const int64_t n = 4096;
  auto x = random_floats(n, rng);
  // RMS error relative to RMS value: roughly step/sqrt(12) for each format.
  struct B {
    DType t;
    double max_rel;
  } bounds[] = {{DType::Q8_0, 0.01}, {DType::Q4_0, 0.15}, {DType::Q4_1, 0.15}, {DType::Q5_0, 0.07},
                {DType::Q5_1, 0.07}, {DType::Q4_K, 0.15}, {DType::Q5_K, 0.07}, {DType::Q6_K, 0.04}};
  for (auto [t, bound] : bounds) {
    std::vector<uint8_t> q(dtype_row_bytes(t, n));
    quant::quantize(t, x.data(), q.data(), n);
    std::vector<float> y(n);
    to_f32(t, q.data(), y.data(), n);
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; ++i) e += (y[i] - x[i]) * (y[i] - x[i]), s += x[i] * x[i];
    EXPECT_LT(std::sqrt(e / s), bound) << dtype_name(t);
    EXPECT_GT(std::sqrt(e / s), 0.0) << dtype_name(t);
  }
  // A zero block quantizes to zeros, not NaN.
  std::vector<float> z(256, 0.0f), back(256);
  for (DType t : kBlockTypes) {
    std::vector<uint8_t> q(dtype_row_bytes(t, 256));
    quant::quantize(t, z.data(), q.data(), 256);
    to_f32(t, q.data(), back.data(), 256);
    for (float v : back) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
}

TEST(Quant, ActivationQuantization) {
  std::mt19937 rng(3);
  auto x = random_floats(512, rng);
  QActs a;
  quantize_acts(x.data(), 1, 512, ActKind::Q8_0, a);
  for (int b = 0; b < 16; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    EXPECT_EQ(a.d[b], f16_to_f32(f32_to_f16(amax / 127.0f)));
    int32_t s = 0;
    for (int j = 0; j < 32; ++j) {
      EXPECT_NEAR(a.q[b * 32 + j] * a.d[b], x[b * 32 + j], 0.51f * amax / 127.0f + 1e-3f * amax);
      s += a.q[b * 32 + j];
    }
    EXPECT_EQ(a.sums[b], s);
  }
  ASSERT_EQ(a.c4.size(), 512u / 4);  // -128 * each 4-sum (the AVX-512 Q8_0 kernel's lane offsets)
  for (int i = 0; i < 128; ++i)
    EXPECT_EQ(a.c4[i], -128 * (a.q[4 * i] + a.q[4 * i + 1] + a.q[4 * i + 2] + a.q[4 * i + 3]));
  quantize_acts(x.data(), 1, 512, ActKind::Q8_K, a);
  EXPECT_TRUE(a.c4.empty());
  EXPECT_EQ(act_row(a, 0).c, nullptr);
  for (int b = 0; b < 2; ++b) {
    int imax = 0;
    for (int j = 0; j < 256; ++j)
      if (std::fabs(x[b * 256 + j]) > std::fabs(x[b * 256 + imax])) imax = j;
    EXPECT_EQ(a.q[b * 256 + imax], -127);
    for (int j = 0; j < 256; ++j) EXPECT_NEAR(a.q[b * 256 + j] * a.d[b], x[b * 256 + j], 0.51f * std::fabs(a.d[b]));
    for (int g = 0; g < 16; ++g) {
      int32_t s = 0;
      for (int j = 0; j < 16; ++j) s += a.q[b * 256 + g * 16 + j];
      EXPECT_EQ(a.sums[b * 16 + g], s);
    }
  }
}

// The AVX-512 activation quantizer is bit-identical to the scalar one (ties in the Q8_K maximum,
// zero blocks, values at the rounding midpoints included).
TEST(Quant, ActivationQuantizationAvx512MatchesScalar) {
  const CpuFeatures& c = cpu_features();
  if (!(c.avx512f && c.avx512bw && c.avx512vl && c.avx512vnni && c.f16c)) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(31);
  const int64_t n = 1024;
  for (int trial = 0; trial < 6; ++trial) {
    auto x = random_floats(n, rng);
    if (trial == 1) std::fill(x.begin() + 256, x.begin() + 512, 0.0f);  // zero Q8_K / Q8_0 blocks
    if (trial == 2) x[10] = 3.0f, x[20] = -3.0f, x[300] = -3.0f, x[301] = 3.0f;  // ties for the maximum
    if (trial == 3)
      for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<int>(rng() % 255) - 127) * 0.5f;  // midpoints
    for (ActKind kind : {ActKind::Q8_0, ActKind::Q8_K}) {
      const size_t nb = kind == ActKind::Q8_0 ? n / 32 : n / 256, ns = kind == ActKind::Q8_0 ? n / 32 : n / 16;
      std::vector<int8_t> q(n), rq(n);
      std::vector<float> d(nb), rd(nb);
      std::vector<int32_t> s(ns), rs(ns);
      avx512::quantize_act_row(x.data(), n, kind, q.data(), d.data(), s.data());
      scalar::quantize_act_row(x.data(), n, kind, rq.data(), rd.data(), rs.data());
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(q[i], rq[i]) << "kind " << int(kind) << " trial " << trial << " i " << i;
      for (size_t i = 0; i < nb; ++i) ASSERT_EQ(d[i], rd[i]) << "kind " << int(kind) << " trial " << trial;
      for (size_t i = 0; i < ns; ++i) ASSERT_EQ(s[i], rs[i]) << "kind " << int(kind) << " trial " << trial;
    }
  }
}

struct Level {
  const char* name;
  QDotFn (*get)(DType);
  bool available;
};

std::vector<Level> levels() {
  const CpuFeatures& c = cpu_features();
  return {{"scalar", scalar::qdot_kernel, true},
          {"avx2", avx2::qdot_kernel, c.avx2 && c.fma && c.f16c},
          {"avx512", avx512::qdot_kernel, c.avx512f && c.avx512bw && c.avx512vl && c.avx512vnni}};
}

TEST(QDot, EveryKernelMatchesScalarAndDequantized) {
  std::mt19937 rng(11);
  int simd_checked = 0;
  for (DType t : kBlockTypes) {
    // 288 / 2 blocks of 32 and 2 of 256 (odd counts exercise tails), and longer rows; for the
    // 32-element types 544 / 1056 / 1088 leave 1 / 1 / 2 blocks after whole 16-block steps.
    for (int64_t n : {int64_t{256}, int64_t{512}, int64_t{1280}, int64_t{96}, int64_t{544}, int64_t{1056}, int64_t{1088}}) {
      if (n % dtype_block_size(t) != 0) continue;
      for (int trial = 0; trial < 2; ++trial) {
        std::vector<uint8_t> w;
        if (trial == 0) {
          w = random_blocks(t, n, rng);
        } else {
          auto wf = random_floats(n, rng, 0.05f);
          w.resize(dtype_row_bytes(t, n));
          quant::quantize(t, wf.data(), w.data(), n);
        }
        std::vector<float> wd(n);
        to_f32(t, w.data(), wd.data(), n);
        const int T = 4;
        auto x = random_floats(T * n, rng);
        QActs a;
        quantize_acts(x.data(), T, n, act_kind(t), a);
        ActRow rows[4];
        for (int j = 0; j < T; ++j) rows[j] = act_row(a, j);
        // Dequantize-then-f32 (double) reference of the same quantized operands.
        double ref[4], mag[4];
        for (int j = 0; j < T; ++j) {
          const int64_t bs = a.kind == ActKind::Q8_0 ? 32 : 256;
          ref[j] = mag[j] = 0;
          for (int64_t i = 0; i < n; ++i) {
            const double xv = static_cast<double>(rows[j].q[i]) * rows[j].d[i / bs];
            ref[j] += wd[i] * xv;
            mag[j] += std::fabs(wd[i] * xv);
          }
        }
        float sc[4];
        scalar::qdot_kernel(t)(n, w.data(), rows, T, sc);
        for (int j = 0; j < T; ++j)
          EXPECT_NEAR(sc[j], ref[j], 1e-5 * mag[j] + 1e-6) << dtype_name(t) << " n=" << n << " token " << j;
        for (const Level& lv : levels()) {
          if (!lv.available) continue;
          QDotFn fn = lv.get(t);
          if (!fn) continue;
          if (std::string(lv.name) != "scalar") ++simd_checked;
          for (int nt = 1; nt <= 4; ++nt) {
            float got[4];
            fn(n, w.data(), rows, nt, got);
            for (int j = 0; j < nt; ++j) {
              EXPECT_NEAR(got[j], sc[j], 1e-5 * mag[j] + 1e-6) << lv.name << " " << dtype_name(t) << " n=" << n << " nt=" << nt;
              EXPECT_NEAR(got[j], ref[j], 1e-5 * mag[j] + 1e-6) << lv.name << " " << dtype_name(t);
            }
          }
        }
      }
    }
  }
  if (cpu_features().avx2) EXPECT_GT(simd_checked, 0);
}

TEST(QDot, DispatchHonoursKernelLevel) {
  for (DType t : kBlockTypes) {
    QDotFn f = qdot_kernel(t);
    ASSERT_NE(f, nullptr) << dtype_name(t);
    if (!use_avx2()) EXPECT_EQ(f, scalar::qdot_kernel(t)) << dtype_name(t);
    if (use_avx2() && !use_avx512() && avx2::qdot_kernel(t)) EXPECT_EQ(f, avx2::qdot_kernel(t)) << dtype_name(t);
  }
  EXPECT_EQ(qdot_kernel(DType::BF16), nullptr);
}

// A prefill GEMM kernel (qdot.h: QGemmFn) against the scalar one-row kernel and
// dequantize-then-f32 on the same quantized operands: partial panels (nr < 16), token counts that
// leave every remainder of the AVX-512 kernel's 8-token and the AMX kernel's 16-token tiles
// (1..7, 13, 15; 16, 17, 23, 33), and row strides longer than a row (ld > cols). Returns the
// number of outputs checked.
int check_gemm(DType t, QGemmFn gemm, const char* what) {
  std::mt19937 rng(23);
  int checked = 0;
  for (int64_t n : {int64_t{256}, int64_t{768}}) {
    const int64_t ld = n + 256;
    const size_t stride = dtype_row_bytes(t, ld);
    for (int nr : {16, 5}) {
      std::vector<uint8_t> w(nr * stride);
      for (int r = 0; r < nr; ++r) {
        auto wf = random_floats(ld, rng, 0.05f);
        quant::quantize(t, wf.data(), w.data() + r * stride, ld);
      }
      for (int64_t T : {1, 3, 4, 7, 8, 13, 15, 16, 17, 23, 33}) {
        auto x = random_floats(T * n, rng);
        QActs a;
        quantize_acts(x.data(), T, n, act_kind(t), a);
        QGroups g;
        EXPECT_TRUE(make_groups(t, a, g));
        const int64_t ldy = nr + 3;
        std::vector<float> y(T * ldy, -7.0f);
        gemm(n, w.data(), stride, nr, a, g, y.data(), ldy);
        std::vector<float> wd(n);
        const int64_t bs = a.kind == ActKind::Q8_0 ? 32 : 256;
        for (int r = 0; r < nr; ++r) {
          to_f32(t, w.data() + r * stride, wd.data(), n);
          for (int64_t tt = 0; tt < T; ++tt) {
            const ActRow row = act_row(a, tt);
            float sc;
            scalar::qdot_kernel(t)(n, w.data() + r * stride, &row, 1, &sc);
            double ref = 0, mag = 0;
            for (int64_t i = 0; i < n; ++i) {
              const double xv = static_cast<double>(row.q[i]) * row.d[i / bs];
              ref += wd[i] * xv;
              mag += std::fabs(wd[i] * xv);
            }
            const float got = y[tt * ldy + r];
            EXPECT_NEAR(got, sc, 1e-5 * mag + 1e-6) << what << " " << dtype_name(t) << " n=" << n << " T=" << T << " row " << r;
            EXPECT_NEAR(got, ref, 1e-5 * mag + 1e-6) << what << " " << dtype_name(t) << " n=" << n << " T=" << T << " row " << r;
            ++checked;
          }
        }
        for (int64_t tt = 0; tt < T; ++tt)
          for (int64_t r = nr; r < ldy; ++r) EXPECT_EQ(y[tt * ldy + r], -7.0f) << what << " wrote past row " << nr;
      }
    }
  }
  return checked;
}

// The AVX-512 VNNI register-tiled GEMM (16-row panels x up to 8 tokens).
TEST(QDot, GemmMatchesScalarAndDequantized) {
  int checked = 0;
  for (DType t : {DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q4_0, DType::Q5_K}) {
    QGemmFn gemm = avx512::qgemm_kernel(t);
    const CpuFeatures& c = cpu_features();
    if (!(c.avx512f && c.avx512bw && c.avx512vl && c.avx512vnni)) gemm = nullptr;
    if (t == DType::Q4_0 || t == DType::Q5_K) {
      EXPECT_EQ(gemm, nullptr) << dtype_name(t);  // no GEMM layout: matmul keeps the dot kernels
      continue;
    }
    if (gemm) checked += check_gemm(t, gemm, "avx512");
  }
  if (cpu_features().avx512vnni) EXPECT_GT(checked, 0);
  if (!use_avx512()) EXPECT_EQ(qgemm_kernel(DType::Q4_K), nullptr);  // HERD_KERNELS=scalar|avx2
}

// The AMX int8 GEMM (16-row panels x 16-token tiles), where the CPU and OS allow AMX.
TEST(QDot, AmxGemmMatchesScalarAndDequantized) {
  if (!use_avx512()) EXPECT_FALSE(use_amx());  // HERD_KERNELS=scalar|avx2 also turn AMX off
  for (DType t : {DType::Q4_0, DType::Q5_K, DType::F16}) EXPECT_EQ(amx::qgemm_kernel(t), nullptr) << dtype_name(t);
  if (!use_amx()) {
    EXPECT_EQ(amx_qgemm_kernel(DType::Q4_K), nullptr);
    GTEST_SKIP() << "AMX int8 not available here (CPU, OS tile permission, HERD_KERNELS or HERD_AMX=0); "
                    "the AVX-512 GEMM test covers matmul's prefill path";
  }
  int checked = 0;
  for (DType t : {DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
    ASSERT_EQ(amx_qgemm_kernel(t), amx::qgemm_kernel(t));
    checked += check_gemm(t, amx::qgemm_kernel(t), "amx");
  }
  EXPECT_GT(checked, 0);
}

// matmul on quantized out-major weights: fast (8-bit activations) vs exact (dequantized f32),
// and exact vs a plain double reference.
TEST(QDot, MatmulFastAndExact) {
  std::mt19937 rng(5);
  for (DType t : kBlockTypes) {
    const int64_t rows = 37, cols = 512;
    auto wf = random_floats(rows * cols, rng, 0.05f);
    std::vector<uint8_t> wq(rows * dtype_row_bytes(t, cols));
    for (int64_t r = 0; r < rows; ++r) quant::quantize(t, wf.data() + r * cols, wq.data() + r * dtype_row_bytes(t, cols), cols);
    WeightMatrix W{t, wq.data(), rows, cols, cols, false};
    std::vector<float> wd(rows * cols);
    for (int64_t r = 0; r < rows; ++r) W.row(r, wd.data() + r * cols);
    for (int64_t T : {int64_t{1}, int64_t{3}, int64_t{9}, int64_t{20}}) {
      auto x = random_floats(T * cols, rng);
      std::vector<float> fast(T * rows), exact(T * rows);
      set_matmul_exact(true);
      matmul(x.data(), T, W, exact.data());
      set_matmul_exact(false);
      matmul(x.data(), T, W, fast.data());
      for (int64_t i = 0; i < T * rows; ++i) {
        const int64_t tt = i / rows, r = i % rows;
        double ref = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) ref += double(wd[r * cols + c]) * x[tt * cols + c], mag += std::fabs(wd[r * cols + c] * x[tt * cols + c]);
        EXPECT_NEAR(exact[i], ref, 1e-5 * mag) << dtype_name(t);
        EXPECT_NEAR(fast[i], ref, 0.02 * mag) << dtype_name(t);  // 8-bit activations: ~0.4% per value
      }
    }
  }
}

// matmul_multi (one dispatch for several matrices on the same input, as q/k/v and gate/up) gives
// exactly what separate matmul calls give: fused (decode, mixed types and activation formats, rows
// that split unevenly over threads), unfused (T >= 4, exact mode).
TEST(QDot, MatmulMultiMatchesSeparateCalls) {
  std::mt19937 rng(41);
  const int64_t cols = 512;
  auto make = [&](DType t, int64_t rows, std::vector<uint8_t>& buf) {
    auto wf = random_floats(rows * cols, rng, 0.05f);
    buf.resize(rows * dtype_row_bytes(t, cols));
    for (int64_t r = 0; r < rows; ++r) quant::quantize(t, wf.data() + r * cols, buf.data() + r * dtype_row_bytes(t, cols), cols);
    return WeightMatrix{t, buf.data(), rows, cols, cols, false};
  };
  const DType sets[][3] = {{DType::Q8_0, DType::Q8_0, DType::Q8_0},
                           {DType::Q8_0, DType::Q4_0, DType::Q5_0},
                           {DType::Q4_K, DType::Q6_K, DType::Q4_K},
                           {DType::Q8_0, DType::Q6_K, DType::Q4_K}};
  for (const auto& types : sets) {
    std::vector<uint8_t> b0, b1, b2;
    const WeightMatrix W0 = make(types[0], 100, b0), W1 = make(types[1], 37, b1), W2 = make(types[2], 300, b2);
    for (bool exact : {false, true}) {
      set_matmul_exact(exact);
      for (int64_t T : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{5}}) {
        auto x = random_floats(T * cols, rng);
        std::vector<float> y0(T * 100), y1(T * 37), y2(T * 300), r0(T * 100), r1(T * 37), r2(T * 300);
        matmul(x.data(), T, W0, r0.data());
        matmul(x.data(), T, W1, r1.data());
        matmul(x.data(), T, W2, r2.data());
        matmul_multi(x.data(), T, {{&W0, y0.data()}, {&W1, y1.data()}, {&W2, y2.data()}});
        EXPECT_EQ(y0, r0) << dtype_name(types[0]) << " T=" << T << " exact " << exact;
        EXPECT_EQ(y1, r1) << dtype_name(types[1]) << " T=" << T << " exact " << exact;
        EXPECT_EQ(y2, r2) << dtype_name(types[2]) << " T=" << T << " exact " << exact;
      }
    }
  }
  set_matmul_exact(false);
}

// matmul_batch with separate inputs (the shared and routed experts' projections): each product
// equals its own matmul call, with distinct and shared inputs, different token counts per task,
// empty tasks, and the unfused fallback when one task has T >= 4 or in exact mode.
TEST(QDot, MatmulBatchMatchesSeparateCalls) {
  std::mt19937 rng(47);
  auto make = [&](DType t, int64_t rows, int64_t cols, std::vector<uint8_t>& buf) {
    auto wf = random_floats(rows * cols, rng, 0.05f);
    buf.resize(rows * dtype_row_bytes(t, cols));
    for (int64_t r = 0; r < rows; ++r) quant::quantize(t, wf.data() + r * cols, buf.data() + r * dtype_row_bytes(t, cols), cols);
    return WeightMatrix{t, buf.data(), rows, cols, cols, false};
  };
  std::vector<uint8_t> b0, b1, b2, b3;
  const WeightMatrix W0 = make(DType::Q4_K, 70, 512, b0), W1 = make(DType::Q8_0, 33, 512, b1),
                     W2 = make(DType::Q6_K, 130, 256, b2), W3 = make(DType::Q4_0, 48, 256, b3);
  for (bool exact : {false, true})
    for (int64_t Tb : {int64_t{1}, int64_t{3}, int64_t{4}}) {
      set_matmul_exact(exact);
      const int64_t Ta = 2;
      auto xa = random_floats(Ta * 512, rng), xb = random_floats(Tb * 256, rng);
      std::vector<float> y0(Ta * 70), y1(Ta * 33), y2(Tb * 130), y3(Tb * 48), unused(1, -3.0f);
      const MatmulTask tasks[] = {{xa.data(), Ta, &W0, y0.data()},
                                  {xb.data(), Tb, &W2, y2.data()},
                                  {xa.data(), 0, &W1, unused.data()},
                                  {xa.data(), Ta, &W1, y1.data()},
                                  {xb.data(), Tb, &W3, y3.data()}};
      matmul_batch(tasks, 5);
      std::vector<float> r0(y0.size()), r1(y1.size()), r2(y2.size()), r3(y3.size());
      matmul(xa.data(), Ta, W0, r0.data());
      matmul(xa.data(), Ta, W1, r1.data());
      matmul(xb.data(), Tb, W2, r2.data());
      matmul(xb.data(), Tb, W3, r3.data());
      EXPECT_EQ(y0, r0) << "T=" << Tb << " exact " << exact;
      EXPECT_EQ(y1, r1) << "T=" << Tb << " exact " << exact;
      EXPECT_EQ(y2, r2) << "T=" << Tb << " exact " << exact;
      EXPECT_EQ(y3, r3) << "T=" << Tb << " exact " << exact;
      EXPECT_EQ(unused[0], -3.0f);
    }
  set_matmul_exact(false);
}

// ---- Interleaved 16-row groups (kernels/row_interleave.h) ----

const DType kInterleavedTypes[] = {DType::Q6_K, DType::Q4_K, DType::Q8_0};

std::vector<uint8_t> random_matrix(DType t, int64_t rows, int64_t cols, std::mt19937& rng, bool from_floats) {
  const size_t rb = dtype_row_bytes(t, cols);
  std::vector<uint8_t> w(rows * rb);
  for (int64_t r = 0; r < rows; ++r) {
    if (from_floats) {
      auto wf = random_floats(cols, rng, 0.05f);
      quant::quantize(t, wf.data(), w.data() + r * rb, cols);
    } else {
      auto b = random_blocks(t, cols, rng);
      std::memcpy(w.data() + r * rb, b.data(), rb);
    }
  }
  return w;
}

TEST(RowInterleave, RoundTripsAndReadsRows) {
  std::mt19937 rng(61);
  EXPECT_TRUE(interleavable(DType::Q6_K, 48, 512));
  EXPECT_TRUE(interleavable(DType::Q4_K, 48, 512));
  EXPECT_FALSE(interleavable(DType::Q6_K, 40, 512));  // rows not a multiple of 16
  EXPECT_FALSE(interleavable(DType::Q6_K, 48, 0));
  EXPECT_TRUE(interleavable(DType::Q8_0, 48, 96));
  EXPECT_FALSE(interleavable(DType::Q4_0, 48, 512));  // no such layout
  EXPECT_FALSE(interleavable(DType::Q5_K, 48, 512));
  for (DType t : kInterleavedTypes) {
    const int64_t rows = 48, cols = 768;
    const size_t rb = dtype_row_bytes(t, cols);
    const auto w = random_matrix(t, rows, cols, rng, false);
    auto il = w;
    interleave_rows(t, il.data(), rows, cols);
    EXPECT_NE(il, w) << dtype_name(t);  // really rearranged
    std::vector<uint8_t> back(rb * 16);
    for (int64_t g = 0; g < rows / 16; ++g) {
      deinterleave_group(t, il.data() + g * 16 * rb, cols, back.data());
      EXPECT_TRUE(std::equal(back.begin(), back.end(), w.begin() + g * 16 * rb)) << dtype_name(t) << " group " << g;
    }
    WeightMatrix std_w{t, w.data(), rows, cols, cols, false};
    WeightMatrix il_w = std_w;
    il_w.data = il.data();
    il_w.interleaved = true;
    for (auto [r0, n] : {std::pair<int64_t, int64_t>{0, 48}, {5, 30}, {17, 1}, {31, 2}, {47, 1}}) {
      std::vector<uint8_t> got(n * rb);
      il_w.stored_rows(r0, n, got.data());
      EXPECT_TRUE(std::equal(got.begin(), got.end(), w.begin() + r0 * rb)) << dtype_name(t) << " " << r0 << " " << n;
    }
    std::vector<float> a(cols), b(cols);
    for (int64_t r : {0, 15, 16, 37}) {
      std_w.row(r, a.data());
      il_w.row(r, b.data());
      EXPECT_EQ(a, b) << dtype_name(t) << " " << r;
      EXPECT_EQ(il_w.at(r, 300), std_w.at(r, 300)) << dtype_name(t) << " " << r;
    }
    EXPECT_THROW(interleave_rows(t, il.data(), 40, cols), Error);
  }
  std::vector<uint8_t> q4(48 * dtype_row_bytes(DType::Q4_0, 256));
  EXPECT_THROW(interleave_rows(DType::Q4_0, q4.data(), 48, 256), Error);
}

// The interleaved decode kernels against the dequantize-then-f64 value of the same quantized
// operands (and so against the standard-layout kernels), for 1-4 tokens, with and without their
// prefetches, on random bit patterns and on quantized data.
TEST(RowInterleave, KernelMatchesDequantized) {
  const CpuFeatures& c = cpu_features();
  if (!(use_avx512() && c.avx512vnni)) {
    for (DType t : kInterleavedTypes) EXPECT_EQ(qdot_rows16_kernel(t), nullptr);
    GTEST_SKIP() << "no AVX-512 VNNI: weights are never interleaved here";
  }
  EXPECT_EQ(qdot_rows16_kernel(DType::Q4_0), nullptr);
  EXPECT_EQ(qdot_rows16_kernel(DType::Q5_K), nullptr);
  std::mt19937 rng(67);
  for (DType type : kInterleavedTypes) {
    QDotRows16Fn k16 = qdot_rows16_kernel(type);
    ASSERT_NE(k16, nullptr) << dtype_name(type);
    for (int64_t cols : {int64_t{96}, int64_t{256}, int64_t{512}, int64_t{1280}})
      for (bool from_floats : {false, true}) {
        if (cols % dtype_block_size(type) != 0) continue;
        const int64_t rows = 32;
        const size_t rb = dtype_row_bytes(type, cols);
        const auto w = random_matrix(type, rows, cols, rng, from_floats);
        auto il = w;
        interleave_rows(type, il.data(), rows, cols);
        const int T = 4;
        auto x = random_floats(T * cols, rng);
        QActs a;
        quantize_acts(x.data(), T, cols, act_kind(type), a);
        const int64_t abs = a.kind == ActKind::Q8_0 ? 32 : 256;  // activation scale block
        ActRow ar[4];
        for (int t = 0; t < T; ++t) ar[t] = act_row(a, t);
        std::vector<double> ref(T * rows), mag(T * rows);
        std::vector<float> wd(cols);
        for (int64_t r = 0; r < rows; ++r) {
          to_f32(type, w.data() + r * rb, wd.data(), cols);
          for (int t = 0; t < T; ++t)
            for (int64_t i = 0; i < cols; ++i) {
              const double p = double(wd[i]) * ar[t].q[i] * ar[t].d[i / abs];
              ref[t * rows + r] += p;
              mag[t * rows + r] += std::fabs(p);
            }
        }
        for (int nt = 1; nt <= 4; ++nt)
          for (size_t pf : {size_t{0}, size_t{1}}) {
            std::vector<float> y(nt * rows + 1, -7.0f);
            k16(cols, il.data(), rows / 16, ar, nt, y.data(), rows, pf);
            for (int t = 0; t < nt; ++t)
              for (int64_t r = 0; r < rows; ++r)
                EXPECT_NEAR(y[t * rows + r], ref[t * rows + r], 1e-5 * mag[t * rows + r] + 1e-6)
                    << dtype_name(type) << " cols " << cols << " nt " << nt << " token " << t << " row " << r;
            EXPECT_EQ(y[nt * rows], -7.0f);
          }
      }
  }
}

// matmul on an interleaved matrix: the one-token path (also through matmul_batch with row ranges
// that cut groups) agrees with the standard layout to f32 rounding; the prefill GEMM and exact
// mode, which read standard rows restored from the groups, agree exactly.
TEST(RowInterleave, MatmulPathsMatchStandardLayout) {
  std::mt19937 rng(71);
  for (DType type : kInterleavedTypes) {
    if (!qdot_rows16_kernel(type)) GTEST_SKIP() << "no interleaved kernel on this CPU";
    const int64_t rows = 64, cols = 512;
    const auto w = random_matrix(type, rows, cols, rng, true);
    auto il = w;
    interleave_rows(type, il.data(), rows, cols);
    const WeightMatrix std_w{type, w.data(), rows, cols, cols, false};
    WeightMatrix il_w = std_w;
    il_w.data = il.data();
    il_w.interleaved = true;
    std::vector<uint8_t> b0;
    auto wf = random_floats(24 * 256, rng, 0.05f);
    b0.resize(24 * dtype_row_bytes(DType::Q8_0, 256));
    for (int64_t r = 0; r < 24; ++r) quant::quantize(DType::Q8_0, wf.data() + r * 256, b0.data() + r * dtype_row_bytes(DType::Q8_0, 256), 256);
    const WeightMatrix W0{DType::Q8_0, b0.data(), 24, 256, 256, false};  // 24 rows: shifts the next task off the 16-row grid
    for (bool exact : {false, true})
      for (int64_t T : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{5}, int64_t{20}}) {
        set_matmul_exact(exact);
        auto x = random_floats(T * cols, rng);
        std::vector<float> y_std(T * rows), y_il(T * rows);
        matmul(x.data(), T, std_w, y_std.data());
        matmul(x.data(), T, il_w, y_il.data());
        if (exact || T >= 4) {
          EXPECT_EQ(y_il, y_std) << dtype_name(type) << " T " << T << " exact " << exact;
        } else {
          double scale = 0;
          for (float v : y_std) scale = std::max(scale, double(std::fabs(v)));
          for (size_t i = 0; i < y_std.size(); ++i) EXPECT_NEAR(y_il[i], y_std[i], 1e-5 * scale) << dtype_name(type) << " T " << T << " i " << i;
        }
        auto x0 = random_floats(T * 256, rng);
        std::vector<float> y0(T * 24), y_batch(T * rows);
        const MatmulTask tasks[] = {{x0.data(), T, &W0, y0.data()}, {x.data(), T, &il_w, y_batch.data()}};
        matmul_batch(tasks, 2);
        EXPECT_EQ(y_batch, y_il) << dtype_name(type) << " T " << T << " exact " << exact;
      }
    set_matmul_exact(false);
  }
}

// The one-token multi-row kernel (decode) gives exactly the one-row kernel's values, for every
// row, with row strides longer than a row, partial 16-block steps (Q8_0) and any prefetch
// distance, and stays within the 8-bit activation error of dequantize-then-f32; it exists for
// Q8_0, Q4_K and Q6_K at the AVX-512 level only.
TEST(QDot, RowsKernelMatchesOneRowKernel) {
  std::mt19937 rng(43);
  const CpuFeatures& c = cpu_features();
  const bool avx512 = c.avx512f && c.avx512bw && c.avx512vl && c.avx512vnni;
  for (DType t : kBlockTypes) {
    QDotRowsFn rows_fn = avx512 ? avx512::qdot_rows_kernel(t) : nullptr;
    const bool has = t == DType::Q8_0 || t == DType::Q4_K || t == DType::Q6_K;
    if (!has) EXPECT_EQ(rows_fn, nullptr) << dtype_name(t);
    if (!rows_fn) continue;
    QDotFn one = avx512::qdot_kernel(t);
    const bool k = dtype_block_size(t) == 256;
    const std::vector<int64_t> ns = k ? std::vector<int64_t>{256, 512, 1024, 1280} : std::vector<int64_t>{32, 544, 1024, 1088};
    for (int64_t n : ns) {
      const int64_t ld = n + (k ? 256 : 64), rows = 21;
      const size_t stride = dtype_row_bytes(t, ld);
      std::vector<uint8_t> w(rows * stride);
      for (int64_t r = 0; r < rows; ++r) {
        auto wf = random_floats(ld, rng, 0.05f);
        quant::quantize(t, wf.data(), w.data() + r * stride, ld);
      }
      auto x = random_floats(n, rng);
      QActs a;
      quantize_acts(x.data(), 1, n, act_kind(t), a);
      const ActRow row = act_row(a, 0);
      for (int64_t nr : {int64_t{1}, int64_t{3}, int64_t{21}})
        for (size_t pf : {size_t{0}, size_t{64}, size_t{4096}}) {
          std::vector<float> y(nr + 1, -7.0f);
          rows_fn(n, w.data(), stride, nr, row, y.data(), pf);
          for (int64_t r = 0; r < nr; ++r) {
            float want;
            one(n, w.data() + r * stride, &row, 1, &want);
            EXPECT_EQ(y[r], want) << dtype_name(t) << " n=" << n << " nr=" << nr << " row " << r;
            // against dequantize-then-f32 on the unquantized activations
            std::vector<float> wd(n);
            to_f32(t, w.data() + r * stride, wd.data(), n);
            double ref = 0, mag = 0;
            for (int64_t c = 0; c < n; ++c) ref += double(wd[c]) * x[c], mag += std::fabs(wd[c] * x[c]);
            EXPECT_NEAR(y[r], ref, 0.02 * mag) << dtype_name(t) << " n=" << n << " row " << r;
          }
          EXPECT_EQ(y[nr], -7.0f);
        }
    }
  }
  if (!use_avx512()) EXPECT_EQ(qdot_rows_kernel(DType::Q8_0), nullptr);  // HERD_KERNELS=scalar|avx2
}

}  // namespace
