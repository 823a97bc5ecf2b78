/* Crash safety of `sdd train`: runs killed with SIGKILL at points drawn with a
 * fixed seed (training steps, epoch ends, every stage of every checkpoint and
 * final-output write, through the crash-point hook of io/atomic.h) and then
 * resumed with --resume end bit-identical to an uninterrupted run; the log of
 * a killed run holds whole JSON lines only; no temp file survives a resume;
 * --resume of a finished or early-stopped run does nothing; a full disk
 * (file-size limit, and a real tmpfs when running as root) while writing a
 * checkpoint fails cleanly and the run resumes. Also the `sdd` binary itself
 * ($SDD_BIN) killed by the clock at random moments and resumed.
 * Every training runs in a forked child, so that this process never starts
 * OpenMP or loader threads (fork after them is unsafe). */
#include "check.h"
#include "train_setup.h"
#include "io/atomic.h"
#include "io/safetensors.h"
#include "train/trainer.h"
#include "core/threads.h"
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_POINTS 256

static char tmp[256], list[512], spec[600];

/* ---- the hook: count points, die at one, or record them ---- */
static long kill_at = -1, npoints;
static FILE *trace;

static void hook(const char *point)
{
    if (trace) { fprintf(trace, "%s\n", point); fflush(trace); }
    if (npoints++ == kill_at) raise(SIGKILL);
}

typedef struct {
    int epochs, patience;
} setup;

static sdd_train_config config(const char *out, const setup *s)
{
    sdd_train_config c = ts_config(list, out, s->epochs);
    c.patience = s->patience;
    c.bn_recompute = 1;
    c.neval = 1;
    c.eval_spec[0] = spec;
    return c;
}

/* One training in a child: killed at hook point `at` (-1: never), resumed or
 * not, point names appended to trace_path when given, RLIMIT_FSIZE `fsize`
 * bytes when > 0. Returns the wait status; the child's error goes to errfile. */
static int train_child(const char *out, const setup *s, int resume, long at, const char *trace_path, long fsize, const char *errfile)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        kill_at = at;
        npoints = 0;
        if (trace_path) trace = fopen(trace_path, "w");
        if (fsize > 0) {
            signal(SIGXFSZ, SIG_IGN);   /* so that the write fails with EFBIG instead */
            struct rlimit rl = { (rlim_t)fsize, (rlim_t)fsize };
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        sdd_threads_set(1);   /* spinning OpenMP threads would cost seconds on a busy machine */
        sdd_crash_hook_set(hook);
        sdd_train_config c = config(out, s);
        c.resume = resume;
        sdd_err e;
        const int rc = sdd_train_run(&c, &e);
        if (rc && errfile) {
            FILE *f = fopen(errfile, "w");
            if (f) { fprintf(f, "%s", e.msg); fclose(f); }
        }
        if (trace) fclose(trace);
        _exit(rc ? 1 : 0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return st;
}

static int killed(int st) { return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL; }
static int ok(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; }

static int same_bytes(const char *dir_a, const char *dir_b, const char *name)
{
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/%s", dir_a, name);
    snprintf(pb, sizeof pb, "%s/%s", dir_b, name);
    return ts_same_bytes(pa, pb);
}

/* The log's records without their timings, one canonical JSON text per line,
 * joined; NULL when a line is torn or not a JSON object. */
static char *log_records(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    size_t n;
    char *txt = ts_slurp(path, &n);
    if (!txt) return NULL;
    if (n && txt[n - 1] != '\n') { free(txt); return NULL; }   /* a torn last line */
    size_t cap = 2 * n + 16, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (char *line = txt, *nl; out && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        *nl = 0;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!json_is_object(o)) { json_decref(o); free(out); out = NULL; break; }
        json_object_del(o, "seconds");
        json_object_del(o, "data_wait_s");
        json_object_del(o, "dev_seconds");
        char *d = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
        json_decref(o);
        const size_t dl = strlen(d);
        if (len + dl + 2 > cap) { cap = 2 * (len + dl + 2); out = realloc(out, cap); }
        memcpy(out + len, d, dl);
        len += dl;
        out[len++] = '\n';
        out[len] = 0;
        free(d);
    }
    free(txt);
    return out;
}

