// Loading: model directories, malformed tokenizer files, and small hand-made tokenizer.json files.
#include <gtest/gtest.h>

#include <filesystem>

#include "tokenizer/chat_format.h"
#include "tokenizer/byte_level.h"
#include "tokenizer_test_util.h"

namespace herd::test {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A valid miniature rank file: the 256 single bytes in byte order, then "ab".
std::string mini_rank_file() {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string f;
  for (int b = 0; b < 256; ++b) f += std::string{a[b >> 2], a[(b & 3) << 4], '=', '='} + " " + std::to_string(b) + "\n";
  f += "YWI= 256\n";  // "ab"
  return f;
}

TEST(TokenizerFiles, MiniRankFileWorks) {
  auto tok = Tokenizer::from_tiktoken_text(mini_rank_file(), "mini.model");
  EXPECT_EQ(tok->vocab_size(), 257 + 2048);
  EXPECT_EQ(tok->encode("abc", false), (std::vector<int32_t>{256, 'c'}));
  EXPECT_EQ(tok->token_id("<|eot|>"), 257 + 8);
}

TEST(TokenizerFiles, MalformedRankFileNamesTheLine) {
  std::string good = mini_rank_file();
  EXPECT_NE(error_of([&] { Tokenizer::from_tiktoken_text(good + "YWJj\n", "t.model"); }).find("line 258"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_tiktoken_text("QQ== 0\n\n%%%% 1\n", "t.model"); }).find("line 3: invalid base64"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_tiktoken_text("QQ== zero\n", "t.model"); }).find("line 1: invalid rank"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_tiktoken_text("QQ== 0\nQg== 0\n", "t.model"); }).find("line 2: rank 0 appears twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_tiktoken_text("QQ== 0\n", "t.model"); }).find("single byte"), std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_tiktoken_text("\n\n", "t.model"); }).find("no tokens"), std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_tiktoken_text("QQ== 99999999999\n", "t.model"); }).find("line 1"),
            std::string::npos);
  // Binary garbage is rejected, not crashed on.
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919) & 0xFF);
  EXPECT_THROW(Tokenizer::from_tiktoken_text(junk, "junk.model"), Error);
}

// A tiny byte-level tokenizer.json: the 256 bytes (ids = byte values), "ab" 256, "abc" 257,
// "bc" 258, merges "a b" (0), ["ab", "c"] (1), "b c" (2).
nlohmann::ordered_json mini_json() {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::encode(std::string(1, static_cast<char>(b)))] = b;
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  vocab["bc"] = 258;
  nlohmann::ordered_json j;
  j["added_tokens"] = nlohmann::ordered_json::parse(
      R"([{"id":300,"content":"<sp>","special":true},{"id":301,"content":"[X]","special":false,"lstrip":true}])");
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = nlohmann::ordered_json::parse(R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":true})");
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::ordered_json::parse(R"(["a b", ["ab", "c"], "b c"])")}};
  return j;
}

TEST(TokenizerFiles, MiniTokenizerJsonMergeOrder) {
  auto tok = Tokenizer::from_tokenizer_json_text(mini_json().dump(), "mini.json");
  EXPECT_STREQ(tok->pretokenizer().engine(), "pcre2");  // GPT-2 pattern: the general engine
  EXPECT_EQ(tok->vocab_size(), 302);
  // "abc": a+b (merge 0), then ab+c (merge 1).
  EXPECT_EQ(tok->encode("abc", false), (std::vector<int32_t>{257}));
  // "bcab": a+b first (merge 0), then b+c (merge 2); c+ab has no merge.
  EXPECT_EQ(tok->encode("bcab", false), (std::vector<int32_t>{258, 256}));
  // GPT-2 pattern: " ab" is one piece; the space stays a byte.
  EXPECT_EQ(tok->encode("x ab", false), (std::vector<int32_t>{'x', ' ', 256}));
  // Added tokens: special only with allow_special; the non-special one always, and its lstrip
  // swallows the spaces on its left.
  EXPECT_EQ(tok->encode("a<sp>", true), (std::vector<int32_t>{'a', 300}));
  EXPECT_EQ(tok->encode("a<sp>", false), (std::vector<int32_t>{'a', '<', 's', 'p', '>'}));
  EXPECT_EQ(tok->encode("c  [X]", false), (std::vector<int32_t>{'c', 301}));
  EXPECT_TRUE(tok->is_special(300));
  EXPECT_FALSE(tok->is_special(301));
  EXPECT_THROW(tok->token_bytes(280), Error);  // an id in a gap of the vocabulary
  EXPECT_THROW(detect_chat_family(*tok), Error);
}

