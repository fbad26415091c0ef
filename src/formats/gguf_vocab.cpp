#include "formats/gguf_vocab.h"

#include <array>

#include "core/error.h"

namespace herd {

namespace {

bool self_mapped(int b) { return (b >= 33 && b <= 126) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct Gpt2Map {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<int, 324> cp_to_byte{};
  Gpt2Map() {
    cp_to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      byte_to_cp[b] = self_mapped(b) ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + next++);
      cp_to_byte[byte_to_cp[b]] = b;
    }
  }
};
const Gpt2Map& gpt2_map() {
  static const Gpt2Map m;
  return m;
}

void put_utf8(uint32_t cp, std::string& s) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {  // code points of the mapping are below 0x800
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

bool gpt2_chars_to_bytes(const std::string& s, std::string* out) {
  const Gpt2Map& m = gpt2_map();
  out->clear();
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      cp = static_cast<uint32_t>(c & 0x1F) << 6 | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
      i += 2;
    } else {
      return false;
    }
    if (cp >= m.cp_to_byte.size() || m.cp_to_byte[cp] < 0) return false;
    *out += static_cast<char>(m.cp_to_byte[cp]);
  }
  return true;
}

std::string bytes_to_gpt2_chars(const std::string& bytes) {
  std::string s;
  for (unsigned char b : bytes) put_utf8(gpt2_map().byte_to_cp[b], s);
  return s;
}

GGUFVocab read_gguf_vocab(const GGUFFile& f) {
  GGUFVocab v;
  v.model = f.get_string("tokenizer.ggml.model", "");
  v.pre = f.get_string("tokenizer.ggml.pre", "");
  if (!f.has("tokenizer.ggml.tokens")) fail(f.path(), ": no embedded tokenizer (tokenizer.ggml.tokens is missing)");
  v.tokens = f.get_string_array("tokenizer.ggml.tokens");
  const size_t n = v.tokens.size();
  if (f.has("tokenizer.ggml.token_type")) {
    const auto& t = f.get_int_array("tokenizer.ggml.token_type");
    if (t.size() != n) fail(f.path(), ": tokenizer.ggml.token_type has ", t.size(), " entries for ", n, " tokens");
    v.types.assign(t.begin(), t.end());
  } else {
    v.types.assign(n, 1);
  }
  if (f.has("tokenizer.ggml.merges")) v.merges = f.get_string_array("tokenizer.ggml.merges");
  auto id = [&](const char* key, int64_t& dst) {
    if (!f.has(key)) return;
    dst = static_cast<int64_t>(f.get_uint(key));
    if (dst >= static_cast<int64_t>(n)) fail(f.path(), ": ", key, " ", dst, " is outside the vocabulary of ", n);
  };
  id("tokenizer.ggml.bos_token_id", v.bos);
  id("tokenizer.ggml.eos_token_id", v.eos);
  id("tokenizer.ggml.eot_token_id", v.eot);
  id("tokenizer.ggml.eom_token_id", v.eom);
  id("tokenizer.ggml.padding_token_id", v.pad);
  id("tokenizer.ggml.unknown_token_id", v.unk);
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", false);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", false);

  v.token_bytes.resize(n);
  const bool byte_level = v.model == "gpt2";
  for (size_t i = 0; i < n; ++i) {
    const bool plain = v.types[i] == 1 || v.types[i] == 2 || v.types[i] == 5 || v.types[i] == 6;
    if (byte_level && plain) {
      if (!gpt2_chars_to_bytes(v.tokens[i], &v.token_bytes[i]))
        fail(f.path(), ": token ", i, " is not in the GPT-2 byte-level character mapping");
    } else {
      v.token_bytes[i] = v.tokens[i];
    }
  }
  return v;
}

}  // namespace herd
