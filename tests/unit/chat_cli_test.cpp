// `herd run` with text and --chat, and the interactive `herd chat`, on the bundled model (which
// carries the real Llama 4 tokenizer).
#include <gtest/gtest.h>

#include <filesystem>

#include "model/text_model.h"
#include "test_support.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using namespace herd;

namespace {

std::string default_model() { return std::string(HERD_SOURCE_DIR) + "/models/default"; }

TEST(ChatCli, RunTextPromptStreamsText) {
  auto tok = Tokenizer::from_model_dir(default_model());
  const size_t expect = 1 + tok->encode("Hello, world", false).size();  // BOS + text
  auto r = test::run_herd("run -p \"Hello, world\" -n 8 --temp 0.7 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("prompt " + std::to_string(expect) + " tokens"), std::string::npos) << r.out;
  // Same seed, same text.
  auto again = test::run_herd("run -p \"Hello, world\" -n 8 --temp 0.7 --seed 3", false);
  auto once = test::run_herd("run -p \"Hello, world\" -n 8 --temp 0.7 --seed 3", false);
  EXPECT_EQ(again.out, once.out);
}

TEST(ChatCli, RunChatRendersTheChatFormat) {
  auto tok = Tokenizer::from_model_dir(default_model());
  std::vector<ChatMessage> msgs = {chat_message("system", "Be brief."), chat_message("user", "Hi!")};
  const size_t expect = render_chat(*tok, msgs, true).size();
  auto r = test::run_herd("run --chat --system \"Be brief.\" -p \"Hi!\" -n 4 --seed 1 --temp 0.5");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("prompt " + std::to_string(expect) + " tokens"), std::string::npos) << r.out;
}

TEST(ChatCli, InteractiveChatKeepsTheConversation) {
  auto tmp = test::temp_dir("chat");
  test::write_file(tmp / "in.txt", "First question\nSecond question\n/reset\nAfter reset\n");
  auto r = test::run_herd("chat -n 5 --temp 0.8 --seed 4 < " + (tmp / "in.txt").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Three replies. The second turn reuses the first turn's cached tokens; after /reset only the
  // shared start (BOS and the user header) can be reused.
  std::vector<long> prompt, reused, generated;
  for (size_t at = 0; (at = r.out.find('[', at)) != std::string::npos; ++at) {
    long p = 0, u = 0, g = 0;
    if (std::sscanf(r.out.c_str() + at, "[%ld prompt tokens, %ld reused, %ld generated]", &p, &u, &g) == 3) {
      prompt.push_back(p);
      reused.push_back(u);
      generated.push_back(g);
    }
  }
  ASSERT_EQ(prompt.size(), 3u) << r.out;
  EXPECT_EQ(reused[0], 0);
  EXPECT_GT(reused[1], prompt[0]);  // the whole first turn, plus part of the reply
  EXPECT_GT(prompt[1], prompt[0]);
  // BOS + the user header (its length depends on the model's tokenizer).
  auto tok = Tokenizer::from_model_dir(default_model());
  const long header = static_cast<long>(render_chat(*tok, {chat_message("user", "")}, false).size()) - 1;
  EXPECT_LE(reused[2], header);
  for (long g : generated) EXPECT_EQ(g, 5);
  fs::remove_all(tmp);
}

TEST(ChatCli, TextPromptWithoutTokenizerIsAClearError) {
  HERD_REQUIRE_SHARED();
  auto r = test::run_herd("run -m " + test::testdata("models/scout_tiny").string() + " -p hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no tokenizer"), std::string::npos) << r.out;
}

}  // namespace
