#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/vec.h"

namespace herd {

void rms_norm(const float* x, const float* w, float* y, int64_t T, int64_t n, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * n;
    float* yr = y + t * n;
    // Eight partial sums in double: one serial chain cost ~4 cycles per element (~1.4 us for a
    // 1024-wide row; decode normalizes ~3300 elements per layer).
    double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) p[j] += static_cast<double>(xr[i + j]) * xr[i + j];
    double ss = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
    for (; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
    if (w)
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * r * w[i];
    else
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * r;
  }
}

namespace {

// Rotates every head of row t by the angles pos*inv_freq[i]; Pair gives the two elements of pair i.
// cos/sin of one position's angles, kept per thread: decode rotates q and k of every layer at
// the same position, and 64 double-precision sin/cos pairs cost ~3 us each time.
struct RopeAngles {
  int64_t pos = -1;
  std::vector<double> freq;
  std::vector<float> cs, sn;
  void set(int64_t p, const double* inv_freq, int half) {
    if (p == pos && static_cast<int>(freq.size()) == half && std::equal(freq.begin(), freq.end(), inv_freq)) return;
    freq.assign(inv_freq, inv_freq + half);
    cs.resize(half);
    sn.resize(half);
    for (int i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) * inv_freq[i];
      cs[i] = static_cast<float>(std::cos(a));
      sn[i] = static_cast<float>(std::sin(a));
    }
    pos = p;
  }
};

template <typename Pair>
void rope_rows(float* x, int64_t T, int n_heads, int head_dim, const int64_t* pos, const double* inv_freq, Pair pair) {
  const int half = head_dim / 2;
  thread_local RopeAngles angles;
  for (int64_t t = 0; t < T; ++t) {
    angles.set(pos[t], inv_freq, half);
    const float *cs = angles.cs.data(), *sn = angles.sn.data();
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        auto [p0, p1] = pair(i, half);
        const float a = v[p0], b = v[p1];
        v[p0] = a * cs[i] - b * sn[i];
        v[p1] = a * sn[i] + b * cs[i];
      }
    }
  }
}

}  // namespace

void rope_interleaved(float* x, int64_t T, int n_heads, int head_dim, const int64_t* pos, const double* inv_freq) {
  rope_rows(x, T, n_heads, head_dim, pos, inv_freq, [](int i, int) { return std::pair<int, int>(2 * i, 2 * i + 1); });
}

void rope_rotate_half(float* x, int64_t T, int n_heads, int head_dim, const int64_t* pos, const double* inv_freq) {
  rope_rows(x, T, n_heads, head_dim, pos, inv_freq, [](int i, int half) { return std::pair<int, int>(i, i + half); });
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  if (use_avx512()) return avx512::silu_mul(gate, up, out, n);
  for (int64_t i = 0; i < n; ++i) {
    float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax(float* x, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  if (m == -INFINITY) {
    for (int64_t i = 0; i < n; ++i) x[i] = 0;
    return;
  }
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    s += x[i];
  }
  float inv = static_cast<float>(1.0 / s);
  scale_f32(inv, x, static_cast<size_t>(n));
}

}  // namespace herd
