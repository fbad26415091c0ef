#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/vec.h"

namespace herd {

float WeightMatrix::at(int64_t o, int64_t i) const {
  int64_t idx = in_major ? i * ld + o : o * ld + i;
  float v;
  to_f32(type, data + idx * dtype_size(type), &v, 1);
  return v;
}

void WeightMatrix::row(int64_t o, float* dst) const {
  if (!in_major) {
    row_to_f32(type, data + o * ld * dtype_size(type), dst, cols);
    return;
  }
  for (int64_t i = 0; i < cols; ++i) dst[i] = at(o, i);
}

namespace {

void matmul_out_major(const float* x, int64_t T, const WeightMatrix& W, float* y) {
  const int64_t in = W.cols, out = W.rows;
  const size_t esize = dtype_size(W.type);
  ThreadPool::global().parallel_for(out, 16, [&](int64_t o0, int64_t o1) {
    std::vector<float> buf(W.type == DType::F32 ? 0 : in);
    for (int64_t o = o0; o < o1; ++o) {
      const uint8_t* src = W.data + o * W.ld * esize;
      const float* w;
      if (W.type == DType::F32) {
        w = reinterpret_cast<const float*>(src);
      } else {
        row_to_f32(W.type, src, buf.data(), in);
        w = buf.data();
      }
      for (int64_t t = 0; t < T; ++t) y[t * out + o] = dot_f32(x + t * in, w, in);
    }
  });
}

void matmul_in_major(const float* x, int64_t T, const WeightMatrix& W, float* y) {
  const int64_t in = W.cols, out = W.rows;
  const size_t esize = dtype_size(W.type);
  constexpr int64_t kBlock = 64;
  const int64_t n_blocks = (out + kBlock - 1) / kBlock;
  ThreadPool::global().parallel_for(n_blocks, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> panel;  // [in, width] slice of W in f32 when W is not f32
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t o0 = b * kBlock, width = std::min(kBlock, out - o0);
      const float* base;
      int64_t stride;
      if (W.type == DType::F32) {
        base = reinterpret_cast<const float*>(W.data) + o0;
        stride = W.ld;
      } else {
        panel.resize(in * width);
        for (int64_t i = 0; i < in; ++i) row_to_f32(W.type, W.data + (i * W.ld + o0) * esize, &panel[i * width], width);
        base = panel.data();
        stride = width;
      }
      for (int64_t t = 0; t < T; ++t) {
        float* yt = y + t * out + o0;
        std::fill(yt, yt + width, 0.0f);
        const float* xt = x + t * in;
        for (int64_t i = 0; i < in; ++i)
          if (xt[i] != 0.0f) axpy_f32(xt[i], base + i * stride, yt, width);
      }
    }
  });
}

}  // namespace

void matmul(const float* x, int64_t T, const WeightMatrix& W, float* y) {
  if (T <= 0) return;
  if (W.in_major) matmul_in_major(x, T, W, y);
  else matmul_out_major(x, T, W, y);
}

}  // namespace herd
