#include "server/tool_call_parser.h"

#include <cctype>

namespace herd::server {
namespace {

using ojson = nlohmann::ordered_json;

constexpr const char* kPythonStart = "<|python_start|>";
constexpr const char* kPythonEnd = "<|python_end|>";

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// A recursive-descent reader of the pythonic call list. Every method returns false on anything
// unexpected; the caller then treats the reply as text.
class PyReader {
 public:
  explicit PyReader(const std::string& s) : s_(s) {}

  bool calls(std::vector<ParsedToolCall>& out) {
    ws();
    if (!eat('[')) return false;
    ws();
    if (eat(']')) return false;  // an empty list calls nothing
    while (true) {
      ParsedToolCall c;
      if (!call(c)) return false;
      out.push_back(std::move(c));
      ws();
      if (eat(']')) break;
      if (!eat(',')) return false;
      ws();
    }
    ws();
    return i_ == s_.size();
  }

 private:
  bool call(ParsedToolCall& c) {
    if (!name(c.name)) return false;
    ws();
    if (!eat('(')) return false;
    c.arguments = ojson::object();
    ws();
    if (eat(')')) return true;
    while (true) {
      std::string key;
      ws();
      if (!ident(key)) return false;
      ws();
      if (!eat('=')) return false;  // positional arguments have no name to map to
      ws();
      ojson v;
      if (!value(v)) return false;
      c.arguments[key] = std::move(v);
      ws();
      if (eat(')')) return true;
      if (!eat(',')) return false;
      ws();
      if (eat(')')) return true;  // trailing comma
    }
  }

  bool ident(std::string& out) {
    size_t b = i_;
    if (i_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
    else return false;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
    out = s_.substr(b, i_ - b);
    return true;
  }

  // Function names may also hold '.' and '-' (OpenAI allows '-').
  bool name(std::string& out) {
    if (!ident(out)) return false;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' ||
                              s_[i_] == '.' || s_[i_] == '-'))
      out += s_[i_++];
    return true;
  }

  bool value(ojson& v) {
    if (depth_ > 64 || i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"' || c == '\'') {
      std::string str;
      if (!string(str)) return false;
      v = str;
      return true;
    }
    if (c == '[' || c == '(') {
      const char close = c == '[' ? ']' : ')';
      ++i_;
      ++depth_;
      v = ojson::array();
      ws();
      if (eat(close)) return --depth_, true;
      while (true) {
        ojson e;
        ws();
        if (!value(e)) return false;
        v.push_back(std::move(e));
        ws();
        if (eat(close)) return --depth_, true;
        if (!eat(',')) return false;
        ws();
        if (eat(close)) return --depth_, true;
      }
    }
    if (c == '{') {
      ++i_;
      ++depth_;
      v = ojson::object();
      ws();
      if (eat('}')) return --depth_, true;
      while (true) {
        std::string key;
        ws();
        if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'') || !string(key)) return false;
        ws();
        if (!eat(':')) return false;
        ws();
        ojson e;
        if (!value(e)) return false;
        v[key] = std::move(e);
        ws();
        if (eat('}')) return --depth_, true;
        if (!eat(',')) return false;
        ws();
        if (eat('}')) return --depth_, true;
      }
    }
    if (c == '-' || c == '+' || c == '.' || std::isdigit(static_cast<unsigned char>(c))) return number(v);
    std::string word;
    if (!ident(word)) return false;
    if (word == "True" || word == "true") v = true;
    else if (word == "False" || word == "false") v = false;
    else if (word == "None" || word == "null") v = nullptr;
    else return false;
    return true;
  }

  bool number(ojson& v) {
    size_t b = i_;
    if (s_[i_] == '-' || s_[i_] == '+') ++i_;
    bool is_float = false, digits = false;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (std::isdigit(static_cast<unsigned char>(c))) digits = true;
      else if (c == '.' || c == 'e' || c == 'E') is_float = true;
      else if ((c == '-' || c == '+') && (s_[i_ - 1] == 'e' || s_[i_ - 1] == 'E')) {}
      else break;
      ++i_;
    }
    if (!digits) return false;
    std::string t = s_.substr(b, i_ - b);
    if (t[0] == '+') t.erase(0, 1);
    try {
      size_t used = 0;
      if (is_float) {
        double d = std::stod(t, &used);
        v = d;
      } else {
        long long n = std::stoll(t, &used);
        v = static_cast<int64_t>(n);
      }
      return used == t.size();
    } catch (...) {
      return false;
    }
  }

  bool string(std::string& out) {
    const char q = s_[i_++];
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == q) return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) return false;
      char e = s_[i_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '0': out += '\0'; break;
        case 'u': {
          if (i_ + 4 > s_.size()) return false;
          unsigned cp = 0;
          for (int k = 0; k < 4; ++k) {
            char h = s_[i_++];
            if (!std::isxdigit(static_cast<unsigned char>(h))) return false;
            cp = cp * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                                                                            : (std::tolower(h) - 'a' + 10));
          }
          // UTF-8 encode (lone surrogates are kept as their 3-byte form).
          if (cp < 0x80) out += static_cast<char>(cp);
          else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default: out += e;  // \\ \' \" and anything else: the character itself
      }
    }
    return false;
  }

  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  const std::string& s_;
  size_t i_ = 0;
  int depth_ = 0;
};