/* how many temp files ("*.tmp.XXXXXX") are in dir */
static int temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) n += strstr(de->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* the n-best snapshot files of dir (best-*), sorted, joined with spaces */
static void snapshot_names(const char *dir, char *out, size_t n)
{
    char names[16][64];
    int k = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, "best-", 5) && k < 16) snprintf(names[k++], 64, "%s", de->d_name);
    if (d) closedir(d);
    qsort(names, (size_t)k, 64, (int (*)(const void *, const void *))strcmp);
    out[0] = 0;
    for (int j = 0; j < k; j++) snprintf(out + strlen(out), n - strlen(out), "%s%s", j ? " " : "", names[j]);
}

/* The outputs of run `dir` equal the reference's: the final and last models,
 * the n-best snapshot files and the scores byte for byte, config.json, and
 * the log record by record. */
static int same_run(const char *ref, const char *dir, char *why, size_t wn)
{
    const char *files[] = { "model.safetensors", "last.safetensors", "scores_bundled.txt", "config.json" };
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
        if (!same_bytes(ref, dir, files[k])) { snprintf(why, wn, "%s differs", files[k]); return 0; }
    char na[1100], nb[1100];
    snapshot_names(ref, na, sizeof na);
    snapshot_names(dir, nb, sizeof nb);
    if (strcmp(na, nb) || !na[0]) { snprintf(why, wn, "snapshot files '%.60s', the reference's '%.60s'", nb, na); return 0; }
    for (char *p = na, *sp; *p; p = sp + 1) {
        if ((sp = strchr(p, ' '))) *sp = 0;
        if (!same_bytes(ref, dir, p)) { snprintf(why, wn, "%s differs", p); return 0; }
        if (!sp) break;
    }
    char *a = log_records(ref), *b = log_records(dir);
    const int same = a && b && strcmp(a, b) == 0;
    if (!same) snprintf(why, wn, "log.jsonl records differ%s", b ? "" : " (torn or not JSON)");
    free(a);
    free(b);
    if (same && temp_files(dir)) { snprintf(why, wn, "%d temp files left", temp_files(dir)); return 0; }
    return same;
}

/* the hook points of an uninterrupted run, recorded by the reference run */
static int read_points(const char *path, char pts[][24], int cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0;
    char line[64];
    while (n < cap && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        snprintf(pts[n++], 24, "%s", line);
    }
    fclose(f);
    return n;
}

static uint64_t rng_state = 20260526u;
static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void rmrf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
}

/* kill at `at` (and, when at2 >= 0, the resumed run again at at2), resume, compare */
static void kill_trial(const char *ref, const setup *s, int k, long at, long at2, const char *what)
{
    char dir[300], why[200] = "";
    snprintf(dir, sizeof dir, "%s/trial%02d", tmp, k);
    int st = train_child(dir, s, 0, at, NULL, 0, NULL);
    CHECK_MSG(killed(st), "trial %d (%s, point %ld): not killed (status %d)", k, what, at, st);
    char *recs = log_records(dir);
    struct stat sb;
    char lp[400];
    snprintf(lp, sizeof lp, "%s/log.jsonl", dir);
    CHECK_MSG(recs || stat(lp, &sb) != 0, "trial %d (%s): the killed run's log has a torn or non-JSON line", k, what);
    free(recs);
    if (at2 >= 0) {
        st = train_child(dir, s, 1, at2, NULL, 0, NULL);
        CHECK_MSG(killed(st), "trial %d: second kill at %ld did not happen", k, at2);
    }
    char err[400];
    snprintf(err, sizeof err, "%s/trial%02d.err", tmp, k);
    st = train_child(dir, s, 1, -1, NULL, 0, err);
    char *msg = ok(st) ? NULL : ts_slurp(err, NULL);
    CHECK_MSG(ok(st), "trial %d (%s, point %ld): resume failed: %s", k, what, at, msg ? msg : "(killed)");
    free(msg);
    CHECK_MSG(same_run(ref, dir, why, sizeof why), "trial %d (killed at %s, point %ld%s): %s", k, what, at, at2 >= 0 ? ", then again" : "", why);
    rmrf(dir);
}

