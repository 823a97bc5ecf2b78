/* CUDA training forward and backward of the encoder ops: conv2d (weight and
 * bias gradients per segment from im2col + cuBLAS, input gradient by GEMM +
 * col2im), max pooling and the |.|-max node reductions (argmax indices saved
 * in the forward), BatchNorm with batch statistics per segment (bn_per_seg)
 * or over the batch and the whole-batch running update (momentum, unbiased
 * variance), the running-statistics-only update (sdd_bn_track), and the
 * residual block in training mode, which keeps its intermediates (device
 * memory is ample) instead of recomputing them as the CPU version does.
 * Arithmetic mirrors src/ops/norm.c (moments and backward sums in double),
 * one thread per output and serial reductions, no atomics or barriers.
 * Data-parallel training (c->bn_reduce): the batch moments' sums and counts,
 * then the squared deviations from the global mean, and the backward sums
 * the input gradient needs, go through the host to be summed over ranks
 * (a few KB per layer), as src/ops/norm.c does on the CPU. */
#include "backend/cuda_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
extern "C" {
#include "ops/internal.h"
}

#define IM2COL_BYTES ((size_t)1 << 30)

/* ---- row reductions: sums over the (sample, position) elements of each
 * (group or segment, channel) row of a (B, C, S) or channel-last (B, S, C)
 * tensor, in double, without atomics, in a fixed order (bit-reproducible):
 * stage 1, one thread per RED_PER elements (strided by RED_T so a warp
 * reads consecutive addresses); stage 2, one thread per RED_T partials;
 * stage 3, one thread per row adds its chunks in order. A single thread
 * per channel summing millions of values (the first BatchNorm has one
 * channel) would serialise the step. ---- */

/* cnt: elements per statistics group, set by bn_stats (kernel arguments, no upload) */
typedef struct { int64_t C, S; int cl, ng, nseg; int seg_end[SDD_MAX_PATHS]; double cnt[SDD_MAX_PATHS]; } bn_geom;

__device__ __forceinline__ size_t bn_at(const bn_geom &g, int64_t b, int64_t ch, int64_t k)
{
    return g.cl ? ((size_t)b * g.S + k) * g.C + ch : ((size_t)b * g.C + ch) * g.S + k;
}
__device__ __forceinline__ int bn_seg(const bn_geom &g, int b)
{
    int s = 0;
    while (s < g.nseg - 1 && b >= g.seg_end[s]) s++;
    return s;
}
__device__ __forceinline__ void bn_range(const bn_geom &g, int grp, int B, int *b0, int *b1)
{
    *b0 = g.ng == 1 ? 0 : (grp ? g.seg_end[grp - 1] : 0);
    *b1 = g.ng == 1 ? B : g.seg_end[grp];
}

#define RED_T 256
#define RED_PER 64
#define RED_CHUNK ((size_t)RED_T * RED_PER)

enum { RED_SUM, RED_SQDEV, RED_BWD };

/* mode RED_SUM: sum x; RED_SQDEV: sum (x - dmean[row])^2; RED_BWD: sum dy and
 * sum dy * xhat with the group's mean / istd (two sums). Rows are (group, ch)
 * over ng groups (byseg 0) or (segment, ch) over the segments (byseg 1). */
typedef struct {
    const float *x, *dy;
    const double *dmean;
    const float *mean, *istd;
    bn_geom g;
    int B, byseg, mode;
} red_args;

__device__ __forceinline__ void red_rows(const red_args &a, int row, int *b0, int *b1, int64_t *ch)
{
    const int grp = (int)(row / a.g.C);
    *ch = row % a.g.C;
    if (a.byseg) { *b0 = grp ? a.g.seg_end[grp - 1] : 0; *b1 = a.g.seg_end[grp]; }
    else bn_range(a.g, grp, a.B, b0, b1);
}

__global__ void k_red1(red_args a, int nrows, size_t nchunk, double *p1)
{
    const size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (size_t)nrows * nchunk * RED_T) return;
    const int row = (int)(t / (nchunk * RED_T));
    const size_t j = t % (nchunk * RED_T), base = j / RED_T * RED_CHUNK + j % RED_T;
    int b0, b1;
    int64_t ch;
    red_rows(a, row, &b0, &b1, &ch);
    const size_t cnt = (size_t)(b1 - b0) * a.g.S;
    double s1 = 0.0, s2 = 0.0;
    const bn_geom &g = a.g;
    /* element e = base + i RED_T is (sample b0 + bi, position k); stepped without
     * a 64-bit division per element when a step crosses at most one sample */
    int64_t bi = (int64_t)(base / g.S), k = (int64_t)(base % g.S);
    const int inc = g.S >= RED_T;
    const size_t at = a.mode == RED_BWD ? (size_t)(g.ng == 1 ? 0 : row / g.C) * g.C + ch : 0;
    const float mu = a.mode == RED_BWD ? a.mean[at] : 0.0f, is = a.mode == RED_BWD ? a.istd[at] : 0.0f;
    const double dm = a.mode == RED_SQDEV ? a.dmean[row] : 0.0;
    for (size_t e = base, i = 0; i < RED_PER && e < cnt; i++, e += RED_T) {
        if (!inc) { bi = (int64_t)(e / g.S); k = (int64_t)(e % g.S); }
        const size_t q = bn_at(g, b0 + bi, ch, k);
        if (a.mode == RED_BWD) {
            s1 += a.dy[q];
            s2 += a.dy[q] * ((a.x[q] - mu) * is);
        } else if (a.mode == RED_SQDEV) {
            const double v = a.x[q];
            s1 += (v - dm) * (v - dm);
        } else s1 += a.x[q];
        if (inc) { k += RED_T; if (k >= g.S) { k -= g.S; bi++; } }
    }
    /* stored (row, thread, chunk) so that stage 2's threads, one per chunk, read consecutive addresses */
    const size_t chunk = j / RED_T, at1 = (((size_t)row * RED_T + j % RED_T) * nchunk + chunk) * 2;
    p1[at1] = s1;
    p1[at1 + 1] = s2;
}

