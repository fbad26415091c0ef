#pragma once
// Vector primitives on f32 used by matmul and attention, dispatched to the best ISA at run time.
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace herd {

float dot_f32(const float* a, const float* b, size_t n);
// y[i] += a * x[i]
void axpy_f32(float a, const float* x, float* y, size_t n);
// The read loops of the bandwidth probe (runtime/machine_probe.cpp), which keeps the fastest:
// which one reads a buffer far larger than the caches fastest depends on the machine.
enum class ReadLoop {
  Plain,     // 8 independent accumulators of the widest vectors
  Prefetch,  // 2 accumulators; every line also prefetched into L1 kReadLoopPrefetch bytes ahead
  Paced,     // the same prefetch, and each line added to an accumulator kept in L1 memory, so
             // that the loads issue in program order behind their prefetches (on the development
             // VM the fastest: 15-20% more than Plain; why, without hardware counters, unknown)
};
constexpr size_t kReadLoopPrefetch = 2048;
// Sum of x[0..n) in many partial sums (not the serial order), read as `loop` says.
float sum_f32(const float* x, size_t n, ReadLoop loop = ReadLoop::Plain);
// Largest of x[0..n) ignoring NaNs (-inf when n == 0 or all are NaN).
float max_f32(const float* x, size_t n);
// First i < n with x[i] == v (so never a NaN), or n when there is none.
size_t find_f32(const float* x, size_t n, float v);
// Writes first + i for every x[i] > t (x[i] >= t when or_equal; never a NaN) to out in ascending
// order and returns how many: the sampler's scan for a vocabulary's best tokens.
size_t indices_above(const float* x, size_t n, float t, bool or_equal, int32_t first, int32_t* out);
// w[i] = e^(a*(x[i] - m)) where x[i] >= cut, else 0 (a NaN too); w may be x. Returns the sum of w.
// For sampling weights, with m the maximum: exactly 1 at x[i] == m, accurate down to e^-87.
double exp_weights(const float* x, size_t n, float a, float m, float cut, float* w);
// y[i] = a * y[i]
void scale_f32(float a, float* y, size_t n);
// Converts n elements of a weight row to f32 (vectorized for BF16 and F16).
void row_to_f32(DType t, const void* src, float* dst, size_t n);

// Dot product and axpy against a row stored as F32, BF16 or F16, converted in registers (no
// scratch copy): sum_i a[i] * b[i] and y[i] += a * x[i].
float dot_row(DType t, const float* a, const void* b, size_t n);
void axpy_row(DType t, float a, const void* x, float* y, size_t n);

// Attention inner loops over `count` rows of n elements (F32, BF16 or F16) spaced `stride` bytes:
// out[r] = q · row_r, and acc += sum_r p[r] * row_r. The query / accumulator stay in registers.
void dot_rows(DType t, const float* q, const uint8_t* rows, size_t stride, int64_t count, size_t n, float* out);
void weighted_sum_rows(DType t, const float* p, const uint8_t* rows, size_t stride, int64_t count, size_t n, float* acc);
// The same for the nq query heads that share a KV head (vectors q + h*n, h < nq), each row read
// once for all of them rather than once per head: out[h*count + r] = q_h · row_r and
// acc[h*n + i] += sum_r p[h*count + r] * row_r[i].
void dot_rows_heads(DType t, const float* q, int nq, const uint8_t* rows, size_t stride, int64_t count, size_t n,
                    float* out);
void weighted_sum_rows_heads(DType t, const float* p, int nq, const uint8_t* rows, size_t stride, int64_t count,
                             size_t n, float* acc);
// Softmax numerators: x[i] = e^(a*x[i] - b); returns their sum.
float exp_affine_sum(float* x, size_t n, float a, float b);

namespace avx512 {
// Defined for n == 128 only (Llama 4's head_dim); callers fall back otherwise.
void dot_rows_128(DType t, const float* q, const uint8_t* rows, size_t stride, int64_t count, float* out);
void weighted_sum_rows_128(DType t, const float* p, const uint8_t* rows, size_t stride, int64_t count, float* acc);
void dot_rows_heads_128(DType t, const float* q, int nq, const uint8_t* rows, size_t stride, int64_t count, float* out);
void weighted_sum_rows_heads_128(DType t, const float* p, int nq, const uint8_t* rows, size_t stride, int64_t count,
                                 float* acc);
float exp_affine_sum(float* x, size_t n, float a, float b);
float sum_f32(const float* x, size_t n, ReadLoop loop);
double exp_weights(const float* x, size_t n, float a, float m, float cut, float* w);
}  // namespace avx512

namespace scalar {
float dot_f32(const float* a, const float* b, size_t n);
void axpy_f32(float a, const float* x, float* y, size_t n);
float max_f32(const float* x, size_t n);
size_t find_f32(const float* x, size_t n, float v);
float sum_f32(const float* x, size_t n, ReadLoop loop);
size_t indices_above(const float* x, size_t n, float t, bool or_equal, int32_t first, int32_t* out);
double exp_weights(const float* x, size_t n, float a, float m, float cut, float* w);
}  // namespace scalar

namespace avx2 {
float dot_f32(const float* a, const float* b, size_t n);
void axpy_f32(float a, const float* x, float* y, size_t n);
float max_f32(const float* x, size_t n);
size_t find_f32(const float* x, size_t n, float v);
float sum_f32(const float* x, size_t n, ReadLoop loop);
size_t indices_above(const float* x, size_t n, float t, bool or_equal, int32_t first, int32_t* out);
double exp_weights(const float* x, size_t n, float a, float m, float cut, float* w);
void bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void f16_to_f32(const uint16_t* src, float* dst, size_t n);
float dot_bf16(const float* a, const uint16_t* b, size_t n);
float dot_f16(const float* a, const uint16_t* b, size_t n);
void axpy_bf16(float a, const uint16_t* x, float* y, size_t n);
void axpy_f16(float a, const uint16_t* x, float* y, size_t n);
}  // namespace avx2

}  // namespace herd
