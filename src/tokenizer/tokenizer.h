#pragma once
// herd::Tokenizer: byte-level BPE tokenizers of the Llama family.
//
// Sources:
//  - a tiktoken rank file (`tokenizer.model`, Meta's Llama 4 format; a 128,000-rank file gets the
//    Llama 3 layout instead), with the special tokens laid out by Meta and Meta's input slicing;
//  - a Hugging Face `tokenizer.json` with a byte-level BPE model.
// See docs/tokenizer.md for the exact rules, including what happens to invalid UTF-8.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/rank_vocab.h"
#include "tokenizer/special_tokens.h"

namespace herd {

class ThreadPool;

class Tokenizer {
 public:
  enum class Source { TiktokenModel, HuggingFaceJson };

  // Model dir: tokenizer.model (tiktoken ranks) preferred, else tokenizer.json.
  static std::unique_ptr<Tokenizer> from_model_dir(const std::string& dir);  // throws herd::Error if none
  static bool model_dir_has_tokenizer(const std::string& dir);
  // A .json file is read as Hugging Face tokenizer.json, anything else as a tiktoken rank file.
  static std::unique_ptr<Tokenizer> from_file(const std::string& path);
  static std::unique_ptr<Tokenizer> from_tiktoken_file(const std::string& path);
  static std::unique_ptr<Tokenizer> from_tokenizer_json(const std::string& path);
  // From the text of a file already in memory; `name` is used in error messages.
  static std::unique_ptr<Tokenizer> from_tiktoken_text(std::string_view text, const std::string& name);
  static std::unique_ptr<Tokenizer> from_tokenizer_json_text(std::string_view text, const std::string& name);

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // allow_special: text equal to a special token becomes that token (leftmost, longest first);
  // otherwise special-token text is encoded as plain text. (Hugging Face "added tokens" that are
  // not special are recognised either way, as in Hugging Face.) No BOS/EOS is added.
  std::vector<int32_t> encode(std::string_view text, bool allow_special) const;
  void encode_into(std::string_view text, bool allow_special, std::vector<int32_t>& out) const;
  // Encodes many texts in parallel on `pool` (ThreadPool::global() when null).
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string_view>& texts, bool allow_special,
                                                 ThreadPool* pool = nullptr) const;
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts, bool allow_special,
                                                 ThreadPool* pool = nullptr) const;

  std::string decode(const std::vector<int32_t>& ids) const;  // raw bytes; throws on an unknown id
  void decode_append(int32_t id, std::string& out) const;
  std::string token_bytes(int32_t id) const;                  // throws on an unknown id
  bool has_token(int32_t id) const { return vocab_.has(id); }
  int32_t vocab_size() const { return vocab_.size(); }
  std::optional<int32_t> token_id(std::string_view special_text) const { return specials_.id_of(special_text); }
  bool is_special(int32_t id) const;

  Source source() const { return source_; }
  const PreTokenizer& pretokenizer() const { return *pre_; }
  const SpecialTokens& special_tokens() const { return specials_; }
  // Meta's 400,000 / 25,000-character input slicing (on for tokenizer.model, off for tokenizer.json).
  bool meta_slicing() const { return meta_slicing_; }
  void set_meta_slicing(bool on) { meta_slicing_ = on; }
  // Replaces the pre-tokenizer with PCRE2 running the same pattern (for tests and benchmarks).
  void force_pcre2_pretokenizer();
  // One line: source, sizes, pre-tokenizer engine.
  std::string describe() const;

 private:
  Tokenizer() : bpe_(&vocab_) {}
  void encode_segment(std::string_view text, bool allow_special, std::vector<int32_t>& out,
                      std::vector<uint32_t>& ends) const;
  void encode_plain(std::string_view text, std::vector<int32_t>& out, std::vector<uint32_t>& ends) const;
  void finish_specials();

  Source source_ = Source::TiktokenModel;
  RankVocab vocab_;
  Bpe bpe_;
  std::unique_ptr<PreTokenizer> pre_;
  SpecialTokens specials_;
  std::vector<uint8_t> special_flag_;  // per id: 1 if a special token
  bool meta_slicing_ = false;
  bool add_prefix_space_ = false;  // Hugging Face ByteLevel add_prefix_space
  int32_t n_mergeable_ = 0;
};

}  // namespace herd
