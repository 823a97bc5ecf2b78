/* LayerNorm over the last dim, GELU (erf form) and the (B, N, D) -> (B, D, N)
 * transpose (see seq.h). LayerNorm statistics are per row in double; the
 * gamma/beta gradients are summed per segment over its rows in row order,
 * each thread owning a block of columns, so the sums do not depend on the
 * thread count. */
#include "ops/seq.h"
#include "ops/internal.h"
#include "ops/vmath.h"
#include <math.h>
#include <string.h>

#define GELU_RUN 1024   /* elements per parallel job (vmath.h: AVX-512 lanes within it) */

typedef struct { sdd_tensor *x, *g, *b, *out; float *mean, *istd; int64_t R, D; } ln_node;

static void ln_backward(sdd_ctx *c, void *vn)
{
    ln_node *n = vn;
    if (!n->out->g) return;
    const int64_t R = n->R, D = n->D;
    const float *x = n->x->x, *dy = n->out->g, *gm = n->g ? n->g->x : NULL;
    if (sdd_wants(c, n->x)) {
        float *dx = sdd_grad_of(c, n->x);
        if (!dx) return;
        #pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            const float *xr = x + r * D, *dyr = dy + r * D;
            const double m = n->mean[r], is = n->istd[r];
            double s1 = 0, s2 = 0;
            for (int64_t d = 0; d < D; d++) {
                const double dh = (double)dyr[d] * (gm ? gm[d] : 1.0f), xh = (xr[d] - m) * is;
                s1 += dh;
                s2 += dh * xh;
            }
            s1 /= (double)D;
            s2 /= (double)D;
            float *dxr = dx + r * D;
            for (int64_t d = 0; d < D; d++) {
                const double dh = (double)dyr[d] * (gm ? gm[d] : 1.0f), xh = (xr[d] - m) * is;
                dxr[d] += (float)(is * (dh - s1 - xh * s2));
            }
        }
    }
    const int64_t rps = R / c->B;
    for (int s = 0; s < c->nseg; s++) {
        float *gg = n->g ? sdd_pgrad(c, n->g, s) : NULL, *gb = n->b ? sdd_pgrad(c, n->b, s) : NULL;
        if (!gg && !gb) continue;
        const int64_t r0 = (int64_t)sdd_ctx_seg_begin(c, s) * rps, r1 = (int64_t)c->seg_end[s] * rps;
        #pragma omp parallel for schedule(static)
        for (int64_t d0 = 0; d0 < D; d0 += 16) {
            const int64_t d1 = d0 + 16 < D ? d0 + 16 : D;
            double ag[16] = { 0 }, ab[16] = { 0 };
            for (int64_t r = r0; r < r1; r++) {
                const float m = n->mean[r], is = n->istd[r];
                for (int64_t d = d0; d < d1; d++) {
                    const float g = dy[r * D + d];
                    ag[d - d0] += (double)g * ((x[r * D + d] - m) * is);
                    ab[d - d0] += g;
                }
            }
            for (int64_t d = d0; d < d1; d++) {
                if (gg) gg[d] += (float)ag[d - d0];
                if (gb) gb[d] += (float)ab[d - d0];
            }
        }
    }
}

