#include "train/blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/sgemm.h"
#include "train/simd.h"

namespace herd::train {

namespace {
bool k512() {
  static const bool v = use_avx512();
  return v;
}
}  // namespace

// ------------------------------------------------------------------ embedding
void embedding_forward(const int32_t* ids, int64_t N, const float* table, int64_t D, float* out) {
  for (int64_t n = 0; n < N; ++n) std::memcpy(out + n * D, table + static_cast<int64_t>(ids[n]) * D, D * sizeof(float));
}

void embedding_backward(const int32_t* ids, int64_t N, const float* dout, int64_t D, float* dtable) {
  for (int64_t n = 0; n < N; ++n) {
    float* row = dtable + static_cast<int64_t>(ids[n]) * D;
    const float* g = dout + n * D;
    for (int64_t i = 0; i < D; ++i) row[i] += g[i];
  }
}

// ------------------------------------------------------------------ RMSNorm
void rmsnorm_forward(const float* x, const float* w, float* y, float* rstd, int64_t N, int64_t D, float eps) {
  if (k512()) {
    for (int64_t n = 0; n < N; ++n) rstd[n] = avx512::rmsnorm_row(x + n * D, w, y + n * D, D, eps);
    return;
  }
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * D;
    float* yr = y + n * D;
    double ss = 0;
    for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(D) + eps));
    rstd[n] = r;
    if (w)
      for (int64_t i = 0; i < D; ++i) yr[i] = xr[i] * r * w[i];
    else
      for (int64_t i = 0; i < D; ++i) yr[i] = xr[i] * r;
  }
}

// y_i = x_i r w_i, r = (mean x^2 + eps)^-1/2, dr/dx_j = -r^3 x_j / D
// dx_j = r w_j dy_j - (r^3 / D) x_j sum_i(dy_i w_i x_i);  dw_i = sum_n dy_i x_i r
void rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                      int64_t N, int64_t D) {
  if (k512()) {
    for (int64_t n = 0; n < N; ++n)
      avx512::rmsnorm_backward_row(x + n * D, w, rstd[n], dy + n * D, dx + n * D, dw, D);
    return;
  }
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * D;
    const float* g = dy + n * D;
    float* d = dx + n * D;
    const float r = rstd[n];
    double dot = 0;
    for (int64_t i = 0; i < D; ++i) dot += static_cast<double>(g[i]) * (w ? w[i] : 1.0f) * xr[i];
    const float c = static_cast<float>(dot) * r * r * r / static_cast<float>(D);
    for (int64_t i = 0; i < D; ++i) d[i] += r * (w ? w[i] : 1.0f) * g[i] - c * xr[i];
    if (dw)
      for (int64_t i = 0; i < D; ++i) dw[i] += g[i] * xr[i] * r;
  }
}

// ------------------------------------------------------------------ linear / matmul
void linear_forward(const float* x, const float* W, float* y, int64_t N, int64_t in, int64_t out) {
  sgemm(false, true, N, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
}

void linear_backward(const float* x, const float* W, const float* dy, float* dx, float* dW, int64_t N, int64_t in,
                     int64_t out, float dx_beta) {
  if (dx) sgemm(false, false, N, in, out, 1.0f, dy, out, W, in, dx_beta, dx, in);  // dx += dy W
  if (dW) sgemm(true, false, out, in, N, 1.0f, dy, out, x, in, 1.0f, dW, in);      // dW += dy^T x
}

void matmul_forward(const float* x, const float* W, float* y, int64_t N, int64_t in, int64_t out) {
  sgemm(false, false, N, out, in, 1.0f, x, in, W, out, 0.0f, y, out);
}

void matmul_backward(const float* x, const float* W, const float* dy, float* dx, float* dW, int64_t N, int64_t in,
                     int64_t out, float dx_beta) {
  if (dx) sgemm(false, true, N, in, out, 1.0f, dy, out, W, out, dx_beta, dx, in);  // dx += dy W^T
  if (dW) sgemm(true, false, in, out, N, 1.0f, x, in, dy, out, 1.0f, dW, out);     // dW += x^T dy
}

// ------------------------------------------------------------------ RoPE
void rope_tables(const std::vector<double>& inv_freq, int64_t max_pos, std::vector<float>& cs, std::vector<float>& sn) {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  cs.resize(max_pos * half);
  sn.resize(max_pos * half);
  for (int64_t p = 0; p < max_pos; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) * inv_freq[i];
      cs[p * half + i] = static_cast<float>(std::cos(a));
      sn[p * half + i] = static_cast<float>(std::sin(a));
    }
}

