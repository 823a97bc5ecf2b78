/* The wav2vec 2.0 / XLS-R encoder against the independent PyTorch reference
 * (tools/reference/xlsr_ref.py, tiny config, float64 truth): features within
 * a relative L2 error of 1e-4 and every parameter gradient of
 * sum(features * dout) within 1e-4 per tensor. Also: layer recomputation
 * gives bit-identical values and gradients to the plain tape; the per-path
 * split (two segments, one backward) equals each sample's gradient computed
 * alone; the 300M configuration registers 315,437,696 parameters (the
 * spec's encoder count less the 1,024 of the unused mask embedding); short
 * input is refused with a message. */
#include "check.h"
#include "fixture.h"
#include "models/xlsr.h"
#include "io/safetensors.h"
#include <stdlib.h>
#include <string.h>

#define FIX "tests/data/fixtures/xlsr_tiny.safetensors"

static double dot(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return s;
}

typedef struct {
    sdd_params ps;
    sdd_xlsr x;
    sdd_tensor *pt;
} enc;

static int enc_init(enc *m, const sdd_xlsr_config *cfg, int alloc)
{
    sdd_err e;
    m->pt = NULL;   /* enc_free frees it whether or not it was allocated */
    sdd_params_init(&m->ps);
    if (sdd_xlsr_register(&m->x, &m->ps, "", cfg, &e)) { fprintf(stderr, "%s\n", e.msg); return -1; }
    if (!alloc) return 0;
    if (sdd_params_alloc(&m->ps, &e) || sdd_params_alloc_grads(&m->ps, 2, &e)) return -1;
    m->pt = calloc((size_t)m->ps.np, sizeof *m->pt);
    for (int i = 0; i < m->ps.np; i++) m->pt[i] = sdd_param_tensor(&m->ps, i);
    sdd_xlsr_bind(&m->x, m->pt);
    return 0;
}

static void enc_free(enc *m)
{
    free(m->pt);
    sdd_params_free(&m->ps);
}

/* forward + backward of sum(out * dout) on samples [b0, b0 + nb); per-path segments when split */
static sdd_tensor *run(sdd_ctx *c, enc *m, const sdd_ntensor *in, int b0, int nb, const float *dout, int split)
{
    const int64_t L = in->shape[1];
    sdd_params_zero_grads(&m->ps);
    sdd_ctx_begin(c, nb, 1, 1);
    c->dropout_off = 1;
    if (split) { int ends[2] = { 1, 2 }; sdd_ctx_set_segments(c, 2, ends, NULL); }
    int64_t shp[2] = { nb, L };
    sdd_tensor *y = sdd_xlsr_forward(c, &m->x, sdd_tensor_wrap(c, (float *)in->data + (size_t)b0 * L, 2, shp));
    if (!y) return NULL;
    float *g = sdd_grad_of(c, y);
    const size_t per = sdd_numel(y) / (size_t)nb;
    memcpy(g, dout + (size_t)b0 * per, per * nb * sizeof(float));
    if (sdd_backward(c, 0, NULL, NULL)) return NULL;
    return y;
}

