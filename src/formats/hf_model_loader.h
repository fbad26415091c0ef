#pragma once
// Loads a Hugging Face model directory (config.json + safetensors) into a ModelConfig and
// ModelWeights, checking every tensor's presence, shape and dtype against the config.
#include <string>

#include "core/mapped_file.h"
#include "model/model_config.h"
#include "model/model_weights.h"

namespace herd {

struct LoadedWeights {
  ModelConfig config;
  ModelWeights weights;
};

LoadedWeights load_hf_model(const std::string& dir, FileAccess access = FileAccess::Map);

}  // namespace herd
