#include "model/presets.h"

#include "core/error.h"

namespace herd {

namespace {

// Llama 4 layout shared by every preset: NoPE every 4th layer, chunked RoPE layers, QK norm,
// temperature tuning with the real constants, the real vocabulary and special-token ids.
ModelConfig llama4_base() {
  ModelConfig c;
  c.architecture = "Llama4ForCausalLM";
  c.vocab_size = 202048;
  c.rope_theta = 500000.0;
  c.rope_scaling = {"llama3", 16.0, 1.0, 1.0, 8192};
  c.rope_style = RopeStyle::Interleaved;
  c.chunk_size = 8192;
  c.attn_temperature_tuning = true;
  c.floor_scale = 8192;
  c.attn_scale = 0.1;
  c.rms_norm_eps = 1e-5;
  c.use_qk_norm = true;
  c.top_k = 1;
  c.bos_id = 200000;
  c.pad_id = 200018;
  c.eos_ids = {200001, 200007, 200008};
  c.torch_dtype = "bfloat16";
  return c;
}

void set_schedule(ModelConfig& c, int moe_step) {
  c.moe_layer.assign(c.n_layers, false);
  c.rope_layer.assign(c.n_layers, true);
  for (int l = 0; l < c.n_layers; ++l) {
    c.moe_layer[l] = (l + 1) % moe_step == 0;
    c.rope_layer[l] = (l + 1) % 4 != 0;
  }
}

}  // namespace

std::vector<std::string> preset_names() { return {"tiny", "mini-scout", "long-scout", "scout", "maverick"}; }

ModelConfig preset_config(const std::string& name) {
  ModelConfig c = llama4_base();
  if (name == "tiny") {
    // Small enough to ship in the repository with the real vocabulary (tied embeddings).
    c.hidden_size = 32;
    c.n_layers = 4;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.n_experts = 4;
    c.expert_ffn = 64;
    c.dense_ffn = 128;
    c.tie_word_embeddings = true;
    c.max_position = 1048576;
    set_schedule(c, 1);
  } else if (name == "mini-scout") {
    c.hidden_size = 1024;
    c.n_layers = 8;
    c.n_heads = 8;
    c.n_kv_heads = 2;
    c.head_dim = 128;
    c.n_experts = 16;
    c.expert_ffn = 2048;
    c.dense_ffn = 4096;
    c.max_position = 10485760;
    set_schedule(c, 1);
  } else if (name == "long-scout") {
    // Scout's attention shapes (40 query heads, 8 KV heads, head_dim 128, 3 chunked : 1 global)
    // around a small body: long-context benchmarks where the KV cache, not the weights, dominates.
    c.hidden_size = 512;
    c.n_layers = 8;
    c.n_heads = 40;
    c.n_kv_heads = 8;
    c.head_dim = 128;
    c.n_experts = 4;
    c.expert_ffn = 512;
    c.dense_ffn = 1024;
    c.tie_word_embeddings = true;
    c.max_position = 10485760;
    set_schedule(c, 1);
  } else if (name == "scout" || name == "maverick") {
    c.hidden_size = 5120;
    c.n_layers = 48;
    c.n_heads = 40;
    c.n_kv_heads = 8;
    c.head_dim = 128;
    c.expert_ffn = 8192;
    c.dense_ffn = 16384;
    if (name == "scout") {
      c.n_experts = 16;
      c.max_position = 10485760;
      set_schedule(c, 1);
    } else {
      c.n_experts = 128;
      c.use_qk_norm = false;
      c.rope_scaling = {};
      c.max_position = 1048576;
      set_schedule(c, 2);
    }
  } else {
    fail("unknown preset '", name, "' (known: tiny, mini-scout, long-scout, scout, maverick)");
  }
  c.validate();
  return c;
}

}  // namespace herd
