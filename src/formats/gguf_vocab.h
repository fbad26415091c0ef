#pragma once
// The tokenizer a GGUF file embeds (tokenizer.ggml.*), exposed as plain data so the tokenizer
// library can build a Tokenizer from it: each token's raw bytes, its type, the BPE merges in
// priority order, and the special ids.
#include <cstdint>
#include <string>
#include <vector>

#include "formats/gguf.h"

namespace herd {

struct GGUFVocab {
  std::string model;  // tokenizer.ggml.model: "gpt2" (byte-level BPE), "llama", "none", ...
  std::string pre;    // tokenizer.ggml.pre, e.g. "llama4"
  std::vector<std::string> tokens;       // as stored (gpt2: GPT-2 byte-to-character mapping)
  std::vector<std::string> token_bytes;  // raw bytes: gpt2 mapping undone for normal tokens;
                                         // control / user-defined tokens keep their text
  std::vector<int32_t> types;            // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<std::string> merges;       // "left right", position = priority (lowest first)
  int64_t bos = -1, eos = -1, eot = -1, eom = -1, pad = -1, unk = -1;
  bool add_bos = false, add_eos = false;
};

// Fails (naming the file) when the file has no tokenizer.ggml.tokens or the arrays disagree.
GGUFVocab read_gguf_vocab(const GGUFFile& f);

// GPT-2 byte-level mapping: the bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves
// as code points; the other 68 byte values map in increasing order to U+0100, U+0101, ....
// Returns false if s holds a code point outside the mapping.
bool gpt2_chars_to_bytes(const std::string& s, std::string* out);
std::string bytes_to_gpt2_chars(const std::string& bytes);

}  // namespace herd
