/* AASIST / AASIST-L against the independent PyTorch reference
 * (tools/reference/make_fixtures.py). Ground truth in the fixtures is computed
 * in float64; sdd runs in float32. For every tensor the per-tensor relative
 * L2 error must be within TOL = max(1e-4, 4 x the error PyTorch's own float32
 * run has against the same float64 truth, stored as relerr_torch32/<name>):
 * sdd must be as exact as PyTorch itself is; for gradients the bound also
 * admits 4 x sdd's own change under a one-ulp input perturbation (see
 * compare()). Checks eval logits, the
 * train-mode loss, every parameter gradient and the BatchNorm running
 * statistics after one step, and the per-path split: ONE backward pass with
 * per-path BatchNorm statistics gives each path's gradient as if that path's
 * loss had been computed alone. */
#include "check.h"
#include "fixture.h"
#include "models/modelio.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>

static const char *shared_dir(void)
{
    const char *s = getenv("SDD_SHARED");
    return s ? s : "../shared";
}

static double worst_ratio;
/* relative errors of every compared gradient of the current fixture, for the median check */
static double errs[8192];
static int nerrs;

/* relative L2 error of got vs want (n floats) */
static double rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    if (den == 0.0) return sqrt(num) <= 1e-6 ? 0.0 : INFINITY;
    return sqrt(num / den);
}

/* sens: how much sdd's own result moves when the input moves by one float32
 * ulp. AASIST's gradients route through millions of max/top-k selections, so
 * a near-tie flipped by rounding moves a gradient by up to ~1e-2 of its norm;
 * no float32 implementation can be closer to the truth than that. */
static void compare(const sdd_tensorset *fx, const char *fname, const char *key, const float *got, size_t n, double sens)
{
    const sdd_ntensor *t = sdd_tensorset_find(fx, key);
    CHECK_MSG(t != NULL, "%s: fixture lacks %s", fname, key);
    if (!t) return;
    CHECK_MSG(t->dtype == SDD_F32 && t->nbytes == n * sizeof(float), "%s: %s has %zu bytes, expected %zu floats", fname, key, t->nbytes, n);
    if (t->nbytes != n * sizeof(float)) return;
    char rk[256];
    snprintf(rk, sizeof rk, "relerr_torch32/%s", key);
    const sdd_ntensor *r = sdd_tensorset_find(fx, rk);
    double tref = 0.0;
    if (r && r->dtype == SDD_F32 && r->nbytes == 4) { float v; memcpy(&v, r->data, 4); tref = v; }
    double tol = 4.0 * (tref > sens ? tref : sens);
    if (tol < 1e-4) tol = 1e-4;
    /* Encoder and front-end gradients pass through millions of max-pool
     * selections, many of them exact ties in digital silence (tts_01 has
     * 5,600-sample silent runs), where the subgradient is not unique and each
     * implementation routes it its own way. Measured: on dithered input sdd's
     * worst tensor is 6.0e-4 from the float64 truth (PyTorch float32: 6.2e-4);
     * on the raw clips up to 9e-3. So these tensors are held to 1e-2, and the
     * median check in run_fixture holds the bulk of all gradients to 2e-5. */
    const int enc = (!strncmp(key, "grad/", 5) || !strncmp(key + 6, "grad/", 5)) &&
                    (strstr(key, "/encoder.") || strstr(key, "/first_bn."));
    if (enc && tol < 1e-2) tol = 1e-2;
    double err = rel_l2(got, (const float *)t->data, n);
    if (strstr(key, "grad/") && nerrs < (int)(sizeof errs / sizeof errs[0])) errs[nerrs++] = err;
    if (err / tol > worst_ratio) worst_ratio = err / tol;
    CHECK_MSG(err <= tol, "%s: %s relative L2 error %.3g > tol %.3g (torch float32: %.3g, 1-ulp sensitivity %.3g)", fname, key, err, tol, tref, sens);
}

