/* Evaluation of a CM score file against a key: the work behind `sdd eval`,
 * kept in the library so it can be tested and reused.
 *   scores + key (any format data/list.h parses, or none when the scores are
 *   an ASVspoof 2019 "utt src key score" file) -> joined by trial ID (exact,
 *   else base name, else base name without extension: metrics/match.h) ->
 *   EER, Cllr / min Cllr, min t-DCF (with ASV scores), the attack x condition
 *   table (per-attack EER of spoof vs all bona fide, per codec/condition EER
 *   of both classes, as the ASVspoof 2021 eval-package tables; for 2021 DF
 *   keys also the vocoder-type x codec table), DET curve; the ASVspoof 5
 *   minDCF and actDCF (metrics/dcf.h), pooled and per table cell; with SASV
 *   scores the a-DCF (metrics/sasv.h), pooled and per attack. An optional
 *   calibration (metrics/calibration.h) is applied to the CM scores first.
 * The library prints nothing: warnings are collected in the report. */
#ifndef SDD_METRICS_EVALUATE_H
#define SDD_METRICS_EVALUATE_H

#include <stdio.h>
#include <stdint.h>
#include "core/error.h"
#include "metrics/metrics.h"
#include "metrics/dcf.h"
#include "metrics/calibration.h"
#include "metrics/sasv.h"
#include "metrics/bootstrap.h"

typedef struct {
    const char *scores;     /* CM score file (required) */
    const char *key;        /* key/protocol; NULL only for 2019 CM score files */
    const char *asv_scores; /* ASV score file; NULL: no t-DCF */
    const char *asv_key;    /* ASVspoof 2021 ASV key for "asv_spk trial score" files */
    const char *asv_c012;   /* the 2021 eval-package's precomputed coefficients (LA-C012-eval.npy,
                               metrics/c012.h) instead of ASV scores: 2021-form min t-DCF, per
                               table cell C012[attack][codec]; excludes asv_scores */
    const char *subset;     /* NULL: "eval" when the key has a subset column; "all": no filter */
    int tdcf;               /* 0: 2021 for ASVspoof 2021 keys, else 2019; or SDD_TDCF_2019/2021 */
    int allow_missing;      /* key trials without a score are skipped (a warning) */
    int breakdown;          /* tables sdd_eval_print prints: 0 = both where the key has them,
                               or SDD_BREAKDOWN_* (asking for a factor the key lacks is a
                               warning); the report and JSON always hold every table */
    const sdd_calibration *calibration; /* applied to the CM scores (1 input); NULL: none */
    const char *sasv_scores;/* SASV scores for the a-DCF; NULL: none. With scores NULL,
                               only the a-DCF is computed */
    const char *sasv_key;   /* their track 2 key; NULL for labelled SASV score files */
    int sasv_sum;           /* SASV score = CM + ASV columns of the official file (metrics/sasv.h) */
    int keep_trial_ids;     /* keep each evaluated trial's ID in the report (trial_id), which
                               sdd_eval_bootstrap pairs trials by; off: no copy of them */
    int keep_breakdown;     /* keep each trial's attack and condition and the table cells' t-DCF
                               coefficients (row_of, col_of, cell_coef), which sdd_eval_bootstrap's
                               per-attack and per-condition lists need; off: not kept, no lists */
    int asv5_rates;         /* without asv_scores: min t-DCF (2021 form) from the ASVspoof 5
                               organisers' pooled ASV error rates, as the official package
                               does when no ASV scores are given; every table cell uses them */
} sdd_eval_opts;

/* Which factor of the attack x condition tables to print. */
enum { SDD_BREAKDOWN_ATTACK = 1, SDD_BREAKDOWN_CONDITION = 2, SDD_BREAKDOWN_BOTH = 3 };
/* "attack", "condition", "both" -> SDD_BREAKDOWN_*, else -1. */
int sdd_breakdown_parse(const char *s);

