#include "formats/gguf_model_loader.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "core/error.h"

namespace herd {

namespace {

int as_int(const GGUFFile& f, const std::string& key, uint64_t v) {
  if (v > (1u << 30)) fail(f.path(), ": metadata key '", key, "' value ", v, " is out of range");
  return static_cast<int>(v);
}

}  // namespace

bool is_gguf_path(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) return false;
  char m[4] = {0, 0, 0, 0};
  size_t n = std::fread(m, 1, 4, fp);
  std::fclose(fp);
  return n == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
}

ModelConfig gguf_model_config(const GGUFFile& f) {
  ModelConfig c;
  const std::string arch = f.get_string("general.architecture");
  if (arch != "llama4" && arch != "llama")
    fail(f.path(), ": general.architecture is '", arch, "'; herd reads 'llama4' and 'llama'");
  const bool l4 = arch == "llama4";
  const std::string a = arch + ".";
  c.architecture = l4 ? "Llama4ForCausalLM" : "LlamaForCausalLM";
  c.hidden_size = as_int(f, a + "embedding_length", f.get_uint(a + "embedding_length"));
  c.n_layers = as_int(f, a + "block_count", f.get_uint(a + "block_count"));
  c.n_heads = as_int(f, a + "attention.head_count", f.get_uint(a + "attention.head_count"));
  c.n_kv_heads = as_int(f, a + "attention.head_count_kv", f.get_uint(a + "attention.head_count_kv", c.n_heads));
  const uint64_t hd_default = c.n_heads > 0 ? static_cast<uint64_t>(c.hidden_size / c.n_heads) : 0;
  c.head_dim = as_int(f, a + "attention.key_length", f.get_uint(a + "attention.key_length", hd_default));
  const uint64_t vlen = f.get_uint(a + "attention.value_length", static_cast<uint64_t>(c.head_dim));
  if (vlen != static_cast<uint64_t>(c.head_dim))
    fail(f.path(), ": attention.key_length ", c.head_dim, " and value_length ", vlen, " differ; herd needs them equal");
  const uint64_t rope_dims = f.get_uint(a + "rope.dimension_count", static_cast<uint64_t>(c.head_dim));
  if (rope_dims != static_cast<uint64_t>(c.head_dim))
    fail(f.path(), ": rope.dimension_count ", rope_dims, " differs from the head size ", c.head_dim, " (partial RoPE is not supported)");
  c.rope_theta = f.get_float(a + "rope.freq_base", l4 ? 500000.0 : 10000.0);
  c.rms_norm_eps = f.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5);
  c.max_position = static_cast<int64_t>(f.get_uint(a + "context_length", 0));
  c.rope_style = RopeStyle::Interleaved;  // llama.cpp's "normal" rope (GGUF q/k are stored for it)

  if (f.has(a + "vocab_size")) c.vocab_size = static_cast<int64_t>(f.get_uint(a + "vocab_size"));
  else if (f.has("tokenizer.ggml.tokens")) c.vocab_size = static_cast<int64_t>(f.get_string_array("tokenizer.ggml.tokens").size());
  else if (const GGUFTensor* t = f.tensor("token_embd.weight"); t && t->ne.size() == 2) c.vocab_size = t->ne[1];

  c.moe_layer.assign(c.n_layers, false);
  c.rope_layer.assign(c.n_layers, true);
  if (l4) {
    c.n_experts = as_int(f, a + "expert_count", f.get_uint(a + "expert_count"));
    c.top_k = as_int(f, a + "expert_used_count", f.get_uint(a + "expert_used_count", 1));
    c.expert_ffn = static_cast<int64_t>(f.get_uint(a + "expert_feed_forward_length"));
    c.dense_ffn = static_cast<int64_t>(f.get_uint(a + "feed_forward_length"));
    const uint64_t step = f.get_uint(a + "interleave_moe_layer_step", 1);
    if (step == 0) fail(f.path(), ": ", a, "interleave_moe_layer_step is 0");
    for (int l = 0; l < c.n_layers; ++l) c.moe_layer[l] = c.n_experts > 0 && (l + 1) % step == 0;
    // llama.cpp's hard-coded Llama 4 rules. An explicit sliding_window of 0 means full attention
    // with RoPE on every layer; a non-zero one sets the chunk size.
    const uint64_t window = f.get_uint(a + "attention.sliding_window", 8192);
    c.chunk_size = static_cast<int64_t>(window);
    for (int l = 0; l < c.n_layers; ++l) c.rope_layer[l] = window == 0 || (l + 1) % 4 != 0;
    c.use_qk_norm = c.n_experts != 128;
    c.attn_temperature_tuning = window != 0;
    c.floor_scale = 8192;
    c.attn_scale = 0.1;
  } else {
    if (f.get_uint(a + "expert_count", 0) > 0) fail(f.path(), ": 'llama' files with experts (Mixtral) are not supported");
    c.dense_ffn = static_cast<int64_t>(f.get_uint(a + "feed_forward_length"));
  }

  std::vector<int64_t> eos;
  for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (f.has(k)) {
      int64_t id = static_cast<int64_t>(f.get_uint(k));
      if (std::find(eos.begin(), eos.end(), id) == eos.end()) eos.push_back(id);
    }
  c.eos_ids = eos;
  if (f.has("tokenizer.ggml.bos_token_id")) c.bos_id = static_cast<int64_t>(f.get_uint("tokenizer.ggml.bos_token_id"));
  if (f.has("tokenizer.ggml.padding_token_id")) c.pad_id = static_cast<int64_t>(f.get_uint("tokenizer.ggml.padding_token_id"));
  c.tie_word_embeddings = !f.tensor("output.weight");

  if (const GGUFTensor* rf = f.tensor("rope_freqs.weight")) {
    if (rf->type != DType::F32 || rf->ne.size() != 1 || rf->ne[0] != c.head_dim / 2)
      fail(f.path(), ": rope_freqs.weight must be F32 {", c.head_dim / 2, "}, found ", dtype_name(rf->type), " ", rf->shape_str());
    std::vector<float> v(rf->ne[0]);
    to_f32(DType::F32, rf->data, v.data(), v.size());
    c.rope_freq_divisors.assign(v.begin(), v.end());
  }
  try {
    c.validate();
  } catch (const Error& e) {
    fail(f.path(), ": ", e.what());
  }
  return c;
}

