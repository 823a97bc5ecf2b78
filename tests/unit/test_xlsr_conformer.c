/* The XLSR-Conformer-TCM back-end against the plain-PyTorch reference
 * (tools/reference/conformer_ref.py, itself checked to equal the reference
 * code's module bit for bit; fixture xlsr_conformer_tiny.safetensors: tiny
 * sizes, kernel 31 over 21 tokens, random weights and features, float64
 * truth): eval logits, train-mode loss and logits, every parameter gradient,
 * the BatchNorm running statistics, the per-path split, and the sinusoidal
 * table. Tolerance per tensor: relative L2 <= max(1e-4, 10 x PyTorch
 * float32's own error). Also: the full size has the reference's 2,382,628
 * trainable parameters (blocks of 558,648), and bad inputs are refused. */
#include "check.h"
#include "fixture.h"
#include "models/backends.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/data/fixtures/xlsr_conformer_tiny.safetensors"

static sdd_tensor *train_step(sdd_ctx *c, sdd_conformer_backend *cb, sdd_params *ps, float *feat, const int64_t *shp,
                              const int *labels, int per_path, sdd_tensor **logits)
{
    const int B = (int)shp[0];
    const float cw[2] = { 0.1f, 0.9f };
    sdd_params_zero_grads(ps);
    sdd_ctx_begin(c, B, 1, 1);
    c->dropout_off = 1;
    c->bn_per_seg = per_path;
    if (per_path) { int ends[2] = { B / 2, B }; sdd_ctx_set_segments(c, 2, ends, NULL); }
    *logits = sdd_conformer_backend_forward(c, cb, sdd_tensor_wrap(c, feat, 3, shp));
    sdd_tensor *L = sdd_ce_weighted(c, *logits, labels, cw, NULL);
    if (!L) return NULL;
    float *g = sdd_grad_of(c, L);
    for (int s = 0; s < c->nseg; s++) g[s] = 1.0f;
    return sdd_backward(c, 0, NULL, NULL) ? NULL : L;
}

static void run(const sdd_tensorset *fx, sdd_conformer_backend *cb, sdd_params *ps)
{
    const sdd_ntensor *in = sdd_tensorset_find(fx, "input"), *lab = sdd_tensorset_find(fx, "labels");
    const sdd_ntensor *pe = sdd_tensorset_find(fx, "const/positional_emb");
    CHECK_MSG(in && lab && pe && in->ndim == 3, "fixture lacks input, labels or const/positional_emb");
    if (!in || !lab || !pe || in->ndim != 3) return;
    const int B = (int)in->shape[0];
    const int64_t shp[3] = { in->shape[0], in->shape[1], in->shape[2] };
    CHECK_MSG(fx_rel_l2(sdd_params_ptr(ps, cb->pos_emb), (const float *)pe->data, pe->nbytes / 4) <= 1e-6,
              "sinusoidal table differs from the reference's");
    int labels[16];
    for (int b = 0; b < B && b < 16; b++) { int64_t v; memcpy(&v, (const char *)lab->data + 8 * b, 8); labels[b] = (int)v; }
    float *saved = malloc(ps->total * sizeof(float));
    memcpy(saved, ps->data, ps->total * sizeof(float));
    char key[256];
    sdd_ctx c;
    sdd_ctx_init(&c, ps);
    sdd_ctx_begin(&c, B, 0, 0);
    sdd_tensor *z = sdd_conformer_backend_forward(&c, cb, sdd_tensor_wrap(&c, (float *)in->data, 3, shp));
    CHECK_MSG(z != NULL, "eval forward: %s", c.err.msg);
    if (z) fx_compare(fx, "logits_eval", z->x, (size_t)B * 2);
    for (int per_path = 0; per_path < 2; per_path++) {
        sdd_tensor *logits;
        sdd_tensor *L = train_step(&c, cb, ps, (float *)in->data, shp, labels, per_path, &logits);
        CHECK_MSG(L != NULL, "train step: %s", c.err.msg);
        if (!L) break;
        if (!per_path) {
            fx_compare(fx, "loss", L->x, 1);
            fx_compare(fx, "logits_train", logits->x, (size_t)B * 2);
        }
        for (int s = 0; s < (per_path ? 2 : 1); s++) {
            if (per_path) { snprintf(key, sizeof key, "path%d/loss", s); fx_compare(fx, key, &L->x[s], 1); }
            for (int i = 0; i < ps->np; i++) {
                const sdd_pinfo *pi = &ps->p[i];
                if (i == cb->pos_emb) continue;
                if (pi->trainable) {
                    if (per_path) snprintf(key, sizeof key, "path%d/grad/%s", s, pi->name);
                    else snprintf(key, sizeof key, "grad/%s", pi->name);
                    fx_compare(fx, key, ps->grad[s] + pi->off, pi->numel);
                } else if (!per_path) {
                    snprintf(key, sizeof key, "running_after/%s", pi->name);
                    fx_compare(fx, key, ps->data + pi->off, pi->numel);
                }
            }
        }
        memcpy(ps->data, saved, ps->total * sizeof(float));
    }
    sdd_ctx_free(&c);
    free(saved);
}

