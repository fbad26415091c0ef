#pragma once
// Reads a Hugging Face config.json (Llama4ForConditionalGeneration with text_config,
// Llama4ForCausalLM, or dense LlamaForCausalLM) and generation_config.json into a ModelConfig.
#include <string>

#include <nlohmann/json.hpp>

#include "model/model_config.h"

namespace herd {

ModelConfig load_hf_config(const std::string& model_dir);
// From an already parsed config.json; `where` names the source in error messages.
ModelConfig parse_hf_config(const nlohmann::json& j, const std::string& where);

}  // namespace herd
