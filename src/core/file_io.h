#pragma once
// Whole-file reads and atomic writes (temporary file, then rename), so a failed or interrupted
// write never leaves a half-written file where a good one was.
#include <string>

namespace herd {

std::string read_file(const std::string& path);  // throws herd::Error naming the path
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace herd
