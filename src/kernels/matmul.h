#pragma once
// y = x · Wᵀ for activations x [T, in] (f32) and a weight matrix W with `rows` outputs and `cols`
// inputs, stored either as nn.Linear [out, in] rows (out-major) or as [in, out] (in-major, the
// layout of Hugging Face's fused Llama 4 expert tensors), in any supported dtype, used in place.
#include <cstdint>

#include "core/dtype.h"

namespace herd {

struct WeightMatrix {
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;       // output features
  int64_t cols = 0;       // input features
  int64_t ld = 0;         // elements between consecutive stored rows
  bool in_major = false;  // element (o, i) at data[i*ld + o] instead of data[o*ld + i]

  bool empty() const { return data == nullptr; }
  // Element (o, i) as f32 (slow; for tests and tools).
  float at(int64_t o, int64_t i) const;
  // Output row o converted to f32 (cols values).
  void row(int64_t o, float* dst) const;
};

// y[t*rows + o] = sum_i x[t*cols + i] * W(o, i), split over the global thread pool.
void matmul(const float* x, int64_t T, const WeightMatrix& W, float* y);

}  // namespace herd
