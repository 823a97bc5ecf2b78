/* The GEMM kernel (src/backend/gemm.c) against a double-precision product:
 * strided and row-pointer forms, ragged M and N (partial 8-row blocks and
 * masked columns), K of 0, short, and longer than the kernels' K blocks,
 * beta 0 and 1, and C entries outside the product left untouched.
 * sdd_sgemm (OpenBLAS in shape-fixed tiles): every transpose pair, alpha and
 * beta, shapes cut into several tiles and not, against the double product,
 * and the same bits on 1, 2 and 3 OpenMP threads and inside a parallel region. */
#include "check.h"
#include "backend/gemm.h"
#include "core/rng.h"
#include <math.h>
#include <omp.h>
#include <string.h>
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

/* op(A) (M, K) and op(B) (K, N) with leading dims padded, C (M, ldc) */
static void sgemm_one(int ta, int tb, int M, int N, int K, float alpha, float beta)
{
    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
    const size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = malloc(sizeof(float) * na), *B = malloc(sizeof(float) * nb), *C0 = malloc(sizeof(float) * nc);
    float *C[4] = { malloc(sizeof(float) * nc), malloc(sizeof(float) * nc), malloc(sizeof(float) * nc), malloc(sizeof(float) * nc) };
    CHECK(A && B && C0 && C[0] && C[1] && C[2] && C[3]);
    if (!A || !B || !C0 || !C[0] || !C[1] || !C[2] || !C[3]) return;
    uint64_t s = (uint64_t)(M * 7919 + N * 104729 + K * 31 + ta * 2 + tb);
    for (size_t i = 0; i < na; i++) A[i] = rnd(&s);
    for (size_t i = 0; i < nb; i++) B[i] = rnd(&s);
    for (size_t i = 0; i < nc; i++) C0[i] = rnd(&s);
    const int saved = omp_get_max_threads();
    for (int r = 0; r < 4; r++) {
        memcpy(C[r], C0, sizeof(float) * nc);
        if (r < 3) {
            omp_set_num_threads(r + 1);
            sdd_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C[r], ldc);
        } else {   /* called from inside a parallel region: each call on one thread */
            omp_set_num_threads(2);
            #pragma omp parallel num_threads(2)
            if (omp_get_thread_num() == 1) sdd_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C[r], ldc);
        }
    }
    omp_set_num_threads(saved);
    int bad = 0, touched = 0, differ = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            const size_t o = (size_t)i * ldc + j;
            for (int r = 1; r < 4; r++) differ += memcmp(&C[r][o], &C[0][o], sizeof(float)) != 0;
            if (j >= N) { touched += C[0][o] != C0[o]; continue; }
            double ref = 0.0, mag = 0.0;
            for (int k = 0; k < K; k++) {
                const double p = (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                                 (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                ref += p; mag += fabs(p);
            }
            ref = alpha * ref + beta * C0[o];
            mag = fabs(alpha) * mag + fabs(beta * C0[o]);
            bad += !(fabs(C[0][o] - ref) <= 1e-6 * mag + 1e-30);
        }
    CHECK_MSG(bad == 0 && touched == 0 && differ == 0,
              "sgemm ta%d tb%d M%d N%d K%d: %d wrong, %d outside entries changed, %d differ between thread counts",
              ta, tb, M, N, K, bad, touched, differ);
    free(A); free(B); free(C0);
    for (int r = 0; r < 4; r++) free(C[r]);
}

int main(void)
{
    /* from one tile (small) to many (2 M N K well above the tile's 4 MFLOP) */
    const int sM[] = { 1, 31, 200, 517 }, sN[] = { 3, 64, 300, 1030 }, sK[] = { 0, 7, 128, 700 };
    for (int t = 0; t < 4; t++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) sgemm_one(t >> 1, t & 1, sM[a], sN[b], sK[(a + b + t) & 3], t == 2 ? 0.5f : 1.0f, (a + b) & 1 ? 1.0f : 0.0f);
    const int Ms[] = { 1, 5, 8, 13, 32, 70 }, Ns[] = { 1, 17, 32, 33, 100, 256 }, Ks[] = { 0, 1, 6, 129, 600, 1500 };
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            for (int k = 0; k < 6; k++)
                for (int beta = 0; beta < 2; beta++) one(Ms[a], Ns[b], Ks[k], beta, (a + b + k + beta) & 1);
    return CHECK_DONE("test_gemm");
}
