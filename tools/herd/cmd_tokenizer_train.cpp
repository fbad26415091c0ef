// herd tokenizer train: byte-level BPE with the Llama 4 pre-tokenizer on UTF-8 text files;
// writes tokenizer.model (tiktoken) and tokenizer.json (Hugging Face) into the output directory.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "command.h"
#include "core/error.h"
#include "train/bpe.h"

namespace herd::cli {
namespace {

struct TokTrainArgs {
  std::vector<std::string> inputs;
  std::string out;
  int vocab = 4096;
  int64_t min_freq = 2;
  int64_t max_bytes = 0;
};

void run_tok_train(const TokTrainArgs& a) {
  using namespace herd::train;
  std::vector<std::string> texts;
  int64_t budget = a.max_bytes > 0 ? a.max_bytes : INT64_MAX;
  for (const auto& p : a.inputs) {
    std::ifstream f(p, std::ios::binary);
    if (!f) fail(p, ": cannot open");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (int64_t bad = find_invalid_utf8(s); bad >= 0) fail(p, ": not UTF-8 text (invalid byte sequence at offset ", bad, ")");
    if (static_cast<int64_t>(s.size()) > budget) {  // cut at a line end within the budget
      size_t cut = s.rfind('\n', static_cast<size_t>(budget));
      s.resize(cut == std::string::npos ? 0 : cut);
    }
    budget -= static_cast<int64_t>(s.size());
    texts.push_back(std::move(s));
    if (budget <= 0) break;
  }
  size_t total = 0;
  for (auto& t : texts) total += t.size();
  if (total == 0) fail("tokenizer train: the input is empty");
  auto t0 = std::chrono::steady_clock::now();
  BpeVocab v = train_bpe(texts, {a.vocab, a.min_freq}, [](int done, int all) {
    std::fprintf(stderr, "\rmerges %d / %d", done, all);
  });
  std::fprintf(stderr, "\n");
  std::filesystem::create_directories(a.out);
  write_tiktoken(a.out + "/tokenizer.model", v);
  write_tokenizer_json(a.out + "/tokenizer.json", v);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s/tokenizer.model and tokenizer.json: %zu ranks + 2048 special tokens (vocab %zu) from %zu bytes in %.1f s\n",
              a.out.c_str(), v.tokens.size(), v.tokens.size() + 2048, total, s);
  if (static_cast<int>(v.tokens.size()) < a.vocab)
    std::printf("note: stopped at %zu ranks: no pair occurs %lld times or more\n", v.tokens.size(),
                static_cast<long long>(a.min_freq));
}

CommandRegistrar reg(92, [](CLI::App& root) {
  auto a = std::make_shared<TokTrainArgs>();
  CLI::App* tok = root.add_subcommand("tokenizer", "tokenizer tools (train)");
  tok->require_subcommand(1);
  auto* sub = tok->add_subcommand("train", "train a byte-level BPE tokenizer (Llama 4 pre-tokenizer) on text files");
  sub->add_option("inputs", a->inputs, "UTF-8 text files")->required()->check(CLI::ExistingFile);
  sub->add_option("-o,--out", a->out, "output directory")->required();
  sub->add_option("--vocab-size", a->vocab, "ranks including the 256 bytes (specials come on top)")
      ->capture_default_str()->check(CLI::Range(256, 63488));
  sub->add_option("--min-frequency", a->min_freq, "stop when the best pair occurs fewer times")->capture_default_str();
  sub->add_option("--max-bytes", a->max_bytes, "read at most this many bytes of input (0: all)")->capture_default_str();
  sub->callback([a] { run_tok_train(*a); });
});

}  // namespace
}  // namespace herd::cli
