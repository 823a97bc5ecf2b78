/* All-reduce cost on this machine (bench/mpi_run, `make MPI=1`): after a
 * barrier, REPS in-place MPI_SUM all-reduces of N floats through
 * sdd_dist_sum_f32 (the call the training step makes), per size; rank 0
 * prints the median time per call and the algorithm bandwidth (bytes / time).
 * Sizes: AASIST's two-path gradient block, a smaller block and 64 MB. */
#include "dist/dist.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    sdd_err e;
    if (sdd_dist_init(&e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    const int reps = argc > 1 ? atoi(argv[1]) : 20;
    /* floats: 609,840 = 2.44 MB, the all-reduce volume per AASIST step the trainer reports; 0.69 MB; 64 MB */
    const size_t sizes[] = { 609840, 171952, 16u << 20 };
    const char *what[] = { "2.44 MB (an AASIST step)", "a 0.69 MB block", "64 MB" };
    double *t = malloc((size_t)reps * sizeof(double));
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        float *buf = calloc(sizes[s], sizeof(float));
        if (!buf || !t) { sdd_dist_abort(1); return 1; }
        for (int r = 0; r < reps; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            const double t0 = MPI_Wtime();
            if (sdd_dist_sum_f32(buf, sizes[s], &e)) { fprintf(stderr, "%s\n", e.msg); sdd_dist_abort(1); }
            t[r] = MPI_Wtime() - t0;
        }
        qsort(t, (size_t)reps, sizeof(double), cmp);
        if (sdd_dist_rank() == 0)
            printf("all-reduce %d ranks, %s: %.2f MB, median %.3f ms, best %.3f ms, %.2f GB/s (median)\n", sdd_dist_size(), what[s],
                   sizes[s] * 4.0 / 1e6, 1e3 * t[reps / 2], 1e3 * t[0], sizes[s] * 4.0 / t[reps / 2] / 1e9);
        free(buf);
    }
    free(t);
    sdd_dist_finalize();
    return 0;
}
