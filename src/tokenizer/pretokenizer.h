#pragma once
// Pre-tokenization: cutting text into the pieces that BPE encodes one at a time.
//
// The split follows a regular expression with the semantics of the Rust `regex`/`fancy-regex`
// crates that tiktoken uses (leftmost-first alternation, greedy quantifiers, `\s` = Unicode
// White_Space). Two patterns are matched by hand-written scanners (the o200k pattern used by
// Llama 4 and the Llama 3 pattern); any other pattern runs on PCRE2 (see pretokenizer_pcre2.h).
//
// Pieces always cover the input: text that the pattern does not match becomes a piece of its own
// (Hugging Face `Split` with behavior `Isolated`). Bytes that are not well-formed UTF-8 never make
// the scanners fail: each such byte is classed like a symbol (neither letter, number nor space).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace herd {

// The exact pattern strings recognised for the hand-written scanners.
extern const char kO200kPattern[];
extern const char kLlama3Pattern[];

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Appends to `ends` the end offset (from text.data()) of each piece, in order; the last one is
  // text.size(). Appends nothing for empty text.
  virtual void split(std::string_view text, std::vector<uint32_t>& ends) const = 0;
  virtual const char* engine() const = 0;  // "o200k-scanner", "llama3-scanner" or "pcre2"
  const std::string& pattern() const { return pattern_; }

  // A scanner for the two known patterns, PCRE2 for anything else (or when force_pcre2).
  static std::unique_ptr<PreTokenizer> create(const std::string& pattern, bool force_pcre2 = false);

 protected:
  std::string pattern_;
};

std::unique_ptr<PreTokenizer> make_scanner_pretokenizer(const std::string& pattern);  // null if unknown
std::unique_ptr<PreTokenizer> make_pcre2_pretokenizer(const std::string& pattern);

// Rewrites `\s` / `\S` in a regex so that PCRE2 matches Unicode White_Space exactly (PCRE2's own
// `\s` with UCP misses U+0085). Exposed for tests.
std::string rewrite_whitespace_classes(const std::string& pattern);

}  // namespace herd
