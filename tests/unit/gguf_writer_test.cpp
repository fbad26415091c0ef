// GGUF writer and herd convert: what is written reads back identically, and a converted
// checkpoint computes the same logits as the Hugging Face original (to the type's precision).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/quants.h"
#include "formats/gguf.h"
#include "formats/gguf_convert.h"
#include "formats/gguf_writer.h"
#include "kernels/matmul.h"
#include "model/text_model.h"
#include "formats/gguf_model_loader.h"
#include "model/decode_layout.h"
#include "runtime/session.h"
#include "model/presets.h"
#include "kernels/qdot.h"
#include "formats/safetensors.h"
#include "formats/hf_writer.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

namespace {

TEST(GgufWriter, RoundTrip) {
  fs::path dir = test::temp_dir("gguf_writer");
  GGUFWriter w;
  w.set_string("general.architecture", "llama4");
  w.set_u32("a.u32", 7);
  w.set_i32("a.i32", -3);
  w.set_f32("a.f32", 0.25f);
  w.set_bool("a.bool", true);
  w.set_string_array("a.strs", {"x", "", "y z"});
  w.set_i32_array("a.ints", {1, -2, 3});
  EXPECT_THROW(w.set_u32("a.u32", 1), Error);
  std::vector<float> vals(256 * 3);
  for (size_t i = 0; i < vals.size(); ++i) vals[i] = std::sin(0.1f * i);
  w.add_tensor("v", DType::F32, {5}, [](uint8_t* d) {
    float f[5] = {1, 2, 3, 4, 5};
    std::memcpy(d, f, sizeof f);
  });
  w.add_tensor("q", DType::Q4_K, {256, 3}, [&](uint8_t* d) { quant::quantize(DType::Q4_K, vals.data(), d, 768); });
  const fs::path p = dir / "t.gguf";
  w.write(p.string());
  EXPECT_FALSE(fs::exists(dir / "t.gguf.tmp"));

  GGUFFile f(p.string());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_uint("a.u32"), 7u);
  EXPECT_EQ(f.find("a.i32")->i, -3);
  EXPECT_EQ(f.get_float("a.f32"), 0.25);
  EXPECT_TRUE(f.get_bool("a.bool", false));
  EXPECT_EQ(f.get_string_array("a.strs"), (std::vector<std::string>{"x", "", "y z"}));
  EXPECT_EQ(f.get_int_array("a.ints"), (std::vector<int64_t>{1, -2, 3}));
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensor("v")->offset, 0u);
  EXPECT_EQ(f.tensor("q")->offset, 32u);  // padded to the alignment
  EXPECT_EQ(f.tensor("q")->nbytes, 3u * 144u);
  std::vector<float> back(768);
  to_f32(DType::Q4_K, f.tensor("q")->data, back.data(), 768);
  for (size_t i = 0; i < back.size(); ++i) EXPECT_NEAR(back[i], vals[i], 0.08) << i;

  // Copying values from one file to another keeps them.
  GGUFWriter w2;
  for (const auto& [k, v] : f.metadata()) w2.set_value(k, v);
  w2.write((dir / "u.gguf").string());
  GGUFFile g((dir / "u.gguf").string());
  EXPECT_EQ(g.get_string_array("a.strs"), f.get_string_array("a.strs"));
  EXPECT_EQ(g.get_int_array("a.ints"), f.get_int_array("a.ints"));
  EXPECT_EQ(g.get_float("a.f32"), 0.25);
  fs::remove_all(dir);
}

