/* Batch loader: turns a dataset into the batches of training epochs, built
 * ahead of the consumer by background worker threads.
 *
 * Order. Epoch E visits every item once, in the order of a Fisher-Yates
 * shuffle keyed by K = sdd_rng_key(seed, E, 0, SDD_PURPOSE_SHUF): for
 * i = n-1 down to 1, swap positions i and j = floor(U(K, i) * (i + 1)) with
 * U = sdd_rng_uniform_d (shuffle = 0 keeps list order). Batches take B items
 * each in that order; the last, shorter one is dropped when drop_last is set
 * (as the reference's DataLoader(drop_last=True)).
 *
 * Rows. For dataset item u in epoch E:
 *   original  sdd_dataset_get(u, cut, crop, Kc)
 *   copy      sdd_dataset_get_rawboost(u, cut, crop, Kc, rb_algo, rb, Kr)
 * with Kc = sdd_rng_key(seed, E, u, SDD_PURPOSE_CROP) (so an original and its
 * copy use the same window when crop is SDD_CUT_RANDOM) and
 * Kr = sdd_rng_key(seed, E, u, SDD_PURPOSE_RAWB). Modes:
 *   SDD_LOADER_ORIG  rows = the B originals
 *   SDD_LOADER_AUG   rows = the B copies
 *   SDD_LOADER_DUAL  rows = [B originals | B copies], copy r+B of original r
 * Everything is a pure function of (seed, epoch, item), never of the thread
 * that built it, so batches are bit-identical for any number of workers.
 * Sharding (data-parallel ranks) keeps the order and every key, and hands a
 * rank only its slice of each batch's items (drop_last required).
 *
 * Prefetch. `workers` threads (pthreads) build whole batches into a ring of
 * `prefetch` batch buffers, running ahead of the consumer by at most that
 * many batches; workers = 0 builds each batch in sdd_loader_next itself.
 * Each worker runs OpenMP regions (RawBoost's) with one thread, so N
 * workers use N cores. */
#ifndef SDD_DATA_LOADER_H
#define SDD_DATA_LOADER_H

#include <stdint.h>
#include "core/error.h"
#include "audio/rawboost.h"
#include "data/dataset.h"

/* purposes for sdd_rng_key (the ASCII letters, big-endian) */
#define SDD_PURPOSE_SHUF 0x73687566u /* 'shuf' */
#define SDD_PURPOSE_RAWB 0x72617762u /* 'rawb' */
#define SDD_PURPOSE_CROP 0x63726f70u /* 'crop' */

enum { SDD_LOADER_ORIG = 0, SDD_LOADER_AUG = 1, SDD_LOADER_DUAL = 2 };

typedef struct {
    int batch_size;  /* B: dataset items per batch (a dual batch has 2B rows) */
    int64_t cut;     /* samples per row */
    int crop_mode;   /* SDD_CUT_FIRST or SDD_CUT_RANDOM */
    int mode;        /* SDD_LOADER_ORIG / AUG / DUAL */
    int shuffle;     /* 1: shuffled order per epoch; 0: list order */
    int drop_last;   /* 1: drop the last batch when shorter than B */
    uint64_t seed;
    int rb_algo;     /* RawBoost algorithm of the copies (0..8) */
    sdd_rawboost_params rb;
    int workers;     /* background threads; 0 = build batches in sdd_loader_next */
    int prefetch;    /* batch buffers in the ring (>= 1); 0 = 2 * workers (at least 2) */
    int shard_rank, shard_count; /* data-parallel: this rank's items [B*r/N, B*(r+1)/N) of every
                                    batch (sdd_dist_shard); N = 0 or 1: the whole batch */
} sdd_loader_params;

/* The reference recipe: B 5, cut 66800, first-cut, dual, shuffle, drop_last,
 * seed 1234, RawBoost algo 4 with the reference defaults, 2 workers,
 * prefetch 0 (auto). */
sdd_loader_params sdd_loader_default_params(void);

/* One batch; owned by the loader, valid until the next sdd_loader_next,
 * sdd_loader_start_epoch or sdd_loader_destroy. */
typedef struct {
    int nb;               /* rows */
    int n_orig;           /* rows [0, n_orig) are originals, the rest RawBoost copies */
    int64_t cut;          /* samples per row */
    float *wave;          /* (nb, cut) row-major */
    int *labels;          /* nb: sdd_label of the item (-1 when unlabelled) */
    int *index;           /* nb: dataset index of the item */
    unsigned char *aug;   /* nb: 0 original, 1 RawBoost copy (the path flag) */
    int epoch;
    int64_t batch;        /* batch number within the epoch, from 0 */
} sdd_batch;

typedef struct {
    double wait_s;        /* time the consumer spent blocked in sdd_loader_next (building included when workers = 0) */
    double build_s;       /* summed time spent building batches, all threads */
    int64_t batches;      /* batches handed out */
    int64_t waits;        /* calls to sdd_loader_next that found their batch not ready */
} sdd_loader_stats;

typedef struct sdd_loader sdd_loader;

/* Checks the parameters (B >= 1, cut >= 1, known modes, RawBoost params when
 * the mode makes copies, workers 0..256, prefetch 0..1024), starts the
 * workers. The dataset must outlive the loader. No epoch is started. Returns
 * 0, or -1 with e set and *ld NULL. */
int sdd_loader_create(sdd_loader **ld, const sdd_dataset *ds, const sdd_loader_params *p, sdd_err *e);

/* Starts epoch `epoch` (any value >= 0; restarting one is allowed): drops the
 * batches of the epoch in progress, draws the order, and lets the workers
 * begin. Returns 0 or -1 with e set. */
int sdd_loader_start_epoch(sdd_loader *ld, int epoch, sdd_err *e);

/* Number of batches in an epoch. */
int64_t sdd_loader_batches_per_epoch(const sdd_loader *ld);

/* The order of the current epoch: position k -> dataset index (count entries). */
const int *sdd_loader_order(const sdd_loader *ld);

/* Hands out the next batch of the epoch in *b: returns 1, 0 at the end of the
 * epoch (*b = NULL, and on every later call), or -1 with e set when building
 * the batch failed (the epoch goes on with the next call) or no epoch was
 * started. Call this, sdd_loader_start_epoch and
 * sdd_loader_destroy from one (the consuming) thread. */
int sdd_loader_next(sdd_loader *ld, sdd_batch **b, sdd_err *e);

void sdd_loader_get_stats(const sdd_loader *ld, sdd_loader_stats *s);
void sdd_loader_reset_stats(sdd_loader *ld);

/* Stops the workers and frees everything; NULL is fine. */
void sdd_loader_destroy(sdd_loader *ld);

#endif
