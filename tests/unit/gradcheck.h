/* The finite-difference harness shared by the gradient-check tests
 * (test_gradcheck.c, test_gradcheck_xlsr.c): a case builds an op from random
 * inputs, L = sum(r * out) for a fixed random r, and run_case compares the
 * tape's gradients (activation inputs and parameters, routed through the
 * per-path buffers) with central differences of L computed in double.
 * Static functions: each test includes it once. */
#ifndef SDD_TEST_GRADCHECK_H
#define SDD_TEST_GRADCHECK_H
#include "check.h"
#include "ops/ops.h"
#include "core/rng.h"
#include <math.h>
#include <stdlib.h>

#define MAXIN 12

typedef sdd_tensor *(*build_fn)(sdd_ctx *c, sdd_tensor **in, void *ud);

typedef struct {
    const char *name;
    int nin;
    int nd[MAXIN];
    int64_t shape[MAXIN][4];
    int is_param[MAXIN];     /* 1: registered in the parameter block (gradient per path) */
    int positive[MAXIN];     /* inputs that must stay > 0 (variances) */
    int nograd[MAXIN];       /* inputs not differentiated (running statistics) */
    int train;
    int nseg;                /* segments of the batch (leading dim of input 0) */
    int bn_per_seg;
    build_fn fn;
    void *ud;
    int spaced;              /* 1: inputs are distinct values 0.01 apart (ops with kinks: max, top-k);
                              * 2: composite op with kinks inside: random inputs, the small step, the
                              * slope of either side accepted, error floor scaled by the gradients */
} gc_case;

static sdd_params ps;
static float *act[MAXIN];
static int pidx[MAXIN];

static sdd_tensor *forward(const gc_case *k, sdd_ctx *c, int grad, sdd_tensor **ins)
{
    sdd_ctx_begin(c, (int)k->shape[0][0], k->train, grad);
    c->bn_per_seg = k->bn_per_seg;
    c->rng_key = 42;
    if (k->nseg > 1) {
        int B = (int)k->shape[0][0], ends[2] = { B / 2, B };
        sdd_ctx_set_segments(c, 2, ends, NULL);
    }
    for (int i = 0; i < k->nin; i++) {
        if (k->is_param[i]) {
            ins[i] = sdd_scratch(c, sizeof(sdd_tensor));
            *ins[i] = sdd_param_tensor(&ps, pidx[i]);
            if (k->nograd[i]) ins[i]->rg = 0;
        } else {
            ins[i] = sdd_tensor_wrap(c, act[i], k->nd[i], k->shape[i]);
            ins[i]->rg = !k->nograd[i];
        }
    }
    return k->fn(c, ins, k->ud);
}

static double objective(const sdd_tensor *out, const float *r)
{
    double L = 0.0;
    size_t m = sdd_numel(out);
    for (size_t i = 0; i < m; i++) L += (double)r[i] * out->x[i];
    return L;
}

/* central difference of the objective in entry j of x with step h; the two
 * objectives into *lp, *lm (the step as the float addition realised it) */
static double central(const gc_case *k, sdd_ctx *c, sdd_tensor **ins, const float *r, float *x, size_t j, float h, double *lp,
                      double *lm)
{
    const float x0 = x[j];
    x[j] = x0 + h;
    *lp = objective(forward(k, c, 0, ins), r);
    x[j] = x0 - h;
    *lm = objective(forward(k, c, 0, ins), r);
    x[j] = x0;
    return (*lp - *lm) / (2.0 * ((double)(x0 + h) - (double)x0));
}

