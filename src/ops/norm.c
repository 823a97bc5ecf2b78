/* Batch normalisation with per-segment (per-path) batch statistics in
 * training, whole-batch running-statistics updates, and its backward.
 * Two layouts: channel-first (B, C, S) as BatchNorm2d, channel-last (R, C)
 * as BatchNorm1d on x.view(-1, C). Moments are accumulated in double. */
#include "ops/ops.h"
#include <math.h>
#include <string.h>

typedef struct {
    sdd_tensor *x, *gamma, *beta, *out;
    int cl;           /* channel-last */
    int64_t C, S;     /* channels; inner size (channel-first) or rows per sample (channel-last) */
    float *mean, *istd;  /* (ngroup, C) statistics used in the forward */
    int ngroup;       /* 1 in eval mode or joint statistics, else nseg */
    int batchstats;
} bn_node;

/* element (b, ch, k) address for both layouts: k runs over S */
static inline size_t bn_at(const bn_node *n, int64_t b, int64_t ch, int64_t k)
{
    return n->cl ? ((size_t)b * n->S + k) * n->C + ch : ((size_t)b * n->C + ch) * n->S + k;
}

/* moments of channel ch over samples [b0, b1): mean and biased variance */
static void bn_moments(const bn_node *n, const float *x, int b0, int b1, int64_t ch, double *mean, double *var)
{
    double s = 0.0, ss = 0.0;
    for (int b = b0; b < b1; b++)
        for (int64_t k = 0; k < n->S; k++) {
            double v = x[bn_at(n, b, ch, k)];
            s += v;
        }
    const double cnt = (double)(b1 - b0) * n->S;
    const double m = s / cnt;
    for (int b = b0; b < b1; b++)
        for (int64_t k = 0; k < n->S; k++) {
            double d = x[bn_at(n, b, ch, k)] - m;
            ss += d * d;
        }
    *mean = m;
    *var = ss / cnt;
}

static void bn_setup(bn_node *n, sdd_tensor *x, int cl)
{
    n->cl = cl;
    n->C = cl ? x->n[x->nd - 1] : x->n[1];
    n->S = (int64_t)(sdd_numel(x) / ((size_t)x->n[0] * n->C));
}

/* running update from per-group moments combined into whole-batch moments */
static void bn_running(sdd_ctx *c, const bn_node *n, int ng, const double *gm, const double *gv,
                       sdd_tensor *rmean, sdd_tensor *rvar, float momentum)
{
    const double total = (double)c->B * n->S;
    for (int64_t ch = 0; ch < n->C; ch++) {
        double m = 0.0, v = 0.0;
        for (int g = 0; g < ng; g++) {
            int b0 = ng == 1 ? 0 : sdd_ctx_seg_begin(c, g), b1 = ng == 1 ? c->B : c->seg_end[g];
            m += gm[g * n->C + ch] * ((double)(b1 - b0) * n->S);
        }
        m /= total;
        for (int g = 0; g < ng; g++) {
            int b0 = ng == 1 ? 0 : sdd_ctx_seg_begin(c, g), b1 = ng == 1 ? c->B : c->seg_end[g];
            double d = gm[g * n->C + ch] - m;
            v += (gv[g * n->C + ch] + d * d) * ((double)(b1 - b0) * n->S);
        }
        v /= total;
        const double unbiased = total > 1 ? v * total / (total - 1) : v;
        rmean->x[ch] = (float)((1.0 - momentum) * rmean->x[ch] + momentum * m);
        rvar->x[ch] = (float)((1.0 - momentum) * rvar->x[ch] + momentum * unbiased);
    }
}

