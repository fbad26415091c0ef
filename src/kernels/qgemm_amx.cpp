// AMX int8 GEMM for prefill (qgemm_amx.h; same contract as QGemmFn in qdot.h). Built with AMX and
// AVX-512 code generation; matmul reaches it only where use_amx() is true.
//
// Per call: one panel of 16 weight rows, all T tokens. The weights are tile A (16 rows x G bytes,
// one scale group of G = 32 inputs, 16 for Q6_K), row-major as stored: Q8_0's 32 signed quants are
// loaded straight from the GGUF rows (the tile's row stride is the matrix row stride, the 2-byte
// scale skipped by the base address), Q4_K / Q6_K rows are unpacked once per call into signed
// bytes (Q6_K with its -32 offset applied, so no offset correction). The activations are tile B
// (G/4 rows x 16 tokens x 4 bytes): QGroups::xw is already token-minor 4-byte words, so a B tile
// is xw read with a row stride of 4*T bytes. One tdpbssd gives the 16 x 16 integer dot products
// of a group; they go to f32 with the rows' group scales (AVX-512, vector over the 16 tokens) and
// the activation scale (once per 256-input block for the K types). Two groups are in flight at a
// time (tiles 0-1 A, 2-3 B, 4-5 and 6-7 C of alternate pairs).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/qgemm_amx.h"
#include "kernels/row_interleave_avx512.h"

namespace herd::amx {

namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64);

// Tile state is per thread; herd's own code is the only AMX user on its threads, so a thread
// keeps the last configuration (G) it loaded.
void configure(int G) {
  thread_local int loaded = 0;
  if (loaded == G) return;
  TileConfig c;
  for (int t : {0, 1}) c.rows[t] = 16, c.colsb[t] = static_cast<uint16_t>(G);
  for (int t : {2, 3}) c.rows[t] = static_cast<uint8_t>(G / 4), c.colsb[t] = 64;
  for (int t : {4, 5, 6, 7}) c.rows[t] = 16, c.colsb[t] = 64;
  // Not _tile_loadconfig: GCC 12's version names only the first 8 bytes of the configuration as
  // its memory operand, so the stores to rows / colsb could be dropped as dead.
  __asm__ volatile("ldtilecfg %0" ::"m"(c) : "memory");
  loaded = G;
}

// The tile instructions are asm statements without memory operands: order them against the
// ordinary stores of the buffers they read (once, before the loop).
inline void barrier() { __asm__ volatile("" ::: "memory"); }

// tilestored of tile TMM into a 16 x 16 int32 buffer, which the asm names as its output (so the
// compiler orders the buffer's loads around it without a memory clobber, which would force the
// vector accumulators through the stack).
#define HERD_TILE_STORE(TMM, BUF) \
  __asm__ volatile("tilestored %%tmm" #TMM ", (%1,%2,1)" : "=m"(*reinterpret_cast<int32_t(*)[256]>(BUF)) : "r"(BUF), "r"(64L))

struct Scratch {
  std::vector<int8_t> q;       // [16][n] unpacked rows
  std::vector<float> a, b;     // [ng][16] row scales per group (b: Q4_K's -dmin*min)
  std::vector<int32_t> bpad;   // B tiles of the last groups, padded to 16 tokens
};

// Row r's quants as signed bytes (n inputs).
template <DType TYPE>
void unpack_q(int64_t n, const uint8_t* w, int8_t* q) {
  if constexpr (TYPE == DType::Q8_0) {
    for (int64_t i = 0; i < n / 32; ++i)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 34 * i + 2)));
  } else if constexpr (TYPE == DType::Q4_K) {
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t i = 0; i < n / 256; ++i) {
      const uint8_t* blk = w + i * 144 + 16;
      for (int g = 0; g < 4; ++g) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32 * g));
        int8_t* dst = q + 256 * i + 64 * g;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_and_si256(v, m4));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
      }
    }
  } else {  // Q6_K: (low 4 bits | high 2 bits << 4) - 32
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3), o32 = _mm512_set1_epi8(32);
    for (int64_t i = 0; i < n / 256; ++i) {
      const uint8_t* blk = w + i * 210;
      for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
        const __m512i qhA = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
        const __m512i qhB = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srli_epi16(qh, 4)), _mm256_srli_epi16(qh, 6), 1);
        const __m512i uA = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qhA, m2), 4));
        const __m512i uB =
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(_mm512_and_si512(qhB, m2), 4));
        _mm512_storeu_si512(q + 256 * i + 128 * h, _mm512_sub_epi8(uA, o32));
        _mm512_storeu_si512(q + 256 * i + 128 * h + 64, _mm512_sub_epi8(uB, o32));
      }
    }
  }
}

