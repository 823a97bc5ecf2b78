/* AASIST's residual block as one op (see sdd_resblock in ops.h):
 *   y = MaxPool(1,3)(conv2(SELU(BN2(conv1(x)))) + (downsample(x) or x)).
 * Training memory is the point. Run as separate ops, every intermediate of a
 * block stays alive until the step ends, plus an equally large gradient for
 * each. Here the forward keeps only conv1's output z (needed to recompute BN2
 * and SELU; not even z when conv1 is cheap to recompute: the first block's
 * has 6 taps), the BN2 statistics, one byte per output for the pool's argmax
 * and the output itself. The backward recomputes the rest into temporaries,
 * a few samples at a time, and releases them all before it returns.
 *
 * The work is done by the kernels of the separate ops (internal.h: conv2d
 * forward/backward on sample ranges, the BatchNorm pieces, scalar SELU), so
 * the forward values are bit-identical to the separate ops'; gradients differ
 * only in how per-thread weight-gradient partial sums are grouped.
 *
 * Sample chunks: temporaries hold `chunk` samples (the thread count: conv2d's
 * backward runs one sample per thread). Forward: z for the whole batch (BN2
 * needs its statistics), then per chunk A = SELU(BN2(z)), and per output
 * tile (one row, 240 columns) P = conv2(A) + (downsample(x) or x), y =
 * pool(P): P never exists whole (sdd_conv_fwd_tiles). Backward:
 *   phase 1, per chunk: dP = dy scattered through the pool; A recomputed;
 *     conv2's and the shortcut's backward (weight gradients, dA, dx);
 *     dh = dA * SELU'(BN2(z)), kept, and BN2's per-segment sums of dh,
 *     dh * xhat in the same pass (dh still in L1);
 *   phase 2, per chunk: dz = BN2's input gradient (in place of dh), conv1's
 *     backward (weight gradients, dx).
 * The kept dh is the one batch-sized temporary (z-sized); it is allocated one
 * chunk at a time because the arena packs pieces far better than one block
 * larger than its chunks (measured: 0.3 GB less resident memory for AASIST). */
#include "ops/ops.h"
#include "ops/internal.h"
#include "ops/vmath.h"
#include <string.h>
#include <omp.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define RB_POOL 3          /* MaxPool (1, 3), stride 3, floor */
#define RB_RECOMPUTE_K 16  /* conv1 with at most this many taps per output (Cin kh kw) is recomputed, not saved */

typedef struct {
    sdd_tensor *x, *out;
    sdd_resblock_params p;
    sdd_conv_geom g1, g2, gd;   /* conv1, conv2, downsample */
    sdd_bn_stats st;            /* BN2 over z (B, Cout, H1 * W1) */
    float *z;                   /* (B, Cout, H1, W1) conv1 output; NULL: recomputed in the backward */
    uint8_t *arg;               /* (B, Cout, H2, Wp) offset of each pooling window's max */
    int chunk;                  /* samples per temporary */
} rb_node;

static size_t rb_xs(const rb_node *n) { return (size_t)n->g1.Cin * n->g1.H * n->g1.W; }      /* x per sample */
static size_t rb_zs(const rb_node *n) { return (size_t)n->g1.Cout * n->g1.Ho * n->g1.Wo; }   /* z per sample */
static size_t rb_ps(const rb_node *n) { return (size_t)n->g2.Cout * n->g2.Ho * n->g2.Wo; }   /* P per sample */
static size_t rb_ys(const rb_node *n) { return (size_t)n->g2.Cout * n->g2.Ho * (n->g2.Wo / RB_POOL); }

/* conv1 output of samples [b0, b0 + nb): the saved one, or recomputed into buf; NULL on OOM */
static const float *rb_z(sdd_ctx *c, const rb_node *n, int b0, int nb, float *buf)
{
    if (n->z) return n->z + (size_t)b0 * rb_zs(n);
    if (sdd_conv_fwd(c, &n->g1, nb, n->x->x + (size_t)b0 * rb_xs(n), n->p.w1->x, n->p.b1 ? n->p.b1->x : NULL, buf))
        return NULL;
    return buf;
}

