#pragma once
// The text model's hyper-parameters, independent of the file format they came from, plus the
// per-layer schedule (RoPE/NoPE, chunked/global, MoE/dense) derived from them.
#include <cstdint>
#include <string>
#include <vector>

namespace herd {

enum class RopeStyle { Interleaved, RotateHalf };  // Llama 4 rotates adjacent pairs; Llama 3 HF halves

struct RopeScaling {
  std::string type;  // "" (none) or "llama3"
  double factor = 1.0, low_freq_factor = 1.0, high_freq_factor = 1.0;
  double original_max_position = 8192;
};

struct ModelConfig {
  std::string architecture;  // "Llama4ForConditionalGeneration", "Llama4ForCausalLM", "LlamaForCausalLM"
  std::string tensor_prefix;  // "language_model." for the multimodal wrapper, else ""
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t expert_ffn = 0;  // intermediate_size: each routed expert and the shared expert
  int64_t dense_ffn = 0;   // intermediate_size_mlp (Llama 4) or intermediate_size (dense Llama)
  int n_experts = 0;
  int top_k = 1;
  bool use_qk_norm = false;
  double rope_theta = 500000.0;
  RopeScaling rope_scaling;
  // GGUF `rope_freqs.weight`: per-pair frequency divisors (head_dim/2). When non-empty they
  // replace rope_scaling: inv_freq[i] = theta^(-2i/head_dim) / rope_freq_divisors[i].
  std::vector<double> rope_freq_divisors;
  RopeStyle rope_style = RopeStyle::Interleaved;
  int64_t chunk_size = 0;  // attention_chunk_size; 0: no chunked layers
  bool attn_temperature_tuning = false;
  double floor_scale = 8192, attn_scale = 0.1;
  double rms_norm_eps = 1e-5;
  bool tie_word_embeddings = false;
  int64_t max_position = 0;
  int64_t bos_id = -1, pad_id = -1;
  std::vector<int64_t> eos_ids;
  std::string torch_dtype;

  std::vector<bool> moe_layer;   // per layer: MoE (true) or dense SwiGLU
  std::vector<bool> rope_layer;  // per layer: uses RoPE (true) or NoPE

  bool is_moe(int l) const { return moe_layer[l]; }
  bool uses_rope(int l) const { return rope_layer[l]; }
  bool is_chunked(int l) const { return chunk_size > 0 && rope_layer[l]; }
  bool qk_norm(int l) const { return use_qk_norm && rope_layer[l]; }
  bool temperature_tuned(int l) const { return attn_temperature_tuning && !rope_layer[l]; }

  // Per-pair inverse frequencies after rope scaling (head_dim/2 values), in double.
  std::vector<double> rope_inv_freq() const;
  // Query scale on NoPE layers at absolute position pos (1 + attn_scale*ln(floor((pos+1)/F)+1)).
  float attn_temperature(int64_t pos) const;

  int64_t params_total() const;
  int64_t params_active() const;  // per token: attention, shared + top_k experts or dense FFN, lm_head
  void validate() const;          // throws on inconsistent values
};

}  // namespace herd
