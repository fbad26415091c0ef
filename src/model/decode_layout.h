#pragma once
// Rearranges the weights of a model read into memory for one-token decode: Q6_K, Q4_K and Q8_0
// matrices whose rows come in multiples of 16 are interleaved in groups of 16 rows
// (kernels/row_interleave.h), in place, where the CPU has a kernel for that layout. Every matmul
// path reads them: one-token products with the interleaved kernels (a third of the instructions
// per weight), the AMX prefill GEMM in place, other GEMMs and exact mode through standard rows
// restored per 16-row panel (vectorized), so logits change only by f32 rounding. Never applied to
// mapped files (read-only shared pages).
//
// $HERD_INTERLEAVE chooses: "all" (default) every eligible matrix, "head" the output matrix only
// (the default until the GEMMs read the layout: restoring every expert's panels cost prefill
// 70%), "0" none.
#include "model/model_weights.h"

namespace herd {

enum class DecodeLayout { None, Head, All };

// $HERD_INTERLEAVE ("0", "head", "all"; unset: All); anything else is an error naming it.
DecodeLayout decode_layout_from_env();

// Returns the number of matrices rearranged.
int use_decode_layout(ModelWeights& w, DecodeLayout which);

// How many of the model's matrices are in the interleaved layout (bench reports it).
int count_decode_layout(const ModelWeights& w);

}  // namespace herd