static void run_case(const gc_case *k)
{
    sdd_err e;
    sdd_params_init(&ps);
    size_t nel[MAXIN];
    for (int i = 0; i < k->nin; i++) {
        nel[i] = 1;
        for (int d = 0; d < k->nd[i]; d++) nel[i] *= (size_t)k->shape[i][d];
        if (k->is_param[i]) {
            char nm[32];
            snprintf(nm, sizeof nm, "p%d", i);
            pidx[i] = sdd_params_add(&ps, nm, k->nd[i], k->shape[i], 1, &e);
        }
    }
    sdd_params_alloc(&ps, &e);
    sdd_params_alloc_grads(&ps, 2, &e);
    uint64_t key = sdd_rng_key(1234, (uint64_t)(uintptr_t)k->name[0], k->nin, k->nd[0]);
    for (int i = 0; i < k->nin; i++) {
        float *x = k->is_param[i] ? sdd_params_ptr(&ps, pidx[i]) : (act[i] = malloc(nel[i] * sizeof(float)));
        for (size_t j = 0; j < nel[i]; j++) {
            double v = sdd_rng_normal(key + i, j);
            if (k->spaced == 1) v = 0.01 * (double)((j * 7919 + (size_t)i * 104729) % 1009) - 5.0;
            x[j] = (float)(k->positive[i] ? 0.5 + fabs(v) : v);
        }
    }
    sdd_ctx c;
    sdd_ctx_init(&c, &ps);
    sdd_tensor *ins[MAXIN];
    sdd_tensor *out = forward(k, &c, 1, ins);
    CHECK_MSG(out != NULL, "%s: forward failed: %s", k->name, c.err.msg);
    if (!out) goto done;
    size_t m = sdd_numel(out);
    float *r = malloc(m * sizeof(float));
    for (size_t j = 0; j < m; j++) r[j] = (float)sdd_rng_normal(99, j);
    float *g = sdd_grad_of(&c, out);
    for (size_t j = 0; j < m; j++) g[j] = r[j];
    sdd_backward(&c, 0, NULL, NULL);
    /* copy analytic gradients before re-running forwards */
    float *ga[MAXIN];
    for (int i = 0; i < k->nin; i++) {
        ga[i] = calloc(nel[i], sizeof(float));
        if (k->is_param[i]) {
            for (int p = 0; p < 2; p++)
                for (size_t j = 0; j < nel[i]; j++) ga[i][j] += ps.grad[p][ps.p[pidx[i]].off + j];
        } else if (ins[i]->g) {
            for (size_t j = 0; j < nel[i]; j++) ga[i][j] = ins[i]->g[j];
        }
    }
    int bad = 0;
    double worst = 0.0;
    const double l0 = objective(out, r);
    for (int i = 0; i < k->nin; i++) {
        if (k->nograd[i]) { free(ga[i]); continue; }
        float *x = k->is_param[i] ? sdd_params_ptr(&ps, pidx[i]) : act[i];
        /* error floor: 1e-2, or for composite ops 1e-2 of the input's largest gradient
         * (float32 rounding of a deep composition swamps the differences of tiny entries) */
        double floor = 1e-2;
        for (size_t j = 0; k->spaced == 2 && j < nel[i]; j++)
            if (1e-2 * fabs(ga[i][j]) > floor) floor = 1e-2 * fabs(ga[i][j]);
        size_t nprobe = nel[i] < 24 ? nel[i] : 24;
        for (size_t t = 0; t < nprobe; t++) {
            size_t j = nel[i] < 24 ? t : (size_t)(sdd_rng_u64(7 + i, t) % nel[i]);
            const float x0 = x[j];
            const float h = (k->spaced ? 1e-3f : 1e-2f) * (fabsf(x0) > 1.0f ? fabsf(x0) : 1.0f);
            double lp, lm, num = central(k, &c, ins, r, x, j, h, &lp, &lm);
            const double hd = (double)(x0 + h) - (double)x0;
            double ana = ga[i][j];
            double err = fabs(num - ana) / (fabs(num) + fabs(ana) + floor);
            if (err > 2e-2 && k->spaced == 2) {
                /* a max switch inside [x - h, x + h]: the gradient must be the slope on one side */
                const double sp = (lp - l0) / hd, sm = (l0 - lm) / hd;
                const double ep = fabs(sp - ana) / (fabs(sp) + fabs(ana) + floor);
                const double em = fabs(sm - ana) / (fabs(sm) + fabs(ana) + floor);
                err = ep < em ? ep : em;
            }
            if (err > 2e-2) {
                /* float32 rounding of the two forwards (about eps sqrt(outputs) of the
                 * objective) over 2h swamps a small entry's difference: a 4x step has a
                 * quarter of that noise (a wrong gradient misses with both steps) */
                double lp4, lm4;
                const double num4 = central(k, &c, ins, r, x, j, 4.0f * h, &lp4, &lm4);
                const double e4 = fabs(num4 - ana) / (fabs(num4) + fabs(ana) + floor);
                if (e4 < err) { err = e4; num = num4; }
            }
            if (err > worst) worst = err;
            if (err > 2e-2) {
                if (bad < 3) fprintf(stderr, "  %s input %d elem %zu: analytic %.6g numeric %.6g\n", k->name, i, j, ana, num);
                bad++;
            }
        }
        free(ga[i]);
    }
    CHECK_MSG(bad == 0, "%s: %d gradient entries off (worst rel %.3g)", k->name, bad, worst);
    free(r);
done:
    sdd_ctx_free(&c);
    for (int i = 0; i < k->nin; i++) if (!k->is_param[i]) free(act[i]);
    sdd_params_free(&ps);
}

#endif
