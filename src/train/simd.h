#pragma once
// AVX-512 versions of training's non-GEMM row loops (softmax, cross-entropy, SwiGLU, RMSNorm,
// AdamW). The portable code in blocks.cpp/optimizer.cpp is built for baseline x86-64, where
// GCC neither vectorizes float reductions (no -ffast-math) nor calls a vector exp, so these
// loops ran one float at a time. Implemented in simd_avx512.cpp (built with AVX-512 flags);
// callers use them when use_avx512() (kernels/cpu_features.h) says the CPU has it.
#include <cstdint>

namespace herd::train::avx512 {

float max(const float* x, int64_t n);
// x[i] = exp(x[i] - sub) in place; returns the sum of the new values.
float exp_sub_sum(float* x, int64_t n, float sub);
// sum exp(x[i] - sub), x unchanged.
float sum_exp(const float* x, int64_t n, float sub);
// out[i] = exp(x[i] - sub) * mul (out may alias x).
void exp_scale(const float* x, int64_t n, float sub, float mul, float* out);
void scale(float* x, int64_t n, float s);
float dot(const float* a, const float* b, int64_t n);
// r[i] = p[i] * (r[i] - d)  (softmax backward)
void softmax_grad(const float* p, float* r, int64_t n, float d);
// RMSNorm of one row; w may be null. Returns rstd.
float rmsnorm_row(const float* x, const float* w, float* y, int64_t D, float eps);
// dx += r w dy - (r^3/D) x <dy w, x>;  dw += dy x r (dw may be null; w may be null)
void rmsnorm_backward_row(const float* x, const float* w, float r, const float* dy, float* dx, float* dw, int64_t D);
void swiglu_row(const float* g, const float* u, float* act, int64_t F);
void swiglu_backward_row(const float* g, const float* u, const float* dact, float* dg, float* du, int64_t F);
// AdamW on [0, n): m, v moments; w = w * decay - step * m / (sqrt(v * rbc2) + eps)
// (g scaled by gscale as it is read)
void adamw(float* w, float* m, float* v, const float* g, int64_t n, float b1, float b2, float step, float rbc2,
           float eps, float decay, float gscale);
double sumsq(const float* x, int64_t n);

}  // namespace herd::train::avx512