TEST(GgufConvert, TinyPresetEveryType) {
  fs::path dir = test::temp_dir("gguf_convert");
  auto r = test::run_herd("init --preset tiny --seed 3 --dtype f32 -o " + (dir / "hf").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto hf = TextModel::load((dir / "hf").string());
  const std::vector<int32_t> ids = {1, 500, 20000, 199999, 42, 7, 7, 9};
  const int64_t V = hf->config().vocab_size, T = static_cast<int64_t>(ids.size());
  std::vector<float> want(T * V);
  {
    auto cache = hf->new_cache();
    hf->forward(ids.data(), T, *cache, want.data(), true);
  }
  double scale = 0;
  for (float x : want) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  // Max logit error relative to the largest logit, per type.
  for (auto [type, tol] : {std::pair<const char*, double>{"f32", 1e-5}, {"f16", 2e-3}, {"bf16", 2e-2}, {"q8_0", 2e-2},
                           {"q4_0", 0.2}, {"q4_k_m", 0.2}}) {
    const fs::path out = dir / (std::string(type) + ".gguf");
    r = test::run_herd("convert -q -m " + (dir / "hf").string() + " -o " + out.string() + " --type " + type);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    auto m = TextModel::load(out.string());
    EXPECT_EQ(m->config().rope_inv_freq(), hf->config().rope_inv_freq()) << type;
    std::vector<float> got(T * V);
    auto cache = m->new_cache();
    set_matmul_exact(true);
    m->forward(ids.data(), T, *cache, got.data(), true);
    set_matmul_exact(false);
    double err = 0;
    for (size_t i = 0; i < got.size(); ++i) err = std::max(err, static_cast<double>(std::fabs(got[i] - want[i])));
    EXPECT_LE(err / scale, tol) << type;
    if (std::string(type) != "f32") EXPECT_GT(err, 0.0) << type;  // the types really differ
  }
  r = test::run_herd("convert -q -m " + (dir / "hf").string() + " -o " + (dir / "x.gguf").string() + " --type q3_k");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--type must be"), std::string::npos) << r.out;
  fs::remove_all(dir);
}


// A q4_k_m file read into memory gets its Q4_K / Q6_K / Q8_0 matrices rearranged into interleaved
// 16-row groups for decode (HERD_INTERLEAVE=head: the output matrix only); mapped, it stays as
// stored. All give the same logits up to f32 rounding (prefill, and decode token by token),
// exactly the same in exact mode, and the same model fingerprint (sessions saved one way load the
// other way).
TEST(GgufConvert, InterleavedDecodeLayoutMatchesMappedFile) {
  fs::path dir = test::temp_dir("gguf_interleave");
  ModelConfig c = preset_config("tiny");
  c.vocab_size = 4096;
  c.hidden_size = 256;
  c.head_dim = 64;
  c.expert_ffn = 256;
  c.dense_ffn = 512;
  c.tie_word_embeddings = false;
  c.torch_dtype = "float32";
  fs::create_directories(dir / "hf");
  write_hf_config((dir / "hf").string(), c);
  write_safetensors((dir / "hf" / "model.safetensors").string(), random_hf_tensors(c, 5, "F32"));
  const std::string gguf = (dir / "m.gguf").string();
  convert_hf_to_gguf((dir / "hf").string(), gguf, "q4_k_m");
  const bool can = qdot_rows16_kernel(DType::Q6_K) != nullptr;
  auto mapped = TextModel::load(gguf, FileAccess::Map);
  auto all = TextModel::load(gguf, FileAccess::Ram);  // default: every eligible matrix
  LoadedWeights lw = load_gguf_model(gguf, FileAccess::Ram);
  EXPECT_EQ(use_decode_layout(lw.weights, DecodeLayout::Head), can ? 1 : 0);
  auto ram = std::make_unique<TextModel>(lw.config, std::move(lw.weights));
  const WeightMatrix& gate0 = all->weights().layers[0].experts[0].gate;
  EXPECT_EQ(gate0.type, DType::Q4_K);
  EXPECT_EQ(gate0.interleaved, can);
  EXPECT_EQ(all->weights().layers[0].v.interleaved, can);  // attention weights too
  EXPECT_EQ(all->weights().lm_head.interleaved, can);
  EXPECT_EQ(mapped->weights().lm_head.type, DType::Q6_K);
  EXPECT_FALSE(mapped->weights().lm_head.interleaved);
  EXPECT_EQ(ram->weights().lm_head.interleaved, can);
  EXPECT_FALSE(ram->weights().layers[0].experts[0].gate.interleaved);
  EXPECT_EQ(model_fingerprint(*ram), model_fingerprint(*mapped));
  EXPECT_EQ(model_fingerprint(*all), model_fingerprint(*mapped));
  // What herd bench reports: every layer matrix (q, k, v, o, shared and routed experts' three) and
  // the output matrix, the output matrix alone, none.
  const int per_layer = 7 + 3 * c.n_experts;
  EXPECT_EQ(count_decode_layout(all->weights()), can ? 1 + c.n_layers * per_layer : 0);
  EXPECT_EQ(count_decode_layout(ram->weights()), can ? 1 : 0);
  EXPECT_EQ(count_decode_layout(mapped->weights()), 0);
  const std::vector<int32_t> ids = {1, 500, 2000, 4095, 42, 7, 7, 9};
  const int64_t V = c.vocab_size, T = static_cast<int64_t>(ids.size());
  auto run = [&](TextModel& m) {
    std::vector<float> out(T * V);
    auto cache = m.new_cache();
    m.forward(ids.data(), 5, *cache, out.data(), true);  // prefill 5, then one token at a time
    for (int64_t t = 5; t < T; ++t) m.forward(ids.data() + t, 1, *cache, out.data() + t * V, false);
    return out;
  };
  for (bool exact : {false, true}) {
    set_matmul_exact(exact);
    const std::vector<float> a = run(*mapped);
    for (TextModel* m : {ram.get(), all.get()}) {
      const std::vector<float> b = run(*m);
      if (exact) {
        EXPECT_EQ(a, b);
      } else {
        double scale = 0, err = 0;
        for (size_t i = 0; i < a.size(); ++i) {
          scale = std::max(scale, static_cast<double>(std::fabs(a[i])));
          err = std::max(err, static_cast<double>(std::fabs(a[i] - b[i])));
        }
        EXPECT_LE(err, 1e-4 * scale);
        if (can) EXPECT_GT(err, 0.0);  // the decode kernels really differ (rounding only)
      }
    }
  }
  set_matmul_exact(false);
  fs::remove_all(dir);
}
}  // namespace
