// AVX-512 attention loops for head_dim 128: the 128-float query or accumulator lives in eight
// zmm registers while rows stream past. Compiled with AVX-512 flags; called only after
// cpu_features() confirmed AVX-512 F/BW/VL.
#include <immintrin.h>

#include "kernels/vec.h"

namespace herd::avx512 {

namespace {

template <DType T>
inline __m512 load16(const uint8_t* row, int i) {
  if constexpr (T == DType::F32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (T == DType::BF16) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + i));
    return _mm512_cvtph_ps(h);
  }
}

template <DType T>
void dot_rows_t(const float* q, const uint8_t* rows, size_t stride, int64_t count, float* out) {
  __m512 qv[8];
  for (int k = 0; k < 8; ++k) qv[k] = _mm512_loadu_ps(q + 16 * k);
  for (int64_t r = 0; r < count; ++r) {
    const uint8_t* row = rows + r * stride;
    __m512 s0 = _mm512_mul_ps(qv[0], load16<T>(row, 0));
    __m512 s1 = _mm512_mul_ps(qv[1], load16<T>(row, 16));
    s0 = _mm512_fmadd_ps(qv[2], load16<T>(row, 32), s0);
    s1 = _mm512_fmadd_ps(qv[3], load16<T>(row, 48), s1);
    s0 = _mm512_fmadd_ps(qv[4], load16<T>(row, 64), s0);
    s1 = _mm512_fmadd_ps(qv[5], load16<T>(row, 80), s1);
    s0 = _mm512_fmadd_ps(qv[6], load16<T>(row, 96), s0);
    s1 = _mm512_fmadd_ps(qv[7], load16<T>(row, 112), s1);
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  }
}

template <DType T>
void weighted_sum_t(const float* p, const uint8_t* rows, size_t stride, int64_t count, float* acc) {
  __m512 a[8];
  for (int k = 0; k < 8; ++k) a[k] = _mm512_loadu_ps(acc + 16 * k);
  for (int64_t r = 0; r < count; ++r) {
    const uint8_t* row = rows + r * stride;
    const __m512 w = _mm512_set1_ps(p[r]);
    for (int k = 0; k < 8; ++k) a[k] = _mm512_fmadd_ps(w, load16<T>(row, 16 * k), a[k]);
  }
  for (int k = 0; k < 8; ++k) _mm512_storeu_ps(acc + 16 * k, a[k]);
}

}  // namespace

void dot_rows_128(DType t, const float* q, const uint8_t* rows, size_t stride, int64_t count, float* out) {
  if (t == DType::F32) dot_rows_t<DType::F32>(q, rows, stride, count, out);
  else if (t == DType::BF16) dot_rows_t<DType::BF16>(q, rows, stride, count, out);
  else dot_rows_t<DType::F16>(q, rows, stride, count, out);
}

void weighted_sum_rows_128(DType t, const float* p, const uint8_t* rows, size_t stride, int64_t count, float* acc) {
  if (t == DType::F32) weighted_sum_t<DType::F32>(p, rows, stride, count, acc);
  else if (t == DType::BF16) weighted_sum_t<DType::BF16>(p, rows, stride, count, acc);
  else weighted_sum_t<DType::F16>(p, rows, stride, count, acc);
}

float sum_f32(const float* x, size_t n) {
  // 8 accumulators of one cache line each: 512 bytes in flight per iteration.
  __m512 s[8];
  for (__m512& v : s) v = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 128 <= n; i += 128)
    for (int j = 0; j < 8; ++j) s[j] = _mm512_add_ps(s[j], _mm512_loadu_ps(x + i + 16 * j));
  for (int j = 1; j < 8; ++j) s[0] = _mm512_add_ps(s[0], s[j]);
  float r = _mm512_reduce_add_ps(s[0]);
  for (; i < n; ++i) r += x[i];
  return r;
}

}  // namespace herd::avx512
