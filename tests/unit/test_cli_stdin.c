/* End-to-end tests of '-' as a text input of the sdd commands: score files
 * (eval --scores, --asv-scores, --sasv-scores; calibrate --scores; fuse's
 * score files), keys and protocols (eval --key, --asv-key, --sasv-key;
 * calibrate and fuse --key) and lists (score --list) read standard input,
 * with the same result as the file (the 2021 DF key, which eval reads twice,
 * included); messages name it "- (standard input)"; two inputs on standard
 * input, '-' for an input only a file can give (a model, a calibration, a
 * fusion, C012 coefficients) and '-' for a training list are usage errors
 * naming the option; './-' is still a file named '-'. The binary is $SDD_BIN
 * (default ./sdd); the score --list case needs SDD_SHARED's AASIST-L
 * checkpoint and is skipped without it. */
#include "check.h"
#include "cli_run.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[65536], out2[65536];
static char tmp[256];
static char root[PATH_MAX];

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

static const char *T(const char *name) { return check_tmp_path(tmp, name); }

/* a test data file under the repository root */
#define D(rel) cli_root_path(root, rel)

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* s with every occurrence of `from` replaced by `to`, in a static buffer */
static const char *replaced(const char *s, const char *from, const char *to)
{
    static char buf[65536];
    size_t n = 0;
    const size_t lf = strlen(from), lt = strlen(to);
    while (*s && n + lt + 1 < sizeof buf) {
        if (!strncmp(s, from, lf)) { memcpy(buf + n, to, lt); n += lt; s += lf; }
        else buf[n++] = *s++;
    }
    buf[n] = 0;
    return buf;
}

/* Runs `with_file` (naming FILE) and `with_stdin` (the same with '-' and
 * FILE on standard input, through cat: a pipe); both exit 0 and print the
 * same, once FILE is written '-' in the first. */
static void same_output(const char *what, const char *with_file, const char *file, const char *with_stdin)
{
    CHECK_MSG(run("%s", with_file) == 0, "%s: %s", what, out);
    snprintf(out2, sizeof out2, "%s", replaced(out, file, "-"));
    CHECK_MSG(run("cat %s | %s", file, with_stdin) == 0, "%s from a pipe: %s", what, out);
    CHECK_MSG(!strcmp(out, out2), "%s: standard input gave\n%s\nthe file gave\n%s", what, out, out2);
}

