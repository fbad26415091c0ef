#include "kernels/qdot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/quants.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"

namespace herd {

using quant::k_scale_min;
using quant::rd32;
using quant::rdf16;

ActKind act_kind(DType w) {
  switch (w) {
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return ActKind::Q8_K;
    default: return ActKind::Q8_0;
  }
}

namespace scalar {
void quantize_act_row(const float* xt, int64_t n, ActKind kind, int8_t* q, float* d, int32_t* s) {
  const int64_t bs = kind == ActKind::Q8_0 ? 32 : 256;
  for (int64_t b = 0; b < n / bs; ++b) {
    const float* xb = xt + b * bs;
    int8_t* qb = q + b * bs;
    if (kind == ActKind::Q8_0) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
      const float dd = amax / 127.0f, id = dd != 0 ? 1.0f / dd : 0.0f;
      int32_t sum = 0;
      for (int j = 0; j < 32; ++j) {
        qb[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
        sum += qb[j];
      }
      d[b] = f16_to_f32(f32_to_f16(dd));
      s[b] = sum;
    } else {
      float mx = 0, amax = 0;
      for (int j = 0; j < 256; ++j)
        if (std::fabs(xb[j]) > amax) amax = std::fabs(xb[j]), mx = xb[j];
      if (amax == 0) {
        std::fill(qb, qb + 256, 0);
        d[b] = 0;
        std::fill(s + b * 16, s + b * 16 + 16, 0);
        continue;
      }
      const float iscale = -127.0f / mx;
      for (int j = 0; j < 256; ++j) qb[j] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(iscale * xb[j]))));
      for (int g = 0; g < 16; ++g) {
        int32_t sum = 0;
        for (int j = 0; j < 16; ++j) sum += qb[16 * g + j];
        s[b * 16 + g] = sum;
      }
      d[b] = 1.0f / iscale;
    }
  }
}
}  // namespace scalar

namespace {

// Sizes `a` for T rows of n values quantized as `kind`.
void size_acts(int64_t T, int64_t n, ActKind kind, QActs& a) {
  const int64_t bs = kind == ActKind::Q8_0 ? 32 : 256;
  if (n % bs != 0) fail("quantize_acts: row length ", n, " is not a multiple of ", bs);
  a.kind = kind;
  a.n = n;
  a.T = T;
  a.q.resize(T * n);
  a.d.resize(T * a.blocks());
  a.sums.resize(T * a.n_sums());
  if (kind == ActKind::Q8_0) a.c4.resize(T * (n / 4));
  else a.c4.clear();
}

// Quantizes rows [t0, t1) of x into `a` (sized by size_acts), with the Q8_0 kernels' per-lane
// offsets (c4).
void quantize_rows(const float* x, int64_t t0, int64_t t1, QActs& a) {
  const int64_t n = a.n;
  const bool vec = use_avx512();
  for (int64_t t = t0; t < t1; ++t) {
    ActRow r = act_row(a, t);
    int8_t* q = const_cast<int8_t*>(r.q);
    float* d = const_cast<float*>(r.d);
    int32_t* s = const_cast<int32_t*>(r.s);
    if (vec) avx512::quantize_act_row(x + t * n, n, a.kind, q, d, s);
    else scalar::quantize_act_row(x + t * n, n, a.kind, q, d, s);
    if (a.kind == ActKind::Q8_0) {
      int32_t* c = a.c4.data() + t * (n / 4);
      for (int64_t i = 0; i < n / 4; ++i) c[i] = -128 * (q[4 * i] + q[4 * i + 1] + q[4 * i + 2] + q[4 * i + 3]);
    }
  }
}

}  // namespace

void quantize_acts(const float* x, int64_t T, int64_t n, ActKind kind, QActs& a) {
  size_acts(T, n, kind, a);
  quantize_rows(x, 0, T, a);
}

