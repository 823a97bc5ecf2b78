/* In-memory named tensor collection (sdd_tensorset): what the model-file
 * loaders (safetensors.c, pth.c) produce and the safetensors writer consumes.
 * Owns: the dtype enum and its sizes/names, the tensor and string-metadata
 * containers, name lookup, reading a tensor's bytes wherever they are
 * (sdd_tensor_read). A tensor's data is laid out contiguously (row-major,
 * little-endian as on the host): a heap copy it owns, a caller's buffer it
 * borrows, or bytes left in an open file (sets from sdd_safetensors_open and
 * views of them: data NULL, read with sdd_tensor_read). */
#ifndef SDD_IO_TENSORSET_H
#define SDD_IO_TENSORSET_H
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

#define SDD_TENSOR_MAXDIM 8

typedef enum {
    SDD_F32, SDD_F64, SDD_F16, SDD_BF16, SDD_I64, SDD_I32, SDD_I16, SDD_I8, SDD_U8, SDD_BOOL
} sdd_dtype;
#define SDD_DTYPE_COUNT 10

typedef struct {
    char *name;
    sdd_dtype dtype;
    int ndim;
    int64_t shape[SDD_TENSOR_MAXDIM];
    void *data;     /* nbytes bytes; NULL when nbytes == 0 or the bytes are on file */
    size_t nbytes;  /* numel * sdd_dtype_size(dtype) */
    int borrowed_;  /* private: data belongs to the caller (sdd_tensorset_add_ref) */
    void *file_;    /* private: with data NULL and nbytes > 0, the FILE * holding the bytes at foff_ */
    uint64_t foff_;
} sdd_ntensor;

/* Fields are readable; change them only through the functions below (the
 * private name index must stay in step with t[]). Zero-initialised memory
 * ({0}) is a valid empty set, as is one after sdd_tensorset_init. */
typedef struct {
    sdd_ntensor *t;
    int n, cap;
    char **meta_key, **meta_val;
    int nmeta, metacap;
    int *hidx_;     /* private: open-addressing index of t[] by name */
    int hcap_;      /* private: slots in hidx_ (0 or a power of two) */
    void *file_;    /* private: the FILE * its tensors' bytes are read from (sdd_safetensors_open), closed by free */
} sdd_tensorset;

/* Bytes per element (1..8); 0 for a value outside the enum. */
size_t sdd_dtype_size(sdd_dtype dt);
/* safetensors spelling: "F32", "F64", "F16", "BF16", "I64", "I32", "I16",
 * "I8", "U8", "BOOL"; "?" for a value outside the enum. */
const char *sdd_dtype_name(sdd_dtype dt);
/* Parses the spelling above; returns 0 and sets *dt, or -1 when unknown. */
int sdd_dtype_from_name(const char *name, sdd_dtype *dt);

/* Number of elements of a shape (1 for ndim 0). Returns 0 and sets *numel, or
 * -1 when ndim is outside 0..8, a dimension is negative, or the element count
 * times 8 bytes would overflow int64. */
int sdd_shape_numel(int ndim, const int64_t *shape, int64_t *numel);

void sdd_tensorset_init(sdd_tensorset *ts);
/* Frees everything and leaves an empty, reusable set. */
void sdd_tensorset_free(sdd_tensorset *ts);

/* Appends a tensor, copying name and data (data may be NULL: zero-filled).
 * Fails (-1, e set) on a NULL or duplicate name ("" is allowed), a bad
 * dtype or shape, nbytes != numel * dtype size, or out of memory. */
int sdd_tensorset_add(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim,
                      const int64_t *shape, const void *data, size_t nbytes, sdd_err *e);
/* Same, but takes ownership of data (malloc'd; freed by the set, or right
 * away when the call fails) instead of copying it. */
int sdd_tensorset_add_owned(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim,
                            const int64_t *shape, void *data, size_t nbytes, sdd_err *e);

/* Same, but borrows data: the set points at the caller's buffer, never
 * copies or frees it; it must stay valid and unchanged while the set is used.
 * For writers of large buffers (a training state of 300M-parameter models
 * would otherwise be copied whole before it is written). Nothing is freed on
 * failure. */
int sdd_tensorset_add_ref(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim,
                          const int64_t *shape, const void *data, size_t nbytes, sdd_err *e);

/* Appends a tensor named name that borrows src's bytes wherever they are
 * (memory or an open file; dtype and shape as src's): src's set must outlive
 * this one. For renaming the tensors of a GB-sized checkpoint without a copy.
 * Fails as sdd_tensorset_add_ref. */
int sdd_tensorset_add_view(sdd_tensorset *ts, const char *name, const sdd_ntensor *src, sdd_err *e);

/* private, for sdd_safetensors_open: a tensor whose nbytes bytes stay in
 * the open FILE * file at offset foff (the set does not own file) */
int sdd_tensorset_add_on_file_(sdd_tensorset *ts, const char *name, sdd_dtype dtype, int ndim, const int64_t *shape,
                               size_t nbytes, void *file, uint64_t foff, sdd_err *e);

/* Copies t's nbytes into dst, from memory or from its file (pread: no file
 * position shared). -1 (e set, naming the tensor) when the read fails or the
 * file has shrunk since it was opened. */
int sdd_tensor_read(const sdd_ntensor *t, void *dst, sdd_err *e);

/* The tensor named name, or NULL. */
const sdd_ntensor *sdd_tensorset_find(const sdd_tensorset *ts, const char *name);

/* Sets (adds or replaces) a string metadata entry; copies both strings. */
int sdd_tensorset_set_meta(sdd_tensorset *ts, const char *key, const char *val, sdd_err *e);
/* The value for key, or NULL. */
const char *sdd_tensorset_get_meta(const sdd_tensorset *ts, const char *key);

#endif
