#include "kernels/vec.h"

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
}  // namespace scalar

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

void row_to_f32(DType t, const void* src, float* dst, size_t n) {
  if (t == DType::BF16 && use_avx2()) return avx2::bf16_to_f32(static_cast<const uint16_t*>(src), dst, n);
  if (t == DType::F16 && use_avx2()) return avx2::f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
  to_f32(t, src, dst, n);
}

}  // namespace herd
