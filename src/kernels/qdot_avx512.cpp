// AVX-512 (F/BW/VL/DQ + VNNI) versions of the qdot.h kernels. Weights are unpacked to unsigned
// bytes (an offset is removed afterwards with the activation block sums), multiplied with the
// signed 8-bit activations by vpdpbusd, and each unpacked weight vector serves up to 4 tokens.
// Only used when cpu_features() reports AVX-512 VNNI.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>
#include <vector>

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

// Everything per block stays in vector registers. Lane l of the vpdpbusd product of 64-element
// group g belongs to sub-block 2g + l/8; its magnitude is below 4 * 31 * 127, so the products of
// groups 2p and 2p + 1 go into one vector as the 16-bit halves of each lane and one vpdpwssd
// multiplies both by their scales and adds them to the block sum. The min term
// sum_s min[s] * (sum of x over sub-block s) is one vpdpwssd of the mins (16 bits) with the
// activation's 16-element sums (which fit 16 bits), accumulated in f32 next to the main sum.
// All integer parts are exact.
template <bool FIVE, int NT>
void dot_q45k(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  constexpr size_t bb = FIVE ? 176 : 144;
  __m512 acc[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps();
  const __m512i m4 = _mm512_set1_epi8(15), lo16 = _mm512_set1_epi32(0xffff);
  const __m512i sh = cat256(_mm256_set1_epi16(0), _mm256_set1_epi16(4));  // low / high nibbles
  // lanes 2s and 2s+1 (the two 16-sums of sub-block s) take min s (high 16 bits of sm are 0).
  const __m512i idx_min = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  // 16-bit lane 2l of pair p: the scale of group 2p's lane l (scale 4p + l/8, 16-bit element
  // 2 (4p + l/8) of sm), lane 2l + 1: group 2p + 1's (scale 4p + 2 + l/8).
  __m512i idx_sc[2];
  for (int p = 0; p < 2; ++p) {
    alignas(64) int16_t v[32];
    for (int l = 0; l < 16; ++l) v[2 * l] = static_cast<int16_t>(2 * (4 * p + l / 8)), v[2 * l + 1] = static_cast<int16_t>(2 * (4 * p + 2 + l / 8));
    idx_sc[p] = _mm512_load_si512(v);
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * bb;
    const uint8_t* qs = blk + (FIVE ? 48 : 16);
    const __m512i sm = k_scales_mins(blk + 4);
    const __m512i mnv = _mm512_permutexvar_epi32(idx_min, sm);
    __m256i qh;
    if constexpr (FIVE) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    __m512i isum[NT];
    for (int j = 0; j < NT; ++j) isum[j] = _mm512_setzero_si512();
    for (int p = 0; p < 2; ++p) {
      const __m512i scv = _mm512_permutexvar_epi16(idx_sc[p], sm);
      __m512i prod[2][NT];
      for (int k = 0; k < 2; ++k) {
        const int g = 2 * p + k;
        const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * g)));
        __m512i u = _mm512_and_si512(_mm512_srlv_epi16(q, sh), m4);  // [low nibbles, high nibbles]
        if constexpr (FIVE) {
          const __m256i sixteen = _mm256_set1_epi8(16);
          const __m256i lo = _mm256_maskz_mov_epi8(_mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(1 << (2 * g)))), sixteen);
          const __m256i hi = _mm256_maskz_mov_epi8(_mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(2 << (2 * g)))), sixteen);
          u = _mm512_or_si512(u, cat256(lo, hi));
        }
        for (int j = 0; j < NT; ++j)
          prod[k][j] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(a[j].q + b * 256 + 64 * g));
      }
      for (int j = 0; j < NT; ++j) {
        const __m512i pp = _mm512_ternarylogic_epi32(prod[0][j], _mm512_slli_epi32(prod[1][j], 16), lo16, 0xEC);  // (p0 & 0xffff) | p1 << 16
        isum[j] = _mm512_dpwssd_epi32(isum[j], pp, scv);
      }
    }
    const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(rd32(blk))));  // d, dmin
    const float d = _mm_cvtss_f32(dm), dmin = _mm_cvtss_f32(_mm_movehdup_ps(dm));
    for (int j = 0; j < NT; ++j) {
      const float dx = a[j].d[b];
      const __m512i mi = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(a[j].s + b * 16), mnv);
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_set1_ps(dx * d), acc[j]);
      acc[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mi), _mm512_set1_ps(dx * dmin), acc[j]);
    }
  }
  for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(acc[j]);
}

