#pragma once
// Rearranges the weights of a model read into memory for one-token decode: Q6_K and Q4_K matrices whose
// rows come in multiples of 16 are interleaved in groups of 16 rows (kernels/row_interleave.h),
// in place, where the CPU has a kernel for that layout. Every matmul path reads them (decode with
// the interleaved kernel, prefill and exact mode through the standard layout restored per 16-row
// panel), so logits change only by f32 rounding. Never applied to mapped files (read-only
// shared pages). HERD_INTERLEAVE=0 turns it off (for A/B measurements).
#include "model/model_weights.h"

namespace herd {

// Returns the number of matrices rearranged.
int use_decode_layout(ModelWeights& w);

}  // namespace herd
