/* `sdd bench`: times a model's eval forward, batch-1 scoring, forward +
 * backward or full DPDA training step on this machine (src/train/bench.c,
 * the measurement make bench runs against PyTorch). */
#include "backend/blas.h"
#include "backend/device.h"
#include "cli/cli.h"
#include "models/model.h"
#include "train/bench.h"
#include <omp.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd bench [options]\n"
            "Times one mode on seeded noise: one warm-up, then --reps timed repetitions; prints\n"
            "the best and mean wall time, utterances per second, the least CPU time of a\n"
            "repetition and the peak memory. Random weights unless -m gives a model file.\n"
            "  --mode M            fwd (eval forward of the batch; default), infer1 (each\n"
            "                      utterance scored alone), utt (the batch's utterances scored\n"
            "                      in parallel, one per thread: sdd score's default on a CPU),\n"
            "                      fwdbwd (train forward + backward),\n"
            "                      dual (the same with per-path BatchNorm and gradients),\n"
            "                      step-pcgrad (a full DPDA step: forward, one backward, PCGrad,\n"
            "                      Adam), step-none (--align none), step-joint-pcgrad (the\n"
            "                      reference's joint statistics and two backward passes)\n"
            "  --model ARCH        architecture for random weights (AASIST, AASIST-L,\n"
            "                      XLSR-AASIST, ...; default AASIST)\n"
            "  -m FILE             time this model file instead (.safetensors or .pth)\n"
            "  --batch N           utterances (step modes: originals + copies, even; default 10)\n"
            "  --len N             samples per utterance (default 64600)\n"
            "  --reps N            timed repetitions (default 3)\n"
            "  --threads N         CPU threads (default all cores)\n"
            "  --device D          cpu (default) or cuda (builds made with 'make CUDA=1'; fwd,\n"
            "                      infer1 and the step modes)\n"
            "  --profile           also the time and GEMM GFLOP per layer family (AASIST models)\n"
            "  --ssl-recompute on|off  XLSR-* models: recompute the front end in the backward\n"
            "                      (default on) or keep its activations (off)\n"
            "  --int8              XLSR-* models: the encoder's linear layers in int8, as sdd score\n"
            "                      --int8 (fwd, infer1, utt; CPU)\n"
            "  --json              JSON lines on stdout instead of the summary (make bench's format)\n");
}

int cmd_bench(int argc, char **argv)
{
    sdd_bench_params p = sdd_bench_default_params();
    long v, threads = 0;
    int json = 0, arch_given = 0;
    sdd_err e;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
        if (!strcmp(a, "--profile")) { p.profile = 1; continue; }
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!strcmp(a, "--int8")) { p.int8 = 1; continue; }
        if (a[0] != '-') return cli_usage_error("bench", "unexpected argument %s", a);
        if (!(val = cli_value(argc, argv, &i))) return cli_usage_error("bench", "%s needs a value", a);
#define INT(flag, lo, hi, dst) else if (!strcmp(a, flag)) { if (cli_parse_int(val, lo, hi, &v)) return cli_usage_error("bench", "%s: '%s' is not in %ld..%ld", flag, val, (long)(lo), (long)(hi)); dst = v; }
        if (!strcmp(a, "--mode")) { if (sdd_bench_mode_parse(val, &p.mode)) return cli_usage_error("bench", "--mode: unknown mode '%s'", val); }
        else if (!strcmp(a, "--model")) {
            if (!sdd_model_arch_name(val)) return cli_usage_error("bench", "--model: unknown model architecture '%s' (known: %s)", val, sdd_model_archs());
            p.arch = val;
            arch_given = 1;
        }
        else if (!strcmp(a, "-m")) p.model_path = val;
        else if (!strcmp(a, "--device")) { if (sdd_device_parse(val, &p.device, &e)) return cli_usage_error("bench", "--device: %s", e.msg); }
        else if (!strcmp(a, "--ssl-recompute")) {
            if (strcmp(val, "on") && strcmp(val, "off")) return cli_usage_error("bench", "--ssl-recompute: '%s' is not on or off", val);
            p.recompute = !strcmp(val, "on");
        }
        INT("--batch", 1, 4096, p.batch)
        INT("--len", 1, 1L << 26, p.len)
        INT("--reps", 1, 1000, p.reps)
        INT("--threads", 1, 1024, threads)
        else return cli_usage_error("bench", "unknown option %s", a);
#undef INT
    }
    if (arch_given && p.model_path) return cli_usage_error("bench", "-m and --model exclude each other (the model file gives the architecture)");
    if (sdd_device_check(p.device, NULL, 0, &e)) { cli_error("--device: %s", e.msg); return SDD_EXIT_ERROR; }
    cli_set_threads(threads);
    p.threads = omp_get_max_threads();
    sdd_bench_result r;
    if (sdd_bench_run(&p, &r, &e)) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    if (json) { sdd_bench_print_json(stdout, &p, &r); return SDD_EXIT_OK; }
    const int utt = p.batch;   /* infer1 scores the batch's utterances one by one */
    printf("%s %s%s, %d x %lld samples, %s, %d thread%s, %d timed repetition%s after a warm-up\n", r.arch, sdd_bench_mode_name(p.mode),
           p.int8 ? " (int8 encoder linears)" : "", p.batch, (long long)p.len, p.device ? "cuda" : "cpu", p.threads,
           p.threads == 1 ? "" : "s", p.reps, p.reps == 1 ? "" : "s");
    const char *was = sdd_blas_core_was();
    printf("OpenBLAS kernels: %s", sdd_blas_core());
    if (was) printf(" (set by sdd: OpenBLAS chose %s for this CPU)", was);
    printf("\n");
    printf("best %.4f s (%.2f utterances/s), mean %.4f s, least CPU time %.4f s\n", r.best_s, utt / r.best_s, r.mean_s, r.best_cpu_s);
    printf("peak memory: %.0f MB resident, arena %.0f MB", r.peak_rss_mb, r.arena_peak_mb);
    if (p.device) printf(", device arena %.0f MB", r.device_arena_peak_mb);
    if (r.arena_keep_est_mb > 0) printf(" (about %.0f MB with --ssl-recompute off)", r.arena_keep_est_mb);
    printf("\n");
    int fams = 0;
    for (int k = 1; k < SDD_FAM_N; k++) fams |= r.prof.t_fwd[k] > 0 || r.prof.t_bwd[k] > 0;
    if (r.has_profile && !fams) printf("per layer family: this model's back end is not profiled by family\n");
    if (r.has_profile && fams) {
        static const char *const fam[SDD_FAM_N] = { "other", "sinc front end", "2-D residual encoder", "graph back end",
                                                          "XLS-R extractor", "XLS-R transformer" };
        printf("%-22s %10s %10s %12s %12s\n", "per repetition", "fwd s", "bwd s", "fwd GFLOP", "bwd GFLOP");
        for (int k = 0; k < SDD_FAM_N; k++)
            printf("%-22s %10.4f %10.4f %12.2f %12.2f\n", fam[k], r.prof.t_fwd[k] / p.reps, r.prof.t_bwd[k] / p.reps,
                   r.prof.flop_fwd[k] / p.reps * 1e-9, r.prof.flop_bwd[k] / p.reps * 1e-9);
    }
    return SDD_EXIT_OK;
}
