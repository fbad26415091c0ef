// herd chat: an interactive conversation that keeps its context. Each turn renders the whole
// conversation in the model's chat format and feeds only what the KV cache does not hold yet.
#include <cstdio>
#include <iostream>

#include "command.h"
#include "core/error.h"
#include "model/text_model.h"
#include "model_options.h"
#include "runtime/generator.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace herd::cli {
namespace {

struct ChatArgs {
  LoadFlags load;
  std::string model, system;
  int64_t n_predict = 512;
  SamplingParams sampling;
  KVFlags kv;
  int threads = 0;
  bool quiet = false;
};

void chat(const ChatArgs& a) {
  apply_threads(a.threads);
  const std::string dir = a.model.empty() ? default_model_dir() : a.model;
  auto model = TextModel::load(dir, a.load.access(dir));
  auto tok = Tokenizer::from_model_dir(dir);
  GenerateOptions opts;
  opts.max_new_tokens = a.n_predict;
  opts.sampling = a.sampling;
  opts.stop_ids = chat_stop_ids(*tok);
  auto cache = model->new_cache(a.kv.options());
  Generator gen(*model, *cache, opts);
  std::vector<ChatMessage> msgs;
  if (!a.system.empty()) msgs.push_back(chat_message("system", a.system));
  const int32_t eom = tok->token_id("<|eom|>").value_or(-1);
  if (!a.quiet) std::fprintf(stderr, "herd chat: type a message; /reset starts over, /exit or end of input quits\n");

  std::string line;
  while (true) {
    if (!a.quiet) {
      std::fputs("> ", stderr);
      std::fflush(stderr);
    }
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      msgs.resize(a.system.empty() ? 0 : 1);
      continue;
    }
    if (line.empty()) continue;
    msgs.push_back(chat_message("user", line));
    std::vector<int32_t> ids = render_chat(*tok, msgs, true);
    if (model->config().max_position > 0 && static_cast<int64_t>(ids.size()) >= model->config().max_position) {
      std::fprintf(stderr, "herd chat: the conversation (%zu tokens) no longer fits the context of %lld; use /reset\n",
                   ids.size(), static_cast<long long>(model->config().max_position));
      msgs.pop_back();
      continue;
    }
    // Reuse the cached prefix this rendering shares with what was already fed.
    const auto& hist = gen.history();
    size_t common = 0;
    while (common < hist.size() && common < ids.size() && hist[common] == ids[common]) ++common;
    if (common == ids.size()) --common;
    if (common < hist.size()) {
      if (!cache->can_truncate(static_cast<int64_t>(common))) common = 0;
      cache->truncate(static_cast<int64_t>(common));
      gen.rewind(common);
    }
    gen.feed(std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(common), ids.end()));
    StreamDecoder dec(*tok);
    const int64_t generated_before = gen.stats().new_tokens;
    std::string reply;
    int32_t last = -1;
    gen.generate_more(a.n_predict, [&](int32_t id) {
      last = id;
      if (gen.is_stop(id)) return true;
      std::string piece = dec.push(id);
      reply += piece;
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::string tail = dec.flush();
    reply += tail;
    std::printf("%s\n", tail.c_str());
    std::fflush(stdout);
    ChatMessage answer = chat_message("assistant", reply);
    if (last == eom) answer.stop_reason = "end_of_message";
    msgs.push_back(answer);
    if (!a.quiet)
      std::fprintf(stderr, "[%zu prompt tokens, %zu reused, %lld generated]\n", ids.size(), common,
                   static_cast<long long>(gen.stats().new_tokens - generated_before));
  }
}

CommandRegistrar reg(35, [](CLI::App& root) {
  auto a = std::make_shared<ChatArgs>();
  auto* sub = root.add_subcommand("chat", "interactive chat that keeps the conversation");
  sub->add_option("-m,--model", a->model, "model directory (default: the bundled model)");
  add_load_options(sub, a->load);
  sub->add_option("--system", a->system, "system message");
  sub->add_option("-n,--n-predict", a->n_predict, "most tokens per reply")->capture_default_str();
  add_sampling_options(sub, a->sampling);
  add_kv_options(sub, a->kv);
  sub->add_flag("-q,--quiet", a->quiet, "no prompts or statistics on stderr");
  add_threads_option(sub, a->threads);
  sub->callback([a] { chat(*a); });
});

}  // namespace
}  // namespace herd::cli
