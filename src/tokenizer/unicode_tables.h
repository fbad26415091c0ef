#pragma once
// Per-code-point character classes used by the pre-tokenizer (generated tables, Unicode 15.0).
#include <cstdint>

namespace herd::unicode {

// Flag bits of unicode_flags(cp).
enum : uint8_t {
  kUpperish = 1,   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]   (the o200k "upper" class)
  kLowerish = 2,   // [\p{Ll}\p{Lm}\p{Lo}\p{M}]         (the o200k "lower" class)
  kLetter = 4,     // \p{L}
  kNumber = 8,     // \p{N}
  kWhiteSpace = 16,  // Unicode White_Space (= \s of Rust regex / Oniguruma); not U+FEFF, U+200B, U+180E
  kPySpace = 32,   // Python str.isspace(): White_Space plus U+001C..U+001F
  kCrLf = 64,      // U+000A or U+000D
};

extern const char kUnicodeVersion[];
extern const uint16_t kStage1[0x110000 / 128];
extern const uint8_t kStage2[][128];

inline uint8_t unicode_flags(uint32_t cp) {
  if (cp >= 0x110000) return 0;
  return kStage2[kStage1[cp >> 7]][cp & 127];
}

}  // namespace herd::unicode
