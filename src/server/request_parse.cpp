#include "server/request_parse.h"

#include <random>

#include "core/error.h"
#include "server/api_error.h"
#include "server/tool_prompt.h"
#include "tokenizer/chat_format.h"

namespace herd::server {
namespace {

using ojson = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& param, const std::string& msg, const char* code = "invalid_value") {
  throw ApiError(400, msg, param, code);
}

bool present(const ojson& body, const char* key) { return body.contains(key) && !body[key].is_null(); }

std::optional<double> number(const ojson& body, const char* key, double lo, double hi) {
  if (!present(body, key)) return std::nullopt;
  const ojson& v = body[key];
  if (!v.is_number()) bad(key, cat("'", key, "' must be a number"), "invalid_type");
  double d = v.get<double>();
  if (!(d >= lo && d <= hi)) bad(key, cat("'", key, "' must be between ", lo, " and ", hi, ", got ", d));
  return d;
}

std::optional<int64_t> integer(const ojson& body, const char* key, int64_t lo, int64_t hi) {
  if (!present(body, key)) return std::nullopt;
  const ojson& v = body[key];
  if (!v.is_number_integer()) bad(key, cat("'", key, "' must be an integer"), "invalid_type");
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    bad(key, cat("'", key, "' is out of range"));
  int64_t i = v.get<int64_t>();
  if (i < lo || i > hi) bad(key, cat("'", key, "' must be between ", lo, " and ", hi, ", got ", i));
  return i;
}

std::optional<bool> boolean(const ojson& body, const char* key) {
  if (!present(body, key)) return std::nullopt;
  if (!body[key].is_boolean()) bad(key, cat("'", key, "' must be a boolean"), "invalid_type");
  return body[key].get<bool>();
}

// Fields both endpoints share: model, sampling, limits, stop, stream.
void parse_common(const ojson& body, const RequestLimits& limits, ParsedRequest& r) {
  if (!body.is_object()) bad("", "the request body must be a JSON object", "invalid_type");
  if (present(body, "model")) {
    if (!body["model"].is_string()) bad("model", "'model' must be a string", "invalid_type");
    const std::string m = body["model"].get<std::string>();
    if (m != limits.model_id)
      throw ApiError(404, cat("The model '", m, "' does not exist; this server serves '", limits.model_id, "'"),
                     "model", "model_not_found");
  }
  if (auto n = integer(body, "n", 1, 1); n) (void)n;
  if (auto b = boolean(body, "stream")) r.stream = *b;
  if (present(body, "stream_options")) {
    const ojson& so = body["stream_options"];
    if (!so.is_object()) bad("stream_options", "'stream_options' must be an object", "invalid_type");
    if (auto b = boolean(so, "include_usage")) r.include_usage = *b;
  }
  SamplingParams& sp = r.gen.sampling;
  sp.temperature = static_cast<float>(number(body, "temperature", 0, 2).value_or(1.0));
  sp.top_p = static_cast<float>(number(body, "top_p", 0, 1).value_or(1.0));
  if (sp.top_p <= 0) bad("top_p", "'top_p' must be greater than 0");
  sp.top_k = static_cast<int>(integer(body, "top_k", 0, 1 << 30).value_or(0));
  sp.min_p = static_cast<float>(number(body, "min_p", 0, 1).value_or(0.0));
  sp.repetition_penalty = static_cast<float>(number(body, "repetition_penalty", 0.01, 100).value_or(1.0));
  number(body, "presence_penalty", -2, 2);   // accepted for compatibility; not applied
  number(body, "frequency_penalty", -2, 2);  // accepted for compatibility; not applied
  if (present(body, "seed")) {
    if (!body["seed"].is_number_integer()) bad("seed", "'seed' must be an integer", "invalid_type");
    sp.seed = body["seed"].is_number_unsigned() ? body["seed"].get<uint64_t>()
                                                : static_cast<uint64_t>(body["seed"].get<int64_t>());
  } else {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    sp.seed = rng();
  }
  // max_completion_tokens is the newer name; either may be given.
  auto mt = integer(body, "max_completion_tokens", 1, INT64_MAX);
  if (!mt) mt = integer(body, "max_tokens", 1, INT64_MAX);
  r.gen.max_tokens = mt.value_or(INT64_MAX);
  if (present(body, "stop")) {
    const ojson& s = body["stop"];
    if (s.is_string()) {
      r.gen.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      if (s.size() > 16) bad("stop", "'stop' may hold at most 16 strings");
      for (const auto& e : s) {
        if (!e.is_string()) bad("stop", "'stop' must be a string or a list of strings", "invalid_type");
        r.gen.stop.push_back(e.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or a list of strings", "invalid_type");
    }
  }
}

// The prompt must leave room for at least one generated token.
void check_context(ParsedRequest& r, const RequestLimits& limits) {
  const int64_t n = static_cast<int64_t>(r.prompt.size());
  if (n >= limits.ctx)
    throw ApiError(400,
                   cat("This model's maximum context length is ", limits.ctx, " tokens, but the prompt has ", n,
                       " tokens (at least one more is needed for the completion)"),
                   "messages", "context_length_exceeded");
  r.gen.max_tokens = std::min(r.gen.max_tokens, limits.ctx - n);
}

}  // namespace

ojson parse_body(const std::string& body) {
  try {
    return ojson::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw ApiError(400, cat("The request body is not valid JSON: ", e.what()), "", "invalid_json");
  }
}

ParsedRequest parse_completion_request(const ojson& body, const Tokenizer& tok, const RequestLimits& limits) {
  ParsedRequest r;
  parse_common(body, limits, r);
  if (!present(body, "prompt")) bad("prompt", "'prompt' is required", "missing_required_parameter");
  const ojson& p = body["prompt"];
  const auto bos = tok.token_id("<|begin_of_text|>");
  auto add_text = [&](const std::string& text) {
    // The prompt is raw model input: special-token text is read as special tokens. A BOS is put in
    // front unless the prompt starts with one.
    std::vector<int32_t> ids = tok.encode(text, true);
    if (bos && (ids.empty() || ids[0] != *bos)) r.prompt.push_back(*bos);
    r.prompt.insert(r.prompt.end(), ids.begin(), ids.end());
  };
  if (p.is_string()) {
    add_text(p.get<std::string>());
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    add_text(p[0].get<std::string>());
  } else if (p.is_array() && !p.empty() && p[0].is_number()) {
    for (const auto& e : p) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0 || !tok.has_token(static_cast<int32_t>(e.get<int64_t>())))
        bad("prompt", "'prompt' token ids must be integers known to the tokenizer");
      r.prompt.push_back(static_cast<int32_t>(e.get<int64_t>()));
    }
  } else if (p.is_array()) {
    bad("prompt", "'prompt' must be a string, a list of one string, or a list of token ids (one prompt per request)");
  } else {
    bad("prompt", "'prompt' must be a string or a list of token ids", "invalid_type");
  }
  if (present(body, "logprobs")) {
    auto lp = integer(body, "logprobs", 0, 20);
    r.logprobs = true;
    r.gen.top_logprobs = static_cast<int>(*lp);
  }
  if (present(body, "echo") && body["echo"] != false) bad("echo", "'echo' is not supported");
  if (present(body, "suffix")) bad("suffix", "'suffix' is not supported");
  check_context(r, limits);
  return r;
}

