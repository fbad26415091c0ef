#pragma once
// Named model shapes: small ones to materialize with random weights (tests, benchmarks, the
// bundled default) and the real Scout and Maverick shapes for info and planning.
#include <string>
#include <vector>

#include "model/model_config.h"

namespace herd {

// "tiny" (bundled default), "mini-scout" (~1.1B, benchmarks), "scout", "maverick".
ModelConfig preset_config(const std::string& name);
std::vector<std::string> preset_names();

}  // namespace herd
