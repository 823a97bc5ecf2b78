/* End-to-end tests of how the sdd command line takes its inputs: standard
 * input and pipes (`-`, a streaming writer's WAV, FLAC), folder scans (link
 * cycles, FIFOs), IDs given twice, an -o that names an input, samples that
 * overflow the model, a non-model file given as a model, and sdd train's
 * checks that run before anything is written (an existing run, a cut below
 * the model's minimum, fewer utterances than a batch, one class, an --eval
 * name given twice). The binary is $SDD_BIN (default ./sdd). */
#include "check.h"
#include "cli_run.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[65536];
static char tmp[256];

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

static const char *T(const char *name) { return check_tmp_path(tmp, name); }

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A mono 16 kHz 32-bit float WAV of n samples amp * sin(0.1 i); data_size
 * 0xffffffff in both sizes writes the header a streaming writer (ffmpeg,
 * sox) sends down a pipe. */
static void write_float_wav(const char *path, int n, double amp, int streaming)
{
    FILE *f = fopen(path, "wb");
    if (!f) { CHECK_MSG(0, "cannot create %s", path); return; }
    const uint32_t data = (uint32_t)n * 4, riff = streaming ? 0xffffffffu : 36 + data, dsz = streaming ? 0xffffffffu : data;
    const uint32_t sr = 16000, br = 64000, fmt_len = 16;
    const uint16_t tag = 3, ch = 1, align = 4, bits = 32;
    fwrite("RIFF", 1, 4, f); fwrite(&riff, 4, 1, f); fwrite("WAVEfmt ", 1, 8, f);
    fwrite(&fmt_len, 4, 1, f); fwrite(&tag, 2, 1, f); fwrite(&ch, 2, 1, f); fwrite(&sr, 4, 1, f);
    fwrite(&br, 4, 1, f); fwrite(&align, 2, 1, f); fwrite(&bits, 2, 1, f);
    fwrite("data", 1, 4, f); fwrite(&dsz, 4, 1, f);
    for (int i = 0; i < n; i++) {
        const float x = (float)(amp * sin(0.1 * i));
        fwrite(&x, 4, 1, f);
    }
    fclose(f);
}

/* the score printed for ID (lines "ID SCORE"), NAN when absent */
static double score_of(const char *s, const char *id)
{
    char key[300];
    snprintf(key, sizeof key, "%s ", id);
    for (const char *p = s; (p = strstr(p, key)); p++)
        if (p == s || p[-1] == '\n') return strtod(p + strlen(key), NULL);
    return NAN;
}

static void test_stdin(const char *model)
{
    write_float_wav(T("s.wav"), 20000, 0.3, 0);
    write_float_wav(T("stream.wav"), 20000, 0.3, 1);
    CHECK(run("$SDD score -m %s %s", model, T("s.wav")) == 0);
    const double ref = score_of(out, T("s.wav"));
    CHECK(isfinite(ref));
    /* '-' is standard input, ID '-'; a streaming writer's WAV through a pipe scores as the file */
    CHECK_MSG(run("cat %s | $SDD score -m %s -", T("stream.wav"), model) == 0, "%s", out);
    CHECK_MSG(score_of(out, "-") == ref, "piped %s vs file %.9g", out, ref);
    /* FLAC through a pipe */
    CHECK(run("$SDD score -m %s tests/data/audio/real_01.flac", model) == 0);
    const double fref = score_of(out, "tests/data/audio/real_01.flac");
    CHECK_MSG(run("cat tests/data/audio/real_01.flac | $SDD score -m %s - %s", model, T("s.wav")) == 0, "%s", out);
    CHECK(score_of(out, "-") == fref && score_of(out, T("s.wav")) == ref);
    /* an empty stdin is that file's error; '-' twice is a usage error */
    CHECK(run("$SDD score -m %s - < /dev/null", model) == 1);
    CHECK_STR_CONTAINS(out, "sdd: - (standard input): empty file (0 bytes)");
    CHECK(run("$SDD score -m %s - - < %s", model, T("s.wav")) == 2);
    CHECK_STR_CONTAINS(out, "'-' (standard input) given twice");
    /* augment reads '-' as well */
    CHECK(run("cat tests/data/audio/real_01.flac | $SDD augment --algo 4 - %s && $SDD augment --algo 4 tests/data/audio/real_01.flac %s && cmp %s %s",
              T("aug1.wav"), T("aug2.wav"), T("aug1.wav"), T("aug2.wav")) == 0);
}

