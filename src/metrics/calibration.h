/* Score calibration and fusion by linear logistic regression, and its JSON
 * file. A calibration maps K input scores (K = 1: calibration of one
 * system; K > 1: fusion of several) to a natural-log likelihood ratio
 * (bona fide vs spoof):  LLR = w . x + b.
 * Training is the prior-weighted logistic regression of the field (Brummer's
 * FoCal / BOSARIS train_binary_classifier): with bona fide prior P and
 * offset = logit(P), minimise
 *   P/Nb sum_bona softplus(-(s + offset)) + (1-P)/Ns sum_spoof softplus(s + offset)
 *   + (l2/2) |w|^2,   s = w . x + b,
 * (the first two terms are the prior-weighted Cllr times log 2), by Newton's
 * method with a backtracking line search on the inputs standardised by
 * their median and median absolute deviation (so a score of 1e20 or a scale
 * of 1e200 neither overflows nor stalls it), started from the best of: all
 * weights 0, each input as it is (w = 1, b = 0) and their average. The line
 * search only accepts decreases (but for rounding in the last Newton steps),
 * so the objective at the result is never above the raw scores' (k = 1)
 * beyond rounding. l2 (1e-6 by default) only keeps the
 * minimum finite when the classes are separable.
 * File (JSON, written atomically; unknown keys are ignored when read):
 *   { "format": "sdd-calibration", "version": 1, "kind": "calibration"|"fusion",
 *     "weights": [w1, ...], "bias": b, "prior": P, "l2": l2,
 *     "decision": { "pspoof": 0.05, "cmiss": 1, "cfa": 10, "threshold": t },
 *     "output": "...", "inputs": ["dev scores", ...], "trained_on": {...} }
 * t is the Bayes threshold on the LLR for those costs (metrics/dcf.h):
 * accept as bona fide when LLR >= t. */
#ifndef SDD_METRICS_CALIBRATION_H
#define SDD_METRICS_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

#define SDD_CAL_MAX_INPUTS 64

typedef struct {
    int k;                          /* inputs, 1..SDD_CAL_MAX_INPUTS */
    double w[SDD_CAL_MAX_INPUTS];   /* weights */
    double b;                       /* bias */
    double prior;                   /* bona fide prior of the training */
    double l2;                      /* regularisation of the training */
    double pspoof, cmiss, cfa;      /* decision costs */
    double threshold;               /* Bayes threshold on the LLR */
} sdd_calibration;

typedef struct {
    int iterations;
    double cllr_before;  /* prior-weighted Cllr (bits) of the raw input (k = 1), else NaN */
    double cllr_after;   /* prior-weighted Cllr (bits) of the trained output */
} sdd_calibration_info;

/* Trains on n trials of k scores each: x row-major (n, k), pos[i] != 0 for
 * bona fide. prior in (0, 1); l2 >= 0. Decision costs are set to ASVspoof
 * 5's (Pspoof 0.05, Cmiss 1, Cfa 10). info may be NULL. Needs both classes,
 * finite scores. */
int sdd_calibration_train(const double *x, const unsigned char *pos, int64_t n, int k, double prior,
                          double l2, sdd_calibration *c, sdd_calibration_info *info, sdd_err *e);
/* w . x + b for one trial's k scores. */
double sdd_calibration_apply(const sdd_calibration *c, const double *x);
/* Prior-weighted Cllr in bits of LLRs s (n trials): P/Nb sum_bona
 * log2(1 + exp(-(s + offset))) + (1-P)/Ns sum_spoof log2(1 + exp(s + offset)),
 * offset = logit(P), divided by the entropy of P (so 1 bit = a useless
 * system, as BOSARIS's normalised Cllr). */
double sdd_calibration_cllr(const double *s, const unsigned char *pos, int64_t n, double prior);
/* Whether c, trained on the n trials x (n, c->k), is of use: 0, or -1 with
 * e set when the scores of an input are all equal (*input = that input, from
 * 0), or (*input = -1) when the fitted LLRs of all n trials lie within 1e-6
 * of each other (zero weights: the scores tell nothing at this prior, as
 * with a prior of 1e-300, where l2 outweighs the data), when one is not
 * finite, or, for k = 1, when the Bayes threshold on the raw score is not
 * finite. sdd_calibration_train leaves such fits to this check. */
int sdd_calibration_check(const sdd_calibration *c, const double *x, int64_t n, int *input, sdd_err *e);
/* Sets the decision costs and the Bayes threshold they give (-1 when the
 * costs are out of range or the threshold is not finite). */
int sdd_calibration_set_decision(sdd_calibration *c, double pspoof, double cmiss, double cfa, sdd_err *e);

/* Parses a calibration file from len bytes (name for messages). 0, or -1
 * with e = "NAME: reason". */
int sdd_calibration_parse(const char *buf, size_t len, const char *name, sdd_calibration *c, sdd_err *e);
int sdd_calibration_load(const char *path, sdd_calibration *c, sdd_err *e);
/* The JSON text (malloc'd, NUL-terminated; free it). compact: one line (for
 * model metadata). inputs (may be NULL) names the k inputs; trained_on (may
 * be NULL) is a JSON object to embed (borrowed). */
char *sdd_calibration_to_json(const sdd_calibration *c, int compact, const char *const *inputs,
                              const void *trained_on, sdd_err *e);
/* Writes the JSON file atomically. */
int sdd_calibration_save(const char *path, const sdd_calibration *c, const char *const *inputs,
                         const void *trained_on, sdd_err *e);

#endif
