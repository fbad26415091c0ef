// How the front ends choose to map or read the weights (TextModel::default_access), and that both
// ways give the same model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/memory_info.h"
#include "model/text_model.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

namespace {

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
