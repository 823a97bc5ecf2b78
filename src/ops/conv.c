/* Convolutions: the fixed sinc front end (conv1d + |.| + MaxPool2d(3,3) fused,
 * forward only) and conv2d (stride 1, zero padding) with its backward.
 * Both are GEMMs on implicit im2col: for one output row and a chunk of
 * columns, tap k = (ci, i, j) multiplies a contiguous run of input row
 * ci, h + i - ph, so the GEMM kernel gets a pointer to that run instead of a
 * copied column matrix; only runs that cross the plane's left or right edge
 * are copied (zero-filled), runs above or below it point at zeros.
 *   forward:        out (Cout, chunk) = W (Cout, K) @ taps (K, chunk)
 *   weight grad:    dW^T (K, Cout) += taps (K, chunk) @ dy^T (chunk, Cout)
 *   input grad:     dx = conv(dy, W flipped and transposed), padding k - 1 - p
 * The conv2d kernels work on sample ranges and are shared with the fused
 * residual block (internal.h). */
#include "ops/ops.h"
#include "ops/internal.h"
#include "backend/gemm.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <omp.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define SINC_CHUNK 3072  /* time columns per GEMM in the front end (multiple of 3) */
#define CONV_CHUNK 256   /* output columns per GEMM in conv2d: the taps of a chunk stay in L2 */
#define CONV_LD (CONV_CHUNK + 16)  /* row stride of copied edge runs (a power-of-two stride puts every
                                    * row of a GEMM panel in the same L1 set) */

static const float conv_zeros[CONV_CHUNK];

/* OpenMP chunk for a loop of n small jobs that write neighbouring output
 * columns: runs of about n / (32 threads) jobs, so two threads meet at a run
 * boundary, sharing an output cache line, only every few dozen jobs (with
 * chunks of one job they worked side by side on the same rows), while 32
 * runs per thread still balance a core that is busy elsewhere. Measured:
 * AASIST eval forward, batch 10, 2 threads, best of alternating rounds
 * 1.17-1.28 s against 1.26-1.59 s with chunks of one job. The result does
 * not depend on the schedule: every output is one job's. */
static int conv_grain(int64_t n)
{
    const int64_t g = n / ((int64_t)omp_get_max_threads() * 32);
    return g < 1 ? 1 : g > 1 << 20 ? 1 << 20 : (int)g;
}

sdd_tensor *sdd_sinc_front(sdd_ctx *c, sdd_tensor *wave, const float *filt, int C, int K)
{
    if (!wave || c->failed) return NULL;
    const int B = (int)wave->n[0];
    const int64_t L = wave->n[1];
    const int64_t T = L - K + 1;            /* conv output length */
    if (T < 3) { sdd_err_set(&c->err, "sinc front end: input of %lld samples is shorter than %d", (long long)L, K + 2); c->failed = 1; return NULL; }
    const int Ho = C / 3;                    /* pooled filter rows */
    const int Cu = Ho * 3;                   /* filters that survive the floor */
    const int64_t Wo = T / 3;
    SDD_ON_DEVICE(c, sdd_cu_sinc_front(c, wave, filt, C, K));
    sdd_tensor *out = sdd_new4(c, B, 1, Ho, Wo);
    if (!out) return NULL;
    const int64_t nchunk = (Wo * 3 + SINC_CHUNK - 1) / SINC_CHUNK;
    const int nth = omp_get_max_threads();
    float *scratch = sdd_scratch(c, (size_t)nth * Cu * SINC_CHUNK * sizeof(float));
    const float **taps = sdd_scratch(c, (size_t)nth * K * sizeof(*taps));
    const float **frow = sdd_scratch(c, (size_t)Cu * sizeof(*frow));
    if (!scratch || !taps || !frow) return NULL;
    for (int f = 0; f < Cu; f++) frow[f] = filt + (size_t)f * K;
    sdd_prof_flops(c, 2.0 * B * Cu * K * (double)(Wo * 3));
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t job = 0; job < (int64_t)B * nchunk; job++) {
        const int b = (int)(job / nchunk);
        const int64_t t0 = (job % nchunk) * SINC_CHUNK;
        int64_t tc = Wo * 3 - t0;
        if (tc > SINC_CHUNK) tc = SINC_CHUNK;
        const int t = omp_get_thread_num();
        float *y = scratch + (size_t)t * Cu * SINC_CHUNK;
        const float **tk = taps + (size_t)t * K;
        const float *xw = wave->x + (size_t)b * L + t0;
        /* tap k of output t is x[t0 + t + k]: row k of the implicit (K, tc) matrix starts at xw + k */
        for (int k = 0; k < K; k++) tk[k] = xw + k;
        /* y (Cu, tc) = filt (Cu, K) @ taps (K, tc) */
        sdd_gemm_nn_ptr(Cu, (int)tc, K, frow, tk, y, (int)tc, 0);
        /* |.| + 3x3 max pool */
        for (int h = 0; h < Ho; h++) {
            float *o = out->x + ((size_t)b * Ho + h) * Wo + t0 / 3;
            const float *r0 = y + (size_t)(3 * h) * tc, *r1 = r0 + tc, *r2 = r1 + tc;
            for (int64_t w = 0; w < tc / 3; w++) {
                float m = 0.0f;
                for (int j = 0; j < 3; j++) {
                    float a = fabsf(r0[3 * w + j]), bq = fabsf(r1[3 * w + j]), cq = fabsf(r2[3 * w + j]);
                    /* NaN propagates, as in PyTorch's max pooling */
                    if (a > m || isnan(a)) m = a;
                    if (bq > m || isnan(bq)) m = bq;
                    if (cq > m || isnan(cq)) m = cq;
                }
                o[w] = m;
            }
        }
    }
    return out;
}

