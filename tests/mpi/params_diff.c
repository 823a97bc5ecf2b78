/* params_diff A B TOL [REL]: the largest absolute difference between the
 * tensors of two safetensors files of the same model (matched by name),
 * printed; exit 0 when every element's difference is at most TOL + REL |a|
 * (REL 0 when not given), 1 when one is larger, 2 when the files do not
 * match up. REL is for values such as BatchNorm running variances, whose
 * rounding-level differences grow with their size.
 * Used by tests/mpi/run.sh to compare data-parallel and one-process runs. */
#include "io/safetensors.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) { fprintf(stderr, "usage: params_diff A B TOL [REL]\n"); return 2; }
    sdd_tensorset a, b;
    sdd_err e;
    if (sdd_safetensors_load(argv[1], &a, &e)) { fprintf(stderr, "params_diff: %s\n", e.msg); return 2; }
    if (sdd_safetensors_load(argv[2], &b, &e)) { fprintf(stderr, "params_diff: %s\n", e.msg); sdd_tensorset_free(&a); return 2; }
    const double tol = strtod(argv[3], NULL), rel = argc == 5 ? strtod(argv[4], NULL) : 0.0;
    size_t over = 0;
    double worst = 0.0, scale = 0.0;
    const char *where = "";
    int rc = a.n == b.n && a.n > 0 ? 0 : 2;
    for (int i = 0; i < a.n && !rc; i++) {
        const sdd_ntensor *x = &a.t[i], *y = sdd_tensorset_find(&b, x->name);
        if (!y || y->nbytes != x->nbytes || x->dtype != y->dtype) { fprintf(stderr, "params_diff: %s differs in shape or is missing\n", x->name); rc = 2; break; }
        if (x->dtype != SDD_F32) continue;
        const float *p = x->data, *q = y->data;
        for (size_t k = 0; k < x->nbytes / 4; k++) {
            const double d = fabs((double)p[k] - q[k]);
            if (!(d <= worst)) { worst = d; where = x->name; }
            if (!(d <= tol + rel * fabs(p[k]))) over++;
            if (fabs(p[k]) > scale) scale = fabs(p[k]);
        }
    }
    if (!rc) {
        printf("params_diff: max |a-b| %.3g (in %s), max |a| %.3g, tolerance %.3g + %.3g |a|: %zu elements over\n", worst, where, scale, tol,
               rel, over);
        rc = over ? 1 : 0;
    }
    sdd_tensorset_free(&a);
    sdd_tensorset_free(&b);
    return rc;
}
