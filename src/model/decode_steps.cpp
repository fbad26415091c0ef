#include "model/decode_steps.h"

#include <algorithm>
#include <chrono>

namespace herd::decode_steps {

namespace {
std::chrono::steady_clock::time_point g_last;
std::vector<float> g_us[static_cast<int>(Step::kCount)];

const char* const kNames[] = {"attn_norm", "qkv",  "rope",    "kv_write", "attend",   "o_proj",
                              "ffn_norm",  "router", "route", "gather",   "gate_up",  "silu",
                              "down",      "ffn_tail", "out_norm", "lm_head", "sample"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Step::kCount));
}  // namespace

const char* name(Step s) { return kNames[static_cast<int>(s)]; }

void enable(bool on) {
  g_last = std::chrono::steady_clock::now();
  g_recording.store(on, std::memory_order_relaxed);
}

void clear() {
  for (auto& v : g_us) v.clear();
}

void begin_now() { g_last = std::chrono::steady_clock::now(); }

void mark_now(Step s) {
  const auto now = std::chrono::steady_clock::now();
  g_us[static_cast<int>(s)].push_back(std::chrono::duration<float, std::micro>(now - g_last).count());
  g_last = now;
}

std::vector<Summary> summarize() {
  std::vector<Summary> out;
  for (int i = 0; i < static_cast<int>(Step::kCount); ++i) {
    std::vector<float> v = g_us[i];
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    double sum = 0;
    for (float x : v) sum += x;
    auto at = [&](double q) { return static_cast<double>(v[std::min(n - 1, static_cast<size_t>(q * static_cast<double>(n)))]); };
    out.push_back({static_cast<Step>(i), static_cast<int64_t>(n), sum / static_cast<double>(n), at(0.5), at(0.9), at(0.99),
                   static_cast<double>(v.back())});
  }
  return out;
}

}  // namespace herd::decode_steps
