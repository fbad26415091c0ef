#include "server/metrics.h"

#include <cstdio>

namespace herd::server {
namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, double v) {
  out += name;
  out += ' ';
  out += num(v);
  out += '\n';
}

// A metric with no labels: its HELP and TYPE lines and its one sample.
void single(std::string& out, const char* name, const char* type, const char* help, double v) {
  header(out, name, type, help);
  sample(out, name, v);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  std::lock_guard<std::mutex> lk(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i] += 1;
  sum_ += v;
  n_ += 1;
}

uint64_t Histogram::count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return n_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  std::lock_guard<std::mutex> lk(mu_);
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  cum += counts_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
  out += name + "_sum " + num(sum_) + "\n";
  out += name + "_count " + std::to_string(n_) + "\n";
}

Metrics::Metrics(int n_layers, int n_experts, std::vector<bool> moe_layers)
    : n_layers_(n_layers), n_experts_(n_experts), moe_(std::move(moe_layers)),
      routing_(static_cast<size_t>(n_layers), std::vector<uint64_t>(static_cast<size_t>(n_experts), 0)) {}

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lk(mu_);
  requests_[{endpoint, status}] += 1;
}

void Metrics::count_forward(int64_t tokens, int64_t sequences) {
  forward_calls_ += 1;
  forward_tokens_ += tokens;
  batch_size.observe(static_cast<double>(sequences));
}

void Metrics::add_routing(int layer, const std::vector<int32_t>& experts) {
  if (layer < 0 || layer >= n_layers_) return;
  std::lock_guard<std::mutex> lk(mu_);
  auto& row = routing_[static_cast<size_t>(layer)];
  for (int32_t e : experts)
    if (e >= 0 && e < n_experts_) row[static_cast<size_t>(e)] += 1;
}

std::vector<std::vector<uint64_t>> Metrics::routing() const {
  std::lock_guard<std::mutex> lk(mu_);
  return routing_;
}

std::string Metrics::render() const {
  std::string out;
  header(out, "herd_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [key, n] : requests_)
      out += "herd_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
             std::to_string(n) + "\n";
  }
  single(out, "herd_prompt_tokens_total", "counter", "Prompt tokens of accepted requests.", static_cast<double>(prompt_tokens_.load()));
  single(out, "herd_generated_tokens_total", "counter", "Tokens sampled for completions.", static_cast<double>(generated_tokens_.load()));
  single(out, "herd_prefix_reused_tokens_total", "counter", "Prompt tokens taken from a cached prefix instead of computed.", static_cast<double>(prefix_reused_.load()));
  single(out, "herd_cancelled_total", "counter", "Sequences cancelled because their client went away.", static_cast<double>(cancelled_.load()));
  single(out, "herd_rejected_total", "counter", "Requests answered 429 because the queue was full.", static_cast<double>(rejected_.load()));
  single(out, "herd_forward_calls_total", "counter", "Batched forward passes run.", static_cast<double>(forward_calls_.load()));
  single(out, "herd_forward_tokens_total", "counter", "Tokens processed by forward passes (prefill and decode).", static_cast<double>(forward_tokens_.load()));

  header(out, "herd_time_to_first_token_seconds", "histogram", "From request arrival to its first sampled token.");
  ttft.render("herd_time_to_first_token_seconds", out);
  header(out, "herd_time_per_output_token_seconds", "histogram", "Time between consecutive sampled tokens of a sequence.");
  per_token.render("herd_time_per_output_token_seconds", out);
  header(out, "herd_request_duration_seconds", "histogram", "From request arrival to its last token.");
  request_seconds.render("herd_request_duration_seconds", out);
  header(out, "herd_batch_sequences", "histogram", "Sequences per batched forward pass.");
  batch_size.render("herd_batch_sequences", out);

  single(out, "herd_queue_depth", "gauge", "Requests waiting for a free sequence slot.", static_cast<double>(queue_depth.load()));
  single(out, "herd_active_sequences", "gauge", "Sequences being prefilled or decoded.", static_cast<double>(active_sequences.load()));
  header(out, "herd_kv_bytes", "gauge", "KV cache bytes in RAM: state=active (running sequences) or cached (kept prefixes).");
  out += "herd_kv_bytes{state=\"active\"} " + std::to_string(kv_bytes_active.load()) + "\n";
  out += "herd_kv_bytes{state=\"cached\"} " + std::to_string(kv_bytes_cached.load()) + "\n";
  single(out, "herd_kv_disk_bytes", "gauge", "KV cache bytes spilled to disk.", static_cast<double>(kv_disk_bytes.load()));
  single(out, "herd_cached_prefixes", "gauge", "Finished sequences kept for prefix reuse.", static_cast<double>(cached_prefixes.load()));

  header(out, "herd_expert_routed_tokens_total", "counter", "Tokens routed to each expert of each MoE layer.");
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (int l = 0; l < n_layers_; ++l) {
      if (l < static_cast<int>(moe_.size()) && !moe_[static_cast<size_t>(l)]) continue;
      for (int e = 0; e < n_experts_; ++e)
        out += "herd_expert_routed_tokens_total{layer=\"" + std::to_string(l) + "\",expert=\"" + std::to_string(e) +
               "\"} " + std::to_string(routing_[static_cast<size_t>(l)][static_cast<size_t>(e)]) + "\n";
    }
  }
  return out;
}

}  // namespace herd::server
