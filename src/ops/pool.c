/* Pooling family: MaxPool2d (stride = kernel), max-|.| reductions over an
 * axis (AASIST's spectral/temporal node features), graph pooling by top-k
 * sigmoid scores, and the AASIST readout. Each saves argmax indices for its
 * backward. */
#include "ops/ops.h"
#include "ops/internal.h"
#include "core/rng.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>

typedef struct { sdd_tensor *x, *out; int32_t *idx; } idx_node;

static void scatter_backward(sdd_ctx *c, void *vn)
{
    /* out element k came from x element idx[k] (indices are global into x) */
    idx_node *n = vn;
    if (!n->out->g || !sdd_wants(c, n->x)) return;
    float *dx = sdd_grad_of(c, n->x);
    if (!dx) return;
    const size_t m = sdd_numel(n->out);
    for (size_t k = 0; k < m; k++) dx[n->idx[k]] += n->out->g[k];
}

static int push_idx(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out, int32_t *idx, sdd_backward_fn fn)
{
    out->rg = sdd_wants(c, x);
    if (!c->grad || !out->rg) return 0;
    idx_node *n = sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->x = x; n->out = out; n->idx = idx;
    return sdd_tape_push(c, fn, n);
}

sdd_tensor *sdd_maxpool2d(sdd_ctx *c, sdd_tensor *x, int kh, int kw)
{
    if (!x || c->failed) return NULL;
    const int B = (int)x->n[0], C = (int)x->n[1], H = (int)x->n[2], W = (int)x->n[3];
    const int Ho = H / kh, Wo = W / kw;
    SDD_ON_DEVICE(c, sdd_cu_maxpool2d(c, x, kh, kw));
    sdd_tensor *out = sdd_new4(c, B, C, Ho, Wo);
    if (!out) return NULL;
    if ((size_t)B * C * H * W > INT32_MAX) { sdd_err_set(&c->err, "maxpool2d: tensor too large"); c->failed = 1; return NULL; }
    int32_t *idx = c->grad ? sdd_scratch(c, sdd_numel(out) * sizeof(int32_t)) : NULL;
    if (c->grad && !idx) return NULL;
    #pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < (int64_t)B * C; pl++) {
        const float *xp = x->x + (size_t)pl * H * W;
        float *op = out->x + (size_t)pl * Ho * Wo;
        for (int h = 0; h < Ho; h++)
            for (int w = 0; w < Wo; w++) {
                int best = (h * kh) * W + w * kw;
                float m = xp[best];
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++) {
                        int k = (h * kh + i) * W + w * kw + j;
                        if (xp[k] > m || isnan(xp[k])) { m = xp[k]; best = k; if (isnan(m)) goto done; }
                    }
            done:
                op[h * Wo + w] = m;
                if (idx) idx[(size_t)pl * Ho * Wo + h * Wo + w] = (int32_t)((size_t)pl * H * W + best);
            }
    }
    if (push_idx(c, x, out, idx, scatter_backward)) return NULL;
    return out;
}

static void absmax_backward(sdd_ctx *c, void *vn)
{
    idx_node *n = vn;
    if (!n->out->g || !sdd_wants(c, n->x)) return;
    float *dx = sdd_grad_of(c, n->x);
    if (!dx) return;
    const size_t m = sdd_numel(n->out);
    for (size_t k = 0; k < m; k++) {
        float v = n->x->x[n->idx[k]];
        float sg = v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
        dx[n->idx[k]] += sg * n->out->g[k];
    }
}

sdd_tensor *sdd_absmax_axis(sdd_ctx *c, sdd_tensor *e, int axis)
{
    if (!e || c->failed) return NULL;
    const int B = (int)e->n[0], C = (int)e->n[1], H = (int)e->n[2], W = (int)e->n[3];
    const int N = axis == 3 ? H : W;
    SDD_ON_DEVICE(c, sdd_cu_absmax_axis(c, e, axis));
    sdd_tensor *out = sdd_new3(c, B, N, C);
    if (!out) return NULL;
    int32_t *idx = c->grad ? sdd_scratch(c, sdd_numel(out) * sizeof(int32_t)) : NULL;
    if (c->grad && !idx) return NULL;
    for (int b = 0; b < B; b++)
        for (int ch = 0; ch < C; ch++) {
            const float *p = e->x + ((size_t)b * C + ch) * H * W;
            for (int nn = 0; nn < N; nn++) {
                const int len = axis == 3 ? W : H;
                const int stride = axis == 3 ? 1 : W;
                const float *q = axis == 3 ? p + (size_t)nn * W : p + nn;
                int best = 0;
                float m = fabsf(q[0]);
                for (int k = 1; k < len; k++) {
                    float v = fabsf(q[(size_t)k * stride]);
                    if (v > m || (isnan(v) && !isnan(m))) { m = v; best = k; }
                }
                const size_t o = ((size_t)b * N + nn) * C + ch;
                out->x[o] = m;
                if (idx) idx[o] = (int32_t)((q - e->x) + (size_t)best * stride);
            }
        }
    if (push_idx(c, e, out, idx, absmax_backward)) return NULL;
    return out;
}

