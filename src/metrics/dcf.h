/* ASVspoof 5 detection costs, computed as the official ASVspoof 5
 * evaluation package (asvspoof-challenge/asvspoof5 evaluation-package,
 * calculate_modules.py and a_dcf.py) does, in double precision:
 *   - minDCF (track 1, primary): over the official DET curve of the CM
 *     scores (metrics.h), c(k) = Cmiss * frr[k] * Pbona + Cfa * far[k] *
 *     (1 - Pbona) with Pbona = 1 - Pspoof; the first strict minimum,
 *     normalised by min(Cmiss Pbona, Cfa (1 - Pbona)).
 *   - actDCF: the same cost at the Bayes threshold for scores that are
 *     natural-log likelihood ratios (bona fide vs spoof):
 *     t = -log(beta), beta = Cmiss (1 - Pspoof) / (Cfa Pspoof); misses are
 *     bona fide scores < t, false alarms spoof scores >= t.
 *   - a-DCF (track 2, primary; Shim et al., Odyssey 2024): one SASV score
 *     per trial, classes target / nontarget / spoof; all scores sorted
 *     ascending (stable, ties: targets, then nontargets, then spoofs),
 *     point 0 accepts everything (threshold min - 1e-8), point k rejects the
 *     k lowest; a(k) = Cmiss Ptar Pmiss + Cfa_asv Pnon Pfa_non +
 *     Cfa_cm Pspoof Pfa_spoof, normalised by min(Cfa_asv Pnon + Cfa_cm
 *     Pspoof, Cmiss Ptar); the first minimum.
 * Parameters: Pspoof 0.05, Cmiss 1, Cfa 10 (track 1); Ptar 0.95 * 0.99,
 * Pnon 0.95 * 0.01, Pspoof 0.05, Cmiss 1, Cfa_asv 10, Cfa_cm 10 (track 2).
 * Functions return 0, or -1 with e set. */
#ifndef SDD_METRICS_DCF_H
#define SDD_METRICS_DCF_H

#include <stdint.h>
#include "core/error.h"
#include "metrics/metrics.h"

typedef struct {
    double pspoof;        /* prior of a spoof trial */
    double cmiss;         /* cost of rejecting a bona fide trial */
    double cfa;           /* cost of accepting a spoof trial */
} sdd_dcf_cost;

/* Pspoof 0.05, Cmiss 1, Cfa 10 (ASVspoof 5 track 1). */
void sdd_dcf_cost_asvspoof5(sdd_dcf_cost *c);
/* The Bayes decision threshold on a natural-log LLR (bona fide vs spoof):
 * accept as bona fide when LLR >= it. -log(1.9) = -0.6419 for ASVspoof 5. */
double sdd_dcf_bayes_threshold(const sdd_dcf_cost *c);

typedef struct {
    double min_dcf;       /* normalised minimum DCF */
    double min_threshold; /* DET threshold of the minimum */
    int64_t min_index;    /* its DET point */
    double act_dcf;       /* normalised DCF at the Bayes threshold */
    double act_threshold; /* -log(beta) */
    double act_pmiss, act_pfa;
} sdd_dcf_result;

/* minDCF and actDCF of the kept trials (keep may be NULL = all). Needs both
 * classes; costs and prior must be positive (Pspoof < 1). */
int sdd_dcf_sorted(const sdd_sorted *s, const unsigned char *keep, const sdd_dcf_cost *c,
                   sdd_dcf_result *r, sdd_err *e);

typedef struct {
    double ptar, pnon, pspoof;
    double cmiss, cfa_asv, cfa_cm;
} sdd_adcf_cost;

/* The ASVspoof 5 track 2 values above. */
void sdd_adcf_cost_asvspoof5(sdd_adcf_cost *c);

typedef struct {
    double min_adcf;      /* normalised minimum a-DCF */
    double threshold;     /* SASV threshold there (first argmin) */
    double pmiss, pfa_non, pfa_spoof;  /* error rates there */
    int64_t index;
    int64_t ntar, nnon, nspoof;
} sdd_adcf_result;

/* a-DCF of n SASV trials, cls[i] = 0 target, 1 nontarget, 2 spoof
 * (sdd_asv_class); keep (may be NULL) selects trials by position. Needs
 * every class and finite scores. */
int sdd_adcf(const double *score, const unsigned char *cls, const unsigned char *keep, int64_t n,
             const sdd_adcf_cost *c, sdd_adcf_result *r, sdd_err *e);

#endif
