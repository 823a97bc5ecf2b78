/* Owns the CPU GEMM kernels (see gemm.h). With AVX-512 the NN kernel keeps an
 * 8 x 32 tile of C in 16 zmm registers and streams rows of B (contiguous
 * along N) while broadcasting A; the NT kernel computes a 4 x 4 tile of dot
 * products along K with 16 zmm accumulators. Without AVX-512 plain loops are
 * used (the compiler vectorises the inner N loop). */
#include "backend/gemm.h"
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

static void nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (!beta) memset(c, 0, (size_t)N * sizeof(float));
        for (int k = 0; k < K; k++) {
            const float a = A[(size_t)i * lda + k];
            const float *b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

#if defined(__AVX512F__)
/* C[0:8, 0:32] (+)= A[0:8, 0:K] @ B[0:K, 0:32]; mask for a partial last 16 columns */
static inline void nn_8x32(int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta,
                           __mmask16 m0, __mmask16 m1)
{
    __m512 c[8][2];
    for (int r = 0; r < 8; r++) {
        c[r][0] = beta ? _mm512_maskz_loadu_ps(m0, C + (size_t)r * ldc) : _mm512_setzero_ps();
        c[r][1] = beta ? _mm512_maskz_loadu_ps(m1, C + (size_t)r * ldc + 16) : _mm512_setzero_ps();
    }
    for (int k = 0; k < K; k++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + (size_t)k * ldb);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, B + (size_t)k * ldb + 16);
        for (int r = 0; r < 8; r++) {
            const __m512 a = _mm512_set1_ps(A[(size_t)r * lda + k]);
            c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
        }
    }
    for (int r = 0; r < 8; r++) {
        _mm512_mask_storeu_ps(C + (size_t)r * ldc, m0, c[r][0]);
        _mm512_mask_storeu_ps(C + (size_t)r * ldc + 16, m1, c[r][1]);
    }
}

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n > 0 ? n : 0)) - 1u); }
#endif

void sdd_gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta)
{
#if defined(__AVX512F__)
    const int M8 = M & ~7;
    for (int j = 0; j < N; j += 32) {
        const int nj = N - j < 32 ? N - j : 32;
        const __mmask16 m0 = tail_mask(nj), m1 = tail_mask(nj - 16);
        for (int i = 0; i < M8; i += 8)
            nn_8x32(K, A + (size_t)i * lda, lda, B + j, ldb, C + (size_t)i * ldc + j, ldc, beta, m0, m1);
    }
    if (M8 < M) nn_ref(M - M8, N, K, A + (size_t)M8 * lda, lda, B, ldb, C + (size_t)M8 * ldc, ldc, beta);
#else
    nn_ref(M, N, K, A, lda, B, ldb, C, ldc, beta);
#endif
}

void sdd_gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta)
{
    int i0 = 0;
#if defined(__AVX512F__)
    const int M4 = M & ~3, N4 = N & ~3;
    for (int i = 0; i < M4; i += 4)
        for (int j = 0; j < N4; j += 4) {
            __m512 acc[4][4];
            for (int r = 0; r < 4; r++)
                for (int s = 0; s < 4; s++) acc[r][s] = _mm512_setzero_ps();
            for (int k = 0; k < K; k += 16) {
                const __mmask16 m = tail_mask(K - k);
                __m512 a[4], b[4];
                for (int r = 0; r < 4; r++) a[r] = _mm512_maskz_loadu_ps(m, A + (size_t)(i + r) * lda + k);
                for (int s = 0; s < 4; s++) b[s] = _mm512_maskz_loadu_ps(m, B + (size_t)(j + s) * ldb + k);
                for (int r = 0; r < 4; r++)
                    for (int s = 0; s < 4; s++) acc[r][s] = _mm512_fmadd_ps(a[r], b[s], acc[r][s]);
            }
            for (int r = 0; r < 4; r++)
                for (int s = 0; s < 4; s++) {
                    float v = _mm512_reduce_add_ps(acc[r][s]);
                    float *c = C + (size_t)(i + r) * ldc + j + s;
                    *c = beta ? *c + v : v;
                }
        }
    /* ragged edges: columns N4.. for the blocked rows, then the remaining rows */
    for (int i = 0; i < M4; i++)
        for (int j = N4; j < N; j++) {
            float v = 0.0f;
            for (int k = 0; k < K; k++) v += A[(size_t)i * lda + k] * B[(size_t)j * ldb + k];
            float *c = C + (size_t)i * ldc + j;
            *c = beta ? *c + v : v;
        }
    i0 = M4;
#endif
    for (int i = i0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float v = 0.0f;
            for (int k = 0; k < K; k++) v += A[(size_t)i * lda + k] * B[(size_t)j * ldb + k];
            float *c = C + (size_t)i * ldc + j;
            *c = beta ? *c + v : v;
        }
}
