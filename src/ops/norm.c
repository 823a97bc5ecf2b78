/* Batch normalisation with per-segment (per-path) batch statistics in
 * training, whole-batch running-statistics updates, and its backward.
 * Two layouts: channel-first (B, C, S) as BatchNorm2d, channel-last (R, C)
 * as BatchNorm1d on x.view(-1, C). Moments are accumulated in double
 * (channel-first: one pass over memory, runs of SDD_BN_RUN values merged by
 * Chan's update); normalisation and input gradients are computed in float.
 * The pieces (statistics, normalisation, backward sums, input gradient) are
 * shared with the fused residual block through internal.h. */
#include "ops/ops.h"
#include "ops/internal.h"
#include <math.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

typedef struct {
    sdd_tensor *x, *gamma, *beta, *out;
    sdd_bn_stats st;
} bn_node;

#if defined(__AVX512F__)
/* the upper 8 floats of v */
static inline __m256 hi8(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }
#endif

/* sum of x[0, n) in double lanes */
static double run_sum(const float *x, size_t n)
{
    size_t k = 0;
    double s = 0.0;
#if defined(__AVX512F__)
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (; k + 16 <= n; k += 16) {
        const __m512 v = _mm512_loadu_ps(x + k);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(hi8(v)));
    }
    s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
#endif
    for (; k < n; k++) s += x[k];
    return s;
}

/* sum of (x - m)^2 over x[0, n), in double */
static double run_ss(const float *x, size_t n, double m)
{
    size_t k = 0;
    double s = 0.0;
#if defined(__AVX512F__)
    const __m512d vm = _mm512_set1_pd(m);
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (; k + 16 <= n; k += 16) {
        const __m512 v = _mm512_loadu_ps(x + k);
        const __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), vm);
        const __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(hi8(v)), vm);
        s0 = _mm512_fmadd_pd(d0, d0, s0);
        s1 = _mm512_fmadd_pd(d1, d1, s1);
    }
    s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
#endif
    for (; k < n; k++) { const double d = x[k] - m; s += d * d; }
    return s;
}

/* Moments of channel ch over samples [b0, b1): *sum of the values and *m2,
 * the sum of squared deviations from their own mean. Channel-first: one pass
 * over memory, each run of SDD_BN_RUN values summed and then its deviations
 * from the run mean (from L1), runs merged in order by Chan's update (no
 * cancellation of a one-pass sum of squares). Channel-last (small graph
 * tensors): two strided passes. */
static void bn_local(const sdd_bn_stats *st, const float *x, int b0, int b1, int64_t ch, double *sum, double *m2)
{
    double s = 0.0, n = 0.0, mean = 0.0, M2 = 0.0;
    if (!st->cl) {
        for (int b = b0; b < b1; b++) {
            const float *p = x + sdd_bn_at(st, b, ch, 0);
            for (int64_t k0 = 0; k0 < st->S; k0 += SDD_BN_RUN) {
                const size_t len = (size_t)(st->S - k0 < SDD_BN_RUN ? st->S - k0 : SDD_BN_RUN);
                const double rs = run_sum(p + k0, len), rn = (double)len, rm = rs / rn;
                const double rm2 = run_ss(p + k0, len, rm);
                s += rs;
                if (n == 0.0) { mean = rm; M2 = rm2; n = rn; continue; }
                const double d = rm - mean, tot = n + rn;
                mean += d * rn / tot;
                M2 += rm2 + d * d * n * rn / tot;
                n = tot;
            }
        }
    } else {
        for (int b = b0; b < b1; b++)
            for (int64_t k = 0; k < st->S; k++) s += x[sdd_bn_at(st, b, ch, k)];
        n = (double)(b1 - b0) * st->S;
        mean = n > 0 ? s / n : 0.0;
        for (int b = b0; b < b1; b++)
            for (int64_t k = 0; k < st->S; k++) {
                const double d = x[sdd_bn_at(st, b, ch, k)] - mean;
                M2 += d * d;
            }
    }
    *sum = s;
    *m2 = M2;
}

void sdd_bn_apply_run(const float *x, float *y, size_t n, float mean, float scale, float beta)
{
    size_t k = 0;
#if defined(__AVX512F__)
    const __m512 vm = _mm512_set1_ps(mean), vs = _mm512_set1_ps(scale), vb = _mm512_set1_ps(beta);
    for (; k + 16 <= n; k += 16)
        _mm512_storeu_ps(y + k, _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(x + k), vm), vs, vb));