static void rope_apply(float* x, int64_t N, const int64_t* pos, int heads, int hd, const float* cs, const float* sn,
                       float sign) {
  const int half = hd / 2;
  for (int64_t n = 0; n < N; ++n) {
    const float* c = cs + pos[n] * half;
    const float* s = sn + pos[n] * half;
    for (int h = 0; h < heads; ++h) {
      float* v = x + (n * heads + h) * hd;
      for (int i = 0; i < half; ++i) {
        const float a = v[2 * i], b = v[2 * i + 1], si = sign * s[i];
        v[2 * i] = a * c[i] - b * si;
        v[2 * i + 1] = a * si + b * c[i];
      }
    }
  }
}

void rope_forward(float* x, int64_t N, const int64_t* pos, int heads, int hd, const float* cs, const float* sn) {
  rope_apply(x, N, pos, heads, hd, cs, sn, 1.0f);
}

// The rotation is orthogonal, so its transpose (rotation by -angle) maps output to input grads.
void rope_backward(float* dx, int64_t N, const int64_t* pos, int heads, int hd, const float* cs, const float* sn) {
  rope_apply(dx, N, pos, heads, hd, cs, sn, -1.0f);
}

// ------------------------------------------------------------------ attention
static inline int64_t first_key(int64_t i, int64_t chunk) { return chunk > 0 ? (i / chunk) * chunk : 0; }

// Queries are taken in blocks of at most kQBlock rows that never straddle a chunk boundary, so
// every query of a block sees keys [first_key(i0), i] and the block only needs the key columns
// [first_key(i0), i1): the score/probability GEMMs skip the masked part of the T x T matrix
// (3/4 of it for chunk 64 at T 256, about 3/8 for full causal) instead of computing it and
// masking it afterwards.
static constexpr int64_t kQBlock = 64;
static inline int64_t block_end(int64_t i0, int64_t T, int64_t chunk) {
  int64_t i1 = std::min(T, i0 + kQBlock);
  if (chunk > 0) i1 = std::min(i1, (i0 / chunk + 1) * chunk);
  return i1;
}

// In-place softmax of row[lo..hi] (inclusive), zeros elsewhere in [0, T).
static void softmax_masked_row(float* row, int64_t lo, int64_t hi, int64_t T) {
  for (int64_t j = 0; j < lo; ++j) row[j] = 0.0f;
  for (int64_t j = hi + 1; j < T; ++j) row[j] = 0.0f;
  if (k512()) {
    const float mx = avx512::max(row + lo, hi - lo + 1);
    const float sum = avx512::exp_sub_sum(row + lo, hi - lo + 1, mx);
    avx512::scale(row + lo, hi - lo + 1, static_cast<float>(1.0 / static_cast<double>(sum)));
    return;
  }
  float mx = -INFINITY;
  for (int64_t j = lo; j <= hi; ++j) mx = std::max(mx, row[j]);
  double sum = 0;
  for (int64_t j = lo; j <= hi; ++j) {
    row[j] = std::exp(row[j] - mx);
    sum += row[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = lo; j <= hi; ++j) row[j] *= inv;
}

// M^T [hd, T] of a [T, hd] head slice with row stride ld. The score-side products then use
// OpenBLAS's nn kernels: 15-25% faster than nt for these shapes in a microbenchmark, and the
// same bits (checked: identical weights and optimizer state after training steps).
static void transpose_head(const float* M, int64_t ld, int64_t T, int hd, float* MT) {
  for (int64_t j = 0; j < T; ++j)
    for (int c = 0; c < hd; ++c) MT[c * T + j] = M[j * ld + c];
}

void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* probs) {
  const int64_t T = s.T, qd = static_cast<int64_t>(s.H) * s.hd, kvd = static_cast<int64_t>(s.KV) * s.hd;
  const int G = s.H / s.KV;
  std::vector<float> kt(static_cast<size_t>(s.hd) * T);  // K^T of the current KV head
  for (int64_t b = 0; b < s.B; ++b)
    for (int h = 0; h < s.H; ++h) {
      const float* Q = q + b * T * qd + h * s.hd;
      const float* K = k + b * T * kvd + (h / G) * s.hd;
      const float* Vv = v + b * T * kvd + (h / G) * s.hd;
      if (h % G == 0) transpose_head(K, kvd, T, s.hd, kt.data());
      float* P = probs + (b * s.H + h) * T * T;
      float* O = out + b * T * qd + h * s.hd;
      for (int64_t i0 = 0; i0 < T; i0 = block_end(i0, T, s.chunk)) {
        const int64_t i1 = block_end(i0, T, s.chunk), lo = first_key(i0, s.chunk), nk = i1 - lo;
        sgemm(false, false, i1 - i0, nk, s.hd, s.scale, Q + i0 * qd, qd, kt.data() + lo, T, 0.0f, P + i0 * T + lo, T);
        for (int64_t i = i0; i < i1; ++i) softmax_masked_row(P + i * T, lo, i, T);
        sgemm(false, false, i1 - i0, s.hd, nk, 1.0f, P + i0 * T + lo, T, Vv + lo * kvd, kvd, 0.0f, O + i0 * qd, qd);
      }
    }
}

