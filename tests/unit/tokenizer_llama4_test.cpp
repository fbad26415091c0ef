// Llama 4 tokenizer.model: vocabulary layout, every plain and special-token case, decoding.
#include <gtest/gtest.h>

#include "tokenizer/meta_slicing.h"
#include "tokenizer_test_util.h"

namespace herd::test {
namespace {

TEST(TokenizerLlama4, VocabularyLayout) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 202048);
  EXPECT_EQ(tok.source(), Tokenizer::Source::TiktokenModel);
  EXPECT_TRUE(tok.meta_slicing());
  EXPECT_STREQ(tok.pretokenizer().engine(), "o200k-scanner");
  // Byte tokens do not follow byte order (README): rank 0 = 0xC0, 1 = 0xC1, 2..12 = 0xF5..0xFF.
  EXPECT_EQ(tok.token_bytes(0), "\xC0");
  EXPECT_EQ(tok.token_bytes(1), "\xC1");
  for (int i = 0; i <= 10; ++i) EXPECT_EQ(tok.token_bytes(2 + i), std::string(1, static_cast<char>(0xF5 + i)));
  size_t longest = 0;
  for (int32_t id = 0; id < 200000; ++id) longest = std::max(longest, tok.token_bytes(id).size());
  EXPECT_EQ(longest, 113u);
}

TEST(TokenizerLlama4, SpecialTokensMatchFixture) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  nlohmann::json specials = read_json(testdata("tokenizer/llama4/special_tokens.json"));
  ASSERT_EQ(specials.size(), 2048u);
  for (const auto& e : specials) {
    int32_t id = e[0].get<int32_t>();
    std::string text = e[1].get<std::string>();
    ASSERT_EQ(tok.token_id(text), id) << text;
    EXPECT_EQ(tok.token_bytes(id), text);
    EXPECT_TRUE(tok.is_special(id));
  }
  EXPECT_FALSE(tok.is_special(199999));
  EXPECT_FALSE(tok.token_id("<|reserved_special_token_904|>"));
  EXPECT_FALSE(tok.token_id("<|text_post_train_reserved_special_token_6|>"));
  EXPECT_EQ(tok.token_id("<|begin_of_text|>"), 200000);
  EXPECT_EQ(tok.token_id("<|eot|>"), 200008);
  EXPECT_EQ(tok.token_id("<|finetune_right_pad|>"), 200018);
  EXPECT_EQ(tok.token_id("<|patch|>"), 200092);
}

void check_cases(const Tokenizer& tok, const std::string& file, bool allow_special, int expected_count) {
  auto cases = read_ordered_jsonl(file);
  EXPECT_EQ(static_cast<int>(cases.size()), expected_count);
  int passed = 0;
  for (const auto& c : cases) {
    std::string text = c["text"].get<std::string>();
    std::vector<int32_t> want = ids_of(c["ids"]);
    std::vector<int32_t> got = tok.encode(text, allow_special);
    EXPECT_EQ(got, want) << file << ": " << c["name"].get<std::string>();
    EXPECT_EQ(tok.decode(want), text) << "decode " << c["name"].get<std::string>();
    if (got == want) ++passed;
  }
  EXPECT_EQ(passed, expected_count) << file;
}

TEST(TokenizerLlama4, PlainCases) {
  HERD_REQUIRE_SHARED();
  check_cases(llama4_tokenizer(), "tokenizer/llama4/cases.jsonl", false, 160);
}

TEST(TokenizerLlama4, SpecialCases) {
  HERD_REQUIRE_SHARED();
  check_cases(llama4_tokenizer(), "tokenizer/llama4/cases_special.jsonl", true, 34);
}

TEST(TokenizerLlama4, PlainEncodingNeverEmitsSpecialIds) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  for (const auto& c : read_ordered_jsonl("tokenizer/llama4/cases_special.jsonl")) {
    for (int32_t id : tok.encode(c["text"].get<std::string>(), false)) EXPECT_LT(id, 200000) << c["name"];
  }
  EXPECT_EQ(tok.encode("<|eot|>", false).size(), 5u);  // "<", "|", "e", "ot", "|>"
}

