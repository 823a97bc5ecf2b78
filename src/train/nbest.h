/* The n-best list of a training run (trainer.c): the epochs with the lowest
 * selection metric (dev loss, or dev EER), kept as model files in the run
 * folder, RUN/best-epochNNN.safetensors, with the epoch and the metric in
 * their metadata (a 300M-parameter model would otherwise hold n x 1.27 GB of
 * copies in memory, and the state would carry them all every epoch). The
 * state names the files (nbest_file.K) and their values (nbest_loss.K);
 * files that no state names any more are removed after each state
 * (sdd_nbest_prune), so an interrupted run never loses one it needs. The
 * lead rank of a data-parallel run writes and removes the files; every rank
 * reads them, after a collective. The final model is their mean. */
#ifndef SDD_TRAIN_NBEST_H
#define SDD_TRAIN_NBEST_H
#include "core/error.h"
#include "io/tensorset.h"
#include "models/model.h"

typedef struct {
    int cap, n;             /* the list's size (--n-best) and its entries */
    double *crit;           /* (cap) selection values, ascending */
    char (*file)[64];       /* (cap) snapshot file names in dir */
    float **embedded;       /* (cap) parameter blocks of a state of an older sdd, until sdd_nbest_prepare */
    const char *dir;        /* the run folder */
    const char *metric;     /* "dev_loss" or "dev_eer": the snapshots' metadata key */
} sdd_nbest;

int sdd_nbest_init(sdd_nbest *nb, int cap, const char *dir, int select_eer, sdd_err *e);
void sdd_nbest_free(sdd_nbest *nb);
/* Enters epoch `epoch` with value crit when it is among the best: the lead
 * rank writes m's current weights as its snapshot file first. */
int sdd_nbest_insert(sdd_nbest *nb, const sdd_model *m, int epoch, double crit, int lead, sdd_err *e);
/* The list as state metadata (nbest_file.K, nbest_loss.K). */
int sdd_nbest_to_state(const sdd_nbest *nb, sdd_tensorset *state, sdd_err *e);
/* Reads `count` entries from a state (`path` names it in errors): the file
 * names (checked: best-epochN or best-stateN, no path) and values, or the
 * parameter blocks (`bytes` each) a state of an older sdd embeds, read with
 * sdd_tensor_read (from memory, or from the state file of a set from
 * sdd_safetensors_open). Opens no other file. */
int sdd_nbest_from_state(sdd_nbest *nb, const sdd_tensorset *state, long count, size_t bytes, const char *path, sdd_err *e);
/* Before a resumed run goes on: embedded blocks become files best-stateK
 * (lead rank; removed again when one fails), then every rank checks every
 * file (sdd_model_open_weights, and the metric in its metadata against the
 * state's value), and the lead removes files the list does not name. */
int sdd_nbest_prepare(sdd_nbest *nb, sdd_model *m, int lead, const char *state_path, sdd_err *e);
/* Removes the snapshot files of dir that the list does not name (best-epochN
 * and best-stateN only: other files are the user's). */
void sdd_nbest_prune(const sdd_nbest *nb);
/* m's weights become the mean of the snapshots, in list order (sdd_model_average). */
int sdd_nbest_average(const sdd_nbest *nb, sdd_model *m, sdd_err *e);

#endif
