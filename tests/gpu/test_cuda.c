/* GPU checks of the CUDA backend (built with `make CUDA=1`, run by
 * tests/gpu/run.sh). Without a CUDA device it prints a SKIP line and passes:
 * CI builds and runs it everywhere, GPU execution needs a GPU.
 *   test_cuda            reference fixtures: AASIST / AASIST-L eval logits on
 *                        CUDA vs the float64 PyTorch truth with the CPU tests'
 *                        tolerance (tests/unit/test_aasist_ref.c), and vs the
 *                        CPU backend; a 16-utterance batch of noise, CUDA vs
 *                        CPU; training mode on CUDA fails with a clear reason
 *   test_cuda --probe    prints the device (or the SKIP line) and stops
 *   test_cuda FIXTURE... only those fixtures (compute-sanitizer runs one)
 *   test_cuda --bench F  eval throughput, CUDA vs this machine's CPU backend,
 *                        one JSON object per line appended to F */
#include "check.h"
#include "models/modelio.h"
#include "models/infer.h"
#include "io/safetensors.h"
#include "backend/device.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *shared_dir(void)
{
    const char *s = getenv("SDD_SHARED");
    return s ? s : "../shared";
}

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

/* logits (B, 2) of wave (B, L) on the CPU (dev 0) or CUDA (dev 1); -1 with the reason printed */
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

static sdd_model *fixture_model(const sdd_tensorset *fx, const char *fname)
{
    sdd_err e;
    const char *arch = sdd_tensorset_get_meta(fx, "model"), *wfile = sdd_tensorset_get_meta(fx, "weights");
    sdd_model *m = arch ? sdd_model_new(arch, &e) : NULL;
    CHECK_MSG(m != NULL, "%s: no model", fname);
    if (!m) return NULL;
    int has_params = 0;
    for (int i = 0; i < fx->n; i++) if (!strncmp(fx->t[i].name, "param/", 6)) { has_params = 1; break; }
    if (!has_params && wfile) {
        char wp[512];
        snprintf(wp, sizeof wp, "%s/models/%s", shared_dir(), wfile);
        sdd_model *w = sdd_model_load(wp, arch, &e);
        if (!w) { printf("SKIP %s: %s\n", fname, e.msg); sdd_model_free(m); return NULL; }
        memcpy(m->params.data, w->params.data, m->params.total * sizeof(float));
        sdd_model_free(w);
        return m;
    }
    sdd_tensorset ts;
    sdd_tensorset_init(&ts);
    int rc = 0;
    for (int i = 0; i < fx->n && !rc; i++)
        if (!strncmp(fx->t[i].name, "param/", 6))
            rc = sdd_tensorset_add(&ts, fx->t[i].name + 6, fx->t[i].dtype, fx->t[i].ndim, fx->t[i].shape, fx->t[i].data, fx->t[i].nbytes, &e);
    if (!rc) rc = sdd_model_set_weights(m, &ts, fname, &e);
    CHECK_MSG(rc == 0, "%s: %s", fname, e.msg);
    sdd_tensorset_free(&ts);
    if (rc) { sdd_model_free(m); return NULL; }
    return m;
}

