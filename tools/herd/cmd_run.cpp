// herd run: generate a continuation of a prompt (text, chat turn, or token ids), streamed.
#include <cstdio>

#include "command.h"
#include "core/error.h"
#include "model/text_model.h"
#include "runtime/generator.h"
#include "runtime/token_ids.h"

namespace herd::cli {
namespace {

struct RunArgs {
  std::string model, prompt, ids;
  int64_t n_predict = 64;
  float temperature = 0.0f, top_p = 1.0f, min_p = 0.0f, repeat_penalty = 1.0f;
  int top_k = 0, repeat_last_n = 64, threads = 0;
  uint64_t seed = 0;
  bool ignore_eos = false;
};

void run(const RunArgs& a) {
  apply_threads(a.threads);
  const std::string dir = a.model.empty() ? default_model_dir() : a.model;
  if (a.prompt.empty() == a.ids.empty()) fail("give exactly one of -p/--prompt and --ids");
  auto model = TextModel::load(dir);
  const ModelConfig& c = model->config();

  std::vector<int32_t> prompt;
  if (!a.ids.empty()) prompt = parse_token_ids(a.ids);
  else fail("text prompts need a tokenizer; this build accepts --ids only");
  if (prompt.empty()) fail("empty prompt");

  GenerateOptions opts;
  opts.max_new_tokens = a.n_predict;
  opts.sampling = {a.temperature, a.top_k, a.top_p, a.min_p, a.repeat_penalty, a.repeat_last_n, a.seed};
  if (!a.ignore_eos)
    for (auto e : c.eos_ids) opts.stop_ids.push_back(static_cast<int32_t>(e));
  auto cache = model->new_cache();
  Generator gen(*model, *cache, opts);
  bool first = true;
  gen.generate(prompt, [&](int32_t id) {
    std::printf(first ? "%d" : " %d", id);
    first = false;
    std::fflush(stdout);
    return true;
  });
  std::printf("\n");
  const GenerateStats& s = gen.stats();
  std::fprintf(stderr, "prompt %lld tokens in %.3f s (%.1f tok/s); generated %lld tokens in %.3f s (%.1f tok/s)%s\n",
               static_cast<long long>(s.prompt_tokens), s.prefill_seconds,
               s.prompt_tokens / std::max(s.prefill_seconds, 1e-9), static_cast<long long>(s.new_tokens),
               s.decode_seconds, s.new_tokens / std::max(s.decode_seconds, 1e-9), s.stopped_by_eos ? "; stopped at EOS" : "");
}

CommandRegistrar reg(30, [](CLI::App& root) {
  auto a = std::make_shared<RunArgs>();
  auto* sub = root.add_subcommand("run", "generate text from a prompt");
  sub->add_option("-m,--model", a->model, "model directory (default: the bundled model)");
  sub->add_option("-p,--prompt", a->prompt, "prompt text");
  sub->add_option("--ids", a->ids, "prompt as token ids (comma or space separated, no BOS added)");
  sub->add_option("-n,--n-predict", a->n_predict, "tokens to generate")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_option("--temp,--temperature", a->temperature, "sampling temperature (0: greedy)");
  sub->add_option("--top-k", a->top_k, "keep the k most likely tokens (0: off)");
  sub->add_option("--top-p", a->top_p, "nucleus sampling mass (1: off)");
  sub->add_option("--min-p", a->min_p, "drop tokens below min-p times the top probability (0: off)");
  sub->add_option("--repeat-penalty", a->repeat_penalty, "repetition penalty (1: off)");
  sub->add_option("--repeat-last-n", a->repeat_last_n, "tokens of history the penalty considers (-1: all)");
  sub->add_option("-s,--seed", a->seed, "random seed (same seed, same output)");
  sub->add_flag("--ignore-eos", a->ignore_eos, "do not stop at the model's end-of-sequence ids");
  add_threads_option(sub, a->threads);
  sub->callback([a] { run(*a); });
});

}  // namespace
}  // namespace herd::cli
