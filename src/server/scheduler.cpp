#include "server/scheduler.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "core/huge_buffer.h"
#include "server/logprobs.h"
#include "server/stop_matcher.h"
#include "tokenizer/stream_decoder.h"

namespace herd::server {

using Clock = std::chrono::steady_clock;

struct Scheduler::Slot {
  std::shared_ptr<Sequence> seq;
  std::unique_ptr<KVCache> cache;
  std::vector<int32_t> tokens;  // prompt, then every sampled token that is to be fed
  int64_t fed = 0;              // tokens[0..fed) are in the cache
  int64_t generated = 0, reused = 0;
  Sampler sampler;
  StreamDecoder dec;
  StopMatcher stops;
  HugeVector<float> logits;  // rewritten and reread every token: on huge pages
  Clock::time_point last_token;
  bool finished = false;

  Slot(std::shared_ptr<Sequence> s, const Tokenizer& tok, int64_t vocab)
      : seq(std::move(s)), tokens(seq->prompt), sampler(seq->params.sampling), dec(tok), stops(seq->params.stop),
        logits(static_cast<size_t>(vocab)) {}
};

Scheduler::Scheduler(TextModel& model, const Tokenizer& tok, Metrics& metrics, SchedulerOptions opts)
    : model_(model), tok_(tok), metrics_(metrics), opts_(std::move(opts)), vocab_(model.config().vocab_size),
      pool_(opts_.prefix_cache) {
  opts_.parallel = std::max(1, opts_.parallel);
  opts_.prefill_slice = std::max<int64_t>(1, opts_.prefill_slice);
  opts_.prefill_budget = std::max(opts_.prefill_budget, opts_.prefill_slice);
  opts_.kv.max_slice = std::max(opts_.kv.max_slice, opts_.prefill_slice);
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() { stop(); }

bool Scheduler::submit(std::shared_ptr<Sequence> seq) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return false;
    // Requests beyond the free slots wait; the queue holds at most max_queue of them.
    const size_t busy = std::min(n_slots_.load(), static_cast<size_t>(opts_.parallel));
    const size_t free_slots = static_cast<size_t>(opts_.parallel) - busy;
    if (waiting_.size() >= free_slots + opts_.max_queue) return false;
    waiting_.push_back(std::move(seq));
    metrics_.queue_depth = static_cast<int64_t>(waiting_.size());
  }
  cv_.notify_all();
  return true;
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::admit(std::shared_ptr<Sequence> seq) {
  if (seq->cancelled()) {
    metrics_.count_cancelled();
    seq->fail("cancelled");
    return;
  }
  auto slot = std::make_unique<Slot>(std::move(seq), tok_, vocab_);
  auto hit = pool_.take(slot->tokens);
  if (hit.cache) {
    slot->cache = std::move(hit.cache);
    slot->fed = slot->reused = hit.reused;
    metrics_.add_prefix_reused(hit.reused);
  } else {
    slot->cache = model_.new_cache(opts_.kv);
  }
  slots_.push_back(std::move(slot));
}

void Scheduler::retire(Slot& s, bool keep_cache) {
  s.finished = true;
  if (keep_cache && s.cache && s.fed > 0) {
    s.tokens.resize(static_cast<size_t>(s.fed));
    pool_.put(std::move(s.tokens), std::move(s.cache));
  }
  s.cache.reset();
}

void Scheduler::sample(Slot& s) {
  const Clock::time_point now = Clock::now();
  const GenParams& p = s.seq->params;
  const bool want_lp = p.top_logprobs >= 0;
  // The sampler rewrites the logits (penalty, temperature); logprobs describe the model's own
  // distribution, so they are taken from a copy made before.
  if (want_lp) logits_copy_.assign(s.logits.begin(), s.logits.end());
  const int32_t id = s.sampler.sample(s.logits.data(), vocab_, s.tokens);
  s.generated += 1;
  metrics_.add_generated_tokens(1);
  if (s.generated == 1) metrics_.ttft.observe(std::chrono::duration<double>(now - s.seq->created).count());
  else metrics_.per_token.observe(std::chrono::duration<double>(now - s.last_token).count());
  s.last_token = now;

  auto finish = [&](const char* reason) {
    std::string tail = s.stops.push(s.dec.flush());
    tail += s.stops.flush();
    if (!tail.empty()) s.seq->append(tail, nullptr);
    metrics_.request_seconds.observe(std::chrono::duration<double>(now - s.seq->created).count());
    s.seq->finish(reason, s.generated, s.reused);
    retire(s, true);
  };

  if (std::find(opts_.stop_ids.begin(), opts_.stop_ids.end(), id) != opts_.stop_ids.end()) {
    finish("stop");
    return;
  }
  std::string piece;
  if (tok_.has_token(id)) piece = s.dec.push(id);  // ids past the tokenizer's vocabulary have no text
  const std::string out = s.stops.push(piece);
  TokenLogprob lp;
  if (want_lp) lp = token_logprobs(logits_copy_.data(), vocab_, id, p.top_logprobs);
  s.seq->append(out, want_lp ? &lp : nullptr);
  s.tokens.push_back(id);
  if (s.stops.stopped()) {
    s.seq->finish("stop", s.generated, s.reused);
    metrics_.request_seconds.observe(std::chrono::duration<double>(now - s.seq->created).count());
    retire(s, true);
    return;
  }
  if (s.generated >= p.max_tokens || static_cast<int64_t>(s.tokens.size()) >= opts_.ctx) finish("length");
}

bool Scheduler::step() {
  // Drop sequences whose clients went away; their caches are freed, not kept.
  for (auto& s : slots_)
    if (!s->finished && s->seq->cancelled()) {
      metrics_.count_cancelled();
      s->seq->fail("cancelled");
      retire(*s, false);
    }

  std::vector<TextModel::BatchItem> items;
  std::vector<Slot*> in_batch;
  int64_t budget = opts_.prefill_budget, n_tokens = 0;
  // Decoding sequences first (one token each), then prompt slices within the budget.
  for (int pass = 0; pass < 2; ++pass)
    for (auto& sp : slots_) {
      Slot& s = *sp;
      const int64_t pending = static_cast<int64_t>(s.tokens.size()) - s.fed;
      const bool decoding = s.generated > 0;
      if (s.finished || pending <= 0 || decoding != (pass == 0)) continue;
      int64_t n = pending;
      if (!decoding) {
        n = std::min({n, opts_.prefill_slice, budget});
        if (n <= 0) continue;
        budget -= n;
      }
      TextModel::BatchItem it;
      it.ids = s.tokens.data() + s.fed;
      it.n = n;
      it.cache = s.cache.get();
      it.logits = s.logits.data();
      items.push_back(it);
      in_batch.push_back(&s);
      n_tokens += n;
    }
  if (items.empty()) return false;

  ForwardTrace trace;
  try {
    model_.forward_batch(items, &trace);
  } catch (const std::exception& e) {
    for (Slot* s : in_batch) {
      s->seq->fail(e.what());
      retire(*s, false);
    }
    return true;
  }
  metrics_.count_forward(n_tokens, static_cast<int64_t>(items.size()));
  for (const auto& [layer, choice] : trace.router) metrics_.add_routing(layer, choice.experts);
  // Gauges before sampling: a client that sees a token must also see its sequence and KV counted.
  update_gauges();

  for (size_t i = 0; i < in_batch.size(); ++i) {
    Slot& s = *in_batch[i];
    s.fed += items[i].n;
    if (s.fed == static_cast<int64_t>(s.tokens.size())) sample(s);
  }
  return true;
}

void Scheduler::update_gauges() {
  int64_t ram = 0, disk = 0;
  for (const auto& s : slots_)
    if (s->cache) {
      auto u = s->cache->memory_use();
      ram += u.ram_bytes;
      disk += u.disk_bytes;
    }
  auto pu = pool_.memory_use();
  metrics_.kv_bytes_active = ram;
  metrics_.kv_bytes_cached = pu.ram_bytes;
  metrics_.kv_disk_bytes = disk + pu.disk_bytes;
  metrics_.cached_prefixes = static_cast<int64_t>(pool_.size());
  metrics_.active_sequences = static_cast<int64_t>(
      std::count_if(slots_.begin(), slots_.end(), [](const auto& s) { return !s->finished; }));
}

void Scheduler::run() {
  while (true) {
    std::vector<std::shared_ptr<Sequence>> joining;
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (n_slots_ == 0) cv_.wait(lk, [&] { return stopping_ || !waiting_.empty(); });
      if (stopping_) break;
      while (!waiting_.empty() && slots_.size() + joining.size() < static_cast<size_t>(opts_.parallel)) {
        joining.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
      metrics_.queue_depth = static_cast<int64_t>(waiting_.size());
    }
    for (auto& seq : joining) admit(std::move(seq));
    step();
    slots_.erase(std::remove_if(slots_.begin(), slots_.end(), [](const auto& s) { return s->finished; }),
                 slots_.end());
    n_slots_ = slots_.size();
    update_gauges();
  }
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& s : slots_) s->seq->fail("server shutting down");
  for (auto& q : waiting_) q->fail("server shutting down");
  slots_.clear();
  waiting_.clear();
}

}  // namespace herd::server
