#pragma once
// Shared by the tokenizer tests: cached fixture tokenizers and JSONL case loading.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace herd::test {

inline const Tokenizer& llama4_tokenizer() {
  static std::unique_ptr<Tokenizer> t =
      Tokenizer::from_tiktoken_file(testdata("tokenizer/llama4/tokenizer.model").string());
  return *t;
}

inline const Tokenizer& llama3_tokenizer() {
  static std::unique_ptr<Tokenizer> t =
      Tokenizer::from_tokenizer_json(testdata("tokenizer/llama3/tokenizer.json").string());
  return *t;
}

// JSONL with key order kept (tool-call arguments must keep their order).
inline std::vector<nlohmann::ordered_json> read_ordered_jsonl(const std::string& rel) {
  std::vector<nlohmann::ordered_json> out;
  std::string all = read_text(testdata(rel));
  size_t pos = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) nl = all.size();
    std::string line = all.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty()) out.push_back(nlohmann::ordered_json::parse(line));
  }
  return out;
}

inline std::vector<int32_t> ids_of(const nlohmann::ordered_json& j) { return j.get<std::vector<int32_t>>(); }

}  // namespace herd::test
