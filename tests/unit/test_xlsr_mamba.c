/* The XLSR-Mamba back-end against the plain-PyTorch reference
 * (tools/reference/mamba_ref.py, fixture xlsr_mamba_tiny.safetensors: tiny
 * sizes, random weights and features, float64 truth), in both final-norm
 * modes: eval logits, train-mode loss and logits, every parameter gradient,
 * the BatchNorm running statistics, and the per-path split (one backward
 * pass with per-path BatchNorm statistics gives each half's gradient as if it
 * had run alone). Tolerance per tensor: relative L2 <= max(1e-4, 10 x the
 * error PyTorch's own float32 run has against the float64 truth). In the
 * reference mode each stack's last block must get exactly zero gradient, as in
 * the reference; in the fixed mode it must not. Also: the full-size back-end
 * has the reference's 1,936,950 parameters, and bad sizes are refused. */
#include "check.h"
#include "fixture.h"
#include "models/backends.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/data/fixtures/xlsr_mamba_tiny.safetensors"

/* is parameter i one of the last block's (either stack)? */
static int in_last_block(const sdd_mamba_backend *mb, int i)
{
    const int l = mb->cfg.n_layer - 1;
    for (int s = 0; s < 2; s++) {
        const sdd_mamba_layer_ix *L = &mb->layer[s][l];
        const int ix[10] = { L->in_proj, L->conv_w, L->conv_b, L->x_proj, L->dt_w, L->dt_b, L->A_log, L->D, L->out_proj, L->norm };
        for (int k = 0; k < 10; k++) if (ix[k] == i) return 1;
    }
    return 0;
}

/* one train-mode step (dropout off); per_path: 2 segments with per-path BN statistics */
static sdd_tensor *train_step(sdd_ctx *c, sdd_mamba_backend *mb, sdd_params *ps, float *feat, const int64_t *shp,
                              const int *labels, int per_path, sdd_tensor **logits)
{
    const int B = (int)shp[0];
    const float cw[2] = { 0.1f, 0.9f };
    sdd_params_zero_grads(ps);
    sdd_ctx_begin(c, B, 1, 1);
    c->dropout_off = 1;
    c->bn_per_seg = per_path;
    if (per_path) { int ends[2] = { B / 2, B }; sdd_ctx_set_segments(c, 2, ends, NULL); }
    *logits = sdd_mamba_backend_forward(c, mb, sdd_tensor_wrap(c, feat, 3, shp));
    sdd_tensor *L = sdd_ce_weighted(c, *logits, labels, cw, NULL);
    if (!L) return NULL;
    float *g = sdd_grad_of(c, L);
    for (int s = 0; s < c->nseg; s++) g[s] = 1.0f;
    return sdd_backward(c, 0, NULL, NULL) ? NULL : L;
}

