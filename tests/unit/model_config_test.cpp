// Config parsing and derived values, checked against numbers stated in the architecture spec.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "formats/hf_config.h"

using namespace herd;
using nlohmann::json;

namespace {

// Scout's text_config as published (spec §1.1), wrapped like the real config.json.
json scout_config() {
  json t = {{"vocab_size", 202048}, {"hidden_size", 5120}, {"intermediate_size", 8192},
            {"intermediate_size_mlp", 16384}, {"num_hidden_layers", 48}, {"num_attention_heads", 40},
            {"num_key_value_heads", 8}, {"head_dim", 128}, {"rope_theta", 500000.0},
            {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 16.0}, {"low_freq_factor", 1.0},
                              {"high_freq_factor", 1.0}, {"original_max_position_embeddings", 8192}}},
            {"num_local_experts", 16}, {"num_experts_per_tok", 1}, {"interleave_moe_layer_step", 1},
            {"use_qk_norm", true}, {"attention_chunk_size", 8192}, {"attn_temperature_tuning", 4},
            {"floor_scale", 8192}, {"attn_scale", 0.1}, {"rms_norm_eps", 1e-5}, {"max_position_embeddings", 10485760},
            {"eos_token_id", {200001, 200007, 200008}}, {"bos_token_id", 200000}, {"pad_token_id", 200018}};
  return {{"architectures", {"Llama4ForConditionalGeneration"}}, {"model_type", "llama4"}, {"text_config", t}};
}

json maverick_config() {
  json j = scout_config()["text_config"];
  j["num_local_experts"] = 128;
  j["interleave_moe_layer_step"] = 2;
  j["use_qk_norm"] = false;
  j["rope_scaling"] = nullptr;
  j["attn_temperature_tuning"] = true;
  j["max_position_embeddings"] = 1048576;
  j["architectures"] = {"Llama4ForCausalLM"};
  return j;
}

TEST(ModelConfig, ScoutScheduleAndParameterCount) {
  ModelConfig c = parse_hf_config(scout_config(), "scout");
  EXPECT_EQ(c.tensor_prefix, "language_model.");
  EXPECT_TRUE(c.attn_temperature_tuning);  // integer 4 means true
  int nope = 0;
  for (int l = 0; l < 48; ++l) {
    EXPECT_TRUE(c.is_moe(l));
    EXPECT_EQ(c.uses_rope(l), (l + 1) % 4 != 0);
    EXPECT_EQ(c.is_chunked(l), c.uses_rope(l));
    EXPECT_EQ(c.qk_norm(l), c.uses_rope(l));
    EXPECT_EQ(c.temperature_tuned(l), !c.uses_rope(l));
    nope += !c.uses_rope(l);
  }
  EXPECT_EQ(nope, 12);
  EXPECT_EQ(c.params_total(), 107769861120LL);  // spec §1.2 "text model total"
  // Active: spec gives ≈16.1 B (attention + shared + one expert per layer, + lm_head).
  EXPECT_NEAR(static_cast<double>(c.params_active()) / 1e9, 16.1, 0.1);
}

TEST(ModelConfig, MaverickScheduleAndParameterCount) {
  ModelConfig c = parse_hf_config(maverick_config(), "maverick");
  EXPECT_EQ(c.tensor_prefix, "");
  for (int l = 0; l < 48; ++l) {
    EXPECT_EQ(c.is_moe(l), l % 2 == 1) << l;
    EXPECT_FALSE(c.qk_norm(l));
    if (!c.uses_rope(l)) {
      EXPECT_TRUE(c.is_moe(l));  // NoPE layers 3, 7, ... are odd
    }
  }
  EXPECT_EQ(c.params_total(), 400711848960LL);  // spec §1.2
  EXPECT_NEAR(static_cast<double>(c.params_active()) / 1e9, 16.1, 0.2);
}

TEST(ModelConfig, ScoutRopeDivisors) {
  ModelConfig c = parse_hf_config(scout_config(), "scout");
  auto f = c.rope_inv_freq();
  ASSERT_EQ(f.size(), 64u);
  for (int i = 0; i < 64; ++i) {
    double plain = 1.0 / std::pow(500000.0, 2.0 * i / 128);
    EXPECT_NEAR(plain / f[i], i < 35 ? 1.0 : 16.0, 1e-9) << "pair " << i;  // spec §10.3: [1]x35 + [16]x29
  }
}

TEST(ModelConfig, TemperatureScaleValues) {
  ModelConfig c = parse_hf_config(scout_config(), "scout");
  EXPECT_EQ(c.attn_temperature(0), 1.0f);
  EXPECT_EQ(c.attn_temperature(8190), 1.0f);
  EXPECT_NEAR(c.attn_temperature(8191), 1.0693147f, 1e-6);
  EXPECT_NEAR(c.attn_temperature(16383), 1.1098612f, 1e-6);
  EXPECT_NEAR(c.attn_temperature(1048575), 1.4859812f, 1e-6);
  EXPECT_NEAR(c.attn_temperature(10485759), 1.7155396f, 1e-6);
}

TEST(ModelConfig, DerivedListsWhenAbsent) {
  json j = maverick_config();
  j["num_hidden_layers"] = 8;
  j.erase("moe_layers");
  j.erase("no_rope_layers");
  j["interleave_moe_layer_step"] = 3;
  ModelConfig c = parse_hf_config(j, "x");
  for (int l = 0; l < 8; ++l) {
    EXPECT_EQ(c.is_moe(l), l == 2 || l == 5) << l;
    EXPECT_EQ(c.uses_rope(l), l != 3 && l != 7) << l;
  }
  j["no_rope_layers"] = json::array();  // empty list: same as absent
  c = parse_hf_config(j, "x");
  EXPECT_FALSE(c.uses_rope(3));
}

TEST(ModelConfig, BoolOrIntTemperatureTuning) {
  json j = maverick_config();
  j["attn_temperature_tuning"] = false;
  EXPECT_FALSE(parse_hf_config(j, "x").attn_temperature_tuning);
  j["attn_temperature_tuning"] = 0;
  EXPECT_FALSE(parse_hf_config(j, "x").attn_temperature_tuning);
  j["attn_temperature_tuning"] = 4;
  EXPECT_TRUE(parse_hf_config(j, "x").attn_temperature_tuning);
  j["attn_temperature_tuning"] = "yes";
  EXPECT_THROW(parse_hf_config(j, "x"), Error);
}

TEST(ModelConfig, DenseLlama) {
  json j = {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 1000}, {"hidden_size", 64},
            {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
            {"num_key_value_heads", 2}, {"rope_theta", 500000.0}, {"tie_word_embeddings", true}};
  ModelConfig c = parse_hf_config(j, "llama");
  EXPECT_EQ(c.rope_style, RopeStyle::RotateHalf);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_FALSE(c.is_moe(0));
  EXPECT_FALSE(c.is_chunked(0));
  EXPECT_EQ(c.dense_ffn, 128);
  EXPECT_TRUE(c.tie_word_embeddings);
}

TEST(ModelConfig, RejectsBadValues) {
  json j = maverick_config();
  j["moe_layers"] = {1, 99};
  EXPECT_THROW(parse_hf_config(j, "x"), Error);
  j = maverick_config();
  j["num_experts_per_tok"] = 200;
  EXPECT_THROW(parse_hf_config(j, "x"), Error);
  j = maverick_config();
  j.erase("hidden_size");
  try {
    parse_hf_config(j, "cfg.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing required field \"hidden_size\""), std::string::npos);
  }
  EXPECT_THROW(parse_hf_config(json::array(), "x"), Error);
}

}  // namespace
