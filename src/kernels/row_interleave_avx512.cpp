// AVX-512 restore of interleaved Q4_K / Q6_K columns to standard blocks (the layouts are described
// in row_interleave.{h,cpp}). The prefill GEMMs restore every 16-row panel they read, so the restore
// must run near memory speed: each row's dwords are transposed out of the 64-byte chunks, and the
// nibble / 2-bit planes are regrouped with vector masks and shifts. Compiled with AVX-512 flags;
// called only after cpu_features() confirmed AVX-512.
#include <immintrin.h>

#include <cstring>

#include "kernels/row_interleave.h"
#include "kernels/row_interleave_avx512.h"

namespace herd::avx512 {

namespace {

using simd::row_dwords;
using simd::store_chunks;
using simd::six_planes;
using simd::transpose16;

inline __m256i lo256(__m512i v) { return _mm512_castsi512_si256(v); }
inline __m256i hi256(__m512i v) { return _mm512_extracti64x4_epi64(v, 1); }

}  // namespace

// T[m] = q[m] | q[128 + m] << 4 (m < 128) transposed per row; the standard qs byte 32j + l holds
// q[64j + l] | q[64j + 32 + l] << 4, i.e. for the four 32-byte quarters Tk of T: (T0 & 15) | (T1 & 15) << 4,
// (T2 & 15) | (T3 & 15) << 4, T0 >> 4 | (T1 & 0xF0), T2 >> 4 | (T3 & 0xF0).
void q4k_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride) {
  const __m256i m4 = _mm256_set1_epi8(15), mh = _mm256_set1_epi8(static_cast<char>(0xF0));
  // Scales and mins of all 16 rows at once, packed as the standard block's 12 bytes (p[j] =
  // sc[j] | (sc[j+4] >> 4) << 6, p[j+4] = mn[j] | (mn[j+4] >> 4) << 6, p[j+8] = sc[j+4] & 15 | mn[j+4] << 4),
  // then turned from 12 vectors of 16 rows into 16 rows of 12 bytes.
  __m128i sc[8], mn[8], packed[16], rows[16];
  six_planes(col + 2048, col + 2112, sc);
  six_planes(col + 2144, col + 2208, mn);
  const __m128i m30 = _mm_set1_epi8(0x30), m15 = _mm_set1_epi8(15);
  for (int j = 0; j < 4; ++j) {
    packed[j] = _mm_or_si128(sc[j], _mm_slli_epi16(_mm_and_si128(sc[j + 4], m30), 2));
    packed[j + 4] = _mm_or_si128(mn[j], _mm_slli_epi16(_mm_and_si128(mn[j + 4], m30), 2));
    packed[j + 8] = _mm_or_si128(_mm_and_si128(sc[j + 4], m15), _mm_slli_epi16(_mm_and_si128(mn[j + 4], m15), 4));
  }
  for (int j = 12; j < 16; ++j) packed[j] = _mm_setzero_si128();
  transpose16(packed, rows);
  __m512i ta[16], tb[16];
  row_dwords(col, ta);
  row_dwords(col + 1024, tb);
  for (int r = 0; r < kInterleaveRows; ++r) {
    const __m512i a = ta[r], b = tb[r];
    const __m256i t0 = lo256(a), t1 = hi256(a), t2 = lo256(b), t3 = hi256(b);
    uint8_t* blk = blocks + r * stride;
    const __m256i q0 = _mm256_or_si256(_mm256_and_si256(t0, m4), _mm256_slli_epi16(_mm256_and_si256(t1, m4), 4));
    const __m256i q1 = _mm256_or_si256(_mm256_and_si256(t2, m4), _mm256_slli_epi16(_mm256_and_si256(t3, m4), 4));
    const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(t0, 4), m4), _mm256_and_si256(t1, mh));
    const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(t2, 4), m4), _mm256_and_si256(t3, mh));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 16), q0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 48), q1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 80), q2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 112), q3);
    _mm_mask_storeu_epi8(blk + 4, 0x0FFF, rows[r]);
    std::memcpy(blk, col + 2240 + 2 * r, 2);
    std::memcpy(blk + 2, col + 2272 + 2 * r, 2);
  }
}

