#pragma once
// A Llama 4 text model for training: fp32 master weights in one flat buffer (named as in Hugging
// Face checkpoints, fused expert layout), a forward pass that keeps the activations each block's
// backward needs, and a backward pass that accumulates gradients into a buffer of the same
// layout. Routing follows inference exactly (top-k by raw router logit, sigmoid gate applied to
// the expert input, shared expert on the unscaled input); the balancing losses and the
// loss-free selection bias of routing.h are layered on top.
#include <cstdint>
#include <string>
#include <vector>

#include "formats/safetensors.h"
#include "model/model_config.h"
#include "train/routing.h"

namespace herd::train {

struct Param {
  std::string name;             // HF tensor name
  std::vector<int64_t> shape;
  size_t offset = 0, numel = 0;
  bool decay = true;            // weight decay applies (matrices except the embedding)
};

class TrainModel {
 public:
  explicit TrainModel(const ModelConfig& c);

  // normal(0, std) for matrices, ones for norm weights; deterministic in seed (portable Rng).
  void init_random(uint64_t seed, float std = 0.02f);
  // Copies the weights of a Hugging Face model directory (any dtype herd reads) into fp32.
  static TrainModel from_hf(const std::string& dir);
  // The weights as HF tensors ("F32" or "BF16").
  std::vector<TensorToWrite> hf_tensors(const std::string& dtype) const;

  const ModelConfig& config() const { return c_; }
  const std::vector<Param>& params() const { return params_; }
  const Param& param(const std::string& name) const;
  std::vector<float>& data() { return w_; }
  const std::vector<float>& data() const { return w_; }
  std::vector<float>& grad() { return g_; }
  float* p(const std::string& name) { return w_.data() + param(name).offset; }
  void zero_grad();

  RoutingOptions& routing() { return ropt_; }
  std::vector<RouterLayerState>& router_state() { return rstate_; }  // one per layer (MoE ones used)
  const std::vector<RouterLayerState>& router_state() const { return rstate_; }

  // B sequences of T tokens (positions 0..T-1 each). targets may be null (no loss). Returns the
  // mean cross-entropy; balancing-loss values go to router_state()[l].last.
  double forward(const int32_t* ids, const int32_t* targets, int64_t B, int64_t T);
  // Accumulates scale * d(CE + balancing losses)/d(weights) into grad(). Needs a forward with targets.
  void backward(float scale);
  // Logits [B*T, vocab] of the last forward (backward overwrites them with their gradient).
  const std::vector<float>& logits() const { return logits_; }
  // Expert choices of every MoE layer in the last forward (to detect routing flips in tests).
  std::vector<int32_t> routing_signature() const;
  // Sum of the balancing-loss values of the last forward over MoE layers.
  double balance_loss() const;

 private:
  struct LayerPtrs {
    size_t attn_norm, ffn_norm, q, k, v, o;
    size_t router = 0, gate_up = 0, down = 0;  // MoE
    size_t sh_gate, sh_up, sh_down;             // shared expert (MoE) or dense FFN
    int64_t F;                                  // width of sh_*
  };
  struct LayerActs {
    std::vector<float> h_in, an, rstd1, q, k, v, q_pre, k_pre, rstd_q, rstd_k, probs, ao, h_mid, fn, rstd2;
    std::vector<float> sh_g, sh_u, sh_act;
    std::vector<float> router, score, dz_bal;      // [N,E], [N*k], [N,E]
    std::vector<int32_t> choice;                   // [N*k]
    std::vector<int64_t> order, offs;              // slots grouped by expert; offsets [E+1]
    std::vector<float> x_e, gu_e, act_e;           // per slot, grouped
  };
  size_t add(const std::string& name, std::vector<int64_t> shape, bool decay);
  void ffn_forward(int l, LayerActs& a, int64_t N, int64_t B, int64_t T, float* out);
  void ffn_backward(int l, LayerActs& a, const float* dout, float* dfn, int64_t N, float scale);

  ModelConfig c_;
  std::vector<Param> params_;
  std::vector<float> w_, g_;
  size_t embed_ = 0, final_norm_ = 0, lm_head_ = 0;
  std::vector<LayerPtrs> lp_;
  std::vector<float> cs_, sn_;
  RoutingOptions ropt_;
  std::vector<RouterLayerState> rstate_;

  // activations of the last forward
  int64_t B_ = 0, T_ = 0;
  std::vector<int32_t> ids_, targets_;
  std::vector<int64_t> pos_;
  std::vector<LayerActs> acts_;
  std::vector<float> h_, ye_, h_final_, hn_, rstd_f_, logits_, lse_;
  // backward scratch
  std::vector<float> dh_, dh2_, dtmp_, dq_, dk_, dv_, dao_, dscratch_, dfn_, dx_e_, dgu_, dact_, dy_e_, dz_;
};

}  // namespace herd::train
