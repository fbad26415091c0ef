#include "model/text_model.h"

#include "core/error.h"
#include "formats/gguf_model_loader.h"
#include "formats/hf_model_loader.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kv/paged_kv_cache.h"

namespace herd {

TextModel::TextModel(ModelConfig config, ModelWeights weights)
    : config_(std::move(config)), weights_(std::move(weights)), inv_freq_(config_.rope_inv_freq()) {}

std::unique_ptr<TextModel> TextModel::load(const std::string& path) {
  LoadedWeights lw = is_gguf_path(path) ? load_gguf_model(path) : load_hf_model(path);
  return std::make_unique<TextModel>(std::move(lw.config), std::move(lw.weights));
}

std::unique_ptr<KVCache> TextModel::new_cache(const KVOptions& options) const {
  return std::make_unique<PagedKVCache>(config_, options);
}

void TextModel::forward(const int32_t* ids, int64_t T, KVCache& cache, float* logits, bool all_logits,
                        ForwardTrace* trace) {
  if (T <= 0) fail("forward: no tokens given");
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size, V = c.vocab_size;
  const int64_t start = cache.n_positions();
  if (c.max_position > 0 && start + T > c.max_position)
    fail("context of ", start + T, " tokens exceeds the model's max_position_embeddings (", c.max_position, ")");
  for (int64_t t = 0; t < T; ++t)
    if (ids[t] < 0 || ids[t] >= V) fail("token id ", ids[t], " at index ", t, " is outside the vocabulary [0, ", V, ")");

  h_.resize(T * D);
  pos_.resize(T);
  for (int64_t t = 0; t < T; ++t) {
    pos_[t] = start + t;
    weights_.embed.row(ids[t], h_.data() + t * D);
  }
  if (trace && trace->keep_hidden) trace->hidden.assign(1, h_);

  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    attention_block(c, w, l, inv_freq_, h_.data(), pos_.data(), T, cache, scratch_);
    if (trace && trace->keep_hidden) trace->attn_resid.push_back(h_);
    RouterChoice* rc = (trace && w.moe) ? &trace->router[l] : nullptr;
    ffn_block(c, w, l, h_.data(), T, scratch_, rc);
    if (trace && trace->keep_hidden) trace->hidden.push_back(h_);
  }

  const int64_t rows = all_logits ? T : 1;
  const float* last = h_.data() + (T - rows) * D;
  out_norm_.resize(rows * D);
  rms_norm(last, weights_.final_norm.data(), out_norm_.data(), rows, D, static_cast<float>(c.rms_norm_eps));
  if (trace && trace->keep_hidden) {
    std::vector<float> all(T * D);
    rms_norm(h_.data(), weights_.final_norm.data(), all.data(), T, D, static_cast<float>(c.rms_norm_eps));
    trace->hidden.push_back(std::move(all));
  }
  matmul(out_norm_.data(), rows, weights_.lm_head, logits);
  (void)V;
}

}  // namespace herd