sdd_tensor *sdd_layernorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta, float eps)
{
    if (!x || c->failed) return NULL;
    const int64_t D = x->n[x->nd - 1], R = (int64_t)(sdd_numel(x) / (size_t)D);
    if ((gamma && gamma->n[0] != D) || (beta && beta->n[0] != D)) {
        sdd_err_set(&c->err, "layernorm: affine size differs from the last dim %lld", (long long)D);
        c->failed = 1;
        return NULL;
    }
    SDD_ON_DEVICE(c, sdd_cu_layernorm(c, x, gamma, beta, eps));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    float *mean = sdd_scratch(c, (size_t)R * sizeof(float)), *istd = sdd_scratch(c, (size_t)R * sizeof(float));
    if (!out || !mean || !istd) return NULL;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->x + r * D;
        double s = 0, s2 = 0;
        for (int64_t d = 0; d < D; d++) s += xr[d];
        const double m = s / (double)D;
        for (int64_t d = 0; d < D; d++) s2 += (xr[d] - m) * (xr[d] - m);
        const double is = 1.0 / sqrt(s2 / (double)D + eps);
        mean[r] = (float)m;
        istd[r] = (float)is;
        float *o = out->x + r * D;
        for (int64_t d = 0; d < D; d++)
            o[d] = (float)((xr[d] - m) * is * (gamma ? gamma->x[d] : 1.0f) + (beta ? beta->x[d] : 0.0f));
    }
    out->rg = sdd_wants(c, x) || (gamma && sdd_wants(c, gamma)) || (beta && sdd_wants(c, beta));
    if (c->grad && out->rg) {
        ln_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->x = x; n->g = gamma; n->b = beta; n->out = out; n->mean = mean; n->istd = istd; n->R = R; n->D = D;
        if (sdd_tape_push(c, ln_backward, n)) return NULL;
    }
    return out;
}

typedef struct { sdd_tensor *x, *out; } un_node;

static void gelu_backward(sdd_ctx *c, void *vn)
{
    un_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->x);
    if (!dx) return;
    const size_t m = sdd_numel(n->x);
    const float *x = n->x->x, *dy = n->out->g;
    #pragma omp parallel for schedule(static)
    for (size_t k0 = 0; k0 < m; k0 += GELU_RUN) sdd_gelu_d_vec(x + k0, dy + k0, dx + k0, m - k0 < GELU_RUN ? m - k0 : GELU_RUN);
}

sdd_tensor *sdd_gelu(sdd_ctx *c, sdd_tensor *x)
{
    if (!x || c->failed) return NULL;
    SDD_ON_DEVICE(c, sdd_cu_gelu(c, x));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    const size_t m = sdd_numel(x);
    #pragma omp parallel for schedule(static)
    for (size_t k0 = 0; k0 < m; k0 += GELU_RUN) sdd_gelu_vec(x->x + k0, out->x + k0, m - k0 < GELU_RUN ? m - k0 : GELU_RUN);
    out->rg = sdd_wants(c, x);
    if (c->grad && out->rg) {
        un_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->x = x; n->out = out;
        if (sdd_tape_push(c, gelu_backward, n)) return NULL;
    }
    return out;
}

/* dst (B, D, N) = src (B, N, D) transposed per sample */
static void tr12(const float *src, float *dst, int64_t B, int64_t N, int64_t D, int add)
{
    #pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < N; i++)
            for (int64_t d = 0; d < D; d++) {
                float *o = dst + (b * D + d) * N + i;
                const float v = src[(b * N + i) * D + d];
                *o = add ? *o + v : v;
            }
}

static void transpose_backward(sdd_ctx *c, void *vn)
{
    un_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->x);
    if (!dx) return;
    /* dout (B, D, N) back to (B, N, D) */
    tr12(n->out->g, dx, n->x->n[0], n->x->n[2], n->x->n[1], 1);
}

sdd_tensor *sdd_transpose12(sdd_ctx *c, sdd_tensor *x)
{
    if (!x || c->failed) return NULL;
    if (x->nd != 3) { sdd_err_set(&c->err, "transpose12: expects (B, N, D)"); c->failed = 1; return NULL; }
    SDD_ON_DEVICE(c, sdd_cu_transpose12(c, x));
    sdd_tensor *out = sdd_new3(c, x->n[0], x->n[2], x->n[1]);
    if (!out) return NULL;
    tr12(x->x, out->x, x->n[0], x->n[1], x->n[2], 0);
    out->rg = sdd_wants(c, x);
    if (c->grad && out->rg) {
        un_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->x = x; n->out = out;
        if (sdd_tape_push(c, transpose_backward, n)) return NULL;
    }
    return out;
}
