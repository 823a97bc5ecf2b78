/* Activation recomputation (sdd_checkpoint, see seq.h). The forward runs the
 * sub-graph without recording, copies its output out of the arena region the
 * sub-graph used and releases that region, so only the output stays. The
 * backward re-runs the sub-graph on the same input with recording (the op
 * counter reset to its forward value, so dropout masks repeat), seeds the
 * recomputed output with the kept output's gradient, runs the new tape
 * entries and releases everything the recomputation allocated. Gradients of
 * the input and parameters flow as from the plain sub-graph. On a CUDA
 * context (c->dev) the values live in the device arena, which is released
 * the same way; the output is moved down with a device copy. */
#include "ops/seq.h"
#include "ops/internal.h"
#include "backend/device.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    sdd_ckpt_fn fn;
    void *ud;
    sdd_tensor *x, *out;
    int serial;          /* op counter at the forward's start */
} ck_node;

/* kept[k]: bytes of arena k (host, device) still in use when the sub-tape
 * has run, before the release: the recomputed activations and their gradients */
static void ck_backward_run(sdd_ctx *c, ck_node *n, size_t kept[2])
{
    if (!n->out->g) return;
    /* the input gradient outlives the recomputation: allocated first */
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (sdd_wants(c, n->x) && !dx) return;
    sdd_arena_mark mk = sdd_arena_get_mark(&c->arena), dmk = sdd_arena_get_mark(&c->darena);
    const int nt = c->ntape, ng = c->ngten, serial = c->op_serial;
    c->op_serial = n->serial;
    sdd_tensor *xi = sdd_tensor_wrap(c, n->x->x, n->x->nd, n->x->n);
    if (!xi) return;
    xi->rg = dx != NULL;
    sdd_tensor *y = n->fn(c, xi, n->ud);
    if (!y) { c->failed = 1; return; }
    if (sdd_numel(y) != sdd_numel(n->out)) {
        sdd_err_set(&c->err, "checkpoint: recomputed output differs in size");
        c->failed = 1;
        return;
    }
    y->g = n->out->g;
    for (int i = c->ntape - 1; i >= nt && !c->failed; i--) c->tape[i].fn(c, c->tape[i].node);
    if (dx && xi->g) {
        const size_t m = sdd_numel(n->x);
#ifdef SDD_CUDA
        if (c->dev) {
            if (sdd_cu_acc(c, dx, xi->g, m)) return;
        } else
#endif
        {
            #pragma omp parallel for schedule(static)
            for (size_t k = 0; k < m; k++) dx[k] += xi->g[k];
        }
    }
    c->ntape = nt;
    c->ngten = ng;
    c->op_serial = serial;
    kept[0] = c->arena.used - mk.used;
    kept[1] = c->darena.used - dmk.used;
    sdd_arena_release(&c->arena, mk);
    if (c->dev) sdd_arena_release(&c->darena, dmk);
}

/* The recomputation with its footprint measured: what it keeps until its
 * release (kept: activations and their gradients, which a run without
 * recomputation would hold to the end of the backward). */
static void ck_backward(sdd_ctx *c, void *vn)
{
    size_t kept[2] = { 0, 0 };
    ck_backward_run(c, vn, kept);
    for (int k = 0; k < 2; k++) {
        c->ck_sum[k] += kept[k];
        if (kept[k] > c->ck_max[k]) c->ck_max[k] = kept[k];
    }
}

size_t sdd_checkpoint_keep_estimate(const sdd_ctx *c, int dev)
{
    const int k = dev != 0;
    return (k ? c->darena.peak : c->arena.peak) + c->ck_sum[k] - c->ck_max[k];
}

/* device contexts: releases the sub-graph's host and device memory and keeps
 * only its output y, copied down to the released region's start (through a
 * temporary when the two ranges overlap) */
static sdd_tensor *ck_keep_device(sdd_ctx *c, sdd_tensor *y, sdd_arena_mark mk, sdd_arena_mark dmk)
{
    const size_t m = sdd_numel(y);
    const int nd = y->nd;
    int64_t shp[SDD_MAX_DIMS];
    memcpy(shp, y->n, sizeof shp);
    const float *yx = y->x;
    sdd_arena_release(&c->arena, mk);
    sdd_arena_release(&c->darena, dmk);
    /* nothing is allocated between the release and out: y's values are still intact */
    sdd_tensor *out = sdd_tensor_new(c, nd, shp);
    if (!out) return NULL;
    if (out->x == yx || !m) return out;
    if (out->x + m <= yx || yx + m <= out->x) {
        if (sdd_device_copy(out->x, yx, m, &c->err)) { c->failed = 1; return NULL; }
        return out;
    }
    float *tmp = sdd_device_alloc(m, &c->err);
    int rc = tmp ? sdd_device_copy(tmp, yx, m, &c->err) : -1;
    if (!rc) rc = sdd_device_copy(out->x, tmp, m, &c->err);
    sdd_device_free(tmp);
    if (rc) { c->failed = 1; return NULL; }
    return out;
}

/* host contexts: the same through a malloc'ed copy of y */
static sdd_tensor *ck_keep_host(sdd_ctx *c, sdd_tensor *y, sdd_arena_mark mk)
{
    const size_t m = sdd_numel(y);
    const int nd = y->nd;
    int64_t shp[SDD_MAX_DIMS];
    memcpy(shp, y->n, sizeof shp);
    float *tmp = malloc((m ? m : 1) * sizeof(float));
    if (!tmp) return sdd_oom(c, "checkpoint");
    memcpy(tmp, y->x, m * sizeof(float));
    sdd_arena_release(&c->arena, mk);
    sdd_tensor *out = sdd_tensor_new(c, nd, shp);
    if (out) memcpy(out->x, tmp, m * sizeof(float));
    free(tmp);
    return out;
}

sdd_tensor *sdd_checkpoint(sdd_ctx *c, sdd_ckpt_fn fn, sdd_tensor *x, void *ud)
{
    if (!x || c->failed) return NULL;
    const int serial = c->op_serial, grad = c->grad;
    sdd_arena_mark mk = sdd_arena_get_mark(&c->arena), dmk = sdd_arena_get_mark(&c->darena);
    c->grad = 0;
    sdd_tensor *y = fn(c, x, ud);
    c->grad = grad;
    if (!y) return NULL;
    sdd_tensor *out = c->dev ? ck_keep_device(c, y, mk, dmk) : ck_keep_host(c, y, mk);
    if (!out) return NULL;
    if (!grad) return out;   /* inference: the sub-graph's memory is released all the same */
    out->rg = 1;
    ck_node *n = sdd_scratch(c, sizeof *n);
    if (!n) return NULL;
    n->fn = fn; n->ud = ud; n->x = x; n->out = out; n->serial = serial;
    if (sdd_tape_push(c, ck_backward, n)) return NULL;
    return out;
}
