/* The n-best snapshots of `sdd train` (trainer.c): model files in the run
 * folder for the epochs with the lowest dev loss, the other epochs' files
 * removed, the final model their element-wise mean to the bit, the state
 * naming them; a state of an older sdd (snapshots embedded in it) resumes to
 * the same final model; and a missing, truncated, foreign or mismatched
 * snapshot, or a state naming a path outside the run folder, stops --resume
 * with one line naming the file before anything is written. `sdd average`
 * (sdd_model_average) of the snapshots gives the final model's weights, and
 * refuses files that are not the same model with one line, writing nothing. */
#include "check.h"
#include "train_setup.h"
#include "train/trainer.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "models/modelio.h"
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[256], list[512];

static sdd_train_config config(const char *out, int epochs) { return ts_config(list, out, epochs); }

/* the dev loss of each epoch record of dir's log; returns how many */
static int dev_losses(const char *dir, double *loss, int cap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    char *txt = ts_slurp(path, NULL);
    int n = 0;
    for (char *line = txt, *nl; line && *line && n < cap; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        json_t *o = json_loads(line, 0, NULL);
        if (o && !strcmp(json_string_value(json_object_get(o, "type")) ? json_string_value(json_object_get(o, "type")) : "", "epoch"))
            loss[n++] = json_number_value(json_object_get(o, "dev_loss"));
        json_decref(o);
    }
    free(txt);
    return n;
}

