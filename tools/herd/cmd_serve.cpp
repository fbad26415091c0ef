// herd serve: an OpenAI-compatible HTTP server with continuous batching (see docs/server.md).
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "command.h"
#include "core/error.h"
#include "model/text_model.h"
#include "model_options.h"
#include "server/http_server.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace herd::cli {
namespace {

struct ServeArgs {
  LoadFlags load;
  std::string model, alias, tokenizer;
  server::ServerOptions opts;
  std::string max_body = "4M";
  KVFlags kv;
  int threads = 0;
};

int g_signal_pipe[2] = {-1, -1};

void on_signal(int) {
  const char c = 's';
  (void)!write(g_signal_pipe[1], &c, 1);
}

size_t parse_bytes(const std::string& s) {
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (...) {
    fail("bad size '", s, "' (e.g. 512K, 4M)");
  }
  std::string unit = s.substr(pos);
  double mult = 1;
  if (unit == "K" || unit == "k" || unit == "KiB") mult = 1024;
  else if (unit == "M" || unit == "MiB") mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB") mult = 1024.0 * 1024 * 1024;
  else if (!unit.empty() && unit != "B") fail("bad size unit in '", s, "'");
  if (v <= 0) fail("size must be positive: '", s, "'");
  return static_cast<size_t>(v * mult);
}

void serve(ServeArgs& a) {
  apply_threads(a.threads);
  const std::string dir = a.model.empty() ? default_model_dir() : a.model;
  if (a.opts.sched.parallel < 1) fail("--parallel must be at least 1");
  if (a.opts.port < 0 || a.opts.port > 65535) fail("--port must be between 0 and 65535");
  auto model = TextModel::load(dir, a.load.access(dir));
  const std::string tok_path = !a.tokenizer.empty() ? a.tokenizer
                               : std::filesystem::is_directory(dir) ? dir
                                                                    : std::filesystem::path(dir).parent_path().string();
  auto tok = std::filesystem::is_directory(tok_path) ? Tokenizer::from_model_dir(tok_path) : Tokenizer::from_file(tok_path);
  a.opts.model_id = !a.alias.empty() ? a.alias : std::filesystem::path(dir).filename().string();
  if (a.opts.model_id.empty()) a.opts.model_id = "herd";
  a.opts.max_body_bytes = parse_bytes(a.max_body);
  a.opts.sched.kv = a.kv.options();
  a.opts.sched.stop_ids = chat_stop_ids(*tok);
  if (a.opts.sched.prefix_cache == static_cast<size_t>(-1)) a.opts.sched.prefix_cache = a.opts.sched.parallel * 2;
  if (a.opts.sched.ctx <= 0) {
    const int64_t max_pos = model->config().max_position;
    a.opts.sched.ctx = max_pos > 0 ? std::min<int64_t>(max_pos, 4096) : 4096;
  }

  server::Server srv(*model, *tok, a.opts);
  const int port = srv.bind();
  std::fprintf(stderr, "herd serve: model '%s' (%s), %d parallel, context %lld\n", a.opts.model_id.c_str(),
               dir.c_str(), a.opts.sched.parallel, static_cast<long long>(a.opts.sched.ctx));
  std::fprintf(stderr, "herd serve: listening on http://%s:%d\n", a.opts.host.c_str(), port);
  std::fflush(stderr);
  // SIGINT/SIGTERM: the handler only writes a byte to a pipe (async-signal-safe); a thread of
  // our own reads it and stops the server, whichever thread the signal landed on.
  if (pipe(g_signal_pipe) != 0) fail("cannot create a pipe: ", std::strerror(errno));
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::thread sig([&] {
    char c = 0;
    while (read(g_signal_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    if (c == 's') srv.stop();
  });
  srv.serve();
  const char quit = 'q';
  (void)!write(g_signal_pipe[1], &quit, 1);  // wakes the reader when serve() ended otherwise
  sig.join();
  std::fprintf(stderr, "herd serve: stopped\n");
}

CommandRegistrar reg(40, [](CLI::App& root) {
  auto a = std::make_shared<ServeArgs>();
  a->opts.sched.ctx = 0;
  a->opts.sched.prefix_cache = static_cast<size_t>(-1);
  auto* sub = root.add_subcommand("serve", "OpenAI-compatible HTTP server with continuous batching");
  sub->add_option("-m,--model", a->model, "model directory or GGUF file (default: the bundled model)");
  add_load_options(sub, a->load);
  sub->add_option("--tokenizer", a->tokenizer, "tokenizer file or directory (default: the model's)");
  sub->add_option("--alias", a->alias, "model name clients use (default: the model directory's name)");
  sub->add_option("--host", a->opts.host, "address to listen on (loopback by default)")->capture_default_str();
  sub->add_option("--port", a->opts.port, "port (0: any free port, printed at start)")->capture_default_str();
  sub->add_option("--parallel", a->opts.sched.parallel, "sequences decoded together in one batch")
      ->capture_default_str();
  sub->add_option("--ctx", a->opts.sched.ctx, "positions per sequence, prompt and completion (default: 4096 or the model's maximum)");
  sub->add_option("--queue", a->opts.sched.max_queue, "requests that may wait for a slot; more get 429")
      ->capture_default_str();
  sub->add_option("--prefill-slice", a->opts.sched.prefill_slice, "most prompt tokens of one sequence per batch")
      ->capture_default_str();
  sub->add_option("--prefill-budget", a->opts.sched.prefill_budget, "most prompt tokens of all sequences per batch")
      ->capture_default_str();
  sub->add_option("--prefix-cache", a->opts.sched.prefix_cache,
                  "finished sequences kept for prompt-prefix reuse (default: 2 x --parallel; 0: off)");
  sub->add_option("--api-key", a->opts.api_key, "require 'Authorization: Bearer KEY' on /v1/*");
  sub->add_option("--max-body", a->max_body, "largest request body (larger: 413)")->capture_default_str();
  sub->add_option("--timeout", a->opts.read_timeout_s, "seconds a client may stall while sending or receiving")
      ->capture_default_str();
  add_kv_options(sub, a->kv);
  add_threads_option(sub, a->threads);
  sub->callback([a] { serve(*a); });
});

}  // namespace
}  // namespace herd::cli
