#include "runtime/token_ids.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace herd {

std::vector<int32_t> parse_token_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  const size_t n = text.size();
  auto sep = [](char ch) { return ch == ',' || ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '[' || ch == ']'; };
  while (i < n) {
    while (i < n && sep(text[i])) ++i;
    if (i >= n) break;
    size_t j = i;
    while (j < n && !sep(text[j])) ++j;
    std::string tok = text.substr(i, j - i);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(tok.c_str(), &end, 10);
    if (end != tok.c_str() + tok.size() || errno != 0 || v < 0 || v > INT32_MAX)
      fail("bad token id '", tok, "' (expected a non-negative integer)");
    ids.push_back(static_cast<int32_t>(v));
    i = j;
  }
  return ids;
}

std::vector<int32_t> read_token_ids_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(path, ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return parse_token_ids(ss.str());
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

}  // namespace herd
