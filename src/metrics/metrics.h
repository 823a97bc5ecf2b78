/* Detection metrics computed exactly as the official ASVspoof tools do
 * (asvspoof-challenge/2021 eval-package eval_metrics.py / eval_wrapper.py,
 * clovaai/aasist evaluation.py), in double precision:
 *   - DET curve: scores of both classes sorted ascending, ties ordered
 *     positives (bona fide / target) first, no tie merging; point k = after
 *     rejecting the k lowest trials: frr = [0, cumsum(pos)/Npos],
 *     far = [1, (Nneg - (k - cumsum(pos)))/Nneg], thresholds =
 *     [lowest score - 0.001, sorted scores].
 *   - EER at the FIRST argmin of |frr - far|, EER = (frr + far) / 2 there.
 *   - min t-DCF: the ASVspoof 2019 legacy form (clovaai, tDCF_python v1) and
 *     the 2021 form (eval-package C0/C1/C2 normalisation), with the ASV
 *     operating point at the ASV target/nontarget EER threshold.
 *   - Cllr and minimum Cllr (PAV over tie blocks), probit for DET axes.
 *   - attack x condition tables as in the ASVspoof 2021 results tables.
 * Trials are sorted once (sdd_sorted, O(n log n)); any subset of them is then
 * evaluated in one O(n) pass, selected with a keep mask indexed by the
 * trial's original position. Functions return 0, or -1 with e set. */
#ifndef SDD_METRICS_METRICS_H
#define SDD_METRICS_METRICS_H

#include <stdint.h>
#include "core/error.h"

/* ---- sorted trials ---- */

typedef struct {
    int64_t n;
    double *score;        /* ascending; among equal scores positives first */
    unsigned char *pos;   /* 1 = positive class (bona fide, or ASV target) */
    int64_t *orig;        /* position of the trial in the input arrays */
} sdd_sorted;

/* Sorts n trials (pos[i] != 0 marks positives). Scores must be finite:
 * a NaN or infinity gives "trial I: score is not finite". n may be 0. */
int sdd_sorted_init(sdd_sorted *s, const double *score, const unsigned char *pos, int64_t n,
                    sdd_err *e);
/* Same, from the official two arrays (targets, then nontargets). */
int sdd_sorted_init2(sdd_sorted *s, const double *tar, int64_t nt, const double *non,
                     int64_t nn, sdd_err *e);
void sdd_sorted_free(sdd_sorted *s);

/* ---- DET curve and EER ---- */

typedef struct {
    int64_t n;            /* points: kept trials + 1 */
    double *thr, *frr, *far;
    unsigned char *pos;   /* n - 1 entries: class of the trial each step rejects */
} sdd_det;

/* The whole official DET curve of the kept trials (keep may be NULL = all). */
int sdd_det_curve(const sdd_sorted *s, const unsigned char *keep, sdd_det *d, sdd_err *e);
void sdd_det_free(sdd_det *d);

typedef struct {
    double eer;           /* fraction, not % */
    double threshold;     /* thresholds[index] */
    double frr, far;      /* at index */
    int64_t index;        /* first argmin of |frr - far| over points 0..npos+nneg */
    int64_t npos, nneg;
} sdd_eer_result;

/* EER of the kept trials; needs at least one trial of each class
 * ("no bona fide trials" / "no spoof trials" otherwise). */
int sdd_eer_sorted(const sdd_sorted *s, const unsigned char *keep, sdd_eer_result *r,
                   sdd_err *e);
/* Convenience: compute_eer(target_scores, nontarget_scores). */
int sdd_eer(const double *tar, int64_t nt, const double *non, int64_t nn, sdd_eer_result *r,
            sdd_err *e);

/* ---- t-DCF ---- */

typedef enum { SDD_TDCF_2019 = 2019, SDD_TDCF_2021 = 2021 } sdd_tdcf_form;

typedef struct {
    double pspoof, ptar, pnon;                     /* priors */
    double cmiss, cfa, cfa_spoof;                  /* 2021 tandem costs */
    double cmiss_asv, cfa_asv, cmiss_cm, cfa_cm;   /* 2019 legacy costs */
} sdd_tdcf_cost;

/* The ASVspoof 2019/2021 values: Pspoof 0.05, Ptar (1-0.05)*0.99,
 * Pnon (1-0.05)*0.01, Cmiss 1, Cfa 10, Cfa_spoof 10, Cmiss_asv 1,
 * Cfa_asv 10, Cmiss_cm 1, Cfa_cm 10. */
void sdd_tdcf_cost_asvspoof(sdd_tdcf_cost *c);

