// AVX2 versions of the qdot.h kernels (no VNNI): unsigned weight bytes times signed activation
// bytes with vpmaddubsw (pair sums stay below 2^15 for the 4-6 bit types; Q8_0 moves the sign to
// the activations first), widened with vpmaddwd against ones or the sub-block scales.
#include <immintrin.h>

#include "core/quants.h"
#include "kernels/qdot.h"

namespace herd::avx2 {

namespace {

using quant::k_scale_min;
using quant::rd32;
using quant::rdf16;

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 bytes with 0x10 where bit j of `bits` is set.
inline __m256i bits_to_16(uint32_t bits) {
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i mask = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  const __m256i on = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, mask), mask);
  return _mm256_and_si256(on, _mm256_set1_epi8(16));
}

template <DType T, int NT>
void dot32(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  constexpr size_t bb = T == DType::Q8_0 ? 34 : T == DType::Q4_0 ? 18 : 22;
  constexpr int offset = T == DType::Q4_0 ? 8 : 16;
  const __m256i ones = _mm256_set1_epi16(1), m4 = _mm256_set1_epi8(15);
  __m256 acc[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = w + b * bb;
    const float d = rdf16(blk);
    if constexpr (T == DType::Q8_0) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      const __m256i uq = _mm256_sign_epi8(q, q);  // |q|
      for (int j = 0; j < NT; ++j) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[j].q + b * 32));
        const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(uq, _mm256_sign_epi8(x, q)), ones);
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(d * a[j].d[b]), acc[j]);
      }
    } else {
      const int off = T == DType::Q4_0 ? 2 : 6;
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + off));
      const __m256i vv = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
      __m256i u = _mm256_and_si256(vv, m4);
      if constexpr (T == DType::Q5_0) u = _mm256_or_si256(u, bits_to_16(rd32(blk + 2)));
      for (int j = 0; j < NT; ++j) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[j].q + b * 32));
        __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), ones);
        s = _mm256_sub_epi32(s, _mm256_set1_epi32(offset / 8 * a[j].s[b]));
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(d * a[j].d[b]), acc[j]);
      }
    }
  }
  for (int j = 0; j < NT; ++j) out[j] = hsum(acc[j]);
}

template <bool FIVE, int NT>
void dot_q45k(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  constexpr size_t bb = FIVE ? 176 : 144;
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256 acc[NT];
  float mins[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm256_setzero_ps(), mins[j] = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * bb;
    const uint8_t* qs = blk + (FIVE ? 48 : 16);
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; ++s) k_scale_min(s, blk + 4, &sc[s], &mn[s]);
    __m256i qh;
    if constexpr (FIVE) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    __m256i isum[NT];
    for (int j = 0; j < NT; ++j) isum[j] = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * g));
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (FIVE) {
        const __m256i one = _mm256_set1_epi8(1);
        const __m128i c0 = _mm_cvtsi32_si128(2 * g), c1 = _mm_cvtsi32_si128(2 * g + 1);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, c0), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, c1), one), 4));
      }
      const __m256i s0 = _mm256_set1_epi16(sc[2 * g]), s1 = _mm256_set1_epi16(sc[2 * g + 1]);
      for (int j = 0; j < NT; ++j) {
        const int8_t* x = a[j].q + b * 256 + 64 * g;
        const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x))), s0);
        const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32))), s1);
        isum[j] = _mm256_add_epi32(isum[j], _mm256_add_epi32(p0, p1));
      }
    }
    const float d = rdf16(blk), dmin = rdf16(blk + 2);
    for (int j = 0; j < NT; ++j) {
      const int32_t* bs = a[j].s + b * 16;
      int32_t mi = 0;
      for (int s = 0; s < 8; ++s) mi += mn[s] * (bs[2 * s] + bs[2 * s + 1]);
      const float dx = a[j].d[b];
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_set1_ps(dx * d), acc[j]);
      mins[j] += dx * (dmin * static_cast<float>(mi));
    }
  }
  for (int j = 0; j < NT; ++j) out[j] = hsum(acc[j]) - mins[j];
}

template <int NT>
void dot_q6k(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
  __m256 acc[NT];
  float corr[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm256_setzero_ps(), corr[j] = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * 210;
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
    __m256i isum[NT];
    for (int j = 0; j < NT; ++j) isum[j] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      __m256i u[4];
      u[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
      u[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
      u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
      u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
      for (int c = 0; c < 4; ++c) {
        const __m256i s16 = _mm256_set_m128i(_mm_set1_epi16(sc[8 * h + 2 * c + 1]), _mm_set1_epi16(sc[8 * h + 2 * c]));
        for (int j = 0; j < NT; ++j) {
          const int8_t* x = a[j].q + b * 256 + 128 * h + 32 * c;
          const __m256i p = _mm256_maddubs_epi16(u[c], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
          isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(p, s16));
        }
      }
    }
    const float d = rdf16(blk + 208);
    for (int j = 0; j < NT; ++j) {
      const int32_t* bs = a[j].s + b * 16;
      int32_t c = 0;
      for (int g = 0; g < 16; ++g) c += sc[g] * bs[g];
      const float dd = a[j].d[b] * d;
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_set1_ps(dd), acc[j]);
      corr[j] += dd * static_cast<float>(32 * c);
    }
  }
  for (int j = 0; j < NT; ++j) out[j] = hsum(acc[j]) - corr[j];
}

#include "kernels/qdot_dispatch.inc"

}  // namespace

QDotFn qdot_kernel(DType t) {
  return kernel_for(t);
}

}  // namespace herd::avx2