// Four 32-bit fields of 16 rows, row r's 16 bytes at p[r] (all readable): out[f] lane r = field f
// of row r. 128-bit row loads and a 16 x 4 transpose with two rounds of two-source permutes (no
// vpgatherdd: microcoded and slow on CPUs with the gather-data-sampling mitigation).
inline void transpose_fields(const uint8_t* const* p, __m512i out[4]) {
  __m512i z[4];
  for (int q = 0; q < 4; ++q) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p[4 * q])));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[4 * q + 1])), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[4 * q + 2])), 2);
    z[q] = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[4 * q + 3])), 3);
  }
  // z[q] dword 4i+f = field f of row 4q+i. Round 1: rows 0-7 (z0, z1) and 8-15 (z2, z3), fields
  // {0, 1} and {2, 3}: lane k < 8 = field f0 of row k, lane 8 + k = field f0+1 of row k.
  const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  const __m512i u01 = _mm512_permutex2var_epi32(z[0], i01, z[1]), u23 = _mm512_permutex2var_epi32(z[0], i23, z[1]);
  const __m512i v01 = _mm512_permutex2var_epi32(z[2], i01, z[3]), v23 = _mm512_permutex2var_epi32(z[2], i23, z[3]);
  const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const __m512i hi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  out[0] = _mm512_permutex2var_epi32(u01, lo, v01);
  out[1] = _mm512_permutex2var_epi32(u01, hi, v01);
  out[2] = _mm512_permutex2var_epi32(u23, lo, v23);
  out[3] = _mm512_permutex2var_epi32(u23, hi, v23);
}

