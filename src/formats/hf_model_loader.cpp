#include "formats/hf_model_loader.h"

#include "core/error.h"
#include "formats/checkpoint.h"
#include "formats/hf_config.h"

namespace herd {

namespace {

class Binder {
 public:
  Binder(Checkpoint& ck, std::string prefix) : ck_(ck), prefix_(std::move(prefix)) {}

  const TensorInfo& tensor(const std::string& name, std::vector<int64_t> shape) {
    const TensorInfo& t = ck_.get(prefix_ + name);
    if (!t.supported)
      fail(t.file, ": tensor '", t.name, "' has dtype ", t.dtype_name, "; herd reads F32, F16 and BF16");
    if (t.shape != shape) {
      TensorInfo want;
      want.shape = shape;
      fail(t.file, ": tensor '", t.name, "' has shape ", t.shape_str(), ", expected ", want.shape_str());
    }
    return t;
  }

  // nn.Linear weight [out, in].
  WeightMatrix linear(const std::string& name, int64_t out, int64_t in) {
    const TensorInfo& t = tensor(name, {out, in});
    return WeightMatrix{t.dtype, t.data, out, in, in, false};
  }

  std::vector<float> vec(const std::string& name, int64_t n) {
    const TensorInfo& t = tensor(name, {n});
    std::vector<float> v(n);
    to_f32(t.dtype, t.data, v.data(), n);
    return v;
  }

  bool has(const std::string& name) const { return ck_.has(prefix_ + name); }

 private:
  Checkpoint& ck_;
  std::string prefix_;
};

}  // namespace

LoadedWeights load_hf_model(const std::string& dir, FileAccess access) {
  LoadedWeights out;
  ModelConfig& c = out.config;
  c = load_hf_config(dir);
  auto ck = std::make_shared<Checkpoint>(dir, access);
  Binder b(*ck, c.tensor_prefix);
  ModelWeights& w = out.weights;
  const int64_t D = c.hidden_size, V = c.vocab_size, hd = c.head_dim;
  const int64_t qd = c.n_heads * hd, kvd = c.n_kv_heads * hd;
  const bool llama4 = c.architecture != "LlamaForCausalLM";

  w.embed = b.linear("model.embed_tokens.weight", V, D);
  if (b.has("lm_head.weight") || !c.tie_word_embeddings) w.lm_head = b.linear("lm_head.weight", V, D);
  else w.lm_head = w.embed;
  w.final_norm = b.vec("model.norm.weight", D);

  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.attn_norm = b.vec(p + "input_layernorm.weight", D);
    L.ffn_norm = b.vec(p + "post_attention_layernorm.weight", D);
    L.q = b.linear(p + "self_attn.q_proj.weight", qd, D);
    L.k = b.linear(p + "self_attn.k_proj.weight", kvd, D);
    L.v = b.linear(p + "self_attn.v_proj.weight", kvd, D);
    L.o = b.linear(p + "self_attn.o_proj.weight", D, qd);
    L.moe = c.is_moe(l);
    const std::string ff = p + (llama4 ? "feed_forward." : "mlp.");
    if (L.moe) {
      const int64_t E = c.n_experts, F = c.expert_ffn;
      L.router = b.linear(ff + "router.weight", E, D);
      L.experts.resize(E);
      if (b.has(ff + "experts.gate_up_proj")) {
        // Fused layout: gate_up [E, D, 2F] and down [E, F, D], both used as x @ W (in-major).
        const TensorInfo& gu = b.tensor(ff + "experts.gate_up_proj", {E, D, 2 * F});
        const TensorInfo& dn = b.tensor(ff + "experts.down_proj", {E, F, D});
        if (gu.dtype != dn.dtype) fail(dir, ": experts.gate_up_proj and experts.down_proj differ in dtype");
        const size_t es = dtype_size(gu.dtype);
        for (int64_t e = 0; e < E; ++e) {
          const uint8_t* g = gu.data + e * D * 2 * F * es;
          L.experts[e].gate = WeightMatrix{gu.dtype, g, F, D, 2 * F, true};
          L.experts[e].up = WeightMatrix{gu.dtype, g + F * es, F, D, 2 * F, true};
          L.experts[e].down = WeightMatrix{dn.dtype, dn.data + e * F * D * es, D, F, D, true};
        }
      } else {
        // Per-expert nn.Linear layout (OFFLINE_QUANT_COMPATIBLE conversions).
        for (int64_t e = 0; e < E; ++e) {
          const std::string ep = ff + "experts." + std::to_string(e) + ".";
          L.experts[e].gate = b.linear(ep + "gate_proj.weight", F, D);
          L.experts[e].up = b.linear(ep + "up_proj.weight", F, D);
          L.experts[e].down = b.linear(ep + "down_proj.weight", D, F);
        }
      }
      L.shared.gate = b.linear(ff + "shared_expert.gate_proj.weight", F, D);
      L.shared.up = b.linear(ff + "shared_expert.up_proj.weight", F, D);
      L.shared.down = b.linear(ff + "shared_expert.down_proj.weight", D, F);
    } else {
      const int64_t F = c.dense_ffn;
      L.shared.gate = b.linear(ff + "gate_proj.weight", F, D);
      L.shared.up = b.linear(ff + "up_proj.weight", F, D);
      L.shared.down = b.linear(ff + "down_proj.weight", D, F);
    }
    w.layers.push_back(std::move(L));
  }

  // Anything left over means the checkpoint and config disagree (or an unknown variant).
  std::vector<std::string> ignore = {"vision_model.", "multi_modal_projector."};
  auto extra = ck->unused(ignore);
  std::vector<std::string> real_extra;
  for (auto& n : extra)
    if (n.find("rotary_emb.inv_freq") == std::string::npos) real_extra.push_back(n);
  if (!real_extra.empty())
    fail(dir, ": unexpected tensor '", real_extra[0], "'", real_extra.size() > 1 ? cat(" (and ", real_extra.size() - 1, " more)") : "",
         " not used by a ", c.architecture, " with this config.json");
  w.storage = ck;
  return out;
}

}  // namespace herd
