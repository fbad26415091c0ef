#define PCRE2_CODE_UNIT_WIDTH 8
#include "train/bpe.h"

#include <pcre2.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <queue>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"

namespace herd::train {

const char* const kLlama4Pattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// ------------------------------------------------------------------ UTF-8, pre-tokenizer
int64_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return static_cast<int64_t>(i);
    if (i + len > n) return static_cast<int64_t>(i);
    for (size_t j = 1; j < len; ++j) {
      if ((p[i + j] & 0xC0) != 0x80) return static_cast<int64_t>(i);
      cp = (cp << 6) | (p[i + j] & 0x3F);
    }
    const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return static_cast<int64_t>(i);
    i += len;
  }
  return -1;
}

Pretokenizer::Pretokenizer() {
  int err;
  PCRE2_SIZE off;
  auto* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kLlama4Pattern), PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
  if (!code) fail("bpe: cannot compile the pre-tokenizer pattern (PCRE2 error ", err, ")");
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up; falls back to the interpreter
  code_ = code;
  match_ = pcre2_match_data_create_from_pattern(code, nullptr);
}

Pretokenizer::~Pretokenizer() {
  pcre2_match_data_free(static_cast<pcre2_match_data*>(match_));
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

void Pretokenizer::split(std::string_view text, const std::function<void(std::string_view)>& piece) const {
  if (int64_t bad = find_invalid_utf8(text); bad >= 0) fail("invalid UTF-8 at byte offset ", bad);
  auto* code = static_cast<pcre2_code*>(code_);
  auto* md = static_cast<pcre2_match_data*>(match_);
  size_t pos = 0;
  while (pos < text.size()) {
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, PCRE2_NO_UTF_CHECK, md,
                         nullptr);
    if (rc < 0) {  // cannot happen with the final \s+ / catch-all branches, but be safe
      piece(text.substr(pos));
      return;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (b > pos) piece(text.substr(pos, b - pos));
    if (e == b) e = b + 1;
    piece(text.substr(b, e - b));
    pos = e;
  }
}

std::vector<std::string> llama4_special_names() {
  std::vector<std::string> t = {"<|begin_of_text|>", "<|end_of_text|>", "<|fim_prefix|>", "<|fim_middle|>",
                                "<|fim_suffix|>",    "<|header_start|>", "<|header_end|>", "<|eom|>",
                                "<|eot|>",           "<|step|>"};
  auto num = [](const char* stem, int i) { return std::string("<|") + stem + std::to_string(i) + "|>"; };
  for (int i = 0; i <= 5; ++i) t.push_back(num("text_post_train_reserved_special_token_", i));
  t.insert(t.end(), {"<|python_start|>", "<|python_end|>", "<|finetune_right_pad|>"});
  for (int i = 8; i <= 68; ++i) t.push_back(num("text_post_train_reserved_special_token_", i));
  t.insert(t.end(), {"<|image_start|>", "<|image_end|>"});
  t.push_back(num("vision_reserved_special_token_", 0));
  t.push_back(num("vision_reserved_special_token_", 1));
  t.insert(t.end(), {"<|tile_x_separator|>", "<|tile_y_separator|>"});
  for (int i = 2; i <= 5; ++i) t.push_back(num("vision_reserved_special_token_", i));
  t.push_back("<|image|>");
  t.push_back(num("vision_reserved_special_token_", 6));
  t.push_back("<|patch|>");
  for (int i = 7; i <= 1047; ++i) t.push_back(num("vision_reserved_special_token_", i));
  for (int i = 0; i <= 7; ++i) t.push_back(num("reasoning_reserved_special_token_", i));
  t.insert(t.end(), {"<|reasoning_thinking_start|>", "<|reasoning_thinking_end|>"});
  for (int i = 0; t.size() < 2048; ++i) t.push_back(num("reserved_special_token_", i));
  return t;
}

// ------------------------------------------------------------------ trainer
namespace {

inline uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

struct Word {
  std::vector<int32_t> syms;
  int64_t count;
};

}  // namespace

BpeVocab train_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& opt,
                   const std::function<void(int, int)>& progress) {
  if (opt.vocab_size < 256) fail("bpe: vocab size must be at least 256, got ", opt.vocab_size);
  if (opt.vocab_size > 65536 - 2048) fail("bpe: vocab size must be at most ", 65536 - 2048, " (16-bit token shards)");
  Pretokenizer pre;
  std::unordered_map<std::string, int64_t> freq;
  size_t total_bytes = 0;
  for (const auto& t : texts) {
    total_bytes += t.size();
    pre.split(t, [&](std::string_view p) { ++freq[std::string(p)]; });
  }
  if (total_bytes == 0) fail("bpe: the training text is empty");
  // Deterministic word order (the hash map's order is not).
  std::vector<std::pair<std::string, int64_t>> sorted(freq.begin(), freq.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (auto& [s, c] : sorted) {
    Word w{{}, c};
    for (unsigned char ch : s) w.syms.push_back(ch);
    words.push_back(std::move(w));
  }
  BpeVocab v;
  for (int i = 0; i < 256; ++i) v.tokens.emplace_back(1, static_cast<char>(i));

  std::unordered_map<uint64_t, int64_t> pc;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (int32_t wi = 0; wi < static_cast<int32_t>(words.size()); ++wi) {
    const auto& s = words[wi].syms;
    for (size_t j = 0; j + 1 < s.size(); ++j) {
      const uint64_t k = pair_key(s[j], s[j + 1]);
      pc[k] += words[wi].count;
      auto& wl = where[k];
      if (wl.empty() || wl.back() != wi) wl.push_back(wi);
    }
  }
  // Max-heap on (count, smaller key first) with lazy invalidation.
  using Entry = std::pair<int64_t, uint64_t>;
  auto cmp = [](const Entry& a, const Entry& b) { return a.first < b.first || (a.first == b.first && a.second > b.second); };
  std::priority_queue<Entry, std::vector<Entry>, decltype(cmp)> heap(cmp);
  for (auto& [k, c] : pc) heap.push({c, k});

  const int total = opt.vocab_size - 256;
  std::vector<uint32_t> seen(words.size(), 0);
  uint32_t stamp = 0;
  std::unordered_map<std::string, int32_t> known;
  for (int i = 0; i < 256; ++i) known.emplace(v.tokens[i], i);
  for (int m = 0; static_cast<int>(v.tokens.size()) < opt.vocab_size; ++m) {
    Entry top{0, 0};
    bool found = false;
    while (!heap.empty()) {
      top = heap.top();
      heap.pop();
      auto it = pc.find(top.second);
      const int64_t cur = it == pc.end() ? 0 : it->second;
      if (cur == top.first) { found = true; break; }
      if (cur > 0) heap.push({cur, top.second});
    }
    if (!found || top.first < opt.min_frequency) break;
    const int32_t a = static_cast<int32_t>(top.second >> 32), b = static_cast<int32_t>(top.second & 0xffffffffu);
    // A byte string reachable by two different merges keeps its first rank.
    std::string merged = v.tokens[a] + v.tokens[b];
    auto [kit, fresh] = known.emplace(merged, static_cast<int32_t>(v.tokens.size()));
    const int32_t nid = kit->second;
    if (fresh) v.tokens.push_back(std::move(merged));
    ++stamp;
    std::vector<uint64_t> touched;
    const std::vector<int32_t> list = where[top.second];
    for (int32_t wi : list) {
      if (seen[wi] == stamp) continue;
      seen[wi] = stamp;
      Word& w = words[wi];
      auto& s = w.syms;
      bool has = false;
      for (size_t j = 0; j + 1 < s.size(); ++j)
        if (s[j] == a && s[j + 1] == b) { has = true; break; }
      if (!has) continue;
      for (size_t j = 0; j + 1 < s.size(); ++j) {
        const uint64_t k = pair_key(s[j], s[j + 1]);
        pc[k] -= w.count;
        touched.push_back(k);
      }
      std::vector<int32_t> out;
      out.reserve(s.size());
      for (size_t j = 0; j < s.size();) {
        if (j + 1 < s.size() && s[j] == a && s[j + 1] == b) { out.push_back(nid); j += 2; }
        else out.push_back(s[j++]);
      }
      s.swap(out);
      for (size_t j = 0; j + 1 < s.size(); ++j) {
        const uint64_t k = pair_key(s[j], s[j + 1]);
        pc[k] += w.count;
        touched.push_back(k);
        if (s[j] == nid || s[j + 1] == nid) {
          auto& wl = where[k];
          if (wl.empty() || wl.back() != wi) wl.push_back(wi);
        }
      }
    }
    pc.erase(top.second);
    where.erase(top.second);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t k : touched) {
      auto it = pc.find(k);
      if (it == pc.end()) continue;
      if (it->second > 0) heap.push({it->second, k});
      else pc.erase(it);
    }
    if (progress && m % 256 == 0) progress(static_cast<int>(v.tokens.size()) - 256, total);
  }
  return v;
}

