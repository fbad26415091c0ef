// Llama 3 tokenizer.json (Hugging Face byte-level BPE): every case, both merge forms, and the same
// vocabulary loaded as a tiktoken rank file.
#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"
#include "tokenizer_test_util.h"

namespace herd::test {
namespace {

void check_cases(const Tokenizer& tok, bool allow_special, bool skip_added_token_cases) {
  auto cases = read_ordered_jsonl("tokenizer/llama3/cases.jsonl");
  ASSERT_EQ(cases.size(), 84u);
  int passed = 0, run = 0;
  for (const auto& c : cases) {
    std::string name = c["name"].get<std::string>();
    if (skip_added_token_cases && name.rfind("hf_special_", 0) == 0) continue;
    ++run;
    std::string text = c["text"].get<std::string>();
    std::vector<int32_t> got = tok.encode(text, allow_special);
    EXPECT_EQ(got, ids_of(c["ids"])) << name;
    EXPECT_EQ(tok.decode(ids_of(c["ids"])), text) << name;
    if (got == ids_of(c["ids"])) ++passed;
  }
  EXPECT_EQ(passed, run);
}

TEST(TokenizerLlama3Json, Loads) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama3_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 128256);
  EXPECT_EQ(tok.source(), Tokenizer::Source::HuggingFaceJson);
  EXPECT_FALSE(tok.meta_slicing());
  EXPECT_STREQ(tok.pretokenizer().engine(), "llama3-scanner");
  EXPECT_EQ(tok.token_id("<|begin_of_text|>"), 128000);
  EXPECT_EQ(tok.token_id("<|start_header_id|>"), 128006);
  EXPECT_EQ(tok.token_id("<|eot_id|>"), 128009);
  EXPECT_EQ(tok.token_id("<|reserved_special_token_250|>"), 128255);
  EXPECT_TRUE(tok.is_special(128000));
  EXPECT_FALSE(tok.is_special(9906));
  EXPECT_EQ(tok.token_bytes(128009), "<|eot_id|>");
  EXPECT_EQ(tok.token_bytes(220), " ");  // "Ġ" in the file
}

// Hugging Face recognises added tokens in the input: that is allow_special = true here.
TEST(TokenizerLlama3Json, AllCases) {
  HERD_REQUIRE_SHARED();
  check_cases(llama3_tokenizer(), true, false);
}

TEST(TokenizerLlama3Json, PlainModeLeavesAddedTokenTextAlone) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama3_tokenizer();
  check_cases(tok, false, true);
  for (int32_t id : tok.encode("<|begin_of_text|>hi", false)) EXPECT_LT(id, 128000);
}

TEST(TokenizerLlama3Json, Pcre2PreTokenizerPassesAllCases) {
  HERD_REQUIRE_SHARED();
  auto tok = Tokenizer::from_tokenizer_json(testdata("tokenizer/llama3/tokenizer.json").string());
  tok->force_pcre2_pretokenizer();
  check_cases(*tok, true, false);
}

// The merges rewritten from "a b" strings to ["a", "b"] pairs give the same tokenizer.
TEST(TokenizerLlama3Json, PairFormMerges) {
  HERD_REQUIRE_SHARED();
  nlohmann::json j = read_json(testdata("tokenizer/llama3/tokenizer.json"));  // merges is an array: order kept
  ASSERT_TRUE(j["model"]["merges"][0].is_string());
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& m : j["model"]["merges"]) {
    std::string s = m.get<std::string>();
    size_t sp = s.find(' ');
    pairs.push_back({s.substr(0, sp), s.substr(sp + 1)});
  }
  j["model"]["merges"] = pairs;
  auto tok = Tokenizer::from_tokenizer_json_text(j.dump(), "pairs.json");
  check_cases(*tok, true, false);
}

// The README: the tokenizer.json vocabulary maps byte-for-byte onto Meta's Llama 3 tiktoken ranks.
// Writing it out as a rank file and loading that must give the same ids (rank-order BPE with the
// Llama 3 pattern and special layout) as the merge-list BPE of the tokenizer.json.
TEST(TokenizerLlama3Json, SameVocabularyAsTiktokenRankFile) {
  HERD_REQUIRE_SHARED();
  nlohmann::json j = read_json(testdata("tokenizer/llama3/tokenizer.json"));
  std::vector<std::string> by_id(128000);
  for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it) {
    auto b = byte_level::decode(it.key());
    ASSERT_TRUE(b.has_value());
    by_id.at(it.value().get<size_t>()) = *b;
  }
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string file;
  for (size_t id = 0; id < by_id.size(); ++id) {
    const std::string& s = by_id[id];
    std::string enc;
    for (size_t i = 0; i < s.size(); i += 3) {
      uint32_t v = static_cast<uint8_t>(s[i]) << 16;
      if (i + 1 < s.size()) v |= static_cast<uint8_t>(s[i + 1]) << 8;
      if (i + 2 < s.size()) v |= static_cast<uint8_t>(s[i + 2]);
      enc += a[(v >> 18) & 63];
      enc += a[(v >> 12) & 63];
      enc += i + 1 < s.size() ? a[(v >> 6) & 63] : '=';
      enc += i + 2 < s.size() ? a[v & 63] : '=';
    }
    file += enc + " " + std::to_string(id) + "\n";
  }
  auto tik = Tokenizer::from_tiktoken_text(file, "llama3.tiktoken");
  EXPECT_EQ(tik->vocab_size(), 128256);
  EXPECT_STREQ(tik->pretokenizer().engine(), "llama3-scanner");
  const Tokenizer& hf = llama3_tokenizer();
  for (const auto& t : hf.special_tokens().all()) EXPECT_EQ(tik->token_id(t.text), t.id) << t.text;
  check_cases(*tik, true, false);
}

}  // namespace
}  // namespace herd::test
