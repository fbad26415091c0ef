#pragma once
// The byte strings of a vocabulary and a hash map from byte string to id.
//
// Ids index a dense table (gaps are allowed and have no bytes). The map holds only the tokens
// that BPE may produce (the "mergeable" ones); special / added tokens are kept in the table for
// decoding but are found through SpecialTokens instead.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace herd {

class RankVocab {
 public:
  RankVocab() = default;

  // Sets the id range to [0, n) (all ids absent).
  void resize(int32_t n);
  int32_t size() const { return static_cast<int32_t>(present_.size()); }

  // Stores the bytes of id (overwrites). Call build_index() after the last mergeable add.
  void set(int32_t id, std::string_view bytes, bool mergeable);
  bool has(int32_t id) const { return id >= 0 && id < size() && present_[id]; }
  std::string_view bytes(int32_t id) const {
    return std::string_view(arena_.data() + offsets_[id], lengths_[id]);
  }

  // Builds the byte-string -> id hash map over the mergeable tokens. A byte string given twice
  // keeps the lower id.
  void build_index();

  // Id of a mergeable token with exactly these bytes, or -1.
  int32_t find(const uint8_t* p, size_t n) const {
    uint64_t head = n <= 8 ? key8(p, n) : load8(p);
    uint64_t h = n <= 8 ? mix(head, n) : hash_long(p, n);
    uint16_t tag = static_cast<uint16_t>(h >> 48);
    size_t i = static_cast<size_t>(h) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.head == head && s.len == n && s.tag == tag &&
          (n <= 8 || std::memcmp(arena_.data() + offsets_[s.id] + 8, p + 8, n - 8) == 0))
        return s.id;
      i = (i + 1) & mask_;
    }
  }
  int32_t find(std::string_view s) const {
    return find(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }

  // Id of each single byte (-1 if the vocabulary lacks it).
  int32_t byte_id(uint8_t b) const { return byte_ids_[b]; }
  size_t max_token_length() const { return max_len_; }

  // The bytes of a string of length 0..8, zero-padded, little-endian. Overlapping loads: the
  // bytes they share are equal, so OR-ing them is exact.
  static uint64_t key8(const uint8_t* p, size_t n) {
    if (n >= 4) {
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      return lo | (static_cast<uint64_t>(hi) << ((n - 4) * 8));
    }
    if (n == 0) return 0;
    return static_cast<uint64_t>(p[0]) | (static_cast<uint64_t>(p[n >> 1]) << ((n >> 1) * 8)) |
           (static_cast<uint64_t>(p[n - 1]) << ((n - 1) * 8));
  }
  static uint64_t load8(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static uint64_t mix(uint64_t a, uint64_t b) {
    __uint128_t r = static_cast<__uint128_t>(a ^ 0xA0761D6478BD642Full) * (b ^ 0xE7037ED1A0B428DBull);
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }
  static uint64_t hash_long(const uint8_t* p, size_t n) {  // n > 8
    uint64_t h = n * 0x9E3779B97F4A7C15ull;
    size_t k = n;
    const uint8_t* q = p;
    while (k > 8) {
      h = mix(load8(q), h);
      q += 8;
      k -= 8;
    }
    return mix(load8(p + n - 8), h);  // overlapping tail; the length is already in h
  }

 private:
  struct Slot {  // 16 bytes: short tokens are compared without touching the arena
    uint64_t head = 0;
    int32_t id = -1;
    uint16_t len = 0;
    uint16_t tag = 0;
  };
  std::string arena_;
  std::vector<uint32_t> offsets_;
  std::vector<uint32_t> lengths_;
  std::vector<uint8_t> present_;
  std::vector<uint8_t> mergeable_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int32_t byte_ids_[256];
  size_t max_len_ = 0;
};

}  // namespace herd
