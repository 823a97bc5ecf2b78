/* Comparing sdd's results with a PyTorch fixture (a safetensors file made by
 * a tools/reference/ script): relative L2 error, and the check of one tensor
 * against its float64 truth with the tolerance max(1e-4, 10 x PyTorch
 * float32's own error, stored as relerr_torch32/<key>). Header-only, for
 * tests; include after check.h. */
#ifndef SDD_TESTS_FIXTURE_H
#define SDD_TESTS_FIXTURE_H
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"
#include "models/modelio.h"

/* ||got - want|| / ||want|| in double; the absolute error when want is 0 */
static inline double fx_rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* the worst error / tolerance ratio seen by fx_compare (tests print it) */
static double fx_worst_ratio;

/* got (n floats) against the fixture's float32 tensor `key` */
static inline void fx_compare(const sdd_tensorset *fx, const char *key, const float *got, size_t n)
{
    const sdd_ntensor *t = sdd_tensorset_find(fx, key);
    CHECK_MSG(t && t->dtype == SDD_F32 && t->nbytes == n * sizeof(float), "fixture lacks %s or its size differs", key);
    if (!t || t->dtype != SDD_F32 || t->nbytes != n * sizeof(float)) return;
    char rk[256];
    snprintf(rk, sizeof rk, "relerr_torch32/%s", key);
    const sdd_ntensor *r = sdd_tensorset_find(fx, rk);
    double tol = 1e-4;
    if (r && r->nbytes == 4) { float v; memcpy(&v, r->data, 4); if (10.0 * v > tol) tol = 10.0 * v; }
    const double err = fx_rel_l2(got, (const float *)t->data, n);
    if (err / tol > fx_worst_ratio) fx_worst_ratio = err / tol;
    CHECK_MSG(err <= tol, "%s: relative L2 error %.3g > tol %.3g", key, err, tol);
}

/* m's weights from the fixture's "param/NAME" tensors (the reference
 * script's model state); `what` names the fixture in errors. 0, or -1 with
 * the reason in e. */
static inline int fx_set_weights(sdd_model *m, const sdd_tensorset *fx, const char *what, sdd_err *e)
{
    sdd_tensorset ts;
    sdd_tensorset_init(&ts);
    int rc = 0;
    for (int i = 0; i < fx->n && !rc; i++)
        if (!strncmp(fx->t[i].name, "param/", 6))
            rc = sdd_tensorset_add(&ts, fx->t[i].name + 6, fx->t[i].dtype, fx->t[i].ndim, fx->t[i].shape, fx->t[i].data, fx->t[i].nbytes, e);
    if (!rc) rc = sdd_model_set_weights(m, &ts, what, e);
    sdd_tensorset_free(&ts);
    return rc;
}

/* an integer from the fixture's metadata; -1 when absent */
static inline int fx_meta_int(const sdd_tensorset *fx, const char *k)
{
    const char *v = sdd_tensorset_get_meta(fx, k);
    return v ? atoi(v) : -1;
}

#endif
