#include "kv/paged_kv_cache.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kv/tile_attention.h"

namespace herd {

namespace {
bool is_quantized(KVType t) { return t == KVType::Q8_0 || t == KVType::Q4_0; }
DType element_dtype(KVType t) {
  return t == KVType::BF16 ? DType::BF16 : t == KVType::F16 ? DType::F16 : DType::F32;  // quantized: dequantized to f32
}
constexpr int64_t kQueryTile = 16;    // queries per attention task
constexpr int64_t kMaxSegment = 256;  // positions dequantized at once
// Bytes of one page of a global layer: K then V rows of every KV head (0 for a bad page size,
// which the constructor reports).
size_t page_bytes_for(const ModelConfig& c, const KVOptions& o) {
  const int block = kv_block_size(c.head_dim);
  return static_cast<size_t>(c.n_kv_heads) * static_cast<size_t>(std::max<int64_t>(o.page_tokens, 0)) *
         (kv_row_bytes(o.k_type, c.head_dim, block) + kv_row_bytes(o.v_type, c.head_dim, block));
}
constexpr char kMagic[8] = {'H', 'E', 'R', 'D', 'K', 'V', '0', '1'};

template <typename T>
void put(std::ostream& o, const T& v) {
  o.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T get(std::istream& in, const char* what) {
  T v{};
  if (!in.read(reinterpret_cast<char*>(&v), sizeof v)) fail("KV state truncated while reading ", what);
  return v;
}
}  // namespace

PagedKVCache::PagedKVCache(const ModelConfig& config, const KVOptions& options)
    : cfg_(config),
      opt_(options),
      n_kv_(config.n_kv_heads),
      hd_(config.head_dim),
      block_(kv_block_size(config.head_dim)),
      pages_(page_bytes_for(config, options)) {
  if (opt_.page_tokens < 1) fail("KV page size must be at least 1 position");
  for (KVType t : {opt_.k_type, opt_.v_type})
    if ((t == KVType::Q8_0 || t == KVType::Q4_0) && (hd_ % block_ != 0 || block_ % 2 != 0))
      fail("KV type ", kv_type_name(t), " needs an even head_dim (got ", hd_, ")");
  rbk_ = kv_row_bytes(opt_.k_type, hd_, block_);
  rbv_ = kv_row_bytes(opt_.v_type, hd_, block_);
  page_bytes_ = page_bytes_for(cfg_, opt_);
  layers_.resize(cfg_.n_layers);
  for (int l = 0; l < cfg_.n_layers; ++l)
    if ((layers_[l].chunked = cfg_.is_chunked(l))) {
      if (n_rings_ == 0) first_ring_ = l;
      layers_[l].ring = n_rings_++;
    }
  if (opt_.ram_budget > 0 || !opt_.disk_dir.empty()) disk_ = std::make_unique<PageFile>(opt_.disk_dir);
}

int64_t PagedKVCache::bytes_per_token_layer() const { return static_cast<int64_t>(n_kv_) * static_cast<int64_t>(rbk_ + rbv_); }

uint8_t* PagedKVCache::page_k(Page& p, int g) const { return p.data + static_cast<size_t>(g) * opt_.page_tokens * rbk_; }
uint8_t* PagedKVCache::page_v(Page& p, int g) const {
  return p.data + static_cast<size_t>(n_kv_) * opt_.page_tokens * rbk_ + static_cast<size_t>(g) * opt_.page_tokens * rbv_;
}

void PagedKVCache::grow_ring(int64_t need) {
  if (n_rings_ == 0) return;
  const int64_t old_cap = layers_[first_ring_].cap;
  if (old_cap >= need) return;
  // Grow by half again (in whole 256-position steps) up to chunk + slice - 1: short contexts stay
  // small, and each position is copied O(1) times on average. (Steps of a fixed 256 copied the
  // whole ring every 256 tokens: ~0.3 ms per layer at 256 positions, more the longer it got.)
  const int64_t ceiling = cfg_.chunk_size + std::max(opt_.max_slice, need) - 1;
  set_ring_capacity(std::max(need, std::min((need + need / 2 + 255) / 256 * 256, ceiling)));
}

void PagedKVCache::set_ring_capacity(int64_t cap) {
  const int64_t old_cap = layers_[first_ring_].cap;
  const size_t bytes = static_cast<size_t>(n_rings_) * static_cast<size_t>(n_kv_ * cap) * (rbk_ + rbv_);
  HugeBuffer grown(bytes, "the KV cache chunk rings", bytes >= kHugeMinBytes);
  for (const Layer& L : layers_)
    if (L.chunked)
      for (int64_t x = std::max(L.lo, L.count - old_cap); x < L.count && old_cap > 0; ++x)
        for (int g = 0; g < n_kv_; ++g) {
          std::memcpy(ring_row(grown, cap, L.ring, false, g, x % cap), ring_k(L, g, x % old_cap), rbk_);
          std::memcpy(ring_row(grown, cap, L.ring, true, g, x % cap), ring_v(L, g, x % old_cap), rbv_);
        }
  rings_ = std::move(grown);
  for (Layer& L : layers_)
    if (L.chunked) L.cap = cap;
}

void PagedKVCache::reserve(int64_t n) {
  if (n_rings_ == 0 || n <= 0) return;
  // No sequence of writes needs more than a chunk plus one prefill slice of ring.
  const int64_t ceiling = cfg_.chunk_size + opt_.max_slice - 1;
  const int64_t need = std::min(n, ceiling);
  if (need > layers_[first_ring_].cap) set_ring_capacity(std::min((need + 255) / 256 * 256, ceiling));
  // Fault the ring's memory in now (one write per 4 KiB, of the byte already there) instead of at
  // the first write of each page during decoding.
  volatile uint8_t* p = rings_.data();
  for (size_t i = 0; i < rings_.size(); i += 4096) p[i] = p[i];
}

uint8_t* PagedKVCache::ring_row(const HugeBuffer& rings, int64_t cap, int ring, bool value, int g, int64_t slot) const {
  const size_t rows = static_cast<size_t>(n_kv_ * cap);  // per ring and K or V
  uint8_t* base = rings.data() + static_cast<size_t>(ring) * rows * (rbk_ + rbv_);
  if (!value) return base + static_cast<size_t>(g * cap + slot) * rbk_;
  return base + rows * rbk_ + static_cast<size_t>(g * cap + slot) * rbv_;
}
uint8_t* PagedKVCache::ring_k(const Layer& L, int g, int64_t slot) const { return ring_row(rings_, L.cap, L.ring, false, g, slot); }
uint8_t* PagedKVCache::ring_v(const Layer& L, int g, int64_t slot) const { return ring_row(rings_, L.cap, L.ring, true, g, slot); }

int64_t PagedKVCache::ring_bytes() const { return static_cast<int64_t>(rings_.size()); }

void PagedKVCache::drop_page(Page& p) {
  if (!p.data) return;
  pages_.release(p.data);
  p.data = nullptr;
  --pages_in_ram_;
}

int64_t PagedKVCache::ram_page_bytes() const { return pages_in_ram_ * static_cast<int64_t>(page_bytes_); }

PagedKVCache::Page& PagedKVCache::page_for_write(int layer, int64_t pi) {
  auto& pages = layers_[layer].pages;
  if (static_cast<int64_t>(pages.size()) <= pi) pages.resize(pi + 1);
  Page& p = pages[pi];
  if (!p.data) {
    p.data = pages_.acquire();
    if (p.disk_offset >= 0) {  // written again after a rewind: bring the spilled copy back
      disk_->read(p.disk_offset, p.data, page_bytes_);
      p.disk_offset = -1;
    }
    ++pages_in_ram_;
    enforce_budget(layer, pi);
  }
  return p;
}

void PagedKVCache::enforce_budget(int keep_layer, int64_t keep_page) {
  if (opt_.ram_budget <= 0) return;
  const int64_t rings = ring_bytes();
  while (rings + ram_page_bytes() > opt_.ram_budget) {
    // Spill the oldest page in RAM, never a layer's newest page (it is being written).
    int best_l = -1;
    int64_t best_p = INT64_MAX;
    for (int l = 0; l < static_cast<int>(layers_.size()); ++l) {
      auto& pages = layers_[l].pages;
      for (int64_t i = 0; i + 1 < static_cast<int64_t>(pages.size()) && i < best_p; ++i)
        if (pages[i].data && !(l == keep_layer && i == keep_page)) {
          best_l = l;
          best_p = i;
          break;
        }
    }
    if (best_l < 0)
      fail("KV RAM budget of ", opt_.ram_budget, " bytes is too small: the chunk rings take ", rings,
           " bytes and each global layer needs one ", page_bytes_, "-byte page in memory");
    Page& p = layers_[best_l].pages[best_p];
    p.disk_offset = disk_->append(p.data, page_bytes_);
    drop_page(p);
  }
}

void PagedKVCache::write(int layer, const int64_t* pos, int64_t T, const float* k, const float* v) {
  if (T <= 0) return;
  Layer& L = layers_[layer];
  if (pos[0] != L.count) fail("KV cache: layer ", layer, " expected position ", L.count, ", got ", pos[0]);
  for (int64_t t = 1; t < T; ++t)
    if (pos[t] != pos[0] + t) fail("KV cache: positions must be consecutive");
  const int64_t kvd = static_cast<int64_t>(n_kv_) * hd_;
  if (L.chunked) {
    const int64_t C = cfg_.chunk_size;
    const int64_t first_needed = (pos[0] / C) * C;
    grow_ring(pos[T - 1] - std::max(first_needed, L.lo) + 1);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t slot = pos[t] % L.cap;
      for (int g = 0; g < n_kv_; ++g) {
        kv_store_row(opt_.k_type, k + t * kvd + g * hd_, hd_, block_, ring_k(L, g, slot));
        kv_store_row(opt_.v_type, v + t * kvd + g * hd_, hd_, block_, ring_v(L, g, slot));
      }
    }
    L.count = pos[T - 1] + 1;
    L.lo = std::max(L.lo, L.count - L.cap);
  } else {
    const int64_t P = opt_.page_tokens;
    for (int64_t t = 0; t < T; ++t) {
      Page& p = page_for_write(layer, pos[t] / P);
      const int64_t off = pos[t] % P;
      for (int g = 0; g < n_kv_; ++g) {
        kv_store_row(opt_.k_type, k + t * kvd + g * hd_, hd_, block_, page_k(p, g) + off * rbk_);
        kv_store_row(opt_.v_type, v + t * kvd + g * hd_, hd_, block_, page_v(p, g) + off * rbv_);
      }
    }
    L.count = pos[T - 1] + 1;
  }
}

void PagedKVCache::attend_task(int layer, int g, const int64_t* pos, const int64_t* lo, int64_t n, const float* q,
                               float* out, const AttentionShape& s, std::vector<uint8_t>& io, std::vector<float>& kf,
                               std::vector<float>& vf) const {
  const Layer& L = layers_[layer];
  const int group = s.n_heads / s.n_kv_heads;
  const int64_t q_stride = static_cast<int64_t>(s.n_heads) * hd_;
  TileAttention ta;
  ta.begin(n, group, hd_, s.scale, q + g * group * hd_, q_stride, pos, lo);
  int64_t from = INT64_MAX, to = -1;
  for (int64_t t = 0; t < n; ++t) from = std::min(from, lo[t]), to = std::max(to, pos[t]);
  // Dequantization scratch only for quantized rows (f32/bf16/f16 are read in place).
  if (is_quantized(opt_.k_type)) kf.resize(kMaxSegment * hd_);
  if (is_quantized(opt_.v_type)) vf.resize(kMaxSegment * hd_);
  const int64_t P = opt_.page_tokens;
  for (int64_t x = from; x <= to;) {
    int64_t len;
    const uint8_t *kp, *vp;
    if (L.chunked) {
      const int64_t slot = x % L.cap;
      len = std::min({to - x + 1, L.cap - slot, kMaxSegment});
      kp = ring_k(L, g, slot);
      vp = ring_v(L, g, slot);
    } else {
      const int64_t pi = x / P, off = x % P;
      len = std::min({to - x + 1, P - off, kMaxSegment});
      const Page& p = L.pages[pi];
      if (p.data) {
        kp = page_k(const_cast<Page&>(p), g) + off * rbk_;
        vp = page_v(const_cast<Page&>(p), g) + off * rbv_;
      } else {
        // Spilled: read this head's rows back, and hint the next page so it streams in meanwhile.
        io.resize(len * (rbk_ + rbv_));
        const int64_t koff = p.disk_offset + static_cast<int64_t>(g * P + off) * static_cast<int64_t>(rbk_);
        const int64_t voff = p.disk_offset + static_cast<int64_t>(n_kv_) * P * static_cast<int64_t>(rbk_) +
                             static_cast<int64_t>(g * P + off) * static_cast<int64_t>(rbv_);
        disk_->read(koff, io.data(), len * rbk_);
        disk_->read(voff, io.data() + len * rbk_, len * rbv_);
        if (off + len == P && pi + 1 < static_cast<int64_t>(L.pages.size()) && !L.pages[pi + 1].data)
          disk_->prefetch(L.pages[pi + 1].disk_offset, page_bytes_);
        kp = io.data();
        vp = io.data() + len * rbk_;
      }
    }
    // f32/bf16/f16 rows are read in place; q8_0/q4_0 rows are dequantized into scratch first.
    struct Rows {
      const uint8_t* p;
      size_t stride;
      DType type;
    };
    auto readable = [&](KVType t, const uint8_t* p, size_t rb, std::vector<float>& scratch) -> Rows {
      if (!is_quantized(t)) return {p, rb, element_dtype(t)};
      kv_load_rows(t, p, rb, len, hd_, block_, scratch.data());
      return {reinterpret_cast<const uint8_t*>(scratch.data()), 4 * static_cast<size_t>(hd_), DType::F32};
    };
    const Rows k = readable(opt_.k_type, kp, rbk_, kf), v = readable(opt_.v_type, vp, rbv_, vf);
    ta.add_segment(x, len, k.p, k.stride, k.type, v.p, v.stride, v.type);
    x += len;
  }
  ta.finish(out + g * group * hd_, q_stride);
}

void PagedKVCache::attend(int layer, const int64_t* pos, int64_t T, const float* q, float* out, const AttentionShape& s) {
  const Layer& L = layers_[layer];
  std::vector<int64_t> lo(T);
  for (int64_t t = 0; t < T; ++t) {
    if (pos[t] < 0 || pos[t] >= L.count)
      fail("KV cache: attention at position ", pos[t], " but layer ", layer, " holds ", L.count, " positions");
    lo[t] = s.chunk > 0 ? (pos[t] / s.chunk) * s.chunk : 0;
    if (L.chunked && lo[t] < L.lo) fail("KV cache: chunk ring of layer ", layer, " no longer holds position ", lo[t]);
  }
  const int64_t n_tiles = (T + kQueryTile - 1) / kQueryTile;
  const int64_t q_stride = static_cast<int64_t>(s.n_heads) * hd_;
  std::mutex err_mu;
  std::string err;
  ThreadPool::global().parallel_for(n_tiles * n_kv_, 1, [&](int64_t a, int64_t b) {
    // Per-thread scratch kept across calls: decode attends once per layer and token.
    thread_local std::vector<uint8_t> io;
    thread_local std::vector<float> kf, vf;
    for (int64_t task = a; task < b; ++task) {
      const int g = static_cast<int>(task % n_kv_);
      const int64_t t0 = (task / n_kv_) * kQueryTile, n = std::min(kQueryTile, T - t0);
      try {
        attend_task(layer, g, pos + t0, lo.data() + t0, n, q + t0 * q_stride, out + t0 * q_stride, s, io, kf, vf);
      } catch (const std::exception& e) {  // worker threads must not throw
        std::lock_guard<std::mutex> lk(err_mu);
        if (err.empty()) err = e.what();
      }
    }
  });
  if (!err.empty()) throw Error(err);
}

int64_t PagedKVCache::n_positions() const { return layers_.empty() ? 0 : layers_.back().count; }

bool PagedKVCache::can_truncate(int64_t n) const {
  if (n > n_positions()) return false;
  for (const Layer& L : layers_)
    if (L.chunked && L.count > n && n > 0 && (n / cfg_.chunk_size) * cfg_.chunk_size < L.lo) return false;
  return true;
}

void PagedKVCache::truncate(int64_t n) {
  if (n < 0) n = 0;
  if (n == 0) {
    for (Layer& L : layers_) {
      L.count = L.lo = 0;
      for (auto& p : L.pages) drop_page(p);
      L.pages.clear();
    }
    if (disk_) disk_->reset();
    return;
  }
  if (!can_truncate(n)) fail("KV cache: cannot rewind to position ", n, " (the chunk ring has moved past it)");
  for (Layer& L : layers_) {
    if (L.count <= n) continue;
    L.count = n;
    if (!L.chunked) {
      const int64_t keep = (n + opt_.page_tokens - 1) / opt_.page_tokens;
      for (int64_t i = keep; i < static_cast<int64_t>(L.pages.size()); ++i) drop_page(L.pages[i]);
      L.pages.resize(keep);
    }
  }
}

int64_t PagedKVCache::pages_on_disk() const {
  int64_t n = 0;
  for (const Layer& L : layers_)
    for (const Page& p : L.pages) n += !p.data && p.disk_offset >= 0;
  return n;
}

KVCache::MemoryUse PagedKVCache::memory_use() const {
  MemoryUse m;
  m.ram_bytes = ring_bytes() + ram_page_bytes();
  m.disk_bytes = pages_on_disk() * static_cast<int64_t>(page_bytes_);
  return m;
}

// Session format: magic, shape and type fields (checked on load), then per layer the stored rows
// of the positions later queries can see, verbatim (no requantization, so restores are exact).
void PagedKVCache::save(std::ostream& o) const {
  o.write(kMagic, 8);
  put<int32_t>(o, cfg_.n_layers);
  put<int32_t>(o, n_kv_);
  put<int32_t>(o, hd_);
  put<int64_t>(o, cfg_.chunk_size);
  put<uint8_t>(o, static_cast<uint8_t>(opt_.k_type));
  put<uint8_t>(o, static_cast<uint8_t>(opt_.v_type));
  put<int64_t>(o, n_positions());
  std::vector<uint8_t> page(page_bytes_);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    put<int64_t>(o, L.count);
    if (L.chunked) {
      const int64_t start = L.count == 0 ? 0 : std::max(L.lo, (L.count / cfg_.chunk_size) * cfg_.chunk_size);
      put<int64_t>(o, start);
      for (int g = 0; g < n_kv_; ++g)
        for (int64_t x = start; x < L.count; ++x) {
          o.write(reinterpret_cast<const char*>(ring_k(L, g, x % L.cap)), static_cast<std::streamsize>(rbk_));
          o.write(reinterpret_cast<const char*>(ring_v(L, g, x % L.cap)), static_cast<std::streamsize>(rbv_));
        }
    } else {
      for (const Page& p : L.pages) {
        const uint8_t* src = p.data;
        if (!src) {
          disk_->read(p.disk_offset, page.data(), page_bytes_);
          src = page.data();
        }
        o.write(reinterpret_cast<const char*>(src), static_cast<std::streamsize>(page_bytes_));
      }
    }
  }
  if (!o) fail("KV state: write failed");
}

