/* Every setting of a training run by name. The `sdd train` options (without
 * the leading "--"), the keys of recipe files and the keys of a run's
 * RUNDIR/config.json are the same names, applied by one function and written
 * by one function, so the command line, the recipes and the recorded
 * configuration cannot drift apart (a config.json is itself a recipe). */
#ifndef SDD_TRAIN_OPTIONS_H
#define SDD_TRAIN_OPTIONS_H
#include "train/trainer.h"

/* Sets option KEY (no dashes) from its text VALUE. `shown` names it in
 * messages ("--batch" on the command line, "\"batch\"" in a file).
 * Returns 0, -1 with e set when the value is bad, 1 when KEY is no option.
 * String values are kept by pointer: they must outlive cfg. */
int sdd_train_option(sdd_train_config *cfg, const char *key, const char *value, const char *shown, sdd_err *e);
/* An --eval set's NAME=LIST:DIR: its form, and a NAME none of cfg's first
 * `before` sets has (their scores would go to the same scores_NAME.txt).
 * 0, or -1 with e set. */
int sdd_train_check_eval(const sdd_train_config *cfg, int before, const char *spec, sdd_err *e);
/* Options that take a list of strings (each element applied in turn). */
int sdd_train_option_is_list(const char *key);
/* Keys a recipe may hold that are not settings ("description", "recipe"). */
int sdd_train_option_is_info(const char *key);
/* The resolved settings as a JSON object, every option by name, 2-space
 * indented, newline-terminated; malloc'ed, NULL with e set on failure. */
char *sdd_train_config_json(const sdd_train_config *cfg, const char *arch, sdd_err *e);

#endif
