#include <cmath>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/vec.h"
#include "model/blocks.h"
#include "model/decode_steps.h"
#include "model/row_parallel.h"

namespace herd {

using decode_steps::Step;

void attention_block(const ModelConfig& c, const LayerWeights& w, int layer, const std::vector<double>& inv_freq,
                     float* h, const int64_t* pos, int64_t T, const std::vector<SequenceSpan>& spans, Scratch& s) {
  const int64_t D = c.hidden_size;
  const int hd = c.head_dim;
  const int64_t qd = static_cast<int64_t>(c.n_heads) * hd, kvd = static_cast<int64_t>(c.n_kv_heads) * hd;
  s.norm.resize(T * D);
  s.q.resize(T * qd);
  s.k.resize(T * kvd);
  s.v.resize(T * kvd);
  s.attn.resize(T * qd);
  s.proj.resize(T * D);

  for_rows(T, [&](int64_t a, int64_t b) {
    rms_norm(h + a * D, w.attn_norm.data(), s.norm.data() + a * D, b - a, D, static_cast<float>(c.rms_norm_eps));
  });
  decode_steps::mark(Step::AttnNorm);
  matmul_multi(s.norm.data(), T, {{&w.q, s.q.data()}, {&w.k, s.k.data()}, {&w.v, s.v.data()}});
  decode_steps::mark(Step::QKV);

  if (c.uses_rope(layer)) {
    // RoPE at absolute positions, then (Llama 4 Scout) the weightless per-head RMS norm.
    for_rows(T, [&](int64_t a, int64_t b) {
      float *q = s.q.data() + a * qd, *k = s.k.data() + a * kvd;
      if (c.rope_style == RopeStyle::Interleaved) {
        rope_interleaved(q, b - a, c.n_heads, hd, pos + a, inv_freq.data());
        rope_interleaved(k, b - a, c.n_kv_heads, hd, pos + a, inv_freq.data());
      } else {
        rope_rotate_half(q, b - a, c.n_heads, hd, pos + a, inv_freq.data());
        rope_rotate_half(k, b - a, c.n_kv_heads, hd, pos + a, inv_freq.data());
      }
      if (c.qk_norm(layer)) {
        const float eps = static_cast<float>(c.rms_norm_eps);
        rms_norm(q, nullptr, q, (b - a) * c.n_heads, hd, eps);
        rms_norm(k, nullptr, k, (b - a) * c.n_kv_heads, hd, eps);
      }
    });
  } else if (c.temperature_tuned(layer)) {
    // NoPE layers: queries scaled by 1 + beta*ln(floor((p+1)/F) + 1) at absolute position p.
    for (int64_t t = 0; t < T; ++t) scale_f32(c.attn_temperature(pos[t]), s.q.data() + t * qd, qd);
  }

  decode_steps::mark(Step::Rope);
  AttentionShape shape{c.n_heads, c.n_kv_heads, hd, c.is_chunked(layer) ? c.chunk_size : 0,
                       static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))};
  for (const SequenceSpan& sp : spans) {
    sp.cache->write(layer, pos + sp.offset, sp.n, s.k.data() + sp.offset * kvd, s.v.data() + sp.offset * kvd);
    decode_steps::mark(Step::KVWrite);
    sp.cache->attend(layer, pos + sp.offset, sp.n, s.q.data() + sp.offset * qd, s.attn.data() + sp.offset * qd, shape);
  }
  decode_steps::mark(Step::Attend);
  matmul(s.attn.data(), T, w.o, s.proj.data());
  for_rows(T, [&](int64_t a, int64_t b) {
    for (int64_t i = a * D; i < b * D; ++i) h[i] += s.proj[i];
  });
  decode_steps::mark(Step::OProj);
}

}  // namespace herd
