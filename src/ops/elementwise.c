/* Elementwise and shape ops: SELU, add, elementwise max, dropout, batch
 * expansion of a parameter, node concat/slice. */
#include "ops/ops.h"
#include "ops/internal.h"
#include "ops/vmath.h"
#include "core/rng.h"
#include <math.h>
#include <string.h>

typedef struct { sdd_tensor *a, *b, *out; uint8_t *mask; float scale; int k0, k1; } ew_node;

static ew_node *ew_push(sdd_ctx *c, sdd_backward_fn fn, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out)
{
    out->rg = sdd_wants(c, a) || sdd_wants(c, b);
    if (!c->grad || !out->rg) return (ew_node *)1;  /* nothing to record */
    ew_node *n = sdd_scratch0(c, sizeof *n);
    if (!n) return NULL;
    n->a = a; n->b = b; n->out = out;
    if (sdd_tape_push(c, fn, n)) return NULL;
    return n;
}
#define EW_RECORDED(n) ((n) != (ew_node *)1)

#define EW_BLOCK 4096   /* elements per vectorised call */

static void selu_backward(sdd_ctx *c, void *vn)
{
    ew_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const size_t m = sdd_numel(n->a);
    const float *x = n->a->x, *dy = n->out->g;
    #pragma omp parallel for schedule(static)
    for (size_t k0 = 0; k0 < m; k0 += EW_BLOCK)
        sdd_selu_d_vec(x + k0, dy + k0, dx + k0, m - k0 < EW_BLOCK ? m - k0 : EW_BLOCK, 1);
}

sdd_tensor *sdd_selu(sdd_ctx *c, sdd_tensor *x)
{
    if (!x || c->failed) return NULL;
    SDD_ON_DEVICE(c, sdd_cu_selu(c, x));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    const size_t m = sdd_numel(x);
    #pragma omp parallel for schedule(static)
    for (size_t k0 = 0; k0 < m; k0 += EW_BLOCK)
        sdd_selu_vec(x->x + k0, out->x + k0, m - k0 < EW_BLOCK ? m - k0 : EW_BLOCK);
    return ew_push(c, selu_backward, x, NULL, out) ? out : NULL;
}

static void add_backward(sdd_ctx *c, void *vn)
{
    ew_node *n = vn;
    if (!n->out->g) return;
    const size_t m = sdd_numel(n->out);
    sdd_tensor *src[2] = { n->a, n->b };
    for (int i = 0; i < 2; i++) {
        if (!sdd_wants(c, src[i])) continue;
        float *d = sdd_grad_of(c, src[i]);
        if (!d) return;
        #pragma omp parallel for schedule(static)
        for (size_t k = 0; k < m; k++) d[k] += n->out->g[k];
    }
}

sdd_tensor *sdd_add(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b)
{
    if (!a || !b || c->failed) return NULL;
    const size_t m = sdd_numel(a);
    if (m != sdd_numel(b)) { sdd_err_set(&c->err, "add: shape mismatch"); c->failed = 1; return NULL; }
    SDD_ON_DEVICE(c, sdd_cu_add(c, a, b));
    sdd_tensor *out = sdd_tensor_new(c, a->nd, a->n);
    if (!out) return NULL;
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < m; k++) out->x[k] = a->x[k] + b->x[k];
    return ew_push(c, add_backward, a, b, out) ? out : NULL;
}

static void max2_backward(sdd_ctx *c, void *vn)
{
    ew_node *n = vn;
    if (!n->out->g) return;
    const size_t m = sdd_numel(n->out);
    float *da = sdd_wants(c, n->a) ? sdd_grad_of(c, n->a) : NULL;
    float *db = sdd_wants(c, n->b) ? sdd_grad_of(c, n->b) : NULL;
    for (size_t k = 0; k < m; k++) {
        if (n->a->x[k] >= n->b->x[k]) { if (da) da[k] += n->out->g[k]; }
        else if (db) db[k] += n->out->g[k];
    }
}

