// herd convert: Hugging Face Llama 4 checkpoint -> GGUF (llama.cpp-compatible).
#include <chrono>
#include <cstdio>

#include "command.h"
#include "core/error.h"
#include "formats/gguf_convert.h"
#include "runtime/format.h"

namespace herd::cli {
namespace {

struct ConvertArgs {
  std::string model, out, type = "q4_k_m", vocab;
  int threads = 0;
  bool quiet = false;
};

void run_convert(const ConvertArgs& a) {
  apply_threads(a.threads);
  const auto t0 = std::chrono::steady_clock::now();
  int last = -1;
  auto bar = [&](size_t done, size_t total) {
    const int pct = total ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)) : 100;
    if (a.quiet || pct == last) return;
    last = pct;
    const int width = 30;
    const int fill = total ? static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * width) : width;
    std::string b(fill, '#');
    b.resize(width, ' ');
    std::fprintf(stderr, "\r[%s] %3d%%  %s / %s", b.c_str(), pct,
                 human_bytes(static_cast<int64_t>(done)).c_str(), human_bytes(static_cast<int64_t>(total)).c_str());
    std::fflush(stderr);
  };
  ConvertStats st = convert_hf_to_gguf(a.model, a.out, a.type, bar, a.vocab);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.quiet) std::fprintf(stderr, "\n");
  std::printf("wrote %s (%s, %s) in %.1f s\n", a.out.c_str(), a.type.c_str(), human_bytes(static_cast<int64_t>(st.bytes)).c_str(), s);
}

CommandRegistrar reg(85, [](CLI::App& root) {
  auto a = std::make_shared<ConvertArgs>();
  auto* sub = root.add_subcommand("convert", "convert a Hugging Face Llama 4 checkpoint to GGUF");
  sub->add_option("-m,--model", a->model, "Hugging Face model directory")->required();
  sub->add_option("-o,--out", a->out, "output .gguf file (written to OUT.tmp, then renamed)")->required();
  sub->add_option("--type", a->type, "f32 | f16 | bf16 | q8_0 | q4_0 | q4_k_m")->capture_default_str();
  sub->add_option("--vocab", a->vocab, "GGUF file whose embedded tokenizer (tokenizer.* keys) to copy in");
  sub->add_flag("-q,--quiet", a->quiet, "no progress bar");
  add_threads_option(sub, a->threads);
  sub->callback([a] { run_convert(*a); });
});

}  // namespace
}  // namespace herd::cli
