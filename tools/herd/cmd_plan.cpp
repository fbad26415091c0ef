// herd plan: predict memory and time for a model at a given context before running it.
#include <cctype>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "formats/hf_config.h"
#include "formats/hf_model_loader.h"
#include "model/presets.h"
#include "runtime/format.h"
#include "runtime/machine_probe.h"
#include "runtime/plan.h"

namespace herd::cli {
namespace {

struct PlanArgs {
  std::string model, preset, weights = "bf16", kv_type = "bf16", kv_type_k, kv_type_v, ram, disk, disk_dir;
  int64_t context = 8192, batch = 1, slice = 512, page = 256;
  double mem_bw = 0, flops = 0, disk_bw = 0, usd = 0;
  bool json = false;
};

int64_t matrix_bytes(const WeightMatrix& w) {
  return w.empty() ? 0 : w.rows * w.cols * static_cast<int64_t>(dtype_size(w.type));
}

void plan(const PlanArgs& a) {
  PlanInput in;
  if (!a.preset.empty() == !a.model.empty()) fail("give exactly one of -m MODEL_DIR and --preset scout|maverick|mini-scout|tiny");
  const bool has_weights = !a.model.empty() && (std::filesystem::exists(a.model + "/model.safetensors") ||
                                                std::filesystem::exists(a.model + "/model.safetensors.index.json"));
  if (has_weights) {
    LoadedWeights lw = load_hf_model(a.model);
    in.config = lw.config;
    const ModelWeights& w = lw.weights;
    auto add = [&](const WeightMatrix& m) {
      if (!m.empty()) in.weight_bytes_by_type[dtype_name(m.type)] += matrix_bytes(m);
    };
    add(w.embed);
    if (w.lm_head.data != w.embed.data) add(w.lm_head);
    in.weight_bytes_active = matrix_bytes(w.lm_head);
    for (auto& L : w.layers) {
      for (auto* m : {&L.q, &L.k, &L.v, &L.o, &L.router, &L.shared.gate, &L.shared.up, &L.shared.down}) {
        add(*m);
        in.weight_bytes_active += matrix_bytes(*m);
      }
      for (auto& e : L.experts) add(e.gate), add(e.up), add(e.down);
      if (!L.experts.empty())
        in.weight_bytes_active += in.config.top_k * (matrix_bytes(L.experts[0].gate) + matrix_bytes(L.experts[0].up) +
                                                     matrix_bytes(L.experts[0].down));
    }
  } else {
    in.config = a.preset.empty() ? load_hf_config(a.model) : preset_config(a.preset);
    const double bpp = weight_type_bytes_per_param(a.weights);
    in.weight_bytes_by_type[a.weights] = static_cast<int64_t>(bpp * static_cast<double>(in.config.params_total()));
    in.weight_bytes_active = static_cast<int64_t>(bpp * static_cast<double>(in.config.params_active()));
  }
  in.context = a.context;
  in.batch = a.batch;
  in.k_type = parse_kv_type(a.kv_type_k.empty() ? a.kv_type : a.kv_type_k);
  in.v_type = parse_kv_type(a.kv_type_v.empty() ? a.kv_type : a.kv_type_v);
  in.prefill_slice = a.slice;
  in.page_tokens = a.page;
  in.ram_bytes = a.ram.empty() ? physical_memory_bytes() : parse_size(a.ram);
  in.disk_bytes = a.disk.empty() ? 0 : parse_size(a.disk);
  // Machine figures: given, or measured now.
  in.mem_bw = a.mem_bw > 0 ? a.mem_bw * 1e9 : measure_memory_bandwidth();
  if (a.mem_bw <= 0) {  // no figure given: also measure what herd's own decode kernels reach
    const std::string wtype = in.weight_bytes_by_type.size() == 1 ? in.weight_bytes_by_type.begin()->first : "bf16";
    std::string lower = wtype;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    in.weight_read_bw = measure_matvec_bandwidth(lower);
    in.kv_read_bw = measure_attention_bandwidth(kv_type_name(in.k_type));
  }
  in.flops = a.flops > 0 ? a.flops * 1e9 : measure_matmul_flops(true);
  in.disk_bw = a.disk_bw * 1e9;
  in.usd_per_hour = a.usd;
  PlanResult r = make_plan(in);
  if (in.disk_bw <= 0 && (r.kv_on_disk > 0 || !r.weights_fit_ram)) {  // something streams from disk: measure it
    in.disk_bw = measure_disk_bandwidth(a.disk_dir);
    r = make_plan(in);
  }
  if (!a.json) {
    std::fputs(render_plan(in, r).c_str(), stdout);
    return;
  }
  nlohmann::ordered_json j;
  j["context"] = in.context;
  j["batch"] = in.batch;
  j["kv_type_k"] = kv_type_name(in.k_type);
  j["kv_type_v"] = kv_type_name(in.v_type);
  j["weight_bytes"] = r.weight_bytes;
  j["weight_bytes_by_type"] = in.weight_bytes_by_type;
  j["weight_bytes_active"] = in.weight_bytes_active;
  j["kv_bytes_per_token_layer"] = r.kv_bytes_per_token_layer;
  j["kv_naive_bytes"] = r.kv_naive;
  j["kv_chunk_aware_bytes"] = r.kv_chunk_aware;
  j["kv_herd_bytes"] = r.kv_herd;
  j["kv_herd_total_bytes"] = r.kv_herd_total;
  j["activation_bytes"] = r.activation_bytes;
  j["kv_in_ram_bytes"] = r.kv_in_ram;
  j["kv_on_disk_bytes"] = r.kv_on_disk;
  j["fits"] = r.fits;
  j["verdict"] = r.verdict;
  j["mem_bw_bytes_per_s"] = in.mem_bw;
  j["flops"] = in.flops;
  j["disk_bw_bytes_per_s"] = in.disk_bw;
  j["weight_read_bw_bytes_per_s"] = in.weight_read_bw;
  j["kv_read_bw_bytes_per_s"] = in.kv_read_bw;
  j["prefill_seconds"] = r.prefill_seconds;
  j["decode_tokens_per_second"] = r.decode_tokens_per_second;
  j["decode_bytes_per_step"] = r.decode_bytes_per_step;
  j["usd_per_million_decode"] = r.usd_per_million_decode;
  j["usd_per_million_prefill"] = r.usd_per_million_prefill;
  std::printf("%s\n", j.dump(2).c_str());
}

CommandRegistrar reg(60, [](CLI::App& root) {
  auto a = std::make_shared<PlanArgs>();
  auto* sub = root.add_subcommand("plan", "predict memory, tiers and speed for a context before running it");
  sub->add_option("-m,--model", a->model, "model directory (config.json, with or without weights)");
  sub->add_option("--preset", a->preset, "scout | maverick | mini-scout | tiny instead of -m");
  sub->add_option("--weights", a->weights, "weight type for presets and config-only directories")->capture_default_str();
  sub->add_option("-c,--context", a->context, "tokens per sequence")->capture_default_str();
  sub->add_option("-b,--batch", a->batch, "concurrent sequences")->capture_default_str();
  sub->add_option("--kv-type", a->kv_type, "KV storage: f32, bf16, f16, q8_0, q4_0")->capture_default_str();
  sub->add_option("--kv-type-k", a->kv_type_k, "key storage (overrides --kv-type)");
  sub->add_option("--kv-type-v", a->kv_type_v, "value storage (overrides --kv-type)");
  sub->add_option("--ram", a->ram, "memory for weights and KV (default: this machine's)");
  sub->add_option("--disk", a->disk, "disk space for spilled KV pages (default: none)");
  sub->add_option("--disk-dir", a->disk_dir, "where to measure disk bandwidth");
  sub->add_option("--mem-bw", a->mem_bw, "memory bandwidth in GB/s (default: measured, with the rates herd's kernels reach)");
  sub->add_option("--flops", a->flops, "compute in GFLOP/s (default: measured)");
  sub->add_option("--disk-bw", a->disk_bw, "disk read bandwidth in GB/s (default: measured when --disk is given)");
  sub->add_option("--usd-per-hour", a->usd, "machine price, for cost per million tokens");
  sub->add_option("--prefill-slice", a->slice, "prompt tokens per forward pass")->capture_default_str();
  sub->add_option("--kv-page", a->page, "positions per KV page")->capture_default_str();
  sub->add_flag("--json", a->json, "machine-readable output");
  sub->callback([a] { plan(*a); });
});

}  // namespace
}  // namespace herd::cli