typedef struct {
    int key_format;         /* sdd_list_format, or -1 without a key */
    char subset[64];        /* subset used, "" when none */
    int64_t n_bona, n_spoof;
    int64_t n_missing;      /* key trials without a score (allow_missing) */
    int64_t n_unused;       /* scores whose ID is not in the key */
    int64_t n_matched[3];   /* evaluated trials whose score was found by sdd_match_rule
                               EXACT, BASENAME, STEM (all 0 without a key) */
    int breakdown;          /* opts.breakdown */
    int has_cm;             /* CM scores were evaluated (opts.scores) */
    int calibrated;         /* opts.calibration was applied */
    sdd_eer_result eer;
    double cllr, min_cllr;
    sdd_dcf_result dcf;     /* ASVspoof 5 minDCF / actDCF */
    int has_tdcf;           /* ASV scores, C012 coefficients or opts.asv5_rates were given */
    int tdcf_from_c012;     /* coefficients from opts.asv_c012 (the ASV rates are then NaN) */
    int tdcf_asv5_rates;    /* the t-DCF uses the ASVspoof 5 organisers' ASV error rates */
    int tdcf_form;
    sdd_asv_rates asv;
    sdd_tdcf_coef coef;
    sdd_tdcf_result tdcf;   /* min_tdcf NaN when not computable (see warnings) */
    int has_table;          /* attacks or conditions present */
    sdd_table table;
    char **col_tag;         /* per table column: official tag ("C1", ...) or NULL */
    int has_vocoder_table;  /* ASVspoof 2021 DF keys: the DF results table, rows = */
    sdd_table vocoder_table;/* vocoder type (spoof factor), same columns as table */
    sdd_sorted cm;          /* the joined trials, for the DET curve */
    char **trial_id;        /* (cm.n) ID of the trial at each input position (cm.orig): the
                               key's ID, or the score file's without a key (pairing, bootstrap.h);
                               NULL unless opts.keep_trial_ids */
    int *row_of, *col_of;   /* (cm.n) table row (attack) and column (condition) of the trial at each
                               input position, -1 for none; NULL unless opts.keep_breakdown */
    sdd_tdcf_coef *cell_coef; /* (table.nrow * ncol) t-DCF coefficients of each table cell (form 0:
                               none); NULL without a t-DCF or unless opts.keep_breakdown */
    int has_boot;           /* set by sdd_eval_bootstrap: printed, in the JSON */
    sdd_boot_result boot;
    sdd_boot_list boot_attack, boot_cond; /* per attack / condition (n 0: none), as r->breakdown asks */
    int *voc_of;            /* (cm.n) 2021 DF keys: the vocoder table's row of each trial, -1 for none;
                               NULL unless opts.keep_breakdown */
    sdd_boot_list boot_vocoder;  /* per vocoder type (DF keys, with the attack list) */
    const char *boot_name;  /* the compared system's score file (boot.paired) */
    int has_adcf;           /* SASV scores were given */
    sdd_adcf_result adcf;   /* pooled a-DCF */
    sdd_adcf_attacks adcf_attacks; /* per attack (track 2 trial lists name them) */
    char **warnings;
    int nwarn;
} sdd_eval_report;

/* Runs the evaluation. 0, or -1 with e set ("FILE[:LINE]: reason") and *r
 * empty. */
int sdd_eval_run(const sdd_eval_opts *o, sdd_eval_report *r, sdd_err *e);
void sdd_eval_report_free(sdd_eval_report *r);
/* The bootstrap interval of r's EER (bootstrap.h), or with rb (the same
 * evaluation of a second score file, named name_b) the paired comparison;
 * stored in r (has_boot), so sdd_eval_print and the JSON report include it.
 * With the attack x condition table, and r's row_of/col_of, also per attack
 * and per condition (the factors r->breakdown asks for: both when 0), into
 * r->boot_attack and r->boot_cond, and for 2021 DF keys per vocoder type
 * (with the attacks) into r->boot_vocoder.
 * Both reports must come from sdd_eval_run with keep_trial_ids.
 * Trials of either system without a match in the other are left out when
 * allow_unpaired (counted in r->boot.unpaired_a/_b), else they are an
 * error. 0 or -1. */
int sdd_eval_bootstrap(sdd_eval_report *r, const sdd_eval_report *rb, const char *name_b, const sdd_boot_params *p,
                       int allow_unpaired, sdd_err *e);

/* The per-attack and per-condition lists of sdd_eval_bootstrap (boot_table.c):
 * computing them (b_of_a: the pairing with rb, NULL unpaired), their text
 * (sdd_eval_print), and their JSON as the "per_attack", "per_condition" and
 * "per_vocoder" keys of the report's "bootstrap" object. */
