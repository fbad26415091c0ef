#include "train/routing.h"

#include <cmath>
#include <sstream>

namespace herd::train {

std::string RoutingOptions::describe() const {
  std::ostringstream s;
  bool any = false;
  auto sep = [&] { s << (any ? " + " : ""); any = true; };
  if (aux_alpha > 0) { sep(); s << "aux " << aux_alpha << (aux_global ? " (global batch)" : " (micro-batch)"); }
  if (z_coef > 0) { sep(); s << "z-loss " << z_coef; }
  if (seq_alpha > 0) { sep(); s << "seq-aux " << seq_alpha; }
  if (bias_gamma > 0) { sep(); s << "loss-free bias " << bias_gamma; }
  if (!any) s << "none";
  return s.str();
}

LoadStats load_stats(const std::vector<int64_t>& counts) {
  LoadStats r;
  const size_t N = counts.size();
  double total = 0;
  for (auto c : counts) total += static_cast<double>(c);
  r.frac.assign(N, 0.0);
  if (N == 0 || total <= 0) return r;
  double mx = 0, sq = 0, h = 0;
  for (size_t i = 0; i < N; ++i) {
    const double f = counts[i] / total;
    r.frac[i] = f;
    mx = std::max(mx, f);
    sq += f * f;
    if (f > 0) h -= f * std::log(f);
    if (counts[i] == 0) ++r.dead;
  }
  r.max_vio = N * mx - 1.0;
  r.cv = std::sqrt(std::max(0.0, N * sq - 1.0));
  r.entropy = N > 1 ? h / std::log(static_cast<double>(N)) : 1.0;
  r.effective = std::exp(h);
  return r;
}

void update_expert_bias(std::vector<float>& bias, const std::vector<int64_t>& counts, double gamma) {
  const size_t N = counts.size();
  if (N == 0 || gamma == 0) return;
  double mean = 0;
  for (auto c : counts) mean += static_cast<double>(c);
  mean /= static_cast<double>(N);
  std::vector<double> delta(N);
  double dm = 0;
  for (size_t i = 0; i < N; ++i) {
    const double d = mean - static_cast<double>(counts[i]);
    delta[i] = gamma * (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0);
    dm += delta[i];
  }
  dm /= static_cast<double>(N);
  for (size_t i = 0; i < N; ++i) bias[i] += static_cast<float>(delta[i] - dm);
}

}  // namespace herd::train