#define RB_TILE SDD_BN_RUN   /* elements normalised at a time (BN2 vectorises, then SELU reads it from L1) */

/* For samples [b0, b0 + nb), with h = BN2(z) (z, d (nb, Cout, H1, W1)):
 * d = SELU(h), or with grad d *= SELU'(h), and then, when psum is given,
 * BN2's backward sums of each (sample, channel) plane of the new d (the same
 * runs as sdd_bn_bwd_sums, so the same values) into psum[2 (bi * C + ch)]
 * and psum[2 (bi * C + ch) + 1] while d is in L1. d may be z. */
static void rb_bn_selu(const sdd_ctx *c, const rb_node *n, int b0, int nb, const float *z, float *d, int grad,
                       double *psum)
{
    const sdd_bn_stats *st = &n->st;
    const int64_t C = st->C, S = st->S;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int bi = 0; bi < nb; bi++)
        for (int64_t ch = 0; ch < C; ch++) {
            const size_t sa = (size_t)sdd_bn_group(c, st, b0 + bi) * C + ch;
            const float mf = st->mean[sa], sc = (float)(st->is[sa] * n->p.gamma->x[ch]), be = n->p.beta->x[ch];
            const float *zp = z + sdd_bn_at(st, bi, ch, 0);
            float *dp = d + sdd_bn_at(st, bi, ch, 0);
            float h[RB_TILE];
            double a = 0.0, ax = 0.0;
            for (int64_t k0 = 0; k0 < S; k0 += RB_TILE) {
                const int len = S - k0 < RB_TILE ? (int)(S - k0) : RB_TILE;
                sdd_bn_apply_run(zp + k0, h, (size_t)len, mf, sc, be);
                if (grad) sdd_selu_d_vec(h, NULL, dp + k0, (size_t)len, 0);
                else sdd_selu_vec(h, dp + k0, (size_t)len);
                if (psum) sdd_bn_sums_run(zp + k0, dp + k0, (size_t)len, st->mean[sa], st->istd[sa], &a, &ax);
            }
            if (psum) { psum[2 * (bi * C + ch)] = a; psum[2 * (bi * C + ch) + 1] = ax; }
        }
}

/* MaxPool (1, 3) of P (nplanes, H2, W2) into y (nplanes, H2, W2 / 3), with the
 * offset of each window's max in arg (when not NULL); ties keep the first, a NaN wins */
#if defined(__AVX512F__)
/* 16 windows of 3 at once: the window maxima and their offsets, with the
 * scalar rule (ties keep the first, the first NaN wins). v (48 floats) is
 * deinterleaved into the windows' first, second and third values by two
 * two-source permutes each. */
static inline void rb_pool16(const float *q, float *y, uint8_t *arg)
{
    const __m512 v0 = _mm512_loadu_ps(q), v1 = _mm512_loadu_ps(q + 16), v2 = _mm512_loadu_ps(q + 32);
    __m512 e[3];
    for (int o = 0; o < 3; o++) {
        int i1[16], i2[16];
        for (int i = 0; i < 16; i++) {
            const int src = 3 * i + o;          /* 0..47 */
            i1[i] = src < 32 ? src : 0;
            i2[i] = src < 32 ? i : 16 + (src - 32);
        }
        const __m512 t = _mm512_permutex2var_ps(v0, _mm512_loadu_si512(i1), v1);
        e[o] = _mm512_permutex2var_ps(t, _mm512_loadu_si512(i2), v2);
    }
    __m512 m = e[0];
    __m512i best = _mm512_setzero_si512();
    for (int o = 1; o < 3; o++) {
        const __mmask16 mnan = _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q);
        const __mmask16 up = (_mm512_cmp_ps_mask(e[o], m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(e[o], e[o], _CMP_UNORD_Q)) & (__mmask16)~mnan;
        m = _mm512_mask_mov_ps(m, up, e[o]);
        best = _mm512_mask_mov_epi32(best, up, _mm512_set1_epi32(o));
    }
    _mm512_storeu_ps(y, m);
    if (arg) _mm_storeu_si128((__m128i *)arg, _mm512_cvtepi32_epi8(best));
}
#endif

