#pragma once
// Vector primitives on f32 used by matmul and attention, dispatched to the best ISA at run time.
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace herd {

float dot_f32(const float* a, const float* b, size_t n);
// y[i] += a * x[i]
void axpy_f32(float a, const float* x, float* y, size_t n);
// y[i] = a * y[i]
void scale_f32(float a, float* y, size_t n);
// Converts n elements of a weight row to f32 (vectorized for BF16 and F16).
void row_to_f32(DType t, const void* src, float* dst, size_t n);

namespace scalar {
float dot_f32(const float* a, const float* b, size_t n);
void axpy_f32(float a, const float* x, float* y, size_t n);
}  // namespace scalar

namespace avx2 {
float dot_f32(const float* a, const float* b, size_t n);
void axpy_f32(float a, const float* x, float* y, size_t n);
void bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void f16_to_f32(const uint16_t* src, float* dst, size_t n);
}  // namespace avx2

}  // namespace herd
