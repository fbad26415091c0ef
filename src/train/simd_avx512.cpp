// AVX-512 row kernels for training (see simd.h). Built with AVX-512 flags (CMake: *_avx512.cpp);
// only called after a run-time check.
#include <immintrin.h>

#include <cmath>

#include "kernels/exp_avx512.h"
#include "train/simd.h"

namespace herd::train::avx512 {

namespace {

// Full-mask forms of sqrt/cvt: the plain intrinsics pass _mm512_undefined_ps()
// through, which GCC 12 reports as use of an uninitialized value.
constexpr __mmask16 kAll = 0xFFFF;
inline __m512 vsqrt(__m512 a) { return _mm512_mask_sqrt_ps(a, kAll, a); }
inline __m512d vcvt(__m256 a) { return _mm512_maskz_cvtps_pd(0xFF, a); }

inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }

using simd::exp512;

// 1 / (1 + exp(-x))
inline __m512 sigmoid512(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// Horizontal sum / max through memory (GCC 12's reduce/extract intrinsics pass an undefined
// value through and trip -Wuninitialized).
inline float hsum(__m512 v) {
  alignas(64) float f[16];
  _mm512_store_ps(f, v);
  float s[4];
  for (int j = 0; j < 4; ++j) s[j] = (f[j] + f[j + 4]) + (f[j + 8] + f[j + 12]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}
inline float hmax(__m512 v) {
  alignas(64) float f[16];
  _mm512_store_ps(f, v);
  float m = f[0];
  for (int j = 1; j < 16; ++j) m = f[j] > m ? f[j] : m;
  return m;
}
inline double hsum(__m512d v) {
  alignas(64) double d[8];
  _mm512_store_pd(d, v);
  return ((d[0] + d[1]) + (d[2] + d[3])) + ((d[4] + d[5]) + (d[6] + d[7]));
}

}  // namespace

float max(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    m = _mm512_mask_max_ps(m, k, m, _mm512_maskz_loadu_ps(k, x + i));
  }
  return hmax(m);
}

float exp_sub_sum(float* x, int64_t n, float sub) {
  const __m512 s = _mm512_set1_ps(sub);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s));
    _mm512_mask_storeu_ps(x + i, k, e);
    acc = _mm512_mask_add_ps(acc, k, acc, e);
  }
  return hsum(acc);
}

float sum_exp(const float* x, int64_t n, float sub) {
  const __m512 s = _mm512_set1_ps(sub);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_add_ps(a0, exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s)));
    a1 = _mm512_add_ps(a1, exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), s)));
  }
  for (; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    a0 = _mm512_mask_add_ps(a0, k, a0, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s)));
  }
  return hsum(_mm512_add_ps(a0, a1));
}

void exp_scale(const float* x, int64_t n, float sub, float mul, float* out) {
  const __m512 s = _mm512_set1_ps(sub), m = _mm512_set1_ps(mul);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s)), m));
  }
}

void scale(float* x, int64_t n, float s) {
  const __m512 v = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), v));
  }
}

float dot(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), acc);
  }
  return hsum(acc);
}

void softmax_grad(const float* p, float* r, int64_t n, float d) {
  const __m512 dv = _mm512_set1_ps(d);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 pr = _mm512_maskz_loadu_ps(k, p + i);
    _mm512_mask_storeu_ps(r + i, k, _mm512_mul_ps(pr, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, r + i), dv)));
  }
}

float rmsnorm_row(const float* x, const float* w, float* y, int64_t D, float eps) {
  const float ss = dot(x, x, D);
  const float r = static_cast<float>(1.0 / std::sqrt(static_cast<double>(ss) / static_cast<double>(D) + eps));
  const __m512 rv = _mm512_set1_ps(r);
  for (int64_t i = 0; i < D; i += 16) {
    const __mmask16 k = tail_mask(D - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), rv);
    if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, w + i));
    _mm512_mask_storeu_ps(y + i, k, v);
  }
  return r;
}