/* MaxPool (1, 3) of one row p (W2) into y (W2 / 3), with each window's max
 * offset in arg (when not NULL); ties keep the first, a NaN wins */
static void rb_pool_row(const float *pr, int W2, float *yr, uint8_t *ar)
{
    const int Wp = W2 / RB_POOL;
    int w = 0;
#if defined(__AVX512F__)
    for (; w + 16 <= Wp; w += 16) rb_pool16(pr + (size_t)w * RB_POOL, yr + w, ar ? ar + w : NULL);
#endif
    for (; w < Wp; w++) {
        const float *q = pr + (size_t)w * RB_POOL;
        int best = 0;
        float m = q[0];
        for (int j = 0; j < RB_POOL; j++)
            if (q[j] > m || isnan(q[j])) { m = q[j]; best = j; if (isnan(m)) break; }
        yr[w] = m;
        if (ar) ar[w] = (uint8_t)best;
    }
}

/* The pool's backward for one row: d (W2) = dy (W2 / 3) put at each window's
 * max offset (arg), zeros elsewhere and in the unpooled tail. */
static void rb_unpool_row(const float *dy, const uint8_t *arg, int Wp, int W2, float *d)
{
    int w = 0;
#if defined(__AVX512F__)
    /* 16 windows -> 48 outputs: output p of the k-th group of 16 takes window
     * p / 3 of the 16 when that window's max sits at offset p % 3 */
    int iw[48], io[48];
    for (int p = 0; p < 48; p++) { iw[p] = p / 3; io[p] = p % 3; }
    for (; w + 16 <= Wp; w += 16) {
        const __m512 v = _mm512_loadu_ps(dy + w);
        const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(arg + w)));
        for (int k = 0; k < 3; k++) {
            const __m512i ix = _mm512_loadu_si512(iw + 16 * k);
            const __mmask16 hit = _mm512_cmpeq_epi32_mask(_mm512_permutexvar_epi32(ix, a), _mm512_loadu_si512(io + 16 * k));
            _mm512_storeu_ps(d + (size_t)w * RB_POOL + 16 * k, _mm512_maskz_mov_ps(hit, _mm512_permutexvar_ps(ix, v)));
        }
    }
#endif
    for (; w < Wp; w++)
        for (int j = 0; j < RB_POOL; j++) d[w * RB_POOL + j] = j == arg[w] ? dy[w] : 0.0f;
    for (int q = Wp * RB_POOL; q < W2; q++) d[q] = 0.0f;
}

/* dh = d(BN2 output) of samples [b0, b0 + nb) into dA (nb, Cout, H1, W1) (its
 * previous contents are overwritten): dy through the pool into t2, A recomputed into t1, conv2's
 * backward (weight gradients, input gradient into dA), the shortcut's backward
 * (weight gradients, input gradient into dx), then dh = dA * SELU'(BN2(z)),
 * with BN2's backward sums of each plane of dh into psum (see rb_bn_selu).
 * Returns z of those samples (saved, or recomputed into t2); NULL on OOM. */
