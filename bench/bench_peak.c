/* The machine's FP32 FMA peak, measured, for `make bench` (bench/run): the
 * "% of peak" of the issue-8 targets is taken against this figure, not an
 * assumed clock and FMA width (an assumed 174 GFLOP/s per core was 1.5x what
 * this host's cores do). Usage: bench_peak THREADS. Each of THREADS OpenMP
 * threads runs independent chains of vector FMAs (24 chains of 16 lanes with
 * AVX-512, 12 of 8 with AVX2 + FMA, else 8 scalar fmaf chains): enough
 * chains to cover the FMA latency, no loads. Best of 3 runs, one JSON line. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#define ITERS 100000000L

/* one vector type per build: CH chains of LANES lanes, ITERS / SLOW iterations */
#if defined(__AVX512F__)
typedef __m512 vec;
enum { CH = 24, LANES = 16, SLOW = 1 };
#define VSET _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define ISA "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
enum { CH = 12, LANES = 8, SLOW = 1 };
#define VSET _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define ISA "avx2-fma"
#else
typedef float vec;
enum { CH = 8, LANES = 1, SLOW = 8 };   /* scalar: fewer iterations, the same run time order */
#define VSET(x) (x)
#define VFMA fmaf
#define ISA "scalar"
#endif

/* FLOPs done by one thread; sink keeps the chains alive */
static double run_thread(float *sink)
{
    vec a[CH];
    const vec b = VSET(0.999f), c = VSET(0.001f);
    for (int i = 0; i < CH; i++) a[i] = VSET((float)i);
    for (long k = 0; k < ITERS / SLOW; k++) {
#pragma GCC unroll 24
        for (int i = 0; i < CH; i++) a[i] = VFMA(a[i], b, c);   /* unrolled: the chains stay in registers */
    }
    float s = 0;
    for (int i = 0; i < CH; i++) {
        float v[LANES];
        memcpy(v, &a[i], sizeof v);
        for (int l = 0; l < LANES; l++) s += v[l];
    }
    *sink += s;
    return 2.0 * CH * LANES * (double)(ITERS / SLOW);
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 1024) { fprintf(stderr, "usage: bench_peak THREADS\n"); return 2; }
    double best = 0;
    float sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double flop = 0;
        const double t0 = omp_get_wtime();
        #pragma omp parallel num_threads(threads) reduction(+:flop)
        {
            float s = 0;
            flop += run_thread(&s);
            #pragma omp atomic
            sink += s;
        }
        const double g = flop / (omp_get_wtime() - t0) / 1e9;
        if (g > best) best = g;
    }
    printf("{\"impl\": \"sdd\", \"mode\": \"fma_peak\", \"isa\": \"%s\", \"threads\": %d, \"gflops\": %.1f, \"per_thread_gflops\": %.1f, \"sink\": %g}\n",
           ISA, threads, best, best / threads, isfinite(sink) ? 0.0 : 1.0);
    return 0;
}