static void test_scan(const char *model)
{
    char d[300];
    snprintf(d, sizeof d, "%s", T("scan"));
    CHECK(mkdir(d, 0700) == 0);
    CHECK(run("cp tests/data/audio/real_01.flac %s/a.flac && ln -s . %s/loop && ln -s ../scan %s/loop2 && mkfifo %s/x.wav", d, d, d, d) == 0);
    /* the cycle is entered once, the FIFO skipped: one file scored, two warnings */
    CHECK_MSG(run("timeout 60 $SDD score -m %s %s", model, d) == 0, "%s", out);
    int lines = 0;
    for (const char *p = out; (p = strstr(p, "a.flac ")); p++) lines++;
    CHECK_MSG(lines == 1, "%d score lines: %s", lines, out);
    CHECK_STR_CONTAINS(out, "/loop: skipped, a folder already scanned (a link to it or a link cycle)");
    CHECK_STR_CONTAINS(out, "/x.wav: skipped, not a regular file");
    /* the same file twice (named twice, or a folder and a file in it) */
    CHECK(run("$SDD score -m %s %s %s", model, T("s.wav"), T("s.wav")) == 2);
    CHECK_STR_CONTAINS(out, "is given twice (IDs must be unique)");
    CHECK(run("$SDD score -m %s %s %s/a.flac", model, d, d) == 2);
    CHECK_STR_CONTAINS(out, "a.flac is given twice");
    /* --window means something with --full only */
    CHECK(run("$SDD score -m %s --window 4 %s", model, T("s.wav")) == 2);
    CHECK_STR_CONTAINS(out, "--window applies to --full only");
    CHECK(run("$SDD score -m %s --cut 2000000000 %s", model, T("s.wav")) == 2);
    CHECK_STR_CONTAINS(out, "--cut: '2000000000' is not a number of samples in 1..1073741824");
}

