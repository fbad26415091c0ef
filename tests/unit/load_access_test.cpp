// How the front ends choose to map or read the weights (TextModel::default_access), and that both
// ways give the same model.
#include <gtest/gtest.h>

#include <filesystem>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/memory_info.h"
#include "model/text_model.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

namespace {

// AnonHugePages (KiB) of the mapping that holds p, from /proc/self/smaps; -1 when not found.
int64_t huge_kib_at(const void* p) {
  std::ifstream in("/proc/self/smaps");
  const auto a = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = a >= lo && a < hi;
      continue;
    }
    long kib = 0;
    if (inside && std::sscanf(line.c_str(), "AnonHugePages: %ld kB", &kib) == 1) return kib;
  }
  return -1;
}

// Weights read into memory start on a huge-page boundary, and making part of them writable for a
// rewrite (model/decode_layout) neither splits their mapping nor their huge pages: decode read
// 2/3 of mini-scout's weights from 4 KiB pages, unevenly, when each matrix was unprotected
// separately. Outside a buffer read into memory it is an error.
TEST(LoadAccess, RewritingReadWeightsKeepsTheirHugePages) {
  const fs::path dir = test::temp_dir("huge");
  const std::string path = (dir / "w.bin").string();
  const size_t n = size_t{16} << 20;
  {
    std::ofstream out(path, std::ios::binary);
    std::vector<char> bytes(n, 7);
    out.write(bytes.data(), static_cast<std::streamsize>(n));
  }
  MappedFile f(path, FileAccess::Ram);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.data()) % (size_t{2} << 20), 0u);
  const int64_t before = huge_kib_at(f.data());
  for (size_t off : {size_t{3} << 20, (size_t{5} << 20) + 4096, size_t{9} << 20})
    with_writable(f.data() + off, 300000, [](uint8_t* p) { p[0] = 9; });
  EXPECT_EQ(f.data()[(size_t{5} << 20) + 4096], 9);
  // Many ranges (a model's matrices) in one call: all writable inside, read-only after.
  with_writable({{f.data() + 100, 10}, {f.data() + (size_t{12} << 20), 5000}}, [&] {
    const_cast<uint8_t*>(f.data())[100] = 11;
    const_cast<uint8_t*>(f.data())[size_t{12} << 20] = 12;
  });
  EXPECT_EQ(f.data()[100], 11);
  EXPECT_EQ(f.data()[size_t{12} << 20], 12);
  EXPECT_EQ(huge_kib_at(f.data()), before);
  EXPECT_EQ(huge_kib_at(f.data() + (size_t{9} << 20)), before);  // still one mapping
  if (before <= 0) std::printf("(no transparent huge pages here: only the mapping was checked)\n");
  std::vector<uint8_t> elsewhere(64);
  EXPECT_THROW(with_writable(elsewhere.data(), 64, [](uint8_t*) {}), Error);
  MappedFile mapped(path, FileAccess::Map);
  EXPECT_THROW(with_writable(mapped.data(), 64, [](uint8_t*) {}), Error);
  fs::remove_all(dir);
}

TEST(LoadAccess, SmallModelsAreReadLargeOnesMapped) {
  const int64_t avail = mem_available_bytes();
  ASSERT_GT(avail, 0) << "/proc/meminfo has no MemAvailable";
  auto dir = test::temp_dir("load_access");
  const fs::path small = dir / "small.gguf", big = dir / "big.gguf";
  test::write_file(small, std::string(4096, 'x'));
  {
    std::ofstream f(big);  // sparse: takes no disk space
  }
  fs::resize_file(big, static_cast<uintmax_t>(avail) / 2 + (uintmax_t{1} << 30));
  EXPECT_EQ(TextModel::default_access(small.string()), FileAccess::Ram);
  EXPECT_EQ(TextModel::default_access(big.string()), FileAccess::Map);
  // Forcing a read of a file larger than the available memory is an error naming the file, not
  // the OOM killer.
  const uintmax_t huge = static_cast<uintmax_t>(avail) + (uintmax_t{4} << 30);
  fs::resize_file(big, huge);
  try {
    MappedFile f(big.string(), FileAccess::Ram);
    ADD_FAILURE() << "read " << huge << " bytes into memory";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(big.string()), std::string::npos) << m;
    EXPECT_NE(m.find("--mmap"), std::string::npos) << m;
  }
  EXPECT_EQ(MappedFile(big.string(), FileAccess::Map).size(), huge);  // mapping it is fine
  EXPECT_EQ(TextModel::default_access((dir / "missing.gguf").string()), FileAccess::Map);
  // A directory counts its safetensors files only.
  fs::create_directories(dir / "hf");
  test::write_file(dir / "hf" / "model.safetensors", std::string(4096, 'x'));
  EXPECT_EQ(TextModel::default_access((dir / "hf").string()), FileAccess::Ram);
  fs::rename(big, dir / "hf" / "model-2.safetensors");
  EXPECT_EQ(TextModel::default_access((dir / "hf").string()), FileAccess::Map);
  fs::remove_all(dir);
}

TEST(LoadAccess, ReadAndMappedSafetensorsGiveTheSameLogits) {
  HERD_REQUIRE_SHARED();
  const std::string dir = test::testdata("models/scout_tiny").string();
  auto mapped = TextModel::load(dir, FileAccess::Map), read = TextModel::load(dir, FileAccess::Ram);
  const std::vector<int32_t> ids = {1, 5, 9, 200, 17};
  const int64_t V = mapped->config().vocab_size;
  std::vector<float> a(ids.size() * V), b(ids.size() * V);
  auto ca = mapped->new_cache(), cb = read->new_cache();
  mapped->forward(ids.data(), 5, *ca, a.data(), true);
  read->forward(ids.data(), 5, *cb, b.data(), true);
  EXPECT_EQ(a, b);
}

}  // namespace