static const float *rb_dh(sdd_ctx *c, const rb_node *n, int b0, int nb, float *t1, float *t2, float *dA, float *dx,
                          double *psum)
{
    const sdd_resblock_params *p = &n->p;
    const size_t xs = rb_xs(n), ps = rb_ps(n), ys = rb_ys(n);
    const int W2 = n->g2.Wo, Wp = W2 / RB_POOL;
    float *dP = t2;   /* (nb, Cout, H2, W2) */
    const float *dy = n->out->g + (size_t)b0 * ys;
    const uint8_t *arg = n->arg + (size_t)b0 * ys;
    const int64_t rows = (int64_t)nb * n->g2.Cout * n->g2.Ho;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) rb_unpool_row(dy + (size_t)r * Wp, arg + (size_t)r * Wp, Wp, W2, dP + (size_t)r * W2);
    const float *z = rb_z(c, n, b0, nb, t1);
    if (!z) return NULL;
    rb_bn_selu(c, n, b0, nb, z, t1, 0, NULL);
    if (sdd_conv_bwd(c, &n->g2, b0, nb, t1, p->w2, p->b2, dP, dA, 1)) return NULL;
    float *dxc = dx ? dx + (size_t)b0 * xs : NULL;
    if (p->wd) {
        if (sdd_conv_bwd(c, &n->gd, b0, nb, n->x->x + (size_t)b0 * xs, p->wd, p->bd, dP, dxc, 0)) return NULL;
    } else if (dxc) {
        const size_t m = (size_t)nb * ps;
        #pragma omp parallel for schedule(static)
        for (size_t k = 0; k < m; k++) dxc[k] += dP[k];
    }
    /* dP is dead: z may be recomputed into t2 */
    z = rb_z(c, n, b0, nb, t2);
    if (!z) return NULL;
    rb_bn_selu(c, n, b0, nb, z, dA, 1, psum);
    return z;
}

static void rb_backward(sdd_ctx *c, void *vn)
{
    rb_node *n = vn;
    if (!n->out->g) return;
    const sdd_resblock_params *p = &n->p;
    const int B = (int)n->x->n[0], chunk = n->chunk;
    const size_t xs = rb_xs(n), zs = rb_zs(n), ps = rb_ps(n);
    const int64_t C = n->st.C;
    /* x's gradient outlives this op: allocate it below the mark */
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (c->failed) return;
    const sdd_arena_mark mark = sdd_arena_get_mark(&c->arena);
    const int nchunk = (B + chunk - 1) / chunk;
    float **dh = sdd_scratch(c, (size_t)nchunk * sizeof(float *));   /* per chunk: dh, then dz */
    float *t1 = sdd_scratch(c, (size_t)chunk * zs * sizeof(float));
    float *t2 = sdd_scratch(c, (size_t)chunk * (zs > ps ? zs : ps) * sizeof(float));
    double *sdy = sdd_scratch0(c, (size_t)c->nseg * C * sizeof(double));
    double *sdyx = sdd_scratch0(c, (size_t)c->nseg * C * sizeof(double));
    double *psum = sdd_scratch(c, (size_t)chunk * C * 2 * sizeof(double));   /* (chunk, C, 2) plane sums */
    if (!dh || !t1 || !t2 || !sdy || !sdyx || !psum) return;
    /* phase 1: parameter gradients of conv2 and the shortcut, dx from the shortcut, BN2's sums */
    for (int b0 = 0, ci = 0; b0 < B; b0 += chunk, ci++) {
        const int nb = B - b0 < chunk ? B - b0 : chunk;
        /* dh in one piece per chunk: the arena packs pieces better than one batch-sized block */
        dh[ci] = sdd_scratch(c, (size_t)nb * zs * sizeof(float));
        if (!dh[ci]) return;
        const sdd_arena_mark cm = sdd_arena_get_mark(&c->arena);
        if (!rb_dh(c, n, b0, nb, t1, t2, dh[ci], dx, psum)) return;
        /* plane sums into the segment sums in sample order, as sdd_bn_bwd_sums adds them */
        for (int bi = 0; bi < nb; bi++) {
            const int s = sdd_seg_of(c, b0 + bi);
            for (int64_t ch = 0; ch < C; ch++) {
                sdy[s * C + ch] += psum[2 * (bi * C + ch)];
                sdyx[s * C + ch] += psum[2 * (bi * C + ch) + 1];
            }
        }
        sdd_arena_release(&c->arena, cm);
    }
    sdd_bn_bwd_params(c, &n->st, p->gamma, p->beta, sdy, sdyx);
    const double *gy = sdy, *gyx = sdyx;
    if (sdd_bn_bwd_reduce(c, &n->st, &gy, &gyx)) return;
    /* phase 2: dz, conv1's backward */
    for (int b0 = 0, ci = 0; b0 < B; b0 += chunk, ci++) {
        const int nb = B - b0 < chunk ? B - b0 : chunk;
        const sdd_arena_mark cm = sdd_arena_get_mark(&c->arena);
        const float *z = rb_z(c, n, b0, nb, t1);
        if (!z) return;
        sdd_bn_bwd_dx(c, &n->st, p->gamma, b0, nb, z, dh[ci], gy, gyx, dh[ci], 1);
        if (sdd_conv_bwd(c, &n->g1, b0, nb, n->x->x + (size_t)b0 * xs, p->w1, p->b1, dh[ci],
                         dx ? dx + (size_t)b0 * xs : NULL, 0)) return;
        sdd_arena_release(&c->arena, cm);
    }
    sdd_arena_release(&c->arena, mark);
}

