#include "train/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/dtype.h"
#include "core/error.h"
#include "formats/hf_model_loader.h"
#include "runtime/sampler.h"
#include "kernels/sgemm.h"
#include "train/blocks.h"

namespace herd::train {

size_t TrainModel::add(const std::string& name, std::vector<int64_t> shape, bool decay) {
  Param p;
  p.name = name;
  p.shape = std::move(shape);
  p.numel = 1;
  for (auto d : p.shape) p.numel *= static_cast<size_t>(d);
  p.offset = params_.empty() ? 0 : params_.back().offset + params_.back().numel;
  p.decay = decay;
  params_.push_back(p);
  return p.offset;
}

TrainModel::TrainModel(const ModelConfig& c) : c_(c) {
  c_.validate();
  if (c_.rope_style != RopeStyle::Interleaved) fail("train: only Llama 4 (interleaved RoPE) models are supported");
  const int64_t D = c.hidden_size, hd = c.head_dim, V = c.vocab_size;
  embed_ = add("model.embed_tokens.weight", {V, D}, false);
  lp_.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerPtrs& L = lp_[l];
    L.attn_norm = add(p + "input_layernorm.weight", {D}, false);
    L.ffn_norm = add(p + "post_attention_layernorm.weight", {D}, false);
    L.q = add(p + "self_attn.q_proj.weight", {c.n_heads * hd, D}, true);
    L.k = add(p + "self_attn.k_proj.weight", {c.n_kv_heads * hd, D}, true);
    L.v = add(p + "self_attn.v_proj.weight", {c.n_kv_heads * hd, D}, true);
    L.o = add(p + "self_attn.o_proj.weight", {D, c.n_heads * hd}, true);
    const std::string ff = p + "feed_forward.";
    if (c.is_moe(l)) {
      const int64_t E = c.n_experts, F = c.expert_ffn;
      L.router = add(ff + "router.weight", {E, D}, true);
      L.gate_up = add(ff + "experts.gate_up_proj", {E, D, 2 * F}, true);
      L.down = add(ff + "experts.down_proj", {E, F, D}, true);
      L.sh_gate = add(ff + "shared_expert.gate_proj.weight", {F, D}, true);
      L.sh_up = add(ff + "shared_expert.up_proj.weight", {F, D}, true);
      L.sh_down = add(ff + "shared_expert.down_proj.weight", {D, F}, true);
      L.F = F;
    } else {
      const int64_t F = c.dense_ffn;
      L.sh_gate = add(ff + "gate_proj.weight", {F, D}, true);
      L.sh_up = add(ff + "up_proj.weight", {F, D}, true);
      L.sh_down = add(ff + "down_proj.weight", {D, F}, true);
      L.F = F;
    }
  }
  final_norm_ = add("model.norm.weight", {D}, false);
  lm_head_ = c.tie_word_embeddings ? embed_ : add("lm_head.weight", {V, D}, true);
  const size_t total = params_.back().offset + params_.back().numel;
  w_.assign(total, 0.0f);
  g_.assign(total, 0.0f);
  rstate_.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l)
    if (c.is_moe(l)) {
      rstate_[l].bias.assign(c.n_experts, 0.0f);
      rstate_[l].step_counts.assign(c.n_experts, 0);
    }
}

const Param& TrainModel::param(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return p;
  fail("train: no parameter named ", name);
}

void TrainModel::zero_grad() { std::fill(g_.begin(), g_.end(), 0.0f); }

void TrainModel::init_random(uint64_t seed, float std) {
  Rng rng(seed);
  auto normal = [&] {
    const double u1 = rng.uniform(), u2 = rng.uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2 * M_PI * u2));
  };
  for (const auto& p : params_) {
    float* d = w_.data() + p.offset;
    if (p.shape.size() == 1)
      std::fill(d, d + p.numel, 1.0f);
    else
      for (size_t i = 0; i < p.numel; ++i) d[i] = normal() * std;
  }
}