/* the best-*.safetensors names in dir, sorted; returns how many */
static int snapshot_files(const char *dir, char names[][64], int cap)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, "best-", 5) && n < cap) snprintf(names[n++], 64, "%s", de->d_name);
    if (d) closedir(d);
    qsort(names, (size_t)n, 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* whether two model files hold the same tensors, bit for bit */
static int same_weights(const char *a, const char *b)
{
    sdd_tensorset x, y;
    sdd_err e;
    if (sdd_safetensors_load(a, &x, &e)) return 0;
    if (sdd_safetensors_load(b, &y, &e)) { sdd_tensorset_free(&x); return 0; }
    int same = x.n == y.n && x.n > 0;
    for (int i = 0; i < x.n && same; i++) {
        const sdd_ntensor *t = sdd_tensorset_find(&y, x.t[i].name);
        same = t && t->nbytes == x.t[i].nbytes && !memcmp(t->data, x.t[i].data, t->nbytes);
    }
    sdd_tensorset_free(&x);
    sdd_tensorset_free(&y);
    return same;
}

/* runs the sdd binary with args; its exit status, stderr's first line in err */
static int sdd_cli(const char *args, char *err, size_t n)
{
    const char *bin = getenv("SDD_BIN") ? getenv("SDD_BIN") : "./sdd";
    char cmd[2400], ef[400];
    snprintf(ef, sizeof ef, "%s/cli.err", tmp);
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", bin, args, ef);
    const int st = system(cmd);
    FILE *f = fopen(ef, "r");
    err[0] = 0;
    if (f) { if (!fgets(err, (int)n, f)) err[0] = 0; fclose(f); }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void run_ok(const sdd_train_config *c, const char *what)
{
    sdd_err e;
    CHECK_MSG(sdd_train_run(c, &e) == 0, "%s: %s", what, e.msg);
}

/* a 4-epoch run: the two best epochs' files, their metadata, the mean */
static void test_files_and_mean(const char *a)
{
    sdd_train_config c = config(a, 4);
    run_ok(&c, "4 epochs");
    double loss[8];
    CHECK(dev_losses(a, loss, 8) == 4);
    /* the two lowest dev losses, the earlier epoch first on a tie */
    int b0 = 0;
    for (int k = 1; k < 4; k++) if (loss[k] < loss[b0]) b0 = k;
    int b1 = b0 == 0 ? 1 : 0;
    for (int k = 0; k < 4; k++) if (k != b0 && loss[k] < loss[b1]) b1 = k;
    char names[8][64], want[2][64];
    snprintf(want[0], 64, "best-epoch%03d.safetensors", b0 < b1 ? b0 : b1);
    snprintf(want[1], 64, "best-epoch%03d.safetensors", b0 < b1 ? b1 : b0);
    CHECK_MSG(snapshot_files(a, names, 8) == 2 && !strcmp(names[0], want[0]) && !strcmp(names[1], want[1]),
              "snapshot files: expected %s and %s", want[0], want[1]);
    /* each is a model file of the run's model, with its epoch and dev loss */
    sdd_model *snap[2] = { NULL, NULL };
    sdd_err e;
    for (int j = 0; j < 2; j++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", a, want[j]);
        snap[j] = sdd_model_load(path, NULL, &e);
        CHECK_MSG(snap[j] && !strcmp(snap[j]->arch, "AASIST-L"), "%s: %s", want[j], snap[j] ? snap[j]->arch : e.msg);
        sdd_tensorset ts;
        CHECK(sdd_safetensors_load(path, &ts, &e) == 0);
        const int ep = atoi(want[j] + 10);
        const char *me = sdd_tensorset_get_meta(&ts, "epoch"), *ml = sdd_tensorset_get_meta(&ts, "dev_loss");
        CHECK_MSG(me && atoi(me) == ep && ml && fabs(strtod(ml, NULL) - loss[ep]) <= 1e-8 * fabs(loss[ep]),
                  "%s: epoch %s, dev_loss %s (log: %.9g)", want[j], me ? me : "-", ml ? ml : "-", loss[ep]);
        sdd_tensorset_free(&ts);
    }
    /* the final model is their mean, summed in double, to the bit */
    char path[700];
    snprintf(path, sizeof path, "%s/model.safetensors", a);
    sdd_model *fin = sdd_model_load(path, NULL, &e);
    CHECK_MSG(fin, "%s", e.msg);
    if (fin && snap[0] && snap[1]) {
        const sdd_params *ps = &fin->params;
        size_t bad = 0, differ = 0;
        for (int i = 0; i < ps->np; i++) {
            const float *x = sdd_params_ptr(&snap[0]->params, i), *y = sdd_params_ptr(&snap[1]->params, i), *m = sdd_params_ptr(ps, i);
            for (size_t k = 0; k < ps->p[i].numel; k++) {
                const float want_v = (float)(((double)x[k] + (double)y[k]) / 2);
                bad += memcmp(&want_v, &m[k], sizeof want_v) != 0;
                differ += x[k] != y[k];
            }
        }
        CHECK_MSG(bad == 0, "final model: %zu values are not the mean of the two snapshots", bad);
        CHECK(differ > 0);   /* the two epochs differ, so the mean is a real check */
    }
    sdd_model_free(fin);
    for (int j = 0; j < 2; j++) sdd_model_free(snap[j]);
    /* the state names them, best first, and carries no parameter copies */
    snprintf(path, sizeof path, "%s/state.safetensors", a);
    sdd_tensorset st;
    CHECK(sdd_safetensors_load(path, &st, &e) == 0);
    const char *f0 = sdd_tensorset_get_meta(&st, "nbest_file.0"), *f1 = sdd_tensorset_get_meta(&st, "nbest_file.1");
    char first[64];
    snprintf(first, 64, "best-epoch%03d.safetensors", b0);
    CHECK_MSG(f0 && f1 && !strcmp(f0, first) && strcmp(f1, first), "state names %s, %s", f0 ? f0 : "-", f1 ? f1 : "-");
    CHECK(st.n == 4 && !sdd_tensorset_find(&st, "nbest.0"));   /* adam.m, adam.v, params, gradvac.rho_t */
    sdd_tensorset_free(&st);
}

/* rewrites dir's state as sdd wrote it before the snapshots were files: each
 * snapshot's parameter block embedded as tensor nbest.K, no nbest_file.K;
 * the snapshot files removed */
static int make_old_state(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    sdd_tensorset st, old;
    sdd_err e;
    if (sdd_safetensors_load(path, &st, &e)) return -1;
    sdd_tensorset_init(&old);
    int rc = 0;
    for (int i = 0; i < st.n && !rc; i++)
        rc = sdd_tensorset_add(&old, st.t[i].name, st.t[i].dtype, st.t[i].ndim, st.t[i].shape, st.t[i].data, st.t[i].nbytes, &e);
    for (int i = 0; i < st.nmeta && !rc; i++)
        if (strncmp(st.meta_key[i], "nbest_file.", 11)) rc = sdd_tensorset_set_meta(&old, st.meta_key[i], st.meta_val[i], &e);
    const int nb = atoi(sdd_tensorset_get_meta(&st, "nbest"));
    for (int k = 0; k < nb && !rc; k++) {
        char key[32], snap[700];
        snprintf(key, sizeof key, "nbest_file.%d", k);
        snprintf(snap, sizeof snap, "%s/%s", dir, sdd_tensorset_get_meta(&st, key));
        sdd_model *m = sdd_model_load(snap, NULL, &e);
        if (!m) { rc = -1; break; }
        const int64_t n = (int64_t)m->params.total;
        snprintf(key, sizeof key, "nbest.%d", k);
        rc = sdd_tensorset_add(&old, key, SDD_F32, 1, &n, m->params.data, (size_t)n * sizeof(float), &e);
        sdd_model_free(m);
        if (!rc) rc = unlink(snap);
    }
    if (!rc) rc = sdd_safetensors_save(path, &old, &e);
    sdd_tensorset_free(&st);
    sdd_tensorset_free(&old);
    return rc;
}

static void test_old_state(const char *a)
{
    char b[400], pa[600], pb[600];
    snprintf(b, sizeof b, "%s/old", tmp);
    sdd_train_config c = config(b, 2);
    run_ok(&c, "2 epochs");
    CHECK(make_old_state(b) == 0);
    char names[8][64];
    CHECK(snapshot_files(b, names, 8) == 0);
    c = config(b, 4);
    c.resume = 1;
    run_ok(&c, "resume of an old state");
    for (int k = 0; k < 2; k++) {
        const char *f = k ? "last.safetensors" : "model.safetensors";
        snprintf(pa, sizeof pa, "%s/%s", a, f);
        snprintf(pb, sizeof pb, "%s/%s", b, f);
        CHECK_MSG(ts_same_bytes(pa, pb), "old state resumed: %s differs from the uninterrupted run's", f);
    }
    CHECK(snapshot_files(b, names, 8) == 2);
}

/* --resume of dir (3 epochs) fails with a message holding `want`, and the
 * run folder is as it was (the log not cut, no file added or removed) */
static void resume_fails(const char *dir, const char *want, const char *what)
{
    char lp[600], n0[16][64], n1[16][64];
    snprintf(lp, sizeof lp, "%s/log.jsonl", dir);
    size_t len0, len1;
    char *log0 = ts_slurp(lp, &len0);
    const int c0 = snapshot_files(dir, n0, 16);
    sdd_train_config c = config(dir, 3);
    c.resume = 1;
    sdd_err e;
    CHECK_MSG(sdd_train_run(&c, &e) == -1, "%s: resumed", what);
    CHECK_MSG(strstr(e.msg, want) && !strchr(e.msg, '\n'), "%s: '%s' lacks '%s'", what, e.msg, want);
    char *log1 = ts_slurp(lp, &len1);
    CHECK_MSG(log0 && log1 && len0 == len1 && !memcmp(log0, log1, len0), "%s: the log changed", what);
    CHECK_MSG(snapshot_files(dir, n1, 16) == c0, "%s: snapshot files added or removed", what);
    free(log0);
    free(log1);
}

/* copies snapshot src to dst without tensor `drop` and with metadata `key` set to `val` (when given) */
static int rewrite_snapshot(const char *src, const char *dst, const char *drop, const char *key, const char *val)
{
    sdd_tensorset ts, out;
    sdd_err e;
    if (sdd_safetensors_load(src, &ts, &e)) return -1;
    sdd_tensorset_init(&out);
    int rc = 0;
    for (int i = 0; i < ts.n && !rc; i++)
        if (!drop || strcmp(ts.t[i].name, drop))
            rc = sdd_tensorset_add(&out, ts.t[i].name, ts.t[i].dtype, ts.t[i].ndim, ts.t[i].shape, ts.t[i].data, ts.t[i].nbytes, &e);
    for (int i = 0; i < ts.nmeta && !rc; i++)
        rc = sdd_tensorset_set_meta(&out, ts.meta_key[i], ts.meta_val[i], &e);
    if (!rc && key) rc = sdd_tensorset_set_meta(&out, key, val, &e);
    if (!rc) rc = sdd_safetensors_save(dst, &out, &e);
    sdd_tensorset_free(&ts);
    sdd_tensorset_free(&out);
    return rc;
}

/* copies snapshot src to dst with element k of tensor `name` set to NaN */
static int poison_snapshot(const char *src, const char *dst, const char *name, size_t k)
{
    sdd_tensorset ts;
    sdd_err e;
    if (sdd_safetensors_load(src, &ts, &e)) return -1;
    const sdd_ntensor *t = sdd_tensorset_find(&ts, name);
    int rc = t && t->dtype == SDD_F32 && t->nbytes > k * sizeof(float) ? 0 : -1;
    if (!rc) ((float *)t->data)[k] = NAN;
    if (!rc) rc = sdd_safetensors_save(dst, &ts, &e);
    sdd_tensorset_free(&ts);
    return rc;
}

static int set_state_meta(const char *dir, const char *key, const char *val)
{
    char path[600];
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    sdd_tensorset ts;
    sdd_err e;
    if (sdd_safetensors_load(path, &ts, &e)) return -1;
    int rc = sdd_tensorset_set_meta(&ts, key, val, &e);
    if (!rc) rc = sdd_safetensors_save(path, &ts, &e);
    sdd_tensorset_free(&ts);
    return rc;
}

/* B44 of tests/BAD_INPUTS.md */
static void test_bad_snapshots(void)
{
    char d[400], snap[700], keep[700], cmd[1600];
    snprintf(d, sizeof d, "%s/bad", tmp);
    sdd_train_config c = config(d, 2);
    run_ok(&c, "2 epochs");
    char names[8][64];
    CHECK(snapshot_files(d, names, 8) == 2);
    snprintf(snap, sizeof snap, "%s/%s", d, names[1]);
    snprintf(keep, sizeof keep, "%s/keep.safetensors", tmp);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s/state.safetensors' '%s/state.keep'", snap, keep, d, tmp);
    CHECK(system(cmd) == 0);
    char want[900];
    /* missing */
    CHECK(rename(snap, keep) == 0);
    snprintf(want, sizeof want, "state.safetensors: n-best snapshot: %s: cannot open: No such file or directory", snap);
    resume_fails(d, want, "missing snapshot");
    /* truncated to half */
    size_t n;
    char *whole = ts_slurp(keep, &n);
    FILE *f = fopen(snap, "wb");
    CHECK(whole && f && fwrite(whole, 1, n / 2, f) == n / 2);
    if (f) fclose(f);
    free(whole);
    snprintf(want, sizeof want, "n-best snapshot: %s: ", snap);
    resume_fails(d, want, "truncated snapshot");
    /* another architecture's, or one tensor short */
    CHECK(rewrite_snapshot(keep, snap, NULL, "arch", "AASIST") == 0);
    snprintf(want, sizeof want, "n-best snapshot: %s: a model of AASIST, not AASIST-L", snap);
    resume_fails(d, want, "foreign snapshot");
    CHECK(rewrite_snapshot(keep, snap, "out_layer.bias", NULL, NULL) == 0);
    snprintf(want, sizeof want, "n-best snapshot: %s: tensor out_layer.bias missing (needed by AASIST-L)", snap);
    resume_fails(d, want, "snapshot missing a tensor");
    /* the right name over another epoch's weights (a copy, or a fresh run in an old folder) */
    snprintf(cmd, sizeof cmd, "cp '%s/%s' '%s'", d, names[0], snap);
    CHECK(system(cmd) == 0);
    resume_fails(d, "(not the snapshot the state names)", "another epoch's snapshot under the name");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", keep, snap);
    CHECK(system(cmd) == 0);
    /* a state naming a path outside the run folder, or an entry without its value */
    CHECK(set_state_meta(d, "nbest_file.0", "../keep.safetensors") == 0);
    resume_fails(d, "n-best entry 0: '../keep.safetensors' is not a snapshot file name", "path in the state");
    CHECK(set_state_meta(d, "nbest_file.0", "best-x/../../y.safetensors") == 0);
    resume_fails(d, "is not a snapshot file name", "path in the state");
    snprintf(cmd, sizeof cmd, "cp '%s/state.keep' '%s/state.safetensors'", tmp, d);
    CHECK(system(cmd) == 0);
    CHECK(set_state_meta(d, "nbest_loss.1", "x") == 0);
    resume_fails(d, "n-best entry 1 has no value", "entry without a value");
    CHECK(system(cmd) == 0);
    CHECK(set_state_meta(d, "nbest", "9") == 0);
    resume_fails(d, "state.safetensors: 9 n-best entries, more than --n-best", "more entries than --n-best");
    /* restored, it resumes; files of the user's beside the snapshots stay */
    CHECK(system(cmd) == 0);
    char user[2][700];
    snprintf(user[0], sizeof user[0], "%s/best-avg.safetensors", d);
    snprintf(user[1], sizeof user[1], "%s/best-epoch7-notes.safetensors", d);
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(user[k], "w");
        CHECK(f && fputs("mine", f) >= 0);
        if (f) fclose(f);
    }
    c = config(d, 3);
    c.resume = 1;
    run_ok(&c, "resume after the restore");
    CHECK(snapshot_files(d, names, 8) == 4);   /* the two best of three epochs, and the user's two */
    for (int k = 0; k < 2; k++) CHECK_MSG(access(user[k], F_OK) == 0, "%s removed", user[k]);
    /* a finished run whose snapshots were deleted: --resume has nothing to do and says so, without them */
    snprintf(cmd, sizeof cmd, "rm -f '%s'/best-epoch0*.safetensors", d);
    CHECK(system(cmd) == 0);
    sdd_err e;
    CHECK_MSG(sdd_train_run(&c, &e) == 0, "resume of a finished run without its snapshots: %s", e.msg);
    CHECK(snapshot_files(d, names, 8) == 2);
}

/* --init from a model with a threshold: the snapshots and last.safetensors
 * store none (it was for the init model's scores), the final model its own */
static void test_init_threshold(const char *a)
{
    char d[400], init[600], path[700], names[8][64];
    snprintf(d, sizeof d, "%s/init", tmp);
    snprintf(init, sizeof init, "%s/model.safetensors", a);
    sdd_train_config c = config(d, 1);
    c.init_model = init;
    c.arch = NULL;
    run_ok(&c, "--init");
    CHECK(snapshot_files(d, names, 8) == 1);
    const char *files[3] = { names[0], "last.safetensors", "model.safetensors" };
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", d, files[k]);
        sdd_tensorset ts;
        sdd_err e;
        CHECK(sdd_safetensors_load(path, &ts, &e) == 0);
        CHECK_MSG((sdd_tensorset_get_meta(&ts, "threshold") != NULL) == (k == 2), "%s: threshold %s", files[k],
                  sdd_tensorset_get_meta(&ts, "threshold") ? "stored" : "missing");
        sdd_tensorset_free(&ts);
    }
}

