// AVX-512 (F/BW/VL/DQ + VNNI) versions of the qdot.h kernels. Weights are unpacked to unsigned
// bytes (an offset is removed afterwards with the activation block sums), multiplied with the
// signed 8-bit activations by vpdpbusd, and each unpacked weight vector serves up to 4 tokens.
// Only used when cpu_features() reports AVX-512 VNNI.
#include <immintrin.h>

#include <algorithm>

#include "core/quants.h"
#include "kernels/cpu_features.h"
#include "kernels/qdot.h"

namespace herd::avx512 {

namespace {

using quant::rd16;
using quant::rd32;

// f16 to f32 inline (F16C), instead of the out-of-line scalar converter.
inline float rdf16(const uint8_t* p) { return _cvtsh_ss(rd16(p)); }

inline __m512i cat256(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
inline __m512 cat_ps(float a, float b) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}
inline __m512i cat_epi32(int a, int b) { return cat256(_mm256_set1_epi32(a), _mm256_set1_epi32(b)); }

// ---- 32-element block types, two blocks per step ----

// Q4_0 / Q5_0: unsigned bytes for blocks b and b+1 (elements in order); the offset each weight
// carries (8 / 16) is removed by the caller.
template <DType T>
inline __m512i unpack2(const uint8_t* A, const uint8_t* B) {
  const int off = T == DType::Q4_0 ? 2 : 6;
  const __m256i v = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(B + off)),
                                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(A + off)));
  const __m256i m = _mm256_set1_epi8(15);
  const __m256i lo = _mm256_and_si256(v, m), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
  // [loA loB hiA hiB] -> [loA hiA loB hiB]
  __m512i u = _mm512_shuffle_i64x2(cat256(lo, hi), cat256(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
  if constexpr (T == DType::Q5_0) {
    const uint64_t bits = static_cast<uint64_t>(rd32(A + 2)) | static_cast<uint64_t>(rd32(B + 2)) << 32;
    u = _mm512_or_si512(u, _mm512_maskz_mov_epi8(bits, _mm512_set1_epi8(16)));
  }
  return u;
}

// ---- Q8_0 ----

// Q8_0 weights, 16 blocks (544 bytes) per step. The weights go into vpdpbusd as unsigned w + 128
// (one xor); each lane starts from the activation's precomputed -128 * (sum of its 4 x) (QActs::c4),
// so the offset costs one load instead of per-block arithmetic. The step's 16 weight scales are
// staged once into one vector (times the activation scales), and each 2-block product takes its
// lanes' scales with one permute. Two accumulators per token break the FMA dependency chain.
// nc < 16 (the row's last step): lanes of missing blocks are masked to zero.
template <int NT, bool FULL>
inline void q8_0_step(const uint8_t* blk, int nc, const ActRow* a, int64_t b0, __m512 (&acc)[2][NT]) {
  constexpr size_t bb = 34;
  alignas(32) uint16_t dw16[16];
  if constexpr (FULL) {
    for (int i = 0; i < 16; ++i) dw16[i] = rd16(blk + bb * i);
  } else {
    for (int i = 0; i < 16; ++i) dw16[i] = i < nc ? rd16(blk + bb * i) : 0;
  }
  const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dw16)));
  const __mmask16 mb = FULL ? 0xffff : static_cast<__mmask16>((1u << nc) - 1);
  __m512 sc[NT];
  for (int j = 0; j < NT; ++j) sc[j] = _mm512_mul_ps(dw, _mm512_maskz_loadu_ps(mb, a[j].d + b0));
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    if (!FULL && 2 * k >= nc) break;
    // 16 lanes: block 2k (low half), 2k+1 (high half; masked off when past the row's end)
    const __mmask16 ml = FULL || 2 * k + 1 < nc ? 0xffff : 0x00ff;
    const uint8_t* A = blk + 2 * bb * k;
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(A + 2));
    const __m256i hi = FULL || 2 * k + 1 < nc ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(A + bb + 2)) : _mm256_setzero_si256();
    const __m512i u = _mm512_xor_si512(cat256(lo, hi), bias);
    const __m512i idx = cat_epi32(2 * k, 2 * k + 1);
    const int64_t e = (b0 + 2 * k) * 32;  // first element
    for (int j = 0; j < NT; ++j) {
      __m512i s;
      if (FULL)
        s = _mm512_dpbusd_epi32(_mm512_loadu_si512(a[j].c + e / 4), u, _mm512_loadu_si512(a[j].q + e));
      else
        s = _mm512_maskz_dpbusd_epi32(ml, _mm512_maskz_loadu_epi32(ml, a[j].c + e / 4), u, _mm512_maskz_loadu_epi32(ml, a[j].q + e));
      acc[k & 1][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(idx, sc[j]), acc[k & 1][j]);
    }
  }
}