// Group scales of the panel's rows, a[g][r] (and Q4_K's b[g][r] = -dmin*min), one vector over
// the 16 rows per group (rows >= nr read zeros and get 0).
template <DType TYPE>
void unpack_scales(int64_t n, const uint8_t* w, size_t stride, int nr, float* a, float* b) {
  alignas(16) static const uint8_t zeros[256] = {};
  auto f16lo = [](__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); };
  const uint8_t* p[16];
  if constexpr (TYPE == DType::Q8_0) {
    alignas(32) uint16_t d[16];
    for (int64_t i = 0; i < n / 32; ++i) {
      for (int r = 0; r < 16; ++r) d[r] = r < nr ? static_cast<uint16_t>(w[r * stride + 34 * i] | w[r * stride + 34 * i + 1] << 8) : 0;
      _mm512_storeu_ps(a + 16 * i, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(d))));
    }
  } else if constexpr (TYPE == DType::Q4_K) {
    const __m512i m63 = _mm512_set1_epi32(63), m15 = _mm512_set1_epi32(15), m3 = _mm512_set1_epi32(3);
    for (int64_t i = 0; i < n / 256; ++i) {
      for (int r = 0; r < 16; ++r) p[r] = r < nr ? w + r * stride + i * 144 : zeros;
      __m512i f[4];  // d | dmin << 16, then the 12 scale / min bytes
      transpose_fields(p, f);
      const __m512i D = f[0], D0 = f[1], D1 = f[2], D2 = f[3];
      const __m512 d = f16lo(D);
      const __m512 nmin = _mm512_xor_ps(f16lo(_mm512_srli_epi32(D, 16)), _mm512_set1_ps(-0.0f));
      __m512i sc[8], mn[8];
      for (int s = 0; s < 4; ++s) {  // quants.h k_scale_min, one byte lane per row
        sc[s] = _mm512_and_si512(_mm512_srli_epi32(D0, 8 * s), m63);
        mn[s] = _mm512_and_si512(_mm512_srli_epi32(D1, 8 * s), m63);
        sc[s + 4] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(D2, 8 * s), m15),
                                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(D0, 8 * s + 6), m3), 4));
        mn[s + 4] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(D2, 8 * s + 4), m15),
                                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(D1, 8 * s + 6), m3), 4));
      }
      for (int s = 0; s < 8; ++s) {
        _mm512_storeu_ps(a + 16 * (8 * i + s), _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc[s])));
        _mm512_storeu_ps(b + 16 * (8 * i + s), _mm512_mul_ps(nmin, _mm512_cvtepi32_ps(mn[s])));
      }
    }
  } else {  // Q6_K: 16 int8 scales at 192, f16 d at 208 (the high half of bytes 206..209)
    for (int64_t i = 0; i < n / 256; ++i) {
      __m512i sc[4], f[4];
      for (int r = 0; r < 16; ++r) p[r] = r < nr ? w + r * stride + i * 210 + 192 : zeros;
      transpose_fields(p, sc);
      for (int r = 0; r < 16; ++r) p[r] += 2;
      transpose_fields(p, f);  // f[3] = bytes 206..209
      const __m512 d = f16lo(_mm512_srli_epi32(f[3], 16));
      for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 4; ++j) {
          const __m512i v = _mm512_srai_epi32(_mm512_slli_epi32(sc[k], 24 - 8 * j), 24);
          _mm512_storeu_ps(a + 16 * (16 * i + 4 * k + j), _mm512_mul_ps(d, _mm512_cvtepi32_ps(v)));
        }
    }
  }
}

// The same from one interleaved group (kernels/row_interleave.h), column by column: the rows'
// quants come out of the 64-byte chunks by a dword transpose; the scales are already stored as
// vectors over the 16 rows.
template <DType TYPE>
void unpack_q_interleaved(int64_t n, const uint8_t* w, int8_t* q) {
  constexpr int64_t B = TYPE == DType::Q8_0 ? 32 : 256;
  const size_t col_bytes = 16 * dtype_block_bytes(TYPE);
  const __m512i m4 = _mm512_set1_epi8(15), m3 = _mm512_set1_epi8(3), o32 = _mm512_set1_epi8(32);
  for (int64_t i = 0; i < n / B; ++i) {
    const uint8_t* col = w + i * col_bytes;
    __m512i ta[16], tb[16], tu[16];
    if constexpr (TYPE == DType::Q8_0) {
      simd::row_dwords(col, ta, 8);
      for (int r = 0; r < 16; ++r) _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + r * n + 32 * i), _mm512_castsi512_si256(ta[r]));
    } else if constexpr (TYPE == DType::Q4_K) {  // chunk byte: q[m] | q[128 + m] << 4
      simd::row_dwords(col, ta);
      simd::row_dwords(col + 1024, tb);
      for (int r = 0; r < 16; ++r) {
        int8_t* d = q + r * n + 256 * i;
        _mm512_storeu_si512(d, _mm512_and_si512(ta[r], m4));
        _mm512_storeu_si512(d + 64, _mm512_and_si512(tb[r], m4));
        _mm512_storeu_si512(d + 128, _mm512_and_si512(_mm512_srli_epi16(ta[r], 4), m4));
        _mm512_storeu_si512(d + 192, _mm512_and_si512(_mm512_srli_epi16(tb[r], 4), m4));
      }
    } else {  // Q6_K: low nibbles as Q4_K's, the 2-bit planes U[m] = sum over k of hi(q[m + 64k]) << 2k
      simd::row_dwords(col, ta);
      simd::row_dwords(col + 1024, tb);
      simd::row_dwords(col + 2048, tu);
      for (int r = 0; r < 16; ++r) {
        int8_t* d = q + r * n + 256 * i;
        const __m512i u = tu[r];
        auto six = [&](__m512i lo, int k) {
          return _mm512_sub_epi8(_mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(u, 2 * k), m3), 4)), o32);
        };
        _mm512_storeu_si512(d, six(_mm512_and_si512(ta[r], m4), 0));
        _mm512_storeu_si512(d + 64, six(_mm512_and_si512(tb[r], m4), 1));
        _mm512_storeu_si512(d + 128, six(_mm512_and_si512(_mm512_srli_epi16(ta[r], 4), m4), 2));
        _mm512_storeu_si512(d + 192, six(_mm512_and_si512(_mm512_srli_epi16(tb[r], 4), m4), 3));
      }
    }
  }
}

