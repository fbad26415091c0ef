#include "tokenizer/rank_vocab.h"

namespace herd {

void RankVocab::resize(int32_t n) {
  offsets_.assign(n, 0);
  lengths_.assign(n, 0);
  present_.assign(n, 0);
  mergeable_.assign(n, 0);
}

void RankVocab::set(int32_t id, std::string_view b, bool mergeable) {
  if (mergeable && b.size() > 0xFFFF) mergeable = false;  // longer than any real token; never merged
  offsets_[id] = static_cast<uint32_t>(arena_.size());
  lengths_[id] = static_cast<uint32_t>(b.size());
  arena_.append(b);
  present_[id] = 1;
  mergeable_[id] = mergeable ? 1 : 0;
}

void RankVocab::build_index() {
  size_t count = 0;
  for (uint8_t m : mergeable_) count += m;
  size_t cap = 16;
  while (cap < count * 2 + 2) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  for (int i = 0; i < 256; ++i) byte_ids_[i] = -1;
  max_len_ = 0;
  for (int32_t id = 0; id < size(); ++id) {
    if (!mergeable_[id]) continue;
    const uint8_t* p = reinterpret_cast<const uint8_t*>(arena_.data() + offsets_[id]);
    size_t n = lengths_[id];
    if (n > max_len_) max_len_ = n;
    if (n == 1 && byte_ids_[p[0]] < 0) byte_ids_[p[0]] = id;
    uint64_t head = n <= 8 ? key8(p, n) : load8(p);
    uint64_t h = n <= 8 ? mix(head, n) : hash_long(p, n);
    uint16_t tag = static_cast<uint16_t>(h >> 48);
    size_t i = static_cast<size_t>(h) & mask_;
    bool dup = false;
    while (slots_[i].id >= 0) {
      const Slot& s = slots_[i];
      if (s.head == head && s.len == n && std::memcmp(arena_.data() + offsets_[s.id], p, n) == 0) {
        dup = true;
        break;
      }
      i = (i + 1) & mask_;
    }
    if (!dup) slots_[i] = Slot{head, id, static_cast<uint16_t>(n), tag};
  }
}

}  // namespace herd
