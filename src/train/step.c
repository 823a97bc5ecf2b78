/* Owns the training step (see step.h). */
#include "train/step.h"
#include "ops/ops.h"
#include "dist/dist.h"
#include "backend/device.h"
#include <stdlib.h>
#include <math.h>
#include <string.h>

sdd_step_params sdd_step_default_params(void)
{
    sdd_step_params p;
    memset(&p, 0, sizeof p);
    p.paths = SDD_PATHS_DUAL;
    p.align = SDD_ALIGN_PCGRAD;
    p.bn_stats = SDD_BN_PER_PATH;
    p.class_weight[0] = 0.1f;
    p.class_weight[1] = 0.9f;
    return p;
}

static int fail(sdd_ctx *c, sdd_err *e, const char *what)
{
    return sdd_err_set(e, "%s: %s", what, c->err.msg[0] ? c->err.msg : "failed");
}

/* the batch where the context computes: the caller's memory, or a device copy */
static sdd_tensor *input(sdd_ctx *c, const float *wave, int nb, int64_t L)
{
    int64_t shp[2] = { nb, L };
    if (!c->dev) return sdd_tensor_wrap(c, (float *)wave, 2, shp);
    sdd_tensor *x = sdd_tensor_new(c, 2, shp);
    if (x && sdd_device_from_host(x->x, wave, (size_t)nb * L, &c->err)) { c->failed = 1; return NULL; }
    return x;
}

int sdd_accum_begin(sdd_model *m, sdd_accum *a, int K, sdd_err *e)
{
    sdd_params *ps = &m->params;
    if (K < 1) return sdd_err_set(e, "train step: accumulation over %d micro-batches", K);
    if (ps->ngrad < 2 && sdd_params_alloc_grads(ps, 2, e)) return -1;
    memset(a, 0, sizeof *a);
    a->K = K;
    sdd_params_zero_grads(ps);
    return 0;
}

