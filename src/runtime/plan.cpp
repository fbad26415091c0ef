#include "runtime/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "runtime/format.h"

namespace herd {

double weight_type_bytes_per_param(const std::string& t) {
  if (t == "f32") return 4;
  if (t == "bf16" || t == "f16") return 2;
  if (t == "q8_0") return 34.0 / 32;
  if (t == "q4_0") return 18.0 / 32;
  if (t == "q4_1") return 20.0 / 32;
  if (t == "q5_0") return 22.0 / 32;
  if (t == "q4_k") return 144.0 / 256;
  if (t == "q5_k") return 176.0 / 256;
  if (t == "q6_k") return 210.0 / 256;
  if (t == "q4_k_m") return 4.89 / 8;  // llama-quantize's mixture: about 4.89 bits per weight
  fail("unknown weight type '", t, "' (f32, bf16, f16, q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k, q4_k_m)");
}

PlanResult make_plan(const PlanInput& in) {
  const ModelConfig& c = in.config;
  if (in.context < 1) fail("--context must be at least 1");
  if (in.batch < 1) fail("--batch must be at least 1");
  PlanResult r;
  for (auto& [_, b] : in.weight_bytes_by_type) r.weight_bytes += b;
  const int block = kv_block_size(c.head_dim);
  r.kv_bytes_per_token_layer = static_cast<int64_t>(c.n_kv_heads) *
                               static_cast<int64_t>(kv_row_bytes(in.k_type, c.head_dim, block) + kv_row_bytes(in.v_type, c.head_dim, block));
  for (int l = 0; l < c.n_layers; ++l) (c.is_chunked(l) ? r.n_chunked_layers : r.n_global_layers)++;
  const int64_t N = in.context, bpt = r.kv_bytes_per_token_layer;
  const int64_t window = c.chunk_size > 0 ? std::min(N, c.chunk_size) : N;
  r.kv_naive = N * bpt * c.n_layers;
  r.kv_chunk_aware = N * bpt * r.n_global_layers + window * bpt * r.n_chunked_layers;
  const int64_t ring = c.chunk_size > 0 ? std::min(N, c.chunk_size + in.prefill_slice - 1) : N;
  const int64_t paged = (N + in.page_tokens - 1) / in.page_tokens * in.page_tokens;
  r.kv_herd = paged * bpt * r.n_global_layers + ring * bpt * r.n_chunked_layers;
  r.kv_herd_total = r.kv_herd * in.batch;

  // Activations of one prefill slice: residual, norm, q/k/v/attention, FFN gate/up/act, logits.
  const int64_t S = std::min(in.prefill_slice, N) * in.batch;
  const int64_t qd = static_cast<int64_t>(c.n_heads) * c.head_dim, kvd = static_cast<int64_t>(c.n_kv_heads) * c.head_dim;
  const int64_t F = std::max(c.expert_ffn, c.dense_ffn);
  r.activation_bytes = 4 * (S * (4 * c.hidden_size + 2 * qd + 2 * kvd + 3 * F) + in.batch * c.vocab_size);

  // Tiers. Chunk rings and activations must be in RAM; the memory-mapped weights take what RAM is
  // left (any excess stays in the model file and streams from disk every token); global-layer KV
  // pages take the rest, then spill to the disk tier.
  const int64_t rings = ring * bpt * r.n_chunked_layers * in.batch;
  const int64_t pages = paged * bpt * r.n_global_layers * in.batch;
  const bool unlimited = in.ram_bytes <= 0;
  const int64_t after_fixed = unlimited ? INT64_MAX : in.ram_bytes - rings - r.activation_bytes;
  r.weights_in_ram = std::clamp<int64_t>(after_fixed, 0, r.weight_bytes);
  r.weights_fit_ram = r.weights_in_ram == r.weight_bytes;
  const int64_t for_pages = unlimited ? pages : std::clamp<int64_t>(after_fixed - r.weights_in_ram, 0, pages);
  r.kv_in_ram = rings + for_pages;
  r.kv_on_disk = pages - for_pages;
  r.fits = after_fixed >= 0 && r.kv_on_disk <= std::max<int64_t>(in.disk_bytes, 0);
  if (after_fixed < 0)
    r.verdict = "does not fit: the chunk rings and activations alone exceed the RAM given";
  else if (!r.fits)
    r.verdict = cat("does not fit: ", human_bytes(r.kv_on_disk), " of KV pages would spill but only ",
                    human_bytes(std::max<int64_t>(in.disk_bytes, 0)), " of disk was given (--disk)");
  else if (r.kv_on_disk > 0 || !r.weights_fit_ram)
    r.verdict = cat("fits using the disk: ", r.weights_fit_ram ? "" : cat(human_bytes(r.weight_bytes - r.weights_in_ram), " of weights stream from the model file; "),
                    r.kv_on_disk > 0 ? cat(human_bytes(r.kv_on_disk), " of KV pages spill to the disk tier") : "");
  else
    r.verdict = "fits in RAM";

  // Time. Prefill: 2 FLOPs per active parameter per token plus attention (QK and AV: 4*d per
  // visible key per head). Decode: every active weight byte and every visible KV byte is read once
  // per step; for a batch, routed experts are shared by tokens that pick the same expert.
  double attn_flops = 0;
  const double per_key = 4.0 * c.head_dim * c.n_heads;
  for (int l = 0; l < c.n_layers; ++l) {
    if (c.is_chunked(l)) {
      const double C = static_cast<double>(c.chunk_size);
      const double full = std::floor(N / C), rem = N - full * C;
      attn_flops += per_key * (full * C * (C + 1) / 2 + rem * (rem + 1) / 2);
    } else {
      attn_flops += per_key * static_cast<double>(N) * (N + 1) / 2;
    }
  }
  const double active_params = static_cast<double>(c.params_active());
  if (in.flops > 0) r.prefill_seconds = (2.0 * active_params * N + attn_flops) / in.flops;
  const int64_t chunk_fill = c.chunk_size > 0 ? (N % c.chunk_size) + 1 : N;
  const int64_t kv_read = in.batch * bpt * (N * r.n_global_layers + std::min(N, chunk_fill) * r.n_chunked_layers);
  int64_t weights_read = in.weight_bytes_active;
  if (in.batch > 1 && c.n_experts > 0) {
    // Extra experts touched by a batch: up to min(E, batch*k) distinct experts per MoE layer.
    int64_t moe_layers = 0;
    for (int l = 0; l < c.n_layers; ++l) moe_layers += c.is_moe(l);
    const double per_expert = r.weight_bytes > 0 ? static_cast<double>(r.weight_bytes) / static_cast<double>(c.params_total()) *
                                                       3.0 * static_cast<double>(c.hidden_size * c.expert_ffn)
                                                 : 0.0;
    const int64_t distinct = std::min<int64_t>(c.n_experts, in.batch * c.top_k);
    weights_read += static_cast<int64_t>(per_expert * static_cast<double>(moe_layers * (distinct - c.top_k)));
  }
  r.decode_bytes_per_step = weights_read + kv_read;
  const double disk_share = pages > 0 ? static_cast<double>(r.kv_on_disk) / static_cast<double>(pages) : 0.0;
  const double kv_global_read = static_cast<double>(in.batch * bpt * N * r.n_global_layers);
  const double weight_disk_share = r.weight_bytes > 0 ? 1.0 - static_cast<double>(r.weights_in_ram) / static_cast<double>(r.weight_bytes) : 0.0;
  const double from_disk = kv_global_read * disk_share + static_cast<double>(weights_read) * weight_disk_share;
  if (in.mem_bw > 0) {
    // Weights and KV each at the rate herd's kernels reach on them (when measured), else at the
    // raw memory bandwidth; what streams from disk at the disk's rate.
    const double w_bw = in.weight_read_bw > 0 ? in.weight_read_bw : in.mem_bw;
    const double kv_bw = in.kv_read_bw > 0 ? in.kv_read_bw : in.mem_bw;
    const double w_ram = static_cast<double>(weights_read) * (1.0 - weight_disk_share);
    const double kv_ram = static_cast<double>(kv_read) - kv_global_read * disk_share;
    r.decode_seconds_per_step = w_ram / w_bw + kv_ram / kv_bw;
    if (from_disk > 0) r.decode_seconds_per_step += in.disk_bw > 0 ? from_disk / in.disk_bw : INFINITY;
    r.decode_tokens_per_second = in.batch / r.decode_seconds_per_step;
  }
  if (in.usd_per_hour > 0) {
    if (r.decode_tokens_per_second > 0) r.usd_per_million_decode = in.usd_per_hour / 3600.0 / r.decode_tokens_per_second * 1e6;
    if (r.prefill_seconds > 0) r.usd_per_million_prefill = in.usd_per_hour / 3600.0 * r.prefill_seconds / N * 1e6;
  }
  return r;
}

std::string render_plan(const PlanInput& in, const PlanResult& r) {
  const ModelConfig& c = in.config;
  std::ostringstream o;
  char buf[256];
  o << "model          " << c.architecture << ": " << human_count(c.params_total()) << " parameters, "
    << human_count(c.params_active()) << " active per token\n";
  o << "context        " << in.context << " tokens x " << in.batch << " sequence(s), KV " << kv_type_name(in.k_type) << "/"
    << kv_type_name(in.v_type) << "\n\n";
  o << "weights        ";
  for (auto& [t, b] : in.weight_bytes_by_type) o << t << " " << human_bytes(b) << "  ";
  o << "(total " << human_bytes(r.weight_bytes) << ", " << human_bytes(in.weight_bytes_active) << " read per token)\n";
  o << "KV per token   " << r.kv_bytes_per_token_layer << " B per layer; " << r.n_global_layers << " global layers keep every position, "
    << r.n_chunked_layers << " chunked layers keep one chunk of " << c.chunk_size << "\n";
  auto gib = [](int64_t b) { return cat(std::to_string(static_cast<double>(b) / (1024.0 * 1024 * 1024)).substr(0, 12), " GiB"); };
  std::snprintf(buf, sizeof buf, "KV naive       %s (%lld B): all %d layers keep all positions\n", gib(r.kv_naive).c_str(),
                static_cast<long long>(r.kv_naive), c.n_layers);
  o << buf;
  std::snprintf(buf, sizeof buf, "KV chunk-aware %s (%lld B), %.2fx smaller\n", gib(r.kv_chunk_aware).c_str(),
                static_cast<long long>(r.kv_chunk_aware), static_cast<double>(r.kv_naive) / static_cast<double>(r.kv_chunk_aware));
  o << buf;
  o << "KV herd        " << human_bytes(r.kv_herd) << " per sequence as allocated (rings of chunk + " << in.prefill_slice - 1
    << " positions, pages of " << in.page_tokens << "); " << human_bytes(r.kv_herd_total) << " for the batch\n";
  o << "activations    " << human_bytes(r.activation_bytes) << " (prefill slice of " << in.prefill_slice << ")\n\n";
  o << "tiers          RAM " << (in.ram_bytes > 0 ? human_bytes(in.ram_bytes) : std::string("unlimited")) << ": weights "
    << human_bytes(r.weights_in_ram) << ", KV " << human_bytes(r.kv_in_ram) << "; disk "
    << (in.disk_bytes > 0 ? human_bytes(in.disk_bytes) : std::string("none")) << ": KV " << human_bytes(r.kv_on_disk) << "\n";
  o << "verdict        " << r.verdict << "\n\n";
  std::snprintf(buf, sizeof buf, "machine        memory %.2f GB/s, compute %.2f GFLOP/s, disk %.2f GB/s\n", in.mem_bw / 1e9,
                in.flops / 1e9, in.disk_bw / 1e9);
  o << buf;
  if (in.weight_read_bw > 0 || in.kv_read_bw > 0) {
    std::snprintf(buf, sizeof buf, "herd kernels   weights read at %.2f GB/s, KV read at %.2f GB/s (measured now)\n",
                  in.weight_read_bw / 1e9, in.kv_read_bw / 1e9);
    o << buf;
  }
  std::snprintf(buf, sizeof buf, "prefill        %.4g s (%.3g h) for %lld tokens (%.4g tok/s)\n", r.prefill_seconds, r.prefill_seconds / 3600,
                static_cast<long long>(in.context), in.context / std::max(r.prefill_seconds, 1e-12));
  o << buf;
  std::snprintf(buf, sizeof buf, "decode         %.4g tok/s aggregate at full context, %.4g s per step (%s read per step)\n",
                r.decode_tokens_per_second, r.decode_seconds_per_step, human_bytes(r.decode_bytes_per_step).c_str());
  o << buf;
  if (in.usd_per_hour > 0) {
    std::snprintf(buf, sizeof buf, "cost           $%.4f per million generated tokens, $%.4f per million prompt tokens at $%.2f/hour\n",
                  r.usd_per_million_decode, r.usd_per_million_prefill, in.usd_per_hour);
    o << buf;
  }
  return o.str();
}

}  // namespace herd
