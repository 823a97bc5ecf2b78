/* sdd side of the RawBoost benchmark: algorithm 4 (LnL -> ISD -> SSI) on the
 * same 64,000-sample clip as bench/rawboost_peer.py, one thread, keys 0..REPS-1
 * (random filter lengths: compare means over the same number of draws).
 * Prints one JSON line. */
#include "audio/rawboost.h"
#include "core/rng.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 20;
    const int n = 64000;
    omp_set_num_threads(1);
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    if (!x || !y || reps < 1) return 1;
    for (int i = 0; i < n; i++) {
        const double t = i / 16000.0;
        x[i] = (float)(0.3 * sin(2 * M_PI * 220 * t) * sin(2 * M_PI * 3 * t));
    }
    sdd_rawboost_params p;
    sdd_rawboost_default_params(&p);
    sdd_err e;
    double total = 0.0;
    for (int s = 0; s < reps; s++) {
        const double t0 = omp_get_wtime();
        if (sdd_rawboost_apply(4, x, n, y, &p, sdd_rng_key((uint64_t)s, 0, 0, 0), &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        total += omp_get_wtime() - t0;
    }
    printf("{\"impl\": \"sdd\", \"mode\": \"rawboost4\", \"samples\": %d, \"reps\": %d, \"mean_s\": %.6f}\n", n, reps, total / reps);
    free(x);
    free(y);
    return 0;
}
