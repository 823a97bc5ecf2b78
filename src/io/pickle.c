/* Owns the pickle machine of the .pth reader (see pickle.h): opcodes, stack,
 * marks and memo, the GLOBAL allow-list, tensors and storages as persistent
 * ids, and the inert placeholders for everything outside the allow-list.
 * Objects live in one list freed at the end, so shared references and even
 * cycles (possible through the memo) are harmless and nothing here recurses. */
#include "io/pickle.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = { "None", "bool", "int", "float", "str", "bytes", "tuple",
                                          "list", "dict", "global", "storage", "tensor",
                                          "int over 64 bits", "object" };

const char *sdd_pickle_kind_name(const sdd_pobj *o)
{
    if (o->kind == SDD_PO_GLOBAL && o->u.glob.id == SDD_PG_UNKNOWN) return o->u.glob.name;
    if (o->kind == SDD_PO_OPAQUE) return o->u.cls->u.glob.name;
    return kind_names[o->kind];
}

const char *sdd_pickle_san(const char *s, size_t n, char *buf, size_t cap)
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
static int verr(sdd_pvm *vm, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sdd_err_set(vm->e, "%s: %s offset %zu: %s", vm->fname, vm->member, vm->op_at, msg);
}

static sdd_pobj *newobj(sdd_pvm *vm, int kind)
{
    if (vm->nobj >= SDD_PTH_MAX_OBJECTS) {
        verr(vm, "more than %u pickle objects", SDD_PTH_MAX_OBJECTS);
        return NULL;
    }
    sdd_pobj *o = calloc(1, sizeof *o);
    if (!o) { verr(vm, "out of memory"); return NULL; }
    o->kind = (unsigned char)kind;
    o->all_next = vm->all;
    vm->all = o;
    vm->nobj++;
    return o;
}

void sdd_pickle_free(sdd_pvm *vm)
{
    for (sdd_pobj *o = vm->all, *nx; o; o = nx) {
        nx = o->all_next;
        switch (o->kind) {
        case SDD_PO_STR: case SDD_PO_BYTES: free(o->u.str.s); break;
        case SDD_PO_GLOBAL: free(o->u.glob.name); break;
        case SDD_PO_TUPLE: case SDD_PO_LIST: case SDD_PO_DICT: free(o->u.seq.v); break;
        case SDD_PO_STORAGE: free(o->u.stor.key); free(o->u.stor.data); break;
        case SDD_PO_TENSOR: free(o->u.ten); break;
        }
        free(o);
    }
    free(vm->stack);
    free(vm->marks);
    free(vm->memo);
    free(vm->stab);
}

/* ---- stack, marks, memo ---- */

static size_t avail(const sdd_pvm *vm)
{
    return vm->sn - (vm->mn ? vm->marks[vm->mn - 1] : 0);
}

static int need(sdd_pvm *vm, size_t k)
{
    return avail(vm) < k ? verr(vm, "stack underflow") : 0;
}

static int push(sdd_pvm *vm, sdd_pobj *o)
{
    if (!o) return -1;
    if (vm->sn == vm->scap) {
        size_t cap = vm->scap ? vm->scap * 2 : 64;
        sdd_pobj **s = realloc(vm->stack, cap * sizeof *s);
        if (!s) return verr(vm, "out of memory");
        vm->stack = s;
        vm->scap = cap;
    }
    vm->stack[vm->sn++] = o;
    return 0;
}

static sdd_pobj *pop(sdd_pvm *vm) { return vm->stack[--vm->sn]; }    /* after need() */
static sdd_pobj *top(sdd_pvm *vm) { return vm->stack[vm->sn - 1]; }

static int push_mark(sdd_pvm *vm)
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

static int pop_mark(sdd_pvm *vm, size_t *start)
{
    if (!vm->mn) return verr(vm, "no MARK on the stack");
    *start = vm->marks[--vm->mn];
    return 0;
}

