// Loading a tiktoken rank file (Meta's tokenizer.model): "<base64 token bytes> <rank>" per line.
#include <charconv>

#include "core/error.h"
#include "tokenizer/meta_slicing.h"
#include "tokenizer/tokenizer.h"

namespace herd {

namespace {

struct Base64 {
  int8_t v[256];
  Base64() {
    for (int i = 0; i < 256; ++i) v[i] = -1;
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) v[static_cast<uint8_t>(a[i])] = static_cast<int8_t>(i);
  }
};
const Base64 kB64;

// Standard base64 with optional '=' padding. False on any other character or a bad length.
bool base64_decode(std::string_view s, std::string& out) {
  out.clear();
  size_t n = s.size();
  while (n > 0 && s[n - 1] == '=') --n;
  if (s.size() - n > 2 || (s.size() % 4 != 0 && s.size() != n)) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    int8_t d = kB64.v[static_cast<uint8_t>(s[i])];
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (n % 4 == 1) return false;
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<std::string> llama3_special_token_texts() {
  std::vector<std::string> t = {"<|begin_of_text|>",
                                "<|end_of_text|>",
                                "<|reserved_special_token_0|>",
                                "<|reserved_special_token_1|>",
                                "<|reserved_special_token_2|>",
                                "<|reserved_special_token_3|>",
                                "<|start_header_id|>",
                                "<|end_header_id|>",
                                "<|reserved_special_token_4|>",
                                "<|eot_id|>"};
  for (int i = 5; t.size() < 256; ++i) t.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
  return t;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_tiktoken_text(std::string_view text, const std::string& name) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  tok->source_ = Source::TiktokenModel;

  struct Entry {
    uint32_t off, len;  // decoded bytes in `bytes`
    int32_t rank;
    uint32_t line;
  };
  std::vector<Entry> entries;
  entries.reserve(text.size() / 16);
  std::string bytes, piece;
  bytes.reserve(text.size());
  int64_t max_rank = -1;

  size_t pos = 0;
  size_t line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    // Split on white space (Meta's loader: line.split()); blank lines are skipped.
    std::string_view fields[3];
    int nf = 0;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && is_space(line[i])) ++i;
      if (i == line.size()) break;
      size_t j = i;
      while (j < line.size() && !is_space(line[j])) ++j;
      if (nf < 3) fields[nf] = line.substr(i, j - i);
      ++nf;
      i = j;
    }
    if (nf == 0) continue;
    if (nf != 2)
      fail(name, ": line ", line_no, ": expected \"<base64 token> <rank>\", found ", nf, " field", nf == 1 ? "" : "s");
    if (!base64_decode(fields[0], piece) || piece.empty())
      fail(name, ": line ", line_no, ": invalid base64 token \"", std::string(fields[0].substr(0, 64)), "\"");
    int64_t rank = -1;
    auto [ptr, ec] = std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), rank);
    if (ec != std::errc() || ptr != fields[1].data() + fields[1].size() || rank < 0 || rank >= (1 << 24))
      fail(name, ": line ", line_no, ": invalid rank \"", std::string(fields[1].substr(0, 32)), "\"");
    entries.push_back(Entry{static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(piece.size()),
                            static_cast<int32_t>(rank), static_cast<uint32_t>(line_no)});
    bytes += piece;
    if (rank > max_rank) max_rank = rank;
  }
  if (entries.empty()) fail(name, ": no tokens (not a tiktoken rank file?)");

  // Ids = ranks; the special tokens follow the last rank (Meta: num_base_tokens = len(ranks)).
  int32_t n_base = static_cast<int32_t>(max_rank + 1);
  std::vector<std::string> special_texts;
  std::string pattern;
  if (n_base == 128000) {  // Llama 3 rank file
    special_texts = llama3_special_token_texts();
    pattern = kLlama3Pattern;
  } else {
    special_texts = llama4_special_token_texts();
    pattern = kO200kPattern;
  }
  tok->vocab_.resize(n_base + static_cast<int32_t>(special_texts.size()));
  for (const Entry& e : entries) {
    if (tok->vocab_.has(e.rank)) fail(name, ": line ", e.line, ": rank ", e.rank, " appears twice");
    tok->vocab_.set(e.rank, std::string_view(bytes.data() + e.off, e.len), true);
  }
  tok->vocab_.build_index();
  for (int b = 0; b < 256; ++b)
    if (tok->vocab_.byte_id(static_cast<uint8_t>(b)) < 0)
      fail(name, ": no token for the single byte 0x", "0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15],
           " (byte-level BPE needs all 256)");
  tok->n_mergeable_ = static_cast<int32_t>(entries.size());
  for (size_t i = 0; i < special_texts.size(); ++i) {
    int32_t id = n_base + static_cast<int32_t>(i);
    tok->vocab_.set(id, special_texts[i], false);
    tok->specials_.add(SpecialToken{special_texts[i], id, true, false, false});
  }
  tok->finish_specials();
  tok->pre_ = PreTokenizer::create(pattern);
  tok->meta_slicing_ = true;
  return tok;
}

}  // namespace herd
