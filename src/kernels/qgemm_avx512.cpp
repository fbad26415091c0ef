// AVX-512 VNNI register-tiled GEMM for prefill (qdot.h: QGemmFn). A panel of 16 weight rows is
// unpacked once per call into unsigned bytes in an interleaved layout: 64 bytes per 4 input
// elements, lane r of the vector holding row r's 4 bytes, so one vpdpbusd with a broadcast
// 4-byte activation word does 64 multiply-adds for 16 rows of one token. Per group of G inputs
// (one scale per row) the integer sums go to f32 with the rows' scales as a vector. Up to 8 tokens
// share each unpacked weight vector; every token runs over the same panel in L1.
// Per 16 rows x 256 inputs x token: 64 vpdpbusd + 8-16 scale steps, against ~7x that many
// instructions in the one-row dot kernels (which rescale per 64 inputs and reduce per row).
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "core/quants.h"
#include "kernels/cpu_features.h"
#include "kernels/qdot.h"

namespace herd::avx512 {

namespace {

using quant::k_scale_min;
using quant::rd16;

inline float rdf16(const uint8_t* p) { return _cvtsh_ss(rd16(p)); }

// A panel: q [n/4][16 rows][4] unsigned bytes; a [ng][16] the scale of each row's group; b [ng][16]
// Q4_K's -dmin*min per row and group (w = a*q + b; Q8_0 / Q6_K's offsets come from QGroups.off).
struct Panel {
  std::vector<uint8_t> rowq;  // [16][n] row-major unpacked bytes (scratch)
  std::vector<uint8_t> q;
  std::vector<float> a, b;
};

template <DType TYPE>
void unpack_row(int64_t n, const uint8_t* w, uint8_t* q, float* a, float* b) {
  // a / b written with stride 16 (one row's column of the panel)
  if constexpr (TYPE == DType::Q8_0) {
    for (int64_t i = 0; i < n / 32; ++i) {
      const uint8_t* blk = w + i * 34;
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * i), _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))));
      a[16 * i] = rdf16(blk);
    }
  } else if constexpr (TYPE == DType::Q4_K) {
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t i = 0; i < n / 256; ++i) {
      const uint8_t* blk = w + i * 144;
      const float d = rdf16(blk), dmin = rdf16(blk + 2);
      for (int s = 0; s < 8; ++s) {
        uint8_t sc, mn;
        k_scale_min(s, blk + 4, &sc, &mn);
        a[16 * (8 * i + s)] = d * sc;
        b[16 * (8 * i + s)] = -dmin * mn;
      }
      for (int g = 0; g < 4; ++g) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * g));
        uint8_t* dst = q + 256 * i + 64 * g;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_and_si256(v, m4));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
      }
    }
  } else {  // Q6_K
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    for (int64_t i = 0; i < n / 256; ++i) {
      const uint8_t* blk = w + i * 210;
      const float d = rdf16(blk + 208);
      const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
      for (int g = 0; g < 16; ++g) a[16 * (16 * i + g)] = d * sc[g];
      for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
        const __m512i qhA = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
        const __m512i qhB = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srli_epi16(qh, 4)), _mm256_srli_epi16(qh, 6), 1);
        const __m512i uA = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qhA, m2), 4));
        const __m512i uB =
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(_mm512_and_si512(qhB, m2), 4));
        _mm512_storeu_si512(q + 256 * i + 128 * h, uA);
        _mm512_storeu_si512(q + 256 * i + 128 * h + 64, uB);
      }
    }
  }
}

