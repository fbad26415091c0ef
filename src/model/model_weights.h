#pragma once
// Views of every weight of a Llama 4 (or dense Llama) text model. The views point into storage
// owned elsewhere (memory-mapped checkpoint files); small vectors (norms) are copied to f32.
#include <memory>
#include <vector>

#include "kernels/matmul.h"

namespace herd {

struct FfnWeights {  // SwiGLU: down(silu(gate x) * up x)
  WeightMatrix gate, up, down;
};

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;
  WeightMatrix q, k, v, o;
  bool moe = false;
  WeightMatrix router;               // [n_experts, hidden] (MoE layers)
  std::vector<FfnWeights> experts;   // routed experts (MoE layers)
  FfnWeights shared;                 // shared expert (MoE) or the dense FFN (dense layers)
};

struct ModelWeights {
  WeightMatrix embed;    // [vocab, hidden]
  WeightMatrix lm_head;  // [vocab, hidden]
  std::vector<float> final_norm;
  std::vector<LayerWeights> layers;
  std::shared_ptr<void> storage;  // keeps the mapped files alive
};

}  // namespace herd
