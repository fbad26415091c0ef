// AVX-512 attention loops for head_dim 128: the 128-float query or accumulator lives in eight
// zmm registers while rows stream past. Compiled with AVX-512 flags; called only after
// cpu_features() confirmed AVX-512 F/BW/VL.
#include <immintrin.h>

#include "kernels/exp_avx512.h"
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

// Cache rows are requested into L2 about 8 KiB ahead of their use, as the decode weight kernels
// do (qdot_avx512.cpp, prefetch_ahead): one core alone keeps too few misses in flight otherwise.
template <DType T>
constexpr int64_t far_rows() {
  return 8192 / (128 * static_cast<int64_t>(T == DType::F32 ? 4 : 2));
}
template <DType T>
__attribute__((always_inline)) inline void prefetch_row_l2(const uint8_t* row) {
  for (int off = 0; off < 128 * (T == DType::F32 ? 4 : 2); off += 64) _mm_prefetch(reinterpret_cast<const char*>(row + off), _MM_HINT_T1);
}

// NH query heads against each row: the row's eight vectors are loaded once and multiplied with
// every head's (read from L1), two partial sums per head for independent FMA chains.
template <DType T, int NH>
void dot_rows_heads_t(const float* q, const uint8_t* rows, size_t stride, int64_t count, float* out) {
  for (int64_t r = 0; r < count; ++r) {
    const uint8_t* row = rows + r * stride;
    if (r + far_rows<T>() < count) prefetch_row_l2<T>(row + far_rows<T>() * stride);
    __m512 a[NH], b[NH];
    for (int h = 0; h < NH; ++h) a[h] = b[h] = _mm512_setzero_ps();
    for (int k = 0; k < 128; k += 32) {
      const __m512 x0 = load16<T>(row, k), x1 = load16<T>(row, k + 16);
      for (int h = 0; h < NH; ++h) {
        a[h] = _mm512_fmadd_ps(_mm512_loadu_ps(q + h * 128 + k), x0, a[h]);
        b[h] = _mm512_fmadd_ps(_mm512_loadu_ps(q + h * 128 + k + 16), x1, b[h]);
      }
    }
    for (int h = 0; h < NH; ++h) out[h * count + r] = _mm512_reduce_add_ps(_mm512_add_ps(a[h], b[h]));
  }
}

// NH heads' accumulators (NH x 64 floats, in registers) for one half of the head dimension at a
// time, over blocks of rows small enough to stay in L1 for the second half: every row is read
// from memory once.
template <DType T, int NH>
void weighted_sum_heads_t(const float* p, int64_t p_stride, const uint8_t* rows, size_t stride, int64_t count,
                          float* acc) {
  constexpr int64_t kBlock = 32;
  for (int64_t r0 = 0; r0 < count; r0 += kBlock) {
    const int64_t r1 = r0 + kBlock < count ? r0 + kBlock : count;
    for (int half = 0; half < 128; half += 64) {
      __m512 a[NH][4];
      for (int h = 0; h < NH; ++h)
        for (int k = 0; k < 4; ++k) a[h][k] = _mm512_loadu_ps(acc + h * 128 + half + 16 * k);
      for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = rows + r * stride;
        if (half == 0 && r + far_rows<T>() < count) prefetch_row_l2<T>(row + far_rows<T>() * stride);
        __m512 x[4];
        for (int k = 0; k < 4; ++k) x[k] = load16<T>(row, half + 16 * k);
        for (int h = 0; h < NH; ++h) {
          const __m512 w = _mm512_set1_ps(p[h * p_stride + r]);
          for (int k = 0; k < 4; ++k) a[h][k] = _mm512_fmadd_ps(w, x[k], a[h][k]);
        }
      }
      for (int h = 0; h < NH; ++h)
        for (int k = 0; k < 4; ++k) _mm512_storeu_ps(acc + h * 128 + half + 16 * k, a[h][k]);
    }
  }
}

// Heads in groups of at most four (registers), for one row type.
template <DType T>
void dot_rows_heads_any(const float* q, int nq, const uint8_t* rows, size_t stride, int64_t count, float* out) {
  for (int h = 0; h < nq; h += 4) {
    const float* qh = q + h * 128;
    float* o = out + h * count;
    switch (nq - h < 4 ? nq - h : 4) {
      case 1: dot_rows_heads_t<T, 1>(qh, rows, stride, count, o); break;
      case 2: dot_rows_heads_t<T, 2>(qh, rows, stride, count, o); break;
      case 3: dot_rows_heads_t<T, 3>(qh, rows, stride, count, o); break;
      default: dot_rows_heads_t<T, 4>(qh, rows, stride, count, o); break;
    }
  }
}

