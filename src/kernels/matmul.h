#pragma once
// y = x · Wᵀ for activations x [T, in] (f32) and a weight matrix W with `rows` outputs and `cols`
// inputs, stored either as nn.Linear [out, in] rows (out-major) or as [in, out] (in-major, the
// layout of Hugging Face's fused Llama 4 expert tensors), in any supported dtype, used in place.
// Block-quantized types (GGUF) are out-major only: row o starts o * dtype_row_bytes(type, ld)
// bytes into data and is a run of whole blocks (ld and cols multiples of the block size).
#include <cstdint>
#include <initializer_list>

#include "core/dtype.h"

namespace herd {

struct WeightMatrix {
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;       // output features
  int64_t cols = 0;       // input features
  int64_t ld = 0;         // elements between consecutive stored rows
  bool in_major = false;  // element (o, i) at data[i*ld + o] instead of data[o*ld + i]
  // Rows stored in interleaved groups of 16 (kernels/row_interleave.h: the one-token decode layout
  // of Q6_K weights read into memory, ld == cols): row o is not at row_ptr(o); read rows with
  // row() or stored_rows().
  bool interleaved = false;

  bool empty() const { return data == nullptr; }
  // Bytes between consecutive stored rows (out-major) .
  size_t row_stride() const { return dtype_row_bytes(type, ld); }
  const uint8_t* row_ptr(int64_t o) const { return data + o * row_stride(); }
  // Rows [r0, r0 + n) as the standard layout stores them (out-major, n * row_stride() bytes).
  void stored_rows(int64_t r0, int64_t n, uint8_t* out) const;
  // Element (o, i) as f32 (slow; for tests and tools).
  float at(int64_t o, int64_t i) const;
  // Output row o converted to f32 (cols values).
  void row(int64_t o, float* dst) const;
};

// y[t*rows + o] = sum_i x[t*cols + i] * W(o, i), split over the global thread pool.
// Block-quantized weights: by default the activations are quantized to 8 bits on the fly and
// multiplied with integer dot products (kernels/qdot.h; llama.cpp's numerics). In exact mode the
// weights are dequantized and multiplied with f32 activations instead (slower; matches a float
// reference on the dequantized weights to rounding).
void matmul(const float* x, int64_t T, const WeightMatrix& W, float* y);

// Independent products y_i = x_i · W_iᵀ, x_i [T_i, W_i.cols] (e.g. q/k/v on one input; the shared
// and the routed experts' projections on theirs). Where every one would take the one-row dot
// kernels (T_i < 4, block-quantized, not exact mode) each distinct input is quantized once per
// activation format and all the rows are split over the pool in one dispatch; the results are
// those of separate matmul calls. Otherwise it is one matmul per product. Tasks with T_i = 0 are
// skipped.
struct MatmulTask {
  const float* x;
  int64_t T;
  const WeightMatrix* W;
  float* y;
};
void matmul_batch(const MatmulTask* tasks, int n);

// matmul_batch for up to 8 matrices on the same input x [T, cols] (q/k/v, gate/up).
struct MatmulOut {
  const WeightMatrix* W;
  float* y;
};
void matmul_multi(const float* x, int64_t T, std::initializer_list<MatmulOut> outs);

// Process-wide choice; the default comes from $HERD_MATMUL ("exact" or "fast"; fast if unset).
void set_matmul_exact(bool exact);
bool matmul_exact();

}  // namespace herd
