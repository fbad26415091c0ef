#include "model/moe_prefill.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"

namespace herd {

namespace {

// One thread's buffers for the experts it runs (kept across layers and calls).
struct ExpertBufs {
  std::vector<float> in, out;
  Scratch s;  // gate, up, act for swiglu
};

}  // namespace

void moe_experts_prefill(const ModelConfig& c, const LayerWeights& w, const float* norm, int64_t T,
                         const int32_t* choice, const float* score, float* ffn_out, float* h) {
  const int64_t D = c.hidden_size;
  const int E = c.n_experts, k = c.top_k;
  thread_local std::vector<std::vector<int64_t>> tl_slots;
  thread_local std::vector<int> tl_order;
  thread_local std::vector<float> tl_slot_out;  // [T*k, D]: each slot's expert output
  std::vector<std::vector<int64_t>>& slots = tl_slots;
  std::vector<int>& order = tl_order;
  std::vector<float>& slot_out = tl_slot_out;
  slots.resize(E);
  for (auto& sl : slots) sl.clear();
  for (int64_t j = 0; j < T * k; ++j) slots[choice[j]].push_back(j);
  order.clear();
  for (int e = 0; e < E; ++e)
    if (!slots[e].empty()) order.push_back(e);
  // Most tokens first (ties: lower index), so the last expert picked up is a small one.
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return slots[a].size() > slots[b].size(); });
  if (slot_out.size() < static_cast<size_t>(T * k * D)) slot_out.resize(T * k * D);

  const int64_t n_active = static_cast<int64_t>(order.size());
  std::atomic<int64_t> next{0};
  ThreadPool& pool = ThreadPool::global();
  // One block per thread; each takes experts from the shared counter until none are left (the
  // matmuls inside run serially on the thread: nested parallel_for).
  pool.parallel_for(std::min<int64_t>(pool.size(), n_active), 1, [&](int64_t, int64_t) {
    thread_local ExpertBufs tl_bufs;
    ExpertBufs& b = tl_bufs;
    for (;;) {
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_active) break;
      const int e = order[i];
      const auto& sl = slots[e];
      const int64_t n = static_cast<int64_t>(sl.size());
      if (b.in.size() < static_cast<size_t>(n * D)) b.in.resize(n * D);
      if (b.out.size() < static_cast<size_t>(n * D)) b.out.resize(n * D);
      for (int64_t r = 0; r < n; ++r) {
        const float g = score[sl[r]];
        const float* src = norm + (sl[r] / k) * D;
        float* dst = b.in.data() + r * D;
        for (int64_t x = 0; x < D; ++x) dst[x] = src[x] * g;
      }
      swiglu(w.experts[e], b.in.data(), n, b.out.data(), b.s);
      for (int64_t r = 0; r < n; ++r)
        std::copy(b.out.data() + r * D, b.out.data() + (r + 1) * D, slot_out.data() + sl[r] * D);
    }
  });

  // Per token: its experts' outputs in ascending expert order, then the residual.
  pool.parallel_for(T, 8, [&](int64_t t0, int64_t t1) {
    int32_t js[64];
    for (int64_t t = t0; t < t1; ++t) {
      const int kk = std::min(k, 64);
      for (int j = 0; j < kk; ++j) js[j] = j;
      std::sort(js, js + kk, [&](int32_t a, int32_t b) { return choice[t * k + a] < choice[t * k + b]; });
      float* dst = ffn_out + t * D;
      for (int j = 0; j < kk; ++j) {
        const float* src = slot_out.data() + (t * k + js[j]) * D;
        for (int64_t x = 0; x < D; ++x) dst[x] += src[x];
      }
      float* ht = h + t * D;
      for (int64_t x = 0; x < D; ++x) ht[x] += dst[x];
    }
  });
}

}  // namespace herd
