// herd info: what a model is: config, per-layer schedule, parameter counts, memory needed.
#include <cstdio>
#include <map>

#include "command.h"
#include "core/error.h"
#include "formats/gguf_model_loader.h"
#include "formats/hf_model_loader.h"
#include "model/text_model.h"
#include "runtime/format.h"

namespace herd::cli {
namespace {

void print_info(const std::string& dir) {
  LoadedWeights lw = is_gguf_path(dir) ? load_gguf_model(dir) : load_hf_model(dir);
  const ModelConfig& c = lw.config;
  std::printf("model          %s\n", dir.c_str());
  std::printf("architecture   %s\n", c.architecture.c_str());
  std::printf("vocab          %lld\n", static_cast<long long>(c.vocab_size));
  std::printf("hidden         %lld\n", static_cast<long long>(c.hidden_size));
  std::printf("layers         %d\n", c.n_layers);
  std::printf("heads          %d query, %d key/value (GQA group %d), head_dim %d\n", c.n_heads, c.n_kv_heads,
              c.n_heads / c.n_kv_heads, c.head_dim);
  std::printf("experts        %d routed, top-%d, width %lld, + shared expert\n", c.n_experts, c.top_k,
              static_cast<long long>(c.expert_ffn));
  std::printf("dense FFN      width %lld\n", static_cast<long long>(c.dense_ffn));
  std::printf("rope           theta %g, %s, scaling %s", c.rope_theta,
              c.rope_style == RopeStyle::Interleaved ? "adjacent pairs" : "rotate-half",
              c.rope_scaling.type.empty() ? "none" : c.rope_scaling.type.c_str());
  if (!c.rope_scaling.type.empty())
    std::printf(" (factor %g, low %g, high %g, original %g)", c.rope_scaling.factor, c.rope_scaling.low_freq_factor,
                c.rope_scaling.high_freq_factor, c.rope_scaling.original_max_position);
  std::printf("\n");
  std::printf("attention      chunk %lld on RoPE layers, temperature tuning %s (floor %g, scale %g)\n",
              static_cast<long long>(c.chunk_size), c.attn_temperature_tuning ? "on" : "off", c.floor_scale,
              c.attn_scale);
  std::printf("context        %lld positions\n", static_cast<long long>(c.max_position));
  std::printf("eos ids       ");
  for (auto e : c.eos_ids) std::printf(" %lld", static_cast<long long>(e));
  std::printf("\n\nlayer  position  mask     qk-norm  temp  ffn\n");
  for (int l = 0; l < c.n_layers; ++l)
    std::printf("%5d  %-8s  %-7s  %-7s  %-4s  %s\n", l, c.uses_rope(l) ? "RoPE" : "NoPE",
                c.is_chunked(l) ? "chunked" : "global", c.qk_norm(l) ? "yes" : "no",
                c.temperature_tuned(l) ? "yes" : "no",
                c.is_moe(l) ? cat("MoE ", c.n_experts, "x", c.expert_ffn, " top-", c.top_k, " + shared").c_str()
                            : cat("dense ", c.dense_ffn).c_str());

  const int64_t total = c.params_total(), active = c.params_active();
  std::printf("\nparameters     %s total, %s active per token (%.1f%%)\n", human_count(total).c_str(),
              human_count(active).c_str(), 100.0 * static_cast<double>(active) / static_cast<double>(total));
  // Bytes by stored dtype: what mapping the weights costs in memory.
  std::map<std::string, int64_t> by_type;
  auto add = [&](const WeightMatrix& w) {
    if (!w.empty()) by_type[dtype_name(w.type)] += w.rows * static_cast<int64_t>(dtype_row_bytes(w.type, w.cols));
  };
  const ModelWeights& w = lw.weights;
  add(w.embed);
  if (w.lm_head.data != w.embed.data) add(w.lm_head);
  for (auto& L : w.layers) {
    for (auto* m : {&L.q, &L.k, &L.v, &L.o, &L.router, &L.shared.gate, &L.shared.up, &L.shared.down}) add(*m);
    for (auto& e : L.experts) add(e.gate), add(e.up), add(e.down);
  }
  int64_t weight_bytes = 0;
  std::printf("weights        ");
  for (auto& [t, b] : by_type) {
    std::printf("%s %s  ", t.c_str(), human_bytes(b).c_str());
    weight_bytes += b;
  }
  std::printf("(total %s, memory-mapped)\n", human_bytes(weight_bytes).c_str());
  const int64_t kv_per_token_layer = 2LL * c.n_kv_heads * c.head_dim;
  std::printf("KV cache       %s per token in f32 (%s in bf16) across %d layers\n",
              human_bytes(kv_per_token_layer * 4 * c.n_layers).c_str(),
              human_bytes(kv_per_token_layer * 2 * c.n_layers).c_str(), c.n_layers);
}

CommandRegistrar reg(10, [](CLI::App& root) {
  auto dir = std::make_shared<std::string>();
  auto* sub = root.add_subcommand("info", "show a model's config, layer schedule, parameters and memory");
  sub->add_option("-m,--model", *dir, "model directory (default: the bundled model)");
  sub->callback([dir] { print_info(dir->empty() ? default_model_dir() : *dir); });
});

}  // namespace
}  // namespace herd::cli
