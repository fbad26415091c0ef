// herd: command-line front end. Every subcommand is a thin layer over the library in src/.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace herd::cli {

namespace {
std::multimap<int, Setup>& registry() {
  static std::multimap<int, Setup> r;
  return r;
}
}  // namespace

CommandRegistrar::CommandRegistrar(int order, Setup setup) { registry().emplace(order, std::move(setup)); }

void setup_all(CLI::App& root) {
  for (auto& [_, s] : registry()) s(root);
}

std::string default_model_dir() {
  if (const char* env = std::getenv("HERD_MODEL")) return env;
  return std::string(HERD_SOURCE_DIR) + "/models/default";
}

void add_threads_option(CLI::App* sub, int& threads) {
  sub->add_option("-t,--threads", threads, "worker threads (default: all cores)")->check(CLI::Range(1, 1024));
}

void apply_threads(int threads) {
  if (threads > 0) ThreadPool::set_global_threads(threads);
}

}  // namespace herd::cli

int main(int argc, char** argv) {
  CLI::App app{"herd: Llama 4 mixture-of-experts inference and training engine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "herd 0.1.0");
  herd::cli::setup_all(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const herd::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "herd: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "herd: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
