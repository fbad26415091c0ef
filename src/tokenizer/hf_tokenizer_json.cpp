// Loading a Hugging Face tokenizer.json with a byte-level BPE model.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_scan.h"
#include "tokenizer/tokenizer.h"

namespace herd {

namespace {

using nlohmann::json;

const char kGpt2Pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

std::string regex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-/").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

struct PreTokenizerSpec {
  std::string pattern;
  bool byte_level = false;
  bool add_prefix_space = false;
};

void read_pre_tokenizer(const json& pt, const std::string& where, const std::string& name, PreTokenizerSpec& spec) {
  if (!pt.is_object() || !pt.contains("type") || !pt["type"].is_string())
    fail(name, ": ", where, ": expected an object with a \"type\"");
  std::string type = pt["type"].get<std::string>();
  if (type == "Sequence") {
    if (!pt.contains("pretokenizers") || !pt["pretokenizers"].is_array())
      fail(name, ": ", where, ".pretokenizers: expected an array");
    for (size_t i = 0; i < pt["pretokenizers"].size(); ++i)
      read_pre_tokenizer(pt["pretokenizers"][i], where + ".pretokenizers[" + std::to_string(i) + "]", name, spec);
  } else if (type == "Split") {
    if (!spec.pattern.empty()) fail(name, ": ", where, ": only one regex split is supported");
    const json& pat = pt.value("pattern", json());
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) {
      spec.pattern = pat["Regex"].get<std::string>();
    } else if (pat.is_object() && pat.contains("String") && pat["String"].is_string()) {
      spec.pattern = regex_escape(pat["String"].get<std::string>());
    } else {
      fail(name, ": ", where, ".pattern: expected {\"Regex\": ...} or {\"String\": ...}");
    }
    std::string behavior = pt.value("behavior", std::string("Isolated"));
    if (behavior != "Isolated")
      fail(name, ": ", where, ".behavior: \"", behavior, "\" is not supported (only \"Isolated\")");
    if (pt.value("invert", false)) fail(name, ": ", where, ".invert: true is not supported");
  } else if (type == "ByteLevel") {
    spec.byte_level = true;
    spec.add_prefix_space = pt.value("add_prefix_space", false);
    if (pt.value("use_regex", true)) {
      if (!spec.pattern.empty()) fail(name, ": ", where, ": a ByteLevel regex after a Split is not supported");
      spec.pattern = kGpt2Pattern;
    }
  } else {
    fail(name, ": ", where, ".type: pre-tokenizer \"", type, "\" is not supported");
  }
}

// "a b" or ["a", "b"].
bool merge_parts(const json_scan::MergeEntry& m, std::string& a, std::string& b) {
  if (m.is_pair) {
    a = m.first;
    b = m.second;
    return true;
  }
  const std::string& s = m.first;
  size_t sp = s.find(' ');
  if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos)
    return false;
  a = s.substr(0, sp);
  b = s.substr(sp + 1);
  return true;
}

std::string merge_text(const json_scan::MergeEntry& m) {
  return m.is_pair ? json::array({m.first, m.second}).dump() : json(m.first).dump();
}

// The document with model.vocab and model.merges read by the fast scanner and cut out of the
// text the general parser sees (replaced by {} and []). False if the scanner does not accept the
// text; the caller then parses everything the general way, which names any error's position.
bool parse_split(std::string_view text, json& rest, std::vector<std::pair<std::string, int64_t>>& vocab,
                 std::vector<json_scan::MergeEntry>& merges) {
  json_scan::Span doc;
  std::vector<json_scan::Span> top, in_model;
  if (!json_scan::document_span(text, doc) || text[doc.begin] != '{') return false;
  if (!json_scan::member_spans(text, doc, {"model"}, top)) return false;
  if (!top[0].found() || text[top[0].begin] != '{') return false;
  if (!json_scan::member_spans(text, top[0], {"vocab", "merges"}, in_model)) return false;
  const json_scan::Span v = in_model[0], m = in_model[1];
  // Odd content in either: the general path says what is wrong.
  if (!v.found() || text[v.begin] != '{' || !json_scan::read_string_int_object(text, v, vocab)) return false;
  if (!m.found() || text[m.begin] != '[' || !json_scan::read_merges(text, m, merges)) return false;
  std::string cut;
  cut.reserve(text.size() - (v.end - v.begin) - (m.end - m.begin) + 4);
  const json_scan::Span first = v.begin < m.begin ? v : m, second = v.begin < m.begin ? m : v;
  cut.append(text.substr(0, first.begin));
  cut.append(first.begin == v.begin ? "{}" : "[]");
  cut.append(text.substr(first.end, second.begin - first.end));
  cut.append(second.begin == v.begin ? "{}" : "[]");
  cut.append(text.substr(second.end));
  rest = json::parse(cut);
  return true;
}

