/* Owns device selection and the host side of device memory (see device.h).
 * The CUDA calls themselves are in cuda_rt.cu; without SDD_CUDA every CUDA
 * request fails with a clear reason. */
#include "backend/device.h"
#include "core/tensor.h"
#include <string.h>
#include <stdio.h>
#include <math.h>
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

#ifdef SDD_CU_EMU
/* the emulation build: device scratch memory is NaN before its first use in
 * each pass (sdd_arena's mem_poison), so a kernel that leaves part of its
 * output unwritten shows in the tests instead of passing on zeros or the
 * previous pass's values */
static void emu_poison(void *p, size_t bytes)
{
    sdd_err e;
    sdd_cu_fill((float *)p, bytes / sizeof(float), NAN, 0, &e);
}
#endif

int sdd_ctx_set_device(sdd_ctx *c, int dev, sdd_err *e)
{
    if (sdd_device_check(dev, NULL, 0, e)) return -1;
    if (dev == SDD_DEV_CPU) { c->dev = 0; return 0; }
#ifdef SDD_CUDA
    if (sdd_params_upload(c->params, e)) return -1;
    sdd_arena_free(&c->darena);
    /* chunks of 1 GiB: one AASIST block's temporaries at batch 32 fit in one */
    sdd_arena_init_with(&c->darena, (size_t)1 << 30, sdd_cu_malloc, sdd_cu_free);
#ifdef SDD_CU_EMU
    c->darena.mem_poison = emu_poison;
#endif
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

int sdd_device_copy(float *dst, const float *src, size_t n, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_copy_d2d(dst, src, n * sizeof(float), e);
#else
    (void)dst; (void)src; (void)n;
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_device_mem_info(size_t *free_b, size_t *total_b, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_mem_info(free_b, total_b, e);
#else
    (void)free_b; (void)total_b;
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_device_zero(float *dst, size_t n, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_fill(dst, n, 0.0f, 0, e);
#else
    (void)dst; (void)n;
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_device_add_const(float *dst, size_t n, float v, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_fill(dst, n, v, 1, e);
#else
    (void)dst; (void)n; (void)v;
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_params_alloc_dgrads(sdd_params *ps, int n, sdd_err *e)
{
#ifdef SDD_CUDA
    if (n < 1 || n > SDD_MAX_PATHS) return sdd_err_set(e, "params: %d device gradient buffers (max %d)", n, SDD_MAX_PATHS);
    if (ps->ndgrad != n) {
        sdd_cu_free(ps->dgrad[0]);
        for (int i = 0; i < SDD_MAX_PATHS; i++) ps->dgrad[i] = NULL;
        ps->ndgrad = 0;
        ps->ddots = NULL;
        /* the paths' buffers in one block, each 16-float aligned, then the
         * dot products' scratch (doubles: 2 floats each, 64-byte aligned) */
        const size_t stride = (ps->total + 15) / 16 * 16;
        float *blk = sdd_cu_malloc((stride * (size_t)n + 2 * sdd_cu_dots_scratch(ps->total)) * sizeof(float));
        if (!blk) return sdd_err_set(e, "out of device memory for %d gradient buffers of %zu floats", n, ps->total);
        for (int i = 0; i < n; i++) ps->dgrad[i] = blk + (size_t)i * stride;
        ps->ddots = (double *)(void *)(blk + stride * (size_t)n);
        ps->ndgrad = n;
    }
    return sdd_params_zero_dgrads(ps, e);
#else
    (void)ps; (void)n;
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_params_zero_dgrads(sdd_params *ps, sdd_err *e)
{
    for (int i = 0; i < ps->ndgrad; i++)
        if (sdd_device_zero(ps->dgrad[i], ps->total, e)) return -1;
    return 0;
}

int sdd_device_dots(const float *g0, const float *g1, size_t n, double *scratch, double *dots, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_dots(g0, g1, n, scratch, dots, e);
#else
    (void)g0; (void)g1; (void)n; (void)scratch; (void)dots;
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_device_combine(const float *g0, const float *g1, size_t n, double a0, double a1, float *out, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_combine(g0, g1, n, a0, a1, out, e);
#else
    (void)g0; (void)g1; (void)n; (void)a0; (void)a1; (void)out;
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_device_norm2_finite(const float *g, size_t n, double *scratch, double *norm2, int *finite, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_norm2_finite(g, n, scratch, norm2, finite, e);
#else
    (void)g; (void)n; (void)scratch; (void)norm2; (void)finite;
    return sdd_err_set(e, NO_CUDA);
#endif
}

int sdd_device_adam(float *theta, float *m, float *v, const float *grad, const size_t *off, const size_t *len, int nr,
                    float b1, float b2, float omb1, float omb2, float wd, float step_size, float bc2_sqrt, float eps, sdd_err *e)
{
#ifdef SDD_CUDA
    return sdd_cu_adam(theta, m, v, grad, off, len, nr, b1, b2, omb1, omb2, wd, step_size, bc2_sqrt, eps, e);
#else
    (void)theta; (void)m; (void)v; (void)grad; (void)off; (void)len; (void)nr; (void)b1; (void)b2; (void)omb1; (void)omb2;
    (void)wd; (void)step_size; (void)bc2_sqrt; (void)eps;
    return sdd_err_set(e, NO_CUDA);
#endif
}

float *sdd_device_alloc(size_t n, sdd_err *e)
{
#ifdef SDD_CUDA
    float *p = sdd_cu_malloc((n ? n : 1) * sizeof(float));
    if (!p) sdd_err_set(e, "out of device memory (%zu floats)", n);
    return p;
#else
    (void)n;
    sdd_err_set(e, NO_CUDA);
    return NULL;
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
