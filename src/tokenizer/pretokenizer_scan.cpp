// Hand-written matchers for the o200k (Llama 4) and Llama 3 pre-tokenizer patterns. Each function
// returns the length of the regex match that starts at p, reproducing the backtracking order of
// the pattern alternative by alternative (see the comments at each step).
#include <array>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace herd {

const char kO200kPattern[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
    "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const char kLlama3Pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

namespace {

using namespace herd::unicode;
using u8 = uint8_t;

struct AsciiTable {
  std::array<u8, 128> f{};
  AsciiTable() {
    for (uint32_t c = 0; c < 128; ++c) f[c] = unicode_flags(c);
  }
};
const AsciiTable kAscii;

struct Ch {
  u8 flags;
  u8 len;
};

inline Ch peek(const u8* p, const u8* end) {
  u8 b = *p;
  if (b < 0x80) return Ch{kAscii.f[b], 1};
  uint32_t cp;
  size_t n = utf8::decode(p, end, &cp);
  if (cp == utf8::kInvalid) return Ch{0, 1};  // invalid byte: a "symbol"
  return Ch{unicode_flags(cp), static_cast<u8>(n)};
}

inline bool prefix_ok(u8 f) { return !(f & (kLetter | kNumber | kCrLf)); }  // [^\r\n\p{L}\p{N}]
inline bool other_ok(u8 f) { return !(f & (kWhiteSpace | kLetter | kNumber)); }  // [^\s\p{L}\p{N}]

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at p: length or 0. Case folding as in Unicode mode: 's' also matches
// U+017F LATIN SMALL LETTER LONG S (C5 BF), and 'k'-like special folds do not occur in these words.
inline size_t contraction(const u8* p, const u8* end) {
  if (p >= end || *p != '\'') return 0;
  if (end - p < 2) return 0;
  u8 c = p[1] | 0x20;
  if (c == 's' || c == 't' || c == 'm' || c == 'd') {
    if ((p[1] & 0x80) == 0) return 2;
  }
  if (p[1] == 0xC5 && end - p >= 3 && p[2] == 0xBF) return 3;  // 'ſ
  if (end - p < 3 || (p[1] & 0x80) || (p[2] & 0x80)) return 0;
  u8 d = p[2] | 0x20;
  if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return 3;
  return 0;
}

// [A]*[B]+(?i:...)? starting at q (after the optional prefix). Returns the end or nullptr.
// Greedy A* then B+: if the character after the maximal A-run is in B, B+ runs from there;
// otherwise A* backs off to the last A-run character that is also in B (Lm, Lo, M), and B+ is
// that one character (the one after it is A-only or ends the run).
inline const u8* o200k_lower_word(const u8* q, const u8* end) {
  const u8* r = q;
  const u8* last_b = nullptr;
  size_t last_b_len = 0;
  Ch c{0, 0};
  while (r < end) {
    c = peek(r, end);
    if (!(c.flags & kUpperish)) break;
    if (c.flags & kLowerish) {
      last_b = r;
      last_b_len = c.len;
    }
    r += c.len;
  }
  const u8* m;
  if (r < end && (c.flags & kLowerish)) {
    r += c.len;
    while (r < end) {
      c = peek(r, end);
      if (!(c.flags & kLowerish)) break;
      r += c.len;
    }
    m = r;
  } else if (last_b) {
    m = last_b + last_b_len;
  } else {
    return nullptr;
  }
  return m + contraction(m, end);
}

// [A]+[B]*(?i:...)? starting at q.
inline const u8* o200k_upper_word(const u8* q, const u8* end) {
  const u8* r = q;
  while (r < end) {
    Ch c = peek(r, end);
    if (!(c.flags & kUpperish)) break;
    r += c.len;
  }
  if (r == q) return nullptr;
  while (r < end) {
    Ch c = peek(r, end);
    if (!(c.flags & kLowerish)) break;
    r += c.len;
  }
  return r + contraction(r, end);
}

// \s*[\r\n]+ | \s+(?!\S) | \s+ at p, where the character at p is white space.
inline size_t whitespace_run(const u8* p, const u8* end) {
  const u8* r = p;
  const u8* last_crlf_end = nullptr;
  const u8* last_start = p;
  size_t count = 0;
  while (r < end) {
    Ch c = peek(r, end);
    if (!(c.flags & kWhiteSpace)) break;
    if (c.flags & kCrLf) last_crlf_end = r + c.len;
    last_start = r;
    r += c.len;
    ++count;
  }
  if (last_crlf_end) return static_cast<size_t>(last_crlf_end - p);  // \s*[\r\n]+
  if (r == end) return static_cast<size_t>(r - p);                     // \s+(?!\S) at the end
  if (count >= 2) return static_cast<size_t>(last_start - p);          // \s+(?!\S): leave one
  return static_cast<size_t>(r - p);                                   // \s+
}

// ` ?[^\s\p{L}\p{N}]+` followed by [\r\n/]* (o200k) or [\r\n]* (Llama 3). 0 if no match.
template <bool kSlash>
inline size_t symbols(const u8* p, const u8* end, Ch c0) {
  const u8* r = p;
  if (*p == ' ' && p + 1 < end && other_ok(peek(p + 1, end).flags)) {
    r = p + 1;
  } else if (!other_ok(c0.flags)) {
    return 0;
  }
  while (r < end) {
    Ch c = peek(r, end);
    if (!other_ok(c.flags)) break;
    r += c.len;
  }
  while (r < end && (*r == '\r' || *r == '\n' || (kSlash && *r == '/'))) ++r;
  return static_cast<size_t>(r - p);
}

inline size_t digits(const u8* p, const u8* end) {  // \p{N}{1,3}, first char known to be N
  const u8* r = p;
  for (int i = 0; i < 3 && r < end; ++i) {
    Ch c = peek(r, end);
    if (!(c.flags & kNumber)) break;
    r += c.len;
  }
  return static_cast<size_t>(r - p);
}

size_t match_o200k(const u8* p, const u8* end) {
  Ch c0 = peek(p, end);
  const u8* q = p + c0.len;
  const u8* m;
  if (prefix_ok(c0.flags)) {
    // Alternative 1 with the optional prefix taken, then without it; then alternative 2 likewise.
    // (Without the prefix the first character must itself be in the class: only marks can be.)
    if (q < end && (m = o200k_lower_word(q, end))) return static_cast<size_t>(m - p);
    if ((c0.flags & (kUpperish | kLowerish)) && (m = o200k_lower_word(p, end))) return static_cast<size_t>(m - p);
    if (q < end && (m = o200k_upper_word(q, end))) return static_cast<size_t>(m - p);
    if ((c0.flags & kUpperish) && (m = o200k_upper_word(p, end))) return static_cast<size_t>(m - p);
  } else if (c0.flags & (kUpperish | kLowerish)) {
    if ((m = o200k_lower_word(p, end))) return static_cast<size_t>(m - p);
    if ((m = o200k_upper_word(p, end))) return static_cast<size_t>(m - p);
  }
  if (c0.flags & kNumber) return digits(p, end);
  if (size_t n = symbols<true>(p, end, c0)) return n;
  if (c0.flags & kWhiteSpace) return whitespace_run(p, end);
  return c0.len;  // unreachable for this pattern: every character starts some alternative
}

size_t match_llama3(const u8* p, const u8* end) {
  if (size_t n = contraction(p, end)) return n;
  Ch c0 = peek(p, end);
  const u8* q = p + c0.len;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  const u8* start = nullptr;
  if (prefix_ok(c0.flags)) {
    if (q < end && (peek(q, end).flags & kLetter)) start = q;
  } else if (c0.flags & kLetter) {
    start = p;
  }
  if (start) {
    const u8* r = start;
    while (r < end) {
      Ch c = peek(r, end);
      if (!(c.flags & kLetter)) break;
      r += c.len;
    }
    return static_cast<size_t>(r - p);
  }
  if (c0.flags & kNumber) return digits(p, end);
  if (size_t n = symbols<false>(p, end, c0)) return n;
  if (c0.flags & kWhiteSpace) return whitespace_run(p, end);
  return c0.len;
}

template <size_t (*kMatch)(const u8*, const u8*)>
class ScannerPreTokenizer final : public PreTokenizer {
 public:
  ScannerPreTokenizer(const std::string& pattern, const char* name) : name_(name) { pattern_ = pattern; }
  void split(std::string_view text, std::vector<uint32_t>& ends) const override {
    const u8* base = reinterpret_cast<const u8*>(text.data());
    const u8* p = base;
    const u8* end = base + text.size();
    while (p < end) {
      p += kMatch(p, end);
      ends.push_back(static_cast<uint32_t>(p - base));
    }
  }
  const char* engine() const override { return name_; }

 private:
  const char* name_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_scanner_pretokenizer(const std::string& pattern) {
  if (pattern == kO200kPattern)
    return std::make_unique<ScannerPreTokenizer<match_o200k>>(pattern, "o200k-scanner");
  if (pattern == kLlama3Pattern)
    return std::make_unique<ScannerPreTokenizer<match_llama3>>(pattern, "llama3-scanner");
  return nullptr;
}

std::unique_ptr<PreTokenizer> PreTokenizer::create(const std::string& pattern, bool force_pcre2) {
  if (!force_pcre2) {
    if (auto s = make_scanner_pretokenizer(pattern)) return s;
  }
  return make_pcre2_pretokenizer(pattern);
}

}  // namespace herd
