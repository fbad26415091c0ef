#pragma once
// Synthetic KV contents for decode benchmarks at depths a real prefill would take hours to reach on
// a CPU (`herd bench --fill-kv N`). The keys and values are seeded random vectors, not a model
// state: only timings and memory taken with them mean anything.
#include <cstdint>

#include "kv/kv_cache.h"
#include "model/model_config.h"

namespace herd {

// Appends n positions to every layer of `cache`, in slices, as a prefill of n tokens would.
void fill_kv_synthetic(const ModelConfig& c, KVCache& cache, int64_t n, uint64_t seed);

}  // namespace herd
