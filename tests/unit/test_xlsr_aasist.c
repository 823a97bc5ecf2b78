/* XLSR-AASIST (tiny XLS-R config) end to end against the PyTorch reference
 * (tools/reference/xlsr_ref.py, float64 truth): eval logits, the train-mode
 * (batch statistics, dropout off) weighted-CE loss and logits, every
 * parameter gradient and the BatchNorm running statistics after the step,
 * each within a relative L2 error of 1e-4 (gradients that are structurally
 * zero, like the attention key bias, must be ~0). Then the model trains
 * through sdd_train_step: a dual-path PCGrad step with per-path statistics
 * runs, reports both losses and conflict statistics and moves the weights;
 * the registry knows the full-size "XLSR-AASIST" (317.9M-parameter fine-tuned
 * model less the pretraining heads: 315,884,938) and refuses short input. */
#include "check.h"
#include "fixture.h"
#include "models/modelio.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "ops/seq.h"
#include "train/step.h"
#include <stdlib.h>
#include <string.h>

#define FIX "tests/data/fixtures/xlsr_aasist_tiny.safetensors"

static double sq(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return s;
}

static double rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0;
    for (size_t i = 0; i < n; i++) { const double d = (double)got[i] - want[i]; num += d * d; }
    const double den = sq(want, n);
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void cmp(const sdd_tensorset *fx, const char *key, const float *got, size_t n, double tol)
{
    const sdd_ntensor *t = sdd_tensorset_find(fx, key);
    CHECK_MSG(t && t->nbytes == n * 4, "fixture lacks %s or its size differs", key);
    if (!t || t->nbytes != n * 4) return;
    const double e = rel_l2(got, t->data, n);
    CHECK_MSG(e <= tol, "%s: relative L2 error %.3g > %.3g", key, e, tol);
}

static sdd_model *load_fixture_model(const sdd_tensorset *fx)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("XLSR-AASIST-tiny", &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (!m) return NULL;
    const int rc = fx_set_weights(m, fx, FIX, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc) { sdd_model_free(m); return NULL; }
    return m;
}

static void test_fixture(void)
{
    sdd_tensorset fx;
    sdd_err e;
    CHECK_MSG(sdd_safetensors_load(FIX, &fx, &e) == 0, "%s", e.msg);
    sdd_model *m = load_fixture_model(&fx);
    const sdd_ntensor *in = sdd_tensorset_find(&fx, "input"), *lab = sdd_tensorset_find(&fx, "labels");
    CHECK(in && lab);
    if (!m || !in || !lab) { sdd_model_free(m); sdd_tensorset_free(&fx); return; }
    const int B = (int)in->shape[0];
    const int64_t L = in->shape[1];
    int labels[8];
    for (int b = 0; b < B; b++) { int64_t v; memcpy(&v, (char *)lab->data + 8 * b, 8); labels[b] = (int)v; }
    sdd_params *ps = &m->params;
    sdd_params_alloc_grads(ps, 2, &e);
    sdd_ctx c;
    sdd_ctx_init(&c, ps);
    int64_t shp[2] = { B, L };
    /* eval */
    sdd_ctx_begin(&c, B, 0, 0);
    sdd_tensor *z = m->forward(&c, m, sdd_tensor_wrap(&c, in->data, 2, shp));
    CHECK_MSG(z != NULL, "eval forward: %s", c.err.msg);
    if (z) cmp(&fx, "logits_eval", z->x, 2 * (size_t)B, 1e-4);
    /* train mode, batch statistics, no dropout */
    sdd_params_zero_grads(ps);
    sdd_ctx_begin(&c, B, 1, 1);
    c.dropout_off = 1;
    z = m->forward(&c, m, sdd_tensor_wrap(&c, in->data, 2, shp));
    const float cw[2] = { 0.1f, 0.9f };
    sdd_tensor *loss = sdd_ce_weighted(&c, z, labels, cw, NULL);
    CHECK_MSG(loss != NULL, "train forward: %s", c.err.msg);
    if (loss) {
        cmp(&fx, "logits_train", z->x, 2 * (size_t)B, 1e-4);
        cmp(&fx, "loss", loss->x, 1, 1e-4);
        float one = 1.0f;
        CHECK(sdd_backward(&c, 1, &loss, &one) == 0);
        double gmax = 0;
        for (int i = 0; i < fx.n; i++)
            if (!strncmp(fx.t[i].name, "grad/", 5) && sqrt(sq(fx.t[i].data, fx.t[i].nbytes / 4)) > gmax)
                gmax = sqrt(sq(fx.t[i].data, fx.t[i].nbytes / 4));
        int ngrad = 0, nafter = 0;
        for (int i = 0; i < ps->np; i++) {
            const sdd_pinfo *pi = &ps->p[i];
            char k[192];
            snprintf(k, sizeof k, "grad/%s", pi->name);
            const sdd_ntensor *t = sdd_tensorset_find(&fx, k);
            const float *got = ps->grad[0] + pi->off;
            if (!pi->trainable || !t || sqrt(sq(t->data, pi->numel)) < 1e-9 * gmax) {
                /* buffers, bn1 (never used) and structurally zero gradients */
                CHECK_MSG(sqrt(sq(got, pi->numel)) <= 1e-6 * gmax, "%s has a gradient but should have none", pi->name);
                if (!pi->trainable) {
                    snprintf(k, sizeof k, "after/%s", pi->name);
                    if (sdd_tensorset_find(&fx, k)) { cmp(&fx, k, sdd_params_ptr(ps, i), pi->numel, 1e-4); nafter++; }
                }
                continue;
            }
            cmp(&fx, k, got, pi->numel, 1e-4);
            ngrad++;
        }
        CHECK_MSG(ngrad > 200 && nafter == 40, "%d gradients, %d running statistics compared", ngrad, nafter);
    }
    sdd_ctx_free(&c);
    sdd_model_free(m);
    sdd_tensorset_free(&fx);
}

