// AVX-512 (F/BW/VL/DQ + VNNI) versions of the qdot.h kernels. Weights are unpacked to unsigned
// bytes (an offset is removed afterwards with the activation block sums), multiplied with the
// signed 8-bit activations by vpdpbusd, and each unpacked weight vector serves up to 4 tokens.
// Only used when cpu_features() reports AVX-512 VNNI.
#include <immintrin.h>

#include "core/quants.h"
#include "kernels/cpu_features.h"
#include "kernels/qdot.h"

namespace herd::avx512 {

namespace {

using quant::k_scale_min;
using quant::rd32;
using quant::rdf16;

inline __m512i cat256(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
inline __m512 cat_ps(float a, float b) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}
inline __m512i cat_epi32(int a, int b) { return cat256(_mm256_set1_epi32(a), _mm256_set1_epi32(b)); }

// ---- 32-element block types, two blocks per step ----

// Unsigned bytes for blocks b and b+1 (elements in order) and the offset each weight carries.
template <DType T>
inline __m512i unpack2(const uint8_t* A, const uint8_t* B) {
  if constexpr (T == DType::Q8_0) {
    const __m512i w = cat256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(A + 2)),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(B + 2)));
    return _mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80)));  // w + 128
  } else {
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
}

template <DType T, int NT>
void dot32(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  constexpr size_t bb = T == DType::Q8_0 ? 34 : T == DType::Q4_0 ? 18 : 22;
  constexpr int offset = T == DType::Q8_0 ? 128 : T == DType::Q4_0 ? 8 : 16;  // per weight
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
    for (int j = 0; j < NT; ++j) rest[j] = {a[j].q + b * 32, a[j].d + b, a[j].s + b};
    scalar::qdot_kernel(T)(32, w + b * bb, rest, NT, tail);
  }
  for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(acc[j]) + tail[j];
}

// ---- Q4_K / Q5_K ----

template <bool FIVE, int NT>
void dot_q45k(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  constexpr size_t bb = FIVE ? 176 : 144;
  __m512 acc[NT];
  float mins[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps(), mins[j] = 0;
  const __m256i m4 = _mm256_set1_epi8(15);
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * bb;
    const uint8_t* qs = blk + (FIVE ? 48 : 16);
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; ++s) k_scale_min(s, blk + 4, &sc[s], &mn[s]);
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
      const __m512i scv = cat_epi32(sc[2 * g], sc[2 * g + 1]);
      for (int j = 0; j < NT; ++j) {
        const __m512i x = _mm512_loadu_si512(a[j].q + b * 256 + 64 * g);
        isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, x), scv));
      }
    }
    const float d = rdf16(blk), dmin = rdf16(blk + 2);
    for (int j = 0; j < NT; ++j) {
      const int32_t* bs = a[j].s + b * 16;
      int32_t mi = 0;
      for (int s = 0; s < 8; ++s) mi += mn[s] * (bs[2 * s] + bs[2 * s + 1]);
      const float dx = a[j].d[b];
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_set1_ps(dx * d), acc[j]);
      mins[j] += dx * (dmin * static_cast<float>(mi));
    }
  }
  for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(acc[j]) - mins[j];
}

// ---- Q6_K ----

template <int NT>
void dot_q6k(int64_t n, const uint8_t* w, const ActRow* a, float* out) {
  __m512 acc[NT];
  float corr[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps(), corr[j] = 0;
  const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
  const __m128i rep0 = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m128i rep1 = _mm_setr_epi8(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * 210;
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
    __m512i isum[NT];
    for (int j = 0; j < NT; ++j) isum[j] = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      const __m512i qhA = cat256(qh, _mm256_srli_epi16(qh, 2));
      const __m512i qhB = cat256(_mm256_srli_epi16(qh, 4), _mm256_srli_epi16(qh, 6));
      const __m512i uA = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qhA, m2), 4));
      const __m512i uB =
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(_mm512_and_si512(qhB, m2), 4));
      const __m128i s8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc + 8 * h));
      const __m512i sA = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(s8, rep0));
      const __m512i sB = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(s8, rep1));
      for (int j = 0; j < NT; ++j) {
        const int8_t* x = a[j].q + b * 256 + 128 * h;
        const __m512i pA = _mm512_dpbusd_epi32(_mm512_setzero_si512(), uA, _mm512_loadu_si512(x));
        const __m512i pB = _mm512_dpbusd_epi32(_mm512_setzero_si512(), uB, _mm512_loadu_si512(x + 64));
        isum[j] = _mm512_add_epi32(isum[j], _mm512_add_epi32(_mm512_mullo_epi32(pA, sA), _mm512_mullo_epi32(pB, sB)));
      }
    }
    const float d = rdf16(blk + 208);
    for (int j = 0; j < NT; ++j) {
      const int32_t* bs = a[j].s + b * 16;
      int32_t c = 0;
      for (int g = 0; g < 16; ++g) c += sc[g] * bs[g];
      const float dd = a[j].d[b] * d;
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_set1_ps(dd), acc[j]);
      corr[j] += dd * static_cast<float>(32 * c);
    }
  }
  for (int j = 0; j < NT; ++j) out[j] = _mm512_reduce_add_ps(acc[j]) - corr[j];
}

template <template <int> class K>
void many(int64_t n, const uint8_t* w, const ActRow* a, int nt, float* out) {
  switch (nt) {
    case 1: return K<1>::run(n, w, a, out);
    case 2: return K<2>::run(n, w, a, out);
    case 3: return K<3>::run(n, w, a, out);
    default: return K<4>::run(n, w, a, out);
  }
}
template <DType T>
struct D32 {
  template <int NT>
  struct K {
    static void run(int64_t n, const uint8_t* w, const ActRow* a, float* out) { dot32<T, NT>(n, w, a, out); }
  };
};
template <bool F>
struct DK {
  template <int NT>
  struct K {
    static void run(int64_t n, const uint8_t* w, const ActRow* a, float* out) { dot_q45k<F, NT>(n, w, a, out); }
  };
};
template <int NT>
struct D6 {
  static void run(int64_t n, const uint8_t* w, const ActRow* a, float* out) { dot_q6k<NT>(n, w, a, out); }
};

}  // namespace

QDotFn qdot_kernel(DType t) {
  if (!cpu_features().avx512vnni) return nullptr;
  switch (t) {
    case DType::Q8_0: return many<D32<DType::Q8_0>::K>;
    case DType::Q4_0: return many<D32<DType::Q4_0>::K>;
    case DType::Q5_0: return many<D32<DType::Q5_0>::K>;
    case DType::Q4_K: return many<DK<false>::K>;
    case DType::Q5_K: return many<DK<true>::K>;
    case DType::Q6_K: return many<D6>;
    default: return nullptr;
  }
}

}  // namespace herd::avx512