static int set_params_from_fixture(sdd_model *m, const sdd_tensorset *fx, const char *fname)
{
    sdd_err e;
    const int rc = fx_set_weights(m, fx, fname, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    return rc;
}

/* One train-mode step (dropout off) from the saved weights on the fixture
 * input, optionally perturbed by one float32 ulp per sample: copies of
 * the gradient buffer(s), per-segment loss(es) and the parameter block
 * (running statistics) after the step. */
static int train_step(sdd_model *m, sdd_ctx *c, const sdd_ntensor *in, const int *labels, int perturb, int per_path,
                      const float *saved, float **grad, float *loss, float **run)
{
    const int B = (int)in->shape[0];
    const int64_t Ls = in->shape[1];
    int64_t shp[2] = { B, Ls };
    const float cw[2] = { 0.1f, 0.9f };
    float *x = malloc((size_t)B * Ls * sizeof(float));
    if (!x) return -1;
    /* a scale would be absorbed by the first BatchNorm: perturb each sample by +-1 ulp independently */
    for (int64_t i = 0; i < B * Ls; i++) {
        const float v = ((const float *)in->data)[i];
        x[i] = perturb ? nextafterf(v, (sdd_rng_u64(77, (uint64_t)i) & 1) ? INFINITY : -INFINITY) : v;
    }
    memcpy(m->params.data, saved, m->params.total * sizeof(float));
    sdd_params_zero_grads(&m->params);
    sdd_ctx_begin(c, B, 1, 1);
    c->dropout_off = 1;
    if (per_path) {
        c->bn_per_seg = 1;
        int ends[2] = { B / 2, B };
        sdd_ctx_set_segments(c, 2, ends, NULL);
    } else c->bn_per_seg = 0;
    sdd_tensor *z = m->forward(c, m, sdd_tensor_wrap(c, x, 2, shp));
    sdd_tensor *L = sdd_ce_weighted(c, z, labels, cw, NULL);
    int rc = -1;
    if (L) {
        float *g = sdd_grad_of(c, L);
        for (int s = 0; s < c->nseg; s++) g[s] = 1.0f;
        if (sdd_backward(c, 0, NULL, NULL) == 0) rc = 0;
    }
    free(x);
    if (rc) return rc;
    const size_t bytes = m->params.total * sizeof(float);
    for (int s = 0; s < c->nseg; s++) {
        loss[s] = L->x[s];
        grad[s] = malloc(bytes);
        if (!grad[s]) return -1;
        memcpy(grad[s], m->params.grad[s], bytes);
    }
    *run = malloc(bytes);
    if (!*run) return -1;
    memcpy(*run, m->params.data, bytes);
    memcpy(m->params.data, saved, bytes);
    return 0;
}

static void run_fixture(const char *fname)
{
    char path[512];
    snprintf(path, sizeof path, "tests/data/fixtures/%s", fname);
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load(path, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    const char *arch = sdd_tensorset_get_meta(&fx, "model");
    const char *wfile = sdd_tensorset_get_meta(&fx, "weights");
    sdd_model *m = arch ? sdd_model_new(arch, &e) : NULL;
    CHECK_MSG(m != NULL, "%s: model %s: %s", fname, arch ? arch : "(none)", arch ? e.msg : "no metadata");
    if (!m) { sdd_tensorset_free(&fx); return; }
    int has_params = 0;
    for (int i = 0; i < fx.n; i++) if (!strncmp(fx.t[i].name, "param/", 6)) { has_params = 1; break; }
    if (!has_params && wfile) {
        char wp[512];
        snprintf(wp, sizeof wp, "%s/models/%s", shared_dir(), wfile);
        sdd_model *w = sdd_model_load(wp, arch, &e);
        if (!w) {
            printf("SKIP %s: %s\n", fname, e.msg);
            sdd_model_free(m);
            sdd_tensorset_free(&fx);
            return;
        }
        memcpy(m->params.data, w->params.data, m->params.total * sizeof(float));
        sdd_model_free(w);
    } else if (set_params_from_fixture(m, &fx, fname)) {
        sdd_model_free(m);
        sdd_tensorset_free(&fx);
        return;
    }
    /* the fixed sinc filter bank: numpy's float32 sin is not correctly rounded, so
     * a few taps differ by an ulp of the sinc; the bank as a whole must agree to 1e-6 */
    const sdd_ntensor *sf = sdd_tensorset_find(&fx, "const/sinc_filters");
    if (sf && sf->nbytes == 70 * 129 * sizeof(float)) {
        double err = rel_l2(sdd_aasist_filters(m), (const float *)sf->data, 70 * 129);
        CHECK_MSG(err <= 1e-6, "%s: sinc filter bank differs from the reference: relative L2 %.3g", fname, err);
    }
    const sdd_ntensor *in = sdd_tensorset_find(&fx, "input"), *lab = sdd_tensorset_find(&fx, "labels");
    CHECK_MSG(in && lab && in->ndim == 2 && lab->dtype == SDD_I64, "%s: bad input/labels", fname);
    if (!in || !lab || in->ndim != 2 || lab->dtype != SDD_I64) { sdd_model_free(m); sdd_tensorset_free(&fx); return; }
    const int B = (int)in->shape[0];
    int64_t shp[2] = { in->shape[0], in->shape[1] };
    int labels[64];
    for (int b = 0; b < B && b < 64; b++) { int64_t v; memcpy(&v, (const char *)lab->data + 8 * b, 8); labels[b] = (int)v; }
    float *saved = malloc(m->params.total * sizeof(float));
    memcpy(saved, m->params.data, m->params.total * sizeof(float));
    sdd_params_alloc_grads(&m->params, 2, &e);
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);

    /* 1. eval logits */
    sdd_ctx_begin(&c, B, 0, 0);
    sdd_tensor *z = m->forward(&c, m, sdd_tensor_wrap(&c, (float *)in->data, 2, shp));
    CHECK_MSG(z != NULL, "%s: eval forward: %s", fname, c.err.msg);
    if (z) compare(&fx, fname, "logits_eval", z->x, (size_t)B * 2, 0.0);

    /* 2. train mode, dropout off, joint statistics, one loss;
     * 3. per-path: one backward pass, per-path BatchNorm statistics, two gradient buffers */
    for (int per_path = 0; per_path < 2; per_path++) {
        if (per_path && !sdd_tensorset_find(&fx, "path0/loss")) break;
        float *grad[2][2], *run[2], loss[2][2];
        int ok = 1;
        for (int pert = 0; pert < 2; pert++) {
            run[pert] = NULL;
            grad[pert][0] = grad[pert][1] = NULL;
            if (train_step(m, &c, in, labels, pert, per_path, saved, grad[pert], loss[pert], &run[pert])) ok = 0;
        }
        CHECK_MSG(ok, "%s: train step (%s): %s", fname, per_path ? "per-path" : "joint", c.err.msg);
        if (ok) {
            char key[256];
            for (int s = 0; s < (per_path ? 2 : 1); s++) {
                if (per_path) snprintf(key, sizeof key, "path%d/loss", s); else snprintf(key, sizeof key, "loss");
                compare(&fx, fname, key, &loss[0][s], 1, 0.0);
                for (int i = 0; i < m->params.np; i++) {
                    const sdd_pinfo *pi = &m->params.p[i];
                    const float *g0 = (pi->trainable ? grad[0][s] : run[0]) + pi->off;
                    const float *g1 = (pi->trainable ? grad[1][s] : run[1]) + pi->off;
                    if (pi->trainable && per_path) snprintf(key, sizeof key, "path%d/grad/%s", s, pi->name);
                    else if (pi->trainable) snprintf(key, sizeof key, "grad/%s", pi->name);
                    else if (!per_path) snprintf(key, sizeof key, "running_after/%s", pi->name);
                    else continue;
                    compare(&fx, fname, key, g0, pi->numel, rel_l2(g1, g0, pi->numel));
                }
            }
        }
        for (int pert = 0; pert < 2; pert++) { free(grad[pert][0]); free(grad[pert][1]); free(run[pert]); }
    }
    /* the bulk of the gradients must match to 2e-5 (measured medians 1.7e-6 to 3.3e-6):
     * no systematic drift hides under the per-tensor bounds */
    if (nerrs > 0) {
        for (int i = 1; i < nerrs; i++)
            for (int j = i; j > 0 && errs[j - 1] > errs[j]; j--) { double t = errs[j]; errs[j] = errs[j - 1]; errs[j - 1] = t; }
        const double med = errs[nerrs / 2];
        CHECK_MSG(med <= 2e-5, "%s: median gradient relative error %.3g > 2e-5", fname, med);
        printf("%s: %d gradient tensors, median relative error %.3g, 90th percentile %.3g\n", fname, nerrs, med, errs[nerrs * 9 / 10]);
        nerrs = 0;
    }
    sdd_ctx_free(&c);
    free(saved);
    sdd_model_free(m);
    sdd_tensorset_free(&fx);
}

int main(int argc, char **argv)
{
    const char *all[] = { "aasist_rand.safetensors", "aasistl_rand.safetensors", "aasist_noise.safetensors",
                          "aasist_real.safetensors", "aasistl_real.safetensors" };
    /* make test-asan sets SDD_TEST_REDUCED: one fixture per architecture
     * (AASIST-L random weights, AASIST on noise) keeps the sanitizer run short */
    const char *reduced[] = { "aasistl_rand.safetensors", "aasist_noise.safetensors" };
    const int red = getenv("SDD_TEST_REDUCED") && *getenv("SDD_TEST_REDUCED");
    if (red) printf("test_aasist_ref: SDD_TEST_REDUCED: fixtures %s and %s only\n", reduced[0], reduced[1]);
    if (argc > 1) for (int i = 1; i < argc; i++) run_fixture(argv[i]);
    else if (red) for (size_t i = 0; i < 2; i++) run_fixture(reduced[i]);
    else for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) run_fixture(all[i]);
    printf("worst error / tolerance: %.3g\n", worst_ratio);
    return CHECK_DONE("test_aasist_ref");
}
