/* Owns PyTorch .pth import (see pth.h): the zip side (finding <prefix>/data.pkl,
 * reading <prefix>/data/<key> storages with size checks), a small pickle
 * machine for the state_dict subset, and turning the resulting dict into a
 * flat sdd_tensorset (strided views copied out contiguously).
 * Objects made by the pickle machine live in one list freed at the end, so
 * shared references and even cycles (possible through the memo) are harmless
 * and nothing here recurses. */
#include "io/pth.h"
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#define MAX_DEPTH 256              /* container nesting */
#define MAX_NAME 1024              /* GLOBAL names, storage keys */
#define EXPAND_SLACK (64u << 20)   /* bytes views may add beyond 4x their storages */

enum { O_NONE, O_BOOL, O_INT, O_FLOAT, O_STR, O_BYTES, O_TUPLE, O_LIST, O_DICT,
       O_GLOBAL, O_STORAGE, O_TENSOR, O_BIGINT };
static const char *kind_name[] = { "None", "bool", "int", "float", "str", "bytes", "tuple",
                                   "list", "dict", "global", "storage", "tensor",
                                   "int over 64 bits" };

enum { G_ODICT, G_REBUILD_V2, G_REBUILD_V1, G_PARAM, G_PARAM_STATE, G_ENCODE, G_STORAGE };

typedef struct pobj pobj;
typedef struct {   /* a tensor view: storage, element offset, sizes and strides */
    pobj *stor;
    int64_t off, size[SDD_TENSOR_MAXDIM], stride[SDD_TENSOR_MAXDIM];
    int ndim;
} ptensor;

struct pobj {
    pobj *all_next;
    unsigned char kind;
    int depth;
    union {
        int64_t i;
        double f;
        struct { char *s; size_t n; } str;         /* STR, BYTES: NUL-terminated copy */
        struct { pobj **v; size_t n, cap; } seq;    /* TUPLE, LIST; DICT: key,value pairs */
        struct { int id; sdd_dtype dtype; } glob;
        struct { sdd_dtype dtype; char *key; int64_t numel; unsigned char *data;
                 int uses; } stor;
        ptensor *ten;
    } u;
};

typedef struct {
    const char *fname, *member;     /* for messages */
    sdd_err *e;
    const unsigned char *p;         /* the pickle, n bytes */
    size_t n, pos, op_at;
    pobj **stack, **memo, *all;     /* all: every object made, for freeing */
    size_t sn, scap, *marks, mn, mcap, memolen, memoset, nobj;
    pobj **stab;                    /* storages by key (open addressing) */
    size_t stabcap, stabn;
} pvm;

/* Copies at most 80 bytes of s, replacing control bytes, so one-line errors
 * stay one line. */
static const char *san(const char *s, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < 80; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n > 80 && k + 4 < cap) { memcpy(buf + k, "...", 3); k += 3; }
    buf[k] = 0;
    return buf;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int verr(pvm *vm, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sdd_err_set(vm->e, "%s: %s offset %zu: %s", vm->fname, vm->member, vm->op_at, msg);
}

static pobj *newobj(pvm *vm, int kind)
{
    if (vm->nobj >= SDD_PTH_MAX_OBJECTS) {
        verr(vm, "more than %u pickle objects", SDD_PTH_MAX_OBJECTS);
        return NULL;
    }
    pobj *o = calloc(1, sizeof *o);
    if (!o) { verr(vm, "out of memory"); return NULL; }
    o->kind = (unsigned char)kind;
    o->all_next = vm->all;
    vm->all = o;
    vm->nobj++;
    return o;
}

static void vm_free(pvm *vm)
{
    for (pobj *o = vm->all, *nx; o; o = nx) {
        nx = o->all_next;
        switch (o->kind) {
        case O_STR: case O_BYTES: free(o->u.str.s); break;
        case O_TUPLE: case O_LIST: case O_DICT: free(o->u.seq.v); break;
        case O_STORAGE: free(o->u.stor.key); free(o->u.stor.data); break;
        case O_TENSOR: free(o->u.ten); break;
        }
        free(o);
    }
    free(vm->stack);
    free(vm->marks);
    free(vm->memo);
    free(vm->stab);
}

/* ---- stack, marks, memo ---- */

static size_t avail(const pvm *vm)
{
    return vm->sn - (vm->mn ? vm->marks[vm->mn - 1] : 0);
}

static int need(pvm *vm, size_t k)
{
    return avail(vm) < k ? verr(vm, "stack underflow") : 0;
}

static int push(pvm *vm, pobj *o)
{
    if (!o) return -1;
    if (vm->sn == vm->scap) {
        size_t cap = vm->scap ? vm->scap * 2 : 64;
        pobj **s = realloc(vm->stack, cap * sizeof *s);
        if (!s) return verr(vm, "out of memory");
        vm->stack = s;
        vm->scap = cap;
    }
    vm->stack[vm->sn++] = o;
    return 0;
}

static pobj *pop(pvm *vm) { return vm->stack[--vm->sn]; }    /* after need() */
static pobj *top(pvm *vm) { return vm->stack[vm->sn - 1]; }

static int push_mark(pvm *vm)
{
    if (vm->mn == vm->mcap) {
        size_t cap = vm->mcap ? vm->mcap * 2 : 16;
        size_t *m = realloc(vm->marks, cap * sizeof *m);
        if (!m) return verr(vm, "out of memory");
        vm->marks = m;
        vm->mcap = cap;
    }
    vm->marks[vm->mn++] = vm->sn;
    return 0;
}

static int pop_mark(pvm *vm, size_t *start)
{
    if (!vm->mn) return verr(vm, "no MARK on the stack");
    *start = vm->marks[--vm->mn];
    return 0;
}

