/* Owns the int8 linear layers of qgemm.h: weight quantization and packing,
 * per-row activation quantization, the AVX-512 VNNI tile kernel (6 rows x
 * 32 outputs, 12 int32 accumulators), its 256-bit AVX-VNNI form, the exact
 * scalar loop, the choice among them and the AMX kernel (qgemm_amx.c), and
 * the epilogue they share. */
#include "backend/qgemm.h"
#include "backend/qgemm_amx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVXVNNI__)
#include <immintrin.h>
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#define SDD_Q8_VNNI 1
#endif
#if defined(__AVXVNNI__)
#define SDD_Q8_AVXVNNI 1
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

enum { MR = 6, NR = 32 };   /* the tile: rows x outputs (two blocks of 16) */
_Static_assert((int)SDD_Q8_AMX_NR == (int)NR, "the epilogue reads AMX blocks with the tiles' row stride");

/* the kernel AUTO runs: AMX where this CPU runs it, else the widest the build has */
static int auto_kernel(void)
{
    if (sdd_q8_amx_ready()) return SDD_Q8_AMX;
#if defined(SDD_Q8_VNNI)
    return SDD_Q8_AVX512VNNI;
#elif defined(SDD_Q8_AVXVNNI)
    return SDD_Q8_AVXVNNI_256;
#else
    return SDD_Q8_SCALAR;
#endif
}

const char *sdd_q8_kernel_name(int kernel)
{
    switch (kernel) {
    case SDD_Q8_SCALAR: return "scalar";
    case SDD_Q8_AVX512VNNI: return "avx512-vnni";
    case SDD_Q8_AVXVNNI_256: return "avx-vnni";
    case SDD_Q8_AMX: return "amx";
    default: return NULL;
    }
}

const char *sdd_q8_fast(void)
{
    const int k = auto_kernel();
    return k == SDD_Q8_SCALAR ? NULL : sdd_q8_kernel_name(k);
}

int sdd_q8_fast_check(sdd_err *e)
{
    if (sdd_q8_fast()) return 0;
    return sdd_err_set(e, "no fast int8 kernel here (AMX, which this CPU lacks, or AVX-512 VNNI or AVX-VNNI, chosen at "
                          "build time by -march=native): int8 would be slower than float32");
}

int sdd_q8_has_kernel(int kernel)
{
    switch (kernel) {
    case SDD_Q8_AUTO: case SDD_Q8_SCALAR: return 1;
#ifdef SDD_Q8_VNNI
    case SDD_Q8_AVX512VNNI: return 1;
#endif
#ifdef SDD_Q8_AVXVNNI
    case SDD_Q8_AVXVNNI_256: return 1;
#endif
    case SDD_Q8_AMX: return sdd_q8_amx_ready();
    default: return 0;
    }
}

void sdd_q8_linear_free(sdd_q8_linear *q)
{
    if (!q) return;
    free(q->w);
    free(q->scale);
    free(q->colsum);
    memset(q, 0, sizeof *q);
}

static size_t packed_at(const sdd_q8_linear *q, int o, int k)
{
    return ((size_t)(o / 16) * (size_t)(q->kp / 4) + (size_t)(k / 4)) * 64 + (size_t)(o % 16) * 4 + (size_t)(k % 4);
}

float sdd_q8_weight(const sdd_q8_linear *q, int o, int k)
{
    return (float)q->w[packed_at(q, o, k)] * q->scale[o];
}

int sdd_q8_linear_init(sdd_q8_linear *q, const float *w, int dout, int din, sdd_err *e)
{
    memset(q, 0, sizeof *q);
    if (dout < 1 || din < 1 || din > (1 << 24)) return sdd_err_set(e, "int8 linear: bad sizes %d x %d", dout, din);
    q->dout = dout;
    q->din = din;
    q->kp = (din + 3) / 4 * 4;
    q->nb = (dout + 15) / 16;
    q->w = calloc((size_t)q->nb * 16 * (size_t)q->kp, 1);
    q->scale = malloc((size_t)dout * sizeof *q->scale);
    q->colsum = malloc((size_t)dout * sizeof *q->colsum);
    if (!q->w || !q->scale || !q->colsum) {
        sdd_q8_linear_free(q);
        return sdd_err_set(e, "out of memory for an int8 %d x %d weight", dout, din);
    }
    for (int o = 0; o < dout; o++) {
        const float *row = w + (size_t)o * din;
        float amax = 0.0f;
        for (int k = 0; k < din; k++) {
            if (!isfinite(row[k])) {
                sdd_q8_linear_free(q);
                return sdd_err_set(e, "int8 linear: weight [%d][%d] is not finite", o, k);
            }
            if (fabsf(row[k]) > amax) amax = fabsf(row[k]);
        }
        const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        int32_t sum = 0;
        for (int k = 0; k < din; k++) {
            float v = nearbyintf(row[k] / s);
            if (v > 127.0f) v = 127.0f;
            if (v < -127.0f) v = -127.0f;
            q->w[packed_at(q, o, k)] = (int8_t)v;
            sum += (int32_t)v;
        }
        q->scale[o] = s;
        q->colsum[o] = sum;
    }
    return 0;
}

