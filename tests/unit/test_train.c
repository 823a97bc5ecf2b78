/* Gradient alignment (PCGrad, GradVac, CAGrad with the exact 1-D inner
 * solution) and Adam against the reference fixtures of
 * tools/reference/train_ref.py, the grouped alignment of --align-groups
 * against tools/reference/align_groups_ref.py, plus properties that hold
 * for any input. */
#include "check.h"
#include "fixture.h"
#include "train/align.h"
#include "train/adam.h"
#include "io/safetensors.h"
#include "core/rng.h"
#include "train/step.h"
#include "models/modelio.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

static const float *get(const sdd_tensorset *ts, const char *name, size_t *n)
{
    const sdd_ntensor *t = sdd_tensorset_find(ts, name);
    CHECK_MSG(t && t->dtype == SDD_F32, "fixture lacks F32 %s", name);
    if (!t || t->dtype != SDD_F32) return NULL;
    if (n) *n = t->nbytes / 4;
    return t->data;
}

static double get_d(const sdd_tensorset *ts, const char *name, int k)
{
    const sdd_ntensor *t = sdd_tensorset_find(ts, name);
    if (!t || t->dtype != SDD_F64) return NAN;
    double v;
    memcpy(&v, (const char *)t->data + 8 * k, 8);
    return v;
}

static void test_alignment(const sdd_tensorset *fx)
{
    const char *cases[] = { "conflict", "aligned", "orthogonal", "scaled_conflict", "tiny" };
    sdd_align_state st;
    sdd_align_state_init(&st);
    for (int c = 0; c < 5; c++) {
        char k[128];
        size_t n = 0;
        snprintf(k, sizeof k, "%s/g0", cases[c]);
        const float *g0 = get(fx, k, &n);
        snprintf(k, sizeof k, "%s/g1", cases[c]);
        const float *g1 = get(fx, k, NULL);
        if (!g0 || !g1) return;
        float *out = malloc(n * sizeof(float));
        sdd_align_stats s;
        const char *meth[3] = { "pcgrad", "gradvac", "cagrad" };
        for (int m = 0; m < 3; m++) {
            if (m == 1) {
                /* GradVac carries state from case to case, as training does step to step */
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) {
                        snprintf(k, sizeof k, "%s/gradvac_rho_t_before", cases[c]);
                        CHECK_NEAR(st.rho_t[i][j], get_d(fx, k, 2 * i + j), 1e-9);
                    }
            }
            sdd_align(sdd_align_parse(meth[m]), g0, g1, n, out, &st, &s);
            snprintf(k, sizeof k, "%s/%s", cases[c], meth[m]);
            const float *ref = get(fx, k, NULL);
            if (ref) {
                double err = fx_rel_l2(out, ref, n);
                CHECK_MSG(err < 1e-5, "%s: relative L2 %.3g", k, err);
            }
            if (m == 2) {
                snprintf(k, sizeof k, "%s/cagrad_w", cases[c]);
                CHECK_NEAR(s.cagrad_w, get_d(fx, k, 0), 1e-6);
            }
        }
        double d = 0;
        for (size_t i = 0; i < n; i++) d += (double)g0[i] * g1[i];
        CHECK(s.conflict == (d < 0));
        CHECK_NEAR(s.dot, d, 1e-6 * (1 + fabs(d)));
        free(out);
    }
}

static int64_t get_i(const sdd_tensorset *ts, const char *name, int k)
{
    const sdd_ntensor *t = sdd_tensorset_find(ts, name);
    CHECK_MSG(t && t->dtype == SDD_I64 && t->nbytes >= 8 * (size_t)(k + 1), "fixture lacks I64 %s[%d]", name, k);
    if (!t || t->dtype != SDD_I64 || t->nbytes < 8 * (size_t)(k + 1)) return -1;
    int64_t v;
    memcpy(&v, (const char *)t->data + 8 * k, 8);
    return v;
}

/* --align-groups: each group aligned on its own, GradVac's targets per group
 * carried over three steps, against align_groups_ref.py */