/* sdd_model_average and `sdd average` on run a's two snapshots */
static void test_average(const char *a)
{
    char names[8][64], s0[600], s1[600], fin[600], out[600], bad[600], args[2400], err[1200];
    CHECK(snapshot_files(a, names, 8) == 2);
    snprintf(s0, sizeof s0, "%s/%s", a, names[0]);
    snprintf(s1, sizeof s1, "%s/%s", a, names[1]);
    snprintf(fin, sizeof fin, "%s/model.safetensors", a);
    snprintf(out, sizeof out, "%s/avg.safetensors", tmp);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", tmp);
    /* the library: the mean into a loaded model */
    sdd_err e;
    sdd_model *m = sdd_model_load(s0, NULL, &e), *f = sdd_model_load(fin, NULL, &e);
    const char *paths[2] = { s1, s0 };
    CHECK(m && f && sdd_model_average(m, paths, 2, &e) == 0);
    if (m && f) CHECK_MSG(!memcmp(m->params.data, f->params.data, m->params.total * sizeof(float)), "sdd_model_average differs from the final model");
    sdd_model_free(m);
    /* a group of one tensor per pass (each file opened once per tensor): the same bits */
    m = sdd_model_load(s0, NULL, &e);
    CHECK(m && f && sdd_model_average_grouped(m, paths, 2, 1, &e) == 0);
    if (m && f) CHECK_MSG(!memcmp(m->params.data, f->params.data, m->params.total * sizeof(float)), "grouped average differs from the final model");
    sdd_model_free(m);
    sdd_model_free(f);
    /* more files than the open-file limit allows open at once: one is open at a time */
    struct rlimit rl, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    low = rl;
    low.rlim_cur = 24;
    enum { MANY = 100 };
    const char *many[MANY];
    for (int k = 0; k < MANY; k++) many[k] = k % 2 ? s1 : s0;
    m = sdd_model_load(s0, NULL, &e);
    f = sdd_model_load(fin, NULL, &e);
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    const int arc = m ? sdd_model_average(m, many, MANY, &e) : -1;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK_MSG(arc == 0, "%d files under an open-file limit of 24: %s", MANY, e.msg);
    /* 50 x (s0 + s1) in double over 100 against (s0 + s1) / 2: within a rounding of the final model */
    int near = m && f;
    for (size_t k = 0; near && k < m->params.total; k++)
        near = fabsf(m->params.data[k] - f->params.data[k]) <= 1e-6f * fabsf(f->params.data[k]) + 1e-30f;
    CHECK_MSG(near, "the mean of %d alternating copies is not the mean of the two", MANY);
    sdd_model_free(m);
    sdd_model_free(f);
    /* the command: the same weights, no threshold carried over */
    snprintf(args, sizeof args, "average -o %s %s %s", out, s0, s1);
    CHECK_MSG(sdd_cli(args, err, sizeof err) == 0, "sdd average: %s", err);
    CHECK_MSG(same_weights(out, fin), "sdd average differs from the final model");
    sdd_tensorset ts;
    CHECK(sdd_safetensors_load(out, &ts, &e) == 0 && !sdd_tensorset_get_meta(&ts, "threshold"));
    sdd_tensorset_free(&ts);
    CHECK(sdd_safetensors_load(fin, &ts, &e) == 0 && sdd_tensorset_get_meta(&ts, "threshold"));
    sdd_tensorset_free(&ts);
    unlink(out);
    /* B45: files that are not the same model: one line naming the file, exit 1, no output */
    size_t n;
    char *whole = ts_slurp(s1, &n);
    FILE *fp = fopen(bad, "wb");
    CHECK(whole && fp && fwrite(whole, 1, n - 100, fp) == n - 100);
    if (fp) fclose(fp);
    free(whole);
    struct { const char *key, *val, *want; } cases[] = {
        { NULL, NULL, "cannot open: No such file or directory" },
        { NULL, NULL, "outside the data area" },   /* the truncated copy above */
        { "arch", "AASIST", "a model of AASIST, not AASIST-L" },
        { "config", "{\"nb_samp\": 64600}", "metadata config is \"{\"nb_samp\": 64600}\", AASIST-L's is" },
        { "format", "other", "not an sdd model file" },
        { "NaN", NULL, "tensor out_layer.bias holds a non-finite value at element 1" },
        { "PK", NULL, "a PyTorch checkpoint, not an sdd model file (convert it with sdd import first)" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (k == 0) snprintf(bad, sizeof bad, "%s/none.safetensors", tmp);
        else snprintf(bad, sizeof bad, "%s/bad.safetensors", tmp);
        if (cases[k].key && !strcmp(cases[k].key, "NaN")) CHECK(poison_snapshot(s1, bad, "out_layer.bias", 1) == 0);
        else if (cases[k].key && !strcmp(cases[k].key, "PK")) {
            FILE *pk = fopen(bad, "wb");
            CHECK(pk && fwrite("PK\3\4not a zip", 1, 14, pk) == 14);
            if (pk) fclose(pk);
        } else if (cases[k].key) CHECK(rewrite_snapshot(s1, bad, NULL, cases[k].key, cases[k].val) == 0);
        snprintf(args, sizeof args, "average -o %s %s %s", out, s0, bad);
        const int rc = sdd_cli(args, err, sizeof err);
        char want[900];
        snprintf(want, sizeof want, "sdd: %s: ", bad);
        CHECK_MSG(rc == 1 && !strncmp(err, want, strlen(want)) && strstr(err, cases[k].want), "case %zu: rc %d, '%s'", k, rc, err);
        CHECK_MSG(access(out, F_OK) != 0, "case %zu: an output was written", k);
    }
    /* a file given twice weighs twice, and the command says so */
    snprintf(args, sizeof args, "average -o %s %s %s", out, s0, s0);
    CHECK(sdd_cli(args, err, sizeof err) == 0 && strstr(err, "is given 2 times (it weighs 2/2)"));
    CHECK(same_weights(out, s0));
    unlink(out);
    /* usage errors */
    snprintf(args, sizeof args, "average %s", s0);
    CHECK(sdd_cli(args, err, sizeof err) == 2 && strstr(err, "no output given"));
    snprintf(args, sizeof args, "average -o %s", out);
    CHECK(sdd_cli(args, err, sizeof err) == 2 && strstr(err, "no model files given"));
}

/* The run's cut is stored in each of its files (metadata "cut") and is what
 * sdd score scores at by default (the dev threshold was found at it) */
static void test_cut(const char *a)
{
    char names[8][64], s0[600], s1[600], fin[600], out[600], bad[600], args[2400], err[1200];
    CHECK(snapshot_files(a, names, 8) == 2);
    snprintf(s0, sizeof s0, "%s/%s", a, names[0]);
    snprintf(s1, sizeof s1, "%s/%s", a, names[1]);
    snprintf(fin, sizeof fin, "%s/model.safetensors", a);
    snprintf(out, sizeof out, "%s/cut.safetensors", tmp);
    snprintf(bad, sizeof bad, "%s/badcut.safetensors", tmp);
    const char *files[3] = { s0, fin, out };
    snprintf(args, sizeof args, "average -o %s %s %s", out, s0, s1);
    CHECK_MSG(sdd_cli(args, err, sizeof err) == 0, "sdd average: %s", err);
    for (int k = 0; k < 3; k++) {
        sdd_err e;
        sdd_model *m = sdd_model_load(files[k], NULL, &e);
        CHECK_MSG(m && m->cut == 4000 && sdd_model_cut(m) == 4000, "%s: cut %lld", files[k], m ? (long long)m->cut : -1LL);
        sdd_model_free(m);
    }
    /* sdd score: the default cut is the run's, not AASIST-L's 64600 */
    const char *bin = getenv("SDD_BIN") ? getenv("SDD_BIN") : "./sdd";
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "%s score -m %s tests/data/audio/real_01.flac > %s/d.txt && %s score -m %s --cut 4000 tests/data/audio/real_01.flac > %s/c.txt "
             "&& %s score -m %s --cut 64600 tests/data/audio/real_01.flac > %s/r.txt 2>/dev/null && cmp -s %s/d.txt %s/c.txt && ! cmp -s %s/d.txt %s/r.txt",
             bin, fin, tmp, bin, fin, tmp, bin, fin, tmp, tmp, tmp, tmp, tmp);
    CHECK_MSG(system(cmd) == 0, "sdd score's default cut is not the run's 4000");
    /* the stored dev threshold labels scores at another cut with a warning; none at the run's cut or with --threshold */
    snprintf(cmd, sizeof cmd, "%s score -m %s --cut 64600 tests/data/audio/real_01.flac 2>&1 >/dev/null | grep -qx "
             "'sdd: warning: %s: its threshold was set on scores at a cut of 4000 samples; scoring --cut 64600, a label "
             "may fall on the wrong side of it (give --threshold T, or score at the model.s cut)'", bin, fin, fin);
    CHECK_MSG(system(cmd) == 0, "no warning for a threshold found at another cut");
    snprintf(cmd, sizeof cmd, "%s score -m %s --full tests/data/audio/real_01.flac 2>&1 >/dev/null | grep -q 'scoring whole files (--full)'",
             bin, fin);
    CHECK_MSG(system(cmd) == 0, "no warning for a threshold found at a cut, used with --full");
    snprintf(cmd, sizeof cmd, "%s score -m %s tests/data/audio/real_01.flac 2>&1 >/dev/null | grep -q . || "
             "%s score -m %s --cut 4000 tests/data/audio/real_01.flac 2>&1 >/dev/null | grep -q . || "
             "%s score -m %s --cut 64600 --threshold 0 tests/data/audio/real_01.flac 2>&1 >/dev/null | grep -q .",
             bin, fin, bin, fin, bin, fin);
    CHECK_MSG(system(cmd) != 0, "sdd score printed on stderr at the run's cut or with --threshold");
    /* sdd info shows the cut, and a snapshot's epoch and dev loss */
    snprintf(cmd, sizeof cmd, "%s info %s > %s/i.txt && grep -q '^trained at: 4000 samples' %s/i.txt && grep -q '^epoch: [0-9]' %s/i.txt "
             "&& grep -q '^dev loss: [0-9]' %s/i.txt", bin, s0, tmp, tmp, tmp, tmp);
    CHECK_MSG(system(cmd) == 0, "sdd info %s: no cut, epoch or dev loss", s0);
    /* averaging files of two cuts: the output has none (its default is the reference length) */
    CHECK(rewrite_snapshot(s1, bad, NULL, "cut", "8000") == 0);
    snprintf(args, sizeof args, "average -o %s %s %s", out, s0, bad);
    CHECK_MSG(sdd_cli(args, err, sizeof err) == 0, "sdd average: %s", err);
    sdd_tensorset ts;
    sdd_err e;
    CHECK(sdd_safetensors_load(out, &ts, &e) == 0 && !sdd_tensorset_get_meta(&ts, "cut"));
    sdd_tensorset_free(&ts);
    /* a stored cut that is not a number of samples the model takes: one line naming the file */
    static const char *const vals[] = { "abc", "", "12x", "100", "1073741825", "99999999999999999999", "-4000", "+4000", " 4000" };
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
        CHECK(rewrite_snapshot(s1, bad, NULL, "cut", vals[k]) == 0);
        sdd_model *m = sdd_model_load(bad, NULL, &e);
        CHECK_MSG(!m && strstr(e.msg, "badcut.safetensors: metadata cut '") && strstr(e.msg, "is not a number of samples in 2315..1073741824"),
                  "cut '%s': %s", vals[k], m ? "loaded" : e.msg);
        sdd_model_free(m);
    }
    /* a stored threshold is a plain decimal number, as sdd writes it */
    static const char *const thr[] = { "", " 1", "0x1p-3", "nan", "inf", "1e999", "1.5x" };
    for (size_t k = 0; k < sizeof thr / sizeof thr[0]; k++) {
        CHECK(rewrite_snapshot(s1, bad, NULL, "threshold", thr[k]) == 0);
        sdd_model *m = sdd_model_load(bad, NULL, &e);
        CHECK_MSG(!m && strstr(e.msg, "badcut.safetensors: metadata threshold '") && strstr(e.msg, "is not a number"),
                  "threshold '%s': %s", thr[k], m ? "loaded" : e.msg);
        sdd_model_free(m);
    }
    CHECK(rewrite_snapshot(s1, bad, NULL, "threshold", "-1.25e-3") == 0);
    sdd_model *mt = sdd_model_load(bad, NULL, &e);
    CHECK_MSG(mt && mt->has_threshold && mt->threshold == -1.25e-3, "%s", mt ? "threshold not kept" : e.msg);
    sdd_model_free(mt);
    unlink(out);
    unlink(bad);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-nbest-%d", (int)getpid());
    mkdir(tmp, 0700);
    snprintf(list, sizeof list, "%s/list.txt", tmp);
    CHECK(ts_write_list(list) == 0);
    char a[400];
    snprintf(a, sizeof a, "%s/a", tmp);
    test_files_and_mean(a);
    test_average(a);
    test_cut(a);
    test_old_state(a);
    test_init_threshold(a);
    test_bad_snapshots();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return CHECK_DONE("test_nbest");
}
