#pragma once
// AVX-512 helpers for the interleaved 16-row layouts (kernels/row_interleave.h), shared by their
// restore (row_interleave_avx512.cpp) and the AMX prefill GEMM that reads them in place: chunks of
// a column (chunk c holds dword r of row r) to rows and back, 16 x 16 byte transposes, the split
// six-bit Q4_K scales. Include only from translation units built with AVX-512 flags (CMake:
// *_avx512.cpp, *_amx.cpp).
#include <immintrin.h>

#include <cstdint>

namespace herd::simd {

// A 16 x 16 matrix of dwords, one row per vector, transposed: out[j] dword i = in[i] dword j.
// Unpacks within 128-bit lanes, then a 4 x 4 transpose of the lanes (64 shuffles; a gather per
// row cost about twice as much). Turns the chunks of a column (chunk c: dword r of row r) into
// rows (row r: its dword of each chunk) and back.
inline void transpose_dwords(const __m512i* in, __m512i* out) {
  __m512i a[16], b[16];
  for (int k = 0; k < 8; ++k) {
    a[2 * k] = _mm512_unpacklo_epi32(in[2 * k], in[2 * k + 1]);  // lane L: x[4L], y[4L], x[4L+1], y[4L+1]
    a[2 * k + 1] = _mm512_unpackhi_epi32(in[2 * k], in[2 * k + 1]);
  }
  for (int m = 0; m < 4; ++m) {  // b[4m + s] lane L: in[4m .. 4m+3] at dword 4L + s
    b[4 * m] = _mm512_unpacklo_epi64(a[4 * m], a[4 * m + 2]);
    b[4 * m + 1] = _mm512_unpackhi_epi64(a[4 * m], a[4 * m + 2]);
    b[4 * m + 2] = _mm512_unpacklo_epi64(a[4 * m + 1], a[4 * m + 3]);
    b[4 * m + 3] = _mm512_unpackhi_epi64(a[4 * m + 1], a[4 * m + 3]);
  }
  for (int s = 0; s < 4; ++s) {  // out[4L + s] lane m = b[4m + s] lane L
    const __m512i c0 = _mm512_shuffle_i32x4(b[s], b[4 + s], 0x44), c1 = _mm512_shuffle_i32x4(b[s], b[4 + s], 0xEE);
    const __m512i c2 = _mm512_shuffle_i32x4(b[8 + s], b[12 + s], 0x44), c3 = _mm512_shuffle_i32x4(b[8 + s], b[12 + s], 0xEE);
    out[s] = _mm512_shuffle_i32x4(c0, c2, 0x88);
    out[4 + s] = _mm512_shuffle_i32x4(c0, c2, 0xDD);
    out[8 + s] = _mm512_shuffle_i32x4(c1, c3, 0x88);
    out[12 + s] = _mm512_shuffle_i32x4(c1, c3, 0xDD);
  }
}

// n (<= 16) consecutive 64-byte chunks from base, transposed: out[r] = row r's dwords of the
// chunks in order (the missing chunks read as zero).
inline void row_dwords(const uint8_t* base, __m512i* out, int n = 16) {
  __m512i in[16];
  for (int k = 0; k < 16; ++k) in[k] = k < n ? _mm512_loadu_si512(base + 64 * k) : _mm512_setzero_si512();
  transpose_dwords(in, out);
}

// The inverse: rows[r] (row r's dwords) into n chunks at base.
inline void store_chunks(const __m512i* rows, uint8_t* base, int n = 16) {
  __m512i out[16];
  transpose_dwords(rows, out);
  for (int k = 0; k < n; ++k) _mm512_storeu_si512(base + 64 * k, out[k]);
}

// out[r] byte j = in[j] byte r (16 x 16 bytes), in four rounds of unpacks.
inline void transpose16(const __m128i* in, __m128i* out) {
  __m128i t[16], u[16];
  for (int i = 0; i < 8; ++i) {  // t[i] word r: in[2i], in[2i+1] at r (t[i + 8]: at 8 + r)
    t[i] = _mm_unpacklo_epi8(in[2 * i], in[2 * i + 1]);
    t[i + 8] = _mm_unpackhi_epi8(in[2 * i], in[2 * i + 1]);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {  // u[h + i] dword r: in[4i .. 4i+3] at h + r (u[h + i + 4]: at h + 4 + r)
      u[h + i] = _mm_unpacklo_epi16(t[h + 2 * i], t[h + 2 * i + 1]);
      u[h + i + 4] = _mm_unpackhi_epi16(t[h + 2 * i], t[h + 2 * i + 1]);
    }
  for (int b = 0; b < 16; b += 4) {  // u[b .. b+3]: bytes b .. b+3 of in[0..3], [4..7], [8..11], [12..15]
    const __m128i v0 = _mm_unpacklo_epi32(u[b], u[b + 1]), v1 = _mm_unpackhi_epi32(u[b], u[b + 1]);
    const __m128i v2 = _mm_unpacklo_epi32(u[b + 2], u[b + 3]), v3 = _mm_unpackhi_epi32(u[b + 2], u[b + 3]);
    out[b] = _mm_unpacklo_epi64(v0, v2);
    out[b + 1] = _mm_unpackhi_epi64(v0, v2);
    out[b + 2] = _mm_unpacklo_epi64(v1, v3);
    out[b + 3] = _mm_unpackhi_epi64(v1, v3);
  }
}

// The 8 six-bit values (scales or mins) of 16 rows from their split 4 + 2-bit planes (lo: 4
// vectors of 16 rows, hi: 2), one vector of 16 rows per value.
inline void six_planes(const uint8_t* lo, const uint8_t* hi, __m128i* v) {
  const __m128i m4 = _mm_set1_epi8(15), m3 = _mm_set1_epi8(3);
  const __m128i h[2] = {_mm_loadu_si128(reinterpret_cast<const __m128i*>(hi)),
                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi + 16))};
  for (int j = 0; j < 4; ++j) {
    const __m128i l = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lo + 16 * j));
    const __m128i hj = h[j % 2];
    v[j] = _mm_or_si128(_mm_and_si128(l, m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hj, 2 * (j / 2)), m3), 4));
    v[j + 4] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(l, 4), m4),
                            _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hj, 2 * (j / 2) + 4), m3), 4));
  }
}

}  // namespace herd::simd
