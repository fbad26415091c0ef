#pragma once
// Writes Hugging Face model directories: config.json (flat Llama4ForCausalLM or LlamaForCausalLM
// form) and model.safetensors, each atomically.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/safetensors.h"
#include "model/model_config.h"

namespace herd {

nlohmann::ordered_json hf_config_json(const ModelConfig& c);
void write_hf_config(const std::string& dir, const ModelConfig& c);

// Random weights for config c (normal(0, std) for matrices, ones for norms), tensors named as
// in HF checkpoints (fused expert layout), stored as dtype "F32" or "BF16". Deterministic in seed.
std::vector<TensorToWrite> random_hf_tensors(const ModelConfig& c, uint64_t seed, const std::string& dtype,
                                             float std = 0.02f);

}  // namespace herd
