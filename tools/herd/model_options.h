#pragma once
// Options shared by the commands that generate (run, chat): sampling and KV-cache placement.
#include <string>

#include <CLI/CLI.hpp>

#include "kv/kv_options.h"
#include "runtime/sampler.h"

namespace herd::cli {

struct KVFlags {
  std::string type = "f32", type_k, type_v, ram, disk;
  int64_t page = 256;
  KVOptions options() const;  // validated; throws herd::Error on bad values
};

void add_sampling_options(CLI::App* sub, SamplingParams& p);
void add_kv_options(CLI::App* sub, KVFlags& f);

}  // namespace herd::cli
