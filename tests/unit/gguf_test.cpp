// GGUF container: every fixture against manifest.json (header, metadata, tensor infos, exact
// dequantized values), the embedded Llama 4 vocabulary, and malformed files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_model_loader.h"
#include "formats/gguf_vocab.h"
#include "model/text_model.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;
using nlohmann::json;

namespace {

const char* manifest_type(GGUFType t) {
  switch (t) {
    case GGUFType::U8: return "UINT8";
    case GGUFType::I8: return "INT8";
    case GGUFType::U16: return "UINT16";
    case GGUFType::I16: return "INT16";
    case GGUFType::U32: return "UINT32";
    case GGUFType::I32: return "INT32";
    case GGUFType::F32: return "FLOAT32";
    case GGUFType::BOOL: return "BOOL";
    case GGUFType::STRING: return "STRING";
    case GGUFType::ARRAY: return "ARRAY";
    case GGUFType::U64: return "UINT64";
    case GGUFType::I64: return "INT64";
    case GGUFType::F64: return "FLOAT64";
  }
  return "?";
}

TEST(Gguf, EveryFixtureMatchesManifest) {
  HERD_REQUIRE_SHARED();
  json m = test::read_json(test::testdata("gguf/manifest.json"));
  ASSERT_GE(m["files"].size(), 12u);
  for (auto& [rel, fm] : m["files"].items()) {
    SCOPED_TRACE(rel);
    GGUFFile f(test::testdata("gguf/" + rel).string());
    EXPECT_EQ(f.file_size(), fm["size"].get<size_t>());
    EXPECT_EQ(f.version(), fm["version"].get<uint32_t>());
    EXPECT_EQ(f.alignment(), fm["alignment"].get<uint64_t>());
    EXPECT_EQ(f.data_offset(), fm["data_offset"].get<uint64_t>());
    ASSERT_EQ(f.metadata().size(), fm["kv_count"].get<size_t>());
    ASSERT_EQ(f.tensors().size(), fm["tensor_count"].get<size_t>());
    for (const json& kv : fm["kv"]) {
      const std::string key = kv["key"];
      const GGUFValue* v = f.find(key);
      ASSERT_TRUE(v) << key;
      std::string type = manifest_type(v->type);
      if (v->type == GGUFType::ARRAY) type += std::string("[") + manifest_type(v->elem) + "]";
      EXPECT_EQ(type, kv["type"].get<std::string>()) << key;
      if (v->type == GGUFType::ARRAY) {
        EXPECT_EQ(v->count, kv["n"].get<uint64_t>()) << key;
        const json& first = kv["first"];
        for (size_t i = 0; i < first.size(); ++i) {
          if (v->elem == GGUFType::STRING) EXPECT_EQ(v->strs[i], first[i].get<std::string>()) << key;
          else EXPECT_EQ(v->ints[i], first[i].get<int64_t>()) << key;
        }
      } else if (v->type == GGUFType::STRING) EXPECT_EQ(v->s, kv["value"].get<std::string>()) << key;
      else if (v->is_integer()) EXPECT_EQ(v->i, kv["value"].get<int64_t>()) << key;
      else if (v->is_float()) EXPECT_EQ(v->f, kv["value"].get<double>()) << key;
    }
    for (const json& tm : fm["tensors"]) {
      const std::string name = tm["name"];
      const GGUFTensor* t = f.tensor(name);
      ASSERT_TRUE(t) << name;
      EXPECT_EQ(dtype_name(t->type), tm["type"].get<std::string>()) << name;
      EXPECT_EQ(t->ne, tm["ne"].get<std::vector<int64_t>>()) << name;
      EXPECT_EQ(t->offset, tm["offset"].get<uint64_t>()) << name;
      EXPECT_EQ(t->nbytes, tm["nbytes"].get<size_t>()) << name;
      std::vector<float> v(t->n_elements());
      to_f32(t->type, t->data, v.data(), v.size());
      auto first8 = tm["deq_first8"].get<std::vector<float>>();
      for (size_t i = 0; i < first8.size(); ++i) EXPECT_EQ(v[i], first8[i]) << name << " value " << i;
      double sum = 0, abs_sum = 0;
      for (float x : v) sum += x, abs_sum += std::fabs(x);
      const double ws = tm["deq_sum"], wa = tm["deq_abs_sum"];
      EXPECT_NEAR(sum, ws, 1e-9 * wa + 1e-12) << name;
      EXPECT_NEAR(abs_sum, wa, 1e-9 * wa + 1e-12) << name;
    }
  }
}

// tiktoken's "base64 rank" lines.
std::string b64decode(const std::string& s) {
  static const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    acc = acc << 6 | static_cast<uint32_t>(abc.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

TEST(Gguf, Llama4VocabularyAsData) {
  HERD_REQUIRE_SHARED();
  GGUFFile f(test::testdata("gguf/vocab/ggml-vocab-llama4.gguf").string());
  EXPECT_EQ(f.file_size(), 13069920u);
  EXPECT_TRUE(f.tensors().empty());
  GGUFVocab v = read_gguf_vocab(f);
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "llama4");
  ASSERT_EQ(v.tokens.size(), 202048u);
  ASSERT_EQ(v.types.size(), 202048u);
  EXPECT_EQ(v.merges.size(), 439802u);
  EXPECT_EQ(v.bos, 200000);
  EXPECT_EQ(v.eos, 200008);
  EXPECT_EQ(v.eot, 200008);
  EXPECT_EQ(v.eom, 200007);
  EXPECT_EQ(v.pad, 200018);
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_eos);

  // Ranks 0..199999: the token bytes are exactly tokenizer.model's.
  std::ifstream in(test::testdata("tokenizer/llama4/tokenizer.model"));
  std::string b64;
  int64_t rank;
  int64_t n = 0;
  while (in >> b64 >> rank) {
    ASSERT_LT(rank, 200000);
    ASSERT_EQ(v.token_bytes[rank], b64decode(b64)) << "rank " << rank;
    EXPECT_EQ(v.types[rank], 1) << "rank " << rank;
    ++n;
  }
  EXPECT_EQ(n, 200000);
  EXPECT_EQ(v.tokens[220], "\xC4\xA0");  // " " is written as U+0120
  EXPECT_EQ(v.token_bytes[220], " ");
  // Special tokens in special_tokens.json order, control type, text kept.
  json specials = test::read_json(test::testdata("tokenizer/llama4/special_tokens.json"));
  ASSERT_EQ(specials.size(), 2048u);
  for (const json& s : specials) {
    const int64_t id = s[0].get<int64_t>();
    EXPECT_EQ(v.token_bytes[id], s[1].get<std::string>());
    EXPECT_EQ(v.types[id], 3);
  }
  EXPECT_EQ(v.tokens[200000], "<|begin_of_text|>");
  // Every merge joins two tokens into a token.
  std::unordered_map<std::string, int64_t> index;
  for (size_t i = 0; i < v.tokens.size(); ++i) index.emplace(v.tokens[i], static_cast<int64_t>(i));
  for (size_t i = 0; i < v.merges.size(); i += 997) {
    const std::string& mg = v.merges[i];
    size_t sp = mg.find(' ');
    ASSERT_NE(sp, std::string::npos);
    EXPECT_TRUE(index.count(mg.substr(0, sp)) && index.count(mg.substr(sp + 1)) &&
                index.count(mg.substr(0, sp) + mg.substr(sp + 1)))
        << mg;
  }
  EXPECT_THROW(TextModel::load(f.path()), Error);  // vocabulary-only: no weights to load
}

TEST(Gguf, Gpt2ByteMappingRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string back;
  ASSERT_TRUE(gpt2_chars_to_bytes(bytes_to_gpt2_chars(all), &back));
  EXPECT_EQ(back, all);
  EXPECT_EQ(bytes_to_gpt2_chars("\n"), "\xC4\x8A");  // U+010A
  EXPECT_FALSE(gpt2_chars_to_bytes("\xE4\xB8\x80", &back));
}

// ---- malformed files, built byte by byte ----

struct Builder {
  std::string b;
  template <typename T>
  void put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
  }
  void kv_u32(const std::string& k, uint32_t v) {
    str(k);
    put<uint32_t>(4);
    put<uint32_t>(v);
  }
  void kv_str(const std::string& k, const std::string& v) {
    str(k);
    put<uint32_t>(8);
    str(v);
  }
  void pad(size_t a = 32) {
    while (b.size() % a) b += '\0';
  }
};