namespace scalar {
namespace {

// 32-element block types: integer dot per block, then scaled (and the min term for Q4_1/Q5_1).
template <DType TYPE>
float dot32(int64_t n, const uint8_t* w, const ActRow& a) {
  constexpr size_t bb = TYPE == DType::Q8_0 ? 34 : TYPE == DType::Q4_0 ? 18 : TYPE == DType::Q4_1 ? 20 : TYPE == DType::Q5_0 ? 22 : 24;
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = w + b * bb;
    const int8_t* x = a.q + b * 32;
    int32_t si = 0;
    if constexpr (TYPE == DType::Q8_0) {
      for (int j = 0; j < 32; ++j) si += static_cast<int8_t>(blk[2 + j]) * x[j];
      sum += static_cast<float>(si) * (rdf16(blk) * a.d[b]);
    } else if constexpr (TYPE == DType::Q4_0 || TYPE == DType::Q4_1) {
      const uint8_t* qs = blk + (TYPE == DType::Q4_0 ? 2 : 4);
      for (int j = 0; j < 16; ++j) si += (qs[j] & 15) * x[j] + (qs[j] >> 4) * x[j + 16];
      if constexpr (TYPE == DType::Q4_0) {
        si -= 8 * a.s[b];
        sum += static_cast<float>(si) * (rdf16(blk) * a.d[b]);
      } else {
        sum += static_cast<float>(si) * (rdf16(blk) * a.d[b]) + rdf16(blk + 2) * (a.d[b] * static_cast<float>(a.s[b]));
      }
    } else {  // Q5_0, Q5_1
      const bool one = TYPE == DType::Q5_1;
      const uint32_t qh = rd32(blk + (one ? 4 : 2));
      const uint8_t* qs = blk + (one ? 8 : 6);
      for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 15) | (((qh >> j) & 1) << 4), hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
        si += lo * x[j] + hi * x[j + 16];
      }
      if (!one) {
        si -= 16 * a.s[b];
        sum += static_cast<float>(si) * (rdf16(blk) * a.d[b]);
      } else {
        sum += static_cast<float>(si) * (rdf16(blk) * a.d[b]) + rdf16(blk + 2) * (a.d[b] * static_cast<float>(a.s[b]));
      }
    }
  }
  return sum;
}

template <bool FIVE>
float dot_q45k(int64_t n, const uint8_t* w, const ActRow& a) {
  constexpr size_t bb = FIVE ? 176 : 144;
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * bb;
    const uint8_t* sc = blk + 4;
    const uint8_t* qh = blk + 16;
    const uint8_t* qs = blk + (FIVE ? 48 : 16);
    const int8_t* x = a.q + b * 256;
    const int32_t* bs = a.s + b * 16;
    int32_t si = 0, mi = 0;
    for (int g = 0; g < 4; ++g) {
      uint8_t s0, m0, s1, m1;
      k_scale_min(2 * g, sc, &s0, &m0);
      k_scale_min(2 * g + 1, sc, &s1, &m1);
      int32_t d0 = 0, d1 = 0;
      for (int l = 0; l < 32; ++l) {
        int lo = qs[32 * g + l] & 15, hi = qs[32 * g + l] >> 4;
        if (FIVE) lo += ((qh[l] >> (2 * g)) & 1) << 4, hi += ((qh[l] >> (2 * g + 1)) & 1) << 4;
        d0 += lo * x[64 * g + l];
        d1 += hi * x[64 * g + 32 + l];
      }
      si += s0 * d0 + s1 * d1;
      mi += m0 * (bs[4 * g] + bs[4 * g + 1]) + m1 * (bs[4 * g + 2] + bs[4 * g + 3]);
    }
    sum += a.d[b] * (rdf16(blk) * static_cast<float>(si)) - a.d[b] * (rdf16(blk + 2) * static_cast<float>(mi));
  }
  return sum;
}

float dot_q6k(int64_t n, const uint8_t* w, const ActRow& a) {
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * 210;
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
    const int8_t* x = a.q + b * 256;
    int32_t si = 0;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk + 64 * h;
      const uint8_t* qh = blk + 128 + 32 * h;
      int32_t g[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int l = 0; l < 32; ++l) {
        const int i = l / 16;
        const int8_t* xx = x + 128 * h;
        g[i] += (((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32) * xx[l];
        g[i + 2] += (((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32) * xx[l + 32];
        g[i + 4] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * xx[l + 64];
        g[i + 6] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * xx[l + 96];
      }
      for (int k = 0; k < 8; ++k) si += sc[8 * h + k] * g[k];
    }
    sum += a.d[b] * (rdf16(blk + 208) * static_cast<float>(si));
  }
  return sum;
}

template <float (*F)(int64_t, const uint8_t*, const ActRow&)>
void many(int64_t n, const uint8_t* w, const ActRow* a, int nt, float* out) {
  for (int j = 0; j < nt; ++j) out[j] = F(n, w, a[j]);
}

}  // namespace

QDotFn qdot_kernel(DType t) {
  switch (t) {
    case DType::Q8_0: return many<dot32<DType::Q8_0>>;
    case DType::Q4_0: return many<dot32<DType::Q4_0>>;
    case DType::Q4_1: return many<dot32<DType::Q4_1>>;
    case DType::Q5_0: return many<dot32<DType::Q5_0>>;
    case DType::Q5_1: return many<dot32<DType::Q5_1>>;
    case DType::Q4_K: return many<dot_q45k<false>>;
    case DType::Q5_K: return many<dot_q45k<true>>;
    case DType::Q6_K: return many<dot_q6k>;
    default: return nullptr;
  }
}

}  // namespace scalar

