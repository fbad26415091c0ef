#include "runtime/kv_fill.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "runtime/sampler.h"

namespace herd {

void fill_kv_synthetic(const ModelConfig& c, KVCache& cache, int64_t n, uint64_t seed) {
  if (n < 0) fail("--fill-kv must not be negative");
  const int64_t kvd = static_cast<int64_t>(c.n_kv_heads) * c.head_dim;
  constexpr int64_t kSlice = 512;
  Rng rng(seed);
  // One block of random rows reused with a shifting offset: cheap to make, not constant.
  std::vector<float> pool((kSlice + 61) * kvd);
  for (auto& x : pool) x = static_cast<float>(rng.uniform() * 2.0 - 1.0);
  std::vector<int64_t> pos(kSlice);
  const int64_t start = cache.n_positions();
  for (int64_t done = 0; done < n; done += kSlice) {
    const int64_t T = std::min(kSlice, n - done);
    for (int64_t t = 0; t < T; ++t) pos[t] = start + done + t;
    const int64_t shift = (done / kSlice) % 61;
    for (int l = 0; l < c.n_layers; ++l)
      cache.write(l, pos.data(), T, pool.data() + shift * kvd, pool.data() + ((shift + 17) % 61) * kvd);
  }
}

}  // namespace herd
