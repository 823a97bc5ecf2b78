/* Owns the NumPy reader (see npy.h): the .npy header, numeric array data,
 * and the pickle subset of object arrays. Every object made lives in one
 * list freed at the end, so memo sharing and even cycles are harmless, and
 * nothing here recurses. */
#include "io/npy.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STACK (1 << 20)
#define MAX_MEMO (1 << 22)

enum { G_RECON = 1, G_NDARRAY, G_DTYPE, G_SCALAR, G_ENCODE };
enum { T_GLOBAL = 1, T_DTYPE };   /* sdd_py.tag of SDD_PY_INTERNAL objects */

typedef struct {
    const char *name;
    sdd_err *e;
    const unsigned char *p;
    size_t n, pos, op_at;
    sdd_npy *f;
    sdd_py **stack, **memo;
    size_t sn, scap, *marks, mn, mcap, memolen;
} vm;

static int fail(vm *m, const char *what)
{
    return sdd_err_set(m->e, "%s: pickle at byte %zu: %s", m->name, m->op_at, what);
}

static sdd_py *newobj(sdd_npy *f, sdd_py_kind k)
{
    sdd_py *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->kind = k;
    o->all_next = f->all;
    f->all = o;
    return o;
}

void sdd_npy_free(sdd_npy *f)
{
    if (!f) return;
    for (sdd_py *o = f->all, *nx; o; o = nx) {
        nx = o->all_next;
        free(o->s);
        free(o->v);
        free(o->data);
        free(o);
    }
    memset(f, 0, sizeof *f);
}