// ---- Q6_K ----

// Weights unpacked to q in [0, 64). Byte i of half h's A (B) vector is element 128h + i
// (128h + 64 + i): the low (high) nibble of ql byte i, and as bits 4-5 the qh bits 0-1 / 2-3
// (A, bytes 0-31 / 32-63) or 4-5 / 6-7 (B) of qh byte i mod 32, moved there by one variable
// 16-bit shift of qh broadcast to both halves (bits a shift carries across a byte are masked).
// Lane l of vpdpbusd(uA, x) belongs to 16-group 8h + l/4, of vpdpbusd(uB, x) to 8h + 4 + l/4;
// each sum is below 4 * 63 * 127 in magnitude, so the two go into one vector as the 16-bit halves
// of each lane and one vpdpwssd multiplies both by their scales and adds them to the block sum.
// The -32 offset is removed in the integer domain as sum_g (-32 scale[g]) * (16-sum g of x),
// a vpdpwssd with the activation's 16-sums (which fit 16 bits). All integer: exact.
template <int NT>
void dot_q6k(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  __m512 acc[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps();
  const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30), lo16 = _mm512_set1_epi32(0xffff);
  // per 16-bit lane: A shifts qh left by 4 (bytes 0-31) / 2 (32-63); B right by 0 / 2
  const __m512i shA = cat256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
  const __m512i shB = cat256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
  // 16-bit lane 2l of half h: scale of group 8h + l/4 (A), lane 2l + 1: 8h + 4 + l/4 (B)
  __m512i idx[2];
  for (int h = 0; h < 2; ++h) {
    alignas(64) int16_t v[32];
    for (int l = 0; l < 16; ++l) v[2 * l] = static_cast<int16_t>(8 * h + l / 4), v[2 * l + 1] = static_cast<int16_t>(8 * h + 4 + l / 4);
    idx[h] = _mm512_load_si512(v);
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * 210;
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192)));
    const __m512i scw = _mm512_zextsi256_si512(sc16);
    // lanes g: low 16 bits -32 * scale[g], high 16 bits 0
    const __m512i off = _mm512_cvtepu16_epi32(_mm256_mullo_epi16(sc16, _mm256_set1_epi16(-32)));
    __m512i isum[NT];
    for (int j = 0; j < NT; ++j) isum[j] = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(a[j].s + b * 16), off);
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h)));
      const __m512i hA = _mm512_and_si512(_mm512_sllv_epi16(qh, shA), m30);
      const __m512i hB = _mm512_and_si512(_mm512_srlv_epi16(qh, shB), m30);
      const __m512i uA = _mm512_ternarylogic_epi32(ql, hA, m4, 0xEC);  // (ql & 15) | hA
      const __m512i uB = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), hB, m4, 0xEC);
      const __m512i sAB = _mm512_permutexvar_epi16(idx[h], scw);
      for (int j = 0; j < NT; ++j) {
        const int8_t* x = a[j].q + b * 256 + 128 * h;
        const __m512i pA = _mm512_dpbusd_epi32(_mm512_setzero_si512(), uA, _mm512_loadu_si512(x));
        const __m512i pB = _mm512_dpbusd_epi32(_mm512_setzero_si512(), uB, _mm512_loadu_si512(x + 64));
        const __m512i pAB = _mm512_ternarylogic_epi32(pA, _mm512_slli_epi32(pB, 16), lo16, 0xEC);  // (pA & 0xffff) | pB << 16
        isum[j] = _mm512_dpwssd_epi32(isum[j], pAB, sAB);
      }
    }
    const float d = rdf16(blk + 208);
    for (int j = 0; j < NT; ++j)
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_set1_ps(a[j].d[b] * d), acc[j]);
  }
  for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(acc[j]);
}


// ---- Interleaved 16-row groups (kernels/row_interleave.h): shared driver ----

