/* Owns the CPU GEMM kernel and the OpenBLAS GEMM entry (see gemm.h). One
 * micro-kernel: an 8 x 32 tile of C in 16 zmm registers; per step k it loads
 * 32 floats of B's row k and broadcasts A[r][k] for the 8 rows (16 FMAs for
 * 10 loads). Rows of A and of B are reached through row pointers, so a
 * convolution can hand the kernel pointers into its input planes (implicit
 * im2col: no column copies) and the strided form is the special case of
 * evenly spaced pointers.
 *
 * The accumulators are named variables, not an array: GCC 12 kept an array
 * version on the stack and stored all 16 every iteration (measured: 30% of
 * peak in cache; named registers run at 80% of the FMA limit).
 * Without AVX-512 plain loops are used (the compiler vectorises the N loop). */
#include "backend/gemm.h"
#include <cblas.h>
#include <omp.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define GEMM_KB 512          /* pointer rows built per block in the strided form */
#define GEMM_ZERO_K 1024     /* length of the zero row that stands in for missing A rows */

#if defined(__AVX512F__)
static const float zero_row[GEMM_ZERO_K];

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n > 0 ? n : 0)) - 1u); }

#define NN_ROW(r, c0, c1) \
    do { const __m512 a_ = _mm512_set1_ps(a##r[k]); \
         c0 = _mm512_fmadd_ps(a_, b0, c0); c1 = _mm512_fmadd_ps(a_, b1, c1); } while (0)
#define NN_LOAD(r, c0, c1) \
    do { c0 = (beta && (r) < R) ? _mm512_maskz_loadu_ps(m0, C + (size_t)(r) * ldc) : _mm512_setzero_ps(); \
         c1 = (beta && (r) < R) ? _mm512_maskz_loadu_ps(m1, C + (size_t)(r) * ldc + 16) : _mm512_setzero_ps(); } while (0)
#define NN_STORE(r, c0, c1) \
    do { if ((r) < R) { _mm512_mask_storeu_ps(C + (size_t)(r) * ldc, m0, c0); \
                        _mm512_mask_storeu_ps(C + (size_t)(r) * ldc + 16, m1, c1); } } while (0)

/* C[0:R, 0:32] (+)= sum_k a[r][k] * b[k][j : j + 32], R <= 8; rows r >= R of a
 * point at zeros and are not stored; m0/m1 mask a partial last 16 columns. */
static inline void nn_8x32(int R, int K, const float *const *a, const float *const *b, int j,
                           float *C, int ldc, int beta, __mmask16 m0, __mmask16 m1, int pf)
{
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7];
    __m512 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
    NN_LOAD(0, c00, c01); NN_LOAD(1, c10, c11); NN_LOAD(2, c20, c21); NN_LOAD(3, c30, c31);
    NN_LOAD(4, c40, c41); NN_LOAD(5, c50, c51); NN_LOAD(6, c60, c61); NN_LOAD(7, c70, c71);
    for (int k = 0; k < K; k++) {
        const float *bk = b[k] + j;
        if (pf) {   /* the next strip's piece of this row: B rows are many short runs the hardware does not prefetch */
            _mm_prefetch((const char *)(bk + 32), _MM_HINT_T0);
            _mm_prefetch((const char *)(bk + 48), _MM_HINT_T0);
        }
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bk);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, bk + 16);
        NN_ROW(0, c00, c01); NN_ROW(1, c10, c11); NN_ROW(2, c20, c21); NN_ROW(3, c30, c31);
        NN_ROW(4, c40, c41); NN_ROW(5, c50, c51); NN_ROW(6, c60, c61); NN_ROW(7, c70, c71);
    }
    NN_STORE(0, c00, c01); NN_STORE(1, c10, c11); NN_STORE(2, c20, c21); NN_STORE(3, c30, c31);
    NN_STORE(4, c40, c41); NN_STORE(5, c50, c51); NN_STORE(6, c60, c61); NN_STORE(7, c70, c71);
}
#undef NN_ROW
#undef NN_LOAD
#undef NN_STORE
#endif

/* K <= GEMM_ZERO_K when M % 8 != 0 (the zero row pads the last block of A) */
static void nn_ptr_block(int M, int N, int K, const float *const *a, const float *const *b, float *C, int ldc, int beta)
{
#if defined(__AVX512F__)
    /* column strips outer: a strip of B (K x 32) stays in L1 while every
     * 8-row block of A passes over it */
    for (int j = 0; j < N; j += 32) {
        const int nj = N - j < 32 ? N - j : 32;
        const __mmask16 m0 = tail_mask(nj), m1 = tail_mask(nj - 16);
        for (int i = 0; i < M; i += 8) {
            const int R = M - i < 8 ? M - i : 8;
            const float *a8[8];
            for (int r = 0; r < 8; r++) a8[r] = r < R ? a[i + r] : zero_row;
            nn_8x32(R, K, a8, b, j, C + (size_t)i * ldc + j, ldc, beta, m0, m1, i == 0 && j + 32 < N);
        }
    }
#else
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (!beta) memset(c, 0, (size_t)N * sizeof(float));
        for (int k = 0; k < K; k++) {
            const float av = a[i][k];
            const float *bk = b[k];
            for (int j = 0; j < N; j++) c[j] += av * bk[j];
        }
    }
#endif
}

