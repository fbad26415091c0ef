#pragma once
// e^x on 16 floats, shared by the inference ops and the training kernels. Include only from
// translation units built with AVX-512 flags (CMake: *_avx512.cpp).
//
// x = n ln2 + r with n = round(x / ln2), |r| <= ln2/2 (ln2 split in two so n ln2 is exact);
// e^r by its degree-7 Taylor polynomial (truncation < 1e-8 relative); 2^n by vscalefps, which
// overflows to inf and underflows to 0 as e^x does. x is clamped to [-104, 89] first (beyond, the
// result is already 0 or inf) so that r stays exact. NaN passes through the clamps (the masked
// max/min return their second operand, x, when either is NaN).
#include <immintrin.h>

namespace herd::simd {

inline __m512 exp512(__m512 x) {
  constexpr __mmask16 kAll = 0xFFFF;  // full-mask forms: the plain ones pass an undefined vector
  x = _mm512_mask_max_ps(x, kAll, _mm512_set1_ps(-104.0f), x);
  x = _mm512_mask_min_ps(x, kAll, _mm512_set1_ps(89.0f), x);
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  const __m512 n = _mm512_mask_roundscale_ps(t, kAll, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2, high part
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723e-6f), r);    // ln2, low part
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_mask_scalef_ps(p, kAll, p, n);
}

}  // namespace herd::simd