int sdd_accum_micro(sdd_model *m, sdd_ctx *c, const sdd_step_params *p, sdd_accum *a,
                    const float *wave, int nb, int64_t L, const int *labels, uint64_t rng_key, sdd_err *e)
{
    const int dual = p->paths == SDD_PATHS_DUAL;
    if (dual && nb % 2) return sdd_err_set(e, "train step: dual-path batch of %d is odd", nb);
    if (a->k >= a->K) return sdd_err_set(e, "train step: more than %d micro-batches accumulated", a->K);
    /* K > 1 or data-parallel: seeds are the micro-batch's weight sums
     * (unnormalised), rescaled in apply by the (global) weight sums */
    const int dist = p->global_rows > 0;
    const int raw = a->K > 1 || dist;
    if (c->dev) {
        if (sdd_model_cuda_check(m, "train step: ", e)) return -1;
        /* path gradients 0 and 1 and the combined gradient (2), zeroed at the first micro-batch */
        if (a->k == 0 && sdd_params_alloc_dgrads(&m->params, 3, e)) return -1;
        a->dev = 1;
    }
    sdd_ctx_begin(c, nb, 1, 1);
    c->rng_key = rng_key;
    c->dropout_off = p->no_dropout;
    const int per_path = dual && p->bn_stats == SDD_BN_PER_PATH;
    const int joint_two_pass = dual && p->bn_stats == SDD_BN_JOINT && p->align != SDD_ALIGN_NONE;
    if (dual) {
        int ends[2] = { nb / 2, nb };
        if (sdd_ctx_set_segments(c, 2, ends, NULL)) return fail(c, e, "train step");
        c->bn_per_seg = per_path;
        /* joint statistics: every parameter gradient goes to the buffer of the pass */
        c->joint_grad = !per_path;
        c->cur_grad = 0;
    } else {
        c->bn_per_seg = 0;
        c->joint_grad = 0;
    }
    if (dist) {
        /* BatchNorm moments summed over ranks; dropout keyed by global row */
        c->bn_reduce = sdd_dist_bn_reduce;
        c->row_map = 1;
        for (int s = 0; s < c->nseg; s++) c->row_base[s] = s * p->global_rows + p->shard_lo;
    }
    sdd_tensor *z = m->forward(c, m, input(c, wave, nb, L));
    float wsum[SDD_MAX_PATHS] = { 0 };
    sdd_tensor *loss = sdd_ce_weighted(c, z, labels, p->class_weight, wsum);
    /* the per-path losses (on CUDA: the loss scalars are copied back) */
    float lv[SDD_MAX_PATHS] = { 0 };
    if (!loss || sdd_values_to_host(c, loss, lv)) return fail(c, e, "train step forward");
    for (int s = 0; s < c->nseg && s < 2; s++) {
        a->w[s] += wsum[s];
        a->wl[s] += (double)wsum[s] * lv[s];
    }
    /* seeds of d(objective)/d(loss_s), set where the loss lives */
    float g[SDD_MAX_PATHS] = { 0 };
    if (!dual) {
        g[0] = raw ? wsum[0] : 1.0f;
        if (sdd_grad_set(c, loss, g) || sdd_backward(c, 0, NULL, NULL)) return fail(c, e, "train step backward");
    } else if (!joint_two_pass) {
        if (p->align == SDD_ALIGN_NONE && !per_path) {
            /* the reference's plain dual path: one loss over all 2B, joint statistics */
            const float W = wsum[0] + wsum[1];
            g[0] = raw ? wsum[0] : wsum[0] / W;
            g[1] = raw ? wsum[1] : wsum[1] / W;
        } else {
            /* per-path statistics: both path gradients from ONE backward pass */
            g[0] = raw ? wsum[0] : 1.0f;
            g[1] = raw ? wsum[1] : 1.0f;
        }
        if (sdd_grad_set(c, loss, g) || sdd_backward(c, 0, NULL, NULL)) return fail(c, e, "train step backward");
    } else {
        /* joint statistics with alignment: one backward pass per path over the same tape */
        g[0] = raw ? wsum[0] : 1.0f;
        g[1] = 0.0f;
        c->cur_grad = 0;
        if (sdd_grad_set(c, loss, g) || sdd_backward(c, 0, NULL, NULL)) return fail(c, e, "train step backward (path 0)");
        sdd_zero_act_grads(c);
        g[0] = 0.0f;
        g[1] = raw ? wsum[1] : 1.0f;
        c->cur_grad = 1;
        if (sdd_grad_set(c, loss, g) || sdd_backward(c, 0, NULL, NULL)) return fail(c, e, "train step backward (path 1)");
    }
    a->k++;
    return 0;
}

static void scale(float *g, size_t n, double w)
{
    const float inv = (float)(1.0 / w);
    for (size_t k = 0; k < n; k++) g[k] *= inv;
}

/* sdd_accum_apply on the device: the per-path gradients in ps->dgrad[0..1],
 * the combination in dgrad[2] (or dgrad[0] itself); only the dot products
 * and the combined norm come back to the host */
