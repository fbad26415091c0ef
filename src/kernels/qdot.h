#pragma once
// Integer dot products between block-quantized weight rows (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K,
// Q5_K, Q6_K) and activations quantized on the fly to 8 bits, as llama.cpp's CPU backend does:
// Q8_0-style blocks of 32 (f16-rounded scale max|x|/127) for the 32-element weight types, and
// Q8_K-style blocks of 256 (f32 scale, the largest magnitude maps to -127) for the K types.
// Scalar reference plus AVX2 and AVX-512 (VNNI) versions, chosen at run time.
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace herd {

enum class ActKind { Q8_0, Q8_K };
// The activation format a weight type pairs with.
ActKind act_kind(DType weight);

// T rows of n quantized activations.
struct QActs {
  ActKind kind = ActKind::Q8_0;
  int64_t n = 0, T = 0;
  std::vector<int8_t> q;      // [T, n]
  std::vector<float> d;       // [T, n/32] (Q8_0) or [T, n/256] (Q8_K)
  std::vector<int32_t> sums;  // [T, n/32] sum of q per block (Q8_0) or [T, n/16] per 16 (Q8_K)
  // Q8_0 only: [T, n/4] -128 * (sum of each 4 consecutive q), the start value of a vpdpbusd lane
  // that multiplies weights stored as unsigned w + 128 (the AVX-512 Q8_0 kernel); empty for Q8_K.
  std::vector<int32_t> c4;

  int64_t blocks() const { return kind == ActKind::Q8_0 ? n / 32 : n / 256; }
  int64_t n_sums() const { return kind == ActKind::Q8_0 ? n / 32 : n / 16; }
};

// One activation row as the kernels see it.
struct ActRow {
  const int8_t* q;
  const float* d;
  const int32_t* s;
  const int32_t* c;  // QActs::c4 of this row (Q8_0 activations), else nullptr
};
inline ActRow act_row(const QActs& a, int64_t t) {
  return {a.q.data() + t * a.n, a.d.data() + t * a.blocks(), a.sums.data() + t * a.n_sums(),
          a.kind == ActKind::Q8_0 ? a.c4.data() + t * (a.n / 4) : nullptr};
}

// Quantizes x [T, n] (n a multiple of 32, or of 256 for Q8_K).
void quantize_acts(const float* x, int64_t T, int64_t n, ActKind kind, QActs& out);

// out[j] = dot(weight row w of n elements, activation row a[j]) for j < nt, 1 <= nt <= 4.
using QDotFn = void (*)(int64_t n, const uint8_t* w, const ActRow* a, int nt, float* out);

// Best kernel for the CPU (honouring HERD_KERNELS); nullptr for F32/F16/BF16.
QDotFn qdot_kernel(DType weight);

// One token, many rows: y[i] = dot(weight row i, a) for i < nr rows starting at w, `stride` bytes
// apart, prefetching before each row the same span pf_bytes further on (0: none). The
// per-call setup of the one-row kernel is paid once per range. nullptr where no such kernel exists
// (callers then loop over QDotFn); equal to the QDotFn of the same kernel level row by row.
using QDotRowsFn = void (*)(int64_t n, const uint8_t* w, size_t stride, int64_t nr, const ActRow& a, float* y, size_t pf_bytes);
QDotRowsFn qdot_rows_kernel(DType weight);

// Weights in interleaved 16-row groups (kernels/row_interleave.h), 1 <= nt <= 4 tokens: for each
// of n_groups groups from w on (16 rows of n elements each, packed), y[t * y_stride + 16 g + r] =
// dot(row r of group g, a[t]); pf_bytes > 0: prefetching one block column (16 blocks) ahead.
// nullptr where the CPU has none (Q6_K, Q4_K and Q8_0 with AVX-512 VNNI); weights are
// interleaved only where it exists.
using QDotRows16Fn = void (*)(int64_t n, const uint8_t* w, int64_t n_groups, const ActRow* a, int nt, float* y, int64_t y_stride, size_t pf_bytes);
QDotRows16Fn qdot_rows16_kernel(DType weight);

namespace scalar {
QDotFn qdot_kernel(DType weight);
// One row of quantize_acts.
void quantize_act_row(const float* x, int64_t n, ActKind kind, int8_t* q, float* d, int32_t* s);
}
namespace avx2 {
QDotFn qdot_kernel(DType weight);  // nullptr where no AVX2 version exists
}
namespace avx512 {
QDotFn qdot_kernel(DType weight);  // nullptr where no AVX-512 version exists
QDotRowsFn qdot_rows_kernel(DType weight);  // Q8_0, Q4_K, Q6_K
QDotRows16Fn qdot_rows16_kernel(DType weight);  // Q6_K, Q4_K, Q8_0
}

}  // namespace herd

namespace herd {

// ---- Prefill GEMM (several tokens at once) ----
// Per-group activation terms for the register-tiled GEMM: for weight type W the rows are cut
// into groups of G elements (32 for Q8_0 / Q4_K, 16 for Q6_K); for token t and group g:
// off = -(weight offset) * (sum of the group's quantized activations) (the integer initial value
// of the group's dot product: 128 for Q8_0 stored as w+128, 32 for Q6_K, 0 for Q4_K),
// dx = the activation scale, fs = the sum of the group's quantized activations as f32 (Q4_K's
// min term, scaled by dx together with the rest of its 256-element block).
// All token-minor ([.., T]) so that a tile of tokens reads one pointer with constant offsets.
struct QGroups {
  int G = 32;
  int64_t ng = 0, T = 0;  // groups per row, tokens
  std::vector<int32_t> off;  // [ng, T]
  std::vector<float> dx, fs;  // [ng, T]
  std::vector<int32_t> xw;  // [n/4, T] the quantized activations as 4-byte words
};
// Fills g from a (quantized for act_kind(w)); false if w has no GEMM kernel layout.
bool make_groups(DType w, const QActs& a, QGroups& g);
// quantize_acts(x, T, n, act_kind(w), a) then make_groups(w, a, g), in blocks of 16 tokens spread
// over the global thread pool (same results); false (nothing done) if w has no GEMM layout.
bool quantize_and_group(const float* x, int64_t T, int64_t n, DType w, QActs& a, QGroups& g);

// y[t*ldy + i] = dot(weight row i, activation row t) for i < nr (1 <= nr <= 16) rows starting at w
// (stride bytes apart) and all a.T tokens; n a multiple of 64.
using QGemmFn = void (*)(int64_t n, const uint8_t* w, size_t stride, int nr, const QActs& a, const QGroups& g, float* y,
                         int64_t ldy);
// The AVX-512 VNNI GEMM for w (Q8_0, Q4_K, Q6_K), or nullptr (other types, or a lower kernel level).
QGemmFn qgemm_kernel(DType w);
namespace avx512 {
QGemmFn qgemm_kernel(DType weight);
// One row of quantize_acts (bit-identical to the scalar code; AVX-512 CPUs only).
void quantize_act_row(const float* x, int64_t n, ActKind kind, int8_t* q, float* d, int32_t* s);
}

}  // namespace herd
