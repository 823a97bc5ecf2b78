/* Bootstrap confidence intervals for the EER, and the paired bootstrap of
 * two systems' EER difference on the same trials (`sdd eval --ci N
 * [--compare FILE]`).
 * How much of an EER is the evaluation set's luck? A replicate draws, with
 * replacement, as many bona fide trials from the bona fide ones and as many
 * spoof trials from the spoof ones as the set has (a stratified bootstrap:
 * the class sizes, and so the EER's definition, stay those of the set), and
 * computes the official EER (metrics.h) of that multiset. The interval is
 * the percentile interval of the replicates: numpy.quantile's default
 * ("linear") quantiles at (1 - level) / 2 and (1 + level) / 2. Paired: the
 * same draws for both systems (trials matched by ID), so the replicates of
 * EER(a) - EER(b) keep the correlation of the two systems' errors; the
 * two-sided p-value is 2 min(P(d* <= 0), P(d* >= 0)), at most 1.
 * This measures the evaluation set's sampling variation only: two trainings
 * with different seeds differ by more (train several seeds: sdd train
 * --seeds, sdd report --by-regime).
 * Replicate k's draws come from the counter-based stream sdd_rng_key(seed,
 * k, 1, 0), so the result does not depend on the thread count. */
#ifndef SDD_METRICS_BOOTSTRAP_H
#define SDD_METRICS_BOOTSTRAP_H

#include <stdint.h>
#include <stdio.h>
#include "core/error.h"
#include "metrics/metrics.h"
#include <jansson.h>

/* The EER of the multiset in which trial i (its input position, s->orig)
 * appears count[i] times: bit for bit sdd_eer_sorted of the trials so
 * repeated (count 0: left out, as a keep mask's 0). */
int sdd_eer_counts(const sdd_sorted *s, const uint32_t *count, sdd_eer_result *r, sdd_err *e);

/* numpy.quantile(v, q) with the default linear method, v sorted
 * ascending, n >= 1, 0 <= q <= 1 (numpy's own lerp, so the same bits). */
double sdd_quantile_sorted(const double *v, int64_t n, double q);

#define SDD_BOOT_MAX_REPS 1000000

typedef struct {
    int reps;          /* replicates, 1..SDD_BOOT_MAX_REPS */
    double level;      /* coverage of the interval, in (0, 1) */
    uint64_t seed;
} sdd_boot_params;

typedef struct {
    int reps;
    double level;
    uint64_t seed;
    int64_t n_bona, n_spoof;  /* trials resampled per class (paired: the matched ones) */
    double eer, lo, hi;       /* system a: EER of the trials resampled, interval */
    int paired;
    double eer_b, lo_b, hi_b; /* system b, same draws */
    double diff, diff_lo, diff_hi;  /* EER(a) - EER(b) and its interval */
    double p;                 /* two-sided p-value of "no difference" */
    int64_t n_le, n_ge;       /* replicates with d* <= 0, d* >= 0 */
    int64_t unpaired_a, unpaired_b; /* trials of a (b) without a match in the other */
} sdd_boot_result;

/* Pairs the trials of a and b by ID: ida[i] and idb[j] are the IDs of the
 * trials at input positions i of a and j of b. b_of_a[i] = j, or -1 when b
 * has no trial with a's ID; *unpaired_b counts b's trials no trial of a
 * matched. A trial labelled differently in a and b, or an ID twice in one
 * system, is an error naming it. */
int sdd_boot_pair(const sdd_sorted *a, const char *const *ida, const sdd_sorted *b, const char *const *idb,
                  int64_t *b_of_a, int64_t *unpaired_a, int64_t *unpaired_b, sdd_err *e);

/* The stratified bootstrap of a's EER; with b (and b_of_a from
 * sdd_boot_pair), the paired one over the matched trials. Needs a bona fide
 * and a spoof trial among those resampled. 0, or -1 with e set. */
int sdd_boot_eer(const sdd_sorted *a, const sdd_sorted *b, const int64_t *b_of_a, const sdd_boot_params *p,
                 sdd_boot_result *r, sdd_err *e);

/* Text lines for sdd eval's summary; name_b names system b (its file). */
void sdd_boot_print(const sdd_boot_result *r, const char *name_b, FILE *f);

/* The result as a JSON object (sdd eval -o: "bootstrap"); NULL on OOM. */
json_t *sdd_boot_json(const sdd_boot_result *r, const char *name_b);

#endif
