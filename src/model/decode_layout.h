#pragma once
// Rearranges the weights of a model read into memory for one-token decode: Q6_K, Q4_K and Q8_0
// matrices whose rows come in multiples of 16 are interleaved in groups of 16 rows
// (kernels/row_interleave.h), in place, where the CPU has a kernel for that layout. Every matmul
// path reads them: one-token products with the interleaved kernels (a third of the instructions
// per weight), the prefill GEMM and exact mode through standard rows restored per 16-row panel, so
// logits change only by f32 rounding. Never applied to mapped files (read-only shared pages).
//
// The restore costs prefill time (the GEMMs do not read the layout themselves yet: 256-token
// prefill on mini-scout Q4_K_M fell from ~1390 to ~370 tok/s with every matrix interleaved), so by
// default only the output matrix is: prefill computes logits for a sequence's last position alone,
// and it is 60-70% of mini-scout's decode bytes. $HERD_INTERLEAVE chooses: "0" none, "head"
// (default) the output matrix, "all" every eligible matrix (decode-bound use, short prompts).
#include "model/model_weights.h"

namespace herd {

enum class DecodeLayout { None, Head, All };

// $HERD_INTERLEAVE ("0", "head", "all"; unset: Head); anything else is an error naming it.
DecodeLayout decode_layout_from_env();

// Returns the number of matrices rearranged.
int use_decode_layout(ModelWeights& w, DecodeLayout which);

}  // namespace herd