static void test_eval(void)
{
    const char *sc = D("tests/data/metrics/asv21_df_scores.txt"), *key = D("tests/data/metrics/asv21_df_key.txt");
    char a[2048], b[2048];
    /* the JSON report names its inputs: '-' for standard input */
    snprintf(a, sizeof a, "$SDD eval --scores %s --key %s -o - 2>/dev/null", sc, key);
    snprintf(b, sizeof b, "$SDD eval --scores - --key %s -o - 2>/dev/null", key);
    same_output("eval --scores -", a, sc, b);
    CHECK_STR_CONTAINS(out, "\"scores\": \"-\"");
    /* the DF key is read twice (its vocoder column): the vocoder table is there from a pipe too */
    snprintf(a, sizeof a, "$SDD eval --scores %s --key %s", sc, key);
    snprintf(b, sizeof b, "$SDD eval --scores %s --key -", sc);
    same_output("eval --key - (DF)", a, key, b);
    CHECK_STR_CONTAINS(out, "rows = vocoder type");
    /* ASV scores for the 2019 t-DCF, and their key */
    const char *cm19 = D("tests/data/metrics/asv19_cm_scores.txt"), *asv19 = D("tests/data/metrics/asv19_asv_scores.txt");
    snprintf(a, sizeof a, "$SDD eval --scores %s --asv-scores %s", cm19, asv19);
    snprintf(b, sizeof b, "$SDD eval --scores %s --asv-scores -", cm19);
    same_output("eval --asv-scores -", a, asv19, b);
    CHECK_STR_CONTAINS(out, "t-DCF");
    const char *sc21 = D("tests/data/metrics/asv21_la_scores.txt"), *key21 = D("tests/data/metrics/asv21_la_key.txt");
    const char *as21 = D("tests/data/metrics/asv21_la_asv_scores.txt"), *ak21 = D("tests/data/metrics/asv21_la_asv_key.txt");
    snprintf(a, sizeof a, "$SDD eval --scores %s --key %s --asv-scores %s --asv-key %s", sc21, key21, as21, ak21);
    snprintf(b, sizeof b, "$SDD eval --scores %s --key %s --asv-scores %s --asv-key -", sc21, key21, as21);
    same_output("eval --asv-key -", a, ak21, b);
    /* SASV scores (ASVspoof 5 a-DCF) and their key */
    const char *ss = D("tests/data/metrics/asv5_sasv_scores.tsv"), *sk = D("tests/data/metrics/asv5_sasv_key.tsv");
    snprintf(a, sizeof a, "$SDD eval --sasv-scores %s --sasv-key %s", ss, sk);
    snprintf(b, sizeof b, "$SDD eval --sasv-scores - --sasv-key %s", sk);
    same_output("eval --sasv-scores -", a, ss, b);
    CHECK_STR_CONTAINS(out, "a-DCF");
    snprintf(b, sizeof b, "$SDD eval --sasv-scores %s --sasv-key -", ss);
    same_output("eval --sasv-key -", a, sk, b);

    /* errors name standard input, with the line */
    CHECK(run("printf 'x 1\\ny z\\n' | $SDD eval --scores - --key %s", key) == 1);
    CHECK_MSG(!strcmp(out, "sdd: - (standard input):2: score 'z' is not a number\n"), "%s", out);
    CHECK(run("$SDD eval --scores - --key %s < /dev/null", key) == 1);
    CHECK_MSG(!strcmp(out, "sdd: - (standard input): no scores\n"), "%s", out);
    CHECK(run("$SDD eval --scores %s --key - < /", sc) == 1);
    CHECK_MSG(!strcmp(out, "sdd: - (standard input): Is a directory\n"), "%s", out);
    /* bounded: more than 1 GiB is refused (head stops when sdd does) */
    CHECK(run("{ head -c 1074000000 /dev/zero 2>/dev/null | $SDD eval --scores - --key %s; } 2>&1", key) == 1);
    CHECK_MSG(!strcmp(out, "sdd: - (standard input): larger than 1024 MiB\n"), "%s", out);
    CHECK(run("{ head -n 3 %s | $SDD eval --scores %s --key - > /dev/null; }", key, sc) == 0);
    CHECK_STR_CONTAINS(out, "scores have no trial in - (standard input); ignored");

    /* one standard input; inputs only a file gives */
    CHECK(run("$SDD eval --scores - --key - < %s", key) == 2);
    CHECK_STR_CONTAINS(out, "sdd eval: --scores - and --key -: standard input can be only one of them; give the other a file name");
    CHECK(run("$SDD eval --scores %s --key %s --asv-scores - --asv-key - < %s", sc21, key21, ak21) == 2);
    CHECK_STR_CONTAINS(out, "--asv-scores - and --asv-key -");
    CHECK(run("$SDD eval --scores %s --key %s --asv-c012 - < %s", sc21, key21, sc21) == 2);
    CHECK_STR_CONTAINS(out, "sdd eval: --asv-c012 -: standard input cannot give NumPy C012 coefficients; give a file name (./- for a file named '-')");
    CHECK(run("$SDD eval --scores %s --key %s --calibration - < %s", sc, key, sc) == 2);
    CHECK_STR_CONTAINS(out, "--calibration -: standard input cannot give a calibration");

    /* './-' is the file named '-'; '-' is standard input even when such a file exists */
    CHECK(run("cp %s %s", sc, T("-")) == 0);
    CHECK(run("cd %s && $SDD eval --scores ./- --key %s", tmp, key) == 0);
    CHECK_STR_CONTAINS(out, "EER");
    CHECK(run("cd %s && $SDD eval --scores - --key %s < /dev/null", tmp, key) == 1);
    CHECK_STR_CONTAINS(out, "- (standard input): no scores");
    /* an output '-' file and an input '-' from standard input are not one file */
    CHECK_MSG(run("cd %s && cat %s | $SDD eval --scores - --key %s -o ./- > /dev/null", tmp, sc, key) == 0, "%s", out);
    FILE *f = fopen(T("-"), "r");
    char head[8] = "";
    CHECK(f && fgets(head, sizeof head, f) && head[0] == '{');
    if (f) fclose(f);
    unlink(T("-"));

    /* B52 through a pipe: the overflowing trial is named by its line in standard input */
    write_text(T("sc"), "t0 -1\nt1 2\nt2 5\n");
    write_text(T("key"), "t0 spoof\nt1 bonafide\nt2 bonafide\n");
    write_text(T("cb.json"), "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1e308], \"bias\": 0, "
                             "\"decision\": {\"pspoof\": 0.05, \"cmiss\": 1, \"cfa\": 10}}\n");
    CHECK(run("cat %s | $SDD eval --scores - --key %s --calibration %s -o %s", T("sc"), T("key"), T("cb.json"), T("r.json")) == 1);
    CHECK_MSG(strstr(out, "sdd: - (standard input):2: calibration") && strstr(out, "trial t1") && !cli_exists(T("r.json")),
              "%s", out);
}

