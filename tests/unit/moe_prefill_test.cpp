// The MoE FFN paths against the serial one-expert-at-a-time loop (one swiglu call per expert):
// prefill (whole experts per thread, per-token sums afterwards) and decode / small batches (the
// shared and all chosen experts' projections batched into two pool dispatches). Bit-identical, for
// f32 and quantized experts, top-1 and top-2.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/quants.h"
#include "core/thread_pool.h"
#include "kernels/ops.h"
#include "model/blocks.h"

namespace herd {
namespace {

struct OwnedMatrix {
  std::vector<uint8_t> bytes;
  WeightMatrix m;
};

OwnedMatrix make_matrix(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> f(rows * cols);
  for (float& v : f) v = nd(rng);
  OwnedMatrix o;
  if (t == DType::F32) {
    o.bytes.resize(f.size() * 4);
    std::memcpy(o.bytes.data(), f.data(), o.bytes.size());
  } else {
    o.bytes.resize(dtype_row_bytes(t, cols) * rows);
    for (int64_t r = 0; r < rows; ++r) quant::quantize(t, f.data() + r * cols, o.bytes.data() + r * dtype_row_bytes(t, cols), cols);
  }
  o.m.type = t;
  o.m.data = o.bytes.data();
  o.m.rows = rows;
  o.m.cols = cols;
  o.m.ld = cols;
  return o;
}

void run_case(DType t, int top_k, int64_t T) {
  ModelConfig c;
  c.hidden_size = 256;
  c.n_experts = 6;
  c.top_k = top_k;
  c.expert_ffn = 512;
  c.rms_norm_eps = 1e-5;
  const int64_t D = c.hidden_size, F = c.expert_ffn;
  std::mt19937 rng(7 + top_k);
  std::vector<OwnedMatrix> own;
  auto ffn = [&] {
    FfnWeights f;
    own.push_back(make_matrix(t, F, D, rng)), f.gate = own.back().m;
    own.push_back(make_matrix(t, F, D, rng)), f.up = own.back().m;
    own.push_back(make_matrix(t, D, F, rng)), f.down = own.back().m;
    return f;
  };
  own.reserve(64);
  LayerWeights w;
  w.moe = true;
  w.ffn_norm.assign(D, 1.0f);
  w.shared = ffn();
  for (int e = 0; e < c.n_experts; ++e) w.experts.push_back(ffn());
  own.push_back(make_matrix(DType::F32, c.n_experts, D, rng));
  w.router = own.back().m;

  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> h0(T * D);
  for (float& v : h0) v = nd(rng);

  ThreadPool::set_global_threads(2);
  std::vector<float> got = h0;
  Scratch s;
  RouterChoice rc;
  ffn_block(c, w, 0, got.data(), T, s, &rc);

  // Reference: the same routing, experts one at a time in index order, on the calling thread.
  std::vector<float> norm(T * D), out(T * D), want = h0;
  rms_norm(h0.data(), w.ffn_norm.data(), norm.data(), T, D, static_cast<float>(c.rms_norm_eps));
  Scratch r;
  swiglu(w.shared, norm.data(), T, out.data(), r);
  for (int e = 0; e < c.n_experts; ++e) {
    std::vector<int64_t> sl;
    for (int64_t j = 0; j < T * top_k; ++j)
      if (rc.experts[j] == e) sl.push_back(j);
    if (sl.empty()) continue;
    const int64_t n = static_cast<int64_t>(sl.size());
    std::vector<float> in(n * D), y(n * D);
    for (int64_t q = 0; q < n; ++q)
      for (int64_t i = 0; i < D; ++i) in[q * D + i] = norm[(sl[q] / top_k) * D + i] * rc.scores[sl[q]];
    swiglu(w.experts[e], in.data(), n, y.data(), r);
    for (int64_t q = 0; q < n; ++q)
      for (int64_t i = 0; i < D; ++i) out[(sl[q] / top_k) * D + i] += y[q * D + i];
  }
  for (int64_t i = 0; i < T * D; ++i) want[i] += out[i];
  ThreadPool::set_global_threads(0);
  for (int64_t i = 0; i < T * D; ++i) ASSERT_EQ(got[i], want[i]) << dtype_name(t) << " top_k " << top_k << " at " << i;
}

TEST(MoePrefill, BitIdenticalToSerialExpertLoop) {
  for (DType t : {DType::F32, DType::Q8_0, DType::Q4_K})
    for (int k : {1, 2}) {
      run_case(t, k, 40);
      run_case(t, k, 5);
    }
}

TEST(MoeDecode, BitIdenticalToSerialExpertLoop) {
  for (DType t : {DType::F32, DType::Q8_0, DType::Q4_K, DType::Q6_K})
    for (int k : {1, 2})
      for (int64_t T : {1, 2, 3}) run_case(t, k, T);
}

}  // namespace
}  // namespace herd
