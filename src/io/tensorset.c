/* Owns sdd_tensorset (see tensorset.h): dtype table, tensor/metadata storage
 * and the open-addressing name index used for lookups and duplicate checks.
 * Errors here name no file; the loaders prefix the file they are reading. */
#include "io/tensorset.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct { const char *name; size_t size; } dtype_tab[SDD_DTYPE_COUNT] = {
    [SDD_F32] = {"F32", 4},  [SDD_F64] = {"F64", 8}, [SDD_F16] = {"F16", 2},
    [SDD_BF16] = {"BF16", 2}, [SDD_I64] = {"I64", 8}, [SDD_I32] = {"I32", 4},
    [SDD_I16] = {"I16", 2},  [SDD_I8] = {"I8", 1},   [SDD_U8] = {"U8", 1},
    [SDD_BOOL] = {"BOOL", 1},
};

size_t sdd_dtype_size(sdd_dtype dt)
{
    return ((unsigned)dt < SDD_DTYPE_COUNT) ? dtype_tab[dt].size : 0;
}

const char *sdd_dtype_name(sdd_dtype dt)
{
    return ((unsigned)dt < SDD_DTYPE_COUNT) ? dtype_tab[dt].name : "?";
}

int sdd_dtype_from_name(const char *name, sdd_dtype *dt)
{
    if (!name) return -1;
    for (int i = 0; i < SDD_DTYPE_COUNT; i++)
        if (strcmp(name, dtype_tab[i].name) == 0) { *dt = (sdd_dtype)i; return 0; }
    return -1;
}

int sdd_shape_numel(int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > SDD_TENSOR_MAXDIM) return -1;
    const int64_t lim = INT64_MAX / 8;
    int64_t n = 1;
    int zero = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) { zero = 1; continue; }
        if (n > lim / shape[i]) return -1;
        n *= shape[i];
    }
    *numel = zero ? 0 : n;
    return 0;
}

void sdd_tensorset_init(sdd_tensorset *ts)
{
    memset(ts, 0, sizeof *ts);
}

void sdd_tensorset_free(sdd_tensorset *ts)
{
    if (!ts) return;
    for (int i = 0; i < ts->n; i++) {
        free(ts->t[i].name);
        if (!ts->t[i].borrowed_) free(ts->t[i].data);
    }
    for (int i = 0; i < ts->nmeta; i++) {
        free(ts->meta_key[i]);
        free(ts->meta_val[i]);
    }
    free(ts->t);
    free(ts->meta_key);
    free(ts->meta_val);
    free(ts->hidx_);
    if (ts->file_) fclose(ts->file_);
    memset(ts, 0, sizeof *ts);
}

/* FNV-1a */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Slot holding name, or the empty slot where it would go. */
static int index_slot(const sdd_tensorset *ts, const char *name)
{
    unsigned mask = (unsigned)ts->hcap_ - 1, i = name_hash(name) & mask;
    while (ts->hidx_[i] >= 0 && strcmp(ts->t[ts->hidx_[i]].name, name) != 0)
        i = (i + 1) & mask;
    return (int)i;
}

/* Makes room in the index for one more entry (load factor <= 1/2). */
static int index_reserve(sdd_tensorset *ts)
{
    if (ts->hcap_ && (ts->n + 1) * 2 <= ts->hcap_) return 0;
    if (ts->n >= (1 << 28)) return -1;
    int cap = ts->hcap_ ? ts->hcap_ * 2 : 64;
    while ((ts->n + 1) * 2 > cap) cap *= 2;
    int *h = malloc((size_t)cap * sizeof *h);
    if (!h) return -1;
    int *old = ts->hidx_;
    ts->hidx_ = h;
    ts->hcap_ = cap;
    for (int i = 0; i < cap; i++) h[i] = -1;
    for (int k = 0; k < ts->n; k++) h[index_slot(ts, ts->t[k].name)] = k;
    free(old);
    return 0;
}

