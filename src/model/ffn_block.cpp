#include <algorithm>
#include <numeric>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/blocks.h"
#include "model/decode_steps.h"
#include "model/moe_prefill.h"
#include "model/row_parallel.h"

namespace herd {

using decode_steps::Step;

void swiglu(const FfnWeights& f, const float* x, int64_t T, float* y, Scratch& s) {
  const int64_t F = f.gate.rows;
  s.gate.resize(T * F);
  s.up.resize(T * F);
  s.act.resize(T * F);
  matmul_multi(x, T, {{&f.gate, s.gate.data()}, {&f.up, s.up.data()}});
  decode_steps::mark(Step::GateUp);
  for_rows(T, [&](int64_t a, int64_t b) {
    silu_mul(s.gate.data() + a * F, s.up.data() + a * F, s.act.data() + a * F, (b - a) * F);
  });
  decode_steps::mark(Step::Silu);
  matmul(s.act.data(), T, f.down, y);
  decode_steps::mark(Step::Down);
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

// T < 4 tokens (decode): the shared expert and each chosen expert (its tokens gathered, inputs
// scaled by the gate) as two batched products, every gate/up in one pool dispatch and every down
// in another, instead of two dispatches per expert. ffn_out = the shared expert's output, then
// each expert's rows added in ascending expert order (the values of one swiglu call per expert).
void moe_small_batch(const ModelConfig& c, const LayerWeights& w, int64_t T, Scratch& s) {
  const int64_t D = c.hidden_size, Fs = w.shared.gate.rows, Fe = w.experts.front().gate.rows;
  const int k = c.top_k;
  const int64_t R = T * k;  // routed rows
  // Slots (token-choice indices) in ascending expert order, then slot order.
  std::vector<int64_t> slots(R);
  std::iota(slots.begin(), slots.end(), 0);
  std::stable_sort(slots.begin(), slots.end(), [&](int64_t a, int64_t b) { return s.choice[a] < s.choice[b]; });
  s.expert_in.resize(R * D);
  s.expert_out.resize(R * D);
  s.gate.resize(T * Fs + R * Fe);
  s.up.resize(s.gate.size());
  s.act.resize(s.gate.size());
  for (int64_t r = 0; r < R; ++r) {
    const int64_t t = slots[r] / k;
    const float g = s.choice_score[slots[r]];
    const float* src = s.norm.data() + t * D;
    float* dst = s.expert_in.data() + r * D;
    for (int64_t i = 0; i < D; ++i) dst[i] = src[i] * g;
  }
  // One task pair per expert run (rows r0..r1 of the same expert).
  std::vector<MatmulTask> gu{{s.norm.data(), T, &w.shared.gate, s.gate.data()}, {s.norm.data(), T, &w.shared.up, s.up.data()}};
  std::vector<MatmulTask> down{{s.act.data(), T, &w.shared.down, s.ffn_out.data()}};
  for (int64_t r0 = 0, r1; r0 < R; r0 = r1) {
    const int e = s.choice[slots[r0]];
    for (r1 = r0 + 1; r1 < R && s.choice[slots[r1]] == e; ++r1) {
    }
    const FfnWeights& f = w.experts[e];
    const int64_t o = T * Fs + r0 * Fe;
    gu.push_back({s.expert_in.data() + r0 * D, r1 - r0, &f.gate, s.gate.data() + o});
    gu.push_back({s.expert_in.data() + r0 * D, r1 - r0, &f.up, s.up.data() + o});
    down.push_back({s.act.data() + o, r1 - r0, &f.down, s.expert_out.data() + r0 * D});
  }
  decode_steps::mark(Step::Gather);
  matmul_batch(gu.data(), static_cast<int>(gu.size()));
  decode_steps::mark(Step::GateUp);
  // SiLU per product, as separate swiglu calls would do it.
  silu_mul(s.gate.data(), s.up.data(), s.act.data(), T * Fs);
  for (size_t i = 1; i < down.size(); ++i) {
    const int64_t o = down[i].x - s.act.data();
    silu_mul(s.gate.data() + o, s.up.data() + o, s.act.data() + o, down[i].T * Fe);
  }
  decode_steps::mark(Step::Silu);
  matmul_batch(down.data(), static_cast<int>(down.size()));
  decode_steps::mark(Step::Down);
  for (int64_t r = 0; r < R; ++r) {
    const int64_t t = slots[r] / k;
    const float* src = s.expert_out.data() + r * D;
    float* dst = s.ffn_out.data() + t * D;
    for (int64_t i = 0; i < D; ++i) dst[i] += src[i];
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
  decode_steps::mark(Step::FfnNorm);
  if (!w.moe) {  // dense FFN
    swiglu(w.shared, s.norm.data(), T, s.ffn_out.data(), s);
  } else {
    const int E = c.n_experts, k = c.top_k;
    s.router.resize(T * E);
    matmul(s.norm.data(), T, w.router, s.router.data());
    decode_steps::mark(Step::Router);
    s.choice.resize(T * k);
    s.choice_score.resize(T * k);
    for (int64_t t = 0; t < T; ++t)
      route_token(s.router.data() + t * E, E, k, s.choice.data() + t * k, s.choice_score.data() + t * k);
    decode_steps::mark(Step::Route);
    if (router_out) {
      router_out->experts = s.choice;
      router_out->scores = s.choice_score;
    }
    if (T >= 4 && k <= 64) {  // prefill: the shared expert, then whole experts spread over the threads
      swiglu(w.shared, s.norm.data(), T, s.ffn_out.data(), s);
      moe_experts_prefill(c, w, s.norm.data(), T, s.choice.data(), s.choice_score.data(), s.ffn_out.data(), h);
      return;
    }
    moe_small_batch(c, w, T, s);
  }
  for_rows(T, [&](int64_t a, int64_t b) {
    for (int64_t i = a * D; i < b * D; ++i) h[i] += s.ffn_out[i];
  });
  decode_steps::mark(Step::FfnTail);
}

}  // namespace herd
