// herd init: create a random-weight Llama-4-shaped Hugging Face checkpoint from a preset.
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "core/error.h"
#include "formats/hf_writer.h"
#include "model/presets.h"
#include "runtime/format.h"

namespace herd::cli {
namespace {

struct InitArgs {
  std::string preset = "tiny", out, dtype = "bf16", tokenizer;
  uint64_t seed = 0;
  bool config_only = false;
};

void run_init(const InitArgs& a) {
  ModelConfig c = preset_config(a.preset);
  std::string dtype = a.dtype == "f32" ? "F32" : a.dtype == "bf16" ? "BF16" : "";
  if (dtype.empty()) fail("--dtype must be f32 or bf16, got '", a.dtype, "'");
  c.torch_dtype = dtype == "F32" ? "float32" : "bfloat16";
  const bool huge = c.params_total() > 20'000'000'000LL;
  if (huge && !a.config_only)
    fail("preset '", a.preset, "' has ", human_count(c.params_total()),
         " parameters; use --config-only to write just its config.json (for herd info / plan)");
  std::filesystem::create_directories(a.out);
  write_hf_config(a.out, c);
  if (!a.tokenizer.empty()) {
    auto dst = std::filesystem::path(a.out) / std::filesystem::path(a.tokenizer).filename();
    std::filesystem::copy_file(a.tokenizer, dst, std::filesystem::copy_options::overwrite_existing);
  }
  if (a.config_only) {
    std::printf("wrote %s/config.json (%s parameters, no weights)\n", a.out.c_str(), human_count(c.params_total()).c_str());
    return;
  }
  auto tensors = random_hf_tensors(c, a.seed, dtype);
  write_safetensors(a.out + "/model.safetensors", tensors);
  std::printf("wrote %s: preset %s, seed %llu, %s parameters, %s\n", a.out.c_str(), a.preset.c_str(),
              static_cast<unsigned long long>(a.seed), human_count(c.params_total()).c_str(), dtype.c_str());
}

CommandRegistrar reg(80, [](CLI::App& root) {
  auto a = std::make_shared<InitArgs>();
  auto* sub = root.add_subcommand("init", "create a random-weight Llama 4 checkpoint from a preset");
  sub->add_option("--preset", a->preset, "tiny | mini-scout | long-scout | scout | maverick")->capture_default_str();
  sub->add_option("-o,--out", a->out, "output directory")->required();
  sub->add_option("--seed", a->seed, "random seed")->capture_default_str();
  sub->add_option("--dtype", a->dtype, "f32 or bf16")->capture_default_str();
  sub->add_option("--tokenizer", a->tokenizer, "tokenizer file to copy into the directory");
  sub->add_flag("--config-only", a->config_only, "write config.json only (for the full-size presets)");
  sub->callback([a] { run_init(*a); });
});

}  // namespace
}  // namespace herd::cli