TrainModel TrainModel::from_hf(const std::string& dir) {
  LoadedWeights lw = load_hf_model(dir);
  TrainModel m(lw.config);
  const ModelConfig& c = m.c_;
  const ModelWeights& W = lw.weights;
  const int64_t D = c.hidden_size;
  auto copy_linear = [&](const WeightMatrix& src, float* dst) {
    for (int64_t o = 0; o < src.rows; ++o) src.row(o, dst + o * src.cols);
  };
  auto copy_vec = [&](const std::vector<float>& src, float* dst) { std::copy(src.begin(), src.end(), dst); };
  copy_linear(W.embed, m.w_.data() + m.embed_);
  if (!c.tie_word_embeddings) copy_linear(W.lm_head, m.w_.data() + m.lm_head_);
  copy_vec(W.final_norm, m.w_.data() + m.final_norm_);
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& src = W.layers[l];
    const LayerPtrs& L = m.lp_[l];
    float* w = m.w_.data();
    copy_vec(src.attn_norm, w + L.attn_norm);
    copy_vec(src.ffn_norm, w + L.ffn_norm);
    copy_linear(src.q, w + L.q);
    copy_linear(src.k, w + L.k);
    copy_linear(src.v, w + L.v);
    copy_linear(src.o, w + L.o);
    copy_linear(src.shared.gate, w + L.sh_gate);
    copy_linear(src.shared.up, w + L.sh_up);
    copy_linear(src.shared.down, w + L.sh_down);
    if (c.is_moe(l)) {
      const int64_t E = c.n_experts, F = c.expert_ffn;
      copy_linear(src.router, w + L.router);
      for (int64_t e = 0; e < E; ++e) {
        float* gu = w + L.gate_up + e * D * 2 * F;
        float* dn = w + L.down + e * F * D;
        const FfnWeights& x = src.experts[e];
        for (int64_t i = 0; i < D; ++i)
          for (int64_t j = 0; j < F; ++j) {
            gu[i * 2 * F + j] = x.gate.at(j, i);
            gu[i * 2 * F + F + j] = x.up.at(j, i);
          }
        for (int64_t f = 0; f < F; ++f)
          for (int64_t d = 0; d < D; ++d) dn[f * D + d] = x.down.at(d, f);
      }
    }
  }
  return m;
}

