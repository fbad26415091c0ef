// Dense LlamaForCausalLM runs on the same code path with rotate-half RoPE. Independent check: a
// Llama checkpoint equals the same weights written as a dense-only Llama 4 checkpoint (adjacent-
// pair RoPE) once q/k rows are put back into Meta's order, the inverse of the permutation Hugging
// Face applies when converting Llama weights for rotate-half kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "formats/hf_writer.h"
#include "formats/safetensors.h"
#include "model/text_model.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

TEST(DenseLlama, RotateHalfEqualsInterleavedWithPermutedWeights) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.vocab_size = 300;
  c.hidden_size = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.dense_ffn = 96;
  c.rope_theta = 10000;
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 64};
  c.rope_style = RopeStyle::RotateHalf;
  c.moe_layer = {false, false};
  c.rope_layer = {true, true};
  c.max_position = 4096;
  auto tmp = test::temp_dir("llama");
  const fs::path a = tmp / "llama", b = tmp / "llama4";
  fs::create_directories(a);
  fs::create_directories(b);
  write_hf_config(a.string(), c);
  auto tensors = random_hf_tensors(c, 11, "F32", 0.1f);
  write_safetensors((a / "model.safetensors").string(), tensors);

  // The same model as a dense-only Llama 4 checkpoint.
  ModelConfig d = c;
  d.architecture = "Llama4ForCausalLM";
  d.rope_style = RopeStyle::Interleaved;
  d.n_experts = 1;
  d.expert_ffn = 96;
  d.use_qk_norm = false;
  d.chunk_size = 0;
  d.attn_temperature_tuning = false;
  write_hf_config(b.string(), d);
  const int hd = c.head_dim, half = hd / 2;
  for (auto& t : tensors) {
    if (t.name.find(".mlp.") != std::string::npos) t.name.replace(t.name.find(".mlp."), 5, ".feed_forward.");
    const bool q = t.name.find("q_proj") != std::string::npos, k = t.name.find("k_proj") != std::string::npos;
    if (!q && !k) continue;
    // HF row (head h, component c, pair i) at h*hd + c*half + i holds Meta row h*hd + 2i + c.
    const int64_t cols = t.shape[1], heads = t.shape[0] / hd;
    std::vector<uint8_t> meta(t.bytes.size());
    for (int64_t h = 0; h < heads; ++h)
      for (int comp = 0; comp < 2; ++comp)
        for (int i = 0; i < half; ++i)
          std::memcpy(&meta[((h * hd + 2 * i + comp) * cols) * 4], &t.bytes[((h * hd + comp * half + i) * cols) * 4], cols * 4);
    t.bytes = meta;
  }
  write_safetensors((b / "model.safetensors").string(), tensors);

  auto ma = TextModel::load(a.string()), mb = TextModel::load(b.string());
  EXPECT_EQ(ma->config().rope_style, RopeStyle::RotateHalf);
  EXPECT_EQ(mb->config().rope_style, RopeStyle::Interleaved);
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back((i * 37 + 5) % 300);
  const int64_t V = 300, T = static_cast<int64_t>(ids.size());
  std::vector<float> la(T * V), lb(T * V);
  auto ca = ma->new_cache(), cb = mb->new_cache();
  ma->forward(ids.data(), T, *ca, la.data(), true);
  mb->forward(ids.data(), T, *cb, lb.data(), true);
  float diff = 0, spread = 0;
  for (size_t i = 0; i < la.size(); ++i) diff = std::max(diff, std::fabs(la[i] - lb[i])), spread = std::max(spread, std::fabs(la[i]));
  EXPECT_LE(diff, 1e-4f);
  EXPECT_GT(spread, 0.05f);  // the logits are not trivially zero

  // Without the permutation the two disagree: the check can fail.
  write_safetensors((b / "model.safetensors").string(), random_hf_tensors(d, 11, "F32", 0.1f));
  auto mc = TextModel::load(b.string());
  auto cc = mc->new_cache();
  mc->forward(ids.data(), T, *cc, lb.data(), true);
  diff = 0;
  for (size_t i = 0; i < la.size(); ++i) diff = std::max(diff, std::fabs(la[i] - lb[i]));
  EXPECT_GT(diff, 1e-3f);
  fs::remove_all(tmp);
}
