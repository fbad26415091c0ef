#pragma once
// Routing-balance options and per-layer routing state/telemetry for training. N is the number of
// routed experts; the shared expert is never counted. Formulas (docs/training.md):
//  Switch/GShard LBL   L = a N sum_i f_i P_i,  f_i = c_i/(kT) (micro-batch or global batch),
//                      P_i = mean_t s'_ti with s'_ti = sig(z_ti)/sum_j sig(z_tj)
//  ST-MoE z-loss       L = c/T sum_t LSE(z_t)^2
//  DeepSeek-V3 seq LBL L = mean_seq a sum_i f_i P_i, f_i = N c_i/(kT) within one sequence
//  loss-free bias      select top-k by sig(z)+b, gate by sig(z); after each optimizer step
//                      b += g sign(mean(c) - c), then b -= mean(b)   (c over the whole step)
#include <cstdint>
#include <string>
#include <vector>

namespace herd::train {

struct RoutingOptions {
  double aux_alpha = 0.0;    // Switch/GShard load-balance loss coefficient (0: off)
  bool aux_global = false;   // f from the optimizer step's counts so far (all micro-batches)
  double z_coef = 0.0;       // router z-loss coefficient
  double seq_alpha = 0.0;    // sequence-wise balance loss coefficient
  double bias_gamma = 0.0;   // loss-free bias update rate (0: off; selection then uses raw logits)
  std::string describe() const;
};

// Per-micro-batch values of the balancing losses.
struct RouterLossValues {
  double aux = 0, z = 0, seq = 0;
  double lse2 = 0;          // mean LSE(z)^2 (the z-loss value before its coefficient)
  double confidence = 0;    // mean sigmoid score of the chosen experts
};

struct RouterLayerState {
  std::vector<float> bias;            // loss-free selection bias (sigmoid scale)
  std::vector<int64_t> step_counts;   // assignments per expert since begin_step()
  RouterLossValues last;              // last micro-batch
  RouterLossValues step_sum;          // summed over the step's micro-batches
  int micro = 0;
};

// Telemetry of one count vector (assignments per expert).
struct LoadStats {
  double max_vio = 0, cv = 0, entropy = 0, effective = 0;
  int dead = 0;
  std::vector<double> frac;
};
LoadStats load_stats(const std::vector<int64_t>& counts);

// b += gamma * sign(mean(c) - c), then mean-centred.
void update_expert_bias(std::vector<float>& bias, const std::vector<int64_t>& counts, double gamma);

}  // namespace herd::train
