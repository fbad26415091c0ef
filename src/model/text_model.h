#pragma once
// A loaded Llama 4 (or dense Llama) text model: token ids in, logits out, with a KV cache that
// carries the context between calls (prefill, then one token at a time).
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "kv/kv_cache.h"
#include "kv/kv_options.h"
#include "model/blocks.h"
#include "model/forward_trace.h"
#include "model/model_config.h"
#include "model/model_weights.h"

namespace herd {

class TextModel {
 public:
  TextModel(ModelConfig config, ModelWeights weights);

  // Loads a model directory (Hugging Face config.json + safetensors) or a GGUF file.
  static std::unique_ptr<TextModel> load(const std::string& path, FileAccess access = FileAccess::Map);
  // The front ends' default: read the weights into memory (faster decode) when their files take at
  // most half of the memory available now, else map them; Map when either size is unknown.
  static FileAccess default_access(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

  // A fresh cache for this model: chunk rings for chunked layers, pages for global ones, stored
  // and tiered as the options say.
  std::unique_ptr<KVCache> new_cache(const KVOptions& options = {}) const;

  // Appends ids[0..T) at positions cache.n_positions() onward. Writes vocab_size logits for the
  // last token to `logits`, or for every token ([T, vocab]) when all_logits is true.
  void forward(const int32_t* ids, int64_t T, KVCache& cache, float* logits, bool all_logits,
               ForwardTrace* trace = nullptr);

  // Several sequences in one pass (continuous batching): the weights are read once for all their
  // tokens; each sequence appends to its own cache. Logits go to each item's buffer (last token,
  // or every token with all_logits). Sequences must use distinct caches.
  struct BatchItem {
    const int32_t* ids = nullptr;
    int64_t n = 0;
    KVCache* cache = nullptr;
    float* logits = nullptr;
    bool all_logits = false;
  };
  void forward_batch(const std::vector<BatchItem>& items, ForwardTrace* trace = nullptr);

  // Bytes held by activation buffers: grows with the largest slice fed, not with the context.
  int64_t scratch_bytes() const;

 private:
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<double> inv_freq_;
  Scratch scratch_;
  std::vector<float> h_, out_norm_, logits_rows_;
  std::vector<int64_t> pos_, rows_;
  std::vector<int32_t> ids_;
};

}  // namespace herd
