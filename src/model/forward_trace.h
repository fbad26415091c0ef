#pragma once
// Optional record of intermediate values of one forward call, for tests, debugging and expert
// telemetry: the residual stream after each stage and the experts each token was routed to.
#include <cstdint>
#include <map>
#include <vector>

namespace herd {

struct RouterChoice {
  std::vector<int32_t> experts;  // [T * top_k], in descending logit order per token
  std::vector<float> scores;     // sigmoid of the chosen logits
};

struct ForwardTrace {
  bool keep_hidden = false;                  // set before the call to record hidden states
  std::vector<std::vector<float>> hidden;     // embeddings, after each layer, after final norm: [T*D]
  std::vector<std::vector<float>> attn_resid; // per layer, after the attention add: [T*D]
  std::map<int, RouterChoice> router;         // per MoE layer (always recorded)
};

}  // namespace herd
