/* The pickle machine behind the .pth reader (internal to src/io; pth.c is its
 * only user): runs a torch.save data.pkl into a graph of inert objects. Owns
 * the object kinds, the allow-list of GLOBALs a state dict needs (OrderedDict,
 * the tensor and parameter rebuilders, typed storages, _codecs.encode) and
 * what happens to everything else: a GLOBAL outside the allow-list becomes an
 * "unknown global" value, and calling or instantiating it (REDUCE, NEWOBJ,
 * NEWOBJ_EX) gives an opaque placeholder that remembers only its class name;
 * the call's arguments, BUILD state and SETITEM(S)/APPEND(S) items are
 * dropped. Nothing from the file is ever executed. The caller decides where
 * such placeholders are acceptable (pth.c refuses them inside the state dict
 * it reads and ignores them elsewhere, e.g. fairseq's args and cfg). Memory is
 * bounded by the pickle's size and SDD_PTH_MAX_OBJECTS. */
#ifndef SDD_IO_PICKLE_H
#define SDD_IO_PICKLE_H
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "core/tensor.h"
#include "io/pth.h"

#define SDD_PK_MAX_DEPTH 256       /* container nesting */
#define SDD_PK_MAX_NAME 1024       /* GLOBAL names, storage keys */

enum { SDD_PO_NONE, SDD_PO_BOOL, SDD_PO_INT, SDD_PO_FLOAT, SDD_PO_STR, SDD_PO_BYTES, SDD_PO_TUPLE,
       SDD_PO_LIST, SDD_PO_DICT, SDD_PO_GLOBAL, SDD_PO_STORAGE, SDD_PO_TENSOR, SDD_PO_BIGINT,
       SDD_PO_OPAQUE };

/* GLOBALs the machine knows; SDD_PG_UNKNOWN is any other (kept by name, never resolved) */
enum { SDD_PG_ODICT, SDD_PG_REBUILD_V2, SDD_PG_REBUILD_V1, SDD_PG_PARAM, SDD_PG_PARAM_STATE,
       SDD_PG_ENCODE, SDD_PG_STORAGE, SDD_PG_UNKNOWN };

typedef struct sdd_pobj sdd_pobj;
typedef struct {   /* a tensor view: storage, element offset, sizes and strides */
    sdd_pobj *stor;
    int64_t off, size[SDD_TENSOR_MAXDIM], stride[SDD_TENSOR_MAXDIM];
    int ndim;
} sdd_ptensor;

struct sdd_pobj {
    sdd_pobj *all_next;
    unsigned char kind;
    unsigned char seen;   /* scratch mark for the caller's graph walks */
    int depth;
    union {
        int64_t i;
        double f;
        struct { char *s; size_t n; } str;           /* STR, BYTES: NUL-terminated copy */
        struct { sdd_pobj **v; size_t n, cap; } seq;  /* TUPLE, LIST; DICT: key,value pairs */
        struct { int id; sdd_dtype dtype; char *name; } glob;   /* name: "module.qualname" (UNKNOWN) */
        struct { sdd_dtype dtype; char *key; int64_t numel; unsigned char *data;
                 int uses; } stor;
        sdd_ptensor *ten;
        sdd_pobj *cls;                               /* OPAQUE: the unknown GLOBAL it came from */
    } u;
};

typedef struct {
    const char *fname, *member;     /* for messages */
    sdd_err *e;
    const unsigned char *p;         /* the pickle, n bytes */
    size_t n, pos, op_at;
    sdd_pobj **stack, **memo, *all; /* all: every object made, for freeing */
    size_t sn, scap, *marks, mn, mcap, memolen, memoset, nobj;
    sdd_pobj **stab;                /* storages by key (open addressing) */
    size_t stabcap, stabn;
} sdd_pvm;

/* Runs the pickle vm->p[0..n) (fname, member and e set, the rest zeroed); on
 * success *result is the object STOP returned. Errors name the file, member
 * and opcode offset. */
int sdd_pickle_run(sdd_pvm *vm, sdd_pobj **result);
/* Frees every object the run made and the machine's tables. */
void sdd_pickle_free(sdd_pvm *vm);
/* 1 for an unknown GLOBAL or an opaque placeholder made from one. */
int sdd_pickle_is_unknown(const sdd_pobj *o);
/* "dict", "tensor", ... for messages; for an unknown global or an opaque object, its class name. */
const char *sdd_pickle_kind_name(const sdd_pobj *o);
/* Copies at most 80 bytes of s into buf, control bytes replaced, so one-line errors stay one line. */
const char *sdd_pickle_san(const char *s, size_t n, char *buf, size_t cap);

#endif
