// Sessions: save, restore and continue must equal an uninterrupted run bit for bit; bad session
// files give clear errors and never damage an existing session.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "model/text_model.h"
#include "runtime/generator.h"
#include "runtime/session.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace herd;

namespace {

struct Fixture {
  std::unique_ptr<TextModel> model;
  std::vector<int32_t> prompt;
  GenerateOptions opts;
};

Fixture make(const std::string& name) {
  auto dir = test::testdata("models/" + name);
  Fixture f{TextModel::load(dir.string()), {}, {}};
  f.prompt = test::read_json(dir / "expected.json")["sequences"][0]["ids"].get<std::vector<int32_t>>();
  f.opts.sampling.temperature = 0.9f;
  f.opts.sampling.top_p = 0.95f;
  f.opts.sampling.seed = 77;
  f.opts.prefill_slice = 7;
  return f;
}

TEST(Session, SaveRestoreContinueIsBitIdentical) {
  HERD_REQUIRE_SHARED();
  for (const char* name : {"scout_tiny", "maverick_tiny"}) {
    for (const char* kv : {"f32", "q8_0"}) {
      Fixture f = make(name);
      KVOptions ko;
      ko.k_type = ko.v_type = parse_kv_type(kv);
      ko.page_tokens = 5;
      auto tmp = test::temp_dir("session");
      const std::string path = (tmp / "s.herd").string();

      auto c1 = f.model->new_cache(ko);
      Generator g1(*f.model, *c1, f.opts);
      g1.feed(f.prompt);
      auto whole = g1.generate_more(30, nullptr);
      auto whole_logits = g1.next_logits();

      auto c2 = f.model->new_cache(ko);
      Generator g2(*f.model, *c2, f.opts);
      g2.feed(f.prompt);
      auto part = g2.generate_more(11, nullptr);
      save_session(path, *f.model, *c2, g2);

      auto c3 = f.model->new_cache(ko);
      Generator g3(*f.model, *c3, f.opts);
      LoadedSession s = load_session(path, *f.model, *c3);
      Sampler sampler(s.sampling);
      sampler.set_rng(s.rng);
      g3.restore(s.tokens, sampler, s.next_logits);
      auto rest = g3.generate_more(19, nullptr);
      part.insert(part.end(), rest.begin(), rest.end());
      EXPECT_EQ(part, whole) << name << " " << kv;
      EXPECT_EQ(g3.next_logits(), whole_logits) << name << " " << kv;  // bit for bit
      EXPECT_EQ(g3.history(), g1.history());
      fs::remove_all(tmp);
    }
  }
}

TEST(Session, BadFiles) {
  HERD_REQUIRE_SHARED();
  Fixture f = make("scout_tiny");
  auto tmp = test::temp_dir("badsession");
  const std::string path = (tmp / "s.herd").string();
  auto c = f.model->new_cache();
  Generator g(*f.model, *c, f.opts);
  g.feed(f.prompt);
  save_session(path, *f.model, *c, g);
  const std::string good = test::read_text(path);

  auto expect_error = [&](const std::string& bytes, const std::string& needle, const TextModel& m) {
    test::write_file(path, bytes);
    auto cache = m.new_cache();
    try {
      load_session(path, m, *cache);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(good.substr(0, good.size() / 2), "truncated", *f.model);
  expect_error("garbage!", "not a herd session", *f.model);
  std::string v2 = good;
  v2[8] = 9;  // version field
  expect_error(v2, "version 9", *f.model);
  auto other = TextModel::load(test::testdata("models/maverick_tiny").string());
  expect_error(good, "different model", *other);

  // Another KV type than the one saved.
  test::write_file(path, good);
  KVOptions q;
  q.k_type = KVType::Q8_0;
  auto qc = f.model->new_cache(q);
  EXPECT_THROW(load_session(path, *f.model, *qc), Error);

  // A failed save leaves the existing file untouched: make the temp path a directory.
  fs::create_directories(path + ".tmp");
  EXPECT_ANY_THROW(save_session(path, *f.model, *c, g));
  EXPECT_EQ(test::read_text(path), good);
  fs::remove_all(tmp);
}

TEST(Session, CliContinueEqualsUninterrupted) {
  HERD_REQUIRE_SHARED();
  auto dir = test::testdata("models/top2_bf16_tiny").string();
  auto tmp = test::temp_dir("clisession");
  const std::string sess = (tmp / "s.herd").string();
  const std::string common = "run -m " + dir + " --ids 5,6,7,8,9 --temp 0.8 --seed 5 --ignore-eos --kv-type bf16";
  auto whole = test::run_herd(common + " -n 24", false);
  ASSERT_EQ(whole.exit_code, 0) << whole.out;
  auto first = test::run_herd(common + " -n 10 --session " + sess, false);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  auto rest = test::run_herd("run -m " + dir + " --session " + sess + " --continue -n 14 --ignore-eos --kv-type bf16", false);
  ASSERT_EQ(rest.exit_code, 0) << rest.out;
  auto strip = [](std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  };
  EXPECT_EQ(strip(first.out) + " " + strip(rest.out), strip(whole.out));

  // Prefix reuse: a longer prompt starting with the session's tokens recomputes only the rest
  // and gives what a fresh run gives.
  auto greedy = "run -m " + dir + " -n 6 --ignore-eos";
  auto fresh = test::run_herd(greedy + " --ids 1,2,3,4,5,6,7,8", false);
  auto seed_run = test::run_herd(greedy + " --ids 1,2,3,4,5 --session " + tmp.string() + "/p.herd");
  ASSERT_EQ(seed_run.exit_code, 0) << seed_run.out;
  auto reuse = test::run_herd(greedy + " --ids 1,2,3,4,5,6,7,8 --session " + tmp.string() + "/p.herd");
  ASSERT_EQ(reuse.exit_code, 0) << reuse.out;
  EXPECT_NE(reuse.out.find("(5 reused from session)"), std::string::npos) << reuse.out;
  EXPECT_EQ(reuse.out.substr(0, fresh.out.size()), fresh.out);

  auto bad = test::run_herd("run -m " + dir + " --session " + tmp.string() + "/missing.herd --continue");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("no such session file"), std::string::npos) << bad.out;
  fs::remove_all(tmp);
}

}  // namespace