// ------------------------------------------------------------------ files
namespace {

const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64encode(const std::string& s) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8) | uint8_t(s[i + 2]);
    for (int k = 3; k >= 0; --k) out += kB64[(v >> (6 * k)) & 63];
  }
  if (i + 1 == s.size()) {
    uint32_t v = uint8_t(s[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == s.size()) {
    uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string b64decode(const std::string& s, const std::string& where) {
  auto val = [&](char c) -> int {
    const char* p = std::strchr(kB64, c);
    if (!p || !c) fail(where, ": invalid base64 character");
    return static_cast<int>(p - kB64);
  };
  if (s.size() % 4 != 0) fail(where, ": base64 length is not a multiple of 4");
  std::string out;
  for (size_t i = 0; i < s.size(); i += 4) {
    int pad = (s[i + 3] == '=') + (s[i + 2] == '=');
    uint32_t v = (val(s[i]) << 18) | (val(s[i + 1]) << 12) | ((s[i + 2] == '=' ? 0 : val(s[i + 2])) << 6) |
                 (s[i + 3] == '=' ? 0 : val(s[i + 3]));
    out += static_cast<char>((v >> 16) & 255);
    if (pad < 2) out += static_cast<char>((v >> 8) & 255);
    if (pad < 1) out += static_cast<char>(v & 255);
  }
  return out;
}

// GPT-2 byte-level alphabet: printable bytes map to themselves, the rest to U+0100 onward.
std::vector<std::string> byte_level_alphabet() {
  std::vector<std::string> map(256);
  int n = 0;
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) s += static_cast<char>(cp);
    else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    map[b] = utf8(printable ? b : 256 + n++);
  }
  return map;
}

}  // namespace

