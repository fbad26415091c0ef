#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/thread_pool.h"
#include "tokenizer/meta_slicing.h"
#include "tokenizer/tokenizer_io.h"

namespace herd {

namespace fs = std::filesystem;

std::string read_tokenizer_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail("tokenizer file not found: ", path);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot open tokenizer file: ", path);
  std::string data;
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  f.seekg(0, std::ios::beg);
  if (size < 0) fail("cannot read tokenizer file: ", path);
  data.resize(static_cast<size_t>(size));
  if (size > 0 && !f.read(data.data(), size)) fail("cannot read tokenizer file: ", path);
  return data;
}

bool Tokenizer::model_dir_has_tokenizer(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "tokenizer.model", ec) ||
         fs::is_regular_file(fs::path(dir) / "tokenizer.json", ec);
}

std::unique_ptr<Tokenizer> Tokenizer::from_model_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("model directory not found: ", dir);
  fs::path model = fs::path(dir) / "tokenizer.model";
  if (fs::is_regular_file(model, ec)) return from_tiktoken_file(model.string());
  fs::path json = fs::path(dir) / "tokenizer.json";
  if (fs::is_regular_file(json, ec)) return from_tokenizer_json(json.string());
  fail("no tokenizer in ", dir, " (expected tokenizer.model or tokenizer.json)");
}

std::unique_ptr<Tokenizer> Tokenizer::from_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return from_model_dir(path);
  if (fs::path(path).extension() == ".json") return from_tokenizer_json(path);
  return from_tiktoken_file(path);
}

std::unique_ptr<Tokenizer> Tokenizer::from_tiktoken_file(const std::string& path) {
  return from_tiktoken_text(read_tokenizer_file(path), path);
}

std::unique_ptr<Tokenizer> Tokenizer::from_tokenizer_json(const std::string& path) {
  return from_tokenizer_json_text(read_tokenizer_file(path), path);
}

void Tokenizer::finish_specials() {
  special_flag_.assign(static_cast<size_t>(vocab_.size()), 0);
  for (const SpecialToken& t : specials_.all())
    if (t.special && t.id >= 0 && t.id < vocab_.size()) special_flag_[t.id] = 1;
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < static_cast<int32_t>(special_flag_.size()) && special_flag_[id];
}

void Tokenizer::force_pcre2_pretokenizer() { pre_ = make_pcre2_pretokenizer(pre_->pattern()); }

std::string Tokenizer::describe() const {
  std::ostringstream s;
  s << (source_ == Source::TiktokenModel ? "tiktoken rank file" : "tokenizer.json BPE") << ": "
    << n_mergeable_ << " BPE tokens + " << specials_.size() << " special/added, vocab size " << vocab_size()
    << ", pre-tokenizer " << pre_->engine() << (bpe_.merges_mode() ? ", merge-list order" : ", rank order")
    << (meta_slicing_ ? ", Meta input slicing" : "");
  return s.str();
}

namespace {
struct Scratch {
  std::vector<uint32_t> ends;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}
}  // namespace

void Tokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out, std::vector<uint32_t>& ends) const {
  if (text.empty()) return;
  std::string prefixed;
  if (add_prefix_space_ && text[0] != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text);
    text = prefixed;
  }
  ends.clear();
  pre_->split(text, ends);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
  uint32_t prev = 0;
  for (uint32_t e : ends) {
    bpe_.encode_piece(p + prev, e - prev, out);
    prev = e;
  }
}

void Tokenizer::encode_segment(std::string_view text, bool allow_special, std::vector<int32_t>& out,
                               std::vector<uint32_t>& ends) const {
  if (!allow_special && !specials_.has_non_special()) {
    encode_plain(text, out, ends);
    return;
  }
  size_t pos = 0;
  while (auto m = specials_.find(text, pos, allow_special)) {
    encode_plain(text.substr(pos, m->begin - pos), out, ends);
    out.push_back(m->id);
    pos = m->end;
  }
  encode_plain(text.substr(pos), out, ends);
}

void Tokenizer::encode_into(std::string_view text, bool allow_special, std::vector<int32_t>& out) const {
  std::vector<uint32_t>& ends = scratch().ends;
  if (meta_slicing_) {
    for_each_meta_slice(text, [&](std::string_view s) { encode_segment(s, allow_special, out, ends); });
  } else {
    encode_segment(text, allow_special, out, ends);
  }
  if (ends.capacity() > (1u << 20)) std::vector<uint32_t>().swap(ends);  // do not pin huge buffers
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool allow_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  encode_into(text, allow_special, out);
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string_view>& texts,
                                                          bool allow_special, ThreadPool* pool) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  ThreadPool& tp = pool ? *pool : ThreadPool::global();
  tp.parallel_for(static_cast<int64_t>(texts.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = encode(texts[i], allow_special);
  });
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool allow_special,
                                                          ThreadPool* pool) const {
  std::vector<std::string_view> views(texts.begin(), texts.end());
  return encode_batch(views, allow_special, pool);
}

void Tokenizer::decode_append(int32_t id, std::string& out) const {
  if (!vocab_.has(id)) fail("token id ", id, " is not in the vocabulary (size ", vocab_size(), ")");
  out.append(vocab_.bytes(id));
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) decode_append(id, out);
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  std::string out;
  decode_append(id, out);
  return out;
}

}  // namespace herd