// Decode prefetch for the interleaved kernels: each line of the weights is requested twice before
// it is read, into L1 `near` bytes ahead and into L2 `far` bytes ahead. With the L1 request alone
// one core of the development VM keeps too few misses in flight while it computes, and a decode
// product streamed at 78-93% of the plain read loop of the bandwidth probe; with the L2 request
// three columns ahead (Q8_0: eight) at 88-103% (docs/performance.md, "Decode, sixth session").
template <size_t Near, size_t Far>
__attribute__((always_inline)) inline void prefetch_ahead(const uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p + Near), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(p + Far), _MM_HINT_T1);
}

// For each of n_groups groups of nb block columns of col_bytes each: out[t] (lane r = row r) +=
// column(col, b, out) for every column b, then stored at y + t * y_stride + 16 g.
template <int NT, typename Column>
__attribute__((always_inline)) inline void rows16_groups(const uint8_t* w, int64_t n_groups, int64_t nb, size_t col_bytes, float* y,
                                                         int64_t y_stride, Column&& column) {
  for (int64_t g = 0; g < n_groups; ++g) {
    const uint8_t* group = w + g * nb * col_bytes;
    __m512 out[NT];
    for (int t = 0; t < NT; ++t) out[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) column(group + b * col_bytes, b, out);
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(y + t * y_stride + 16 * g, out[t]);
  }
}

// ---- Q6_K in interleaved 16-row groups (kernels/row_interleave.h) ----

// One block column of 16 rows for NT tokens: lane r of facc[t] gets row r's dot product with the
// column's 256 activations of token t, before the rows' d and the activation scale. Chunk c of the
// qh part and chunks c, c + 16 of the ql part give the vectors of elements 4c, 4(c + 16),
// 4(c + 32), 4(c + 48) (.. + 3) of every row, which belong to the 16-element groups c/4 + 0, 4,
// 8, 12; after four chunks those four groups are complete and are scaled (in f32, where these
// integer sums are exact) with the -32 offset removed as 32 * (the group's activation sum).
// With PF, the same lines of the next column and of the one three ahead are prefetched as this
// one's are read (spread over the work rather than in one burst; prefetch_ahead).
template <int NT, bool PF>
__attribute__((always_inline)) inline void q6k_column16(const uint8_t* col, const int8_t* const* x, const float* const* xs32, __m512 (&facc)[NT]) {
  constexpr int kCol = 16 * 210;
  const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
  if (PF)
    for (int off = 3072; off < kCol; off += 64) prefetch_ahead<2 * kCol, 3 * kCol>(col + off);
#pragma GCC unroll 1
  for (int a = 0; a < 4; ++a) {
    __m512i acc[4][NT];
    for (int m = 0; m < 4; ++m)
      for (int t = 0; t < NT; ++t) acc[m][t] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int c = 4 * a; c < 4 * a + 4; ++c) {
      if (PF) {
        prefetch_ahead<2 * kCol, 3 * kCol>(col + 64 * c);
        prefetch_ahead<2 * kCol, 3 * kCol>(col + 64 * (c + 16));
        prefetch_ahead<2 * kCol, 3 * kCol>(col + 2048 + 64 * c);
      }
      const __m512i l0 = _mm512_loadu_si512(col + 64 * c);
      const __m512i l1 = _mm512_loadu_si512(col + 64 * (c + 16));
      const __m512i h = _mm512_loadu_si512(col + 2048 + 64 * c);
      // (nibble) | (its 2 high bits moved to bits 4-5): ternlog A | (B & C)
      const __m512i v[4] = {
          _mm512_ternarylogic_epi32(_mm512_and_si512(l0, m4), _mm512_slli_epi16(h, 4), m30, 0xF8),
          _mm512_ternarylogic_epi32(_mm512_and_si512(l1, m4), _mm512_slli_epi16(h, 2), m30, 0xF8),
          _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(l0, 4), m4), h, m30, 0xF8),
          _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(l1, 4), m4), _mm512_srli_epi16(h, 2), m30, 0xF8)};
      for (int m = 0; m < 4; ++m)
        for (int t = 0; t < NT; ++t)
          acc[m][t] = _mm512_dpbusd_epi32(acc[m][t], v[m], _mm512_set1_epi32(static_cast<int>(rd32(reinterpret_cast<const uint8_t*>(x[t] + 4 * (c + 16 * m))))));
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; ++m) {
      const int g = a + 4 * m;
      const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col + 3072 + 16 * g))));
      for (int t = 0; t < NT; ++t)
        facc[t] = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(acc[m][t]), _mm512_set1_ps(xs32[t][g])), sc, facc[t]);
    }
  }
}

