/* Bootstrap confidence intervals for the EER, minDCF and min t-DCF, and the
 * paired bootstrap of two systems' differences on the same trials (`sdd eval
 * --ci N [--compare FILE]`).
 * How much of a metric is the evaluation set's luck? A replicate draws, with
 * replacement, as many bona fide trials from the bona fide ones and as many
 * spoof trials from the spoof ones as the set has (a stratified bootstrap:
 * the class sizes, and so the metrics' definitions, stay those of the set),
 * and computes the official metrics (metrics.h, dcf.h) of that multiset. The
 * min t-DCF keeps the ASV system's error rates fixed (its coefficients come
 * from the whole set's ASV scores): only the CM trials are resampled. The
 * interval is the percentile interval of the replicates: numpy.quantile's
 * default ("linear") quantiles at (1 - level) / 2 and (1 + level) / 2.
 * Paired: the same draws for both systems (trials matched by ID), so the
 * replicates of metric(a) - metric(b) keep the correlation of the two
 * systems' errors; the two-sided p-value is 2 min(P(d* <= 0), P(d* >= 0)),
 * at most 1.
 * This measures the evaluation set's sampling variation only: two trainings
 * with different seeds differ by more (train several seeds: sdd train
 * --seeds, sdd report --by-regime).
 * Replicate k's draws come from the counter-based stream sdd_rng_key(seed,
 * k, 1, 0), so the result does not depend on the thread count. */
#ifndef SDD_METRICS_BOOTSTRAP_H
#define SDD_METRICS_BOOTSTRAP_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "core/error.h"
#include "metrics/metrics.h"
#include "metrics/dcf.h"

enum { SDD_BOOT_EER, SDD_BOOT_MINDCF, SDD_BOOT_TDCF, SDD_BOOT_NMETRIC };

/* The metrics of the multiset in which trial i (its input position,
 * s->orig) appears count[i] times, in one pass: each bit for bit what
 * sdd_eer_sorted, sdd_dcf_sorted (min_dcf) and sdd_min_tdcf_sorted give for
 * the trials so repeated (count 0: left out, as a keep mask's 0). v[] is NaN
 * for a metric not asked for (dc or tk NULL) and for the min t-DCF of fewer
 * than 3 distinct scores (not soft). Needs a trial of each class. */
typedef struct {
    double v[SDD_BOOT_NMETRIC];
    sdd_eer_result eer;
} sdd_count_metrics;
int sdd_metrics_counts(const sdd_sorted *s, const uint32_t *count, const sdd_dcf_cost *dc, const sdd_tdcf_coef *tk,
                       sdd_count_metrics *m, sdd_err *e);
/* The EER alone (sdd_metrics_counts without the costs). */
int sdd_eer_counts(const sdd_sorted *s, const uint32_t *count, sdd_eer_result *r, sdd_err *e);

/* numpy.quantile(v, q) with the default linear method, v sorted ascending,
 * n >= 1, 0 <= q <= 1 (numpy's own lerp, so the same bits). */
double sdd_quantile_sorted(const double *v, int64_t n, double q);

#define SDD_BOOT_MAX_REPS 1000000

typedef struct {
    int reps;                   /* replicates, 1..SDD_BOOT_MAX_REPS */
    double level;               /* coverage of the interval, in (0, 1) */
    uint64_t seed;
    const sdd_dcf_cost *dcf;    /* minDCF costs; NULL: no minDCF */
    const sdd_tdcf_coef *tdcf;  /* t-DCF form and ASV coefficients; NULL: no min t-DCF */
} sdd_boot_params;

typedef struct {
    int reps;
    double level;
    uint64_t seed;
    int64_t n_bona, n_spoof;    /* trials resampled per class (paired: the matched ones) */
    int paired;
    int has[SDD_BOOT_NMETRIC];  /* computed for the set and every replicate */
    double est[SDD_BOOT_NMETRIC], lo[SDD_BOOT_NMETRIC], hi[SDD_BOOT_NMETRIC];        /* system a */
    double est_b[SDD_BOOT_NMETRIC], lo_b[SDD_BOOT_NMETRIC], hi_b[SDD_BOOT_NMETRIC];  /* system b, same draws */
    double diff[SDD_BOOT_NMETRIC], diff_lo[SDD_BOOT_NMETRIC], diff_hi[SDD_BOOT_NMETRIC]; /* a - b */
    double p[SDD_BOOT_NMETRIC]; /* two-sided p-value of "no difference" */
    int64_t n_le[SDD_BOOT_NMETRIC], n_ge[SDD_BOOT_NMETRIC]; /* replicates with d* <= 0, d* >= 0 */
    int64_t tdcf_hard;          /* replicates whose min t-DCF was undefined (not soft): has[TDCF] 0 */
    int64_t unpaired_a, unpaired_b; /* trials of a (b) without a match in the other */
} sdd_boot_result;

/* Pairs the trials of a and b by ID: ida[i] and idb[j] are the IDs of the
 * trials at input positions i of a and j of b. b_of_a[i] = j, or -1 when b
 * has no trial with a's ID; *unpaired_b counts b's trials no trial of a
 * matched. A trial labelled differently in a and b, or an ID twice in one
 * system, is an error naming it. */
int sdd_boot_pair(const sdd_sorted *a, const char *const *ida, const sdd_sorted *b, const char *const *idb,
                  int64_t *b_of_a, int64_t *unpaired_a, int64_t *unpaired_b, sdd_err *e);

/* The stratified bootstrap of a's metrics; with b (and b_of_a from
 * sdd_boot_pair), the paired one over the matched trials. Needs a bona fide
 * and a spoof trial among those resampled. 0, or -1 with e set. */