static void test_calibrate_fuse(void)
{
    const char *ca = D("tests/data/metrics/cal_a.txt"), *cb = D("tests/data/metrics/cal_b.txt");
    const char *key = D("tests/data/metrics/cal_key.txt");
    char a[2048], b[2048];
    snprintf(a, sizeof a, "$SDD calibrate --scores %s --key %s -o -", ca, key);
    snprintf(b, sizeof b, "$SDD calibrate --scores - --key %s -o -", key);
    same_output("calibrate --scores -", a, ca, b);
    CHECK_STR_CONTAINS(out, "\"scores\": \"-\"");
    snprintf(b, sizeof b, "$SDD calibrate --scores %s --key - -o -", ca);
    same_output("calibrate --key -", a, key, b);
    CHECK(run("$SDD calibrate --scores - --key - -o x.json < %s", key) == 2);
    CHECK_STR_CONTAINS(out, "sdd calibrate: --scores - and --key -: standard input can be only one of them");
    CHECK(run("$SDD calibrate --scores %s --key %s -m - --model-out %s < %s", ca, key, T("m.safetensors"), ca) == 2);
    CHECK_STR_CONTAINS(out, "sdd calibrate: -m -: standard input cannot give a model");
    CHECK(!cli_exists(T("m.safetensors")));
    CHECK(run("printf 'c1 0.5\\n' | $SDD calibrate --scores - --key %s -o %s", key, T("c.json")) == 1);
    CHECK_MSG(!strncmp(out, "sdd: - (standard input): no score for trial", 43) && !cli_exists(T("c.json")), "%s", out);

    /* fuse: learning with the second system on standard input, then applying */
    snprintf(a, sizeof a, "$SDD fuse --scores %s %s --key %s -o -", ca, cb, key);
    snprintf(b, sizeof b, "$SDD fuse --scores %s - --key %s -o -", ca, key);
    same_output("fuse --scores A -", a, cb, b);
    CHECK(run("$SDD fuse --scores %s %s --key %s -o %s", ca, cb, key, T("f.json")) == 0);
    snprintf(a, sizeof a, "$SDD fuse --apply %s --scores %s %s --threshold -o -", T("f.json"), ca, cb);
    snprintf(b, sizeof b, "$SDD fuse --apply %s --scores - %s --threshold -o -", T("f.json"), cb);
    same_output("fuse --apply --scores - B", a, ca, b);
    CHECK(run("$SDD fuse --scores - - --key %s -o x.json < %s", key, ca) == 2);
    CHECK_STR_CONTAINS(out, "sdd fuse: the score file - and the score file -: standard input can be only one of them");
    CHECK(run("$SDD fuse --scores - %s --key - -o x.json < %s", cb, ca) == 2);
    CHECK_STR_CONTAINS(out, "the score file - and --key -");
    CHECK(run("$SDD fuse --apply - --scores %s %s -o - < %s", ca, cb, T("f.json")) == 2);
    CHECK_STR_CONTAINS(out, "sdd fuse: --apply -: standard input cannot give a fusion");
    CHECK(run("head -n 5 %s | $SDD fuse --apply %s --scores - %s -o %s", ca, T("f.json"), cb, T("o.txt")) == 1);
    CHECK_MSG(strstr(out, "cal_b.txt: scores 600 trials, - (standard input) 5: the files must score the same trials") &&
              !cli_exists(T("o.txt")), "%s", out);
}