template <int NT>
void q6k_rows16(int64_t n, const uint8_t* w, int64_t n_groups, const ActRow* a, float* y, int64_t y_stride, size_t pf) {
  const int64_t nb = n / 256;
  // 32 * (sum of each 16 activations), per token
  thread_local std::vector<float> xs32;
  xs32.resize(static_cast<size_t>(NT * nb * 16));
  for (int t = 0; t < NT; ++t)
    for (int64_t i = 0; i < nb * 16; ++i) xs32[t * nb * 16 + i] = 32.0f * static_cast<float>(a[t].s[i]);
  rows16_groups<NT>(w, n_groups, nb, 16 * 210, y, y_stride, [&](const uint8_t* col, int64_t b, __m512(&out)[NT]) {
    const int8_t* x[NT];
    const float* xs[NT];
    __m512 facc[NT];
    for (int t = 0; t < NT; ++t) x[t] = a[t].q + b * 256, xs[t] = xs32.data() + (t * nb + b) * 16, facc[t] = _mm512_setzero_ps();
    if (pf > 0) q6k_column16<NT, true>(col, x, xs, facc);
    else q6k_column16<NT, false>(col, x, xs, facc);
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(col + 3328)));
    for (int t = 0; t < NT; ++t) out[t] = _mm512_fmadd_ps(facc[t], _mm512_mul_ps(d, _mm512_set1_ps(a[t].d[b])), out[t]);
  });
}

// Calls f(std::integral_constant<int, nt>) for 1 <= nt <= 4: the kernels' token count as a
// template argument.
template <typename F>
void with_nt(int nt, F&& f) {
  switch (nt) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    default: return f(std::integral_constant<int, 4>{});
  }
}

void q6k_rows16_any(int64_t n, const uint8_t* w, int64_t n_groups, const ActRow* a, int nt, float* y, int64_t y_stride, size_t pf) {
  with_nt(nt, [&](auto c) { q6k_rows16<decltype(c)::value>(n, w, n_groups, a, y, y_stride, pf); });
}

// ---- Q4_K in interleaved 16-row groups (kernels/row_interleave.h) ----

// Six-bit scales (or mins) of sub-blocks j and j + 4 (j < 4) of 16 rows, as f32 lanes: the low
// 4 bits from the nibbles of `lo` bytes 16j.., the high 2 from `hi` bytes 16(j % 2).., bits 2(j / 2)
// (sub-block j) and 2(j / 2) + 4 (sub-block j + 4).
inline void q4k_six16(const uint8_t* lo, const uint8_t* hi, int j, __m512& a, __m512& b) {
  const __m512i m4 = _mm512_set1_epi32(15), m30 = _mm512_set1_epi32(0x30);
  const __m512i l = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lo + 16 * j)));
  const __m512i h = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hi + 16 * (j % 2))));
  // bits 2(j/2).. of h to bits 4-5: shift left by 4 - 2(j/2) (j/2 = 0, 1); for sub-block j + 4 by -2(j/2)
  const __m512i ha = j / 2 == 0 ? _mm512_slli_epi32(h, 4) : _mm512_slli_epi32(h, 2);
  const __m512i hb = j / 2 == 0 ? h : _mm512_srli_epi32(h, 2);
  a = _mm512_cvtepi32_ps(_mm512_ternarylogic_epi32(_mm512_and_si512(l, m4), ha, m30, 0xF8));
  b = _mm512_cvtepi32_ps(_mm512_ternarylogic_epi32(_mm512_srli_epi32(l, 4), hb, m30, 0xF8));
}