int sdd_eval_bootstrap_lists(sdd_eval_report *r, const sdd_eval_report *rb, const int64_t *b_of_a,
                             const sdd_boot_params *p, sdd_err *e);
void sdd_eval_print_boot_lists(const sdd_eval_report *r, FILE *f);
/* An entry of the table's factor as printed: attack i (by_row), or
 * condition i with its official tag ("C2:alaw") written into buf. */
const char *sdd_eval_entry_name(const sdd_eval_report *r, int by_row, int i, char *buf, size_t n);
void sdd_eval_boot_lists_json(const sdd_eval_report *r, json_t *boot);

/* sdd compare's lists: one factor (SDD_FACTOR_*: attacks, conditions, or
 * the vocoder types of 2021 DF keys) of the tables of rep, the first run's report (a[0] == &rep->cm, evaluated with
 * keep_breakdown), each entry's trials bootstrapped over the runs as
 * sdd_boot_runs does (sdd_boot_runs_subset); with p->tdcf, each entry's
 * min t-DCF with its table cell's coefficients, where the table has one.
 * l->n 0 when the table lacks the factor. */
typedef struct {
    int n;                      /* entries, the last one pooled; 0: none */
    sdd_boot_runs_result *r;    /* n; has[] all 0 where the entry lacks a class */
    double *holm;               /* (n, SDD_BOOT_NMETRIC): the runs-and-trials p adjusted by Holm over the
                                   n - 1 named entries, a p of 0 as 1 / reps (pooled: its own p) */
} sdd_boot_runs_list;
void sdd_boot_runs_list_free(sdd_boot_runs_list *l);
enum { SDD_FACTOR_ATTACK = 0, SDD_FACTOR_CONDITION = 1, SDD_FACTOR_VOCODER = 2, SDD_FACTOR_N = 3 };
int sdd_compare_list(const sdd_eval_report *rep, int factor, const sdd_sorted *const *a, const sdd_sorted *const *b,
                     int S, const int64_t *const *ma, const int64_t *const *mb, const sdd_boot_params *p,
                     sdd_boot_runs_list *l, sdd_err *e);
/* A factor's word ("attack", "condition", "vocoder type"), and entry i's
 * name as printed (a condition with its official tag, in buf) and as data. */
const char *sdd_eval_factor_what(int factor);
const char *sdd_eval_factor_entry(const sdd_eval_report *r, int factor, int i, int printed, char *buf, size_t n);

/* Human-readable summary and the tables selected by r->breakdown: "both"
 * prints the attack x condition matrix (a list when the key has only one
 * factor), "attack" the per-attack list (each attack's spoof trials vs all
 * bona fide, every condition pooled), "condition" the per-condition list
 * (attacks pooled). Cells that cannot be computed (a class without trials;
 * min t-DCF without soft scores or ASV scores) print as "-". */
void sdd_eval_print(const sdd_eval_report *r, FILE *f);
/* JSON report (full precision, NaN as null). 0 or -1. */
int sdd_eval_write_json(const sdd_eval_report *r, const sdd_eval_opts *o, FILE *f, sdd_err *e);
/* DET curve as TSV: header "threshold far frr probit_far probit_frr", one
 * row per corner of the official DET staircase (points inside a straight
 * run are left out; the curve drawn through the rows is unchanged). */
int sdd_eval_write_det(const sdd_eval_report *r, FILE *f, sdd_err *e);
/* DET curve as a standalone SVG image (det_svg.c): both axes probit-scaled
 * with ticks at 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 40, 50 % (the range
 * widens to 0.01 % / 0.001 % for a lower EER and to 99 % for an EER above
 * 45 %), x = spoof accepted (false acceptance), y = bona fide rejected (false
 * rejection), the curve as one <polyline id="det"> through the staircase's
 * corners (points closer than half a pixel merged; the EER point is always a
 * vertex), the EER point as <circle id="eer"> on it, the y = x diagonal,
 * axis labels and a title with the EER; label (may be NULL, e.g. the score
 * file) goes in the subtitle. Points beyond the axes are clipped. */
int sdd_eval_write_det_svg(const sdd_eval_report *r, const char *label, FILE *f, sdd_err *e);

#endif