// A one-tensor file: header, n_kv given key/values (written by kvs), tensor "w" {32, 2} of type t at offset off.
std::string one_tensor(uint32_t version, uint32_t type, uint64_t off, size_t data_bytes) {
  Builder w;
  w.b = "GGUF";
  w.put<uint32_t>(version);
  w.put<uint64_t>(1);
  w.put<uint64_t>(1);
  w.kv_str("general.architecture", "llama4");
  w.str("w");
  w.put<uint32_t>(2);
  w.put<uint64_t>(32);
  w.put<uint64_t>(2);
  w.put<uint32_t>(type);
  w.put<uint64_t>(off);
  w.pad();
  w.b += std::string(data_bytes, '\x01');
  return w.b;
}

std::string error_of(const fs::path& p, FileAccess access = FileAccess::Map) {
  try {
    GGUFFile f(p.string(), access);
    (void)f;
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class GgufBad : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("gguf_bad"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string err(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / name;
    test::write_file(p, bytes);
    std::string e = error_of(p);
    EXPECT_NE(e.find(p.string()), std::string::npos) << "error does not name the file: " << e;
    EXPECT_EQ(error_of(p, FileAccess::Ram), e) << "read into memory (--no-mmap)";
    return e;
  }
  fs::path dir_;
};

TEST_F(GgufBad, WellFormedBaselineLoads) {
  fs::path p = dir_ / "ok.gguf";
  test::write_file(p, one_tensor(3, 0, 0, 256));
  GGUFFile f(p.string());
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].nbytes, 256u);
}

