#pragma once
// The GPT-2 "byte-level" alphabet used by Hugging Face tokenizer.json files: every byte is shown
// as one printable Unicode character (printable Latin-1 bytes as themselves, the other 68 bytes
// as U+0100 onwards, in byte order).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herd::byte_level {

uint32_t byte_to_char(uint8_t b);
// The byte a character stands for, or -1 if it is not in the alphabet.
int char_to_byte(uint32_t cp);
// Maps a vocabulary string (UTF-8 of stand-in characters) back to raw bytes; nullopt if any
// character is outside the alphabet or the string is not UTF-8.
std::optional<std::string> decode(std::string_view s);
std::string encode(std::string_view bytes);

}  // namespace herd::byte_level
