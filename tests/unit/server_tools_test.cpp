// Tool calling pieces of herd serve: reading calls from model output (pythonic, JSON,
// <function=...>) and putting tool definitions into the system prompt.
#include <gtest/gtest.h>

#include "server/tool_call_parser.h"
#include "server/tool_prompt.h"

namespace herd::server {
namespace {

using ojson = nlohmann::ordered_json;

TEST(ServerToolCalls, PythonicSingleCall) {
  auto calls = parse_tool_calls("[get_weather(city=\"Paris\")]");
  ASSERT_TRUE(calls);
  ASSERT_EQ(calls->size(), 1u);
  EXPECT_EQ((*calls)[0].name, "get_weather");
  EXPECT_EQ((*calls)[0].arguments.dump(), R"({"city":"Paris"})");
}

TEST(ServerToolCalls, PythonicParallelCallsAndLiterals) {
  auto calls = parse_tool_calls(
      "  [get_weather(city='San Francisco', metric=True, days=3), "
      "search(query=\"a \\\"quoted\\\" word\", limit=-2.5e1, tags=['x', \"y\"], opts={'deep': None}, empty=()),"
      " ping()]\n");
  ASSERT_TRUE(calls);
  ASSERT_EQ(calls->size(), 3u);
  EXPECT_EQ((*calls)[0].arguments.dump(), R"({"city":"San Francisco","metric":true,"days":3})");
  EXPECT_EQ((*calls)[1].name, "search");
  EXPECT_EQ((*calls)[1].arguments["query"], "a \"quoted\" word");
  EXPECT_DOUBLE_EQ((*calls)[1].arguments["limit"].get<double>(), -25.0);
  EXPECT_EQ((*calls)[1].arguments["tags"].dump(), R"(["x","y"])");
  EXPECT_TRUE((*calls)[1].arguments["opts"]["deep"].is_null());
  EXPECT_TRUE((*calls)[1].arguments["empty"].is_array());
  EXPECT_EQ((*calls)[2].name, "ping");
  EXPECT_TRUE((*calls)[2].arguments.empty());
}

TEST(ServerToolCalls, PythonStartWrapperIsStripped) {
  auto calls = parse_tool_calls("<|python_start|>[lookup(id=7)]<|python_end|>");
  ASSERT_TRUE(calls);
  EXPECT_EQ((*calls)[0].name, "lookup");
  EXPECT_EQ((*calls)[0].arguments["id"], 7);
  auto json_calls = parse_tool_calls("<|python_start|>{\"name\": \"lookup\", \"parameters\": {\"id\": 8}}");
  ASSERT_TRUE(json_calls);
  EXPECT_EQ((*json_calls)[0].arguments["id"], 8);
}

TEST(ServerToolCalls, JsonForms) {
  auto a = parse_tool_calls(R"({"name": "get_weather", "parameters": {"city": "Oslo", "units": "metric"}})");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)[0].name, "get_weather");
  EXPECT_EQ((*a)[0].arguments.dump(), R"({"city":"Oslo","units":"metric"})");  // key order kept
  auto b = parse_tool_calls(R"({"type": "function", "name": "f", "arguments": "{\"x\": 1}"})");
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)[0].arguments["x"], 1);
  auto c = parse_tool_calls(R"([{"name": "f", "parameters": {}}, {"name": "g", "parameters": {"y": [1,2]}}])");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[1].name, "g");
  auto d = parse_tool_calls("{\"name\": \"f\", \"parameters\": {\"a\": 1}}; {\"name\": \"g\", \"parameters\": {}}");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size(), 2u);
}

TEST(ServerToolCalls, FunctionTagForm) {
  auto calls = parse_tool_calls("<function=get_time>{\"tz\": \"CET\"}</function>\n<function=noop>{}</function>");
  ASSERT_TRUE(calls);
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[0].name, "get_time");
  EXPECT_EQ((*calls)[0].arguments["tz"], "CET");
  EXPECT_EQ((*calls)[1].name, "noop");
}

TEST(ServerToolCalls, PlainTextIsNotACall) {
  for (const char* text :
       {"The weather in Paris is sunny.", "", "   ", "[1, 2, 3]", "[]", "[get_weather(\"Paris\")]",
        "[get_weather(city=\"Paris\")] and more text", "[get_weather(city=\"Paris\"", "{\"city\": \"Paris\"}",
        "{\"name\": \"f\", \"parameters\": {}, \"extra\": 1}", "{\"name\": \"f\", \"parameters\": 3}",
        "<|python_start|>print(1)<|python_end|>", "[f(x=unknown_name)]", "<function=f>not json</function>",
        "{not json at all"}) {
    EXPECT_FALSE(parse_tool_calls(text)) << text;
  }
}

TEST(ServerToolCalls, DeepNestingIsRejectedNotCrashing) {
  std::string deep = "[f(x=" + std::string(10000, '[') + std::string(10000, ']') + ")]";
  EXPECT_FALSE(parse_tool_calls(deep));
}

TEST(ServerToolCalls, MayBeToolCallForStreaming) {
  EXPECT_TRUE(may_be_tool_call(""));
  EXPECT_TRUE(may_be_tool_call("  ["));
  EXPECT_TRUE(may_be_tool_call("{\"na"));
  EXPECT_TRUE(may_be_tool_call("<|python_"));
  EXPECT_TRUE(may_be_tool_call("<func"));
  EXPECT_FALSE(may_be_tool_call("Hello"));
  EXPECT_FALSE(may_be_tool_call("<b>"));
}

TEST(ServerToolPrompt, DefinitionsGoIntoTheSystemMessage) {
  ojson tools = ojson::parse(R"([{"type": "function", "function": {"name": "get_weather",
      "description": "Weather now", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
      {"type": "function", "function": {"name": "ping"}}])");
  const std::string p = tools_system_prompt(tools);
  EXPECT_NE(p.find(R"({"name": "get_weather", "description": "Weather now", "parameters": {"type": "object", )"
                   R"("properties": {"city": {"type": "string"}}}})"),
            std::string::npos)
      << p;
  EXPECT_NE(p.find(R"({"name": "ping", "parameters": {}})"), std::string::npos) << p;
  EXPECT_NE(p.find("[function_name(param1=value1"), std::string::npos);

  std::vector<ChatMessage> msgs(2);
  msgs[0].role = "system";
  msgs[0].content = "Be brief.";
  msgs[1].role = "user";
  msgs[1].content = "Weather?";
  add_tools_to_messages(tools, msgs);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].content, p + "\nBe brief.");

  std::vector<ChatMessage> no_system(1);
  no_system[0].role = "user";
  add_tools_to_messages(tools, no_system);
  ASSERT_EQ(no_system.size(), 2u);
  EXPECT_EQ(no_system[0].role, "system");
  EXPECT_EQ(no_system[0].content, p);
}

}  // namespace
}  // namespace herd::server
