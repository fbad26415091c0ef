#include <algorithm>
#include <numeric>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/blocks.h"
#include "model/moe_prefill.h"
#include "model/row_parallel.h"

namespace herd {

void swiglu(const FfnWeights& f, const float* x, int64_t T, float* y, Scratch& s) {
  const int64_t F = f.gate.rows;
  s.gate.resize(T * F);
  s.up.resize(T * F);
  s.act.resize(T * F);
  matmul_multi(x, T, {{&f.gate, s.gate.data()}, {&f.up, s.up.data()}});
  for_rows(T, [&](int64_t a, int64_t b) {
    silu_mul(s.gate.data() + a * F, s.up.data() + a * F, s.act.data() + a * F, (b - a) * F);
  });
  matmul(s.act.data(), T, f.down, y);
}

namespace {

// Top-k experts of one token by raw router logit (ties: lower index first), gated by sigmoid.
void route_token(const float* logits, int E, int k, int32_t* choice, float* score) {
  std::vector<int32_t> idx(E);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  for (int j = 0; j < k; ++j) {
    choice[j] = idx[j];
    score[j] = sigmoid(logits[idx[j]]);
  }
}

}  // namespace

void ffn_block(const ModelConfig& c, const LayerWeights& w, int layer, float* h, int64_t T, Scratch& s,
               RouterChoice* router_out) {
  const int64_t D = c.hidden_size;
  s.norm.resize(T * D);
  s.ffn_out.resize(T * D);
  for_rows(T, [&](int64_t a, int64_t b) {
    rms_norm(h + a * D, w.ffn_norm.data(), s.norm.data() + a * D, b - a, D, static_cast<float>(c.rms_norm_eps));
  });

  // Shared expert (MoE) or dense FFN, on the unscaled normalized input.
  swiglu(w.shared, s.norm.data(), T, s.ffn_out.data(), s);

  if (w.moe) {
    const int E = c.n_experts, k = c.top_k;
    s.router.resize(T * E);
    matmul(s.norm.data(), T, w.router, s.router.data());
    s.choice.resize(T * k);
    s.choice_score.resize(T * k);
    for (int64_t t = 0; t < T; ++t)
      route_token(s.router.data() + t * E, E, k, s.choice.data() + t * k, s.choice_score.data() + t * k);
    if (router_out) {
      router_out->experts = s.choice;
      router_out->scores = s.choice_score;
    }
    if (T >= 4 && k <= 64) {  // prefill: whole experts spread over the threads
      moe_experts_prefill(c, w, s.norm.data(), T, s.choice.data(), s.choice_score.data(), s.ffn_out.data(), h);
      return;
    }
    // Group tokens by expert: one matmul per active expert over its gathered rows. The gate
    // scales the expert's INPUT (Llama 4), not its output.
    std::vector<std::vector<int64_t>> slots(E);
    for (int64_t j = 0; j < T * k; ++j) slots[s.choice[j]].push_back(j);
    for (int e = 0; e < E; ++e) {
      const auto& sl = slots[e];
      if (sl.empty()) continue;
      const int64_t n = static_cast<int64_t>(sl.size());
      s.expert_in.resize(n * D);
      s.expert_out.resize(n * D);
      for (int64_t r = 0; r < n; ++r) {
        const int64_t t = sl[r] / k;
        const float g = s.choice_score[sl[r]];
        const float* src = s.norm.data() + t * D;
        float* dst = s.expert_in.data() + r * D;
        for (int64_t i = 0; i < D; ++i) dst[i] = src[i] * g;
      }
      swiglu(w.experts[e], s.expert_in.data(), n, s.expert_out.data(), s);
      for (int64_t r = 0; r < n; ++r) {
        const int64_t t = sl[r] / k;
        const float* src = s.expert_out.data() + r * D;
        float* dst = s.ffn_out.data() + t * D;
        for (int64_t i = 0; i < D; ++i) dst[i] += src[i];
      }
    }
  }
  for_rows(T, [&](int64_t a, int64_t b) {
    for (int64_t i = a * D; i < b * D; ++i) h[i] += s.ffn_out[i];
  });
}

}  // namespace herd