// {"name": ..., "parameters" | "arguments": {...}}, with an optional "type": "function".
bool json_call(const ojson& j, ParsedToolCall& c) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  if (j.contains("type") && j["type"] != "function") return false;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "name" && it.key() != "parameters" && it.key() != "arguments" && it.key() != "type") return false;
  c.name = j["name"].get<std::string>();
  const char* key = j.contains("parameters") ? "parameters" : "arguments";
  if (!j.contains(key) || j[key].is_null()) {
    c.arguments = ojson::object();
  } else if (j[key].is_object()) {
    c.arguments = j[key];
  } else if (j[key].is_string()) {  // arguments as a JSON string, OpenAI style
    ojson a = ojson::parse(j[key].get<std::string>(), nullptr, false);
    if (a.is_discarded() || !a.is_object()) return false;
    c.arguments = std::move(a);
  } else {
    return false;
  }
  return !c.name.empty();
}

bool json_calls(const std::string& s, std::vector<ParsedToolCall>& out) {
  ojson j = ojson::parse(s, nullptr, false);
  if (!j.is_discarded()) {
    if (j.is_array()) {
      if (j.empty()) return false;
      for (const auto& e : j) {
        ParsedToolCall c;
        if (!json_call(e, c)) return false;
        out.push_back(std::move(c));
      }
      return true;
    }
    ParsedToolCall c;
    if (!json_call(j, c)) return false;
    out.push_back(std::move(c));
    return true;
  }
  // Several objects separated by ';' or line breaks.
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find_first_of(";\n", pos);
    std::string part = trim(s.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    pos = end == std::string::npos ? s.size() : end + 1;
    if (part.empty()) continue;
    ojson e = ojson::parse(part, nullptr, false);
    ParsedToolCall c;
    if (e.is_discarded() || !json_call(e, c)) return false;
    out.push_back(std::move(c));
  }
  return !out.empty();
}

// <function=NAME>{json}</function>, repeated.
bool function_tags(const std::string& s, std::vector<ParsedToolCall>& out) {
  size_t pos = 0;
  const std::string open = "<function=", close = "</function>";
  while (true) {
    while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
    if (pos == s.size()) break;
    if (s.compare(pos, open.size(), open) != 0) return false;
    size_t gt = s.find('>', pos);
    size_t end = s.find(close, pos);
    if (gt == std::string::npos || end == std::string::npos || gt > end) return false;
    ParsedToolCall c;
    c.name = s.substr(pos + open.size(), gt - pos - open.size());
    std::string body = trim(s.substr(gt + 1, end - gt - 1));
    ojson a = body.empty() ? ojson::object() : ojson::parse(body, nullptr, false);
    if (c.name.empty() || a.is_discarded() || !a.is_object()) return false;
    c.arguments = std::move(a);
    out.push_back(std::move(c));
    pos = end + close.size();
  }
  return !out.empty();
}

}  // namespace

std::optional<std::vector<ParsedToolCall>> parse_tool_calls(const std::string& text) {
  std::string s = trim(text);
  if (starts_with(s, kPythonStart)) {
    s.erase(0, std::string(kPythonStart).size());
    const size_t end = s.find(kPythonEnd);
    if (end != std::string::npos) {
      if (!trim(s.substr(end + std::string(kPythonEnd).size())).empty()) return std::nullopt;
      s.erase(end);
    }
    s = trim(s);
  }
  if (s.empty()) return std::nullopt;
  std::vector<ParsedToolCall> out;
  if (s[0] == '[') {
    if (PyReader(s).calls(out)) return out;
    out.clear();
    if (json_calls(s, out)) return out;
    return std::nullopt;
  }
  if (s[0] == '{') {
    if (json_calls(s, out)) return out;
    return std::nullopt;
  }
  if (starts_with(s, "<function=") && function_tags(s, out)) return out;
  return std::nullopt;
}

bool may_be_tool_call(const std::string& head) {
  const std::string s = trim(head);
  if (s.empty()) return true;
  if (s[0] == '[' || s[0] == '{') return true;
  for (const std::string& p : {std::string(kPythonStart), std::string("<function=")}) {
    const size_t n = std::min(p.size(), s.size());
    if (s.compare(0, n, p, 0, n) == 0) return true;
  }
  return false;
}

}  // namespace herd::server