#endif
    for (; k < n; k++) y[k] = sdd_bn1(x[k], mean, scale, beta);
}

void sdd_bn_sums_run(const float *x, const float *dy, size_t n, float mean, float istd, double *a, double *ax)
{
    size_t k = 0;
    double sa = 0.0, sx = 0.0;
#if defined(__AVX512F__)
    const __m512 vm = _mm512_set1_ps(mean), vi = _mm512_set1_ps(istd);
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd(), x0 = _mm512_setzero_pd(), x1 = _mm512_setzero_pd();
    for (; k + 16 <= n; k += 16) {
        const __m512 d = _mm512_loadu_ps(dy + k);
        const __m512 p = _mm512_mul_ps(d, _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + k), vm), vi));
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(d)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(hi8(d)));
        x0 = _mm512_add_pd(x0, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
        x1 = _mm512_add_pd(x1, _mm512_cvtps_pd(hi8(p)));
    }
    sa = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
    sx = _mm512_reduce_add_pd(_mm512_add_pd(x0, x1));
#endif
    for (; k < n; k++) {
        const float xh = (x[k] - mean) * istd;
        sa += dy[k];
        sx += dy[k] * xh;
    }
    *a += sa;
    *ax += sx;
}

void sdd_bn_layout(sdd_bn_stats *st, const sdd_tensor *x, int cl)
{
    memset(st, 0, sizeof *st);
    st->cl = cl;
    st->C = cl ? x->n[x->nd - 1] : x->n[1];
    st->S = (int64_t)(sdd_numel(x) / ((size_t)x->n[0] * st->C));
}

/* samples [b0, b1) of statistics group g */
static void bn_group_range(const sdd_ctx *c, int ng, int g, int *b0, int *b1)
{
    *b0 = ng == 1 ? 0 : sdd_ctx_seg_begin(c, g);
    *b1 = ng == 1 ? c->B : c->seg_end[g];
}

/* running update from per-group moments (cnt[g] values each) combined into whole-batch moments */
static void bn_running(const sdd_ctx *c, const sdd_bn_stats *st, int ng, const double *gm, const double *gv,
                       const sdd_tensor *rmean, const sdd_tensor *rvar, float momentum)
{
    double total = 0.0;
    for (int g = 0; g < ng; g++) total += st->cnt[g];
    if (c->bn_momentum > 0) momentum = c->bn_momentum;
    for (int64_t ch = 0; ch < st->C; ch++) {
        double m = 0.0, v = 0.0;
        for (int g = 0; g < ng; g++) m += gm[g * st->C + ch] * st->cnt[g];
        m /= total;
        for (int g = 0; g < ng; g++) {
            double d = gm[g * st->C + ch] - m;
            v += (gv[g * st->C + ch] + d * d) * st->cnt[g];
        }
        v /= total;
        const double unbiased = total > 1 ? v * total / (total - 1) : v;
        rmean->x[ch] = (float)((1.0 - momentum) * rmean->x[ch] + momentum * m);
        rvar->x[ch] = (float)((1.0 - momentum) * rvar->x[ch] + momentum * unbiased);
    }
}

/* Batch moments of every group into st->m, st->v (biased) and st->cnt: each
 * group's local sums and deviations (bn_local), then the mean from the sums,
 * then the squared deviations from it (local ones plus n (local mean - mean)^2).
 * With c->bn_reduce (data-parallel training) the sums and counts, then the
 * squared deviations, are summed over ranks, so every rank gets the moments
 * of the global batch. -1 on failure (c->failed). */
