// Bad checkpoints: each must fail with one clear herd::Error naming the file and the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/checkpoint.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "model/text_model.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

namespace {

std::string header_file(const std::string& header_json, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header_json.size();
  std::memcpy(out.data(), &n, 8);
  return out + header_json + data;
}

// Runs fn and returns the herd::Error message (fails the test if nothing or something else is thrown).
template <typename F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-herd exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

class SafetensorsErrors : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("st"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& bytes) {
    auto p = (dir_ / "x.safetensors").string();
    test::write_file(p, bytes);
    return p;
  }
  fs::path dir_;
};

TEST_F(SafetensorsErrors, ValidFileRoundTrips) {
  std::vector<float> v = {1.5f, -2.0f, 3.25f};
  std::vector<uint8_t> bytes(12);
  std::memcpy(bytes.data(), v.data(), 12);
  auto p = (dir_ / "ok.safetensors").string();
  write_safetensors(p, {{"w", "F32", {3}, bytes}});
  SafetensorsFile f(p);
  ASSERT_EQ(f.tensors().size(), 1u);
  const TensorInfo& t = f.tensors().at("w");
  EXPECT_EQ(t.shape, std::vector<int64_t>({3}));
  EXPECT_EQ(reinterpret_cast<const float*>(t.data)[2], 3.25f);
  EXPECT_EQ(f.metadata().at("format"), "pt");
}

TEST_F(SafetensorsErrors, TooShort) {
  auto p = write("abc");
  EXPECT_NE(error_of([&] { SafetensorsFile f(p); }).find("need at least 8"), std::string::npos);
}

TEST_F(SafetensorsErrors, HeaderLengthPastEnd) {
  std::string b = header_file("{}", "");
  uint64_t big = 1 << 20;
  std::memcpy(b.data(), &big, 8);
  auto p = write(b);
  auto msg = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(msg.find("header length"), std::string::npos) << msg;
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
}

TEST_F(SafetensorsErrors, MalformedJson) {
  auto p = write(header_file("{\"a\": [1, 2", ""));
  EXPECT_NE(error_of([&] { SafetensorsFile f(p); }).find("malformed JSON"), std::string::npos);
}

TEST_F(SafetensorsErrors, UnknownDtype) {
  auto p = write(header_file(R"({"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})", "abcd"));
  auto msg = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(msg.find("unknown dtype 'F12'"), std::string::npos) << msg;
}