static int apply_device(sdd_model *m, sdd_adam *opt, sdd_align_state *al, const sdd_step_params *p, sdd_accum *a,
                        float *grad_out, sdd_step_result *res, sdd_err *e)
{
    sdd_params *ps = &m->params;
    const int dual = p->paths == SDD_PATHS_DUAL;
    const int per_path = dual && p->bn_stats == SDD_BN_PER_PATH;
    const int joint_none = dual && !per_path && p->align == SDD_ALIGN_NONE;
    const size_t n = ps->total;
    float *g0 = ps->dgrad[0], *g1 = ps->dgrad[1], *out = ps->dgrad[2];
    if (a->K > 1 || p->global_rows > 0) {
        if (!dual) { if (sdd_device_combine(g0, NULL, n, 1.0 / a->w[0], 0.0, g0, e)) return -1; }
        else if (joint_none) { if (sdd_device_combine(g0, NULL, n, 1.0 / (a->w[0] + a->w[1]), 0.0, g0, e)) return -1; }
        else if (sdd_device_combine(g0, NULL, n, 1.0 / a->w[0], 0.0, g0, e) || sdd_device_combine(g1, NULL, n, 1.0 / a->w[1], 0.0, g1, e)) return -1;
    }
    if (!dual || joint_none) {
        out = g0;
        res->loss_total = dual ? (a->wl[0] + a->wl[1]) / (a->w[0] + a->w[1]) : res->loss[0];
    } else {
        double d[3], a0, a1;
        if (sdd_device_dots(g0, g1, n, ps->ddots, d, e)) return -1;
        sdd_align_stats_from_dots(d[0], d[1], d[2], &res->al);
        if (p->align == SDD_ALIGN_NONE) {
            const double W = a->w[0] + a->w[1];
            a0 = a->w[0] / W;
            a1 = a->w[1] / W;
            res->loss_total = a0 * res->loss[0] + a1 * res->loss[1];
        } else if (p->ngroups > 0) {
            /* each group from its own dot products: a few scalars per group come back */
            res->loss_total = 0.5 * (res->loss[0] + res->loss[1]);
            for (int i = 0; i < p->ngroups; i++) {
                const sdd_align_group *gr = &p->groups[i];
                double dg[3];
                if (sdd_device_dots(g0 + gr->off, g1 + gr->off, gr->n, ps->ddots, dg, e)) return -1;
                sdd_align_group_coefs(p->align, i, dg[0], dg[1], dg[2], al, &a0, &a1, &res->group_conflicts);
                if (sdd_device_combine(g0 + gr->off, g1 + gr->off, gr->n, a0, a1, out + gr->off, e)) return -1;
            }
        } else {
            sdd_align_coefs(p->align, &res->al, al, &a0, &a1);
            res->loss_total = 0.5 * (res->loss[0] + res->loss[1]);
        }
        if ((p->align == SDD_ALIGN_NONE || p->ngroups <= 0) && sdd_device_combine(g0, g1, n, a0, a1, out, e)) return -1;
        res->has_align_stats = 1;
    }
    double nn;
    int finite;
    if (sdd_device_norm2_finite(out, n, ps->ddots, &nn, &finite, e)) return -1;
    if (res->has_align_stats && p->align != SDD_ALIGN_NONE) res->al.norm_out = sqrt(nn);
    if (!finite) return sdd_err_set(e, "train step: non-finite gradient (loss %.6g)", res->loss_total);
    if (grad_out && sdd_device_to_host(grad_out, out, n, e)) return -1;
    return opt ? sdd_adam_step_device(opt, ps, out, e) : 0;
}

/* Data-parallel on the device: the path gradients (dgrad[0], and dgrad[1]
 * for two paths) summed over ranks through one host buffer, one all-reduce
 * per step (an MPI without CUDA support reads host memory only). 0, or -1
 * with e set. */
static int sum_device_grads(sdd_params *ps, int two, sdd_err *e)
{
    const size_t n = ps->total, np = two ? 2 : 1;
    float *h = malloc(np * n * sizeof(float));
    if (!h) return sdd_err_set(e, "train step: out of memory for the gradient all-reduce (%zu MB)", np * n * sizeof(float) >> 20);
    int rc = 0;
    for (size_t s = 0; s < np && !rc; s++) rc = sdd_device_to_host(h + s * n, ps->dgrad[s], n, e);
    if (!rc) rc = sdd_dist_sum_f32(h, np * n, e);
    for (size_t s = 0; s < np && !rc; s++) rc = sdd_device_from_host(ps->dgrad[s], h + s * n, n, e);
    free(h);
    return rc ? -1 : 0;
}

