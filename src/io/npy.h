/* Reading NumPy files without Python: the .npy format (magic "\x93NUMPY",
 * version 1, 2 or 3, a header dict with 'descr', 'fortran_order' and
 * 'shape'; little-endian float64/float32 data) and the pickled object arrays
 * NumPy writes with ndarray.dump() (a bare pickle, no .npy header: what the
 * ASVspoof 2021 eval-package's LA-C012-eval.npy is) or with np.save of an
 * object array (.npy header with descr '|O', then a pickle).
 *
 * The pickle side is a small stack machine for exactly the objects such files
 * hold: None, bools, ints (up to 64 bits), floats, str, bytes (including
 * protocol 2's _codecs.encode(str, 'latin1') form), tuples, lists, dicts,
 * numpy dtypes, numpy scalars of float64/float32/int64/int32/bool and
 * ndarrays (numpy.core.multiarray._reconstruct or numpy._core's, then BUILD
 * with (version, shape, dtype, fortran, data)). Any other global or opcode is
 * refused with a message naming it and the byte offset: nothing is ever
 * imported or called. Objects shared through the pickle memo are shared in
 * the result (the tree is a graph); everything is freed by sdd_npy_free. */
#ifndef SDD_IO_NPY_H
#define SDD_IO_NPY_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

typedef enum {
    SDD_PY_NONE, SDD_PY_BOOL, SDD_PY_INT, SDD_PY_FLOAT, SDD_PY_STR, SDD_PY_BYTES,
    SDD_PY_TUPLE, SDD_PY_LIST, SDD_PY_DICT, SDD_PY_ARRAY,
    SDD_PY_INTERNAL /* a numpy dtype or one of the allowed globals kept as data: opaque */
} sdd_py_kind;

#define SDD_NPY_MAXDIM 16

typedef struct sdd_py sdd_py;
struct sdd_py {
    sdd_py_kind kind;
    int64_t i;            /* BOOL (0/1), INT */
    double f;             /* FLOAT (also numpy float scalars) */
    char *s;              /* STR (UTF-8) and BYTES, NUL-terminated; len bytes */
    size_t len;
    sdd_py **v;           /* TUPLE, LIST: n items; DICT: n (key, value) pairs as v[2k], v[2k+1];
                             object ARRAY: n elements in C order */
    size_t n;
    int ndim;             /* ARRAY */
    int64_t shape[SDD_NPY_MAXDIM];
    int is_object;        /* ARRAY of Python objects (v) rather than numbers (data) */
    double *data;         /* numeric ARRAY: n values in C order, as double */
    sdd_py *all_next;     /* internal: every object of a file, for freeing */
    int tag;              /* internal */
};

typedef struct {
    sdd_py *root;         /* the file's object: an ARRAY for .npy files */
    sdd_py *all;          /* internal */
    int pickled;          /* 1 when the data came from a pickle */
} sdd_npy;

/* Reads PATH. Returns 0, or -1 with e = "PATH: reason" (at byte N where it
 * helps) and *f empty. */
int sdd_npy_load(const char *path, sdd_npy *f, sdd_err *e);
/* The same on a buffer; name is used in messages. */
int sdd_npy_parse(const unsigned char *buf, size_t n, const char *name, sdd_npy *f, sdd_err *e);
void sdd_npy_free(sdd_npy *f);

/* d[key] for a DICT with str keys, NULL when absent or d is not a dict. */
const sdd_py *sdd_py_dict_get(const sdd_py *d, const char *key);
/* s made safe for a one-line message: at most cap-1 bytes, control bytes
 * (below 0x20, 0x7f) replaced by '?'. Returns buf. */
const char *sdd_py_printable(const char *s, char *buf, size_t cap);
/* "None", "dict", "ndarray", ... for messages. */
const char *sdd_py_kind_name(const sdd_py *o);

#endif
