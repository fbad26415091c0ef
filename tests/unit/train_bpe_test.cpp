// BPE trainer, tokenizer files and the pre-tokenizer; the files are cross-checked by loading them
// with herd's inference tokenizer (src/tokenizer), an independent implementation.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "train/bpe.h"

using namespace herd;
using namespace herd::train;

namespace {
std::vector<std::string> pieces(const std::string& s) {
  Pretokenizer p;
  std::vector<std::string> out;
  p.split(s, [&](std::string_view v) { out.emplace_back(v); });
  return out;
}

std::string sample_text() {
  std::string t;
  const char* lines[] = {"In the beginning God created the heaven and the earth.",
                         "And the earth was without form, and void; and darkness was upon the face of the deep.",
                         "Call me Ishmael. Some years ago--never mind how long precisely--having little money,",
                         "Fellow-Citizens of the Senate and House of Representatives: 1790, 1791 and 2021!",
                         "Caf\xc3\xa9 na\xc3\xafve \xe2\x80\x9cquoted\xe2\x80\x9d text \xe2\x80\x94 with unicode \xf0\x9f\x90\xb3 whales."};
  for (int r = 0; r < 20; ++r)
    for (const char* l : lines) t += std::string(l) + "\n";
  return t;
}
}  // namespace

TEST(TrainBpe, PretokenizerFollowsTheLlama4Pattern) {
  EXPECT_EQ(pieces("Hello world's  test"), (std::vector<std::string>{"Hello", " world's", " ", " test"}));
  EXPECT_EQ(pieces("abc 12345\n\nx"), (std::vector<std::string>{"abc", " ", "123", "45", "\n\n", "x"}));
  EXPECT_EQ(pieces("HTTPServer isOK"), (std::vector<std::string>{"HTTPServer", " is", "OK"}));
  EXPECT_THROW(pieces("bad \xff byte"), Error);
}

TEST(TrainBpe, SpecialTokenNamesMatchTheLlama4List) {
  HERD_REQUIRE_SHARED();
  auto j = test::read_json(test::testdata("tokenizer/llama4/special_tokens.json"));
  auto names = llama4_special_names();
  ASSERT_EQ(names.size(), j.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(names[i], j[i][1].get<std::string>()) << i;
}

TEST(TrainBpe, MergesMostFrequentPairsInOrder) {
  // pre-tokens: "ab", " ab", " ab", " cd". Pair counts: (a,b) 3, (' ',a) 2, (' ',c) 1, (c,d) 1.
  // Merge 1: "ab". Then (' ',"ab") 2 -> merge 2: " ab". Everything else occurs once: stop.
  BpeVocab v = train_bpe({"ab ab ab cd"}, {300, 2});
  ASSERT_EQ(v.tokens.size(), 258u);
  EXPECT_EQ(v.tokens[256], "ab");
  EXPECT_EQ(v.tokens[257], " ab");
  EXPECT_THROW(train_bpe({""}, {300, 2}), Error);
}

TEST(TrainBpe, FilesRoundTripAndLoadInTheInferenceTokenizer) {
  const std::string text = sample_text();
  BpeVocab v = train_bpe({text}, {400, 2});
  EXPECT_EQ(v.tokens.size(), 400u);
  auto dir = test::temp_dir("train_bpe");
  write_tiktoken((dir / "tokenizer.model").string(), v);
  write_tokenizer_json((dir / "tokenizer.json").string(), v);
  BpeVocab back = read_tiktoken((dir / "tokenizer.model").string());
  EXPECT_EQ(back.tokens, v.tokens);

  BpeEncoder enc(back);
  EXPECT_EQ(enc.vocab_size(), 400 + 2048);
  EXPECT_EQ(enc.special_id("<|begin_of_text|>"), 400);
  EXPECT_EQ(enc.special_id("<|eot|>"), 408);
  const std::string probe = "And God said, Let there be whales \xf0\x9f\x90\xb3: 12345 naïve\n\nunseen Zebra-words.";
  auto ids = enc.encode(probe);
  EXPECT_EQ(enc.decode(ids), probe);
  EXPECT_LT(ids.size(), probe.size());  // merges were applied

  for (const char* f : {"tokenizer.model", "tokenizer.json"}) {
    auto tok = Tokenizer::from_file((dir / f).string());
    EXPECT_EQ(tok->encode(probe, false), ids) << f;
    EXPECT_EQ(tok->token_id("<|begin_of_text|>").value_or(-1), 400) << f;
    EXPECT_EQ(tok->decode(ids), probe) << f;
  }
  std::filesystem::remove_all(dir);
}
