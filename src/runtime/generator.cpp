#include "runtime/generator.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "core/error.h"

namespace herd {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Generator::Generator(TextModel& model, KVCache& cache, const GenerateOptions& opts)
    : model_(model), cache_(cache), opts_(opts), sampler_(opts.sampling), logits_(model.config().vocab_size) {
  if (opts_.prefill_slice < 1) fail("prefill slice must be >= 1");
}

bool Generator::is_stop(int32_t id) const {
  return std::find(opts_.stop_ids.begin(), opts_.stop_ids.end(), id) != opts_.stop_ids.end();
}

void Generator::feed(const std::vector<int32_t>& ids) {
  if (ids.empty()) return;
  const int64_t max_pos = model_.config().max_position;
  if (max_pos > 0 && cache_.n_positions() + static_cast<int64_t>(ids.size()) > max_pos)
    fail("prompt of ", ids.size(), " tokens at position ", cache_.n_positions(), " does not fit the context of ",
         max_pos, " tokens");
  double t0 = now_seconds();
  for (size_t i = 0; i < ids.size(); i += static_cast<size_t>(opts_.prefill_slice)) {
    size_t n = std::min(ids.size() - i, static_cast<size_t>(opts_.prefill_slice));
    model_.forward(ids.data() + i, static_cast<int64_t>(n), cache_, logits_.data(), false);
  }
  stats_.prefill_seconds += now_seconds() - t0;
  stats_.prompt_tokens += static_cast<int64_t>(ids.size());
  history_.insert(history_.end(), ids.begin(), ids.end());
  have_logits_ = true;
}

int32_t Generator::step() {
  if (!have_logits_) fail("generator: step() before any input was fed");
  double t0 = now_seconds();
  int32_t id = sampler_.sample(logits_.data(), static_cast<int64_t>(logits_.size()), history_);
  history_.push_back(id);
  ++stats_.new_tokens;
  const int64_t max_pos = model_.config().max_position;
  if (max_pos > 0 && cache_.n_positions() + 1 > max_pos) {
    have_logits_ = false;  // context full: the token is emitted but cannot be fed
  } else {
    model_.forward(&id, 1, cache_, logits_.data(), false);
  }
  stats_.decode_seconds += now_seconds() - t0;
  return id;
}

void Generator::restore(std::vector<int32_t> history, const Sampler& sampler, std::vector<float> next_logits) {
  if (!next_logits.empty() && next_logits.size() != logits_.size())
    fail("session: saved logits have ", next_logits.size(), " entries, the model's vocabulary has ", logits_.size());
  history_ = std::move(history);
  sampler_ = sampler;
  have_logits_ = !next_logits.empty();
  if (have_logits_) logits_.assign(next_logits.begin(), next_logits.end());
}

void Generator::rewind(size_t n) {
  if (n < history_.size()) history_.resize(n);
  have_logits_ = false;
}

namespace {
int64_t add_saturated(int64_t a, int64_t b) {  // both >= 0
  return b > INT64_MAX - a ? INT64_MAX : a + b;
}
}  // namespace

void Generator::reserve(int64_t more) {
  int64_t n = add_saturated(cache_.n_positions(), std::max<int64_t>(more, 0));
  const int64_t max_pos = model_.config().max_position;
  if (max_pos > 0) n = std::min(n, max_pos);
  cache_.reserve(n);
}

std::vector<int32_t> Generator::generate(const std::vector<int32_t>& prompt, const std::function<bool(int32_t)>& on_token) {
  reserve(add_saturated(static_cast<int64_t>(prompt.size()), std::max<int64_t>(opts_.max_new_tokens, 0)));
  feed(prompt);
  return generate_more(opts_.max_new_tokens, on_token);
}

std::vector<int32_t> Generator::generate_more(int64_t max_new_tokens, const std::function<bool(int32_t)>& on_token) {
  std::vector<int32_t> out;
  reserve(max_new_tokens);
  stats_.stopped_by_eos = false;
  while (static_cast<int64_t>(out.size()) < max_new_tokens && have_logits_) {
    int32_t id = step();
    out.push_back(id);
    bool go_on = on_token ? on_token(id) : true;
    if (is_stop(id)) {
      stats_.stopped_by_eos = true;
      break;
    }
    if (!go_on) break;
  }
  return out;
}

}  // namespace herd
