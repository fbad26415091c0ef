#pragma once
// Stop strings over streamed text: text is released as soon as it can no longer be the start of a
// stop string; a match ends generation and drops the stop string and everything after it.
#include <string>
#include <vector>

namespace herd::server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Adds generated text; returns the text now safe to send. After a match, stopped() is true and
  // the returned text ends just before the stop string.
  std::string push(const std::string& text);
  // Everything still held back (generation ended without a match).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace herd::server