static void run_mode(const sdd_tensorset *fx, sdd_mamba_backend *mb, sdd_params *ps, sdd_mamba_final_norm mode)
{
    const char *mn = sdd_mamba_final_norm_name(mode);
    mb->cfg.final_norm = mode;
    const sdd_ntensor *in = sdd_tensorset_find(fx, "input"), *lab = sdd_tensorset_find(fx, "labels");
    const int B = (int)in->shape[0];
    const int64_t shp[3] = { in->shape[0], in->shape[1], in->shape[2] };
    int labels[16];
    for (int b = 0; b < B && b < 16; b++) { int64_t v; memcpy(&v, (const char *)lab->data + 8 * b, 8); labels[b] = (int)v; }
    float *saved = malloc(ps->total * sizeof(float));
    memcpy(saved, ps->data, ps->total * sizeof(float));
    char key[256];
    sdd_ctx c;
    sdd_ctx_init(&c, ps);

    sdd_ctx_begin(&c, B, 0, 0);
    sdd_tensor *z = sdd_mamba_backend_forward(&c, mb, sdd_tensor_wrap(&c, (float *)in->data, 3, shp));
    CHECK_MSG(z != NULL, "%s: eval forward: %s", mn, c.err.msg);
    snprintf(key, sizeof key, "%s/logits_eval", mn);
    if (z) fx_compare(fx, key, z->x, (size_t)B * 2);

    sdd_tensor *logits;
    sdd_tensor *L = train_step(&c, mb, ps, (float *)in->data, shp, labels, 0, &logits);
    CHECK_MSG(L != NULL, "%s: train step: %s", mn, c.err.msg);
    if (L) {
        snprintf(key, sizeof key, "%s/loss", mn);
        fx_compare(fx, key, L->x, 1);
        snprintf(key, sizeof key, "%s/logits_train", mn);
        fx_compare(fx, key, logits->x, (size_t)B * 2);
        int zero_last = 1, nonzero_last = 0;
        for (int i = 0; i < ps->np; i++) {
            const sdd_pinfo *pi = &ps->p[i];
            if (pi->trainable) {
                snprintf(key, sizeof key, "%s/grad/%s", mn, pi->name);
                fx_compare(fx, key, ps->grad[0] + pi->off, pi->numel);
                if (in_last_block(mb, i))
                    for (size_t k = 0; k < pi->numel; k++) {
                        if (ps->grad[0][pi->off + k] != 0.0f) zero_last = 0;
                        if (ps->grad[0][pi->off + k] != 0.0f) nonzero_last = 1;
                    }
            } else {
                snprintf(key, sizeof key, "%s/running_after/%s", mn, pi->name);
                fx_compare(fx, key, ps->data + pi->off, pi->numel);
            }
        }
        if (mode == SDD_MAMBA_NORM_REFERENCE) {
            CHECK_MSG(zero_last, "reference mode: the last blocks got a nonzero gradient");
            const char *zk = sdd_tensorset_get_meta(fx, "zero_grad_keys_reference");
            CHECK_MSG(zk && strstr(zk, "conformer.forward_layers.1.mixer.A_log") && strstr(zk, "conformer.backward_layers.1.norm.weight"),
                      "fixture: PyTorch's reference-mode zero-gradient keys are not the last blocks: %s", zk ? zk : "(none)");
        } else CHECK_MSG(nonzero_last, "fixed mode: the last blocks got no gradient");
    }
    memcpy(ps->data, saved, ps->total * sizeof(float));

    L = train_step(&c, mb, ps, (float *)in->data, shp, labels, 1, &logits);
    CHECK_MSG(L != NULL, "%s: per-path train step: %s", mn, c.err.msg);
    if (L)
        for (int s = 0; s < 2; s++) {
            snprintf(key, sizeof key, "%s/path%d/loss", mn, s);
            fx_compare(fx, key, &L->x[s], 1);
            for (int i = 0; i < ps->np; i++) {
                const sdd_pinfo *pi = &ps->p[i];
                if (!pi->trainable) continue;
                snprintf(key, sizeof key, "%s/path%d/grad/%s", mn, s, pi->name);
                fx_compare(fx, key, ps->grad[s] + pi->off, pi->numel);
            }
        }
    memcpy(ps->data, saved, ps->total * sizeof(float));
    sdd_ctx_free(&c);
    free(saved);
}

