/* End-to-end tests of '-' as an output of the sdd commands: where a command
 * can write an output to standard output (score, fuse, calibrate -o, eval -o
 * or --det, landscape -o or --svg, augment OUT), '-o -' gives on stdout the
 * same bytes that '-o FILE' writes to FILE, and the human summary, if any,
 * goes to stderr; model files (import, average, calibrate --model-out) and
 * two outputs at once on stdout are usage errors naming the option; './-'
 * still writes a file named '-'; a failed write to standard output (/dev/full,
 * a closed pipe with SIGPIPE ignored) exits 1 with one line; a closed pipe
 * with SIGPIPE at its default ends sdd silently. Also: sdd eval --calibration
 * reads the score file once (so it may come from a pipe). The binary is
 * $SDD_BIN (default ./sdd); the model-dependent cases need SDD_SHARED's
 * AASIST-L checkpoint and are skipped without it. */
#include "check.h"
#include "cli_run.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[65536];
static char tmp[256];
static char root[PATH_MAX];   /* the repository root: test data paths are made absolute with it */

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

static const char *T(const char *name) { return check_tmp_path(tmp, name); }

/* a test data file under the repository root (cli_root_path's buffers rotate apart from T's) */
#define D(rel) cli_root_path(root, rel)

/* The whole of FILE in *buf (malloc'ed, NUL-terminated), its length; -1 when
 * it cannot be read */
static long slurp(const char *path, char **buf)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long cap = 1 << 16, n = 0;
    char *b = malloc((size_t)cap);
    size_t r;
    while (b && (r = fread(b + n, 1, (size_t)(cap - 1 - n), f)) > 0) {
        n += (long)r;
        if (n == cap - 1) {
            char *nb = realloc(b, (size_t)(cap *= 2));
            if (!nb) { free(b); b = NULL; }
            else b = nb;
        }
    }
    fclose(f);
    if (!b) return -1;
    b[n] = 0;
    *buf = b;
    return n;
}

/* 1 when files A and B hold the same bytes, and at least one */
static int same_bytes(const char *a, const char *b)
{
    char *x, *y;
    const long na = slurp(a, &x), nb = slurp(b, &y);
    const int same = na > 0 && na == nb && !memcmp(x, y, (size_t)na);
    if (!same) fprintf(stderr, "  %s (%ld bytes) and %s (%ld bytes) differ\n", a, na, b, nb);
    free(x);
    free(y);
    return same;
}

/* the number of lines of s that start with "sdd: " */
static int sdd_lines(const char *s)
{
    int n = 0;
    for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += !strncmp(p, "sdd: ", 5);
    return n;
}

static int file_exists(const char *path) { struct stat st; return lstat(path, &st) == 0; }

/* Runs "$SDD ARGS -o FILE-ish" twice: OPT FILE, and OPT - with stdout into
 * STD; checks both exit 0 and the bytes agree. args_file and args_std are the
 * whole argument lists. Leaves the second run's stderr in out. */
static void same_as_file(const char *what, const char *args_file, const char *file, const char *args_std, const char *std)
{
    CHECK_MSG(run("$SDD %s > /dev/null", args_file) == 0, "%s: %s", what, out);
    CHECK_MSG(run("{ $SDD %s > %s; }", args_std, std) == 0, "%s -: %s", what, out);
    CHECK_MSG(same_bytes(file, std), "%s: '-' is not what the file gets", what);
}

/* a failed write to standard output: exit 1 and one line saying so */
static void full_device(const char *what, const char *args)
{
    CHECK_MSG(run("{ $SDD %s > /dev/full; }", args) == 1, "%s > /dev/full: %s", what, out);
    CHECK_MSG(sdd_lines(out) == 1 && strstr(out, "sdd: standard output: write failed: No space left on device"),
              "%s > /dev/full: %s", what, out);
}

