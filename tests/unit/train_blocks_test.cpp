// Finite-difference checks of every training block's backward against its forward, one block
// at a time: L = <r, y(x, w)> with a fixed random r, central differences in x and w.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "train/blocks.h"

using namespace herd::train;

namespace {

std::vector<float> randv(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

double dotd(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Compares analytic gradient `an` of scalar L(v) with central differences of L at every entry
// of v (v is perturbed in place and restored).
void check_fd(std::vector<float>& v, const std::vector<float>& an, const std::function<double()>& L, const char* what,
              float eps = 1e-3f, float atol = 3e-3f, float rtol = 1e-2f) {
  ASSERT_EQ(v.size(), an.size());
  int bad = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const float old = v[i];
    v[i] = old + eps;
    const double lp = L();
    v[i] = old - eps;
    const double lm = L();
    v[i] = old;
    const double fd = (lp - lm) / (2.0 * eps);
    if (std::fabs(fd - an[i]) > atol + rtol * std::fabs(fd)) {
      if (++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: analytic " << an[i] << " vs finite difference " << fd;
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

}  // namespace

TEST(TrainBlocks, RmsNormWithAndWithoutWeight) {
  const int64_t N = 3, D = 8;
  for (bool weighted : {true, false}) {
    auto x = randv(N * D, 1), w = randv(D, 2), r = randv(N * D, 3);
    std::vector<float> y(N * D), rstd(N);
    auto L = [&] {
      rmsnorm_forward(x.data(), weighted ? w.data() : nullptr, y.data(), rstd.data(), N, D, 1e-5f);
      return dotd(r, y);
    };
    L();
    std::vector<float> dx(N * D, 0.0f), dw(D, 0.0f);
    rmsnorm_backward(x.data(), weighted ? w.data() : nullptr, rstd.data(), r.data(), dx.data(), weighted ? dw.data() : nullptr,
                     N, D);
    check_fd(x, dx, L, "rmsnorm dx");
    if (weighted) check_fd(w, dw, L, "rmsnorm dw");
  }
}

TEST(TrainBlocks, LinearAndMatmul) {
  const int64_t N = 4, in = 6, out = 5;
  auto x = randv(N * in, 4), W = randv(out * in, 5), r = randv(N * out, 6);
  std::vector<float> y(N * out);
  auto Llin = [&] {
    linear_forward(x.data(), W.data(), y.data(), N, in, out);
    return dotd(r, y);
  };
  std::vector<float> dx(N * in, 0.0f), dW(out * in, 0.0f);
  Llin();
  linear_backward(x.data(), W.data(), r.data(), dx.data(), dW.data(), N, in, out);
  check_fd(x, dx, Llin, "linear dx");
  check_fd(W, dW, Llin, "linear dW");

  auto Lmm = [&] {  // W read as [in, out]
    matmul_forward(x.data(), W.data(), y.data(), N, in, out);
    return dotd(r, y);
  };
  std::fill(dx.begin(), dx.end(), 0.0f);
  std::fill(dW.begin(), dW.end(), 0.0f);
  Lmm();
  matmul_backward(x.data(), W.data(), r.data(), dx.data(), dW.data(), N, in, out);
  check_fd(x, dx, Lmm, "matmul dx");
  check_fd(W, dW, Lmm, "matmul dW");
}

TEST(TrainBlocks, Embedding) {
  const int64_t V = 5, D = 3, N = 6;
  std::vector<int32_t> ids = {0, 3, 3, 1, 4, 0};
  auto table = randv(V * D, 7), r = randv(N * D, 8);
  std::vector<float> y(N * D);
  auto L = [&] {
    embedding_forward(ids.data(), N, table.data(), D, y.data());
    return dotd(r, y);
  };
  L();
  std::vector<float> dt(V * D, 0.0f);
  embedding_backward(ids.data(), N, r.data(), D, dt.data());
  check_fd(table, dt, L, "embedding");
}

TEST(TrainBlocks, RopeIsInvertedByItsBackward) {
  const int64_t N = 5;
  const int H = 2, hd = 8;
  std::vector<double> inv = {1.0, 0.3, 0.05, 0.001};
  std::vector<float> cs, sn;
  rope_tables(inv, 16, cs, sn);
  std::vector<int64_t> pos = {0, 1, 7, 3, 15};
  auto x = randv(N * H * hd, 9), r = randv(N * H * hd, 10);
  auto L = [&] {
    std::vector<float> y = x;
    rope_forward(y.data(), N, pos.data(), H, hd, cs.data(), sn.data());
    return dotd(r, y);
  };
  std::vector<float> dx = r;
  rope_backward(dx.data(), N, pos.data(), H, hd, cs.data(), sn.data());
  check_fd(x, dx, L, "rope dx");
  // Independent value check: pair 0 of head 0 at position 7 rotated by 7 * 1.0 rad.
  std::vector<float> y = x;
  rope_forward(y.data(), N, pos.data(), H, hd, cs.data(), sn.data());
  const float a = x[2 * H * hd], b = x[2 * H * hd + 1];
  EXPECT_NEAR(y[2 * H * hd], a * std::cos(7.0) - b * std::sin(7.0), 1e-5);
  EXPECT_NEAR(y[2 * H * hd + 1], a * std::sin(7.0) + b * std::cos(7.0), 1e-5);
}

TEST(TrainBlocks, AttentionCausalChunkedGqa) {
  for (int64_t chunk : {0, 3}) {
    AttnShape s{2, 7, 4, 2, 4, chunk, 0.5f};
    const int64_t qd = s.H * s.hd, kvd = s.KV * s.hd, N = s.B * s.T;
    auto q = randv(N * qd, 11), k = randv(N * kvd, 12), v = randv(N * kvd, 13), r = randv(N * qd, 14);
    std::vector<float> out(N * qd), probs(s.B * s.H * s.T * s.T);
    auto L = [&] {
      attention_forward(s, q.data(), k.data(), v.data(), out.data(), probs.data());
      return dotd(r, out);
    };
    L();
    std::vector<float> dq(N * qd, 0.0f), dk(N * kvd, 0.0f), dv(N * kvd, 0.0f), scratch;
    attention_backward(s, q.data(), k.data(), v.data(), probs.data(), r.data(), dq.data(), dk.data(), dv.data(), scratch);
    check_fd(q, dq, L, "attention dq");
    check_fd(k, dk, L, "attention dk");
    check_fd(v, dv, L, "attention dv");
    // The mask: query 4 (chunk 3 -> keys 3..4) must not depend on key 2; query 1 never sees key 2.
    L();
    const float* P = probs.data();  // batch 0, head 0
    EXPECT_EQ(P[1 * s.T + 2], 0.0f);
    if (chunk == 3) {
      EXPECT_EQ(P[4 * s.T + 2], 0.0f);
      EXPECT_GT(P[4 * s.T + 3], 0.0f);
    } else {
      EXPECT_GT(P[4 * s.T + 2], 0.0f);
    }
  }
}

// The kernels work on query blocks (64 rows, split at chunk boundaries) over only the visible key
// columns; a dense double-precision reference of the same formulas must agree for sequences of
// several blocks, with chunk sizes that do and do not divide the block size.
TEST(TrainBlocks, AttentionQueryBlocksMatchDenseReference) {
  for (int64_t chunk : {0, 40, 100}) {
    AttnShape s{2, 150, 4, 2, 8, chunk, 0.35f};
    const int64_t T = s.T, qd = s.H * s.hd, kvd = s.KV * s.hd, N = s.B * T;
    const int G = s.H / s.KV;
    auto q = randv(N * qd, 21), k = randv(N * kvd, 22), v = randv(N * kvd, 23), dout = randv(N * qd, 24);
    std::vector<float> out(N * qd), probs(s.B * s.H * T * T, 7.0f);  // 7: stale values must be overwritten
    attention_forward(s, q.data(), k.data(), v.data(), out.data(), probs.data());
    std::vector<float> dq(N * qd, 5.0f), dk(N * kvd, 0.0f), dv(N * kvd, 0.0f), scratch;
    attention_backward(s, q.data(), k.data(), v.data(), probs.data(), dout.data(), dq.data(), dk.data(), dv.data(),
                       scratch);
    std::vector<double> rdq(N * qd, 0.0), rdk(N * kvd, 0.0), rdv(N * kvd, 0.0);
    double max_err = 0;
    for (int64_t b = 0; b < s.B; ++b)
      for (int h = 0; h < s.H; ++h) {
        const int kh = h / G;
        auto Q = [&](int64_t i, int d) { return static_cast<double>(q[(b * T + i) * qd + h * s.hd + d]); };
        auto K = [&](int64_t j, int d) { return static_cast<double>(k[(b * T + j) * kvd + kh * s.hd + d]); };
        auto V = [&](int64_t j, int d) { return static_cast<double>(v[(b * T + j) * kvd + kh * s.hd + d]); };
        auto dO = [&](int64_t i, int d) { return static_cast<double>(dout[(b * T + i) * qd + h * s.hd + d]); };
        for (int64_t i = 0; i < T; ++i) {
          const int64_t lo = chunk > 0 ? (i / chunk) * chunk : 0;
          std::vector<double> p(T, 0.0), dp(T, 0.0);
          double mx = -1e300, sum = 0, dot = 0;
          for (int64_t j = lo; j <= i; ++j) {
            for (int d = 0; d < s.hd; ++d) p[j] += Q(i, d) * K(j, d);
            p[j] *= s.scale;
            mx = std::max(mx, p[j]);
          }
          for (int64_t j = lo; j <= i; ++j) sum += (p[j] = std::exp(p[j] - mx));
          for (int64_t j = lo; j <= i; ++j) {
            p[j] /= sum;
            for (int d = 0; d < s.hd; ++d) dp[j] += dO(i, d) * V(j, d);
            dot += p[j] * dp[j];
          }
          for (int64_t j = 0; j < T; ++j)
            max_err = std::max(max_err, std::fabs(p[j] - probs[((b * s.H + h) * T + i) * T + j]));
          for (int d = 0; d < s.hd; ++d) {
            double o = 0;
            for (int64_t j = lo; j <= i; ++j) o += p[j] * V(j, d);
            max_err = std::max(max_err, std::fabs(o - out[(b * T + i) * qd + h * s.hd + d]));
          }
          for (int64_t j = lo; j <= i; ++j) {
            const double ds = p[j] * (dp[j] - dot) * s.scale;
            for (int d = 0; d < s.hd; ++d) {
              rdq[(b * T + i) * qd + h * s.hd + d] += ds * K(j, d);
              rdk[(b * T + j) * kvd + kh * s.hd + d] += ds * Q(i, d);
              rdv[(b * T + j) * kvd + kh * s.hd + d] += p[j] * dO(i, d);
            }
          }
        }
      }
    EXPECT_LE(max_err, 1e-5) << "forward, chunk " << chunk;
    double gerr = 0;
    for (size_t i = 0; i < dq.size(); ++i) gerr = std::max(gerr, std::fabs(rdq[i] - dq[i]));
    for (size_t i = 0; i < dk.size(); ++i) gerr = std::max(gerr, std::fabs(rdk[i] - dk[i]));
    for (size_t i = 0; i < dv.size(); ++i) gerr = std::max(gerr, std::fabs(rdv[i] - dv[i]));
    EXPECT_LE(gerr, 1e-4) << "backward, chunk " << chunk;
  }
}

TEST(TrainBlocks, SwiGlu) {
  const int64_t N = 3, F = 5;
  auto gu = randv(N * 2 * F, 15), r = randv(N * F, 16);
  std::vector<float> act(N * F);
  auto L = [&] {
    swiglu_forward(gu.data(), gu.data() + F, act.data(), N, F, 2 * F);
    return dotd(r, act);
  };
  L();
  std::vector<float> dgu(N * 2 * F, 0.0f);
  swiglu_backward(gu.data(), gu.data() + F, r.data(), dgu.data(), dgu.data() + F, N, F, 2 * F);
  check_fd(gu, dgu, L, "swiglu");
}

TEST(TrainBlocks, CrossEntropy) {
  const int64_t N = 4, V = 7;
  auto logits = randv(N * V, 17, 2.0f);
  std::vector<int32_t> t = {3, -1, 0, 6};
  std::vector<float> lse(N);
  auto L = [&] { return cross_entropy_forward(logits.data(), t.data(), N, V, lse.data()); };
  const double loss = L();
  // Independent value: mean over the 3 counted rows of log(sum exp) - logit[target].
  double ref = 0;
  for (int64_t n : {0, 2, 3}) {
    double s = 0;
    for (int64_t i = 0; i < V; ++i) s += std::exp(static_cast<double>(logits[n * V + i]));
    ref += std::log(s) - logits[n * V + t[n]];
  }
  EXPECT_NEAR(loss, ref / 3, 1e-5);
  std::vector<float> d(N * V);
  cross_entropy_backward(logits.data(), lse.data(), t.data(), N, V, 1.0f, d.data());
  check_fd(logits, d, L, "cross-entropy");
}