// T[m] = (q[m] & 15) | (q[128 + m] & 15) << 4 (m < 128) and U[m] = sum over k of (q[m + 64k] >> 4) << 2k
// (m < 64) transposed per row. Standard ql: (T[l] & 15) | T[64 + l] << 4 and T[l] >> 4 | T[64 + l] & 0xF0;
// standard qh byte l (< 32) packs q[l], q[32 + l], q[64 + l], q[96 + l]'s high bits, i.e. the low two
// 2-bit fields of U[l] and U[32 + l] interleaved, and byte 32 + l their high two fields.
void q6k_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride) {
  const __m512i m4 = _mm512_set1_epi8(15), mh = _mm512_set1_epi8(static_cast<char>(0xF0));
  __m128i groups[16], scales[16];  // scale of group g, row r at 3072 + 16g + r: a 16 x 16 transpose
  for (int g = 0; g < 16; ++g) groups[g] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(col + 3072 + 16 * g));
  transpose16(groups, scales);
  const __m256i c03 = _mm256_set1_epi8(0x03), c0c = _mm256_set1_epi8(0x0C), c30 = _mm256_set1_epi8(0x30),
                cc0 = _mm256_set1_epi8(static_cast<char>(0xC0));
  __m512i ta[16], tb[16], tu[16];
  row_dwords(col, ta);
  row_dwords(col + 1024, tb);
  row_dwords(col + 2048, tu);
  for (int r = 0; r < kInterleaveRows; ++r) {
    const __m512i a = ta[r], b = tb[r], u = tu[r];
    // a = T[0..63], b = T[64..127]
    uint8_t* blk = blocks + r * stride;
    const __m512i ql0 = _mm512_or_si512(_mm512_and_si512(a, m4), _mm512_slli_epi16(_mm512_and_si512(b, m4), 4));
    const __m512i ql1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(a, 4), m4), _mm512_and_si512(b, mh));
    _mm512_storeu_si512(blk, ql0);
    _mm512_storeu_si512(blk + 64, ql1);
    const __m256i x = lo256(u), y = hi256(u);
    const __m256i qh0 = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(x, c03), _mm256_slli_epi16(_mm256_and_si256(y, c03), 2)),
        _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(x, c0c), 2), _mm256_slli_epi16(_mm256_and_si256(y, c0c), 4)));
    const __m256i qh1 = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 4), c03), _mm256_and_si256(_mm256_srli_epi16(y, 2), c0c)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 2), c30), _mm256_and_si256(y, cc0)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 128), qh0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 160), qh1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(blk + 192), scales[r]);
    std::memcpy(blk + 208, col + 3328 + 2 * r, 2);
  }
}

// Q8_0: 8 chunks of [16 rows][4 bytes] (the 32 quants), then d per row.
void q80_deinterleave_column(const uint8_t* col, uint8_t* blocks, size_t stride) {
  __m512i t[16];
  row_dwords(col, t, 8);
  for (int r = 0; r < kInterleaveRows; ++r) {
    uint8_t* blk = blocks + r * stride;
    std::memcpy(blk, col + 512 + 2 * r, 2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 2), lo256(t[r]));
  }
}

// The inverses, from 16 standard blocks (row r's at blocks + r * stride) to one column.