/* a second --resume of a finished run trains nothing and changes nothing */
static void resume_finished(const char *ref, const setup *s)
{
    char copy[300], cmd[800], why[200] = "";
    snprintf(copy, sizeof copy, "%s/again", tmp);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", ref, copy);
    CHECK(system(cmd) == 0);
    char tr[400];
    snprintf(tr, sizeof tr, "%s/again.points", tmp);
    const int st = train_child(copy, s, 1, -1, tr, 0, NULL);
    CHECK(ok(st));
    char pts[8][24];
    CHECK_MSG(read_points(tr, pts, 8) == 0, "--resume of a finished run wrote something");
    CHECK_MSG(same_run(ref, copy, why, sizeof why), "--resume of a finished run: %s", why);
    CHECK(same_bytes(ref, copy, "state.safetensors"));
    rmrf(copy);
}

/* kill trials over the points of one run (fixed seed): the trials take the
 * four kinds of points in turn (steps; epoch ends and the moments between
 * their checkpoint files; stages inside file writes; the final phase: final
 * model, evaluation scores, final record), the last fifth of the trials are
 * killed a second time during their resume */
static void kill_trials(const char *ref, const char *points, const setup *s, int ntrials, int first, int spread)
{
    char pts[MAX_POINTS][24];
    const int np = read_points(points, pts, MAX_POINTS);
    CHECK_MSG(np > ntrials, "only %d crash points in a run", np);
    if (np <= ntrials) return;
    /* the kind of each point: step, epoch end (with its checkpoint), inside a file write, final phase */
    int kind_of[MAX_POINTS], nkind[4] = { 0, 0, 0, 0 }, kinds[4] = { 0, 0, 0, 0 };
    int in_final = 0;
    for (int i = 0; i < np; i++) {
        const char *w = pts[i];
        if (!strcmp(w, "train.model")) in_final = 1;   /* the final model's write and everything after it */
        kind_of[i] = in_final ? 3 : !strcmp(w, "train.step") ? 0 : !strncmp(w, "atomic.", 7) ? 2 : 1;
        nkind[kind_of[i]]++;
    }
    for (int k = 0; k < ntrials; k++) {
        /* the kinds in turn, a point of that kind drawn uniformly */
        int kind = k % 4;
        while (!nkind[kind]) kind = (kind + 1) % 4;
        long at = 0;
        for (long j = (long)(uniform() * nkind[kind]); ; at++)
            if (kind_of[at] == kind && j-- == 0) break;
        const long at2 = k >= ntrials - ntrials / 5 ? (long)(uniform() * (np - at) / 2) : -1;
        kinds[kind]++;
        kill_trial(ref, s, first + k, at, at2, pts[at]);
    }
    CHECK_MSG(!spread || (kinds[0] && kinds[1] && kinds[2] && kinds[3]), "kill points not spread: %d step, %d epoch end, %d in writes, %d final phase",
              kinds[0], kinds[1], kinds[2], kinds[3]);
    printf("crash: %d trials: %d at steps, %d at epoch ends, %d inside file writes, %d in the final phase\n", ntrials, kinds[0], kinds[1],
           kinds[2], kinds[3]);
}

/* A full disk while the state is written: RLIMIT_FSIZE below the state's size
 * (EFBIG), so epoch 0's state write fails; the run stops with the file named,
 * leaves no temp file, and resumes to the reference result. */
