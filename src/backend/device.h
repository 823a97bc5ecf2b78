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
/* Frees device memory (NULL is fine; a no-op without CUDA). */
void sdd_device_free(void *p);

#endif
