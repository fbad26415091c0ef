#pragma once
// Byte-level BPE over one pre-tokenized piece.
//
// Two merge orders are supported:
//  - tiktoken: the adjacent pair whose joined bytes form the lowest-id token merges first
//    (the rank of a merge is the id of its result); a piece that is a whole token is emitted as is.
//  - merges: Hugging Face `model.merges`: the pair with the lowest merge index merges first; the
//    whole-piece shortcut applies only with `ignore_merges`.
// In both, ties go to the leftmost pair.
#include <cstdint>
#include <vector>

#include "tokenizer/rank_vocab.h"

namespace herd {

// (left id, right id) -> (merge index, merged id), open addressing.
class PairTable {
 public:
  void reserve(size_t n);
  // Returns false if the pair was already present (the first one stays).
  bool insert(int32_t a, int32_t b, uint32_t rank, int32_t merged);
  bool find(int32_t a, int32_t b, uint32_t* rank, int32_t* merged) const {
    if (slots_.empty()) return false;
    uint64_t key = key_of(a, b);
    size_t i = static_cast<size_t>(mix(key)) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.key == kEmpty) return false;
      if (s.key == key) {
        *rank = s.rank;
        *merged = s.merged;
        return true;
      }
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t key_of(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static uint64_t mix(uint64_t k) {
    k ^= k >> 31;
    k *= 0x9E3779B97F4A7C15ull;
    k ^= k >> 29;
    return k;
  }
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    int32_t merged = 0;
  };
  void grow();
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

class Bpe {
 public:
  // vocab must outlive the Bpe and be indexed (RankVocab::build_index).
  explicit Bpe(const RankVocab* vocab) : vocab_(vocab) {}

  // Switches to Hugging Face merge order.
  void use_merges(PairTable table, bool ignore_merges) {
    pairs_ = std::move(table);
    merges_mode_ = true;
    whole_piece_first_ = ignore_merges;
  }
  bool merges_mode() const { return merges_mode_; }

  // Appends the ids of piece [p, p+n) to out. n >= 1. Every byte must have a token.
  void encode_piece(const uint8_t* p, size_t n, std::vector<int32_t>& out) const;

 private:
  template <bool kMerges>
  void encode_small(const uint8_t* p, size_t n, std::vector<int32_t>& out) const;
  template <bool kMerges>
  void encode_large(const uint8_t* p, size_t n, std::vector<int32_t>& out) const;

  const RankVocab* vocab_;
  PairTable pairs_;
  bool merges_mode_ = false;
  bool whole_piece_first_ = true;
};

}  // namespace herd
