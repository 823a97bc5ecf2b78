/* Data-parallel training across processes: the small interface the training
 * step, the BatchNorm op (through the ctx hook) and the trainer call. Built
 * with `make MPI=1` (mpicc, -DSDD_MPI) it is Open MPI: every collective is a
 * sum over MPI_COMM_WORLD. The default build compiles the identity (one rank,
 * sums are no-ops), so the single-process code path is unchanged.
 *
 * Equivalence contract (see step.c, norm.c, loader.c): rank r of N takes rows
 * [B*r/N, B*(r+1)/N) of every global batch of B utterances (both paths);
 * BatchNorm batch moments and backward sums, the per-path loss numerators and
 * class-weight denominators, and the per-path gradients (one fused all-reduce
 * of both paths per step) are summed over ranks, and dropout masks are keyed
 * by global row, so N ranks compute the step of one process with batch B up
 * to floating-point summation order. */
#ifndef SDD_DIST_DIST_H
#define SDD_DIST_DIST_H
#include <stddef.h>
#include "core/error.h"

/* Starts MPI when built with it (MPI_THREAD_FUNNELED: collectives are called
 * from the main thread only); a no-op otherwise. Call once per process. */
int sdd_dist_init(sdd_err *e);
/* MPI_Finalize when started. */
void sdd_dist_finalize(void);
/* 1 when this binary was built with MPI. */
int sdd_dist_built(void);
int sdd_dist_rank(void);
int sdd_dist_size(void);
/* In-place sums over all ranks (identity with one rank). */
int sdd_dist_sum_f64(double *buf, size_t n, sdd_err *e);
int sdd_dist_sum_f32(float *buf, size_t n, sdd_err *e);
/* Ends every rank of the job (MPI_Abort) so no rank waits forever in a
 * collective after another failed; returns only when not distributed. For
 * the CLI, never the library. */
void sdd_dist_abort(int code);
/* The BatchNorm hook (sdd_ctx.bn_reduce): sums n doubles over ranks, 0 or -1. */
int sdd_dist_bn_reduce(double *buf, size_t n, void *arg);

/* The global batch of B utterances split over N ranks: this rank's rows [lo, hi). */
void sdd_dist_shard(int B, int rank, int nranks, int *lo, int *hi);

/* Traffic and time of the all-reduces of this process so far. */
typedef struct {
    long calls;
    double bytes;     /* payload bytes summed (per rank, as passed to MPI) */
    double seconds;   /* wall time inside the collectives */
} sdd_dist_stats;
void sdd_dist_get_stats(sdd_dist_stats *s);

#endif
