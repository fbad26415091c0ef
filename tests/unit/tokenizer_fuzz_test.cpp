// Randomised robustness: arbitrary bytes and random Unicode never crash and round-trip.
#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

#include "core/thread_pool.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace herd::test {
namespace {

std::string random_unicode(std::mt19937& rng, int max_len) {
  static const uint32_t ranges[][2] = {
      {0x20, 0x7E}, {0x09, 0x0D}, {0xA0, 0x24F}, {0x300, 0x36F}, {0x370, 0x3FF}, {0x400, 0x4FF}, {0x590, 0x6FF},
      {0x900, 0x97F}, {0xE00, 0xE7F}, {0x1100, 0x11FF}, {0x1680, 0x1680}, {0x2000, 0x206F}, {0x3000, 0x30FF},
      {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xFE00, 0xFEFF}, {0xFF00, 0xFFEF}, {0x1F300, 0x1FAFF}, {0x10000, 0x10FFFF}};
  std::string s;
  int len = static_cast<int>(rng() % (max_len + 1));
  for (int i = 0; i < len; ++i) {
    const auto& r = ranges[rng() % (sizeof ranges / sizeof ranges[0])];
    uint32_t cp = r[0] + rng() % (r[1] - r[0] + 1);
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
    utf8::append(s, cp);
  }
  return s;
}

TEST(TokenizerFuzz, RandomUnicodeRoundTrips) {
  HERD_REQUIRE_SHARED();
  std::mt19937 rng(42);
  for (const Tokenizer* tok : {&llama4_tokenizer(), &llama3_tokenizer()}) {
    for (int iter = 0; iter < 3000; ++iter) {
      std::string s = random_unicode(rng, 40);
      if (iter % 7 == 0) s += "<|eot|><|begin_of_text|><|eot_id|>" + random_unicode(rng, 5);
      ASSERT_EQ(tok->decode(tok->encode(s, false)), s);
      ASSERT_EQ(tok->decode(tok->encode(s, true)), s);
    }
  }
}

TEST(TokenizerFuzz, ArbitraryBytesRoundTrip) {
  HERD_REQUIRE_SHARED();
  std::mt19937 rng(7);
  for (const Tokenizer* tok : {&llama4_tokenizer(), &llama3_tokenizer()}) {
    for (int iter = 0; iter < 3000; ++iter) {
      std::string s(rng() % 64, '\0');
      for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? "\x80\xBF\xC0\xC3\xE4\xED\xF0\xF4\xFF '\n"[rng() % 13] : rng());
      std::vector<int32_t> ids = tok->encode(s, iter % 2 == 0);
      for (int32_t id : ids) ASSERT_TRUE(tok->has_token(id));
      ASSERT_EQ(tok->decode(ids), s);
    }
  }
}

// Documented behaviour (docs/tokenizer.md): invalid UTF-8 is encoded byte-level, each bad byte
// classed as a symbol, so it round-trips and does not disturb the valid text around it.
TEST(TokenizerFuzz, InvalidUtf8IsEncodedByteLevel) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  for (std::string bad : {"\xFF", "\xC3", "\xED\xA0\x80", "\xC0\xAF", "\xF0\x9F\x98", "\x80"}) {
    std::string s = "Hello " + bad + " world";
    std::vector<int32_t> ids = tok.encode(s, false);
    EXPECT_EQ(tok.decode(ids), s);
    std::vector<int32_t> tail = tok.encode(" world", false);
    ASSERT_GE(ids.size(), tail.size());
    EXPECT_TRUE(std::equal(tail.begin(), tail.end(), ids.end() - tail.size())) << "tail of " << s;
  }
  std::vector<int32_t> ff = tok.encode("a\xFF" "b", false);
  std::vector<int32_t> want = tok.encode("a", false);
  want.push_back(12);  // the token of byte 0xFF (rank 12, per the fixture README)
  for (int32_t id : tok.encode("b", false)) want.push_back(id);
  EXPECT_EQ(tok.token_bytes(12), "\xFF");
  EXPECT_EQ(ff, want);
}

// Reference tiktoken BPE written plainly (quadratic, std::unordered_map) to check the fast paths,
// including the heap-based one used for pieces longer than 96 bytes.
std::vector<int32_t> reference_encode(const Tokenizer& tok, const std::unordered_map<std::string, int32_t>& ranks,
                                      const std::string& text) {
  std::vector<uint32_t> ends;
  tok.pretokenizer().split(text, ends);
  std::vector<int32_t> out;
  uint32_t prev = 0;
  for (uint32_t e : ends) {
    std::string piece = text.substr(prev, e - prev);
    prev = e;
    if (ranks.count(piece)) {
      out.push_back(ranks.at(piece));
      continue;
    }
    std::vector<std::string> parts;
    for (char c : piece) parts.emplace_back(1, c);
    for (;;) {
      int32_t best = -1;
      size_t bi = 0;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = ranks.find(parts[i] + parts[i + 1]);
        if (it != ranks.end() && (best < 0 || it->second < best)) {
          best = it->second;
          bi = i;
        }
      }
      if (best < 0) break;
      parts[bi] += parts[bi + 1];
      parts.erase(parts.begin() + static_cast<long>(bi) + 1);
    }
    for (const auto& p : parts) out.push_back(ranks.at(p));
  }
  return out;
}

TEST(TokenizerFuzz, MatchesReferenceBpeOnLongAndShortPieces) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  std::unordered_map<std::string, int32_t> ranks;
  for (int32_t id = 0; id < 200000; ++id) ranks.emplace(tok.token_bytes(id), id);
  std::mt19937 rng(9);
  for (int iter = 0; iter < 300; ++iter) {
    std::string s;
    int n = 20 + static_cast<int>(rng() % 400);
    const char* alphabet = iter % 3 == 0 ? "abcdefgh!?" : iter % 3 == 1 ? "abcdefgh" : "aaab";
    size_t k = std::char_traits<char>::length(alphabet);
    for (int i = 0; i < n; ++i) s += alphabet[rng() % k];
    if (iter % 5 == 0) s = random_unicode(rng, 200);
    ASSERT_EQ(tok.encode(s, false), reference_encode(tok, ranks, s)) << s;
  }
}

TEST(TokenizerBatch, MatchesSequentialEncoding) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  std::vector<std::string> texts;
  for (const auto& c : read_ordered_jsonl("tokenizer/llama4/cases.jsonl")) texts.push_back(c["text"].get<std::string>());
  ThreadPool pool(2);
  auto batch = tok.encode_batch(texts, false, &pool);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], tok.encode(texts[i], false)) << i;
}

}  // namespace
}  // namespace herd::test
