#include "kernels/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace herd {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.f16c = __builtin_cpu_supports("f16c");
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
    c.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
    return c;
  }();
  return f;
}

namespace {
int level() {
  static const int l = [] {
    const CpuFeatures& c = cpu_features();
    int best = 0;
    if (c.avx2 && c.fma && c.f16c) best = 1;
    if (best == 1 && c.avx512f && c.avx512bw && c.avx512vl) best = 2;
    if (const char* env = std::getenv("HERD_KERNELS")) {
      if (!std::strcmp(env, "scalar")) best = 0;
      else if (!std::strcmp(env, "avx2") && best > 1) best = 1;
    }
    return best;
  }();
  return l;
}
}  // namespace

const char* kernel_level() {
  static const char* names[] = {"scalar", "avx2", "avx512"};
  return names[level()];
}
bool use_avx2() { return level() >= 1; }
bool use_avx512() { return level() >= 2; }

}  // namespace herd
