/* The CUDA backend under CPU emulation (src/backend/cuda_emu.h; this binary
 * links the emulation objects of $(BUILD)/emu/ before libsdd.a): the .cu
 * host code and every kernel's index math run on the CPU, so what a GPU run
 * would compute is checked here against the CPU backend and the PyTorch
 * fixtures. Device memory is inaccessible to host code outside kernels and
 * copies, so a host dereference of a device pointer crashes this test.
 * What it cannot show: timing, races between GPU threads, warp effects. */
#include "check.h"
#include "models/modelio.h"
#include "models/infer.h"
#include "io/safetensors.h"
#include "backend/device.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>

static double rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    if (den == 0.0) return sqrt(num) <= 1e-6 ? 0.0 : INFINITY;
    return sqrt(num / den);
}

/* logits (B, 2) on the CPU (dev 0) or the emulated CUDA device (dev 1) */
static int logits_on(sdd_model *m, int dev, const float *wave, int B, int64_t L, float *logits)
{
    sdd_ctx c;
    sdd_err e;
    sdd_ctx_init(&c, &m->params);
    float *scores = malloc((size_t)B * sizeof(float));
    int rc = scores ? 0 : -1;
    if (!rc && sdd_ctx_set_device(&c, dev, &e)) { fprintf(stderr, "set device: %s\n", e.msg); rc = -1; }
    if (!rc && sdd_score_batch(m, &c, wave, B, L, scores, logits, &e)) { fprintf(stderr, "score (%s): %s\n", dev ? "cuda" : "cpu", e.msg); rc = -1; }
    free(scores);
    sdd_ctx_free(&c);
    return rc;
}

/* a fixture's random-weight model: eval logits on the emulated device vs the float64 truth and the CPU */
static void eval_fixture(const char *fname)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/fixtures/%s", fname);
    sdd_tensorset fx, ts;
    sdd_err e;
    if (sdd_safetensors_load(path, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    const char *arch = sdd_tensorset_get_meta(&fx, "model");
    sdd_model *m = arch ? sdd_model_new(arch, &e) : NULL;
    CHECK_MSG(m != NULL, "%s: no model", fname);
    sdd_tensorset_init(&ts);
    int rc = m ? 0 : -1;
    for (int i = 0; i < fx.n && !rc; i++)
        if (!strncmp(fx.t[i].name, "param/", 6))
            rc = sdd_tensorset_add(&ts, fx.t[i].name + 6, fx.t[i].dtype, fx.t[i].ndim, fx.t[i].shape, fx.t[i].data, fx.t[i].nbytes, &e);
    if (!rc) rc = sdd_model_set_weights(m, &ts, fname, &e);
    CHECK_MSG(rc == 0, "%s: %s", fname, e.msg);
    const sdd_ntensor *in = sdd_tensorset_find(&fx, "input"), *want = sdd_tensorset_find(&fx, "logits_eval");
    CHECK(in && want && in->ndim == 2);
    if (!rc && in && want && in->ndim == 2) {
        const int B = (int)in->shape[0];
        const int64_t L = in->shape[1];
        float *emu = malloc((size_t)B * 2 * sizeof(float)), *cpu = malloc((size_t)B * 2 * sizeof(float));
        const int ok = emu && cpu && logits_on(m, 1, (const float *)in->data, B, L, emu) == 0 &&
                       logits_on(m, 0, (const float *)in->data, B, L, cpu) == 0;
        CHECK_MSG(ok, "%s: forward failed", fname);
        if (ok) {
            const double err = rel_l2(emu, (const float *)want->data, (size_t)B * 2), gc = rel_l2(emu, cpu, (size_t)B * 2);
            printf("%s (%s, B=%d, L=%lld): emulated CUDA eval logits vs float64 truth %.3g, vs CPU %.3g\n",
                   fname, arch, B, (long long)L, err, gc);
            CHECK_MSG(err <= 1e-4, "%s: emulated CUDA logits relative L2 error %.3g", fname, err);
            CHECK_MSG(gc <= 1e-4, "%s: emulated CUDA vs CPU logits differ by %.3g", fname, gc);
        }
        free(emu);
        free(cpu);
    }
    sdd_tensorset_free(&ts);
    sdd_model_free(m);
    sdd_tensorset_free(&fx);
}

static void eval_device_name(void)
{
    char name[256];
    sdd_err e;
    CHECK(sdd_device_cuda_built() == 1);
    CHECK(sdd_device_check(SDD_DEV_CUDA, name, sizeof name, &e) == 0);
    CHECK_STR_CONTAINS(name, "emulation");
}

int main(void)
{
    eval_device_name();
    eval_fixture("aasistl_rand.safetensors");
    eval_fixture("aasist_rand.safetensors");
    return CHECK_DONE("test_cuda_emu");
}