void sdd_gemm_nn_ptr(int M, int N, int K, const float *const *a, const float *const *b, float *C, int ldc, int beta)
{
    if (M <= 0 || N <= 0) return;
    /* K in blocks no longer than the zero row; later blocks accumulate */
    for (int k0 = 0; k0 < K || k0 == 0; k0 += GEMM_ZERO_K) {
        const int kb = K - k0 < GEMM_ZERO_K ? K - k0 : GEMM_ZERO_K;
        const float *ak[8];
        if (kb <= 0) {   /* K == 0: C = beta * C */
            if (!beta) for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
            return;
        }
        /* a shifted by k0: rebuild the row pointers block by block */
        for (int i = 0; i < M; i += 8) {
            const int R = M - i < 8 ? M - i : 8;
            for (int r = 0; r < R; r++) ak[r] = a[i + r] + k0;
            nn_ptr_block(R, N, kb, ak, b + k0, C + (size_t)i * ldc, ldc, beta || k0 > 0);
        }
    }
}

void sdd_gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int beta)
{
    if (M <= 0 || N <= 0) return;
    const float *brow[GEMM_KB];
    for (int k0 = 0; k0 < K || k0 == 0; k0 += GEMM_KB) {
        const int kb = K - k0 < GEMM_KB ? K - k0 : GEMM_KB;
        if (kb <= 0) {
            if (!beta) for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
            return;
        }
        for (int k = 0; k < kb; k++) brow[k] = B + (size_t)(k0 + k) * ldb;
        for (int i = 0; i < M; i += 8) {
            const int R = M - i < 8 ? M - i : 8;
            const float *ar[8];
            for (int r = 0; r < R; r++) ar[r] = A + (size_t)(i + r) * lda + k0;
            nn_ptr_block(R, N, kb, ar, brow, C + (size_t)i * ldc, ldc, beta || k0 > 0);
        }
    }
}

/* sdd_sgemm: OpenBLAS rounds an element of C differently depending on how a
 * call is cut up (its blocking follows the row count, and its threads split M
 * and N by the thread count), so a model's outputs depended on --threads in the
 * last digits. Here C is cut into tiles fixed by the shape alone, and each tile
 * is one OpenBLAS call made inside an active OpenMP region (or with one
 * OpenMP thread), where the OpenMP build of OpenBLAS runs single-threaded: the
 * bits are those of --threads 1 for any thread count. Tiles are halved, the
 * longer side first, until there are SGEMM_TILES of them (so up to that many
 * threads share a large GEMM), but not below SGEMM_TILE_FLOPS per tile nor
 * SGEMM_MIN_M rows by SGEMM_MIN_N columns: OpenBLAS packs a tile's rows of A
 * and columns of B once per call, and with 32 x 64 tiles of K = 4096 that
 * packing made the XLS-R feed-forward GEMMs 1.2-1.3x slower than one threaded
 * call. With these settings an XLSR-AASIST training step takes 5-15% longer
 * than with OpenBLAS's own threading on 2 threads, AASIST's no longer
 * measurably (bench/RESULTS.md). */
#define SGEMM_TILES 16
#define SGEMM_TILE_FLOPS (1 << 21)
#define SGEMM_MIN_M 32
#define SGEMM_MIN_N 64

static int half16(int n) { return ((n + 1) / 2 + 15) / 16 * 16; }

static void sgemm_tiles(int M, int N, int K, int *tm, int *tn)
{
    int m = M, n = N;
    while ((double)((M + m - 1) / m) * ((N + n - 1) / n) < SGEMM_TILES && 2.0 * m * n * (double)K > SGEMM_TILE_FLOPS) {
        const int cm = m > SGEMM_MIN_M, cn = n > SGEMM_MIN_N;
        if (cm && (!cn || m * SGEMM_MIN_N >= n * SGEMM_MIN_M)) m = half16(m);
        else if (cn) n = half16(n);
        else break;
    }
    *tm = m;
    *tn = n;
}

typedef struct {
    int ta, tb, M, N, K, tm, tn, nn, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} sgemm_job;

/* tile t of C, tiles numbered along rows of tiles */
static void sgemm_tile(const sgemm_job *g, int t)
{
    const int i0 = t / g->nn * g->tm, j0 = t % g->nn * g->tn;
    const int m = g->M - i0 < g->tm ? g->M - i0 : g->tm, n = g->N - j0 < g->tn ? g->N - j0 : g->tn;
    const float *a = g->ta ? g->A + i0 : g->A + (size_t)i0 * g->lda;
    const float *b = g->tb ? g->B + (size_t)j0 * g->ldb : g->B + j0;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, m, n, g->K,
                g->alpha, a, g->lda, b, g->ldb, g->beta, g->C + (size_t)i0 * g->ldc + j0, g->ldc);
}

void sdd_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    sgemm_job g = { ta, tb, M, N, K, 0, 0, 0, lda, ldb, ldc, alpha, beta, A, B, C };
    sgemm_tiles(M, N, K, &g.tm, &g.tn);
    g.nn = (N + g.tn - 1) / g.tn;
    const int nt = (M + g.tm - 1) / g.tm * g.nn;
    if (omp_in_parallel() || omp_get_max_threads() == 1) {
        for (int t = 0; t < nt; t++) sgemm_tile(&g, t);
        return;
    }
    #pragma omp parallel
    {
        /* this task's own thread count: OpenBLAS stays single-threaded here even
         * where the team got one thread (an inactive region) */
        omp_set_num_threads(1);
        #pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < nt; t++) sgemm_tile(&g, t);
    }
}