/* the commands that need no model: fuse, calibrate, eval */
static void test_scores(void)
{
    char a[1200], s[1200];
    const char *sa = D("tests/data/metrics/cal_a.txt"), *sb = D("tests/data/metrics/cal_b.txt");
    const char *key = D("tests/data/metrics/cal_key.txt");
    char sc2[700];
    snprintf(sc2, sizeof sc2, "%s %s", sa, sb);

    /* fuse, learning: the JSON on stdout, the formula on stderr */
    snprintf(a, sizeof a, "fuse --scores %s --key %s -o %s", sc2, key, T("fusion.json"));
    snprintf(s, sizeof s, "fuse --scores %s --key %s -o -", sc2, key);
    same_as_file("fuse (learning)", a, T("fusion.json"), s, T("fusion-std.json"));
    CHECK_STR_CONTAINS(out, "LLR =");
    char *b;
    CHECK(slurp(T("fusion-std.json"), &b) > 0 && b[0] == '{' && !strstr(b, "bits (prior-weighted"));
    free(b);
    full_device("fuse (learning)", s);

    /* fuse, applying: the 'ID LLR label' lines */
    snprintf(a, sizeof a, "fuse --apply %s --scores %s --threshold -o %s", T("fusion.json"), sc2, T("fused.txt"));
    snprintf(s, sizeof s, "fuse --apply %s --scores %s --threshold -o -", T("fusion.json"), sc2);
    same_as_file("fuse --apply", a, T("fused.txt"), s, T("fused-std.txt"));
    CHECK_MSG(out[0] == 0, "fuse --apply -o - printed on stderr: %s", out);
    full_device("fuse --apply", s);

    /* calibrate: the JSON on stdout, the summary on stderr */
    snprintf(a, sizeof a, "calibrate --scores %s --key %s -o %s", sa, key, T("cal.json"));
    snprintf(s, sizeof s, "calibrate --scores %s --key %s -o -", sa, key);
    same_as_file("calibrate", a, T("cal.json"), s, T("cal-std.json"));
    CHECK_STR_CONTAINS(out, "Bayes threshold");
    CHECK(slurp(T("cal-std.json"), &b) > 0 && b[0] == '{' && !strstr(b, "Bayes threshold"));
    free(b);
    full_device("calibrate", s);

    /* eval: the JSON report or the DET's TSV on stdout, the table on stderr */
    snprintf(a, sizeof a, "eval --scores %s --key %s -o %s", sa, key, T("r.json"));
    snprintf(s, sizeof s, "eval --scores %s --key %s -o -", sa, key);
    same_as_file("eval -o", a, T("r.json"), s, T("r-std.json"));
    CHECK_STR_CONTAINS(out, "EER ");
    CHECK(slurp(T("r-std.json"), &b) > 0 && b[0] == '{' && !strstr(b, "EER "));
    free(b);
    full_device("eval -o", s);
    snprintf(a, sizeof a, "eval --scores %s --key %s --det %s", sa, key, T("det.tsv"));
    snprintf(s, sizeof s, "eval --scores %s --key %s --det -", sa, key);
    same_as_file("eval --det", a, T("det.tsv"), s, T("det-std.tsv"));
    CHECK_STR_CONTAINS(out, "EER ");
    full_device("eval --det", s);
    /* eval -o - beside a DET file: both as with files */
    snprintf(s, sizeof s, "eval --scores %s --key %s --det %s -o -", sa, key, T("det2.svg"));
    CHECK_MSG(run("{ $SDD %s > %s; }", s, T("r2-std.json")) == 0, "%s", out);
    CHECK(same_bytes(T("r.json"), T("r2-std.json")) && file_exists(T("det2.svg")));

    /* refused: a model file on stdout; two outputs on stdout */
    snprintf(s, sizeof s, "$SDD calibrate --scores %s --key %s -m %s/models/AASIST-L.pth --model-out -", sa, key,
             getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared");
    CHECK_MSG(run("%s", s) == 2 && strstr(out, "sdd calibrate: --model-out -: a model file cannot go to standard output"),
              "%s", out);
    CHECK(run("$SDD eval --scores %s --key %s -o - --det -", sa, key) == 2);
    CHECK_STR_CONTAINS(out, "sdd eval: -o - and --det -: only one output can go to standard output");

    /* './-' is a file named '-' (in the temp folder: the commands run there) */
    CHECK(run("cd %s && $SDD fuse --scores %s --key %s -o ./- > /dev/null", tmp, sc2, key) == 0);
    CHECK(same_bytes(T("-"), T("fusion.json")));
    CHECK(unlink(T("-")) == 0);
    CHECK(run("cd %s && $SDD calibrate --scores %s --key %s -o ./- > /dev/null", tmp, sa, key) == 0);
    CHECK(same_bytes(T("-"), T("cal.json")));
    CHECK(unlink(T("-")) == 0);
    CHECK(run("cd %s && $SDD eval --scores %s --key %s -o ./- > /dev/null", tmp, sa, key) == 0);
    CHECK(same_bytes(T("-"), T("r.json")));
    CHECK(unlink(T("-")) == 0);

    /* eval --calibration reads the scores once: they may come down a pipe */
    CHECK(run("$SDD eval --scores %s --key %s --calibration %s -o %s > /dev/null", sa, key, T("cal.json"), T("rc.json")) == 0);
    CHECK_MSG(run("cat %s | $SDD eval --scores /dev/stdin --key %s --calibration %s -o %s > /dev/null", sa, key,
                  T("cal.json"), T("rc-pipe.json")) == 0, "%s", out);
    CHECK(slurp(T("rc-pipe.json"), &b) > 0 && strstr(b, "\"calibrated\""));
    free(b);
}

/* score, landscape, augment, import, average: with the AASIST-L model */
static void test_model(const char *model)
{
    char a[1400], s[1400];
    const char *r1 = D("tests/data/audio/real_01.flac"), *t1 = D("tests/data/audio/tts_01.flac");
    const char *dir = D("tests/data/audio");

    /* score: -o - is the default, stdout */
    snprintf(a, sizeof a, "score -m %s -o %s %s %s", model, T("scores.txt"), r1, t1);
    snprintf(s, sizeof s, "score -m %s -o - %s %s", model, r1, t1);
    same_as_file("score", a, T("scores.txt"), s, T("scores-std.txt"));
    CHECK_MSG(out[0] == 0, "score -o - printed on stderr: %s", out);
    CHECK(run("{ $SDD score -m %s %s %s > %s; }", model, r1, t1, T("scores-default.txt")) == 0);
    CHECK(same_bytes(T("scores.txt"), T("scores-default.txt")));
    full_device("score", s);
    /* standard input in, a file named '-' out: not one file */
    CHECK_MSG(run("cd %s && $SDD score -m %s - -o ./- < %s", tmp, model, r1) == 0, "%s", out);
    char *b;
    CHECK(slurp(T("-"), &b) > 0 && !strncmp(b, "- ", 2));
    free(b);
    CHECK(unlink(T("-")) == 0);
    /* a closed pipe: SIGPIPE ends sdd silently (141); ignored, one line and exit 1 */
    CHECK(run("{ { $SDD score -m %s --batch 1 -o - %s; echo \"rc=$?\" >&2; } | :; }", model, dir) == 0);
    CHECK_MSG(strstr(out, "rc=141") && sdd_lines(out) == 0, "SIGPIPE: %s", out);
    CHECK(run("{ { trap '' PIPE; $SDD score -m %s --batch 1 -o - %s; echo \"rc=$?\" >&2; } | :; }", model, dir) == 0);
    CHECK_MSG(strstr(out, "rc=1\n") && sdd_lines(out) == 1 && strstr(out, "sdd: standard output: write failed: Broken pipe"),
              "EPIPE: %s", out);
    CHECK(run("{ $SDD score -m %s --batch 1 -o - %s | head -n 1; }", model, dir) == 0);
    CHECK_MSG(strchr(out, '\n') && !strchr(out, '\n')[1], "| head -n 1: %s", out);

    /* augment: a WAV on stdout, from a file or from standard input */
    snprintf(a, sizeof a, "augment --algo 4 --seed 3 %s %s", r1, T("aug.wav"));
    snprintf(s, sizeof s, "augment --algo 4 --seed 3 %s -", r1);
    same_as_file("augment", a, T("aug.wav"), s, T("aug-std.wav"));
    CHECK_MSG(run("{ $SDD augment --algo 4 --seed 3 - - < %s > %s; }", r1, T("aug-pipe.wav")) == 0, "%s", out);
    CHECK(same_bytes(T("aug.wav"), T("aug-pipe.wav")));
    full_device("augment", s);

    /* landscape: the TSV or the SVG on stdout, not both */
    char base[1100];
    FILE *f = fopen(T("dev.lst"), "w");
    if (f) { fputs("real_01.flac bonafide\ntts_01.flac spoof\n", f); fclose(f); }
    snprintf(base, sizeof base, "landscape -m %s --list %s --audio-dir %s --dirs 1 --steps 2 --cut 16000 --range 0.01", model,
             T("dev.lst"), dir);
    snprintf(a, sizeof a, "%s -o %s --svg %s", base, T("l.tsv"), T("l.svg"));
    snprintf(s, sizeof s, "%s -o - --svg %s", base, T("l2.svg"));
    same_as_file("landscape -o", a, T("l.tsv"), s, T("l-std.tsv"));
    CHECK(same_bytes(T("l.svg"), T("l2.svg")));
    snprintf(s, sizeof s, "%s -o %s --svg -", base, T("l3.tsv"));
    CHECK_MSG(run("{ $SDD %s > %s; }", s, T("l-std.svg")) == 0, "%s", out);
    CHECK(same_bytes(T("l.svg"), T("l-std.svg")) && same_bytes(T("l.tsv"), T("l3.tsv")));
    snprintf(s, sizeof s, "%s -o -", base);
    full_device("landscape", s);
    CHECK(run("$SDD %s -o - --svg -", base) == 2);
    CHECK_STR_CONTAINS(out, "sdd landscape: -o - and --svg -: only one output can go to standard output");

    /* model files never go to stdout; ./- is a file */
    CHECK(run("$SDD average -o - %s %s", model, model) == 2);
    CHECK_STR_CONTAINS(out, "sdd average: -o -: a model file cannot go to standard output; give a file name (./- for a file named '-')");
    const char *shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    CHECK(run("$SDD import %s/models/AASIST-L.pth -o -", shared) == 2);
    CHECK_STR_CONTAINS(out, "sdd import: -o -: a model file cannot go to standard output");
    CHECK_MSG(run("cd %s && $SDD average -o ./- %s", tmp, model) == 0, "%s", out);
    CHECK(file_exists(T("-")));
    CHECK(unlink(T("-")) == 0);
}

/* every command that takes -o (or OUT) says what '-' does */
static void test_help(void)
{
    static const char *const cmds[] = { "score", "fuse", "calibrate", "eval", "landscape", "augment", "import", "average" };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        CHECK(run("$SDD %s --help", cmds[k]) == 0);
        CHECK_MSG(strstr(out, "'-'") && strstr(out, "./-"), "sdd %s --help says nothing of '-'", cmds[k]);
    }
}