std::vector<TensorToWrite> TrainModel::hf_tensors(const std::string& dtype) const {
  if (dtype != "F32" && dtype != "BF16") fail("train: export dtype must be F32 or BF16");
  std::vector<TensorToWrite> out;
  for (const auto& p : params_) {
    TensorToWrite t{p.name, dtype, p.shape, {}};
    const float* src = w_.data() + p.offset;
    if (dtype == "F32") {
      t.bytes.resize(p.numel * 4);
      std::memcpy(t.bytes.data(), src, p.numel * 4);
    } else {
      t.bytes.resize(p.numel * 2);
      for (size_t i = 0; i < p.numel; ++i) {
        const uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(&t.bytes[i * 2], &h, 2);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<int32_t> TrainModel::routing_signature() const {
  std::vector<int32_t> sig;
  for (int l = 0; l < c_.n_layers && l < static_cast<int>(acts_.size()); ++l)
    sig.insert(sig.end(), acts_[l].choice.begin(), acts_[l].choice.end());
  return sig;
}

double TrainModel::balance_loss() const {
  double s = 0;
  for (int l = 0; l < c_.n_layers; ++l)
    if (c_.is_moe(l)) s += rstate_[l].last.aux + rstate_[l].last.z + rstate_[l].last.seq;
  return s;
}

// ------------------------------------------------------------------ forward
double TrainModel::forward(const int32_t* ids, const int32_t* targets, int64_t B, int64_t T) {
  const ModelConfig& c = c_;
  const int64_t D = c.hidden_size, V = c.vocab_size, N = B * T, hd = c.head_dim;
  const int64_t qd = c.n_heads * hd, kvd = c.n_kv_heads * hd;
  const float eps = static_cast<float>(c.rms_norm_eps);
  if (N <= 0) fail("train: empty batch");
  for (int64_t n = 0; n < N; ++n)
    if (ids[n] < 0 || ids[n] >= V) fail("train: token id ", ids[n], " outside the vocabulary [0, ", V, ")");
  B_ = B;
  T_ = T;
  ids_.assign(ids, ids + N);
  if (targets) targets_.assign(targets, targets + N);
  else targets_.clear();
  pos_.resize(N);
  for (int64_t n = 0; n < N; ++n) pos_[n] = n % T;
  if (static_cast<int64_t>(cs_.size()) < T * (hd / 2)) rope_tables(c.rope_inv_freq(), std::max<int64_t>(T, 64), cs_, sn_);
  acts_.resize(c.n_layers);

  std::vector<float>& h = h_;  // kept across steps: no fresh pages every forward
  h.resize(N * D);
  embedding_forward(ids, N, w_.data() + embed_, D, h.data());
  const float* w = w_.data();
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerPtrs& L = lp_[l];
    LayerActs& a = acts_[l];
    a.h_in = h;
    a.an.resize(N * D);
    a.rstd1.resize(N);
    rmsnorm_forward(h.data(), w + L.attn_norm, a.an.data(), a.rstd1.data(), N, D, eps);
    a.q.resize(N * qd);
    a.k.resize(N * kvd);
    a.v.resize(N * kvd);
    linear_forward(a.an.data(), w + L.q, a.q.data(), N, D, qd);
    linear_forward(a.an.data(), w + L.k, a.k.data(), N, D, kvd);
    linear_forward(a.an.data(), w + L.v, a.v.data(), N, D, kvd);
    if (c.uses_rope(l)) {
      rope_forward(a.q.data(), N, pos_.data(), c.n_heads, hd, cs_.data(), sn_.data());
      rope_forward(a.k.data(), N, pos_.data(), c.n_kv_heads, hd, cs_.data(), sn_.data());
      if (c.qk_norm(l)) {
        a.q_pre = a.q;
        a.k_pre = a.k;
        a.rstd_q.resize(N * c.n_heads);
        a.rstd_k.resize(N * c.n_kv_heads);
        rmsnorm_forward(a.q_pre.data(), nullptr, a.q.data(), a.rstd_q.data(), N * c.n_heads, hd, eps);
        rmsnorm_forward(a.k_pre.data(), nullptr, a.k.data(), a.rstd_k.data(), N * c.n_kv_heads, hd, eps);
      }
    } else if (c.temperature_tuned(l)) {
      for (int64_t n = 0; n < N; ++n) {
        const float s = c.attn_temperature(pos_[n]);
        for (int64_t i = 0; i < qd; ++i) a.q[n * qd + i] *= s;
      }
    }
    AttnShape as{B, T, c.n_heads, c.n_kv_heads, c.head_dim, c.is_chunked(l) ? c.chunk_size : 0,
                 static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))};
    a.probs.resize(B * c.n_heads * T * T);
    a.ao.resize(N * qd);
    attention_forward(as, a.q.data(), a.k.data(), a.v.data(), a.ao.data(), a.probs.data());
    sgemm(false, true, N, D, qd, 1.0f, a.ao.data(), qd, w + L.o, qd, 1.0f, h.data(), D);  // h += o_proj(ao)
    a.h_mid = h;
    a.fn.resize(N * D);
    a.rstd2.resize(N);
    rmsnorm_forward(h.data(), w + L.ffn_norm, a.fn.data(), a.rstd2.data(), N, D, eps);
    ffn_forward(l, a, N, B, T, h.data());  // h += FFN(fn)
  }
  h_final_ = h;
  hn_.resize(N * D);
  rstd_f_.resize(N);
  rmsnorm_forward(h.data(), w + final_norm_, hn_.data(), rstd_f_.data(), N, D, eps);
  logits_.resize(N * V);
  linear_forward(hn_.data(), w + lm_head_, logits_.data(), N, D, V);
  if (!targets) return 0.0;
  lse_.resize(N);
  return cross_entropy_forward(logits_.data(), targets, N, V, lse_.data());
}

// Shared expert / dense FFN, then (MoE) router, balancing losses and routed experts. The FFN
// output [N, D] is added into out (the residual stream).
void TrainModel::ffn_forward(int l, LayerActs& a, int64_t N, int64_t B, int64_t T, float* out) {
  const ModelConfig& c = c_;
  const LayerPtrs& L = lp_[l];
  const int64_t D = c.hidden_size, F = L.F;
  const float* w = w_.data();
  a.sh_g.resize(N * F);
  a.sh_u.resize(N * F);
  a.sh_act.resize(N * F);
  linear_forward(a.fn.data(), w + L.sh_gate, a.sh_g.data(), N, D, F);
  linear_forward(a.fn.data(), w + L.sh_up, a.sh_u.data(), N, D, F);
  swiglu_forward(a.sh_g.data(), a.sh_u.data(), a.sh_act.data(), N, F, F);
  sgemm(false, true, N, D, F, 1.0f, a.sh_act.data(), F, w + L.sh_down, F, 1.0f, out, D);
  if (!c.is_moe(l)) return;

  const int E = c.n_experts, k = c.top_k;
  const int64_t FE = c.expert_ffn;
  RouterLayerState& rs = rstate_[l];
  a.router.resize(N * E);
  linear_forward(a.fn.data(), w + L.router, a.router.data(), N, D, E);
  a.choice.resize(N * k);
  a.score.resize(N * k);
  const bool biased = ropt_.bias_gamma > 0;
  std::vector<int32_t> idx(E);
  std::vector<float> key(E);
  double conf = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float* z = a.router.data() + n * E;
    for (int e = 0; e < E; ++e) key[e] = biased ? sigmoidf(z[e]) + rs.bias[e] : z[e];
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int32_t x, int32_t y) { return key[x] > key[y] || (key[x] == key[y] && x < y); });
    for (int j = 0; j < k; ++j) {
      a.choice[n * k + j] = idx[j];
      a.score[n * k + j] = sigmoidf(z[idx[j]]);
      conf += a.score[n * k + j];
    }
  }
  // Group slots by expert.
  std::vector<int64_t> counts(E, 0);
  for (int64_t j = 0; j < N * k; ++j) ++counts[a.choice[j]];
  a.offs.assign(E + 1, 0);
  for (int e = 0; e < E; ++e) a.offs[e + 1] = a.offs[e] + counts[e];
  a.order.resize(N * k);
  {
    std::vector<int64_t> fill(a.offs.begin(), a.offs.end() - 1);
    for (int64_t j = 0; j < N * k; ++j) a.order[fill[a.choice[j]]++] = j;
  }
  for (int e = 0; e < E; ++e) rs.step_counts[e] += counts[e];

  // Balancing losses: values and their logit gradients (applied, scaled, in backward).
  RouterLossValues lv;
  lv.confidence = conf / static_cast<double>(N * k);
  a.dz_bal.assign(N * E, 0.0f);
  const bool need_sig = ropt_.aux_alpha > 0 || ropt_.seq_alpha > 0;
  std::vector<float> sn;  // normalized sigmoid s' [N, E] and per-row sums
  std::vector<float> ssum;
  if (need_sig) {
    sn.resize(N * E);
    ssum.resize(N);
    for (int64_t n = 0; n < N; ++n) {
      float S = 0;
      for (int e = 0; e < E; ++e) S += (sn[n * E + e] = sigmoidf(a.router[n * E + e]));
      ssum[n] = S;
      for (int e = 0; e < E; ++e) sn[n * E + e] /= S;
    }
  }
  // Adds dL/dz for L = sum_t sum_i g_i s'_ti over rows [n0, n1):
  //   dz_tj = sig'(z_tj)/S_t (g_j - sum_i g_i s'_ti)
  auto add_fp_grad = [&](const std::vector<double>& g, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      double dot = 0;
      for (int e = 0; e < E; ++e) dot += g[e] * sn[n * E + e];
      for (int e = 0; e < E; ++e) {
        const float s = sn[n * E + e] * ssum[n];
        a.dz_bal[n * E + e] += static_cast<float>(s * (1.0f - s) / ssum[n] * (g[e] - dot));
      }
    }
  };
  if (ropt_.aux_alpha > 0) {
    const std::vector<int64_t>& cnt = ropt_.aux_global ? rs.step_counts : counts;
    double tot = 0;
    for (auto x : cnt) tot += static_cast<double>(x);
    std::vector<double> f(E), P(E, 0.0), g(E);
    for (int e = 0; e < E; ++e) f[e] = cnt[e] / tot;
    for (int64_t n = 0; n < N; ++n)
      for (int e = 0; e < E; ++e) P[e] += sn[n * E + e];
    double val = 0;
    for (int e = 0; e < E; ++e) {
      P[e] /= static_cast<double>(N);
      val += f[e] * P[e];
      g[e] = ropt_.aux_alpha * E * f[e] / static_cast<double>(N);
    }
    lv.aux = ropt_.aux_alpha * E * val;
    add_fp_grad(g, 0, N);
  }
  if (ropt_.seq_alpha > 0) {
    double total = 0;
    for (int64_t b = 0; b < B; ++b) {
      std::vector<double> cnt(E, 0.0), P(E, 0.0), g(E);
      for (int64_t t = 0; t < T; ++t)
        for (int j = 0; j < k; ++j) cnt[a.choice[(b * T + t) * k + j]] += 1;
      for (int64_t t = 0; t < T; ++t)
        for (int e = 0; e < E; ++e) P[e] += sn[(b * T + t) * E + e];
      double val = 0;
      for (int e = 0; e < E; ++e) {
        const double f = E * cnt[e] / (static_cast<double>(k) * T);
        val += f * P[e] / static_cast<double>(T);
        g[e] = ropt_.seq_alpha * f / (static_cast<double>(T) * B);
      }
      total += ropt_.seq_alpha * val;
      add_fp_grad(g, b * T, (b + 1) * T);
    }
    lv.seq = total / static_cast<double>(B);
  }
  {
    double s2 = 0;
    const double zc = ropt_.z_coef;
    for (int64_t n = 0; n < N; ++n) {
      const float* z = a.router.data() + n * E;
      float mx = z[0];
      for (int e = 1; e < E; ++e) mx = std::max(mx, z[e]);
      double sum = 0;
      for (int e = 0; e < E; ++e) sum += std::exp(static_cast<double>(z[e] - mx));
      const double lse = mx + std::log(sum);
      s2 += lse * lse;
      if (zc > 0)
        for (int e = 0; e < E; ++e)
          a.dz_bal[n * E + e] += static_cast<float>(zc / N * 2.0 * lse * std::exp(z[e] - lse));
    }
    lv.lse2 = s2 / static_cast<double>(N);
    lv.z = zc * lv.lse2;
  }
  rs.last = lv;
  rs.step_sum.aux += lv.aux;
  rs.step_sum.z += lv.z;
  rs.step_sum.seq += lv.seq;
  rs.step_sum.lse2 += lv.lse2;
  rs.step_sum.confidence += lv.confidence;
  ++rs.micro;

  // Routed experts: x_e = fn * score (input-side gate), y = down(silu(x Wg) * (x Wu)).
  a.x_e.resize(N * k * D);
  a.gu_e.resize(N * k * 2 * FE);
  a.act_e.resize(N * k * FE);
  for (int64_t r = 0; r < N * k; ++r) {
    const int64_t slot = a.order[r], t = slot / k;
    const float s = a.score[slot];
    const float* src = a.fn.data() + t * D;
    float* dst = a.x_e.data() + r * D;
    for (int64_t i = 0; i < D; ++i) dst[i] = src[i] * s;
  }
  std::vector<float>& y = ye_;
  for (int e = 0; e < E; ++e) {
    const int64_t r0 = a.offs[e], n = a.offs[e + 1] - r0;
    if (n == 0) continue;
    const float* Wgu = w + L.gate_up + e * D * 2 * FE;
    const float* Wd = w + L.down + e * FE * D;
    float* gu = a.gu_e.data() + r0 * 2 * FE;
    float* act = a.act_e.data() + r0 * FE;
    matmul_forward(a.x_e.data() + r0 * D, Wgu, gu, n, D, 2 * FE);
    swiglu_forward(gu, gu + FE, act, n, FE, 2 * FE);
    y.resize(n * D);
    matmul_forward(act, Wd, y.data(), n, FE, D);
    for (int64_t r = 0; r < n; ++r) {
      const int64_t t = a.order[r0 + r] / k;
      float* dst = out + t * D;
      const float* src = y.data() + r * D;
      for (int64_t i = 0; i < D; ++i) dst[i] += src[i];
    }
  }
}

