#include "tokenizer/utf8.h"

namespace herd::utf8 {

bool is_valid(std::string_view s) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    uint32_t cp;
    size_t n = decode(p, end, &cp);
    if (cp == kInvalid) return false;
    p += n;
  }
  return true;
}

namespace {
// Number of bytes a sequence starting with lead byte b has, or 0 if b cannot start one.
int sequence_length(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}
// Allowed range of the byte after lead byte b.
bool second_ok(uint8_t lead, uint8_t b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return (b & 0xC0) == 0x80;
  }
}
}  // namespace

size_t complete_prefix(std::string_view s) {
  size_t n = s.size();
  size_t lo = n >= 3 ? n - 3 : 0;
  for (size_t k = n; k-- > lo;) {
    uint8_t b = static_cast<uint8_t>(s[k]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    int len = sequence_length(b);
    if (len <= 1 || static_cast<size_t>(len) <= n - k) return n;  // ASCII, invalid, or complete
    for (size_t j = k + 1; j < n; ++j) {
      uint8_t c = static_cast<uint8_t>(s[j]);
      bool ok = (j == k + 1) ? second_ok(b, c) : (c & 0xC0) == 0x80;
      if (!ok) return n;  // can never complete: pass through
    }
    return k;  // a valid but unfinished sequence starts at k
  }
  return n;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace herd::utf8
