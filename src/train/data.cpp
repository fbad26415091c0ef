#include "train/data.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"

namespace fs = std::filesystem;

namespace herd::train {

namespace {

constexpr char kMagic[8] = {'H', 'E', 'R', 'D', 'T', 'O', 'K', '1'};
constexpr size_t kHeader = 32;

uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

void write_shard(const std::string& path, const std::vector<uint16_t>& tokens, uint32_t vocab_size) {
  std::string b(kHeader + tokens.size() * 2, '\0');
  std::memcpy(&b[0], kMagic, 8);
  const uint32_t version = 1;
  const uint64_t n = tokens.size();
  std::memcpy(&b[8], &version, 4);
  std::memcpy(&b[12], &vocab_size, 4);
  std::memcpy(&b[16], &n, 8);
  if (!tokens.empty()) std::memcpy(&b[kHeader], tokens.data(), tokens.size() * 2);
  const uint64_t h = fnv1a(reinterpret_cast<const uint8_t*>(b.data()) + kHeader, tokens.size() * 2);
  std::memcpy(&b[24], &h, 8);
  write_file_atomic(path, b);
}

std::vector<uint16_t> read_shard(const std::string& path, uint32_t* vocab_out) {
  const std::string b = read_file(path);
  if (b.size() < kHeader || std::memcmp(b.data(), kMagic, 8) != 0) fail(path, ": not a herd token shard (bad magic)");
  uint32_t version, vocab;
  uint64_t n, h;
  std::memcpy(&version, &b[8], 4);
  std::memcpy(&vocab, &b[12], 4);
  std::memcpy(&n, &b[16], 8);
  std::memcpy(&h, &b[24], 8);
  if (version != 1) fail(path, ": unsupported shard version ", version);
  if (b.size() != kHeader + n * 2)
    fail(path, ": corrupt shard: header says ", n, " tokens but the file holds ", (b.size() - kHeader) / 2.0);
  if (fnv1a(reinterpret_cast<const uint8_t*>(b.data()) + kHeader, n * 2) != h) fail(path, ": corrupt shard: checksum mismatch");
  std::vector<uint16_t> t(n);
  if (n) std::memcpy(t.data(), b.data() + kHeader, n * 2);
  for (uint64_t i = 0; i < n; ++i)
    if (t[i] >= vocab) fail(path, ": corrupt shard: token ", t[i], " at ", i, " outside the vocabulary (", vocab, ")");
  if (vocab_out) *vocab_out = vocab;
  return t;
}

PrepareStats prepare_data(const PrepareOptions& o) {
  if (o.inputs.empty()) fail("data prepare: no input files");
  if (!(o.val_fraction >= 0 && o.val_fraction < 1)) fail("data prepare: --val-fraction must be in [0, 1)");
  if (o.shard_tokens < 1024) fail("data prepare: --shard-tokens must be at least 1024");
  BpeEncoder enc(read_tiktoken(o.tokenizer_dir + "/tokenizer.model"));
  if (enc.vocab_size() > 65536) fail("data prepare: vocabulary of ", enc.vocab_size(), " does not fit 16-bit shards");
  const int32_t bos = enc.special_id("<|begin_of_text|>"), eos = enc.special_id("<|end_of_text|>");
  fs::create_directories(o.out_dir);
  PrepareStats st;
  std::vector<uint16_t> cur[2];
  nlohmann::ordered_json shards = nlohmann::ordered_json::array();
  auto flush = [&](int split, bool final) {
    auto& buf = cur[split];
    while (static_cast<int64_t>(buf.size()) >= o.shard_tokens || (final && !buf.empty())) {
      const size_t n = std::min<size_t>(buf.size(), static_cast<size_t>(o.shard_tokens));
      std::vector<uint16_t> part(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
      buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
      int& count = split ? st.val_shards : st.train_shards;
      char name[64];
      std::snprintf(name, sizeof name, "%s_%03d.bin", split ? "val" : "train", count++);
      write_shard((fs::path(o.out_dir) / name).string(), part, static_cast<uint32_t>(enc.vocab_size()));
      shards.push_back({{"file", name}, {"split", split ? "val" : "train"}, {"tokens", n}});
    }
  };
  for (const auto& path : o.inputs) {
    const std::string text = read_file(path);
    st.bytes += static_cast<int64_t>(text.size());
    if (int64_t bad = find_invalid_utf8(text); bad >= 0) fail(path, ": not UTF-8 text (invalid byte sequence at offset ", bad, ")");
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find("\n\n", pos);
      if (end == std::string::npos) end = text.size();
      std::string_view doc(text.data() + pos, end - pos);
      pos = end + 2;
      while (!doc.empty() && (doc.back() == '\n' || doc.back() == '\r')) doc.remove_suffix(1);
      while (!doc.empty() && (doc.front() == '\n' || doc.front() == '\r')) doc.remove_prefix(1);
      if (doc.empty()) continue;
      // splitmix-style hash of (seed, document index) decides the split
      uint64_t x = o.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(st.documents) + 1;
      x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 27; x *= 0x94D049BB133111EBull; x ^= x >> 31;
      const int split = (static_cast<double>(x >> 11) / 9007199254740992.0) < o.val_fraction ? 1 : 0;
      ++st.documents;
      auto ids = enc.encode(doc);
      auto& buf = cur[split];
      buf.push_back(static_cast<uint16_t>(bos));
      for (int32_t id : ids) buf.push_back(static_cast<uint16_t>(id));
      buf.push_back(static_cast<uint16_t>(eos));
      (split ? st.val_tokens : st.train_tokens) += static_cast<int64_t>(ids.size()) + 2;
      flush(split, false);
    }
  }
  if (st.documents == 0) fail("data prepare: the input holds no text (empty corpus)");
  flush(0, true);
  flush(1, true);
  if (st.train_tokens == 0) fail("data prepare: every document went to validation; lower --val-fraction");
  nlohmann::ordered_json j;
  j["format"] = "herd-token-shards-v1";
  j["tokenizer"] = fs::absolute(o.tokenizer_dir).string();
  j["vocab_size"] = enc.vocab_size();
  j["bos_id"] = bos;
  j["eos_id"] = eos;
  j["documents"] = st.documents;
  j["train_tokens"] = st.train_tokens;
  j["val_tokens"] = st.val_tokens;
  j["val_fraction"] = o.val_fraction;
  j["seed"] = o.seed;
  j["shards"] = shards;
  write_file_atomic((fs::path(o.out_dir) / "data.json").string(), j.dump(2) + "\n");
  return st;
}

TokenData load_data(const std::string& dir) {
  const std::string meta = (fs::path(dir) / "data.json").string();
  if (!fs::exists(meta)) fail(dir, ": no data.json (run `herd data prepare` first)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(meta));
  } catch (const nlohmann::json::exception& e) {
    fail(meta, ": invalid JSON: ", e.what());
  }
  TokenData d;
  d.vocab_size = j.value("vocab_size", 0u);
  d.tokenizer_dir = j.value("tokenizer", std::string());
  if (!j.contains("shards") || !j["shards"].is_array()) fail(meta, ": no shard list");
  for (const auto& s : j["shards"]) {
    const std::string file = (fs::path(dir) / s.at("file").get<std::string>()).string();
    uint32_t v = 0;
    auto t = read_shard(file, &v);
    if (v != d.vocab_size) fail(file, ": vocabulary ", v, " differs from data.json's ", d.vocab_size);
    if (static_cast<int64_t>(t.size()) != s.value("tokens", int64_t{-1}))
      fail(file, ": holds ", t.size(), " tokens but data.json lists ", s.value("tokens", int64_t{-1}));
    auto& dst = s.at("split") == "val" ? d.val : d.train;
    dst.insert(dst.end(), t.begin(), t.end());
  }
  if (d.train.empty()) fail(dir, ": no training tokens");
  return d;
}

}  // namespace herd::train
