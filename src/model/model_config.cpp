#include "model/model_config.h"

#include <cmath>

#include "core/error.h"

namespace herd {

std::vector<double> ModelConfig::rope_inv_freq() const {
  std::vector<double> f(head_dim / 2);
  for (int i = 0; i < head_dim / 2; ++i) f[i] = 1.0 / std::pow(rope_theta, 2.0 * i / head_dim);
  if (!rope_freq_divisors.empty()) {
    for (size_t i = 0; i < f.size() && i < rope_freq_divisors.size(); ++i) f[i] /= rope_freq_divisors[i];
    return f;
  }
  if (rope_scaling.type == "llama3") {
    const double old = rope_scaling.original_max_position;
    const double low_wl = old / rope_scaling.low_freq_factor;
    const double high_wl = old / rope_scaling.high_freq_factor;
    for (double& inv : f) {
      double wl = 2.0 * M_PI / inv;
      if (wl < high_wl) continue;
      if (wl > low_wl) {
        inv /= rope_scaling.factor;
      } else {
        double s = (old / wl - rope_scaling.low_freq_factor) /
                   (rope_scaling.high_freq_factor - rope_scaling.low_freq_factor);
        inv = (1 - s) * inv / rope_scaling.factor + s * inv;
      }
    }
  }
  return f;
}

float ModelConfig::attn_temperature(int64_t pos) const {
  double steps = std::floor(static_cast<double>(pos + 1) / floor_scale);
  return static_cast<float>(1.0 + attn_scale * std::log(steps + 1.0));
}

int64_t ModelConfig::params_total() const {
  const int64_t D = hidden_size;
  int64_t attn = D * n_heads * head_dim * 2 + D * n_kv_heads * head_dim * 2;
  int64_t total = vocab_size * D * (tie_word_embeddings ? 1 : 2) + D;
  for (int l = 0; l < n_layers; ++l) {
    total += attn + 2 * D;
    if (moe_layer[l])
      total += D * n_experts + (n_experts + 1) * 3 * D * expert_ffn;
    else
      total += 3 * D * dense_ffn;
  }
  return total;
}

int64_t ModelConfig::params_active() const {
  const int64_t D = hidden_size;
  int64_t attn = D * n_heads * head_dim * 2 + D * n_kv_heads * head_dim * 2;
  int64_t active = vocab_size * D + D;  // lm_head (the embedding row read is negligible)
  for (int l = 0; l < n_layers; ++l) {
    active += attn + 2 * D;
    if (moe_layer[l])
      active += D * n_experts + (top_k + 1) * 3 * D * expert_ffn;
    else
      active += 3 * D * dense_ffn;
  }
  return active;
}

void ModelConfig::validate() const {
  auto need = [](bool ok, const char* what) {
    if (!ok) fail("config: ", what);
  };
  need(vocab_size > 0, "vocab_size must be positive");
  need(hidden_size > 0, "hidden_size must be positive");
  need(n_layers > 0, "num_hidden_layers must be positive");
  need(n_heads > 0 && n_kv_heads > 0, "head counts must be positive");
  need(n_heads % n_kv_heads == 0, "num_attention_heads must be a multiple of num_key_value_heads");
  need(head_dim > 0 && head_dim % 2 == 0, "head_dim must be positive and even");
  need(static_cast<int>(moe_layer.size()) == n_layers, "moe_layers does not fit num_hidden_layers");
  need(static_cast<int>(rope_layer.size()) == n_layers, "no_rope_layers must have one entry per layer");
  bool any_moe = false, any_dense = false;
  for (bool m : moe_layer) (m ? any_moe : any_dense) = true;
  if (any_moe) {
    need(n_experts > 0 && expert_ffn > 0, "MoE layers need num_local_experts and intermediate_size");
    need(top_k >= 1 && top_k <= n_experts, "num_experts_per_tok must be in [1, num_local_experts]");
  }
  if (any_dense) need(dense_ffn > 0, "dense layers need a positive FFN width");
  need(rope_theta > 0, "rope_theta must be positive");
  need(rope_freq_divisors.empty() || static_cast<int>(rope_freq_divisors.size()) == head_dim / 2,
       "rope_freqs must have head_dim/2 entries");
  for (double d : rope_freq_divisors) need(d > 0, "rope_freqs divisors must be positive");
  need(rms_norm_eps > 0, "rms_norm_eps must be positive");
  need(chunk_size >= 0, "attention_chunk_size must not be negative");
  if (rope_scaling.type == "llama3")
    need(rope_scaling.factor > 0 && rope_scaling.high_freq_factor > rope_scaling.low_freq_factor - 1e-12 &&
             rope_scaling.low_freq_factor > 0 && rope_scaling.original_max_position > 0,
         "llama3 rope_scaling needs factor > 0, 0 < low_freq_factor <= high_freq_factor");
  if (attn_temperature_tuning) need(floor_scale > 0, "floor_scale must be positive");
}

}  // namespace herd
