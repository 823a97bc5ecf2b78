/* The int8 linear layer (backend/qgemm.h) at the XLS-R encoder's shapes,
 * each kernel this build and CPU have (AMX, AVX-512 VNNI, AVX-VNNI; the
 * scalar loop is not timed), against the float32 product the layer replaces
 * (sdd_sgemm: OpenBLAS, y = x W^T) in the same run. One JSON line per
 * kernel and shape: best and mean seconds over REPS calls after one warm-up,
 * and multiply-adds per second. Times include the activations'
 * quantization and the epilogue (what `sdd score --int8` pays per layer).
 *   bench_qgemm [FRAMES] [REPS] [THREADS]   (defaults 201 = one 4 s
 *   utterance, 20, 2) */
#include "backend/gemm.h"
#include "backend/qgemm.h"
#include "core/rng.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const int R = argc > 1 ? atoi(argv[1]) : 201, reps = argc > 2 ? atoi(argv[2]) : 20, threads = argc > 3 ? atoi(argv[3]) : 2;
    if (R < 1 || reps < 1 || threads < 1) {
        fprintf(stderr, "usage: bench_qgemm [FRAMES] [REPS] [THREADS]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    static const int shapes[][2] = { { 1024, 1024 }, { 1024, 4096 }, { 4096, 1024 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int din = shapes[s][0], dout = shapes[s][1];
        float *x = malloc((size_t)R * din * sizeof(float)), *w = malloc((size_t)dout * din * sizeof(float));
        float *b = malloc((size_t)dout * sizeof(float)), *y = malloc((size_t)R * dout * sizeof(float));
        if (!x || !w || !b || !y) {
            fprintf(stderr, "bench_qgemm: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < (size_t)R * din; i++) x[i] = (float)sdd_rng_normal(11, i);
        for (size_t i = 0; i < (size_t)dout * din; i++) w[i] = 0.03f * (float)sdd_rng_normal(12, i);
        for (int i = 0; i < dout; i++) b[i] = 0.1f * (float)sdd_rng_normal(13, (uint64_t)i);
        sdd_q8_linear q;
        sdd_err e;
        if (sdd_q8_linear_init(&q, w, dout, din, &e)) {
            fprintf(stderr, "bench_qgemm: %s\n", e.msg);
            return 1;
        }
        /* kernel 0 here: the float32 product */
        const int kernels[] = { 0, SDD_Q8_AVXVNNI_256, SDD_Q8_AVX512VNNI, SDD_Q8_AMX };
        for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++) {
            const int k = kernels[ki];
            if (k && !sdd_q8_has_kernel(k)) continue;
            double best = 1e30, sum = 0;
            for (int r = -1; r < reps; r++) {
                const double t0 = now_s();
                if (!k) sdd_sgemm(0, 1, R, dout, din, 1.0f, x, din, w, din, 0.0f, y, dout);
                else if (sdd_q8_linear_forward(&q, x, R, b, y, k, &e)) {
                    fprintf(stderr, "bench_qgemm: %s\n", e.msg);
                    return 1;
                }
                const double t = now_s() - t0;
                if (r < 0) continue;
                sum += t;
                if (t < best) best = t;
            }
            printf("{\"impl\": \"sdd\", \"bench\": \"qgemm\", \"kernel\": \"%s\", \"rows\": %d, \"din\": %d, \"dout\": %d, \"threads\": %d, "
                   "\"reps\": %d, \"best_s\": %.6f, \"mean_s\": %.6f, \"gmac_per_s\": %.1f}\n",
                   k ? sdd_q8_kernel_name(k) : "sgemm-float32", R, din, dout, threads, reps, best, sum / reps, (double)R * din * dout / best * 1e-9);
            fflush(stdout);
        }
        sdd_q8_linear_free(&q);
        free(x); free(w); free(b); free(y);
    }
    return 0;
}
