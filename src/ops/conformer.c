/* The Conformer-TCM back-end's small ops (declared in conformer.h): GLU over
 * the last dim, token means, scaled add, and the sinusoidal table. */
#include "ops/conformer.h"
#include "ops/internal.h"
#include <math.h>
#include <string.h>

typedef struct { sdd_tensor *a, *b, *out; float s; int k0, k1; } cf_node;

static void *op_fail(sdd_ctx *c, const char *what)
{
    if (!c->failed) sdd_err_set(&c->err, "%s", what);
    c->failed = 1;
    return NULL;
}

static cf_node *cf_push(sdd_ctx *c, sdd_backward_fn fn, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out)
{
    out->rg = sdd_wants(c, a) || sdd_wants(c, b);
    if (!c->grad || !out->rg) return (cf_node *)1;   /* nothing to record */
    cf_node *n = sdd_scratch0(c, sizeof *n);
    if (!n) return NULL;
    n->a = a; n->b = b; n->out = out;
    if (sdd_tape_push(c, fn, n)) return NULL;
    return n;
}
#define CF_RECORDED(n) ((n) != (cf_node *)1)

static inline float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

static void glu_backward(sdd_ctx *c, void *vn)
{
    cf_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const int64_t C = n->out->n[n->out->nd - 1], R = (int64_t)(sdd_numel(n->out) / (size_t)C);
    const float *x = n->a->x, *dy = n->out->g;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < C; k++) {
            const float a = x[r * 2 * C + k], s = sigm(x[r * 2 * C + C + k]), g = dy[r * C + k];
            dx[r * 2 * C + k] += g * s;
            dx[r * 2 * C + C + k] += g * a * s * (1.0f - s);
        }
}

sdd_tensor *sdd_glu_last(sdd_ctx *c, sdd_tensor *x)
{
    if (!x || c->failed) return NULL;
    const int64_t C2 = x->n[x->nd - 1];
    if (C2 % 2) return op_fail(c, "GLU: odd last dim");
    SDD_ON_DEVICE(c, sdd_cu_glu_last(c, x));
    const int64_t C = C2 / 2;
    sdd_tensor *out = sdd_new_lastdim(c, x, C);
    if (!out) return NULL;
    const int64_t R = (int64_t)(sdd_numel(out) / (size_t)C);
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < C; k++) out->x[r * C + k] = x->x[r * C2 + k] * sigm(x->x[r * C2 + C + k]);
    return cf_push(c, glu_backward, x, NULL, out) ? out : NULL;
}

static void mean_nodes_backward(sdd_ctx *c, void *vn)
{
    cf_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const int B = (int)n->a->n[0], N = (int)n->a->n[1], D = (int)n->a->n[2];
    const float inv = 1.0f / (float)n->k1;
    for (int b = 0; b < B; b++)
        for (int t = n->k0; t < n->k0 + n->k1; t++)
            for (int d = 0; d < D; d++) dx[((size_t)b * N + t) * D + d] += n->out->g[(size_t)b * D + d] * inv;
}

sdd_tensor *sdd_mean_nodes(sdd_ctx *c, sdd_tensor *x, int start, int len)
{
    if (!x || c->failed) return NULL;
    if (x->nd != 3 || start < 0 || len < 1 || start + len > x->n[1]) return op_fail(c, "token mean: range outside (B, N, D)");
    SDD_ON_DEVICE(c, sdd_cu_mean_nodes(c, x, start, len));
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2];
    sdd_tensor *out = sdd_new3(c, B, 1, D);
    if (!out) return NULL;
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            double s = 0.0;
            for (int t = start; t < start + len; t++) s += x->x[((size_t)b * N + t) * D + d];
            out->x[(size_t)b * D + d] = (float)(s / len);
        }
    cf_node *n = cf_push(c, mean_nodes_backward, x, NULL, out);
    if (!n) return NULL;
    if (CF_RECORDED(n)) { n->k0 = start; n->k1 = len; }
    return out;
}

static void add_scaled_backward(sdd_ctx *c, void *vn)
{
    cf_node *n = vn;
    if (!n->out->g) return;
    const size_t m = sdd_numel(n->out);
    if (sdd_wants(c, n->a)) {
        float *d = sdd_grad_of(c, n->a);
        if (!d) return;
        for (size_t k = 0; k < m; k++) d[k] += n->out->g[k];
    }
    if (sdd_wants(c, n->b)) {
        float *d = sdd_grad_of(c, n->b);
        if (!d) return;
        for (size_t k = 0; k < m; k++) d[k] += n->s * n->out->g[k];
    }
}

sdd_tensor *sdd_add_scaled(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, float s)
{
    if (!a || !b || c->failed) return NULL;
    const size_t m = sdd_numel(a);
    if (m != sdd_numel(b)) return op_fail(c, "scaled add: shape mismatch");
    SDD_ON_DEVICE(c, sdd_cu_add_scaled(c, a, b, s));
    sdd_tensor *out = sdd_tensor_new(c, a->nd, a->n);
    if (!out) return NULL;
    for (size_t k = 0; k < m; k++) out->x[k] = a->x[k] + s * b->x[k];
    cf_node *n = cf_push(c, add_scaled_backward, a, b, out);
    if (!n) return NULL;
    if (CF_RECORDED(n)) n->s = s;
    return out;
}

void sdd_sinusoid_table(float *pe, int n, int dim)
{
    for (int p = 0; p < n; p++)
        for (int i = 0; i < dim; i++) {
            const float ang = (float)((double)p / pow(10000.0, 2.0 * (i / 2) / (double)dim));
            pe[(size_t)p * dim + i] = i % 2 ? cosf(ang) : sinf(ang);
        }
}
