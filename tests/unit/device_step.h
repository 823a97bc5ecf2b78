/* One DPDA training step on the CPU backend and on the CUDA device (real or
 * emulated) from the same weights and batch, and how far apart the two end:
 * losses, per-path gradient buffers, the combined gradient, the Adam update
 * and the weights. Shared by the CUDA tests (test_cuda, test_cuda_emu,
 * test_cuda_emu_xlsr), which keep their own tolerances and messages.
 * Header-only; include after check.h and the sdd headers it uses (fixture.h
 * gives the relative L2 distance). */
#ifndef SDD_TESTS_DEVICE_STEP_H
#define SDD_TESTS_DEVICE_STEP_H
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/device.h"
#include "backend/cuda.h"
#include "core/rng.h"
#include "train/step.h"
#include "fixture.h"

typedef struct {
    sdd_model *mc, *md;          /* CPU copy, device copy (same weights at start) */
    sdd_ctx cc, cd;
    sdd_adam oc, od;
    sdd_align_state ac, ad;
    float *gc, *gd;              /* combined gradients of the last step */
    float *pd;                   /* the device's per-path gradient buffers, downloaded (2 n) */
    float *w0;                   /* the weights before the last step */
    sdd_align_group *groups;     /* --align-groups (dstep_set_groups), NULL: the whole vector */
    size_t n;
    int ready;
} dstep_pair;

typedef struct {
    sdd_step_result cpu, dev;
    double loss;                 /* max over the two paths of |cpu - dev|, over |cpu total| */
    double path_grad;            /* the per-path gradient buffers, max relative L2 (one path: path 0) */
    double grad;                 /* the combined gradient, relative L2 */
    double update;               /* the Adam update (weights after - before), relative L2 */
    double weights;              /* the weights after the step, relative L2 */
} dstep_diff;

/* The alignment's dot products and the finite check on the device, from g0
 * and g1 (n each) uploaded: dots[0..2] (g0.g0, g1.g1, g0.g1), norm2 and
 * finite from sdd_device_norm2_finite(g0); 0, or -1 with the reason in e */
static inline int dstep_dots(const float *g0, const float *g1, size_t n, double dots[3], double *norm2, int *finite, sdd_err *e)
{
    const size_t ns = sdd_cu_dots_scratch(n), nf = n ? n : 1;
    float *d0 = sdd_device_alloc(nf, e), *d1 = d0 ? sdd_device_alloc(nf, e) : NULL;
    double *scratch = d1 ? (double *)sdd_device_alloc(2 * ns, e) : NULL;
    int rc = scratch ? 0 : -1;
    if (!rc && n) rc = sdd_device_from_host(d0, g0, n, e) || sdd_device_from_host(d1, g1, n, e) ? -1 : 0;
    if (!rc) rc = sdd_device_dots(d0, d1, n, scratch, dots, e);
    if (!rc) rc = sdd_device_norm2_finite(d0, n, scratch, norm2, finite, e);
    sdd_device_free(scratch);
    sdd_device_free(d1);
    sdd_device_free(d0);
    return rc;
}

/* the alignment's dot products and the non-finite check on the device:
 * several chunks of the reduction and a ragged tail, against host double
 * sums; a NaN or infinity anywhere in g0 (the last entry, another chunk)
 * reads as non-finite; the largest floats do not; an empty vector is zero
 * and finite. Uses check.h's CHECK macros */
static inline void dstep_check_dots(void)
{
    const size_t n = 3 * 4096 + 37;
    float *g0 = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float));
    CHECK(g0 && g1);
    if (!g0 || !g1) { free(g0); free(g1); return; }
    double want[3] = { 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        g0[i] = (float)sdd_rng_normal(91, 2 * i);
        g1[i] = (float)sdd_rng_normal(91, 2 * i + 1) - 0.25f * g0[i];
        want[0] += (double)g0[i] * g0[i];
        want[1] += (double)g1[i] * g1[i];
        want[2] += (double)g0[i] * g1[i];
    }
    double d[3], nn;
    int fin = -1;
    sdd_err e;
    CHECK_MSG(dstep_dots(g0, g1, n, d, &nn, &fin, &e) == 0, "device dots: %s", e.msg);
    for (int k = 0; k < 3; k++) CHECK_MSG(fabs(d[k] - want[k]) <= 1e-12 * fabs(want[0]), "dot %d: %.17g vs %.17g", k, d[k], want[k]);
    CHECK(nn == d[0] && fin == 1);
    const struct { size_t at; float v; } bad[] = { { n - 1, NAN }, { 4096 + 5, INFINITY }, { 0, -INFINITY } };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        const float keep = g0[bad[b].at];
        g0[bad[b].at] = bad[b].v;
        CHECK_MSG(dstep_dots(g0, g1, n, d, &nn, &fin, &e) == 0, "device dots: %s", e.msg);
        CHECK_MSG(fin == 0 && !isfinite(nn), "a %g at %zu read as finite", (double)bad[b].v, bad[b].at);
        g0[bad[b].at] = keep;
    }
    for (size_t i = 0; i < n; i++) g0[i] = (i & 1) ? -FLT_MAX : FLT_MAX;
    CHECK_MSG(dstep_dots(g0, g1, n, d, &nn, &fin, &e) == 0, "device dots: %s", e.msg);
    CHECK_MSG(fin == 1 && isfinite(nn) && nn > 1e80, "%zu entries of +-FLT_MAX: finite %d, |g|^2 %g", n, fin, nn);
    CHECK_MSG(dstep_dots(g0, g1, 0, d, &nn, &fin, &e) == 0, "device dots, empty: %s", e.msg);
    CHECK(d[0] == 0.0 && d[1] == 0.0 && d[2] == 0.0 && nn == 0.0 && fin == 1);
    free(g0);
    free(g1);
}

