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
/* C[0:8, 0:32] (+)= A[0:8, 0:K] @ B[0:K, 0:32]; mask for a partial last 16 columns.
 * The 16 accumulators are named variables, not an array: GCC 12 kept an
 * array version on the stack and stored all 16 every iteration (measured: 30%
 * of peak in cache; named registers run at the FMA limit). */
#define NN_ROW(r, c0, c1) \
    do { const __m512 a_ = _mm512_set1_ps(A[(size_t)(r) * lda + k]); \
         c0 = _mm512_fmadd_ps(a_, b0, c0); c1 = _mm512_fmadd_ps(a_, b1, c1); } while (0)
#define NN_LOAD(r, c0, c1) \
    do { c0 = beta ? _mm512_maskz_loadu_ps(m0, C + (size_t)(r) * ldc) : _mm512_setzero_ps(); \
         c1 = beta ? _mm512_maskz_loadu_ps(m1, C + (size_t)(r) * ldc + 16) : _mm512_setzero_ps(); } while (0)
#define NN_STORE(r, c0, c1) \
    do { _mm512_mask_storeu_ps(C + (size_t)(r) * ldc, m0, c0); \
         _mm512_mask_storeu_ps(C + (size_t)(r) * ldc + 16, m1, c1); } while (0)
static inline void nn_8x32(int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta,
                           __mmask16 m0, __mmask16 m1)
{
    __m512 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
    NN_LOAD(0, c00, c01); NN_LOAD(1, c10, c11); NN_LOAD(2, c20, c21); NN_LOAD(3, c30, c31);
    NN_LOAD(4, c40, c41); NN_LOAD(5, c50, c51); NN_LOAD(6, c60, c61); NN_LOAD(7, c70, c71);
    for (int k = 0; k < K; k++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + (size_t)k * ldb);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, B + (size_t)k * ldb + 16);
        NN_ROW(0, c00, c01); NN_ROW(1, c10, c11); NN_ROW(2, c20, c21); NN_ROW(3, c30, c31);
        NN_ROW(4, c40, c41); NN_ROW(5, c50, c51); NN_ROW(6, c60, c61); NN_ROW(7, c70, c71);
    }
    NN_STORE(0, c00, c01); NN_STORE(1, c10, c11); NN_STORE(2, c20, c21); NN_STORE(3, c30, c31);
    NN_STORE(4, c40, c41); NN_STORE(5, c50, c51); NN_STORE(6, c60, c61); NN_STORE(7, c70, c71);
}
#undef NN_ROW
#undef NN_LOAD
#undef NN_STORE

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

#if defined(__AVX512F__)
/* One dot product of length K, vectorised (masked tail). */
static inline float dot_v(int K, const float *a, const float *b)
{
    __m512 acc = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc);
    if (k < K) {
        const __mmask16 m = tail_mask(K - k);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/* C[0:4, 0:6] (+)= A[0:4, :] . B[0:6, :] along K: 24 named accumulators (see
 * nn_8x32 on why not an array), 10 loads per 24 FMAs. Six columns because the
 * AASIST weight-gradient GEMMs have N = Cin * 6 or Cin * 3 (Cin even). */
#define NT_K(r, s) acc##r##s = _mm512_fmadd_ps(a##r, b##s, acc##r##s)
#define NT_ROW(r) do { NT_K(r, 0); NT_K(r, 1); NT_K(r, 2); NT_K(r, 3); NT_K(r, 4); NT_K(r, 5); } while (0)
#define NT_PUT(r, s) do { float *c_ = C + (size_t)(r) * ldc + (s); const float v_ = _mm512_reduce_add_ps(acc##r##s); \
                          *c_ = beta ? *c_ + v_ : v_; } while (0)
#define NT_PUTROW(r) do { NT_PUT(r, 0); NT_PUT(r, 1); NT_PUT(r, 2); NT_PUT(r, 3); NT_PUT(r, 4); NT_PUT(r, 5); } while (0)
static void nt_4x6(int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta)
{
    __m512 acc00, acc01, acc02, acc03, acc04, acc05, acc10, acc11, acc12, acc13, acc14, acc15;
    __m512 acc20, acc21, acc22, acc23, acc24, acc25, acc30, acc31, acc32, acc33, acc34, acc35;
    acc00 = acc01 = acc02 = acc03 = acc04 = acc05 = acc10 = acc11 = acc12 = acc13 = acc14 = acc15 = _mm512_setzero_ps();
    acc20 = acc21 = acc22 = acc23 = acc24 = acc25 = acc30 = acc31 = acc32 = acc33 = acc34 = acc35 = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 16) {
        const __mmask16 m = tail_mask(K - k);
        const __m512 a0 = _mm512_maskz_loadu_ps(m, A + k), a1 = _mm512_maskz_loadu_ps(m, A + (size_t)lda + k);
        const __m512 a2 = _mm512_maskz_loadu_ps(m, A + 2 * (size_t)lda + k), a3 = _mm512_maskz_loadu_ps(m, A + 3 * (size_t)lda + k);
        const __m512 b0 = _mm512_maskz_loadu_ps(m, B + k), b1 = _mm512_maskz_loadu_ps(m, B + (size_t)ldb + k);
        const __m512 b2 = _mm512_maskz_loadu_ps(m, B + 2 * (size_t)ldb + k), b3 = _mm512_maskz_loadu_ps(m, B + 3 * (size_t)ldb + k);
        const __m512 b4 = _mm512_maskz_loadu_ps(m, B + 4 * (size_t)ldb + k), b5 = _mm512_maskz_loadu_ps(m, B + 5 * (size_t)ldb + k);
        NT_ROW(0); NT_ROW(1); NT_ROW(2); NT_ROW(3);
    }
    NT_PUTROW(0); NT_PUTROW(1); NT_PUTROW(2); NT_PUTROW(3);
}
#undef NT_K
#undef NT_ROW
#undef NT_PUT
#undef NT_PUTROW
#endif

void sdd_gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta)
{
#if defined(__AVX512F__)
    const int M4 = M & ~3, N6 = N - N % 6;
    for (int i = 0; i < M4; i += 4)
        for (int j = 0; j < N6; j += 6)
            nt_4x6(K, A + (size_t)i * lda, lda, B + (size_t)j * ldb, ldb, C + (size_t)i * ldc + j, ldc, beta);
    /* ragged edges: columns N6.. for the blocked rows, then the remaining rows */
    for (int i = 0; i < M; i++)
        for (int j = i < M4 ? N6 : 0; j < N; j++) {
            const float v = dot_v(K, A + (size_t)i * lda, B + (size_t)j * ldb);
            float *c = C + (size_t)i * ldc + j;
            *c = beta ? *c + v : v;
        }
#else
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float v = 0.0f;
            for (int k = 0; k < K; k++) v += A[(size_t)i * lda + k] * B[(size_t)j * ldb + k];
            float *c = C + (size_t)i * ldc + j;
            *c = beta ? *c + v : v;
        }
#endif
}
