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

#endif
