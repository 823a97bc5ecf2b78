/* Batch normalisation with per-segment (per-path) batch statistics in
 * training, whole-batch running-statistics updates, and its backward.
 * Two layouts: channel-first (B, C, S) as BatchNorm2d, channel-last (R, C)
 * as BatchNorm1d on x.view(-1, C). Moments are accumulated in double.
 * The pieces (statistics, normalisation, backward sums, input gradient) are
 * shared with the fused residual block through internal.h. */
#include "ops/ops.h"
#include "ops/internal.h"
#include <math.h>
#include <string.h>

typedef struct {
    sdd_tensor *x, *gamma, *beta, *out;
    sdd_bn_stats st;
} bn_node;

/* sum of channel ch over samples [b0, b1) */
static double bn_sum(const sdd_bn_stats *st, const float *x, int b0, int b1, int64_t ch)
{
    double s = 0.0;
    for (int b = b0; b < b1; b++)
        for (int64_t k = 0; k < st->S; k++) s += x[sdd_bn_at(st, b, ch, k)];
    return s;
}

/* sum of squared deviations from m of channel ch over samples [b0, b1) */
static double bn_ss(const sdd_bn_stats *st, const float *x, int b0, int b1, int64_t ch, double m)
{
    double ss = 0.0;
    for (int b = b0; b < b1; b++)
        for (int64_t k = 0; k < st->S; k++) {
            double d = x[sdd_bn_at(st, b, ch, k)] - m;
            ss += d * d;
        }
    return ss;
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

/* Batch moments of every group into st->m, st->v (biased) and st->cnt, two
 * passes (mean, then centred squares). With c->bn_reduce (data-parallel
 * training) the sums and counts of each pass are summed over ranks first, so
 * every rank gets the moments of the global batch. -1 on failure (c->failed). */
static int bn_group_moments(sdd_ctx *c, sdd_bn_stats *st, const float *x)
{
    const int64_t C = st->C, n = (int64_t)st->ng * C;
    double *buf = sdd_scratch(c, (size_t)(n + st->ng) * sizeof(double));
    if (!buf) return -1;
    for (int g = 0; g < st->ng; g++) {
        int b0, b1;
        bn_group_range(c, st->ng, g, &b0, &b1);
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < C; ch++) buf[g * C + ch] = bn_sum(st, x, b0, b1, ch);
        buf[n + g] = (double)(b1 - b0) * st->S;
    }
    if (c->bn_reduce && c->bn_reduce(buf, (size_t)(n + st->ng), c->bn_reduce_arg)) goto fail;
    for (int g = 0; g < st->ng; g++) {
        st->cnt[g] = buf[n + g];
        for (int64_t ch = 0; ch < C; ch++) st->m[g * C + ch] = buf[g * C + ch] / st->cnt[g];
    }
    for (int g = 0; g < st->ng; g++) {
        int b0, b1;
        bn_group_range(c, st->ng, g, &b0, &b1);
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < C; ch++) buf[g * C + ch] = bn_ss(st, x, b0, b1, ch, st->m[g * C + ch]);
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
            const double m = st->m[sa], is = st->is[sa];
            for (int64_t k = 0; k < st->S; k++) {
                const size_t at = sdd_bn_at(st, bi, ch, k);
                out[at] = sdd_bn1(x[at], m, is, gamma->x[ch], beta->x[ch]);
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
            const double mu = st->mean[sa], is = st->istd[sa];
            double a = sdy[s * st->C + ch], ax = sdyx[s * st->C + ch];
            for (int64_t k = 0; k < st->S; k++) {
                const size_t at = sdd_bn_at(st, bi, ch, k);
                const double xh = (x[at] - mu) * is;
                a += dy[at];
                ax += dy[at] * xh;
            }
            sdy[s * st->C + ch] = a;
            sdyx[s * st->C + ch] = ax;
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

void sdd_bn_bwd_dx(const sdd_ctx *c, const sdd_bn_stats *st, const sdd_tensor *gamma, int b0, int nb,
                   const float *x, const float *dy, const double *sdy, const double *sdyx, float *dx, int store)
{
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < st->C; ch++)
        for (int bi = 0; bi < nb; bi++) {
            const int g = st->batchstats ? sdd_bn_group(c, st, b0 + bi) : 0;
            const size_t sa = (size_t)g * st->C + ch;
            const double mu = st->mean[sa], is = st->istd[sa];
            const float gm = gamma->x[ch];
            /* sums and count of the statistics group (segment g, or every segment) */
            double a = 0.0, ax = 0.0;
            for (int s = 0; s < c->nseg; s++)
                if (st->ng == 1 || s == g) { a += sdy[s * st->C + ch]; ax += sdyx[s * st->C + ch]; }
            const double cnt = st->cnt[g];
            for (int64_t k = 0; k < st->S; k++) {
                const size_t at = sdd_bn_at(st, bi, ch, k);
                float v;
                if (st->batchstats) {
                    const double xh = (x[at] - mu) * is;
                    v = (float)(gm * is * (dy[at] - a / cnt - xh * ax / cnt));
                } else {
                    v = (float)(gm * is * dy[at]);
                }
                if (store) dx[at] = v; else dx[at] += v;
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
    SDD_ON_DEVICE(c, sdd_cu_batchnorm(c, x, gamma, beta, rmean, rvar, channel_last, eps));
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
    if (c->dev) { sdd_cu_unsupported(c, "BatchNorm running-statistics update (training)"); return; }
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