typedef struct {
    double eer, threshold;        /* ASV EER (target vs nontarget) and its threshold */
    double pfa, pmiss;            /* P(nontarget >= thr), P(target < thr) */
    double pmiss_spoof, pfa_spoof;/* P(spoof < thr), P(spoof >= thr); NaN with no spoofs */
    int64_t ntar, nnon, nspoof;
} sdd_asv_rates;

/* obtain_asv_error_rates at the ASV EER threshold. Needs targets and
 * nontargets; spoof trials may be absent (rates NaN). */
int sdd_asv_rates_compute(const double *tar, int64_t nt, const double *non, int64_t nn,
                          const double *spoof, int64_t ns, sdd_asv_rates *r, sdd_err *e);

typedef struct {
    int form;             /* sdd_tdcf_form */
    double c0, c1, c2;    /* 2019: c0 = 0 */
} sdd_tdcf_coef;

/* 2019 legacy: C1 = Ptar(Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv Pfa_asv,
 *              C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv); both must be >= 0.
 * 2021: C0 = Ptar Cmiss Pmiss_asv + Pnon Cfa Pfa_asv, C1 = Ptar Cmiss - C0,
 *       C2 = Pspoof Cfa_spoof Pfa_spoof_asv (as eval_wrapper.get_tDCF_C012).
 * Fails without spoof ASV trials. */
int sdd_tdcf_coef_compute(int form, const sdd_asv_rates *asv, const sdd_tdcf_cost *c,
                          sdd_tdcf_coef *k, sdd_err *e);

typedef struct {
    double min_tdcf;      /* minimum of the normalised t-DCF curve */
    double threshold;     /* CM threshold there (first argmin) */
    double pmiss_cm, pfa_cm;
    int64_t index;
} sdd_tdcf_result;

/* min t-DCF over the kept CM trials' DET curve:
 *   2019: (C1 Pmiss_cm + C2 Pfa_cm) / min(C1, C2)
 *   2021: (C0 + C1 Pmiss_cm + C2 Pfa_cm) / (C0 + min(C1, C2)).
 * Like the official code, refuses scores with fewer than 3 distinct values
 * ("min t-DCF needs soft scores: only N distinct CM score values"). */
int sdd_min_tdcf_sorted(const sdd_sorted *cm, const unsigned char *keep, const sdd_tdcf_coef *k,
                        sdd_tdcf_result *r, sdd_err *e);

/* ---- calibration ---- */

/* Cllr of the kept trials, reading scores as natural-log likelihood ratios
 * (bona fide vs spoof), and the minimum Cllr after the optimal monotonic
 * (PAV) recalibration; equal scores are pooled so they get the same LLR.
 * Both in bits. */
int sdd_cllr_sorted(const sdd_sorted *s, const unsigned char *keep, double *cllr,
                    double *min_cllr, sdd_err *e);

/* Inverse of the standard normal CDF (DET axes): -inf at 0, +inf at 1,
 * NaN outside [0, 1]. Accurate to a few ulp. */
double sdd_probit(double p);

/* ---- attack x condition table ---- */

/* Rows are attacks (a factor of spoof trials only: each row keeps all bona
 * fide trials), columns conditions such as codecs (a factor of both
 * classes); the last row and column are "pooled". Cell (r, c) = bona fide
 * trials of condition c vs spoof trials of attack r and condition c, exactly
 * as the 2021 eval-package's compute_decomposed_mintdcf_eer and the ASVspoof 5
 * evaluation package's calculate_minDCF_EER_CLLR_actDCF_full. */
typedef struct {
    int nrow, ncol;           /* including the pooled row/column */
    char **row_name;          /* nrow names, last "pooled" */
    char **col_name;          /* ncol names, last "pooled" */
    double *eer;              /* nrow * ncol, row-major; NaN when a class is empty */
    double *eer_threshold;
    double *min_tdcf;         /* NaN where no coefficients or scores not soft */
    double *min_dcf, *act_dcf;/* ASVspoof 5 minDCF / actDCF (metrics/dcf.h costs); NaN as eer */
    double *cllr;             /* Cllr in bits, scores read as LLRs; NaN as eer */
    int64_t *n_bona, *n_spoof;
} sdd_table;

/* row_of[i] / col_of[i]: attack / condition index of trial i (original
 * order), -1 when it has none (bona fide trials' attacks are ignored).
 * nrows / ncols: number of named attacks / conditions (0 allowed; names are
 * copied). coef: NULL (no t-DCF), or nrows+1 x ncols+1 coefficients
 * (form 0 or NaN in a cell = none for that cell). */
int sdd_table_compute(const sdd_sorted *cm, const int *row_of, const char *const *rows, int nrows,
                      const int *col_of, const char *const *cols, int ncols,
                      const sdd_tdcf_coef *coef, sdd_table *t, sdd_err *e);
void sdd_table_free(sdd_table *t);

#endif
