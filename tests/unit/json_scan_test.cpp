// The fast tokenizer.json scanner: strict JSON, the same strings as the general parser.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/json_scan.h"

namespace herd {
namespace {

using json_scan::Span;

Span whole(std::string_view t) {
  Span s;
  EXPECT_TRUE(json_scan::document_span(t, s)) << t;
  return s;
}

TEST(JsonScan, StringIntObjectMatchesTheGeneralParser) {
  // Escapes of every kind, a surrogate pair, raw UTF-8, whitespace everywhere.
  const std::string t =
      " { \"a\" : 1 ,\"\\u00e9\\n\\t\\\"\\\\\\/\":-2,\"\\ud83d\\ude00\":30 , \"\xc4\xa0x\": 4000000000, \"\": 0 } ";
  std::vector<std::pair<std::string, int64_t>> got;
  ASSERT_TRUE(json_scan::read_string_int_object(t, whole(t), got));
  auto ref = nlohmann::ordered_json::parse(t);
  ASSERT_EQ(got.size(), ref.size());
  size_t i = 0;
  for (auto it = ref.begin(); it != ref.end(); ++it, ++i) {
    EXPECT_EQ(got[i].first, it.key());
    EXPECT_EQ(got[i].second, it.value().get<int64_t>());
  }
}

TEST(JsonScan, MergesInBothForms) {
  const std::string t = R"([ "a b", ["c d", "\u0120e"] ,"x\u0020y" ])";
  std::vector<json_scan::MergeEntry> m;
  ASSERT_TRUE(json_scan::read_merges(t, whole(t), m));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_FALSE(m[0].is_pair);
  EXPECT_EQ(m[0].first, "a b");
  EXPECT_TRUE(m[1].is_pair);
  EXPECT_EQ(m[1].first, "c d");
  EXPECT_EQ(m[1].second, "\xc4\xa0" "e");
  EXPECT_EQ(m[2].first, "x y");
}

TEST(JsonScan, RejectsWhatStrictJsonRejects) {
  std::vector<std::pair<std::string, int64_t>> v;
  for (const std::string& bad : std::vector<std::string>{R"({"a":1,})", R"({"a":01})", R"({"a":1.5})", R"({"a":1e3})", R"({"a":"1"})",
                          R"({"\ud800":1})", R"({"\udc00x":1})", R"({"\x":1})", R"({"a" 1})", R"({"a":1)",
                          std::string("{\"a\x01\":1}"), R"({"a":-})", R"({"a":1 "b":2})"}) {
    Span s{0, bad.size()};
    EXPECT_FALSE(json_scan::read_string_int_object(bad, s, v)) << bad;
  }
  std::vector<json_scan::MergeEntry> m;
  for (const std::string& bad : std::vector<std::string>{R"(["a b",])", R"([["a"]])", R"([["a","b","c"]])", R"([1])", R"(["a b")"}) {
    Span s{0, bad.size()};
    EXPECT_FALSE(json_scan::read_merges(bad, s, m)) << bad;
  }
  Span s;
  for (const std::string& bad : std::vector<std::string>{"{", "[1,]", "{\"a\":tru}", "[1] x", "", "[-01]", "[1.]", "[.5]", "[\"\\u12\"]"})
    EXPECT_FALSE(json_scan::document_span(bad, s)) << bad;
  // Nesting deeper than the scanner's limit is refused, not a stack overflow.
  std::string deep(100000, '[');
  EXPECT_FALSE(json_scan::document_span(deep + std::string(100000, ']'), s));
}

TEST(JsonScan, MemberSpansFindsNestedValues) {
  const std::string t = R"({"x": [1, {"model": 2}], "model": {"merges": [], "vocab": {"a": 1}}, "y": null})";
  std::vector<Span> top, in;
  ASSERT_TRUE(json_scan::member_spans(t, whole(t), {"model", "absent"}, top));
  ASSERT_TRUE(top[0].found());
  EXPECT_FALSE(top[1].found());
  EXPECT_EQ(t.substr(top[0].begin, top[0].end - top[0].begin), R"({"merges": [], "vocab": {"a": 1}})");
  ASSERT_TRUE(json_scan::member_spans(t, top[0], {"vocab", "merges"}, in));
  EXPECT_EQ(t.substr(in[0].begin, in[0].end - in[0].begin), R"({"a": 1})");
  EXPECT_EQ(t.substr(in[1].begin, in[1].end - in[1].begin), "[]");
}

}  // namespace
}  // namespace herd
