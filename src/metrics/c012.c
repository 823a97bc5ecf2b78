/* Owns the C012 coefficient files (see c012.h): walks what io/npy.c read
 * and flattens C012[row][col] into a list of cells. */
#include "metrics/c012.h"
#include "io/npy.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POOLED "Pooled"

void sdd_c012_free(sdd_c012 *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) { free(c->row[i]); free(c->col[i]); }
    free(c->row);
    free(c->col);
    free(c->c);
    memset(c, 0, sizeof *c);
}

static int add(sdd_c012 *c, int cap, const char *row, const char *col, const double v[3])
{
    if (c->n == cap) return -1;
    c->row[c->n] = strdup(row);
    c->col[c->n] = strdup(col);
    if (!c->row[c->n] || !c->col[c->n]) { free(c->row[c->n]); free(c->col[c->n]); return -1; }
    memcpy(c->c[c->n], v, sizeof c->c[0]);
    c->n++;
    return 0;
}

static int number(const sdd_py *o, double *v)
{
    if (!o) return -1;
    if (o->kind == SDD_PY_FLOAT) { *v = o->f; return 0; }
    if (o->kind == SDD_PY_INT || o->kind == SDD_PY_BOOL) { *v = (double)o->i; return 0; }
    if (o->kind == SDD_PY_ARRAY && !o->is_object && o->ndim == 0 && o->n == 1) { *v = o->data[0]; return 0; }
    return -1;
}

int sdd_c012_load(const char *path, sdd_c012 *c, sdd_err *e)
{
    memset(c, 0, sizeof *c);
    sdd_npy f;
    if (sdd_npy_load(path, &f, e)) return -1;
    const int rc = sdd_c012_from_npy(&f, path, c, e);
    sdd_npy_free(&f);
    return rc;
}

int sdd_c012_from_npy(const sdd_npy *f, const char *path, sdd_c012 *c, sdd_err *e)
{
    memset(c, 0, sizeof *c);
    const sdd_py *root = f->root;
    int rc = -1;
    if (root->kind == SDD_PY_ARRAY && !root->is_object) {
        /* [C0, C1, C2]: the pooled coefficients alone */
        if (root->n != 3 || root->ndim != 1) {
            sdd_err_set(e, "%s: a numeric C012 array must hold 3 values (C0, C1, C2), this one holds %zu", path, root->n);
            goto done;
        }
        c->row = malloc(sizeof *c->row);
        c->col = malloc(sizeof *c->col);
        c->c = malloc(sizeof *c->c);
        if (!c->row || !c->col || !c->c || add(c, 1, POOLED, POOLED, root->data)) {
            sdd_err_set(e, "%s: out of memory", path);
            goto done;
        }
        goto pooled;
    }
    /* ndarray.dump of np.array(dict): a 0-d object array holding the dict */
    if (root->kind == SDD_PY_ARRAY && root->is_object && root->n == 1) root = root->v[0];
    if (root->kind != SDD_PY_DICT) {
        sdd_err_set(e, "%s: expected the ASVspoof 2021 C012 dictionary (C012[attack][codec] = {'C0','C1','C2'}), "
                    "found a %s", path, sdd_py_kind_name(root));
        goto done;
    }
    size_t cap = 0;
    for (size_t i = 0; i < root->n; i++) {
        const sdd_py *inner = root->v[2 * i + 1];
        if (inner->kind == SDD_PY_DICT) cap += inner->n;
    }
    c->row = malloc((cap ? cap : 1) * sizeof *c->row);
    c->col = malloc((cap ? cap : 1) * sizeof *c->col);
    c->c = malloc((cap ? cap : 1) * sizeof *c->c);
    if (!c->row || !c->col || !c->c) { sdd_err_set(e, "%s: out of memory", path); goto done; }
    for (size_t i = 0; i < root->n; i++) {
        const sdd_py *rk = root->v[2 * i], *inner = root->v[2 * i + 1];
        if (rk->kind != SDD_PY_STR || inner->kind != SDD_PY_DICT) {
            sdd_err_set(e, "%s: C012 entry %zu is %s -> %s, expected an attack name -> dict of codecs", path, i,
                        sdd_py_kind_name(rk), sdd_py_kind_name(inner));
            goto done;
        }
        for (size_t j = 0; j < inner->n; j++) {
            const sdd_py *ck = inner->v[2 * j], *cell = inner->v[2 * j + 1];
            if (ck->kind != SDD_PY_STR || cell->kind != SDD_PY_DICT) {
                char a[101];
                sdd_err_set(e, "%s: C012['%s'] entry %zu is %s -> %s, expected a codec name -> "
                            "{'C0','C1','C2'}", path, sdd_py_printable(rk->s, a, sizeof a), j, sdd_py_kind_name(ck),
                            sdd_py_kind_name(cell));
                goto done;
            }
            double v[3];
            static const char *names[3] = { "C0", "C1", "C2" };
            for (int q = 0; q < 3; q++)
                if (number(sdd_py_dict_get(cell, names[q]), &v[q])) {
                    char a[101], b[101];
                    sdd_err_set(e, "%s: C012['%s']['%s'] has no numeric '%s'", path, sdd_py_printable(rk->s, a, sizeof a),
                                sdd_py_printable(ck->s, b, sizeof b), names[q]);
                    goto done;
                }
            if (add(c, (int)(cap < 1000000 ? cap : 1000000), rk->s, ck->s, v)) { sdd_err_set(e, "%s: out of memory", path); goto done; }
        }
    }
    int pooled = 0;
    for (int i = 0; i < c->n && !pooled; i++) pooled = !strcmp(c->row[i], POOLED) && !strcmp(c->col[i], POOLED);
    if (!pooled) {
        sdd_err_set(e, "%s: no C012['Pooled']['Pooled'] entry (the pooled coefficients)", path);
        goto done;
    }
pooled:;
    sdd_tdcf_coef k;
    if (sdd_c012_get(c, NULL, NULL, &k)) {
        sdd_err_set(e, "%s: the pooled coefficients C012['Pooled']['Pooled'] are not finite", path);
        goto done;
    }
    rc = 0;
done:
    if (rc) sdd_c012_free(c);
    return rc;
}

int sdd_c012_get(const sdd_c012 *c, const char *row, const char *col, sdd_tdcf_coef *k)
{
    if (!row) row = POOLED;
    if (!col) col = POOLED;
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->row[i], row) || strcmp(c->col[i], col)) continue;
        if (!isfinite(c->c[i][0]) || !isfinite(c->c[i][1]) || !isfinite(c->c[i][2])) return -1;
        k->form = SDD_TDCF_2021;
        k->c0 = c->c[i][0];
        k->c1 = c->c[i][1];
        k->c2 = c->c[i][2];
        return 0;
    }
    return -1;
}