/* row x (din) -> a (kp, 0 padded), its scale and zero point; -1 if not finite */
static int quantize_row(const float *x, int din, int kp, uint8_t *a, float *scale, int32_t *zero)
{
    float lo = 0.0f, hi = 0.0f;
    int k0 = 0;
#if defined(__AVX512F__)
    /* 16 at a time with the same operations: min/max keep the accumulator
     * on ties (so a -0 never replaces the initial +0, as in the loop
     * below), x / s is the same division, roundscale rounds to nearest even
     * as nearbyintf does in the default mode */
    __m512 vlo = _mm512_setzero_ps(), vhi = vlo;
    __mmask16 bad = 0;
    for (; k0 + 16 <= din; k0 += 16) {
        const __m512 v = _mm512_loadu_ps(x + k0);
        bad |= _mm512_cmp_ps_mask(_mm512_sub_ps(v, v), _mm512_setzero_ps(), _CMP_NEQ_UQ);   /* NaN or an infinity */
        vlo = _mm512_min_ps(v, vlo);
        vhi = _mm512_max_ps(v, vhi);
    }
    if (bad) return -1;
    lo = _mm512_reduce_min_ps(vlo);
    hi = _mm512_reduce_max_ps(vhi);
#endif
    for (int k = k0; k < din; k++) {
        if (!isfinite(x[k])) return -1;
        if (x[k] < lo) lo = x[k];
        if (x[k] > hi) hi = x[k];
    }
    const float s = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    float z = nearbyintf(-lo / s);
    if (z < 0.0f) z = 0.0f;
    if (z > 255.0f) z = 255.0f;
    k0 = 0;
#if defined(__AVX512F__)
    const __m512 vs = _mm512_set1_ps(s), vz = _mm512_set1_ps(z), v0 = _mm512_setzero_ps(), v255 = _mm512_set1_ps(255.0f);
    for (; k0 + 16 <= din; k0 += 16) {
        __m512 v = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(x + k0), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, vz), v0), v255);
        _mm_storeu_si128((void *)(a + k0), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
    }
#endif
    for (int k = k0; k < din; k++) {
        float v = nearbyintf(x[k] / s) + z;
        if (v < 0.0f) v = 0.0f;
        if (v > 255.0f) v = 255.0f;
        a[k] = (uint8_t)v;
    }
    memset(a + din, 0, (size_t)(kp - din));
    *scale = s;
    *zero = (int32_t)z;
    return 0;
}

/* acc (rows, NR) of rows r0.. and outputs 32 c.. -> y. The vector form
 * forms acc - z colsum in double rather than int64: both are integers below
 * 2^53, so the value, and every rounding after it, is the scalar loop's. */
static void epilogue(const sdd_q8_linear *q, const int32_t *acc, int r0, int rows, int o0, const float *rs,
                     const int32_t *rz, const float *b, float *y)
{
#if defined(__AVX512F__)
    if (o0 + NR <= q->dout) {
        for (int i = 0; i < rows; i++) {
            const int r = r0 + i;
            const __m512d z = _mm512_set1_pd((double)rz[r]), sr = _mm512_set1_pd((double)rs[r]);
            for (int j = 0; j < NR; j += 8) {
                const int o = o0 + j;
                const __m512d a = _mm512_cvtepi32_pd(_mm256_loadu_si256((const void *)(acc + i * NR + j)));
                const __m512d cs = _mm512_cvtepi32_pd(_mm256_loadu_si256((const void *)(q->colsum + o)));
                const __m512d so = _mm512_cvtps_pd(_mm256_loadu_ps(q->scale + o));
                __m512d d = _mm512_mul_pd(_mm512_sub_pd(a, _mm512_mul_pd(z, cs)), _mm512_mul_pd(sr, so));
                if (b) d = _mm512_add_pd(d, _mm512_cvtps_pd(_mm256_loadu_ps(b + o)));
                _mm256_storeu_ps(y + (size_t)r * q->dout + o, _mm512_cvtpd_ps(d));
            }
        }
        return;
    }
#endif
    for (int i = 0; i < rows; i++) {
        const int r = r0 + i;
        for (int j = 0; j < NR && o0 + j < q->dout; j++) {
            const int o = o0 + j;
            const int64_t v = (int64_t)acc[i * NR + j] - (int64_t)rz[r] * q->colsum[o];
            double d = (double)v * ((double)rs[r] * (double)q->scale[o]);
            if (b) d += (double)b[o];
            y[(size_t)r * q->dout + o] = (float)d;
        }
    }
}

