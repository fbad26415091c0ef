#include "tokenizer/bpe.h"

#include <algorithm>
#include <functional>

namespace herd {

void PairTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2 + 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  count_ = 0;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xFFFFFFFFu), s.rank, s.merged);
  }
}

void PairTable::grow() { reserve(std::max<size_t>(count_ * 2, 8)); }

bool PairTable::insert(int32_t a, int32_t b, uint32_t rank, int32_t merged) {
  if ((count_ + 1) * 2 > slots_.size()) grow();
  uint64_t key = key_of(a, b);
  size_t i = static_cast<size_t>(mix(key)) & mask_;
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) return false;
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{key, rank, merged};
  ++count_;
  return true;
}

namespace {
constexpr uint32_t kNoRank = 0xFFFFFFFFu;
constexpr size_t kSmallPiece = 256;
}  // namespace

void Bpe::encode_piece(const uint8_t* p, size_t n, std::vector<int32_t>& out) const {
  if (n == 1) {
    out.push_back(vocab_->byte_id(p[0]));
    return;
  }
  if (whole_piece_first_) {
    int32_t id = vocab_->find(p, n);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (merges_mode_) {
    if (n <= kSmallPiece) encode_small<true>(p, n, out);
    else encode_large<true>(p, n, out);
  } else {
    if (n <= kSmallPiece) encode_small<false>(p, n, out);
    else encode_large<false>(p, n, out);
  }
}

// Quadratic merge loop on a flat array; fastest for the short pieces that dominate real text.
template <bool kMerges>
void Bpe::encode_small(const uint8_t* p, size_t n, std::vector<int32_t>& out) const {
  uint32_t start[kSmallPiece + 1];
  int32_t id[kSmallPiece];
  uint32_t rank[kSmallPiece];    // rank of the pair (i, i+1)
  int32_t merged[kSmallPiece];   // merges mode: id of that pair's result
  size_t m = n;                  // number of parts
  for (size_t i = 0; i < n; ++i) {
    start[i] = static_cast<uint32_t>(i);
    id[i] = vocab_->byte_id(p[i]);
  }
  start[n] = static_cast<uint32_t>(n);

  auto pair_rank = [&](size_t i) {  // i + 1 < m
    if constexpr (kMerges) {
      uint32_t r;
      int32_t mid;
      if (pairs_.find(id[i], id[i + 1], &r, &mid)) {
        merged[i] = mid;
        return r;
      }
      return kNoRank;
    } else {
      int32_t t = vocab_->find(p + start[i], start[i + 2] - start[i]);
      return t >= 0 ? static_cast<uint32_t>(t) : kNoRank;
    }
  };
  for (size_t i = 0; i + 1 < m; ++i) rank[i] = pair_rank(i);

  while (m > 1) {
    uint32_t best = kNoRank;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < m; ++i) {
      if (rank[i] < best) {
        best = rank[i];
        bi = i;
      }
    }
    if (best == kNoRank) break;
    if constexpr (kMerges) id[bi] = merged[bi];
    else id[bi] = static_cast<int32_t>(best);
    // Remove part bi+1.
    for (size_t j = bi + 1; j + 1 < m; ++j) {
      id[j] = id[j + 1];
      rank[j] = rank[j + 1];
      if constexpr (kMerges) merged[j] = merged[j + 1];
    }
    for (size_t j = bi + 1; j < m; ++j) start[j] = start[j + 1];
    --m;
    if (bi + 1 < m) rank[bi] = pair_rank(bi);
    if (bi > 0) rank[bi - 1] = pair_rank(bi - 1);
  }
  for (size_t i = 0; i < m; ++i) out.push_back(id[i]);
}

// Linked list + lazy min-heap: O(n log n) for long pieces (long words, runs of symbols).
template <bool kMerges>
void Bpe::encode_large(const uint8_t* p, size_t n, std::vector<int32_t>& out) const {
  struct Node {
    uint32_t start, end;
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  struct Cand {
    uint32_t rank;
    uint32_t start;  // of the left part: leftmost wins ties
    int32_t left, right;
    uint32_t right_end;
    int32_t merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : start > o.start; }
  };
  thread_local std::vector<Node> nodes;
  thread_local std::vector<Cand> heap_store;
  nodes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    nodes[i] = Node{static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1), vocab_->byte_id(p[i]),
                    static_cast<int32_t>(i) - 1, i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  }
  std::vector<Cand>& heap = heap_store;  // a min-heap through std::push_heap / pop_heap
  heap.clear();
  const std::greater<Cand> later;
  auto push_pair = [&](int32_t a) {
    if (a < 0) return;
    int32_t b = nodes[a].next;
    if (b < 0) return;
    uint32_t r;
    int32_t mid;
    if constexpr (kMerges) {
      if (!pairs_.find(nodes[a].id, nodes[b].id, &r, &mid)) return;
    } else {
      int32_t t = vocab_->find(p + nodes[a].start, nodes[b].end - nodes[a].start);
      if (t < 0) return;
      r = static_cast<uint32_t>(t);
      mid = t;
    }
    heap.push_back(Cand{r, nodes[a].start, a, b, nodes[b].end, mid});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (size_t i = 0; i + 1 < n; ++i) push_pair(static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Cand c = heap.back();
    heap.pop_back();
    Node& a = nodes[c.left];
    if (!a.alive || a.next != c.right) continue;
    Node& b = nodes[c.right];
    if (!b.alive || b.end != c.right_end) continue;
    a.end = b.end;
    a.id = c.merged;
    a.next = b.next;
    if (b.next >= 0) nodes[b.next].prev = c.left;
    b.alive = false;
    push_pair(a.prev);
    push_pair(c.left);
  }
  for (int32_t i = 0; i >= 0; i = nodes[i].next) out.push_back(nodes[i].id);
  if (nodes.capacity() > (1u << 16)) {  // do not pin huge buffers
    std::vector<Node>().swap(nodes);
    std::vector<Cand>().swap(heap_store);
  }
}

}  // namespace herd
