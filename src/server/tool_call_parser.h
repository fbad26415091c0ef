#pragma once
// Reading tool calls out of Llama 4 output. Accepted forms (whole reply, surrounding whitespace
// ignored, optionally wrapped in <|python_start|> ... <|python_end|>):
//   pythonic (Meta's zero-shot format): [get_weather(city="Paris"), get_time(tz='CET', utc=True)]
//   JSON: {"name": "get_weather", "parameters": {...}} (or "arguments"; an optional "type": "function"),
//         a JSON list of such objects, or several objects separated by ';' or newlines
//   <function=get_weather>{"city": "Paris"}</function> (one or more)
// Anything else is plain text (no calls).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herd::server {

struct ParsedToolCall {
  std::string name;
  nlohmann::ordered_json arguments;  // always an object
};

std::optional<std::vector<ParsedToolCall>> parse_tool_calls(const std::string& text);

// Whether a reply that starts like `head` may turn out to be a tool call (streaming holds such
// replies back until they are complete).
bool may_be_tool_call(const std::string& head);

}  // namespace herd::server