// The fast scanner path (vocab and merges read without a JSON tree) and the general path must
// build the same tokenizer, whatever the layout: ASCII escapes, indentation, member order.
TEST(TokenizerFiles, TokenizerJsonLayoutsLoadTheSame) {
  auto j = mini_json();
  auto reordered = nlohmann::ordered_json::object();
  reordered["model"] = {{"merges", j["model"]["merges"]}, {"type", "BPE"}, {"vocab", j["model"]["vocab"]}};
  for (const char* k : {"pre_tokenizer", "added_tokens", "normalizer"}) reordered[k] = j[k];
  const std::vector<std::string> texts = {j.dump(), j.dump(2), j.dump(-1, ' ', true), reordered.dump(1, '\t', true)};
  const std::string sample = "abc bcab x ab <sp> c  [X] \xc3\xa9\xf0\x9f\x98\x80";
  auto ref = Tokenizer::from_tokenizer_json_text(texts[0], "a.json");
  for (const auto& t : texts) {
    auto tok = Tokenizer::from_tokenizer_json_text(t, "b.json");
    EXPECT_EQ(tok->vocab_size(), ref->vocab_size());
    EXPECT_EQ(tok->encode(sample, true), ref->encode(sample, true)) << t.substr(0, 80);
    for (int32_t id : {0, 97, 196, 256, 257, 258, 300, 301}) EXPECT_EQ(tok->token_bytes(id), ref->token_bytes(id));
  }
}

TEST(TokenizerFiles, MalformedTokenizerJsonNamesTheField) {
  auto err = [](const nlohmann::ordered_json& j) {
    return error_of([&] { Tokenizer::from_tokenizer_json_text(j.dump(), "t.json"); });
  };
  EXPECT_NE(error_of([] { Tokenizer::from_tokenizer_json_text("{\"model\": [1,", "t.json"); }).find("t.json: invalid JSON"),
            std::string::npos);
  auto j = mini_json();
  j["model"]["merges"][1] = "abc";
  EXPECT_NE(err(j).find("model.merges[1]"), std::string::npos);
  j = mini_json();
  j["model"]["merges"][2] = "b zz";
  EXPECT_NE(err(j).find("model.merges[2]"), std::string::npos);
  j = mini_json();
  j["model"]["type"] = "WordPiece";
  EXPECT_NE(err(j).find("model.type"), std::string::npos);
  j = mini_json();
  j["model"]["vocab"]["zz"] = "seven";
  EXPECT_NE(err(j).find("model.vocab[\"zz\"]"), std::string::npos);
  j = mini_json();
  j["model"].erase("merges");
  EXPECT_NE(err(j).find("model.merges"), std::string::npos);
  j = mini_json();
  j["pre_tokenizer"] = nlohmann::ordered_json::parse(R"({"type":"Metaspace"})");
  EXPECT_NE(err(j).find("pre_tokenizer.type"), std::string::npos);
  j = mini_json();
  j["added_tokens"][0]["special"] = "yes";
  EXPECT_NE(err(j).find("t.json"), std::string::npos);
  j = mini_json();
  j["normalizer"] = nlohmann::ordered_json::parse(R"({"type":"NFC"})");
  EXPECT_NE(err(j).find("normalizer"), std::string::npos);
}

TEST(TokenizerFiles, ModelDirectories) {
  HERD_REQUIRE_SHARED();
  fs::path empty = temp_dir("tok_empty");
  EXPECT_FALSE(Tokenizer::model_dir_has_tokenizer(empty.string()));
  EXPECT_NE(error_of([&] { Tokenizer::from_model_dir(empty.string()); }).find("no tokenizer"), std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_model_dir((empty / "missing").string()); }).find("not found"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_file((empty / "x.model").string()); }).find("not found"), std::string::npos);

  // Only tokenizer.json (as in Hugging Face directories): it is used.
  fs::path hf = temp_dir("tok_hf");
  fs::copy_file(testdata("tokenizer/llama3/tokenizer.json"), hf / "tokenizer.json");
  EXPECT_TRUE(Tokenizer::model_dir_has_tokenizer(hf.string()));
  EXPECT_EQ(Tokenizer::from_model_dir(hf.string())->source(), Tokenizer::Source::HuggingFaceJson);
  // tokenizer.model is preferred when both exist.
  fs::copy_file(testdata("tokenizer/llama4/tokenizer.model"), hf / "tokenizer.model");
  auto both = Tokenizer::from_model_dir(hf.string());
  EXPECT_EQ(both->source(), Tokenizer::Source::TiktokenModel);
  EXPECT_EQ(both->vocab_size(), 202048);
  EXPECT_EQ(Tokenizer::from_file(hf.string())->vocab_size(), 202048);  // a directory given as a file
  fs::remove_all(empty);
  fs::remove_all(hf);
}

}  // namespace
}  // namespace herd::test