// The same two members from a fully parsed document.
void extract_from_tree(const json& model, const std::string& name, std::vector<std::pair<std::string, int64_t>>& vocab,
                       std::vector<json_scan::MergeEntry>& merges) {
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    if (!it.value().is_number_integer())
      fail(name, ": model.vocab[", json(it.key()).dump(), "]: expected a non-negative integer id");
    vocab.emplace_back(it.key(), it.value().get<int64_t>());
  }
  const json& ms = model["merges"];
  for (size_t i = 0; i < ms.size(); ++i) {
    json_scan::MergeEntry e;
    if (ms[i].is_string()) {
      e.first = ms[i].get<std::string>();
    } else if (ms[i].is_array() && ms[i].size() == 2 && ms[i][0].is_string() && ms[i][1].is_string()) {
      e.first = ms[i][0].get<std::string>();
      e.second = ms[i][1].get<std::string>();
      e.is_pair = true;
    } else {
      fail(name, ": model.merges[", i, "]: expected \"left right\" or [\"left\", \"right\"]");
    }
    merges.push_back(std::move(e));
  }
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_tokenizer_json_text(std::string_view text, const std::string& name) {
  try {
    json j;
    std::vector<std::pair<std::string, int64_t>> vocab;
    std::vector<json_scan::MergeEntry> merges;
    bool split = false;
    try {
      split = parse_split(text, j, vocab, merges);
      if (!split) {
        vocab.clear();
        merges.clear();
        j = json::parse(text.begin(), text.end());
      }
    } catch (const json::parse_error& e) {
      fail(name, ": invalid JSON: ", e.what());
    }
    if (!j.is_object()) fail(name, ": expected a JSON object at the top level");
    if (!j.contains("model") || !j["model"].is_object()) fail(name, ": missing \"model\" object");
    const json& model = j["model"];
    std::string type = model.value("type", std::string("BPE"));
    if (type != "BPE") fail(name, ": model.type is \"", type, "\"; only BPE is supported");
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(k) && !model[k].is_null() && !(model[k].is_string() && model[k].get<std::string>().empty()))
        fail(name, ": model.", k, " is not supported");
    if (!model.contains("vocab") || !model["vocab"].is_object()) fail(name, ": model.vocab: expected an object");
    if (!model.contains("merges") || !model["merges"].is_array()) fail(name, ": model.merges: expected an array");
    if (!split) extract_from_tree(model, name, vocab, merges);
    const json& normalizer = j.value("normalizer", json());
    if (!normalizer.is_null()) fail(name, ": normalizer is not supported (expected null)");

    PreTokenizerSpec spec;
    const json& pt = j.value("pre_tokenizer", json());
    if (pt.is_null()) fail(name, ": pre_tokenizer is null; a byte-level pre-tokenizer is required");
    read_pre_tokenizer(pt, "pre_tokenizer", name, spec);
    if (!spec.byte_level) fail(name, ": pre_tokenizer has no ByteLevel step; only byte-level BPE is supported");
    if (spec.pattern.empty()) fail(name, ": pre_tokenizer has no regex (Split or ByteLevel use_regex)");

    std::unique_ptr<Tokenizer> tok(new Tokenizer());
    tok->source_ = Source::HuggingFaceJson;

    // Vocabulary: ids are the values; strings are byte-level stand-ins for the raw bytes.
    int64_t max_id = -1;
    for (const auto& [key, id] : vocab) {
      if (id < 0 || id >= (1 << 24))
        fail(name, ": model.vocab[", json(key).dump(), "]: expected a non-negative integer id");
      max_id = std::max<int64_t>(max_id, id);
    }
    const json& added = j.value("added_tokens", json::array());
    if (!added.is_array()) fail(name, ": added_tokens: expected an array");
    for (size_t i = 0; i < added.size(); ++i) {
      const json& a = added[i];
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 ||
          a["id"].get<int64_t>() >= (1 << 24) || !a.contains("content") || !a["content"].is_string())
        fail(name, ": added_tokens[", i, "]: expected {\"id\": <int>, \"content\": <string>, ...}");
      max_id = std::max<int64_t>(max_id, a["id"].get<int64_t>());
    }
    tok->vocab_.resize(static_cast<int32_t>(max_id + 1));
    std::vector<uint8_t> is_added(static_cast<size_t>(max_id + 1), 0);
    for (const json& a : added) is_added[a["id"].get<int64_t>()] = 1;

    int32_t n_mergeable = 0;
    for (const auto& [key, id64] : vocab) {
      int32_t id = static_cast<int32_t>(id64);
      if (is_added[id]) continue;  // an added token's entry in the vocab: handled below
      auto bytes = byte_level::decode(key);
      if (!bytes || bytes->empty())
        fail(name, ": model.vocab[", json(key).dump(), "]: not a byte-level token string");
      if (tok->vocab_.has(id)) fail(name, ": model.vocab: id ", id, " is used twice");
      tok->vocab_.set(id, *bytes, true);
      ++n_mergeable;
    }
    tok->vocab_.build_index();
    for (int b = 0; b < 256; ++b)
      if (tok->vocab_.byte_id(static_cast<uint8_t>(b)) < 0)
        fail(name, ": model.vocab has no token for the byte-level character of byte ", b,
             " (byte-level BPE needs all 256)");

    // Merges, in priority order.
    PairTable pairs;
    pairs.reserve(merges.size());
    std::string a, b;
    for (size_t i = 0; i < merges.size(); ++i) {
      if (!merge_parts(merges[i], a, b))
        fail(name, ": model.merges[", i, "]: expected \"left right\" or [\"left\", \"right\"]");
      auto ab = byte_level::decode(a), bb = byte_level::decode(b);
      if (!ab || !bb) fail(name, ": model.merges[", i, "]: not byte-level token strings");
      int32_t ia = tok->vocab_.find(*ab), ib = tok->vocab_.find(*bb), im = tok->vocab_.find(*ab + *bb);
      if (ia < 0 || ib < 0 || im < 0)
        fail(name, ": model.merges[", i, "]: ", merge_text(merges[i]), ": ", ia < 0 ? "left part" : ib < 0 ? "right part" : "merged token",
             " is not in model.vocab");
      pairs.insert(ia, ib, static_cast<uint32_t>(i), im);
    }
    tok->bpe_.use_merges(std::move(pairs), model.value("ignore_merges", false));

    // Added tokens: matched in the text before pre-tokenization; decoded as their content.
    for (const json& t : added) {
      int32_t id = static_cast<int32_t>(t["id"].get<int64_t>());
      std::string content = t["content"].get<std::string>();
      tok->vocab_.set(id, content, false);
      tok->specials_.add(SpecialToken{content, id, t.value("special", false), t.value("lstrip", false),
                                      t.value("rstrip", false)});
    }
    tok->finish_specials();
    tok->n_mergeable_ = n_mergeable;
    tok->pre_ = PreTokenizer::create(spec.pattern);
    tok->add_prefix_space_ = spec.add_prefix_space;
    tok->meta_slicing_ = false;
    return tok;
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong JSON type
    fail(name, ": unexpected JSON content: ", e.what());
  }
}

}  // namespace herd
