/* Owns the flat parameter block (see params.h). */
#include "core/params.h"
#include "backend/device.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

void sdd_params_init(sdd_params *ps) { memset(ps, 0, sizeof *ps); }

void sdd_params_free(sdd_params *ps)
{
    free(ps->p);
    free(ps->slot);
    free(ps->data);
    free(ps->grad[0]);  /* one block holds every path's gradient */
    for (int i = 0; i < SDD_MAX_PATHS; i++) ps->grad[i] = NULL;
    sdd_device_free(ps->ddata);
    sdd_device_free(ps->dgrad[0]);  /* one block, as grad */
    memset(ps, 0, sizeof *ps);
}

/* FNV-1a */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void slot_put(int *slot, int nslot, const char *name, int idx)
{
    uint32_t k = name_hash(name) & (uint32_t)(nslot - 1);
    while (slot[k]) k = (k + 1) & (uint32_t)(nslot - 1);
    slot[k] = idx + 1;
}

/* room in the index for one more name, kept at most half full */
static int slot_reserve(sdd_params *ps)
{
    if (2 * (ps->np + 1) <= ps->nslot) return 0;
    const int n = ps->nslot ? 2 * ps->nslot : 256;
    int *slot = calloc((size_t)n, sizeof *slot);
    if (!slot) return -1;
    for (int i = 0; i < ps->np; i++) slot_put(slot, n, ps->p[i].name, i);
    free(ps->slot);
    ps->slot = slot;
    ps->nslot = n;
    return 0;
}

int sdd_params_add(sdd_params *ps, const char *name, int nd, const int64_t *shape, int trainable, sdd_err *e)
{
    if (ps->data) return sdd_err_set(e, "params: cannot add %s after allocation", name);
    if (nd < 0 || nd > SDD_MAX_DIMS) return sdd_err_set(e, "params: %s has %d dims", name, nd);
    if (strlen(name) >= sizeof ps->p[0].name) return sdd_err_set(e, "params: name too long: %s", name);
    if (sdd_params_find(ps, name) >= 0) return sdd_err_set(e, "params: duplicate name %s", name);
    if (slot_reserve(ps)) return sdd_err_set(e, "params: out of memory");
    if (ps->np == ps->cap) {
        int nc = ps->cap ? ps->cap * 2 : 64;
        sdd_pinfo *np = realloc(ps->p, (size_t)nc * sizeof *np);
        if (!np) return sdd_err_set(e, "params: out of memory");
        ps->p = np;
        ps->cap = nc;
    }
    sdd_pinfo *pi = &ps->p[ps->np];
    memset(pi, 0, sizeof *pi);
    snprintf(pi->name, sizeof pi->name, "%s", name);
    pi->nd = nd;
    pi->numel = 1;
    for (int d = 0; d < nd; d++) {
        if (shape[d] < 0) return sdd_err_set(e, "params: %s has a negative dim", name);
        pi->shape[d] = shape[d];
        pi->numel *= (size_t)shape[d];
    }
    pi->trainable = trainable;
    slot_put(ps->slot, ps->nslot, pi->name, ps->np);
    pi->off = ps->total;
    ps->total += (pi->numel + 15) & ~(size_t)15;
    if (trainable) ps->ntrainable += pi->numel;
    return ps->np++;
}

static float *alloc_floats(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) return NULL;
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

int sdd_params_addf(sdd_params *ps, sdd_err *e, int trainable, int nd, int64_t d0, int64_t d1, int64_t d2,
                    int64_t d3, const char *fmt, ...)
{
    char name[sizeof ps->p[0].name + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof ps->p[0].name) return sdd_err_set(e, "params: name too long: %s...", name);
    const int64_t shape[SDD_MAX_DIMS] = { d0, d1, d2, d3 };
    return sdd_params_add(ps, name, nd, shape, trainable, e);
}

int sdd_params_alloc(sdd_params *ps, sdd_err *e)
{
    free(ps->data);
    ps->data = alloc_floats(ps->total);
    if (!ps->data) return sdd_err_set(e, "params: out of memory (%zu floats)", ps->total);
    return 0;
}

int sdd_params_alloc_grads(sdd_params *ps, int n, sdd_err *e)
{
    if (n < 1 || n > SDD_MAX_PATHS) return sdd_err_set(e, "params: %d gradient buffers (max %d)", n, SDD_MAX_PATHS);
    free(ps->grad[0]);
    for (int i = 0; i < SDD_MAX_PATHS; i++) ps->grad[i] = NULL;
    ps->ngrad = 0;
    /* one contiguous (n, total) block, so data-parallel training sums every
     * path's gradient in one all-reduce */
    const size_t stride = (ps->total + 15) & ~(size_t)15;   /* 64-byte aligned paths */
    float *blk = alloc_floats((size_t)n * stride);
    if (!blk) return sdd_err_set(e, "params: out of memory for gradients");
    for (int i = 0; i < n; i++) ps->grad[i] = blk + (size_t)i * stride;
    ps->ngrad = n;
    return 0;
}

void sdd_params_zero_grads(sdd_params *ps)
{
    for (int i = 0; i < ps->ngrad; i++) memset(ps->grad[i], 0, ps->total * sizeof(float));
}

int sdd_params_find(const sdd_params *ps, const char *name)
{
    if (!ps->nslot) return -1;
    uint32_t k = name_hash(name) & (uint32_t)(ps->nslot - 1);
    for (; ps->slot[k]; k = (k + 1) & (uint32_t)(ps->nslot - 1))
        if (strcmp(ps->p[ps->slot[k] - 1].name, name) == 0) return ps->slot[k] - 1;
    return -1;
}
