#pragma once
// Human-readable numbers for reports: 1.07 B, 3.50 GiB.
#include <cstdint>
#include <string>

namespace herd {

std::string human_count(int64_t n);   // 1234567 -> "1.23 M"
std::string human_bytes(int64_t n);   // binary units: "1.50 GiB"
// Parses "512M", "8G", "1.5GiB", "1000000" into bytes; throws herd::Error on bad input.
int64_t parse_size(const std::string& s);

}  // namespace herd
