#pragma once
// A minimal JSON scanner for the two big members of a tokenizer.json (model.vocab and
// model.merges: hundreds of thousands of entries). Building a general JSON tree for them costs
// most of the load time; this reads them straight into flat vectors. It accepts strict JSON only
// and reports failure (no message) so the caller can fall back to the full parser, whose error
// messages name the position.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herd::json_scan {

// A value's extent in the text: [begin, end).
struct Span {
  size_t begin = 0, end = 0;
  bool found() const { return end > begin; }
};

// The spans of the named members of the object that starts at `obj.begin`. Each key is looked up
// once; a member not present keeps an empty span. False if the text there is not a well-formed
// object.
bool member_spans(std::string_view text, Span obj, const std::vector<std::string_view>& keys,
                  std::vector<Span>& out);

// The whole text as one value (leading and trailing whitespace allowed).
bool document_span(std::string_view text, Span& out);

// {"string": integer, ...} into (unescaped key, value) pairs.
bool read_string_int_object(std::string_view text, Span obj, std::vector<std::pair<std::string, int64_t>>& out);

// ["a b", ...] or [["a", "b"], ...]: each element unescaped. A string element is returned in
// `first` with an empty `second` and `is_pair` false.
struct MergeEntry {
  std::string first, second;
  bool is_pair = false;
};
bool read_merges(std::string_view text, Span arr, std::vector<MergeEntry>& out);

}  // namespace herd::json_scan