template <DType TYPE>
void build_panel(int64_t n, const uint8_t* w, size_t stride, int nr, Panel& p, int G) {
  const int64_t ng = n / G;
  p.rowq.resize(16 * n);
  p.q.resize(16 * n);
  p.a.assign(16 * ng, 0.0f);
  p.b.assign(TYPE == DType::Q4_K ? 16 * ng : 0, 0.0f);
  for (int r = 0; r < 16; ++r) {
    if (r < nr) unpack_row<TYPE>(n, w + r * stride, p.rowq.data() + r * n, p.a.data() + r, TYPE == DType::Q4_K ? p.b.data() + r : nullptr);
    else std::fill(p.rowq.begin() + r * n, p.rowq.begin() + (r + 1) * n, 0);
  }
  // transpose 4-byte words: q[c][r] = rowq[r][c], 16 x 16 words at a time in registers
  // (32-bit, 64-bit and two 128-bit-lane shuffle stages).
  for (int64_t c0 = 0; c0 < n / 4; c0 += 16) {
    __m512i r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(p.rowq.data() + i * n + 4 * c0);
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {  // r[4i+k], lane L: column 4L+k of rows 4i..4i+3
      r[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
      r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
      r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
      r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    uint8_t* dst = p.q.data() + 64 * c0;
    for (int k = 0; k < 4; ++k) {
      const __m512i v = _mm512_shuffle_i32x4(r[k], r[4 + k], _MM_SHUFFLE(1, 0, 1, 0));
      const __m512i w2 = _mm512_shuffle_i32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(1, 0, 1, 0));
      const __m512i v2 = _mm512_shuffle_i32x4(r[k], r[4 + k], _MM_SHUFFLE(3, 2, 3, 2));
      const __m512i w3 = _mm512_shuffle_i32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(3, 2, 3, 2));
      _mm512_storeu_si512(dst + 64 * (0 + k), _mm512_shuffle_i32x4(v, w2, _MM_SHUFFLE(2, 0, 2, 0)));
      _mm512_storeu_si512(dst + 64 * (4 + k), _mm512_shuffle_i32x4(v, w2, _MM_SHUFFLE(3, 1, 3, 1)));
      _mm512_storeu_si512(dst + 64 * (8 + k), _mm512_shuffle_i32x4(v2, w3, _MM_SHUFFLE(2, 0, 2, 0)));
      _mm512_storeu_si512(dst + 64 * (12 + k), _mm512_shuffle_i32x4(v2, w3, _MM_SHUFFLE(3, 1, 3, 1)));
    }
  }
}

inline int32_t word(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// GPB groups share one activation scale (1 for Q8_0's blocks of 32, 256 / G for Q8_K): their
// scaled sums are added first and multiplied by it once.
template <int G, bool MIN, int NT>
void tile(int64_t n, const Panel& p, const QGroups& g, int64_t t0, float* y, int64_t ldy, int nr, const char* pf = nullptr,
          int64_t pf_lines = 0) {
  constexpr int GPB = G == 32 && !MIN ? 1 : 256 / G;
  const int64_t ng = n / G, T = g.T;
  const int32_t* xw = g.xw.data() + t0;
  const int32_t* off = g.off.data() + t0;
  const float* dx = g.dx.data() + t0;
  const float* fs = g.fs.data() + t0;
  const uint8_t* wq = p.q.data();
  const float* pa = p.a.data();
  const float* pb = p.b.data();
  __m512 facc[NT];
  for (int j = 0; j < NT; ++j) facc[j] = _mm512_setzero_ps();
  const int64_t pf_per_iter = (pf_lines + ng / GPB - 1) / (ng / GPB);
  int64_t pf_next = 0;
  for (int64_t i0 = 0; i0 < ng; i0 += GPB) {
    for (int64_t k = 0; k < pf_per_iter && pf_next < pf_lines; ++k, ++pf_next) __builtin_prefetch(pf + 64 * pf_next, 0, 3);
    __m512 fsb[NT];
    for (int j = 0; j < NT; ++j) fsb[j] = _mm512_setzero_ps();
    const float* dxb = dx;
    for (int ii = 0; ii < GPB; ++ii) {
      __m512i acc[NT];
      for (int j = 0; j < NT; ++j) acc[j] = _mm512_set1_epi32(off[j]);
      for (int k = 0; k < G / 4; ++k) {
        const __m512i wv = _mm512_loadu_si512(wq + 64 * k);
        for (int j = 0; j < NT; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], wv, _mm512_set1_epi32(xw[j]));
        xw += T;
      }
      wq += 16 * G;
      const __m512 av = _mm512_loadu_ps(pa);
      pa += 16;
      for (int j = 0; j < NT; ++j) fsb[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[j]), av, fsb[j]);
      if constexpr (MIN) {  // fs = the group's activation sum here (dx applied with the block's)
        const __m512 bv = _mm512_loadu_ps(pb);
        pb += 16;
        for (int j = 0; j < NT; ++j) fsb[j] = _mm512_fmadd_ps(bv, _mm512_set1_ps(fs[j]), fsb[j]);
      }
      off += T, dx += T, fs += T;
    }
    for (int j = 0; j < NT; ++j) facc[j] = _mm512_fmadd_ps(fsb[j], _mm512_set1_ps(dxb[j]), facc[j]);
  }
  const __mmask16 m = static_cast<__mmask16>((1u << nr) - 1);
  for (int j = 0; j < NT; ++j) _mm512_mask_storeu_ps(y + (t0 + j) * ldy, m, facc[j]);
}

