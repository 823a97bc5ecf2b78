/* SASV (spoofing-aware speaker verification) scores and keys for the a-DCF
 * of the ASVspoof 5 evaluation plan (metrics/dcf.h). A trial is a (target
 * speaker, utterance) pair. Whitespace-separated files (tabs or spaces), an
 * optional header line (starting "spk", or naming a "score" or "label"
 * column), blank lines, '#' comments, a UTF-8 BOM and CRLF are accepted.
 * Score files:
 *   SPK FILE SCORE                       one SASV score per trial
 *   SPK FILE CM ASV SASV                 the official ASVspoof 5 track 2 file
 *                                        (CM and ASV may be "-"; SASV is used,
 *                                        or with sum_cm_asv CM + ASV: the
 *                                        score-sum fusion of the SASV 2022
 *                                        baseline, SASV then may be "-")
 *   SPK FILE SCORE KEY                   labelled (a_dcf.py input): KEY
 *                                        target|nontarget|spoof, no key file needed
 * Key files:
 *   SPK FILE CM_LABEL ASV_LABEL          the official track 2 key
 *   SPK FILE GENDER ATTACK ASV_KEY       ASVspoof5.{dev,eval}.track_2.trial.tsv
 * Every key trial needs a score and every score a key trial (as the official
 * package asserts); errors are one line "FILE:LINE: reason". */
#ifndef SDD_METRICS_SASV_H
#define SDD_METRICS_SASV_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "metrics/dcf.h"

typedef struct {
    int64_t n;
    double *score;         /* SASV score */
    unsigned char *cls;    /* sdd_asv_class: 0 target, 1 nontarget, 2 spoof */
    char **attack;         /* attack of spoof trials (track 2 trial lists), else NULL entries */
    /* private */
    char *pool_;
} sdd_sasv;

/* Reads scores (and key, NULL for a labelled score file). 0, or -1 with e
 * set and *s empty. */
int sdd_sasv_load(const char *scores, const char *key, int sum_cm_asv, sdd_sasv *s, sdd_err *e);
/* The same from memory (the key as a second buffer, or NULL). */
int sdd_sasv_load_mem(const char *sbuf, size_t slen, const char *sname, const char *kbuf, size_t klen,
                      const char *kname, int sum_cm_asv, sdd_sasv *s, sdd_err *e);
void sdd_sasv_free(sdd_sasv *s);

/* The a-DCF per attack: row i keeps all target and nontarget trials and the
 * spoof trials of attack name[i] (sorted names), as the official
 * calculate_aDCF_tdcf_tEER_full; n = 0 when the key names no attacks. */
typedef struct {
    int n;
    char **name;
    sdd_adcf_result *r;
} sdd_adcf_attacks;

/* The pooled a-DCF of s and, when attacks is not NULL, the per-attack rows. */
int sdd_sasv_adcf(const sdd_sasv *s, const sdd_adcf_cost *c, sdd_adcf_result *pooled, sdd_adcf_attacks *attacks,
                  sdd_err *e);
void sdd_adcf_attacks_free(sdd_adcf_attacks *a);

#endif
