/* Several seeds of one training run (`sdd train --seeds 1,2,3`): each seed
 * trains into OUT/seed-S with the same settings, then OUT/summary.txt (also
 * returned) gives each run's final dev EER and evaluation EERs and their mean
 * and sample standard deviation over the seeds. With cfg->resume, a seed
 * whose log already has its final record is not trained again. */
#ifndef SDD_TRAIN_SEEDS_H
#define SDD_TRAIN_SEEDS_H
#include "train/trainer.h"

#define SDD_TRAIN_MAX_SEEDS 64

/* "1,2,3" -> seeds (at most SDD_TRAIN_MAX_SEEDS, distinct, 0..2^31-1); the count or -1 */
int sdd_seeds_parse(const char *s, uint64_t *seeds, sdd_err *e);
/* 1 when NAME is the folder name of one seed's run, "seed-S" (S: 1 to 12
 * digits), with S in *seed (may be NULL); else 0. The one test of a
 * --seeds folder's entries, for the trainer's checks and sdd report. */
int sdd_seed_dir_name(const char *name, long long *seed);
/* summary: malloc'ed text (may be NULL) */
int sdd_train_seeds(const sdd_train_config *cfg, const uint64_t *seeds, int n, char **summary, sdd_err *e);

#endif
