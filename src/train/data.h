#pragma once
// Token shards for training. A shard file is a 32-byte header followed by little-endian uint16
// token ids:
//   "HERDTOK1" | u32 version (1) | u32 vocab_size | u64 n_tokens | u64 FNV-1a-64 of the payload
// A data directory holds shards plus data.json (tokenizer, vocab, split, per-shard counts).
// `prepare_data` splits UTF-8 text into documents (separated by empty lines), encodes each as
// <|begin_of_text|> tokens <|end_of_text|>, and routes whole documents to train or validation by
// a seeded hash.
#include <cstdint>
#include <string>
#include <vector>

#include "train/bpe.h"

namespace herd::train {

void write_shard(const std::string& path, const std::vector<uint16_t>& tokens, uint32_t vocab_size);
// Reads and verifies a shard (magic, version, size, checksum, ids < vocab); throws on corruption.
std::vector<uint16_t> read_shard(const std::string& path, uint32_t* vocab_size = nullptr);

struct PrepareOptions {
  std::vector<std::string> inputs;  // text files
  std::string tokenizer_dir;        // holds tokenizer.model (tiktoken)
  std::string out_dir;
  double val_fraction = 0.02;
  uint64_t seed = 0;
  int64_t shard_tokens = 4'000'000;
};
struct PrepareStats {
  int64_t documents = 0, train_tokens = 0, val_tokens = 0, bytes = 0;
  int train_shards = 0, val_shards = 0;
};
PrepareStats prepare_data(const PrepareOptions& o);

// All shards of one split of a data directory, concatenated (verified on load).
struct TokenData {
  std::vector<uint16_t> train, val;
  uint32_t vocab_size = 0;
  std::string tokenizer_dir;  // as recorded in data.json (may be empty)
};
TokenData load_data(const std::string& data_dir);

}  // namespace herd::train
