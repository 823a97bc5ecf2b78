/* GPU checks of the CUDA backend (built with `make CUDA=1`, run by
 * tests/gpu/run.sh). Without a CUDA device it prints a SKIP line and passes:
 * CI builds and runs it everywhere, GPU execution needs a GPU.
 *   test_cuda            reference fixtures: AASIST / AASIST-L eval logits on
 *                        CUDA vs the float64 PyTorch truth with the CPU tests'
 *                        tolerance (tests/unit/test_aasist_ref.c), and vs the
 *                        CPU backend; a 16-utterance batch of noise, CUDA vs
 *                        CPU; XLSR-AASIST-tiny: its PyTorch fixture and random
 *                        weights on a 6 x 66800 noise batch, CUDA vs CPU, and
 *                        XLSR-Conformer-TCM-tiny's and XLSR-Mamba-tiny's
 *                        random weights; one
 *                        DPDA training step per alignment method
 *                        (and joint statistics, one path; XLSR-AASIST-tiny
 *                        and the two other tiny XLS-R models with pcgrad) on CUDA vs the CPU
 *                        backend: losses, per-path gradients, combined
 *                        gradient, Adam update, weights
 *   test_cuda --probe    prints the device (or the SKIP line) and stops
 *   test_cuda --train-step [ARCH]  one DPDA (pcgrad, dropout) training step
 *                        of ARCH (default AASIST-L) on CUDA only (what
 *                        compute-sanitizer runs)
 *   test_cuda --bench-train F  AASIST and AASIST-L dual-path steps (5 + 5 x
 *                        64600) per alignment method on CUDA, JSON lines
 *                        appended to F; then a per-label profile of two
 *                        AASIST pcgrad steps; `--bench-train F quick`: AASIST
 *                        none and pcgrad only (the SDD_CUDA_CONV / TF32 passes)
 *   test_cuda FIXTURE... only those fixtures (compute-sanitizer runs one)
 *   test_cuda --bench-xlsr F  XLSR-AASIST (full size, 300M, random weights)
 *                        eval forward at batch 5 and 10 x 66800 on CUDA, and
 *                        once at batch 1 on this machine's CPU backend, JSON
 *                        lines appended to F
 *   test_cuda --bench-xlsr-train F  XLSR-AASIST (300M) dual-path steps
 *                        (5 + 5 x 66800) on CUDA: none and pcgrad (per-path
 *                        BN), pcgrad with joint BN, both pcgrad again with
 *                        recomputation off, gradvac and cagrad (per-path
 *                        BN); JSON lines appended to F; then
 *                        two profiled pcgrad steps (time per launch label;
 *                        recomputation on, then off; `... F prof`: only those)
 *                        and one 10 + 10 step (its device memory peak);
 *                        `... F quick`: two pcgrad lines only (per-path BN
 *                        with recomputation; joint BN without), for the
 *                        SDD_CUDA_TF32=1 rerun
 *   test_cuda --bench F  eval throughput, CUDA vs this machine's CPU backend,
 *                        one JSON object per line appended to F */
#include "check.h"
#include "device_logits.h"
#include "device_step.h"
#include "models/modelio.h"
#include "models/infer.h"
#include "io/safetensors.h"
#include "backend/device.h"
#include "core/rng.h"
#include "train/step.h"
#include "backend/cuda.h"
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
    const int rc = fx_set_weights(m, fx, fname, &e);
    CHECK_MSG(rc == 0, "%s: %s", fname, e.msg);
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

/* random weights (seed), a noise batch (B, L): CUDA vs CPU eval logits (the models whose
 * default init leaves no running variance at 0, unlike run_batch's fill) */
static void run_random(const char *arch, uint64_t seed, int B, int64_t L, double tol)
{
    sdd_err e;
    sdd_model *m = sdd_model_new(arch, &e);
    CHECK_MSG(m != NULL, "%s: %s", arch, e.msg);
    if (!m) return;
    sdd_model_init_random(m, seed);
    float *x = malloc((size_t)B * L * sizeof(float)), *gpu = malloc(2 * (size_t)B * sizeof(float)), *cpu = malloc(2 * (size_t)B * sizeof(float));
    CHECK(x && gpu && cpu);
    if (x && gpu && cpu) {
        for (int64_t i = 0; i < B * L; i++) x[i] = 0.2f * (2.0f * sdd_rng_uniform(seed + 1, (uint64_t)i) - 1.0f);
        const int ok = logits_on(m, 1, x, B, L, gpu) == 0 && logits_on(m, 0, x, B, L, cpu) == 0;
        CHECK_MSG(ok, "%s: batch %d forward failed", arch, B);
        if (ok) {
            const double d = rel_l2(gpu, cpu, 2 * (size_t)B);
            printf("%s random weights (seed %llu, B=%d x %lld): CUDA vs CPU eval logits relative L2 %.3g\n", arch,
                   (unsigned long long)seed, B, (long long)L, d);
            CHECK_MSG(d <= tol, "%s: CUDA vs CPU logits differ by %.3g", arch, d);
        }
    }
    free(x); free(gpu); free(cpu);
    sdd_model_free(m);
}