static void run_fixture(const char *fname)
{
    char path[512];
    snprintf(path, sizeof path, "tests/data/fixtures/%s", fname);
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load(path, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    sdd_model *m = fixture_model(&fx, fname);
    const sdd_ntensor *in = sdd_tensorset_find(&fx, "input"), *want = sdd_tensorset_find(&fx, "logits_eval");
    if (m && in && want && in->ndim == 2) {
        const int B = (int)in->shape[0];
        const int64_t L = in->shape[1];
        float *gpu = malloc((size_t)B * 2 * sizeof(float)), *cpu = malloc((size_t)B * 2 * sizeof(float));
        int ok = gpu && cpu && logits_on(m, 1, (const float *)in->data, B, L, gpu) == 0 &&
                 logits_on(m, 0, (const float *)in->data, B, L, cpu) == 0;
        CHECK_MSG(ok, "%s: forward failed", fname);
        if (ok && want->nbytes == (size_t)B * 2 * sizeof(float)) {
            const sdd_ntensor *r = sdd_tensorset_find(&fx, "relerr_torch32/logits_eval");
            double tref = 0.0;
            if (r && r->nbytes == 4) { float v; memcpy(&v, r->data, 4); tref = v; }
            double tol = 4.0 * tref;
            if (tol < 1e-4) tol = 1e-4;
            const double err = rel_l2(gpu, (const float *)want->data, (size_t)B * 2);
            const double err_cpu = rel_l2(cpu, (const float *)want->data, (size_t)B * 2);
            const double gc = rel_l2(gpu, cpu, (size_t)B * 2);
            printf("%s (%s, B=%d): eval logits relative L2 vs float64 truth: cuda %.3g, cpu %.3g (tol %.3g); cuda vs cpu %.3g\n",
                   fname, m->arch, B, err, err_cpu, tol, gc);
            CHECK_MSG(err <= tol, "%s: CUDA eval logits relative L2 error %.3g > tol %.3g", fname, err, tol);
            CHECK_MSG(gc <= 1e-4, "%s: CUDA vs CPU logits differ by %.3g", fname, gc);
        }
        free(gpu);
        free(cpu);
    }
    sdd_model_free(m);
    sdd_tensorset_free(&fx);
}

/* a batch the fixtures do not cover: 16 utterances of noise, several chunk boundaries of the im2col GEMMs */
static void run_batch(const char *arch)
{
    sdd_err e;
    sdd_model *m = sdd_model_new(arch, &e);
    CHECK_MSG(m != NULL, "%s: %s", arch, e.msg);
    if (!m) return;
    for (size_t k = 0; k < m->params.total; k++)
        if (m->params.data[k] == 0.0f) m->params.data[k] = 0.05f * (2.0f * sdd_rng_uniform(11, k) - 1.0f);
    const int B = 16;
    const int64_t L = 64600;
    float *x = malloc((size_t)B * L * sizeof(float)), *gpu = malloc(2 * B * sizeof(float)), *cpu = malloc(2 * B * sizeof(float));
    CHECK(x && gpu && cpu);
    if (x && gpu && cpu) {
        for (int64_t i = 0; i < B * L; i++) x[i] = 0.1f * (2.0f * sdd_rng_uniform(5, (uint64_t)i) - 1.0f);
        int ok = logits_on(m, 1, x, B, L, gpu) == 0 && logits_on(m, 0, x, B, L, cpu) == 0;
        CHECK_MSG(ok, "%s: batch %d forward failed", arch, B);
        if (ok) {
            double worst = 0.0;
            for (int b = 0; b < B; b++) {
                double d = rel_l2(gpu + 2 * b, cpu + 2 * b, 2);
                if (d > worst) worst = d;
            }
            printf("%s batch %d noise: worst per-utterance CUDA vs CPU logit relative L2 %.3g\n", arch, B, worst);
            CHECK_MSG(worst <= 1e-3, "%s: CUDA vs CPU per-utterance logits differ by %.3g", arch, worst);
        }
    }
    free(x); free(gpu); free(cpu);
    sdd_model_free(m);
}

/* training on CUDA is not implemented: it must fail with a reason, never silently use the CPU */
static void run_train_refusal(void)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    if (!m) { CHECK_MSG(0, "%s", e.msg); return; }
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    CHECK(sdd_ctx_set_device(&c, SDD_DEV_CUDA, &e) == 0);
    sdd_ctx_begin(&c, 2, 1, 1);
    int64_t shp[2] = { 2, 64600 };
    sdd_tensor *x = sdd_tensor_new(&c, 2, shp);
    sdd_tensor *z = x ? m->forward(&c, m, x) : NULL;
    CHECK(z == NULL);
    CHECK_STR_CONTAINS(c.err.msg, "not implemented yet");
    sdd_ctx_free(&c);
    sdd_model_free(m);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int bench(const char *outpath, const char *card)
{
    FILE *f = fopen(outpath, "a");
    if (!f) { fprintf(stderr, "cannot write %s\n", outpath); return 1; }
    const char *archs[2] = { "AASIST", "AASIST-L" };
    const int batches[3] = { 1, 32, 8 };
    const int64_t L = 64600;
    for (int a = 0; a < 2; a++) {
        sdd_err e;
        sdd_model *m = sdd_model_new(archs[a], &e);
        if (!m) { fprintf(stderr, "%s\n", e.msg); fclose(f); return 1; }
        float *x = malloc((size_t)32 * L * sizeof(float)), *lg = malloc(64 * sizeof(float));
        for (int64_t i = 0; i < 32 * L; i++) x[i] = 0.1f * (2.0f * sdd_rng_uniform(9, (uint64_t)i) - 1.0f);
        for (int dev = 1; dev >= 0; dev--)
            for (int bi = 0; bi < 3; bi++) {
                const int B = batches[bi];
                /* CUDA at batch 1 and 32; the CPU backend once at batch 8 (it is the slow side) */
                const int warm = dev ? 3 : 1, reps = dev ? 20 : 1;
                if (dev ? B == 8 : B != 8) continue;
                sdd_ctx c;
                sdd_ctx_init(&c, &m->params);
                float *sc = malloc((size_t)B * sizeof(float));
                if (sdd_ctx_set_device(&c, dev, &e)) { fprintf(stderr, "%s\n", e.msg); free(sc); sdd_ctx_free(&c); continue; }
                int fail = 0;
                for (int r = 0; r < warm && !fail; r++) fail = sdd_score_batch(m, &c, x, B, L, sc, lg, &e);
                double t0 = now_s();
                for (int r = 0; r < reps && !fail; r++) fail = sdd_score_batch(m, &c, x, B, L, sc, lg, &e);
                const double dt = (now_s() - t0) / reps;
                if (fail) fprintf(stderr, "bench %s: %s\n", archs[a], e.msg);
                else {
                    fprintf(f, "{\"impl\": \"sdd\", \"device\": \"%s\", \"card\": \"%s\", \"model\": \"%s\", \"measure\": \"eval_forward\", "
                               "\"batch\": %d, \"len\": %lld, \"reps\": %d, \"sec_mean\": %.5f, \"utt_per_sec\": %.1f, \"device_arena_peak_mib\": %.0f}\n",
                            dev ? "cuda" : "cpu", dev ? card : "host", archs[a], B, (long long)L, reps, dt, B / dt,
                            c.darena.peak / 1048576.0);
                    printf("bench %s %s batch %d: %.2f ms/batch, %.1f utt/s\n", archs[a], dev ? "cuda" : "cpu", B, dt * 1e3, B / dt);
                }
                free(sc);
                sdd_ctx_free(&c);
            }
        free(x); free(lg);
        sdd_model_free(m);
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    char card[256];
    sdd_err e;
    if (sdd_device_check(SDD_DEV_CUDA, card, sizeof card, &e)) {
        printf("SKIP test_cuda: %s (the CUDA build links; GPU execution needs a GPU)\n", e.msg);
        return CHECK_DONE("test_cuda");
    }
    printf("device: %s\n", card);
    if (argc == 2 && !strcmp(argv[1], "--probe")) return 0;
    if (argc == 3 && !strcmp(argv[1], "--bench")) return bench(argv[2], card);
    const char *all[] = { "aasist_rand.safetensors", "aasistl_rand.safetensors", "aasist_noise.safetensors",
                          "aasist_real.safetensors", "aasistl_real.safetensors" };
    if (argc > 1) {   /* the named fixtures only (compute-sanitizer runs one) */
        for (int i = 1; i < argc; i++) run_fixture(argv[i]);
        return CHECK_DONE("test_cuda");
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) run_fixture(all[i]);
    run_batch("AASIST");
    run_batch("AASIST-L");
    run_train_refusal();
    return CHECK_DONE("test_cuda");
}
