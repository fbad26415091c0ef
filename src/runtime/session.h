#pragma once
// Session files: everything needed to pick a conversation up later, exactly: the tokens so far,
// the KV cache contents, the sampler (parameters and generator state) and the pending logits.
// A long document is read once; later runs reuse it (and any matching prompt prefix).
#include <cstdint>
#include <string>

#include "kv/kv_cache.h"
#include "model/text_model.h"
#include "runtime/generator.h"

namespace herd {

// Identifies a model: its config plus samples of its weights. Sessions refuse other models.
uint64_t model_fingerprint(const TextModel& model);

// Writes atomically (temporary file, then rename): an existing session is never left half-written.
void save_session(const std::string& path, const TextModel& model, const KVCache& cache, const Generator& gen);

struct LoadedSession {
  std::vector<int32_t> tokens;
  SamplingParams sampling;
  Rng rng;
  std::vector<float> next_logits;
};
// Restores the cache contents and returns the rest. Throws herd::Error on a truncated file, another
// model, another format version or other KV settings.
LoadedSession load_session(const std::string& path, const TextModel& model, KVCache& cache);

}  // namespace herd