typedef struct { const char *arch; int paths, align, bn, dropout, groups; } regime;   /* groups: --align-groups */

static void make_batch(int nb, int64_t L, float *wave, int *labels, int st)
{
    for (int64_t i = 0; i < nb * L; i++) wave[i] = (0.1f + 0.01f * st) * (2.0f * sdd_rng_uniform(21 + st, (uint64_t)i) - 1.0f);
    for (int b = 0; b < nb; b++) labels[b] = (b % (nb / 2 > 0 ? nb / 2 : 1)) % 2;
}

/* one step of the regime on the CPU and on CUDA from the same weights and batch (cpu_too 0: CUDA only) */
static void train_compare(const regime *r, int cpu_too)
{
    sdd_err e;
    dstep_pair p;
    memset(&p, 0, sizeof p);
    const int B = 4, nb = r->paths == SDD_PATHS_DUAL ? 2 * B : B;
    const int64_t L = 64600;
    float *wave = malloc((size_t)nb * L * sizeof(float));
    int *lab = malloc((size_t)nb * sizeof(int));
    const int ok = wave && lab && dstep_init(&p, r->arch, 7, &e) == 0;
    CHECK_MSG(ok, "%s setup: %s", r->arch, wave && lab ? e.msg : "out of memory");
    sdd_step_params sp = sdd_step_default_params();
    sp.paths = r->paths; sp.align = r->align; sp.bn_stats = r->bn; sp.no_dropout = !r->dropout;
    const char *an = sdd_align_name(r->align);
    dstep_diff d;
    int okg = 1;
    if (ok && r->groups) {
        okg = dstep_set_groups(&p, r->groups, &sp, &e) == 0;
        CHECK_MSG(okg, "%s align groups: %s", r->arch, e.msg);
    }
    if (ok && okg) {
        make_batch(nb, L, wave, lab, 0);
        const int okr = dstep_run(&p, &sp, wave, nb, L, lab, 5, cpu_too, &d, &e) == 0;
        CHECK_MSG(okr, "%s align %s: %s", r->arch, an, e.msg);
        if (okr && !cpu_too) printf("%s align %s: one CUDA training step, loss %.6f\n", r->arch, an, d.dev.loss_total);
        if (okr && cpu_too) {
            printf("%s paths %d align %s bn %s%s (B=%d x %lld): loss cpu %.6f cuda %.6f (rel %.2g); per-path gradients rel L2 %.2g, "
                   "combined %.2g; Adam update %.2g; weights %.2g\n", r->arch, r->paths, an, r->bn == SDD_BN_JOINT ? "joint" : "per-path",
                   r->dropout ? " dropout" : "", nb, (long long)L, d.cpu.loss_total, d.dev.loss_total, d.loss, d.path_grad, d.grad, d.update,
                   d.weights);
            CHECK_MSG(d.loss <= 1e-4, "%s %s: loss differs by %.3g", r->arch, an, d.loss);
            CHECK_MSG(d.path_grad <= 5e-3 && d.grad <= 5e-3, "%s %s: gradients differ by %.3g / %.3g", r->arch, an, d.path_grad, d.grad);
            CHECK_MSG(d.update <= 5e-2 && d.weights <= 1e-4, "%s %s: update / weights differ by %.3g / %.3g", r->arch, an, d.update, d.weights);
            if (d.cpu.has_align_stats) CHECK_NEAR(d.dev.al.cos, d.cpu.al.cos, 5e-3);
            if (r->groups) {
                printf("  align groups %s: %d of %d in conflict (cpu), %d (cuda)\n", sdd_align_groups_name(r->groups),
                       d.cpu.group_conflicts, sp.ngroups, d.dev.group_conflicts);
                CHECK(d.cpu.group_conflicts == d.dev.group_conflicts);
            }
        }
    }
    dstep_free(&p);
    free(wave); free(lab);
}

