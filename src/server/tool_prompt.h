#pragma once
// Rendering OpenAI `tools` into a Llama 4 conversation (spec §6.2, Meta's zero-shot format): the
// function definitions go, as JSON, into the system message together with instructions to answer
// with a pythonic list of calls. See docs/server.md for the exact text.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_format.h"

namespace herd::server {

// The instructions and definitions (one JSON object per function: name, description, parameters).
std::string tools_system_prompt(const nlohmann::ordered_json& tools);

// Puts tools_system_prompt() at the head of the first system message, or adds a system message.
void add_tools_to_messages(const nlohmann::ordered_json& tools, std::vector<ChatMessage>& messages);

}  // namespace herd::server
