/* Dense layers: linear over the last dim (sgemm) with per-segment weight
 * gradients, its int8 inference form (backend/qgemm.h), and the small
 * batched matmul used by graph attention. */
#include "ops/ops.h"
#include "ops/internal.h"
#include "backend/gemm.h"
#include "backend/qgemm.h"
#include <string.h>

typedef struct { sdd_tensor *x, *w, *b, *out; int64_t rows_per_sample; } linear_node;

static void linear_backward(sdd_ctx *c, void *vn)
{
    linear_node *n = vn;
    if (!n->out->g) return;
    const int dout = (int)n->w->n[0], din = (int)n->w->n[1];
    const int64_t R = (int64_t)(sdd_numel(n->x) / din);
    const float *dy = n->out->g;
    if (sdd_wants(c, n->x)) {
        float *dx = sdd_grad_of(c, n->x);
        if (!dx) return;
        sdd_prof_flops(c, 2.0 * R * din * dout);
        /* dx (R, din) += dy (R, dout) @ w (dout, din) */
        sdd_sgemm(0, 0, (int)R, din, dout, 1.0f, dy, dout, n->w->x, din, 1.0f, dx, din);
    }
    for (int s = 0; s < c->nseg; s++) {
        float *gw = sdd_pgrad(c, n->w, s), *gb = n->b ? sdd_pgrad(c, n->b, s) : NULL;
        if (!gw && !gb) continue;
        const int64_t r0 = (int64_t)sdd_ctx_seg_begin(c, s) * n->rows_per_sample;
        const int64_t r1 = (int64_t)c->seg_end[s] * n->rows_per_sample;
        if (gw) sdd_prof_flops(c, 2.0 * (double)(r1 - r0) * din * dout);
        if (gw)  /* gw (dout, din) += dy_s^T (dout, Rs) @ x_s (Rs, din) */
            sdd_sgemm(1, 0, dout, din, (int)(r1 - r0), 1.0f,
                      dy + r0 * dout, dout, n->x->x + r0 * din, din, 1.0f, gw, din);
        if (gb)
            for (int64_t r = r0; r < r1; r++)
                for (int o = 0; o < dout; o++) gb[o] += dy[r * dout + o];
    }
}

sdd_tensor *sdd_linear(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b)
{
    if (!x || !w || c->failed) return NULL;
    const int dout = (int)w->n[0], din = (int)w->n[1];
    if (x->n[x->nd - 1] != din) {
        sdd_err_set(&c->err, "linear: input dim %lld, weight expects %d", (long long)x->n[x->nd - 1], din);
        c->failed = 1;
        return NULL;
    }
    SDD_ON_DEVICE(c, sdd_cu_linear(c, x, w, b));
    sdd_tensor *out = sdd_new_lastdim(c, x, dout);
    if (!out) return NULL;
    const int64_t R = (int64_t)(sdd_numel(x) / din);
    for (int64_t r = 0; r < R; r++)
        for (int o = 0; o < dout; o++) out->x[r * dout + o] = b ? b->x[o] : 0.0f;
    /* out (R, dout) += x (R, din) @ w^T (din, dout), one GEMM per sample
     * (leading dim): OpenBLAS's blocking, and so the rounding of a row, depends
     * on the row count, and one GEMM over the batch made a file's score depend
     * on the files batched with it (test_cli: --batch 1, 3 and 6 give the same
     * bits). Measured: AASIST and XLS-R forwards within run-to-run noise. */
    sdd_prof_flops(c, 2.0 * R * din * dout);
    const int64_t nb = x->nd >= 2 ? x->n[0] : 1, Rb = R / nb;
    for (int64_t s = 0; s < nb; s++)
        sdd_sgemm(0, 1, (int)Rb, dout, din, 1.0f, x->x + (size_t)(s * Rb) * din, din,
                  w->x, din, 1.0f, out->x + (size_t)(s * Rb) * dout, dout);
    out->rg = sdd_wants(c, x) || sdd_wants(c, w) || (b && sdd_wants(c, b));
    if (c->grad && out->rg) {
        linear_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->x = x; n->w = w; n->b = b; n->out = out;
        n->rows_per_sample = R / x->n[0];
        if (sdd_tape_push(c, linear_backward, n)) return NULL;
    }
    return out;
}