static int memo_put(pvm *vm, uint64_t idx)
{
    if (need(vm, 1) < 0) return -1;
    if (idx > vm->n) return verr(vm, "memo index %llu out of range", (unsigned long long)idx);
    if (idx >= vm->memolen) {
        size_t len = vm->memolen ? vm->memolen : 64;
        while (len <= idx) len *= 2;
        pobj **m = realloc(vm->memo, len * sizeof *m);
        if (!m) return verr(vm, "out of memory");
        memset(m + vm->memolen, 0, (len - vm->memolen) * sizeof *m);
        vm->memo = m;
        vm->memolen = len;
    }
    if (!vm->memo[idx]) vm->memoset++;
    vm->memo[idx] = top(vm);
    return 0;
}

static int memo_get(pvm *vm, uint64_t idx)
{
    if (idx >= vm->memolen || !vm->memo[idx])
        return verr(vm, "memo index %llu not defined", (unsigned long long)idx);
    return push(vm, vm->memo[idx]);
}

/* ---- objects ---- */

static int seq_add(pvm *vm, pobj *c, pobj *x)
{
    if (c->u.seq.n == c->u.seq.cap) {
        size_t cap = c->u.seq.cap ? c->u.seq.cap * 2 : 4;
        pobj **v = realloc(c->u.seq.v, cap * sizeof *v);
        if (!v) return verr(vm, "out of memory");
        c->u.seq.v = v;
        c->u.seq.cap = cap;
    }
    c->u.seq.v[c->u.seq.n++] = x;
    if (x->depth + 1 > c->depth) {
        c->depth = x->depth + 1;
        if (c->depth > MAX_DEPTH) return verr(vm, "objects nested deeper than %d levels", MAX_DEPTH);
    }
    return 0;
}

/* A new container holding stack[start..sn), which are popped. */
static int collect(pvm *vm, int kind, size_t start)
{
    pobj *c = newobj(vm, kind);
    if (!c) return -1;
    for (size_t i = start; i < vm->sn; i++)
        if (seq_add(vm, c, vm->stack[i]) < 0) return -1;
    vm->sn = start;
    return push(vm, c);
}

static int new_int(pvm *vm, int64_t v)
{
    pobj *o = newobj(vm, O_INT);
    if (!o) return -1;
    o->u.i = v;
    return push(vm, o);
}

static int rd(pvm *vm, size_t k, const unsigned char **out)
{
    if (vm->n - vm->pos < k) return verr(vm, "truncated pickle");
    *out = vm->p + vm->pos;
    vm->pos += k;
    return 0;
}

