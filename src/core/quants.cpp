#include "core/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace herd::quant {

namespace {

void wr16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void wr32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
int nearest(float x) { return static_cast<int>(std::lrintf(x)); }
int clampi(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// ---- dequantization (formulas and float32 evaluation order as in ggml) ----

void deq_q8_0(const uint8_t* b, float* y) {
  const float d = rdf16(b);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(b[2 + j]));
}
void deq_q4_0(const uint8_t* b, float* y) {
  const float d = rdf16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 15) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}
void deq_q4_1(const uint8_t* b, float* y) {
  const float d = rdf16(b), m = rdf16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 15) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}
void deq_q5_0(const uint8_t* b, float* y) {
  const float d = rdf16(b);
  const uint32_t qh = rd32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
    y[j] = static_cast<float>(((qs[j] & 15) | h0) - 16) * d;
    y[j + 16] = static_cast<float>(((qs[j] >> 4) | h1) - 16) * d;
  }
}
void deq_q5_1(const uint8_t* b, float* y) {
  const float d = rdf16(b), m = rdf16(b + 2);
  const uint32_t qh = rd32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
    y[j] = static_cast<float>((qs[j] & 15) | h0) * d + m;
    y[j + 16] = static_cast<float>((qs[j] >> 4) | h1) * d + m;
  }
}
void deq_q4_k(const uint8_t* b, float* y) {
  const float d = rdf16(b), dmin = rdf16(b + 2);
  const uint8_t* sc = b + 4;
  const uint8_t* qs = b + 16;
  for (int g = 0; g < 4; ++g) {
    uint8_t s0, m0, s1, m1;
    k_scale_min(2 * g, sc, &s0, &m0);
    k_scale_min(2 * g + 1, sc, &s1, &m1);
    const float d0 = d * s0, mm0 = dmin * m0, d1 = d * s1, mm1 = dmin * m1;
    for (int l = 0; l < 32; ++l) y[64 * g + l] = d0 * static_cast<float>(qs[32 * g + l] & 15) - mm0;
    for (int l = 0; l < 32; ++l) y[64 * g + 32 + l] = d1 * static_cast<float>(qs[32 * g + l] >> 4) - mm1;
  }
}
void deq_q5_k(const uint8_t* b, float* y) {
  const float d = rdf16(b), dmin = rdf16(b + 2);
  const uint8_t* sc = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int g = 0; g < 4; ++g) {
    uint8_t s0, m0, s1, m1;
    k_scale_min(2 * g, sc, &s0, &m0);
    k_scale_min(2 * g + 1, sc, &s1, &m1);
    const float d0 = d * s0, mm0 = dmin * m0, d1 = d * s1, mm1 = dmin * m1;
    for (int l = 0; l < 32; ++l) {
      const int lo = (qs[32 * g + l] & 15) + ((qh[l] >> (2 * g)) & 1) * 16;
      const int hi = (qs[32 * g + l] >> 4) + ((qh[l] >> (2 * g + 1)) & 1) * 16;
      y[64 * g + l] = d0 * static_cast<float>(lo) - mm0;
      y[64 * g + 32 + l] = d1 * static_cast<float>(hi) - mm1;
    }
  }
}
void deq_q6_k(const uint8_t* b, float* y) {
  const float d = rdf16(b + 208);
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b + 64 * h;
    const uint8_t* qh = b + 128 + 32 * h;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * h);
    float* yy = y + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int i = l / 16;
      const int q1 = ((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32;
      const int q2 = ((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32;
      const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
      const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
      yy[l] = d * sc[i] * static_cast<float>(q1);
      yy[l + 32] = d * sc[i + 2] * static_cast<float>(q2);
      yy[l + 64] = d * sc[i + 4] * static_cast<float>(q3);
      yy[l + 96] = d * sc[i + 6] * static_cast<float>(q4);
    }
  }
}

// ---- quantization ----

void q_q8_0(const float* x, uint8_t* b) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
  wr16(b, f32_to_f16(d));
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(clampi(nearest(x[j] * id), -127, 127)));
}

