/* CPU GEMM kernels for the convolution shapes of AASIST, where OpenBLAS's
 * generic path is slow (few output channels, long rows; and on CPUs newer
 * than the installed OpenBLAS knows it falls back to SSE3 kernels).
 * Row-major, single-threaded (callers parallelise over independent tiles).
 *   sdd_gemm_nn: C (M, N) = A (M, K) @ B (K, N) + beta * C
 *   sdd_gemm_nt: C (M, N) = A (M, K) @ B^T, B (N, K), + beta * C  (dot-product form)
 * beta is 0 or 1. */
#ifndef SDD_BACKEND_GEMM_H
#define SDD_BACKEND_GEMM_H

void sdd_gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta);
void sdd_gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta);

#endif
