#pragma once
// Parsing token-id lists given on the command line or in files.
#include <cstdint>
#include <string>
#include <vector>

namespace herd {

// "1,2,3", "1 2 3" or "[1, 2, 3]"; throws herd::Error naming the bad entry.
std::vector<int32_t> parse_token_ids(const std::string& text);
std::vector<int32_t> read_token_ids_file(const std::string& path);

}  // namespace herd
