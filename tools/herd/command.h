#pragma once
// Each herd subcommand lives in its own cmd_*.cpp and registers itself here at start-up, so
// adding a command touches no shared file.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace herd::cli {

using Setup = std::function<void(CLI::App& root)>;

struct CommandRegistrar {
  CommandRegistrar(int order, Setup setup);  // lower order is listed first in --help
};

void setup_all(CLI::App& root);

// Where the default model lives: $HERD_MODEL, else <source dir>/models/default.
std::string default_model_dir();

// Adds -t/--threads to a subcommand; call apply_threads() at the start of its callback.
void add_threads_option(CLI::App* sub, int& threads);
void apply_threads(int threads);

}  // namespace herd::cli