void rmsnorm_backward_row(const float* x, const float* w, float r, const float* dy, float* dx, float* dw, int64_t D) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < D; i += 16) {
    const __mmask16 k = tail_mask(D - i);
    __m512 g = _mm512_maskz_loadu_ps(k, dy + i);
    if (w) g = _mm512_mul_ps(g, _mm512_maskz_loadu_ps(k, w + i));
    acc = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(k, x + i), acc);
  }
  const float c = hsum(acc) * r * r * r / static_cast<float>(D);
  const __m512 rv = _mm512_set1_ps(r), cv = _mm512_set1_ps(c);
  for (int64_t i = 0; i < D; i += 16) {
    const __mmask16 k = tail_mask(D - i);
    const __m512 g = _mm512_maskz_loadu_ps(k, dy + i), xv = _mm512_maskz_loadu_ps(k, x + i);
    const __m512 gw = w ? _mm512_mul_ps(g, _mm512_maskz_loadu_ps(k, w + i)) : g;
    const __m512 d = _mm512_fnmadd_ps(cv, xv, _mm512_mul_ps(rv, gw));
    _mm512_mask_storeu_ps(dx + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, dx + i), d));
    if (dw)
      _mm512_mask_storeu_ps(dw + i, k, _mm512_fmadd_ps(_mm512_mul_ps(g, xv), rv, _mm512_maskz_loadu_ps(k, dw + i)));
  }
}

void swiglu_row(const float* g, const float* u, float* act, int64_t F) {
  for (int64_t i = 0; i < F; i += 16) {
    const __mmask16 k = tail_mask(F - i);
    const __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
    _mm512_mask_storeu_ps(act + i, k, _mm512_mul_ps(_mm512_mul_ps(gv, sigmoid512(gv)), _mm512_maskz_loadu_ps(k, u + i)));
  }
}

// silu'(g) = sig(g) (1 + g (1 - sig(g)))
void swiglu_backward_row(const float* g, const float* u, const float* dact, float* dg, float* du, int64_t F) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < F; i += 16) {
    const __mmask16 k = tail_mask(F - i);
    const __m512 gv = _mm512_maskz_loadu_ps(k, g + i), uv = _mm512_maskz_loadu_ps(k, u + i);
    const __m512 da = _mm512_maskz_loadu_ps(k, dact + i);
    const __m512 sg = sigmoid512(gv);
    const __m512 dsilu = _mm512_mul_ps(sg, _mm512_fmadd_ps(gv, _mm512_sub_ps(one, sg), one));
    _mm512_mask_storeu_ps(dg + i, k, _mm512_mul_ps(_mm512_mul_ps(da, uv), dsilu));
    _mm512_mask_storeu_ps(du + i, k, _mm512_mul_ps(da, _mm512_mul_ps(gv, sg)));
  }
}

// Same operation order as the scalar loop (no FMA), so both paths give the same weights.
void adamw(float* w, float* m, float* v, const float* g, int64_t n, float b1, float b2, float step, float rbc2,
           float eps, float decay, float gscale) {
  const __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2), c1 = _mm512_set1_ps(1.0f - b1),
               c2 = _mm512_set1_ps(1.0f - b2), vst = _mm512_set1_ps(step), vr = _mm512_set1_ps(rbc2),
               ve = _mm512_set1_ps(eps), vd = _mm512_set1_ps(decay), vgs = _mm512_set1_ps(gscale);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 gv = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, g + i), vgs);
    const __m512 mv = _mm512_add_ps(_mm512_mul_ps(vb1, _mm512_maskz_loadu_ps(k, m + i)), _mm512_mul_ps(c1, gv));
    const __m512 vv =
        _mm512_add_ps(_mm512_mul_ps(vb2, _mm512_maskz_loadu_ps(k, v + i)), _mm512_mul_ps(_mm512_mul_ps(c2, gv), gv));
    const __m512 den = _mm512_add_ps(vsqrt(_mm512_mul_ps(vv, vr)), ve);
    const __m512 wv = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, w + i), vd),
                                    _mm512_div_ps(_mm512_mul_ps(vst, mv), den));
    _mm512_mask_storeu_ps(m + i, k, mv);
    _mm512_mask_storeu_ps(v + i, k, vv);
    _mm512_mask_storeu_ps(w + i, k, wv);
  }
}

double sumsq(const float* x, int64_t n) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512d lo = vcvt(_mm256_loadu_ps(x + i)), hi = vcvt(_mm256_loadu_ps(x + i + 8));
    a0 = _mm512_fmadd_pd(lo, lo, a0);
    a1 = _mm512_fmadd_pd(hi, hi, a1);
  }
  double s = hsum(_mm512_add_pd(a0, a1));
  for (; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

}  // namespace herd::train::avx512
