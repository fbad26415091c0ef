#pragma once
// herd reports every user-facing failure (bad file, bad flag, bad shape) as herd::Error with a
// message that names the thing at fault; front ends print it and exit non-zero.
#include <sstream>
#include <stdexcept>
#include <string>

namespace herd {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// cat("a", 1, 'b') -> "a1b"; used to build error messages without a format library.
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream ss;
  (ss << ... << args);
  return ss.str();
}

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(cat(args...));
}

}  // namespace herd
