#pragma once
// OpenAI response shapes: whole responses, stream chunks, usage and logprobs, for
// /v1/completions ("text_completion") and /v1/chat/completions ("chat.completion").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/sequence.h"
#include "server/tool_call_parser.h"
#include "tokenizer/tokenizer.h"

namespace herd::server {

class ResponseFormat {
 public:
  ResponseFormat(bool chat, std::string model, const Tokenizer& tok);

  const std::string& id() const { return id_; }

  nlohmann::json usage(int64_t prompt, int64_t completion, int64_t cached) const;
  // Logprobs of the tokens in `lp`; text_offset (completions) counts from `offset` bytes.
  nlohmann::json logprobs(const std::vector<TokenLogprob>& lp, int64_t offset) const;
  // OpenAI tool_calls: [{"id", "type": "function", "function": {"name", "arguments": JSON string}}].
  nlohmann::json tool_calls(const std::vector<ParsedToolCall>& calls, bool with_index) const;

  // A whole response with one choice. `calls` replaces the text when present.
  nlohmann::json response(const std::string& text, const std::string& finish_reason, const nlohmann::json& usage,
                          const nlohmann::json& logprobs, const std::optional<std::vector<ParsedToolCall>>& calls) const;
  // A stream chunk. Chat: `delta` is the delta object; completions: delta["text"] is used.
  nlohmann::json chunk(const nlohmann::json& delta, const nlohmann::json& finish_reason,
                       const nlohmann::json& logprobs) const;
  // The final usage-only chunk (stream_options.include_usage).
  nlohmann::json usage_chunk(const nlohmann::json& usage) const;

 private:
  nlohmann::json base(const char* object) const;
  bool chat_;
  std::string model_, id_;
  int64_t created_;
  const Tokenizer& tok_;
};

}  // namespace herd::server
