#pragma once
// Server counters, gauges and histograms, rendered in the Prometheus text exposition format.
// Thread-safe: HTTP handlers and the scheduler thread update it concurrently.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace herd::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Appends the _bucket/_sum/_count lines for metric `name`.
  void render(const std::string& name, std::string& out) const;
  uint64_t count() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last one is +Inf
  double sum_ = 0;
  uint64_t n_ = 0;
};

class Metrics {
 public:
  Metrics(int n_layers, int n_experts, std::vector<bool> moe_layers);

  void count_request(const std::string& endpoint, int status);
  void add_prompt_tokens(int64_t n) { prompt_tokens_ += n; }
  void add_generated_tokens(int64_t n) { generated_tokens_ += n; }
  void add_prefix_reused(int64_t n) { prefix_reused_ += n; }
  void count_cancelled() { cancelled_ += 1; }
  void count_rejected() { rejected_ += 1; }
  void count_forward(int64_t tokens, int64_t sequences);

  Histogram ttft{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  Histogram per_token{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
  Histogram request_seconds{{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}};
  Histogram batch_size{{1, 2, 3, 4, 6, 8, 12, 16, 32, 64}};

  // Gauges, set by the scheduler.
  std::atomic<int64_t> queue_depth{0}, active_sequences{0}, kv_bytes_active{0}, kv_bytes_cached{0},
      kv_disk_bytes{0}, cached_prefixes{0};

  // Expert routing: tokens routed to each expert of each MoE layer.
  void add_routing(int layer, const std::vector<int32_t>& experts);
  std::vector<std::vector<uint64_t>> routing() const;

  int64_t generated_tokens() const { return generated_tokens_.load(); }
  int64_t cancelled() const { return cancelled_.load(); }

  std::string render() const;

 private:
  int n_layers_, n_experts_;
  std::vector<bool> moe_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::vector<std::vector<uint64_t>> routing_;
  std::atomic<int64_t> prompt_tokens_{0}, generated_tokens_{0}, prefix_reused_{0}, cancelled_{0}, rejected_{0},
      forward_calls_{0}, forward_tokens_{0};
};

}  // namespace herd::server
