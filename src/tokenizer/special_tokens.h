#pragma once
// Special (and Hugging Face "added") tokens: their ids, and finding them in text.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herd {

struct SpecialToken {
  std::string text;
  int32_t id = -1;
  bool special = true;  // false: a Hugging Face added token with "special": false
  bool lstrip = false;  // Hugging Face: the match also swallows white space on its left / right
  bool rstrip = false;
};

class SpecialTokens {
 public:
  void add(SpecialToken t);  // later duplicates of a text are ignored
  size_t size() const { return tokens_.size(); }
  const std::vector<SpecialToken>& all() const { return tokens_; }
  std::optional<int32_t> id_of(std::string_view text) const;
  bool has_non_special() const { return has_non_special_; }

  struct Match {
    size_t begin, end;  // byte range in the text, including any stripped white space
    int32_t id;
  };
  // The leftmost occurrence at or after `from` of a token that is recognised (special ones only
  // when allow_special; non-special added tokens always); the longest one if several start there.
  std::optional<Match> find(std::string_view text, size_t from, bool allow_special) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
    int32_t token = -1;                              // index into tokens_
  };
  int32_t child(int32_t node, uint8_t b) const;
  std::vector<SpecialToken> tokens_;
  std::unordered_map<std::string, size_t> by_text_;
  std::vector<Node> trie_{Node{}};
  bool first_byte_[256] = {};
  int n_first_bytes_ = 0;
  uint8_t only_first_byte_ = 0;
  bool has_non_special_ = false;
};

// The 2,048 Llama 4 special tokens in id order (ids 200000..202047), per Meta's layout.
std::vector<std::string> llama4_special_token_texts();
constexpr int32_t kLlama4NumBaseTokens = 200000;

}  // namespace herd
