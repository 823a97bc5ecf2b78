/* One DPDA training step on the CPU backend and on the CUDA device (real or
 * emulated) from the same weights and batch, and how far apart the two end:
 * losses, per-path gradient buffers, the combined gradient, the Adam update
 * and the weights. Shared by the CUDA tests (test_cuda, test_cuda_emu,
 * test_cuda_emu_xlsr), which keep their own tolerances and messages.
 * Header-only; include after check.h and the sdd headers it uses (fixture.h
 * gives the relative L2 distance). */
#ifndef SDD_TESTS_DEVICE_STEP_H
#define SDD_TESTS_DEVICE_STEP_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/device.h"
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
