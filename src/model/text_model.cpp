#include "model/text_model.h"

#include <filesystem>

#include "core/error.h"
#include "core/memory_info.h"
#include "formats/gguf_model_loader.h"
#include "formats/hf_model_loader.h"
#include "kernels/matmul.h"
#include "model/decode_layout.h"
#include "model/decode_steps.h"
#include "kernels/ops.h"
#include "kv/paged_kv_cache.h"

namespace herd {

TextModel::TextModel(ModelConfig config, ModelWeights weights)
    : config_(std::move(config)), weights_(std::move(weights)), inv_freq_(config_.rope_inv_freq()) {}

std::unique_ptr<TextModel> TextModel::load(const std::string& path, FileAccess access) {
  LoadedWeights lw = is_gguf_path(path) ? load_gguf_model(path, access) : load_hf_model(path, access);
  if (access == FileAccess::Ram) use_decode_layout(lw.weights, decode_layout_from_env());  // private copy: may be rearranged
  return std::make_unique<TextModel>(std::move(lw.config), std::move(lw.weights));
}

FileAccess TextModel::default_access(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  uintmax_t bytes = 0;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.path().extension() == ".safetensors") bytes += e.file_size(ec);
  } else {
    bytes = fs::file_size(path, ec);
  }
  const int64_t avail = mem_available_bytes();
  if (ec || bytes == 0 || avail <= 0) return FileAccess::Map;
  return bytes <= static_cast<uintmax_t>(avail) / 2 ? FileAccess::Ram : FileAccess::Map;
}

std::unique_ptr<KVCache> TextModel::new_cache(const KVOptions& options) const {
  return std::make_unique<PagedKVCache>(config_, options);
}

int64_t TextModel::scratch_bytes() const {
  int64_t n = 0;
  for (const auto* v : {&h_, &out_norm_, &logits_rows_, &scratch_.norm, &scratch_.q, &scratch_.k, &scratch_.v,
                        &scratch_.attn, &scratch_.proj, &scratch_.router, &scratch_.gate, &scratch_.up, &scratch_.act,
                        &scratch_.expert_in, &scratch_.expert_out, &scratch_.ffn_out, &scratch_.choice_score})
    n += static_cast<int64_t>(v->capacity() * sizeof(float));
  n += static_cast<int64_t>((pos_.capacity() + rows_.capacity()) * sizeof(int64_t));
  n += static_cast<int64_t>((ids_.capacity() + scratch_.choice.capacity()) * sizeof(int32_t));
  return n;
}

void TextModel::forward(const int32_t* ids, int64_t T, KVCache& cache, float* logits, bool all_logits,
                        ForwardTrace* trace) {
  forward_batch({BatchItem{ids, T, &cache, logits, all_logits}}, trace);
}

void TextModel::forward_batch(const std::vector<BatchItem>& items, ForwardTrace* trace) {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size, V = c.vocab_size;
  if (items.empty()) fail("forward: no sequences given");
  // Validate everything before touching any cache.
  int64_t T = 0;
  std::vector<SequenceSpan> spans;
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchItem& it = items[i];
    if (it.n <= 0 || !it.ids || !it.cache || !it.logits) fail("forward: sequence ", i, " has no tokens, cache or output");
    for (size_t j = 0; j < i; ++j)
      if (items[j].cache == it.cache) fail("forward: sequences ", j, " and ", i, " share a KV cache");
    const int64_t start = it.cache->n_positions();
    if (c.max_position > 0 && start + it.n > c.max_position)
      fail("context of ", start + it.n, " tokens exceeds the model's max_position_embeddings (", c.max_position, ")");
    for (int64_t t = 0; t < it.n; ++t)
      if (it.ids[t] < 0 || it.ids[t] >= V)
        fail("token id ", it.ids[t], " at index ", t, " is outside the vocabulary [0, ", V, ")");
    spans.push_back({T, it.n, it.cache});
    T += it.n;
  }

  h_.resize(T * D);
  pos_.resize(T);
  for (const SequenceSpan& sp : spans) {
    const int64_t start = sp.cache->n_positions();
    const BatchItem& it = items[&sp - spans.data()];
    for (int64_t t = 0; t < sp.n; ++t) {
      pos_[sp.offset + t] = start + t;
      weights_.embed.row(it.ids[t], h_.data() + (sp.offset + t) * D);
    }
  }
  if (trace && trace->keep_hidden) trace->hidden.assign(1, h_);

  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    attention_block(c, w, l, inv_freq_, h_.data(), pos_.data(), T, spans, scratch_);
    if (trace && trace->keep_hidden) trace->attn_resid.push_back(h_);
    RouterChoice* rc = (trace && w.moe) ? &trace->router[l] : nullptr;
    ffn_block(c, w, l, h_.data(), T, scratch_, rc);
    if (trace && trace->keep_hidden) trace->hidden.push_back(h_);
  }
  if (trace && trace->keep_hidden) {
    std::vector<float> all(T * D);
    rms_norm(h_.data(), weights_.final_norm.data(), all.data(), T, D, static_cast<float>(c.rms_norm_eps));
    trace->hidden.push_back(std::move(all));
  }

  // Final norm and lm_head only for the rows whose logits were asked for.
  rows_.clear();
  for (const SequenceSpan& sp : spans) {
    const BatchItem& it = items[&sp - spans.data()];
    for (int64_t t = it.all_logits ? 0 : sp.n - 1; t < sp.n; ++t) rows_.push_back(sp.offset + t);
  }
  const int64_t R = static_cast<int64_t>(rows_.size());
  out_norm_.resize(R * D);
  for (int64_t r = 0; r < R; ++r)
    rms_norm(h_.data() + rows_[r] * D, weights_.final_norm.data(), out_norm_.data() + r * D, 1, D,
             static_cast<float>(c.rms_norm_eps));
  decode_steps::mark(decode_steps::Step::OutNorm);
  if (items.size() == 1) {  // common case: straight into the caller's buffer
    matmul(out_norm_.data(), R, weights_.lm_head, items[0].logits);
    decode_steps::mark(decode_steps::Step::LmHead);
    return;
  }
  logits_rows_.resize(R * V);
  matmul(out_norm_.data(), R, weights_.lm_head, logits_rows_.data());
  decode_steps::mark(decode_steps::Step::LmHead);
  int64_t r = 0;
  for (const BatchItem& it : items) {
    const int64_t n_rows = it.all_logits ? it.n : 1;
    std::copy(logits_rows_.begin() + r * V, logits_rows_.begin() + (r + n_rows) * V, it.logits);
    r += n_rows;
  }
}

}  // namespace herd
