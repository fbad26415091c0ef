// herd tokenize / detokenize end to end.
#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

namespace herd::test {
namespace {

std::string l4() { return "--tokenizer " + testdata("tokenizer/llama4/tokenizer.model").string(); }

TEST(TokenizerCli, Tokenize) {
  HERD_REQUIRE_SHARED();
  auto r = run_herd("tokenize " + l4() + " 'Hello, world!'", false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "19873 24 3817 13\n");
  r = run_herd("tokenize " + l4() + " --special '<|begin_of_text|>Hello!'", false);
  EXPECT_EQ(r.out, "200000 19873 13\n");
  r = run_herd("tokenize " + l4() + " '<|eot|>'", false);
  EXPECT_EQ(r.out.find("200008"), std::string::npos);
  r = run_herd("tokenize " + l4() + " --json 'Hello!'", false);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], nlohmann::json::parse("[19873, 13]"));
  EXPECT_EQ(j["tokens"], nlohmann::json::parse(R"(["Hello", "!"])"));
}

TEST(TokenizerCli, TokenizeFileAndModelDir) {
  HERD_REQUIRE_SHARED();
  auto dir = temp_dir("tok_cli");
  write_file(dir / "in.txt", "Hello, world!");
  auto r = run_herd("tokenize " + l4() + " --file " + (dir / "in.txt").string(), false);
  EXPECT_EQ(r.out, "19873 24 3817 13\n");
  r = run_herd("tokenize -m " + testdata("tokenizer/llama3").string() + " 'Hello, world!'", false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "9906 11 1917 0\n");  // Llama 3 ids of the same text (fixture hello_world_punct)
  std::filesystem::remove_all(dir);
}

TEST(TokenizerCli, Detokenize) {
  HERD_REQUIRE_SHARED();
  auto r = run_herd("detokenize " + l4() + " 19873,24 3817 13", false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "Hello, world!");
  r = run_herd("detokenize " + l4() + " '200000,19873'", false);
  EXPECT_EQ(r.out, "<|begin_of_text|>Hello");
}

TEST(TokenizerCli, Errors) {
  HERD_REQUIRE_SHARED();
  auto r = run_herd("detokenize " + l4() + " 999999");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("herd: error: token id 999999"), std::string::npos);
  r = run_herd("detokenize " + l4() + " 12,abc");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("herd: error"), std::string::npos);
  r = run_herd("tokenize --tokenizer /nonexistent/tokenizer.model hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("not found"), std::string::npos);
  r = run_herd("tokenize " + l4());  // neither TEXT nor --file
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("TEXT or --file"), std::string::npos);
}

}  // namespace
}  // namespace herd::test
