#include "formats/hf_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace herd {

namespace {

nlohmann::json read_json_file(const fs::path& p) {
  std::ifstream f(p);
  if (!f) fail(p.string(), ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    fail(p.string(), ": malformed JSON: ", e.what());
  }
}

// Typed field access that names the field and file on a type mismatch.
struct Fields {
  const nlohmann::json& j;
  const std::string& where;

  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }

  int64_t integer(const char* k, int64_t def, bool required = false) const {
    if (!has(k)) {
      if (required) fail(where, ": missing required field \"", k, "\"");
      return def;
    }
    const auto& v = j[k];
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
      return static_cast<int64_t>(v.get<double>());
    fail(where, ": field \"", k, "\" must be an integer, got ", v.dump());
  }
  double number(const char* k, double def) const {
    if (!has(k)) return def;
    if (!j[k].is_number()) fail(where, ": field \"", k, "\" must be a number, got ", j[k].dump());
    return j[k].get<double>();
  }
  // Accepts true/false and integers (early Llama 4 configs wrote attn_temperature_tuning: 4).
  bool boolean(const char* k, bool def) const {
    if (!has(k)) return def;
    const auto& v = j[k];
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_integer()) return v.get<int64_t>() != 0;
    fail(where, ": field \"", k, "\" must be a boolean, got ", v.dump());
  }
  std::string string(const char* k, const std::string& def) const {
    if (!has(k)) return def;
    if (!j[k].is_string()) fail(where, ": field \"", k, "\" must be a string, got ", j[k].dump());
    return j[k].get<std::string>();
  }
  std::vector<int64_t> int_list(const char* k) const {
    std::vector<int64_t> out;
    if (!has(k)) return out;
    const auto& v = j[k];
    if (v.is_number_integer()) return {v.get<int64_t>()};
    if (!v.is_array()) fail(where, ": field \"", k, "\" must be a list of integers, got ", v.dump());
    for (auto& e : v) {
      if (!e.is_number_integer()) fail(where, ": field \"", k, "\" must hold integers, got ", e.dump());
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
};

}  // namespace