// One block column of 16 rows for NT tokens: sc[t] += the rows' scaled sums, mn[t] += their
// mins times the activations' 32-element sums (both before d / dmin and the activation scale).
// Chunks 8j..8j+7 hold sub-block j (low nibbles) and j + 4 (high nibbles). PF as in q6k_column16.
template <int NT, bool PF>
__attribute__((always_inline)) inline void q4k_column16(const uint8_t* col, const int8_t* const* x, const float* const* xs,
                                                        __m512 (&sc)[NT], __m512 (&mn)[NT]) {
  constexpr int kCol = 16 * 144;
  const __m512i m4 = _mm512_set1_epi8(15);
  if (PF)
    for (int off = 2048; off < kCol; off += 64) prefetch_ahead<2 * kCol, 3 * kCol>(col + off);
#pragma GCC unroll 1
  for (int j = 0; j < 4; ++j) {
    __m512i lo[NT], hi[NT];
    for (int t = 0; t < NT; ++t) lo[t] = hi[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int c = 8 * j; c < 8 * j + 8; ++c) {
      if (PF) prefetch_ahead<2 * kCol, 3 * kCol>(col + 64 * c);
      const __m512i q = _mm512_loadu_si512(col + 64 * c);
      // High nibbles left in place (16x their value, still < 256 for vpdpbusd's unsigned bytes):
      // one and-not instead of a shift and an and; sb is divided by 16 below.
      const __m512i vl = _mm512_and_si512(q, m4), vh = _mm512_andnot_si512(m4, q);
      for (int t = 0; t < NT; ++t) {
        lo[t] = _mm512_dpbusd_epi32(lo[t], vl, _mm512_set1_epi32(static_cast<int>(rd32(reinterpret_cast<const uint8_t*>(x[t] + 4 * c)))));
        hi[t] = _mm512_dpbusd_epi32(hi[t], vh, _mm512_set1_epi32(static_cast<int>(rd32(reinterpret_cast<const uint8_t*>(x[t] + 4 * (c + 32))))));
      }
    }
    __m512 sa, sb, ma, mb;
    q4k_six16(col + 2048, col + 2112, j, sa, sb);
    q4k_six16(col + 2144, col + 2208, j, ma, mb);
    // Exact: hi[t] < 2^24 and a power-of-two scale, so hi * (sb / 16) rounds as (hi / 16) * sb.
    sb = _mm512_mul_ps(sb, _mm512_set1_ps(1.0f / 16));
    for (int t = 0; t < NT; ++t) {
      sc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo[t]), sa, sc[t]);
      sc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi[t]), sb, sc[t]);
      mn[t] = _mm512_fmadd_ps(ma, _mm512_set1_ps(xs[t][j]), mn[t]);
      mn[t] = _mm512_fmadd_ps(mb, _mm512_set1_ps(xs[t][j + 4]), mn[t]);
    }
  }
}

template <int NT>
void q4k_rows16(int64_t n, const uint8_t* w, int64_t n_groups, const ActRow* a, float* y, int64_t y_stride, size_t pf) {
  const int64_t nb = n / 256;
  // sum of each 32 activations, per token
  thread_local std::vector<float> xs32;
  xs32.resize(static_cast<size_t>(NT * nb * 8));
  for (int t = 0; t < NT; ++t)
    for (int64_t i = 0; i < nb * 8; ++i) xs32[t * nb * 8 + i] = static_cast<float>(a[t].s[2 * i] + a[t].s[2 * i + 1]);
  rows16_groups<NT>(w, n_groups, nb, 16 * 144, y, y_stride, [&](const uint8_t* col, int64_t b, __m512(&out)[NT]) {
    const int8_t* x[NT];
    const float* xs[NT];
    __m512 sc[NT], mn[NT];
    for (int t = 0; t < NT; ++t) x[t] = a[t].q + b * 256, xs[t] = xs32.data() + (t * nb + b) * 8, sc[t] = mn[t] = _mm512_setzero_ps();
    if (pf > 0) q4k_column16<NT, true>(col, x, xs, sc, mn);
    else q4k_column16<NT, false>(col, x, xs, sc, mn);
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(col + 2240)));
    const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(col + 2272)));
    for (int t = 0; t < NT; ++t) out[t] = _mm512_fmadd_ps(_mm512_fmsub_ps(d, sc[t], _mm512_mul_ps(dmin, mn[t])), _mm512_set1_ps(a[t].d[b]), out[t]);
  });
}

void q4k_rows16_any(int64_t n, const uint8_t* w, int64_t n_groups, const ActRow* a, int nt, float* y, int64_t y_stride, size_t pf) {
  with_nt(nt, [&](auto c) { q4k_rows16<decltype(c)::value>(n, w, n_groups, a, y, y_stride, pf); });
}