static int memo_put(sdd_pvm *vm, uint64_t idx)
{
    if (need(vm, 1) < 0) return -1;
    if (idx > vm->n) return verr(vm, "memo index %llu out of range", (unsigned long long)idx);
    if (idx >= vm->memolen) {
        size_t len = vm->memolen ? vm->memolen : 64;
        while (len <= idx) len *= 2;
        sdd_pobj **m = realloc(vm->memo, len * sizeof *m);
        if (!m) return verr(vm, "out of memory");
        memset(m + vm->memolen, 0, (len - vm->memolen) * sizeof *m);
        vm->memo = m;
        vm->memolen = len;
    }
    if (!vm->memo[idx]) vm->memoset++;
    vm->memo[idx] = top(vm);
    return 0;
}

static int memo_get(sdd_pvm *vm, uint64_t idx)
{
    if (idx >= vm->memolen || !vm->memo[idx])
        return verr(vm, "memo index %llu not defined", (unsigned long long)idx);
    return push(vm, vm->memo[idx]);
}

/* ---- objects ---- */

static int seq_add(sdd_pvm *vm, sdd_pobj *c, sdd_pobj *x)
{
    if (c->u.seq.n == c->u.seq.cap) {
        size_t cap = c->u.seq.cap ? c->u.seq.cap * 2 : 4;
        sdd_pobj **v = realloc(c->u.seq.v, cap * sizeof *v);
        if (!v) return verr(vm, "out of memory");
        c->u.seq.v = v;
        c->u.seq.cap = cap;
    }
    c->u.seq.v[c->u.seq.n++] = x;
    if (x->depth + 1 > c->depth) {
        c->depth = x->depth + 1;
        if (c->depth > SDD_PK_MAX_DEPTH) return verr(vm, "objects nested deeper than %d levels", SDD_PK_MAX_DEPTH);
    }
    return 0;
}

/* A new container holding stack[start..sn), which are popped. */
static int collect(sdd_pvm *vm, int kind, size_t start)
{
    sdd_pobj *c = newobj(vm, kind);
    if (!c) return -1;
    for (size_t i = start; i < vm->sn; i++)
        if (seq_add(vm, c, vm->stack[i]) < 0) return -1;
    vm->sn = start;
    return push(vm, c);
}

static int new_int(sdd_pvm *vm, int64_t v)
{
    sdd_pobj *o = newobj(vm, SDD_PO_INT);
    if (!o) return -1;
    o->u.i = v;
    return push(vm, o);
}

static int rd(sdd_pvm *vm, size_t k, const unsigned char **out)
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
static int op_string(sdd_pvm *vm, int lenbytes, int kind, int is_signed)
{
    const unsigned char *b = NULL;
    if (rd(vm, (size_t)lenbytes, &b) < 0) return -1;
    uint64_t len = le(b, lenbytes);
    if (is_signed && (len & 0x80000000u)) return verr(vm, "negative string length");
    if (len > vm->n - vm->pos)
        return verr(vm, "string length %llu runs past the end of the pickle",
                    (unsigned long long)len);
    sdd_pobj *o = newobj(vm, kind);
    if (!o) return -1;
    o->u.str.s = malloc((size_t)len + 1);
    if (!o->u.str.s) return verr(vm, "out of memory");
    memcpy(o->u.str.s, vm->p + vm->pos, (size_t)len);
    o->u.str.s[len] = 0;
    o->u.str.n = (size_t)len;
    vm->pos += (size_t)len;
    return push(vm, o);
}