void write_tiktoken(const std::string& path, const BpeVocab& v) {
  std::string out;
  for (size_t i = 0; i < v.tokens.size(); ++i) out += b64encode(v.tokens[i]) + " " + std::to_string(i) + "\n";
  write_file_atomic(path, out);
}

BpeVocab read_tiktoken(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(path, ": cannot open");
  BpeVocab v;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::istringstream ls(line);
    std::string b64;
    int64_t rank = -1;
    if (!(ls >> b64 >> rank)) fail(path, ":", lineno, ": expected '<base64> <rank>'");
    if (rank != static_cast<int64_t>(v.tokens.size())) fail(path, ":", lineno, ": ranks must be 0, 1, 2, ... in order");
    v.tokens.push_back(b64decode(b64, path + ":" + std::to_string(lineno)));
  }
  if (v.tokens.size() < 256) fail(path, ": a byte-level vocabulary needs at least 256 ranks");
  return v;
}

void write_tokenizer_json(const std::string& path, const BpeVocab& v) {
  const auto alpha = byte_level_alphabet();
  auto bl = [&](const std::string& bytes) {
    std::string s;
    for (unsigned char c : bytes) s += alpha[c];
    return s;
  };
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) vocab[bl(v.tokens[i])] = i;
  // Merges in rank order: re-derive each merged token's split from the ranks before it.
  std::unordered_map<std::string, int32_t> rank;
  for (size_t i = 0; i < v.tokens.size(); ++i) rank.emplace(v.tokens[i], static_cast<int32_t>(i));
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  for (size_t i = 256; i < v.tokens.size(); ++i) {
    const std::string& t = v.tokens[i];
    // The trainer merged two existing tokens; find the split whose halves both have lower ranks,
    // preferring the one whose larger rank is smallest (the BPE merge that produced it).
    size_t best = 0;
    int32_t best_rank = INT32_MAX;
    for (size_t cut = 1; cut < t.size(); ++cut) {
      auto l = rank.find(t.substr(0, cut)), r = rank.find(t.substr(cut));
      if (l == rank.end() || r == rank.end() || l->second >= static_cast<int32_t>(i) || r->second >= static_cast<int32_t>(i))
        continue;
      const int32_t m = std::max(l->second, r->second);
      if (m < best_rank) { best_rank = m; best = cut; }
    }
    if (best == 0) fail("bpe: token ", i, " is not a merge of two earlier tokens");
    merges.push_back(bl(t.substr(0, best)) + " " + bl(t.substr(best)));
  }
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  const auto names = llama4_special_names();
  for (size_t i = 0; i < names.size(); ++i)
    added.push_back({{"id", v.tokens.size() + i}, {"content", names[i]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  nlohmann::ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", kLlama4Pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  j["post_processor"] = nullptr;
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  j["model"] = {{"type", "BPE"},       {"dropout", nullptr},        {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
                {"byte_fallback", false}, {"ignore_merges", false}, {"vocab", vocab}, {"merges", merges}};
  write_file_atomic(path, j.dump(1) + "\n");
}

// ------------------------------------------------------------------ encoder
BpeEncoder::BpeEncoder(BpeVocab v) : v_(std::move(v)), specials_(llama4_special_names()) {
  for (size_t i = 0; i < v_.tokens.size(); ++i) rank_.emplace(v_.tokens[i], static_cast<int32_t>(i));
  for (int b = 0; b < 256; ++b)
    if (!rank_.count(std::string(1, static_cast<char>(b)))) fail("bpe: vocabulary lacks byte ", b);
}

int32_t BpeEncoder::special_id(const std::string& name) const {
  for (size_t i = 0; i < specials_.size(); ++i)
    if (specials_[i] == name) return n_ranks() + static_cast<int32_t>(i);
  fail("bpe: no special token ", name);
}

void BpeEncoder::encode_piece(std::string_view piece, std::vector<int32_t>& out) {
  std::string key(piece);
  if (auto it = rank_.find(key); it != rank_.end()) {
    out.push_back(it->second);
    return;
  }
  if (auto it = cache_.find(key); it != cache_.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  for (;;) {
    int32_t best = INT32_MAX;
    size_t at = 0;
    for (size_t j = 0; j + 1 < parts.size(); ++j) {
      auto it = rank_.find(parts[j] + parts[j + 1]);
      if (it != rank_.end() && it->second < best) { best = it->second; at = j; }
    }
    if (best == INT32_MAX) break;
    parts[at] += parts[at + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  std::vector<int32_t> ids;
  for (auto& p : parts) ids.push_back(rank_.at(p));
  out.insert(out.end(), ids.begin(), ids.end());
  if (cache_.size() < 1'000'000) cache_.emplace(std::move(key), std::move(ids));
}

std::vector<int32_t> BpeEncoder::encode(std::string_view text) {
  std::vector<int32_t> out;
  pre_.split(text, [&](std::string_view p) { encode_piece(p, out); });
  return out;
}

std::string BpeEncoder::decode(const std::vector<int32_t>& ids) const {
  std::string s;
  for (int32_t id : ids) {
    if (id >= 0 && id < n_ranks()) s += v_.tokens[id];
    else if (id >= n_ranks() && id < vocab_size()) s += specials_[id - n_ranks()];
    else fail("bpe: token id ", id, " outside the vocabulary");
  }
  return s;
}

}  // namespace herd::train