static uint64_t le(const unsigned char *b, int k)
{
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

/* Reads a k-byte little-endian length, then that many bytes, as a string. */
static int op_string(pvm *vm, int lenbytes, int kind, int is_signed)
{
    const unsigned char *b = NULL;
    if (rd(vm, (size_t)lenbytes, &b) < 0) return -1;
    uint64_t len = le(b, lenbytes);
    if (is_signed && (len & 0x80000000u)) return verr(vm, "negative string length");
    if (len > vm->n - vm->pos)
        return verr(vm, "string length %llu runs past the end of the pickle",
                    (unsigned long long)len);
    pobj *o = newobj(vm, kind);
    if (!o) return -1;
    o->u.str.s = malloc((size_t)len + 1);
    if (!o->u.str.s) return verr(vm, "out of memory");
    memcpy(o->u.str.s, vm->p + vm->pos, (size_t)len);
    o->u.str.s[len] = 0;
    o->u.str.n = (size_t)len;
    vm->pos += (size_t)len;
    return push(vm, o);
}

static int op_long(pvm *vm, int lenbytes)
{
    const unsigned char *b = NULL;
    if (rd(vm, (size_t)lenbytes, &b) < 0) return -1;
    uint64_t len = le(b, lenbytes);
    if (lenbytes == 4 && (len & 0x80000000u)) return verr(vm, "negative LONG4 length");
    if (len > vm->n - vm->pos)
        return verr(vm, "integer length %llu runs past the end of the pickle",
                    (unsigned long long)len);
    if (rd(vm, (size_t)len, &b) < 0) return -1;
    if (len > 8) return push(vm, newobj(vm, O_BIGINT));   /* kept only as a value to skip */
    uint64_t v = le(b, (int)len);
    if (len > 0 && len < 8 && (b[len - 1] & 0x80)) v |= ~UINT64_C(0) << (8 * len);
    return new_int(vm, (int64_t)v);
}

static const struct { const char *name; sdd_dtype dt; } storage_types[] = {
    {"FloatStorage", SDD_F32}, {"DoubleStorage", SDD_F64}, {"HalfStorage", SDD_F16},
    {"BFloat16Storage", SDD_BF16}, {"LongStorage", SDD_I64}, {"IntStorage", SDD_I32},
    {"ShortStorage", SDD_I16}, {"CharStorage", SDD_I8}, {"ByteStorage", SDD_U8},
    {"BoolStorage", SDD_BOOL}, {"UntypedStorage", SDD_U8},
};

static int resolve_global(pvm *vm, const char *mod, size_t modn, const char *name, size_t namen)
{
    static const struct { const char *mod, *name; int id; } fns[] = {
        {"collections", "OrderedDict", G_ODICT},
        {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_V2},
        {"torch._utils", "_rebuild_tensor", G_REBUILD_V1},
        {"torch._utils", "_rebuild_parameter", G_PARAM},
        {"torch._utils", "_rebuild_parameter_with_state", G_PARAM_STATE},
        {"_codecs", "encode", G_ENCODE},   /* how protocol 2 spells bytes values */
    };
    int id = -1;
    sdd_dtype dt = SDD_U8;
    int is_mod_torch = modn == 5 && memcmp(mod, "torch", 5) == 0;
    for (size_t i = 0; id < 0 && i < sizeof fns / sizeof fns[0]; i++)
        if (strlen(fns[i].mod) == modn && memcmp(fns[i].mod, mod, modn) == 0 &&
            strlen(fns[i].name) == namen && memcmp(fns[i].name, name, namen) == 0)
            id = fns[i].id;
    for (size_t i = 0; id < 0 && is_mod_torch && i < sizeof storage_types / sizeof storage_types[0]; i++)
        if (strlen(storage_types[i].name) == namen && memcmp(storage_types[i].name, name, namen) == 0) {
            id = G_STORAGE;
            dt = storage_types[i].dt;
        }
    if (id < 0) {
        char a[100], b[100];
        san(mod, modn, a, sizeof a);
        san(name, namen, b, sizeof b);
        if (is_mod_torch && namen > 7 && memcmp(name + namen - 7, "Storage", 7) == 0)
            return verr(vm, "unsupported storage type torch.%s", b);
        return verr(vm, "unknown GLOBAL '%s.%s' (only state_dict contents are supported)", a, b);
    }
    pobj *o = newobj(vm, O_GLOBAL);
    if (!o) return -1;
    o->u.glob.id = id;
    o->u.glob.dtype = dt;
    return push(vm, o);
}

static int op_global(pvm *vm)
{
    const char *line[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        const unsigned char *s = vm->p + vm->pos, *nl;
        size_t room = vm->n - vm->pos;
        nl = memchr(s, '\n', room < MAX_NAME ? room : MAX_NAME);
        if (!nl) return verr(vm, "GLOBAL name unterminated or longer than %d bytes", MAX_NAME);
        line[k] = (const char *)s;
        len[k] = (size_t)(nl - s);
        vm->pos += len[k] + 1;
    }
    return resolve_global(vm, line[0], len[0], line[1], len[1]);
}

static uint32_t key_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static pobj **stab_slot(pvm *vm, const char *key)
{
    size_t mask = vm->stabcap - 1, i = key_hash(key) & mask;
    while (vm->stab[i] && strcmp(vm->stab[i]->u.stor.key, key) != 0) i = (i + 1) & mask;
    return &vm->stab[i];
}

/* BINPERSID: ('storage', storage_type, key, location, numel) -> storage,
 * one object per key. */
static int op_persid(pvm *vm)
{
    if (need(vm, 1) < 0) return -1;
    pobj *pid = pop(vm);
    if (pid->kind != O_TUPLE || pid->u.seq.n != 5)
        return verr(vm, "persistent id is not a 5-tuple ('storage', type, key, location, numel)");
    pobj **v = pid->u.seq.v;
    if (v[0]->kind != O_STR || strcmp(v[0]->u.str.s, "storage") != 0)
        return verr(vm, "persistent id is not a 'storage' record");
    if (v[1]->kind != O_GLOBAL || v[1]->u.glob.id != G_STORAGE)
        return verr(vm, "persistent id names no storage type");
    if (v[2]->kind != O_STR || v[2]->u.str.n == 0 || v[2]->u.str.n > MAX_NAME ||
        strlen(v[2]->u.str.s) != v[2]->u.str.n || strchr(v[2]->u.str.s, '/'))
        return verr(vm, "bad storage key in persistent id");
    if (v[4]->kind != O_INT || v[4]->u.i < 0 || v[4]->u.i > INT64_MAX / 8)
        return verr(vm, "bad storage element count in persistent id");
    const char *key = v[2]->u.str.s;
    sdd_dtype dt = v[1]->u.glob.dtype;
    if (vm->stabn * 2 + 2 > vm->stabcap) {
        size_t cap = vm->stabcap ? vm->stabcap * 2 : 64;
        pobj **old = vm->stab;
        size_t oldcap = vm->stabcap;
        vm->stab = calloc(cap, sizeof *vm->stab);
        if (!vm->stab) { vm->stab = old; return verr(vm, "out of memory"); }
        vm->stabcap = cap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i]) *stab_slot(vm, old[i]->u.stor.key) = old[i];
        free(old);
    }
    pobj **slot = stab_slot(vm, key);
    if (*slot) {
        if ((*slot)->u.stor.dtype != dt || (*slot)->u.stor.numel != v[4]->u.i) {
            char k[100];
            return verr(vm, "storage '%s' appears with different types or sizes",
                        san(key, strlen(key), k, sizeof k));
        }
        return push(vm, *slot);
    }
    pobj *s = newobj(vm, O_STORAGE);
    if (!s) return -1;
    s->u.stor.key = strdup(key);
    if (!s->u.stor.key) return verr(vm, "out of memory");
    s->u.stor.dtype = dt;
    s->u.stor.numel = v[4]->u.i;
    *slot = s;
    vm->stabn++;
    return push(vm, s);
}

static int int_tuple(pobj *t, int64_t *out, int *n)
{
    if (t->kind != O_TUPLE || t->u.seq.n > SDD_TENSOR_MAXDIM) return -1;
    for (size_t i = 0; i < t->u.seq.n; i++) {
        if (t->u.seq.v[i]->kind != O_INT || t->u.seq.v[i]->u.i < 0) return -1;
        out[i] = t->u.seq.v[i]->u.i;
    }
    *n = (int)t->u.seq.n;
    return 0;
}