/* the exact integer sums of the tile, one product at a time */
static void tile_scalar(const sdd_q8_linear *q, const uint8_t *A, int rows, int o0, int32_t *acc)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < NR; j++) {
            const int o = o0 + j;
            int32_t s = 0;
            if (o < q->nb * 16)
                for (int k = 0; k < q->kp; k++) s += (int32_t)A[(size_t)i * q->kp + k] * q->w[packed_at(q, o, k)];
            acc[i * NR + j] = s;
        }
}

#ifdef SDD_Q8_VNNI
/* 6 rows x 32 outputs: per k-group of 4, two 64-byte weight loads, six
 * broadcasts of a row's 4 activations, twelve vpdpbusd. Rows past `rows`
 * reread the first row; a missing second block rereads the first (both
 * results discarded), so the loop has no branches. */
static void tile_vnni(const sdd_q8_linear *q, const uint8_t *A, int rows, int o0, int32_t *acc)
{
    const int G = q->kp / 4, j0 = o0 / 16, j1 = j0 + 1 < q->nb ? j0 + 1 : j0;
    const int8_t *w0 = q->w + (size_t)j0 * G * 64, *w1 = q->w + (size_t)j1 * G * 64;
    const uint8_t *a[MR];
    for (int i = 0; i < MR; i++) a[i] = A + (size_t)(i < rows ? i : 0) * q->kp;
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int g = 0; g < G; g++) {
        const __m512i b0 = _mm512_loadu_si512((const void *)(w0 + (size_t)g * 64));
        const __m512i b1 = _mm512_loadu_si512((const void *)(w1 + (size_t)g * 64));
        int32_t v;
        __m512i x;
#define ROW(i, ca, cb) \
        memcpy(&v, a[i] + 4 * (size_t)g, 4); \
        x = _mm512_set1_epi32(v); \
        ca = _mm512_dpbusd_epi32(ca, x, b0); \
        cb = _mm512_dpbusd_epi32(cb, x, b1);
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
#undef ROW
    }
    _mm512_storeu_si512((void *)(acc + 0 * NR), c00); _mm512_storeu_si512((void *)(acc + 0 * NR + 16), c01);
    _mm512_storeu_si512((void *)(acc + 1 * NR), c10); _mm512_storeu_si512((void *)(acc + 1 * NR + 16), c11);
    _mm512_storeu_si512((void *)(acc + 2 * NR), c20); _mm512_storeu_si512((void *)(acc + 2 * NR + 16), c21);
    _mm512_storeu_si512((void *)(acc + 3 * NR), c30); _mm512_storeu_si512((void *)(acc + 3 * NR + 16), c31);
    _mm512_storeu_si512((void *)(acc + 4 * NR), c40); _mm512_storeu_si512((void *)(acc + 4 * NR + 16), c41);
    _mm512_storeu_si512((void *)(acc + 5 * NR), c50); _mm512_storeu_si512((void *)(acc + 5 * NR + 16), c51);
}
#endif

#ifdef SDD_Q8_AVXVNNI
/* The 256-bit form (AVX-VNNI: CPUs with VNNI but no AVX-512, such as
 * recent laptop cores): a 16-output block is two 8-lane halves, so the
 * 6 x 32 tile is two passes of 6 x 16 with twelve accumulators each. */
static void half_tile_avxvnni(const int8_t *w, int G, const uint8_t *const *a, int32_t *acc)
{
    __m256i c[MR][2];
    for (int i = 0; i < MR; i++) c[i][0] = c[i][1] = _mm256_setzero_si256();
    for (int g = 0; g < G; g++) {
        const __m256i b0 = _mm256_loadu_si256((const void *)(w + (size_t)g * 64));
        const __m256i b1 = _mm256_loadu_si256((const void *)(w + (size_t)g * 64 + 32));
        for (int i = 0; i < MR; i++) {
            int32_t v;
            memcpy(&v, a[i] + 4 * (size_t)g, 4);
            const __m256i x = _mm256_set1_epi32(v);
            c[i][0] = _mm256_dpbusd_avx_epi32(c[i][0], x, b0);
            c[i][1] = _mm256_dpbusd_avx_epi32(c[i][1], x, b1);
        }
    }
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_si256((void *)(acc + i * NR), c[i][0]);
        _mm256_storeu_si256((void *)(acc + i * NR + 8), c[i][1]);
    }
}