static void full_disk_rlimit(const char *ref, const setup *s)
{
    char dir[300], path[400], err[400], why[200] = "";
    snprintf(dir, sizeof dir, "%s/fsize", tmp);
    snprintf(path, sizeof path, "%s/last.safetensors", ref);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    snprintf(err, sizeof err, "%s/fsize.err", tmp);
    int ws = train_child(dir, s, 0, -1, NULL, (long)st.st_size + 4096, err);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 1);
    char *msg = ts_slurp(err, NULL);
    char want[500];
    snprintf(want, sizeof want, "%s/state.safetensors: write failed: File too large", dir);
    CHECK_MSG(msg && !strcmp(msg, want), "full disk: '%s'", msg ? msg : "(none)");
    free(msg);
    CHECK(temp_files(dir) == 0);
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    CHECK(stat(path, &st) != 0);
    CHECK(ok(train_child(dir, s, 1, -1, NULL, 0, NULL)));
    CHECK_MSG(same_run(ref, dir, why, sizeof why), "after the full disk: %s", why);
    rmrf(dir);
}

/* The same on a real full file system (root only): a tmpfs, in a private
 * mount namespace of a child, sized so that epoch 1's state cannot be written
 * beside epoch 0's. Afterwards epoch 0's state is intact; the tmpfs is grown
 * and the run resumed to the reference result. Returns 0 when skipped. */
static int full_disk_tmpfs(const char *ref, const setup *s)
{
    if (geteuid() != 0) return 0;
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/last.safetensors", ref);
    if (stat(path, &st) != 0) return 0;
    const long P = (long)st.st_size;
    char mnt[300];
    snprintf(mnt, sizeof mnt, "%s/tmpfs", tmp);
    mkdir(mnt, 0700);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* this child owns the mount; it reports through its exit status */
        if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) _exit(77);
        char opt[64];
        snprintf(opt, sizeof opt, "size=%ld", 8 * P + 65536);
        if (mount("tmpfs", mnt, "tmpfs", 0, opt)) _exit(77);
        char dir[400], err[500], why[200] = "";
        snprintf(dir, sizeof dir, "%s/run", mnt);
        snprintf(err, sizeof err, "%s/tmpfs.err", tmp);
        int ws = train_child(dir, s, 0, -1, NULL, 0, err);
        char *msg = ts_slurp(err, NULL);
        char want[500];
        snprintf(want, sizeof want, "%s/state.safetensors: write failed: No space left on device", dir);
        int bad = !(WIFEXITED(ws) && WEXITSTATUS(ws) == 1) ? 1 : !msg || strcmp(msg, want) ? 2 : temp_files(dir) ? 3 : 0;
        if (msg && bad == 2) fprintf(stderr, "tmpfs: '%s'\n", msg);
        free(msg);
        sdd_tensorset ts;
        sdd_err e;
        snprintf(path, sizeof path, "%s/state.safetensors", dir);
        if (!bad && sdd_safetensors_load(path, &ts, &e)) bad = 4;
        else if (!bad) {
            const char *ne = sdd_tensorset_get_meta(&ts, "next_epoch");
            if (!ne || strcmp(ne, "1")) bad = 5;   /* epoch 0's state, untouched */
            sdd_tensorset_free(&ts);
        }
        snprintf(opt, sizeof opt, "remount,size=%ld", 64 * P + 65536);
        if (!bad && mount(NULL, mnt, NULL, MS_REMOUNT, opt + 8)) bad = 6;
        if (!bad && !ok(train_child(dir, s, 1, -1, NULL, 0, NULL))) bad = 7;
        if (!bad && !same_run(ref, dir, why, sizeof why)) { fprintf(stderr, "tmpfs: %s\n", why); bad = 8; }
        umount2(mnt, MNT_DETACH);
        _exit(bad);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    rmdir(mnt);
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 77) return 0;   /* no mount namespaces here */
    CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "full tmpfs: failed at stage %d", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    return 1;
}

/* `sdd train` itself, killed by the clock: delays drawn over the length of an
 * uninterrupted run of the binary, then --resume; the same model and log. */