int sdd_boot_run(const sdd_sorted *a, const sdd_sorted *b, const int64_t *b_of_a, const sdd_boot_params *p,
                 sdd_boot_result *r, sdd_err *e);

/* Several runs per system (sdd compare): runs a[s] and b[s] (s < S) are a
 * pair (the same training seed, say), every run scored on the same trials.
 * ma[s][i] (mb[s][i]) is the input position in run a[s] (b[s]) of trial i
 * of a[0] (ma[0][i] = i). The statistic is the mean over the pairs of
 * metric(a_s) - metric(b_s). Its interval and p-value come twice: with the
 * trials and the run pairs resampled (each replicate draws S pairs with
 * replacement after its trials: the training's seed-to-seed variation and
 * the evaluation set's luck together), and with the trials only (the runs
 * as they are). EER; with p->dcf, minDCF; with p->tdcf, the min t-DCF
 * (the ASV system's coefficients, the same for every run; NaN and no
 * interval where a run's scores are not soft). */
#define SDD_BOOT_MAX_RUNS 64
typedef struct {
    int runs, reps;
    double level;
    uint64_t seed;
    int64_t n_bona, n_spoof;
    int has[SDD_BOOT_NMETRIC];
    double a[SDD_BOOT_MAX_RUNS][SDD_BOOT_NMETRIC], b[SDD_BOOT_MAX_RUNS][SDD_BOOT_NMETRIC]; /* each run, whole set */
    double mean_a[SDD_BOOT_NMETRIC], mean_b[SDD_BOOT_NMETRIC], diff[SDD_BOOT_NMETRIC];
    double lo[SDD_BOOT_NMETRIC], hi[SDD_BOOT_NMETRIC], p[SDD_BOOT_NMETRIC];       /* runs and trials resampled */
    double lo_t[SDD_BOOT_NMETRIC], hi_t[SDD_BOOT_NMETRIC], p_t[SDD_BOOT_NMETRIC]; /* trials only */
} sdd_boot_runs_result;
int sdd_boot_runs(const sdd_sorted *const *a, const sdd_sorted *const *b, int S, const int64_t *const *ma,
                  const int64_t *const *mb, const sdd_boot_params *p, sdd_boot_runs_result *r, sdd_err *e);

/* ---- per attack and per condition (boot_table.c) ---- */

/* sdd_boot_run over the trials of a with keep[i] != 0 (i an input
 * position); b_of_a as sdd_boot_run's, for all of a's trials. The subset's
 * input positions are a's kept ones in input order, so the draws are those
 * of sdd_boot_run on a set of only those trials in that order.
 * r->unpaired_a counts the kept trials without a match. 0 or -1. */
int sdd_boot_run_subset(const sdd_sorted *a, const sdd_sorted *b, const int64_t *b_of_a, const unsigned char *keep,
                        const sdd_boot_params *p, sdd_boot_result *r, sdd_err *e);

/* sdd_boot_runs over the trials of a[0] with keep[i] != 0 (each run's
 * trials found through ma / mb): what sdd_boot_runs gives for score files
 * and a key holding only those trials. 0 or -1. */
int sdd_boot_runs_subset(const sdd_sorted *const *a, const sdd_sorted *const *b, int S, const int64_t *const *ma,
                         const int64_t *const *mb, const unsigned char *keep, const sdd_boot_params *p,
                         sdd_boot_runs_result *r, sdd_err *e);

/* Holm's step-down adjustment of n p-values: the j-th smallest (j from 0,
 * ties in index order) times m - j, m the number that are not NaN, capped at
 * 1, then made non-decreasing in that order. NaN stays NaN (left out of m).
 * 0, or -1 when out of memory. */
int sdd_holm(const double *p, int n, double *adj);

/* One factor of sdd eval's attack x condition table with a bootstrap per
 * entry. Entry i is the table's row i at the pooled column (an attack: its
 * spoof trials and every bona fide trial) or its column i at the pooled row
 * (a condition: its trials of both classes), as the table's cells; the last
 * entry is the pooled set (sdd eval's whole-set bootstrap). Each entry is
 * resampled on its own, its two classes stratified, from the same seed as
 * the whole set: an entry's interval is the one sdd eval --ci gives for a
 * key holding only its trials (in the same order). The min t-DCF uses the
 * cell's own ASV coefficients where the table has a min t-DCF there. */
typedef struct {
    int n;                /* entries, the last one pooled; 0: not computed */
    sdd_boot_result *r;   /* n; has[] all 0 where the entry lacks a class (or, paired, one both scored) */
    double *holm;         /* (n, SDD_BOOT_NMETRIC): paired, the p-values adjusted by sdd_holm over the
                             n - 1 named entries, a p of 0 (no replicate crossed 0) taken as its
                             bound 1 / reps (the pooled entry: its own p); NaN where none */
} sdd_boot_list;
void sdd_boot_list_free(sdd_boot_list *l);

/* A p-value as text: "p = 0.123", or "p < 0.001" (1 / reps) when no
 * replicate crossed 0. */
void sdd_boot_p_text(double p, int reps, char *buf, size_t n);
/* The same for a table's column: "0.123", "<0.001", "-" for NaN. reps 0:
 * p is printed as it is (a Holm-adjusted value, already an upper bound). */
void sdd_boot_p_cell(double p, int reps, char *buf, size_t n);
/* Text lines for sdd eval's summary; name_b names system b (its file). */
void sdd_boot_print(const sdd_boot_result *r, const char *name_b, FILE *f);
/* The result as a JSON object (sdd eval -o: "bootstrap"); NULL on OOM. */
json_t *sdd_boot_json(const sdd_boot_result *r, const char *name_b);

#endif
