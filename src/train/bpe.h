#pragma once
// Byte-level BPE for small Llama-4-style vocabularies: a trainer (pre-tokenization with the Llama 4
// regex, then greedy most-frequent-pair merges), writers for a tiktoken `tokenizer.model` and a
// Hugging Face `tokenizer.json`, and a merge-by-rank encoder used by `herd data prepare`.
// Ranks 0..255 are the single bytes in byte order, then one rank per merge; the 2,048 Llama 4
// special tokens take ids N..N+2047 where N is the number of ranks.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herd::train {

// The Llama 4 (o200k-style) pre-tokenization pattern.
extern const char* const kLlama4Pattern;

// Splits UTF-8 text into pre-tokens with the Llama 4 regex (PCRE2, Unicode properties).
// Throws herd::Error on invalid UTF-8.
class Pretokenizer {
 public:
  Pretokenizer();
  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;
  void split(std::string_view text, const std::function<void(std::string_view)>& piece) const;

 private:
  void* code_ = nullptr;
  void* match_ = nullptr;
};

// Offset of the first invalid UTF-8 sequence, or -1.
int64_t find_invalid_utf8(std::string_view s);

// The Llama 4 special-token names in id order (2,048 entries).
std::vector<std::string> llama4_special_names();

struct BpeVocab {
  std::vector<std::string> tokens;  // rank -> bytes
};

struct BpeTrainOptions {
  int vocab_size = 4096;      // ranks, including the 256 single bytes
  int64_t min_frequency = 2;  // stop when the best pair is rarer
};

// Trains on the given texts; progress(merges_done, total) is called now and then.
BpeVocab train_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& opt,
                   const std::function<void(int, int)>& progress = {});

void write_tiktoken(const std::string& path, const BpeVocab& v);
BpeVocab read_tiktoken(const std::string& path);
// Hugging Face tokenizers format: byte-level BPE with the merges in rank order and the specials
// as added tokens.
void write_tokenizer_json(const std::string& path, const BpeVocab& v);

class BpeEncoder {
 public:
  explicit BpeEncoder(BpeVocab v);
  std::vector<int32_t> encode(std::string_view text);  // no specials added
  std::string decode(const std::vector<int32_t>& ids) const;  // specials rendered by name
  int32_t n_ranks() const { return static_cast<int32_t>(v_.tokens.size()); }
  int32_t vocab_size() const { return n_ranks() + static_cast<int32_t>(specials_.size()); }
  int32_t special_id(const std::string& name) const;

 private:
  void encode_piece(std::string_view piece, std::vector<int32_t>& out);
  BpeVocab v_;
  std::vector<std::string> specials_;
  std::unordered_map<std::string, int32_t> rank_;
  std::unordered_map<std::string, std::vector<int32_t>> cache_;
  Pretokenizer pre_;
};

}  // namespace herd::train
