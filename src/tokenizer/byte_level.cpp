#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace herd::byte_level {

namespace {
struct Tables {
  std::array<uint32_t, 256> to_char{};
  std::array<int16_t, 512> to_byte{};
  Tables() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t c = printable ? static_cast<uint32_t>(b) : next++;
      to_char[b] = c;
      to_byte[c] = static_cast<int16_t>(b);
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}
}  // namespace

uint32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

int char_to_byte(uint32_t cp) { return cp < 512 ? tables().to_byte[cp] : -1; }

std::optional<std::string> decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* end = p + s.size();
  while (p < end) {
    uint32_t cp;
    p += utf8::decode(p, end, &cp);
    int b = cp == utf8::kInvalid ? -1 : char_to_byte(cp);
    if (b < 0) return std::nullopt;
    out.push_back(static_cast<char>(b));
  }
  return out;
}

std::string encode(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) utf8::append(out, byte_to_char(b));
  return out;
}

}  // namespace herd::byte_level