// Signed value of largest magnitude (its sign picks the side that gets the extra level).
float signed_extreme(const float* x, int n) {
  float m = 0;
  for (int j = 0; j < n; ++j)
    if (std::fabs(x[j]) > std::fabs(m)) m = x[j];
  return m;
}

void q_q4_0(const float* x, uint8_t* b) {
  const float d = signed_extreme(x, 32) / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
  wr16(b, f32_to_f16(d));
  for (int j = 0; j < 16; ++j) {
    const int a = clampi(nearest(x[j] * id) + 8, 0, 15), c = clampi(nearest(x[j + 16] * id) + 8, 0, 15);
    b[2 + j] = static_cast<uint8_t>(a | (c << 4));
  }
}
void q_q5_0(const float* x, uint8_t* b) {
  const float d = signed_extreme(x, 32) / -16.0f, id = d != 0 ? 1.0f / d : 0.0f;
  wr16(b, f32_to_f16(d));
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int a = clampi(nearest(x[j] * id) + 16, 0, 31), c = clampi(nearest(x[j + 16] * id) + 16, 0, 31);
    b[6 + j] = static_cast<uint8_t>((a & 15) | ((c & 15) << 4));
    qh |= static_cast<uint32_t>(a >> 4) << j;
    qh |= static_cast<uint32_t>(c >> 4) << (j + 16);
  }
  wr32(b + 2, qh);
}
// Q4_1 / Q5_1: affine over [min, max] with `levels` steps.
void q_affine(const float* x, uint8_t* b, int levels, bool five) {
  float mn = x[0], mx = x[0];
  for (int j = 1; j < 32; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
  const float d = (mx - mn) / levels, id = d != 0 ? 1.0f / d : 0.0f;
  wr16(b, f32_to_f16(d));
  wr16(b + 2, f32_to_f16(mn));
  uint8_t* qs = b + (five ? 8 : 4);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int a = clampi(nearest((x[j] - mn) * id), 0, levels), c = clampi(nearest((x[j + 16] - mn) * id), 0, levels);
    qs[j] = static_cast<uint8_t>((a & 15) | ((c & 15) << 4));
    qh |= static_cast<uint32_t>(a >> 4) << j;
    qh |= static_cast<uint32_t>(c >> 4) << (j + 16);
  }
  if (five) wr32(b + 4, qh);
}

// Q4_K / Q5_K: per sub-block of 32 an affine range [min(0, lo), hi] with `levels` steps; the
// sub-block scales and mins are then quantized to 6 bits against the super-block d and dmin.
void q_kquant(const float* x, uint8_t* b, int levels, bool five) {
  float scale[8], mins[8];
  for (int s = 0; s < 8; ++s) {
    float lo = 0, hi = x[32 * s];
    for (int j = 0; j < 32; ++j) lo = std::min(lo, x[32 * s + j]), hi = std::max(hi, x[32 * s + j]);
    scale[s] = (hi - lo) / levels;
    mins[s] = -lo;
  }
  float smax = 0, mmax = 0;
  for (int s = 0; s < 8; ++s) smax = std::max(smax, scale[s]), mmax = std::max(mmax, mins[s]);
  const uint16_t dh = f32_to_f16(smax / 63.0f), mh = f32_to_f16(mmax / 63.0f);
  const float d = f16_to_f32(dh), dmin = f16_to_f32(mh);
  uint8_t sc[8], mq[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = static_cast<uint8_t>(d > 0 ? clampi(nearest(scale[s] / d), 0, 63) : 0);
    mq[s] = static_cast<uint8_t>(dmin > 0 ? clampi(nearest(mins[s] / dmin), 0, 63) : 0);
  }
  wr16(b, dh);
  wr16(b + 2, mh);
  uint8_t* p = b + 4;
  for (int s = 0; s < 4; ++s) {
    p[s] = static_cast<uint8_t>((sc[s] & 63) | ((sc[s + 4] >> 4) << 6));
    p[s + 4] = static_cast<uint8_t>((mq[s] & 63) | ((mq[s + 4] >> 4) << 6));
    p[s + 8] = static_cast<uint8_t>((sc[s + 4] & 15) | ((mq[s + 4] & 15) << 4));
  }
  int q[256];
  for (int s = 0; s < 8; ++s) {
    const float ds = d * sc[s], ms = dmin * mq[s];
    for (int j = 0; j < 32; ++j) q[32 * s + j] = ds > 0 ? clampi(nearest((x[32 * s + j] + ms) / ds), 0, levels) : 0;
  }
  uint8_t* qh = b + 16;
  uint8_t* qs = b + (five ? 48 : 16);
  if (five) std::memset(qh, 0, 32);
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) {
      const int lo = q[64 * g + l], hi = q[64 * g + 32 + l];
      qs[32 * g + l] = static_cast<uint8_t>((lo & 15) | ((hi & 15) << 4));
      if (five) qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
    }
}

