/* sdd side of the RawBoost benchmarks (bench/rawboost_run), one JSON line each:
 *
 *   bench_rawboost algo4 REPS
 *       algorithm 4 (LnL -> ISD -> SSI) on the same 64,600-sample clip as
 *       bench/rawboost_peer.py, one thread, keys 0..REPS-1 (the filter
 *       lengths are random: compare means over the same number of draws);
 *       mean wall and CPU seconds per call (one warm-up call first).
 *   bench_rawboost loader WORKERS BATCHES DIR
 *       the training loader as `sdd train` runs it (dual mode, batch 5 + 5,
 *       cut 64,600, RawBoost algo 4 on the copies) over 40 synthetic 64,600-
 *       sample utterances written to DIR; builds BATCHES batches after one
 *       warm-up batch and reports RawBoost copies per second and the loader's
 *       CPU seconds per batch.
 *   bench_rawboost loader WORKERS BATCHES DIR stream
 *       the same over FLAC files of a streamed dataset (`sdd train --cache
 *       none`: every read decodes its file). */
#include "audio/encode.h"
#include "audio/rawboost.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/loader.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench_algo4(int reps)
{
    const int n = 64600;
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
    if (sdd_rawboost_apply(4, x, n, y, &p, sdd_rng_key(1000003, 0, 0, 0), &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    double wall = 0.0, cpu = 0.0;
    for (int s = 0; s < reps; s++) {
        const double w0 = omp_get_wtime(), c0 = cpu_s();
        if (sdd_rawboost_apply(4, x, n, y, &p, sdd_rng_key((uint64_t)s, 0, 0, 0), &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        cpu += cpu_s() - c0;
        wall += omp_get_wtime() - w0;
    }
    printf("{\"impl\": \"sdd\", \"mode\": \"rawboost4\", \"samples\": %d, \"reps\": %d, \"mean_s\": %.6f, \"cpu_mean_s\": %.6f}\n",
           n, reps, wall / reps, cpu / reps);
    free(x);
    free(y);
    return 0;
}

static int bench_loader(int workers, int batches, const char *dir, int stream)
{
    enum { NUTT = 40, LEN = 64600 };
    char list[4096], path[4096];
    snprintf(list, sizeof list, "%s/list.txt", dir);
    FILE *f = fopen(list, "w");
    if (!f) { fprintf(stderr, "bench_rawboost: cannot write %s\n", list); return 1; }
    float *x = malloc(LEN * sizeof *x);
    if (!x) { fclose(f); return 1; }
    sdd_err e;
    for (int u = 0; u < NUTT; u++) {
        for (int i = 0; i < LEN; i++) {   /* a voiced-like tone with noise, different per file */
            const double t = i / 16000.0;
            x[i] = (float)(0.25 * sin(2 * M_PI * (120 + 7 * u) * t) * (0.6 + 0.4 * sin(2 * M_PI * 2.5 * t))
                           + 0.02 * sdd_rng_normal((uint64_t)u, (uint64_t)i));
        }
        snprintf(path, sizeof path, "%s/u%02d.%s", dir, u, stream ? "flac" : "wav");
        if (sdd_audio_save(path, x, LEN, 16000, &e)) { fprintf(stderr, "%s\n", e.msg); fclose(f); return 1; }
        fprintf(f, "%s %s\n", path, u % 2 ? "bonafide" : "spoof");
    }
    fclose(f);
    free(x);
    sdd_dataset *ds;
    sdd_dataset_params dp = sdd_dataset_default_params();
    dp.threads = 1;
    dp.stream = stream;
    if (sdd_dataset_open(&ds, list, NULL, &dp, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    sdd_loader_params lp = sdd_loader_default_params();
    lp.cut = LEN;
    lp.workers = workers;
    sdd_loader *ld;
    if (sdd_loader_create(&ld, ds, &lp, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    const int64_t per_epoch = sdd_loader_batches_per_epoch(ld);
    int epoch = 0, done = -1;
    double w0 = 0, c0 = 0;
    if (sdd_loader_start_epoch(ld, epoch, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    while (done < batches) {
        sdd_batch *b;
        const int rc = sdd_loader_next(ld, &b, &e);
        if (rc < 0) { fprintf(stderr, "%s\n", e.msg); return 1; }
        if (rc == 0) {
            if (sdd_loader_start_epoch(ld, ++epoch, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
            continue;
        }
        if (++done == 0) { w0 = omp_get_wtime(); c0 = cpu_s(); }   /* batch 0 is the warm-up */
    }
    const double wall = omp_get_wtime() - w0, cpu = cpu_s() - c0;
    printf("{\"impl\": \"sdd\", \"mode\": \"%s\", \"workers\": %d, \"batch\": %d, \"cut\": %d, \"algo\": 4, "
           "\"batches\": %d, \"batches_per_epoch\": %lld, \"wall_s\": %.4f, \"cpu_s\": %.4f, "
           "\"copies_per_s\": %.1f, \"cpu_s_per_batch\": %.5f}\n",
           stream ? "loader-stream" : "loader", workers, lp.batch_size, LEN, batches, (long long)per_epoch, wall, cpu,
           (double)batches * lp.batch_size / wall, cpu / batches);
    sdd_loader_destroy(ld);
    sdd_dataset_close(ds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "algo4")) return bench_algo4(argc > 2 ? atoi(argv[2]) : 30);
    if (argc >= 5 && !strcmp(argv[1], "loader")) return bench_loader(atoi(argv[2]), atoi(argv[3]), argv[4], argc > 5 && !strcmp(argv[5], "stream"));
    fprintf(stderr, "usage: bench_rawboost algo4 REPS | bench_rawboost loader WORKERS BATCHES DIR [stream]\n");
    return 2;
}