int sdd_accum_apply(sdd_model *m, sdd_adam *opt, sdd_align_state *al, const sdd_step_params *p, sdd_accum *a,
                    float *grad_out, sdd_step_result *res, sdd_err *e)
{
    sdd_params *ps = &m->params;
    const int dual = p->paths == SDD_PATHS_DUAL;
    const int per_path = dual && p->bn_stats == SDD_BN_PER_PATH;
    const int joint_none = dual && !per_path && p->align == SDD_ALIGN_NONE;
    const size_t n = ps->total;
    if (a->k != a->K) return sdd_err_set(e, "train step: %d of %d micro-batches accumulated", a->k, a->K);
    memset(res, 0, sizeof *res);
    const int dist = p->global_rows > 0;
    if (dist) {
        /* one fused sum of both paths' gradients (contiguous block), then the
         * loss numerators and weight sums, over all ranks */
        double red[4] = { a->w[0], a->w[1], a->wl[0], a->wl[1] };
        if ((a->dev ? sum_device_grads(ps, dual && !joint_none, e)
                    : sdd_dist_sum_f32(ps->grad[0], (size_t)(ps->grad[1] - ps->grad[0]) + n, e)) ||
            sdd_dist_sum_f64(red, 4, e))
            return -1;
        a->w[0] = red[0]; a->w[1] = red[1]; a->wl[0] = red[2]; a->wl[1] = red[3];
    }
    for (int s = 0; s < (dual ? 2 : 1); s++) {
        if (!(a->w[s] > 0)) return sdd_err_set(e, "train step: path %d has no weight", s);
        res->loss[s] = a->wl[s] / a->w[s];  /* exact for K = 1: w x loss fits a double */
    }
    if (a->dev) return apply_device(m, opt, al, p, a, grad_out, res, e);
    if (a->K > 1 || dist) {
        if (!dual) scale(ps->grad[0], n, a->w[0]);
        else if (joint_none) scale(ps->grad[0], n, a->w[0] + a->w[1]);
        else { scale(ps->grad[0], n, a->w[0]); scale(ps->grad[1], n, a->w[1]); }
    }
    if (!dual || joint_none) {
        memcpy(grad_out, ps->grad[0], n * sizeof(float));
        res->loss_total = dual ? (a->wl[0] + a->wl[1]) / (a->w[0] + a->w[1]) : res->loss[0];
    } else if (p->align == SDD_ALIGN_NONE) {
        /* per-path statistics, no alignment: the weight-sum combination of the two paths */
        const double W = a->w[0] + a->w[1];
        const double a0 = a->w[0] / W, a1 = a->w[1] / W;
        sdd_align_measure(ps->grad[0], ps->grad[1], n, &res->al);
        for (size_t k = 0; k < n; k++) grad_out[k] = (float)(a0 * ps->grad[0][k] + a1 * ps->grad[1][k]);
        res->loss_total = a0 * res->loss[0] + a1 * res->loss[1];
        res->has_align_stats = 1;
    } else {
        if (p->ngroups > 0)
            sdd_align_grouped(p->align, ps->grad[0], ps->grad[1], n, p->groups, p->ngroups, grad_out, al, &res->al,
                              &res->group_conflicts);
        else sdd_align(p->align, ps->grad[0], ps->grad[1], n, grad_out, al, &res->al);
        res->loss_total = 0.5 * (res->loss[0] + res->loss[1]);
        res->has_align_stats = 1;
    }
    for (size_t k = 0; k < n; k++)
        if (!isfinite(grad_out[k])) return sdd_err_set(e, "train step: non-finite gradient (loss %.6g)", res->loss_total);
    if (opt) sdd_adam_step(opt, ps, grad_out);
    return 0;
}