/* One dual-path PCGrad step through the trainer's step function from the
 * fixture's weights: the combined gradient into g and the weights after it
 * into w (params.total floats each). recompute: the XLS-R layers recomputed
 * in the backward (the default) or every activation kept. peak: the arena's
 * peak; est: with recomputation, the peak estimated for keeping the
 * activations (sdd_checkpoint_keep_estimate). 0 when it ran. */
static int fixture_step(const sdd_tensorset *fx, int recompute, int bn_stats, float *g, float *w, size_t *peak, size_t *est, int report)
{
    sdd_err e;
    sdd_model *m = load_fixture_model(fx);
    const sdd_ntensor *in = sdd_tensorset_find(fx, "input");
    if (!m || !in) { sdd_model_free(m); return -1; }
    CHECK_MSG(sdd_model_set_recompute(m, recompute, &e) == 0, "%s", e.msg);
    const int64_t L = in->shape[1];
    /* [2 originals | 2 copies (scaled, as a stand-in for RawBoost)] */
    float *wave = malloc(sizeof(float) * 4 * L);
    memcpy(wave, in->data, sizeof(float) * 2 * L);
    for (int64_t i = 0; i < 2 * L; i++) wave[2 * L + i] = 0.5f * ((const float *)in->data)[i] + 0.01f * (float)((i * 7) % 5 - 2);
    int labels[4] = { 1, 0, 1, 0 };
    sdd_adam opt;
    sdd_adam_params ap = sdd_adam_default_params();
    CHECK(sdd_adam_init(&opt, &m->params, &ap, &e) == 0);
    sdd_align_state al;
    memset(&al, 0, sizeof al);
    sdd_step_params sp = sdd_step_default_params();
    sp.bn_stats = bn_stats;
    float *before = malloc(m->params.total * sizeof(float));
    memcpy(before, m->params.data, m->params.total * sizeof(float));
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    sdd_step_result res;
    const int rc = sdd_train_step(m, &c, &opt, &al, &sp, wave, 4, L, labels, 99, g, &res, &e);
    CHECK_MSG(rc == 0, "train step: %s", e.msg);
    if (rc == 0 && report) {
        CHECK(isfinite(res.loss[0]) && isfinite(res.loss[1]) && res.loss[0] > 0 && res.loss[1] > 0);
        CHECK(res.has_align_stats);
        double moved = 0;
        for (size_t k = 0; k < m->params.total; k++) moved += fabs((double)m->params.data[k] - before[k]);
        CHECK(moved > 0);
        /* the XLS-R weights are fine-tuned too */
        const int iq = sdd_params_find(&m->params, "ssl_model.model.encoder.layers.0.self_attn.q_proj.weight");
        CHECK(iq >= 0);
        if (iq >= 0) {
            double d = 0;
            for (size_t k = 0; k < m->params.p[iq].numel; k++) d += fabs((double)m->params.data[m->params.p[iq].off + k] - before[m->params.p[iq].off + k]);
            CHECK(d > 0);
        }
        printf("xlsr-aasist tiny pcgrad step: losses %.5f %.5f, cos %.4f\n", res.loss[0], res.loss[1], res.al.cos);
    }
    if (rc == 0) memcpy(w, m->params.data, m->params.total * sizeof(float));
    *peak = c.arena.peak;
    *est = sdd_checkpoint_keep_estimate(&c, 0);
    sdd_ctx_free(&c);
    sdd_adam_free(&opt);
    free(before);
    free(wave);
    sdd_model_free(m);
    return rc;
}

