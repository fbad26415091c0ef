#include "model_options.h"

#include "core/error.h"
#include "model/text_model.h"
#include "runtime/format.h"

namespace herd::cli {

KVOptions KVFlags::options() const {
  KVOptions o;
  o.k_type = parse_kv_type(type_k.empty() ? type : type_k);
  o.v_type = parse_kv_type(type_v.empty() ? type : type_v);
  if (page < 1) fail("--kv-page must be at least 1");
  o.page_tokens = page;
  if (!ram.empty()) o.ram_budget = parse_size(ram);
  o.disk_dir = disk;
  if (o.ram_budget > 0 && o.disk_dir.empty()) fail("--kv-ram needs --kv-disk DIR for the pages that do not fit");
  return o;
}

void add_sampling_options(CLI::App* sub, SamplingParams& p) {
  sub->add_option("--temp,--temperature", p.temperature, "sampling temperature (0: greedy)");
  sub->add_option("--top-k", p.top_k, "keep the k most likely tokens (0: off)");
  sub->add_option("--top-p", p.top_p, "nucleus sampling mass (1: off)");
  sub->add_option("--min-p", p.min_p, "drop tokens below min-p times the top probability (0: off)");
  sub->add_option("--repeat-penalty", p.repetition_penalty, "repetition penalty (1: off)");
  sub->add_option("--repeat-last-n", p.repeat_last_n, "tokens of history the penalty considers (-1: all)");
  sub->add_option("-s,--seed", p.seed, "random seed (same seed, same output)");
}

FileAccess LoadFlags::access(const std::string& model_path) const {
  if (mmap) return FileAccess::Map;
  if (no_mmap) return FileAccess::Ram;
  return TextModel::default_access(model_path);
}

void add_load_options(CLI::App* sub, LoadFlags& f) {
  auto* m = sub->add_flag("--mmap", f.mmap, "map the weight files (shared, evictable page cache; slower decode)");
  sub->add_flag("--no-mmap", f.no_mmap,
                "read the weights into memory (transparent huge pages): a private copy and a full read at load, "
                "faster decode. Default: read when they take at most half of the available memory, else map")
      ->excludes(m);
}

void add_kv_options(CLI::App* sub, KVFlags& f) {
  sub->add_option("--kv-type", f.type, "KV storage for keys and values: f32, bf16, f16, q8_0, q4_0")->capture_default_str();
  sub->add_option("--kv-type-k", f.type_k, "key storage (overrides --kv-type)");
  sub->add_option("--kv-type-v", f.type_v, "value storage (overrides --kv-type)");
  sub->add_option("--kv-ram", f.ram, "RAM budget for the KV cache (e.g. 512M); pages beyond it spill to --kv-disk");
  sub->add_option("--kv-disk", f.disk, "directory for spilled KV pages");
  sub->add_option("--kv-page", f.page, "positions per KV page of global layers")->capture_default_str();
}

}  // namespace herd::cli