template <int NT>
void dot_q8_0(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  const int64_t nb = n / 32;
  __m512 acc[2][NT];
  for (int j = 0; j < NT; ++j) acc[0][j] = acc[1][j] = _mm512_setzero_ps();
  int64_t b0 = 0;
  for (; b0 + 16 <= nb; b0 += 16) q8_0_step<NT, true>(w + b0 * 34, 16, a, b0, acc);
  if (b0 < nb) q8_0_step<NT, false>(w + b0 * 34, static_cast<int>(nb - b0), a, b0, acc);
  for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[0][j], acc[1][j]));
}

template <DType T, int NT>
void dot32(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  if constexpr (T == DType::Q8_0) {
    dot_q8_0<NT>(n, w, a, out);
  } else {
    constexpr size_t bb = T == DType::Q4_0 ? 18 : 22;
    constexpr int offset = T == DType::Q4_0 ? 8 : 16;  // per weight
    __m512 acc[NT];
    for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps();
    const int64_t nb = n / 32;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
      const uint8_t* A = w + b * bb;
      const uint8_t* B = A + bb;
      const __m512i u = unpack2<T>(A, B);
      const float dA = rdf16(A), dB = rdf16(B);
      for (int j = 0; j < NT; ++j) {
        const __m512i x = _mm512_loadu_si512(a[j].q + b * 32);
        __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, x);
        // remove offset * sum(x): 8 lanes per block share it
        s = _mm512_sub_epi32(s, cat_epi32(offset / 8 * a[j].s[b], offset / 8 * a[j].s[b + 1]));
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), cat_ps(dA * a[j].d[b], dB * a[j].d[b + 1]), acc[j]);
      }
    }
    float tail[NT] = {};
    if (b < nb) {  // odd block count: the last block through the scalar kernel
      ActRow rest[NT];
      for (int j = 0; j < NT; ++j) rest[j] = {a[j].q + b * 32, a[j].d + b, a[j].s + b, nullptr};
      scalar::qdot_kernel(T)(32, w + b * bb, rest, NT, tail);
    }
    for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(acc[j]) + tail[j];
  }
}

// ---- Q4_K / Q5_K ----

// The 8 six-bit scales (lanes 0..7) and 8 mins (lanes 8..15) of a Q4_K / Q5_K block from its 12
// packed bytes, unpacked four at a time with 32-bit word operations: scales/mins 0..3 are the low
// 6 bits of bytes 0..3 / 4..7; scales/mins 4..7 take their low 4 bits from the low / high nibble
// of bytes 8..11 and their top 2 bits from the top 2 bits of bytes 0..3 / 4..7.
inline __m512i k_scales_mins(const uint8_t* p) {
  const uint32_t w0 = rd32(p), w1 = rd32(p + 4), w2 = rd32(p + 8);
  const uint32_t sc_lo = w0 & 0x3f3f3f3fu, mn_lo = w1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
  return _mm512_cvtepu8_epi32(_mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), static_cast<int>(mn_lo),
                                             static_cast<int>(mn_hi)));
}