static void test_outputs(const char *model)
{
    /* -o naming an input is a usage error and leaves the input as it was */
    CHECK(run("cp %s %s", model, T("m2.safetensors")) == 0);
    const long ms = file_size(T("m2.safetensors"));
    CHECK(run("$SDD score -m %s -o %s %s", T("m2.safetensors"), T("m2.safetensors"), T("s.wav")) == 2);
    CHECK_STR_CONTAINS(out, "is the same file as -m");
    CHECK(file_size(T("m2.safetensors")) == ms);
    const long ws = file_size(T("s.wav"));
    CHECK(run("$SDD score -m %s -o %s %s", model, T("s.wav"), T("s.wav")) == 2);
    CHECK_STR_CONTAINS(out, "is the same file as the input");
    CHECK(file_size(T("s.wav")) == ws);
    /* the other commands that write a file refuse it the same way */
    CHECK(run("$SDD import %s -o %s", T("m2.safetensors"), T("m2.safetensors")) == 2);
    CHECK_STR_CONTAINS(out, "is the same file as the checkpoint");
    CHECK(run("$SDD average -o %s %s %s", T("m2.safetensors"), model, T("m2.safetensors")) == 2);
    CHECK_STR_CONTAINS(out, "is the same file as the input");
    CHECK(run("$SDD augment --algo 4 %s %s", T("s.wav"), T("s.wav")) == 2);
    CHECK_STR_CONTAINS(out, "OUT");
    /* augment's option refusals: exit 2, one line naming the option, no output */
    {
        static const struct { const char *args, *want; } bad[] = {
            { "--algo 9", "--algo: '9' is not an algorithm (0..8)" },
            { "--algo 4 --seed -1", "--seed: '-1' is not a non-negative integer" },
            { "--algo 4 --threads 0", "--threads: '0' is not in 1..1024" },
            { "--algo 4 --bogus", "unknown option --bogus" },
            { "", "no algorithm given" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            CHECK(run("$SDD augment %s tests/data/audio/real_01.flac %s", bad[i].args, T("aug.wav")) == 2);
            CHECK_MSG(strstr(out, bad[i].want) && cli_one_line(out), "augment %s: '%s'", bad[i].args, out);
            CHECK(file_size(T("aug.wav")) < 0);
        }
        CHECK(run("$SDD augment --algo 4 tests/data/audio/real_01.flac %s", T("aug.mp3")) == 2);
        CHECK_STR_CONTAINS(out, "OUT must end in .wav or .flac");
        CHECK(run("$SDD augment --algo 4 --threads") == 2);
        CHECK_STR_CONTAINS(out, "--threads needs a number");
    }
    CHECK(file_size(T("m2.safetensors")) == ms && file_size(T("s.wav")) == ws);
    /* two outputs that do not exist yet, spelled differently */
    FILE *f = fopen(T("k.txt"), "w");
    if (f) { fputs("a bonafide\nb spoof\n", f); fclose(f); }
    f = fopen(T("sk.txt"), "w");
    if (f) { fputs("a 1\nb -1\n", f); fclose(f); }
    char det[300];
    snprintf(det, sizeof det, "%s", T("./r.svg"));
    CHECK(run("$SDD eval --scores %s --key %s --det %s -o %s", T("sk.txt"), T("k.txt"), det, T("r.svg")) == 2);
    CHECK_STR_CONTAINS(out, "-o and --det name the same file");
    CHECK(file_size(T("r.svg")) < 0);
    /* finite samples that overflow the model: that file's error, the others scored */
    write_float_wav(T("big.wav"), 16000, 1e20, 0);
    CHECK(run("$SDD score -m %s -o %s %s %s", model, T("sc.txt"), T("big.wav"), T("s.wav")) == 1);
    CHECK_STR_CONTAINS(out, "big.wav: the model's score is not finite: the samples are far outside [-1, 1]");
    CHECK_STR_CONTAINS(out, "1 of 2 files could not be scored");
    CHECK(run("cat %s", T("sc.txt")) == 0);
    CHECK(strstr(out, "big.wav") == NULL && isfinite(score_of(out, T("s.wav"))));
    /* an audio file or a text file given as the model */
    CHECK(run("$SDD info %s", T("s.wav")) == 1);
    CHECK_STR_CONTAINS(out, "s.wav: not a safetensors file (a RIFF (WAV) file)");
    CHECK(run("$SDD score -m README.md %s", T("s.wav")) == 1);
    CHECK_STR_CONTAINS(out, "README.md: not a safetensors file (no JSON header after the length)");
}

static void test_train_checks(void)
{
    FILE *f = fopen(T("tr.lst"), "w");
    if (f) { fputs("real_01.flac bonafide\nreal_02.flac bonafide\ntts_01.flac spoof\ntts_02.flac spoof\n", f); fclose(f); }
    f = fopen(T("one.lst"), "w");
    if (f) { fputs("real_01.flac bonafide\nreal_02.flac bonafide\n", f); fclose(f); }
    char base[1200];
    snprintf(base, sizeof base, "$SDD train --train %s --train-audio tests/data/audio --dev %s --dev-audio tests/data/audio "
             "--model AASIST-L --cut 16000 --epochs 1 --threads 2 --quiet", T("tr.lst"), T("tr.lst"));
    char run1[300], cfg[400], log[400];
    snprintf(run1, sizeof run1, "%s", T("run1"));
    snprintf(cfg, sizeof cfg, "%s/config.json", run1);
    snprintf(log, sizeof log, "%s/log.jsonl", run1);
    CHECK_MSG(run("%s --batch 2 --max-steps 1 --out %s", base, run1) == 0, "%s", out);
    const long cs = file_size(cfg), ls = file_size(log);
    CHECK(cs > 0 && ls > 0);
    /* the epoch record says how long the dev scoring took, within the epoch's time */
    CHECK(run("grep '\"type\": \"epoch\"' %s | sed -n -E 's/.*\"seconds\": ([0-9.]+), \"dev_seconds\": ([0-9.]+),.*/\\1 \\2/p' | "
              "awk '$2 >= 0 && $2 <= $1 {ok = 1} END {exit !ok}'", log) == 0);
    /* a fresh run into a folder that holds one: refused, the run unchanged */
    CHECK(run("%s --batch 2 --max-steps 1 --out %s", base, run1) == 1);
    CHECK_STR_CONTAINS(out, "holds a run already (config.json): --resume continues it");
    /* checks that fail before anything is written: in a new folder, and in that one with --resume */
    CHECK(run("%s --batch 99 --out %s", base, T("r4")) == 1);
    CHECK_STR_CONTAINS(out, "tr.lst: 4 utterances, fewer than one batch (--batch 99)");
    CHECK(file_size(T("r4/config.json")) < 0 && file_size(T("r4/log.jsonl")) < 0);
    CHECK(run("%s --batch 99 --out %s --resume", base, run1) == 1);
    CHECK(run("%s --batch 2 --cut 2000 --out %s --resume", base, run1) == 1);
    CHECK_STR_CONTAINS(out, "--cut 2000 is shorter than AASIST-L's minimum input of 2315 samples");
    CHECK(file_size(cfg) == cs && file_size(log) == ls);
    /* --resume refuses a setting that changes what the run computes, and takes a free one */
    CHECK(run("%s --batch 2 --max-steps 2 --out %s --resume --lr 0.5", base, run1) == 1);
    CHECK_STR_CONTAINS(out, "the run was started with \"lr\": 0.0001, this command gives 0.5");
    CHECK(run("%s --batch 2 --max-steps 2 --out %s --resume --rb-nbands 30", base, run1) == 1);
    CHECK_STR_CONTAINS(out, "\"rb-nbands\": 5, this command gives 30");
    CHECK(file_size(cfg) == cs && file_size(log) == ls);
    /* how the dev set is batched may change (memory): recorded, free on resume, range-checked */
    CHECK(run("grep -c '\"dev-batch\": 8' %s", cfg) == 0);
    CHECK(run("%s --batch 2 --max-steps 1 --out %s --resume --dev-batch 0", base, run1) == 2);
    CHECK_STR_CONTAINS(out, "--dev-batch: '0' is not an integer in 1..4096");
    CHECK(run("%s --batch 2 --max-steps 1 --out %s --resume --threads 1 --dev-batch 3", base, run1) == 0);
    /* a log shorter than the state says (cut by hand): refused, nothing rewritten */
    CHECK(run("cp -a %s %s && truncate -s 100 %s/log.jsonl", run1, T("run2"), T("run2")) == 0);
    CHECK(run("%s --batch 2 --max-steps 2 --epochs 2 --out %s --resume", base, T("run2")) == 1);
    CHECK_STR_CONTAINS(out, "run2/log.jsonl: shorter than the");
    CHECK(file_size(T("run2/log.jsonl")) == 100);
    /* --resume after the state was lost: refused, not started afresh over the run */
    CHECK(run("cp -a %s %s && rm %s/state.safetensors", run1, T("run3"), T("run3")) == 0);
    CHECK(run("%s --batch 2 --max-steps 2 --out %s --resume", base, T("run3")) == 1);
    CHECK_STR_CONTAINS(out, "--resume: state.safetensors is missing but the run has its model.safetensors");
    /* a config.json that is JSON but not an object: no parser line number (jansson's -1) */
    CHECK(run("cp -a %s %s && echo '[1,2]' > %s/config.json", run1, T("run4"), T("run4")) == 0);
    CHECK(run("%s --batch 2 --max-steps 2 --out %s --resume", base, T("run4")) == 1);
    CHECK_STR_CONTAINS(out, "run4/config.json: not the JSON object sdd train writes (not an object)");
    CHECK(!strstr(out, ":-1"));
    /* log.jsonl cannot be written (a full disk; /dev/full stands in for it):
     * the run stops with the reason and writes no model, checkpoint or state */
    if (cli_exists("/dev/full")) {
        CHECK(run("mkdir %s && ln -s /dev/full %s/log.jsonl", T("full"), T("full")) == 0);
        CHECK(run("%s --batch 2 --max-steps 1 --out %s --resume", base, T("full")) == 1);
        CHECK_STR_CONTAINS(out, "full/log.jsonl: write failed: No space left on device");
        CHECK(cli_one_line(out));
        CHECK(!cli_exists(T("full/last.safetensors")) && !cli_exists(T("full/state.safetensors")) &&
              !cli_exists(T("full/model.safetensors")));
    } else printf("SKIP the log.jsonl write failure: no /dev/full\n");
    /* a run that fails before writing leaves no folder */
    CHECK(run("%s --batch 2 --accum 3 --out %s", base, T("r5")) == 1);
    CHECK(file_size(T("r5")) < 0);
    /* one class: in the dev set, in the training set; nothing written */
    CHECK(run("%s --batch 2 --dev %s --out %s", base, T("one.lst"), T("r2")) == 1);
    CHECK_STR_CONTAINS(out, "one.lst: the dev set needs both classes (0 spoof, 2 bona fide)");
    CHECK(run("%s --batch 2 --train %s --out %s", base, T("one.lst"), T("r2")) == 1);
    CHECK_STR_CONTAINS(out, "one.lst: the training set needs both classes");
    CHECK(file_size(T("r2/config.json")) < 0 && file_size(T("r2/log.jsonl")) < 0);
    /* an --eval name given twice would write one scores file over the other */
    CHECK(run("%s --batch 2 --eval x=%s:tests/data/audio --eval x=%s:tests/data/audio --out %s", base, T("tr.lst"), T("one.lst"), T("r3")) == 2);
    CHECK_STR_CONTAINS(out, "the name 'x' is given twice");
    /* options that would be dropped silently */
    CHECK(run("%s --batch 2 --seeds 1,2 --seed 5 --out %s", base, T("r6")) == 2);
    CHECK_STR_CONTAINS(out, "--seed and --seeds exclude each other");
    CHECK(run("%s --batch 2 --eval=x=%s:tests/data/audio --out %s", base, T("tr.lst"), T("r6")) == 2);
    CHECK_STR_CONTAINS(out, "not --opt=VALUE");
    /* alignment and BatchNorm statistics modes of two paths, asked for a one-path run */
    CHECK(run("%s --batch 2 --recipe aasist-l --align pcgrad --out %s", base, T("r6")) == 2);
    CHECK_STR_CONTAINS(out, "--align applies to two paths: it needs --paths dual (this run's paths are orig, from recipe aasist-l)");
    CHECK(run("%s --batch 2 --paths aug --bn-stats joint --out %s", base, T("r6")) == 2);
    CHECK_STR_CONTAINS(out, "--bn-stats applies to two paths");
    /* groups of an alignment that does not happen, and an unknown grouping */
    CHECK(run("%s --batch 2 --align none --align-groups block --out %s", base, T("r6")) == 2);
    CHECK_STR_CONTAINS(out, "--align-groups block divides the alignment of the two paths' gradients: it needs --paths dual and "
                            "--align pcgrad, gradvac or cagrad (this run's: paths dual, align none)");
    CHECK(run("%s --batch 2 --recipe aasist-l --align-groups tensor --out %s", base, T("r6")) == 2);
    CHECK_STR_CONTAINS(out, "(this run's: paths orig, align none, recipe aasist-l)");
    CHECK(run("%s --batch 2 --align-groups layer --out %s", base, T("r6")) == 2);
    CHECK_STR_CONTAINS(out, "--align-groups: 'layer' is not whole, block or tensor");
    CHECK(run("$SDD bench -m %s --model AASIST", T("al.safetensors")) == 2);
    CHECK_STR_CONTAINS(out, "-m and --model exclude each other");
    CHECK(file_size(T("r6")) < 0);
    /* an unknown architecture is a usage error; an --init model of another one than --model is refused */
    CHECK(run("%s --batch 2 --model Foo --out %s", base, T("r7")) == 2);
    CHECK_STR_CONTAINS(out, "--model: unknown model architecture 'Foo' (known: AASIST, AASIST-L");
    CHECK(run("$SDD bench --model Foo") == 2);
    CHECK_STR_CONTAINS(out, "--model: unknown model architecture 'Foo'");
    CHECK(run("%s --batch 2 --max-steps 1 --init %s --model AASIST --out %s", base, T("al.safetensors"), T("r7")) == 1);
    CHECK_STR_CONTAINS(out, "al.safetensors: its model is AASIST-L, but the run's model is AASIST (--model)");
    CHECK(file_size(T("r7")) < 0);
    CHECK_MSG(run("%s --batch 2 --max-steps 1 --init %s --model aasist-l --out %s", base, T("al.safetensors"), T("r7")) == 0, "%s", out);
    /* a --seeds run and a single run never share a folder */
    CHECK(run("%s --batch 2 --max-steps 1 --seeds 1 --out %s", base, run1) == 1);
    CHECK_STR_CONTAINS(out, "holds a single run (config.json): --seeds writes OUT/seed-S folders");
    CHECK(file_size(T("run1/seed-1")) < 0 && file_size(T("run1/summary.txt")) < 0);
    CHECK_MSG(run("%s --batch 2 --max-steps 1 --seeds 3 --out %s", base, T("s1")) == 0, "%s", out);
    CHECK(file_size(T("s1/summary.txt")) > 0);
    CHECK(run("%s --batch 2 --max-steps 1 --out %s", base, T("s1")) == 1);
    CHECK_STR_CONTAINS(out, "holds a --seeds run (summary.txt)");
    CHECK(run("rm %s/summary.txt", T("s1")) == 0);
    CHECK(run("%s --batch 2 --max-steps 1 --out %s --resume", base, T("s1")) == 1);
    CHECK_STR_CONTAINS(out, "holds a --seeds run (seed-3/)");
    CHECK(run("%s --batch 2 --max-steps 1 --seeds 4 --out %s", base, T("s1")) == 1);
    CHECK_STR_CONTAINS(out, "holds a --seeds run already (seed-3/): --resume continues it");
    CHECK(file_size(T("s1/config.json")) < 0 && file_size(T("s1/seed-4")) < 0);
    /* --out's missing parents are created; a failed run removes every folder it created */
    CHECK_MSG(run("%s --batch 2 --max-steps 1 --out %s/x/y", base, T("p1")) == 0, "%s", out);
    CHECK(file_size(T("p1/x/y/model.safetensors")) > 0);
    CHECK(run("%s --batch 99 --out %s/x/y", base, T("p2")) == 1);
    CHECK(file_size(T("p2")) < 0);
    CHECK(run("%s --batch 99 --seeds 1 --out %s/x/", base, T("p3")) == 1);
    CHECK(file_size(T("p3")) < 0);
    CHECK(run("touch %s && %s --batch 2 --out %s/y", T("pf"), base, T("pf")) == 1);
    CHECK_STR_CONTAINS(out, "pf/y: cannot create ");
    CHECK_STR_CONTAINS(out, "pf: Not a directory");
    /* a first seed that fails before writing leaves no folder */
    CHECK(run("%s --batch 99 --seeds 1,2 --out %s", base, T("s2")) == 1);
    CHECK(file_size(T("s2")) < 0);
}

/* '-' as an output: standard output for sdd score and fuse --apply, a usage
 * error for a model file (never a file named '-'); test_cli_stdout checks
 * every command */
static void test_stdout(const char *model)
{
    static char want[sizeof out];
    CHECK(run("$SDD score -m %s tests/data/audio/real_01.flac tests/data/audio/tts_01.flac", model) == 0);
    snprintf(want, sizeof want, "%s", out);
    CHECK(run("$SDD score -m %s -o - tests/data/audio/real_01.flac tests/data/audio/tts_01.flac", model) == 0);
    CHECK(!strcmp(out, want));
    CHECK(run("{ $SDD score -m %s -o - tests/data/audio/real_01.flac > /dev/full; }", model) == 1);
    CHECK_STR_CONTAINS(out, "standard output: write failed");
    CHECK(run("$SDD fuse --scores tests/data/metrics/cal_a.txt tests/data/metrics/cal_b.txt --key tests/data/metrics/cal_key.txt -o %s",
              T("fusion.json")) == 0);
    CHECK(run("$SDD fuse --apply %s --scores tests/data/metrics/cal_a.txt tests/data/metrics/cal_b.txt -o %s --threshold && cat %s",
              T("fusion.json"), T("fused.txt"), T("fused.txt")) == 0);
    snprintf(want, sizeof want, "%s", out);
    CHECK(strlen(want) > 100);
    CHECK(run("$SDD fuse --apply %s --scores tests/data/metrics/cal_a.txt tests/data/metrics/cal_b.txt -o - --threshold", T("fusion.json")) == 0);
    CHECK(!strcmp(out, want));
    /* a model file is refused (the other commands' '-': test_cli_stdout) */
    CHECK_MSG(run("$SDD import ../shared/models/AASIST-L.pth -o -") == 2, "%s", out);
    CHECK_STR_CONTAINS(out, "-o -: a model file cannot go to standard output; give a file name (./- for a file named '-')");
    CHECK(file_size("-") < 0);
    /* audio from standard input is named so in its error */
    CHECK(run("printf garbage | $SDD score -m %s -", model) == 1);
    CHECK_STR_CONTAINS(out, "sdd: - (standard input): cannot decode");
}

int main(void)
{
    const char *shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    const char *bin = cli_bin();
    char pth[512];
    snprintf(pth, sizeof pth, "%s/models/AASIST-L.pth", shared);
    if (!cli_exists(bin) || !cli_exists(pth)) {
        printf("SKIP test_cli_input: needs %s (run make) and %s\n", bin, pth);
        return CHECK_DONE("test_cli_input");
    }
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-cli-input-%d", (int)getpid());
    CHECK(mkdir(tmp, 0700) == 0);
    char model[300];
    snprintf(model, sizeof model, "%s", T("al.safetensors"));
    CHECK(run("$SDD import %s -o %s", pth, model) == 0);
    test_stdin(model);
    test_scan(model);
    test_outputs(model);
    test_train_checks();
    test_stdout(model);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
    return CHECK_DONE("test_cli_input");
}
