/* CPU GEMM kernel for the convolution shapes of AASIST, where OpenBLAS's
 * generic path is slow (few output channels, long rows; and on CPUs newer
 * than the installed OpenBLAS knows it falls back to SSE3 kernels).
 * Row-major, single-threaded (callers parallelise over independent tiles).
 *   sdd_gemm_nn:     C (M, N) = A (M, K) @ B (K, N) + beta * C, strided
 *   sdd_gemm_nn_ptr: the same with A's rows a[i] (read at [0, K)) and B's
 *                    rows b[k] (read at [0, N)) given as pointers, so a
 *                    convolution can pass pointers into its input planes
 * beta is 0 or 1.
 *   sdd_sgemm:       cblas_sgemm's row-major product through OpenBLAS, with the
 *                    same bits for any thread count (see gemm.c) */
#ifndef SDD_BACKEND_GEMM_H
#define SDD_BACKEND_GEMM_H

void sdd_gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta);
void sdd_gemm_nn_ptr(int M, int N, int K, const float *const *a, const float *const *b, float *C, int ldc, int beta);

/* C (M, N) = alpha * op(A) @ op(B) + beta * C, row-major; op(A) is (M, K): A
 * itself (ta = 0, lda >= K) or A^T of a (K, M) A (ta = 1, lda >= M); op(B) is
 * (K, N) likewise (tb, ldb). */
void sdd_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc);

#endif