typedef struct {
    sdd_tensor *h, *w, *b, *out;
    float *z;        /* (B, N, D) dropped-out input of the score projection */
    float *s;        /* (B, N) sigmoid scores */
    int32_t *idx;    /* (B, n') kept nodes */
    float dscale;    /* 1/(1-p) or 1 */
    uint8_t *mask;   /* dropout mask or NULL */
} gpool_node;

static void gpool_backward(sdd_ctx *c, void *vn)
{
    gpool_node *n = vn;
    if (!n->out->g) return;
    const int B = (int)n->h->n[0], N = (int)n->h->n[1], D = (int)n->h->n[2], K = (int)n->out->n[1];
    float *dh = sdd_wants(c, n->h) ? sdd_grad_of(c, n->h) : NULL;
    for (int b = 0; b < B; b++) {
        const int s = sdd_seg_of(c, b);
        float *dw = sdd_pgrad(c, n->w, s), *db = sdd_pgrad(c, n->b, s);
        for (int r = 0; r < K; r++) {
            const int node = n->idx[b * K + r];
            const float sc = n->s[b * N + node];
            const float *dy = n->out->g + ((size_t)b * K + r) * D;
            const float *hv = n->h->x + ((size_t)b * N + node) * D;
            const float *zv = n->z + ((size_t)b * N + node) * D;
            double ds = 0.0;
            for (int d = 0; d < D; d++) ds += (double)dy[d] * hv[d];
            const float dz = (float)ds * sc * (1.0f - sc);
            if (dw) for (int d = 0; d < D; d++) dw[d] += dz * zv[d];
            if (db) db[0] += dz;
            if (dh) {
                float *dhv = dh + ((size_t)b * N + node) * D;
                for (int d = 0; d < D; d++) {
                    float m = n->mask ? (n->mask[((size_t)b * N + node) * D + d] ? n->dscale : 0.0f) : 1.0f;
                    dhv[d] += dy[d] * sc + dz * n->w->x[d] * m;
                }
            }
        }
    }
}

sdd_tensor *sdd_graph_pool(sdd_ctx *c, sdd_tensor *h, sdd_tensor *w, sdd_tensor *b, double ratio, float p_drop)
{
    if (!h || c->failed) return NULL;
    const int B = (int)h->n[0], N = (int)h->n[1], D = (int)h->n[2];
    int K = (int)((double)N * ratio);
    if (K < 1) K = 1;
    SDD_ON_DEVICE(c, sdd_cu_graph_pool(c, h, w, b, ratio, p_drop));
    sdd_tensor *out = sdd_new3(c, B, K, D);
    float *z = sdd_scratch(c, sdd_numel(h) * sizeof(float));
    float *s = sdd_scratch(c, (size_t)B * N * sizeof(float));
    int32_t *idx = sdd_scratch(c, (size_t)B * K * sizeof(int32_t));
    if (!out || !z || !s || !idx) return NULL;
    uint8_t *mask = NULL;
    float dscale = 1.0f;
    const int drop = c->train && !c->dropout_off && p_drop > 0.0f;
    const uint64_t key = sdd_rng_key(c->rng_key, (uint64_t)c->op_serial++, 0x9001, 0);
    if (drop) {
        mask = sdd_scratch(c, sdd_numel(h));
        if (!mask) return NULL;
        dscale = 1.0f / (1.0f - p_drop);
    }
    const size_t m = sdd_numel(h);
    const size_t per_row = B == c->B ? (size_t)N * D : 0;
    for (size_t k = 0; k < m; k++) {
        if (drop) {
            mask[k] = sdd_rng_uniform(key, sdd_rng_elem(c, k, per_row)) >= p_drop;
            z[k] = mask[k] ? h->x[k] * dscale : 0.0f;
        } else z[k] = h->x[k];
    }
    for (int bb = 0; bb < B; bb++) {
        for (int nn = 0; nn < N; nn++) {
            double a = b->x[0];
            const float *zv = z + ((size_t)bb * N + nn) * D;
            for (int d = 0; d < D; d++) a += (double)zv[d] * w->x[d];
            s[bb * N + nn] = 1.0f / (1.0f + expf(-(float)a));
        }
        /* top-K by descending score; ties keep the lower node index first */
        int32_t *ib = idx + (size_t)bb * K;
        for (int r = 0; r < K; r++) {
            int best = -1;
            for (int nn = 0; nn < N; nn++) {
                int used = 0;
                for (int q = 0; q < r; q++) if (ib[q] == nn) { used = 1; break; }
                if (used) continue;
                if (best < 0 || s[bb * N + nn] > s[bb * N + best]) best = nn;
            }
            ib[r] = best;
            const float sc = s[bb * N + best];
            const float *hv = h->x + ((size_t)bb * N + best) * D;
            float *ov = out->x + ((size_t)bb * K + r) * D;
            for (int d = 0; d < D; d++) ov[d] = hv[d] * sc;
        }
    }
    out->rg = sdd_wants(c, h) || sdd_wants(c, w) || sdd_wants(c, b);
    if (c->grad && out->rg) {
        gpool_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->h = h; n->w = w; n->b = b; n->out = out; n->z = z; n->s = s; n->idx = idx;
        n->mask = mask; n->dscale = dscale;
        if (sdd_tape_push(c, gpool_backward, n)) return NULL;
    }
    return out;
}

