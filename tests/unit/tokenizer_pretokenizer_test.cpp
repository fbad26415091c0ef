// Pre-tokenizer: hand-written scanners against hand-worked splits and against PCRE2.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace herd {
namespace {

std::vector<std::string> pieces(const PreTokenizer& p, const std::string& text) {
  std::vector<uint32_t> ends;
  p.split(text, ends);
  std::vector<std::string> out;
  uint32_t prev = 0;
  for (uint32_t e : ends) {
    out.push_back(text.substr(prev, e - prev));
    prev = e;
  }
  return out;
}
using V = std::vector<std::string>;

TEST(PreTokenizer, ChoosesEngine) {
  EXPECT_STREQ(PreTokenizer::create(kO200kPattern)->engine(), "o200k-scanner");
  EXPECT_STREQ(PreTokenizer::create(kLlama3Pattern)->engine(), "llama3-scanner");
  EXPECT_STREQ(PreTokenizer::create(kO200kPattern, true)->engine(), "pcre2");
  EXPECT_STREQ(PreTokenizer::create("\\p{L}+|\\s+")->engine(), "pcre2");
  EXPECT_THROW(PreTokenizer::create("(unclosed"), Error);
}

// Splits worked out by hand from the regex rules in the fixture README, checked on both engines.
TEST(PreTokenizer, O200kHandWorkedSplits) {
  auto scan = PreTokenizer::create(kO200kPattern);
  auto pcre = PreTokenizer::create(kO200kPattern, true);
  struct Case {
    std::string text;
    V want;
  } cases[] = {
      {"a   b", {"a", "  ", " b"}},                          // \s+(?!\S) leaves one space
      {"1234567", {"123", "456", "7"}},                      // \p{N}{1,3}
      {"HELLO world", {"HELLO", " world"}},                  // all-caps word: second alternative
      {"HelloWorld", {"Hello", "World"}},                    // [A]*[B]+ stops at the next capital
      {"don't DON'T", {"don't", " DON'T"}},                  // contractions, case-insensitive
      {"x//\n\ny", {"x", "//\n\n", "y"}},                    // [\r\n/]* after symbols
      {"  \n\n  z", {"  \n\n", " ", " z"}},                  // \s*[\r\n]+ ends at the last newline
      {"end  ", {"end", "  "}},                              // trailing spaces: one piece
      {"a\tb", {"a", "\tb"}},                                // a tab is a valid prefix
      {"(hello)", {"(hello", ")"}},
      {"a\xC2\x85\xC2\x85z", {"a", "\xC2\x85", "\xC2\x85z"}},  // U+0085 is white space
      {"a\xEF\xBB\xBF!", {"a", "\xEF\xBB\xBF!"}},            // U+FEFF is not: a symbol
      {"a \xEF\xBB\xBF!", {"a", " \xEF\xBB\xBF!"}},
      {"a\xE2\x80\x8B\xE2\x80\x8B b", {"a", "\xE2\x80\x8B\xE2\x80\x8B", " b"}},  // U+200B neither
  };
  for (const auto& c : cases) {
    EXPECT_EQ(pieces(*scan, c.text), c.want) << c.text;
    EXPECT_EQ(pieces(*pcre, c.text), c.want) << "pcre2: " << c.text;
  }
}

TEST(PreTokenizer, Llama3HandWorkedSplits) {
  auto scan = PreTokenizer::create(kLlama3Pattern);
  auto pcre = PreTokenizer::create(kLlama3Pattern, true);
  struct Case {
    std::string text;
    V want;
  } cases[] = {
      {"don't", {"don", "'t"}},          // contractions are their own pieces
      {"'Re", {"'Re"}},
      {"HelloWorld", {"HelloWorld"}},    // \p{L}+ does not split on case
      {"x//\n\ny", {"x", "//\n\n", "y"}},
      {"a/b", {"a", "/b"}},
      {"e\xCC\x81t\xC3\xA9", {"e", "\xCC\x81t\xC3\xA9"}},  // a combining mark is a prefix, not a letter
      {"a   b", {"a", "  ", " b"}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(pieces(*scan, c.text), c.want) << c.text;
    EXPECT_EQ(pieces(*pcre, c.text), c.want) << "pcre2: " << c.text;
  }
}

TEST(PreTokenizer, WhiteSpaceRewriteForPcre2) {
  std::string r = rewrite_whitespace_classes("\\s+(?!\\S)|[^\\s\\p{L}]|\\\\s|[\\]s]");
  EXPECT_NE(r.find("\\x{85}"), std::string::npos);
  EXPECT_EQ(r.find("\\s"), r.find("\\\\s") + 1);  // the escaped backslash stays literal
  EXPECT_NE(r.find("[\\]s]"), std::string::npos);  // a class without \s is untouched
  // Every White_Space code point is \s; U+FEFF, U+200B, U+180E are not.
  auto pcre = PreTokenizer::create("\\s+|\\S+", true);
  for (uint32_t cp : {0x09u, 0x0Bu, 0x0Cu, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au, 0x2028u, 0x2029u, 0x202Fu,
                      0x205Fu, 0x3000u}) {
    std::string s = "a";
    utf8::append(s, cp);
    s += "b";
    EXPECT_EQ(pieces(*pcre, s).size(), 3u) << std::hex << cp;
  }
  for (uint32_t cp : {0xFEFFu, 0x200Bu, 0x180Eu, 0x1Cu}) {
    std::string s = "a";
    utf8::append(s, cp);
    s += "b";
    EXPECT_EQ(pieces(*pcre, s).size(), 1u) << std::hex << cp;
  }
}

TEST(PreTokenizer, Pcre2KeepsUnmatchedTextAsPieces) {
  auto p = PreTokenizer::create("\\p{L}+", true);
  EXPECT_EQ(pieces(*p, "ab, cd!"), (V{"ab", ", ", "cd", "!"}));
  EXPECT_EQ(pieces(*p, "a\xFF" "b"), (V{"a", "\xFF", "b"}));  // invalid UTF-8 stays in a gap piece
  auto empty = PreTokenizer::create("x*", true);             // empty matches do not loop
  EXPECT_EQ(pieces(*empty, "abxxc"), (V{"ab", "xx", "c"}));
}

// Random strings over characters of every class the patterns distinguish: the scanners must cut
// exactly where PCRE2 does.
TEST(PreTokenizer, ScannersAgreeWithPcre2OnRandomText) {
  const std::vector<uint32_t> pool = {
      'a', 'b', 'Z', 'Q', 's', 't', 'S', 'T', 'l', 'L', 'd', 'D', 'm', 'r', 'e', 'v', '\'', ' ', ' ', ' ', '\t', '\n',
      '\r', '\v', '\f', '/', '.', ',', '!', '(', ')', '-', '0', '1', '9', '_', '"',
      0xC9, 0xE9, 0xDF, 0x1C5 /* Lt */, 0x2B0 /* Lm */, 0x5D0 /* Lo */, 0x4E2D /* Lo */, 0x3042, 0x301, 0x308,
      0x903 /* Mc */, 0x20DD /* Me */, 0x660 /* Nd */, 0xFF11, 0xB2 /* No */, 0x2167 /* Nl */, 0x85, 0xA0, 0x2003,
      0x2028, 0x3000, 0xFEFF, 0x200B, 0x180E, 0x1C, 0x1F600, 0x2019, 0xAB, 0x17F /* long s */, 0x130, 0x3C3, 0x416};
  std::mt19937 rng(1234);
  for (const char* pat : {kO200kPattern, kLlama3Pattern}) {
    auto scan = PreTokenizer::create(pat);
    auto pcre = PreTokenizer::create(pat, true);
    for (int iter = 0; iter < 3000; ++iter) {
      std::string s;
      int len = static_cast<int>(rng() % 24);
      for (int i = 0; i < len; ++i) utf8::append(s, pool[rng() % pool.size()]);
      ASSERT_EQ(pieces(*scan, s), pieces(*pcre, s)) << scan->engine() << " on \"" << s << "\"";
    }
  }
}

TEST(PreTokenizer, InvalidUtf8IsASymbolForScanners) {
  auto scan = PreTokenizer::create(kO200kPattern);
  // A bad byte acts like punctuation, so it can be the optional prefix of a word.
  EXPECT_EQ(pieces(*scan, "a\xFF" "b"), (V{"a", "\xFF" "b"}));
  EXPECT_EQ(pieces(*scan, "x \xFF\xFE!\n"), (V{"x", " \xFF\xFE!\n"}));
  EXPECT_EQ(pieces(*scan, "\xE4\xB8"), (V{"\xE4\xB8"}));  // truncated character at the end
  EXPECT_EQ(pieces(*scan, ""), V{});
}

}  // namespace
}  // namespace herd
