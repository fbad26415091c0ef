// herd run: generate a continuation of a prompt (text, chat turn, or token ids), streamed, with
// optional session files that keep the read context for later runs.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "command.h"
#include "core/error.h"
#include "model/text_model.h"
#include "model_options.h"
#include "runtime/generator.h"
#include "runtime/session.h"
#include "runtime/token_ids.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace herd::cli {
namespace {

struct RunArgs {
  LoadFlags load;
  std::string model, prompt, file, ids, system, session;
  int64_t n_predict = 64;
  SamplingParams sampling;
  KVFlags kv;
  int threads = 0;
  bool ignore_eos = false, chat = false, special = false, no_bos = false, print_ids = false;
  bool session_ro = false, cont = false;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void run(const RunArgs& a) {
  apply_threads(a.threads);
  const std::string dir = a.model.empty() ? default_model_dir() : a.model;
  const bool have_text = !a.prompt.empty() || !a.file.empty();
  if (a.cont) {
    if (a.session.empty()) fail("--continue needs --session FILE");
    if (have_text || !a.ids.empty()) fail("--continue takes no prompt: it resumes the saved generation");
  } else if (have_text == !a.ids.empty()) {
    fail("give a prompt: -p TEXT and/or -f FILE, or --ids");
  }
  auto model = TextModel::load(dir, a.load.access(dir));
  const ModelConfig& c = model->config();
  std::unique_ptr<Tokenizer> tok;
  if (Tokenizer::model_dir_has_tokenizer(dir)) tok = Tokenizer::from_model_dir(dir);
  if ((have_text || a.chat) && !tok) fail(dir, ": no tokenizer (tokenizer.model or tokenizer.json); use --ids");

  std::vector<int32_t> prompt;
  if (!a.ids.empty()) {
    prompt = parse_token_ids(a.ids);
  } else if (have_text) {
    std::string text = (a.file.empty() ? "" : read_file(a.file)) + a.prompt;
    if (a.chat) {
      std::vector<ChatMessage> msgs;
      if (!a.system.empty()) msgs.push_back(chat_message("system", a.system));
      msgs.push_back(chat_message("user", text));
      prompt = render_chat(*tok, msgs, true);
    } else {
      if (!a.no_bos && c.bos_id >= 0) prompt.push_back(static_cast<int32_t>(c.bos_id));
      auto body = tok->encode(text, a.special);
      prompt.insert(prompt.end(), body.begin(), body.end());
    }
  }
  if (!a.cont && prompt.empty()) fail("empty prompt");

  GenerateOptions opts;
  opts.max_new_tokens = a.n_predict;
  opts.sampling = a.sampling;
  if (!a.ignore_eos) {
    for (auto e : c.eos_ids) opts.stop_ids.push_back(static_cast<int32_t>(e));
    if (tok && a.chat)
      for (auto e : chat_stop_ids(*tok)) opts.stop_ids.push_back(e);
  }
  auto cache = model->new_cache(a.kv.options());
  Generator gen(*model, *cache, opts);

  // Session: restore, then reuse the longest prefix the new prompt shares with it.
  int64_t reused = 0;
  const bool have_session = !a.session.empty() && std::filesystem::exists(a.session);
  if (a.cont && !have_session) fail(a.session, ": no such session file");
  if (have_session) {
    LoadedSession s = load_session(a.session, *model, *cache);
    Sampler sampler(a.cont ? s.sampling : a.sampling);
    if (a.cont) sampler.set_rng(s.rng);
    const auto saved = s.tokens;
    gen.restore(s.tokens, sampler, std::move(s.next_logits));
    if (!a.cont) {
      size_t common = 0;
      while (common < saved.size() && common < prompt.size() && saved[common] == prompt[common]) ++common;
      if (common == prompt.size() && common > 0) --common;  // recompute the last token for fresh logits
      if (common < saved.size()) {
        if (common > 0 && cache->can_truncate(static_cast<int64_t>(common))) {
          cache->truncate(static_cast<int64_t>(common));
        } else {
          common = 0;
          cache->clear();
        }
        gen.rewind(common);
      }
      reused = static_cast<int64_t>(common);
      gen.feed(std::vector<int32_t>(prompt.begin() + static_cast<std::ptrdiff_t>(common), prompt.end()));
    }
  } else {
    gen.feed(prompt);
  }

  const bool as_text = tok && a.ids.empty() && !a.print_ids;
  std::unique_ptr<StreamDecoder> dec;
  if (as_text) dec = std::make_unique<StreamDecoder>(*tok);
  bool first = true;
  gen.generate_more(a.n_predict, [&](int32_t id) {
    if (as_text) {
      if (!gen.is_stop(id)) std::fputs(dec->push(id).c_str(), stdout);
    } else {
      std::printf(first ? "%d" : " %d", id);
    }
    first = false;
    std::fflush(stdout);
    return true;
  });
  if (as_text) std::fputs(dec->flush().c_str(), stdout);
  std::printf("\n");
  std::fflush(stdout);
  if (!a.session.empty() && !a.session_ro) save_session(a.session, *model, *cache, gen);

  const GenerateStats& s = gen.stats();
  const auto mem = cache->memory_use();
  std::fprintf(stderr,
               "prompt %lld tokens (%lld reused from session) in %.3f s (%.1f tok/s); generated %lld tokens in %.3f s "
               "(%.1f tok/s)%s; KV %lld bytes in RAM, %lld on disk\n",
               static_cast<long long>(s.prompt_tokens), static_cast<long long>(reused), s.prefill_seconds,
               s.prompt_tokens / std::max(s.prefill_seconds, 1e-9), static_cast<long long>(s.new_tokens), s.decode_seconds,
               s.new_tokens / std::max(s.decode_seconds, 1e-9), s.stopped_by_eos ? "; stopped at end of turn" : "",
               static_cast<long long>(mem.ram_bytes), static_cast<long long>(mem.disk_bytes));
}

CommandRegistrar reg(30, [](CLI::App& root) {
  auto a = std::make_shared<RunArgs>();
  auto* sub = root.add_subcommand("run", "generate text from a prompt");
  sub->add_option("-m,--model", a->model, "model directory (default: the bundled model)");
  add_load_options(sub, a->load);
  sub->add_option("-p,--prompt", a->prompt, "prompt text (appended to --file when both are given)");
  sub->add_option("-f,--file", a->file, "read the prompt text from a file");
  sub->add_option("--ids", a->ids, "prompt as token ids (comma or space separated, no BOS added)");
  sub->add_flag("--chat", a->chat, "wrap the prompt as a user turn in the model's chat format");
  sub->add_option("--system", a->system, "system message (with --chat)");
  sub->add_flag("--special", a->special, "recognize special-token text such as <|eot|> in the prompt");
  sub->add_flag("--no-bos", a->no_bos, "do not start a text prompt with the BOS token");
  sub->add_flag("--print-ids", a->print_ids, "print generated token ids instead of text");
  sub->add_option("-n,--n-predict", a->n_predict, "tokens to generate")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  add_sampling_options(sub, a->sampling);
  sub->add_flag("--ignore-eos", a->ignore_eos, "do not stop at the model's end-of-sequence ids");
  add_kv_options(sub, a->kv);
  sub->add_option("--session", a->session,
                  "session file: restored when it exists (the prompt prefix it shares is not recomputed), saved after the run");
  sub->add_flag("--session-ro", a->session_ro, "use --session without writing it back");
  sub->add_flag("--continue", a->cont, "resume generating exactly where --session stopped (same sampler state)");
  add_threads_option(sub, a->threads);
  sub->callback([a] { run(*a); });
});

}  // namespace
}  // namespace herd::cli
