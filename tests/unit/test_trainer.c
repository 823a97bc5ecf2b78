/* The training loop end to end on the bundled clips (AASIST-L, short cut):
 * outputs written, step and epoch logs with conflict statistics, a run split
 * by --resume ends bit-identical to an uninterrupted one, the same seed gives
 * the same model, and bad inputs fail with the list named. */
#include "check.h"
#include "train_setup.h"
#include "train/trainer.h"
#include "io/safetensors.h"
#include "train/schedule.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

static sdd_train_config config(const char *list, const char *out, int epochs) { return ts_config(list, out, epochs); }

static float *read_params(const char *path, size_t *n)
{
    sdd_tensorset ts;
    sdd_err e;
    if (sdd_safetensors_load(path, &ts, &e)) { fprintf(stderr, "%s\n", e.msg); return NULL; }
    size_t tot = 0;
    for (int i = 0; i < ts.n; i++) tot += ts.t[i].nbytes / 4;
    float *v = malloc(tot * sizeof(float)), *p = v;
    for (int i = 0; i < ts.n; i++) { memcpy(p, ts.t[i].data, ts.t[i].nbytes); p += ts.t[i].nbytes / 4; }
    *n = tot;
    sdd_tensorset_free(&ts);
    return v;
}

/* a GradVac run aligned per group (--align-groups); resume as given */
static sdd_train_config gradvac_cfg(const char *list, const char *out, int epochs, int groups, int resume)
{
    sdd_train_config c = config(list, out, epochs);
    c.step.align = SDD_ALIGN_GRADVAC;
    c.align_groups = groups;
    c.resume = resume;
    return c;
}

static int same_file_params(const char *a, const char *b)
{
    size_t na, nb;
    float *x = read_params(a, &na), *y = read_params(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na * sizeof(float)) == 0;
    free(x);
    free(y);
    return same;
}

/* the "lr" of every step line of a log, in order; returns how many */
static int step_lrs(const char *path, double *lr, int cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        const char *p = strstr(line, "\"lr\": ");
        if (strstr(line, "\"type\": \"step\"") && p) lr[n++] = strtod(p + 6, NULL);
    }
    fclose(f);
    return n;
}

static int count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* --eval sets are decoded a window at a time (128 batches): a set of 300
 * links to the 5 bundled clips, scored at batch 1 (windows of 128 items), must
 * give each link its clip's score in a 5-item set, to the bit */
static void test_eval_windows(const char *list)
{
    char dir[600], big[600], out[600], path[700], spec[2][1400];
    snprintf(dir, sizeof dir, "%s/links", tmp);
    snprintf(big, sizeof big, "%s/big.txt", tmp);
    snprintf(out, sizeof out, "%s/w", tmp);
    mkdir(dir, 0700);
    static const char *clip[5] = { "real_01.flac", "real_02.flac", "tts_01.flac", "real_03.flac", "tts_02.flac" };
    char cwd[400];
    FILE *f = fopen(big, "w");
    CHECK(f && getcwd(cwd, sizeof cwd));
    int ok = f != NULL;
    for (int k = 0; k < 300 && ok; k++) {
        char src[800];
        snprintf(src, sizeof src, "%s/tests/data/audio/%s", cwd, clip[k % 5]);
        snprintf(path, sizeof path, "%s/c%03d.flac", dir, k);
        ok = symlink(src, path) == 0 && fprintf(f, "c%03d.flac %s\n", k, k % 5 == 2 || k % 5 == 4 ? "spoof" : "bonafide") > 0;
    }
    if (f) ok &= fclose(f) == 0;
    CHECK(ok);
    sdd_train_config c = config(list, out, 1);
    c.dev_batch = 1;
    c.neval = 2;
    snprintf(spec[0], sizeof spec[0], "five=%s:tests/data/audio", list);
    snprintf(spec[1], sizeof spec[1], "big=%s:%s", big, dir);
    c.eval_spec[0] = spec[0];
    c.eval_spec[1] = spec[1];
    sdd_err e;
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "%s", e.msg);
    double five[5] = { 0 };
    char id[256];
    double v;
    snprintf(path, sizeof path, "%s/scores_five.txt", out);
    f = fopen(path, "r");
    int n = 0;
    while (f && fscanf(f, "%255s %lf%*[^\n]", id, &v) == 2)
        for (int k = 0; k < 5; k++)
            if (!strcmp(id, clip[k])) { five[k] = v; n++; }
    if (f) fclose(f);
    CHECK(n == 5);
    snprintf(path, sizeof path, "%s/scores_big.txt", out);
    f = fopen(path, "r");
    int lines = 0, same = 0;
    while (f && fscanf(f, "%255s %lf%*[^\n]", id, &v) == 2) {
        const int k = atoi(id + 1);
        lines++;
        same += id[0] == 'c' && v == five[k % 5];
    }
    if (f) fclose(f);
    CHECK_MSG(lines == 300 && same == 300, "big eval set: %d lines, %d with their clip's score", lines, same);
}