/* p2[k] = sum of the RED_T partials of chunk k = (row, chunk) (both sums), threads in order */
__global__ void k_red2(const double *p1, size_t n, size_t nchunk, double *p2)
{
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n) return;
    const size_t row = k / nchunk, chunk = k % nchunk;
    double s1 = 0.0, s2 = 0.0;
    for (size_t tt = 0; tt < RED_T; tt++) {
        const size_t at = ((row * RED_T + tt) * nchunk + chunk) * 2;
        s1 += p1[at];
        s2 += p1[at + 1];
    }
    p2[2 * k] = s1;
    p2[2 * k + 1] = s2;
}

/* o1[row], o2[row] (o2 may be NULL) = the row's sums, divided by its count when divide */
__global__ void k_red3(red_args a, const double *p2, int nrows, size_t nchunk, int divide, double *o1, double *o2)
{
    const int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= nrows) return;
    double s1 = 0.0, s2 = 0.0;
    for (size_t k = (size_t)row * nchunk; k < (size_t)(row + 1) * nchunk; k++) { s1 += p2[2 * k]; s2 += p2[2 * k + 1]; }
    if (divide) {
        int b0, b1;
        int64_t ch;
        red_rows(a, row, &b0, &b1, &ch);
        const double cnt = (double)(b1 - b0) * a.g.S;
        s1 = cnt > 0 ? s1 / cnt : 0.0;
    }
    o1[row] = s1;
    if (o2) o2[row] = s2;
}

/* the rows' sums into o1 (and o2); nrows = (ng or nseg) * C */
static int red_rows_run(sdd_ctx *c, const red_args &a, int nrows, int divide, double *o1, double *o2)
{
    size_t most = 0;
    for (int grp = 0; grp < (a.byseg ? a.g.nseg : a.g.ng); grp++) {
        const int b0 = a.byseg || a.g.ng > 1 ? (grp ? a.g.seg_end[grp - 1] : 0) : 0;
        const int b1 = a.byseg || a.g.ng > 1 ? a.g.seg_end[grp] : a.B;
        const size_t cnt = (size_t)(b1 - b0) * a.g.S;
        if (cnt > most) most = cnt;
    }
    const size_t nchunk = most ? (most + RED_CHUNK - 1) / RED_CHUNK : 1, n2 = (size_t)nrows * nchunk;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    double *p1 = (double *)sdd_dscratch(c, n2 * RED_T * 2 * sizeof(double)), *p2 = (double *)sdd_dscratch(c, n2 * 2 * sizeof(double));
    if (!p1 || !p2) return -1;
    SDD_LAUNCH(k_red1, sdd_cu_blocks(n2 * RED_T), SDD_CU_THREADS, 0)(a, nrows, nchunk, p1);
    SDD_LAUNCH(k_red2, sdd_cu_blocks(n2), SDD_CU_THREADS, 0)(p1, n2, nchunk, p2);
    SDD_LAUNCH(k_red3, sdd_cu_blocks((size_t)nrows), SDD_CU_THREADS, 0)(a, p2, nrows, nchunk, divide, o1, o2);
    const int rc = sdd_cu_launched(c, "row reduction");
    sdd_arena_release(&c->darena, mk);
    return rc;
}

/* gg[ch] += sdyx[s, ch], gb[ch] += sdy[s, ch] (segment s; either may be NULL) */
__global__ void k_bn_params(const double *sdy, const double *sdyx, int64_t C, int s, float *gg, float *gb)
{
    const int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
    if (gg) gg[ch] += (float)sdyx[(size_t)s * C + ch];
    if (gb) gb[ch] += (float)sdy[(size_t)s * C + ch];
}

/* g[k] += sum over rows r < rows of x[r * per + k]: the rows are the
 * positions of a channel-last (1, rows, per) tensor */
int sdd_cu_colsum_acc(sdd_ctx *c, const float *x, int64_t rows, size_t per, float *g)
{
    if (!rows || !per) return 0;
    red_args a;
    memset(&a, 0, sizeof a);
    a.x = x; a.B = 1; a.byseg = 0; a.mode = RED_SUM;
    a.g.C = (int64_t)per; a.g.S = rows; a.g.cl = 1; a.g.ng = 1; a.g.nseg = 1; a.g.seg_end[0] = 1;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    double *o = (double *)sdd_dscratch(c, per * sizeof(double));
    if (!o || red_rows_run(c, a, (int)per, 0, o, NULL)) return -1;
    SDD_LAUNCH(k_bn_params, sdd_cu_blocks(per), SDD_CU_THREADS, 0)(o, (const double *)NULL, (int64_t)per, 0, (float *)NULL, g);
    const int rc = sdd_cu_launched(c, "gradient row sum");
    sdd_arena_release(&c->darena, mk);
    return rc;
}

/* ---- conv2d ---- */

/* dx[b, ci, h, w] += sum over taps of dcols[b, (ci, i, j), (h - i + ph, w - j + pw)];
 * grid (ceil(H W / threads), Cin, nb), 32-bit positions */
__global__ void k_col2im(const float *dcols, int Cin, int H, int W, int kh, int kw, int ph, int pw, int Ho, int Wo, float *dx)
{
    const int p = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (p >= H * W) return;
    const int w = p % W, h = p / W, ci = (int)blockIdx.y, b = (int)blockIdx.z;
    const int N = Ho * Wo, Kd = Cin * kh * kw;
    const float *dc = dcols + (size_t)b * Kd * N;
    float s = 0.0f;
    for (int i = 0; i < kh; i++) {
        const int ho = h - i + ph;
        if (ho < 0 || ho >= Ho) continue;
        for (int j = 0; j < kw; j++) {
            const int wo = w - j + pw;
            if (wo < 0 || wo >= Wo) continue;
            s += dc[((size_t)(ci * kh + i) * kw + j) * N + ho * Wo + wo];
        }
    }
    dx[((size_t)b * Cin + ci) * H * W + p] += s;
}