static void run_train(void)
{
    const regime rs[] = {
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_NONE, SDD_BN_PER_PATH, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_GRADVAC, SDD_BN_PER_PATH, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_CAGRAD, SDD_BN_PER_PATH, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_JOINT, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_GRADVAC, SDD_BN_PER_PATH, 0, SDD_ALIGN_GROUPS_BLOCK },
        { "AASIST-L", SDD_PATHS_ORIG, SDD_ALIGN_NONE, SDD_BN_PER_PATH, 1, 0 },
        { "AASIST", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 0 },
        { "XLSR-AASIST-tiny", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 0 },
        { "XLSR-AASIST-tiny", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_JOINT, 1, 0 },
        { "XLSR-Conformer-TCM-tiny", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 0 },
        { "XLSR-Mamba-tiny", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 0 },
    };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) train_compare(&rs[i], 1);
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

/* XLSR-AASIST (300M, random weights) eval forward, 66800 samples per utterance:
 * CUDA at batch 5 and 10, the CPU backend once at batch 1 (the slow side) */
static int bench_xlsr(const char *outpath, const char *card)
{
    FILE *f = fopen(outpath, "a");
    if (!f) { fprintf(stderr, "cannot write %s\n", outpath); return 1; }
    sdd_err e;
    sdd_model *m = sdd_model_new("XLSR-AASIST", &e);
    if (!m) { fprintf(stderr, "%s\n", e.msg); fclose(f); return 1; }
    sdd_model_init_random(m, 3);
    const int64_t L = 66800;
    float *x = malloc((size_t)10 * L * sizeof(float)), lg[20], sc[10];
    if (!x) { fclose(f); sdd_model_free(m); return 1; }
    for (int64_t i = 0; i < 10 * L; i++) x[i] = 0.1f * (2.0f * sdd_rng_uniform(9, (uint64_t)i) - 1.0f);
    const int runs[3][4] = { { 1, 5, 2, 5 }, { 1, 10, 2, 5 }, { 0, 1, 1, 1 } };   /* dev, batch, warm-up, reps */
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        const int dev = runs[k][0], B = runs[k][1], warm = runs[k][2], reps = runs[k][3];
        sdd_ctx c;
        sdd_ctx_init(&c, &m->params);
        if (sdd_ctx_set_device(&c, dev, &e)) { fprintf(stderr, "%s\n", e.msg); rc = 1; }
        for (int r = 0; r < warm && !rc; r++) rc = sdd_score_batch(m, &c, x, B, L, sc, lg, &e) ? 1 : 0;
        sdd_cu_gemm_flops(1);
        const double t0 = now_s();
        for (int r = 0; r < reps && !rc; r++) rc = sdd_score_batch(m, &c, x, B, L, sc, lg, &e) ? 1 : 0;
        const double dt = (now_s() - t0) / reps, gf = sdd_cu_gemm_flops(0) / reps;   /* CUDA GEMMs per batch (0 on the CPU) */
        if (rc) fprintf(stderr, "bench-xlsr %s batch %d: %s\n", dev ? "cuda" : "cpu", B, e.msg);
        else {
            fprintf(f, "{\"impl\": \"sdd\", \"device\": \"%s\", \"card\": \"%s\", \"model\": \"XLSR-AASIST\", \"measure\": \"eval_forward\", "
                       "\"batch\": %d, \"len\": %lld, \"reps\": %d, \"sec_mean\": %.5f, \"utt_per_sec\": %.2f, \"device_arena_peak_mib\": %.0f, "
                       "\"gemm_tflops\": %.2f, \"fp32_peak_tflops\": %.1f}\n",
                    dev ? "cuda" : "cpu", dev ? card : "host", B, (long long)L, reps, dt, B / dt, c.darena.peak / 1048576.0, gf / dt * 1e-12,
                    dev ? sdd_cu_fp32_peak_tflops() : 0.0);
            fflush(f);
            printf("bench XLSR-AASIST %s batch %d: %.1f ms/batch, %.2f utt/s", dev ? "cuda" : "cpu", B, dt * 1e3, B / dt);
            if (dev) printf(", GEMMs %.1f TFLOP/s (FP32 peak %.1f)", gf / dt * 1e-12, sdd_cu_fp32_peak_tflops());
            printf("\n");
        }
        sdd_ctx_free(&c);
    }
    free(x);
    sdd_model_free(m);
    fclose(f);
    return rc;
}

