#pragma once
// How a KV cache stores and places its keys and values.
#include <cstdint>
#include <string>

#include "kv/kv_types.h"

namespace herd {

struct KVOptions {
  KVType k_type = KVType::F32;
  KVType v_type = KVType::F32;
  int64_t page_tokens = 256;  // positions per page of a global (NoPE) layer
  int64_t ram_budget = 0;     // bytes of KV kept in RAM; 0 = unlimited. Pages past it spill to disk.
  std::string disk_dir;       // where spilled pages go (default: the system temp directory)
  int64_t max_slice = 512;    // largest prefill slice the chunk rings are sized for up front
};

}  // namespace herd