/* _rebuild_tensor[_v2](storage, storage_offset, size, stride, ...) */
static int make_tensor(pvm *vm, pobj **a)
{
    if (a[0]->kind != O_STORAGE) return verr(vm, "tensor rebuilt from a %s, not a storage",
                                             kind_name[a[0]->kind]);
    if (a[1]->kind != O_INT || a[1]->u.i < 0) return verr(vm, "bad tensor storage offset");
    ptensor t;
    int nd2;
    memset(&t, 0, sizeof t);
    if (int_tuple(a[2], t.size, &t.ndim) < 0)
        return verr(vm, "tensor size is not a tuple of at most %d non-negative ints",
                    SDD_TENSOR_MAXDIM);
    if (int_tuple(a[3], t.stride, &nd2) < 0 || nd2 != t.ndim)
        return verr(vm, "tensor stride is not a tuple of %d non-negative ints", t.ndim);
    for (int d = 0; d < t.ndim; d++)
        if (t.size[d] <= 1) t.stride[d] = 0;   /* irrelevant; keeps the copy loop in range */
    t.stor = a[0];
    t.off = a[1]->u.i;
    int64_t numel;
    if (sdd_shape_numel(t.ndim, t.size, &numel) < 0) return verr(vm, "tensor size overflows");
    if (numel > 0) {
        int64_t last = t.off;   /* index of the last element */
        for (int d = 0; d < t.ndim; d++) {
            int64_t term;
            if (__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &term) ||
                __builtin_add_overflow(last, term, &last))
                return verr(vm, "tensor view overflows");
        }
        if (last >= t.stor->u.stor.numel)
            return verr(vm, "tensor view (offset %lld, last element %lld) outside its storage "
                        "of %lld elements", (long long)t.off, (long long)last,
                        (long long)t.stor->u.stor.numel);
    }
    pobj *o = newobj(vm, O_TENSOR);
    if (!o) return -1;
    o->u.ten = malloc(sizeof t);
    if (!o->u.ten) return verr(vm, "out of memory");
    *o->u.ten = t;
    return push(vm, o);
}

