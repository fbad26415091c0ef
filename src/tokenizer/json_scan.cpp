#include "tokenizer/json_scan.h"

#include <charconv>

#include "tokenizer/utf8.h"

namespace herd::json_scan {

namespace {

constexpr int kMaxDepth = 512;

class Scanner {
 public:
  Scanner(std::string_view text, size_t pos) : t_(text), p_(pos) {}
  size_t pos() const { return p_; }

  void ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\r' || t_[p_] == '\t')) ++p_;
  }
  bool eat(char c) {
    ws();
    if (p_ < t_.size() && t_[p_] == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    ws();
    return p_ < t_.size() && t_[p_] == c;
  }

  // A string, unescaped into out (when given).
  bool string(std::string* out) {
    ws();
    if (p_ >= t_.size() || t_[p_] != '"') return false;
    ++p_;
    if (out) out->clear();
    while (true) {
      size_t run = p_;
      while (p_ < t_.size() && t_[p_] != '"' && t_[p_] != '\\' && static_cast<unsigned char>(t_[p_]) >= 0x20) ++p_;
      if (out) out->append(t_.data() + run, p_ - run);
      if (p_ >= t_.size() || static_cast<unsigned char>(t_[p_]) < 0x20) return false;
      if (t_[p_] == '"') {
        ++p_;
        return true;
      }
      ++p_;  // backslash
      if (p_ >= t_.size()) return false;
      char e = t_[p_++];
      char plain = 0;
      switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate needs its low half
            uint32_t lo;
            if (p_ + 2 > t_.size() || t_[p_] != '\\' || t_[p_ + 1] != 'u') return false;
            p_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo >= 0xE000) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return false;
          }
          if (out) utf8::append(*out, cp);
          continue;
        }
        default: return false;
      }
      if (out) out->push_back(plain);
    }
  }

  bool integer(int64_t& v) {
    ws();
    const char* b = t_.data() + p_;
    const char* e = t_.data() + t_.size();
    auto [ptr, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || ptr == b) return false;
    // A fraction or exponent makes it not an integer (the full parser decides what it is).
    if (ptr < e && (*ptr == '.' || *ptr == 'e' || *ptr == 'E')) return false;
    if (*b == '0' && ptr - b > 1) return false;  // leading zero
    if (*b == '-' && ptr - b > 2 && b[1] == '0') return false;
    p_ += static_cast<size_t>(ptr - b);
    return true;
  }

  // Any value, checked for well-formedness, not kept.
  bool skip(int depth = 0) {
    if (depth > kMaxDepth) return false;
    ws();
    if (p_ >= t_.size()) return false;
    char c = t_[p_];
    if (c == '"') return string(nullptr);
    if (c == '{') {
      ++p_;
      if (eat('}')) return true;
      do {
        if (!string(nullptr) || !eat(':') || !skip(depth + 1)) return false;
      } while (eat(','));
      return eat('}');
    }
    if (c == '[') {
      ++p_;
      if (eat(']')) return true;
      do {
        if (!skip(depth + 1)) return false;
      } while (eat(','));
      return eat(']');
    }
    for (std::string_view lit : {"true", "false", "null"})
      if (t_.substr(p_, lit.size()) == lit) {
        p_ += lit.size();
        return true;
      }
    return number();
  }

 private:
  bool hex4(uint32_t& v) {
    if (p_ + 4 > t_.size()) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = t_[p_++];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return true;
  }
  // JSON number grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
  bool number() {
    auto digits = [&] {
      size_t s = p_;
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
      return p_ > s;
    };
    if (p_ < t_.size() && t_[p_] == '-') ++p_;
    if (p_ < t_.size() && t_[p_] == '0') {
      ++p_;
    } else if (!digits()) {
      return false;
    }
    if (p_ < t_.size() && t_[p_] == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
      ++p_;
      if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
      if (!digits()) return false;
    }
    return true;
  }

  std::string_view t_;
  size_t p_;
};

}  // namespace

bool document_span(std::string_view text, Span& out) {
  Scanner s(text, 0);
  s.ws();
  size_t b = s.pos();
  if (!s.skip()) return false;
  out = {b, s.pos()};
  s.ws();
  return s.pos() == text.size();
}

bool member_spans(std::string_view text, Span obj, const std::vector<std::string_view>& keys,
                  std::vector<Span>& out) {
  out.assign(keys.size(), Span{});
  Scanner s(text, obj.begin);
  if (!s.eat('{')) return false;
  if (s.eat('}')) return true;
  std::string key;
  do {
    if (!s.string(&key) || !s.eat(':')) return false;
    s.ws();
    size_t b = s.pos();
    if (!s.skip()) return false;
    for (size_t i = 0; i < keys.size(); ++i)
      if (key == keys[i]) out[i] = {b, s.pos()};
  } while (s.eat(','));
  return s.eat('}') && s.pos() == obj.end;
}

bool read_string_int_object(std::string_view text, Span obj, std::vector<std::pair<std::string, int64_t>>& out) {
  out.clear();
  Scanner s(text, obj.begin);
  if (!s.eat('{')) return false;
  if (s.eat('}')) return s.pos() == obj.end;
  std::string key;
  int64_t v;
  do {
    if (!s.string(&key) || !s.eat(':') || !s.integer(v)) return false;
    out.emplace_back(key, v);
  } while (s.eat(','));
  return s.eat('}') && s.pos() == obj.end;
}

bool read_merges(std::string_view text, Span arr, std::vector<MergeEntry>& out) {
  out.clear();
  Scanner s(text, arr.begin);
  if (!s.eat('[')) return false;
  if (s.eat(']')) return s.pos() == arr.end;
  do {
    MergeEntry m;
    if (s.eat('[')) {
      // Exactly two strings; anything else is left to the full parser's checks.
      if (!s.string(&m.first) || !s.eat(',') || !s.string(&m.second) || !s.eat(']')) return false;
      m.is_pair = true;
    } else if (!s.string(&m.first)) {
      return false;
    }
    out.push_back(std::move(m));
  } while (s.eat(','));
  return s.eat(']') && s.pos() == arr.end;
}

}  // namespace herd::json_scan
