#pragma once
// Quick measurements of this machine for planning and benchmarks: memory read bandwidth
// (STREAM-like read loops, all worker threads), matmul FLOP/s with herd's own kernel, and disk
// read bandwidth.
#include <string>

namespace herd {

// Read bandwidth in bytes/s: best of a few passes of each read loop (kernels/vec.h ReadLoop) over
// a buffer far larger than the caches; `plain` is the plain loop's alone (what a STREAM-style
// loop without software prefetch reads), `best` that of the fastest loop, the roofline.
struct ReadBandwidth {
  double best = 0, plain = 0;
};
ReadBandwidth measure_read_bandwidth(size_t bytes = size_t{512} << 20);
double measure_memory_bandwidth(size_t bytes = size_t{512} << 20);  // measure_read_bandwidth(bytes).best
double measure_matmul_flops(bool bf16_weights = true);                // FLOP/s of herd's matmul
// Bytes/s herd's own decode kernels reach: a one-token matmul over `bytes` of weights of type t,
// and one decode-attention step over a KV cache of `bytes` (8 KV heads x 128, global layer).
double measure_matvec_bandwidth(const std::string& weight_type, size_t bytes = size_t{256} << 20);
double measure_attention_bandwidth(const std::string& kv_type, size_t bytes = size_t{256} << 20);
double measure_disk_bandwidth(const std::string& dir, size_t bytes = size_t{256} << 20);  // cold sequential read
int64_t physical_memory_bytes();

}  // namespace herd