void q_q6_k(const float* x, uint8_t* b) {
  float scale[16];
  float amax = 0;
  for (int g = 0; g < 16; ++g) {
    scale[g] = signed_extreme(x + 16 * g, 16) / -32.0f;
    amax = std::max(amax, std::fabs(scale[g]));
  }
  const uint16_t dh = f32_to_f16(amax / 127.0f);
  const float d = f16_to_f32(dh);
  int8_t sc[16];
  for (int g = 0; g < 16; ++g) sc[g] = static_cast<int8_t>(d > 0 ? clampi(nearest(scale[g] / d), -127, 127) : 0);
  int q[256];
  for (int e = 0; e < 256; ++e) {
    const float s = d * sc[e / 16];
    q[e] = s != 0 ? clampi(nearest(x[e] / s) + 32, 0, 63) : 32;
  }
  for (int h = 0; h < 2; ++h) {
    uint8_t* ql = b + 64 * h;
    uint8_t* qh = b + 128 + 32 * h;
    const int* qq = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((qq[l] & 15) | ((qq[l + 64] & 15) << 4));
      ql[l + 32] = static_cast<uint8_t>((qq[l + 32] & 15) | ((qq[l + 96] & 15) << 4));
      qh[l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
    }
  }
  std::memcpy(b + 192, sc, 16);
  wr16(b + 208, dh);
}

}  // namespace

void dequantize(DType t, const uint8_t* src, float* dst, int64_t n) {
  const int64_t bs = dtype_block_size(t);
  const size_t bb = dtype_block_bytes(t);
  void (*fn)(const uint8_t*, float*) = nullptr;
  switch (t) {
    case DType::Q8_0: fn = deq_q8_0; break;
    case DType::Q4_0: fn = deq_q4_0; break;
    case DType::Q4_1: fn = deq_q4_1; break;
    case DType::Q5_0: fn = deq_q5_0; break;
    case DType::Q5_1: fn = deq_q5_1; break;
    case DType::Q4_K: fn = deq_q4_k; break;
    case DType::Q5_K: fn = deq_q5_k; break;
    case DType::Q6_K: fn = deq_q6_k; break;
    default: fail("dequantize: ", dtype_name(t), " is not a block type");
  }
  for (int64_t i = 0; i < n / bs; ++i) fn(src + i * bb, dst + i * bs);
}

void quantize(DType t, const float* src, uint8_t* dst, int64_t n) {
  const int64_t bs = dtype_block_size(t);
  const size_t bb = dtype_block_bytes(t);
  if (n % bs != 0) fail("quantize: ", n, " values are not a whole number of ", dtype_name(t), " blocks of ", bs);
  for (int64_t i = 0; i < n / bs; ++i) {
    const float* x = src + i * bs;
    uint8_t* b = dst + i * bb;
    switch (t) {
      case DType::Q8_0: q_q8_0(x, b); break;
      case DType::Q4_0: q_q4_0(x, b); break;
      case DType::Q4_1: q_affine(x, b, 15, false); break;
      case DType::Q5_0: q_q5_0(x, b); break;
      case DType::Q5_1: q_affine(x, b, 31, true); break;
      case DType::Q4_K: q_kquant(x, b, 15, false); break;
      case DType::Q5_K: q_kquant(x, b, 31, true); break;
      case DType::Q6_K: q_q6_k(x, b); break;
      default: fail("quantize: ", dtype_name(t), " is not a block type");
    }
  }
}

}  // namespace herd::quant