void q4k_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col) {
  const __m256i m4 = _mm256_set1_epi8(15), mh = _mm256_set1_epi8(static_cast<char>(0xF0));
  __m512i ta[16], tb[16];
  __m128i packed[16], sc[8], mn[8];
  for (int r = 0; r < kInterleaveRows; ++r) {
    const uint8_t* blk = blocks + r * stride;
    const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 48));
    const __m256i q2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 80));
    const __m256i q3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 112));
    const __m256i t0 = _mm256_or_si256(_mm256_and_si256(q0, m4), _mm256_slli_epi16(_mm256_and_si256(q2, m4), 4));
    const __m256i t1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q0, 4), m4), _mm256_and_si256(q2, mh));
    const __m256i t2 = _mm256_or_si256(_mm256_and_si256(q1, m4), _mm256_slli_epi16(_mm256_and_si256(q3, m4), 4));
    const __m256i t3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q1, 4), m4), _mm256_and_si256(q3, mh));
    ta[r] = _mm512_inserti64x4(_mm512_castsi256_si512(t0), t1, 1);
    tb[r] = _mm512_inserti64x4(_mm512_castsi256_si512(t2), t3, 1);
    packed[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));  // the 12 scale bytes (+ 4 of qs)
    std::memcpy(col + 2240 + 2 * r, blk, 2);
    std::memcpy(col + 2272 + 2 * r, blk + 2, 2);
  }
  store_chunks(ta, col);
  store_chunks(tb, col + 1024);
  __m128i p[16];
  transpose16(packed, p);  // p[j]: packed scale byte j of the 16 rows
  const __m128i m63 = _mm_set1_epi8(63), m15 = _mm_set1_epi8(15), m3 = _mm_set1_epi8(3);
  for (int j = 0; j < 4; ++j) {  // quant::k_scale_min, 16 rows at a time
    sc[j] = _mm_and_si128(p[j], m63);
    mn[j] = _mm_and_si128(p[j + 4], m63);
    sc[j + 4] = _mm_or_si128(_mm_and_si128(p[j + 8], m15), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(p[j], 6), m3), 4));
    mn[j + 4] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(p[j + 8], 4), m15),
                             _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(p[j + 4], 6), m3), 4));
  }
  for (int w = 0; w < 2; ++w) {  // the split 4 + 2-bit planes (row_interleave.cpp q4k_pack_six)
    const __m128i* v = w == 0 ? sc : mn;
    uint8_t* lo = col + 2048 + 96 * w;
    uint8_t* hi = lo + 64;
    for (int j = 0; j < 4; ++j)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(lo + 16 * j),
                       _mm_or_si128(_mm_and_si128(v[j], m15), _mm_slli_epi16(_mm_and_si128(v[j + 4], m15), 4)));
    for (int k = 0; k < 2; ++k) {
      __m128i b = _mm_setzero_si128();
      for (int m = 0; m < 4; ++m)
        b = _mm_or_si128(b, _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(v[k + 2 * m], 4), m3), 2 * m));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(hi + 16 * k), b);
    }
  }
}

void q6k_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col) {
  const __m512i m4 = _mm512_set1_epi8(15), mh = _mm512_set1_epi8(static_cast<char>(0xF0));
  const __m256i c03 = _mm256_set1_epi8(0x03), c0c = _mm256_set1_epi8(0x0C), c30 = _mm256_set1_epi8(0x30),
                cc0 = _mm256_set1_epi8(static_cast<char>(0xC0));
  __m512i ta[16], tb[16], tu[16];
  __m128i scales[16], groups[16];
  for (int r = 0; r < kInterleaveRows; ++r) {
    const uint8_t* blk = blocks + r * stride;
    const __m512i ql0 = _mm512_loadu_si512(blk), ql1 = _mm512_loadu_si512(blk + 64);
    ta[r] = _mm512_or_si512(_mm512_and_si512(ql0, m4), _mm512_slli_epi16(_mm512_and_si512(ql1, m4), 4));
    tb[r] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql0, 4), m4), _mm512_and_si512(ql1, mh));
    const __m256i h0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128));
    const __m256i h1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 160));
    const __m256i x = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(h0, c03), _mm256_and_si256(_mm256_srli_epi16(h0, 2), c0c)),
        _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(h1, c03), 4), _mm256_and_si256(_mm256_slli_epi16(h1, 2), cc0)));
    const __m256i y = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(h0, 2), c03), _mm256_and_si256(_mm256_srli_epi16(h0, 4), c0c)),
        _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi16(h1, 2), c30), _mm256_and_si256(h1, cc0)));
    tu[r] = _mm512_inserti64x4(_mm512_castsi256_si512(x), y, 1);
    scales[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    std::memcpy(col + 3328 + 2 * r, blk + 208, 2);
  }
  store_chunks(ta, col);
  store_chunks(tb, col + 1024);
  store_chunks(tu, col + 2048);
  transpose16(scales, groups);
  for (int g = 0; g < 16; ++g) _mm_storeu_si128(reinterpret_cast<__m128i*>(col + 3072 + 16 * g), groups[g]);
}

void q80_interleave_column(const uint8_t* blocks, size_t stride, uint8_t* col) {
  __m512i rows[16];
  for (int r = 0; r < kInterleaveRows; ++r) {
    const uint8_t* blk = blocks + r * stride;
    rows[r] = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)));
    rows[r] = _mm512_inserti64x4(rows[r], _mm256_setzero_si256(), 1);
    std::memcpy(col + 512 + 2 * r, blk, 2);
  }
  store_chunks(rows, col, 8);
}

}  // namespace herd::avx512
