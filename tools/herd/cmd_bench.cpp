// herd bench: prefill and decode throughput of a model on this machine, with the decode
// roofline: bytes read per token (weights touched + KV cache), achieved GB/s, and that as a share
// of the memory bandwidth measured in the same run by a STREAM-like read probe (the fastest of its
// read loops; the plain loop's figure is printed too).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <vector>

#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "core/huge_buffer.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "model/decode_layout.h"
#include "model/decode_steps.h"
#include "model/text_model.h"
#include "runtime/format.h"
#include "runtime/kv_fill.h"
#include "runtime/machine_probe.h"
#include "model_options.h"
#include "kv/paged_kv_cache.h"
#include <fstream>
#include <string>
#include "runtime/sampler.h"

namespace herd::cli {
namespace {

struct BenchArgs {
  LoadFlags load;
  std::string model;
  int64_t prompt = 512, gen = 128, depth = 0, fill_kv = 0;
  KVFlags kv;
  int threads = 0, reps = 3;
  bool json = false;
  bool steps = false;  // per-step decode timers (model/decode_steps.h)
  SamplingParams sampling;  // greedy unless --temp: the decode loop's choice of each token
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

size_t matrix_bytes(const WeightMatrix& w) {
  return w.empty() ? 0 : static_cast<size_t>(w.rows) * dtype_row_bytes(w.type, w.cols);
}

// Weight bytes one decode token reads: every dense matrix, the router, top_k routed experts per
// MoE layer, one embedding row and the whole output matrix.
double weight_bytes_per_token(const TextModel& m) {
  const ModelConfig& c = m.config();
  const ModelWeights& w = m.weights();
  double b = static_cast<double>(dtype_row_bytes(w.embed.type, w.embed.cols)) + matrix_bytes(w.lm_head);
  for (const LayerWeights& L : w.layers) {
    b += matrix_bytes(L.q) + matrix_bytes(L.k) + matrix_bytes(L.v) + matrix_bytes(L.o);
    b += matrix_bytes(L.shared.gate) + matrix_bytes(L.shared.up) + matrix_bytes(L.shared.down);
    if (L.moe) {
      b += matrix_bytes(L.router);
      const FfnWeights& e = L.experts[0];
      b += static_cast<double>(c.top_k) * (matrix_bytes(e.gate) + matrix_bytes(e.up) + matrix_bytes(e.down));
    }
  }
  return b;
}

// KV bytes read by one decode token at position pos, at the cache's storage types.
double kv_bytes_at(const ModelConfig& c, int64_t pos, double bytes_per_token_layer) {
  double b = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    int64_t visible = pos + 1;
    if (c.is_chunked(l)) visible = pos % c.chunk_size + 1;
    b += static_cast<double>(visible) * bytes_per_token_layer;
  }
  return b;
}

// Peak resident memory of this process (VmHWM), bytes.
int64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return 0;
}

std::string format_number(float v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", static_cast<double>(v));
  return b;
}

// "greedy", or the sampler's settings that are in effect.
std::string sampling_text(const SamplingParams& p) {
  if (p.temperature <= 0.0f && p.repetition_penalty == 1.0f) return "greedy";
  std::string s = p.temperature <= 0.0f ? "greedy" : "temperature " + format_number(p.temperature);
  if (p.temperature > 0.0f && p.top_k > 0) s += ", top-k " + std::to_string(p.top_k);
  if (p.temperature > 0.0f && p.top_p < 1.0f) s += ", top-p " + format_number(p.top_p);
  if (p.temperature > 0.0f && p.min_p > 0.0f) s += ", min-p " + format_number(p.min_p);
  if (p.repetition_penalty != 1.0f) s += ", repeat penalty " + format_number(p.repetition_penalty);
  return s;
}

void run_bench(const BenchArgs& a) {
  Sampler{a.sampling};  // bad settings fail here, before the model loads
  apply_threads(a.threads);
  if (a.prompt < 0 || a.gen < 1 || a.reps < 1 || a.depth < 0 || a.fill_kv < 0)
    fail("-n and -r must be positive; -p, -d and --fill-kv not negative");
  if (a.fill_kv > 0 && a.depth > 0) fail("give either -d (real prefill) or --fill-kv (synthetic KV), not both");
  const KVOptions kvo = a.kv.options();
  const std::string model_path = a.model.empty() ? default_model_dir() : a.model;
  const FileAccess access = a.load.access(model_path);
  auto model = TextModel::load(model_path, access);
  const ModelConfig& c = model->config();
  const int64_t V = c.vocab_size;
  const int threads = ThreadPool::global().size();

  // Deterministic ids spread over the vocabulary (no tokenizer needed).
  auto ids_for = [&](int64_t n, int64_t salt) {
    std::vector<int32_t> ids(n);
    for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 7919 + 13 + salt * 104729) % V);
    return ids;
  };
  HugeVector<float> logits(V);  // as the generator's (runtime/generator.h)

  // Warm-up: fault in the mapped weights (a prompt routes through most experts).
  {
    auto cache = model->new_cache(kvo);
    auto ids = ids_for(std::max<int64_t>(1, std::min<int64_t>(a.prompt, 256)), 99);
    model->forward(ids.data(), static_cast<int64_t>(ids.size()), *cache, logits.data(), false);
  }

  decode_steps::clear();
  std::vector<double> prefill_tps, decode_tps;
  // Every decode token's time: the mean (tok/s) carries the host's stalls, the median shows the
  // engine's typical token (on a shared VM the two differ by a few percent).
  std::vector<double> token_ms;
  int64_t kv_ram = 0, kv_disk = 0;
  for (int r = 0; r < a.reps; ++r) {
    auto t0 = Clock::now();
    if (a.prompt > 0) {
      auto ids = ids_for(a.prompt, r);
      auto cache = model->new_cache(kvo);
      t0 = Clock::now();
      model->forward(ids.data(), a.prompt, *cache, logits.data(), false);
      prefill_tps.push_back(static_cast<double>(a.prompt) / seconds_since(t0));
    }

    // Decode after `depth` tokens of context (at least one), or after --fill-kv synthetic positions
    // (random keys and values written straight into the cache: a timing device, not a model state).
    auto dcache = model->new_cache(kvo);
    if (a.fill_kv > 0) fill_kv_synthetic(c, *dcache, a.fill_kv, static_cast<uint64_t>(r) + 1);
    auto ctx = ids_for(a.fill_kv > 0 ? 1 : std::max<int64_t>(a.depth, 1), r + 7);
    // As the generator does (and llama.cpp, which allocates its whole context): room for the
    // context and every decode token now, not ring growth inside the timed loop.
    dcache->reserve(dcache->n_positions() + static_cast<int64_t>(ctx.size()) + a.gen);
    model->forward(ctx.data(), static_cast<int64_t>(ctx.size()), *dcache, logits.data(), false);
    kv_ram = dcache->memory_use().ram_bytes;
    kv_disk = dcache->memory_use().disk_bytes;
    Sampler sampler(a.sampling);  // argmax at temperature 0
    std::vector<int32_t> history = ctx;
    history.reserve(ctx.size() + static_cast<size_t>(a.gen));
    decode_steps::enable(a.steps);
    t0 = Clock::now();
    for (int64_t i = 0; i < a.gen; ++i) {
      const auto t_token = Clock::now();
      decode_steps::begin();
      int32_t next = sampler.sample(logits.data(), V, history);
      history.push_back(next);
      decode_steps::mark(decode_steps::Step::Sample);
      model->forward(&next, 1, *dcache, logits.data(), false);
      token_ms.push_back(seconds_since(t_token) * 1e3);
    }
    decode_tps.push_back(static_cast<double>(a.gen) / seconds_since(t0));
    decode_steps::enable(false);
  }

  const int64_t start = a.fill_kv > 0 ? a.fill_kv + 1 : std::max<int64_t>(a.depth, 1);
  const double kv_row = static_cast<double>(PagedKVCache(c, kvo).bytes_per_token_layer());
  double kv = 0;
  for (int64_t i = 0; i < a.gen; ++i) kv += kv_bytes_at(c, start + i, kv_row);
  kv /= static_cast<double>(a.gen);
  const double wbytes = weight_bytes_per_token(*model);
  const double pf = prefill_tps.empty() ? 0.0 : median(prefill_tps), dc = median(decode_tps);
  const int64_t rss = peak_rss_bytes();  // before the probe's own 1 GiB buffer
  const ReadBandwidth probe = measure_read_bandwidth(size_t{1} << 30);
  const double probe_gbs = probe.best / 1e9, plain_gbs = probe.plain / 1e9;
  const double gbs = (wbytes + kv) * dc / 1e9;
  std::sort(token_ms.begin(), token_ms.end());
  const double tok_p50 = median(token_ms), tok_p90 = token_ms[std::min(token_ms.size() - 1, token_ms.size() * 9 / 10)];
  const double gbs_p50 = (wbytes + kv) / (tok_p50 * 1e-3) / 1e9;  // at the median token

  if (a.json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["threads"] = threads;
    j["kernels"] = kernel_level();
    j["matmul"] = matmul_exact() ? "exact" : "fast";
    j["weights"] = access == FileAccess::Ram ? "ram" : "mmap";
    j["decode_layout_matrices"] = count_decode_layout(model->weights());
    j["prompt"] = a.prompt;
    j["gen"] = a.gen;
    j["depth"] = a.depth;
    j["reps"] = a.reps;
    j["prefill_tps"] = prefill_tps;
    j["decode_tps"] = decode_tps;
    j["prefill_tps_median"] = pf;
    j["decode_tps_median"] = dc;
    j["weight_bytes_per_token"] = wbytes;
    j["kv_bytes_per_token"] = kv;
    j["decode_gbs"] = gbs;
    j["probe_read_gbs"] = probe_gbs;
    j["decode_pct_of_probe"] = 100.0 * gbs / probe_gbs;
    j["decode_token_ms_p50"] = tok_p50;
    j["decode_token_ms_p90"] = tok_p90;
    j["decode_pct_of_probe_at_median_token"] = 100.0 * gbs_p50 / probe_gbs;
    j["probe_plain_read_gbs"] = plain_gbs;
    j["decode_pct_of_plain_probe"] = 100.0 * gbs / plain_gbs;
    j["fill_kv"] = a.fill_kv;
    j["kv_type_k"] = kv_type_name(kvo.k_type);
    j["kv_type_v"] = kv_type_name(kvo.v_type);
    j["kv_ram_bytes"] = kv_ram;
    j["kv_disk_bytes"] = kv_disk;
    j["peak_rss_bytes"] = rss;
    j["sampling"] = sampling_text(a.sampling);
    if (a.steps) {
      nlohmann::ordered_json st = nlohmann::ordered_json::array();
      for (const auto& x : decode_steps::summarize())
        st.push_back({{"step", decode_steps::name(x.step)}, {"n", x.n}, {"mean_us", x.mean_us}, {"p50_us", x.p50_us},
                      {"p90_us", x.p90_us}, {"p99_us", x.p99_us}, {"max_us", x.max_us}});
      j["decode_steps"] = st;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model            %s\n", a.model.c_str());
  std::printf("threads          %d (kernels %s, matmul %s; weights %s, %d matrices in the decode layout)\n", threads,
              kernel_level(), matmul_exact() ? "exact" : "fast", access == FileAccess::Ram ? "read into memory" : "memory-mapped",
              count_decode_layout(model->weights()));
  std::printf("prefill          %.1f tok/s  (median of %d, %lld tokens)\n", pf, a.reps, static_cast<long long>(a.prompt));
  std::printf("decode           %.2f tok/s  (median of %d, %lld tokens after %lld of context%s)\n", dc, a.reps,
              static_cast<long long>(a.gen), static_cast<long long>(start),
              a.fill_kv > 0 ? ", SYNTHETIC KV from --fill-kv" : "");
  std::printf("sampling         %s\n", sampling_text(a.sampling).c_str());
  std::printf("KV cache         %s/%s, %s in RAM, %s on disk; peak RSS %s\n", kv_type_name(kvo.k_type),
              kv_type_name(kvo.v_type), human_bytes(kv_ram).c_str(), human_bytes(kv_disk).c_str(), human_bytes(rss).c_str());
  std::printf("bytes per token  %s weights + %s KV\n", human_bytes(static_cast<int64_t>(wbytes)).c_str(),
              human_bytes(static_cast<int64_t>(kv)).c_str());
  std::printf("decode traffic   %.2f GB/s = %.1f%% of the %.2f GB/s read bandwidth measured now\n", gbs,
              100.0 * gbs / probe_gbs, probe_gbs);
  std::printf("                 (%.1f%% of the %.2f GB/s the plain read loop alone reaches, without prefetch)\n",
              100.0 * gbs / plain_gbs, plain_gbs);
  std::printf("median token     %.2f ms (%.2f tok/s, %.1f%% of that bandwidth); p90 %.2f ms\n", tok_p50, 1e3 / tok_p50,
              100.0 * gbs_p50 / probe_gbs, tok_p90);
  if (a.steps) {
    // Per step, over every decode token of every repetition (layer steps once per layer).
    std::printf("decode steps     (us)       n      mean     p50     p90     p99      max\n");
    double per_token = 0;
    for (const auto& x : decode_steps::summarize()) {
      std::printf("  %-18s %9lld %9.1f %7.1f %7.1f %7.1f %8.1f\n", decode_steps::name(x.step), static_cast<long long>(x.n),
                  x.mean_us, x.p50_us, x.p90_us, x.p99_us, x.max_us);
      per_token += x.mean_us * static_cast<double>(x.n);
    }
    per_token /= static_cast<double>(token_ms.size());
    std::printf("  steps sum to %.2f ms per token on average (the tokens took %.2f ms)\n", per_token / 1e3, 1e3 / dc);
  }
}

CommandRegistrar reg(70, [](CLI::App& root) {
  auto a = std::make_shared<BenchArgs>();
  auto* sub = root.add_subcommand("bench", "prefill / decode speed and the decode memory-bandwidth roofline");
  sub->add_option("-m,--model", a->model, "model directory or .gguf file");
  add_load_options(sub, a->load);
  sub->add_option("-p,--prompt", a->prompt, "prefill tokens")->capture_default_str();
  sub->add_option("-n,--gen", a->gen, "decode tokens")->capture_default_str();
  sub->add_option("-d,--depth", a->depth, "context tokens before decoding")->capture_default_str();
  sub->add_option("--fill-kv", a->fill_kv,
                  "decode after N SYNTHETIC cache positions (random keys/values, no prefill): timing at depths prefill cannot reach");
  add_kv_options(sub, a->kv);
  sub->add_option("-r,--reps", a->reps, "repetitions (medians are reported)")->capture_default_str();
  sub->add_flag("--json", a->json, "one JSON object on stdout");
  sub->add_flag("--steps", a->steps,
                "also time every step of every decode token (norms, products, attention, routing, output matrix): "
                "mean and percentiles per step");
  add_sampling_options(sub, a->sampling);
  add_threads_option(sub, a->threads);
  sub->callback([a] { run_bench(*a); });
});

}  // namespace
}  // namespace herd::cli