/* a training list is recorded in the run for --resume: a file, not standard input */
static void test_train(void)
{
    const char *lst = D("tests/data/metrics/cal_key.txt");   /* refused before any list is read */
    CHECK(run("$SDD train --model AASIST-L --train - --dev %s --out %s < %s", lst, T("run1"), lst) == 2);
    CHECK_STR_CONTAINS(out, "sdd train: --train -: a list is read from a file, not standard input");
    CHECK(!cli_exists(T("run1")));
    CHECK(run("$SDD train --model AASIST-L --train %s --dev - --out %s < %s", lst, T("run2"), lst) == 2);
    CHECK_STR_CONTAINS(out, "--dev -: a list is read from a file");
    CHECK(run("$SDD train --model AASIST-L --train %s --dev %s --eval x=-:%s --out %s < %s", lst, lst, tmp, T("run3"), lst) == 2);
    CHECK_STR_CONTAINS(out, "--eval x=-:");
    CHECK(!cli_exists(T("run2")) && !cli_exists(T("run3")));
}

/* score --list -: the same scores as --list FILE; -m - and --calibration - refused */
static void test_score(const char *model)
{
    const char *dir = D("tests/data/audio");
    write_text(T("list.txt"), "real_01.flac bonafide\ntts_01.flac spoof\nreal_02.flac bonafide\n");
    char a[2048], b[2048];
    snprintf(a, sizeof a, "$SDD score -m %s --list %s --audio-dir %s --cut 16000", model, T("list.txt"), dir);
    snprintf(b, sizeof b, "$SDD score -m %s --list - --audio-dir %s --cut 16000", model, dir);
    same_output("score --list -", a, T("list.txt"), b);
    CHECK_STR_CONTAINS(out, "tts_01.flac ");
    CHECK(run("printf 'a.flac bonafide extra stuff here\\n' | $SDD score -m %s --list - --audio-dir %s", model, dir) == 1);
    CHECK_STR_CONTAINS(out, "sdd: - (standard input):1:");
    CHECK(run("$SDD score -m - --list %s --audio-dir %s < %s", T("list.txt"), dir, model) == 2);
    CHECK_STR_CONTAINS(out, "sdd score: -m -: standard input cannot give a model");
    CHECK(run("$SDD score -m %s --calibration - --list %s --audio-dir %s < /dev/null", model, T("list.txt"), dir) == 2);
    CHECK_STR_CONTAINS(out, "--calibration -: standard input cannot give a calibration");
}

/* each command that reads a text input from '-' says so */
static void test_help(void)
{
    static const char *const cmds[] = { "eval", "calibrate", "fuse", "score" };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        CHECK(run("$SDD %s --help", cmds[k]) == 0);
        CHECK_MSG(strstr(out, "standard input"), "sdd %s --help says nothing of standard input", cmds[k]);
    }
}

int main(void)
{
    const char *shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    const char *bin = cli_bin();
    char absbin[PATH_MAX];
    if (!cli_exists(bin) || !realpath(bin, absbin) || !getcwd(root, sizeof root)) {
        printf("SKIP test_cli_stdin: needs %s (run make)\n", bin);
        return CHECK_DONE("test_cli_stdin");
    }
    setenv("SDD", absbin, 1);
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-cli-stdin-%d", (int)getpid());
    CHECK(mkdir(tmp, 0700) == 0);
    test_help();
    test_eval();
    test_calibrate_fuse();
    test_train();
    char pth[512];
    snprintf(pth, sizeof pth, "%s/models/AASIST-L.pth", shared);
    if (!cli_exists(pth)) printf("SKIP score --list -: needs %s\n", pth);
    else {
        CHECK(run("$SDD import %s -o %s", pth, T("al.safetensors")) == 0);
        test_score(T("al.safetensors"));
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
    return CHECK_DONE("test_cli_stdin");
}
