// AMX detection and permission (plain x86-64 code: this file is built without ISA flags so that
// calling it is safe on any CPU).
#include <cstdlib>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/qgemm_amx.h"

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace herd {

namespace {

bool amx_granted() {
#if defined(__x86_64__) && defined(__linux__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool tile = d & (1u << 24), int8 = d & (1u << 25);
  if (!tile || !int8) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & (3u << 17)) != (3u << 17)) return false;  // XTILECFG and XTILEDATA enabled by the OS
  // Linux 5.16+: tile data is off until the process asks for it (process-wide, all threads).
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

bool use_amx() {
  static const bool on = [] {
    if (const char* env = std::getenv("HERD_AMX"))
      if (!std::strcmp(env, "0")) return false;
    return use_avx512() && cpu_features().avx512vnni && amx_granted();
  }();
  return on;
}

QGemmFn amx_qgemm_kernel(DType w) { return use_amx() ? amx::qgemm_kernel(w) : nullptr; }
QGemmFn amx_qgemm_interleaved_kernel(DType w) { return use_amx() ? amx::qgemm_interleaved_kernel(w) : nullptr; }

}  // namespace herd
