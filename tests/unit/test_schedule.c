/* The cosine learning-rate schedule against the reference fixture of
 * tools/reference/lr_ref.py (torch LambdaLR with the AASIST recipe's factor,
 * stepped after every Adam update), including Adam updates under it. */
#include "check.h"
#include "train/schedule.h"
#include "train/adam.h"
#include "io/safetensors.h"
#include <stdlib.h>
#include <string.h>

int main(void)
{
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load("tests/data/train/lr_cosine.safetensors", &fx, &e)) {
        CHECK_MSG(0, "%s", e.msg);
        return CHECK_DONE("test_schedule");
    }
    const sdd_ntensor *lr = sdd_tensorset_find(&fx, "lr"), *p0 = sdd_tensorset_find(&fx, "p_init");
    const sdd_ntensor *gr = sdd_tensorset_find(&fx, "grads"), *p1 = sdd_tensorset_find(&fx, "p_final");
    const char *tot = sdd_tensorset_get_meta(&fx, "total_steps");
    CHECK(lr && p0 && gr && p1 && tot && lr->dtype == SDD_F64);
    if (!lr || !p0 || !gr || !p1 || !tot) return CHECK_DONE("test_schedule");
    const long total = strtol(tot, NULL, 10), nup = (long)(lr->nbytes / 8);
    const double base = 1e-4, lr_min = 5e-6;
    for (long s = 0; s < nup; s++) {
        double ref;
        memcpy(&ref, (const char *)lr->data + 8 * s, 8);
        const double got = sdd_lr_at(SDD_LR_COSINE, base, lr_min, s, total);
        /* 1e-14: numpy's cos and libm's may differ in the last bits */
        CHECK_MSG(fabs(got - ref) <= 1e-14 * ref, "update %ld: lr %.17g, reference %.17g", s, got, ref);
        CHECK(sdd_lr_at(SDD_LR_CONST, base, lr_min, s, total) == base);
    }
    CHECK_NEAR(sdd_lr_at(SDD_LR_COSINE, base, lr_min, total, total), lr_min, 1e-18);
    CHECK_NEAR(sdd_lr_at(SDD_LR_COSINE, base, lr_min, total / 2, total), 0.5 * (base + lr_min), 1e-18);
    /* Adam under the schedule: the reference's parameters after every update */
    sdd_params ps;
    sdd_params_init(&ps);
    const int64_t n = (int64_t)(p0->nbytes / 4);
    int ip = sdd_params_add(&ps, "p", 1, &n, 1, &e);
    CHECK(ip >= 0 && sdd_params_alloc(&ps, &e) == 0);
    memcpy(sdd_params_ptr(&ps, ip), p0->data, p0->nbytes);
    sdd_adam a;
    sdd_adam_params ap = sdd_adam_default_params();
    CHECK(sdd_adam_init(&a, &ps, &ap, &e) == 0);
    float *g = calloc(ps.total, sizeof(float));
    for (long s = 0; s < nup; s++) {
        memcpy(g + ps.p[ip].off, (const float *)gr->data + s * n, (size_t)n * sizeof(float));
        a.p.lr = sdd_lr_at(SDD_LR_COSINE, base, lr_min, s, total);
        sdd_adam_step(&a, &ps, g);
    }
    double u = 0, v = 0;
    const float *ref = p1->data, *got = sdd_params_ptr(&ps, ip);
    for (int64_t k = 0; k < n; k++) { double d = (double)got[k] - ref[k]; u += d * d; v += (double)ref[k] * ref[k]; }
    CHECK_MSG(sqrt(u / v) < 1e-7, "Adam under cosine: relative L2 %.3g", sqrt(u / v));
    CHECK(sdd_lr_schedule_parse("cosine") == SDD_LR_COSINE && sdd_lr_schedule_parse("const") == SDD_LR_CONST);
    CHECK(sdd_lr_schedule_parse("linear") == -1);
    CHECK(!strcmp(sdd_lr_schedule_name(SDD_LR_COSINE), "cosine"));
    free(g);
    sdd_adam_free(&a);
    sdd_params_free(&ps);
    sdd_tensorset_free(&fx);
    return CHECK_DONE("test_schedule");
}