static int op_reduce(pvm *vm, int newobj_op)
{
    if (need(vm, 2) < 0) return -1;
    pobj *args = pop(vm), *fn = pop(vm);
    if (fn->kind != O_GLOBAL)
        return verr(vm, "%s of a %s", newobj_op ? "NEWOBJ" : "REDUCE", kind_name[fn->kind]);
    if (args->kind != O_TUPLE) return verr(vm, "call arguments are a %s, not a tuple",
                                           kind_name[args->kind]);
    size_t n = args->u.seq.n;
    pobj **a = args->u.seq.v;
    int id = fn->u.glob.id;
    if (newobj_op && id != G_ODICT) return verr(vm, "NEWOBJ of an unsupported class");
    switch (id) {
    case G_ODICT:
        if (n != 0) return verr(vm, "OrderedDict called with arguments");
        return push(vm, newobj(vm, O_DICT));
    case G_REBUILD_V2:
        if (n != 6 && n != 7) return verr(vm, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %zu", n);
        return make_tensor(vm, a);
    case G_REBUILD_V1:
        if (n != 4) return verr(vm, "_rebuild_tensor takes 4 arguments, got %zu", n);
        return make_tensor(vm, a);
    case G_PARAM: case G_PARAM_STATE:
        if (n != (id == G_PARAM ? 3u : 4u) || a[0]->kind != O_TENSOR)
            return verr(vm, "bad _rebuild_parameter arguments");
        return push(vm, a[0]);
    case G_ENCODE: {   /* the value itself is never used: an empty bytes object */
        if (n < 1 || n > 2 || a[0]->kind != O_STR) return verr(vm, "bad _codecs.encode arguments");
        pobj *o = newobj(vm, O_BYTES);
        if (!o || !(o->u.str.s = calloc(1, 1))) return o ? verr(vm, "out of memory") : -1;
        return push(vm, o);
    }
    default:
        return verr(vm, "calling a storage type is not supported");
    }
}

static int rdle(pvm *vm, int k, uint64_t *v)
{
    const unsigned char *b = NULL;
    if (rd(vm, (size_t)k, &b) < 0) return -1;
    *v = le(b, k);
    return 0;
}

/* APPENDS / SETITEMS: the items above the MARK go into the list / dict below it. */
static int op_extend(pvm *vm, int kind, const char *opname)
{
    size_t start = 0;
    if (pop_mark(vm, &start) < 0) return -1;
    if (start == 0 || (vm->mn && vm->marks[vm->mn - 1] >= start))
        return verr(vm, "%s with nothing below the MARK", opname);
    pobj *c = vm->stack[start - 1];
    if (c->kind != kind) return verr(vm, "%s on a %s", opname, kind_name[c->kind]);
    if (kind == O_DICT && (vm->sn - start) % 2)
        return verr(vm, "%s with an odd number of items", opname);
    for (size_t i = start; i < vm->sn; i++)
        if (seq_add(vm, c, vm->stack[i]) < 0) return -1;
    vm->sn = start;
    return 0;
}

/* Runs the pickle; on success *result is the object STOP returned. */
static int vm_run(pvm *vm, pobj **result)
{
    const unsigned char *b = NULL;
    size_t start = 0;
    uint64_t u;
    pobj *x, *y, *c;
    for (;;) {
        u = 0;
        if (vm->pos >= vm->n) { vm->op_at = vm->pos; return verr(vm, "truncated pickle (no STOP)"); }
        vm->op_at = vm->pos;
        unsigned char op = vm->p[vm->pos++];
        int rc = 0;
        switch (op) {
        case 0x80: /* PROTO */
            if (rd(vm, 1, &b) < 0) return -1;
            if (b[0] > 5) return verr(vm, "pickle protocol %d not supported", b[0]);
            break;
        case 0x95: /* FRAME */
            rc = rd(vm, 8, &b);
            break;
        case '.': /* STOP */
            if (need(vm, 1) < 0) return -1;
            *result = pop(vm);
            return 0;
        case '(': rc = push_mark(vm); break;
        case '0': /* POP */
            if (avail(vm)) vm->sn--;
            else rc = pop_mark(vm, &start);
            break;
        case '1': /* POP_MARK */
            if ((rc = pop_mark(vm, &start)) == 0) vm->sn = start;
            break;
        case '2': /* DUP */
            if ((rc = need(vm, 1)) == 0) rc = push(vm, top(vm));
            break;
        case 'N': rc = push(vm, newobj(vm, O_NONE)); break;
        case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
            if (!(x = newobj(vm, O_BOOL))) return -1;
            x->u.i = op == 0x88;
            rc = push(vm, x);
            break;
        case 'J': if ((rc = rdle(vm, 4, &u)) == 0) rc = new_int(vm, (int32_t)(uint32_t)u); break;
        case 'K': if ((rc = rdle(vm, 1, &u)) == 0) rc = new_int(vm, (int64_t)u); break;  /* BININT1 */
        case 'M': if ((rc = rdle(vm, 2, &u)) == 0) rc = new_int(vm, (int64_t)u); break;  /* BININT2 */
        case 0x8a: rc = op_long(vm, 1); break;   /* LONG1 */
        case 0x8b: rc = op_long(vm, 4); break;   /* LONG4 */
        case 'G': /* BINFLOAT, big-endian */
            if (rd(vm, 8, &b) < 0 || !(x = newobj(vm, O_FLOAT))) return -1;
            for (int i = 0; i < 8; i++) u = (u << 8) | b[i];
            memcpy(&x->u.f, &u, sizeof u);
            rc = push(vm, x);
            break;
        case 'X': rc = op_string(vm, 4, O_STR, 0); break;     /* BINUNICODE */
        case 0x8c: rc = op_string(vm, 1, O_STR, 0); break;    /* SHORT_BINUNICODE */
        case 0x8d: rc = op_string(vm, 8, O_STR, 0); break;    /* BINUNICODE8 */
        case 'T': rc = op_string(vm, 4, O_STR, 1); break;     /* BINSTRING */
        case 'U': rc = op_string(vm, 1, O_STR, 0); break;     /* SHORT_BINSTRING */
        case 'B': rc = op_string(vm, 4, O_BYTES, 0); break;   /* BINBYTES */
        case 'C': rc = op_string(vm, 1, O_BYTES, 0); break;   /* SHORT_BINBYTES */
        case 0x8e: rc = op_string(vm, 8, O_BYTES, 0); break;  /* BINBYTES8 */
        case '}': rc = push(vm, newobj(vm, O_DICT)); break;
        case ']': rc = push(vm, newobj(vm, O_LIST)); break;
        case ')': rc = push(vm, newobj(vm, O_TUPLE)); break;
        case 't': if ((rc = pop_mark(vm, &start)) == 0) rc = collect(vm, O_TUPLE, start); break;
        case 'l': if ((rc = pop_mark(vm, &start)) == 0) rc = collect(vm, O_LIST, start); break;
        case 'd':
            if ((rc = pop_mark(vm, &start)) == 0) {
                if ((vm->sn - start) % 2) return verr(vm, "DICT with an odd number of items");
                rc = collect(vm, O_DICT, start);
            }
            break;
        case 0x85: case 0x86: case 0x87: /* TUPLE1..3 */
            if ((rc = need(vm, (size_t)(op - 0x84))) == 0)
                rc = collect(vm, O_TUPLE, vm->sn - (size_t)(op - 0x84));
            break;
        case 'a': /* APPEND */
            if (need(vm, 2) < 0) return -1;
            x = pop(vm);
            c = top(vm);
            if (c->kind != O_LIST) return verr(vm, "APPEND to a %s", kind_name[c->kind]);
            rc = seq_add(vm, c, x);
            break;
        case 'e': rc = op_extend(vm, O_LIST, "APPENDS"); break;
        case 's': /* SETITEM */
            if (need(vm, 3) < 0) return -1;
            y = pop(vm);
            x = pop(vm);
            c = top(vm);
            if (c->kind != O_DICT) return verr(vm, "SETITEM on a %s", kind_name[c->kind]);
            if ((rc = seq_add(vm, c, x)) == 0) rc = seq_add(vm, c, y);
            break;
        case 'u': rc = op_extend(vm, O_DICT, "SETITEMS"); break;
        case 'c': rc = op_global(vm); break;
        case 0x93: /* STACK_GLOBAL */
            if (need(vm, 2) < 0) return -1;
            y = pop(vm);
            x = pop(vm);
            if (x->kind != O_STR || y->kind != O_STR)
                return verr(vm, "STACK_GLOBAL needs two strings");
            rc = resolve_global(vm, x->u.str.s, x->u.str.n, y->u.str.s, y->u.str.n);
            break;
        case 'q': if ((rc = rdle(vm, 1, &u)) == 0) rc = memo_put(vm, u); break;  /* BINPUT */
        case 'r': if ((rc = rdle(vm, 4, &u)) == 0) rc = memo_put(vm, u); break;  /* LONG_BINPUT */
        case 0x94: rc = memo_put(vm, vm->memoset); break;                        /* MEMOIZE */
        case 'h': if ((rc = rdle(vm, 1, &u)) == 0) rc = memo_get(vm, u); break;  /* BINGET */
        case 'j': if ((rc = rdle(vm, 4, &u)) == 0) rc = memo_get(vm, u); break;  /* LONG_BINGET */
        case 'R': rc = op_reduce(vm, 0); break;
        case 0x81: rc = op_reduce(vm, 1); break;   /* NEWOBJ */
        case 'b': /* BUILD: state is ignored for dicts and tensors */
            if (need(vm, 2) < 0) return -1;
            (void)pop(vm);
            c = top(vm);
            if (c->kind != O_DICT && c->kind != O_TENSOR)
                return verr(vm, "BUILD on a %s", kind_name[c->kind]);
            break;
        case 'Q': rc = op_persid(vm); break;
        default:
            return verr(vm, "unsupported pickle opcode 0x%02x", op);
        }
        if (rc < 0) return -1;
    }
}

/* ---- zip side ---- */

typedef struct { zip_t *za; const char *fname; char prefix[128], pkl[160]; sdd_err *e; } pzip;

static const char *zip_errstr(int code, char *buf, size_t cap)
{
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    snprintf(buf, cap, "%s", zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return buf;
}

/* Reads exactly want bytes of member idx into dst; when want is the whole
 * member, also reads on to its end so libzip checks the CRC. */
static int read_member(pzip *z, zip_uint64_t idx, const char *name, void *dst, uint64_t want,
                       int whole, sdd_err *e)
{
    zip_file_t *zf = zip_fopen_index(z->za, idx, 0);
    if (!zf) return sdd_err_set(e, "%s: cannot open member '%s': %s", z->fname, name,
                                zip_strerror(z->za));
    uint64_t got = 0;
    while (got < want) {
        zip_uint64_t chunk = want - got > (1u << 30) ? (1u << 30) : want - got;
        zip_int64_t r = zip_fread(zf, (unsigned char *)dst + got, chunk);
        if (r < 0) {
            sdd_err_set(e, "%s: member '%s': read failed: %s", z->fname, name, zip_file_strerror(zf));
            zip_fclose(zf);
            return -1;
        }
        if (r == 0) break;
        got += (uint64_t)r;
    }
    if (got < want) {
        zip_fclose(zf);
        return sdd_err_set(e, "%s: member '%s' holds %llu bytes, %llu expected", z->fname, name,
                           (unsigned long long)got, (unsigned long long)want);
    }
    if (whole) {
        unsigned char extra;
        zip_int64_t r = zip_fread(zf, &extra, 1);
        if (r != 0) {
            sdd_err_set(e, "%s: member '%s': %s", z->fname, name,
                        r < 0 ? zip_file_strerror(zf) : "longer than its directory entry says");
            zip_fclose(zf);
            return -1;
        }
    }
    zip_fclose(zf);
    return 0;
}

/* Finds <prefix>/data.pkl (one top folder, any name) and checks byteorder. */
static int find_pickle(pzip *z, sdd_err *e)
{
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    int found = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *nm = zip_get_name(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!nm) continue;
        const char *slash = strchr(nm, '/');
        if (!slash || slash == nm || strcmp(slash, "/data.pkl") != 0) continue;
        size_t plen = (size_t)(slash - nm);
        if (plen >= sizeof z->prefix) continue;
        if (found) return sdd_err_set(e, "%s: several */data.pkl members", z->fname);
        memcpy(z->prefix, nm, plen);
        z->prefix[plen] = 0;
        found = 1;
    }
    if (!found)
        return sdd_err_set(e, "%s: zip archive has no <folder>/data.pkl member (not a torch.save "
                           "checkpoint)", z->fname);
    snprintf(z->pkl, sizeof z->pkl, "%s/data.pkl", z->prefix);
    char bo[200];
    snprintf(bo, sizeof bo, "%s/byteorder", z->prefix);
    zip_int64_t bi = zip_name_locate(z->za, bo, ZIP_FL_ENC_RAW);
    if (bi >= 0) {
        zip_stat_t st;
        char val[16] = {0};
        if (zip_stat_index(z->za, (zip_uint64_t)bi, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) ||
            st.size >= sizeof val || read_member(z, (zip_uint64_t)bi, bo, val, st.size, 1, e) < 0 ||
            strcmp(val, "little") != 0)
            return sdd_err_set(e, "%s: byte order is not 'little' (big-endian checkpoints are "
                               "not supported)", z->fname);
    }
    return 0;
}

/* Reads a storage's bytes from <prefix>/data/<key>, checking the member size. */
static int load_storage(pzip *z, pobj *s, uint64_t *loaded, sdd_err *e)
{
    char name[MAX_NAME + 200];
    char k[100];
    snprintf(name, sizeof name, "%s/data/%s", z->prefix, s->u.stor.key);
    san(name, strlen(name), k, sizeof k);
    zip_int64_t idx = zip_name_locate(z->za, name, ZIP_FL_ENC_RAW);
    if (idx < 0) return sdd_err_set(e, "%s: storage member '%s' is missing", z->fname, k);
    zip_stat_t st;
    if (zip_stat_index(z->za, (zip_uint64_t)idx, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
        return sdd_err_set(e, "%s: cannot stat member '%s'", z->fname, k);
    uint64_t want = (uint64_t)s->u.stor.numel * sdd_dtype_size(s->u.stor.dtype);
    if (st.size < want)
        return sdd_err_set(e, "%s: member '%s' has %llu bytes but its storage claims %llu "
                           "(%lld x %s)", z->fname, k, (unsigned long long)st.size,
                           (unsigned long long)want, (long long)s->u.stor.numel,
                           sdd_dtype_name(s->u.stor.dtype));
    if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE &&
        (st.valid & ZIP_STAT_COMP_SIZE) && want / 1100 > st.comp_size)
        return sdd_err_set(e, "%s: member '%s': implausible compression ratio", z->fname, k);
    if (want > SIZE_MAX - 1) return sdd_err_set(e, "%s: member '%s' too large", z->fname, k);
    s->u.stor.data = malloc(want ? (size_t)want : 1);
    if (!s->u.stor.data)
        return sdd_err_set(e, "%s: out of memory for storage '%s' (%llu bytes)", z->fname, k,
                           (unsigned long long)want);
    if (read_member(z, (zip_uint64_t)idx, k, s->u.stor.data, want, want == st.size, e) < 0)
        return -1;
    *loaded += want;
    return 0;
}

/* Row-major strides (size-1 dimensions ignored)? */
static int is_contiguous(const ptensor *t)
{
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] > 1 && t->stride[d] != expect) return 0;
        expect *= t->size[d];
    }
    return 1;
}