TEST_F(GgufBad, BadMagic) {
  std::string b = one_tensor(3, 0, 0, 256);
  b[3] = 'X';
  EXPECT_NE(err("magic.gguf", b).find("bad magic"), std::string::npos);
  EXPECT_NE(err("empty.gguf", "").find("bad magic"), std::string::npos);
}

TEST_F(GgufBad, UnsupportedVersion) {
  EXPECT_NE(err("v1.gguf", one_tensor(1, 0, 0, 256)).find("unsupported GGUF version 1"), std::string::npos);
  EXPECT_NE(err("v9.gguf", one_tensor(9, 0, 0, 256)).find("unsupported GGUF version 9"), std::string::npos);
}

TEST_F(GgufBad, UnknownTensorType) {
  std::string e = err("iq2.gguf", one_tensor(3, 16, 0, 256));
  EXPECT_NE(e.find("IQ2_XXS"), std::string::npos) << e;
  e = err("t999.gguf", one_tensor(3, 999, 0, 256));
  EXPECT_NE(e.find("#999"), std::string::npos) << e;
}

TEST_F(GgufBad, TensorDataOutOfBoundsOrMisaligned) {
  std::string e = err("oob.gguf", one_tensor(3, 0, 0, 255));
  EXPECT_NE(e.find("past the end"), std::string::npos) << e;
  e = err("far.gguf", one_tensor(3, 0, uint64_t{1} << 60, 256));
  EXPECT_NE(e.find("past the end"), std::string::npos) << e;
  e = err("misaligned.gguf", one_tensor(3, 0, 4, 260));
  EXPECT_NE(e.find("alignment"), std::string::npos) << e;
}

