#pragma once
// AdamW with decoupled weight decay (skipped for parameters marked decay = false), global-norm
// gradient clipping, and a linear-warmup + cosine learning-rate schedule.
#include <cstdint>
#include <vector>

#include "train/model.h"

namespace herd::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
};

class AdamW {
 public:
  explicit AdamW(size_t n) : m(n, 0.0f), v(n, 0.0f) {}
  // One update of all parameters with learning rate lr; t counts updates (1-based after the call).
  // grad_scale multiplies every gradient entry as it is read (global-norm clipping without a
  // separate pass over the gradient; the gradient buffer itself is left unscaled).
  void step(TrainModel& model, double lr, const AdamWOptions& o, float grad_scale = 1.0f);
  std::vector<float> m, v;
  int64_t t = 0;
};

// Global L2 norm of the gradient (double accumulation); non-finite if any entry is.
double grad_norm(const std::vector<float>& g);
// Scales g by max_norm / norm when norm > max_norm (max_norm <= 0: no clipping). Returns the factor.
double clip_grad(std::vector<float>& g, double norm, double max_norm);
// The factor clip_grad would apply (1 when no clipping is needed), for AdamW::step's grad_scale.
float clip_factor(double norm, double max_norm);

// lr at step s (0-based): linear warmup over `warmup` steps to peak, then cosine decay to
// peak * min_ratio at step `total`.
double lr_at(int64_t s, int64_t total, int64_t warmup, double peak, double min_ratio);

}  // namespace herd::train
