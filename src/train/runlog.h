/* Reading training runs back: RUNDIR/log.jsonl (the step, epoch, final and
 * eval records the training loop writes) and RUNDIR/config.json, summarised
 * per epoch for `sdd report`, and the convergence plot (dev EER and dev loss
 * against epoch for several runs) as SVG. Lines of unknown "type" are
 * skipped (newer writers); a last line without its newline is a record being
 * written and is skipped; anything else malformed is an error naming the
 * file and line. A repeated epoch (a resumed run) keeps its last record. */
#ifndef SDD_TRAIN_RUNLOG_H
#define SDD_TRAIN_RUNLOG_H
#include <stddef.h>
#include "core/error.h"

typedef struct {
    int epoch;
    long steps;
    double train_loss, dev_loss, dev_eer;   /* NaN when absent */
    double conflict_rate, mean_cos;         /* over the epoch's aligned steps; NaN when none */
    double seconds;
} sdd_runlog_epoch;

typedef struct {
    char name[64];
    int trials;
    double eer, loss;                       /* NaN when absent */
} sdd_runlog_eval;

typedef struct {
    sdd_runlog_epoch *ep;   /* ascending epoch */
    int nep;
    sdd_runlog_eval *ev;
    int nev;
    long steps;             /* step records */
    int has_final;
    int averaged;
    double final_dev_loss, final_dev_eer;
    /* from config.json (empty when absent) */
    char model[40], paths[16], align[16], bn_stats[16], recipe[64];
    char align_groups[16];   /* --align-groups; "whole" for a run from before it (sdd_runlog_init) */
} sdd_runlog;

void sdd_runlog_init(sdd_runlog *r);
void sdd_runlog_free(sdd_runlog *r);
/* log.jsonl text; origin names it in messages */
int sdd_runlog_parse_log(sdd_runlog *r, const char *text, size_t n, const char *origin, sdd_err *e);
/* config.json text */
int sdd_runlog_parse_config(sdd_runlog *r, const char *text, size_t n, const char *origin, sdd_err *e);
/* both files of RUNDIR (config.json optional) */
int sdd_runlog_load(sdd_runlog *r, const char *dir, sdd_err *e);
/* lowest dev EER over the epochs (NaN if none) and its epoch */
double sdd_runlog_best_eer(const sdd_runlog *r, int *epoch);

/* The convergence plot: dev EER (%) and dev loss per epoch, one line per
 * run, labels in the legend. Returns malloc'ed SVG text or NULL with e set. */
char *sdd_runlog_svg(const sdd_runlog *runs, const char *const *labels, int n, sdd_err *e);

#endif
