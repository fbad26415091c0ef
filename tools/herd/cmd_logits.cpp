// herd logits: raw little-endian f32 logits for a list of token ids (no BOS added).
#include <fstream>
#include <sstream>

#include "command.h"
#include "core/error.h"
#include "model/text_model.h"
#include "model_options.h"
#include "runtime/token_ids.h"

namespace herd::cli {
namespace {

struct LogitsArgs {
  LoadFlags load;
  std::string model, ids, ids_file, out;
  bool all = false;
  int threads = 0;
  int64_t slice = 0;
  KVFlags kv;
};

void run_logits(const LogitsArgs& a) {
  apply_threads(a.threads);
  if (a.ids.empty() == a.ids_file.empty()) fail("give exactly one of --ids and --ids-file");
  std::vector<int32_t> ids = a.ids.empty() ? read_token_ids_file(a.ids_file) : parse_token_ids(a.ids);
  if (ids.empty()) fail("no token ids given");
  const std::string model_path = a.model.empty() ? default_model_dir() : a.model;
  auto model = TextModel::load(model_path, a.load.access(model_path));
  const int64_t V = model->config().vocab_size;
  auto cache = model->new_cache(a.kv.options());
  const int64_t T = static_cast<int64_t>(ids.size());
  std::vector<float> logits((a.all ? T : 1) * V);
  // Optionally in slices (chunked prefill): same logits, bounded activation memory.
  const int64_t slice = a.slice > 0 ? a.slice : T;
  for (int64_t t = 0; t < T; t += slice) {
    const int64_t n = std::min(slice, T - t);
    float* dst = a.all ? logits.data() + t * V : logits.data();
    model->forward(ids.data() + t, n, *cache, dst, a.all);
  }
  const std::string tmp = a.out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(a.out, ": cannot create");
    f.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
    if (!f.flush()) fail(a.out, ": write failed");
  }
  std::rename(tmp.c_str(), a.out.c_str());
  std::fprintf(stderr, "wrote %zu x %lld logits to %s\n", a.all ? ids.size() : size_t{1}, static_cast<long long>(V),
               a.out.c_str());
}

CommandRegistrar reg(20, [](CLI::App& root) {
  auto a = std::make_shared<LogitsArgs>();
  auto* sub = root.add_subcommand("logits", "write raw f32 logits [T, vocab] for token ids");
  sub->add_option("-m,--model", a->model, "model directory (default: the bundled model)");
  add_load_options(sub, a->load);
  sub->add_option("--ids", a->ids, "token ids, comma or space separated, used as given (no BOS)");
  sub->add_option("--ids-file", a->ids_file, "file with token ids (whitespace/comma separated, or a JSON list)");
  sub->add_option("--out", a->out, "output file (raw little-endian f32, row-major)")->required();
  sub->add_flag("--all", a->all, "logits of every position instead of the last only");
  sub->add_option("--slice", a->slice, "prefill in slices of this many tokens (0: all at once)");
  add_kv_options(sub, a->kv);
  add_threads_option(sub, a->threads);
  sub->callback([a] { run_logits(*a); });
});

}  // namespace
}  // namespace herd::cli
