#include "tokenizer/meta_slicing.h"

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace herd {

namespace {
struct AsciiSpace {
  bool v[128];
  AsciiSpace() {
    for (uint32_t c = 0; c < 128; ++c) v[c] = unicode::unicode_flags(c) & unicode::kPySpace;
  }
};
const AsciiSpace kAsciiSpace;
}  // namespace

void for_each_meta_slice(std::string_view text, const std::function<void(std::string_view)>& fn,
                         size_t max_chunk_chars, size_t max_run_chars) {
  // Fast path: so few bytes that no limit can be reached.
  if (text.size() <= max_run_chars && text.size() <= max_chunk_chars) {
    fn(text);
    return;
  }
  const uint8_t* base = reinterpret_cast<const uint8_t*>(text.data());
  const uint8_t* end = base + text.size();
  const uint8_t* p = base;
  while (p < end) {
    // One chunk: up to max_chunk_chars code points starting at p.
    const uint8_t* slice_start = p;
    size_t chars = 0;
    size_t run = 0;
    bool run_is_space = false;
    while (p < end && chars < max_chunk_chars) {
      size_t n = 1;
      bool space;
      uint8_t b = *p;
      if (b < 0x80) {
        space = kAsciiSpace.v[b];
      } else {
        uint32_t cp;
        n = utf8::decode(p, end, &cp);
        space = cp != utf8::kInvalid && (unicode::unicode_flags(cp) & unicode::kPySpace);
      }
      if (chars == 0) run_is_space = space;  // Python: the class of the chunk's first character
      run = space == run_is_space ? run + 1 : 1;  // branch-free: classes alternate unpredictably
      run_is_space = space;
      if (run > max_run_chars) {
        fn(std::string_view(reinterpret_cast<const char*>(slice_start), static_cast<size_t>(p - slice_start)));
        slice_start = p;
        run = 1;
      }
      p += n;
      ++chars;
    }
    fn(std::string_view(reinterpret_cast<const char*>(slice_start), static_cast<size_t>(p - slice_start)));
  }
  if (text.empty()) fn(text);
}

}  // namespace herd