sdd_tensor *sdd_max2(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b)
{
    if (!a || !b || c->failed) return NULL;
    const size_t m = sdd_numel(a);
    if (m != sdd_numel(b)) { sdd_err_set(&c->err, "max: shape mismatch"); c->failed = 1; return NULL; }
    SDD_ON_DEVICE(c, sdd_cu_max2(c, a, b));
    sdd_tensor *out = sdd_tensor_new(c, a->nd, a->n);
    if (!out) return NULL;
    for (size_t k = 0; k < m; k++) out->x[k] = a->x[k] >= b->x[k] ? a->x[k] : b->x[k];
    return ew_push(c, max2_backward, a, b, out) ? out : NULL;
}

static void dropout_backward(sdd_ctx *c, void *vn)
{
    ew_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const size_t m = sdd_numel(n->a);
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < m; k++) if (n->mask[k]) dx[k] += n->out->g[k] * n->scale;
}

sdd_tensor *sdd_dropout(sdd_ctx *c, sdd_tensor *x, float p)
{
    if (!x || c->failed) return NULL;
    const uint64_t key = sdd_rng_key(c->rng_key, (uint64_t)c->op_serial++, 0xd40, 0);
    if (!c->train || c->dropout_off || p <= 0.0f) return x;
    SDD_ON_DEVICE(c, sdd_cu_dropout(c, x, p, key));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    const size_t m = sdd_numel(x);
    uint8_t *mask = sdd_scratch(c, m);
    if (!out || !mask) return NULL;
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    const size_t per_row = x->n[0] == c->B ? m / (size_t)c->B : 0;
    /* counter-based draws: every element's own, so threads may split them */
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < m; k++) {
        mask[k] = sdd_rng_uniform(key, sdd_rng_elem(c, k, per_row)) >= p;
        out->x[k] = mask[k] ? x->x[k] * scale : 0.0f;
    }
    ew_node *n = ew_push(c, dropout_backward, x, NULL, out);
    if (!n) return NULL;
    if (EW_RECORDED(n)) { n->mask = mask; n->scale = scale; }
    return out;
}

static void expand_backward(sdd_ctx *c, void *vn)
{
    ew_node *n = vn;
    if (!n->out->g) return;
    const size_t per = sdd_numel(n->a);
    const int B = (int)n->out->n[0];
    for (int b = 0; b < B; b++) {
        float *g = n->a->pidx >= 0 ? sdd_pgrad(c, n->a, sdd_seg_of(c, b)) : sdd_grad_of(c, n->a);
        if (!g) continue;
        const float *src = n->out->g + (size_t)b * per;
        for (size_t k = 0; k < per; k++) g[k] += src[k];
    }
}

sdd_tensor *sdd_expand_batch(sdd_ctx *c, sdd_tensor *p, int B)
{
    if (!p || c->failed) return NULL;
    SDD_ON_DEVICE(c, sdd_cu_expand_batch(c, p, B));
    int64_t shp[SDD_MAX_DIMS];
    for (int i = 0; i < p->nd; i++) shp[i] = p->n[i];
    shp[0] = B;
    sdd_tensor *out = sdd_tensor_new(c, p->nd, shp);
    if (!out) return NULL;
    const size_t per = sdd_numel(p);
    for (int b = 0; b < B; b++) memcpy(out->x + (size_t)b * per, p->x, per * sizeof(float));
    return ew_push(c, expand_backward, p, NULL, out) ? out : NULL;
}