// O = P V, P = softmax(S), S = scale Q K^T:
// dP = dO V^T; dS = P * (dP - rowsum(P * dP)); dQ = scale dS K; dK += scale dS^T Q; dV += P^T dO
// Per query block, over the same visible key columns as the forward.
void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* probs,
                        const float* dout, float* dq, float* dk, float* dv, std::vector<float>& scratch) {
  const int64_t T = s.T, qd = static_cast<int64_t>(s.H) * s.hd, kvd = static_cast<int64_t>(s.KV) * s.hd;
  const int G = s.H / s.KV;
  scratch.resize(std::min(T, kQBlock) * T + static_cast<int64_t>(s.hd) * T);
  float* dS = scratch.data();
  float* vt = dS + std::min(T, kQBlock) * T;  // V^T of the current KV head
  for (int64_t b = 0; b < s.B; ++b)
    for (int h = 0; h < s.H; ++h) {
      const float* Q = q + b * T * qd + h * s.hd;
      const float* K = k + b * T * kvd + (h / G) * s.hd;
      const float* Vv = v + b * T * kvd + (h / G) * s.hd;
      const float* dO = dout + b * T * qd + h * s.hd;
      const float* P = probs + (b * s.H + h) * T * T;
      float* dQ = dq + b * T * qd + h * s.hd;
      float* dK = dk + b * T * kvd + (h / G) * s.hd;
      float* dV = dv + b * T * kvd + (h / G) * s.hd;
      if (h % G == 0) transpose_head(Vv, kvd, T, s.hd, vt);
      for (int64_t i0 = 0; i0 < T; i0 = block_end(i0, T, s.chunk)) {
        const int64_t i1 = block_end(i0, T, s.chunk), lo = first_key(i0, s.chunk), nk = i1 - lo, nq = i1 - i0;
        const float* Pb = P + i0 * T + lo;
        sgemm(false, false, nq, nk, s.hd, 1.0f, dO + i0 * qd, qd, vt + lo, T, 0.0f, dS, nk);  // dP
        for (int64_t i = i0; i < i1; ++i) {
          const float* pr = Pb + (i - i0) * T;
          float* r = dS + (i - i0) * nk;
          const int64_t n = i - lo + 1;  // visible keys; the rest of the row is masked
          if (k512()) {
            avx512::softmax_grad(pr, r, n, avx512::dot(pr, r, n));
          } else {
            double dot = 0;
            for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(pr[j]) * r[j];
            const float d = static_cast<float>(dot);
            for (int64_t j = 0; j < n; ++j) r[j] = pr[j] * (r[j] - d);
          }
          for (int64_t j = n; j < nk; ++j) r[j] = 0.0f;
        }
        sgemm(false, false, nq, s.hd, nk, s.scale, dS, nk, K + lo * kvd, kvd, 0.0f, dQ + i0 * qd, qd);
        sgemm(true, false, nk, s.hd, nq, s.scale, dS, nk, Q + i0 * qd, qd, 1.0f, dK + lo * kvd, kvd);
        sgemm(true, false, nk, s.hd, nq, 1.0f, Pb, T, dO + i0 * qd, qd, 1.0f, dV + lo * kvd, kvd);
      }
    }
}