static int bn_group_moments(sdd_ctx *c, sdd_bn_stats *st, const float *x)
{
    const int64_t C = st->C, n = (int64_t)st->ng * C;
    double *buf = sdd_scratch(c, (size_t)(n + st->ng) * sizeof(double));
    double *lm2 = sdd_scratch(c, (size_t)n * sizeof(double));
    double lcnt[SDD_MAX_PATHS];
    if (!buf || !lm2) return -1;
    for (int g = 0; g < st->ng; g++) {
        int b0, b1;
        bn_group_range(c, st->ng, g, &b0, &b1);
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < C; ch++) bn_local(st, x, b0, b1, ch, &buf[g * C + ch], &lm2[g * C + ch]);
        lcnt[g] = (double)(b1 - b0) * st->S;
        buf[n + g] = lcnt[g];
    }
    /* local means, before buf is reduced */
    for (int g = 0; g < st->ng; g++)
        for (int64_t ch = 0; ch < C; ch++) st->v[g * C + ch] = lcnt[g] > 0 ? buf[g * C + ch] / lcnt[g] : 0.0;
    if (c->bn_reduce && c->bn_reduce(buf, (size_t)(n + st->ng), c->bn_reduce_arg)) goto fail;
    for (int g = 0; g < st->ng; g++) {
        st->cnt[g] = buf[n + g];
        for (int64_t ch = 0; ch < C; ch++) st->m[g * C + ch] = buf[g * C + ch] / st->cnt[g];
    }
    for (int64_t k = 0; k < n; k++) {
        const double d = st->v[k] - st->m[k];
        buf[k] = lm2[k] + lcnt[k / C] * d * d;
    }
    if (c->bn_reduce && c->bn_reduce(buf, (size_t)n, c->bn_reduce_arg)) goto fail;
    for (int64_t k = 0; k < n; k++) st->v[k] = buf[k] / st->cnt[k / C];
    return 0;
fail:
    sdd_err_set(&c->err, "BatchNorm: reducing batch statistics over ranks failed");
    c->failed = 1;
    return -1;
}

int sdd_bn_stats_alloc(sdd_ctx *c, sdd_bn_stats *st)
{
    st->batchstats = c->train;
    st->ng = c->train ? (c->bn_per_seg ? c->nseg : 1) : 1;
    const size_t n = (size_t)st->ng * st->C;
    st->m = sdd_scratch(c, n * sizeof(double));
    st->is = sdd_scratch(c, n * sizeof(double));
    st->v = sdd_scratch(c, n * sizeof(double));
    st->mean = sdd_scratch(c, n * sizeof(float));
    st->istd = sdd_scratch(c, n * sizeof(float));
    return st->m && st->is && st->v && st->mean && st->istd ? 0 : -1;
}

void sdd_bn_stats_compute(sdd_ctx *c, sdd_bn_stats *st, const float *x, const sdd_tensor *rmean,
                          const sdd_tensor *rvar, float momentum, float eps)
{
    const int64_t C = st->C;
    if (st->batchstats && bn_group_moments(c, st, x)) return;
    for (int g = 0; g < st->ng; g++) {
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < C; ch++) {
            const size_t at = (size_t)g * C + ch;
            if (!st->batchstats) { st->m[at] = rmean->x[ch]; st->v[at] = rvar->x[ch]; }
            const double v = st->v[at];
            st->is[at] = 1.0 / sqrt(v + eps);
            st->mean[at] = (float)st->m[at];
            st->istd[at] = (float)(1.0 / sqrt(v + eps));
        }
    }
    if (st->batchstats) bn_running(c, st, st->ng, st->m, st->v, rmean, rvar, momentum);
}

/* out = BN(x) for samples [b0, b0 + nb) (x, out point at sample b0; out may be x) */
static void bn_apply(const sdd_ctx *c, const sdd_bn_stats *st, const sdd_tensor *gamma, const sdd_tensor *beta,
                  int b0, int nb, const float *x, float *out)
{
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < st->C; ch++)
        for (int bi = 0; bi < nb; bi++) {
            const size_t sa = (size_t)sdd_bn_group(c, st, b0 + bi) * st->C + ch;
            const float mf = st->mean[sa], sc = (float)(st->is[sa] * gamma->x[ch]), be = beta->x[ch];
            if (!st->cl) {
                const size_t at = sdd_bn_at(st, bi, ch, 0);
                sdd_bn_apply_run(x + at, out + at, (size_t)st->S, mf, sc, be);
                continue;
            }
            for (int64_t k = 0; k < st->S; k++) {
                const size_t at = sdd_bn_at(st, bi, ch, k);
                out[at] = sdd_bn1(x[at], mf, sc, be);
            }
        }
}