typedef struct { sdd_tensor *T, *S, *m, *out; int32_t *iT, *iS; } readout_node;

static void readout_backward(sdd_ctx *c, void *vn)
{
    readout_node *n = vn;
    if (!n->out->g) return;
    const int B = (int)n->T->n[0], nT = (int)n->T->n[1], nS = (int)n->S->n[1], D = (int)n->T->n[2];
    sdd_tensor *src[2] = { n->T, n->S };
    int32_t *ix[2] = { n->iT, n->iS };
    int cnt[2] = { nT, nS };
    for (int part = 0; part < 2; part++) {
        if (!sdd_wants(c, src[part])) continue;
        float *dx = sdd_grad_of(c, src[part]);
        if (!dx) return;
        for (int b = 0; b < B; b++) {
            const float *g = n->out->g + (size_t)b * 5 * D + (size_t)part * 2 * D;
            for (int d = 0; d < D; d++) {
                const int node = ix[part][b * D + d];
                const size_t at = ((size_t)b * cnt[part] + node) * D + d;
                const float v = src[part]->x[at];
                dx[at] += g[d] * (v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f));
                for (int k = 0; k < cnt[part]; k++) dx[((size_t)b * cnt[part] + k) * D + d] += g[D + d] / cnt[part];
            }
        }
    }
    if (sdd_wants(c, n->m)) {
        float *dm = sdd_grad_of(c, n->m);
        if (!dm) return;
        for (int b = 0; b < B; b++)
            for (int d = 0; d < D; d++) dm[(size_t)b * D + d] += n->out->g[(size_t)b * 5 * D + 4 * D + d];
    }
}

sdd_tensor *sdd_readout(sdd_ctx *c, sdd_tensor *T, sdd_tensor *S, sdd_tensor *m)
{
    if (!T || !S || !m || c->failed) return NULL;
    const int B = (int)T->n[0], D = (int)T->n[2];
    SDD_ON_DEVICE(c, sdd_cu_readout(c, T, S, m));
    sdd_tensor *out = sdd_new2(c, B, 5 * D);
    int32_t *iT = sdd_scratch(c, (size_t)B * D * sizeof(int32_t));
    int32_t *iS = sdd_scratch(c, (size_t)B * D * sizeof(int32_t));
    if (!out || !iT || !iS) return NULL;
    sdd_tensor *src[2] = { T, S };
    int32_t *ix[2] = { iT, iS };
    for (int part = 0; part < 2; part++) {
        const int cnt = (int)src[part]->n[1];
        for (int b = 0; b < B; b++)
            for (int d = 0; d < D; d++) {
                float mx = -1.0f;
                int best = 0;
                double sum = 0.0;
                for (int k = 0; k < cnt; k++) {
                    float v = src[part]->x[((size_t)b * cnt + k) * D + d];
                    sum += v;
                    if (fabsf(v) > mx) { mx = fabsf(v); best = k; }
                }
                out->x[(size_t)b * 5 * D + (size_t)part * 2 * D + d] = mx;
                out->x[(size_t)b * 5 * D + (size_t)part * 2 * D + D + d] = (float)(sum / cnt);
                ix[part][b * D + d] = best;
            }
    }
    for (int b = 0; b < B; b++)
        memcpy(out->x + (size_t)b * 5 * D + 4 * D, m->x + (size_t)b * D, (size_t)D * sizeof(float));
    out->rg = sdd_wants(c, T) || sdd_wants(c, S) || sdd_wants(c, m);
    if (c->grad && out->rg) {
        readout_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->T = T; n->S = S; n->m = m; n->out = out; n->iT = iT; n->iS = iS;
        if (sdd_tape_push(c, readout_backward, n)) return NULL;
    }
    return out;
}