template <DType TYPE>
void unpack_scales_interleaved(int64_t n, const uint8_t* w, float* a, float* b) {
  auto f16x16 = [](const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); };
  if constexpr (TYPE == DType::Q8_0) {
    for (int64_t i = 0; i < n / 32; ++i) _mm512_storeu_ps(a + 16 * i, f16x16(w + i * 544 + 512));
  } else if constexpr (TYPE == DType::Q4_K) {
    for (int64_t i = 0; i < n / 256; ++i) {
      const uint8_t* col = w + i * 2304;
      const __m512 d = f16x16(col + 2240), nmin = _mm512_xor_ps(f16x16(col + 2272), _mm512_set1_ps(-0.0f));
      __m128i sc[8], mn[8];
      simd::six_planes(col + 2048, col + 2112, sc);
      simd::six_planes(col + 2144, col + 2208, mn);
      for (int s = 0; s < 8; ++s) {
        _mm512_storeu_ps(a + 16 * (8 * i + s), _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(sc[s]))));
        _mm512_storeu_ps(b + 16 * (8 * i + s), _mm512_mul_ps(nmin, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(mn[s]))));
      }
    }
  } else {  // Q6_K: int8 scale of group g, row r at 3072 + 16g + r; d at 3328
    for (int64_t i = 0; i < n / 256; ++i) {
      const uint8_t* col = w + i * 3360;
      const __m512 d = f16x16(col + 3328);
      for (int g = 0; g < 16; ++g) {
        const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col + 3072 + 16 * g)));
        _mm512_storeu_ps(a + 16 * (16 * i + g), _mm512_mul_ps(d, _mm512_cvtepi32_ps(v)));
      }
    }
  }
}

