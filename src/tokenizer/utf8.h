#pragma once
// Strict UTF-8 decoding helpers (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herd::utf8 {

// Decodes the code point at p (p < end). Returns its length in bytes (1..4) and stores the code
// point in *cp; for a byte that does not start a well-formed sequence returns 1 and stores
// kInvalid. Never reads at or past end.
constexpr uint32_t kInvalid = 0xFFFFFFFFu;

inline size_t decode(const uint8_t* p, const uint8_t* end, uint32_t* cp) {
  uint8_t b0 = p[0];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t avail = static_cast<size_t>(end - p);
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (avail >= 2 && (p[1] & 0xC0) == 0x80) {
      *cp = (uint32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
      return 2;
    }
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (avail >= 3 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
      uint32_t c = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
      if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) {
        *cp = c;
        return 3;
      }
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (avail >= 4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) {
      uint32_t c = (uint32_t(b0 & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) |
                   (uint32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
      if (c >= 0x10000 && c <= 0x10FFFF) {
        *cp = c;
        return 4;
      }
    }
  }
  *cp = kInvalid;
  return 1;
}

// True when the whole string is well-formed UTF-8.
bool is_valid(std::string_view s);

// Length of the longest prefix of s that does not end inside a sequence that could still become
// well-formed if more bytes were appended. Bytes that can never be part of a well-formed sequence
// count as complete (they are passed through as they are).
size_t complete_prefix(std::string_view s);

// Appends the UTF-8 encoding of cp (cp <= 0x10FFFF, not a surrogate).
void append(std::string& out, uint32_t cp);

}  // namespace herd::utf8