template <DType T>
void weighted_sum_heads_any(const float* p, int nq, const uint8_t* rows, size_t stride, int64_t count, float* acc) {
  for (int h = 0; h < nq; h += 4) {
    const float* ph = p + h * count;
    float* a = acc + h * 128;
    switch (nq - h < 4 ? nq - h : 4) {
      case 1: weighted_sum_heads_t<T, 1>(ph, count, rows, stride, count, a); break;
      case 2: weighted_sum_heads_t<T, 2>(ph, count, rows, stride, count, a); break;
      case 3: weighted_sum_heads_t<T, 3>(ph, count, rows, stride, count, a); break;
      default: weighted_sum_heads_t<T, 4>(ph, count, rows, stride, count, a); break;
    }
  }
}

}  // namespace

void dot_rows_heads_128(DType t, const float* q, int nq, const uint8_t* rows, size_t stride, int64_t count,
                        float* out) {
  if (t == DType::F32) dot_rows_heads_any<DType::F32>(q, nq, rows, stride, count, out);
  else if (t == DType::BF16) dot_rows_heads_any<DType::BF16>(q, nq, rows, stride, count, out);
  else dot_rows_heads_any<DType::F16>(q, nq, rows, stride, count, out);
}

void weighted_sum_rows_heads_128(DType t, const float* p, int nq, const uint8_t* rows, size_t stride, int64_t count,
                                 float* acc) {
  if (t == DType::F32) weighted_sum_heads_any<DType::F32>(p, nq, rows, stride, count, acc);
  else if (t == DType::BF16) weighted_sum_heads_any<DType::BF16>(p, nq, rows, stride, count, acc);
  else weighted_sum_heads_any<DType::F16>(p, nq, rows, stride, count, acc);
}

float exp_affine_sum(float* x, size_t n, float a, float b) {
  const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  __m512 s = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 e = simd::exp512(_mm512_fmsub_ps(va, _mm512_maskz_loadu_ps(m, x + i), vb));
    _mm512_mask_storeu_ps(x + i, m, e);
    s = _mm512_add_ps(s, _mm512_maskz_mov_ps(m, e));
  }
  return _mm512_reduce_add_ps(s);
}

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

double exp_weights(const float* x, size_t n, float a, float m, float cut, float* w) {
  // Float lanes within blocks of 1024 elements, the blocks' sums added in double.
  const __m512 va = _mm512_set1_ps(a), vm = _mm512_set1_ps(m), vc = _mm512_set1_ps(cut);
  double total = 0;
  for (size_t i0 = 0; i0 < n; i0 += 1024) {
    const size_t i1 = i0 + 1024 < n ? i0 + 1024 : n;
    __m512 s = _mm512_setzero_ps();
    for (size_t i = i0; i < i1; i += 16) {
      const __mmask16 m = i1 - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (i1 - i)) - 1);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
      const __mmask16 keep = _mm512_mask_cmp_ps_mask(m, v, vc, _CMP_GE_OQ);  // NaN: false
      const __m512 e = _mm512_maskz_mov_ps(keep, simd::exp512(_mm512_mul_ps(_mm512_sub_ps(v, vm), va)));
      _mm512_mask_storeu_ps(w + i, m, e);
      s = _mm512_add_ps(s, e);
    }
    total += _mm512_reduce_add_ps(s);
  }
  return total;
}

float sum_f32(const float* x, size_t n, ReadLoop loop) {
  // 8 accumulators of one cache line each: 512 bytes in flight per iteration.
  __m512 s[8];
  for (__m512& v : s) v = _mm512_setzero_ps();
  size_t i = 0;
  if (loop == ReadLoop::Prefetch) {  // two accumulators; prefetches past x never fault
    for (; i + 128 <= n; i += 128)
      for (int j = 0; j < 8; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(x + i + 16 * j) + kReadLoopPrefetch, _MM_HINT_T0);
        s[j % 2] = _mm512_add_ps(s[j % 2], _mm512_loadu_ps(x + i + 16 * j));
      }
  } else if (loop == ReadLoop::Paced) {
    alignas(64) float acc[8][16] = {};
    for (; i + 128 <= n; i += 128)
      for (int j = 0; j < 8; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(x + i + 16 * j) + kReadLoopPrefetch, _MM_HINT_T0);
        _mm512_store_ps(acc[j], _mm512_add_ps(_mm512_load_ps(acc[j]), _mm512_loadu_ps(x + i + 16 * j)));
        asm volatile("" ::: "memory");  // keep the accumulator in memory: the pacing is the point
      }
    for (int j = 0; j < 8; ++j) s[j] = _mm512_load_ps(acc[j]);
  }
  for (; i + 128 <= n; i += 128)
    for (int j = 0; j < 8; ++j) s[j] = _mm512_add_ps(s[j], _mm512_loadu_ps(x + i + 16 * j));
  for (int j = 1; j < 8; ++j) s[0] = _mm512_add_ps(s[0], s[j]);
  float r = _mm512_reduce_add_ps(s[0]);
  for (; i < n; ++i) r += x[i];
  return r;
}

}  // namespace herd::avx512