static void test_grouped(void)
{
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load("tests/data/train/align_groups.safetensors", &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    enum { NG = 5 };
    sdd_align_group gr[NG];
    for (int k = 0; k < NG; k++) {
        gr[k].off = (size_t)get_i(&fx, "offsets", k);
        gr[k].n = (size_t)get_i(&fx, "sizes", k);
        snprintf(gr[k].name, sizeof gr[k].name, "g%d", k);
    }
    const char *meth[3] = { "pcgrad", "gradvac", "cagrad" };
    sdd_align_state st[3];
    for (int m = 0; m < 3; m++) {
        sdd_align_state_init(&st[m]);
        CHECK(sdd_align_state_set_groups(&st[m], NG) == 0);
    }
    for (int step = 0; step < 3; step++) {
        char k[96];
        size_t n = 0;
        snprintf(k, sizeof k, "step%d/g0", step);
        const float *g0 = get(&fx, k, &n);
        snprintf(k, sizeof k, "step%d/g1", step);
        const float *g1 = get(&fx, k, NULL);
        if (!g0 || !g1 || n != gr[NG - 1].off + gr[NG - 1].n) break;
        float *out = malloc(n * sizeof(float)), *whole = malloc(n * sizeof(float));
        if (!out || !whole) { free(out); free(whole); break; }
        for (int m = 0; m < 3; m++) {
            sdd_align_stats s, sw;
            int nconf = -1;
            sdd_align_grouped(sdd_align_parse(meth[m]), g0, g1, n, gr, NG, out, &st[m], &s, &nconf);
            snprintf(k, sizeof k, "step%d/%s", step, meth[m]);
            const float *ref = get(&fx, k, NULL);
            if (ref) {
                const double err = fx_rel_l2(out, ref, n);
                CHECK_MSG(err < 1e-5, "grouped %s: relative L2 %.3g", k, err);
            }
            snprintf(k, sizeof k, "step%d/conflicts", step);
            CHECK_MSG(nconf == get_i(&fx, k, 0), "step %d %s: %d groups in conflict, reference %lld", step, meth[m], nconf,
                      (long long)get_i(&fx, k, 0));
            /* the logged statistics stay the whole vectors' */
            sdd_align_measure(g0, g1, n, &sw);
            CHECK(s.dot == sw.dot && s.cos == sw.cos && s.conflict == sw.conflict);
            double nn = 0;
            for (size_t i = 0; i < n; i++) nn += (double)out[i] * out[i];
            CHECK_NEAR(s.norm_out, sqrt(nn), 1e-6 * sqrt(nn));
            if (m == 1) {
                snprintf(k, sizeof k, "step%d/gradvac_rho_after", step);
                for (int i = 0; i < 4 * NG; i++) CHECK_NEAR(st[m].rho_g[i], get_d(&fx, k, i), 1e-9);
            }
            /* one group over everything is the whole-vector alignment, to the bit */
            sdd_align_state a, b;
            sdd_align_state_init(&a);
            sdd_align_state_init(&b);
            CHECK(sdd_align_state_set_groups(&b, 1) == 0);
            sdd_align_group all = { 0, n, "all" };
            sdd_align(sdd_align_parse(meth[m]), g0, g1, n, whole, &a, &sw);
            sdd_align_grouped(sdd_align_parse(meth[m]), g0, g1, n, &all, 1, out, &b, &s, &nconf);
            CHECK_MSG(!memcmp(out, whole, n * sizeof(float)), "%s: one group differs from the whole vector", meth[m]);
            CHECK(!memcmp(b.rho_g, a.rho_t, sizeof a.rho_t));
            sdd_align_state_free(&b);
        }
        free(out);
        free(whole);
    }
    for (int m = 0; m < 3; m++) sdd_align_state_free(&st[m]);
    sdd_tensorset_free(&fx);
}

/* the groups of --align-groups over a model's parameters tile the block */
static void test_group_build(void)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK(m != NULL);
    if (!m) return;
    const sdd_params *ps = &m->params;
    int ntrain = 0;
    for (int i = 0; i < ps->np; i++) ntrain += ps->p[i].trainable != 0;
    sdd_align_group *g = NULL;
    int ng = -1;
    CHECK(sdd_align_groups_build(ps, SDD_ALIGN_GROUPS_WHOLE, &g, &ng, &e) == 0 && g == NULL && ng == 0);
    for (int mode = SDD_ALIGN_GROUPS_BLOCK; mode <= SDD_ALIGN_GROUPS_TENSOR; mode++) {
        CHECK(sdd_align_groups_build(ps, mode, &g, &ng, &e) == 0 && g != NULL);
        if (!g) continue;
        size_t next = 0;
        int tiled = 1;
        for (int k = 0; k < ng; k++) { tiled &= g[k].off == next && g[k].n > 0; next = g[k].off + g[k].n; }
        CHECK_MSG(tiled && next == ps->total, "%s groups do not tile the %zu floats", sdd_align_groups_name(mode), ps->total);
        if (mode == SDD_ALIGN_GROUPS_TENSOR) CHECK_MSG(ng == ntrain, "tensor groups %d, trainable tensors %d", ng, ntrain);
        if (mode == SDD_ALIGN_GROUPS_BLOCK) {
            /* AASIST-L: 6 residual blocks, each a group of its own */
            int enc = 0, named = 0;
            for (int k = 0; k < ng; k++) {
                enc += !strncmp(g[k].name, "encoder.", 8);
                named += !strcmp(g[k].name, "encoder.2") || !strcmp(g[k].name, "GAT_layer_S");
            }
            CHECK_MSG(enc == 6 && named == 2, "block groups: %d encoder blocks, %d of encoder.2 / GAT_layer_S", enc, named);
            CHECK(ng > 6 && ng < ntrain);
        }
        free(g);
    }
    CHECK(sdd_align_groups_parse("block") == SDD_ALIGN_GROUPS_BLOCK && sdd_align_groups_parse("layer") == -1);
    sdd_model_free(m);
}