static void test_fixture(void)
{
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load(FIXTURE, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    sdd_conformer_cfg cfg = { fx_meta_int(&fx, "d_in"), fx_meta_int(&fx, "emb"), fx_meta_int(&fx, "heads"), fx_meta_int(&fx, "ff_mult"),
                              fx_meta_int(&fx, "expansion"), fx_meta_int(&fx, "kernel"), fx_meta_int(&fx, "n_blocks") };
    sdd_params ps;
    sdd_params_init(&ps);
    sdd_conformer_backend cb;
    int rc = sdd_conformer_backend_register(&cb, &ps, &cfg, &e);
    if (!rc) rc = sdd_params_alloc(&ps, &e) || sdd_params_alloc_grads(&ps, 2, &e) || sdd_conformer_backend_bind(&cb, &ps, &e);
    CHECK_MSG(rc == 0, "setup: %s", e.msg);
    int nparam = 0, loaded = 0;
    for (int i = 0; !rc && i < fx.n; i++)
        if (!strncmp(fx.t[i].name, "param/", 6)) {
            nparam++;
            const int k = sdd_params_find(&ps, fx.t[i].name + 6);
            CHECK_MSG(k >= 0 && fx.t[i].nbytes == ps.p[k].numel * sizeof(float), "fixture parameter %s: not registered or size differs", fx.t[i].name + 6);
            if (k < 0 || fx.t[i].nbytes != ps.p[k].numel * sizeof(float)) continue;
            memcpy(sdd_params_ptr(&ps, k), fx.t[i].data, fx.t[i].nbytes);
            loaded++;
        }
    /* every registered entry but the fixed positional table comes from the fixture */
    CHECK_MSG(!rc && loaded == ps.np - 1 && nparam == loaded, "loaded %d of %d fixture parameters into %d registered entries", loaded, nparam, ps.np);
    if (!rc && loaded == ps.np - 1) run(&fx, &cb, &ps);
    sdd_conformer_backend_free(&cb);
    sdd_params_free(&ps);
    sdd_tensorset_free(&fx);
}

static void test_full_size(void)
{
    sdd_conformer_cfg cfg;
    sdd_conformer_cfg_default(&cfg);
    sdd_params ps;
    sdd_params_init(&ps);
    sdd_conformer_backend cb;
    sdd_err e;
    int rc = sdd_conformer_backend_register(&cb, &ps, &cfg, &e) || sdd_params_alloc(&ps, &e) || sdd_conformer_backend_bind(&cb, &ps, &e);
    CHECK_MSG(rc == 0, "full size: %s", e.msg);
    if (rc) { sdd_params_free(&ps); return; }
    CHECK_MSG(ps.ntrainable == 2382628, "full-size back-end has %zu trainable parameters, the reference 2,382,628", ps.ntrainable);
    size_t blk = 0;
    for (int i = 0; i < ps.np; i++)
        if (!strncmp(ps.p[i].name, "conformer.encoder_blocks.0.", 27)) blk += ps.p[i].numel;
    CHECK_MSG(blk == 558648 + 2 * 288, "block 0 holds %zu floats (558,648 parameters + 576 running statistics)", blk);
    sdd_conformer_backend_init(&cb, &ps, 3);
    sdd_ctx c;
    sdd_ctx_init(&c, &ps);
    sdd_ctx_begin(&c, 2, 0, 0);
    int64_t shp[3] = { 2, 25, 1024 };
    float *feat = malloc(2 * 25 * 1024 * sizeof(float));
    for (int i = 0; i < 2 * 25 * 1024; i++) feat[i] = (float)cos(0.31 * i);
    sdd_tensor *z = sdd_conformer_backend_forward(&c, &cb, sdd_tensor_wrap(&c, feat, 3, shp));
    CHECK_MSG(z && isfinite(z->x[0]) && isfinite(z->x[3]), "full-size forward: %s", c.err.msg);
    sdd_ctx_begin(&c, 2, 0, 0);
    int64_t bad[3] = { 2, 25, 768 };
    CHECK(sdd_conformer_backend_forward(&c, &cb, sdd_tensor_wrap(&c, feat, 3, bad)) == NULL);
    CHECK_STR_CONTAINS(c.err.msg, "features must be");
    free(feat);
    sdd_ctx_free(&c);
    sdd_conformer_backend_free(&cb);
    sdd_params_free(&ps);
    cfg.heads = 5;
    sdd_params_init(&ps);
    CHECK(sdd_conformer_backend_register(&cb, &ps, &cfg, &e) < 0);
    CHECK_STR_CONTAINS(e.msg, "unsupported sizes");
    sdd_params_free(&ps);
}

int main(void)
{
    test_fixture();
    test_full_size();
    printf("worst error / tolerance: %.3g\n", fx_worst_ratio);
    return CHECK_DONE("test_xlsr_conformer");
}