TEST(TokenizerLlama4, SpecVectors) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  // llama4-architecture.md section 5.5.
  EXPECT_EQ(tok.encode("user", false), (std::vector<int32_t>{1556}));
  EXPECT_EQ(tok.encode("assistant", false), (std::vector<int32_t>{140680}));
  EXPECT_EQ(tok.encode("system", false), (std::vector<int32_t>{15651}));
  EXPECT_EQ(tok.encode("ipython", false), (std::vector<int32_t>{607, 6934}));
  EXPECT_EQ(tok.encode("\n\n", false), (std::vector<int32_t>{368}));
  EXPECT_EQ(tok.encode(" 12345", false), (std::vector<int32_t>{220, 7235, 2127}));
  EXPECT_EQ(tok.encode("I'm  here\n\n\nok", false), (std::vector<int32_t>{23752, 220, 2863, 2946, 599}));
}

TEST(TokenizerLlama4, MetaSlicingMattersForLongRuns) {
  HERD_REQUIRE_SHARED();
  auto tok = Tokenizer::from_tiktoken_file(testdata("tokenizer/llama4/tokenizer.model").string());
  for (const auto& c : read_ordered_jsonl("tokenizer/llama4/cases.jsonl")) {
    if (c["name"] != "long_nonspace_run_26005") continue;
    std::string text = c["text"].get<std::string>();
    EXPECT_EQ(tok->encode(text, false), ids_of(c["ids"]));
    tok->set_meta_slicing(false);
    std::vector<int32_t> unsliced = tok->encode(text, false);
    EXPECT_NE(unsliced, ids_of(c["ids"]));
    EXPECT_EQ(tok->decode(unsliced), text);
    return;
  }
  FAIL() << "case long_nonspace_run_26005 not found";
}

TEST(TokenizerLlama4, Pcre2PreTokenizerPassesAllCases) {
  HERD_REQUIRE_SHARED();
  auto tok = Tokenizer::from_tiktoken_file(testdata("tokenizer/llama4/tokenizer.model").string());
  tok->force_pcre2_pretokenizer();
  EXPECT_STREQ(tok->pretokenizer().engine(), "pcre2");
  check_cases(*tok, "tokenizer/llama4/cases.jsonl", false, 160);
  check_cases(*tok, "tokenizer/llama4/cases_special.jsonl", true, 34);
}

TEST(TokenizerLlama4, EmptyAndDecodeErrors) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  EXPECT_TRUE(tok.encode("", false).empty());
  EXPECT_TRUE(tok.encode("", true).empty());
  EXPECT_EQ(tok.decode({}), "");
  EXPECT_THROW(tok.decode({202048}), Error);
  EXPECT_THROW(tok.decode({-1}), Error);
  EXPECT_THROW(tok.token_bytes(1 << 30), Error);
}

TEST(MetaSlicing, CutsLongRunsAndChunks) {
  auto slices = [](std::string_view s, size_t chunk, size_t run) {
    std::vector<std::string> out;
    for_each_meta_slice(s, [&](std::string_view x) { out.emplace_back(x); }, chunk, run);
    return out;
  };
  // Runs of more than 3 same-class characters are cut before the 4th; the count restarts on a
  // class change.
  EXPECT_EQ(slices("aaaaa  b", 100, 3), (std::vector<std::string>{"aaa", "aa  b"}));
  EXPECT_EQ(slices("ab     c", 100, 3), (std::vector<std::string>{"ab   ", "  c"}));
  // Chunks of 4 code points (a 2-byte character counts once).
  EXPECT_EQ(slices("abcd\xC3\xA9" "fghij", 4, 100), (std::vector<std::string>{"abcd", "\xC3\xA9" "fgh", "ij"}));
  // U+001C is a Python space (run class), U+0085 too.
  EXPECT_EQ(slices("\x1C\x1C\x1C\x1Cx", 100, 3), (std::vector<std::string>{"\x1C\x1C\x1C", "\x1Cx"}));
  EXPECT_EQ(slices("", 100, 3), (std::vector<std::string>{""}));
}

}  // namespace
}  // namespace herd::test