typedef struct {
    sdd_tensor *x, *w, *b, *out;
    sdd_conv_geom g;
} conv2d_node;

/* Tap rows of output row h, columns [w0, w0 + wc), for a conv of plane xb
 * (Cin, H, W) with a (kh, kw) kernel and padding (ph, pw) (either may be
 * negative: a crop): rows[(ci * kh + i) * kw + j] points at the wc input values
 * that tap multiplies. Runs outside the plane point at zeros; runs crossing its
 * left or right edge are copied, zero-filled, into edge (K, CONV_LD). */
static void conv_taps(const float *xb, int Cin, int H, int W, int kh, int kw, int ph, int pw,
                      int h, int w0, int wc, const float **rows, float *edge)
{
    for (int ci = 0; ci < Cin; ci++)
        for (int i = 0; i < kh; i++) {
            const int hi = h + i - ph;
            for (int j = 0; j < kw; j++) {
                const int k = (ci * kh + i) * kw + j;
                const int ws = w0 + j - pw;                 /* input column of the run's first value */
                if (hi < 0 || hi >= H || ws >= W || ws + wc <= 0) { rows[k] = conv_zeros; continue; }
                const float *src = xb + ((size_t)ci * H + hi) * W;
                if (ws >= 0 && ws + wc <= W) { rows[k] = src + ws; continue; }
                float *dst = edge + (size_t)k * CONV_LD;
                const int lo = ws < 0 ? -ws : 0, hiw = ws + wc > W ? W - ws : wc;
                memset(dst, 0, (size_t)wc * sizeof(float));
                memcpy(dst + lo, src + ws + lo, (size_t)(hiw - lo) * sizeof(float));
                rows[k] = dst;
            }
        }
}

/* out (nb, Co, Ho, Wo) (+)= conv of x (nb, Ci, H, W) with weight rows wr[co]
 * (Ci * kh * kw taps each), stride 1, padding (ph, pw); out starts from the
 * bias (or zero) unless accumulate. Parallel over (sample, row, chunk). */