template <DType TYPE, bool INTERLEAVED>
void gemm(int64_t n, const uint8_t* w, size_t stride, int nr, const QActs& /*a*/, const QGroups& g, float* y, int64_t ldy) {
  constexpr int G = TYPE == DType::Q6_K ? 16 : 32;
  constexpr int K4 = G / 4;  // B tile rows
  constexpr int GPB = TYPE == DType::Q8_0 ? 1 : 256 / G;  // groups per activation scale
  constexpr bool MIN = TYPE == DType::Q4_K;
  const int64_t ng = n / G, T = g.T;
  thread_local Scratch s;
  s.a.resize(16 * ng);
  if (MIN) s.b.resize(16 * ng);
  if constexpr (INTERLEAVED) unpack_scales_interleaved<TYPE>(n, w, s.a.data(), s.b.data());
  else unpack_scales<TYPE>(n, w, stride, nr, s.a.data(), s.b.data());
  const int8_t* abase;
  int64_t astride, astep;
  if (INTERLEAVED) {
    s.q.resize(16 * n);
    unpack_q_interleaved<TYPE>(n, w, s.q.data());
    abase = s.q.data(), astride = n, astep = G;
  } else if (TYPE == DType::Q8_0 && nr == 16) {
    abase = reinterpret_cast<const int8_t*>(w + 2), astride = static_cast<int64_t>(stride), astep = 34;
  } else {
    s.q.resize(16 * n);
    for (int r = 0; r < 16; ++r) {
      if (r < nr) unpack_q<TYPE>(n, w + r * stride, s.q.data() + r * n);
      else std::fill(s.q.begin() + r * n, s.q.begin() + (r + 1) * n, int8_t{0});
    }
    abase = s.q.data(), astride = n, astep = G;
  }
  configure(G);
  const int32_t* xw = g.xw.data();
  const float* pa0 = s.a.data();
  const float* pb0 = s.b.data();
  for (int64_t t0 = 0; t0 < T; t0 += 16) {
    const int nt = static_cast<int>(std::min<int64_t>(16, T - t0));
    const __mmask16 tm = static_cast<__mmask16>(nt == 16 ? 0xFFFF : (1u << nt) - 1);
    // A B tile row (word c) reads words c*T + t0 .. +15 of xw; those past its end (last block,
    // last rows) come from a zero-padded copy of the groups from gpad on.
    int64_t gpad = ng;
    if (nt < 16) {
      const int64_t nw = n / 4;
      const int64_t x = nw * T - t0 - 16;
      const int64_t c_bad = x < 0 ? 0 : x / T + 1;  // the first c with c*T + t0 + 16 > nw*T
      gpad = std::min<int64_t>(ng, c_bad / K4);
      s.bpad.assign((ng - gpad) * K4 * 16, 0);
      for (int64_t c = gpad * K4; c < nw; ++c)
        for (int j = 0; j < nt; ++j) s.bpad[(c - gpad * K4) * 16 + j] = xw[c * T + t0 + j];
    }
    auto btile = [&](int64_t gi, int64_t& bs) -> const void* {
      if (gi >= gpad) {
        bs = 64;
        return s.bpad.data() + (gi - gpad) * K4 * 16;
      }
      bs = 4 * T;
      return xw + gi * K4 * T + t0;
    };
    alignas(64) int32_t cbuf[3][2][256];  // [pair % 3][group of the pair][row][token]
    alignas(64) float acc_mem[256];  // K types: [row][token], updated once per activation block
    __m512 acc[16], part[16];
    for (int m = 0; m < 16; ++m) acc[m] = part[m] = _mm512_setzero_ps();
    if constexpr (GPB > 1) std::fill(acc_mem, acc_mem + 256, 0.0f);
    auto step = [&](int64_t gi, const int32_t* c) {
      const float* pa = pa0 + 16 * gi;
      if constexpr (GPB == 1) {
        const __m512 dxv = _mm512_maskz_loadu_ps(tm, g.dx.data() + gi * T + t0);
#pragma GCC unroll 16
        for (int m = 0; m < 16; ++m)
          acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * m)), _mm512_mul_ps(_mm512_set1_ps(pa[m]), dxv), acc[m]);
      } else {
#pragma GCC unroll 16
        for (int m = 0; m < 16; ++m) part[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * m)), _mm512_set1_ps(pa[m]), part[m]);
        if constexpr (MIN) {
          const float* pb = pb0 + 16 * gi;
          const __m512 fsv = _mm512_maskz_loadu_ps(tm, g.fs.data() + gi * T + t0);
#pragma GCC unroll 16
          for (int m = 0; m < 16; ++m) part[m] = _mm512_fmadd_ps(_mm512_set1_ps(pb[m]), fsv, part[m]);
        }
        if ((gi + 1) % GPB == 0) {
          const __m512 dxv = _mm512_maskz_loadu_ps(tm, g.dx.data() + gi * T + t0);
#pragma GCC unroll 16
          for (int m = 0; m < 16; ++m) {
            _mm512_store_ps(acc_mem + 16 * m, _mm512_fmadd_ps(part[m], dxv, _mm512_load_ps(acc_mem + 16 * m)));
            part[m] = _mm512_setzero_ps();
          }
        }
      }
    };
    // Software pipeline: the tile products of group pair i are issued, then the integer results
    // of pair i-2 (stored two iterations earlier, so the tile stores have completed) are scaled,
    // then pair i's results are stored (three buffers). C tiles 4-5 and 6-7 alternate between
    // pairs.
    // The next panel's rows (matmul walks panels in order) are prefetched during the first token
    // block, spread over its iterations: for few tokens (routed experts) the panel is otherwise
    // fetched at memory latency, row by row, when it is unpacked.
    const char* pf = reinterpret_cast<const char*>(w + 16 * stride);
    const int64_t pf_lines = t0 == 0 ? static_cast<int64_t>(16 * stride + 63) / 64 : 0;
    const int64_t pf_per_iter = (pf_lines + ng / 2 - 1) / (ng / 2);
    int64_t pf_next = 0;
    barrier();
    for (int64_t gi = 0; gi < ng; gi += 2) {  // ng is even: n is a multiple of 64
      for (int64_t k = 0; k < pf_per_iter && pf_next < pf_lines; ++k, ++pf_next) __builtin_prefetch(pf + 64 * pf_next, 0, 3);
      int64_t bs0, bs1;
      const void* b0 = btile(gi, bs0);
      const void* b1 = btile(gi + 1, bs1);
      const bool odd = (gi / 2) & 1;
      _tile_loadd(0, abase + gi * astep, astride);
      _tile_loadd(2, b0, bs0);
      if (odd) {
        _tile_zero(6);
        _tile_dpbssd(6, 0, 2);
      } else {
        _tile_zero(4);
        _tile_dpbssd(4, 0, 2);
      }
      _tile_loadd(1, abase + (gi + 1) * astep, astride);
      _tile_loadd(3, b1, bs1);
      if (odd) {
        _tile_zero(7);
        _tile_dpbssd(7, 1, 3);
      } else {
        _tile_zero(5);
        _tile_dpbssd(5, 1, 3);
      }
      const int64_t pi = gi / 2;  // pair index; results go to cbuf[pi % 3], pair pi-2's are scaled now
      if (pi >= 2) {
        step(gi - 4, cbuf[(pi - 2) % 3][0]);
        step(gi - 3, cbuf[(pi - 2) % 3][1]);
      }
      if (odd) {
        HERD_TILE_STORE(6, cbuf[pi % 3][0]);
        HERD_TILE_STORE(7, cbuf[pi % 3][1]);
      } else {
        HERD_TILE_STORE(4, cbuf[pi % 3][0]);
        HERD_TILE_STORE(5, cbuf[pi % 3][1]);
      }
    }
    const int64_t np = ng / 2;
    for (int64_t pi = std::max<int64_t>(0, np - 2); pi < np; ++pi) {
      step(2 * pi, cbuf[pi % 3][0]);
      step(2 * pi + 1, cbuf[pi % 3][1]);
    }
    alignas(64) float out[256];  // [row][token]
    if constexpr (GPB == 1) {
      for (int m = 0; m < 16; ++m) _mm512_store_ps(out + 16 * m, acc[m]);
    } else {
      std::memcpy(out, acc_mem, sizeof(out));
    }
    for (int j = 0; j < nt; ++j) {
      float* yt = y + (t0 + j) * ldy;
      for (int m = 0; m < nr; ++m) yt[m] = out[16 * m + j];
    }
  }
}

}  // namespace

QGemmFn qgemm_kernel(DType t) {
  switch (t) {
    case DType::Q8_0: return gemm<DType::Q8_0, false>;
    case DType::Q4_K: return gemm<DType::Q4_K, false>;
    case DType::Q6_K: return gemm<DType::Q6_K, false>;
    default: return nullptr;
  }
}

QGemmFn qgemm_interleaved_kernel(DType t) {
  switch (t) {
    case DType::Q8_0: return gemm<DType::Q8_0, true>;
    case DType::Q4_K: return gemm<DType::Q4_K, true>;
    case DType::Q6_K: return gemm<DType::Q6_K, true>;
    default: return nullptr;
  }
}

}  // namespace herd::amx