void PagedKVCache::load(std::istream& in) {
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) fail("KV state: bad magic (not a herd KV state, or another version)");
  const auto L = get<int32_t>(in, "layer count");
  const auto kv = get<int32_t>(in, "kv heads");
  const auto hd = get<int32_t>(in, "head_dim");
  const auto chunk = get<int64_t>(in, "chunk size");
  const auto kt = get<uint8_t>(in, "key type");
  const auto vt = get<uint8_t>(in, "value type");
  if (L != cfg_.n_layers || kv != n_kv_ || hd != hd_ || chunk != cfg_.chunk_size)
    fail("KV state is for another model (", L, " layers, ", kv, " KV heads, head_dim ", hd, ", chunk ", chunk,
         "; this model has ", cfg_.n_layers, ", ", n_kv_, ", ", hd_, ", ", cfg_.chunk_size, ")");
  if (kt != static_cast<uint8_t>(opt_.k_type) || vt != static_cast<uint8_t>(opt_.v_type))
    fail("KV state was saved with --kv-type ", kv_type_name(static_cast<KVType>(kt)), "/",
         kv_type_name(static_cast<KVType>(vt)), " but this run uses ", kv_type_name(opt_.k_type), "/",
         kv_type_name(opt_.v_type));
  const auto n = get<int64_t>(in, "position count");
  if (n < 0) fail("KV state: negative position count");
  truncate(0);
  std::vector<uint8_t> krow(rbk_), vrow(rbv_);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    Layer& Ly = layers_[l];
    const auto count = get<int64_t>(in, "layer position count");
    if (count != n) fail("KV state: layer ", l, " holds ", count, " positions, expected ", n);
    if (Ly.chunked) {
      const auto start = get<int64_t>(in, "chunk start");
      if (start < 0 || start > count || (count > 0 && count - start > cfg_.chunk_size))
        fail("KV state: bad chunk window [", start, ", ", count, ") in layer ", l);
      Ly.lo = start;
      Ly.count = start;
      grow_ring(std::max<int64_t>(count - start, 1));
      for (int g = 0; g < n_kv_; ++g)
        for (int64_t x = start; x < count; ++x) {
          if (!in.read(reinterpret_cast<char*>(ring_k(Ly, g, x % Ly.cap)), static_cast<std::streamsize>(rbk_)) ||
              !in.read(reinterpret_cast<char*>(ring_v(Ly, g, x % Ly.cap)), static_cast<std::streamsize>(rbv_)))
            fail("KV state truncated in layer ", l);
        }
      Ly.count = count;
    } else {
      const int64_t pages = (count + opt_.page_tokens - 1) / opt_.page_tokens;
      for (int64_t i = 0; i < pages; ++i) {
        Page& p = page_for_write(l, i);
        if (!in.read(reinterpret_cast<char*>(p.data), static_cast<std::streamsize>(page_bytes_)))
          fail("KV state truncated in layer ", l, " page ", i);
      }
      Ly.count = count;
    }
  }
}

}  // namespace herd
