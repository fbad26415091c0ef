#pragma once
// What the operating system says about memory.
#include <cstdint>

namespace herd {

// MemAvailable from /proc/meminfo in bytes (memory that can be allocated without swapping), or -1
// where it cannot be read.
int64_t mem_available_bytes();

}  // namespace herd