/* Warm-up, then `reps` timed DPDA steps (dropout on) of m on CUDA with the
 * given alignment and BatchNorm statistics, each from a fresh context, Adam and
 * alignment state; prof: the timed steps under sdd_cu_prof (synchronised
 * after every launch), whose per-label report is printed. */
/* the GEMM math the benchmark lines record: SDD_CUDA_TF32=1 (read by sdd_cu_init) or not */
static const char *gemm_math(void)
{
    const char *tf = getenv("SDD_CUDA_TF32");
    return tf && !strcmp(tf, "1") ? "tf32" : "fp32";
}

/* peak_mib: the device arena's peak of live allocations; reserved_mib: its
 * chunks' total (what the arena holds on the device, tails skipped when an
 * allocation moved to the next chunk included); gemm_flop: per step */
typedef struct { double sec, loss, peak_mib, reserved_mib, gemm_flop; } step_time;

static int time_steps(sdd_model *m, const char *name, int align, int bn, const float *x, int nb, int64_t L, const int *lab, int warm,
                      int reps, int prof, step_time *t)
{
    sdd_err e;
    sdd_ctx c;
    sdd_adam opt;
    sdd_align_state as;
    sdd_align_state_init(&as);
    sdd_ctx_init(&c, &m->params);
    int rc = 0, have_opt = 0;
    if (sdd_adam_init(&opt, &m->params, NULL, &e) == 0) have_opt = 1;
    if (!have_opt || sdd_ctx_set_device(&c, SDD_DEV_CUDA, &e)) { fprintf(stderr, "%s: %s\n", name, e.msg); rc = 1; }
    sdd_step_params sp = sdd_step_default_params();
    sp.align = align;
    sp.bn_stats = bn;
    sdd_step_result r;
    memset(&r, 0, sizeof r);
    double t0 = now_s();
    for (int k = 0; k < warm && !rc; k++) {
        rc = sdd_train_step(m, &c, &opt, &as, &sp, x, nb, L, lab, k, NULL, &r, &e) ? 1 : 0;
        printf("  %s %d+%d align %s warm-up step %d: %.1f ms\n", name, nb / 2, nb / 2, sdd_align_name(align), k, (now_s() - t0) * 1e3);
        t0 = now_s();
    }
    if (prof) sdd_cu_prof_enable(1);
    sdd_cu_gemm_flops(1);
    t0 = now_s();
    for (int k = 0; k < reps && !rc; k++) rc = sdd_train_step(m, &c, &opt, &as, &sp, x, nb, L, lab, k, NULL, &r, &e) ? 1 : 0;
    t->sec = (now_s() - t0) / reps;
    t->gemm_flop = sdd_cu_gemm_flops(0) / reps;
    if (prof) {
        if (!rc) sdd_cu_prof_report(stdout, reps);
        sdd_cu_prof_enable(0);
    }
    if (rc && have_opt) fprintf(stderr, "%s %s: %s\n", name, sdd_align_name(align), e.msg);
    t->loss = r.loss_total;
    t->peak_mib = c.darena.peak / 1048576.0;
    t->reserved_mib = c.darena.reserved / 1048576.0;
    if (have_opt) sdd_adam_free(&opt);
    sdd_ctx_free(&c);
    return rc;
}

/* XLSR-AASIST (300M, random weights) dual-path steps (5 + 5 x 66800):
 * alignment none and pcgrad with per-path statistics (one backward), pcgrad
 * with joint statistics (sdd train's default and the reference's: two
 * backward passes, as PyTorch's peer step), both pcgrad settings again with
 * the XLS-R layers' activations kept instead of recomputed, gradvac and cagrad
 * with per-path statistics (each alignment method); then one profiled
 * pcgrad step (time per launch label) and one 10 + 10 pcgrad step (the
 * issue's room-for-batch-10 check: its device arena peak) */