ModelConfig parse_hf_config(const nlohmann::json& root, const std::string& where) {
  if (!root.is_object()) fail(where, ": top level is not a JSON object");
  ModelConfig c;
  std::string arch;
  if (root.contains("architectures") && root["architectures"].is_array() && !root["architectures"].empty() &&
      root["architectures"][0].is_string())
    arch = root["architectures"][0].get<std::string>();
  std::string model_type = root.contains("model_type") && root["model_type"].is_string()
                               ? root["model_type"].get<std::string>() : "";
  if (arch.empty()) {
    if (model_type == "llama4") arch = "Llama4ForConditionalGeneration";
    else if (model_type == "llama4_text") arch = "Llama4ForCausalLM";
    else if (model_type == "llama") arch = "LlamaForCausalLM";
  }
  const bool wrapper = arch == "Llama4ForConditionalGeneration";
  const bool llama4 = wrapper || arch == "Llama4ForCausalLM";
  const bool dense_llama = arch == "LlamaForCausalLM";
  if (!llama4 && !dense_llama)
    fail(where, ": unsupported architecture '", arch.empty() ? model_type : arch,
         "' (herd runs Llama4ForConditionalGeneration, Llama4ForCausalLM and LlamaForCausalLM)");
  c.architecture = arch;

  const nlohmann::json* tj = &root;
  if (wrapper) {
    if (!root.contains("text_config") || !root["text_config"].is_object())
      fail(where, ": Llama4ForConditionalGeneration config has no \"text_config\" object");
    tj = &root["text_config"];
    c.tensor_prefix = "language_model.";
  }
  Fields f{*tj, where};
  Fields top{root, where};

  c.vocab_size = f.integer("vocab_size", 0, true);
  c.hidden_size = f.integer("hidden_size", 0, true);
  c.n_layers = static_cast<int>(f.integer("num_hidden_layers", 0, true));
  c.n_heads = static_cast<int>(f.integer("num_attention_heads", 0, true));
  c.n_kv_heads = static_cast<int>(f.integer("num_key_value_heads", c.n_heads));
  if (c.n_heads <= 0) fail(where, ": num_attention_heads must be positive");
  c.head_dim = static_cast<int>(f.integer("head_dim", c.hidden_size / c.n_heads));
  c.rope_theta = f.number("rope_theta", llama4 ? 500000.0 : 10000.0);
  c.rms_norm_eps = f.number("rms_norm_eps", 1e-5);
  c.max_position = f.integer("max_position_embeddings", 0);
  c.torch_dtype = f.string("torch_dtype", top.string("torch_dtype", ""));
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", top.boolean("tie_word_embeddings", false));
  if (f.has("attention_bias") && f.boolean("attention_bias", false))
    fail(where, ": attention_bias = true is not supported (Llama 4 has no biases)");
  std::string act = f.string("hidden_act", "silu");
  if (act != "silu") fail(where, ": hidden_act '", act, "' is not supported (only silu)");

  if (f.has("rope_scaling")) {
    const auto& rs = (*tj)["rope_scaling"];
    if (!rs.is_object()) fail(where, ": rope_scaling must be an object or null");
    Fields r{rs, where};
    std::string type = r.string("rope_type", r.string("type", ""));
    if (type == "llama3") {
      c.rope_scaling.type = "llama3";
      c.rope_scaling.factor = r.number("factor", 8.0);
      c.rope_scaling.low_freq_factor = r.number("low_freq_factor", 1.0);
      c.rope_scaling.high_freq_factor = r.number("high_freq_factor", 4.0);
      c.rope_scaling.original_max_position = r.number("original_max_position_embeddings", 8192);
    } else if (type != "default" && !type.empty()) {
      fail(where, ": rope_scaling type '", type, "' is not supported (only llama3)");
    }
  }

  const int L = c.n_layers;
  if (llama4) {
    c.rope_style = RopeStyle::Interleaved;
    c.expert_ffn = f.integer("intermediate_size", 0, true);
    c.dense_ffn = f.integer("intermediate_size_mlp", 0);
    c.n_experts = static_cast<int>(f.integer("num_local_experts", 0, true));
    c.top_k = static_cast<int>(f.integer("num_experts_per_tok", 1));
    c.use_qk_norm = f.boolean("use_qk_norm", true);
    c.chunk_size = f.integer("attention_chunk_size", 0);
    c.attn_temperature_tuning = f.boolean("attn_temperature_tuning", true);
    c.floor_scale = f.number("floor_scale", 8192);
    c.attn_scale = f.number("attn_scale", 0.1);
    // moe_layers: explicit list, else every interleave_moe_layer_step-th layer.
    c.moe_layer.assign(L, false);
    auto moe = f.int_list("moe_layers");
    if (f.has("moe_layers")) {
      for (int64_t i : moe) {
        if (i < 0 || i >= L) fail(where, ": moe_layers entry ", i, " is outside 0..", L - 1);
        c.moe_layer[i] = true;
      }
    } else {
      int64_t step = f.integer("interleave_moe_layer_step", 1);
      if (step < 1) fail(where, ": interleave_moe_layer_step must be >= 1");
      for (int64_t i = step - 1; i < L; i += step) c.moe_layer[i] = true;
    }
    // no_rope_layers: 1 = uses RoPE. Missing or empty: every no_rope_layer_interval-th is NoPE.
    auto nr = f.int_list("no_rope_layers");
    if (!nr.empty()) {
      if (static_cast<int>(nr.size()) != L)
        fail(where, ": no_rope_layers has ", nr.size(), " entries for ", L, " layers");
      for (int i = 0; i < L; ++i) c.rope_layer.push_back(nr[i] != 0);
    } else {
      int64_t interval = f.integer("no_rope_layer_interval", 4);
      if (interval < 1) fail(where, ": no_rope_layer_interval must be >= 1");
      for (int i = 0; i < L; ++i) c.rope_layer.push_back((i + 1) % interval != 0);
    }
  } else {
    c.rope_style = RopeStyle::RotateHalf;
    c.dense_ffn = f.integer("intermediate_size", 0, true);
    c.moe_layer.assign(L, false);
    c.rope_layer.assign(L, true);
    c.use_qk_norm = false;
    c.attn_temperature_tuning = false;
  }

  auto pick_ids = [&](const char* k, std::vector<int64_t>& out) {
    if (f.has(k)) out = f.int_list(k);
    else if (top.has(k)) out = top.int_list(k);
  };
  std::vector<int64_t> v;
  pick_ids("bos_token_id", v);
  if (!v.empty()) c.bos_id = v[0];
  v.clear();
  pick_ids("pad_token_id", v);
  if (!v.empty()) c.pad_id = v[0];
  pick_ids("eos_token_id", c.eos_ids);

  c.validate();
  return c;
}

ModelConfig load_hf_config(const std::string& model_dir) {
  fs::path p = fs::path(model_dir) / "config.json";
  if (!fs::exists(p)) fail(model_dir, ": no config.json (is this a Hugging Face model directory?)");
  ModelConfig c = parse_hf_config(read_json_file(p), p.string());
  // generation_config.json, when present, is the authority on which ids end a reply.
  fs::path g = fs::path(model_dir) / "generation_config.json";
  if (fs::exists(g)) {
    nlohmann::json gj = read_json_file(g);
    Fields gf{gj, g.string()};
    auto eos = gf.int_list("eos_token_id");
    if (!eos.empty()) c.eos_ids = eos;
  }
  return c;
}

}  // namespace herd
