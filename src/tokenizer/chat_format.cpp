#include "tokenizer/chat_format.h"

#include <charconv>
#include <cmath>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace herd {

using ojson = nlohmann::ordered_json;

namespace {

void dump_string(const std::string& s, std::string& out) {
  static const char* hex = "0123456789abcdef";
  auto u = [&](uint32_t v) {
    out += "\\u";
    for (int sh = 12; sh >= 0; sh -= 4) out += hex[(v >> sh) & 15];
  };
  out += '"';
  const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* end = p + s.size();
  while (p < end) {
    uint32_t cp;
    p += utf8::decode(p, end, &cp);
    if (cp == utf8::kInvalid) cp = 0xFFFD;
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
          u(cp);
        } else if (cp >= 0x10000) {
          uint32_t v = cp - 0x10000;
          u(0xD800 + (v >> 10));
          u(0xDC00 + (v & 0x3FF));
        } else {
          out += static_cast<char>(cp);
        }
    }
  }
  out += '"';
}

// Python repr() of a float: shortest round-trip digits; fixed notation for exponents -4..15.
std::string python_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  int exp = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min<size_t>(digits.size(), exp + 1));
      while (static_cast<int>(ip.size()) < exp + 1) ip += '0';
      std::string fp = digits.size() > static_cast<size_t>(exp + 1) ? digits.substr(exp + 1) : "0";
      out = ip + "." + fp;
    } else {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  }
  return sign + out;
}

void dump(const ojson& v, std::string& out) {
  switch (v.type()) {
    case ojson::value_t::null: out += "null"; break;
    case ojson::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
    case ojson::value_t::number_integer: out += std::to_string(v.get<int64_t>()); break;
    case ojson::value_t::number_unsigned: out += std::to_string(v.get<uint64_t>()); break;
    case ojson::value_t::number_float: out += python_float(v.get<double>()); break;
    case ojson::value_t::string: dump_string(v.get_ref<const std::string&>(), out); break;
    case ojson::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ", ";
        first = false;
        dump(e, out);
      }
      out += ']';
      break;
    }
    case ojson::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        dump_string(it.key(), out);
        out += ": ";
        dump(it.value(), out);
      }
      out += '}';
      break;
    }
    default: fail("cannot render a JSON value of this type in a tool call");
  }
}

// Python str.strip(): removes str.isspace() characters at both ends.
std::string python_strip(const std::string& s) {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* end = base + s.size();
  auto space_at = [&](const uint8_t* p, size_t* len) {
    uint32_t cp;
    *len = utf8::decode(p, end, &cp);
    return cp != utf8::kInvalid && (unicode::unicode_flags(cp) & unicode::kPySpace);
  };
  const uint8_t* b = base;
  size_t len;
  while (b < end && space_at(b, &len)) b += len;
  const uint8_t* e = end;
  while (e > b) {
    const uint8_t* k = e - 1;
    while (k > b && (*k & 0xC0) == 0x80) --k;
    uint32_t cp;
    size_t n = utf8::decode(k, end, &cp);
    if (k + n != e || cp == utf8::kInvalid || !(unicode::unicode_flags(cp) & unicode::kPySpace)) break;
    e = k;
  }
  return std::string(reinterpret_cast<const char*>(b), static_cast<size_t>(e - b));
}

std::string tool_name_of(const ojson& call) {
  if (call.contains("tool_name") && call["tool_name"].is_string()) return call["tool_name"].get<std::string>();
  if (call.contains("function") && call["function"].is_object() && call["function"].contains("name") &&
      call["function"]["name"].is_string())
    return call["function"]["name"].get<std::string>();
  if (call.contains("name") && call["name"].is_string()) return call["name"].get<std::string>();
  fail("tool call without a name: ", call.dump());
}

ojson arguments_of(const ojson& call) {
  const ojson* a = nullptr;
  if (call.contains("arguments")) a = &call["arguments"];
  else if (call.contains("function") && call["function"].is_object() && call["function"].contains("arguments"))
    a = &call["function"]["arguments"];
  if (!a || a->is_null()) return ojson::object();
  if (a->is_string()) {  // OpenAI sends the arguments as a JSON string
    ojson parsed = ojson::parse(a->get<std::string>(), nullptr, false);
    if (!parsed.is_discarded()) return parsed;
  }
  return *a;
}

std::string str_of(const ojson& v) { return v.is_string() ? v.get<std::string>() : python_json_dumps(v); }

struct Piece {
  bool special;
  std::string text;  // special: the token text
};

// The sequence of pieces of a rendering; shared by the id and text renderers.
std::vector<Piece> render_pieces(const Tokenizer& tok, const std::vector<ChatMessage>& msgs, bool gen) {
  ChatFamily fam = detect_chat_family(tok);
  std::vector<Piece> out;
  auto special = [&](const char* t) { out.push_back(Piece{true, t}); };
  auto text = [&](std::string t) {
    if (!t.empty()) out.push_back(Piece{false, std::move(t)});
  };
  bool l4 = fam == ChatFamily::Llama4;
  auto header = [&](const std::string& role) {
    special(l4 ? "<|header_start|>" : "<|start_header_id|>");
    text(role);
    special(l4 ? "<|header_end|>" : "<|end_header_id|>");
    text("\n\n");
  };
  special("<|begin_of_text|>");
  for (const ChatMessage& m : msgs) {
    if (m.role.empty()) fail("chat message without a role");
    header(m.role == "tool" ? "ipython" : m.role);
    bool has_calls = m.role == "assistant" && !m.tool_calls.empty();
    if (l4) {
      if (m.content_parts.empty()) text(m.content);
      for (const auto& p : m.content_parts) text(p);
    } else {
      std::string all = m.content;
      for (const auto& p : m.content_parts) all += p;
      text(python_strip(all));
    }
    if (m.role == "user" && m.context) {
      text("\n\n");
      text(*m.context);
    }
    if (m.role == "assistant")
      for (const auto& c : m.tool_calls) text(render_tool_call(c));
    bool eom = m.role == "tool" || m.role == "ipython" ||
               (m.role == "assistant" && (has_calls || m.stop_reason == "end_of_message"));
    if (l4) {
      special(eom ? "<|eom|>" : "<|eot|>");
    } else {
      special(eom && tok.token_id("<|eom_id|>") ? "<|eom_id|>" : "<|eot_id|>");
    }
  }
  if (gen) header("assistant");
  return out;
}

}  // namespace

