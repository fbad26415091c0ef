#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace herd {

void SpecialTokens::add(SpecialToken t) {
  if (t.text.empty() || by_text_.count(t.text)) return;
  size_t index = tokens_.size();
  by_text_.emplace(t.text, index);
  if (!t.special) has_non_special_ = true;
  int32_t node = 0;
  for (unsigned char b : t.text) {
    int32_t c = child(node, b);
    if (c < 0) {
      c = static_cast<int32_t>(trie_.size());
      trie_.push_back(Node{});
      auto& nx = trie_[node].next;
      nx.insert(std::lower_bound(nx.begin(), nx.end(), std::make_pair(b, int32_t{-1})), {b, c});
    }
    node = c;
  }
  trie_[node].token = static_cast<int32_t>(index);
  uint8_t fb = static_cast<uint8_t>(t.text[0]);
  if (!first_byte_[fb]) {
    first_byte_[fb] = true;
    ++n_first_bytes_;
    only_first_byte_ = fb;
  }
  tokens_.push_back(std::move(t));
}

int32_t SpecialTokens::child(int32_t node, uint8_t b) const {
  const auto& nx = trie_[node].next;
  auto it = std::lower_bound(nx.begin(), nx.end(), std::make_pair(b, int32_t{-1}));
  if (it != nx.end() && it->first == b) return it->second;
  return -1;
}

std::optional<int32_t> SpecialTokens::id_of(std::string_view text) const {
  auto it = by_text_.find(std::string(text));
  if (it == by_text_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

namespace {
// White space for Hugging Face lstrip/rstrip (Rust char::is_whitespace = White_Space).
size_t ws_len_at(const uint8_t* p, const uint8_t* end) {
  uint32_t cp;
  size_t n = utf8::decode(p, end, &cp);
  if (cp == utf8::kInvalid) return 0;
  return (unicode::unicode_flags(cp) & unicode::kWhiteSpace) ? n : 0;
}
}  // namespace

std::optional<SpecialTokens::Match> SpecialTokens::find(std::string_view text, size_t from,
                                                        bool allow_special) const {
  if (tokens_.empty() || (!allow_special && !has_non_special_)) return std::nullopt;
  const uint8_t* base = reinterpret_cast<const uint8_t*>(text.data());
  size_t n = text.size();
  size_t i = from;
  while (i < n) {
    if (n_first_bytes_ == 1) {
      const void* hit = std::memchr(base + i, only_first_byte_, n - i);
      if (!hit) return std::nullopt;
      i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - base);
    } else {
      while (i < n && !first_byte_[base[i]]) ++i;
      if (i == n) return std::nullopt;
    }
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < n; ++j) {
      node = child(node, base[j]);
      if (node < 0) break;
      int32_t t = trie_[node].token;
      if (t >= 0 && (allow_special || !tokens_[t].special)) {
        best = t;
        best_end = j + 1;
      }
    }
    if (best >= 0) {
      const SpecialToken& tok = tokens_[best];
      size_t b = i, e = best_end;
      if (tok.lstrip) {  // swallow white space to the left (not before `from`)
        while (b > from) {
          size_t k = b - 1;
          while (k > from && (base[k] & 0xC0) == 0x80) --k;
          size_t len = ws_len_at(base + k, base + b);
          if (len != b - k) break;
          b = k;
        }
      }
      if (tok.rstrip) {
        while (e < n) {
          size_t len = ws_len_at(base + e, base + n);
          if (!len) break;
          e += len;
        }
      }
      return Match{b, e, tok.id};
    }
    ++i;
  }
  return std::nullopt;
}

std::vector<std::string> llama4_special_token_texts() {
  std::vector<std::string> t = {"<|begin_of_text|>", "<|end_of_text|>", "<|fim_prefix|>", "<|fim_middle|>",
                                "<|fim_suffix|>",    "<|header_start|>", "<|header_end|>", "<|eom|>",
                                "<|eot|>",           "<|step|>"};
  auto num = [](const char* stem, int i) { return std::string("<|") + stem + std::to_string(i) + "|>"; };
  for (int i = 0; i <= 5; ++i) t.push_back(num("text_post_train_reserved_special_token_", i));
  t.push_back("<|python_start|>");
  t.push_back("<|python_end|>");
  t.push_back("<|finetune_right_pad|>");
  for (int i = 8; i <= 68; ++i) t.push_back(num("text_post_train_reserved_special_token_", i));
  t.push_back("<|image_start|>");
  t.push_back("<|image_end|>");
  t.push_back(num("vision_reserved_special_token_", 0));
  t.push_back(num("vision_reserved_special_token_", 1));
  t.push_back("<|tile_x_separator|>");
  t.push_back("<|tile_y_separator|>");
  for (int i = 2; i <= 5; ++i) t.push_back(num("vision_reserved_special_token_", i));
  t.push_back("<|image|>");
  t.push_back(num("vision_reserved_special_token_", 6));
  t.push_back("<|patch|>");
  for (int i = 7; i <= 1047; ++i) t.push_back(num("vision_reserved_special_token_", i));
  for (int i = 0; i <= 7; ++i) t.push_back(num("reasoning_reserved_special_token_", i));
  t.push_back("<|reasoning_thinking_start|>");
  t.push_back("<|reasoning_thinking_end|>");
  for (int i = 0; t.size() < 2048; ++i) t.push_back(num("reserved_special_token_", i));
  return t;
}

}  // namespace herd
