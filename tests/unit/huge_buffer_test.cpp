// Huge-page-backed buffers (core/huge_buffer.h) and the KV page arena built on them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "kv/page_arena.h"

namespace herd {
namespace {

bool all_zero(const uint8_t* p, size_t n) { return std::all_of(p, p + n, [](uint8_t b) { return b == 0; }); }
bool huge_aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kHugePageBytes == 0; }

TEST(HugeBuffer, IsZeroedAlignedAndWritable) {
  for (size_t n : {size_t{1}, size_t{4096}, size_t{640} << 10, (size_t{2} << 20) + 1}) {
    HugeBuffer b(n, "a test buffer");
    ASSERT_NE(b.data(), nullptr);
    EXPECT_EQ(b.size(), n);
    EXPECT_TRUE(huge_aligned(b.data())) << n;
    EXPECT_TRUE(all_zero(b.data(), n)) << n;
    std::memset(b.data(), 0xab, n);
    EXPECT_EQ(b.data()[n - 1], 0xab);
  }
  HugeBuffer small(5000, "a small buffer", false);  // ordinary pages
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 4096, 0u);
  EXPECT_TRUE(all_zero(small.data(), 5000));
  small.release(0, 5000);
  HugeBuffer empty(0, "nothing");
  EXPECT_EQ(empty.data(), nullptr);
}

TEST(HugeBuffer, ReleasedRangeReadsZeroAndTheRestIsKept) {
  HugeBuffer b(3 * 4096 + 100, "a test buffer");
  std::memset(b.data(), 7, b.size());
  // Partial pages at both ends and whole pages between.
  b.release(1000, 2 * 4096 + 500);
  EXPECT_TRUE(std::all_of(b.data(), b.data() + 1000, [](uint8_t x) { return x == 7; }));
  EXPECT_TRUE(all_zero(b.data() + 1000, 2 * 4096 + 500));
  EXPECT_TRUE(std::all_of(b.data() + 1000 + 2 * 4096 + 500, b.data() + b.size(), [](uint8_t x) { return x == 7; }));
  b.release(b.size() - 10, 1000);  // clipped at the end
  EXPECT_TRUE(all_zero(b.data() + b.size() - 10, 10));
  b.release(b.size() + 5, 10);  // past the end: nothing
}

TEST(HugeBuffer, MovesOwnership) {
  HugeBuffer a(5000, "a test buffer");
  a.data()[4999] = 3;
  uint8_t* p = a.data();
  HugeBuffer b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.data(), p);
  HugeBuffer c(100, "another");
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.data()[4999], 3);
}

TEST(HugeBuffer, ImpossibleSizeIsAClearError) {
  try {
    HugeBuffer b(size_t{1} << 62, "the KV cache chunk ring");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the KV cache chunk ring"), std::string::npos) << e.what();
  }
}

TEST(HugeVector, LargeOnHugePageBoundariesSmallAsUsual) {
  HugeVector<float> big(202048, 1.5f);
  EXPECT_TRUE(huge_aligned(big.data()));
  EXPECT_EQ(big.back(), 1.5f);
  big.resize(10);  // shrinking keeps the buffer; growth reallocates through the allocator
  big.resize(600000, 2.0f);
  EXPECT_TRUE(huge_aligned(big.data()));
  EXPECT_EQ(big[9], 1.5f);
  EXPECT_EQ(big.back(), 2.0f);
  HugeVector<float> small(16, 1.0f);
  EXPECT_EQ(small[15], 1.0f);
  HugeVector<float> copy = big;
  EXPECT_EQ(copy, big);
}

TEST(PageArena, PagesAreZeroedDistinctAndReusedAfterRelease) {
  const size_t page = 512 * 1024 + 96;  // not a multiple of the system page
  PageArena arena(page);
  std::set<uint8_t*> seen;
  std::vector<uint8_t*> pages;
  for (int i = 0; i < 150; ++i) {  // more than one chunk's worth (127 slots)
    uint8_t* p = arena.acquire();
    ASSERT_TRUE(all_zero(p, page)) << i;
    std::memset(p, i + 1, page);
    pages.push_back(p);
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), pages.size());
  std::sort(pages.begin(), pages.end());
  for (size_t i = 1; i < pages.size(); ++i)
    if (pages[i] - pages[i - 1] < static_cast<ptrdiff_t>(page)) ADD_FAILURE() << "pages overlap";
  for (uint8_t* p : pages) EXPECT_EQ(p[page - 1], p[0]);  // no neighbour wrote into another
  uint8_t* gone = pages[17];
  arena.release(gone);
  uint8_t* again = arena.acquire();
  EXPECT_EQ(again, gone);
  EXPECT_TRUE(all_zero(again, page));
  PageArena small_pages(3000);  // under kHugeMinBytes: ordinary pages
  uint8_t* a = small_pages.acquire();
  uint8_t* b = small_pages.acquire();
  EXPECT_GE(b - a, 3000);
  std::memset(a, 1, 3000);
  small_pages.release(a);
  EXPECT_EQ(small_pages.acquire(), a);
  EXPECT_TRUE(all_zero(a, 3000));
  uint8_t stray[16];
  EXPECT_THROW(arena.release(stray), Error);
}

}  // namespace
}  // namespace herd
