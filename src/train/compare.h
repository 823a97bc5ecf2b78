/* The regime comparison table (`sdd report --by-regime`, `make demo-compare`):
 * training runs read back by runlog.h are grouped by their regime (model,
 * paths, alignment, BatchNorm statistics from config.json; several seeds of
 * one regime form one group) and each group gets one row: the evaluation
 * sets' EERs, the final dev EER, the epoch of the best dev loss (epochs to
 * convergence) and the conflict rate, each as mean +- sample standard
 * deviation over the group's runs. */
#ifndef SDD_TRAIN_COMPARE_H
#define SDD_TRAIN_COMPARE_H
#include "core/error.h"
#include "train/runlog.h"

/* Per-run numbers the table is made of (NaN when the run has none). */
typedef struct {
    int best_loss_epoch;     /* 1-based epoch of the lowest dev loss; 0 when none */
    double conflict_rate;    /* conflicting steps / aligned steps over the whole run */
} sdd_compare_run;

void sdd_compare_run_stats(const sdd_runlog *r, sdd_compare_run *out);

/* The table as text (malloc'd; NULL with e set on failure). Groups keep
 * the order of their first run. */
char *sdd_compare_table(const sdd_runlog *runs, int n, sdd_err *e);

#endif