static int op_long(sdd_pvm *vm, int lenbytes)
{
    const unsigned char *b = NULL;
    if (rd(vm, (size_t)lenbytes, &b) < 0) return -1;
    uint64_t len = le(b, lenbytes);
    if (lenbytes == 4 && (len & 0x80000000u)) return verr(vm, "negative LONG4 length");
    if (len > vm->n - vm->pos)
        return verr(vm, "integer length %llu runs past the end of the pickle",
                    (unsigned long long)len);
    if (rd(vm, (size_t)len, &b) < 0) return -1;
    if (len > 8) return push(vm, newobj(vm, SDD_PO_BIGINT));   /* kept only as a value to skip */
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

static int resolve_global(sdd_pvm *vm, const char *mod, size_t modn, const char *name, size_t namen)
{
    static const struct { const char *mod, *name; int id; } fns[] = {
        {"collections", "OrderedDict", SDD_PG_ODICT},
        {"torch._utils", "_rebuild_tensor_v2", SDD_PG_REBUILD_V2},
        {"torch._utils", "_rebuild_tensor", SDD_PG_REBUILD_V1},
        {"torch._utils", "_rebuild_parameter", SDD_PG_PARAM},
        {"torch._utils", "_rebuild_parameter_with_state", SDD_PG_PARAM_STATE},
        {"_codecs", "encode", SDD_PG_ENCODE},   /* how protocol 2 spells bytes values */
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
            id = SDD_PG_STORAGE;
            dt = storage_types[i].dt;
        }
    char a[100], b[100];
    if (id < 0 && is_mod_torch && namen > 7 && memcmp(name + namen - 7, "Storage", 7) == 0)
        return verr(vm, "unsupported storage type torch.%s", sdd_pickle_san(name, namen, b, sizeof b));
    sdd_pobj *o = newobj(vm, SDD_PO_GLOBAL);
    if (!o) return -1;
    o->u.glob.id = id < 0 ? SDD_PG_UNKNOWN : id;
    o->u.glob.dtype = dt;
    if (id < 0) {
        /* outside the allow-list: kept by name only, for messages (never looked up) */
        sdd_pickle_san(mod, modn, a, sizeof a);
        sdd_pickle_san(name, namen, b, sizeof b);
        const size_t len = strlen(a) + strlen(b) + 2;
        if (!(o->u.glob.name = malloc(len))) return verr(vm, "out of memory");
        snprintf(o->u.glob.name, len, "%s.%s", a, b);
    }
    return push(vm, o);
}

static int op_global(sdd_pvm *vm)
{
    const char *line[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        const unsigned char *s = vm->p + vm->pos, *nl;
        size_t room = vm->n - vm->pos;
        nl = memchr(s, '\n', room < SDD_PK_MAX_NAME ? room : SDD_PK_MAX_NAME);
        if (!nl) return verr(vm, "GLOBAL name unterminated or longer than %d bytes", SDD_PK_MAX_NAME);
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

static sdd_pobj **stab_slot(sdd_pvm *vm, const char *key)
{
    size_t mask = vm->stabcap - 1, i = key_hash(key) & mask;
    while (vm->stab[i] && strcmp(vm->stab[i]->u.stor.key, key) != 0) i = (i + 1) & mask;
    return &vm->stab[i];
}

/* BINPERSID: ('storage', storage_type, key, location, numel) -> storage,
 * one object per key. */
static int op_persid(sdd_pvm *vm)
{
    if (need(vm, 1) < 0) return -1;
    sdd_pobj *pid = pop(vm);
    if (pid->kind != SDD_PO_TUPLE || pid->u.seq.n != 5)
        return verr(vm, "persistent id is not a 5-tuple ('storage', type, key, location, numel)");
    sdd_pobj **v = pid->u.seq.v;
    if (v[0]->kind != SDD_PO_STR || strcmp(v[0]->u.str.s, "storage") != 0)
        return verr(vm, "persistent id is not a 'storage' record");
    if (v[1]->kind != SDD_PO_GLOBAL || v[1]->u.glob.id != SDD_PG_STORAGE)
        return verr(vm, "persistent id names no storage type");
    if (v[2]->kind != SDD_PO_STR || v[2]->u.str.n == 0 || v[2]->u.str.n > SDD_PK_MAX_NAME ||
        strlen(v[2]->u.str.s) != v[2]->u.str.n || strchr(v[2]->u.str.s, '/'))
        return verr(vm, "bad storage key in persistent id");
    if (v[4]->kind != SDD_PO_INT || v[4]->u.i < 0 || v[4]->u.i > INT64_MAX / 8)
        return verr(vm, "bad storage element count in persistent id");
    const char *key = v[2]->u.str.s;
    sdd_dtype dt = v[1]->u.glob.dtype;
    if (vm->stabn * 2 + 2 > vm->stabcap) {
        size_t cap = vm->stabcap ? vm->stabcap * 2 : 64;
        sdd_pobj **old = vm->stab;
        size_t oldcap = vm->stabcap;
        vm->stab = calloc(cap, sizeof *vm->stab);
        if (!vm->stab) { vm->stab = old; return verr(vm, "out of memory"); }
        vm->stabcap = cap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i]) *stab_slot(vm, old[i]->u.stor.key) = old[i];
        free(old);
    }
    sdd_pobj **slot = stab_slot(vm, key);
    if (*slot) {
        if ((*slot)->u.stor.dtype != dt || (*slot)->u.stor.numel != v[4]->u.i) {
            char k[100];
            return verr(vm, "storage '%s' appears with different types or sizes",
                        sdd_pickle_san(key, strlen(key), k, sizeof k));
        }
        return push(vm, *slot);
    }
    sdd_pobj *s = newobj(vm, SDD_PO_STORAGE);
    if (!s) return -1;
    s->u.stor.key = strdup(key);
    if (!s->u.stor.key) return verr(vm, "out of memory");
    s->u.stor.dtype = dt;
    s->u.stor.numel = v[4]->u.i;
    *slot = s;
    vm->stabn++;
    return push(vm, s);
}

static int int_tuple(sdd_pobj *t, int64_t *out, int *n)
{
    if (t->kind != SDD_PO_TUPLE || t->u.seq.n > SDD_TENSOR_MAXDIM) return -1;
    for (size_t i = 0; i < t->u.seq.n; i++) {
        if (t->u.seq.v[i]->kind != SDD_PO_INT || t->u.seq.v[i]->u.i < 0) return -1;
        out[i] = t->u.seq.v[i]->u.i;
    }
    *n = (int)t->u.seq.n;
    return 0;
}

/* _rebuild_tensor[_v2](storage, storage_offset, size, stride, ...) */
static int make_tensor(sdd_pvm *vm, sdd_pobj **a)
{
    if (a[0]->kind != SDD_PO_STORAGE) return verr(vm, "tensor rebuilt from a %s, not a storage",
                                             sdd_pickle_kind_name(a[0]));
    if (a[1]->kind != SDD_PO_INT || a[1]->u.i < 0) return verr(vm, "bad tensor storage offset");
    sdd_ptensor t;
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
    sdd_pobj *o = newobj(vm, SDD_PO_TENSOR);
    if (!o) return -1;
    o->u.ten = malloc(sizeof t);
    if (!o->u.ten) return verr(vm, "out of memory");
    *o->u.ten = t;
    return push(vm, o);
}

/* An inert placeholder for an instance of (or a call to) an unknown GLOBAL cls. */
static int push_opaque(sdd_pvm *vm, sdd_pobj *cls)
{
    sdd_pobj *o = newobj(vm, SDD_PO_OPAQUE);
    if (!o) return -1;
    o->u.cls = cls->kind == SDD_PO_OPAQUE ? cls->u.cls : cls;
    return push(vm, o);
}

int sdd_pickle_is_unknown(const sdd_pobj *o)
{
    return o->kind == SDD_PO_OPAQUE || (o->kind == SDD_PO_GLOBAL && o->u.glob.id == SDD_PG_UNKNOWN);
}

/* REDUCE (callable, args), NEWOBJ (cls, args) */
static int op_reduce(sdd_pvm *vm, int newobj_op)
{
    if (need(vm, 2) < 0) return -1;
    sdd_pobj *args = pop(vm), *fn = pop(vm);
    /* outside the allow-list: not called; the arguments are dropped */
    if (sdd_pickle_is_unknown(fn)) return push_opaque(vm, fn);
    if (fn->kind != SDD_PO_GLOBAL)
        return verr(vm, "%s of a %s", newobj_op ? "NEWOBJ" : "REDUCE", sdd_pickle_kind_name(fn));
    if (args->kind != SDD_PO_TUPLE) return verr(vm, "call arguments are a %s, not a tuple",
                                           sdd_pickle_kind_name(args));
    size_t n = args->u.seq.n;
    sdd_pobj **a = args->u.seq.v;
    int id = fn->u.glob.id;
    if (newobj_op && id != SDD_PG_ODICT) return verr(vm, "NEWOBJ of an unsupported class");
    switch (id) {
    case SDD_PG_ODICT:
        if (n != 0) return verr(vm, "OrderedDict called with arguments");
        return push(vm, newobj(vm, SDD_PO_DICT));
    case SDD_PG_REBUILD_V2:
        if (n != 6 && n != 7) return verr(vm, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %zu", n);
        return make_tensor(vm, a);
    case SDD_PG_REBUILD_V1:
        if (n != 4) return verr(vm, "_rebuild_tensor takes 4 arguments, got %zu", n);
        return make_tensor(vm, a);
    case SDD_PG_PARAM: case SDD_PG_PARAM_STATE:
        if (n != (id == SDD_PG_PARAM ? 3u : 4u) || a[0]->kind != SDD_PO_TENSOR)
            return verr(vm, "bad _rebuild_parameter arguments");
        return push(vm, a[0]);
    case SDD_PG_ENCODE: {   /* the value itself is never used: an empty bytes object */
        if (n < 1 || n > 2 || a[0]->kind != SDD_PO_STR) return verr(vm, "bad _codecs.encode arguments");
        sdd_pobj *o = newobj(vm, SDD_PO_BYTES);
        if (!o || !(o->u.str.s = calloc(1, 1))) return o ? verr(vm, "out of memory") : -1;
        return push(vm, o);
    }
    default:
        return verr(vm, "calling a storage type is not supported");
    }
}

static int rdle(sdd_pvm *vm, int k, uint64_t *v)
{
    const unsigned char *b = NULL;
    if (rd(vm, (size_t)k, &b) < 0) return -1;
    *v = le(b, k);
    return 0;
}

/* APPENDS / SETITEMS: the items above the MARK go into the list / dict below it. */
static int op_extend(sdd_pvm *vm, int kind, const char *opname)
{
    size_t start = 0;
    if (pop_mark(vm, &start) < 0) return -1;
    if (start == 0 || (vm->mn && vm->marks[vm->mn - 1] >= start))
        return verr(vm, "%s with nothing below the MARK", opname);
    sdd_pobj *c = vm->stack[start - 1];
    if (c->kind == SDD_PO_OPAQUE) { vm->sn = start; return 0; }   /* a dict/list subclass: items dropped */
    if (c->kind != kind) return verr(vm, "%s on a %s", opname, sdd_pickle_kind_name(c));
    if (kind == SDD_PO_DICT && (vm->sn - start) % 2)
        return verr(vm, "%s with an odd number of items", opname);
    for (size_t i = start; i < vm->sn; i++)
        if (seq_add(vm, c, vm->stack[i]) < 0) return -1;
    vm->sn = start;
    return 0;
}

int sdd_pickle_run(sdd_pvm *vm, sdd_pobj **result)
{
    const unsigned char *b = NULL;
    size_t start = 0;
    uint64_t u;
    sdd_pobj *x, *y, *c;
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
        case 'N': rc = push(vm, newobj(vm, SDD_PO_NONE)); break;
        case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
            if (!(x = newobj(vm, SDD_PO_BOOL))) return -1;
            x->u.i = op == 0x88;
            rc = push(vm, x);
            break;
        case 'J': if ((rc = rdle(vm, 4, &u)) == 0) rc = new_int(vm, (int32_t)(uint32_t)u); break;
        case 'K': if ((rc = rdle(vm, 1, &u)) == 0) rc = new_int(vm, (int64_t)u); break;  /* BININT1 */
        case 'M': if ((rc = rdle(vm, 2, &u)) == 0) rc = new_int(vm, (int64_t)u); break;  /* BININT2 */
        case 0x8a: rc = op_long(vm, 1); break;   /* LONG1 */
        case 0x8b: rc = op_long(vm, 4); break;   /* LONG4 */
        case 'G': /* BINFLOAT, big-endian */
            if (rd(vm, 8, &b) < 0 || !(x = newobj(vm, SDD_PO_FLOAT))) return -1;
            for (int i = 0; i < 8; i++) u = (u << 8) | b[i];
            memcpy(&x->u.f, &u, sizeof u);
            rc = push(vm, x);
            break;
        case 'X': rc = op_string(vm, 4, SDD_PO_STR, 0); break;     /* BINUNICODE */
        case 0x8c: rc = op_string(vm, 1, SDD_PO_STR, 0); break;    /* SHORT_BINUNICODE */
        case 0x8d: rc = op_string(vm, 8, SDD_PO_STR, 0); break;    /* BINUNICODE8 */
        case 'T': rc = op_string(vm, 4, SDD_PO_STR, 1); break;     /* BINSTRING */
        case 'U': rc = op_string(vm, 1, SDD_PO_STR, 0); break;     /* SHORT_BINSTRING */
        case 'B': rc = op_string(vm, 4, SDD_PO_BYTES, 0); break;   /* BINBYTES */
        case 'C': rc = op_string(vm, 1, SDD_PO_BYTES, 0); break;   /* SHORT_BINBYTES */
        case 0x8e: rc = op_string(vm, 8, SDD_PO_BYTES, 0); break;  /* BINBYTES8 */
        case '}': rc = push(vm, newobj(vm, SDD_PO_DICT)); break;
        case ']': rc = push(vm, newobj(vm, SDD_PO_LIST)); break;
        case ')': rc = push(vm, newobj(vm, SDD_PO_TUPLE)); break;
        case 't': if ((rc = pop_mark(vm, &start)) == 0) rc = collect(vm, SDD_PO_TUPLE, start); break;
        case 'l': if ((rc = pop_mark(vm, &start)) == 0) rc = collect(vm, SDD_PO_LIST, start); break;
        case 'd':
            if ((rc = pop_mark(vm, &start)) == 0) {
                if ((vm->sn - start) % 2) return verr(vm, "DICT with an odd number of items");
                rc = collect(vm, SDD_PO_DICT, start);
            }
            break;
        case 0x85: case 0x86: case 0x87: /* TUPLE1..3 */
            if ((rc = need(vm, (size_t)(op - 0x84))) == 0)
                rc = collect(vm, SDD_PO_TUPLE, vm->sn - (size_t)(op - 0x84));
            break;
        case 'a': /* APPEND */
            if (need(vm, 2) < 0) return -1;
            x = pop(vm);
            c = top(vm);
            if (c->kind == SDD_PO_OPAQUE) break;
            if (c->kind != SDD_PO_LIST) return verr(vm, "APPEND to a %s", sdd_pickle_kind_name(c));
            rc = seq_add(vm, c, x);
            break;
        case 'e': rc = op_extend(vm, SDD_PO_LIST, "APPENDS"); break;
        case 's': /* SETITEM */
            if (need(vm, 3) < 0) return -1;
            y = pop(vm);
            x = pop(vm);
            c = top(vm);
            if (c->kind == SDD_PO_OPAQUE) break;
            if (c->kind != SDD_PO_DICT) return verr(vm, "SETITEM on a %s", sdd_pickle_kind_name(c));
            if ((rc = seq_add(vm, c, x)) == 0) rc = seq_add(vm, c, y);
            break;
        case 'u': rc = op_extend(vm, SDD_PO_DICT, "SETITEMS"); break;
        case 'c': rc = op_global(vm); break;
        case 0x93: /* STACK_GLOBAL */
            if (need(vm, 2) < 0) return -1;
            y = pop(vm);
            x = pop(vm);
            if (x->kind != SDD_PO_STR || y->kind != SDD_PO_STR)
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
        case 0x92: /* NEWOBJ_EX (cls, args, kwargs): only for classes outside the allow-list */
            if (need(vm, 3) < 0) return -1;
            vm->sn -= 2;
            c = pop(vm);
            if (!sdd_pickle_is_unknown(c)) return verr(vm, "NEWOBJ_EX of a %s", sdd_pickle_kind_name(c));
            rc = push_opaque(vm, c);
            break;
        case 'b': /* BUILD: state is ignored for dicts, tensors and placeholders */
            if (need(vm, 2) < 0) return -1;
            (void)pop(vm);
            c = top(vm);
            if (c->kind != SDD_PO_DICT && c->kind != SDD_PO_TENSOR && c->kind != SDD_PO_OPAQUE)
                return verr(vm, "BUILD on a %s", sdd_pickle_kind_name(c));
            break;
        case 'Q': rc = op_persid(vm); break;
        default:
            return verr(vm, "unsupported pickle opcode 0x%02x", op);
        }
        if (rc < 0) return -1;
    }
}