// ------------------------------------------------------------------ backward
void TrainModel::backward(float scale) {
  const ModelConfig& c = c_;
  if (targets_.empty()) fail("train: backward needs a forward with targets");
  const int64_t D = c.hidden_size, V = c.vocab_size, N = B_ * T_, hd = c.head_dim;
  const int64_t qd = c.n_heads * hd, kvd = c.n_kv_heads * hd;
  const float* w = w_.data();
  float* g = g_.data();

  // lm_head and final norm
  std::vector<float>& dlogits = logits_;  // overwritten in place
  cross_entropy_backward(logits_.data(), lse_.data(), targets_.data(), N, V, scale, dlogits.data());
  dh2_.resize(N * D);
  linear_backward(hn_.data(), w + lm_head_, dlogits.data(), dh2_.data(), g + lm_head_, N, D, V, 0.0f);
  dh_.assign(N * D, 0.0f);
  rmsnorm_backward(h_final_.data(), w + final_norm_, rstd_f_.data(), dh2_.data(), dh_.data(), g + final_norm_, N, D);

  for (int l = c.n_layers - 1; l >= 0; --l) {
    const LayerPtrs& L = lp_[l];
    LayerActs& a = acts_[l];
    // FFN half: h_out = h_mid + FFN(rmsnorm(h_mid))
    dfn_.resize(N * D);
    ffn_backward(l, a, dh_.data(), dfn_.data(), N, scale);  // overwrites dfn_
    rmsnorm_backward(a.h_mid.data(), w + L.ffn_norm, a.rstd2.data(), dfn_.data(), dh_.data(), g + L.ffn_norm, N, D);
    // attention half: h_mid = h_in + o_proj(attn(rmsnorm(h_in)))
    dao_.resize(N * qd);
    linear_backward(a.ao.data(), w + L.o, dh_.data(), dao_.data(), g + L.o, N, qd, D, 0.0f);
    AttnShape as{B_, T_, c.n_heads, c.n_kv_heads, c.head_dim, c.is_chunked(l) ? c.chunk_size : 0,
                 static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))};
    dq_.resize(N * qd);  // overwritten by attention_backward
    dk_.assign(N * kvd, 0.0f);
    dv_.assign(N * kvd, 0.0f);
    attention_backward(as, a.q.data(), a.k.data(), a.v.data(), a.probs.data(), dao_.data(), dq_.data(), dk_.data(),
                       dv_.data(), dscratch_);
    if (c.uses_rope(l)) {
      if (c.qk_norm(l)) {
        dtmp_.assign(N * qd, 0.0f);
        rmsnorm_backward(a.q_pre.data(), nullptr, a.rstd_q.data(), dq_.data(), dtmp_.data(), nullptr, N * c.n_heads, hd);
        dq_.swap(dtmp_);
        dtmp_.assign(N * kvd, 0.0f);
        rmsnorm_backward(a.k_pre.data(), nullptr, a.rstd_k.data(), dk_.data(), dtmp_.data(), nullptr, N * c.n_kv_heads,
                         hd);
        dk_.swap(dtmp_);
      }
      rope_backward(dq_.data(), N, pos_.data(), c.n_heads, hd, cs_.data(), sn_.data());
      rope_backward(dk_.data(), N, pos_.data(), c.n_kv_heads, hd, cs_.data(), sn_.data());
    } else if (c.temperature_tuned(l)) {
      for (int64_t n = 0; n < N; ++n) {
        const float s = c.attn_temperature(pos_[n]);
        for (int64_t i = 0; i < qd; ++i) dq_[n * qd + i] *= s;
      }
    }
    // dfn_ reused as d(an)
    linear_backward(a.an.data(), w + L.q, dq_.data(), dfn_.data(), g + L.q, N, D, qd, 0.0f);
    linear_backward(a.an.data(), w + L.k, dk_.data(), dfn_.data(), g + L.k, N, D, kvd);
    linear_backward(a.an.data(), w + L.v, dv_.data(), dfn_.data(), g + L.v, N, D, kvd);
    rmsnorm_backward(a.h_in.data(), w + L.attn_norm, a.rstd1.data(), dfn_.data(), dh_.data(), g + L.attn_norm, N, D);
  }
  embedding_backward(ids_.data(), N, dh_.data(), D, g + embed_);
}