static void tile_avxvnni(const sdd_q8_linear *q, const uint8_t *A, int rows, int o0, int32_t *acc)
{
    const int G = q->kp / 4, j0 = o0 / 16, j1 = j0 + 1 < q->nb ? j0 + 1 : j0;
    const uint8_t *a[MR];
    for (int i = 0; i < MR; i++) a[i] = A + (size_t)(i < rows ? i : 0) * q->kp;
    half_tile_avxvnni(q->w + (size_t)j0 * G * 64, G, a, acc);
    half_tile_avxvnni(q->w + (size_t)j1 * G * 64, G, a, acc + 16);
}
#endif

/* the AMX blocks (32 rows x 32 outputs), threads over them as below; each
 * thread configures its tiles once */
static void amx_forward(const sdd_q8_linear *q, const uint8_t *A, int64_t R, const float *rs, const int32_t *rz,
                        const float *b, float *y)
{
    const int64_t nrt = (R + SDD_Q8_AMX_MR - 1) / SDD_Q8_AMX_MR, nct = (q->dout + SDD_Q8_AMX_NR - 1) / SDD_Q8_AMX_NR;
    #pragma omp parallel
    {
        int32_t acc[SDD_Q8_AMX_MR * SDD_Q8_AMX_NR];
        sdd_q8_amx_begin();
        #pragma omp for schedule(static)
        for (int64_t t = 0; t < nrt * nct; t++) {
            const int r0 = (int)(t % nrt) * SDD_Q8_AMX_MR, o0 = (int)(t / nrt) * SDD_Q8_AMX_NR;
            const int rows = R - r0 < SDD_Q8_AMX_MR ? (int)(R - r0) : SDD_Q8_AMX_MR;
            sdd_q8_amx_block(q, A + (size_t)r0 * q->kp, o0, acc);
            epilogue(q, acc, r0, rows, o0, rs, rz, b, y);
        }
        sdd_q8_amx_end();
    }
}

int sdd_q8_linear_forward(const sdd_q8_linear *q, const float *x, int64_t R, const float *b, float *y, int kernel,
                          sdd_err *e)
{
    if (!sdd_q8_has_kernel(kernel)) return sdd_err_set(e, "int8 linear: kernel %d is not in this build", kernel);
    if (kernel == SDD_Q8_AUTO) kernel = auto_kernel();
    if (R <= 0) return 0;
    if (R > (1 << 30)) return sdd_err_set(e, "int8 linear: %lld rows", (long long)R);
    /* AMX reads whole blocks of 32 rows: the rows past R are zeros */
    const int64_t Ra = kernel == SDD_Q8_AMX ? (R + SDD_Q8_AMX_MR - 1) / SDD_Q8_AMX_MR * SDD_Q8_AMX_MR : R;
    uint8_t *A = malloc((size_t)Ra * (size_t)q->kp);
    float *rs = malloc((size_t)R * sizeof *rs);
    int32_t *rz = malloc((size_t)R * sizeof *rz);
    if (!A || !rs || !rz) {
        free(A); free(rs); free(rz);
        return sdd_err_set(e, "out of memory for %lld int8 activation rows", (long long)R);
    }
    int64_t bad = -1;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++)
        if (quantize_row(x + (size_t)r * q->din, q->din, q->kp, A + (size_t)r * q->kp, &rs[r], &rz[r])) {
            #pragma omp critical(sdd_q8_bad)
            if (bad < 0 || r < bad) bad = r;
        }
    if (bad >= 0) {
        free(A); free(rs); free(rz);
        return sdd_err_set(e, "int8 linear: input row %lld has a value that is not finite", (long long)bad);
    }
    if (kernel == SDD_Q8_AMX) {
        memset(A + (size_t)R * q->kp, 0, (size_t)(Ra - R) * q->kp);
        amx_forward(q, A, R, rs, rz, b, y);
        free(A); free(rs); free(rz);
        return 0;
    }
    const int64_t nrt = (R + MR - 1) / MR, nct = (q->dout + NR - 1) / NR;
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < nrt * nct; t++) {
        /* row tiles innermost: a thread's consecutive tiles share their 32
         * weight rows (32 x din bytes, in L1 or L2), and the activations
         * (R x din bytes) are what streams */
        const int r0 = (int)(t % nrt) * MR, o0 = (int)(t / nrt) * NR;
        const int rows = R - r0 < MR ? (int)(R - r0) : MR;
        int32_t acc[MR * NR];
        const uint8_t *At = A + (size_t)r0 * q->kp;
        switch (kernel) {
#ifdef SDD_Q8_VNNI
        case SDD_Q8_AVX512VNNI: tile_vnni(q, At, rows, o0, acc); break;
#endif
#ifdef SDD_Q8_AVXVNNI
        case SDD_Q8_AVXVNNI_256: tile_avxvnni(q, At, rows, o0, acc); break;
#endif
        default: tile_scalar(q, At, rows, o0, acc); break;
        }
        epilogue(q, acc, r0, rows, o0, rs, rz, b, y);
    }
    free(A);
    free(rs);
    free(rz);
    return 0;
}
