/* Joins one or more CM score files by trial ID, with a key (for training a
 * calibration or a fusion) or without (for applying a fusion): the work
 * behind `sdd calibrate` and `sdd fuse`. IDs are matched as in `sdd eval`
 * (metrics/match.h: exact, base name, base name without extension). */
#ifndef SDD_METRICS_JOIN_H
#define SDD_METRICS_JOIN_H

#include <stdint.h>
#include "core/error.h"

typedef struct {
    int64_t n;            /* trials */
    int k;                /* score files */
    double *x;            /* (n, k) row-major: x[i * k + j] = score of trial i in file j */
    unsigned char *pos;   /* with a key: 1 bona fide, 0 spoof; else NULL */
    char **id;            /* trial IDs: the key's, or the first score file's */
    int64_t n_missing;    /* key trials skipped for want of a score (allow_missing) */
} sdd_joined;

/* With key (any format data/list.h reads; every trial labelled): one row
 * per key trial, in key order. A key trial without a score in some file is
 * an error naming the file, or with allow_missing skipped and counted. */
int sdd_join_keyed(const char *key, const char *const *scores, int k, int allow_missing, sdd_joined *j,
                   sdd_err *e);
/* Without a key: the trials of the first file, in its order; every other
 * file must score exactly the same trials. */
int sdd_join_plain(const char *const *scores, int k, sdd_joined *j, sdd_err *e);
void sdd_joined_free(sdd_joined *j);

#endif
