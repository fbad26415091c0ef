// Chat formats: every Llama 4 chat.jsonl rendering, Llama 3 layout, tool-call JSON.
#include <gtest/gtest.h>

#include "tokenizer/chat_format.h"
#include "tokenizer_test_util.h"

namespace herd::test {
namespace {

using ojson = nlohmann::ordered_json;

TEST(ChatLlama4, AllFixtureRenderings) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  auto cases = read_ordered_jsonl("tokenizer/llama4/chat.jsonl");
  ASSERT_EQ(cases.size(), 17u);
  int passed = 0;
  for (const auto& c : cases) {
    std::string name = c["name"].get<std::string>();
    std::vector<ChatMessage> msgs = chat_messages_from_json(c["messages"]);
    bool gen = c["add_generation_prompt"].get<bool>();
    std::vector<int32_t> got = render_chat(tok, msgs, gen);
    EXPECT_EQ(got, ids_of(c["ids"])) << name;
    EXPECT_EQ(render_chat_text(tok, msgs, gen), c["text"].get<std::string>()) << name;
    // Whole-text encoding with specials agrees exactly when the fixture says so.
    bool whole = tok.encode(c["text"].get<std::string>(), true) == ids_of(c["ids"]);
    EXPECT_EQ(whole, c["whole_text_encoding_matches"].get<bool>()) << name;
    if (got == ids_of(c["ids"])) ++passed;
  }
  EXPECT_EQ(passed, 17);
}

TEST(ChatLlama4, FamilyAndStopIds) {
  HERD_REQUIRE_SHARED();
  EXPECT_EQ(detect_chat_family(llama4_tokenizer()), ChatFamily::Llama4);
  EXPECT_EQ(chat_stop_ids(llama4_tokenizer()), (std::vector<int32_t>{200001, 200007, 200008}));
}

TEST(ChatLlama4, OpenAiToolCallShapeRendersLikeMetaShape) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama4_tokenizer();
  ChatMessage meta = chat_message_from_json(ojson::parse(
      R"({"role":"assistant","content":"","tool_calls":[{"tool_name":"get_weather","arguments":{"city":"Paris","days":2}}]})"));
  ChatMessage openai = chat_message_from_json(ojson::parse(
      R"({"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\", \"days\": 2}"}}]})"));
  EXPECT_EQ(render_chat(tok, {meta}, false), render_chat(tok, {openai}, false));
  EXPECT_EQ(render_chat(tok, {openai}, false).back(), 200007);  // tool calls end with <|eom|>
}

TEST(ChatLlama4, MalformedMessagesAreErrors) {
  EXPECT_THROW(chat_message_from_json(ojson::parse(R"({"content":"x"})")), Error);
  EXPECT_THROW(chat_message_from_json(ojson::parse(R"({"role":"user","content":5})")), Error);
  EXPECT_THROW(chat_message_from_json(ojson::parse(R"({"role":"user","content":[{"type":"image","url":"x"}]})")), Error);
  EXPECT_THROW(chat_message_from_json(ojson::parse(R"({"role":"assistant","tool_calls":[{"arguments":{}}]})")), Error);
  EXPECT_THROW(chat_message_from_json(ojson::parse(R"([1,2])")), Error);
  // The nlohmann::json overload accepts the same shape.
  ChatMessage m = chat_message_from_json(nlohmann::json::parse(R"({"role":"tool","content":"391"})"));
  EXPECT_EQ(m.role, "tool");
  EXPECT_EQ(m.content, "391");
}