namespace {

bool has_groups(DType w) { return w == DType::Q8_0 || w == DType::Q4_K || w == DType::Q6_K; }

void size_groups(DType w, const QActs& a, QGroups& g) {
  g.G = w == DType::Q6_K ? 16 : 32;
  g.ng = a.n / g.G;
  g.T = a.T;
  g.off.resize(a.T * g.ng);
  g.dx.resize(a.T * g.ng);
  g.fs.resize(a.T * g.ng);
  g.xw.resize(a.n / 4 * a.T);
}

// Tokens [t0, t1) of g from a. Token-minor transposes, blocked so that the writes stay in a few
// cache lines: 16 tokens x one word, and one group x 16 tokens.
void fill_groups(DType w, const QActs& a, QGroups& g, int64_t t0, int64_t t1) {
  const int64_t T = a.T, ng = g.ng, nw = a.n / 4;
  const int32_t offset = w == DType::Q8_0 ? 128 : w == DType::Q6_K ? 32 : 0;
  for (int64_t b0 = t0; b0 < t1; b0 += 16) {
    const int64_t b1 = std::min<int64_t>(t1, b0 + 16);
    for (int64_t c = 0; c < nw; ++c)
      for (int64_t t = b0; t < b1; ++t) std::memcpy(&g.xw[c * T + t], a.q.data() + t * a.n + 4 * c, 4);
  }
  const int64_t nb = a.blocks(), ns = a.n_sums();
  for (int64_t i = 0; i < ng; ++i)
    for (int64_t t = t0; t < t1; ++t) {
      const int32_t* rs = a.sums.data() + t * ns;
      const float* rd = a.d.data() + t * nb;
      int32_t sum;
      float dx;
      if (w == DType::Q8_0) {
        sum = rs[i], dx = rd[i];
      } else if (w == DType::Q4_K) {
        sum = rs[2 * i] + rs[2 * i + 1], dx = rd[i / 8];
      } else {
        sum = rs[i], dx = rd[i / 16];
      }
      g.off[i * T + t] = -offset * sum;
      g.dx[i * T + t] = dx;
      g.fs[i * T + t] = static_cast<float>(sum);
    }
}

}  // namespace

bool make_groups(DType w, const QActs& a, QGroups& g) {
  if (!has_groups(w)) return false;
  size_groups(w, a, g);
  fill_groups(w, a, g, 0, a.T);
  return true;
}

bool quantize_and_group(const float* x, int64_t T, int64_t n, DType w, QActs& a, QGroups& g) {
  if (!has_groups(w)) return false;
  size_acts(T, n, act_kind(w), a);
  size_groups(w, a, g);
  // Blocks of 16 tokens (the transposes' unit), spread over the pool (serial when nested).
  ThreadPool::global().parallel_for((T + 15) / 16, 1, [&](int64_t p0, int64_t p1) {
    const int64_t t0 = p0 * 16, t1 = std::min(T, p1 * 16);
    quantize_rows(x, t0, t1, a);
    fill_groups(w, a, g, t0, t1);
  });
  return true;
}

QGemmFn qgemm_kernel(DType t) {
  if (use_avx512()) return avx512::qgemm_kernel(t);
  return nullptr;
}

QDotRowsFn qdot_rows_kernel(DType t) {
  if (use_avx512()) return avx512::qdot_rows_kernel(t);
  return nullptr;
}

QDotRows16Fn qdot_rows16_kernel(DType t) {
  if (use_avx512()) return avx512::qdot_rows16_kernel(t);
  return nullptr;
}

QDotFn qdot_kernel(DType t) {
  if (use_avx512())
    if (QDotFn f = avx512::qdot_kernel(t)) return f;
  if (use_avx2())
    if (QDotFn f = avx2::qdot_kernel(t)) return f;
  return scalar::qdot_kernel(t);
}

}  // namespace herd
