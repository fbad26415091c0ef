#include "kernels/sgemm.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"

#ifdef HERD_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace herd {

#ifdef HERD_HAVE_OPENBLAS

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta,
              C, static_cast<int>(ldc));
}

void set_gemm_threads(int n) { openblas_set_num_threads(std::max(1, n)); }
void sgemm_single_threaded() {
  static const bool once = (openblas_set_num_threads(1), true);
  (void)once;
}
const char* gemm_backend() { return "openblas"; }

#else

// Fallback: pack op(B) into a contiguous [K, N] panel, then i-k-j loops over row blocks of C in
// parallel (vectorizable inner loop over N).
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  std::vector<float> bp(static_cast<size_t>(std::max<int64_t>(K, 0) * N));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) bp[k * N + j] = tb ? B[j * ldb + k] : B[k * ldb + j];
  ThreadPool::global().parallel_for(M, 8, [&](int64_t i0, int64_t i1) {
    std::vector<float> row(N);
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(row.begin(), row.end(), 0.0f);
      for (int64_t k = 0; k < K; ++k) {
        const float a = ta ? A[k * lda + i] : A[i * lda + k];
        if (a == 0.0f) continue;
        const float* b = bp.data() + k * N;
        for (int64_t j = 0; j < N; ++j) row[j] += a * b[j];
      }
      float* c = C + i * ldc;
      if (beta == 0.0f)
        for (int64_t j = 0; j < N; ++j) c[j] = alpha * row[j];
      else
        for (int64_t j = 0; j < N; ++j) c[j] = alpha * row[j] + beta * c[j];
    }
  });
}

void set_gemm_threads(int n) { ThreadPool::set_global_threads(std::max(1, n)); }
void sgemm_single_threaded() {}  // the fallback runs serially when called from a pool worker
const char* gemm_backend() { return "herd"; }

#endif

}  // namespace herd
