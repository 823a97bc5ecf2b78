/* sdd side of `make bench` (bench/run) and tests/gpu/run.sh, with positional
 * arguments: MODE ARCH B L REPS [THREADS [DEVICE]]. The measurement itself is
 * src/train/bench.c, the same as `sdd bench`: the mode's warm-up and REPS
 * timed repetitions, one JSON object per measurement with the process's peak
 * RSS (run one mode per process so the RSS is the mode's own). best_cpu_s is
 * the least process CPU time (user + system) of a repetition: on a shared
 * machine the steadier figure at one thread. SDD_PROFILE=1 adds a second
 * line: per layer family (sinc front end, 2-D residual encoder, graph back
 * end, other) the mean forward and backward wall and CPU seconds per timed
 * repetition, the GEMM GFLOP executed there and GFLOP per CPU second.
 * DEVICE (default cpu): cuda runs the step modes through the CUDA backend
 * and fwd / infer1 as sdd_score_batch on the GPU (batch upload, forward,
 * scores back); fwdbwd and dual are CPU-only measurements. Like sdd, it
 * first restarts itself with better OpenBLAS kernels where OpenBLAS chose
 * generic ones (sdd_blas_restart). */
#include "train/bench.h"
#include "backend/blas.h"
#include "backend/device.h"
#include "core/threads.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    sdd_blas_restart(argv);
    if (argc < 6) {
        fprintf(stderr, "usage: bench_sdd MODE(fwd|fwdbwd|dual|infer1|utt|step-none|step-pcgrad|step-joint-pcgrad) ARCH B L REPS [THREADS [DEVICE]]\n");
        return 2;
    }
    sdd_bench_params p = sdd_bench_default_params();
    sdd_err e;
    if (sdd_bench_mode_parse(argv[1], &p.mode)) { fprintf(stderr, "bench_sdd: unknown mode %s\n", argv[1]); return 2; }
    p.arch = argv[2];
    p.batch = atoi(argv[3]);
    p.len = atoll(argv[4]);
    p.reps = atoi(argv[5]);
    p.threads = argc > 6 ? atoi(argv[6]) : 2;
    sdd_threads_set(p.threads);
    if (argc > 7 && (sdd_device_parse(argv[7], &p.device, &e) || sdd_device_check(p.device, NULL, 0, &e))) {
        fprintf(stderr, "bench_sdd: %s\n", e.msg);
        return 1;
    }
    const char *pe = getenv("SDD_PROFILE");
    p.profile = pe && *pe == '1';
    sdd_bench_result r;
    if (sdd_bench_run(&p, &r, &e)) { fprintf(stderr, "bench_sdd: %s\n", e.msg); return 1; }
    sdd_bench_print_json(stdout, &p, &r);
    return 0;
}