/* an --eval file that is missing stops the run at the start (its header is
 * read then), not after training: nothing is trained or written */
static void test_eval_bad(const char *list)
{
    char bad[600], out[600], spec[1400], path[700];
    snprintf(bad, sizeof bad, "%s/evalbad.txt", tmp);
    snprintf(out, sizeof out, "%s/evalbad", tmp);
    FILE *f = fopen(bad, "w");
    CHECK(f && fprintf(f, "real_01.flac bonafide\ntts_01.flac spoof\nreal_02.flac bonafide\ngone.flac spoof\n") > 0);
    if (f) fclose(f);
    sdd_train_config c = config(list, out, 2);
    c.neval = 1;
    snprintf(spec, sizeof spec, "bad=%s:tests/data/audio", bad);
    c.eval_spec[0] = spec;
    sdd_err e;
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--eval: ");
    CHECK_STR_CONTAINS(e.msg, "evalbad.txt:4: ");
    CHECK_STR_CONTAINS(e.msg, "gone.flac: No such file or directory");
    struct stat st;
    snprintf(path, sizeof path, "%s/last.safetensors", out);
    CHECK(stat(path, &st) != 0);
    snprintf(path, sizeof path, "%s/log.jsonl", out);
    CHECK(stat(path, &st) != 0 || st.st_size == 0);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-trainer-%d", (int)getpid());
    mkdir(tmp, 0700);
    char list[512], a[512], b[512], p1[600], p2[600];
    snprintf(list, sizeof list, "%s/list.txt", tmp);
    CHECK(ts_write_list(list) == 0);
    FILE *f;
    sdd_err e;
    /* an uninterrupted 2-epoch run */
    snprintf(a, sizeof a, "%s/a", tmp);
    sdd_train_config c = config(list, a, 2);
    c.neval = 1;
    char spec[600];
    snprintf(spec, sizeof spec, "bundled=%s:tests/data/audio", list);
    c.eval_spec[0] = spec;
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "%s", e.msg);
    snprintf(p1, sizeof p1, "%s/log.jsonl", a);
    CHECK(count(p1, "\"type\": \"step\"") == 4);            /* 5 items, batch 2, drop_last: 2 steps x 2 epochs */
    CHECK(count(p1, "\"conflict\": ") == 4);
    CHECK(count(p1, "\"type\": \"epoch\"") == 2);
    CHECK(count(p1, "\"conflict_rate\"") == 2);
    CHECK(count(p1, "\"type\": \"final\"") == 1);
    CHECK(count(p1, "\"type\": \"eval\"") == 1);
    snprintf(p1, sizeof p1, "%s/config.json", a);
    CHECK(count(p1, "\"align\": \"pcgrad\"") == 1);
    snprintf(p1, sizeof p1, "%s/scores_bundled.txt", a);
    CHECK(count(p1, " ") == 5);
    snprintf(p1, sizeof p1, "%s/model.safetensors", a);
    sdd_tensorset ts;
    CHECK(sdd_safetensors_load(p1, &ts, &e) == 0);
    CHECK(sdd_tensorset_get_meta(&ts, "threshold") != NULL);
    sdd_tensorset_free(&ts);
    /* --cache none (the sets decoded at every read): the same bits */
    snprintf(b, sizeof b, "%s/nocache", tmp);
    c = config(list, b, 2);
    c.cache_none = 1;
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "%s", e.msg);
    snprintf(p1, sizeof p1, "%s/model.safetensors", a);
    snprintf(p2, sizeof p2, "%s/model.safetensors", b);
    CHECK_MSG(same_file_params(p1, p2), "--cache none trained another model");
    snprintf(p2, sizeof p2, "%s/config.json", b);
    CHECK(count(p2, "\"cache\": \"none\"") == 1);
    /* the same run split in two by resume: the same bits */
    snprintf(b, sizeof b, "%s/b", tmp);
    c = config(list, b, 1);
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "%s", e.msg);
    c = config(list, b, 2);
    c.resume = 1;
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "%s", e.msg);
    snprintf(p1, sizeof p1, "%s/last.safetensors", a);
    snprintf(p2, sizeof p2, "%s/last.safetensors", b);
    CHECK_MSG(same_file_params(p1, p2), "resumed run differs from the uninterrupted one");
    snprintf(p1, sizeof p1, "%s/model.safetensors", a);
    snprintf(p2, sizeof p2, "%s/model.safetensors", b);
    CHECK_MSG(same_file_params(p1, p2), "resumed final model differs");
    snprintf(p2, sizeof p2, "%s/log.jsonl", b);
    CHECK(count(p2, "\"type\": \"epoch\"") == 2);
    /* a resume that would change what the run computes is refused before it
     * touches anything (here the BatchNorm statistics, whose default
     * changed); more epochs and another thread count are not such changes */
    c = config(list, b, 3);
    c.resume = 1;
    c.step.bn_stats = c.step.bn_stats == SDD_BN_JOINT ? SDD_BN_PER_PATH : SDD_BN_JOINT;
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--resume: ");
    CHECK_STR_CONTAINS(e.msg, "config.json: the run was started with \"bn-stats\": ");
    CHECK(count(p2, "\"type\": \"epoch\"") == 2);
    c = config(list, b, 3);
    c.resume = 1;
    c.batch = 3;
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "\"batch\": 2, this command gives 3");
    c = config(list, b, 3);
    c.resume = 1;
    c.threads = 1;
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "%s", e.msg);
    CHECK(count(p2, "\"type\": \"epoch\"") == 3);
    /* the joint-statistics reference mode and the other regimes run */
    const int paths[3] = { SDD_PATHS_ORIG, SDD_PATHS_AUG, SDD_PATHS_DUAL };
    for (int k = 0; k < 3; k++) {
        snprintf(b, sizeof b, "%s/r%d", tmp, k);
        c = config(list, b, 1);
        c.step.paths = paths[k];
        c.step.bn_stats = k == 2 ? SDD_BN_JOINT : SDD_BN_PER_PATH;
        c.step.align = k == 2 ? SDD_ALIGN_GRADVAC : SDD_ALIGN_NONE;
        CHECK_MSG(sdd_train_run(&c, &e) == 0, "regime %d: %s", k, e.msg);
    }
    /* --align-groups block with GradVac (per-group targets in the state): the
     * log names the groups and counts their conflicts, a run split by
     * --resume ends with the same bits, and the setting may not change on resume */
    char g1[600], g2[600];
    snprintf(g1, sizeof g1, "%s/groups1", tmp);
    snprintf(g2, sizeof g2, "%s/groups2", tmp);
    c = gradvac_cfg(list, g1, 2, SDD_ALIGN_GROUPS_BLOCK, 0);
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "groups: %s", e.msg);
    c = gradvac_cfg(list, g2, 1, SDD_ALIGN_GROUPS_BLOCK, 0);
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "groups, 1 epoch: %s", e.msg);
    c = gradvac_cfg(list, g2, 2, SDD_ALIGN_GROUPS_BLOCK, 1);
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "groups, resumed: %s", e.msg);
    snprintf(p1, sizeof p1, "%s/last.safetensors", g1);
    snprintf(p2, sizeof p2, "%s/last.safetensors", g2);
    CHECK_MSG(same_file_params(p1, p2), "--align-groups: resumed run differs from the uninterrupted one");
    snprintf(p1, sizeof p1, "%s/log.jsonl", g1);
    CHECK(count(p1, "{\"type\": \"align_groups\", \"mode\": \"block\", \"count\": ") == 1);
    CHECK(count(p1, "[\"encoder.0\", ") == 1);
    CHECK(count(p1, "\"group_conflicts\": ") == 4);
    CHECK(count(p1, "\"group_conflict_rate\": ") == 2);
    snprintf(p1, sizeof p1, "%s/config.json", g1);
    CHECK(count(p1, "\"align-groups\": \"block\"") == 1);
    snprintf(p1, sizeof p1, "%s/state.safetensors", g1);
    CHECK(sdd_safetensors_load(p1, &ts, &e) == 0);
    CHECK(sdd_tensorset_find(&ts, "gradvac.rho_groups") != NULL);
    sdd_tensorset_free(&ts);
    /* the same run aligning the whole vector: another model */
    char g3[600];
    snprintf(g3, sizeof g3, "%s/groups3", tmp);
    c = gradvac_cfg(list, g3, 2, SDD_ALIGN_GROUPS_WHOLE, 0);
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "gradvac, whole: %s", e.msg);
    snprintf(p1, sizeof p1, "%s/last.safetensors", g3);
    snprintf(p2, sizeof p2, "%s/last.safetensors", g1);
    CHECK_MSG(!same_file_params(p1, p2), "--align-groups block trained the whole-vector model");
    c = gradvac_cfg(list, g2, 3, SDD_ALIGN_GROUPS_TENSOR, 1);
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "\"align-groups\": \"block\", this command gives \"tensor\"");
    /* a state whose per-group targets are not this model's groups (one value short): refused, nothing written */
    snprintf(p1, sizeof p1, "%s/state.safetensors", g1);
    sdd_tensorset full, cut;
    CHECK(sdd_safetensors_load(p1, &full, &e) == 0);
    sdd_tensorset_init(&cut);
    int okc = 1;
    for (int i = 0; i < full.n && okc; i++) {
        const sdd_ntensor *x = &full.t[i];
        if (strcmp(x->name, "gradvac.rho_groups")) okc = sdd_tensorset_add_view(&cut, x->name, x, &e) == 0;
        else {
            const int64_t short_n = x->shape[0] - 1;
            okc = sdd_tensorset_add(&cut, x->name, SDD_F64, 1, &short_n, x->data, (size_t)short_n * 8, &e) == 0;
        }
    }
    for (int i = 0; i < full.nmeta && okc; i++) okc = sdd_tensorset_set_meta(&cut, full.meta_key[i], full.meta_val[i], &e) == 0;
    CHECK_MSG(okc && sdd_safetensors_save(p1, &cut, &e) == 0, "%s", e.msg);
    sdd_tensorset_free(&cut);
    sdd_tensorset_free(&full);
    c = gradvac_cfg(list, g1, 3, SDD_ALIGN_GROUPS_BLOCK, 1);
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "state.safetensors: not a training state for this model and settings");
    snprintf(p1, sizeof p1, "%s/log.jsonl", g1);
    CHECK(count(p1, "\"type\": \"epoch\"") == 2);
    /* --accum 2 with the cosine schedule: 5 batches of 1 give 2 steps per epoch (the fifth is
     * skipped), the rate decays per step over epochs x steps = 4 */
    snprintf(b, sizeof b, "%s/accum", tmp);
    c = config(list, b, 2);
    c.batch = 1;
    c.accum = 2;
    c.lr_schedule = SDD_LR_COSINE;
    c.lr_min = 1e-5;
    c.bn_recompute = 2;
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "accum: %s", e.msg);
    snprintf(p1, sizeof p1, "%s/log.jsonl", b);
    double lr[8];
    CHECK(step_lrs(p1, lr, 8) == 4);
    for (int k = 0; k < 4; k++) CHECK_NEAR(lr[k], sdd_lr_at(SDD_LR_COSINE, 1e-3, 1e-5, k, 4), 1e-12);
    CHECK(lr[0] == 1e-3 && lr[3] < lr[2] && lr[2] < lr[1] && lr[1] < lr[0]);
    snprintf(p1, sizeof p1, "%s/config.json", b);
    CHECK(count(p1, "\"accum\": 2") == 1);
    CHECK(count(p1, "\"lr-schedule\": \"cosine\"") == 1);
    snprintf(p1, sizeof p1, "%s/log.jsonl", b);
    CHECK(count(p1, "\"bn_recompute_batches\": 2,") == 1);
    snprintf(b, sizeof b, "%s/accum3", tmp);
    c = config(list, b, 1);
    c.accum = 3;   /* batch 2: 2 batches per epoch */
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "fewer than --accum 3");
    /* bad inputs */
    snprintf(b, sizeof b, "%s/bad", tmp);
    c = config("/nonexistent/list.txt", b, 1);
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent/list.txt");
    snprintf(p1, sizeof p1, "%s/nolabel.txt", tmp);
    f = fopen(p1, "w");
    fprintf(f, "real_01.flac bonafide\nreal_02.flac\n");
    fclose(f);
    c = config(p1, b, 1);
    CHECK(sdd_train_run(&c, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "nolabel.txt:2");
    char cmd[400];
    test_eval_windows(list);
    test_eval_bad(list);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return CHECK_DONE("test_trainer");
}
