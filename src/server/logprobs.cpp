#include "server/logprobs.h"

#include <algorithm>
#include <cmath>

namespace herd::server {

TokenLogprob token_logprobs(const float* logits, int64_t vocab, int32_t chosen, int top) {
  float mx = logits[0];
  for (int64_t i = 1; i < vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  const double log_z = static_cast<double>(mx) + std::log(sum);
  TokenLogprob out;
  out.id = chosen;
  out.logprob = static_cast<float>(logits[chosen] - log_z);
  if (top <= 0) return out;
  // Keep the `top` largest in a small sorted list (ties: lower id first).
  std::vector<std::pair<float, int32_t>> best;
  best.reserve(static_cast<size_t>(top) + 1);
  for (int64_t i = 0; i < vocab; ++i) {
    const float v = logits[i];
    if (static_cast<int>(best.size()) == top && v <= best.back().first) continue;
    auto pos = std::upper_bound(best.begin(), best.end(), v,
                                [](float x, const std::pair<float, int32_t>& e) { return x > e.first; });
    best.insert(pos, {v, static_cast<int32_t>(i)});
    if (static_cast<int>(best.size()) > top) best.pop_back();
  }
  for (const auto& [v, id] : best) out.top.emplace_back(id, static_cast<float>(v - log_z));
  return out;
}

}  // namespace herd::server
