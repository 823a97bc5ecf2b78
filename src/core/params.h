/* The flat parameter block. Every parameter and buffer of a model is
 * registered by name (the PyTorch state-dict key) and shape, then lives in one
 * contiguous float array. Gradients are kept per path: grad[p] has the same
 * layout as data, so alignment, cosines and Adam are single loops over
 * `total` floats. Buffers (BatchNorm running statistics) live in the same
 * block but are not trainable; their gradient slots stay zero. */
#ifndef SDD_CORE_PARAMS_H
#define SDD_CORE_PARAMS_H
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

#define SDD_MAX_PATHS 4
#define SDD_MAX_DIMS 4

typedef struct {
    char name[112];
    int nd;
    int64_t shape[SDD_MAX_DIMS];
    size_t off, numel;
    int trainable;             /* 0 for buffers and fixed tensors */
} sdd_pinfo;

typedef struct sdd_params {
    sdd_pinfo *p;
    int np, cap;
    int *slot, nslot;          /* name index: open addressing, p index + 1 per slot (0 empty), nslot a power of two */
    float *data;               /* (total,) values */
    float *grad[SDD_MAX_PATHS];/* (total,) per-path gradient, NULL until allocated */
    int ngrad;
    float *ddata;              /* (total,) device copy of data (backend/device.h), NULL on the CPU */
    float *dgrad[SDD_MAX_PATHS];/* (total,) per-path gradients in device memory (one block), NULL until allocated */
    int ndgrad;
    double *ddots;             /* device scratch of the gradient dot products (the dgrad block's tail) */
    size_t total;
    size_t ntrainable;         /* number of trainable floats */
} sdd_params;

void sdd_params_init(sdd_params *ps);
void sdd_params_free(sdd_params *ps);
/* Registers a tensor; returns its index or -1. Shape dims as int64, nd <= 4. */
int sdd_params_add(sdd_params *ps, const char *name, int nd, const int64_t *shape, int trainable, sdd_err *e);
/* sdd_params_add with the name formatted printf-style and the shape given as
 * nd of d0..d3 (the rest ignored): the registration call every model makes. A
 * name longer than sdd_pinfo.name is an error, not a truncation. */
int sdd_params_addf(sdd_params *ps, sdd_err *e, int trainable, int nd, int64_t d0, int64_t d1, int64_t d2,
                    int64_t d3, const char *fmt, ...) __attribute__((format(printf, 9, 10)));
/* Allocates the value block (zeroed) after registration; offsets are 16-float aligned. */
int sdd_params_alloc(sdd_params *ps, sdd_err *e);
/* Allocates n per-path gradient buffers (zeroed). */
int sdd_params_alloc_grads(sdd_params *ps, int n, sdd_err *e);
void sdd_params_zero_grads(sdd_params *ps);
/* Index of the tensor named name, or -1 (a hash lookup: a model load finds
 * every tensor of its file). */
int sdd_params_find(const sdd_params *ps, const char *name);
static inline float *sdd_params_ptr(const sdd_params *ps, int i) { return ps->data + ps->p[i].off; }

#endif
