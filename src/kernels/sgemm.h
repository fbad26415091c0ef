#pragma once
// Row-major single-precision matrix products: C = alpha*op(A)*op(B) + beta*C. Used by training
// (every forward and backward matmul) and by inference prefill on f32/bf16/f16 weights.
// Uses OpenBLAS when the build found it (HERD_HAVE_OPENBLAS), else a blocked fallback on
// herd's thread pool. Every training matmul (forward and backward) goes through here.
#include <cstdint>

namespace herd {

// op(A) is [M, K] (A stored [K, M] when ta), op(B) is [K, N] (B stored [N, K] when tb).
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Threads used inside sgemm (OpenBLAS's own pool or herd's global pool).
void set_gemm_threads(int n);
// For callers that split work over herd's pool themselves and call sgemm from each worker:
// keeps OpenBLAS from starting threads of its own (no oversubscription).
void sgemm_single_threaded();
// "openblas" or "herd".
const char* gemm_backend();

}  // namespace herd
