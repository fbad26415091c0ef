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
// --mmap / --no-mmap: map the weight files, or read them into memory (huge pages); neither: read
// them when they take at most half of the available memory (TextModel::default_access).
struct LoadFlags {
  bool mmap = false, no_mmap = false;
  FileAccess access(const std::string& model_path) const;
};
void add_load_options(CLI::App* sub, LoadFlags& f);
void add_kv_options(CLI::App* sub, KVFlags& f);

}  // namespace herd::cli
