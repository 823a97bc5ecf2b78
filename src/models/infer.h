/* Inference: the reference cut (first N samples, shorter clips tiled), batch
 * scoring of cut waveforms, and whole-file scoring in bounded windows whose
 * scores are averaged. A score is the bona fide logit (output column 1). */
#ifndef SDD_MODELS_INFER_H
#define SDD_MODELS_INFER_H
#include "models/model.h"

/* out (cut) = x repeated (tiled) until it is long enough, then truncated. */
void sdd_cut_repeat(const float *x, int64_t n, int64_t cut, float *out);
/* Eval-mode forward of B waveforms of L samples (B, L) -> scores[B] (and logits (B, 2) when not NULL). */
int sdd_score_batch(sdd_model *m, sdd_ctx *c, const float *wave, int B, int64_t L, float *scores, float *logits, sdd_err *e);
/* Whole-waveform score: clips shorter than the model's minimum are tiled up
 * to it; clips longer than `window` samples are split into ceil(n / window)
 * equal windows whose scores are averaged. */
int sdd_score_full(sdd_model *m, sdd_ctx *c, const float *x, int64_t n, int64_t window, double *score, sdd_err *e);
/* A window of `seconds` at 16 kHz in samples, for sdd_score_full: clamped to
 * 2^60 (never a split) for a huge or infinite value, so the conversion cannot
 * overflow; 0 for a value that is not positive (NaN included). */
int64_t sdd_window_samples(double seconds);

/* Per-utterance parallel scoring on the CPU: nthreads threads, each with its
 * own context, take the items one at a time and run each forward on one
 * thread. Scores equal sdd_score_batch's (the forward is batch- and
 * thread-count invariant) and the arenas hold one utterance each, not a
 * batch; two threads do about 10% less work per utterance than one forward
 * whose layers are split over them (bench/RESULTS.md). */
typedef struct sdd_score_pool sdd_score_pool;
/* Item b's samples: 0 with *x (malloc'd, taken by the pool) and *n set, or -1 with e set. */
typedef int (*sdd_score_load_fn)(void *arg, int b, float **x, int64_t *n, sdd_err *e);
enum { SDD_ITEM_SCORED = 0, SDD_ITEM_LOAD_FAILED = 1, SDD_ITEM_SCORE_FAILED = 2 };
/* NULL with e set when out of memory; nthreads >= 1. */
sdd_score_pool *sdd_score_pool_new(sdd_model *m, int nthreads, sdd_err *e);
void sdd_score_pool_free(sdd_score_pool *p);
/* the threads' arena peaks, summed (bytes) */
size_t sdd_score_pool_arena_peak(const sdd_score_pool *p);
/* Items [0, n): each loaded, then scored on its first `cut` samples (tiled as
 * sdd_cut_repeat) when cut > 0, else whole (sdd_score_full with `window`).
 * status[b] is one of SDD_ITEM_*, with the reason in errs[b] when not
 * scored; scores[b] is set when scored. The calling thread's own thread
 * count is unchanged afterwards. */
void sdd_score_pool_run(sdd_score_pool *p, int n, sdd_score_load_fn load, void *arg, int64_t cut, int64_t window,
                        double *scores, int *status, sdd_err *errs);

#endif