static void test_fixture(void)
{
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load(FIXTURE, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    sdd_mamba_cfg cfg = {
        fx_meta_int(&fx, "d_in"), fx_meta_int(&fx, "d_model"), fx_meta_int(&fx, "n_layer"), fx_meta_int(&fx, "d_state"),
        fx_meta_int(&fx, "d_conv"), fx_meta_int(&fx, "expand"), fx_meta_int(&fx, "dt_rank"), SDD_MAMBA_NORM_FIXED };
    sdd_params ps;
    sdd_params_init(&ps);
    sdd_mamba_backend mb;
    int rc = sdd_mamba_backend_register(&mb, &ps, &cfg, &e);
    CHECK_MSG(rc == 0, "register: %s", e.msg);
    if (!rc) rc = sdd_params_alloc(&ps, &e) || sdd_params_alloc_grads(&ps, 2, &e) || sdd_mamba_backend_bind(&mb, &ps, &e);
    CHECK_MSG(rc == 0, "alloc: %s", e.msg);
    int nparam = 0, loaded = 0;
    for (int i = 0; i < fx.n; i++)
        if (!strncmp(fx.t[i].name, "param/", 6)) {
            nparam++;
            const int k = rc ? -1 : sdd_params_find(&ps, fx.t[i].name + 6);
            CHECK_MSG(k >= 0, "fixture parameter %s is not registered", fx.t[i].name + 6);
            if (k < 0) continue;
            CHECK_MSG(fx.t[i].nbytes == ps.p[k].numel * sizeof(float), "%s: size differs", fx.t[i].name);
            if (fx.t[i].nbytes != ps.p[k].numel * sizeof(float)) continue;
            memcpy(sdd_params_ptr(&ps, k), fx.t[i].data, fx.t[i].nbytes);
            loaded++;
        }
    CHECK_MSG(!rc && loaded == ps.np && nparam == ps.np, "loaded %d of %d fixture parameters into %d registered entries", loaded, nparam, ps.np);
    if (!rc && loaded == ps.np) {
        run_mode(&fx, &mb, &ps, SDD_MAMBA_NORM_FIXED);
        run_mode(&fx, &mb, &ps, SDD_MAMBA_NORM_REFERENCE);
    }
    sdd_mamba_backend_free(&mb);
    sdd_params_free(&ps);
    sdd_tensorset_free(&fx);
}

/* the full-size back-end: parameter count, the reference initialisation's structure, one forward */
static void test_full_size(void)
{
    sdd_mamba_cfg cfg;
    sdd_mamba_cfg_default(&cfg);
    CHECK(cfg.final_norm == SDD_MAMBA_NORM_FIXED);
    sdd_params ps;
    sdd_params_init(&ps);
    sdd_mamba_backend mb;
    sdd_err e;
    int rc = sdd_mamba_backend_register(&mb, &ps, &cfg, &e) || sdd_params_alloc(&ps, &e) || sdd_mamba_backend_bind(&mb, &ps, &e);
    CHECK_MSG(rc == 0, "full size: %s", e.msg);
    if (rc) { sdd_params_free(&ps); return; }
    CHECK_MSG(ps.ntrainable == 1936950, "full-size back-end has %zu trainable parameters, the reference 1,936,950", ps.ntrainable);
    sdd_mamba_backend_init(&mb, &ps, 5);
    const float *al = sdd_params_ptr(&ps, mb.layer[0][0].A_log), *db = sdd_params_ptr(&ps, mb.layer[1][5].dt_b);
    CHECK_NEAR(al[15], log(16.0), 1e-6);
    int dt_ok = 1;
    for (int d = 0; d < 288; d++) {
        const double dt = log1p(exp((double)db[d]));
        if (dt < 1e-4 * 0.999 || dt > 0.1 * 1.001) dt_ok = 0;
    }
    CHECK_MSG(dt_ok, "dt_proj.bias: softplus(bias) outside [1e-4, 0.1]");
    /* one eval forward of 2 x 30 frames */
    sdd_ctx c;
    sdd_ctx_init(&c, &ps);
    sdd_ctx_begin(&c, 2, 0, 0);
    int64_t shp[3] = { 2, 30, 1024 };
    float *feat = malloc(2 * 30 * 1024 * sizeof(float));
    for (int i = 0; i < 2 * 30 * 1024; i++) feat[i] = (float)sin(0.37 * i);
    sdd_tensor *z = sdd_mamba_backend_forward(&c, &mb, sdd_tensor_wrap(&c, feat, 3, shp));
    CHECK_MSG(z && isfinite(z->x[0]) && isfinite(z->x[3]), "full-size forward: %s", c.err.msg);
    /* a wrong feature size is an error, not a crash */
    sdd_ctx_begin(&c, 2, 0, 0);
    int64_t bad[3] = { 2, 30, 512 };
    z = sdd_mamba_backend_forward(&c, &mb, sdd_tensor_wrap(&c, feat, 3, bad));
    CHECK(z == NULL);
    CHECK_STR_CONTAINS(c.err.msg, "(B, T, 1024)");
    free(feat);
    sdd_ctx_free(&c);
    sdd_mamba_backend_free(&mb);
    sdd_params_free(&ps);
    /* unsupported sizes are refused with a reason */
    cfg.n_layer = 0;
    sdd_params_init(&ps);
    CHECK(sdd_mamba_backend_register(&mb, &ps, &cfg, &e) < 0);
    CHECK_STR_CONTAINS(e.msg, "unsupported sizes");
    sdd_params_free(&ps);
    sdd_mamba_final_norm m;
    CHECK(sdd_mamba_final_norm_parse("reference", &m) == 0 && m == SDD_MAMBA_NORM_REFERENCE);
    CHECK(sdd_mamba_final_norm_parse("fixed", &m) == 0 && m == SDD_MAMBA_NORM_FIXED);
    CHECK(sdd_mamba_final_norm_parse("buggy", &m) < 0);
}

int main(void)
{
    test_fixture();
    test_full_size();
    printf("worst error / tolerance: %.3g\n", fx_worst_ratio);
    return CHECK_DONE("test_xlsr_mamba");
}
