/* Training recipes and named options: the built-in recipes hold the
 * recipes' documented settings and are the shipped recipes/NAME.json files;
 * a run's config.json read back as a recipe gives the same settings; bad
 * recipes fail with one line naming the file (and key or line); the XLS-R
 * recipe fails clearly while the model is not in the registry; on the command
 * line explicit options override the recipe. */
#include "check.h"
#include "train/recipe.h"
#include "train/options.h"
#include "models/model.h"
#include "cli_run.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[256];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = calloc(1, 1 << 16);
    size_t n = fread(b, 1, (1 << 16) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

/* whether the registry has the XLS-R model yet (another part of the project adds it) */
static int xlsr_built(void)
{
    const char *a = sdd_model_archs(), *p = strstr(a, "XLSR-AASIST");
    return p && (p == a || p[-1] == ' ') && (p[11] == 0 || p[11] == ',');
}

static void builtins(void)
{
    sdd_err e;
    const char *names[3] = { "aasist", "aasist-l", "dpda-xlsr" };
    for (int k = 0; k < 3; k++) {
        char path[128];
        snprintf(path, sizeof path, "recipes/%s.json", names[k]);
        char *file = slurp(path);
        const char *emb = sdd_recipe_builtin(names[k]);
        CHECK_MSG(file && emb && !strcmp(file, emb), "built-in %s differs from %s (rebuild)", names[k], path);
        free(file);
    }
    CHECK(sdd_recipe_builtin("nope") == NULL);
    sdd_recipe_store st;
    sdd_recipe_store_init(&st);
    sdd_train_config c = sdd_train_default_config();
    CHECK_MSG(sdd_recipe_apply(&c, "aasist", &st, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(c.arch, "AASIST") && c.adam.lr == 1e-4 && c.adam.weight_decay == 1e-4 && c.lr_schedule == SDD_LR_COSINE);
    CHECK(c.lr_min == 5e-6 && c.batch == 24 && c.epochs == 100 && c.cut == 64600 && c.select_eer == 1);
    CHECK(c.step.paths == SDD_PATHS_ORIG && c.step.align == SDD_ALIGN_NONE && c.bn_recompute == -1);
    CHECK(c.step.class_weight[0] == 0.1f && c.step.class_weight[1] == 0.9f);
    CHECK(c.recipe && !strcmp(c.recipe, "aasist"));
    c = sdd_train_default_config();
    /* the measured default (README, per-path vs joint): joint statistics, and
     * the AASIST recipes keep it for --paths dual (they do not set it) */
    CHECK(c.step.bn_stats == SDD_BN_JOINT && c.step.paths == SDD_PATHS_DUAL && c.step.align == SDD_ALIGN_PCGRAD);
    CHECK(sdd_recipe_apply(&c, "aasist-l", &st, &e) == 0 && !strcmp(c.arch, "AASIST-L") && c.lr_schedule == SDD_LR_COSINE);
    CHECK(c.step.bn_stats == SDD_BN_JOINT);
    c = sdd_train_default_config();
    CHECK_MSG(sdd_recipe_apply(&c, "dpda-xlsr", &st, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(c.arch, "XLSR-AASIST") && c.adam.lr == 1e-6 && c.adam.weight_decay == 1e-4 && c.batch == 5);
    CHECK(c.cut == 66800 && c.rb_algo == 4 && c.patience == 7 && c.step.paths == SDD_PATHS_DUAL && c.step.align == SDD_ALIGN_PCGRAD);
    CHECK(c.step.bn_stats == SDD_BN_JOINT && c.lr_schedule == SDD_LR_CONST && c.select_eer == 0);
    /* training with it says the model is missing, before touching the data */
    c.train_list = c.dev_list = "/nonexistent.txt";
    c.out_dir = tmp;
    c.quiet = 1;
    CHECK(sdd_train_run(&c, &e) == -1);
    if (xlsr_built()) CHECK_STR_CONTAINS(e.msg, "/nonexistent.txt");   /* the model exists: the data is what fails */
    else CHECK_STR_CONTAINS(e.msg, "model 'XLSR-AASIST' (recipe dpda-xlsr) is not available in this build");
    /* --ssl-recompute off on a model without XLS-R: refused before the data is read */
    c = sdd_train_default_config();
    c.arch = "AASIST-L";
    c.ssl_recompute = 0;
    c.train_list = c.dev_list = "/nonexistent.txt";
    c.out_dir = tmp;
    c.quiet = 1;
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--ssl-recompute off: AASIST-L has no XLS-R front end");
    sdd_recipe_store_free(&st);
}

/* config.json of a configuration, applied as a recipe to the defaults, writes the same config.json */
static void round_trip(void)
{
    sdd_err e;
    sdd_recipe_store st;
    sdd_recipe_store_init(&st);
    sdd_train_config c = sdd_train_default_config();
    c.train_list = "a \"quoted\" list.txt";
    c.train_audio = "dir\\x";
    c.dev_list = "dev.txt";
    c.eval_spec[0] = "itw=meta.csv:/data/itw";
    c.eval_spec[1] = "la=x.txt:y";
    c.neval = 2;
    c.adam.lr = 1.2345678901234567e-5;
    c.step.class_weight[0] = 0.3f;
    c.accum = 3;
    c.bn_recompute = 7;
    c.ssl_recompute = 0;
    c.rb.SNRmax = 33.25;
    c.rb.N_f = 3;
    char *j1 = sdd_train_config_json(&c, "AASIST-L", &e);
    CHECK(j1 != NULL);
    sdd_train_config d = sdd_train_default_config();
    CHECK_MSG(sdd_recipe_apply_text(&d, j1, strlen(j1), "config.json", &st, &e) == 0, "%s", e.msg);
    char *j2 = sdd_train_config_json(&d, d.arch, &e);
    CHECK_MSG(j1 && j2 && !strcmp(j1, j2), "config.json does not round-trip:\n%s\n---\n%s", j1, j2);
    CHECK(d.adam.lr == c.adam.lr && d.neval == 2 && !strcmp(d.eval_spec[1], "la=x.txt:y") && d.rb.SNRmax == 33.25);
    CHECK(d.ssl_recompute == 0 && j1 && strstr(j1, "\"ssl-recompute\": \"off\""));
    free(j1);
    free(j2);
    /* a -0 (fuzz_recipe found "lr": -0e3 written as -0, read back as the integer 0) round-trips as 0 */
    sdd_train_config z = sdd_train_default_config();
    CHECK(sdd_recipe_apply_text(&z, "{\"lr\": -0e3, \"rb-ming\": -0.0}", 29, "neg0", &st, &e) == 0);
    j1 = sdd_train_config_json(&z, "AASIST", &e);
    d = sdd_train_default_config();
    CHECK(j1 && sdd_recipe_apply_text(&d, j1, strlen(j1), "config.json", &st, &e) == 0);
    j2 = j1 ? sdd_train_config_json(&d, "AASIST", &e) : NULL;
    CHECK_MSG(j1 && j2 && !strcmp(j1, j2), "-0 does not round-trip:\n%s\n---\n%s", j1 ? j1 : "(none)", j2 ? j2 : "(none)");
    CHECK(j1 && strstr(j1, "\"lr\": 0,") && strstr(j1, "\"rb-ming\": 0,"));
    free(j1);
    free(j2);
    sdd_recipe_store_free(&st);
}

/* --resume's check of a run's config.json against this command's settings */
static void resume_check(void)
{
    sdd_err e;
    sdd_train_config c = sdd_train_default_config();
    c.arch = "AASIST-L";
    const char *same = "{\"model\": \"AASIST-L\", \"paths\": \"dual\", \"align\": \"pcgrad\", \"bn-stats\": \"joint\", \"batch\": 5}";
    CHECK_MSG(sdd_recipe_check_resume_text(&c, c.arch, same, strlen(same), "run/config.json", &e) == 0, "%s", e.msg);
    /* a run made before the default changed */
    const char *old = "{\"model\": \"AASIST-L\", \"paths\": \"dual\", \"bn-stats\": \"per-path\", \"threads\": 7}";
    CHECK(sdd_recipe_check_resume_text(&c, c.arch, old, strlen(old), "run/config.json", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "run/config.json: the run was started with \"bn-stats\": \"per-path\", this command gives \"joint\"");
    /* runs from before --align-groups aligned the whole vector: resumed as such, not otherwise */
    const char *pre = "{\"model\": \"AASIST-L\", \"paths\": \"dual\", \"align\": \"pcgrad\", \"bn-stats\": \"joint\"}";
    CHECK_MSG(sdd_recipe_check_resume_text(&c, c.arch, pre, strlen(pre), "run/config.json", &e) == 0, "%s", e.msg);
    c.align_groups = SDD_ALIGN_GROUPS_TENSOR;
    CHECK(sdd_recipe_check_resume_text(&c, c.arch, pre, strlen(pre), "run/config.json", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "run/config.json: the run was started with \"align-groups\": \"whole\", this command gives \"tensor\"");
    c.align_groups = SDD_ALIGN_GROUPS_WHOLE;
    /* one path: align and bn-stats are not compared */
    c.step.paths = SDD_PATHS_AUG;
    const char *aug = "{\"paths\": \"aug\", \"align\": \"none\", \"bn-stats\": \"per-path\"}";
    CHECK_MSG(sdd_recipe_check_resume_text(&c, c.arch, aug, strlen(aug), "run/config.json", &e) == 0, "%s", e.msg);
    const char *other = "{\"model\": \"AASIST\"}";
    CHECK(sdd_recipe_check_resume_text(&c, c.arch, other, strlen(other), "run/config.json", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "\"model\": \"AASIST\", this command gives \"AASIST-L\"");
    /* bad files: one line naming the file */
    const char *bad_txt[] = { "", "[1]", "{\"paths\": ", "{\"a\": 1, \"a\": 2}", "\"x\"\n\n" };
    for (size_t k = 0; k < sizeof bad_txt / sizeof bad_txt[0]; k++) {
        CHECK_MSG(sdd_recipe_check_resume_text(&c, c.arch, bad_txt[k], strlen(bad_txt[k]), "run/config.json", &e) == -1, "accepted '%s'", bad_txt[k]);
        CHECK_MSG(!strncmp(e.msg, "run/config.json:", 16) && !strchr(e.msg, '\n'), "message '%s'", e.msg);
    }
    /* no file: nothing to compare; an unreadable one is an error */
    CHECK(sdd_recipe_check_resume(&c, c.arch, "/nonexistent/config.json", &e) == 0);
    CHECK(sdd_recipe_check_resume(&c, c.arch, "/", &e) == -1);
}

static void bad(const char *text, const char *want)
{
    sdd_err e;
    sdd_recipe_store st;
    sdd_recipe_store_init(&st);
    sdd_train_config c = sdd_train_default_config();
    int rc = sdd_recipe_apply_text(&c, text, strlen(text), "bad.json", &st, &e);
    CHECK_MSG(rc == -1, "accepted: %s", text);
    if (rc == -1) {
        CHECK_MSG(!strncmp(e.msg, "bad.json", 8) && !strchr(e.msg, '\n'), "message '%s' does not start with the file", e.msg);
        CHECK_STR_CONTAINS(e.msg, want);
    }
    sdd_recipe_store_free(&st);
}

static void bad_inputs(void)
{
    bad("{\"batch\": 4, \"bogus\": 1}", "unknown key \"bogus\"");
    bad("{\"batch\": 0}", "\"batch\": '0' is not an integer in 1..4096");
    bad("{\"batch\": 2.5}", "\"batch\"");
    bad("{\"lr\": \"fast\"}", "\"lr\": 'fast' is not a non-negative number");
    bad("{\"lr\": -1}", "\"lr\"");
    bad("{\"paths\": \"triple\"}", "not orig, aug or dual");
    bad("{\"ssl-recompute\": \"maybe\"}", "'maybe' is not on, off or auto");
    bad("{\"align\": true}", "expected a string or a number");
    bad("{\"model\": null}", "expected a string or a number");
    bad("{\"rb-nbands\": {\"x\": 1}}", "expected a string or a number");
    bad("{\"ce-weight\": [0.1]}", "two numbers");
    bad("{\"ce-weight\": [0.1, \"x\"]}", "two numbers");
    bad("{\"ce-weight\": \"0.1,-2\"}", "SPOOF,BONAFIDE");
    bad("{\"ce-weight\": [0.1, 1e300]}", "SPOOF,BONAFIDE");   /* finite double, infinite float */
    bad("{\"paths\": \"a\\nb\"}", "'a b' is not orig");      /* one line even with a newline in the value */
    bad("{\"eval\": [\"a=b:c\", 3]}", "element 1 is not a string");
    bad("{\"batch\": 4, \"batch\": 5}", "bad.json:1:");
    bad("{\"batch\": 4,\n \"lr\": }", "bad.json:2:");
    bad("[1, 2]", "a recipe is a JSON object");
    bad("", "bad.json:");
    bad("{\"description\": 5}", "expected a string");
    bad("{\"rb-nbands\": 1000}", "--rb-nbands");
    bad("{\"train\": \"\"}", "empty value");
    sdd_err e;
    sdd_recipe_store st;
    sdd_recipe_store_init(&st);
    sdd_train_config c = sdd_train_default_config();
    CHECK(sdd_recipe_apply(&c, "/nonexistent/r.json", &st, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent/r.json: cannot open");
    CHECK(sdd_recipe_apply(&c, "nope", &st, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no such built-in recipe");
    sdd_recipe_store_free(&st);
}

/* the command line: explicit options override the recipe, config.json records the result */
static void command_line(void)
{
    char out[8192], list[400], dir[400], cfgp[500];
    snprintf(list, sizeof list, "%s/list.txt", tmp);
    FILE *f = fopen(list, "w");
    fprintf(f, "real_01.flac bonafide\ntts_01.flac spoof\nreal_02.flac bonafide\ntts_02.flac spoof\n");
    fclose(f);
    snprintf(dir, sizeof dir, "%s/run", tmp);
    int rc = cli_run(out, sizeof out, "$SDD train --batch 2 --recipe aasist-l --cut 4000 --epochs 1 --bn-recompute 1 --threads 2 "
                 "--train %s --train-audio tests/data/audio --dev %s --dev-audio tests/data/audio --out %s --quiet", list, list, dir);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out);
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    char *cj = slurp(cfgp);
    CHECK(cj != NULL);
    if (cj) {
        CHECK_STR_CONTAINS(cj, "\"recipe\": \"aasist-l\"");
        CHECK_STR_CONTAINS(cj, "\"batch\": 2,");          /* option */
        CHECK_STR_CONTAINS(cj, "\"cut\": 4000,");         /* option */
        CHECK_STR_CONTAINS(cj, "\"lr-schedule\": \"cosine\""); /* recipe */
        CHECK_STR_CONTAINS(cj, "\"model\": \"AASIST-L\""); /* recipe */
        CHECK_STR_CONTAINS(cj, "\"paths\": \"orig\"");    /* recipe */
    }
    free(cj);
    if (!xlsr_built()) {
        rc = cli_run(out, sizeof out, "$SDD train --recipe dpda-xlsr --train %s --dev %s --out %s/x", list, list, tmp);
        CHECK(rc == 1);
        CHECK_STR_CONTAINS(out, "not available in this build");
    }
    rc = cli_run(out, sizeof out, "$SDD train --recipe %s/none.json --train %s --dev %s --out %s/x", tmp, list, list, tmp);
    CHECK(rc == 2);
    CHECK_STR_CONTAINS(out, "none.json: cannot open");
}

/* --ce-weight balanced: the weights come from the training list's class
 * counts (3 bona fide, 1 spoof -> spoof 0.75, bona fide 0.25), are logged in
 * the start record, and config.json keeps the word so a resume recounts */
static void balanced_weights(void)
{
    char out[8192], list[400], one[400], dir[400], p[500];
    snprintf(list, sizeof list, "%s/bal.txt", tmp);
    FILE *f = fopen(list, "w");
    fprintf(f, "real_01.flac bonafide\nreal_02.flac bonafide\nreal_03.flac bonafide\ntts_01.flac spoof\n");
    fclose(f);
    snprintf(dir, sizeof dir, "%s/bal", tmp);
    int rc = cli_run(out, sizeof out, "$SDD train --model AASIST-L --batch 2 --cut 4000 --epochs 1 --ce-weight balanced --threads 1 "
                     "--train %s --train-audio tests/data/audio --dev %s --dev-audio tests/data/audio --out %s --quiet", list, list, dir);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out);
    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    char *log = slurp(p);
    CHECK(log != NULL);
    if (log) CHECK_STR_CONTAINS(log, "\"class_weight\": [0.75, 0.25]");
    free(log);
    snprintf(p, sizeof p, "%s/config.json", dir);
    char *cj = slurp(p);
    CHECK(cj != NULL);
    if (cj) CHECK_STR_CONTAINS(cj, "\"ce-weight\": \"balanced\"");
    free(cj);
    /* an explicit pair after it wins; the default stays the reference's */
    snprintf(dir, sizeof dir, "%s/pair", tmp);
    rc = cli_run(out, sizeof out, "$SDD train --model AASIST-L --batch 2 --cut 4000 --epochs 1 --ce-weight balanced --ce-weight 0.2,0.8 "
                 "--threads 1 --train %s --train-audio tests/data/audio --dev %s --dev-audio tests/data/audio --out %s --quiet", list, list, dir);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out);
    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    log = slurp(p);
    if (log) CHECK_STR_CONTAINS(log, "\"class_weight\": [0.2, 0.8]");
    free(log);
    /* one class only: nothing to balance */
    snprintf(one, sizeof one, "%s/one.txt", tmp);
    f = fopen(one, "w");
    fprintf(f, "real_01.flac bonafide\nreal_02.flac bonafide\n");
    fclose(f);
    rc = cli_run(out, sizeof out, "$SDD train --model AASIST-L --batch 2 --cut 4000 --epochs 1 --ce-weight balanced --threads 1 "
                 "--train %s --train-audio tests/data/audio --dev %s --dev-audio tests/data/audio --out %s/one --quiet", one, list, tmp);
    CHECK(rc != 0);
    CHECK_STR_CONTAINS(out, "needs both classes (0 spoof, 2 bona fide)");
}

int main(void)
{
    cli_bin();
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-recipe-%d", (int)getpid());
    mkdir(tmp, 0700);
    builtins();
    round_trip();
    bad_inputs();
    resume_check();
    command_line();
    balanced_weights();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return CHECK_DONE("test_recipe");
}