const sdd_ntensor *sdd_tensorset_find(const sdd_tensorset *ts, const char *name)
{
    if (!ts || !name || ts->n == 0) return NULL;
    if (ts->hcap_ == 0) {   /* no index (should not happen): linear scan */
        for (int i = 0; i < ts->n; i++)
            if (strcmp(ts->t[i].name, name) == 0) return &ts->t[i];
        return NULL;
    }
    int k = ts->hidx_[index_slot(ts, name)];
    return k >= 0 ? &ts->t[k] : NULL;
}

/* data owned (freed by the set, or here on failure) or borrowed (never
 * freed); or, with file, no data: the bytes are in file at foff */
static int add_impl(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim, const int64_t *shape, void *data, size_t nbytes,
                    int owned, void *file, uint64_t foff, sdd_err *e)
{
    void *drop = owned ? data : NULL;   /* what a failure frees */
    int64_t numel;
    if (!name) { free(drop); return sdd_err_set(e, "tensorset: tensor name is NULL"); }
    if (sdd_dtype_size(dtype) == 0) {
        free(drop);
        return sdd_err_set(e, "tensorset: tensor '%s': bad dtype %d", name, (int)dtype);
    }
    if ((ndim > 0 && !shape) || sdd_shape_numel(ndim, shape, &numel) < 0) {
        free(drop);
        return sdd_err_set(e, "tensorset: tensor '%s': bad shape (ndim %d)", name, ndim);
    }
    if ((uint64_t)numel * sdd_dtype_size(dtype) != (uint64_t)nbytes) {
        free(drop);
        return sdd_err_set(e, "tensorset: tensor '%s': %zu bytes given, %s x %lld elements need %llu",
                           name, nbytes, sdd_dtype_name(dtype), (long long)numel,
                           (unsigned long long)numel * sdd_dtype_size(dtype));
    }
    if (nbytes > 0 && !data && !file) {
        free(drop);
        return sdd_err_set(e, "tensorset: tensor '%s': no data", name);
    }
    if (sdd_tensorset_find(ts, name)) {
        free(drop);
        return sdd_err_set(e, "tensorset: duplicate tensor name '%s'", name);
    }
    if (index_reserve(ts) < 0) { free(drop); return sdd_err_set(e, "tensorset: out of memory"); }
    if (ts->n == ts->cap) {
        int cap = ts->cap ? ts->cap * 2 : 16;
        sdd_ntensor *t = realloc(ts->t, (size_t)cap * sizeof *t);
        if (!t) { free(drop); return sdd_err_set(e, "tensorset: out of memory"); }
        ts->t = t;
        ts->cap = cap;
    }
    char *nm = strdup(name);
    if (!nm) { free(drop); return sdd_err_set(e, "tensorset: out of memory"); }
    sdd_ntensor *t = &ts->t[ts->n];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = nbytes ? data : NULL;
    if (!nbytes) free(drop);
    t->nbytes = nbytes;
    t->borrowed_ = nbytes && !owned;
    if (nbytes && !data) { t->file_ = file; t->foff_ = foff; }
    ts->hidx_[index_slot(ts, nm)] = ts->n;
    ts->n++;
    return 0;
}

int sdd_tensorset_add_owned(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim,
                            const int64_t *shape, void *data, size_t nbytes, sdd_err *e)
{
    return add_impl(ts, name, dtype, ndim, shape, data, nbytes, 1, NULL, 0, e);
}

int sdd_tensorset_add_ref(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim,
                          const int64_t *shape, const void *data, size_t nbytes, sdd_err *e)
{
    return add_impl(ts, name, dtype, ndim, shape, (void *)data, nbytes, 0, NULL, 0, e);
}

int sdd_tensorset_add_on_file_(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim, const int64_t *shape,
                               size_t nbytes, void *file, uint64_t foff, sdd_err *e)
{
    if (!file) return sdd_err_set(e, "tensorset: tensor '%s': no file", name ? name : "(null)");
    return add_impl(ts, name, dtype, ndim, shape, NULL, nbytes, 0, file, foff, e);
}