/* both copies of ARCH from random weights (seed); 0, or -1 with the reason in e */
static inline int dstep_init(dstep_pair *p, const char *arch, uint64_t seed, sdd_err *e)
{
    memset(p, 0, sizeof *p);
    p->mc = sdd_model_new(arch, e);
    p->md = p->mc ? sdd_model_new(arch, e) : NULL;
    if (!p->md) return -1;
    sdd_model_init_random(p->mc, seed);
    p->n = p->mc->params.total;
    memcpy(p->md->params.data, p->mc->params.data, p->n * sizeof(float));
    sdd_align_state_init(&p->ac);
    sdd_align_state_init(&p->ad);
    sdd_ctx_init(&p->cc, &p->mc->params);
    sdd_ctx_init(&p->cd, &p->md->params);
    p->ready = 1;
    p->gc = malloc(p->n * sizeof(float));
    p->gd = malloc(p->n * sizeof(float));
    p->pd = malloc(2 * p->n * sizeof(float));
    p->w0 = malloc(p->n * sizeof(float));
    if (!p->gc || !p->gd || !p->pd || !p->w0) return sdd_err_set(e, "out of memory");
    if (sdd_adam_init(&p->oc, &p->mc->params, NULL, e)) return -1;
    p->ready = 2;
    if (sdd_adam_init(&p->od, &p->md->params, NULL, e)) return -1;
    p->ready = 3;
    return sdd_ctx_set_device(&p->cd, SDD_DEV_CUDA, e);
}

/* --align-groups MODE on both sides: the model's groups into sp, and each
 * side's per-group GradVac targets; 0, or -1 with the reason in e */
static inline int dstep_set_groups(dstep_pair *p, int mode, sdd_step_params *sp, sdd_err *e)
{
    if (sdd_align_groups_build(&p->mc->params, mode, &p->groups, &sp->ngroups, e)) return -1;
    if (sdd_align_state_set_groups(&p->ac, sp->ngroups) || sdd_align_state_set_groups(&p->ad, sp->ngroups))
        return sdd_err_set(e, "out of memory");
    sp->groups = p->groups;
    return 0;
}

static inline void dstep_free(dstep_pair *p)
{
    sdd_align_state_free(&p->ac);
    sdd_align_state_free(&p->ad);
    free(p->groups);
    if (p->ready >= 1) { sdd_ctx_free(&p->cc); sdd_ctx_free(&p->cd); }
    if (p->ready >= 2) sdd_adam_free(&p->oc);
    if (p->ready >= 3) sdd_adam_free(&p->od);
    free(p->gc); free(p->gd); free(p->pd); free(p->w0);
    sdd_model_free(p->mc);
    sdd_model_free(p->md);
    memset(p, 0, sizeof *p);
}

/* One step of sp on the device, and (cpu_too) on the CPU, with the given
 * batch and step key; with cpu_too the distances into d. 0, or -1 with the
 * failing side's reason in e. */
static inline int dstep_run(dstep_pair *p, const sdd_step_params *sp, const float *wave, int nb, int64_t L, const int *lab, uint64_t key,
                            int cpu_too, dstep_diff *d, sdd_err *e)
{
    memset(d, 0, sizeof *d);
    const size_t n = p->n;
    memcpy(p->w0, p->mc->params.data, n * sizeof(float));
    if (cpu_too && sdd_train_step(p->mc, &p->cc, &p->oc, &p->ac, sp, wave, nb, L, lab, key, p->gc, &d->cpu, e)) {
        sdd_err_prefix(e, "cpu step");
        return -1;
    }
    if (sdd_train_step(p->md, &p->cd, &p->od, &p->ad, sp, wave, nb, L, lab, key, p->gd, &d->dev, e)) {
        sdd_err_prefix(e, "cuda step");
        return -1;
    }
    if (!cpu_too) return 0;
    const int two = sp->paths == SDD_PATHS_DUAL;
    if (sdd_device_to_host(p->pd, p->md->params.dgrad[0], n, e) || (two && sdd_device_to_host(p->pd + n, p->md->params.dgrad[1], n, e)) ||
        sdd_params_download(&p->md->params, e))
        return -1;
    d->loss = fabs(d->cpu.loss_total - d->dev.loss_total);
    if (two) d->loss = fmax(d->loss, fmax(fabs(d->cpu.loss[0] - d->dev.loss[0]), fabs(d->cpu.loss[1] - d->dev.loss[1])));
    d->loss /= fmax(1e-6, fabs(d->cpu.loss_total));
    d->path_grad = fx_rel_l2(p->pd, p->mc->params.grad[0], n);
    if (two) d->path_grad = fmax(d->path_grad, fx_rel_l2(p->pd + n, p->mc->params.grad[1], n));
    d->grad = fx_rel_l2(p->gd, p->gc, n);
    double un = 0.0, ud = 0.0;
    for (size_t k = 0; k < n; k++) {
        const double uc = (double)p->mc->params.data[k] - p->w0[k], uv = (double)p->md->params.data[k] - p->w0[k];
        un += uc * uc;
        ud += (uv - uc) * (uv - uc);
    }
    d->update = un > 0 ? sqrt(ud / un) : sqrt(ud);
    d->weights = fx_rel_l2(p->md->params.data, p->mc->params.data, n);
    return 0;
}

/* the device copy continues from the CPU's weights, so the next step tests the step, not drift */
static inline int dstep_sync(dstep_pair *p, sdd_err *e)
{
    memcpy(p->md->params.data, p->mc->params.data, p->n * sizeof(float));
    return sdd_params_upload(&p->md->params, e);
}

#endif
