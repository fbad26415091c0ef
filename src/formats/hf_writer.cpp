#include "formats/hf_writer.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/dtype.h"
#include "core/error.h"
#include "core/file_io.h"
#include "runtime/sampler.h"

namespace herd {

nlohmann::ordered_json hf_config_json(const ModelConfig& c) {
  nlohmann::ordered_json j;
  const bool llama4 = c.architecture != "LlamaForCausalLM";
  j["architectures"] = {llama4 ? "Llama4ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = llama4 ? "llama4_text" : "llama";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type.empty()) {
    j["rope_scaling"] = nullptr;
  } else {
    j["rope_scaling"] = {{"rope_type", c.rope_scaling.type},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position}};
  }
  j["max_position_embeddings"] = c.max_position;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_bias"] = false;
  if (llama4) {
    j["intermediate_size"] = c.expert_ffn;
    j["intermediate_size_mlp"] = c.dense_ffn;
    j["num_local_experts"] = c.n_experts;
    j["num_experts_per_tok"] = c.top_k;
    std::vector<int> moe, rope;
    for (int l = 0; l < c.n_layers; ++l) {
      if (c.is_moe(l)) moe.push_back(l);
      rope.push_back(c.uses_rope(l) ? 1 : 0);
    }
    j["moe_layers"] = moe;
    j["no_rope_layers"] = rope;
    j["use_qk_norm"] = c.use_qk_norm;
    j["attention_chunk_size"] = c.chunk_size;
    j["attn_temperature_tuning"] = c.attn_temperature_tuning;
    j["floor_scale"] = c.floor_scale;
    j["attn_scale"] = c.attn_scale;
  } else {
    j["intermediate_size"] = c.dense_ffn;
  }
  if (c.bos_id >= 0) j["bos_token_id"] = c.bos_id;
  if (c.pad_id >= 0) j["pad_token_id"] = c.pad_id;
  if (!c.eos_ids.empty()) j["eos_token_id"] = c.eos_ids;
  j["torch_dtype"] = c.torch_dtype.empty() ? "float32" : c.torch_dtype;
  return j;
}

void write_hf_config(const std::string& dir, const ModelConfig& c) {
  write_file_atomic(dir + "/config.json", hf_config_json(c).dump(2) + "\n");
}

std::vector<TensorToWrite> random_hf_tensors(const ModelConfig& c, uint64_t seed, const std::string& dtype, float std) {
  if (dtype != "F32" && dtype != "BF16") fail("random weights: dtype must be F32 or BF16, got ", dtype);
  Rng rng(seed);
  auto normal = [&] {  // Box-Muller on the portable generator: same numbers on every platform
    double u1 = rng.uniform(), u2 = rng.uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2 * M_PI * u2));
  };
  std::vector<TensorToWrite> out;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool ones) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    TensorToWrite t{name, dtype, shape, {}};
    t.bytes.resize(n * (dtype == "F32" ? 4 : 2));
    for (int64_t i = 0; i < n; ++i) {
      float v = ones ? 1.0f : normal() * std;
      if (dtype == "F32") {
        std::memcpy(&t.bytes[i * 4], &v, 4);
      } else {
        uint16_t h = f32_to_bf16(v);
        std::memcpy(&t.bytes[i * 2], &h, 2);
      }
    }
    out.push_back(std::move(t));
  };
  const int64_t D = c.hidden_size, hd = c.head_dim;
  const bool llama4 = c.architecture != "LlamaForCausalLM";
  add("model.embed_tokens.weight", {c.vocab_size, D}, false);
  for (int l = 0; l < c.n_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {D}, true);
    add(p + "post_attention_layernorm.weight", {D}, true);
    add(p + "self_attn.q_proj.weight", {c.n_heads * hd, D}, false);
    add(p + "self_attn.k_proj.weight", {c.n_kv_heads * hd, D}, false);
    add(p + "self_attn.v_proj.weight", {c.n_kv_heads * hd, D}, false);
    add(p + "self_attn.o_proj.weight", {D, c.n_heads * hd}, false);
    std::string ff = p + (llama4 ? "feed_forward." : "mlp.");
    if (c.is_moe(l)) {
      const int64_t E = c.n_experts, F = c.expert_ffn;
      add(ff + "router.weight", {E, D}, false);
      add(ff + "experts.gate_up_proj", {E, D, 2 * F}, false);
      add(ff + "experts.down_proj", {E, F, D}, false);
      add(ff + "shared_expert.gate_proj.weight", {F, D}, false);
      add(ff + "shared_expert.up_proj.weight", {F, D}, false);
      add(ff + "shared_expert.down_proj.weight", {D, F}, false);
    } else {
      const int64_t F = c.dense_ffn;
      add(ff + "gate_proj.weight", {F, D}, false);
      add(ff + "up_proj.weight", {F, D}, false);
      add(ff + "down_proj.weight", {D, F}, false);
    }
  }
  add("model.norm.weight", {D}, true);
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, D}, false);
  return out;
}

}  // namespace herd