void sdd_bn_bwd_sums(const sdd_ctx *c, const sdd_bn_stats *st, int b0, int nb, const float *x, const float *dy,
                     double *sdy, double *sdyx)
{
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < st->C; ch++)
        for (int bi = 0; bi < nb; bi++) {
            const int s = sdd_seg_of(c, b0 + bi);
            const size_t sa = (size_t)(st->batchstats ? sdd_bn_group(c, st, b0 + bi) : 0) * st->C + ch;
            const float mu = st->mean[sa], is = st->istd[sa];
            double a = 0.0, ax = 0.0;
            if (!st->cl) {
                const size_t at = sdd_bn_at(st, bi, ch, 0);
                for (int64_t k0 = 0; k0 < st->S; k0 += SDD_BN_RUN)
                    sdd_bn_sums_run(x + at + k0, dy + at + k0, (size_t)(st->S - k0 < SDD_BN_RUN ? st->S - k0 : SDD_BN_RUN),
                                    mu, is, &a, &ax);
            } else {
                for (int64_t k = 0; k < st->S; k++) {
                    const size_t at = sdd_bn_at(st, bi, ch, k);
                    const float xh = (x[at] - mu) * is;
                    a += dy[at];
                    ax += dy[at] * xh;
                }
            }
            sdy[s * st->C + ch] += a;
            sdyx[s * st->C + ch] += ax;
        }
}

void sdd_bn_bwd_params(sdd_ctx *c, const sdd_bn_stats *st, const sdd_tensor *gamma, const sdd_tensor *beta,
                       const double *sdy, const double *sdyx)
{
    /* per-segment parameter sums so gradients split by path even within a joint group */
    for (int s = 0; s < c->nseg; s++) {
        float *gg = sdd_pgrad(c, gamma, s), *gb = sdd_pgrad(c, beta, s);
        for (int64_t ch = 0; ch < st->C; ch++) {
            const double a = sdy[s * st->C + ch], ax = sdyx[s * st->C + ch];
            if (a == 0.0 && ax == 0.0) continue;
            if (gg) gg[ch] += (float)ax;
            if (gb) gb[ch] += (float)a;
        }
    }
}

/* dx (+)= k1 * (dy - ma - xhat * mx), xhat = (x - mu) * is, over n values, in
 * float; ma is ma_hi + ma_lo (two floats): a mean rounded to one float would
 * shift every element the same way, and the sum of dx, zero in exact
 * arithmetic (it is the gradient of a bias before BatchNorm), would grow with
 * the element count instead of its square root */
static void bn_dx_run(const float *x, const float *dy, float *dx, size_t n, float mu, float is, float k1, float ma_hi,
                      float ma_lo, float mx, int store)
{
    size_t k = 0;
#if defined(__AVX512F__)
    const __m512 vmu = _mm512_set1_ps(mu), vis = _mm512_set1_ps(is), vk = _mm512_set1_ps(k1);
    const __m512 vmh = _mm512_set1_ps(ma_hi), vml = _mm512_set1_ps(ma_lo), vmx = _mm512_set1_ps(mx);
    for (; k + 16 <= n; k += 16) {
        const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + k), vmu), vis);
        const __m512 d = _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(dy + k), vmh), vml);
        const __m512 t = _mm512_fnmadd_ps(xh, vmx, d);
        __m512 v = _mm512_mul_ps(t, vk);
        if (!store) v = _mm512_add_ps(v, _mm512_loadu_ps(dx + k));
        _mm512_storeu_ps(dx + k, v);
    }
#endif
    for (; k < n; k++) {
        const float xh = (x[k] - mu) * is;
        const float v = fmaf(-xh, mx, (dy[k] - ma_hi) - ma_lo) * k1;
        dx[k] = store ? v : dx[k] + v;
    }
}

void sdd_bn_bwd_dx(const sdd_ctx *c, const sdd_bn_stats *st, const sdd_tensor *gamma, int b0, int nb,
                   const float *x, const float *dy, const double *sdy, const double *sdyx, float *dx, int store)
{
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < st->C; ch++)
        for (int bi = 0; bi < nb; bi++) {
            const int g = st->batchstats ? sdd_bn_group(c, st, b0 + bi) : 0;
            const size_t sa = (size_t)g * st->C + ch;
            const float mu = st->mean[sa], is = st->istd[sa];
            const float k1 = (float)((double)gamma->x[ch] * is);
            /* sums and count of the statistics group (segment g, or every segment);
             * with running statistics the input gradient is k1 * dy */
            float ma_hi = 0.0f, ma_lo = 0.0f, mx = 0.0f;
            if (st->batchstats) {
                double a = 0.0, ax = 0.0;
                for (int s = 0; s < c->nseg; s++)
                    if (st->ng == 1 || s == g) { a += sdy[s * st->C + ch]; ax += sdyx[s * st->C + ch]; }
                ma_hi = (float)(a / st->cnt[g]);
                ma_lo = (float)(a / st->cnt[g] - ma_hi);
                mx = (float)(ax / st->cnt[g]);
            }
            if (!st->cl) {
                const size_t at = sdd_bn_at(st, bi, ch, 0);
                bn_dx_run(x + at, dy + at, dx + at, (size_t)st->S, mu, is, k1, ma_hi, ma_lo, mx, store);
                continue;
            }
            for (int64_t k = 0; k < st->S; k++) {
                const size_t at = sdd_bn_at(st, bi, ch, k);
                bn_dx_run(x + at, dy + at, dx + at, 1, mu, is, k1, ma_hi, ma_lo, mx, store);
            }
        }
}

