/* Shortcut features of a clip and the trivial classifier on them: what a
 * detector could learn about a corpus that is not about speech synthesis
 * (length, level, silence, bandwidth, noise floor, clipping). The corpus
 * check (`sdd corpus check`) fits a logistic regression on these features of
 * the train split and reports its EER on eval: a well-built corpus keeps it
 * near 50%. Owns the feature extraction (with its own radix-2 FFT) and the
 * logistic regression (standardised features, L2, solved to its optimum by
 * the calibration's Newton iterations: deterministic). */
#ifndef SDD_DATA_SHORTCUT_H
#define SDD_DATA_SHORTCUT_H

#include <stdint.h>
#include "core/error.h"

enum {
    SDD_SC_DURATION = 0, /* seconds */
    SDD_SC_RMS,          /* dBFS over the whole clip */
    SDD_SC_PEAK,         /* dBFS of max |x| */
    SDD_SC_CREST,        /* peak - rms, dB */
    SDD_SC_SILENCE,      /* fraction of 32 ms frames 40 dB below the loudest */
    SDD_SC_LEAD,         /* seconds before the first frame within 40 dB of the loudest */
    SDD_SC_ROLLOFF,      /* Hz below which 95% of the mean power spectrum lies */
    SDD_SC_BANDWIDTH,    /* Hz: highest bin of the mean spectrum within 50 dB of its maximum */
    SDD_SC_NOISE,        /* dBFS: 10th percentile of the frame RMS */
    SDD_SC_CLIP,         /* fraction of samples with |x| >= 0.999 */
    SDD_SC_N
};

/* Short names ("duration_s", "rms_dbfs", ...), SDD_SC_N of them. */
extern const char *const sdd_shortcut_names[SDD_SC_N];

/* Features of x[0..n) at sample rate sr into f[SDD_SC_N]. n >= 1, sr > 0.
 * Returns 0, or -1 with e set (bad arguments, out of memory). */
int sdd_shortcut_features(const float *x, int64_t n, int sr, double *f, sdd_err *e);

typedef struct {
    int nf;
    double mean[SDD_SC_N], sd[SDD_SC_N];
    double w[SDD_SC_N], b;
} sdd_logreg;

/* Fits P(y = 1 | x) = sigmoid(w . (x - mean) / sd + b) on X (n rows of nf
 * features, row-major) and y (0/1): the minimum of the mean log-loss plus
 * l2/2 |w|^2. Needs both classes, finite features and nf in 1..SDD_SC_N. */
int sdd_logreg_fit(const double *X, const unsigned char *y, int64_t n, int nf, double l2, sdd_logreg *m, sdd_err *e);

/* The logit w . z + b of one row x[nf]. */
double sdd_logreg_score(const sdd_logreg *m, const double *x);

/* EER (fraction) of scores s[n] (higher = class 1) against y[n], neutral to
 * ties: the ROC is walked from one group of equal scores to the next and the
 * crossing of miss and false-alarm rates is interpolated linearly, so a
 * constant score gives 0.5 whichever class comes first (the ASVspoof rule,
 * targets first on ties, does not: that matters for features such as a
 * silence ratio that is 0 for most clips). Needs both classes; -1 with e set
 * otherwise. */
int sdd_shortcut_eer(const double *s, const unsigned char *y, int64_t n, double *eer, sdd_err *e);

#endif
