#pragma once
// Incremental detokenization for streaming output: push ids one at a time and get text that never
// ends in the middle of a UTF-8 character. Concatenating every push() and the final flush() gives
// exactly Tokenizer::decode() of the same ids. Bytes that can never form a valid character are
// passed through as they are, as soon as that is certain.
#include <cstdint>
#include <string>

namespace herd {

class Tokenizer;

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(&tok) {}
  std::string push(int32_t id);  // throws herd::Error on an unknown id
  std::string flush();           // whatever is held back (an unfinished character), then reset
  size_t pending() const { return held_.size(); }

 private:
  const Tokenizer* tok_;
  std::string held_;
};

}  // namespace herd