static int conv_planes(sdd_ctx *c, int nb, const float *x, int Ci, int H, int W, const float *const *wr, int Co,
                       int kh, int kw, int ph, int pw, float *out, int Ho, int Wo, const float *bias, int accumulate)
{
    const int K = Ci * kh * kw;
    const int nth = omp_get_max_threads();
    const float **rows = sdd_scratch(c, (size_t)nth * K * sizeof(*rows));
    float *edge = sdd_scratch(c, (size_t)nth * K * CONV_LD * sizeof(float));
    if (!rows || !edge) return -1;
    const int nch = (Wo + CONV_CHUNK - 1) / CONV_CHUNK;
    const int grain = conv_grain((int64_t)nb * Ho * nch);
    #pragma omp parallel for schedule(dynamic, grain)
    for (int64_t job = 0; job < (int64_t)nb * Ho * nch; job++) {
        const int bb = (int)(job / ((int64_t)Ho * nch));
        const int h = (int)((job / nch) % Ho);
        const int w0 = (int)(job % nch) * CONV_CHUNK;
        const int wc = Wo - w0 < CONV_CHUNK ? Wo - w0 : CONV_CHUNK;
        const int t = omp_get_thread_num();
        const float **tk = rows + (size_t)t * K;
        conv_taps(x + (size_t)bb * Ci * H * W, Ci, H, W, kh, kw, ph, pw, h, w0, wc, tk, edge + (size_t)t * K * CONV_LD);
        float *o = out + (size_t)bb * Co * Ho * Wo + (size_t)h * Wo + w0;
        /* without a bias a stored output starts from the GEMM's zeroed registers (the
         * same bits as from zeroed memory), so it is written once, never read first */
        if (!accumulate && bias)
            for (int co = 0; co < Co; co++) {
                float *r = o + (size_t)co * Ho * Wo;
                for (int q = 0; q < wc; q++) r[q] = bias[co];
            }
        sdd_gemm_nn_ptr(Co, wc, K, wr, tk, o, Ho * Wo, accumulate || bias);
    }
    return 0;
}

/* See internal.h. Tiles of RB-friendly width: a multiple of 3 (pooling windows
 * never straddle two tiles) and of 16. */
#define CONV_TILE 240

int sdd_conv_fwd_tiles(sdd_ctx *c, int nb, const sdd_conv_geom *g, const float *x, const float *w, const float *b,
                       const sdd_conv_geom *g2, const float *x2, const float *w2, const float *b2,
                       sdd_conv_tile_fn fn, void *arg)
{
    const int K = g->Cin * g->kh * g->kw, K2 = g2 ? g2->Cin * g2->kh * g2->kw : 0, Kmax = K > K2 ? K : K2;
    const int Co = g->Cout, Ho = g->Ho, Wo = g->Wo;
    const int nth = omp_get_max_threads();
    const float **rows = sdd_scratch(c, (size_t)nth * Kmax * sizeof(*rows));
    float *edge = sdd_scratch(c, (size_t)nth * Kmax * CONV_LD * sizeof(float));
    float *tiles = sdd_scratch(c, (size_t)nth * 2 * Co * CONV_TILE * sizeof(float));
    const float **wr = sdd_scratch(c, (size_t)Co * 2 * sizeof(*wr));
    if (!rows || !edge || !tiles || !wr) return -1;
    for (int co = 0; co < Co; co++) {
        wr[co] = w + (size_t)co * K;
        wr[Co + co] = g2 ? w2 + (size_t)co * K2 : NULL;
    }
    const int nch = (Wo + CONV_TILE - 1) / CONV_TILE;
    sdd_prof_flops(c, 2.0 * nb * Co * (double)(K + K2) * Ho * Wo);
    const int grain = conv_grain((int64_t)nb * Ho * nch);
    #pragma omp parallel for schedule(dynamic, grain)
    for (int64_t job = 0; job < (int64_t)nb * Ho * nch; job++) {
        const int bb = (int)(job / ((int64_t)Ho * nch));
        const int h = (int)((job / nch) % Ho);
        const int w0 = (int)(job % nch) * CONV_TILE;
        const int wc = Wo - w0 < CONV_TILE ? Wo - w0 : CONV_TILE;
        const int t = omp_get_thread_num();
        const float **tk = rows + (size_t)t * Kmax;
        float *eb = edge + (size_t)t * Kmax * CONV_LD, *tile = tiles + (size_t)t * 2 * Co * CONV_TILE;
        /* the same arithmetic as sdd_conv_fwd: bias, then the GEMM accumulates;
         * the second conv in its own tile, then added, as a separate add op would */
        for (int pass = 0; pass < (g2 ? 2 : 1); pass++) {
            const sdd_conv_geom *gg = pass ? g2 : g;
            const float *bias = pass ? b2 : b, *xx = pass ? x2 : x;
            float *tt = tile + (size_t)pass * Co * CONV_TILE;
            for (int co = 0; co < Co; co++) {
                const float bv = bias ? bias[co] : 0.0f;
                for (int q = 0; q < wc; q++) tt[(size_t)co * CONV_TILE + q] = bv;
            }
            conv_taps(xx + (size_t)bb * gg->Cin * gg->H * gg->W, gg->Cin, gg->H, gg->W, gg->kh, gg->kw, gg->ph, gg->pw,
                      h, w0, wc, tk, eb);
            sdd_gemm_nn_ptr(Co, wc, pass ? K2 : K, wr + (size_t)pass * Co, tk, tt, CONV_TILE, 1);
        }
        if (g2)
            for (size_t k = 0; k < (size_t)Co * CONV_TILE; k++) tile[k] = tile[k] + tile[(size_t)Co * CONV_TILE + k];
        fn(arg, bb, h, w0, wc, tile, CONV_TILE);
    }
    return 0;
}

