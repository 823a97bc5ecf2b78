/* Gradient accumulation (--accum K) on AASIST-L with random weights:
 *  - K micro-batches give exactly the per-path gradients of the weighted-CE
 *    mean over all of them, aligned once: checked against single steps
 *    combined by hand, for per-path and joint statistics and one path;
 *  - --batch 4 --accum 2 gives the weights of --batch 8 where BatchNorm
 *    batch statistics cannot differ: the 8-batch is the 4-batch twice (the
 *    per-path mean and biased variance of [x; x] are those of x), so the
 *    gradients agree to rounding and so do the weights after an Adam step;
 *  - BatchNorm statistics recomputation (SWA's bn_update): one batch gives
 *    that batch's statistics, two equal batches their mean, weights fixed. */
#include "check.h"
#include "fixture.h"
#include "train/step.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>

#define L 2400   /* just above AASIST-L's shortest input (2315) */

static void noise(float *w, int rows, uint64_t seed)
{
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < L; k++) w[(size_t)r * L + k] = (float)(0.1 * sdd_rng_normal(seed + r, (uint64_t)k));
}

/* per-path class-weight sums of a batch laid out as the step expects */
static void wsums(const int *lab, int nb, int dual, const float *cw, double *w)
{
    w[0] = w[1] = 0;
    for (int b = 0; b < nb; b++) w[dual && b >= nb / 2] += cw[lab[b]];
}

