#pragma once
// Element-wise and per-row operations of the Llama 4 block, on f32 activations.
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace herd {

// y = x / sqrt(mean(x^2) + eps) * w for each of T rows of length n; w may be null (no weight,
// Llama 4's QK norm). x and y may alias.
void rms_norm(const float* x, const float* w, float* y, int64_t T, int64_t n, float eps);

// Rotates q/k rows in place. x is [T, n_heads*head_dim]; position of row t is pos[t].
// inv_freq has head_dim/2 entries (double, so long positions keep their precision).
// Interleaved: pairs (2i, 2i+1) (Llama 4). RotateHalf: pairs (i, i+head_dim/2) (Llama 3 HF).
void rope_interleaved(float* x, int64_t T, int n_heads, int head_dim, const int64_t* pos, const double* inv_freq);
void rope_rotate_half(float* x, int64_t T, int n_heads, int head_dim, const int64_t* pos, const double* inv_freq);

// out[i] = silu(gate[i]) * up[i] (AVX-512 where available: within a few ulp of the scalar form)
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
namespace avx512 {
void silu_mul(const float* gate, const float* up, float* out, int64_t n);  // AVX-512 CPUs only
}

// In-place softmax over n values; returns nothing, handles -inf entries.
void softmax(float* x, int64_t n);

inline float sigmoid(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }

}  // namespace herd