int sdd_tensorset_add_view(sdd_tensorset *ts, const char *name, const sdd_ntensor *src, sdd_err *e)
{
    return add_impl(ts, name, src->dtype, src->ndim, src->shape, src->data, src->nbytes, 0, src->data ? NULL : src->file_,
                    src->foff_, e);
}

int sdd_tensor_read(const sdd_ntensor *t, void *dst, sdd_err *e)
{
    if (!t->nbytes) return 0;
    if (t->data) { memcpy(dst, t->data, t->nbytes); return 0; }
    if (!t->file_) return sdd_err_set(e, "tensor %s: no data", t->name);
    const int fd = fileno((FILE *)t->file_);
    size_t done = 0;
    while (done < t->nbytes) {
        /* pread moves at most about 2 GB a call on Linux */
        const size_t want = t->nbytes - done < ((size_t)1 << 30) ? t->nbytes - done : (size_t)1 << 30;
        const ssize_t got = pread(fd, (char *)dst + done, want, (off_t)(t->foff_ + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return sdd_err_set(e, "tensor %s: read failed: %s", t->name, strerror(errno));
        if (got == 0) return sdd_err_set(e, "tensor %s: the file shrank after it was opened", t->name);
        done += (size_t)got;
    }
    return 0;
}

int sdd_tensorset_add(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim,
                      const int64_t *shape, const void *data, size_t nbytes, sdd_err *e)
{
    void *copy = NULL;
    if (nbytes > 0) {
        /* size is validated by add_owned; refuse absurd sizes before malloc */
        int64_t numel;
        if ((ndim > 0 && !shape) || sdd_shape_numel(ndim, shape, &numel) < 0 ||
            (uint64_t)numel * sdd_dtype_size(dtype) != (uint64_t)nbytes)
            return sdd_tensorset_add_owned(ts, name, dtype, ndim, shape, NULL, nbytes, e);
        copy = data ? malloc(nbytes) : calloc(1, nbytes);
        if (!copy) return sdd_err_set(e, "tensorset: out of memory (%zu bytes for '%s')",
                                      nbytes, name ? name : "(null)");
        if (data) memcpy(copy, data, nbytes);
    }
    return sdd_tensorset_add_owned(ts, name, dtype, ndim, shape, copy, nbytes, e);
}

int sdd_tensorset_set_meta(sdd_tensorset *ts, const char *key, const char *val, sdd_err *e)
{
    if (!key || !val) return sdd_err_set(e, "tensorset: metadata key or value is NULL");
    char *v = strdup(val);
    if (!v) return sdd_err_set(e, "tensorset: out of memory");
    for (int i = 0; i < ts->nmeta; i++)
        if (strcmp(ts->meta_key[i], key) == 0) {
            free(ts->meta_val[i]);
            ts->meta_val[i] = v;
            return 0;
        }
    if (ts->nmeta == ts->metacap) {
        int cap = ts->metacap ? ts->metacap * 2 : 8;
        char **k2 = realloc(ts->meta_key, (size_t)cap * sizeof *k2);
        if (!k2) { free(v); return sdd_err_set(e, "tensorset: out of memory"); }
        ts->meta_key = k2;
        char **v2 = realloc(ts->meta_val, (size_t)cap * sizeof *v2);
        if (!v2) { free(v); return sdd_err_set(e, "tensorset: out of memory"); }
        ts->meta_val = v2;
        ts->metacap = cap;
    }
    char *k = strdup(key);
    if (!k) { free(v); return sdd_err_set(e, "tensorset: out of memory"); }
    ts->meta_key[ts->nmeta] = k;
    ts->meta_val[ts->nmeta] = v;
    ts->nmeta++;
    return 0;
}

const char *sdd_tensorset_get_meta(const sdd_tensorset *ts, const char *key)
{
    if (!ts || !key) return NULL;
    for (int i = 0; i < ts->nmeta; i++)
        if (strcmp(ts->meta_key[i], key) == 0) return ts->meta_val[i];
    return NULL;
}
