/* Training recipes: JSON objects whose keys are `sdd train` option names
 * (see options.h) with string, number or array values. Built-in recipes are
 * recipes/NAME.json, embedded in the library at build time (recipe_data.c);
 * any other recipe is a file. Unknown keys, duplicate keys, values of the
 * wrong type and bad values are errors naming the file (and line). */
#ifndef SDD_TRAIN_RECIPE_H
#define SDD_TRAIN_RECIPE_H
#include "train/trainer.h"

/* Owns the strings a recipe's settings point to: keep it until the config is done with. */
typedef struct {
    char **s;
    int n, cap;
} sdd_recipe_store;

void sdd_recipe_store_init(sdd_recipe_store *st);
void sdd_recipe_store_free(sdd_recipe_store *st);

/* "aasist, aasist-l, dpda-xlsr" */
const char *sdd_recipe_builtin_names(void);
/* The JSON text of a built-in recipe, NULL if there is none of that name. */
const char *sdd_recipe_builtin(const char *name);
/* Applies recipe NAME (built-in) or FILE (a path: anything with a '/' or
 * ending in .json) to cfg; cfg->recipe records it. */
int sdd_recipe_apply(sdd_train_config *cfg, const char *name_or_file, sdd_recipe_store *st, sdd_err *e);
/* The same from text; `origin` names it in messages. */
int sdd_recipe_apply_text(sdd_train_config *cfg, const char *text, size_t len, const char *origin,
                          sdd_recipe_store *st, sdd_err *e);
/* --resume: 0 when the settings that decide what a run computes (model,
 * paths, batch, accum, cut, crop, seed, RawBoost algorithm; with two paths
 * also align and bn-stats) equal those in the run's config.json at path (0
 * too when there is none), else -1 naming the first that differs. Keys the
 * file lacks are not compared. The _text form takes the file's text. */
int sdd_recipe_check_resume(const sdd_train_config *cfg, const char *arch, const char *path, sdd_err *e);
int sdd_recipe_check_resume_text(const sdd_train_config *cfg, const char *arch, const char *text, size_t len, const char *origin,
                                 sdd_err *e);

#endif