int sdd_conv_geom_init(sdd_ctx *c, sdd_conv_geom *g, int Cin, int H, int W, const sdd_tensor *w, int ph, int pw)
{
    if (w->n[1] != Cin) { sdd_err_set(&c->err, "conv2d: input has %d channels, weight expects %lld", Cin, (long long)w->n[1]); c->failed = 1; return -1; }
    g->Cin = Cin; g->H = H; g->W = W;
    g->Cout = (int)w->n[0]; g->kh = (int)w->n[2]; g->kw = (int)w->n[3];
    g->ph = ph; g->pw = pw;
    g->Ho = H + 2 * ph - g->kh + 1;
    g->Wo = W + 2 * pw - g->kw + 1;
    if (g->Ho < 1 || g->Wo < 1) { sdd_err_set(&c->err, "conv2d: input %dx%d too small", H, W); c->failed = 1; return -1; }
    return 0;
}

#if defined(__AVX512F__)
/* In-register transpose of a 16 x 16 block: r[i] holds row i on entry and
 * column i on return (three rounds of 2 x 2 swaps: 32-bit pairs, 64-bit
 * pairs, then 128-bit lanes in two steps). */
static inline void tr16x16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* now 128-bit lane l of r[4a + b] is column 4l + b of rows 4a..4a+3: column
     * 4l + b is lane l of r[b], r[4 + b], r[8 + b], r[12 + b], a 4 x 4 transpose of lanes */
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}
#endif

/* One chunk of conv2d's weight/bias backward: dy (Cout, wc) with row stride
 * ldy. Bias sums (when dB): dB[co] += dy[co][q] for q in order, in double
 * (bias gradients cancel heavily: the next BatchNorm removes the mean).
 * Transpose (when yT): yT (wc, Cout) = dy^T, the GEMM's B operand. Both in
 * one read of dy, by 16 x 16 blocks transposed in registers; after the
 * transpose each vector is one column q of 16 channels, so the sums are
 * vertical adds in the same order as a scalar loop over q. */
static void conv_dy_chunk(const float *dy, int ldy, int Cout, int wc, double *dB, float *yT)
{
    int co0 = 0;
#if defined(__AVX512F__)
    for (; co0 + 16 <= Cout; co0 += 16) {
        __m512d s0 = dB ? _mm512_loadu_pd(dB + co0) : _mm512_setzero_pd();
        __m512d s1 = dB ? _mm512_loadu_pd(dB + co0 + 8) : _mm512_setzero_pd();
        int q0 = 0;
        for (; q0 + 16 <= wc; q0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(dy + (size_t)(co0 + i) * ldy + q0);
            tr16x16(r);
            for (int i = 0; i < 16; i++) {
                if (yT) _mm512_storeu_ps(yT + (size_t)(q0 + i) * Cout + co0, r[i]);
                if (dB) {
                    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(r[i])));
                    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r[i]), 1))));
                }
            }
        }
        if (dB) { _mm512_storeu_pd(dB + co0, s0); _mm512_storeu_pd(dB + co0 + 8, s1); }
        for (int q = q0; q < wc; q++)
            for (int co = co0; co < co0 + 16; co++) {
                const float v = dy[(size_t)co * ldy + q];
                if (dB) dB[co] += v;
                if (yT) yT[(size_t)q * Cout + co] = v;
            }
    }
