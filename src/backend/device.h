/* Compute devices: the CPU (always) and one CUDA GPU (builds with
 * `make CUDA=1`, which defines SDD_CUDA). A context switched to CUDA keeps
 * its activations in device memory and runs every op's CUDA implementation
 * (backend/cuda.h); the model's parameters get a device copy (params->ddata).
 * Host <-> device copies happen only when a batch is uploaded, logits come
 * back, or parameters are uploaded/downloaded. In a build without CUDA every
 * request for the CUDA device fails with "built without CUDA (make CUDA=1)". */
#ifndef SDD_BACKEND_DEVICE_H
#define SDD_BACKEND_DEVICE_H
#include <stddef.h>
#include "core/error.h"

#define SDD_DEV_CPU 0
#define SDD_DEV_CUDA 1

struct sdd_ctx;
struct sdd_params;

/* "cpu" or "cuda" -> SDD_DEV_*; -1 with a reason otherwise. */
int sdd_device_parse(const char *name, int *dev, sdd_err *e);
/* 1 when this build has the CUDA backend. */
int sdd_device_cuda_built(void);
/* 0 when dev can run here; else -1 with the reason ("built without CUDA
 * (make CUDA=1)", "no CUDA device: ..."). Fills name (the card) when not NULL. */
int sdd_device_check(int dev, char *name, size_t cap, sdd_err *e);
/* Switches c (fresh from sdd_ctx_init) to dev: for CUDA, sets up the device
 * arena and uploads c->params. -1 with a reason. */
int sdd_ctx_set_device(struct sdd_ctx *c, int dev, sdd_err *e);
/* Copies ps->data to the device block (allocated on first use). */
int sdd_params_upload(struct sdd_params *ps, sdd_err *e);
/* Copies the device block back to ps->data. */
int sdd_params_download(struct sdd_params *ps, sdd_err *e);
/* Device tensor data <-> host; -1 with a reason. */
int sdd_device_to_host(float *dst, const float *src, size_t n, sdd_err *e);
int sdd_device_from_host(float *dst, const float *src, size_t n, sdd_err *e);
/* Device memory dst[0, n) = src[0, n) (not overlapping); -1 with a reason. */
int sdd_device_copy(float *dst, const float *src, size_t n, sdd_err *e);
/* free and total bytes of the CUDA device's memory */
int sdd_device_mem_info(size_t *free_b, size_t *total_b, sdd_err *e);
/* Device memory: zero n floats; add v to each of n floats. -1 with a reason. */
int sdd_device_zero(float *dst, size_t n, sdd_err *e);
int sdd_device_add_const(float *dst, size_t n, float v, sdd_err *e);
/* Allocates n per-path device gradient buffers (ps->dgrad, one zeroed block;
 * kept when already that many; its tail is ps->ddots, the scratch of the
 * dot products below) / zeroes them. */
int sdd_params_alloc_dgrads(struct sdd_params *ps, int n, sdd_err *e);
int sdd_params_zero_dgrads(struct sdd_params *ps, sdd_err *e);
/* The optimiser step's device work (backend/cuda.h; -1 with a reason):
 * dots[0..2] = g0.g0, g1.g1, g0.g1 (double, in a fixed order; scratch:
 * ps->ddots of the block's sdd_params); out = a0 g0 + a1 g1 (g1 may be NULL,
 * out may be g0); |g|^2 and whether every entry is finite; Adam over the
 * ranges (off, len) of the block. */
int sdd_device_dots(const float *g0, const float *g1, size_t n, double *scratch, double *dots, sdd_err *e);
int sdd_device_combine(const float *g0, const float *g1, size_t n, double a0, double a1, float *out, sdd_err *e);
int sdd_device_norm2_finite(const float *g, size_t n, double *scratch, double *norm2, int *finite, sdd_err *e);
int sdd_device_adam(float *theta, float *m, float *v, const float *grad, const size_t *off, const size_t *len, int nr,
                    float b1, float b2, float omb1, float omb2, float wd, float step_size, float bc2_sqrt, float eps, sdd_err *e);
/* n floats of device memory (uninitialised); NULL with a reason */
float *sdd_device_alloc(size_t n, sdd_err *e);
/* Frees device memory (NULL is fine; a no-op without CUDA). */
void sdd_device_free(void *p);

#endif