static int bench_xlsr_train(const char *outpath, const char *card, int quick)
{
    FILE *f = fopen(outpath, "a");
    if (!f) { fprintf(stderr, "cannot write %s\n", outpath); return 1; }
    sdd_err e;
    sdd_model *m = sdd_model_new("XLSR-AASIST", &e);
    if (!m) { fprintf(stderr, "%s\n", e.msg); fclose(f); return 1; }
    sdd_model_init_random(m, 3);
    const int64_t L = 66800;
    float *x = malloc((size_t)20 * L * sizeof(float));
    int lab[20], rc = 0;
    if (!x) { fclose(f); sdd_model_free(m); return 1; }
    static const struct { int align, bn, recompute, nb, reps, prof; } pass[] = {
        { SDD_ALIGN_NONE, SDD_BN_PER_PATH, 1, 10, 3, 0 },   { SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 10, 3, 0 },
        { SDD_ALIGN_PCGRAD, SDD_BN_JOINT, 1, 10, 3, 0 },    { SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 0, 10, 3, 0 },
        { SDD_ALIGN_PCGRAD, SDD_BN_JOINT, 0, 10, 3, 0 },    { SDD_ALIGN_GRADVAC, SDD_BN_PER_PATH, 1, 10, 3, 0 },
        { SDD_ALIGN_CAGRAD, SDD_BN_PER_PATH, 1, 10, 3, 0 }, { SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 10, 1, 1 },
        { SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 0, 10, 1, 1 }, { SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 20, 1, 0 },
    };
    const char *math = gemm_math();
    for (size_t k = 0; k < sizeof pass / sizeof pass[0] && !rc; k++) {
        /* quick (run.sh's TF32 rerun): pcgrad with per-path BN and recomputation (pass[1]), and
         * pcgrad with joint BN, activations kept (pass[4]: PyTorch's peer step) */
        if (quick == 1 && k != 1 && k != 4) continue;
        if (quick == 2 && !pass[k].prof) continue;   /* prof: the two profiled steps only */
        const int nb = pass[k].nb, align = pass[k].align;
        const char *bn = pass[k].bn == SDD_BN_JOINT ? "joint" : "per-path";
        make_batch(nb, L, x, lab, 0);
        if (sdd_model_set_recompute(m, pass[k].recompute, &e)) { fprintf(stderr, "%s\n", e.msg); rc = 1; break; }
        step_time t;
        rc = time_steps(m, "XLSR-AASIST", align, pass[k].bn, x, nb, L, lab, 1, pass[k].reps, pass[k].prof, &t);
        if (rc || pass[k].prof) continue;
        fprintf(f, "{\"impl\": \"sdd\", \"device\": \"cuda\", \"card\": \"%s\", \"model\": \"XLSR-AASIST\", \"measure\": \"train_dual_%s\", "
                   "\"math\": \"%s\", \"bn_stats\": \"%s\", \"recompute\": %d, \"batch\": %d, \"len\": %lld, \"reps\": %d, \"sec_mean\": %.5f, "
                   "\"loss\": %.5f, \"device_arena_peak_mib\": %.0f, \"device_arena_reserved_mib\": %.0f, \"gemm_tflop_per_step\": %.3f, "
                   "\"gemm_tflops\": %.2f, \"fp32_peak_tflops\": %.1f}\n",
                card, sdd_align_name(align), math, bn, pass[k].recompute, nb, (long long)L, pass[k].reps, t.sec, t.loss, t.peak_mib, t.reserved_mib,
                t.gemm_flop * 1e-12, t.gemm_flop / t.sec * 1e-12, sdd_cu_fp32_peak_tflops());
        fflush(f);
        printf("bench-xlsr-train XLSR-AASIST dual %d+%d align %s bn %s recompute %s %s: %.1f ms/step (loss %.4f), device arena peak %.0f MiB, "
               "reserved %.0f MiB, GEMMs %.2f TFLOP/step = %.1f TFLOP/s (FP32 peak %.1f)\n",
               nb / 2, nb / 2, sdd_align_name(align), bn, pass[k].recompute ? "on" : "off", math, t.sec * 1e3, t.loss, t.peak_mib, t.reserved_mib,
               t.gemm_flop * 1e-12, t.gemm_flop / t.sec * 1e-12, sdd_cu_fp32_peak_tflops());
    }
    sdd_model_set_recompute(m, 1, &e);
    free(x);
    sdd_model_free(m);
    fclose(f);
    return rc;
}

/* Dual-path steps (5 + 5 x 64600, per-path statistics) per alignment on CUDA,
 * AASIST and AASIST-L; each line is flushed at once so a run cut off by a
 * timeout keeps what it measured. Then two profiled AASIST pcgrad steps
 * (sdd_cu_prof_*: synchronised after every launch, time per launch label). */
