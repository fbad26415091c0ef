// A full disk while spilling KV pages or saving a session: a clear error, and an existing session
// file stays intact. The full disk is simulated with RLIMIT_FSIZE (writes past it fail with EFBIG).
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <sys/resource.h>

#include "core/error.h"
#include "kv/paged_kv_cache.h"
#include "model/presets.h"
#include "model/text_model.h"
#include "runtime/generator.h"
#include "runtime/session.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

namespace {

// Limits the size of any file this process writes for the lifetime of the object.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old_);
    rlimit r = old_;
    r.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &r);
  }
  ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &old_); }

 private:
  rlimit old_{};
};

TEST(DiskFull, KvSpillReportsTheDirectory) {
  ModelConfig c = preset_config("tiny");  // 3 chunked layers + 1 global layer
  c.chunk_size = 32;
  auto dir = test::temp_dir("kvfull");
  KVOptions o;
  o.page_tokens = 16;
  o.max_slice = 1;  // rings of 32 positions
  o.disk_dir = dir.string();
  PagedKVCache probe(c, o);
  o.ram_budget = (3 * 32 + 3 * 16) * probe.bytes_per_token_layer();  // rings + 3 pages
  PagedKVCache cache(c, o);
  std::vector<float> k(c.n_kv_heads * c.head_dim, 0.5f), v = k;
  std::string msg;
  {
    FileSizeLimit limit(4096);
    try {
      for (int64_t p = 0; p < 5000; ++p)
        for (int l = 0; l < c.n_layers; ++l) cache.write(l, &p, 1, k.data(), v.data());
    } catch (const Error& e) {
      msg = e.what();
    }
  }
  EXPECT_NE(msg.find("KV disk tier"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
  fs::remove_all(dir);
}

TEST(DiskFull, SessionSaveKeepsThePreviousFile) {
  HERD_REQUIRE_SHARED();
  auto model = TextModel::load(test::testdata("models/scout_tiny").string());
  auto dir = test::temp_dir("sessfull");
  const std::string path = (dir / "s.herd").string();
  auto cache = model->new_cache();
  GenerateOptions opts;
  Generator gen(*model, *cache, opts);
  gen.feed({1, 2, 3});
  save_session(path, *model, *cache, gen);
  const std::string before = test::read_text(path);
  gen.feed(std::vector<int32_t>(40, 7));  // a bigger state than the limit allows
  {
    FileSizeLimit limit(before.size() + 100);
    EXPECT_THROW(save_session(path, *model, *cache, gen), Error);
  }
  EXPECT_EQ(test::read_text(path), before);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  fs::remove_all(dir);
}

}  // namespace
