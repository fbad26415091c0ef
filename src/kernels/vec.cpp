#include "kernels/vec.h"

#include <cmath>

#include "kernels/cpu_features.h"

namespace herd {

namespace scalar {
float dot_f32(const float* a, const float* b, size_t n) {
  // Eight partial sums: lets the compiler use SIMD without reassociating a single chain.
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  float r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}
void axpy_f32(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}
float max_f32(const float* x, size_t n) {
  float m = -INFINITY;
  for (size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}
size_t find_f32(const float* x, size_t n, float v) {
  for (size_t i = 0; i < n; ++i)
    if (x[i] == v) return i;
  return n;
}
size_t indices_above(const float* x, size_t n, float t, bool or_equal, int32_t first, int32_t* out) {
  size_t m = 0;
  for (size_t i = 0; i < n; ++i)
    if (x[i] > t || (or_equal && x[i] == t)) out[m++] = first + static_cast<int32_t>(i);
  return m;
}
double exp_weights(const float* x, size_t n, float a, float m, float cut, float* w) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += w[i] = x[i] >= cut ? std::exp(a * (x[i] - m)) : 0.0f;
  return s;
}
float sum_f32(const float* x, size_t n, ReadLoop loop) {
  float s[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if (loop != ReadLoop::Plain) __builtin_prefetch(reinterpret_cast<const char*>(x + i) + kReadLoopPrefetch, 0, 3);
    for (int j = 0; j < 16; ++j) s[j] += x[i + j];
  }
  float r = 0;
  for (float v : s) r += v;
  for (; i < n; ++i) r += x[i];
  return r;
}
}  // namespace scalar

float sum_f32(const float* x, size_t n, ReadLoop loop) {
  if (use_avx512()) return avx512::sum_f32(x, n, loop);
  return use_avx2() ? avx2::sum_f32(x, n, loop) : scalar::sum_f32(x, n, loop);
}

float max_f32(const float* x, size_t n) { return use_avx2() ? avx2::max_f32(x, n) : scalar::max_f32(x, n); }

size_t indices_above(const float* x, size_t n, float t, bool or_equal, int32_t first, int32_t* out) {
  return use_avx2() ? avx2::indices_above(x, n, t, or_equal, first, out) : scalar::indices_above(x, n, t, or_equal, first, out);
}

double exp_weights(const float* x, size_t n, float a, float m, float cut, float* w) {
  if (use_avx512()) return avx512::exp_weights(x, n, a, m, cut, w);
  return use_avx2() ? avx2::exp_weights(x, n, a, m, cut, w) : scalar::exp_weights(x, n, a, m, cut, w);
}
size_t find_f32(const float* x, size_t n, float v) { return use_avx2() ? avx2::find_f32(x, n, v) : scalar::find_f32(x, n, v); }

float dot_f32(const float* a, const float* b, size_t n) {
  return use_avx2() ? avx2::dot_f32(a, b, n) : scalar::dot_f32(a, b, n);
}

void axpy_f32(float a, const float* x, float* y, size_t n) {
  if (use_avx2()) avx2::axpy_f32(a, x, y, n);
  else scalar::axpy_f32(a, x, y, n);
}

void scale_f32(float a, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] *= a;
}

float dot_row(DType t, const float* a, const void* b, size_t n) {
  const uint16_t* h = static_cast<const uint16_t*>(b);
  switch (t) {
    case DType::F32: return dot_f32(a, static_cast<const float*>(b), n);
    case DType::BF16:
      if (use_avx2()) return avx2::dot_bf16(a, h, n);
      break;
    case DType::F16:
      if (use_avx2()) return avx2::dot_f16(a, h, n);
      break;
    default:
      break;
  }
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * (t == DType::BF16 ? bf16_to_f32(h[i]) : f16_to_f32(h[i]));
  return s;
}

void axpy_row(DType t, float a, const void* x, float* y, size_t n) {
  const uint16_t* h = static_cast<const uint16_t*>(x);
  switch (t) {
    case DType::F32: return axpy_f32(a, static_cast<const float*>(x), y, n);
    case DType::BF16:
      if (use_avx2()) return avx2::axpy_bf16(a, h, y, n);
      break;
    case DType::F16:
      if (use_avx2()) return avx2::axpy_f16(a, h, y, n);
      break;
    default:
      break;
  }
  for (size_t i = 0; i < n; ++i) y[i] += a * (t == DType::BF16 ? bf16_to_f32(h[i]) : f16_to_f32(h[i]));
}

void dot_rows(DType t, const float* q, const uint8_t* rows, size_t stride, int64_t count, size_t n, float* out) {
  if (n == 128 && use_avx512() && (t == DType::F32 || t == DType::BF16 || t == DType::F16))
    return avx512::dot_rows_128(t, q, rows, stride, count, out);
  for (int64_t r = 0; r < count; ++r) out[r] = dot_row(t, q, rows + r * stride, n);
}

void weighted_sum_rows(DType t, const float* p, const uint8_t* rows, size_t stride, int64_t count, size_t n, float* acc) {
  if (n == 128 && use_avx512() && (t == DType::F32 || t == DType::BF16 || t == DType::F16))
    return avx512::weighted_sum_rows_128(t, p, rows, stride, count, acc);
  for (int64_t r = 0; r < count; ++r) axpy_row(t, p[r], rows + r * stride, acc, n);
}

void dot_rows_heads(DType t, const float* q, int nq, const uint8_t* rows, size_t stride, int64_t count, size_t n,
                    float* out) {
  if (n == 128 && use_avx512() && (t == DType::F32 || t == DType::BF16 || t == DType::F16))
    return avx512::dot_rows_heads_128(t, q, nq, rows, stride, count, out);
  for (int h = 0; h < nq; ++h) dot_rows(t, q + h * n, rows, stride, count, n, out + h * count);
}

void weighted_sum_rows_heads(DType t, const float* p, int nq, const uint8_t* rows, size_t stride, int64_t count,
                             size_t n, float* acc) {
  if (n == 128 && use_avx512() && (t == DType::F32 || t == DType::BF16 || t == DType::F16))
    return avx512::weighted_sum_rows_heads_128(t, p, nq, rows, stride, count, acc);
  for (int h = 0; h < nq; ++h) weighted_sum_rows(t, p + h * count, rows, stride, count, n, acc + h * n);
}

float exp_affine_sum(float* x, size_t n, float a, float b) {
  if (use_avx512()) return avx512::exp_affine_sum(x, n, a, b);
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i] = std::exp(a * x[i] - b);
  return s;
}

void row_to_f32(DType t, const void* src, float* dst, size_t n) {
  if (t == DType::BF16 && use_avx2()) return avx2::bf16_to_f32(static_cast<const uint16_t*>(src), dst, n);
  if (t == DType::F16 && use_avx2()) return avx2::f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
  to_f32(t, src, dst, n);
}

}  // namespace herd