static void test_against_single_steps(sdd_model *m, sdd_ctx *c, const float *saved)
{
    const size_t n = m->params.total;
    float *wa = malloc((size_t)8 * L * sizeof(float)), *wb = malloc((size_t)8 * L * sizeof(float));
    float *ga[2], *gb[2], *G[2], *expect = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    for (int s = 0; s < 2; s++) { ga[s] = malloc(n * 4); gb[s] = malloc(n * 4); G[s] = malloc(n * 4); }
    noise(wa, 8, 100);
    noise(wb, 8, 200);
    const int la[8] = { 1, 0, 0, 1, 1, 0, 0, 1 }, lb[8] = { 0, 0, 1, 0, 0, 0, 1, 0 };
    sdd_err e;
    const struct { int paths, bn, align; const char *name; } cases[] = {
        { SDD_PATHS_DUAL, SDD_BN_PER_PATH, SDD_ALIGN_PCGRAD, "dual per-path pcgrad" },
        { SDD_PATHS_DUAL, SDD_BN_JOINT, SDD_ALIGN_GRADVAC, "dual joint gradvac" },
        { SDD_PATHS_DUAL, SDD_BN_PER_PATH, SDD_ALIGN_NONE, "dual per-path none" },
        { SDD_PATHS_DUAL, SDD_BN_JOINT, SDD_ALIGN_NONE, "dual joint none" },
        { SDD_PATHS_ORIG, SDD_BN_PER_PATH, SDD_ALIGN_NONE, "one path" },
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        sdd_step_params p = sdd_step_default_params();
        p.paths = cases[ci].paths;
        p.bn_stats = cases[ci].bn;
        p.align = cases[ci].align;
        p.no_dropout = 1;
        const int dual = p.paths == SDD_PATHS_DUAL, joint_none = dual && p.bn_stats == SDD_BN_JOINT && p.align == SDD_ALIGN_NONE;
        const int nb = dual ? 8 : 4;
        double wA[2], wB[2];
        wsums(la, nb, dual, p.class_weight, wA);
        wsums(lb, nb, dual, p.class_weight, wB);
        /* the path gradients of each micro-batch alone (seed 1: its weighted mean) */
        sdd_step_params solo = p;
        if (!joint_none && dual) solo.align = SDD_ALIGN_PCGRAD;   /* any aligned mode leaves grad[0], grad[1] = path gradients */
        sdd_align_state al;
        sdd_step_result r;
        sdd_align_state_init(&al);
        memcpy(m->params.data, saved, n * 4);
        CHECK_MSG(sdd_train_step(m, c, NULL, &al, &solo, wa, nb, L, la, 1, got, &r, &e) == 0, "%s", e.msg);
        for (int s = 0; s < 2; s++) memcpy(ga[s], m->params.grad[s], n * 4);
        CHECK_MSG(sdd_train_step(m, c, NULL, &al, &solo, wb, nb, L, lb, 1, got, &r, &e) == 0, "%s", e.msg);
        for (int s = 0; s < 2; s++) memcpy(gb[s], m->params.grad[s], n * 4);
        if (joint_none) {
            /* one buffer holding the gradient of the loss over both halves */
            const double W = wA[0] + wA[1] + wB[0] + wB[1];
            for (size_t k = 0; k < n; k++) expect[k] = (float)(((wA[0] + wA[1]) * ga[0][k] + (wB[0] + wB[1]) * gb[0][k]) / W);
        } else {
            for (int s = 0; s < (dual ? 2 : 1); s++)
                for (size_t k = 0; k < n; k++) G[s][k] = (float)((wA[s] * ga[s][k] + wB[s] * gb[s][k]) / (wA[s] + wB[s]));
            if (!dual) memcpy(expect, G[0], n * 4);
            else if (p.align == SDD_ALIGN_NONE) {
                const double W = wA[0] + wB[0] + wA[1] + wB[1];
                for (size_t k = 0; k < n; k++) expect[k] = (float)(((wA[0] + wB[0]) * G[0][k] + (wA[1] + wB[1]) * G[1][k]) / W);
            } else {
                sdd_align_stats st;
                sdd_align_state_init(&al);
                sdd_align(p.align, G[0], G[1], n, expect, &al, &st);
            }
        }
        /* the same through accumulation */
        sdd_accum acc;
        sdd_align_state_init(&al);
        memcpy(m->params.data, saved, n * 4);
        int rc = sdd_accum_begin(m, &acc, 2, &e) || sdd_accum_micro(m, c, &p, &acc, wa, nb, L, la, 1, &e) ||
                 sdd_accum_micro(m, c, &p, &acc, wb, nb, L, lb, 2, &e) || sdd_accum_apply(m, NULL, &al, &p, &acc, got, &r, &e);
        CHECK_MSG(rc == 0, "%s: %s", cases[ci].name, e.msg);
        const double err = fx_rel_l2(got, expect, n);
        CHECK_MSG(err < 1e-5, "%s: accumulated gradient vs single steps combined: relative L2 %.3g", cases[ci].name, err);
        CHECK(r.has_align_stats == (dual && !joint_none));
    }
    /* misuse is an error, not a silent partial step */
    sdd_step_params p = sdd_step_default_params();
    sdd_accum acc;
    sdd_step_result r;
    sdd_align_state al;
    sdd_align_state_init(&al);
    CHECK(sdd_accum_begin(m, &acc, 2, &e) == 0 && sdd_accum_micro(m, c, &p, &acc, wa, 8, L, la, 1, &e) == 0);
    CHECK(sdd_accum_apply(m, NULL, &al, &p, &acc, got, &r, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "1 of 2 micro-batches");
    CHECK(sdd_accum_begin(m, &acc, 0, &e) == -1);
    for (int s = 0; s < 2; s++) { free(ga[s]); free(gb[s]); free(G[s]); }
    free(wa); free(wb); free(expect); free(got);
}

static void test_batch8_vs_accum2(sdd_model *m, sdd_ctx *c, const float *saved)
{
    const size_t n = m->params.total;
    float *x = malloc((size_t)8 * L * sizeof(float)), *big = malloc((size_t)16 * L * sizeof(float));
    noise(x, 8, 300);   /* [4 originals | 4 copies] */
    /* batch 8: [x0..x3 x0..x3 | y0..y3 y0..y3] */
    for (int half = 0; half < 2; half++)
        for (int rep = 0; rep < 2; rep++)
            memcpy(big + (size_t)(half * 8 + rep * 4) * L, x + (size_t)half * 4 * L, (size_t)4 * L * sizeof(float));
    const int lab4[8] = { 1, 0, 0, 0, 1, 0, 0, 0 };
    int lab8[16];
    for (int k = 0; k < 16; k++) lab8[k] = lab4[k % 4];
    float *g1 = malloc(n * 4), *g2 = malloc(n * 4), *w1 = malloc(n * 4);
    sdd_err e;
    sdd_step_params p = sdd_step_default_params();   /* dual, PCGrad, per-path statistics */
    p.no_dropout = 1;                                 /* dropout masks depend on the row */
    sdd_adam o1, o2;
    sdd_align_state al;
    sdd_step_result r;
    sdd_accum acc;
    memcpy(m->params.data, saved, n * 4);
    CHECK(sdd_adam_init(&o1, &m->params, NULL, &e) == 0 && sdd_adam_init(&o2, &m->params, NULL, &e) == 0);
    sdd_align_state_init(&al);
    CHECK_MSG(sdd_train_step(m, c, &o1, &al, &p, big, 16, L, lab8, 1, g1, &r, &e) == 0, "%s", e.msg);
    memcpy(w1, m->params.data, n * 4);
    memcpy(m->params.data, saved, n * 4);
    sdd_align_state_init(&al);
    int rc = sdd_accum_begin(m, &acc, 2, &e) || sdd_accum_micro(m, c, &p, &acc, x, 8, L, lab4, 1, &e) ||
             sdd_accum_micro(m, c, &p, &acc, x, 8, L, lab4, 2, &e) || sdd_accum_apply(m, &o2, &al, &p, &acc, g2, &r, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    const double eg = fx_rel_l2(g2, g1, n);
    CHECK_MSG(eg < 1e-5, "batch 4 x accum 2 vs batch 8: gradient relative L2 %.3g", eg);
    /* weights after one Adam step. The first update is lr * g / (|g| + eps), about lr * sign(g):
     * where |g| is at the level of the gradients' rounding differences its sign is noise, so the
     * updates are compared where |g| > 1e-4 of the gradient's rms, and everywhere within 2 lr */
    double rms = 0;
    for (size_t k = 0; k < n; k++) rms += (double)g1[k] * g1[k];
    rms = sqrt(rms / n);
    double u = 0, v = 0, worst = 0;
    for (int i = 0; i < m->params.np; i++) {
        const sdd_pinfo *pi = &m->params.p[i];
        if (!pi->trainable) continue;
        for (size_t k = pi->off; k < pi->off + pi->numel; k++) {
            const double d1 = (double)w1[k] - saved[k], d2 = (double)m->params.data[k] - saved[k];
            if (fabs(d1 - d2) > worst) worst = fabs(d1 - d2);
            if (fabs(g1[k]) <= 1e-4 * rms) continue;
            u += (d1 - d2) * (d1 - d2);
            v += d1 * d1;
        }
    }
    fprintf(stderr, "batch 4 x accum 2 vs batch 8: gradient rel L2 %.3g, weight update rel L2 %.3g (|g| > 1e-4 rms), worst %.3g\n", eg, sqrt(u / v), worst);
    CHECK_MSG(sqrt(u / v) < 1e-3, "weight updates differ: relative L2 %.3g", sqrt(u / v));
    CHECK_MSG(worst <= 2.0 * 1e-4 * (1 + 1e-6), "a weight moved differently by more than 2 lr: %.3g", worst);
    sdd_adam_free(&o1);
    sdd_adam_free(&o2);
    free(x); free(big); free(g1); free(g2); free(w1);
}

/* the running-statistics buffers of the model, concatenated */
static size_t running(const sdd_model *m, float *out)
{
    size_t n = 0;
    for (int i = 0; i < m->params.np; i++)
        if (strstr(m->params.p[i].name, ".running_")) {
            if (out) memcpy(out + n, sdd_params_ptr(&m->params, i), m->params.p[i].numel * 4);
            n += m->params.p[i].numel;
        }
    return n;
}

static void test_bn_recompute(sdd_model *m, sdd_ctx *c, const float *saved)
{
    const size_t n = m->params.total, nr = running(m, NULL);
    float *wa = malloc((size_t)8 * L * sizeof(float)), *wb = malloc((size_t)8 * L * sizeof(float));
    float *ra = malloc(nr * 4), *rb = malloc(nr * 4), *rab = malloc(nr * 4), *r0 = malloc(nr * 4);
    noise(wa, 8, 400);
    noise(wb, 8, 500);
    for (int k = 0; k < 8 * L; k++) wb[k] = 0.5f * wb[k] + 0.01f;   /* other statistics */
    sdd_step_params p = sdd_step_default_params();
    sdd_err e;
    long seen;
    memcpy(m->params.data, saved, n * 4);
    running(m, r0);
    sdd_bn_reset_running(m);
    seen = 0;
    CHECK_MSG(sdd_bn_recompute_batch(m, c, &p, wa, 8, L, 1, &seen, &e) == 0, "%s", e.msg);
    CHECK(seen == 8);
    running(m, ra);
    sdd_bn_reset_running(m);
    seen = 0;
    CHECK(sdd_bn_recompute_batch(m, c, &p, wb, 8, L, 2, &seen, &e) == 0);
    running(m, rb);
    sdd_bn_reset_running(m);
    seen = 0;
    CHECK(sdd_bn_recompute_batch(m, c, &p, wa, 8, L, 1, &seen, &e) == 0 && sdd_bn_recompute_batch(m, c, &p, wb, 8, L, 2, &seen, &e) == 0);
    running(m, rab);
    double u = 0, v = 0, dab = 0;
    for (size_t k = 0; k < nr; k++) {
        const double want = 0.5 * ((double)ra[k] + rb[k]);
        u += (rab[k] - want) * (rab[k] - want);
        v += want * want;
        dab += fabs((double)ra[k] - rb[k]);
    }
    CHECK_MSG(sqrt(u / v) < 1e-6, "two batches: running statistics are not the mean of each batch's (relative L2 %.3g)", sqrt(u / v));
    CHECK_MSG(dab > 1e-3 * nr, "the two batches' statistics should differ");
    int untouched = 1;
    for (int i = 0; i < m->params.np; i++)
        if (m->params.p[i].trainable && memcmp(m->params.data + m->params.p[i].off, saved + m->params.p[i].off, m->params.p[i].numel * 4))
            untouched = 0;
    CHECK_MSG(untouched, "statistics recomputation changed trainable weights");
    CHECK(sdd_bn_recompute_batch(m, c, &p, wa, 7, L, 1, &seen, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "odd");
    free(wa); free(wb); free(ra); free(rb); free(rab); free(r0);
}

int main(void)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (!m) return CHECK_DONE("test_accum");
    sdd_model_init_random(m, 5);
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    float *saved = malloc(m->params.total * sizeof(float));
    memcpy(saved, m->params.data, m->params.total * sizeof(float));
    test_against_single_steps(m, &c, saved);
    test_batch8_vs_accum2(m, &c, saved);
    test_bn_recompute(m, &c, saved);
    free(saved);
    sdd_ctx_free(&c);
    sdd_model_free(m);
    return CHECK_DONE("test_accum");
}