static int rb_wants(const sdd_ctx *c, const sdd_tensor *x, const sdd_resblock_params *p)
{
    const sdd_tensor *t[9] = { x, p->w1, p->b1, p->gamma, p->beta, p->w2, p->b2, p->wd, p->bd };
    for (int i = 0; i < 9; i++) if (sdd_wants(c, t[i])) return 1;
    return 0;
}

typedef struct {
    const rb_node *n;
    const float *x;     /* block input of the chunk's first sample (the identity shortcut) */
    float *y;           /* pooled output of the chunk's first sample */
    uint8_t *arg;       /* its pooling offsets, or NULL */
} rb_tile_arg;

/* y rows of one conv2 output tile: + identity shortcut (when no downsample),
 * then MaxPool (1, 3) of its wc / 3 whole windows (w0 is a multiple of 3) */
static void rb_tile(void *va, int bb, int h, int w0, int wc, const float *tile, int ldt)
{
    const rb_tile_arg *ta = va;
    const rb_node *n = ta->n;
    const int Co = n->g2.Cout, Ho = n->g2.Ho, Wo = n->g2.Wo, Wp = Wo / RB_POOL;
    const int nw = (w0 + wc > Wp * RB_POOL ? Wp * RB_POOL - w0 : wc) / RB_POOL;   /* whole windows in the tile */
    float sum[3 * 256];
    for (int co = 0; co < Co; co++) {
        const float *t = tile + (size_t)co * ldt;
        const size_t prow = ((size_t)(bb * Co + co) * Ho + h);
        if (!n->p.wd) {
            const float *xr = ta->x + prow * Wo + w0;   /* identity: x has conv2's output shape */
            for (int q = 0; q < nw * RB_POOL; q++) sum[q] = t[q] + xr[q];
            t = sum;
        }
        rb_pool_row(t, nw * RB_POOL, ta->y + prow * Wp + w0 / RB_POOL, ta->arg ? ta->arg + prow * Wp + w0 / RB_POOL : NULL);
    }
}

