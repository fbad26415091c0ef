#pragma once
// Prefill (many tokens) path of the MoE FFN: whole routed experts spread over the thread pool
// instead of each expert's small matmuls split across it.
#include <cstdint>

#include "model/blocks.h"

namespace herd {

// ffn_out[t] += sum over token t's routed experts (ascending expert index, the order of the serial
// loop) of expert(gate * norm[t]); then h[t] += ffn_out[t]. Each active expert runs whole on one
// thread (gather, gate/up/down matmuls, scatter to its slots), most-loaded experts first; the sums
// are taken per token afterwards, so the result is bit-identical to one expert at a time.
void moe_experts_prefill(const ModelConfig& c, const LayerWeights& w, const float* norm, int64_t T,
                         const int32_t* choice, const float* score, float* ffn_out, float* h);

}  // namespace herd
