#include "tokenizer/stream_decoder.h"

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace herd {

std::string StreamDecoder::push(int32_t id) {
  tok_->decode_append(id, held_);
  size_t n = utf8::complete_prefix(held_);
  std::string out = held_.substr(0, n);
  held_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace herd