sdd_tensor *sdd_resblock(sdd_ctx *c, sdd_tensor *x, const sdd_resblock_params *p)
{
    if (!x || c->failed) return NULL;
    SDD_ON_DEVICE(c, sdd_cu_resblock(c, x, p));
    rb_node tmp, *n = &tmp;
    memset(n, 0, sizeof *n);
    n->x = x;
    n->p = *p;
    const int B = (int)x->n[0], Cin = (int)x->n[1], H = (int)x->n[2], W = (int)x->n[3];
    if (sdd_conv_geom_init(c, &n->g1, Cin, H, W, p->w1, p->ph1, p->pw1)) return NULL;
    if (sdd_conv_geom_init(c, &n->g2, n->g1.Cout, n->g1.Ho, n->g1.Wo, p->w2, p->ph2, p->pw2)) return NULL;
    if (p->wd && sdd_conv_geom_init(c, &n->gd, Cin, H, W, p->wd, p->phd, p->pwd)) return NULL;
    const int sc_C = p->wd ? n->gd.Cout : Cin, sc_H = p->wd ? n->gd.Ho : H, sc_W = p->wd ? n->gd.Wo : W;
    if (sc_C != n->g2.Cout || sc_H != n->g2.Ho || sc_W != n->g2.Wo) {
        sdd_err_set(&c->err, "resblock: shortcut (%d, %d, %d) does not match conv2's output (%d, %d, %d)",
                    sc_C, sc_H, sc_W, n->g2.Cout, n->g2.Ho, n->g2.Wo);
        c->failed = 1;
        return NULL;
    }
    if (n->g2.Wo < RB_POOL) { sdd_err_set(&c->err, "resblock: width %d too small to pool", n->g2.Wo); c->failed = 1; return NULL; }
    const int nth = omp_get_max_threads();
    n->chunk = nth < B ? nth : B;
    const size_t xs = rb_xs(n), zs = rb_zs(n), ys = rb_ys(n);
    sdd_tensor *out = sdd_new4(c, B, n->g2.Cout, n->g2.Ho, n->g2.Wo / RB_POOL);
    if (!out) return NULL;
    n->out = out;
    out->rg = rb_wants(c, x, p);
    const int grad = c->grad && out->rg;
    /* what the backward needs is allocated below the mark, the rest above it */
    if (grad) {
        n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        *n = tmp;
        n->arg = sdd_scratch(c, (size_t)B * ys);
        if (!n->arg) return NULL;
        if ((int64_t)Cin * n->g1.kh * n->g1.kw > RB_RECOMPUTE_K) {
            n->z = sdd_scratch(c, (size_t)B * zs * sizeof(float));
            if (!n->z) return NULL;
        }
    }
    const int64_t zshape[4] = { B, n->g1.Cout, n->g1.Ho, n->g1.Wo };
    sdd_tensor zt;
    memset(&zt, 0, sizeof zt);
    zt.nd = 4;
    memcpy(zt.n, zshape, sizeof zshape);
    sdd_bn_layout(&n->st, &zt, 0);
    if (grad && sdd_bn_stats_alloc(c, &n->st)) return NULL;
    const sdd_arena_mark mark = sdd_arena_get_mark(&c->arena);
    if (!grad && sdd_bn_stats_alloc(c, &n->st)) return NULL;
    float *z = n->z ? n->z : sdd_scratch(c, (size_t)B * zs * sizeof(float));
    /* A overwrites z when z is not kept */
    float *A = n->z ? sdd_scratch(c, (size_t)n->chunk * zs * sizeof(float)) : NULL;
    if (!z || (n->z && !A)) return NULL;
    if (sdd_conv_fwd(c, &n->g1, B, x->x, p->w1->x, p->b1 ? p->b1->x : NULL, z)) return NULL;
    sdd_bn_stats_compute(c, &n->st, z, p->rmean, p->rvar, p->momentum, p->eps);
    for (int b0 = 0; b0 < B; b0 += n->chunk) {
        const int nb = B - b0 < n->chunk ? B - b0 : n->chunk;
        const sdd_arena_mark cm = sdd_arena_get_mark(&c->arena);
        float *a = A ? A : z + (size_t)b0 * zs;
        rb_bn_selu(c, n, b0, nb, z + (size_t)b0 * zs, a, 0, NULL);
        /* conv2 (+ downsample) + shortcut, pooled tile by tile: P never exists whole */
        rb_tile_arg ta = { n, x->x + (size_t)b0 * xs, out->x + (size_t)b0 * ys, grad ? n->arg + (size_t)b0 * ys : NULL };
        if (sdd_conv_fwd_tiles(c, nb, &n->g2, a, p->w2->x, p->b2 ? p->b2->x : NULL,
                               p->wd ? &n->gd : NULL, x->x + (size_t)b0 * xs, p->wd ? p->wd->x : NULL,
                               p->bd ? p->bd->x : NULL, rb_tile, &ta))
            return NULL;
        sdd_arena_release(&c->arena, cm);
    }
    sdd_arena_release(&c->arena, mark);
    if (grad && sdd_tape_push(c, rb_backward, n)) return NULL;
    return out;
}