void TrainModel::ffn_backward(int l, LayerActs& a, const float* dout, float* dfn, int64_t N, float scale) {
  const ModelConfig& c = c_;
  const LayerPtrs& L = lp_[l];
  const int64_t D = c.hidden_size, F = L.F;
  const float* w = w_.data();
  float* g = g_.data();
  // shared expert / dense FFN
  dact_.resize(N * F);
  linear_backward(a.sh_act.data(), w + L.sh_down, dout, dact_.data(), g + L.sh_down, N, F, D, 0.0f);
  dgu_.resize(2 * N * F);
  float* dg = dgu_.data();
  float* du = dgu_.data() + N * F;
  swiglu_backward(a.sh_g.data(), a.sh_u.data(), dact_.data(), dg, du, N, F, F);
  linear_backward(a.fn.data(), w + L.sh_gate, dg, dfn, g + L.sh_gate, N, D, F, 0.0f);  // first write of dfn
  linear_backward(a.fn.data(), w + L.sh_up, du, dfn, g + L.sh_up, N, D, F);
  if (!c.is_moe(l)) return;

  const int E = c.n_experts, k = c.top_k;
  const int64_t FE = c.expert_ffn;
  dz_.assign(N * E, 0.0f);
  for (int64_t i = 0; i < N * E; ++i) dz_[i] = scale * a.dz_bal[i];
  for (int e = 0; e < E; ++e) {
    const int64_t r0 = a.offs[e], n = a.offs[e + 1] - r0;
    if (n == 0) continue;
    const float* Wgu = w + L.gate_up + e * D * 2 * FE;
    const float* Wd = w + L.down + e * FE * D;
    const float* gu = a.gu_e.data() + r0 * 2 * FE;
    const float* act = a.act_e.data() + r0 * FE;
    const float* x = a.x_e.data() + r0 * D;
    dy_e_.resize(n * D);
    for (int64_t r = 0; r < n; ++r) {
      const int64_t t = a.order[r0 + r] / k;
      std::memcpy(dy_e_.data() + r * D, dout + t * D, D * sizeof(float));
    }
    dact_.resize(n * FE);
    matmul_backward(act, Wd, dy_e_.data(), dact_.data(), g + L.down + e * FE * D, n, FE, D, 0.0f);
    dgu_.resize(n * 2 * FE);
    swiglu_backward(gu, gu + FE, dact_.data(), dgu_.data(), dgu_.data() + FE, n, FE, 2 * FE);
    dx_e_.resize(n * D);
    matmul_backward(x, Wgu, dgu_.data(), dx_e_.data(), g + L.gate_up + e * D * 2 * FE, n, D, 2 * FE, 0.0f);
    // x = fn * s: dfn += s dx; ds = <dx, fn>; dz = ds s (1 - s)
    for (int64_t r = 0; r < n; ++r) {
      const int64_t slot = a.order[r0 + r], t = slot / k;
      const float s = a.score[slot];
      const float* dx = dx_e_.data() + r * D;
      const float* f = a.fn.data() + t * D;
      float* d = dfn + t * D;
      double ds = 0;
      for (int64_t i = 0; i < D; ++i) {
        d[i] += s * dx[i];
        ds += static_cast<double>(dx[i]) * f[i];
      }
      dz_[t * E + e] += static_cast<float>(ds) * s * (1.0f - s);
    }
  }
  linear_backward(a.fn.data(), w + L.router, dz_.data(), dfn, g + L.router, N, D, E);
}

}  // namespace herd::train
