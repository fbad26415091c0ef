#include "server/openai_format.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

#include "tokenizer/chat_format.h"

namespace herd::server {
namespace {

std::string random_hex(int n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s += digits[rng() & 15];
  return s;
}

}  // namespace

ResponseFormat::ResponseFormat(bool chat, std::string model, const Tokenizer& tok)
    : chat_(chat), model_(std::move(model)), id_((chat ? "chatcmpl-" : "cmpl-") + random_hex(24)),
      created_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                   .count()),
      tok_(tok) {}

nlohmann::json ResponseFormat::base(const char* object) const {
  return {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}, {"system_fingerprint", "herd"}};
}

nlohmann::json ResponseFormat::usage(int64_t prompt, int64_t completion, int64_t cached) const {
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

nlohmann::json ResponseFormat::logprobs(const std::vector<TokenLogprob>& lp, int64_t offset) const {
  auto text_of = [&](int32_t id) { return tok_.has_token(id) ? tok_.token_bytes(id) : std::string(); };
  auto bytes_of = [](const std::string& s) {
    nlohmann::json b = nlohmann::json::array();
    for (unsigned char c : s) b.push_back(static_cast<int>(c));
    return b;
  };
  if (chat_) {
    nlohmann::json content = nlohmann::json::array();
    for (const auto& t : lp) {
      const std::string s = text_of(t.id);
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [id, v] : t.top) {
        const std::string ts = text_of(id);
        top.push_back({{"token", ts}, {"logprob", v}, {"bytes", bytes_of(ts)}});
      }
      content.push_back({{"token", s}, {"logprob", t.logprob}, {"bytes", bytes_of(s)}, {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  nlohmann::json tokens = nlohmann::json::array(), token_lp = nlohmann::json::array(),
                 top = nlohmann::json::array(), offsets = nlohmann::json::array();
  for (const auto& t : lp) {
    const std::string s = text_of(t.id);
    tokens.push_back(s);
    token_lp.push_back(t.logprob);
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [id, v] : t.top) m[text_of(id)] = v;
    top.push_back(m);
    offsets.push_back(offset);
    offset += static_cast<int64_t>(s.size());
  }
  return {{"tokens", tokens}, {"token_logprobs", token_lp}, {"top_logprobs", top}, {"text_offset", offsets}};
}

nlohmann::json ResponseFormat::tool_calls(const std::vector<ParsedToolCall>& calls, bool with_index) const {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    nlohmann::json c = {{"id", "call_" + random_hex(24)},
                        {"type", "function"},
                        {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments.dump()}}}};
    if (with_index) c["index"] = i;
    out.push_back(c);
  }
  return out;
}

nlohmann::json ResponseFormat::response(const std::string& text, const std::string& finish_reason,
                                        const nlohmann::json& usage, const nlohmann::json& logprobs,
                                        const std::optional<std::vector<ParsedToolCall>>& calls) const {
  nlohmann::json r = base(chat_ ? "chat.completion" : "text_completion");
  nlohmann::json choice = {{"index", 0}, {"logprobs", logprobs}, {"finish_reason", finish_reason}};
  if (chat_) {
    nlohmann::json msg = {{"role", "assistant"}};
    if (calls) {
      msg["content"] = nullptr;
      msg["tool_calls"] = tool_calls(*calls, false);
    } else {
      msg["content"] = text;
    }
    choice["message"] = msg;
  } else {
    choice["text"] = text;
  }
  r["choices"] = nlohmann::json::array({choice});
  r["usage"] = usage;
  return r;
}

nlohmann::json ResponseFormat::chunk(const nlohmann::json& delta, const nlohmann::json& finish_reason,
                                     const nlohmann::json& logprobs) const {
  nlohmann::json r = base(chat_ ? "chat.completion.chunk" : "text_completion");
  nlohmann::json choice = {{"index", 0}, {"logprobs", logprobs}, {"finish_reason", finish_reason}};
  if (chat_) choice["delta"] = delta;
  else choice["text"] = delta.value("text", std::string());
  r["choices"] = nlohmann::json::array({choice});
  return r;
}

nlohmann::json ResponseFormat::usage_chunk(const nlohmann::json& usage) const {
  nlohmann::json r = base(chat_ ? "chat.completion.chunk" : "text_completion");
  r["choices"] = nlohmann::json::array();
  r["usage"] = usage;
  return r;
}

}  // namespace herd::server
