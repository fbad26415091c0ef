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
  void step(TrainModel& model, double lr, const AdamWOptions& o);
  std::vector<float> m, v;
  int64_t t = 0;
};

// Global L2 norm of the gradient (double accumulation); non-finite if any entry is.
double grad_norm(const std::vector<float>& g);
// Scales g by max_norm / norm when norm > max_norm (max_norm <= 0: no clipping). Returns the factor.
double clip_grad(std::vector<float>& g, double norm, double max_norm);

// lr at step s (0-based): linear warmup over `warmup` steps to peak, then cosine decay to
// peak * min_ratio at step `total`.
double lr_at(int64_t s, int64_t total, int64_t warmup, double peak, double min_ratio);

}  // namespace herd::train