int sdd_train_step(sdd_model *m, sdd_ctx *c, sdd_adam *opt, sdd_align_state *al, const sdd_step_params *p,
                   const float *wave, int nb, int64_t L, const int *labels, uint64_t rng_key,
                   float *grad_out, sdd_step_result *res, sdd_err *e)
{
    sdd_accum a;
    if (sdd_accum_begin(m, &a, 1, e) || sdd_accum_micro(m, c, p, &a, wave, nb, L, labels, rng_key, e)) return -1;
    return sdd_accum_apply(m, opt, al, p, &a, grad_out, res, e);
}

void sdd_bn_reset_running(sdd_model *m)
{
    sdd_params *ps = &m->params;
    for (int i = 0; i < ps->np; i++) {
        const char *nm = ps->p[i].name;
        const size_t L = strlen(nm);
        const int mean = L >= 13 && !strcmp(nm + L - 13, ".running_mean"), var = L >= 12 && !strcmp(nm + L - 12, ".running_var");
        if (!mean && !var) continue;
        float *x = sdd_params_ptr(ps, i);
        for (size_t k = 0; k < ps->p[i].numel; k++) x[k] = var ? 1.0f : 0.0f;
    }
}

int sdd_bn_recompute_batch(sdd_model *m, sdd_ctx *c, const sdd_step_params *p, const float *wave, int nb, int64_t L,
                           uint64_t rng_key, long *seen, sdd_err *e)
{
    const int dual = p->paths == SDD_PATHS_DUAL;
    if (dual && nb % 2) return sdd_err_set(e, "statistics recomputation: dual-path batch of %d is odd", nb);
    sdd_ctx_begin(c, nb, 1, 0);
    c->rng_key = rng_key;
    c->dropout_off = p->no_dropout;
    c->bn_per_seg = dual && p->bn_stats == SDD_BN_PER_PATH;
    c->joint_grad = 0;
    if (dual) {
        int ends[2] = { nb / 2, nb };
        if (sdd_ctx_set_segments(c, 2, ends, NULL)) return fail(c, e, "statistics recomputation");
    }
    /* data-parallel: the moments of the global batch and dropout keyed by the
     * global row, as in sdd_accum_micro; the cumulative momentum counts the
     * global rows, so every rank keeps the statistics one process would */
    const int dist = p->global_rows > 0;
    if (dist) {
        c->bn_reduce = sdd_dist_bn_reduce;
        c->row_map = 1;
        for (int s = 0; s < c->nseg; s++) c->row_base[s] = s * p->global_rows + p->shard_lo;
    }
    const long rows = dist ? (long)(dual ? 2 : 1) * p->global_rows : nb;
    c->bn_momentum = (float)((double)rows / (double)(*seen + rows));
    sdd_tensor *z = m->forward(c, m, input(c, wave, nb, L));
    c->bn_momentum = 0.0f;
    if (!z || c->failed) return fail(c, e, "statistics recomputation forward");
    *seen += rows;
    return 0;
}

int sdd_eval_loss(sdd_model *m, sdd_ctx *c, const float *wave, int nb, int64_t L, const int *labels,
                  const float *class_weight, double *loss, float *scores, sdd_err *e)
{
    sdd_ctx_begin(c, nb, 0, 0);
    sdd_tensor *z = m->forward(c, m, input(c, wave, nb, L));
    sdd_tensor *l = sdd_ce_weighted(c, z, labels, class_weight, NULL);
    float lv[SDD_MAX_PATHS];
    if (!l || sdd_values_to_host(c, l, lv)) return fail(c, e, "validation forward");
    *loss = lv[0];
    if (scores) {
        float small[64], *zh = nb <= 32 ? small : malloc((size_t)nb * 2 * sizeof(float));
        if (!zh) return sdd_err_set(e, "validation: out of memory");
        const int rc = sdd_values_to_host(c, z, zh);
        for (int b = 0; b < nb && !rc; b++) scores[b] = zh[2 * b + 1];
        if (zh != small) free(zh);
        if (rc) return fail(c, e, "validation forward");
    }
    return 0;
}
