#pragma once
// The two halves of a decoder layer. Each works on T rows of f32 activations in place on the
// residual stream h, using caller-owned scratch space so decode allocates nothing per token.
#include <cstdint>
#include <vector>

#include "kv/kv_cache.h"
#include "model/forward_trace.h"
#include "model/model_config.h"
#include "model/model_weights.h"

namespace herd {

struct Scratch {
  std::vector<float> norm, q, k, v, attn, proj;       // attention
  std::vector<float> router, gate, up, act, expert_in, expert_out, ffn_out;  // FFN
  std::vector<int32_t> choice;
  std::vector<float> choice_score;
};

// Rows [offset, offset+n) of a batch belong to one sequence and its cache.
struct SequenceSpan {
  int64_t offset = 0, n = 0;
  KVCache* cache = nullptr;
};

// h += o_proj(attention(rms_norm(h))) for T rows at absolute positions pos[0..T). Projections run
// over all rows at once; each span writes to and attends through its own cache.
void attention_block(const ModelConfig& c, const LayerWeights& w, int layer, const std::vector<double>& inv_freq,
                     float* h, const int64_t* pos, int64_t T, const std::vector<SequenceSpan>& spans, Scratch& s);

// h += FFN(rms_norm(h)): routed experts plus shared expert on MoE layers, SwiGLU on dense ones.
void ffn_block(const ModelConfig& c, const LayerWeights& w, int layer, float* h, int64_t T, Scratch& s,
               RouterChoice* router_out);

// y = down(silu(gate x) * up x) for T rows of x; uses s.gate, s.up, s.act.
void swiglu(const FfnWeights& f, const float* x, int64_t T, float* y, Scratch& s);

}  // namespace herd