/* Copies tensor t out of its storage into a new contiguous buffer. */
static void *materialise(const ptensor *t, size_t esize, size_t nbytes, int64_t numel)
{
    void *out = malloc(nbytes ? nbytes : 1);
    if (!out || numel == 0) return out;
    const unsigned char *base = t->stor->u.stor.data + (size_t)t->off * esize;
    if (is_contiguous(t)) { memcpy(out, base, nbytes); return out; }
    int64_t idx[SDD_TENSOR_MAXDIM] = {0}, off = 0;
    unsigned char *dst = out;
    for (int64_t k = 0; k < numel; k++) {
        memcpy(dst, base + (size_t)off * esize, esize);
        dst += esize;
        for (int d = t->ndim - 1; d >= 0; d--) {   /* odometer */
            off += t->stride[d];
            if (++idx[d] < t->size[d]) break;
            off -= t->stride[d] * t->size[d];
            idx[d] = 0;
        }
    }
    return out;
}

static pobj *dict_get(pobj *d, const char *key)
{
    pobj *r = NULL;
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2)
        if (d->u.seq.v[i]->kind == O_STR && strcmp(d->u.seq.v[i]->u.str.s, key) == 0)
            r = d->u.seq.v[i + 1];
    return r;
}

static int dict_has_tensor(pobj *d)
{
    for (size_t i = 1; i < d->u.seq.n; i += 2)
        if (d->u.seq.v[i]->kind == O_TENSOR) return 1;
    return 0;
}