namespace {

class Binder {
 public:
  explicit Binder(const GGUFFile& f) : f_(f) {}

  const GGUFTensor& tensor(const std::string& name, std::vector<int64_t> ne) {
    const GGUFTensor* t = f_.tensor(name);
    if (!t) fail(f_.path(), ": tensor '", name, "' is missing");
    if (t->ne != ne) {
      GGUFTensor want;
      want.ne = ne;
      fail(f_.path(), ": tensor '", name, "' has shape ", t->shape_str(), ", expected ", want.shape_str());
    }
    used_.insert(name);
    return *t;
  }
  // ggml {in, out}: one stored row per output.
  WeightMatrix linear(const std::string& name, int64_t out, int64_t in) {
    const GGUFTensor& t = tensor(name, {in, out});
    return WeightMatrix{t.type, t.data, out, in, in, false};
  }
  // ggml {in, out, E}: expert e's [out, in] slab.
  std::vector<WeightMatrix> experts(const std::string& name, int64_t E, int64_t out, int64_t in) {
    const GGUFTensor& t = tensor(name, {in, out, E});
    std::vector<WeightMatrix> v;
    const size_t slab = dtype_row_bytes(t.type, in) * out;
    for (int64_t e = 0; e < E; ++e) v.push_back(WeightMatrix{t.type, t.data + e * slab, out, in, in, false});
    return v;
  }
  std::vector<float> vec(const std::string& name, int64_t n) {
    const GGUFTensor& t = tensor(name, {n});
    if (dtype_is_quantized(t.type)) fail(f_.path(), ": norm tensor '", name, "' is ", dtype_name(t.type), "; expected F32/F16/BF16");
    std::vector<float> v(n);
    to_f32(t.type, t.data, v.data(), n);
    return v;
  }
  bool has(const std::string& name) const { return f_.tensor(name) != nullptr; }
  void mark(const std::string& name) { used_.insert(name); }
  void check_all_used() const {
    for (const GGUFTensor& t : f_.tensors())
      if (!used_.count(t.name)) fail(f_.path(), ": unexpected tensor '", t.name, "' (not part of a model with this metadata)");
  }

 private:
  const GGUFFile& f_;
  std::set<std::string> used_;
};

}  // namespace

LoadedWeights load_gguf_model(const std::string& path, FileAccess access) {
  auto file = std::make_shared<GGUFFile>(path, access);
  const GGUFFile& f = *file;
  LoadedWeights out;
  ModelConfig& c = out.config;
  c = gguf_model_config(f);
  ModelWeights& w = out.weights;
  Binder b(f);
  const int64_t D = c.hidden_size, V = c.vocab_size, hd = c.head_dim;
  const int64_t qd = c.n_heads * hd, kvd = c.n_kv_heads * hd;
  if (f.tensors().empty()) fail(path, ": file has no tensors (a vocabulary-only GGUF?)");

  w.embed = b.linear("token_embd.weight", V, D);
  w.lm_head = c.tie_word_embeddings ? w.embed : b.linear("output.weight", V, D);
  w.final_norm = b.vec("output_norm.weight", D);
  if (b.has("rope_freqs.weight")) b.mark("rope_freqs.weight");

  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights L;
    L.attn_norm = b.vec(p + "attn_norm.weight", D);
    L.ffn_norm = b.vec(p + "ffn_norm.weight", D);
    L.q = b.linear(p + "attn_q.weight", qd, D);
    L.k = b.linear(p + "attn_k.weight", kvd, D);
    L.v = b.linear(p + "attn_v.weight", kvd, D);
    L.o = b.linear(p + "attn_output.weight", D, qd);
    L.moe = c.is_moe(l);
    if (L.moe) {
      const int64_t E = c.n_experts, F = c.expert_ffn;
      L.router = b.linear(p + "ffn_gate_inp.weight", E, D);
      auto gate = b.experts(p + "ffn_gate_exps.weight", E, F, D);
      auto up = b.experts(p + "ffn_up_exps.weight", E, F, D);
      auto down = b.experts(p + "ffn_down_exps.weight", E, D, F);
      L.experts.resize(E);
      for (int64_t e = 0; e < E; ++e) L.experts[e] = FfnWeights{gate[e], up[e], down[e]};
      L.shared.gate = b.linear(p + "ffn_gate_shexp.weight", F, D);
      L.shared.up = b.linear(p + "ffn_up_shexp.weight", F, D);
      L.shared.down = b.linear(p + "ffn_down_shexp.weight", D, F);
    } else {
      const int64_t F = c.dense_ffn;
      L.shared.gate = b.linear(p + "ffn_gate.weight", F, D);
      L.shared.up = b.linear(p + "ffn_up.weight", F, D);
      L.shared.down = b.linear(p + "ffn_down.weight", D, F);
    }
    w.layers.push_back(std::move(L));
  }
  b.check_all_used();
  w.storage = file;
  return out;
}

}  // namespace herd
