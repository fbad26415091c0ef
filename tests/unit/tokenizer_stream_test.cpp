// StreamDecoder: never emits part of a UTF-8 character; output joins to decode().
#include <gtest/gtest.h>

#include "tokenizer/stream_decoder.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace herd::test {
namespace {

TEST(StreamDecoder, EveryCaseStreamsWholeCharacters) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  int split_chars = 0;
  for (const auto& c : read_ordered_jsonl("tokenizer/llama4/cases.jsonl")) {
    StreamDecoder sd(tok);
    std::string joined;
    for (int32_t id : ids_of(c["ids"])) {
      std::string chunk = sd.push(id);
      EXPECT_TRUE(utf8::is_valid(chunk)) << c["name"];
      if (sd.pending() > 0) ++split_chars;
      joined += chunk;
    }
    joined += sd.flush();
    EXPECT_EQ(joined, c["text"].get<std::string>()) << c["name"];
  }
  EXPECT_GT(split_chars, 0);  // the emoji/CJK cases do have characters spread over tokens
}

TEST(StreamDecoder, HoldsAnUnfinishedCharacterAndPassesInvalidBytes) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  auto byte_token = [&](uint8_t b) {
    for (int32_t id = 0; id < 256 * 4; ++id)
      if (tok.token_bytes(id) == std::string(1, static_cast<char>(b))) return id;
    ADD_FAILURE() << "no token for byte " << int(b);
    return 0;
  };
  StreamDecoder sd(tok);
  // U+4E2D = E4 B8 AD, one byte per token.
  EXPECT_EQ(sd.push(byte_token(0xE4)), "");
  EXPECT_EQ(sd.push(byte_token(0xB8)), "");
  EXPECT_EQ(sd.push(byte_token(0xAD)), "\xE4\xB8\xAD");
  // 0xFF can never start a character: out at once. E4 followed by 'A' can never complete.
  EXPECT_EQ(sd.push(byte_token(0xFF)), "\xFF");
  EXPECT_EQ(sd.push(byte_token(0xE4)), "");
  EXPECT_EQ(sd.push(byte_token('A')), "\xE4" "A");
  // An unfinished character at the end comes out on flush.
  EXPECT_EQ(sd.push(byte_token(0xF0)), "");
  EXPECT_EQ(sd.push(byte_token(0x9F)), "");
  EXPECT_EQ(sd.flush(), "\xF0\x9F");
  EXPECT_EQ(sd.pending(), 0u);
  EXPECT_THROW(sd.push(-5), Error);
}

TEST(Utf8, CompletePrefix) {
  EXPECT_EQ(utf8::complete_prefix("abc"), 3u);
  EXPECT_EQ(utf8::complete_prefix("a\xC3"), 1u);
  EXPECT_EQ(utf8::complete_prefix("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(utf8::complete_prefix("a\xF0\x9F\x98\x80"), 5u);
  EXPECT_EQ(utf8::complete_prefix("\xED\xA0"), 2u);  // a surrogate can never complete
  EXPECT_EQ(utf8::complete_prefix("\xE0\x80"), 2u);  // overlong
  EXPECT_EQ(utf8::complete_prefix("\xC0"), 1u);      // never a lead byte
  EXPECT_EQ(utf8::complete_prefix("\x80\x80\x80"), 3u);
  EXPECT_EQ(utf8::complete_prefix(""), 0u);
}

}  // namespace
}  // namespace herd::test
