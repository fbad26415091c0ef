#pragma once
// Meta's reference Llama 3 / Llama 4 `encode` cuts its input before calling tiktoken: into chunks
// of 400,000 code points, and inside each chunk wherever a run of white-space code points (Python
// str.isspace) or of other code points would grow past 25,000. Each slice is encoded on its own.
// Bytes that are not UTF-8 count as one non-space code point each.
#include <cstddef>
#include <functional>
#include <string_view>

namespace herd {

constexpr size_t kMetaMaxChunkChars = 400000;
constexpr size_t kMetaMaxRunChars = 25000;

// Calls fn(slice) for each slice in order. Empty text gives one empty slice.
void for_each_meta_slice(std::string_view text, const std::function<void(std::string_view)>& fn,
                         size_t max_chunk_chars = kMetaMaxChunkChars, size_t max_run_chars = kMetaMaxRunChars);

}  // namespace herd
