/* The GEMM kernel (src/backend/gemm.c) against a double-precision product:
 * strided and row-pointer forms, ragged M and N (partial 8-row blocks and
 * masked columns), K of 0, short, and longer than the kernels' K blocks,
 * beta 0 and 1, and C entries outside the product left untouched. */
#include "check.h"
#include "backend/gemm.h"
#include "core/rng.h"
#include <math.h>
#include <stdlib.h>

static float rnd(uint64_t *s) { *s = *s * 6364136223846793005ULL + 1442695040888963407ULL; return (float)((*s >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }

static void one(int M, int N, int K, int beta, int ptr)
{
    const int lda = K + 3, ldb = N + 5, ldc = N + 7;
    float *A = malloc(sizeof(float) * (size_t)(M * lda + 1)), *B = malloc(sizeof(float) * (size_t)(K * ldb + 1));
    float *C = malloc(sizeof(float) * (size_t)((M + 1) * ldc)), *C0 = malloc(sizeof(float) * (size_t)((M + 1) * ldc));
    const float **ar = malloc(sizeof(*ar) * (size_t)(M + 1)), **br = malloc(sizeof(*br) * (size_t)(K + 1));
    CHECK(A && B && C && C0 && ar && br);
    if (!A || !B || !C || !C0 || !ar || !br) return;
    uint64_t s = (uint64_t)(M * 1000003 + N * 1009 + K * 7 + beta);
    for (int i = 0; i < M * lda; i++) A[i] = rnd(&s);
    for (int i = 0; i < K * ldb; i++) B[i] = rnd(&s);
    for (int i = 0; i < (M + 1) * ldc; i++) C0[i] = C[i] = rnd(&s);
    for (int i = 0; i < M; i++) ar[i] = A + (size_t)i * lda;
    for (int k = 0; k < K; k++) br[k] = B + (size_t)k * ldb;
    if (ptr) sdd_gemm_nn_ptr(M, N, K, ar, br, C, ldc, beta);
    else sdd_gemm_nn(M, N, K, A, lda, B, ldb, C, ldc, beta);
    int bad = 0, touched = 0;
    for (int i = 0; i < M + 1; i++)
        for (int j = 0; j < ldc; j++) {
            const float got = C[(size_t)i * ldc + j];
            if (i == M || j >= N) { touched += got != C0[(size_t)i * ldc + j]; continue; }
            double ref = beta ? C0[(size_t)i * ldc + j] : 0.0, mag = fabs(ref);
            for (int k = 0; k < K; k++) {
                const double p = (double)A[(size_t)i * lda + k] * B[(size_t)k * ldb + j];
                ref += p; mag += fabs(p);
            }
            bad += !(fabs(got - ref) <= 1e-6 * mag + 1e-30);
        }
    CHECK_MSG(bad == 0 && touched == 0, "gemm %s M%d N%d K%d beta%d: %d wrong, %d outside entries changed",
              ptr ? "ptr" : "strided", M, N, K, beta, bad, touched);
    free(A); free(B); free(C); free(C0); free(ar); free(br);
}

int main(void)
{
    const int Ms[] = { 1, 5, 8, 13, 32, 70 }, Ns[] = { 1, 17, 32, 33, 100, 256 }, Ks[] = { 0, 1, 6, 129, 600, 1500 };
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            for (int k = 0; k < 6; k++)
                for (int beta = 0; beta < 2; beta++) one(Ms[a], Ns[b], Ks[k], beta, (a + b + k + beta) & 1);
    return CHECK_DONE("test_gemm");
}