TEST_F(SafetensorsErrors, TruncatedData) {
  auto p = write(header_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"));
  auto msg = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(msg.find("outside the data block"), std::string::npos) << msg;
}

TEST_F(SafetensorsErrors, SizeDisagreesWithShape) {
  auto p = write(header_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678"));
  auto msg = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(msg.find("needs 12"), std::string::npos) << msg;
}

TEST_F(SafetensorsErrors, NegativeDimension) {
  auto p = write(header_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "1234"));
  EXPECT_NE(error_of([&] { SafetensorsFile f(p); }).find("negative"), std::string::npos);
}

// Model-level errors: copy a fixture model and break one thing.
class ModelErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::have_shared()) GTEST_SKIP() << "../shared not found";
    dir_ = test::temp_dir("model");
    for (auto& e : fs::directory_iterator(test::testdata("models/rope_llama3_tiny")))
      if (e.is_regular_file()) fs::copy_file(e.path(), dir_ / e.path().filename());
    for (auto& p : fs::directory_iterator(dir_)) fs::permissions(p.path(), fs::perms::owner_write, fs::perm_options::add);
  }
  void TearDown() override { fs::remove_all(dir_); }
  nlohmann::json config() { return test::read_json(dir_ / "config.json"); }
  void set_config(const nlohmann::json& j) { test::write_file(dir_ / "config.json", j.dump(2)); }
  // Rewrites model.safetensors through `edit` on its list of tensors.
  template <typename F>
  void edit_tensors(F edit) {
    std::vector<TensorToWrite> ts;
    {
      SafetensorsFile f((dir_ / "model.safetensors").string());
      for (auto& [name, t] : f.tensors()) ts.push_back({name, t.dtype_name, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
    }
    edit(ts);
    write_safetensors((dir_ / "model.safetensors").string(), ts);
  }
  std::string load_error() {
    return error_of([&] { TextModel::load(dir_.string()); });
  }
  fs::path dir_;
};

TEST_F(ModelErrors, LoadsUnmodified) { EXPECT_NO_THROW(TextModel::load(dir_.string())); }

TEST_F(ModelErrors, MissingTensor) {
  edit_tensors([](auto& ts) {
    ts.erase(std::remove_if(ts.begin(), ts.end(), [](auto& t) { return t.name == "model.layers.2.self_attn.k_proj.weight"; }), ts.end());
  });
  auto msg = load_error();
  EXPECT_NE(msg.find("missing tensor 'model.layers.2.self_attn.k_proj.weight'"), std::string::npos) << msg;
}

TEST_F(ModelErrors, ExtraTensor) {
  edit_tensors([](auto& ts) { ts.push_back({"model.layers.0.mystery.weight", "F32", {2}, std::vector<uint8_t>(8)}); });
  auto msg = load_error();
  EXPECT_NE(msg.find("unexpected tensor 'model.layers.0.mystery.weight'"), std::string::npos) << msg;
}

TEST_F(ModelErrors, WrongShape) {
  edit_tensors([](auto& ts) {
    for (auto& t : ts)
      if (t.name == "model.norm.weight") t.shape = {t.shape[0] / 2, 2};
  });
  auto msg = load_error();
  EXPECT_NE(msg.find("'model.norm.weight' has shape [32, 2], expected [64]"), std::string::npos) << msg;
}

TEST_F(ModelErrors, UnsupportedDtypeForWeights) {
  edit_tensors([](auto& ts) {
    for (auto& t : ts)
      if (t.name == "model.norm.weight") t.dtype_name = "I32";
  });
  auto msg = load_error();
  EXPECT_NE(msg.find("has dtype I32"), std::string::npos) << msg;
}

TEST_F(ModelErrors, TruncatedWeights) {
  auto p = dir_ / "model.safetensors";
  fs::resize_file(p, fs::file_size(p) - 100);
  auto msg = load_error();
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST_F(ModelErrors, MalformedConfig) {
  test::write_file(dir_ / "config.json", "{\"hidden_size\": 64,");
  auto msg = load_error();
  EXPECT_NE(msg.find("config.json: malformed JSON"), std::string::npos) << msg;
}

TEST_F(ModelErrors, UnsupportedArchitecture) {
  auto j = config();
  j["architectures"] = {"MistralForCausalLM"};
  j["model_type"] = "mistral";
  set_config(j);
  auto msg = load_error();
  EXPECT_NE(msg.find("unsupported architecture 'MistralForCausalLM'"), std::string::npos) << msg;
}

TEST_F(ModelErrors, WrongFieldType) {
  auto j = config();
  j["num_hidden_layers"] = "four";
  set_config(j);
  auto msg = load_error();
  EXPECT_NE(msg.find("\"num_hidden_layers\" must be an integer"), std::string::npos) << msg;
}

TEST_F(ModelErrors, InconsistentHeads) {
  auto j = config();
  j["num_key_value_heads"] = 3;
  set_config(j);
  EXPECT_NE(load_error().find("multiple of num_key_value_heads"), std::string::npos);
}

TEST_F(ModelErrors, MissingDirectoryContents) {
  fs::remove(dir_ / "model.safetensors");
  EXPECT_NE(load_error().find("no model.safetensors"), std::string::npos);
  fs::remove(dir_ / "config.json");
  EXPECT_NE(load_error().find("no config.json"), std::string::npos);
}

TEST_F(ModelErrors, TokenOutsideVocabulary) {
  auto model = TextModel::load(dir_.string());
  auto cache = model->new_cache();
  std::vector<float> logits(model->config().vocab_size);
  int32_t bad = 100000;
  auto msg = error_of([&] { model->forward(&bad, 1, *cache, logits.data(), false); });
  EXPECT_NE(msg.find("outside the vocabulary"), std::string::npos) << msg;
}

TEST_F(ModelErrors, CliReportsErrorAndExitsNonZero) {
  fs::resize_file(dir_ / "model.safetensors", 4);
  auto r = test::run_herd("logits -m " + dir_.string() + " --ids 1,2 --out " + (dir_ / "o.f32").string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("herd: error:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.safetensors"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "o.f32"));
}

}  // namespace
