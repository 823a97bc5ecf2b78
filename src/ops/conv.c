/* Convolutions: the fixed sinc front end (conv1d + |.| + MaxPool2d(3,3) fused,
 * forward only) and conv2d (stride 1, zero padding) by row-wise im2col + sgemm,
 * with its backward (weight gradients per segment, input gradient by col2im).
 * The conv2d kernels work on sample ranges and are shared with the fused
 * residual block (internal.h). */
#include "ops/ops.h"
#include "ops/internal.h"
#include "backend/gemm.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <omp.h>

#define SINC_CHUNK 3072  /* time columns per GEMM in the front end (multiple of 3) */
#define CONV_CHUNK 256   /* output columns per GEMM in conv2d: the (K, chunk) columns stay in L2 */
#define CONV_LD (CONV_CHUNK + 16)  /* row stride of the columns buffer: a power-of-two stride puts every
                                    * row of a GEMM panel in the same L1 set (measured: 10-15% slower) */

sdd_tensor *sdd_sinc_front(sdd_ctx *c, sdd_tensor *wave, const float *filt, int C, int K)
{
    if (!wave || c->failed) return NULL;
    const int B = (int)wave->n[0];
    const int64_t L = wave->n[1];
    const int64_t T = L - K + 1;            /* conv output length */
    if (T < 3) { sdd_err_set(&c->err, "sinc front end: input of %lld samples is shorter than %d", (long long)L, K + 2); c->failed = 1; return NULL; }
    const int Ho = C / 3;                    /* pooled filter rows */
    const int Cu = Ho * 3;                   /* filters that survive the floor */
    const int Cp = (Cu + 7) & ~7;            /* rows padded with zero filters for the 8-row GEMM tile */
    const int64_t Wo = T / 3;
    sdd_tensor *out = sdd_new4(c, B, 1, Ho, Wo);
    if (!out) return NULL;
    const int64_t nchunk = (Wo * 3 + SINC_CHUNK - 1) / SINC_CHUNK;
    const int nth = omp_get_max_threads();
    float *scratch = sdd_scratch(c, (size_t)nth * ((size_t)K * SINC_CHUNK + (size_t)Cp * SINC_CHUNK) * sizeof(float));
    float *fp = sdd_scratch0(c, (size_t)Cp * K * sizeof(float));
    if (!scratch || !fp) return NULL;
    memcpy(fp, filt, (size_t)Cu * K * sizeof(float));
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t job = 0; job < (int64_t)B * nchunk; job++) {
        const int b = (int)(job / nchunk);
        const int64_t t0 = (job % nchunk) * SINC_CHUNK;
        int64_t tc = Wo * 3 - t0;
        if (tc > SINC_CHUNK) tc = SINC_CHUNK;
        float *cols = scratch + (size_t)omp_get_thread_num() * ((size_t)K * SINC_CHUNK + (size_t)Cp * SINC_CHUNK);
        float *y = cols + (size_t)K * SINC_CHUNK;
        const float *xw = wave->x + (size_t)b * L + t0;
        /* cols (K, tc): cols[k][t] = x[t0 + t + k] */
        for (int k = 0; k < K; k++) memcpy(cols + (size_t)k * tc, xw + k, (size_t)tc * sizeof(float));
        /* y (Cp, tc) = filt (Cp, K) @ cols (K, tc) */
        sdd_gemm_nn(Cp, (int)tc, K, fp, K, cols, (int)tc, y, (int)tc, 0);
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

/* cols (K, wc), row stride CONV_LD, for output row h, columns [w0, w0+wc) of sample plane xb (Cin, H, W). */
static void im2col_row(const float *xb, int Cin, int H, int W, int kh, int kw, int ph, int pw,
                       int h, int w0, int wc, float *cols)
{
    for (int ci = 0; ci < Cin; ci++)
        for (int i = 0; i < kh; i++) {
            const int hi = h + i - ph;
            for (int j = 0; j < kw; j++) {
                float *dst = cols + ((size_t)(ci * kh + i) * kw + j) * CONV_LD;
                if (hi < 0 || hi >= H) { memset(dst, 0, (size_t)wc * sizeof(float)); continue; }
                const float *src = xb + ((size_t)ci * H + hi) * W;
                const int off = j - pw;
                int lo = 0, hiw = wc;             /* valid range of q with 0 <= w0+q+off < W */
                if (w0 + off < 0) lo = -(w0 + off);
                if (w0 + wc + off > W) hiw = W - w0 - off;
                if (hiw < lo) hiw = lo;
                for (int q = 0; q < lo && q < wc; q++) dst[q] = 0.0f;
                if (hiw > lo) memcpy(dst + lo, src + w0 + lo + off, (size_t)(hiw - lo) * sizeof(float));
                for (int q = hiw > lo ? hiw : lo; q < wc; q++) dst[q] = 0.0f;
            }
        }
}

static void col2im_row(float *dxb, int Cin, int H, int W, int kh, int kw, int ph, int pw,
                       int h, int w0, int wc, const float *dcols)
{
    for (int ci = 0; ci < Cin; ci++)
        for (int i = 0; i < kh; i++) {
            const int hi = h + i - ph;
            if (hi < 0 || hi >= H) continue;
            float *dst = dxb + ((size_t)ci * H + hi) * W;
            for (int j = 0; j < kw; j++) {
                const float *src = dcols + ((size_t)(ci * kh + i) * kw + j) * CONV_LD;
                const int off = j - pw;
                int lo = 0, hiw = wc;
                if (w0 + off < 0) lo = -(w0 + off);
                if (w0 + wc + off > W) hiw = W - w0 - off;
                for (int q = lo; q < hiw; q++) dst[w0 + q + off] += src[q];
            }
        }
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

int sdd_conv_bwd(sdd_ctx *c, const sdd_conv_geom *g, int b0, int nb, const float *x, const sdd_tensor *w,
                 const sdd_tensor *b, const float *dy_all, float *dx)
{
    const int Cin = g->Cin, H = g->H, W = g->W, Cout = g->Cout, kh = g->kh, kw = g->kw;
    const int Ho = g->Ho, Wo = g->Wo;
    const int K = Cin * kh * kw;
    const int wantw = sdd_pgrad(c, w, 0) != NULL || (c->nseg > 1 && sdd_pgrad(c, w, c->nseg - 1));
    const int wantb = b && sdd_pgrad(c, b, 0) != NULL;
    const int nth = omp_get_max_threads();
    const size_t wsz = (size_t)Cout * K;
    /* per-sample weight/bias gradient accumulators, added in sample order after
     * the parallel loop: the result does not depend on which thread took which
     * sample, so a step gives the same bits run after run */
    float *acc = sdd_scratch0(c, (size_t)nb * wsz * sizeof(float));
    double *dbias = sdd_scratch0(c, (size_t)nb * Cout * sizeof(double));
    float *scr = sdd_scratch(c, (size_t)nth * 2 * K * CONV_LD * sizeof(float));
    float *wT = sdd_scratch(c, wsz * sizeof(float));   /* (K, Cout) */
    if (!acc || !scr || !dbias || !wT) return -1;
    for (int co = 0; co < Cout; co++)
        for (int k = 0; k < K; k++) wT[(size_t)k * Cout + co] = w->x[(size_t)co * K + k];
    const int nch = (Wo + CONV_CHUNK - 1) / CONV_CHUNK;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int bi = 0; bi < nb; bi++) {
        const int t = omp_get_thread_num();
        float *dW = acc + (size_t)bi * wsz;
        double *dBd = dbias + (size_t)bi * Cout;
        float *cols = scr + (size_t)t * 2 * K * CONV_LD;
        float *dcols = cols + (size_t)K * CONV_LD;
        const float *xb = x + (size_t)bi * Cin * H * W;
        for (int h = 0; h < Ho; h++)
            for (int ch = 0; ch < nch; ch++) {
                const int w0 = ch * CONV_CHUNK;
                const int wc = Wo - w0 < CONV_CHUNK ? Wo - w0 : CONV_CHUNK;
                const float *dy = dy_all + (size_t)bi * Cout * Ho * Wo + (size_t)h * Wo + w0;
                const int ldy = Ho * Wo;
                if (wantw) {
                    im2col_row(xb, Cin, H, W, kh, kw, g->ph, g->pw, h, w0, wc, cols);
                    /* dW (Cout, K) += dy (Cout, wc) @ cols^T (wc, K) */
                    sdd_gemm_nt(Cout, K, wc, dy, ldy, cols, CONV_LD, dW, K, 1);
                }
                if (wantb)
                    for (int co = 0; co < Cout; co++) {
                        /* bias gradients cancel heavily (the next BatchNorm removes the mean): sum in double */
                        const float *r = dy + (size_t)co * ldy;
                        double sum = 0.0;
                        for (int q = 0; q < wc; q++) sum += r[q];
                        dBd[co] += sum;
                    }
                if (dx) {
                    /* dcols (K, wc) = w^T (K, Cout) @ dy (Cout, wc) */
                    sdd_gemm_nn(K, wc, Cout, wT, Cout, dy, ldy, dcols, CONV_LD, 0);
                    col2im_row(dx + (size_t)bi * Cin * H * W, Cin, H, W, kh, kw, g->ph, g->pw, h, w0, wc, dcols);
                }
            }
    }
    for (int bi = 0; bi < nb; bi++) {
        const int s = sdd_seg_of(c, b0 + bi);
        float *gw = sdd_pgrad(c, w, s), *gb = b ? sdd_pgrad(c, b, s) : NULL;
        if (gb) for (int k = 0; k < Cout; k++) gb[k] += (float)dbias[(size_t)bi * Cout + k];
        if (gw) {
            const float *dW = acc + (size_t)bi * wsz;
            for (size_t k = 0; k < wsz; k++) gw[k] += dW[k];
        }
    }
    return 0;
}

static void conv2d_backward(sdd_ctx *c, void *vn)
{
    conv2d_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    sdd_conv_bwd(c, &n->g, 0, (int)n->x->n[0], n->x->x, n->w, n->b, n->out->g, dx);
}

int sdd_conv_fwd(sdd_ctx *c, const sdd_conv_geom *g, int nb, const float *x, const float *w, const float *b, float *out)
{
    const int Cin = g->Cin, H = g->H, W = g->W, Cout = g->Cout, Ho = g->Ho, Wo = g->Wo;
    const int K = Cin * g->kh * g->kw;
    const int nth = omp_get_max_threads();
    float *scr = sdd_scratch(c, (size_t)nth * K * CONV_LD * sizeof(float));
    if (!scr) return -1;
    const int nch = (Wo + CONV_CHUNK - 1) / CONV_CHUNK;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t job = 0; job < (int64_t)nb * Ho * nch; job++) {
        const int bb = (int)(job / ((int64_t)Ho * nch));
        const int h = (int)((job / nch) % Ho);
        const int w0 = (int)(job % nch) * CONV_CHUNK;
        const int wc = Wo - w0 < CONV_CHUNK ? Wo - w0 : CONV_CHUNK;
        float *cols = scr + (size_t)omp_get_thread_num() * K * CONV_LD;
        im2col_row(x + (size_t)bb * Cin * H * W, Cin, H, W, g->kh, g->kw, g->ph, g->pw, h, w0, wc, cols);
        float *o = out + (size_t)bb * Cout * Ho * Wo + (size_t)h * Wo + w0;
        for (int co = 0; co < Cout; co++) {
            float bv = b ? b[co] : 0.0f;
            float *r = o + (size_t)co * Ho * Wo;
            for (int q = 0; q < wc; q++) r[q] = bv;
        }
        sdd_gemm_nn(Cout, wc, K, w, K, cols, CONV_LD, o, Ho * Wo, 1);
    }
    return 0;
}

sdd_tensor *sdd_conv2d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, int ph, int pw)
{
    if (!x || !w || c->failed) return NULL;
    sdd_conv_geom g;
    if (sdd_conv_geom_init(c, &g, (int)x->n[1], (int)x->n[2], (int)x->n[3], w, ph, pw)) return NULL;
    const int B = (int)x->n[0];
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