sdd_tensor *sdd_linear_q8(sdd_ctx *c, sdd_tensor *x, const sdd_q8_linear *q, sdd_tensor *b)
{
    if (!x || !q || c->failed) return NULL;
    if (c->grad || c->dev) {
        sdd_err_set(&c->err, "linear: int8 weights serve CPU inference only");
        c->failed = 1;
        return NULL;
    }
    if (x->n[x->nd - 1] != q->din) {
        sdd_err_set(&c->err, "linear: input dim %lld, int8 weight expects %d", (long long)x->n[x->nd - 1], q->din);
        c->failed = 1;
        return NULL;
    }
    sdd_tensor *out = sdd_new_lastdim(c, x, q->dout);
    if (!out) return NULL;
    const int64_t R = (int64_t)(sdd_numel(x) / q->din);
    sdd_prof_flops(c, 2.0 * R * q->din * q->dout);
    if (sdd_q8_linear_forward(q, x->x, R, b ? b->x : NULL, out->x, SDD_Q8_AUTO, &c->err)) {
        c->failed = 1;
        return NULL;
    }
    return out;
}

typedef struct { sdd_tensor *a, *x, *out; } bmm_node;

static void bmm_backward(sdd_ctx *c, void *vn)
{
    bmm_node *n = vn;
    if (!n->out->g) return;
    const int B = (int)n->a->n[0], N = (int)n->a->n[1], M = (int)n->a->n[2], D = (int)n->x->n[2];
    float *da = sdd_wants(c, n->a) ? sdd_grad_of(c, n->a) : NULL;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    sdd_prof_flops(c, 2.0 * B * N * M * D * ((da != NULL) + (dx != NULL)));
    for (int b = 0; b < B; b++) {
        const float *A = n->a->x + (size_t)b * N * M, *X = n->x->x + (size_t)b * M * D, *dY = n->out->g + (size_t)b * N * D;
        if (da)  /* dA (N, M) += dY (N, D) @ X^T (D, M) */
            sdd_sgemm(0, 1, N, M, D, 1.0f, dY, D, X, D, 1.0f, da + (size_t)b * N * M, M);
        if (dx)  /* dX (M, D) += A^T (M, N) @ dY (N, D) */
            sdd_sgemm(1, 0, M, D, N, 1.0f, A, M, dY, D, 1.0f, dx + (size_t)b * M * D, D);
    }
}

sdd_tensor *sdd_bmm(sdd_ctx *c, sdd_tensor *a, sdd_tensor *x)
{
    if (!a || !x || c->failed) return NULL;
    const int B = (int)a->n[0], N = (int)a->n[1], M = (int)a->n[2], D = (int)x->n[2];
    if (x->n[1] != M) { sdd_err_set(&c->err, "bmm: inner dims differ"); c->failed = 1; return NULL; }
    SDD_ON_DEVICE(c, sdd_cu_bmm(c, a, x));
    sdd_tensor *out = sdd_new3(c, B, N, D);
    if (!out) return NULL;
    sdd_prof_flops(c, 2.0 * B * N * M * D);
    for (int b = 0; b < B; b++)
        sdd_sgemm(0, 0, N, D, M, 1.0f, a->x + (size_t)b * N * M, M,
                  x->x + (size_t)b * M * D, D, 0.0f, out->x + (size_t)b * N * D, D);
    out->rg = sdd_wants(c, a) || sdd_wants(c, x);
    if (c->grad && out->rg) {
        bmm_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->a = a; n->x = x; n->out = out;
        if (sdd_tape_push(c, bmm_backward, n)) return NULL;
    }
    return out;
}