static int bench_train(const char *outpath, const char *card, int quick)
{
    FILE *f = fopen(outpath, "a");
    if (!f) { fprintf(stderr, "cannot write %s\n", outpath); return 1; }
    const int nb = 10;
    const int64_t L = 64600;
    float *x = malloc((size_t)nb * L * sizeof(float));
    int lab[10], rc = 0;
    if (!x) { fclose(f); return 1; }
    make_batch(nb, L, x, lab, 0);
    const char *archs[2] = { "AASIST", "AASIST-L" };
    const char *conv = getenv("SDD_CUDA_CONV") && !strcmp(getenv("SDD_CUDA_CONV"), "im2col") ? "im2col" : "direct";
    for (int a = 0; a < (quick ? 1 : 2) && !rc; a++) {
        sdd_err e;
        sdd_model *m = sdd_model_new(archs[a], &e);
        if (!m) { fprintf(stderr, "%s\n", e.msg); rc = 1; break; }
        sdd_model_init_random(m, 3);
        for (int al = 0; al < (quick ? 2 : 4 + (a == 0)) && !rc; al++) {
            const int prof = al == 4;   /* the fifth AASIST pass: pcgrad, profiled */
            const int align = prof ? SDD_ALIGN_PCGRAD : al, reps = prof ? 2 : quick ? 3 : 5;
            step_time t;
            rc = time_steps(m, archs[a], align, SDD_BN_PER_PATH, x, nb, L, lab, 2, reps, prof, &t);
            if (rc || prof) continue;
            fprintf(f, "{\"impl\": \"sdd\", \"device\": \"cuda\", \"card\": \"%s\", \"model\": \"%s\", \"measure\": \"train_dual_%s\", "
                       "\"math\": \"%s\", \"conv\": \"%s\", \"wgrad\": \"%s\", \"batch\": %d, \"len\": %lld, \"reps\": %d, \"sec_mean\": %.5f, \"device_arena_peak_mib\": %.0f}\n",
                    card, archs[a], sdd_align_name(align), gemm_math(),
                    conv, getenv("SDD_CUDA_WGRAD") && !strcmp(getenv("SDD_CUDA_WGRAD"), "direct") ? "direct" : "gemm", nb, (long long)L, reps, t.sec, t.peak_mib);
            fflush(f);
            printf("bench-train %s dual 5+5 align %s: %.2f ms/step\n", archs[a], sdd_align_name(align), t.sec * 1e3);
        }
        sdd_model_free(m);
    }
    free(x);
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    char card[256];
    sdd_err e;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (sdd_device_check(SDD_DEV_CUDA, card, sizeof card, &e)) {
        printf("SKIP test_cuda: %s (the CUDA build links; GPU execution needs a GPU)\n", e.msg);
        return CHECK_DONE("test_cuda");
    }
    printf("device: %s\n", card);
    if (argc == 2 && !strcmp(argv[1], "--probe")) return 0;
    if (argc == 3 && !strcmp(argv[1], "--bench")) return bench(argv[2], card);
    if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "quick"))) && !strcmp(argv[1], "--bench-train")) return bench_train(argv[2], card, argc == 4);
    if (argc == 3 && !strcmp(argv[1], "--bench-xlsr")) return bench_xlsr(argv[2], card);
    if ((argc == 3 || (argc == 4 && (!strcmp(argv[3], "quick") || !strcmp(argv[3], "prof")))) && !strcmp(argv[1], "--bench-xlsr-train"))
        return bench_xlsr_train(argv[2], card, argc == 3 ? 0 : !strcmp(argv[3], "quick") ? 1 : 2);
    if ((argc == 2 || argc == 3) && !strcmp(argv[1], "--train-step")) {
        const regime r = { argc == 3 ? argv[2] : "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 0 };
        train_compare(&r, 0);
        return CHECK_DONE("test_cuda");
    }
    const char *all[] = { "aasist_rand.safetensors", "aasistl_rand.safetensors", "aasist_noise.safetensors",
                          "aasist_real.safetensors", "aasistl_real.safetensors", "xlsr_aasist_tiny.safetensors" };
    if (argc > 1) {   /* the named fixtures only (compute-sanitizer runs one) */
        for (int i = 1; i < argc; i++) run_fixture(argv[i]);
        return CHECK_DONE("test_cuda");
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) run_fixture(all[i]);
    run_batch("AASIST");
    run_batch("AASIST-L");
    run_random("XLSR-AASIST-tiny", 3, 6, 66800, 1e-4);
    run_random("XLSR-Conformer-TCM-tiny", 5, 6, 66800, 1e-4);
    run_random("XLSR-Mamba-tiny", 7, 6, 66800, 1e-4);
    dstep_check_dots();
    run_train();
    return CHECK_DONE("test_cuda");
}