// Everything per block stays in vector registers: the scales multiply the per-lane integer dot
// products, and the min term sum_s min[s] * (sum of x over sub-block s) is one vector multiply
// with the activation's 16-element sums, accumulated in f32 next to the main sum.
template <bool FIVE, int NT>
void dot_q45k(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  constexpr size_t bb = FIVE ? 176 : 144;
  __m512 acc[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(15);
  // lanes 2s and 2s+1 (the two 16-sums of sub-block s) take min s; group g uses scales 2g | 2g+1.
  const __m512i idx_min = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  const __m512i idx_sc[4] = {cat_epi32(0, 1), cat_epi32(2, 3), cat_epi32(4, 5), cat_epi32(6, 7)};
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * bb;
    const uint8_t* qs = blk + (FIVE ? 48 : 16);
    const __m512i sm = k_scales_mins(blk + 4);
    const __m512i mnv = _mm512_permutexvar_epi32(idx_min, sm);
    __m256i qh;
    if constexpr (FIVE) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    __m512i isum[NT];
    for (int j = 0; j < NT; ++j) isum[j] = _mm512_setzero_si512();
    for (int g = 0; g < 4; ++g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * g));
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (FIVE) {
        const __m256i sixteen = _mm256_set1_epi8(16);
        lo = _mm256_or_si256(lo, _mm256_maskz_mov_epi8(_mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(1 << (2 * g)))), sixteen));
        hi = _mm256_or_si256(hi, _mm256_maskz_mov_epi8(_mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(2 << (2 * g)))), sixteen));
      }
      const __m512i u = cat256(lo, hi);
      const __m512i scv = _mm512_permutexvar_epi32(idx_sc[g], sm);
      for (int j = 0; j < NT; ++j) {
        const __m512i x = _mm512_loadu_si512(a[j].q + b * 256 + 64 * g);
        isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, x), scv));
      }
    }
    const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(rd32(blk))));  // d, dmin
    const float d = _mm_cvtss_f32(dm), dmin = _mm_cvtss_f32(_mm_movehdup_ps(dm));
    for (int j = 0; j < NT; ++j) {
      const float dx = a[j].d[b];
      const __m512i mi = _mm512_mullo_epi32(mnv, _mm512_loadu_si512(a[j].s + b * 16));
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_set1_ps(dx * d), acc[j]);
      acc[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mi), _mm512_set1_ps(dx * dmin), acc[j]);
    }
  }
  for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(acc[j]);
}

// ---- Q6_K ----

// Weights unpacked to q in [0, 64); the -32 offset is removed in the integer domain per block as
// 32 * sum_g scale[g] * (sum of x over 16-group g), one vector multiply with the 16-sums.
template <int NT>
void dot_q6k(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  __m512 acc[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps();
  const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
  // Half h, lane l of the A (B) product belongs to 16-group 8h + l/4 (8h + 4 + l/4).
  const __m512i idxA[2] = {_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                           _mm512_setr_epi32(8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11)};
  const __m512i idxB[2] = {_mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7),
                           _mm512_setr_epi32(12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15)};
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * 210;
    const __m512i sc16 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192)));
    __m512i isum[NT];
    for (int j = 0; j < NT; ++j)
      isum[j] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                 _mm512_slli_epi32(_mm512_mullo_epi32(sc16, _mm512_loadu_si512(a[j].s + b * 16)), 5));
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      const __m512i qhA = cat256(qh, _mm256_srli_epi16(qh, 2));
      const __m512i qhB = cat256(_mm256_srli_epi16(qh, 4), _mm256_srli_epi16(qh, 6));
      const __m512i uA = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qhA, m2), 4));
      const __m512i uB =
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(_mm512_and_si512(qhB, m2), 4));
      const __m512i sA = _mm512_permutexvar_epi32(idxA[h], sc16);
      const __m512i sB = _mm512_permutexvar_epi32(idxB[h], sc16);
      for (int j = 0; j < NT; ++j) {
        const int8_t* x = a[j].q + b * 256 + 128 * h;
        const __m512i pA = _mm512_dpbusd_epi32(_mm512_setzero_si512(), uA, _mm512_loadu_si512(x));
        const __m512i pB = _mm512_dpbusd_epi32(_mm512_setzero_si512(), uB, _mm512_loadu_si512(x + 64));
        isum[j] = _mm512_add_epi32(isum[j], _mm512_add_epi32(_mm512_mullo_epi32(pA, sA), _mm512_mullo_epi32(pB, sB)));
      }
    }
    const float d = rdf16(blk + 208);
    for (int j = 0; j < NT; ++j)
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_set1_ps(a[j].d[b] * d), acc[j]);
  }
  for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(acc[j]);
}

#include "kernels/qdot_dispatch.inc"

}  // namespace

QDotFn qdot_kernel(DType t) {
  if (!cpu_features().avx512vnni) return nullptr;
  return kernel_for(t);
}

namespace {
void q8_0_rows(int64_t n, const uint8_t* w, size_t stride, int64_t nr, const ActRow& a, float* y, int pf) {
  for (int64_t r = 0; r < nr; ++r) {
    if (pf > 0 && r + pf < nr) {
      const char* p = reinterpret_cast<const char*>(w + (r + pf) * stride);
      for (size_t off = 0; off < stride; off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
    }
    dot_q8_0<1>(n, w + r * stride, &a, y + r);
  }
}
}  // namespace

QDotRowsFn qdot_rows_kernel(DType t) {
  if (!cpu_features().avx512vnni) return nullptr;
  return t == DType::Q8_0 ? q8_0_rows : nullptr;
}

}  // namespace herd::avx512