// ---- Q8_0 in interleaved 16-row groups (kernels/row_interleave.h) ----

// Weights go into vpdpbusd as unsigned w + 128 (one xor); each token's lanes start from
// -128 * (the block's activation sum), so the sum is exact. With PF the lines of the next column
// and of the one eight ahead are prefetched as this one's are read (prefetch_ahead).
template <int NT, bool PF>
void q80_rows16(int64_t n, const uint8_t* w, int64_t n_groups, const ActRow* a, float* y, int64_t y_stride) {
  constexpr int kCol = 16 * 34;
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  rows16_groups<NT>(w, n_groups, n / 32, kCol, y, y_stride, [&](const uint8_t* col, int64_t b, __m512(&out)[NT]) {
    __m512i acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_set1_epi32(-128 * a[t].s[b]);
    if (PF) prefetch_ahead<4 * kCol, 8 * kCol>(col + 512);
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      if (PF) prefetch_ahead<4 * kCol, 8 * kCol>(col + 64 * c);
      const __m512i v = _mm512_xor_si512(_mm512_loadu_si512(col + 64 * c), bias);
      for (int t = 0; t < NT; ++t)
        acc[t] = _mm512_dpbusd_epi32(acc[t], v, _mm512_set1_epi32(static_cast<int>(rd32(reinterpret_cast<const uint8_t*>(a[t].q + 32 * b + 4 * c)))));
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(col + 512)));
    for (int t = 0; t < NT; ++t) out[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[t]), _mm512_mul_ps(d, _mm512_set1_ps(a[t].d[b])), out[t]);
  });
}

void q80_rows16_any(int64_t n, const uint8_t* w, int64_t n_groups, const ActRow* a, int nt, float* y, int64_t y_stride, size_t pf) {
  with_nt(nt, [&](auto c) {
    if (pf > 0) q80_rows16<decltype(c)::value, true>(n, w, n_groups, a, y, y_stride);
    else q80_rows16<decltype(c)::value, false>(n, w, n_groups, a, y, y_stride);
  });
}

#include "kernels/qdot_dispatch.inc"

}  // namespace

QDotFn qdot_kernel(DType t) {
  if (!cpu_features().avx512vnni) return nullptr;
  return kernel_for(t);
}

namespace {
// One token over nr rows with the one-row kernel K inlined (its constants hoisted out of the row
// loop). Before each row it prefetches the same span pf bytes further on into L1 and 4 pf bytes
// further on into L2 (as prefetch_ahead): the lines may lie past the range (another thread's
// block, or past the matrix: prefetches never fault).
template <DType T, void (*K)(int64_t, const uint8_t*, const ActRow*, float*)>
void rows_loop(int64_t n, const uint8_t* w, size_t stride, int64_t nr, const ActRow& a, float* y, size_t pf) {
  const size_t row_bytes = dtype_row_bytes(T, n);
  for (int64_t r = 0; r < nr; ++r) {
    const uint8_t* row = w + r * stride;
    if (pf > 0)
      for (size_t off = 0; off < row_bytes; off += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(row + pf + off), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(row + 4 * pf + off), _MM_HINT_T1);
      }
    K(n, row, &a, y + r);
  }
}
}  // namespace

QDotRowsFn qdot_rows_kernel(DType t) {
  if (!cpu_features().avx512vnni) return nullptr;
  switch (t) {
    case DType::Q8_0: return rows_loop<DType::Q8_0, dot_q8_0<1>>;
    case DType::Q4_K: return rows_loop<DType::Q4_K, dot_q45k<false, 1>>;
    case DType::Q6_K: return rows_loop<DType::Q6_K, dot_q6k<1>>;
    default: return nullptr;
  }
}

QDotRows16Fn qdot_rows16_kernel(DType t) {
  if (!cpu_features().avx512vnni) return nullptr;
  if (t == DType::Q6_K) return q6k_rows16_any;
  if (t == DType::Q4_K) return q4k_rows16_any;
  if (t == DType::Q8_0) return q80_rows16_any;
  return nullptr;
}

}  // namespace herd::avx512
