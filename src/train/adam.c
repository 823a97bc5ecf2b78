/* Owns the Adam optimiser (see adam.h). The arithmetic follows PyTorch's
 * single-tensor implementation step by step: g += wd * theta; m = b1 m +
 * (1 - b1) g; v = b2 v + (1 - b2) g^2; denom = sqrt(v) / sqrt(1 - b2^t) + eps;
 * theta -= (lr / (1 - b1^t)) * m / denom. */
#include "train/adam.h"
#include "backend/device.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

sdd_adam_params sdd_adam_default_params(void)
{
    sdd_adam_params p = { 1e-4, 0.9, 0.999, 1e-8, 1e-4 };
    return p;
}

int sdd_adam_init(sdd_adam *a, const sdd_params *ps, const sdd_adam_params *p, sdd_err *e)
{
    memset(a, 0, sizeof *a);
    a->p = p ? *p : sdd_adam_default_params();
    a->m = calloc(ps->total ? ps->total : 1, sizeof(float));
    a->v = calloc(ps->total ? ps->total : 1, sizeof(float));
    if (!a->m || !a->v) { sdd_adam_free(a); return sdd_err_set(e, "adam: out of memory"); }
    return 0;
}

void sdd_adam_free(sdd_adam *a)
{
    free(a->m);
    free(a->v);
    sdd_device_free(a->dm);
    sdd_device_free(a->dv);
    free(a->roff);
    free(a->rlen);
    a->m = a->v = a->dm = a->dv = NULL;
    a->roff = a->rlen = NULL;
    a->nr = 0;
}

int sdd_adam_step_device(sdd_adam *a, sdd_params *ps, const float *dgrad, sdd_err *e)
{
    if (!ps->ddata) return sdd_err_set(e, "adam: parameters are not on the device");
    if (!a->dm) {
        /* first device step: moments uploaded (a resumed run's), trainable ranges listed */
        a->roff = malloc((size_t)(ps->np ? ps->np : 1) * sizeof(size_t));
        a->rlen = malloc((size_t)(ps->np ? ps->np : 1) * sizeof(size_t));
        if (!a->roff || !a->rlen) return sdd_err_set(e, "adam: out of memory");
        a->nr = 0;
        /* tensors that touch form one range, one launch each (the update is per entry): XLS-R's ~400
         * tensors become a few ranges, as the 16-float padding only breaks ranges after odd sizes */
        for (int i = 0; i < ps->np; i++) {
            if (!ps->p[i].trainable) continue;
            if (a->nr && a->roff[a->nr - 1] + a->rlen[a->nr - 1] == ps->p[i].off) { a->rlen[a->nr - 1] += ps->p[i].numel; continue; }
            a->roff[a->nr] = ps->p[i].off;
            a->rlen[a->nr] = ps->p[i].numel;
            a->nr++;
        }
        if (!(a->dm = sdd_device_alloc(ps->total, e)) || !(a->dv = sdd_device_alloc(ps->total, e))) return -1;
        if (sdd_device_from_host(a->dm, a->m, ps->total, e) || sdd_device_from_host(a->dv, a->v, ps->total, e)) return -1;
    }
    a->step++;
    /* the scalars exactly as sdd_adam_step rounds them */
    const double bc1 = 1.0 - pow(a->p.beta1, (double)a->step);
    const double bc2 = 1.0 - pow(a->p.beta2, (double)a->step);
    return sdd_device_adam(ps->ddata, a->dm, a->dv, dgrad, a->roff, a->rlen, a->nr, (float)a->p.beta1, (float)a->p.beta2,
                           (float)(1.0 - a->p.beta1), (float)(1.0 - a->p.beta2), (float)a->p.weight_decay, (float)(a->p.lr / bc1),
                           (float)sqrt(bc2), (float)a->p.eps, e);
}

int sdd_adam_sync_host(sdd_adam *a, const sdd_params *ps, sdd_err *e)
{
    if (!a->dm) return 0;
    return sdd_device_to_host(a->m, a->dm, ps->total, e) || sdd_device_to_host(a->v, a->dv, ps->total, e) ? -1 : 0;
}

void sdd_adam_step(sdd_adam *a, sdd_params *ps, const float *grad)
{
    a->step++;
    /* scalars rounded to float32 the way PyTorch passes them to its kernels */
    const float b1 = (float)a->p.beta1, b2 = (float)a->p.beta2, wd = (float)a->p.weight_decay;
    const float omb1 = (float)(1.0 - a->p.beta1), omb2 = (float)(1.0 - a->p.beta2);
    const double bc1 = 1.0 - pow(a->p.beta1, (double)a->step);
    const double bc2 = 1.0 - pow(a->p.beta2, (double)a->step);
    const float step_size = (float)(a->p.lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)a->p.eps;
    for (int i = 0; i < ps->np; i++) {
        const sdd_pinfo *pi = &ps->p[i];
        if (!pi->trainable) continue;
        float *th = ps->data + pi->off, *m = a->m + pi->off, *v = a->v + pi->off;
        const float *g = grad + pi->off;
        for (size_t k = 0; k < pi->numel; k++) {
            float gk = g[k];
            if (wd != 0.0f) gk += wd * th[k];
            m[k] = b1 * m[k] + omb1 * gk;
            v[k] = b2 * v[k] + omb2 * (gk * gk);
            const float denom = sqrtf(v[k]) / bc2_sqrt + eps;
            th[k] -= step_size * (m[k] / denom);
        }
    }
}
