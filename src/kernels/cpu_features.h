#pragma once
// What the running CPU supports; kernels pick their implementation from this at run time so one
// binary runs on any x86-64.
namespace herd {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
};

const CpuFeatures& cpu_features();
// Highest kernel level in use: "avx512", "avx2" or "scalar" (HERD_KERNELS=scalar|avx2 forces lower).
const char* kernel_level();
bool use_avx2();
bool use_avx512();

}  // namespace herd
