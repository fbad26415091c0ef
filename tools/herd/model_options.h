#pragma once
// Options shared by the commands that generate (run, chat): sampling and KV-cache placement.
#include <string>

#include <CLI/CLI.hpp>

#include "core/mapped_file.h"
#include "kv/kv_options.h"
#include "runtime/sampler.h"

namespace herd::cli {

struct KVFlags {
  std::string type = "f32", type_k, type_v, ram, disk;
  int64_t page = 256;
  KVOptions options() const;  // validated; throws herd::Error on bad values
};

void add_sampling_options(CLI::App* sub, SamplingParams& p);
// --no-mmap: read the weights into memory (huge pages) instead of mapping the file.
void add_load_options(CLI::App* sub, bool& no_mmap);
inline FileAccess file_access(bool no_mmap) { return no_mmap ? FileAccess::Ram : FileAccess::Map; }
void add_kv_options(CLI::App* sub, KVFlags& f);

}  // namespace herd::cli
