#pragma once
// Rendering a conversation to token ids: Meta's Llama 4 chat format and the Llama 3 format.
//
// Llama 4 (Meta's reference ChatFormat; rules in docs/tokenizer.md):
//   <|begin_of_text|> { <|header_start|> ROLE <|header_end|> "\n\n" CONTENT END }*
//   [<|header_start|> assistant <|header_end|> "\n\n"]
// where the role `tool` is written `ipython`, END is <|eom|> for tool results and for assistant
// messages with tool calls or stop_reason "end_of_message", else <|eot|>. Every text piece (role
// name, "\n\n", each content part, the context, each tool call) is encoded on its own with special
// tokens NOT recognised, and the pieces are joined.
// Llama 3: <|begin_of_text|> { <|start_header_id|> ROLE <|end_header_id|> "\n\n" strip(CONTENT) <|eot_id|> }*
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herd {

class Tokenizer;

struct ChatMessage {
  std::string role;                         // system | user | assistant | tool (rendered "ipython") | ...
  std::string content;                      // used when content_parts is empty
  std::vector<std::string> content_parts;   // content given as a list of {"type":"text"} items
  std::optional<std::string> context;       // user messages: retrieved context, after "\n\n"
  nlohmann::ordered_json tool_calls = nlohmann::ordered_json::array();  // see chat_message_from_json
  std::string stop_reason;                  // "end_of_message" makes an assistant message end with <|eom|>
};

// A plain text message.
inline ChatMessage chat_message(std::string role, std::string content) {
  ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

enum class ChatFamily { Llama4, Llama3 };

// Llama4 if the vocabulary has <|header_start|>, Llama3 if it has <|start_header_id|>; else throws.
ChatFamily detect_chat_family(const Tokenizer&);
// Starts with BOS. With add_generation_prompt, ends with an empty assistant header.
std::vector<int32_t> render_chat(const Tokenizer&, const std::vector<ChatMessage>&, bool add_generation_prompt);
// The same rendering as text (special tokens written out), e.g. for display or --dry-run.
std::string render_chat_text(const Tokenizer&, const std::vector<ChatMessage>&, bool add_generation_prompt);
// Ids that end generation: Llama 4 <|end_of_text|>, <|eom|>, <|eot|> (200001, 200007, 200008);
// Llama 3 <|end_of_text|>, <|eom_id|> (if present), <|eot_id|>.
std::vector<int32_t> chat_stop_ids(const Tokenizer&);

// A message in chat.jsonl's shape (OpenAI-like): {"role", "content": string | [{"type":"text","text"}] |
// null, "context"?, "tool_calls"?: [{"tool_name", "arguments": {...}}] or OpenAI's
// [{"type":"function","function":{"name","arguments": object | JSON string}}], "stop_reason"?}.
// Throws herd::Error on a malformed message. Use the ordered_json overload to keep the key order of
// tool-call arguments (the plain json overload sees them already sorted by nlohmann::json).
ChatMessage chat_message_from_json(const nlohmann::ordered_json&);
ChatMessage chat_message_from_json(const nlohmann::json&);
std::vector<ChatMessage> chat_messages_from_json(const nlohmann::ordered_json& array);

// The text a tool call is rendered as (Meta's ToolUtils.encode_tool_call in json mode).
std::string render_tool_call(const nlohmann::ordered_json& call);
// Python json.dumps(value) with default settings (", " and ": ", ensure_ascii, key order kept).
std::string python_json_dumps(const nlohmann::ordered_json& value);

}  // namespace herd