int main(void)
{
    const char *shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    const char *bin = cli_bin();
    char absbin[PATH_MAX];
    /* absolute: some commands run in the temp folder */
    if (!cli_exists(bin) || !realpath(bin, absbin) || !getcwd(root, sizeof root)) {
        printf("SKIP test_cli_stdout: needs %s (run make)\n", bin);
        return CHECK_DONE("test_cli_stdout");
    }
    setenv("SDD", absbin, 1);
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-cli-stdout-%d", (int)getpid());
    CHECK(mkdir(tmp, 0700) == 0);
    CHECK(run("ls -d ${TMPDIR:-/tmp}/sdd-stdout.* 2>/dev/null | wc -l") == 0);
    const int left_before = atoi(out);
    test_help();
    test_scores();
    char pth[512], model[300];
    snprintf(pth, sizeof pth, "%s/models/AASIST-L.pth", shared);
    snprintf(model, sizeof model, "%s", T("al.safetensors"));
    if (!cli_exists(pth)) printf("SKIP score, augment, landscape, import, average: needs %s\n", pth);
    else {
        CHECK(run("$SDD import %s -o %s", pth, model) == 0);
        test_model(model);
    }
    /* no temporary folder for standard output was left behind */
    CHECK(run("ls -d ${TMPDIR:-/tmp}/sdd-stdout.* 2>/dev/null | wc -l") == 0);
    CHECK_MSG(atoi(out) == left_before, "temporary folders left: %d, %d before", atoi(out), left_before);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
    return CHECK_DONE("test_cli_stdout");
}
