// The paged, chunk-aware cache against the contiguous reference cache, its disk tier, quantized
// storage, rewinding and state files.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "core/error.h"
#include "kv/contiguous_kv_cache.h"
#include "kv/paged_kv_cache.h"
#include "model/presets.h"
#include "model/text_model.h"
#include "test_support.h"

using namespace herd;

namespace {

ModelConfig small_config(int64_t chunk) {
  ModelConfig c = preset_config("tiny");
  c.n_layers = 2;  // layer 0 chunked (RoPE), layer 1 global (NoPE)
  c.rope_layer = {true, false};
  c.moe_layer = {true, true};
  c.chunk_size = chunk;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 32;
  return c;
}

// Writes the same random keys/values at positions [p, p + T) of every layer into both caches and
// returns the largest difference of their attention outputs for random queries there.
float feed_both(const ModelConfig& c, KVCache& paged, KVCache& ref, std::mt19937& rng, int64_t p, int64_t T) {
  std::normal_distribution<float> nd;
  const int64_t kvd = c.n_kv_heads * c.head_dim, qd = c.n_heads * c.head_dim;
  float worst = 0;
  std::vector<int64_t> pos(T);
  for (int64_t t = 0; t < T; ++t) pos[t] = p + t;
  for (int l = 0; l < c.n_layers; ++l) {
    std::vector<float> k(T * kvd), v(T * kvd), q(T * qd), a(T * qd), b(T * qd);
    for (auto* vec : {&k, &v, &q})
      for (auto& x : *vec) x = nd(rng);
    paged.write(l, pos.data(), T, k.data(), v.data());
    ref.write(l, pos.data(), T, k.data(), v.data());
    AttentionShape s{c.n_heads, c.n_kv_heads, c.head_dim, c.is_chunked(l) ? c.chunk_size : 0, 0.35f};
    paged.attend(l, pos.data(), T, q.data(), a.data(), s);
    ref.attend(l, pos.data(), T, q.data(), b.data(), s);
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  }
  return worst;
}

// Feeds both caches the same random keys/values in the given slices and compares attention.
float compare_with_reference(const ModelConfig& c, const KVOptions& o, const std::vector<int64_t>& slices,
                             KVCache* paged_out = nullptr) {
  std::mt19937 rng(5);
  PagedKVCache paged(c, o);
  ContiguousKVCache ref(c.n_layers, c.n_kv_heads, c.head_dim);
  float worst = 0;
  int64_t p = 0;
  for (int64_t T : slices) {
    worst = std::max(worst, feed_both(c, paged, ref, rng, p, T));
    p += T;
  }
  EXPECT_EQ(paged.n_positions(), p);
  return worst;
}

TEST(PagedKVCache, MatchesReferenceAcrossChunksPagesAndSlices) {
  for (int64_t chunk : {16, 64}) {
    for (int64_t page : {1, 7, 64}) {
      KVOptions o;
      o.page_tokens = page;
      o.max_slice = 8;  // rings must grow for the larger slices below
      EXPECT_LE(compare_with_reference(small_config(chunk), o, {1, 5, 37, 1, 1, 90, 3, 16, 1}), 1e-5f)
          << "chunk " << chunk << " page " << page;
    }
  }
}

TEST(PagedKVCache, SeveralChunkedLayersGrowTogetherOnHugePages) {
  // Three chunked layers share one ring buffer and grow together; at head_dim 128 the rings and
  // the 512 KiB pages are large enough for huge pages (core/huge_buffer.h).
  ModelConfig c = small_config(512);
  c.n_layers = 4;
  c.rope_layer = {true, true, true, false};
  c.moe_layer = {true, true, true, true};
  c.head_dim = 128;
  KVOptions o;  // 256-position pages of 2 x 256 x 1 KiB
  o.max_slice = 8;
  EXPECT_LE(compare_with_reference(c, o, {1, 200, 1, 1, 300, 57, 1, 400, 2}), 1e-5f);
  PagedKVCache cache(c, o);
  std::vector<float> k(600 * 256, 0.5f), v(600 * 256, -0.5f);
  std::vector<int64_t> pos(600);
  for (int64_t t = 0; t < 600; ++t) pos[t] = t;
  for (int l = 0; l < 4; ++l) cache.write(l, pos.data(), 600, k.data(), v.data());
  // Rings of the three chunked layers (one buffer) plus three pages of the global layer.
  EXPECT_GE(cache.memory_use().ram_bytes, 3 * 600 * 1024 + 3 * 512 * 1024);
}

TEST(PagedKVCache, ReserveSizesTheRingsUpFrontAndKeepsWhatTheyHold) {
  // Two chunked layers (rings only, no pages): 300 positions written, then room reserved for 900.
  // The rings must keep the 300, take the next 600 one by one without growing again, and never
  // exceed a chunk plus one slice however much is asked for.
  ModelConfig c = small_config(1024);
  c.rope_layer = {true, true};
  KVOptions o;
  o.max_slice = 8;
  PagedKVCache paged(c, o);
  ContiguousKVCache ref(c.n_layers, c.n_kv_heads, c.head_dim);
  const int64_t row = paged.bytes_per_token_layer();
  std::mt19937 rng(11);
  float worst = 0;
  int64_t ring_bytes = 0;
  auto feed = [&](int64_t p, int64_t T) { worst = std::max(worst, feed_both(c, paged, ref, rng, p, T)); };
  for (int64_t p = 0; p < 300; p += 50) feed(p, 50);
  EXPECT_LT(paged.memory_use().ram_bytes, 2 * 900 * row);
  paged.reserve(900);
  ring_bytes = paged.memory_use().ram_bytes;
  EXPECT_GE(ring_bytes, 2 * 900 * row);
  EXPECT_EQ(paged.n_positions(), 300);  // reserving stores nothing
  for (int64_t p = 300; p < 900; ++p) {
    feed(p, 1);
    ASSERT_EQ(paged.memory_use().ram_bytes, ring_bytes) << "the ring grew again at position " << p;
  }
  EXPECT_LE(worst, 1e-5f);
  paged.reserve(int64_t{1} << 40);
  EXPECT_EQ(paged.memory_use().ram_bytes, 2 * (1024 + 8 - 1) * row);
  worst = 0;
  feed(900, 8);
  EXPECT_LE(worst, 1e-5f);
}

TEST(PagedKVCache, HeadDim128GroupsOfFiveMatchReference) {
  // Llama 4's head_dim (the AVX-512 loops) with Scout's group of 5 query heads per KV head (taken
  // four, then one, at a time), decode-sized and prefill-sized slices across pages.
  ModelConfig c = small_config(64);
  c.head_dim = 128;
  c.n_heads = 10;
  c.n_kv_heads = 2;
  KVOptions o;
  o.page_tokens = 32;
  o.max_slice = 8;
  EXPECT_LE(compare_with_reference(c, o, {1, 20, 1, 1, 50, 1, 17, 1}), 1e-5f);
}

TEST(PagedKVCache, DiskTierIsExact) {
  ModelConfig c = small_config(16);
  KVOptions ram;
  ram.page_tokens = 8;
  KVOptions tiny = ram;
  auto dir = test::temp_dir("kvdisk");
  tiny.disk_dir = dir.string();
  ram.max_slice = tiny.max_slice = 77;
  PagedKVCache probe(c, tiny);
  // Room for the ring (chunk + largest slice - 1 positions) and three pages: the global layer's
  // older pages live on disk.
  tiny.ram_budget = (16 + 77 - 1 + 3 * 8) * probe.bytes_per_token_layer();
  std::vector<int64_t> slices = {13, 1, 1, 40, 1, 1, 1, 77, 1};
  float d_ram = compare_with_reference(c, ram, slices);
  float d_disk = compare_with_reference(c, tiny, slices);
  EXPECT_EQ(d_ram, d_disk);  // identical bytes read back, identical arithmetic

  PagedKVCache spill(c, tiny);
  std::vector<float> k(2 * 32), v(2 * 32);
  for (int64_t p = 0; p < 200; ++p)
    for (int l = 0; l < 2; ++l) spill.write(l, &p, 1, k.data(), v.data());
  EXPECT_GT(spill.pages_on_disk(), 15);
  EXPECT_LE(spill.memory_use().ram_bytes, tiny.ram_budget);
  EXPECT_GT(spill.memory_use().disk_bytes, 0);
  std::filesystem::remove_all(dir);
}

TEST(PagedKVCache, BudgetTooSmallIsAnError) {
  ModelConfig c = small_config(16);
  KVOptions o;
  o.page_tokens = 8;
  o.ram_budget = 100;
  PagedKVCache cache(c, o);
  std::vector<float> k(64), v(64);
  try {
    for (int64_t p = 0; p < 40; ++p)
      for (int l = 0; l < 2; ++l) cache.write(l, &p, 1, k.data(), v.data());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
}

TEST(PagedKVCache, QuantizedTypesStayClose) {
  ModelConfig c = small_config(32);
  for (const char* t : {"bf16", "f16", "q8_0", "q4_0"}) {
    KVOptions o;
    o.k_type = o.v_type = parse_kv_type(t);
    float d = compare_with_reference(c, o, {20, 1, 1, 50});
    // Random unit-normal K/V (values up to ~4): a storage step of about 2^-8 relative (bf16),
    // 2^-11 (f16), max/127 (q8_0) and max/8 (q4_0) per element, amplified through the softmax.
    const std::string n = t;
    float bound = n == "q4_0" ? 1.0f : n == "q8_0" ? 0.1f : n == "bf16" ? 0.05f : 0.01f;
    EXPECT_LE(d, bound) << t;
    EXPECT_GT(d, 0.0f) << t;  // really stored at reduced precision
  }
}

TEST(PagedKVCache, BytesPerTokenMatchSpec) {
  // Spec §8: Scout, bf16 K and V: 4096 B per token per layer.
  ModelConfig scout = preset_config("scout");
  KVOptions o;
  o.k_type = o.v_type = KVType::BF16;
  EXPECT_EQ(PagedKVCache(scout, o).bytes_per_token_layer(), 4096);
  o.k_type = o.v_type = KVType::Q8_0;
  EXPECT_EQ(PagedKVCache(scout, o).bytes_per_token_layer(), 2 * 8 * 4 * 34);
  o.k_type = KVType::Q4_0;
  EXPECT_EQ(PagedKVCache(scout, o).bytes_per_token_layer(), 8 * 4 * 34 + 8 * 4 * 18);
}

TEST(PagedKVCache, ChunkRingStaysBounded) {
  ModelConfig c = small_config(16);
  KVOptions o;
  o.max_slice = 4;
  PagedKVCache cache(c, o);
  std::vector<float> k(64), v(64);
  for (int64_t p = 0; p < 1000; ++p)
    for (int l = 0; l < 2; ++l) cache.write(l, &p, 1, k.data(), v.data());
  // Ring: at most chunk + slice - 1 positions; global layer: 1000 positions in pages.
  const int64_t row = cache.bytes_per_token_layer();
  const int64_t pages = (1000 + o.page_tokens - 1) / o.page_tokens;
  EXPECT_LE(cache.memory_use().ram_bytes, (16 + 4 - 1) * row + pages * o.page_tokens * row);
  EXPECT_TRUE(cache.can_truncate(995));
  EXPECT_FALSE(cache.can_truncate(950));  // its chunk start (944) left the ring
  EXPECT_THROW(cache.truncate(950), Error);
  cache.truncate(995);
  EXPECT_EQ(cache.n_positions(), 995);
}

TEST(PagedKVCache, StateRoundTripAndBadStates) {
  ModelConfig c = small_config(16);
  KVOptions o;
  o.page_tokens = 8;
  o.k_type = KVType::Q8_0;
  PagedKVCache a(c, o);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> k(64), v(64);
  for (int64_t p = 0; p < 45; ++p)
    for (int l = 0; l < 2; ++l) {
      for (auto& x : k) x = nd(rng);
      for (auto& x : v) x = nd(rng);
      a.write(l, &p, 1, k.data(), v.data());
    }
  std::stringstream ss;
  a.save(ss);
  const std::string bytes = ss.str();
  PagedKVCache b(c, o);
  std::istringstream in(bytes);
  b.load(in);
  EXPECT_EQ(b.n_positions(), 45);
  // Same attention outputs, bit for bit.
  std::vector<float> q(4 * 32), oa(4 * 32), ob(4 * 32);
  for (auto& x : q) x = nd(rng);
  int64_t p = 45;
  for (int l = 0; l < 2; ++l) {
    for (auto& x : k) x = nd(rng);
    a.write(l, &p, 1, k.data(), v.data());
    b.write(l, &p, 1, k.data(), v.data());
    AttentionShape s{4, 2, 32, c.is_chunked(l) ? 16 : 0, 0.2f};
    a.attend(l, &p, 1, q.data(), oa.data(), s);
    b.attend(l, &p, 1, q.data(), ob.data(), s);
    EXPECT_EQ(oa, ob) << "layer " << l;
  }
  // Truncated, other model, other KV type.
  std::istringstream cut(bytes.substr(0, bytes.size() - 10));
  EXPECT_THROW(b.load(cut), Error);
  ModelConfig other = c;
  other.head_dim = 64;
  PagedKVCache wrong_model(other, o);
  std::istringstream in2(bytes);
  EXPECT_THROW(wrong_model.load(in2), Error);
  KVOptions o2 = o;
  o2.k_type = KVType::F32;
  PagedKVCache wrong_type(c, o2);
  std::istringstream in3(bytes);
  try {
    wrong_type.load(in3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--kv-type"), std::string::npos);
  }
  std::istringstream junk("not a state");
  EXPECT_THROW(b.load(junk), Error);
}

// Whole-model check: every fixture with the default paged cache at page size 3 and a RAM budget
// that forces spilling equals the plain in-RAM run bit for bit.
TEST(PagedKVCache, FixtureModelWithDiskTierEqualsInRam) {
  HERD_REQUIRE_SHARED();
  auto dir = test::testdata("models/scout_tiny");
  auto model = TextModel::load(dir.string());
  auto expected = test::read_json(dir / "expected.json");
  auto ids = expected["sequences"][0]["ids"].get<std::vector<int32_t>>();
  const int64_t V = model->config().vocab_size, T = static_cast<int64_t>(ids.size());
  KVOptions ram;
  ram.page_tokens = 3;
  ram.max_slice = 64;  // rings of chunk 16 + 64 - 1 = 79 positions
  auto tmp = test::temp_dir("kvmodel");
  KVOptions disk = ram;
  disk.disk_dir = tmp.string();
  disk.ram_budget = 6 * 79 * 256 + 3 * 2 * 768;  // rings of the 6 chunked layers + 3 pages per global layer
  auto c1 = model->new_cache(ram), c2 = model->new_cache(disk);
  std::vector<float> a(T * V), b(T * V);
  model->forward(ids.data(), T, *c1, a.data(), true);
  model->forward(ids.data(), T, *c2, b.data(), true);
  EXPECT_EQ(a, b);
  EXPECT_GT(static_cast<PagedKVCache&>(*c2).pages_on_disk(), 0);
  std::filesystem::remove_all(tmp);
}

}  // namespace