TEST_F(GgufBad, RowNotWholeBlocks) {
  // Q4_K needs rows of 256; this tensor's rows are 32 long.
  std::string e = err("rows.gguf", one_tensor(3, 12, 0, 4096));
  EXPECT_NE(e.find("block size"), std::string::npos) << e;
}

TEST_F(GgufBad, TruncatedAnywhere) {
  HERD_REQUIRE_SHARED();
  std::string full = test::read_text(test::testdata("gguf/scout_gguf_tiny/scout_gguf_tiny-Q4_K_M.gguf"));
  for (size_t cut : {size_t{3}, size_t{8}, size_t{20}, size_t{30}, size_t{100}, size_t{1000}, size_t{4000}, size_t{4448},
                     full.size() / 2, full.size() - 1}) {
    std::string e = err("cut.gguf", full.substr(0, cut));
    EXPECT_TRUE(e.find("truncated") != std::string::npos || e.find("bad magic") != std::string::npos ||
                e.find("cannot fit") != std::string::npos)
        << "cut at " << cut << ": " << e;
  }
}

TEST_F(GgufBad, HugeCountsAndUnknownValueTypes) {
  Builder w;
  w.b = "GGUF";
  w.put<uint32_t>(3);
  w.put<uint64_t>(0);
  w.put<uint64_t>(1);
  w.str("k");
  w.put<uint32_t>(9);  // array
  w.put<uint32_t>(4);
  w.put<uint64_t>(uint64_t{1} << 62);
  EXPECT_NE(err("arr.gguf", w.b).find("truncated"), std::string::npos);

  Builder u;
  u.b = "GGUF";
  u.put<uint32_t>(3);
  u.put<uint64_t>(0);
  u.put<uint64_t>(1);
  u.str("k");
  u.put<uint32_t>(13);
  EXPECT_NE(err("vt.gguf", u.b).find("unknown value type 13"), std::string::npos);

  Builder h;
  h.b = "GGUF";
  h.put<uint32_t>(3);
  h.put<uint64_t>(uint64_t{1} << 50);
  h.put<uint64_t>(0);
  EXPECT_NE(err("count.gguf", h.b).find("cannot fit"), std::string::npos);
}

TEST_F(GgufBad, MetadataOfTheWrongType) {
  HERD_REQUIRE_SHARED();
  // Rewrite scout's F32 file with llama4.embedding_length as a string: same length key, new value.
  GGUFFile good(test::testdata("gguf/scout_gguf_tiny/scout_gguf_tiny-F32.gguf").string());
  Builder w;
  w.b = "GGUF";
  w.put<uint32_t>(3);
  w.put<uint64_t>(0);
  w.put<uint64_t>(2);
  w.kv_str("general.architecture", "llama4");
  w.kv_str("llama4.embedding_length", "64");
  fs::path p = dir_ / "wrongtype.gguf";
  test::write_file(p, w.b);
  try {
    TextModel::load(p.string());
    FAIL() << "loaded";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("llama4.embedding_length"), std::string::npos) << m;
    EXPECT_NE(m.find("has type string"), std::string::npos) << m;
    EXPECT_NE(m.find(p.string()), std::string::npos) << m;
  }
  (void)good;
}

TEST_F(GgufBad, TensorShapeDisagreesWithMetadata) {
  HERD_REQUIRE_SHARED();
  // Byte-patch scout's F32 file: claim 5 layers, so blk.4 tensors are missing.
  std::string b = test::read_text(test::testdata("gguf/scout_gguf_tiny/scout_gguf_tiny-F32.gguf"));
  const std::string key = "llama4.block_count";
  size_t at = b.find(key);
  ASSERT_NE(at, std::string::npos);
  uint32_t five = 5;
  std::memcpy(&b[at + key.size() + 4], &five, 4);
  fs::path p = dir_ / "layers.gguf";
  test::write_file(p, b);
  try {
    TextModel::load(p.string());
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.4."), std::string::npos) << e.what();
  }
}

}  // namespace
