#include "formats/gguf_convert.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/quants.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/hf_model_loader.h"

namespace herd {

namespace {

// Rows [o0, o1) of W as f32 (handles in-major fused experts without per-element calls).
void rows_f32(const WeightMatrix& W, int64_t o0, int64_t o1, float* dst) {
  const int64_t n = W.cols, h = o1 - o0;
  if (!W.in_major) {
    for (int64_t o = o0; o < o1; ++o) W.row(o, dst + (o - o0) * n);
    return;
  }
  std::vector<float> span(h);
  const size_t es = dtype_size(W.type);
  for (int64_t i = 0; i < n; ++i) {
    to_f32(W.type, W.data + (i * W.ld + o0) * es, span.data(), h);
    for (int64_t r = 0; r < h; ++r) dst[r * n + i] = span[r];
  }
}

// Converts W ([rows, cols]) to `type` into dst, rows in parallel.
void encode(const WeightMatrix& W, DType type, uint8_t* dst) {
  const int64_t n = W.cols;
  const size_t rb = dtype_row_bytes(type, n);
  ThreadPool::global().parallel_for(W.rows, 64, [&](int64_t o0, int64_t o1) {
    constexpr int64_t kChunk = 64;
    std::vector<float> buf;
    for (int64_t c0 = o0; c0 < o1; c0 += kChunk) {
      const int64_t c1 = std::min(o1, c0 + kChunk);
      buf.resize((c1 - c0) * n);
      rows_f32(W, c0, c1, buf.data());
      for (int64_t o = c0; o < c1; ++o) {
        const float* x = buf.data() + (o - c0) * n;
        uint8_t* d = dst + o * rb;
        switch (type) {
          case DType::F32: std::memcpy(d, x, n * 4); break;
          case DType::F16:
            for (int64_t i = 0; i < n; ++i) {
              uint16_t h = f32_to_f16(x[i]);
              std::memcpy(d + 2 * i, &h, 2);
            }
            break;
          case DType::BF16:
            for (int64_t i = 0; i < n; ++i) {
              uint16_t h = f32_to_bf16(x[i]);
              std::memcpy(d + 2 * i, &h, 2);
            }
            break;
          default: quant::quantize(type, x, d, n);
        }
      }
    }
  });
}

bool more_bits(int l, int n) { return l < n / 8 || l >= 7 * n / 8 || (l - n / 8) % 3 == 2; }

// The type for a matrix with rows of `cols` elements, falling back like llama-quantize.
DType fit(DType want, int64_t cols) {
  if (cols % dtype_block_size(want) == 0) return want;
  if (want == DType::Q4_K) return DType::Q5_0;
  if (want == DType::Q5_K || want == DType::Q6_K) return DType::Q8_0;
  return DType::F16;
}

}  // namespace

ConvertStats convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_path, const std::string& type,
                                const std::function<void(size_t, size_t)>& progress, const std::string& vocab_gguf) {
  LoadedWeights lw = load_hf_model(hf_dir);
  const ModelConfig& c = lw.config;
  const ModelWeights& w = lw.weights;
  if (c.architecture == "LlamaForCausalLM")
    fail(hf_dir, ": herd convert writes Llama 4 models only (dense Llama q/k would need re-permuting)");

  DType base;
  uint32_t file_type;
  bool mixture = false;
  if (type == "f32") base = DType::F32, file_type = 0;
  else if (type == "f16") base = DType::F16, file_type = 1;
  else if (type == "bf16") base = DType::BF16, file_type = 32;
  else if (type == "q8_0") base = DType::Q8_0, file_type = 7;
  else if (type == "q4_0") base = DType::Q4_0, file_type = 2;
  else if (type == "q4_k_m") base = DType::Q4_K, file_type = 15, mixture = true;
  else fail("--type must be f32, f16, bf16, q8_0, q4_0 or q4_k_m, got '", type, "'");

  // Llama 4 rules llama.cpp hard-codes must match this checkpoint, or the file would mean
  // something else to llama.cpp.
  for (int l = 0; l < c.n_layers; ++l)
    if (c.uses_rope(l) != ((l + 1) % 4 != 0))
      fail(hf_dir, ": layer ", l, " RoPE/NoPE schedule differs from llama.cpp's fixed 'NoPE every 4th layer'");
  if (c.use_qk_norm != (c.n_experts != 128))
    fail(hf_dir, ": use_qk_norm=", c.use_qk_norm, " with ", c.n_experts, " experts differs from llama.cpp's fixed rule");
  int step = 0;
  for (int l = 0; l < c.n_layers && !step; ++l)
    if (c.is_moe(l)) step = l + 1;
  if (step == 0) fail(hf_dir, ": no MoE layer; llama.cpp's llama4 needs interleave_moe_layer_step");
  for (int l = 0; l < c.n_layers; ++l)
    if (c.is_moe(l) != ((l + 1) % step == 0)) fail(hf_dir, ": MoE layers are not every ", step, "th layer");

  GGUFWriter g;
  const std::string a = "llama4.";
  g.set_string("general.architecture", "llama4");
  g.set_string("general.name", std::filesystem::path(hf_dir).filename().string());
  g.set_u32("general.file_type", file_type);
  if (dtype_is_quantized(base)) g.set_u32("general.quantization_version", 2);
  g.set_u32(a + "context_length", static_cast<uint32_t>(std::min<int64_t>(c.max_position > 0 ? c.max_position : 8192, 0xffffffffLL)));
  g.set_u32(a + "embedding_length", static_cast<uint32_t>(c.hidden_size));
  g.set_u32(a + "block_count", static_cast<uint32_t>(c.n_layers));
  g.set_u32(a + "feed_forward_length", static_cast<uint32_t>(c.dense_ffn));
  g.set_u32(a + "expert_feed_forward_length", static_cast<uint32_t>(c.expert_ffn));
  g.set_u32(a + "attention.head_count", static_cast<uint32_t>(c.n_heads));
  g.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  g.set_u32(a + "attention.key_length", static_cast<uint32_t>(c.head_dim));
  g.set_u32(a + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  g.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  g.set_f32(a + "rope.freq_base", static_cast<float>(c.rope_theta));
  g.set_f32(a + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  g.set_u32(a + "expert_count", static_cast<uint32_t>(c.n_experts));
  g.set_u32(a + "expert_used_count", static_cast<uint32_t>(c.top_k));
  g.set_u32(a + "interleave_moe_layer_step", static_cast<uint32_t>(step));
  g.set_u32(a + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  if (!vocab_gguf.empty()) {
    GGUFFile vf(vocab_gguf);
    if (!vf.has("tokenizer.ggml.tokens")) fail(vocab_gguf, ": has no tokenizer.ggml.tokens to copy");
    const size_t n = vf.get_string_array("tokenizer.ggml.tokens").size();
    if (static_cast<int64_t>(n) != c.vocab_size)
      fail(vocab_gguf, ": vocabulary of ", n, " tokens does not fit the model's vocab_size ", c.vocab_size);
    for (const auto& [key, v] : vf.metadata())
      if (key.rfind("tokenizer.", 0) == 0) g.set_value(key, v);
  } else {
    g.set_string("tokenizer.ggml.model", "none");
  }
  if (c.bos_id >= 0 && !g.has("tokenizer.ggml.bos_token_id")) g.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_id));
  if (!c.eos_ids.empty() && !g.has("tokenizer.ggml.eos_token_id")) g.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_ids.back()));
  if (c.pad_id >= 0 && !g.has("tokenizer.ggml.padding_token_id")) g.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(c.pad_id));

  const int64_t D = c.hidden_size, V = c.vocab_size;
  auto matrix = [&](const std::string& name, const WeightMatrix& W, DType t) {
    t = fit(t, W.cols);
    const WeightMatrix Wc = W;
    g.add_tensor(name, t, {W.cols, W.rows}, [Wc, t](uint8_t* dst) { encode(Wc, t, dst); });
  };
  auto experts = [&](const std::string& name, const std::vector<FfnWeights>& ex, WeightMatrix FfnWeights::*m, DType t) {
    const WeightMatrix& W0 = ex[0].*m;
    t = fit(t, W0.cols);
    const size_t slab = dtype_row_bytes(t, W0.cols) * W0.rows;
    std::vector<WeightMatrix> all;
    for (const auto& e : ex) all.push_back(e.*m);
    g.add_tensor(name, t, {W0.cols, W0.rows, static_cast<int64_t>(ex.size())}, [all, t, slab](uint8_t* dst) {
      for (size_t e = 0; e < all.size(); ++e) encode(all[e], t, dst + e * slab);
    });
  };
  auto vec = [&](const std::string& name, const std::vector<float>& v) {
    std::vector<float> copy = v;
    g.add_tensor(name, DType::F32, {static_cast<int64_t>(v.size())},
                 [copy](uint8_t* dst) { std::memcpy(dst, copy.data(), copy.size() * 4); });
  };

  const DType hi = mixture ? DType::Q6_K : base;
  matrix("token_embd.weight", w.embed, base);
  if (!c.rope_scaling.type.empty()) {
    ModelConfig plain = c;
    plain.rope_scaling = {};
    auto p = plain.rope_inv_freq(), s = c.rope_inv_freq();
    std::vector<float> div(p.size());
    for (size_t i = 0; i < p.size(); ++i) div[i] = static_cast<float>(p[i] / s[i]);
    vec("rope_freqs.weight", div);
  }
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    const bool more = mixture && more_bits(l, c.n_layers);
    const DType kv_type = mixture && c.n_experts >= 8 ? DType::Q8_0 : base;
    vec(p + "attn_norm.weight", L.attn_norm);
    matrix(p + "attn_q.weight", L.q, base);
    matrix(p + "attn_k.weight", L.k, kv_type);
    matrix(p + "attn_v.weight", L.v, more && kv_type == base ? hi : kv_type);
    matrix(p + "attn_output.weight", L.o, base);
    vec(p + "ffn_norm.weight", L.ffn_norm);
    const DType down = more ? hi : base;
    if (L.moe) {
      matrix(p + "ffn_gate_inp.weight", L.router, DType::F32);
      experts(p + "ffn_gate_exps.weight", L.experts, &FfnWeights::gate, base);
      experts(p + "ffn_up_exps.weight", L.experts, &FfnWeights::up, base);
      experts(p + "ffn_down_exps.weight", L.experts, &FfnWeights::down, down);
      matrix(p + "ffn_gate_shexp.weight", L.shared.gate, base);
      matrix(p + "ffn_up_shexp.weight", L.shared.up, base);
      matrix(p + "ffn_down_shexp.weight", L.shared.down, down);
    } else {
      matrix(p + "ffn_gate.weight", L.shared.gate, base);
      matrix(p + "ffn_up.weight", L.shared.up, base);
      matrix(p + "ffn_down.weight", L.shared.down, down);
    }
  }
  vec("output_norm.weight", w.final_norm);
  matrix("output.weight", w.lm_head, hi);
  (void)D;
  (void)V;

  g.write(out_path, progress);
  ConvertStats st;
  st.bytes = std::filesystem::file_size(out_path);
  return st;
}

}  // namespace herd
