// Token shards and `prepare_data`: round trip, split, and every kind of bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "test_support.h"
#include "train/bpe.h"
#include "train/data.h"

using namespace herd;
using namespace herd::train;
namespace fs = std::filesystem;

namespace {

fs::path make_tokenizer(const fs::path& dir, const std::string& text) {
  fs::create_directories(dir);
  write_tiktoken((dir / "tokenizer.model").string(), train_bpe({text}, {320, 2}));
  return dir;
}

std::string corpus() {
  std::string s;
  for (int d = 0; d < 40; ++d) {
    s += "Document " + std::to_string(d) + " begins here.\n";
    for (int l = 0; l < 3; ++l) s += "line " + std::to_string(l) + " of the text about whales and ships.\n";
    s += "\n";
  }
  return s;
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(TrainData, PrepareSplitsDocumentsAndRoundTrips) {
  auto dir = test::temp_dir("train_data");
  const std::string text = corpus();
  test::write_file(dir / "c.txt", text);
  make_tokenizer(dir / "tok", text);
  PrepareOptions o;
  o.inputs = {(dir / "c.txt").string()};
  o.tokenizer_dir = (dir / "tok").string();
  o.out_dir = (dir / "data").string();
  o.val_fraction = 0.25;
  o.shard_tokens = 1024;
  auto st = prepare_data(o);
  EXPECT_EQ(st.documents, 40);
  EXPECT_GT(st.val_tokens, 0);
  EXPECT_GT(st.train_shards, 1);
  TokenData d = load_data(o.out_dir);
  EXPECT_EQ(static_cast<int64_t>(d.train.size()), st.train_tokens);
  EXPECT_EQ(static_cast<int64_t>(d.val.size()), st.val_tokens);
  // Decoding train + val gives back all 40 documents, each wrapped in BOS ... EOS.
  BpeEncoder enc(read_tiktoken(o.tokenizer_dir + "/tokenizer.model"));
  std::vector<int32_t> all(d.train.begin(), d.train.end());
  all.insert(all.end(), d.val.begin(), d.val.end());
  const std::string dec = enc.decode(all);
  size_t docs = 0, pos = 0;
  while ((pos = dec.find("<|begin_of_text|>Document ", pos)) != std::string::npos) ++docs, ++pos;
  EXPECT_EQ(docs, 40u);
  EXPECT_NE(dec.find("Document 7 begins here.\nline 0 of the text about whales and ships.\n"
                     "line 1 of the text about whales and ships.\nline 2 of the text about whales and ships.<|end_of_text|>"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(TrainData, CorruptShardsAreRejected) {
  auto dir = test::temp_dir("train_shard");
  std::vector<uint16_t> t = {1, 2, 3, 4, 5, 6, 7};
  const std::string p = (dir / "s.bin").string();
  write_shard(p, t, 10);
  EXPECT_EQ(read_shard(p), t);
  std::string bytes = test::read_text(p);
  {  // flipped payload byte
    std::string b = bytes;
    b[40] ^= 1;
    test::write_file(p, b);
    expect_error([&] { read_shard(p); }, "checksum");
  }
  {  // truncated
    test::write_file(p, bytes.substr(0, bytes.size() - 2));
    expect_error([&] { read_shard(p); }, "corrupt shard");
  }
  {  // not a shard
    test::write_file(p, "hello, this is text, not tokens at all......");
    expect_error([&] { read_shard(p); }, "bad magic");
  }
  write_shard(p, {1, 2, 11}, 10);  // id beyond the vocabulary
  expect_error([&] { read_shard(p); }, "outside the vocabulary");
  fs::remove_all(dir);
}

TEST(TrainData, EmptyAndNonUtf8CorporaAreRejected) {
  auto dir = test::temp_dir("train_badcorpus");
  make_tokenizer(dir / "tok", corpus());
  PrepareOptions o;
  o.tokenizer_dir = (dir / "tok").string();
  o.out_dir = (dir / "data").string();
  test::write_file(dir / "empty.txt", "\n\n\n");
  o.inputs = {(dir / "empty.txt").string()};
  expect_error([&] { prepare_data(o); }, "empty corpus");
  test::write_file(dir / "latin1.txt", "caf\xe9 au lait\n");
  o.inputs = {(dir / "latin1.txt").string()};
  expect_error([&] { prepare_data(o); }, "not UTF-8");
  expect_error([&] { load_data((dir / "nothing").string()); }, "data.json");
  fs::remove_all(dir);
}