static void test_fixture(void)
{
    sdd_tensorset fx;
    sdd_err e;
    CHECK_MSG(sdd_safetensors_load(FIX, &fx, &e) == 0, "%s", e.msg);
    enc m;
    sdd_xlsr_config cfg = sdd_xlsr_config_tiny();
    CHECK(enc_init(&m, &cfg, 1) == 0);
    int loaded = 0;
    for (int i = 0; i < m.ps.np; i++) {
        char k[160];
        snprintf(k, sizeof k, "param/%s", m.ps.p[i].name);
        const sdd_ntensor *t = sdd_tensorset_find(&fx, k);
        CHECK_MSG(t && t->nbytes == m.ps.p[i].numel * 4, "fixture lacks %s or its size differs", k);
        if (!t || t->nbytes != m.ps.p[i].numel * 4) continue;
        memcpy(sdd_params_ptr(&m.ps, i), t->data, t->nbytes);
        loaded++;
    }
    int nfix = 0;
    for (int i = 0; i < fx.n; i++) nfix += !strncmp(fx.t[i].name, "param/", 6);
    CHECK_MSG(loaded == m.ps.np && nfix == m.ps.np, "loaded %d of %d parameters (fixture has %d)", loaded, m.ps.np, nfix);
    const sdd_ntensor *in = sdd_tensorset_find(&fx, "input"), *want = sdd_tensorset_find(&fx, "out"),
                      *dout = sdd_tensorset_find(&fx, "dout");
    CHECK(in && want && dout);
    if (!in || !want || !dout) { enc_free(&m); sdd_tensorset_free(&fx); return; }
    sdd_ctx c;
    sdd_ctx_init(&c, &m.ps);
    float *ref[2] = { NULL, NULL }, *refo = NULL;
    for (int rc = 0; rc < 2; rc++) {
        m.x.cfg.recompute = rc;
        sdd_tensor *y = run(&c, &m, in, 0, 2, dout->data, 0);
        CHECK_MSG(y != NULL, "forward/backward: %s", c.err.msg);
        if (!y) break;
        const size_t n = sdd_numel(y);
        CHECK(n * 4 == want->nbytes);
        if (n * 4 != want->nbytes) break;
        const double ef = fx_rel_l2(y->x, want->data, n);
        CHECK_MSG(ef <= 1e-4, "features: relative L2 error %.3g", ef);
        double worst = 0, gmax = 0;
        for (int i = 0; i < fx.n; i++)
            if (!strncmp(fx.t[i].name, "grad/", 5)) {
                const double nr = sqrt(dot(fx.t[i].data, fx.t[i].nbytes / 4));
                if (nr > gmax) gmax = nr;
            }
        for (int i = 0; i < m.ps.np; i++) {
            char k[160];
            snprintf(k, sizeof k, "grad/%s", m.ps.p[i].name);
            const sdd_ntensor *t = sdd_tensorset_find(&fx, k);
            CHECK_MSG(t != NULL, "fixture lacks %s", k);
            if (!t) continue;
            const float *got = m.ps.grad[0] + m.ps.p[i].off;
            if (sqrt(dot(t->data, m.ps.p[i].numel)) < 1e-9 * gmax) {
                /* structurally zero (k_proj.bias: softmax ignores a per-query constant): rounding noise only */
                CHECK_MSG(sqrt(dot(got, m.ps.p[i].numel)) < 1e-6 * gmax, "%s should be ~0", k);
                continue;
            }
            const double eg = fx_rel_l2(got, t->data, m.ps.p[i].numel);
            if (eg > worst) worst = eg;
            CHECK_MSG(eg <= 1e-4, "%s: relative L2 error %.3g", k, eg);
        }
        if (rc == 0) printf("xlsr tiny: features rel err %.3g, worst gradient rel err %.3g\n", ef, worst);
        ref[rc] = malloc(m.ps.total * sizeof(float));
        memcpy(ref[rc], m.ps.grad[0], m.ps.total * sizeof(float));
        if (rc == 0) { refo = malloc(n * 4); memcpy(refo, y->x, n * 4); }
        else CHECK_MSG(memcmp(refo, y->x, n * 4) == 0, "recomputed forward differs");
    }
    if (ref[0] && ref[1]) CHECK_MSG(memcmp(ref[0], ref[1], m.ps.total * sizeof(float)) == 0, "recomputation changes the gradients");
    /* inference releases each layer's intermediates whatever the recompute
     * setting (which only decides what a gradient keeps): same values, same
     * memory, a fraction of what training keeps without recomputation */
    {
        size_t used[2];
        float *o0 = NULL;
        int64_t shp[2] = { 2, in->shape[1] };
        for (int rc = 0; rc < 2; rc++) {
            m.x.cfg.recompute = rc;
            sdd_ctx_begin(&c, 2, 0, 0);
            sdd_tensor *y = sdd_xlsr_forward(&c, &m.x, sdd_tensor_wrap(&c, in->data, 2, shp));
            CHECK(y != NULL);
            if (!y) break;
            used[rc] = c.arena.used;
            if (!rc) { o0 = malloc(sdd_numel(y) * 4); memcpy(o0, y->x, sdd_numel(y) * 4); }
            else CHECK(memcmp(o0, y->x, sdd_numel(y) * 4) == 0 && used[1] == used[0]);
        }
        m.x.cfg.recompute = 0;
        sdd_ctx_begin(&c, 2, 0, 1);   /* with a gradient: every activation kept */
        CHECK(sdd_xlsr_forward(&c, &m.x, sdd_tensor_wrap(&c, in->data, 2, shp)) != NULL && used[0] * 2 < c.arena.used);
        free(o0);
    }
    /* per-path split: sample 0 and 1 as two segments vs each alone */
    m.x.cfg.recompute = 1;
    float *alone[2];
    for (int b = 0; b < 2; b++) {
        CHECK(run(&c, &m, in, b, 1, dout->data, 0) != NULL);
        alone[b] = malloc(m.ps.total * sizeof(float));
        memcpy(alone[b], m.ps.grad[0], m.ps.total * sizeof(float));
    }
    CHECK(run(&c, &m, in, 0, 2, dout->data, 1) != NULL);
    for (int s = 0; s < 2; s++) {
        const double es = fx_rel_l2(m.ps.grad[s], alone[s], m.ps.total);
        CHECK_MSG(es < 1e-5, "path %d gradient differs from the sample alone: %.3g", s, es);
        free(alone[s]);
    }
    free(ref[0]); free(ref[1]); free(refo);
    sdd_ctx_free(&c);
    enc_free(&m);
    sdd_tensorset_free(&fx);
}

static void test_configs(void)
{
    enc m;
    sdd_xlsr_config cfg = sdd_xlsr_config_300m();
    CHECK(enc_init(&m, &cfg, 0) == 0);
    size_t n = 0;
    for (int i = 0; i < m.ps.np; i++) n += m.ps.p[i].numel;
    CHECK_MSG(n == 315437696u, "300M encoder has %zu parameters", n);
    CHECK(sdd_xlsr_frames(&cfg, 64600) == 201);
    CHECK(sdd_xlsr_frames(&cfg, 66800) == 208);
    CHECK(sdd_xlsr_min_samples(&cfg) == 400);
    CHECK(sdd_xlsr_frames(&cfg, 399) == 0);
    enc_free(&m);
    /* too short an input: a clear error, no crash */
    sdd_xlsr_config t = sdd_xlsr_config_tiny();
    CHECK(enc_init(&m, &t, 1) == 0);
    sdd_ctx c;
    sdd_ctx_init(&c, &m.ps);
    sdd_ctx_begin(&c, 1, 0, 0);
    float w[300] = { 0 };
    int64_t shp[2] = { 1, 300 };
    CHECK(sdd_xlsr_forward(&c, &m.x, sdd_tensor_wrap(&c, w, 2, shp)) == NULL);
    CHECK_STR_CONTAINS(c.err.msg, "shorter than the receptive field (400)");
    sdd_ctx_free(&c);
    enc_free(&m);
}

int main(void)
{
    test_configs();
    test_fixture();
    return CHECK_DONE("test_xlsr");
}
