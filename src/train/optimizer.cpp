#include "train/optimizer.h"

#include <cmath>

#include "kernels/cpu_features.h"
#include "train/simd.h"

namespace herd::train {

void AdamW::step(TrainModel& model, double lr, const AdamWOptions& o, float grad_scale) {
  ++t;
  const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(t));
  const float b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
  const float step = static_cast<float>(lr / bc1), rbc2 = static_cast<float>(1.0 / bc2), eps = static_cast<float>(o.eps);
  std::vector<float>& w = model.data();
  const std::vector<float>& g = model.grad();
  for (const Param& p : model.params()) {
    const float decay = p.decay ? static_cast<float>(1.0 - lr * o.weight_decay) : 1.0f;
    if (use_avx512()) {
      avx512::adamw(w.data() + p.offset, m.data() + p.offset, v.data() + p.offset, g.data() + p.offset,
                    static_cast<int64_t>(p.numel), b1, b2, step, rbc2, eps, decay, grad_scale);
      continue;
    }
    for (size_t i = p.offset; i < p.offset + p.numel; ++i) {
      const float gi = g[i] * grad_scale;
      m[i] = b1 * m[i] + (1.0f - b1) * gi;
      v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
      w[i] = w[i] * decay - step * m[i] / (std::sqrt(v[i] * rbc2) + eps);
    }
  }
}

double grad_norm(const std::vector<float>& g) {
  if (use_avx512()) return std::sqrt(avx512::sumsq(g.data(), static_cast<int64_t>(g.size())));
  double s = 0;
  for (float x : g) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

float clip_factor(double norm, double max_norm) {
  if (max_norm <= 0 || !(norm > max_norm)) return 1.0f;
  return static_cast<float>(max_norm / norm);
}

double clip_grad(std::vector<float>& g, double norm, double max_norm) {
  if (max_norm <= 0 || !(norm > max_norm)) return 1.0;
  const float f = static_cast<float>(max_norm / norm);
  if (use_avx512()) {
    avx512::scale(g.data(), static_cast<int64_t>(g.size()), f);
    return f;
  }
  for (float& x : g) x *= f;
  return f;
}

double lr_at(int64_t s, int64_t total, int64_t warmup, double peak, double min_ratio) {
  if (warmup > 0 && s < warmup) return peak * static_cast<double>(s + 1) / static_cast<double>(warmup);
  if (total <= warmup) return peak;
  const double p = std::min(1.0, static_cast<double>(s - warmup) / static_cast<double>(total - warmup));
  return peak * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + std::cos(M_PI * p)));
}

}  // namespace herd::train