static void test_adam(const sdd_tensorset *fx)
{
    sdd_params ps;
    sdd_err e;
    sdd_params_init(&ps);
    int64_t s1[2] = { 37, 11 }, s2[1] = { 5 }, s3[1] = { 3 };
    int i1 = sdd_params_add(&ps, "p1", 2, s1, 1, &e);
    int ib = sdd_params_add(&ps, "buffer", 1, s3, 0, &e);
    int i2 = sdd_params_add(&ps, "p2", 1, s2, 1, &e);
    sdd_params_alloc(&ps, &e);
    const float *p1 = get(fx, "adam/p1_init", NULL), *p2 = get(fx, "adam/p2_init", NULL);
    if (!p1 || !p2) return;
    memcpy(sdd_params_ptr(&ps, i1), p1, 37 * 11 * sizeof(float));
    memcpy(sdd_params_ptr(&ps, i2), p2, 5 * sizeof(float));
    for (int k = 0; k < 3; k++) sdd_params_ptr(&ps, ib)[k] = 1.0f + k;
    sdd_adam a;
    sdd_adam_params ap = sdd_adam_default_params();
    CHECK(sdd_adam_init(&a, &ps, &ap, &e) == 0);
    float *g = calloc(ps.total, sizeof(float));
    for (int s = 0; s < 5; s++) {
        char k[64];
        snprintf(k, sizeof k, "adam/g1_%d", s);
        memcpy(g + ps.p[i1].off, get(fx, k, NULL), 37 * 11 * sizeof(float));
        snprintf(k, sizeof k, "adam/g2_%d", s);
        memcpy(g + ps.p[i2].off, get(fx, k, NULL), 5 * sizeof(float));
        for (int q = 0; q < 3; q++) g[ps.p[ib].off + q] = 100.0f;   /* buffers never move */
        sdd_adam_step(&a, &ps, g);
        snprintf(k, sizeof k, "adam/p1_%d", s);
        double e1 = fx_rel_l2(sdd_params_ptr(&ps, i1), get(fx, k, NULL), 37 * 11);
        snprintf(k, sizeof k, "adam/p2_%d", s);
        double e2 = fx_rel_l2(sdd_params_ptr(&ps, i2), get(fx, k, NULL), 5);
        CHECK_MSG(e1 < 1e-7 && e2 < 1e-7, "adam step %d: relative L2 %.3g %.3g", s, e1, e2);
    }
    CHECK(sdd_params_ptr(&ps, ib)[2] == 3.0f);
    free(g);
    sdd_adam_free(&a);
    sdd_params_free(&ps);
}

/* For any pair: PCGrad's output does not conflict with either input; CAGrad's
 * exact weight is no worse than any grid point; "none" is the mean. */