ParsedRequest parse_chat_request(const ojson& body, const Tokenizer& tok, const RequestLimits& limits) {
  ParsedRequest r;
  r.chat = true;
  parse_common(body, limits, r);
  if (!present(body, "messages")) bad("messages", "'messages' is required", "missing_required_parameter");
  const ojson& msgs = body["messages"];
  if (!msgs.is_array()) bad("messages", "'messages' must be a list", "invalid_type");
  if (msgs.empty()) bad("messages", "'messages' must not be empty");
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const ojson& m = msgs[i];
    const std::string param = cat("messages[", i, "]");
    if (!m.is_object()) bad(param, cat("'", param, "' must be an object"), "invalid_type");
    if (!m.contains("role") || !m["role"].is_string())
      bad(param + ".role", cat("'", param, ".role' must be a string"), "invalid_type");
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool" &&
        role != "ipython")
      bad(param + ".role", cat("'", param, ".role' must be system, user, assistant or tool, got '", role, "'"));
    try {
      ChatMessage cm = chat_message_from_json(m);
      if (cm.role == "developer") cm.role = "system";
      messages.push_back(std::move(cm));
    } catch (const Error& e) {
      bad(param, cat("'", param, "': ", e.what()));
    }
  }
  if (present(body, "tools")) {
    const ojson& tools = body["tools"];
    if (!tools.is_array()) bad("tools", "'tools' must be a list", "invalid_type");
    for (size_t i = 0; i < tools.size(); ++i) {
      const ojson& t = tools[i];
      const std::string param = cat("tools[", i, "]");
      if (!t.is_object() || !t.contains("function") || !t["function"].is_object())
        bad(param, cat("'", param, "' must be {\"type\": \"function\", \"function\": {...}}"), "invalid_type");
      if (t.contains("type") && t["type"] != "function") bad(param + ".type", "only function tools are supported");
      const ojson& f = t["function"];
      if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty())
        bad(param + ".function.name", cat("'", param, ".function.name' must be a non-empty string"), "invalid_type");
      if (f.contains("parameters") && !f["parameters"].is_object() && !f["parameters"].is_null())
        bad(param + ".function.parameters", "function parameters must be a JSON Schema object", "invalid_type");
    }
    r.tools = tools;
  }
  bool tools_on = !r.tools.empty();
  if (present(body, "tool_choice")) {
    const ojson& tc = body["tool_choice"];
    if (tc.is_string()) {
      const std::string s = tc.get<std::string>();
      if (s != "none" && s != "auto" && s != "required") bad("tool_choice", "'tool_choice' must be none, auto or required");
      if (s == "none") tools_on = false;
    } else if (!tc.is_object()) {
      bad("tool_choice", "'tool_choice' must be a string or an object", "invalid_type");
    }
  }
  if (present(body, "logprobs")) r.logprobs = boolean(body, "logprobs").value();
  auto top = integer(body, "top_logprobs", 0, 20);
  if (top && !r.logprobs) bad("top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
  if (r.logprobs) r.gen.top_logprobs = static_cast<int>(top.value_or(0));
  if (tools_on) {
    add_tools_to_messages(r.tools, messages);
    r.tools_active = true;
  }
  try {
    r.prompt = render_chat(tok, messages, true);
  } catch (const Error& e) {
    bad("messages", e.what());
  }
  check_context(r, limits);
  return r;
}

}  // namespace herd::server
