#pragma once
// Forward and backward of every block of the Llama 4 text model, side by side (llm.c style).
// All tensors are row-major f32. N is the number of token rows (batch x sequence). Backward
// functions ADD into their input-gradient and weight-gradient outputs (callers zero them), so
// residual branches and shared weights accumulate naturally.
#include <cstdint>
#include <vector>

namespace herd::train {

// ---- embedding: out[n] = table[ids[n]]
void embedding_forward(const int32_t* ids, int64_t N, const float* table, int64_t D, float* out);
void embedding_backward(const int32_t* ids, int64_t N, const float* dout, int64_t D, float* dtable);

// ---- RMSNorm: y = x * rstd * w (w may be null: Llama 4's weightless QK norm)
void rmsnorm_forward(const float* x, const float* w, float* y, float* rstd, int64_t N, int64_t D, float eps);
void rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                      int64_t N, int64_t D);

// ---- linear, nn.Linear layout: y = x W^T, W [out, in]
void linear_forward(const float* x, const float* W, float* y, int64_t N, int64_t in, int64_t out);
// dx_beta 0: dx is overwritten instead of added into (saves zero-filling a fresh buffer).
void linear_backward(const float* x, const float* W, const float* dy, float* dx, float* dW, int64_t N, int64_t in,
                     int64_t out, float dx_beta = 1.0f);
// ---- matmul, fused-expert layout: y = x W, W [in, out]
void matmul_forward(const float* x, const float* W, float* y, int64_t N, int64_t in, int64_t out);
void matmul_backward(const float* x, const float* W, const float* dy, float* dx, float* dW, int64_t N, int64_t in,
                     int64_t out, float dx_beta = 1.0f);

// ---- RoPE, interleaved pairs (2i, 2i+1), rows at positions pos[n]; in place. cs/sn are the
// per-(position, pair) tables from rope_tables. The backward rotates by the negative angle.
void rope_tables(const std::vector<double>& inv_freq, int64_t max_pos, std::vector<float>& cs, std::vector<float>& sn);
void rope_forward(float* x, int64_t N, const int64_t* pos, int heads, int hd, const float* cs, const float* sn);
void rope_backward(float* dx, int64_t N, const int64_t* pos, int heads, int hd, const float* cs, const float* sn);

// ---- causal self-attention with GQA and an optional chunk mask (key j visible to query i iff
// j <= i and j/chunk == i/chunk). q [B*T, H*hd], k/v [B*T, KV*hd], out [B*T, H*hd];
// probs [B, H, T, T] is kept for the backward. Positions are 0..T-1 in each sequence.
struct AttnShape {
  int64_t B, T;
  int H, KV, hd;
  int64_t chunk;  // 0: full causal
  float scale;
};
void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* probs);
// dq is overwritten; dk and dv are accumulated into.
void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* probs,
                        const float* dout, float* dq, float* dk, float* dv, std::vector<float>& scratch);

// ---- SwiGLU activation: act = silu(g) * u, g/u with row stride ld_in (fused gate_up rows)
void swiglu_forward(const float* g, const float* u, float* act, int64_t N, int64_t F, int64_t ld_in);
void swiglu_backward(const float* g, const float* u, const float* dact, float* dg, float* du, int64_t N, int64_t F,
                     int64_t ld_in);

// ---- cross-entropy over V logits per row; mean over rows with target >= 0 (target < 0: ignored).
// Forward returns the mean loss and stores each row's log-sum-exp; backward writes
// dlogits = scale * d(mean loss)/d(logits) (may alias logits).
double cross_entropy_forward(const float* logits, const int32_t* targets, int64_t N, int64_t V, float* lse);
void cross_entropy_backward(const float* logits, const float* lse, const int32_t* targets, int64_t N, int64_t V,
                            float scale, float* dlogits);

inline float sigmoidf(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }

}  // namespace herd::train