std::string python_json_dumps(const ojson& value) {
  std::string out;
  dump(value, out);
  return out;
}

std::string render_tool_call(const ojson& call) {
  if (!call.is_object()) fail("tool call must be a JSON object: ", call.dump());
  std::string name = tool_name_of(call);
  ojson args = arguments_of(call);
  if (name == "code_interpreter") {
    if (args.is_object() && args.contains("code")) return str_of(args["code"]);
    fail("code_interpreter tool call without arguments.code");
  }
  if (name == "brave_search" || name == "wolfram_alpha" || name == "photogen") {
    if (args.is_object() && args.contains("query")) return name + ".call(query=\"" + str_of(args["query"]) + "\")";
    fail(name, " tool call without arguments.query");
  }
  ojson obj = ojson::object();
  obj["type"] = "function";
  obj["name"] = name;
  obj["parameters"] = args;
  return python_json_dumps(obj);
}

ChatFamily detect_chat_family(const Tokenizer& tok) {
  if (tok.token_id("<|header_start|>") && tok.token_id("<|header_end|>")) return ChatFamily::Llama4;
  if (tok.token_id("<|start_header_id|>") && tok.token_id("<|end_header_id|>")) return ChatFamily::Llama3;
  fail("this tokenizer has no Llama 4 (<|header_start|>) or Llama 3 (<|start_header_id|>) chat tokens");
}

std::vector<int32_t> render_chat(const Tokenizer& tok, const std::vector<ChatMessage>& msgs, bool gen) {
  std::vector<int32_t> ids;
  for (const Piece& p : render_pieces(tok, msgs, gen)) {
    if (p.special) {
      auto id = tok.token_id(p.text);
      if (!id) fail("the tokenizer lacks the special token ", p.text, " needed by its chat format");
      ids.push_back(*id);
    } else {
      tok.encode_into(p.text, false, ids);
    }
  }
  return ids;
}

std::string render_chat_text(const Tokenizer& tok, const std::vector<ChatMessage>& msgs, bool gen) {
  std::string s;
  for (const Piece& p : render_pieces(tok, msgs, gen)) s += p.text;
  return s;
}

std::vector<int32_t> chat_stop_ids(const Tokenizer& tok) {
  std::vector<const char*> names;
  if (detect_chat_family(tok) == ChatFamily::Llama4) names = {"<|end_of_text|>", "<|eom|>", "<|eot|>"};
  else names = {"<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"};
  std::vector<int32_t> ids;
  for (const char* n : names)
    if (auto id = tok.token_id(n)) ids.push_back(*id);
  return ids;
}

ChatMessage chat_message_from_json(const ojson& j) {
  if (!j.is_object()) fail("chat message must be a JSON object, got: ", j.dump());
  ChatMessage m;
  if (!j.contains("role") || !j["role"].is_string()) fail("chat message without a string \"role\": ", j.dump());
  m.role = j["role"].get<std::string>();
  if (j.contains("content")) {
    const ojson& c = j["content"];
    if (c.is_string()) {
      m.content = c.get<std::string>();
    } else if (c.is_array()) {
      for (const auto& item : c) {
        if (item.is_string()) {
          m.content_parts.push_back(item.get<std::string>());
          continue;
        }
        if (!item.is_object() || item.value("type", std::string()) != "text" || !item.contains("text") ||
            !item["text"].is_string())
          fail("unsupported content item (only {\"type\": \"text\", \"text\": ...}): ", item.dump());
        m.content_parts.push_back(item["text"].get<std::string>());
      }
    } else if (!c.is_null()) {
      fail("chat message \"content\" must be a string, a list of text items or null: ", c.dump());
    }
  }
  if (j.contains("context") && !j["context"].is_null()) {
    if (!j["context"].is_string()) fail("chat message \"context\" must be a string");
    m.context = j["context"].get<std::string>();
  }
  if (j.contains("tool_calls") && !j["tool_calls"].is_null()) {
    if (!j["tool_calls"].is_array()) fail("chat message \"tool_calls\" must be a list");
    m.tool_calls = j["tool_calls"];
    for (const auto& c : m.tool_calls) render_tool_call(c);  // validate now, not at render time
  }
  if (j.contains("stop_reason") && j["stop_reason"].is_string()) m.stop_reason = j["stop_reason"].get<std::string>();
  return m;
}

ChatMessage chat_message_from_json(const nlohmann::json& j) { return chat_message_from_json(ojson::parse(j.dump())); }

std::vector<ChatMessage> chat_messages_from_json(const ojson& array) {
  if (!array.is_array()) fail("chat messages must be a JSON list");
  std::vector<ChatMessage> out;
  for (const auto& m : array) out.push_back(chat_message_from_json(m));
  return out;
}

}  // namespace herd
