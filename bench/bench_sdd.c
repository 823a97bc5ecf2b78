/* sdd side of `make bench`: times AASIST eval forward and train
 * forward+backward (batch B of L samples), the dual-path per-path step
 * (B/2 originals + B/2 copies, two gradient buffers, one backward pass), and
 * batch-1 inference, printing one JSON object per measurement with the
 * process's peak RSS. Run one mode per process so the RSS is the mode's own.
 * best_cpu_s is the least process CPU time (user + system) of a repetition:
 * on a shared machine the steadier figure at one thread.
 * SDD_PROFILE=1 adds a second line: per layer family (sinc front end, 2-D
 * residual encoder, graph back end, other) the mean forward and backward
 * wall and CPU seconds per timed repetition, the GEMM GFLOP executed there
 * (sdd_prof) and GFLOP per CPU second (per core-second: at one thread the
 * rate of the core, unaffected by waiting for it on a shared machine).
 * DEVICE (7th argument, default cpu): cuda runs the step modes through the
 * CUDA backend and fwd / infer1 as sdd_score_batch on the GPU (batch upload,
 * forward, scores back); fwdbwd and dual are CPU-only measurements. */
#include "models/model.h"
#include "models/modelio.h"
#include "ops/ops.h"
#include "core/rng.h"
#include "train/step.h"
#include "models/infer.h"
#include "backend/device.h"
#include "core/threads.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* CPU seconds (user + system) of the process so far */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench_sdd MODE(fwd|fwdbwd|dual|infer1|step-none|step-pcgrad|step-joint-pcgrad) ARCH B L REPS [THREADS [DEVICE]]\n");
        return 2;
    }
    const char *mode = argv[1], *arch = argv[2];
    const int B = atoi(argv[3]), L = atoi(argv[4]), reps = atoi(argv[5]);
    const int threads = argc > 6 ? atoi(argv[6]) : 2;
    sdd_threads_set(threads);
    sdd_err e;
    int dev = SDD_DEV_CPU;
    if (argc > 7 && (sdd_device_parse(argv[7], &dev, &e) || sdd_device_check(dev, NULL, 0, &e))) { fprintf(stderr, "bench_sdd: %s\n", e.msg); return 1; }
    if (dev && (!strcmp(mode, "fwdbwd") || !strcmp(mode, "dual"))) {
        fprintf(stderr, "bench_sdd: mode %s is measured on the CPU only (on cuda: fwd, infer1, step-*)\n", mode);
        return 1;
    }
    sdd_model *m = sdd_model_new(arch, &e);
    if (!m) { fprintf(stderr, "%s\n", e.msg); return 1; }
    sdd_model_init_random(m, 1);
    float *x = malloc((size_t)B * L * sizeof(float));
    if (!x) return 1;
    for (size_t i = 0; i < (size_t)B * L; i++) x[i] = 0.1f * (float)sdd_rng_normal(3, i);
    int labels[256];
    for (int b = 0; b < B && b < 256; b++) labels[b] = b % 2;
    const float cw[2] = { 0.1f, 0.9f };
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    const int dual = !strcmp(mode, "dual"), train = dual || !strcmp(mode, "fwdbwd"), one = !strcmp(mode, "infer1");
    /* full training steps (forward, backward, alignment, Adam) through sdd_train_step */
    const int step = !strncmp(mode, "step-", 5);
    /* gradient buffers only where a backward runs (inference RSS is the weights and activations) */
    if (!dev && (train || step) && sdd_params_alloc_grads(&m->params, 2, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    if (dev && sdd_ctx_set_device(&c, dev, &e)) { fprintf(stderr, "bench_sdd: %s\n", e.msg); return 1; }
    float *scores = malloc((size_t)B * sizeof(float)), *logits = malloc((size_t)2 * B * sizeof(float));
    if (!scores || !logits) return 1;
    sdd_step_params sp = sdd_step_default_params();
    sdd_adam opt;
    sdd_align_state al;
    float *gbuf = NULL;
    if (step) {
        sp.paths = SDD_PATHS_DUAL;
        if (!strcmp(mode, "step-none")) { sp.align = SDD_ALIGN_NONE; sp.bn_stats = SDD_BN_JOINT; }
        else if (!strcmp(mode, "step-pcgrad")) { sp.align = SDD_ALIGN_PCGRAD; sp.bn_stats = SDD_BN_PER_PATH; }
        else { sp.align = SDD_ALIGN_PCGRAD; sp.bn_stats = SDD_BN_JOINT; }
        sdd_align_state_init(&al);
        if (sdd_adam_init(&opt, &m->params, NULL, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        gbuf = malloc(m->params.total * sizeof(float));
        if (!gbuf) return 1;
    }
    const int bs = one ? 1 : B;
    const char *pe = getenv("SDD_PROFILE");
    sdd_prof prof;
    memset(&prof, 0, sizeof prof);
    double best = 1e30, total = 0, best_cpu = 1e30;
    for (int r = 0; r <= reps; r++) {   /* r == 0 is the warm-up */
        if (r == 1 && pe && *pe == '1') { c.prof = &prof; memset(&prof, 0, sizeof prof); }
        double t0 = omp_get_wtime(), u0 = cpu_s();
        if (step) {
            sdd_step_result res;
            sdd_prof_start(&c);
            if (sdd_train_step(m, &c, &opt, &al, &sp, x, B, L, labels, (uint64_t)r, dev ? NULL : gbuf, &res, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        }
        for (int k = 0; dev && !step && k < (one ? B : 1); k++)
            if (sdd_score_batch(m, &c, x + (size_t)k * (one ? L : 0), bs, L, scores, logits, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        for (int k = 0; k < (step || dev ? 0 : one ? B : 1); k++) {
            sdd_ctx_begin(&c, bs, train, train);
            if (dual) {
                int ends[2] = { B / 2, B };
                c.bn_per_seg = 1;
                sdd_ctx_set_segments(&c, 2, ends, NULL);
            }
            int64_t shp[2] = { bs, L };
            sdd_prof_start(&c);
            sdd_tensor *z = m->forward(&c, m, sdd_tensor_wrap(&c, x + (size_t)k * (one ? L : 0), 2, shp));
            if (!z) { fprintf(stderr, "%s\n", c.err.msg); return 1; }
            if (train) {
                sdd_params_zero_grads(&m->params);
                sdd_tensor *l = sdd_ce_weighted(&c, z, labels, cw, NULL);
                if (!l) { fprintf(stderr, "%s\n", c.err.msg); return 1; }
                float *g = sdd_grad_of(&c, l);
                for (int s = 0; s < c.nseg; s++) g[s] = 1.0f;
                if (sdd_backward(&c, 0, NULL, NULL)) { fprintf(stderr, "%s\n", c.err.msg); return 1; }
            }
        }
        double dt = omp_get_wtime() - t0, du = cpu_s() - u0;
        if (r > 0) { total += dt; if (dt < best) best = dt; if (du < best_cpu) best_cpu = du; }
    }
    printf("{\"impl\": \"sdd\", \"device\": \"%s\", \"mode\": \"%s\", \"arch\": \"%s\", \"batch\": %d, \"len\": %d, \"threads\": %d, "
           "\"reps\": %d, \"best_s\": %.4f, \"mean_s\": %.4f, \"best_cpu_s\": %.4f, \"peak_rss_mb\": %.1f, \"arena_peak_mb\": %.1f, \"device_arena_peak_mb\": %.1f}\n",
           dev ? "cuda" : "cpu", mode, arch, B, L, threads, reps, best, total / reps, best_cpu, peak_rss_mb(), c.arena.peak / 1048576.0,
           c.darena.peak / 1048576.0);
    if (c.prof) {
        /* forward time is charged between family switches: the loss and, in step
         * modes, the alignment and Adam are in no family's forward time */
        const char *fam[SDD_FAM_N] = { "other", "sinc", "conv2d", "graph" };
        printf("{\"impl\": \"sdd\", \"mode\": \"%s/profile\", \"threads\": %d, \"profile\": {", mode, threads);
        for (int f = 0; f < SDD_FAM_N; f++)
            printf("%s\"%s\": {\"fwd_s\": %.4f, \"bwd_s\": %.4f, \"fwd_cpu_s\": %.4f, \"bwd_cpu_s\": %.4f, "
                   "\"fwd_gflop\": %.3f, \"bwd_gflop\": %.3f, \"fwd_gflops_per_cpu_s\": %.1f, \"bwd_gflops_per_cpu_s\": %.1f}",
                   f ? ", " : "", fam[f], prof.t_fwd[f] / reps, prof.t_bwd[f] / reps, prof.cpu_fwd[f] / reps,
                   prof.cpu_bwd[f] / reps, prof.flop_fwd[f] / reps * 1e-9, prof.flop_bwd[f] / reps * 1e-9,
                   prof.cpu_fwd[f] > 0 ? prof.flop_fwd[f] / prof.cpu_fwd[f] * 1e-9 : 0.0,
                   prof.cpu_bwd[f] > 0 ? prof.flop_bwd[f] / prof.cpu_bwd[f] * 1e-9 : 0.0);
        printf("}}\n");
    }
    sdd_ctx_free(&c);
    sdd_model_free(m);
    free(x); free(scores); free(logits);
    return 0;
}