template <DType TYPE>
void gemm(int64_t n, const uint8_t* w, size_t stride, int nr, const QActs& a, const QGroups& g, float* y, int64_t ldy) {
  constexpr int G = TYPE == DType::Q6_K ? 16 : 32;
  constexpr bool MIN = TYPE == DType::Q4_K;
  thread_local Panel panel;
  build_panel<TYPE>(n, w, stride, nr, panel, G);
  const int64_t T = a.T;
  // The next panel's rows (matmul walks panels in order) are prefetched during the first token
  // tile: for few tokens (routed experts) they would otherwise arrive at memory latency.
  const char* pf = reinterpret_cast<const char*>(w + 16 * stride);
  const int64_t pf_lines = static_cast<int64_t>(16 * stride + 63) / 64;
  int64_t t0 = 0;
  for (; t0 + 8 <= T; t0 += 8) tile<G, MIN, 8>(n, panel, g, t0, y, ldy, nr, pf, t0 == 0 ? pf_lines : 0);
  const int64_t pl = t0 == 0 ? pf_lines : 0;
  switch (T - t0) {
    case 1: tile<G, MIN, 1>(n, panel, g, t0, y, ldy, nr, pf, pl); break;
    case 2: tile<G, MIN, 2>(n, panel, g, t0, y, ldy, nr, pf, pl); break;
    case 3: tile<G, MIN, 3>(n, panel, g, t0, y, ldy, nr, pf, pl); break;
    case 4: tile<G, MIN, 4>(n, panel, g, t0, y, ldy, nr, pf, pl); break;
    case 5: tile<G, MIN, 5>(n, panel, g, t0, y, ldy, nr, pf, pl); break;
    case 6: tile<G, MIN, 6>(n, panel, g, t0, y, ldy, nr, pf, pl); break;
    case 7: tile<G, MIN, 7>(n, panel, g, t0, y, ldy, nr, pf, pl); break;
    default: break;
  }
}

}  // namespace

void quantize_act_row(const float* x, int64_t n, ActKind kind, int8_t* q, float* d, int32_t* s) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  if (kind == ActKind::Q8_0) {
    for (int64_t b = 0; b < n / 32; ++b) {
      const __m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, x0), _mm512_andnot_ps(sign, x1)));
      const float dd = amax / 127.0f, id = dd != 0 ? 1.0f / dd : 0.0f;
      const __m512 idv = _mm512_set1_ps(id);
      const __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(x0, idv), kRound);
      const __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(x1, idv), kRound);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b), _mm512_cvtsepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b + 16), _mm512_cvtsepi32_epi8(q1));
      d[b] = _cvtsh_ss(_cvtss_sh(dd, _MM_FROUND_TO_NEAREST_INT));
      s[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
    return;
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* xb = x + 256 * b;
    __m512 m = _mm512_setzero_ps();
    for (int k = 0; k < 16; ++k) m = _mm512_max_ps(m, _mm512_andnot_ps(sign, _mm512_loadu_ps(xb + 16 * k)));
    const float amax = _mm512_reduce_max_ps(m);
    if (amax == 0) {
      std::fill(q + 256 * b, q + 256 * b + 256, 0);
      d[b] = 0;
      std::fill(s + 16 * b, s + 16 * b + 16, 0);
      continue;
    }
    float mx = 0;  // the first element of largest magnitude, as the scalar code picks it
    for (int k = 0; k < 16; ++k) {
      const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, _mm512_loadu_ps(xb + 16 * k)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (hit) {
        mx = xb[16 * k + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = -127.0f / mx;
    const __m512 isv = _mm512_set1_ps(iscale);
    for (int k = 0; k < 16; ++k) {
      __m512i v = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 16 * k), isv), kRound);
      v = _mm512_min_epi32(v, _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 256 * b + 16 * k), _mm512_cvtsepi32_epi8(v));
      s[16 * b + k] = _mm512_reduce_add_epi32(v);
    }
    d[b] = 1.0f / iscale;
  }
}

QGemmFn qgemm_kernel(DType t) {
  if (!cpu_features().avx512vnni) return nullptr;
  switch (t) {
    case DType::Q8_0: return gemm<DType::Q8_0>;
    case DType::Q4_K: return gemm<DType::Q4_K>;
    case DType::Q6_K: return gemm<DType::Q6_K>;
    default: return nullptr;
  }
}

}  // namespace herd::avx512