// ------------------------------------------------------------------ SwiGLU
void swiglu_forward(const float* g, const float* u, float* act, int64_t N, int64_t F, int64_t ld_in) {
  if (k512()) {
    for (int64_t n = 0; n < N; ++n) avx512::swiglu_row(g + n * ld_in, u + n * ld_in, act + n * F, F);
    return;
  }
  for (int64_t n = 0; n < N; ++n) {
    const float* gr = g + n * ld_in;
    const float* ur = u + n * ld_in;
    float* a = act + n * F;
    for (int64_t i = 0; i < F; ++i) a[i] = gr[i] * sigmoidf(gr[i]) * ur[i];
  }
}

// silu'(g) = sig(g) (1 + g (1 - sig(g)))
void swiglu_backward(const float* g, const float* u, const float* dact, float* dg, float* du, int64_t N, int64_t F,
                     int64_t ld_in) {
  if (k512()) {
    for (int64_t n = 0; n < N; ++n)
      avx512::swiglu_backward_row(g + n * ld_in, u + n * ld_in, dact + n * F, dg + n * ld_in, du + n * ld_in, F);
    return;
  }
  for (int64_t n = 0; n < N; ++n) {
    const float* gr = g + n * ld_in;
    const float* ur = u + n * ld_in;
    const float* da = dact + n * F;
    float* dgr = dg + n * ld_in;
    float* dur = du + n * ld_in;
    for (int64_t i = 0; i < F; ++i) {
      const float sg = sigmoidf(gr[i]);
      const float silu = gr[i] * sg;
      dgr[i] = da[i] * ur[i] * sg * (1.0f + gr[i] * (1.0f - sg));
      dur[i] = da[i] * silu;
    }
  }
}

// ------------------------------------------------------------------ cross-entropy
static int64_t count_targets(const int32_t* targets, int64_t N) {
  int64_t c = 0;
  for (int64_t n = 0; n < N; ++n) c += targets[n] >= 0;
  return c;
}

double cross_entropy_forward(const float* logits, const int32_t* targets, int64_t N, int64_t V, float* lse) {
  double total = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = logits + n * V;
    if (k512()) {
      const float mx = avx512::max(row, V);
      lse[n] = mx + std::log(avx512::sum_exp(row, V, mx));
    } else {
      float mx = row[0];
      for (int64_t i = 1; i < V; ++i) mx = std::max(mx, row[i]);
      float sum = 0;
      for (int64_t i = 0; i < V; ++i) sum += std::exp(row[i] - mx);
      lse[n] = mx + std::log(sum);
    }
    if (targets[n] >= 0) total += static_cast<double>(lse[n]) - row[targets[n]];
  }
  const int64_t c = count_targets(targets, N);
  return c ? total / static_cast<double>(c) : 0.0;
}

void cross_entropy_backward(const float* logits, const float* lse, const int32_t* targets, int64_t N, int64_t V,
                            float scale, float* dlogits) {
  const int64_t c = count_targets(targets, N);
  const float g = c ? scale / static_cast<float>(c) : 0.0f;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = logits + n * V;
    float* d = dlogits + n * V;
    const int32_t t = targets[n];
    if (t < 0) {
      std::fill(d, d + V, 0.0f);
      continue;
    }
    if (k512())
      avx512::exp_scale(row, V, lse[n], g, d);
    else
      for (int64_t i = 0; i < V; ++i) d[i] = std::exp(row[i] - lse[n]) * g;
    d[t] -= g;
  }
}

}  // namespace herd::train