static void concat_backward(sdd_ctx *c, void *vn)
{
    ew_node *n = vn;
    if (!n->out->g) return;
    const int B = (int)n->out->n[0], N = (int)n->out->n[1], D = (int)n->out->n[2];
    sdd_tensor *src[2] = { n->a, n->b };
    int off = 0;
    for (int i = 0; i < 2; i++) {
        const int Ni = (int)src[i]->n[1];
        if (sdd_wants(c, src[i])) {
            float *d = sdd_grad_of(c, src[i]);
            if (!d) return;
            for (int b = 0; b < B; b++)
                for (size_t k = 0; k < (size_t)Ni * D; k++)
                    d[(size_t)b * Ni * D + k] += n->out->g[((size_t)b * N + off) * D + k];
        }
        off += Ni;
    }
}

sdd_tensor *sdd_concat_nodes(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b)
{
    if (!a || !b || c->failed) return NULL;
    const int B = (int)a->n[0], Na = (int)a->n[1], Nb = (int)b->n[1], D = (int)a->n[2];
    SDD_ON_DEVICE(c, sdd_cu_concat_nodes(c, a, b));
    sdd_tensor *out = sdd_new3(c, B, Na + Nb, D);
    if (!out) return NULL;
    for (int bb = 0; bb < B; bb++) {
        memcpy(out->x + (size_t)bb * (Na + Nb) * D, a->x + (size_t)bb * Na * D, (size_t)Na * D * sizeof(float));
        memcpy(out->x + ((size_t)bb * (Na + Nb) + Na) * D, b->x + (size_t)bb * Nb * D, (size_t)Nb * D * sizeof(float));
    }
    return ew_push(c, concat_backward, a, b, out) ? out : NULL;
}

static void slice_backward(sdd_ctx *c, void *vn)
{
    ew_node *n = vn;
    if (!n->out->g) return;
    float *d = sdd_grad_of(c, n->a);
    if (!d) return;
    const int B = (int)n->a->n[0], N = (int)n->a->n[1], D = (int)n->a->n[2], len = n->k1;
    for (int b = 0; b < B; b++)
        for (size_t k = 0; k < (size_t)len * D; k++)
            d[((size_t)b * N + n->k0) * D + k] += n->out->g[(size_t)b * len * D + k];
}

sdd_tensor *sdd_slice_nodes(sdd_ctx *c, sdd_tensor *x, int start, int len)
{
    if (!x || c->failed) return NULL;
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2];
    if (start < 0 || len < 0 || start + len > N) { sdd_err_set(&c->err, "slice: out of range"); c->failed = 1; return NULL; }
    SDD_ON_DEVICE(c, sdd_cu_slice_nodes(c, x, start, len));
    sdd_tensor *out = sdd_new3(c, B, len, D);
    if (!out) return NULL;
    for (int b = 0; b < B; b++)
        memcpy(out->x + (size_t)b * len * D, x->x + ((size_t)b * N + start) * D, (size_t)len * D * sizeof(float));
    ew_node *n = ew_push(c, slice_backward, x, NULL, out);
    if (!n) return NULL;
    if (EW_RECORDED(n)) { n->k0 = start; n->k1 = len; }
    return out;
}

static void reshape_backward(sdd_ctx *c, void *vn)
{
    ew_node *n = vn;
    if (!n->out->g) return;
    float *d = sdd_grad_of(c, n->a);
    if (!d) return;
    const size_t m = sdd_numel(n->a);
#ifdef SDD_CUDA
    if (c->dev) { sdd_cu_acc(c, d, n->out->g, m); return; }
#endif
    for (size_t k = 0; k < m; k++) d[k] += n->out->g[k];
}

sdd_tensor *sdd_reshape(sdd_ctx *c, sdd_tensor *x, int nd, const int64_t *shape)
{
    if (!x || c->failed) return NULL;
    sdd_tensor *out = sdd_tensor_wrap(c, sdd_tensor_dev(c, x), nd, shape);
    if (!out) return NULL;
    if (sdd_numel(out) != sdd_numel(x)) { sdd_err_set(&c->err, "reshape: element count differs"); c->failed = 1; return NULL; }
    return ew_push(c, reshape_backward, x, NULL, out) ? out : NULL;
}