/* Picks the state dict out of the unpickled object and fills out. */
static int build_set(pzip *z, pobj *root, sdd_tensorset *out, sdd_pth_info *info, sdd_err *e)
{
    if (root->kind != O_DICT)
        return sdd_err_set(e, "%s: top-level object is a %s, not a dict", z->fname,
                           kind_name[root->kind]);
    pobj *d = root;
    if (!dict_has_tensor(root)) {
        static const char *keys[] = { "state_dict", "model" };
        d = NULL;
        for (int i = 0; i < 2 && !d; i++) {
            pobj *c = dict_get(root, keys[i]);
            if (c && c->kind == O_DICT) {
                d = c;
                snprintf(info->source_key, sizeof info->source_key, "%s", keys[i]);
            }
        }
        if (!d && root->u.seq.n == 0) return 0;   /* an empty state_dict */
        if (!d) return sdd_err_set(e, "%s: no tensors: the top-level dict holds none and has no "
                                   "'state_dict' or 'model' dict", z->fname);
    }
    /* count uses so a storage can be handed over or freed after its last tensor */
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2)
        if (d->u.seq.v[i]->kind == O_STR && d->u.seq.v[i + 1]->kind == O_TENSOR)
            d->u.seq.v[i + 1]->u.ten->stor->u.stor.uses++;
    uint64_t loaded = 0, made = 0;
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
        pobj *k = d->u.seq.v[i], *v = d->u.seq.v[i + 1];
        if (k->kind != O_STR || v->kind != O_TENSOR) { info->skipped++; continue; }
        char kb[100];
        san(k->u.str.s, k->u.str.n, kb, sizeof kb);
        if (strlen(k->u.str.s) != k->u.str.n)
            return sdd_err_set(e, "%s: key '%s' contains a NUL byte", z->fname, kb);
        ptensor *t = v->u.ten;
        pobj *s = t->stor;
        if (!s->u.stor.data && load_storage(z, s, &loaded, e) < 0) return -1;
        size_t esize = sdd_dtype_size(s->u.stor.dtype);
        int64_t numel;
        sdd_shape_numel(t->ndim, t->size, &numel);   /* checked in make_tensor */
        size_t nbytes = (size_t)numel * esize;
        uint64_t sbytes = (uint64_t)s->u.stor.numel * esize;
        void *data;
        s->u.stor.uses--;
        if (s->u.stor.uses == 0 && t->off == 0 && nbytes == sbytes && nbytes > 0 &&
            is_contiguous(t)) {
            data = s->u.stor.data;   /* the whole storage, last use: hand it over */
            s->u.stor.data = NULL;
            goto add;
        }
        made += nbytes;
        if (made > 4 * loaded + EXPAND_SLACK)
            return sdd_err_set(e, "%s: tensor '%s': views of shared storages would need over "
                               "%llu bytes", z->fname, kb, (unsigned long long)made);
        data = materialise(t, esize, nbytes, numel);
        if (!data) return sdd_err_set(e, "%s: out of memory for tensor '%s' (%zu bytes)",
                                      z->fname, kb, nbytes);
        if (s->u.stor.uses == 0) { free(s->u.stor.data); s->u.stor.data = NULL; }
    add:
        if (sdd_tensorset_add_owned(out, k->u.str.s, s->u.stor.dtype, t->ndim, t->size, data,
                                    nbytes, e) < 0)
            return sdd_err_prefix(e, "%s", z->fname);
    }
    return 0;
}

