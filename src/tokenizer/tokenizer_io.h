#pragma once
// Internal helpers shared by the tokenizer loaders.
#include <string>

namespace herd {

// The whole file; throws herd::Error naming the path if it is missing or unreadable.
std::string read_tokenizer_file(const std::string& path);

}  // namespace herd