static void test_properties(void)
{
    const size_t n = 257;
    float *g0 = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float)), *o = malloc(n * sizeof(float));
    sdd_align_state st;
    sdd_align_state_init(&st);
    int conflicts = 0;
    for (int trial = 0; trial < 200; trial++) {
        for (size_t i = 0; i < n; i++) {
            g0[i] = (float)sdd_rng_normal(11 + trial, i);
            g1[i] = (float)(sdd_rng_normal(911 + trial, i) - 0.3 * g0[i] * (trial % 3));
        }
        sdd_align_stats s;
        sdd_align(SDD_ALIGN_PCGRAD, g0, g1, n, o, &st, &s);
        conflicts += s.conflict;
        double d0 = 0, d1 = 0;
        for (size_t i = 0; i < n; i++) { d0 += (double)o[i] * g0[i]; d1 += (double)o[i] * g1[i]; }
        CHECK_MSG(d0 >= -1e-3 && d1 >= -1e-3, "pcgrad output conflicts: %g %g", d0, d1);
        sdd_align(SDD_ALIGN_NONE, g0, g1, n, o, &st, &s);
        CHECK_NEAR(o[7], 0.5 * (g0[7] + g1[7]), 1e-6);
        /* CAGrad's 1-D problem: the exact weight beats a fine grid */
        const double G00 = s.norm0 * s.norm0, G11 = s.norm1 * s.norm1, G01 = s.dot;
        const double cp = 0.5 * sqrt((G00 + 2 * G01 + G11) / 4 + 1e-8) + 1e-8;
        const double t = sdd_cagrad_weight(G00, G01, G11, cp);
#define OBJ(t) ((t) * 0.5 * (G00 + G01) + (1 - (t)) * 0.5 * (G01 + G11) + cp * sqrt((t) * (t) * G00 + 2 * (t) * (1 - (t)) * G01 + (1 - (t)) * (1 - (t)) * G11 + 1e-8))
        double best = 1e300;
        for (int k = 0; k <= 1000; k++) { double v = OBJ(k / 1000.0); if (v < best) best = v; }
        CHECK_MSG(OBJ(t) <= best + 1e-9 * fabs(best), "cagrad weight %.6f not optimal", t);
#undef OBJ
    }
    CHECK(conflicts > 20 && conflicts < 200);
    CHECK(sdd_align_parse("bogus") == -1);
    CHECK(strcmp(sdd_align_name(SDD_ALIGN_CAGRAD), "cagrad") == 0);
    free(g0); free(g1); free(o);
}

/* relative L2 over the whole gradient vector of fixture tensors PREFIX<key> vs v (params layout) */
static double whole_rel(const sdd_tensorset *fx, const sdd_params *ps, const char *prefix, const float *v)
{
    double u = 0, w = 0;
    for (int i = 0; i < ps->np; i++) {
        const sdd_pinfo *pi = &ps->p[i];
        if (!pi->trainable) continue;
        char k[256];
        snprintf(k, sizeof k, "%s%s", prefix, pi->name);
        const sdd_ntensor *t = sdd_tensorset_find(fx, k);
        if (!t) { if (strstr(pi->name, ".bn1.")) continue; return INFINITY; }
        const float *r = t->data;
        for (size_t j = 0; j < pi->numel; j++) { double d = (double)v[pi->off + j] - r[j]; u += d * d; w += (double)r[j] * r[j]; }
    }
    return sqrt(u / w);
}

/* The full step on AASIST-L against the reference: joint statistics with two
 * backward passes (the reference recipe exactly), and per-path statistics with
 * one backward pass against the reference's per-path gradients. Bound: 1e-3
 * over the whole gradient (PyTorch float32 is 8.5e-5 from the same truth). */