/* Shared by the file and memory loaders once the archive is open. */
static int load_zip(pzip *z, sdd_tensorset *out, sdd_pth_info *info, sdd_err *e)
{
    if (find_pickle(z, e) < 0) return -1;
    snprintf(info->prefix, sizeof info->prefix, "%s", z->prefix);
    zip_int64_t idx = zip_name_locate(z->za, z->pkl, ZIP_FL_ENC_RAW);
    zip_stat_t st;
    if (idx < 0 || zip_stat_index(z->za, (zip_uint64_t)idx, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
        return sdd_err_set(e, "%s: cannot stat member '%s'", z->fname, z->pkl);
    if (st.size > SDD_PTH_MAX_PICKLE)
        return sdd_err_set(e, "%s: '%s' is %llu bytes, over the %u-byte limit", z->fname, z->pkl,
                           (unsigned long long)st.size, SDD_PTH_MAX_PICKLE);
    if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE &&
        (st.valid & ZIP_STAT_COMP_SIZE) && st.size / 1100 > st.comp_size)
        return sdd_err_set(e, "%s: member '%s': implausible compression ratio", z->fname, z->pkl);
    unsigned char *pk = malloc(st.size ? (size_t)st.size : 1);
    if (!pk) return sdd_err_set(e, "%s: out of memory", z->fname);
    if (read_member(z, (zip_uint64_t)idx, z->pkl, pk, st.size, 1, e) < 0) { free(pk); return -1; }
    pvm vm;
    memset(&vm, 0, sizeof vm);
    vm.fname = z->fname;
    vm.member = z->pkl;
    vm.e = e;
    vm.p = pk;
    vm.n = (size_t)st.size;
    pobj *root = NULL;
    int rc = vm_run(&vm, &root);
    if (rc == 0) rc = build_set(z, root, out, info, e);
    vm_free(&vm);
    free(pk);
    return rc;
}

static int looks_legacy(const unsigned char *b, size_t n)
{
    return n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5;   /* a bare pickle */
}

static int not_zip_error(const char *fname, const unsigned char *head, size_t n, int code, sdd_err *e)
{
    char buf[128];
    if (looks_legacy(head, n))
        return sdd_err_set(e, "%s: legacy (non-zip, pre-1.6) torch.save format is not supported; "
                           "re-save it with torch.save in PyTorch >= 1.6", fname);
    if (n >= 4 && memcmp(head, "PK\003\004", 4) == 0)
        return sdd_err_set(e, "%s: damaged or truncated zip archive: %s", fname,
                           zip_errstr(code, buf, sizeof buf));
    return sdd_err_set(e, "%s: not a PyTorch zip checkpoint: %s", fname,
                       zip_errstr(code, buf, sizeof buf));
}

static int finish(pzip *z, int rc, sdd_tensorset *out, sdd_pth_info *info, sdd_pth_info *user)
{
    if (z->za) zip_discard(z->za);
    if (rc < 0) {
        sdd_tensorset_free(out);
        memset(info, 0, sizeof *info);
        for (char *p = z->e ? z->e->msg : NULL; p && *p; p++)   /* names from the file: one line */
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    if (user) *user = *info;
    return rc;
}

int sdd_pth_load_mem_ex(const void *buf, size_t n, const char *name_for_errors,
                        sdd_tensorset *out, sdd_pth_info *uinfo, sdd_err *e)
{
    sdd_pth_info info = {0};
    pzip z = { NULL, name_for_errors ? name_for_errors : "(memory)", "", "", e };
    sdd_tensorset_init(out);
    if (n == 0) return finish(&z, sdd_err_set(e, "%s: empty file", z.fname), out, &info, uinfo);
    if (!buf) return finish(&z, sdd_err_set(e, "%s: NULL buffer", z.fname), out, &info, uinfo);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(buf, n, 0, &ze);
    if (!src) {
        sdd_err_set(e, "%s: %s", z.fname, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return finish(&z, -1, out, &info, uinfo);
    }
    z.za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!z.za) {
        int code = zip_error_code_zip(&ze);
        zip_source_free(src);
        zip_error_fini(&ze);
        return finish(&z, not_zip_error(z.fname, buf, n, code, e), out, &info, uinfo);
    }
    zip_error_fini(&ze);
    return finish(&z, load_zip(&z, out, &info, e), out, &info, uinfo);
}

int sdd_pth_load_ex(const char *path, sdd_tensorset *out, sdd_pth_info *uinfo, sdd_err *e)
{
    sdd_pth_info info = {0};
    pzip z = { NULL, path ? path : "(null)", "", "", e };
    sdd_tensorset_init(out);
    if (!path) return finish(&z, sdd_err_set(e, "pth: NULL path"), out, &info, uinfo);
    FILE *fp = fopen(path, "rb");
    if (!fp) return finish(&z, sdd_err_set(e, "%s: cannot open: %s", path, strerror(errno)),
                           out, &info, uinfo);
    struct stat st;
    unsigned char head[8];
    size_t hn = 0;
    int bad = 0;
    if (fstat(fileno(fp), &st) != 0) bad = sdd_err_set(e, "%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode)) bad = sdd_err_set(e, "%s: is a directory", path);
    else if (!S_ISREG(st.st_mode)) bad = sdd_err_set(e, "%s: not a regular file", path);
    else if (st.st_size == 0) bad = sdd_err_set(e, "%s: empty file", path);
    else hn = fread(head, 1, sizeof head, fp);
    fclose(fp);
    if (bad) return finish(&z, -1, out, &info, uinfo);
    int code = 0;
    z.za = zip_open(path, ZIP_RDONLY, &code);
    if (!z.za) return finish(&z, not_zip_error(path, head, hn, code, e), out, &info, uinfo);
    return finish(&z, load_zip(&z, out, &info, e), out, &info, uinfo);
}

int sdd_pth_load(const char *path, sdd_tensorset *out, sdd_err *e)
{
    return sdd_pth_load_ex(path, out, NULL, e);
}

int sdd_pth_load_mem(const void *buf, size_t n, const char *name_for_errors,
                     sdd_tensorset *out, sdd_err *e)
{
    return sdd_pth_load_mem_ex(buf, n, name_for_errors, out, NULL, e);
}
