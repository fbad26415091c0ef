#pragma once
// `herd plan`: what a context will cost before running it: weight bytes, KV bytes (naive versus
// herd's chunk-aware layout), activations, which tier holds what, and predicted prefill and decode
// times from memory bandwidth, FLOP/s and disk bandwidth.
#include <cstdint>
#include <map>
#include <string>

#include "kv/kv_types.h"
#include "model/model_config.h"

namespace herd {

struct PlanInput {
  ModelConfig config;
  std::map<std::string, int64_t> weight_bytes_by_type;  // stored bytes per weight type
  int64_t weight_bytes_active = 0;                       // bytes read per token (attention, shared + top-k experts, head)
  int64_t context = 0;                                   // tokens per sequence
  int64_t batch = 1;                                     // sequences
  KVType k_type = KVType::BF16, v_type = KVType::BF16;
  int64_t prefill_slice = 512;
  int64_t page_tokens = 256;
  int64_t ram_bytes = 0, disk_bytes = 0;  // memory available for the model and its KV; disk for spilled pages
  double mem_bw = 0, flops = 0, disk_bw = 0;  // bytes/s, FLOP/s, bytes/s
  // Bytes/s herd's decode kernels reach on weights and on KV (0: use mem_bw for both).
  double weight_read_bw = 0, kv_read_bw = 0;
  double usd_per_hour = 0;
};

struct PlanResult {
  int64_t weight_bytes = 0;
  int64_t kv_bytes_per_token_layer = 0;   // K+V, all KV heads, one layer
  int n_global_layers = 0, n_chunked_layers = 0;
  int64_t kv_naive = 0;           // every layer keeps every position (per sequence)
  int64_t kv_chunk_aware = 0;     // global layers keep all, chunked layers one chunk (spec §8 bound)
  int64_t kv_herd = 0;            // herd's allocation: chunk rings are chunk + slice - 1, pages rounded up
  int64_t kv_herd_total = 0;      // x batch
  int64_t activation_bytes = 0;
  int64_t kv_in_ram = 0, kv_on_disk = 0;
  int64_t weights_in_ram = 0;      // the rest stays in the mapped file and streams from disk
  bool weights_fit_ram = true, fits = true;
  std::string verdict;
  double prefill_seconds = 0;      // whole context, one sequence
  double decode_seconds_per_step = 0;  // one token for each of `batch` sequences, at the full context
  double decode_tokens_per_second = 0; // aggregate over the batch
  double usd_per_million_decode = 0, usd_per_million_prefill = 0;
  int64_t decode_bytes_per_step = 0;  // weights + KV read
};

PlanResult make_plan(const PlanInput& in);
std::string render_plan(const PlanInput& in, const PlanResult& r);

// Bytes per weight for a named storage type (f32, bf16, f16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m).
double weight_type_bytes_per_param(const std::string& type);

}  // namespace herd
