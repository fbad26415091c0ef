// The general pre-tokenizer: any pattern from a tokenizer.json, run on PCRE2 (UTF + UCP, JIT).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace herd {

namespace {

// Unicode White_Space, as PCRE2 class items.
const char kWhiteSpaceItems[] =
    "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

class Pcre2PreTokenizer final : public PreTokenizer {
 public:
  explicit Pcre2PreTokenizer(const std::string& pattern) {
    pattern_ = pattern;
    std::string rewritten = rewrite_whitespace_classes(pattern);
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fail("pre-tokenizer regex does not compile (PCRE2: ", reinterpret_cast<const char*>(msg),
           " at offset ", off, "): ", pattern);
    }
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  }
  ~Pcre2PreTokenizer() override { pcre2_code_free(code_); }

  void split(std::string_view text, std::vector<uint32_t>& ends) const override {
    if (text.empty()) return;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    if (!md) fail("out of memory in pre-tokenizer");
    PCRE2_SPTR subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t n = text.size();
    size_t pos = 0;       // next search position
    size_t emitted = 0;   // end of the last piece
    while (pos < n) {
      int rc = jit_ ? pcre2_jit_match(code_, subject, n, pos, 0, md, nullptr)
                    : pcre2_match(code_, subject, n, pos, 0, md, nullptr);
      if (rc < 0) break;  // no further match (or a matching error): the rest is one piece
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t s = ov[0], e = ov[1];
      if (e == s) {  // empty match: step over one character, it joins the next gap
        uint32_t cp;
        pos = s + utf8::decode(subject + s, subject + n, &cp);
        continue;
      }
      if (s > emitted) ends.push_back(static_cast<uint32_t>(s));  // unmatched gap: its own piece
      ends.push_back(static_cast<uint32_t>(e));
      emitted = pos = e;
    }
    if (emitted < n) ends.push_back(static_cast<uint32_t>(n));
    pcre2_match_data_free(md);
  }
  const char* engine() const override { return "pcre2"; }

 private:
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

}  // namespace

std::string rewrite_whitespace_classes(const std::string& p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  bool class_start = false;  // just after '[' or '[^': a ']' here is a literal
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char e = p[i + 1];
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpaceItems) : "[" + std::string(kWhiteSpaceItems) + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpaceItems) + "]";
      } else if (e == 'Q') {  // \Q...\E literal span: copy through unchanged
        size_t close = p.find("\\E", i + 2);
        size_t stop = close == std::string::npos ? p.size() : close + 2;
        out.append(p, i, stop - i);
        i = stop - 1;
        class_start = false;
        continue;
      } else {
        out += c;
        out += e;
      }
      ++i;
      class_start = false;
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX [:name:]
        size_t close = p.find(":]", i + 2);
        if (close != std::string::npos) {
          out.append(p, i, close + 2 - i);
          i = close + 1;
          class_start = false;
          continue;
        }
      }
      if (c == ']' && !class_start) in_class = false;
      out += c;
      class_start = false;
      continue;
    }
    out += c;
    if (c == '[') {
      in_class = true;
      class_start = true;
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out += '^';
        ++i;
      }
    }
  }
  return out;
}

std::unique_ptr<PreTokenizer> make_pcre2_pretokenizer(const std::string& pattern) {
  return std::make_unique<Pcre2PreTokenizer>(pattern);
}

}  // namespace herd