/* wt (Cin, Cout, kh, kw) = w (Cout, Cin, kh, kw) flipped in both spatial axes */
__global__ void k_wflip(const float *w, int Cout, int Cin, int kh, int kw, float *wt)
{
    const size_t n = (size_t)Cout * Cin * kh * kw;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    const int j = (int)(idx % kw), i = (int)((idx / kw) % kh), co = (int)((idx / ((size_t)kw * kh)) % Cout);
    const int ci = (int)(idx / ((size_t)kw * kh * Cout));
    wt[idx] = w[(((size_t)co * Cin + ci) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
}

#define WG_SLICE ((size_t)4096)

/* dyt (C, nb, N) = dy (nb, C, N); grid (ceil(N / threads), nb, C) */
__global__ void k_cbn(const float *dy, int N, float *dyt)
{
    const int q = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (q >= N) return;
    const int b = (int)blockIdx.y, ch = (int)blockIdx.z, nb = (int)gridDim.y, C = (int)gridDim.z;
    dyt[((size_t)ch * nb + b) * N + q] = dy[((size_t)b * C + ch) * N + q];
}

/* g[k] += sum over the np partial products of part[i * n + k], in order (double) */
__global__ void k_sum_parts(const float *part, size_t np, size_t n, float *g)
{
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n) return;
    double s = 0.0;
    for (size_t i = 0; i < np; i++) s += part[i * n + k];
    g[k] += (float)s;
}

/* Direct weight gradient (SDD_CUDA_WGRAD=direct; kernels up to 2 x 3):
 * thread t of block (chunk, (co tile, ci)) sums, over its WD_PER positions
 * p = chunk WD_PER WD_T + r WD_T + t of the segment's nb N (sample,
 * position) pairs (a warp reads consecutive positions), dy[co0 + c] times
 * the input at each tap, in float; the WD_C x 6 partials of every thread are
 * then added in a fixed order in double (k_wd_sum). No im2col buffer. */
#define WD_T 128
#define WD_PER 1024
#define WD_C 8

__global__ void k_wgrad_direct(const float *x, const float *dy, int np, int Cin, int H, int W, int Cout, int kh, int kw, int ph, int pw,
                               int Ho, int Wo, float *part)
{
    const int N = Ho * Wo, tile = (int)blockIdx.y, co0 = tile / Cin * WD_C, ci = tile % Cin, t = (int)threadIdx.x;
    float acc[WD_C][6];
    SDD_UNROLL
    for (int c = 0; c < WD_C; c++)
        SDD_UNROLL
        for (int k = 0; k < 6; k++) acc[c][k] = 0.0f;
    const long long base = (long long)blockIdx.x * WD_PER * WD_T + t;
    for (int r = 0; r < WD_PER; r++) {
        const long long p = base + (long long)r * WD_T;
        if (p >= np) break;
        const int b = (int)(p / N), q = (int)(p % N), ho = q / Wo, wo = q % Wo;
        float d[WD_C];
        SDD_UNROLL
        for (int c = 0; c < WD_C; c++) d[c] = dy[((size_t)b * Cout + co0 + c) * N + q];
        const float *xc = x + ((size_t)b * Cin + ci) * H * W;
        SDD_UNROLL
        for (int i = 0; i < 2; i++) {
            if (i >= kh) break;
            const int h = ho + i - ph;
            SDD_UNROLL
            for (int j = 0; j < 3; j++) {
                if (j >= kw) break;
                const int ww = wo + j - pw;
                const float xv = h >= 0 && h < H && ww >= 0 && ww < W ? xc[(size_t)h * W + ww] : 0.0f;
                SDD_UNROLL
                for (int c = 0; c < WD_C; c++) acc[c][i * 3 + j] = fmaf(d[c], xv, acc[c][i * 3 + j]);
            }
        }
    }
    float *o = part + (((size_t)tile * gridDim.x + blockIdx.x) * WD_T + t) * (WD_C * 6);
    SDD_UNROLL
    for (int c = 0; c < WD_C; c++)
        SDD_UNROLL
        for (int k = 0; k < 6; k++) o[c * 6 + k] = acc[c][k];
}

/* gw[co, ci, i, j] += the sum, in order, of the nthr thread partials of its (co tile, ci) */
__global__ void k_wd_sum(const float *part, int Cout, int Cin, int kh, int kw, size_t nthr, float *gw)
{
    const size_t n = (size_t)Cout * Cin * kh * kw;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    const int j = (int)(idx % kw), i = (int)((idx / kw) % kh), ci = (int)((idx / ((size_t)kw * kh)) % Cin);
    const int co = (int)(idx / ((size_t)kw * kh * Cin));
    const float *pp = part + ((size_t)(co / WD_C) * Cin + ci) * nthr * (WD_C * 6) + (co % WD_C) * 6 + i * 3 + j;
    double s = 0.0;
    for (size_t k = 0; k < nthr; k++) s += pp[k * (WD_C * 6)];
    gw[idx] += (float)s;
}

static int wgrad_direct_ok(const sdd_conv_geom *g, int nb)
{
    const char *v = getenv("SDD_CUDA_WGRAD");
    return v && !strcmp(v, "direct") && g->kh <= 2 && g->kw <= 3 && g->Cout % WD_C == 0 && (long long)nb * g->Ho * g->Wo < 0x7fffffffLL &&
           (long long)(g->Cout / WD_C) * g->Cin <= 65535;
}

/* gw (Cout, Cin, kh, kw) += the weight gradient over the nb samples of x and dy */
static int wgrad_direct(sdd_ctx *c, const sdd_conv_geom *g, int nb, const float *x, const float *dy, float *gw)
{
    const long long np = (long long)nb * g->Ho * g->Wo;
    if (np == 0) return 0;
    const unsigned nchunk = (unsigned)((np + (long long)WD_PER * WD_T - 1) / ((long long)WD_PER * WD_T));
    const unsigned tiles = (unsigned)(g->Cout / WD_C * g->Cin);
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    float *part = (float *)sdd_dscratch(c, (size_t)tiles * nchunk * WD_T * WD_C * 6 * sizeof(float));
    if (!part) return -1;
    SDD_LAUNCH(k_wgrad_direct, dim3(nchunk, tiles), WD_T, 0)(x, dy, (int)np, g->Cin, g->H, g->W, g->Cout, g->kh, g->kw, g->ph, g->pw,
                                                             g->Ho, g->Wo, part);
    const size_t n = (size_t)g->Cout * g->Cin * g->kh * g->kw;
    SDD_LAUNCH(k_wd_sum, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(part, g->Cout, g->Cin, g->kh, g->kw, (size_t)nchunk * WD_T, gw);
    const int rc = sdd_cu_launched(c, "conv2d backward (weight, direct)");
    sdd_arena_release(&c->darena, mk);
    return rc;
}

/* Backward of conv over the batch x (B, Cin, H, W) given dy (B, Cout, Ho, Wo):
 * weight and bias gradients per segment, dx (when not NULL) accumulated. */
int sdd_cu_conv_bwd(sdd_ctx *c, const sdd_conv_geom *g, int B, const float *x, const sdd_tensor *w, const sdd_tensor *bias,
                    const float *dy, float *dx)
{
    const size_t N = (size_t)g->Ho * g->Wo, Kd = (size_t)g->Cin * g->kh * g->kw, in_per = (size_t)g->Cin * g->H * g->W;
    const float one = 1.0f, zero = 0.0f;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    /* samples per weight-gradient chunk: cols (Kd, nb, N) and dy^T (Cout, nb, N) within IM2COL_BYTES */
    const size_t wper = (Kd + (size_t)g->Cout) * N * sizeof(float);
    int wchunk = (int)(IM2COL_BYTES / (wper ? wper : 1));
    if (wchunk < 1) wchunk = 1;
    if ((size_t)wchunk * N > 0x7fffffff) wchunk = (int)(0x7fffffff / (N ? N : 1));
    if (wchunk > B) wchunk = B;
    float *cols = NULL, *dyt = NULL;   /* allocated when the GEMM path needs them */
    double *sdb = NULL;
    if (bias) {   /* per (segment, channel) sums of dy (B, Cout, N) */
        red_args a;
        memset(&a, 0, sizeof a);
        a.x = dy; a.B = B; a.byseg = 1; a.mode = RED_SUM;
        a.g.C = g->Cout; a.g.S = (int64_t)N; a.g.ng = 1; a.g.nseg = c->nseg;
        for (int s = 0; s < c->nseg; s++) a.g.seg_end[s] = c->seg_end[s];
        sdb = (double *)sdd_dscratch(c, (size_t)c->nseg * g->Cout * sizeof(double));
        if (!sdb || red_rows_run(c, a, c->nseg * g->Cout, 0, sdb, NULL)) return -1;
    }
    for (int s = 0; s < c->nseg; s++) {
        const int b0 = sdd_ctx_seg_begin(c, s), b1 = c->seg_end[s];
        float *gw = sdd_pgrad(c, w, s), *gb = bias ? sdd_pgrad(c, bias, s) : NULL;
        if (gb) SDD_LAUNCH(k_bn_params, sdd_cu_blocks((size_t)g->Cout), SDD_CU_THREADS, 0)(sdb, (const double *)NULL, g->Cout, s,
                                                                                           (float *)NULL, gb);
        if (gb && sdd_cu_launched(c, "conv2d backward (bias)")) return -1;
        if (!gw) continue;
        if (wgrad_direct_ok(g, b1 - b0)) {
            if (wgrad_direct(c, g, b1 - b0, x + (size_t)b0 * in_per, dy + (size_t)b0 * g->Cout * N, gw)) return -1;
            continue;
        }
        /* gw^T (Kd, Cout) += cols (Kd, R) @ dy^T (R, Cout) over the R = nb N
         * (sample, position) rows of each chunk of the segment, as products of
         * WG_SLICE rows: one GEMM would reduce up to millions of rows into a
         * Kd x Cout output of a few tiles, i.e. on a few multiprocessors; the
         * slices are independent products, added after in a fixed order */
        if (!cols) {
            cols = (float *)sdd_dscratch(c, (size_t)wchunk * Kd * N * sizeof(float));
            dyt = (float *)sdd_dscratch(c, (size_t)wchunk * g->Cout * N * sizeof(float));
            if (!cols || !dyt) return -1;
        }
        const size_t wn = Kd * (size_t)g->Cout, maxp = ((size_t)(b1 - b0) * N + WG_SLICE - 1) / WG_SLICE + (size_t)(b1 - b0);
        float *part = (float *)sdd_dscratch(c, maxp * wn * sizeof(float));
        if (!part) return -1;
        size_t nparts = 0;
        for (int c0 = b0; c0 < b1; c0 += wchunk) {
            const int nb = b1 - c0 < wchunk ? b1 - c0 : wchunk;
            if (sdd_cu_im2col(c, g, nb, x + (size_t)c0 * in_per, 1, cols)) return -1;
            const dim3 tg((unsigned)((N + SDD_CU_THREADS - 1) / SDD_CU_THREADS), (unsigned)nb, (unsigned)g->Cout);
            SDD_LAUNCH(k_cbn, tg, SDD_CU_THREADS, 0)(dy + (size_t)c0 * g->Cout * N, (int)N, dyt);
            if (sdd_cu_launched(c, "conv2d backward (dy transpose)")) return -1;
            const size_t R = (size_t)nb * N, Ns = R < WG_SLICE ? R : WG_SLICE, nsl = R / Ns, rem = R - nsl * Ns;
            float *P = part + nparts * wn;
            if (sdd_cu_blas_ok(c, sdd_cu_sgemm_sb(CUBLAS_OP_T, CUBLAS_OP_N, (int)Kd, g->Cout, (int)Ns, &one, cols, (int)R,
                                                            (long long)Ns, dyt, (int)R, (long long)Ns, &zero, P, (int)Kd, (long long)wn, (int)nsl),
                               "conv2d backward (weight)")) return -1;
            if (rem && sdd_cu_blas_ok(c, sdd_cu_sgemm(CUBLAS_OP_T, CUBLAS_OP_N, (int)Kd, g->Cout, (int)rem, &one, cols + nsl * Ns,
                                                     (int)R, dyt + nsl * Ns, (int)R, &zero, P + nsl * wn, (int)Kd), "conv2d backward (weight)"))
                return -1;
            nparts += nsl + (rem > 0);
        }
        SDD_LAUNCH(k_sum_parts, sdd_cu_blocks(wn), SDD_CU_THREADS, 0)(part, nparts, wn, gw);
        if (sdd_cu_launched(c, "conv2d backward (weight sum)")) return -1;
    }
    sdd_arena_release(&c->darena, mk);
    if (!dx) return 0;
    /* dx as the transposed convolution: a forward convolution of dy with the
     * kernel flipped and its in/out channels swapped, padding k - 1 - p */
    sdd_conv_geom t;
    t.Cin = g->Cout; t.H = g->Ho; t.W = g->Wo;
    t.Cout = g->Cin; t.kh = g->kh; t.kw = g->kw;
    t.ph = g->kh - 1 - g->ph; t.pw = g->kw - 1 - g->pw;
    t.Ho = g->H; t.Wo = g->W;
    if (t.ph >= 0 && t.pw >= 0 && sdd_cu_conv_direct_ok(&t, B)) {
        float *wt = (float *)sdd_dscratch(c, Kd * (size_t)g->Cout * sizeof(float));
        if (!wt) return -1;
        SDD_LAUNCH(k_wflip, sdd_cu_blocks(Kd * (size_t)g->Cout), SDD_CU_THREADS, 0)(SDD_DEV(w), g->Cout, g->Cin, g->kh, g->kw, wt);
        if (sdd_cu_launched(c, "conv2d backward (kernel flip)") || sdd_cu_conv_direct(c, &t, B, dy, wt, NULL, 1, dx)) return -1;
        sdd_arena_release(&c->darena, mk);
        return 0;
    }
    const size_t per = Kd * N * sizeof(float);
    int chunk = (int)(IM2COL_BYTES / (per > 0 ? per : 1));
    if (chunk < 1) chunk = 1;
    if (chunk > B) chunk = B;
    float *dcols = (float *)sdd_dscratch(c, (size_t)chunk * Kd * N * sizeof(float));
    if (!dcols) return -1;
    for (int b0 = 0; b0 < B; b0 += chunk) {
        const int nb = B - b0 < chunk ? B - b0 : chunk;
        /* dcols_b^T (N, Kd) = dy_b^T (N, Cout) @ w (Cout, Kd) */
        if (sdd_cu_blas_ok(c, sdd_cu_sgemm_sb(CUBLAS_OP_N, CUBLAS_OP_T, (int)N, (int)Kd, g->Cout, &one,
                                                        dy + (size_t)b0 * g->Cout * N, (int)N, (long long)g->Cout * N, SDD_DEV(w), (int)Kd, 0,
                                                        &zero, dcols, (int)N, (long long)(Kd * N), nb), "conv2d backward (input)")) return -1;
        const dim3 cg((unsigned)(((size_t)g->H * g->W + SDD_CU_THREADS - 1) / SDD_CU_THREADS), (unsigned)g->Cin, (unsigned)nb);
        SDD_LAUNCH(k_col2im, cg, SDD_CU_THREADS, 0)(dcols, g->Cin, g->H, g->W, g->kh, g->kw, g->ph, g->pw, g->Ho, g->Wo, dx + (size_t)b0 * in_per);
        if (sdd_cu_launched(c, "conv2d backward (col2im)")) return -1;
    }
    sdd_arena_release(&c->darena, mk);
    return 0;
}

typedef struct { sdd_tensor *x, *w, *b, *out; sdd_conv_geom g; } cu_conv_node;

static void conv_bwd_node(sdd_ctx *c, void *vn)
{
    cu_conv_node *n = (cu_conv_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (c->failed) return;
    sdd_cu_conv_bwd(c, &n->g, (int)n->x->n[0], SDD_DEV(n->x), n->w, n->b, n->out->g, dx);
}

int sdd_cu_record_conv(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, const sdd_conv_geom *g, sdd_tensor *out)
{
    out->rg = sdd_wants(c, x) || sdd_wants(c, w) || (b && sdd_wants(c, b));
    if (!c->grad || !out->rg) return 0;
    cu_conv_node *n = (cu_conv_node *)sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->x = x; n->w = w; n->b = b; n->out = out; n->g = *g;
    return sdd_tape_push(c, conv_bwd_node, n);
}

/* ---- argmax scatter (max pooling, |.|-max): windows are disjoint, so each input
 * element receives from at most one output and one thread per output is race-free ---- */

__global__ void k_scatter(const int *idx, const float *dy, const float *x, size_t n, int sign, float *dx)
{
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n) return;
    float g = dy[k];
    if (sign) { const float v = x[idx[k]]; g *= v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); }
    dx[idx[k]] += g;
}

typedef struct { sdd_tensor *x, *out; int *idx; int sign; } cu_idx_node;

static void scatter_bwd(sdd_ctx *c, void *vn)
{
    cu_idx_node *n = (cu_idx_node *)vn;
    if (!n->out->g || !sdd_wants(c, n->x)) return;
    float *dx = sdd_grad_of(c, n->x);
    if (!dx) return;
    const size_t m = sdd_numel(n->out);
    if (m) SDD_LAUNCH(k_scatter, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(n->idx, n->out->g, SDD_DEV(n->x), m, n->sign, dx);
    sdd_cu_launched(c, "pool backward");
}

int sdd_cu_record_scatter(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out, int *idx, int sign)
{
    out->rg = sdd_wants(c, x);
    if (!c->grad || !out->rg) return 0;
    cu_idx_node *n = (cu_idx_node *)sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->x = x; n->out = out; n->idx = idx; n->sign = sign;
    return sdd_tape_push(c, scatter_bwd, n);
}

/* ---- BatchNorm with batch statistics ---- */

/* mean / istd in float for the normalisation; running update from the groups' combined moments */
__global__ void k_bn_finish(bn_geom g, const double *m, const double *v, float eps, float momentum, int update,
                            float *mean, float *istd, float *rm, float *rv)
{
    const int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= g.C) return;
    double total = 0.0, mm = 0.0, vv = 0.0;
    for (int grp = 0; grp < g.ng; grp++) {
        const size_t at = (size_t)grp * g.C + ch;
        if (mean) {
            mean[at] = (float)m[at];
            istd[at] = (float)(1.0 / sqrt(v[at] + eps));
        }
        total += g.cnt[grp];
        mm += m[at] * g.cnt[grp];
    }
    if (!update) return;
    mm /= total;
    for (int grp = 0; grp < g.ng; grp++) {
        const size_t at = (size_t)grp * g.C + ch;
        const double d = m[at] - mm;
        vv += (v[at] + d * d) * g.cnt[grp];
    }
    vv /= total;
    const double unb = total > 1 ? vv * total / (total - 1) : vv;
    rm[ch] = (float)((1.0 - momentum) * rm[ch] + momentum * mm);
    rv[ch] = (float)((1.0 - momentum) * rv[ch] + momentum * unb);
}

/* y = fma(x - mean, (float)(istd * gamma), beta), the CPU's float arithmetic; SELU when selu */
__global__ void k_bn_apply(const float *x, int B, bn_geom g, const float *mean, const float *istd, const float *gamma,
                           const float *beta, int selu, float *y, float *pre)
{
    const size_t total = (size_t)B * g.C * g.S;
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int64_t ch, b;
    if (g.cl) { ch = (int64_t)(i % g.C); b = (int64_t)(i / ((size_t)g.C * g.S)); }
    else { ch = (int64_t)((i / g.S) % g.C); b = (int64_t)(i / ((size_t)g.C * g.S)); }
    const size_t at = (size_t)(g.ng == 1 ? 0 : bn_seg(g, (int)b)) * g.C + ch;
    const float sc = (float)((double)istd[at] * gamma[ch]);
    const float v = fmaf(x[i] - mean[at], sc, beta[ch]);
    if (pre) pre[i] = v;
    y[i] = selu ? (v > 0.0f ? (float)SDD_SELU_SCALE * v : (float)(SDD_SELU_SCALE * SDD_SELU_ALPHA) * expm1f(v)) : v;
}


/* dx += k1 (dy - a / n - xhat ax / n) with the group's sums */
__global__ void k_bn_dx(const float *x, const float *dy, int B, bn_geom g, const float *mean, const float *istd, const float *gamma,
                        const double *sdy, const double *sdyx, float *dx)
{
    const size_t total = (size_t)B * g.C * g.S;
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int64_t ch = g.cl ? (int64_t)(i % g.C) : (int64_t)((i / g.S) % g.C);
    const int b = (int)(i / ((size_t)g.C * g.S));
    const int grp = g.ng == 1 ? 0 : bn_seg(g, b);
    const size_t at = (size_t)grp * g.C + ch;
    double a = 0.0, ax = 0.0;
    for (int s = 0; s < g.nseg; s++)
        if (g.ng == 1 || s == grp) { a += sdy[(size_t)s * g.C + ch]; ax += sdyx[(size_t)s * g.C + ch]; }
    const float mu = mean[at], is = istd[at];
    const double k1 = (double)gamma[ch] * is, xh = (double)((x[i] - mu) * is);
    dx[i] += (float)(k1 * (dy[i] - a / g.cnt[grp] - xh * ax / g.cnt[grp]));
}

/* per-op BatchNorm state kept for the backward */
typedef struct {
    bn_geom g;
    float *mean, *istd;   /* (ng, C) device */
} cu_bn_stats;

static void bn_geom_of(const sdd_ctx *c, const sdd_tensor *x, int cl, int ng, bn_geom *g)
{
    memset(g, 0, sizeof *g);
    g->cl = cl;
    g->C = cl ? x->n[x->nd - 1] : x->n[1];
    g->S = (int64_t)(sdd_numel(x) / ((size_t)x->n[0] * g->C));
    g->ng = ng;
    g->nseg = c->nseg;
    for (int s = 0; s < c->nseg; s++) g->seg_end[s] = c->seg_end[s];
}

/* Data-parallel: the n (group, channel) sums d (device) summed over ranks
 * through the host, then divided by the groups' element counts. With counts,
 * the groups' counts are summed too and g->cnt becomes the global ones (what
 * the running update and the backward divide by). Without g (the backward
 * sums), d is only summed. 0, or -1 with c->failed. */
static int bn_reduce_dev(sdd_ctx *c, double *d, size_t n, bn_geom *g, int counts)
{
    const int ng = g ? g->ng : 0;
    double *h = (double *)sdd_scratch(c, (n + (size_t)ng) * sizeof(double));
    if (!h) return -1;
    if (sdd_cu_copy(h, d, n * sizeof(double), 0, &c->err)) { c->failed = 1; return -1; }
    for (int grp = 0; counts && grp < ng; grp++) h[n + grp] = g->cnt[grp];
    if (c->bn_reduce(h, n + (size_t)(counts ? ng : 0), c->bn_reduce_arg)) {
        sdd_err_set(&c->err, "BatchNorm: reducing batch statistics over ranks failed");
        c->failed = 1;
        return -1;
    }
    if (g) {
        for (int grp = 0; counts && grp < ng; grp++) g->cnt[grp] = h[n + grp];
        for (size_t k = 0; k < n; k++) {
            const double cnt = g->cnt[k / (size_t)g->C];
            h[k] = cnt > 0 ? h[k] / cnt : 0.0;
        }
    }
    if (sdd_cu_copy(d, h, n * sizeof(double), 1, &c->err)) { c->failed = 1; return -1; }
    return 0;
}

/* batch statistics of x (ng groups) and the running update; st->mean/istd NULL: update only */
static int bn_stats(sdd_ctx *c, const float *x, int B, cu_bn_stats *st, int want_norm, sdd_tensor *rmean, sdd_tensor *rvar,
                    float momentum, float eps)
{
    bn_geom &g = st->g;
    const size_t n = (size_t)g.ng * g.C;
    double *m = (double *)sdd_dscratch(c, n * sizeof(double)), *v = (double *)sdd_dscratch(c, n * sizeof(double));
    st->mean = want_norm ? (float *)sdd_dscratch(c, n * sizeof(float)) : NULL;
    st->istd = want_norm ? (float *)sdd_dscratch(c, n * sizeof(float)) : NULL;
    if (!m || !v || (want_norm && (!st->mean || !st->istd))) return -1;
    for (int grp = 0; grp < g.ng; grp++) {
        const int b0 = g.ng == 1 ? 0 : (grp ? g.seg_end[grp - 1] : 0), b1 = g.ng == 1 ? B : g.seg_end[grp];
        g.cnt[grp] = (double)(b1 - b0) * g.S;
    }
    red_args a;
    memset(&a, 0, sizeof a);
    a.x = x; a.g = g; a.B = B; a.byseg = 0;
    a.mode = RED_SUM;
    const int dist = c->bn_reduce != NULL;
    /* one process: the means directly; data-parallel: the sums and counts of every rank, then the means */
    if (red_rows_run(c, a, (int)n, !dist, m, NULL) || (dist && bn_reduce_dev(c, m, n, &g, 1))) return -1;
    a.mode = RED_SQDEV; a.dmean = m;
    if (red_rows_run(c, a, (int)n, !dist, v, NULL) || (dist && bn_reduce_dev(c, v, n, &g, 0))) return -1;
    if (c->bn_momentum > 0) momentum = c->bn_momentum;
    SDD_LAUNCH(k_bn_finish, sdd_cu_blocks((size_t)g.C), SDD_CU_THREADS, 0)(g, m, v, eps, momentum, 1, st->mean, st->istd,
                                                                          SDD_DEV(rmean), SDD_DEV(rvar));
    return sdd_cu_launched(c, "batchnorm statistics");
}

/* dx (may be NULL) += BN backward of dy at input x; gamma/beta gradients per segment */
static int bn_bwd(sdd_ctx *c, const cu_bn_stats *st, int B, const float *x, const float *dy, sdd_tensor *gamma, sdd_tensor *beta, float *dx)
{
    const bn_geom &g = st->g;
    const size_t n = (size_t)g.nseg * g.C;
    double *sdy = (double *)sdd_dscratch(c, n * sizeof(double)), *sdyx = (double *)sdd_dscratch(c, n * sizeof(double));
    if (!sdy || !sdyx) return -1;
    red_args a;
    memset(&a, 0, sizeof a);
    a.x = x; a.dy = dy; a.mean = st->mean; a.istd = st->istd; a.g = g; a.B = B; a.byseg = 1; a.mode = RED_BWD;
    if (red_rows_run(c, a, (int)n, 0, sdy, sdyx)) return -1;
    for (int s = 0; s < c->nseg; s++) {
        float *gg = sdd_pgrad(c, gamma, s), *gb = sdd_pgrad(c, beta, s);
        if (gg || gb) SDD_LAUNCH(k_bn_params, sdd_cu_blocks((size_t)g.C), SDD_CU_THREADS, 0)(sdy, sdyx, g.C, s, gg, gb);
    }
    /* data-parallel: the parameter gradients took the local sums (the step sums
     * them over ranks); the input gradient takes the sums over ranks */
    if (c->bn_reduce) {
        if (sdd_cu_launched(c, "batchnorm backward")) return -1;
        if (bn_reduce_dev(c, sdy, n, NULL, 0) || bn_reduce_dev(c, sdyx, n, NULL, 0)) return -1;
    }
    const size_t total = (size_t)B * g.C * g.S;
    if (dx && total)
        SDD_LAUNCH(k_bn_dx, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(x, dy, B, g, st->mean, st->istd, SDD_DEV(gamma), sdy, sdyx, dx);
    return sdd_cu_launched(c, "batchnorm backward");
}

typedef struct { sdd_tensor *x, *gamma, *beta, *out; cu_bn_stats st; } cu_bn_node;

static void bn_bwd_node(sdd_ctx *c, void *vn)
{
    cu_bn_node *n = (cu_bn_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (c->failed) return;
    bn_bwd(c, &n->st, (int)n->x->n[0], SDD_DEV(n->x), n->out->g, n->gamma, n->beta, dx);
}

extern "C" sdd_tensor *sdd_cu_batchnorm_train(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta,
                                              sdd_tensor *rmean, sdd_tensor *rvar, int channel_last, float momentum, float eps)
{
    const int B = (int)x->n[0];
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    cu_bn_node *n = (cu_bn_node *)sdd_scratch0(c, sizeof *n);
    if (!out || !n) return NULL;
    bn_geom_of(c, x, channel_last, c->bn_per_seg ? c->nseg : 1, &n->st.g);
    if (bn_stats(c, SDD_DEV(x), B, &n->st, 1, rmean, rvar, momentum, eps)) return NULL;
    const size_t total = sdd_numel(x);
    if (total) SDD_LAUNCH(k_bn_apply, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(SDD_DEV(x), B, n->st.g, n->st.mean, n->st.istd, SDD_DEV(gamma),
                                                                              SDD_DEV(beta), 0, out->x, (float *)NULL);
    if (sdd_cu_launched(c, "batchnorm")) return NULL;
    n->x = x; n->gamma = gamma; n->beta = beta; n->out = out;
    out->rg = sdd_wants(c, x) || sdd_wants(c, gamma) || sdd_wants(c, beta);
    if (c->grad && out->rg && sdd_tape_push(c, bn_bwd_node, n)) return NULL;
    return out;
}

extern "C" void sdd_cu_bn_track(sdd_ctx *c, sdd_tensor *x, sdd_tensor *rmean, sdd_tensor *rvar, float momentum)
{
    cu_bn_stats st;
    memset(&st, 0, sizeof st);
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    bn_geom_of(c, x, 0, 1, &st.g);
    if (bn_stats(c, SDD_DEV(x), (int)x->n[0], &st, 0, rmean, rvar, momentum, 1e-5f)) return;
    sdd_arena_release(&c->darena, mk);
}

/* ---- residual block, training: intermediates kept ---- */

/* y (B, C, H, W/3) = maxpool(1, 3)(P + S) with the argmax (global index into P) */
__global__ void k_pool13(const float *P, const float *S, size_t planes, int H, int W, float *out, int *idx)
{
    const int Wo = W / 3;
    const size_t total = planes * H * Wo;
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int w = (int)(i % Wo), h = (int)((i / Wo) % H);
    const size_t pl = i / ((size_t)H * Wo);
    const size_t base = pl * H * W + (size_t)h * W + 3 * w;
    size_t best = base;
    float m = P[base] + S[base];
    for (int j = 0; j < 3; j++) {
        const float v = P[base + j] + S[base + j];
        if (v > m || isnan(v)) { m = v; best = base + j; if (isnan(m)) break; }
    }
    out[i] = m;
    idx[i] = (int)best;
}

__global__ void k_scatter_store(const int *idx, const float *dy, size_t n, float *d)
{
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) d[idx[k]] = dy[k];
}

/* dA (pre-activation a of SELU) in place: d *= selu'(a) */
__global__ void k_selu_scale(const float *a, float *d, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) d[i] *= a[i] > 0.0f ? (float)SDD_SELU_SCALE : (float)(SDD_SELU_SCALE * SDD_SELU_ALPHA) * expf(a[i]);
}

typedef struct {
    sdd_tensor *x, *out;
    sdd_resblock_params p;
    sdd_conv_geom g1, g2, gd;
    float *z, *a, *A;     /* conv1 output, BN output (SELU input), SELU output */
    int *idx;
    cu_bn_stats st;
} cu_res_node;

static void res_bwd(sdd_ctx *c, void *vn)
{
    cu_res_node *n = (cu_res_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->x->n[0];
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (c->failed) return;
    const size_t zn = (size_t)B * n->g1.Cout * n->g1.Ho * n->g1.Wo, pn = (size_t)B * n->g2.Cout * n->g2.Ho * n->g2.Wo;
    const size_t on = sdd_numel(n->out);
    float *dS = (float *)sdd_dscratch(c, pn * sizeof(float)), *dA = (float *)sdd_dscratch(c, zn * sizeof(float));
    float *dz = (float *)sdd_dscratch(c, zn * sizeof(float));
    if (!dS || !dA || !dz) return;
    if (cudaMemset(dS, 0, pn * sizeof(float)) != cudaSuccess || cudaMemset(dA, 0, zn * sizeof(float)) != cudaSuccess ||
        cudaMemset(dz, 0, zn * sizeof(float)) != cudaSuccess) { sdd_cu_launched(c, "residual block backward"); return; }
    SDD_LAUNCH(k_scatter_store, sdd_cu_blocks(on), SDD_CU_THREADS, 0)(n->idx, n->out->g, on, dS);
    if (sdd_cu_launched(c, "residual block backward (pool)")) return;
    /* conv2 and the shortcut share the pooled sum's gradient */
    if (sdd_cu_conv_bwd(c, &n->g2, B, n->A, n->p.w2, n->p.b2, dS, dA)) return;
    if (n->p.wd) { if (sdd_cu_conv_bwd(c, &n->gd, B, SDD_DEV(n->x), n->p.wd, n->p.bd, dS, dx)) return; }
    else if (dx && sdd_cu_axpy(c, dx, dS, 1.0f, pn)) return;
    SDD_LAUNCH(k_selu_scale, sdd_cu_blocks(zn), SDD_CU_THREADS, 0)(n->a, dA, zn);
    if (sdd_cu_launched(c, "residual block backward (SELU)")) return;
    if (bn_bwd(c, &n->st, B, n->z, dA, n->p.gamma, n->p.beta, dz)) return;
    sdd_cu_conv_bwd(c, &n->g1, B, SDD_DEV(n->x), n->p.w1, n->p.b1, dz, dx);
}

int sdd_cu_conv_fwd(sdd_ctx *c, const sdd_conv_geom *g, int B, const float *x, const float *w, const float *b, float *out);

extern "C" sdd_tensor *sdd_cu_resblock_train(sdd_ctx *c, sdd_tensor *x, const sdd_resblock_params *p, const sdd_conv_geom *g1,
                                             const sdd_conv_geom *g2, const sdd_conv_geom *gd)
{
    const int B = (int)x->n[0];
    sdd_tensor *out = sdd_new4(c, B, g2->Cout, g2->Ho, g2->Wo / 3);
    cu_res_node *n = (cu_res_node *)sdd_scratch0(c, sizeof *n);
    if (!out || !n) return NULL;
    const size_t zn = (size_t)B * g1->Cout * g1->Ho * g1->Wo, pn = (size_t)B * g2->Cout * g2->Ho * g2->Wo;
    n->z = (float *)sdd_dscratch(c, zn * sizeof(float));
    n->a = (float *)sdd_dscratch(c, zn * sizeof(float));
    n->A = (float *)sdd_dscratch(c, zn * sizeof(float));
    n->idx = (int *)sdd_dscratch(c, sdd_numel(out) * sizeof(int));
    float *P = (float *)sdd_dscratch(c, pn * sizeof(float));
    float *D = p->wd ? (float *)sdd_dscratch(c, pn * sizeof(float)) : NULL;
    if (!n->z || !n->a || !n->A || !n->idx || !P || (p->wd && !D)) return NULL;
    if (pn > (size_t)INT32_MAX) return sdd_cu_unsupported(c, "a residual block of more than 2^31 values");
    if (sdd_cu_conv_fwd(c, g1, B, SDD_DEV(x), SDD_DEV(p->w1), p->b1 ? SDD_DEV(p->b1) : NULL, n->z)) return NULL;
    sdd_tensor zt;
    memset(&zt, 0, sizeof zt);
    zt.nd = 4; zt.n[0] = B; zt.n[1] = g1->Cout; zt.n[2] = g1->Ho; zt.n[3] = g1->Wo; zt.pidx = -1;
    bn_geom_of(c, &zt, 0, c->bn_per_seg ? c->nseg : 1, &n->st.g);
    if (bn_stats(c, n->z, B, &n->st, 1, p->rmean, p->rvar, p->momentum, p->eps)) return NULL;
    SDD_LAUNCH(k_bn_apply, sdd_cu_blocks(zn), SDD_CU_THREADS, 0)(n->z, B, n->st.g, n->st.mean, n->st.istd, SDD_DEV(p->gamma), SDD_DEV(p->beta),
                                                                1, n->A, n->a);
    if (sdd_cu_launched(c, "residual block BatchNorm")) return NULL;
    if (sdd_cu_conv_fwd(c, g2, B, n->A, SDD_DEV(p->w2), p->b2 ? SDD_DEV(p->b2) : NULL, P)) return NULL;
    if (p->wd && sdd_cu_conv_fwd(c, gd, B, SDD_DEV(x), SDD_DEV(p->wd), p->bd ? SDD_DEV(p->bd) : NULL, D)) return NULL;
    const size_t on = sdd_numel(out);
    SDD_LAUNCH(k_pool13, sdd_cu_blocks(on), SDD_CU_THREADS, 0)(P, p->wd ? D : SDD_DEV(x), (size_t)B * g2->Cout, g2->Ho, g2->Wo, out->x, n->idx);
    if (sdd_cu_launched(c, "residual block pool")) return NULL;
    n->x = x; n->out = out; n->p = *p; n->g1 = *g1; n->g2 = *g2;
    if (p->wd) n->gd = *gd;
    out->rg = 1;
    if (c->grad && sdd_tape_push(c, res_bwd, n)) return NULL;
    return out;
}
