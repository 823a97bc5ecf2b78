/* sdd score -o FILE --resume: a run killed while blocked on its fourth
 * input (a FIFO no one writes) leaves FILE.partial with the first three
 * lines and no FILE (nor a temporary file); the same command with --resume
 * scores only the rest and writes FILE equal, byte for byte, to an
 * uninterrupted run's, then removes the record. Also: a record of other
 * settings or other inputs, a malformed one, one whose last line was cut
 * short, one replaced without --resume, and --resume's usage errors. The
 * parser itself: sdd_partial_parse. Needs $SDD_BIN and SDD_SHARED's
 * AASIST-L checkpoint (skipped without it). */
#include "check.h"
#include "cli_run.h"
#include "metrics/partial.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[65536];
static char tmp[256];

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

static const char *T(const char *name) { return check_tmp_path(tmp, name); }

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

static void test_parse(void)
{
    sdd_partial p;
    sdd_err e;
    const char *ok = "# sdd score partial: model m; cut 4000\na.flac -1.5\nb.flac 2 bonafide\nc.flac 3e-05 spoof\nd.fl";
    CHECK_MSG(sdd_partial_parse(ok, strlen(ok), "R", &p, &e) == 0, "%s", e.msg);
    CHECK(p.n == 3 && p.dropped == 1 && !strcmp(p.settings, "model m; cut 4000"));
    CHECK(p.n == 3 && !strcmp(p.id[1], "b.flac") && !strcmp(p.line[2], "c.flac 3e-05 spoof"));
    sdd_partial_free(&p);
    static const struct { const char *text, *want; } bad[] = {
        { "", "R:1: not the record" },
        { "# sdd score partial: x", "R:1: not the record" },
        { "id 1\n", "R:1: not the record" },
        { "# sdd score partial: x\na 1\nb\n", "R:3: not an 'ID SCORE" },
        { "# sdd score partial: x\na nan\n", "R:2:" },
        { "# sdd score partial: x\na 0x10\n", "R:2:" },
        { "# sdd score partial: x\na 1 maybe\n", "R:2:" },
        { "# sdd score partial: x\na  1\n", "R:2:" },
        { "# sdd score partial: x\n\n", "R:2:" },
        { "# sdd score partial: x\na 1 spoof \n", "R:2:" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_MSG(sdd_partial_parse(bad[k].text, strlen(bad[k].text), "R", &p, &e) == -1 && strstr(e.msg, bad[k].want),
                  "'%s': %s", bad[k].text, e.msg);
    }
    const char nul[] = "# sdd score partial: x\na 1\0\n";
    CHECK(sdd_partial_parse(nul, sizeof nul - 1, "R", &p, &e) == -1);
}

static void test_resume(const char *model)
{
    char s[1500];
    /* six inputs; the fourth a FIFO on which the first run blocks */
    static const char *const clips[] = { "real_01", "real_02", "tts_01", "real_03", "tts_02", "real_04" };
    for (size_t k = 0; k < 6; k++) CHECK(run("cp tests/data/audio/%s.flac %s/%s.flac", clips[k], tmp, clips[k]) == 0);
    CHECK(mkfifo(T("stall.flac"), 0600) == 0);
    write_text(T("list.txt"), "real_01.flac bonafide\nreal_02.flac bonafide\ntts_01.flac spoof\nstall.flac spoof\n"
                              "real_03.flac bonafide\ntts_02.flac spoof\n");
    snprintf(s, sizeof s, "%s score -m %s --list %s --audio-dir %s --batch 1 --cut 16000 --threads 1", getenv("SDD"), model,
             T("list.txt"), tmp);
    char list[300], outp[300];
    snprintf(list, sizeof list, "%s", T("list.txt"));
    snprintf(outp, sizeof outp, "%s", T("out.txt"));
    /* sdd itself as the child (no shell between), so that SIGKILL reaches it */
    pid_t pid = fork();
    if (pid == 0) {
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        execl(getenv("SDD"), "sdd", "score", "-m", model, "--list", list, "--audio-dir", tmp, "--batch", "1", "--cut", "16000",
              "--threads", "1", "-o", outp, (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    int lines = -1;
    for (int i = 0; i < 600 && lines < 4; i++) { usleep(100000); lines = count_lines(T("out.txt.partial")); }
    CHECK_MSG(lines == 4, "the record holds %d lines (header and three scores expected)", lines);
    if (pid > 0) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); }
    CHECK(run("ls %s", tmp) == 0);
    CHECK_MSG(!strstr(out, "out.txt\n") && !strstr(out, "out.txt.tmp"), "the killed run left: %s", out);
    CHECK(run("cp %s %s", T("out.txt.partial"), T("saved.partial")) == 0);

    /* the FIFO becomes a file; the resumed run scores the other three only */
    CHECK(unlink(T("stall.flac")) == 0);
    CHECK(run("cp tests/data/audio/real_04.flac %s", T("stall.flac")) == 0);
    CHECK(run("%s -o %s", s, T("ref.txt")) == 0);
    CHECK_MSG(run("%s -o %s --resume", s, T("out.txt")) == 0, "%s", out);
    CHECK_STR_CONTAINS(out, "sdd score: resuming: 3 of 6 files scored by the interrupted run");
    CHECK(run("cmp %s %s", T("out.txt"), T("ref.txt")) == 0);
    CHECK(!cli_exists(T("out.txt.partial")));

    /* a record of other settings, or of other inputs: refused, nothing written, the record kept */
    CHECK(run("cp %s %s", T("saved.partial"), T("o2.txt.partial")) == 0);
    CHECK(run("%s -o %s --resume --threshold 0", s, T("o2.txt")) == 1);
    CHECK_MSG(strstr(out, "o2.txt.partial: made with other settings") && strstr(out, "threshold none") &&
              !cli_exists(T("o2.txt")) && cli_exists(T("o2.txt.partial")), "%s", out);
    /* the record names an input this run does not have */
    CHECK(run("cp %s %s && sed -i 's/^tts_01.flac/other.flac/' %s", T("saved.partial"), T("o3.txt.partial"), T("o3.txt.partial")) == 0);
    CHECK(run("%s -o %s --resume", s, T("o3.txt")) == 1);
    CHECK_MSG(strstr(out, "o3.txt.partial:4: other.flac is not among this run's inputs") && !cli_exists(T("o3.txt")), "%s", out);
    /* a malformed record names its line */
    write_text(T("o4.txt.partial"), "# sdd score partial: x\nreal_01.flac oops\n");
    CHECK(run("%s -o %s --resume", s, T("o4.txt")) == 1);
    CHECK_MSG(strstr(out, "o4.txt.partial:2: not an 'ID SCORE [bonafide|spoof]' line") && !cli_exists(T("o4.txt")), "%s", out);
    /* a last line cut short is scored again */
    CHECK(run("head -c -5 %s > %s", T("saved.partial"), T("o5.txt.partial")) == 0);
    CHECK_MSG(run("%s -o %s --resume", s, T("o5.txt")) == 0, "%s", out);
    CHECK_STR_CONTAINS(out, "resuming: 2 of 6 files");
    CHECK(run("cmp %s %s", T("o5.txt"), T("ref.txt")) == 0);
    /* without --resume a record is replaced, said once */
    CHECK(run("cp %s %s", T("saved.partial"), T("o6.txt.partial")) == 0);
    CHECK(run("%s -o %s", s, T("o6.txt")) == 0);
    CHECK_STR_CONTAINS(out, "o6.txt.partial, left by an interrupted run, is replaced");
    CHECK(run("cmp %s %s", T("o6.txt"), T("ref.txt")) == 0 && !cli_exists(T("o6.txt.partial")));
    /* usage */
    CHECK(run("%s --resume", s) == 2);
    CHECK_STR_CONTAINS(out, "--resume needs -o FILE");
    CHECK(run("%s --resume -o /dev/null", s) == 1);
    CHECK_STR_CONTAINS(out, "--resume: /dev/null is not a regular file");
    CHECK(run("%s -o /dev/null", s) == 0 && !cli_exists("/dev/null.partial"));
}

int main(void)
{
    test_parse();
    const char *shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    const char *bin = cli_bin();
    char absbin[4096], pth[512];
    snprintf(pth, sizeof pth, "%s/models/AASIST-L.pth", shared);
    if (!cli_exists(bin) || !realpath(bin, absbin) || !cli_exists(pth)) {
        printf("SKIP sdd score --resume: needs %s and %s\n", bin, pth);
        return CHECK_DONE("test_cli_resume");
    }
    setenv("SDD", absbin, 1);
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-cli-resume-%d", (int)getpid());
    CHECK(mkdir(tmp, 0700) == 0);
    CHECK(run("$SDD import %s -o %s", pth, T("al.safetensors")) == 0);
    test_resume(T("al.safetensors"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
    return CHECK_DONE("test_cli_resume");
}