/* a dual-path PCGrad step; then the same step without recomputation (the
 * switch that trades memory for the second forward on a GPU) must give the
 * same gradient and weights to the bit, with both BatchNorm modes (joint runs
 * the backward twice, recomputing twice) */
static void test_train_step(void)
{
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load(FIX, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    sdd_model *m = load_fixture_model(&fx);
    const size_t n = m ? m->params.total : 0;
    sdd_model_free(m);
    float *g[2] = { malloc(n * sizeof(float)), malloc(n * sizeof(float)) }, *w[2] = { malloc(n * sizeof(float)), malloc(n * sizeof(float)) };
    for (int bn = 0; n && bn < 2; bn++) {
        const int bs = bn ? SDD_BN_JOINT : SDD_BN_PER_PATH;
        size_t peak[2], est[2];
        if (fixture_step(&fx, 1, bs, g[0], w[0], &peak[0], &est[0], bn == 0) || fixture_step(&fx, 0, bs, g[1], w[1], &peak[1], &est[1], 0))
            continue;
        /* the switch is real: keeping every activation needs more memory */
        CHECK_MSG(peak[1] > peak[0], "bn mode %d: arena peak %zu without recomputation, %zu with", bn, peak[1], peak[0]);
        /* what --ssl-recompute auto decides by: the estimate from the run that
         * recomputed, against the peak of the one that kept everything (not
         * below it, at most 30% above; full size, 1 x 64,600: 1,434 MB vs 1,284) */
        printf("bn mode %d: arena peak %zu with recomputation, %zu without, estimated %zu\n", bn, peak[0], peak[1], est[0]);
        CHECK_MSG(est[0] >= peak[1] && est[0] <= peak[1] + peak[1] / 10 * 3, "bn mode %d: keep estimate %zu for a measured %zu",
                  bn, est[0], peak[1]);
        CHECK_MSG(est[1] == peak[1], "bn mode %d: without recomputation the estimate is the peak (%zu vs %zu)", bn, est[1], peak[1]);
        CHECK_MSG(memcmp(g[0], g[1], n * sizeof(float)) == 0, "bn mode %d: the gradient differs without recomputation", bn);
        CHECK_MSG(memcmp(w[0], w[1], n * sizeof(float)) == 0, "bn mode %d: the weights differ without recomputation", bn);
    }
    m = sdd_model_new("AASIST-L", &e);
    CHECK(m && sdd_model_set_recompute(m, 0, &e) == -1 && strstr(e.msg, "no XLS-R"));
    sdd_model_free(m);
    free(g[0]); free(g[1]); free(w[0]); free(w[1]);
    sdd_tensorset_free(&fx);
}

static void test_registry(void)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("XLSR-AASIST", &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        size_t n = 0;
        for (int i = 0; i < m->params.np; i++) if (m->params.p[i].trainable) n += m->params.p[i].numel;
        /* encoder 315,437,696 + back-end 447,242 */
        CHECK_MSG(n == 315437696u + 447242u, "XLSR-AASIST has %zu trainable parameters", n);
        CHECK(m->nb_samp == 66800);
        sdd_model_free(m);
    }
    m = sdd_model_new("XLSR-AASIST-tiny", &e);
    CHECK(m != NULL);
    if (!m) return;
    sdd_model_init_random(m, 5);
    const int ig = sdd_params_find(&m->params, "ssl_model.model.encoder.pos_conv.0.weight_g");
    CHECK(ig >= 0 && sdd_params_ptr(&m->params, ig)[0] > 0);
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    sdd_ctx_begin(&c, 1, 0, 0);
    const int n = m->min_samples - 1;
    float *w = calloc((size_t)n + 1, sizeof(float));
    int64_t shp[2] = { 1, n };
    CHECK(m->forward(&c, m, sdd_tensor_wrap(&c, w, 2, shp)) == NULL);
    sdd_ctx_begin(&c, 1, 0, 0);
    shp[1] = n + 1;
    sdd_tensor *z = m->forward(&c, m, sdd_tensor_wrap(&c, w, 2, shp));
    CHECK_MSG(z != NULL && isfinite(z->x[0]) && isfinite(z->x[1]), "min_samples input: %s", c.err.msg);
    free(w);
    sdd_ctx_free(&c);
    sdd_model_free(m);
}

int main(void)
{
    test_registry();
    test_fixture();
    test_train_step();
    return CHECK_DONE("test_xlsr_aasist");
}