static void cli_trials(int ntrials)
{
    const char *bin = getenv("SDD_BIN") ? getenv("SDD_BIN") : "./sdd";
    char ref[300], args[1600];
    snprintf(ref, sizeof ref, "%s/cli_ref", tmp);
    snprintf(args, sizeof args,
             "train --train %s --train-audio tests/data/audio --dev %s --dev-audio tests/data/audio --eval '%s' --model AASIST-L "
             "--batch 2 --cut 4000 --epochs 2 --patience 100 --n-best 2 --lr 1e-3 --workers 2 --bn-recompute 1 --threads 1",
             list, list, spec);
    char cmd[2200];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(cmd, sizeof cmd, "%s %s --out %s 2>/dev/null", bin, args, ref);
    CHECK(system(cmd) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double T = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    for (int k = 0; k < ntrials; k++) {
        char dir[300], why[200] = "";
        snprintf(dir, sizeof dir, "%s/cli%02d", tmp, k);
        const double delay = (k + uniform()) * T / ntrials;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            snprintf(cmd, sizeof cmd, "exec %s %s --out %s 2>/dev/null", bin, args, dir);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        struct timespec d = { (time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9) };
        while (nanosleep(&d, &d) && errno == EINTR) {}
        kill(pid, SIGKILL);
        int ws;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
        char *recs = log_records(dir);
        char lp[400];
        struct stat sb;
        snprintf(lp, sizeof lp, "%s/log.jsonl", dir);
        CHECK_MSG(recs || stat(lp, &sb) != 0, "cli trial %d: torn log after a kill at %.2f s", k, delay);
        free(recs);
        snprintf(cmd, sizeof cmd, "%s %s --out %s --resume 2>/dev/null", bin, args, dir);
        CHECK_MSG(system(cmd) == 0, "cli trial %d: resume after a kill at %.2f s failed", k, delay);
        CHECK_MSG(same_run(ref, dir, why, sizeof why), "cli trial %d (killed at %.2f s of %.2f): %s", k, delay, T, why);
        rmrf(dir);
    }
    printf("crash: %d kills of the sdd binary over its %.2f s run\n", ntrials, T);
    rmrf(ref);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-crash-%d", (int)getpid());
    mkdir(tmp, 0700);
    snprintf(list, sizeof list, "%s/list.txt", tmp);
    CHECK(ts_write_list(list) == 0);
    snprintf(spec, sizeof spec, "bundled=%s:tests/data/audio", list);

    /* SDD_TEST_REDUCED (make test-asan, where a run is ~5x slower): fewer trials */
    const int reduced = getenv("SDD_TEST_REDUCED") && atoi(getenv("SDD_TEST_REDUCED"));
    /* 2 epochs of 2 steps, each checkpointed, the final phase with BatchNorm recomputation and an eval set */
    const setup full = { 2, 100 };
    char ref[300], points[400];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(points, sizeof points, "%s/ref.points", tmp);
    CHECK(ok(train_child(ref, &full, 0, -1, points, 0, NULL)));
    kill_trials(ref, points, &full, reduced ? 8 : 20, 0, 1);
    resume_finished(ref, &full);
    full_disk_rlimit(ref, &full);
    if (!full_disk_tmpfs(ref, &full)) printf("crash: full tmpfs case skipped (needs root and mount namespaces)\n");

    /* a run that stops early (patience 1 of 6 epochs): kills around its last
     * checkpoint must not make the resumed run train on */
    const setup early = { 6, 1 };
    char ref2[300], points2[400];
    snprintf(ref2, sizeof ref2, "%s/ref_early", tmp);
    snprintf(points2, sizeof points2, "%s/early.points", tmp);
    CHECK(ok(train_child(ref2, &early, 0, -1, points2, 0, NULL)));
    char lp[400];
    snprintf(lp, sizeof lp, "%s/log.jsonl", ref2);
    char *log = ts_slurp(lp, NULL);
    int epochs = 0;
    for (const char *p = log; p && (p = strstr(p, "\"type\": \"epoch\"")); p++) epochs++;
    free(log);
    CHECK_MSG(epochs > 1 && epochs < 6, "the early-stopping setup ran %d of 6 epochs", epochs);
    kill_trials(ref2, points2, &early, reduced ? 1 : 3, 40, 0);
    resume_finished(ref2, &early);

    cli_trials(reduced ? 2 : 3);
    rmrf(tmp);
    return CHECK_DONE("test_crash");
}
