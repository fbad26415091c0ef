// AVX2 + FMA + F16C versions of the vec.h primitives. Compiled with -mavx2 -mfma -mf16c and only
// called after cpu_features() confirmed support.
#include <immintrin.h>

#include <cmath>

#include "kernels/exp_poly.h"
#include "kernels/vec.h"

namespace herd::avx2 {

static inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 s = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, s);
  s = _mm_add_ss(s, sh);
  return _mm_cvtss_f32(s);
}

float dot_f32(const float* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float r = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

void axpy_f32(float a, const float* x, float* y, size_t n) {
  __m256 va = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

float max_f32(const float* x, size_t n) {
  // vmaxps(x, m) keeps m where x is NaN, as the scalar x > m ? x : m does.
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
    m2 = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), m2);
    m3 = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), m3);
  }
  m0 = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m0);
  float m = -INFINITY;
  for (float v : lanes) m = v > m ? v : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

size_t find_f32(const float* x, size_t n, float v) {
  // 32 elements per test: a greedy decode's argmax scans a whole vocabulary (202048 logits) for
  // the maximum's position, ~60 us one element at a time.
  const __m256 t = _mm256_set1_ps(v);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 e0 = _mm256_cmp_ps(_mm256_loadu_ps(x + i), t, _CMP_EQ_OQ);
    const __m256 e1 = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 8), t, _CMP_EQ_OQ);
    const __m256 e2 = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 16), t, _CMP_EQ_OQ);
    const __m256 e3 = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 24), t, _CMP_EQ_OQ);
    if (!_mm256_testz_ps(_mm256_or_ps(_mm256_or_ps(e0, e1), _mm256_or_ps(e2, e3)), _mm256_set1_ps(-0.0f))) break;
  }
  for (; i < n; ++i)
    if (x[i] == v) return i;
  return n;
}

size_t indices_above(const float* x, size_t n, float t, bool or_equal, int32_t first, int32_t* out) {
  // 32 elements per test: after its first blocks a top-k scan finds almost nothing above its
  // threshold, so the loop is compares and one branch.
  const __m256 vt = _mm256_set1_ps(t);
  size_t m = 0, i = 0;
  auto take = [&](size_t j) {
    if (x[j] > t || (or_equal && x[j] == t)) out[m++] = first + static_cast<int32_t>(j);
  };
  for (; i + 32 <= n; i += 32) {
    __m256 hit = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k)
      hit = _mm256_or_ps(hit, or_equal ? _mm256_cmp_ps(_mm256_loadu_ps(x + i + 8 * k), vt, _CMP_GE_OQ)
                                       : _mm256_cmp_ps(_mm256_loadu_ps(x + i + 8 * k), vt, _CMP_GT_OQ));
    if (_mm256_testz_ps(hit, hit)) continue;
    for (size_t j = i; j < i + 32; ++j) take(j);
  }
  for (; i < n; ++i) take(i);
  return m;
}

namespace {
// e^x for x in about [-87, 88] (clamped there): x = n ln2 + r, e^r by the polynomial of
// exp_poly.h, 2^n built in the exponent bits.
inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(simd::kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(simd::kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(simd::kLn2Lo), r);
  __m256 p = _mm256_set1_ps(simd::kExpTaylor[0]);
  for (int i = 1; i < 8; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(simd::kExpTaylor[i]));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
}  // namespace

double exp_weights(const float* x, size_t n, float a, float m, float cut, float* w) {
  const __m256 va = _mm256_set1_ps(a), vm = _mm256_set1_ps(m), vc = _mm256_set1_ps(cut);
  double total = 0;
  size_t i = 0;
  while (i + 8 <= n) {
    const size_t end = i + 1024 < n ? i + 1024 : n;
    __m256 s = _mm256_setzero_ps();
    for (; i + 8 <= end; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      const __m256 keep = _mm256_cmp_ps(v, vc, _CMP_GE_OQ);  // NaN: false
      const __m256 e = _mm256_and_ps(keep, exp256(_mm256_mul_ps(_mm256_sub_ps(v, vm), va)));
      _mm256_storeu_ps(w + i, e);
      s = _mm256_add_ps(s, e);
    }
    total += hsum(s);
  }
  for (; i < n; ++i) total += w[i] = x[i] >= cut ? std::exp(a * (x[i] - m)) : 0.0f;
  return total;
}

float sum_f32(const float* x, size_t n, ReadLoop loop) {
  __m256 s[8];
  for (__m256& v : s) v = _mm256_setzero_ps();
  size_t i = 0;
  if (loop == ReadLoop::Prefetch) {  // as the AVX-512 loops (prefetches past x never fault)
    for (; i + 64 <= n; i += 64)
      for (int j = 0; j < 8; ++j) {
        if (j % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(x + i + 8 * j) + kReadLoopPrefetch, _MM_HINT_T0);
        s[j % 2] = _mm256_add_ps(s[j % 2], _mm256_loadu_ps(x + i + 8 * j));
      }
  } else if (loop == ReadLoop::Paced) {
    alignas(32) float acc[8][8] = {};
    for (; i + 64 <= n; i += 64)
      for (int j = 0; j < 8; ++j) {
        if (j % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(x + i + 8 * j) + kReadLoopPrefetch, _MM_HINT_T0);
        _mm256_store_ps(acc[j], _mm256_add_ps(_mm256_load_ps(acc[j]), _mm256_loadu_ps(x + i + 8 * j)));
        asm volatile("" ::: "memory");
      }
    for (int j = 0; j < 8; ++j) s[j] = _mm256_load_ps(acc[j]);
  }
  for (; i + 64 <= n; i += 64)
    for (int j = 0; j < 8; ++j) s[j] = _mm256_add_ps(s[j], _mm256_loadu_ps(x + i + 8 * j));
  for (int j = 1; j < 8; ++j) s[0] = _mm256_add_ps(s[0], s[j]);
  float r = hsum(s[0]);
  for (; i < n; ++i) r += x[i];
  return r;
}

void bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
  }
  for (; i < n; ++i) dst[i] = herd::bf16_to_f32(src[i]);
}

void f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = herd::f16_to_f32(src[i]);
}

static inline __m256 load_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}
static inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

template <__m256 (*Load)(const uint16_t*), float (*Scalar)(uint16_t)>
static inline float dot_half(const float* a, const uint16_t* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Load(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), Load(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Load(b + i), s0);
  float r = hsum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) r += a[i] * Scalar(b[i]);
  return r;
}

template <__m256 (*Load)(const uint16_t*), float (*Scalar)(uint16_t)>
static inline void axpy_half(float a, const uint16_t* x, float* y, size_t n) {
  const __m256 va = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, Load(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * Scalar(x[i]);
}

float dot_bf16(const float* a, const uint16_t* b, size_t n) { return dot_half<load_bf16, herd::bf16_to_f32>(a, b, n); }
float dot_f16(const float* a, const uint16_t* b, size_t n) { return dot_half<load_f16, herd::f16_to_f32>(a, b, n); }
void axpy_bf16(float a, const uint16_t* x, float* y, size_t n) { axpy_half<load_bf16, herd::bf16_to_f32>(a, x, y, n); }
void axpy_f16(float a, const uint16_t* x, float* y, size_t n) { axpy_half<load_f16, herd::f16_to_f32>(a, x, y, n); }

}  // namespace herd::avx2