static void test_step(void)
{
    sdd_tensorset fx, js;
    sdd_err e;
    if (sdd_safetensors_load("tests/data/fixtures/aasistl_rand.safetensors", &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    if (sdd_safetensors_load("tests/data/train/joint_step.safetensors", &js, &e)) { CHECK_MSG(0, "%s", e.msg); sdd_tensorset_free(&fx); return; }
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK(m && fx_set_weights(m, &fx, "aasistl_rand", &e) == 0);
    const sdd_ntensor *in = sdd_tensorset_find(&fx, "input"), *lab = sdd_tensorset_find(&fx, "labels");
    int labels[4];
    for (int b = 0; b < 4; b++) { int64_t v; memcpy(&v, (const char *)lab->data + 8 * b, 8); labels[b] = (int)v; }
    float *saved = malloc(m->params.total * sizeof(float)), *g = malloc(m->params.total * sizeof(float));
    memcpy(saved, m->params.data, m->params.total * sizeof(float));
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    const char *meth[3] = { "pcgrad", "gradvac", "cagrad" };
    for (int bn = 0; bn < 2; bn++)
        for (int k = 0; k < 3; k++) {
            memcpy(m->params.data, saved, m->params.total * sizeof(float));
            sdd_step_params sp = sdd_step_default_params();
            sp.bn_stats = bn ? SDD_BN_JOINT : SDD_BN_PER_PATH;
            sp.align = sdd_align_parse(meth[k]);
            sp.no_dropout = 1;
            sdd_align_state al;
            sdd_align_state_init(&al);
            sdd_step_result r;
            int rc = sdd_train_step(m, &c, NULL, &al, &sp, in->data, 4, in->shape[1], labels, 1, g, &r, &e);
            CHECK_MSG(rc == 0, "step: %s", e.msg);
            if (rc) continue;
            char pre[64];
            if (bn) {
                snprintf(pre, sizeof pre, "joint/%s/", meth[k]);
                double err = whole_rel(&js, &m->params, pre, g);
                CHECK_MSG(err < 1e-3, "joint-statistics %s step: gradient relative L2 %.3g", meth[k], err);
                double e0 = whole_rel(&js, &m->params, "joint/g0/", m->params.grad[0]);
                double e1 = whole_rel(&js, &m->params, "joint/g1/", m->params.grad[1]);
                CHECK_MSG(e0 < 1e-3 && e1 < 1e-3, "joint path gradients: %.3g %.3g", e0, e1);
            } else {
                double e0 = whole_rel(&fx, &m->params, "path0/grad/", m->params.grad[0]);
                double e1 = whole_rel(&fx, &m->params, "path1/grad/", m->params.grad[1]);
                CHECK_MSG(e0 < 1e-3 && e1 < 1e-3, "per-path gradients from one backward: %.3g %.3g", e0, e1);
            }
            CHECK(r.has_align_stats);
            CHECK(r.al.conflict == (r.al.dot < 0));
        }
    /* a non-finite value stops the step with a clear message before Adam touches the weights */
    {
        memcpy(m->params.data, saved, m->params.total * sizeof(float));
        float *bad = malloc((size_t)4 * in->shape[1] * sizeof(float));
        memcpy(bad, in->data, (size_t)4 * in->shape[1] * sizeof(float));
        bad[123] = NAN;
        sdd_adam opt;
        CHECK(sdd_adam_init(&opt, &m->params, NULL, &e) == 0);
        sdd_step_params sp = sdd_step_default_params();
        sdd_align_state al;
        sdd_align_state_init(&al);
        sdd_step_result r;
        CHECK(sdd_train_step(m, &c, &opt, &al, &sp, bad, 4, in->shape[1], labels, 1, g, &r, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "non-finite");
        int untouched = 1;
        for (int i = 0; i < m->params.np; i++)
            if (m->params.p[i].trainable && memcmp(m->params.data + m->params.p[i].off, saved + m->params.p[i].off, m->params.p[i].numel * sizeof(float)))
                untouched = 0;
        CHECK_MSG(untouched, "a failed step changed trainable weights");
        sdd_adam_free(&opt);
        free(bad);
    }
    free(saved);
    free(g);
    sdd_ctx_free(&c);
    sdd_model_free(m);
    sdd_tensorset_free(&fx);
    sdd_tensorset_free(&js);
}

int main(void)
{
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load("tests/data/train/align_adam.safetensors", &fx, &e)) {
        CHECK_MSG(0, "%s", e.msg);
    } else {
        test_alignment(&fx);
        test_adam(&fx);
        sdd_tensorset_free(&fx);
    }
    test_grouped();
    test_group_build();
    test_properties();
    test_step();
    return CHECK_DONE("test_train");
}