static void bn_backward(sdd_ctx *c, void *vn)
{
    bn_node *n = vn;
    if (!n->out->g) return;
    const float *dy = n->out->g;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    for (int g = 0; g < (n->batchstats ? n->ngroup : c->nseg); g++) {
        /* in eval mode statistics are fixed: iterate segments only to route parameter gradients */
        const int b0 = (n->batchstats && n->ngroup == 1) ? 0 : sdd_ctx_seg_begin(c, g);
        const int b1 = (n->batchstats && n->ngroup == 1) ? c->B : c->seg_end[g];
        const int sg = n->batchstats ? g : 0;
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < n->C; ch++) {
            const double mu = n->mean[sg * n->C + ch], is = n->istd[sg * n->C + ch];
            const float gm = n->gamma->x[ch];
            /* per-segment parameter sums so gradients split by path even within a joint group */
            double sdy_seg[SDD_MAX_PATHS] = { 0 }, sdyx_seg[SDD_MAX_PATHS] = { 0 };
            double sdy = 0.0, sdyx = 0.0;
            for (int b = b0; b < b1; b++) {
                const int s = sdd_seg_of(c, b);
                for (int64_t k = 0; k < n->S; k++) {
                    const size_t at = bn_at(n, b, ch, k);
                    const double xh = (n->x->x[at] - mu) * is;
                    sdy_seg[s] += dy[at];
                    sdyx_seg[s] += dy[at] * xh;
                }
            }
            for (int s = 0; s < c->nseg; s++) { sdy += sdy_seg[s]; sdyx += sdyx_seg[s]; }
            for (int s = 0; s < c->nseg; s++) {
                if (sdy_seg[s] == 0.0 && sdyx_seg[s] == 0.0) continue;
                float *gg = sdd_pgrad(c, n->gamma, s), *gb = sdd_pgrad(c, n->beta, s);
                if (gg) gg[ch] += (float)sdyx_seg[s];
                if (gb) gb[ch] += (float)sdy_seg[s];
            }
            if (!dx) continue;
            const double cnt = (double)(b1 - b0) * n->S;
            for (int b = b0; b < b1; b++)
                for (int64_t k = 0; k < n->S; k++) {
                    const size_t at = bn_at(n, b, ch, k);
                    if (n->batchstats) {
                        const double xh = (n->x->x[at] - mu) * is;
                        dx[at] += (float)(gm * is * (dy[at] - sdy / cnt - xh * sdyx / cnt));
                    } else {
                        dx[at] += (float)(gm * is * dy[at]);
                    }
                }
        }
    }
}

sdd_tensor *sdd_batchnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta,
                          sdd_tensor *rmean, sdd_tensor *rvar, int channel_last, float momentum, float eps)
{
    if (!x || c->failed) return NULL;
    bn_node tmp;
    memset(&tmp, 0, sizeof tmp);
    bn_setup(&tmp, x, channel_last);
    sdd_tensor *out = sdd_tensor_like(c, x);
    if (!out) return NULL;
    const int batch = c->train;
    const int ng = batch ? (c->bn_per_seg ? c->nseg : 1) : 1;
    bn_node *n = sdd_scratch(c, sizeof *n);
    double *gm = sdd_scratch(c, (size_t)ng * tmp.C * sizeof(double));
    double *gv = sdd_scratch(c, (size_t)ng * tmp.C * sizeof(double));
    if (!n || !gm || !gv) return NULL;
    *n = tmp;
    n->x = x; n->gamma = gamma; n->beta = beta; n->out = out;
    n->ngroup = ng;
    n->batchstats = batch;
    n->mean = sdd_scratch(c, (size_t)ng * n->C * sizeof(float));
    n->istd = sdd_scratch(c, (size_t)ng * n->C * sizeof(float));
    if (!n->mean || !n->istd) return NULL;
    for (int g = 0; g < ng; g++) {
        const int b0 = ng == 1 ? 0 : sdd_ctx_seg_begin(c, g), b1 = ng == 1 ? c->B : c->seg_end[g];
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < n->C; ch++) {
            double m, v;
            if (batch) bn_moments(n, x->x, b0, b1, ch, &m, &v);
            else { m = rmean->x[ch]; v = rvar->x[ch]; }
            gm[g * n->C + ch] = m;
            gv[g * n->C + ch] = v;
            n->mean[g * n->C + ch] = (float)m;
            n->istd[g * n->C + ch] = (float)(1.0 / sqrt(v + eps));
            const double is = 1.0 / sqrt(v + eps);
            for (int b = b0; b < b1; b++)
                for (int64_t k = 0; k < n->S; k++) {
                    const size_t at = bn_at(n, b, ch, k);
                    out->x[at] = (float)((x->x[at] - m) * is * gamma->x[ch] + beta->x[ch]);
                }
        }
    }
    if (batch) bn_running(c, n, ng, gm, gv, rmean, rvar, momentum);
    out->rg = sdd_wants(c, x) || sdd_wants(c, gamma) || sdd_wants(c, beta);
    if (c->grad && out->rg && sdd_tape_push(c, bn_backward, n)) return NULL;
    return out;
}

void sdd_bn_track(sdd_ctx *c, sdd_tensor *x, sdd_tensor *rmean, sdd_tensor *rvar, float momentum)
{
    if (!x || c->failed || !c->train) return;
    bn_node n;
    memset(&n, 0, sizeof n);
    bn_setup(&n, x, 0);
    double *gm = sdd_scratch(c, (size_t)n.C * sizeof(double));
    double *gv = sdd_scratch(c, (size_t)n.C * sizeof(double));
    if (!gm || !gv) return;
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < n.C; ch++) bn_moments(&n, x->x, 0, c->B, ch, &gm[ch], &gv[ch]);
    bn_running(c, &n, 1, gm, gv, rmean, rvar, momentum);
}