int sdd_bn_bwd_reduce(sdd_ctx *c, const sdd_bn_stats *st, const double **sdy, const double **sdyx)
{
    if (!st->batchstats || !c->bn_reduce) return 0;
    const size_t n = (size_t)c->nseg * st->C;
    double *buf = sdd_scratch(c, 2 * n * sizeof(double));
    if (!buf) return -1;
    memcpy(buf, *sdy, n * sizeof(double));
    memcpy(buf + n, *sdyx, n * sizeof(double));
    if (c->bn_reduce(buf, 2 * n, c->bn_reduce_arg)) {
        sdd_err_set(&c->err, "BatchNorm backward: reducing over ranks failed");
        c->failed = 1;
        return -1;
    }
    *sdy = buf;
    *sdyx = buf + n;
    return 0;
}

static void bn_backward(sdd_ctx *c, void *vn)
{
    bn_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    const size_t nsum = (size_t)c->nseg * n->st.C * sizeof(double);
    double *sdy = sdd_scratch0(c, nsum), *sdyx = sdd_scratch0(c, nsum);
    if (!sdy || !sdyx) return;
    sdd_bn_bwd_sums(c, &n->st, 0, c->B, n->x->x, n->out->g, sdy, sdyx);
    sdd_bn_bwd_params(c, &n->st, n->gamma, n->beta, sdy, sdyx);
    const double *gy = sdy, *gyx = sdyx;
    if (sdd_bn_bwd_reduce(c, &n->st, &gy, &gyx)) return;
    if (dx) sdd_bn_bwd_dx(c, &n->st, n->gamma, 0, c->B, n->x->x, n->out->g, gy, gyx, dx, 0);
}

sdd_tensor *sdd_batchnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta,
                          sdd_tensor *rmean, sdd_tensor *rvar, int channel_last, float momentum, float eps)
{
    if (!x || c->failed) return NULL;
    SDD_ON_DEVICE(c, c->train ? sdd_cu_batchnorm_train(c, x, gamma, beta, rmean, rvar, channel_last, momentum, eps)
                              : sdd_cu_batchnorm(c, x, gamma, beta, rmean, rvar, channel_last, eps));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    bn_node *n = sdd_scratch(c, sizeof *n);
    if (!out || !n) return NULL;
    n->x = x; n->gamma = gamma; n->beta = beta; n->out = out;
    sdd_bn_layout(&n->st, x, channel_last);
    if (sdd_bn_stats_alloc(c, &n->st)) return NULL;
    sdd_bn_stats_compute(c, &n->st, x->x, rmean, rvar, momentum, eps);
    bn_apply(c, &n->st, gamma, beta, 0, c->B, x->x, out->x);
    out->rg = sdd_wants(c, x) || sdd_wants(c, gamma) || sdd_wants(c, beta);
    if (c->grad && out->rg && sdd_tape_push(c, bn_backward, n)) return NULL;
    return out;
}

void sdd_bn_track(sdd_ctx *c, sdd_tensor *x, sdd_tensor *rmean, sdd_tensor *rvar, float momentum)
{
    if (!x || c->failed || !c->train) return;
#ifdef SDD_CUDA
    if (c->dev) { sdd_cu_bn_track(c, x, rmean, rvar, momentum); return; }
#endif
    sdd_bn_stats st;
    sdd_bn_layout(&st, x, 0);
    st.ng = 1;
    st.batchstats = 1;
    st.m = sdd_scratch(c, (size_t)st.C * sizeof(double));
    st.v = sdd_scratch(c, (size_t)st.C * sizeof(double));
    if (!st.m || !st.v || bn_group_moments(c, &st, x->x)) return;
    bn_running(c, &st, 1, st.m, st.v, rmean, rvar, momentum);
}