TEST(ChatFormat, PythonJsonDumps) {
  // Expected strings are what CPython's json.dumps prints for the same values.
  EXPECT_EQ(python_json_dumps(ojson::parse(R"({"b": 1, "a": [true, false, null], "c": {}})")),
            R"({"b": 1, "a": [true, false, null], "c": {}})");
  EXPECT_EQ(python_json_dumps(ojson("caf\xC3\xA9 \xF0\x9F\x98\x80")), R"("caf\u00e9 \ud83d\ude00")");
  EXPECT_EQ(python_json_dumps(ojson("q\"b\\n\n\t\x01\x7F")), "\"q\\\"b\\\\n\\n\\t\\u0001\\u007f\"");
  EXPECT_EQ(python_json_dumps(ojson(2.5)), "2.5");
  EXPECT_EQ(python_json_dumps(ojson(100.0)), "100.0");
  EXPECT_EQ(python_json_dumps(ojson(1e16)), "1e+16");
  EXPECT_EQ(python_json_dumps(ojson(1e15)), "1000000000000000.0");
  EXPECT_EQ(python_json_dumps(ojson(0.0001)), "0.0001");
  EXPECT_EQ(python_json_dumps(ojson(0.00001)), "1e-05");
  EXPECT_EQ(python_json_dumps(ojson(-1.5e-7)), "-1.5e-07");
  EXPECT_EQ(python_json_dumps(ojson(0.1)), "0.1");
  EXPECT_EQ(python_json_dumps(ojson(-3)), "-3");
  EXPECT_EQ(python_json_dumps(ojson::array()), "[]");
}

TEST(ChatFormat, ToolCallRendering) {
  EXPECT_EQ(render_tool_call(ojson::parse(R"J({"tool_name":"code_interpreter","arguments":{"code":"print(1)"}})J")),
            "print(1)");
  EXPECT_EQ(render_tool_call(ojson::parse(R"({"tool_name":"wolfram_alpha","arguments":{"query":"2+2"}})")),
            "wolfram_alpha.call(query=\"2+2\")");
  EXPECT_EQ(render_tool_call(ojson::parse(R"({"tool_name":"f","arguments":{"z":1,"a":"\u00fc"}})")),
            R"({"type": "function", "name": "f", "parameters": {"z": 1, "a": "\u00fc"}})");
  EXPECT_THROW(render_tool_call(ojson::parse(R"({"tool_name":"code_interpreter","arguments":{}})")), Error);
}

// Llama 3: <|start_header_id|>role<|end_header_id|>\n\n strip(content) <|eot_id|>. The ids of
// "system" (9125), "user" (882), "assistant" (78191) and "\n\n" (271) are Llama 3's well-known
// header ids; content ids come from the Llama 3 fixture cases.
TEST(ChatLlama3, Layout) {
  HERD_REQUIRE_SHARED();
  const Tokenizer& tok = llama3_tokenizer();
  EXPECT_EQ(detect_chat_family(tok), ChatFamily::Llama3);
  EXPECT_EQ(chat_stop_ids(tok), (std::vector<int32_t>{128001, 128009}));  // no <|eom_id|> in Llama 3.0
  std::string text;
  std::vector<int32_t> content_ids;
  for (const auto& c : read_ordered_jsonl("tokenizer/llama3/cases.jsonl"))
    if (c["name"] == "hello_world_punct") {
      text = c["text"].get<std::string>();
      content_ids = ids_of(c["ids"]);
    }
  ASSERT_FALSE(text.empty());
  std::vector<ChatMessage> msgs(2);
  msgs[0].role = "system";
  msgs[0].content = "";
  msgs[1].role = "user";
  msgs[1].content = " \n " + text + "\n\n";  // trimmed as in Meta's Llama 3 formatter
  std::vector<int32_t> want = {128000, 128006, 9125, 128007, 271, 128009, 128006, 882, 128007, 271};
  want.insert(want.end(), content_ids.begin(), content_ids.end());
  want.insert(want.end(), {128009, 128006, 78191, 128007, 271});
  EXPECT_EQ(render_chat(tok, msgs, true), want);
  EXPECT_EQ(render_chat_text(tok, msgs, false),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n<|eot_id|><|start_header_id|>user"
            "<|end_header_id|>\n\n" + text + "<|eot_id|>");
}

}  // namespace
}  // namespace herd::test
