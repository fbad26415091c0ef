#pragma once
// Row-wise work of the decoder blocks (norms, RoPE, SiLU, residual adds) split over the global
// thread pool in prefill; one row or a few run inline. Each row is computed exactly as before.
#include <cstdint>

#include "core/thread_pool.h"

namespace herd {

template <typename Fn>
void for_rows(int64_t T, Fn&& fn) {
  constexpr int64_t kGrain = 8;  // rows per block at least
  if (T < 2 * kGrain) fn(int64_t{0}, T);
  else ThreadPool::global().parallel_for(T, kGrain, fn);
}

}  // namespace herd
