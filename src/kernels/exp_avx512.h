#pragma once
// e^x on 16 floats, shared by the inference ops and the training kernels. Include only from
// translation units built with AVX-512 flags (CMake: *_avx512.cpp).
//
// x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial (exp_poly.h); 2^n by vscalefps, which
// overflows to inf and underflows to 0 as e^x does. x is clamped to [-104, 89] first (beyond, the
// result is already 0 or inf) so that r stays exact. NaN passes through the clamps (the masked
// max/min return their second operand, x, when either is NaN).
#include <immintrin.h>

#include "kernels/exp_poly.h"

namespace herd::simd {

inline __m512 exp512(__m512 x) {
  constexpr __mmask16 kAll = 0xFFFF;  // full-mask forms: the plain ones pass an undefined vector
  x = _mm512_mask_max_ps(x, kAll, _mm512_set1_ps(-104.0f), x);
  x = _mm512_mask_min_ps(x, kAll, _mm512_set1_ps(89.0f), x);
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(kLog2e));
  const __m512 n = _mm512_mask_roundscale_ps(t, kAll, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpTaylor[0]);
  for (int i = 1; i < 8; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpTaylor[i]));
  return _mm512_mask_scalef_ps(p, kAll, p, n);
}

}  // namespace herd::simd
