#pragma once
// Helpers shared by the test suites: locating ../shared, reading fixture files, running the CLI.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herd::test {

// ../shared next to the repository (or $HERD_SHARED). Tests that need it skip with a clear
// message when it is absent rather than pass silently.
std::filesystem::path shared_dir();
std::filesystem::path testdata(const std::string& rel);
bool have_shared();

std::vector<float> read_f32(const std::filesystem::path& p);
std::string read_text(const std::filesystem::path& p);
nlohmann::json read_json(const std::filesystem::path& p);
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p);

// A fresh empty directory under the build's temp area, removed at process exit is not
// guaranteed: tests clean up what they create.
std::filesystem::path temp_dir(const std::string& tag);
void write_file(const std::filesystem::path& p, const std::string& bytes);

struct CommandResult {
  int exit_code;
  std::string out;  // stdout, and stderr too when merged
};
// Runs the herd binary built with this tree with the given argument string (no stdin).
CommandResult run_herd(const std::string& args, bool merge_stderr = true);

}  // namespace herd::test

#define HERD_REQUIRE_SHARED()                                               \
  do {                                                                      \
    if (!::herd::test::have_shared()) GTEST_SKIP() << "../shared not found"; \
  } while (0)
