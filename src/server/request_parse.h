#pragma once
// OpenAI request bodies (/v1/completions, /v1/chat/completions) checked field by field and turned
// into token ids and generation parameters. Every problem is an ApiError naming the field.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/sequence.h"
#include "tokenizer/tokenizer.h"

namespace herd::server {

struct RequestLimits {
  std::string model_id;  // the one model served; other names get 404
  int64_t ctx = 4096;    // prompt + completion positions
};

struct ParsedRequest {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool logprobs = false;
  std::vector<int32_t> prompt;
  GenParams gen;
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();  // chat: tools offered to the model
  bool tools_active = false;      // tools were rendered into the prompt (tool_choice is not "none")
};

// The JSON body, or ApiError(400) naming the parse error.
nlohmann::ordered_json parse_body(const std::string& body);

ParsedRequest parse_completion_request(const nlohmann::ordered_json& body, const Tokenizer& tok,
                                       const RequestLimits& limits);
ParsedRequest parse_chat_request(const nlohmann::ordered_json& body, const Tokenizer& tok,
                                 const RequestLimits& limits);

}  // namespace herd::server
