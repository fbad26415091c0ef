#include "server/sequence.h"

namespace herd::server {

bool Sequence::take(SequenceUpdate& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  if (!cv_.wait_for(lk, timeout, [&] { return news_; })) return false;
  out = std::move(pending_);
  pending_ = SequenceUpdate{};
  pending_.started = out.started;
  pending_.prompt_tokens = out.prompt_tokens;
  news_ = false;
  return true;
}

void Sequence::append(const std::string& text, const TokenLogprob* lp) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    pending_.text += text;
    if (lp) pending_.tokens.push_back(*lp);
    pending_.started = true;
    pending_.prompt_tokens = static_cast<int64_t>(prompt.size());
    news_ = true;
  }
  cv_.notify_all();
}

void Sequence::finish(const std::string& reason, int64_t completion_tokens, int64_t cached_tokens) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    pending_.done = true;
    pending_.finish_reason = reason;
    pending_.prompt_tokens = static_cast<int64_t>(prompt.size());
    pending_.completion_tokens = completion_tokens;
    pending_.cached_tokens = cached_tokens;
    news_ = true;
  }
  cv_.notify_all();
}

void Sequence::fail(const std::string& error) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    pending_.done = true;
    pending_.error = error.empty() ? "generation failed" : error;
    news_ = true;
  }
  cv_.notify_all();
}

}  // namespace herd::server