#endif
    for (int co = co0; co < Cout; co++) {
        const float *r = dy + (size_t)co * ldy;
        for (int q = 0; q < wc; q++) {
            if (dB) dB[co] += r[q];
            if (yT) yT[(size_t)q * Cout + co] = r[q];
        }
    }
}

int sdd_conv_bwd(sdd_ctx *c, const sdd_conv_geom *g, int b0, int nb, const float *x, const sdd_tensor *w,
                 const sdd_tensor *b, const float *dy_all, float *dx, int dx_store)
{
    const int Cin = g->Cin, H = g->H, W = g->W, Cout = g->Cout, kh = g->kh, kw = g->kw;
    const int Ho = g->Ho, Wo = g->Wo;
    const int K = Cin * kh * kw;
    const int wantw = sdd_pgrad(c, w, 0) != NULL || (c->nseg > 1 && sdd_pgrad(c, w, c->nseg - 1));
    const int wantb = b && sdd_pgrad(c, b, 0) != NULL;
    const size_t wsz = (size_t)Cout * K;
    if (wantw || wantb) {
        const int nth = omp_get_max_threads();
        /* per-sample accumulators (dW^T (K, Cout) and the bias sums), added in
         * sample order after the parallel loop: the result does not depend on
         * which thread took which sample, so a step gives the same bits run after run */
        float *acc = sdd_scratch0(c, (size_t)nb * wsz * sizeof(float));
        double *dbias = sdd_scratch0(c, (size_t)nb * Cout * sizeof(double));
        const float **rows = sdd_scratch(c, (size_t)nth * K * sizeof(*rows));
        float *edge = sdd_scratch(c, (size_t)nth * K * CONV_LD * sizeof(float));
        float *dyT = sdd_scratch(c, (size_t)nth * CONV_CHUNK * Cout * sizeof(float));
        const float **dyTr = sdd_scratch(c, (size_t)nth * CONV_CHUNK * sizeof(*dyTr));
        if (!acc || !dbias || !rows || !edge || !dyT || !dyTr) return -1;
        const int nch = (Wo + CONV_CHUNK - 1) / CONV_CHUNK;
        const int ldy = Ho * Wo;
        if (wantw) sdd_prof_flops(c, 2.0 * nb * K * Cout * (double)Ho * Wo);
        #pragma omp parallel for schedule(dynamic, 1)
        for (int bi = 0; bi < nb; bi++) {
            const int t = omp_get_thread_num();
            float *dWT = acc + (size_t)bi * wsz;
            double *dBd = dbias + (size_t)bi * Cout;
            const float **tk = rows + (size_t)t * K, **tr = dyTr + (size_t)t * CONV_CHUNK;
            float *eb = edge + (size_t)t * K * CONV_LD, *yT = dyT + (size_t)t * CONV_CHUNK * Cout;
            for (int q = 0; q < CONV_CHUNK; q++) tr[q] = yT + (size_t)q * Cout;
            const float *xb = x + (size_t)bi * Cin * H * W;
            for (int h = 0; h < Ho; h++)
                for (int ch = 0; ch < nch; ch++) {
                    const int w0 = ch * CONV_CHUNK;
                    const int wc = Wo - w0 < CONV_CHUNK ? Wo - w0 : CONV_CHUNK;
                    const float *dy = dy_all + (size_t)bi * Cout * ldy + (size_t)h * Wo + w0;
                    conv_dy_chunk(dy, ldy, Cout, wc, wantb ? dBd : NULL, wantw ? yT : NULL);
                    if (!wantw) continue;
                    conv_taps(xb, Cin, H, W, kh, kw, g->ph, g->pw, h, w0, wc, tk, eb);
                    /* dW^T (K, Cout) += taps (K, wc) @ dy^T (wc, Cout) */
                    sdd_gemm_nn_ptr(K, Cout, wc, tk, tr, dWT, Cout, 1);
                }
        }
        for (int bi = 0; bi < nb; bi++) {
            const int s = sdd_seg_of(c, b0 + bi);
            float *gw = wantw ? sdd_pgrad(c, w, s) : NULL, *gb = wantb ? sdd_pgrad(c, b, s) : NULL;
            if (gb) for (int k = 0; k < Cout; k++) gb[k] += (float)dbias[(size_t)bi * Cout + k];
            if (gw) {
                const float *dWT = acc + (size_t)bi * wsz;
                for (int co = 0; co < Cout; co++)
                    for (int k = 0; k < K; k++) gw[(size_t)co * K + k] += dWT[(size_t)k * Cout + co];
            }
        }
    }
    if (dx) {
        /* dx[ci][h][w] = sum over co, i, j of W[co][ci][i][j] dy[co][h + ph - i][w + pw - j]:
         * a conv of dy with weight rows wf[ci][(co, i', j')] = W[co][ci][kh-1-i'][kw-1-j'] */
        const int Kf = Cout * kh * kw;
        sdd_prof_flops(c, 2.0 * nb * Cin * Kf * (double)H * W);
        float *wf = sdd_scratch(c, wsz * sizeof(float));
        const float **wfr = sdd_scratch(c, (size_t)Cin * sizeof(*wfr));
        if (!wf || !wfr) return -1;
        for (int ci = 0; ci < Cin; ci++) {
            wfr[ci] = wf + (size_t)ci * Kf;
            for (int co = 0; co < Cout; co++)
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++)
                        wf[(size_t)ci * Kf + ((size_t)co * kh + i) * kw + j] =
                            w->x[(((size_t)co * Cin + ci) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
        }
        if (conv_planes(c, nb, dy_all, Cout, Ho, Wo, wfr, Cin, kh, kw, kh - 1 - g->ph, kw - 1 - g->pw, dx, H, W, NULL, !dx_store))
            return -1;
    }
    return 0;
}

static void conv2d_backward(sdd_ctx *c, void *vn)
{
    conv2d_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    sdd_conv_bwd(c, &n->g, 0, (int)n->x->n[0], n->x->x, n->w, n->b, n->out->g, dx, 0);
}

int sdd_conv_fwd(sdd_ctx *c, const sdd_conv_geom *g, int nb, const float *x, const float *w, const float *b, float *out)
{
    const int K = g->Cin * g->kh * g->kw;
    const float **wr = sdd_scratch(c, (size_t)g->Cout * sizeof(*wr));
    if (!wr) return -1;
    for (int co = 0; co < g->Cout; co++) wr[co] = w + (size_t)co * K;
    sdd_prof_flops(c, 2.0 * nb * g->Cout * K * (double)g->Ho * g->Wo);
    return conv_planes(c, nb, x, g->Cin, g->H, g->W, wr, g->Cout, g->kh, g->kw, g->ph, g->pw, out, g->Ho, g->Wo, b, 0);
}

sdd_tensor *sdd_conv2d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, int ph, int pw)
{
    if (!x || !w || c->failed) return NULL;
    sdd_conv_geom g;
    if (sdd_conv_geom_init(c, &g, (int)x->n[1], (int)x->n[2], (int)x->n[3], w, ph, pw)) return NULL;
    const int B = (int)x->n[0];
    SDD_ON_DEVICE(c, sdd_cu_conv2d(c, x, w, b, ph, pw));
    sdd_tensor *out = sdd_new4(c, B, g.Cout, g.Ho, g.Wo);
    if (!out) return NULL;
    if (sdd_conv_fwd(c, &g, B, x->x, w->x, b ? b->x : NULL, out->x)) return NULL;
    out->rg = sdd_wants(c, x) || sdd_wants(c, w) || (b && sdd_wants(c, b));
    if (c->grad && out->rg) {
        conv2d_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->x = x; n->w = w; n->b = b; n->out = out; n->g = g;
        if (sdd_tape_push(c, conv2d_backward, n)) return NULL;
    }
    return out;
}
