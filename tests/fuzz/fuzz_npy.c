/* libFuzzer target for the NumPy reader (src/io/npy.c) and the C012 tables
 * built from what it accepts (src/metrics/c012.c). Checks the contract:
 * failure gives -1, an empty result and one line naming the input; success
 * gives a root object whose arrays have consistent sizes (n = product of the
 * shape), every dict reachable from the root with str keys looked up by
 * sdd_py_dict_get; the C012 step then either fails the same way or gives
 * cells whose pooled entry sdd_c012_get finds. Cycles through the pickle
 * memo are allowed, so the walk stops at a fixed depth. */
#include "io/npy.h"
#include "metrics/c012.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static void check_err(int rc, const sdd_err *e)
{
    if (rc != -1) __builtin_trap();
    if (strncmp(e->msg, "fuzz", 4) || strchr(e->msg, '\n')) __builtin_trap();
}

static void walk(const sdd_py *o, int depth)
{
    if (!o || depth > 8) return;
    if (o->kind == SDD_PY_ARRAY) {
        uint64_t count = 1;
        for (int d = 0; d < o->ndim; d++) count *= (uint64_t)o->shape[d];
        if (count != o->n) __builtin_trap();
        if (o->is_object) for (size_t k = 0; k < o->n; k++) walk(o->v[k], depth + 1);
        else if (o->n && !o->data) __builtin_trap();
    } else if (o->kind == SDD_PY_DICT) {
        for (size_t k = 0; k < o->n; k++) {
            const sdd_py *key = o->v[2 * k];
            if (key->kind == SDD_PY_STR && !sdd_py_dict_get(o, key->s)) __builtin_trap();
            walk(o->v[2 * k + 1], depth + 1);
        }
    } else if (o->kind == SDD_PY_LIST || o->kind == SDD_PY_TUPLE) {
        for (size_t k = 0; k < o->n; k++) walk(o->v[k], depth + 1);
    } else if ((o->kind == SDD_PY_STR || o->kind == SDD_PY_BYTES) && (!o->s || o->s[o->len] != 0)) {
        __builtin_trap();
    }
    (void)sdd_py_kind_name(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdd_npy f;
    sdd_err e;
    int rc = sdd_npy_parse(data, size, "fuzz", &f, &e);
    if (rc) {
        check_err(rc, &e);
        if (f.root || f.all) __builtin_trap();
        return 0;
    }
    if (!f.root) __builtin_trap();
    walk(f.root, 0);
    sdd_c012 c;
    rc = sdd_c012_from_npy(&f, "fuzz", &c, &e);
    if (rc) {
        check_err(rc, &e);
        if (c.n || c.row) __builtin_trap();
    } else {
        sdd_tdcf_coef k;
        if (c.n < 1 || sdd_c012_get(&c, NULL, NULL, &k) || !isfinite(k.c0)) __builtin_trap();
        for (int i = 0; i < c.n; i++) (void)sdd_c012_get(&c, c.row[i], c.col[i], &k);
        sdd_c012_free(&c);
    }
    sdd_npy_free(&f);
    return 0;
}
