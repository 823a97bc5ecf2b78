/* Owns device selection and the host side of device memory (see device.h).
 * The CUDA calls themselves are in cuda_rt.cu; without SDD_CUDA every CUDA
 * request fails with a clear reason. */
#include "backend/device.h"
#include "core/tensor.h"
#include <string.h>
#include <stdio.h>
#ifdef SDD_CUDA
#include "backend/cuda.h"
#endif

#define NO_CUDA "built without CUDA (make CUDA=1)"

int sdd_device_parse(const char *name, int *dev, sdd_err *e)
{
    if (!strcmp(name, "cpu")) { *dev = SDD_DEV_CPU; return 0; }
    if (!strcmp(name, "cuda")) { *dev = SDD_DEV_CUDA; return 0; }
    return sdd_err_set(e, "unknown device '%s' (cpu or cuda)", name);
}

int sdd_device_cuda_built(void)
{
#ifdef SDD_CUDA
    return 1;
#else
    return 0;
#endif
}

int sdd_device_check(int dev, char *name, size_t cap, sdd_err *e)
{
    if (dev == SDD_DEV_CPU) {
        if (name && cap) snprintf(name, cap, "cpu");
        return 0;
    }
    if (dev != SDD_DEV_CUDA) return sdd_err_set(e, "unknown device %d", dev);
#ifdef SDD_CUDA
    return sdd_cu_init(name, cap, e);
#else
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_ctx_set_device(sdd_ctx *c, int dev, sdd_err *e)
{
    if (sdd_device_check(dev, NULL, 0, e)) return -1;
    if (dev == SDD_DEV_CPU) { c->dev = 0; return 0; }
#ifdef SDD_CUDA
    if (sdd_params_upload(c->params, e)) return -1;
    sdd_arena_free(&c->darena);
    /* chunks of 1 GiB: one AASIST block's temporaries at batch 32 fit in one */
    sdd_arena_init_with(&c->darena, (size_t)1 << 30, sdd_cu_malloc, sdd_cu_free);
    c->dev = 1;
    return 0;
#else
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_params_upload(sdd_params *ps, sdd_err *e)
{
#ifdef SDD_CUDA
    if (!ps->ddata && !(ps->ddata = sdd_cu_malloc((ps->total ? ps->total : 1) * sizeof(float))))
        return sdd_err_set(e, "out of device memory for %zu parameters", ps->total);
    return sdd_cu_copy(ps->ddata, ps->data, ps->total * sizeof(float), 1, e);
#else
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_params_download(sdd_params *ps, sdd_err *e)
{
#ifdef SDD_CUDA
    if (!ps->ddata) return sdd_err_set(e, "parameters were never uploaded to the device");
    return sdd_cu_copy(ps->data, ps->ddata, ps->total * sizeof(float), 0, e);
#else
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_device_to_host(float *dst, const float *src, size_t n, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_copy(dst, src, n * sizeof(float), 0, e);
#else
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_device_from_host(float *dst, const float *src, size_t n, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_copy(dst, src, n * sizeof(float), 1, e);
#else
    return sdd_err_set(e, NO_CUDA);
#endif
}

void sdd_device_free(void *p)
{
#ifdef SDD_CUDA
    if (p) sdd_cu_free(p);
#else
    (void)p;
#endif
}
