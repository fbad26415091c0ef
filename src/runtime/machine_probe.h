#pragma once
// Quick measurements of this machine for planning and benchmarks: memory read bandwidth
// (STREAM-like, all worker threads), matmul FLOP/s with herd's own kernel, and disk read bandwidth.
#include <string>

namespace herd {

double measure_memory_bandwidth(size_t bytes = size_t{512} << 20);  // bytes/s, best of a few passes
double measure_matmul_flops(bool bf16_weights = true);                // FLOP/s of herd's matmul
// Bytes/s herd's own decode kernels reach: a one-token matmul over `bytes` of weights of type t,
// and one decode-attention step over a KV cache of `bytes` (8 KV heads x 128, global layer).
double measure_matvec_bandwidth(const std::string& weight_type, size_t bytes = size_t{256} << 20);
double measure_attention_bandwidth(const std::string& kv_type, size_t bytes = size_t{256} << 20);
double measure_disk_bandwidth(const std::string& dir, size_t bytes = size_t{256} << 20);  // cold sequential read
int64_t physical_memory_bytes();

}  // namespace herd
