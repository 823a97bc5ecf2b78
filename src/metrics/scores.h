/* Score-file readers for evaluation.
 * CM (countermeasure) score files, format detected from the first data line:
 *   ID SCORE [EXTRA...]    sdd's own output (EXTRA, e.g. a thresholded label,
 *                          is ignored) and the ASVspoof 2021 "trial score"
 *   UTT SRC KEY SCORE      ASVspoof 2019 CM score file (clovaai/aasist): SRC is
 *                          the attack ("-" for bona fide), KEY bonafide|spoof;
 *                          these files carry their own ground truth.
 * ASV score files, for the t-DCF:
 *   ... KEY SCORE          KEY target|nontarget|spoof in the second-to-last
 *                          column, SCORE last (ASVspoof 2019
 *                          "SPK KEY SCORE" files and the longer tDCF v2 ones)
 *   ASV_SPK TRIAL SCORE    ASVspoof 2021, paired line by line with the ASV key
 *                          "spk trial codec trans attack label trim subset"
 *                          (label target|nontarget|spoof), as the 2021
 *                          eval-package does.
 * Every line of a file has the same column count. Blank lines, whole-line
 * '#' comments, a UTF-8 BOM, CRLF line ends and extra spaces or tabs are
 * accepted. Scores must be finite decimal numbers; IDs unique. Errors are
 * one line "FILE:LINE: reason" (or "FILE: reason"). */
#ifndef SDD_METRICS_SCORES_H
#define SDD_METRICS_SCORES_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

typedef enum { SDD_SCORES_ID_SCORE = 1, SDD_SCORES_CM2019 = 2 } sdd_scores_format;

typedef struct {
    int64_t n;
    char **id;            /* unique trial IDs, file order */
    double *score;
    int *line;            /* 1-based line of each entry */
    int ncols;            /* columns per line */
    int format;           /* sdd_scores_format */
    char **src;           /* CM2019: attack column, NULL for "-"/"bonafide"; else NULL array */
    signed char *label;   /* CM2019: 1 bona fide, 0 spoof; else NULL array */
    /* private */
    char *pool_;
    int64_t *hash_;
    size_t hcap_;
} sdd_scores;

/* Reads a CM score file. 0, or -1 with e set and *s empty. */
int sdd_scores_load(const char *path, sdd_scores *s, sdd_err *e);
/* The same from len bytes of memory (need not be NUL-terminated); name is
 * used in messages. */
int sdd_scores_load_mem(const char *buf, size_t len, const char *name, sdd_scores *s, sdd_err *e);
/* Index of ID, or -1. */
int64_t sdd_scores_find(const sdd_scores *s, const char *id);
void sdd_scores_free(sdd_scores *s);

typedef enum { SDD_ASV_TARGET = 0, SDD_ASV_NONTARGET = 1, SDD_ASV_SPOOF = 2 } sdd_asv_class;

typedef struct {
    int64_t n;
    double *score;
    unsigned char *cls;   /* sdd_asv_class */
    int *line;            /* line in the score file */
    char **attack;        /* with a key: attack column, NULL for "-"/"bonafide"; else NULL array */
    char **codec;         /* with a key: codec column; else NULL array */
    /* private */
    char *pool_;
} sdd_asv_scores;

/* Reads ASV scores. key_path NULL: labelled "... KEY SCORE" lines. With a
 * key: "ASV_SPK TRIAL SCORE" lines paired with the key's lines (same count,
 * same trial IDs), then only the key's subset `subset` is kept (NULL or
 * "all": everything). */
int sdd_asv_load(const char *path, const char *key_path, const char *subset, sdd_asv_scores *a,
                 sdd_err *e);
/* Labelled form from memory (no key). */
int sdd_asv_load_mem(const char *buf, size_t len, const char *name, sdd_asv_scores *a, sdd_err *e);
void sdd_asv_free(sdd_asv_scores *a);

/* "target", "nontarget", "spoof" (case-insensitive) -> class, else -1. */
int sdd_asv_class_parse(const char *s);

#endif
