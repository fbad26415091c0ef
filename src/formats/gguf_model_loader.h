#pragma once
// Loads a llama.cpp GGUF model (architecture `llama4`, or `llama` for dense models) into a
// ModelConfig and ModelWeights that point into the memory-mapped file. llama.cpp's fixed Llama 4
// rules that the file does not store (chunk 8192, NoPE every 4th layer, temperature tuning with
// floor 8192 / scale 0.1, QK norm unless 128 experts) are applied here.
#include <string>

#include "formats/gguf.h"
#include "formats/hf_model_loader.h"

namespace herd {

// Config only (no tensors bound); `f` must be a model file, not a vocabulary-only one.
ModelConfig gguf_model_config(const GGUFFile& f);

LoadedWeights load_gguf_model(const std::string& path, FileAccess access = FileAccess::Map);

bool is_gguf_path(const std::string& path);  // a regular file that starts with "GGUF"

}  // namespace herd