const char *sdd_py_printable(const char *s, char *buf, size_t cap)
{
    size_t j = 0;
    for (; s && s[j] && j + 1 < cap; j++) {
        const unsigned char c = (unsigned char)s[j];
        buf[j] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (cap) buf[j] = 0;
    return buf;
}

const char *sdd_py_kind_name(const sdd_py *o)
{
    static const char *names[] = { "None", "bool", "int", "float", "str", "bytes", "tuple", "list", "dict",
                                   "ndarray", "internal object" };
    return o ? names[o->kind] : "nothing";
}

const sdd_py *sdd_py_dict_get(const sdd_py *d, const char *key)
{
    if (!d || d->kind != SDD_PY_DICT) return NULL;
    for (size_t k = 0; k < d->n; k++) {
        const sdd_py *kk = d->v[2 * k];
        if (kk->kind == SDD_PY_STR && !strcmp(kk->s, key)) return d->v[2 * k + 1];
    }
    return NULL;
}

/* ------------------------------------------------------------ stack */

static int push(vm *m, sdd_py *o)
{
    if (!o) return fail(m, "out of memory");
    if (m->sn == m->scap) {
        if (m->scap >= MAX_STACK) return fail(m, "stack too deep");
        size_t nc = m->scap ? 2 * m->scap : 64;
        sdd_py **s = realloc(m->stack, nc * sizeof *s);
        if (!s) return fail(m, "out of memory");
        m->stack = s;
        m->scap = nc;
    }
    m->stack[m->sn++] = o;
    return 0;
}

static sdd_py *pop(vm *m)
{
    if (m->sn == 0 || (m->mn && m->sn == m->marks[m->mn - 1])) { fail(m, "stack underflow"); return NULL; }
    return m->stack[--m->sn];
}

static int push_mark(vm *m)
{
    if (m->mn == m->mcap) {
        if (m->mcap >= MAX_STACK) return fail(m, "too many marks");
        size_t nc = m->mcap ? 2 * m->mcap : 16;
        size_t *s = realloc(m->marks, nc * sizeof *s);
        if (!s) return fail(m, "out of memory");
        m->marks = s;
        m->mcap = nc;
    }
    m->marks[m->mn++] = m->sn;
    return 0;
}

static int pop_mark(vm *m, size_t *start)
{
    if (m->mn == 0) return fail(m, "no MARK");
    *start = m->marks[--m->mn];
    return 0;
}

/* Little-endian unsigned of k bytes (k <= 8). */
static int rdle(vm *m, int k, uint64_t *v)
{
    if (m->n - m->pos < (size_t)k) return fail(m, "truncated");
    uint64_t u = 0;
    for (int i = 0; i < k; i++) u |= (uint64_t)m->p[m->pos + i] << (8 * i);
    m->pos += (size_t)k;
    *v = u;
    return 0;
}

static int set_items(sdd_py *o, sdd_py **items, size_t n)
{
    if (!n) return 0;
    o->v = malloc(n * sizeof *o->v);
    if (!o->v) return -1;
    memcpy(o->v, items, n * sizeof *o->v);
    o->n = n;
    return 0;
}

/* Appends n items to a LIST, or n/2 pairs to a DICT. */
static int extend(vm *m, sdd_py *o, sdd_py **items, size_t n)
{
    if (!n) return 0;
    sdd_py **v = realloc(o->v, (o->kind == SDD_PY_DICT ? 2 * o->n + n : o->n + n) * sizeof *v);
    if (!v) return fail(m, "out of memory");
    o->v = v;
    if (o->kind == SDD_PY_DICT) {
        memcpy(v + 2 * o->n, items, n * sizeof *v);
        o->n += n / 2;
    } else {
        memcpy(v + o->n, items, n * sizeof *v);
        o->n += n;
    }
    return 0;
}

static int op_string(vm *m, int lenbytes, sdd_py_kind k)
{
    uint64_t len = 0;
    if (rdle(m, lenbytes, &len)) return -1;
    if (len > m->n - m->pos) return fail(m, "string runs past the end");
    sdd_py *o = newobj(m->f, k);
    if (!o) return fail(m, "out of memory");
    o->s = malloc((size_t)len + 1);
    if (!o->s) return fail(m, "out of memory");
    memcpy(o->s, m->p + m->pos, (size_t)len);
    o->s[len] = 0;
    o->len = (size_t)len;
    m->pos += (size_t)len;
    return push(m, o);
}

static int op_global(vm *m, const char *mod, const char *name)
{
    int id = 0;
    if ((!strcmp(mod, "numpy.core.multiarray") || !strcmp(mod, "numpy._core.multiarray")) &&
        !strcmp(name, "_reconstruct")) id = G_RECON;
    else if ((!strcmp(mod, "numpy.core.multiarray") || !strcmp(mod, "numpy._core.multiarray")) &&
             !strcmp(name, "scalar")) id = G_SCALAR;
    else if (!strcmp(mod, "numpy") && !strcmp(name, "ndarray")) id = G_NDARRAY;
    else if (!strcmp(mod, "numpy") && !strcmp(name, "dtype")) id = G_DTYPE;
    else if (!strcmp(mod, "_codecs") && !strcmp(name, "encode")) id = G_ENCODE;
    if (!id) {
        char msg[600], a[201], b[201];
        snprintf(msg, sizeof msg, "unsupported global %s.%s (only numpy arrays, dtypes and scalars "
                 "and plain Python values are read)", sdd_py_printable(mod, a, sizeof a),
                 sdd_py_printable(name, b, sizeof b));
        return fail(m, msg);
    }
    sdd_py *o = newobj(m->f, SDD_PY_INTERNAL);
    if (!o) return fail(m, "out of memory");
    o->tag = T_GLOBAL;
    o->i = id;
    return push(m, o);
}

/* GLOBAL: "module\nname\n" */
static int op_global_text(vm *m)
{
    char part[2][256];
    for (int k = 0; k < 2; k++) {
        size_t j = 0;
        while (m->pos < m->n && m->p[m->pos] != '\n') {
            if (j + 1 >= sizeof part[k]) return fail(m, "GLOBAL name too long");
            part[k][j++] = (char)m->p[m->pos++];
        }
        if (m->pos >= m->n) return fail(m, "truncated GLOBAL");
        m->pos++;
        part[k][j] = 0;
    }
    return op_global(m, part[0], part[1]);
}

/* little-endian machine assumed for '=' (the x86/ARM targets sdd builds for) */
static int dtype_info(const sdd_py *dt, int *is_obj, int *is_float, int *size, int *swap)
{
    const char *d = dt->s;
    const char bo = (char)dt->i;
    *swap = bo == '>';
    *is_obj = d[0] == 'O';
    if (*is_obj) { *is_float = 0; *size = 8; return 0; }
    if ((d[0] == 'f' || d[0] == 'i' || d[0] == 'b') && (d[1] == '1' || d[1] == '4' || d[1] == '8') && !d[2]) {
        *is_float = d[0] == 'f';
        *size = d[1] - '0';
        if (d[0] == 'f' && *size == 1) return -1;
        if (d[0] == 'b' && *size != 1) return -1;
        if (d[0] == 'i' && *size == 1) return -1;
        return 0;
    }
    return -1;
}

/* One element of dtype dt at p as double (int64 beyond 2^53 rounds). */
static double read_elem(const unsigned char *p, int is_float, int size, int swap, int is_bool)
{
    unsigned char b[8];
    for (int i = 0; i < size; i++) b[i] = swap ? p[size - 1 - i] : p[i];
    if (is_bool) return b[0] ? 1.0 : 0.0;
    if (is_float && size == 8) { double d; memcpy(&d, b, 8); return d; }
    if (is_float) { float x; memcpy(&x, b, 4); return x; }
    if (size == 8) { int64_t v; memcpy(&v, b, 8); return (double)v; }
    int32_t v;
    memcpy(&v, b, 4);
    return v;
}

static int op_reduce(vm *m)
{
    sdd_py *args = pop(m), *fn = args ? pop(m) : NULL;
    if (!fn) return -1;
    if (fn->kind != SDD_PY_INTERNAL || fn->tag != T_GLOBAL) return fail(m, "REDUCE of something not callable");
    if (args->kind != SDD_PY_TUPLE) return fail(m, "REDUCE arguments are not a tuple");
    sdd_py *o;
    switch ((int)fn->i) {
    case G_ENCODE: {   /* bytes as _codecs.encode(str, 'latin1'): code points < 256 -> bytes */
        if (args->n < 1 || args->v[0]->kind != SDD_PY_STR) return fail(m, "_codecs.encode needs a str");
        if (args->n > 1 && (args->v[1]->kind != SDD_PY_STR ||
                            (strcmp(args->v[1]->s, "latin1") && strcmp(args->v[1]->s, "latin-1"))))
            return fail(m, "_codecs.encode with an encoding other than latin1");
        const sdd_py *s = args->v[0];
        if (!(o = newobj(m->f, SDD_PY_BYTES)) || !(o->s = malloc(s->len + 1))) return fail(m, "out of memory");
        size_t j = 0;
        for (size_t i = 0; i < s->len; i++) {
            const unsigned char c = (unsigned char)s->s[i];
            if (c < 0x80) o->s[j++] = (char)c;
            else if ((c == 0xc2 || c == 0xc3) && i + 1 < s->len && ((unsigned char)s->s[i + 1] & 0xc0) == 0x80) {
                o->s[j++] = (char)(((c & 0x1f) << 6) | ((unsigned char)s->s[i + 1] & 0x3f));
                i++;
            } else return fail(m, "_codecs.encode: a character above U+00FF");
        }
        o->s[j] = 0;
        o->len = j;
        return push(m, o);
    }
    case G_DTYPE:
        if (args->n < 1 || args->v[0]->kind != SDD_PY_STR || args->v[0]->len > 16) return fail(m, "numpy.dtype needs a type string");
        if (!(o = newobj(m->f, SDD_PY_INTERNAL)) || !(o->s = strdup(args->v[0]->s))) return fail(m, "out of memory");
        o->len = strlen(o->s);
        o->tag = T_DTYPE;
        o->i = '=';
        return push(m, o);
    case G_SCALAR: {
        if (args->n != 2 || args->v[0]->kind != SDD_PY_INTERNAL || args->v[0]->tag != T_DTYPE ||
            args->v[1]->kind != SDD_PY_BYTES)
            return fail(m, "numpy scalar needs (dtype, bytes)");
        int is_obj, is_float, size, swap;
        const sdd_py *dt = args->v[0], *b = args->v[1];
        if (dtype_info(dt, &is_obj, &is_float, &size, &swap) || is_obj) {
            char msg[200], q[17];
            snprintf(msg, sizeof msg, "numpy scalar of dtype '%s' is not supported (float64/32, int64/32, bool)",
                     sdd_py_printable(dt->s, q, sizeof q));
            return fail(m, msg);
        }
        if (b->len != (size_t)size) return fail(m, "numpy scalar data has the wrong size");
        const int is_bool = dt->s[0] == 'b';
        const double v = read_elem((const unsigned char *)b->s, is_float, size, swap, is_bool);
        if (!(o = newobj(m->f, is_float ? SDD_PY_FLOAT : is_bool ? SDD_PY_BOOL : SDD_PY_INT))) return fail(m, "out of memory");
        if (is_float) o->f = v;
        else if (size == 8 && !is_bool) {   /* int64 exactly */
            unsigned char t[8];
            for (int i = 0; i < 8; i++) t[i] = swap ? (unsigned char)b->s[7 - i] : (unsigned char)b->s[i];
            memcpy(&o->i, t, 8);
        } else o->i = (int64_t)v;
        return push(m, o);
    }
    case G_RECON:
        if (args->n < 1 || args->v[0]->kind != SDD_PY_INTERNAL || args->v[0]->i != G_NDARRAY)
            return fail(m, "_reconstruct of something other than numpy.ndarray");
        if (!(o = newobj(m->f, SDD_PY_ARRAY))) return fail(m, "out of memory");
        o->tag = -1;   /* awaiting BUILD; until then what _reconstruct makes: an empty (0,) array */
        o->ndim = 1;
        return push(m, o);
    default:
        return fail(m, "this global cannot be called");
    }
}

/* BUILD: a dtype's state (3, byteorder, ...) or an ndarray's
 * (version, shape, dtype, fortran, data). */
static int op_build(vm *m)
{
    sdd_py *st = pop(m), *o = st ? pop(m) : NULL;
    if (!o) return -1;
    if (o->kind == SDD_PY_INTERNAL && o->tag == T_DTYPE) {
        if (st->kind != SDD_PY_TUPLE || st->n < 2 || st->v[1]->kind != SDD_PY_STR || st->v[1]->len != 1)
            return fail(m, "unexpected numpy dtype state");
        o->i = st->v[1]->s[0];
        return push(m, o);
    }
    if (o->kind != SDD_PY_ARRAY || o->tag != -1) return fail(m, "BUILD of an object that takes no state");
    if (st->kind != SDD_PY_TUPLE || st->n != 5 || st->v[1]->kind != SDD_PY_TUPLE ||
        st->v[2]->kind != SDD_PY_INTERNAL || st->v[2]->tag != T_DTYPE)
        return fail(m, "unexpected numpy array state (not (version, shape, dtype, fortran, data))");
    const sdd_py *shp = st->v[1], *dt = st->v[2], *data = st->v[4];
    if (shp->n > SDD_NPY_MAXDIM) return fail(m, "array has too many dimensions");
    uint64_t count = 1;
    for (size_t d = 0; d < shp->n; d++) {
        if (shp->v[d]->kind != SDD_PY_INT || shp->v[d]->i < 0 || shp->v[d]->i > (int64_t)1 << 40)
            return fail(m, "bad array shape");
        o->shape[d] = shp->v[d]->i;
        count *= (uint64_t)shp->v[d]->i;
        if (count > (uint64_t)1 << 40) return fail(m, "array too large");
    }
    o->ndim = (int)shp->n;
    int is_obj, is_float, size, swap;
    if (dtype_info(dt, &is_obj, &is_float, &size, &swap)) {
        char msg[200], q[17];
        snprintf(msg, sizeof msg, "arrays of dtype '%s' are not supported (object, float64/32, int64/32, bool)",
                 sdd_py_printable(dt->s, q, sizeof q));
        return fail(m, msg);
    }
    if (o->ndim > 1 && st->v[3]->kind == SDD_PY_BOOL && st->v[3]->i)
        return fail(m, "Fortran-ordered arrays are not supported");
    if (is_obj) {
        if (data->kind != SDD_PY_LIST || data->n != count) return fail(m, "object array data is not a list of its elements");
        if (set_items(o, data->v, data->n)) return fail(m, "out of memory");
        o->is_object = 1;
    } else {
        if (data->kind != SDD_PY_BYTES || data->len != count * (uint64_t)size) return fail(m, "array data has the wrong size");
        if (!(o->data = malloc((size_t)(count ? count : 1) * sizeof *o->data))) return fail(m, "out of memory");
        for (uint64_t k = 0; k < count; k++)
            o->data[k] = read_elem((const unsigned char *)data->s + k * (uint64_t)size, is_float, size, swap, dt->s[0] == 'b');
        o->n = (size_t)count;
    }
    o->tag = 0;
    return push(m, o);
}

static int memo_put(vm *m, uint64_t idx)
{
    if (m->sn == 0) return fail(m, "memo of an empty stack");
    if (idx >= MAX_MEMO) return fail(m, "memo index too large");
    if (idx >= m->memolen) {
        size_t nl = m->memolen ? m->memolen : 64;
        while (nl <= idx) nl *= 2;
        sdd_py **mm = realloc(m->memo, nl * sizeof *mm);
        if (!mm) return fail(m, "out of memory");
        memset(mm + m->memolen, 0, (nl - m->memolen) * sizeof *mm);
        m->memo = mm;
        m->memolen = nl;
    }
    m->memo[idx] = m->stack[m->sn - 1];
    return 0;
}

static int run(vm *m)
{
    size_t memo_next = 0;
    for (;;) {
        if (m->pos >= m->n) return fail(m, "no STOP opcode");
        m->op_at = m->pos;
        const unsigned char op = m->p[m->pos++];
        uint64_t u = 0;
        size_t start = 0;
        sdd_py *o, *a, *b;
        int rc = 0;
        switch (op) {
        case 0x80: rc = rdle(m, 1, &u); if (!rc && (u < 2 || u > 5)) rc = fail(m, "pickle protocol not 2..5"); break;
        case 0x95: rc = rdle(m, 8, &u); break;   /* FRAME: the length is only a hint */
        case '.':
            if (m->sn != 1 || m->mn) return fail(m, "STOP with more than one object left");
            m->f->root = m->stack[0];
            return 0;
        case '(': rc = push_mark(m); break;
        case '0': rc = pop(m) ? 0 : -1; break;
        case '1': if ((rc = pop_mark(m, &start)) == 0) m->sn = start; break;
        case 'N': rc = push(m, newobj(m->f, SDD_PY_NONE)); break;
        case 0x88: case 0x89:
            if ((o = newobj(m->f, SDD_PY_BOOL))) o->i = op == 0x88;
            rc = push(m, o);
            break;
        case 'J': case 'K': case 'M':
            if ((rc = rdle(m, op == 'J' ? 4 : op == 'K' ? 1 : 2, &u))) break;
            if ((o = newobj(m->f, SDD_PY_INT))) o->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
            rc = push(m, o);
            break;
        case 0x8a:   /* LONG1: little-endian two's complement of n <= 8 bytes */
            if ((rc = rdle(m, 1, &u))) break;
            if (u > 8) { rc = fail(m, "integer wider than 64 bits"); break; }
            {
                const int nb = (int)u;
                uint64_t v = 0;
                if ((rc = rdle(m, nb, &v))) break;
                if (nb && nb < 8 && (v >> (8 * nb - 1)) & 1) v |= ~(uint64_t)0 << (8 * nb);
                if ((o = newobj(m->f, SDD_PY_INT))) memcpy(&o->i, &v, 8);
                rc = push(m, o);
            }
            break;
        case 'G':   /* BINFLOAT, big-endian */
            if (m->n - m->pos < 8) { rc = fail(m, "truncated"); break; }
            {
                unsigned char t[8];
                for (int i = 0; i < 8; i++) t[i] = m->p[m->pos + 7 - i];
                m->pos += 8;
                if ((o = newobj(m->f, SDD_PY_FLOAT))) memcpy(&o->f, t, 8);
                rc = push(m, o);
            }
            break;
        case 'X': rc = op_string(m, 4, SDD_PY_STR); break;
        case 0x8c: rc = op_string(m, 1, SDD_PY_STR); break;
        case 0x8d: rc = op_string(m, 8, SDD_PY_STR); break;
        case 'T': rc = op_string(m, 4, SDD_PY_BYTES); break;   /* BINSTRING: Python 2 str, bytes here */
        case 'U': rc = op_string(m, 1, SDD_PY_BYTES); break;
        case 'B': rc = op_string(m, 4, SDD_PY_BYTES); break;
        case 'C': rc = op_string(m, 1, SDD_PY_BYTES); break;
        case 0x8e: rc = op_string(m, 8, SDD_PY_BYTES); break;
        case '}': rc = push(m, newobj(m->f, SDD_PY_DICT)); break;
        case ']': rc = push(m, newobj(m->f, SDD_PY_LIST)); break;
        case ')': rc = push(m, newobj(m->f, SDD_PY_TUPLE)); break;
        case 't': case 'l': case 'd':
            if ((rc = pop_mark(m, &start))) break;
            if (op == 'd' && (m->sn - start) % 2) { rc = fail(m, "DICT with an odd number of items"); break; }
            if (!(o = newobj(m->f, op == 't' ? SDD_PY_TUPLE : op == 'l' ? SDD_PY_LIST : SDD_PY_DICT))) { rc = fail(m, "out of memory"); break; }
            if (m->sn == start) {}   /* empty: (the stack may not even be allocated yet) */
            else if (op == 'd') rc = extend(m, o, m->stack + start, m->sn - start);
            else if (set_items(o, m->stack + start, m->sn - start)) rc = fail(m, "out of memory");
            if (rc) break;
            m->sn = start;
            rc = push(m, o);
            break;
        case 0x85: case 0x86: case 0x87: {
            const size_t k = (size_t)(op - 0x84);
            if (m->sn < k || (m->mn && m->sn - k < m->marks[m->mn - 1])) { rc = fail(m, "stack underflow"); break; }
            if (!(o = newobj(m->f, SDD_PY_TUPLE)) || set_items(o, m->stack + m->sn - k, k)) { rc = fail(m, "out of memory"); break; }
            m->sn -= k;
            rc = push(m, o);
            break;
        }
        case 'a': case 's':   /* APPEND, SETITEM */
            a = NULL;
            if (!(b = pop(m))) return -1;
            if (op == 's' && !(a = pop(m))) return -1;
            if (m->sn == 0) return fail(m, "stack underflow");
            o = m->stack[m->sn - 1];
            if (o->kind != (op == 'a' ? SDD_PY_LIST : SDD_PY_DICT)) { rc = fail(m, op == 'a' ? "APPEND to a non-list" : "SETITEM on a non-dict"); break; }
            {
                sdd_py *items[2] = { op == 's' ? a : b, b };
                rc = extend(m, o, op == 's' ? items : items + 1, op == 's' ? 2 : 1);
            }
            break;
        case 'e': case 'u':   /* APPENDS, SETITEMS */
            if ((rc = pop_mark(m, &start))) break;
            if (start == 0) { rc = fail(m, "stack underflow"); break; }
            o = m->stack[start - 1];
            if (o->kind != (op == 'e' ? SDD_PY_LIST : SDD_PY_DICT)) { rc = fail(m, op == 'e' ? "APPENDS to a non-list" : "SETITEMS on a non-dict"); break; }
            if (op == 'u' && (m->sn - start) % 2) { rc = fail(m, "SETITEMS with an odd number of items"); break; }
            if (m->sn > start) rc = extend(m, o, m->stack + start, m->sn - start);
            m->sn = start;
            break;
        case 'c': rc = op_global_text(m); break;
        case 0x93:   /* STACK_GLOBAL */
            if (!(b = pop(m)) || !(a = pop(m))) return -1;
            if (a->kind != SDD_PY_STR || b->kind != SDD_PY_STR) { rc = fail(m, "STACK_GLOBAL needs two str"); break; }
            rc = op_global(m, a->s, b->s);
            break;
        case 'q': if ((rc = rdle(m, 1, &u)) == 0) rc = memo_put(m, u); break;
        case 'r': if ((rc = rdle(m, 4, &u)) == 0) rc = memo_put(m, u); break;
        case 0x94: rc = memo_put(m, memo_next++); break;
        case 'h': case 'j':
            if ((rc = rdle(m, op == 'h' ? 1 : 4, &u))) break;
            if (u >= m->memolen || !m->memo[u]) { rc = fail(m, "memo entry not set"); break; }
            rc = push(m, m->memo[u]);
            break;
        case 'R': rc = op_reduce(m); break;
        case 'b': rc = op_build(m); break;
        default: {
            char msg[80];
            snprintf(msg, sizeof msg, "unsupported opcode 0x%02x", op);
            return fail(m, msg);
        }
        }
        if (rc) return -1;
    }
}

static int run_pickle(const unsigned char *p, size_t n, const char *name, sdd_npy *f, sdd_err *e)
{
    vm m = { .name = name, .e = e, .p = p, .n = n, .f = f };
    const int rc = run(&m);
    free(m.stack);
    free(m.marks);
    free(m.memo);
    f->pickled = 1;
    return rc;
}

/* ------------------------------------------------------------ .npy header */

/* The value text after 'key': in the header dict, or NULL. */
static const char *hdr_value(const char *h, const char *key)
{
    char pat[32];
    for (int q = 0; q < 2; q++) {
        snprintf(pat, sizeof pat, q ? "\"%s\"" : "'%s'", key);
        const char *s = strstr(h, pat);
        if (s) {
            s += strlen(pat);
            while (*s == ' ') s++;
            if (*s != ':') return NULL;
            s++;
            while (*s == ' ') s++;
            return s;
        }
    }
    return NULL;
}

static int parse_npy(const unsigned char *p, size_t n, const char *name, sdd_npy *f, sdd_err *e)
{
    const int major = p[6];
    if (major < 1 || major > 3) return sdd_err_set(e, "%s: .npy format version %d.%d is not 1, 2 or 3", name, major, p[7]);
    const size_t lenb = major == 1 ? 2 : 4;
    if (n < 8 + lenb) return sdd_err_set(e, "%s: truncated .npy header", name);
    size_t hl = 0;
    for (size_t i = 0; i < lenb; i++) hl |= (size_t)p[8 + i] << (8 * i);
    const size_t off = 8 + lenb;
    if (hl > n - off || hl > 1 << 20) return sdd_err_set(e, "%s: .npy header of %zu bytes runs past the end", name, hl);
    char *h = malloc(hl + 1);
    if (!h) return sdd_err_set(e, "%s: out of memory", name);
    memcpy(h, p + off, hl);
    h[hl] = 0;
    int rc = -1;
    const char *d = hdr_value(h, "descr"), *fo = hdr_value(h, "fortran_order"), *sh = hdr_value(h, "shape");
    char descr[16] = "";
    if (!d || !fo || !sh || (d[0] != '\'' && d[0] != '"')) {
        sdd_err_set(e, "%s: .npy header lacks descr, fortran_order or shape", name);
        goto done;
    }
    size_t dl = 0;
    for (const char *s = d + 1; *s && *s != d[0]; s++)
        if (dl + 1 < sizeof descr) descr[dl++] = *s;
    descr[dl] = 0;
    sdd_py *arr = newobj(f, SDD_PY_ARRAY);
    if (!arr) { sdd_err_set(e, "%s: out of memory", name); goto done; }
    if (*sh != '(') { sdd_err_set(e, "%s: .npy shape is not a tuple", name); goto done; }
    uint64_t count = 1;
    for (const char *s = sh + 1;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *end;
        const long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || v > (1LL << 40) || arr->ndim == SDD_NPY_MAXDIM) {
            sdd_err_set(e, "%s: bad .npy shape", name);
            goto done;
        }
        arr->shape[arr->ndim++] = v;
        count *= (uint64_t)v;
        if (count > (uint64_t)1 << 40) { sdd_err_set(e, "%s: .npy array too large", name); goto done; }
        s = end;
    }
    const int fortran = !strncmp(fo, "True", 4);
    if (!fortran && strncmp(fo, "False", 5)) { sdd_err_set(e, "%s: bad fortran_order in the .npy header", name); goto done; }
    const unsigned char *data = p + off + hl;
    const size_t left = n - off - hl;
    if (!strcmp(descr, "|O") || !strcmp(descr, "O")) {
        /* object array: the rest is the pickle of the array itself */
        if (run_pickle(data, left, name, f, e)) goto done;
        if (f->root->kind != SDD_PY_ARRAY || !f->root->is_object) {
            sdd_err_set(e, "%s: the .npy object payload is a %s, not an object array", name, sdd_py_kind_name(f->root));
            goto done;
        }
        rc = 0;
        goto done;
    }
    const int size = !strcmp(descr, "<f8") ? 8 : !strcmp(descr, "<f4") ? 4 : 0;
    if (!size) {
        char q[16];
        sdd_err_set(e, "%s: .npy dtype '%s' is not supported (little-endian float64 '<f8' or float32 '<f4')", name,
                    sdd_py_printable(descr, q, sizeof q));
        goto done;
    }
    if (fortran && arr->ndim > 1) { sdd_err_set(e, "%s: Fortran-ordered .npy arrays are not supported", name); goto done; }
    if (left < count * (uint64_t)size) {
        sdd_err_set(e, "%s: .npy data is %zu bytes, the header's shape needs %llu", name, left,
                    (unsigned long long)(count * (uint64_t)size));
        goto done;
    }
    arr->data = malloc((size_t)(count ? count : 1) * sizeof *arr->data);
    if (!arr->data) { sdd_err_set(e, "%s: out of memory", name); goto done; }
    for (uint64_t k = 0; k < count; k++) arr->data[k] = read_elem(data + k * (uint64_t)size, 1, size, 0, 0);
    arr->n = (size_t)count;
    f->root = arr;
    rc = 0;
done:
    free(h);
    return rc;
}

int sdd_npy_parse(const unsigned char *buf, size_t n, const char *name, sdd_npy *f, sdd_err *e)
{
    memset(f, 0, sizeof *f);
    int rc;
    if (n >= 8 && !memcmp(buf, "\x93NUMPY", 6)) rc = parse_npy(buf, n, name, f, e);
    else if (n >= 2 && buf[0] == 0x80) rc = run_pickle(buf, n, name, f, e);
    else rc = sdd_err_set(e, "%s: not a NumPy file (no .npy magic and not a pickle)", name);
    if (rc) sdd_npy_free(f);
    return rc;
}

int sdd_npy_load(const char *path, sdd_npy *f, sdd_err *e)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return sdd_err_set(e, "%s: cannot open", path);
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= (size_t)1 << 31) { fclose(fp); free(buf); return sdd_err_set(e, "%s: file too large", path); }
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) { fclose(fp); free(buf); return sdd_err_set(e, "%s: out of memory", path); }
            buf = nb;
        }
        const size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    const int err = ferror(fp);
    fclose(fp);
    if (err) { free(buf); return sdd_err_set(e, "%s: read error", path); }
    const int rc = sdd_npy_parse(buf, n, path, f, e);
    free(buf);
    return rc;
}
