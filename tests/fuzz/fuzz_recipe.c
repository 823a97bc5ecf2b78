/* libFuzzer target for the recipe reader (src/train/recipe.c) and the named
 * training options (src/train/options.c). Contract: failure gives -1 and one
 * line starting with the origin name; success gives a configuration whose
 * config.json, read back as a recipe, succeeds and writes the same JSON.
 * The same input as a run's config.json checked by --resume: 0, or -1 with
 * one line starting with the origin; a configuration's own config.json
 * always matches it. */
#include "train/options.h"
#include "train/recipe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static sdd_train_config blank(void)
{
    sdd_train_config c;
    memset(&c, 0, sizeof c);
    sdd_rawboost_default_params(&c.rb);
    /* valid where zero is not (sdd_train_default_config lives with the training loop) */
    c.batch = c.accum = c.epochs = c.patience = c.n_best = 1;
    c.cut = 64600;
    c.step.class_weight[0] = 0.1f;
    c.step.class_weight[1] = 0.9f;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdd_recipe_store st;
    sdd_recipe_store_init(&st);
    sdd_train_config c = blank();
    sdd_err e = { "" };
    int rc = sdd_recipe_apply_text(&c, (const char *)data, size, "fuzz", &st, &e);
    if (rc == 0) {
        char *j1 = sdd_train_config_json(&c, c.arch ? c.arch : "AASIST", &e);
        if (!j1) __builtin_trap();
        sdd_recipe_store st2;
        sdd_recipe_store_init(&st2);
        sdd_train_config d = blank();
        if (sdd_recipe_apply_text(&d, j1, strlen(j1), "config", &st2, &e)) __builtin_trap();
        char *j2 = sdd_train_config_json(&d, d.arch ? d.arch : "AASIST", &e);
        if (!j2 || strcmp(j1, j2)) __builtin_trap();
        if (sdd_recipe_check_resume_text(&c, c.arch ? c.arch : "AASIST", j1, strlen(j1), "config", &e)) __builtin_trap();
        free(j1);
        free(j2);
        sdd_recipe_store_free(&st2);
    } else {
        if (rc != -1 || strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n')) __builtin_trap();
    }
    sdd_train_config r = blank();
    e.msg[0] = 0;
    rc = sdd_recipe_check_resume_text(&r, "AASIST", (const char *)data, size, "fuzz", &e);
    if (rc != 0 && (rc != -1 || strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n'))) __builtin_trap();
    sdd_recipe_store_free(&st);
    return 0;
}
