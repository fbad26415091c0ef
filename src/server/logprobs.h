#pragma once
// Log-probabilities of a row of logits (the model's distribution, before sampling transforms).
#include <cstdint>

#include "server/sequence.h"

namespace herd::server {

// The chosen token's log-probability and the `top` most likely tokens with theirs (best first).
TokenLogprob token_logprobs(const float* logits, int64_t vocab, int32_t chosen, int top);

}  // namespace herd::server
