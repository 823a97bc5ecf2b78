/* End-to-end tests of the sdd command line (run from the repository root,
 * after `make`): import of the shipped checkpoints, scores equal to the
 * PyTorch reference's logits for the bundled clips, folders, thresholds,
 * whole-file scoring, `sdd bench`, and the bad-input contract: one-line errors naming the
 * file, exit status 1 (error) or 2 (usage), no partial output files.
 * The binary is $SDD_BIN (default ./sdd). */
#include "check.h"
#include <stdarg.h>
#include "io/safetensors.h"
#include "backend/blas.h"
#include "cli_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[65536];
static const char *shared;
static char tmp[256];

/* Runs a shell command, captures stdout+stderr into `out`, returns the exit status. */
#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

/* score of ID in "ID SCORE ..." lines of s */
static double score_of(const char *s, const char *id)
{
    const char *p = strstr(s, id);
    if (!p) return NAN;
    return strtod(p + strlen(id), NULL);
}

static void reference_scores(void)
{
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load("tests/data/fixtures/aasist_real.safetensors", &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    const sdd_ntensor *lg = sdd_tensorset_find(&fx, "logits_eval");
    CHECK(lg != NULL);
    /* the fixture's first two inputs are real_03 and tts_01 with the reference cut */
    int rc = run("$SDD score -m %s/models/AASIST.pth tests/data/audio/real_03.flac tests/data/audio/tts_01.flac", shared);
    CHECK_MSG(rc == 0, "score exit %d: %s", rc, out);
    if (lg) {
        const float *z = lg->data;
        double s0 = score_of(out, "real_03.flac"), s1 = score_of(out, "tts_01.flac");
        CHECK_MSG(fabs(s0 - z[1]) <= 1e-4 * (1 + fabs(z[1])), "real_03: sdd %.9g, PyTorch %.9g", s0, z[1]);
        CHECK_MSG(fabs(s1 - z[3]) <= 1e-4 * (1 + fabs(z[3])), "tts_01: sdd %.9g, PyTorch %.9g", s1, z[3]);
    }
    sdd_tensorset_free(&fx);
}

int main(void)
{
    shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    const char *bin = cli_bin();
    char pth[512];
    snprintf(pth, sizeof pth, "%s/models/AASIST.pth", shared);
    if (!cli_exists(bin) || !cli_exists(pth)) {
        printf("SKIP test_cli: needs %s (run make) and %s\n", bin, pth);
        return CHECK_DONE("test_cli");
    }
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-cli-%d", (int)getpid());
    mkdir(tmp, 0700);

    /* import both checkpoints; info reads them back */
    CHECK(run("$SDD import %s -o %s/a.safetensors", pth, tmp) == 0);
    CHECK_STR_CONTAINS(out, "297866 trainable");
    CHECK(run("$SDD import %s/models/AASIST-L.pth -o %s/al.safetensors --threshold 0.5", shared, tmp) == 0);
    CHECK_STR_CONTAINS(out, "85306 trainable");
    CHECK(run("$SDD info %s/al.safetensors", tmp) == 0);
    CHECK_STR_CONTAINS(out, "arch: AASIST-L");
    CHECK_STR_CONTAINS(out, "threshold: 0.5");

    reference_scores();

    /* the imported file scores exactly like the .pth */
    CHECK(run("$SDD score -m %s/a.safetensors tests/data/audio/real_03.flac", tmp) == 0);
    char first[256];
    snprintf(first, sizeof first, "%s", out);
    CHECK(run("$SDD score -m %s tests/data/audio/real_03.flac", pth) == 0);
    CHECK(strcmp(first, out) == 0);

    /* a folder, recursively, sorted; a stored threshold adds labels; output file */
    CHECK(run("$SDD score -m %s/al.safetensors -o %s/s.txt --batch 3 tests/data/audio", tmp, tmp) == 0);
    /* a refusal after the file list is built: exit 1, nothing leaked (LSan in make test-asan) */
    CHECK(run("$SDD score -m %s/al.safetensors --cut 2000 -o %s/s2.txt tests/data/audio", tmp, tmp) == 1);
    CHECK_STR_CONTAINS(out, "--cut 2000 is shorter than AASIST-L's minimum input of 2315 samples");
    CHECK(run("test -e %s/s2.txt || test -e %s/s2.txt.partial", tmp, tmp) == 1);
    CHECK(run("cat %s/s.txt", tmp) == 0);
    int lines = 0;
    for (const char *p = out; *p; p++) lines += *p == '\n';
    CHECK_MSG(lines == 6, "expected 6 score lines, got %d:\n%s", lines, out);
    CHECK_STR_CONTAINS(out, "tests/data/audio/real_01.flac ");
    CHECK(strstr(out, " spoof\n") || strstr(out, " bonafide\n"));
    /* a file's score does not depend on the batch it is scored in (one at a
     * time, in threes, all six): the same bits, for AASIST and an XLS-R model */
    CHECK(run("printf 'real_01.flac bonafide\\ntts_01.flac spoof\\nreal_02.flac bonafide\\ntts_02.flac spoof\\n' > %s/inv.lst", tmp) == 0);
    static const char *const inv[4] = { "AASIST", "XLSR-AASIST-tiny", "XLSR-Mamba-tiny", "XLSR-Conformer-TCM-tiny" };
    for (int k = 0; k < 4; k++) {
        char one[4096], mp[400];
        snprintf(mp, sizeof mp, "%s/inv-%s/model.safetensors", tmp, inv[k]);
        if (k == 0) snprintf(mp, sizeof mp, "%s/a.safetensors", tmp);
        else CHECK_MSG(run("$SDD train --model %s --train %s/inv.lst --train-audio tests/data/audio --dev %s/inv.lst --dev-audio "
                           "tests/data/audio --cut 16000 --batch 2 --max-steps 1 --threads 2 --quiet --out %s/inv-%s",
                           inv[k], tmp, tmp, tmp, inv[k]) == 0, "%s", out);
        const int cut = k ? 32000 : 64600;
        /* two threads take a file each (the default --parallel utterances) */
        CHECK(run("$SDD score -m %s --cut %d --batch 1 --threads 2 tests/data/audio", mp, cut) == 0);
        snprintf(one, sizeof one, "%s", out);
        for (int b = 3; b <= 6; b += 3) {
            CHECK(run("$SDD score -m %s --cut %d --batch %d --threads 2 tests/data/audio", mp, cut, b) == 0);
            CHECK_MSG(!strcmp(one, out), "%s: --batch %d scores differ from --batch 1:\n%s\n%s", inv[k], b, one, out);
        }
        /* ... and give the scores of one thread */
        CHECK(run("$SDD score -m %s --cut %d --batch 4 --threads 1 tests/data/audio", mp, cut) == 0);
        CHECK_MSG(!strcmp(one, out), "%s: --threads 2 scores differ from --threads 1:\n%s\n%s", inv[k], one, out);
        /* the layers split over 2 or 3 threads: the same bits again (every
         * GEMM is cut into tiles fixed by its shape, whatever the thread count) */
        CHECK(run("$SDD score -m %s --cut %d --batch 1 --threads 2 --parallel layers tests/data/audio", mp, cut) == 0);
        CHECK_MSG(!strcmp(one, out), "%s: --parallel layers scores differ from --threads 1:\n%s\n%s", inv[k], one, out);
        CHECK(run("$SDD score -m %s --cut %d --batch 6 --threads 3 --parallel layers tests/data/audio", mp, cut) == 0);
        CHECK_MSG(!strcmp(one, out), "%s: --parallel layers --threads 3 --batch 6 scores differ:\n%s\n%s", inv[k], one, out);
        /* a file scored alone: its line in the list */
        CHECK(run("$SDD score -m %s --cut %d --threads 2 tests/data/audio/tts_01.flac", mp, cut) == 0);
        const char *line = strstr(one, "tests/data/audio/tts_01.flac "), *alone = strstr(out, "tests/data/audio/tts_01.flac ");
        const size_t ll = line ? strcspn(line, "\n") : 0;
        CHECK_MSG(line && alone && !strncmp(alone, line, ll) && alone[ll] == '\n', "%s: tts_01.flac alone: %s, in the list:\n%s",
                  inv[k], out, one);
        /* training: a step on 1 and on 2 threads ends with the same weights */
        if (k) {
            CHECK_MSG(run("$SDD train --model %s --train %s/inv.lst --train-audio tests/data/audio --dev %s/inv.lst --dev-audio "
                          "tests/data/audio --cut 16000 --batch 2 --max-steps 1 --threads 1 --quiet --out %s/inv1-%s",
                          inv[k], tmp, tmp, tmp, inv[k]) == 0, "%s", out);
            CHECK_MSG(run("cmp %s/inv-%s/last.safetensors %s/inv1-%s/last.safetensors", tmp, inv[k], tmp, inv[k]) == 0,
                      "%s: trained on 1 and 2 threads, the weights differ: %s", inv[k], out);
        }
    }
    /* AASIST and AASIST-L, both BatchNorm modes and every alignment: two
     * steps on 1, 2 and 3 threads end with the same weights */
    static const char *const tr[3][2] = { { "AASIST", "--align pcgrad" }, { "AASIST-L", "--align gradvac --bn-stats per-path" },
                                          { "AASIST-L", "--align cagrad --accum 2" } };
    for (int k = 0; k < 3; k++)
        for (int t = 1; t <= 3; t++) {
            CHECK_MSG(run("$SDD train --model %s %s --train %s/inv.lst --train-audio tests/data/audio --dev %s/inv.lst "
                          "--dev-audio tests/data/audio --cut 8000 --batch 2 --max-steps 2 --threads %d --quiet --out %s/thr%d-%d",
                          tr[k][0], tr[k][1], tmp, tmp, t, tmp, k, t) == 0, "%s", out);
            if (t > 1)
                CHECK_MSG(run("cmp %s/thr%d-1/last.safetensors %s/thr%d-%d/last.safetensors", tmp, k, tmp, k, t) == 0,
                          "%s %s: trained on %d threads, the weights differ from 1 thread: %s", tr[k][0], tr[k][1], t, out);
        }
    /* whole files (--full) the same way */
    CHECK(run("$SDD score -m %s/a.safetensors --full --window 2 --threads 2 tests/data/audio", tmp) == 0);
    char full2[4096];
    snprintf(full2, sizeof full2, "%s", out);
    CHECK(run("$SDD score -m %s/a.safetensors --full --window 2 --threads 1 tests/data/audio", tmp) == 0);
    CHECK_MSG(!strcmp(full2, out), "--full: --threads 2 scores differ from --threads 1:\n%s\n%s", full2, out);
    CHECK(run("$SDD score -m %s/a.safetensors --parallel items tests/data/audio", tmp) == 2);
    CHECK_STR_CONTAINS(out, "--parallel: 'items' is not utterances or layers");
    CHECK(run("$SDD score -m %s/a.safetensors --threshold -100 tests/data/audio/real_01.flac", tmp) == 0);
    CHECK_STR_CONTAINS(out, " bonafide");

    /* a path with a space and a '%' stays one ID token (percent-encoded), with
     * the same score as the file under a plain name */
    CHECK(run("mkdir -p '%s/my clips' && cp tests/data/audio/real_03.flac '%s/my clips/a b%%.flac' && "
              "$SDD score -m %s/a.safetensors '%s/my clips'", tmp, tmp, tmp, tmp) == 0);
    char want[512];
    snprintf(want, sizeof want, "%s/my%%20clips/a%%20b%%25.flac %s", tmp, strchr(first, ' ') ? strchr(first, ' ') + 1 : "?");
    CHECK_MSG(!strcmp(out, want), "got '%s', want '%s'", out, want);

    /* whole-file scoring with windows */
    CHECK(run("$SDD score -m %s/a.safetensors --full --window 2 tests/data/audio/tts_01.flac", tmp) == 0);
    CHECK(isfinite(score_of(out, "tts_01.flac")));

    /* a list file */
    CHECK(run("printf 'tests/data/audio/real_01.flac bonafide\\ntests/data/audio/tts_02.flac spoof\\n' > %s/list.txt && "
              "$SDD score -m %s/a.safetensors --list %s/list.txt", tmp, tmp, tmp) == 0);
    CHECK_STR_CONTAINS(out, "tests/data/audio/tts_02.flac ");

    /* bad inputs */
    CHECK(run("$SDD score tests/data/audio/real_01.flac") == 2);
    CHECK_STR_CONTAINS(out, "no model given");
    CHECK(run("$SDD score -m %s/a.safetensors --batch 0 x.wav", tmp) == 2);
    CHECK(run("$SDD frobnicate") == 2);
    CHECK(run("$SDD score -m %s/missing.safetensors tests/data/audio/real_01.flac", tmp) == 1);
    CHECK_STR_CONTAINS(out, "missing.safetensors");
    /* one unreadable file among good ones: its error, the others still scored and written */
    CHECK(run("printf 'not audio' > %s/bad.wav && $SDD score -m %s/a.safetensors -o %s/partial.txt tests/data/audio/real_01.flac %s/bad.wav",
              tmp, tmp, tmp, tmp) == 1);
    CHECK_STR_CONTAINS(out, "bad.wav");
    CHECK(run("cat %s/partial.txt", tmp) == 0);
    CHECK_STR_CONTAINS(out, "real_01.flac");
    CHECK(strstr(out, "bad.wav") == NULL);
    /* a truncated checkpoint: clear error, no output file */
    CHECK(run("head -c 600000 %s > %s/trunc.pth && $SDD import %s/trunc.pth -o %s/trunc.safetensors", pth, tmp, tmp, tmp) == 1);
    CHECK_STR_CONTAINS(out, "trunc.pth");
    CHECK(!cli_exists("/tmp/never"));
    {
        char p[512];
        snprintf(p, sizeof p, "%s/trunc.safetensors", tmp);
        CHECK(!cli_exists(p));
    }
    /* a checkpoint for a different model */
    CHECK(run("$SDD import %s --arch AASIST-L -o %s/wrong.safetensors", pth, tmp) == 1);
    CHECK_STR_CONTAINS(out, "shape");
    /* an output directory that does not exist */
    CHECK(run("$SDD import %s -o %s/no/such/dir/x.safetensors", pth, tmp) == 1);
    CHECK_STR_CONTAINS(out, "x.safetensors");
    /* an empty folder */
    CHECK(run("mkdir -p %s/empty && $SDD score -m %s/a.safetensors %s/empty", tmp, tmp, tmp) == 1);
    CHECK_STR_CONTAINS(out, "no audio files");

    /* RawBoost and eval are reachable */
    CHECK(run("$SDD augment --algo 4 --seed 1 tests/data/audio/real_01.flac %s/aug.wav", tmp) == 0);
    {
        char p[512];
        snprintf(p, sizeof p, "%s/aug.wav", tmp);
        CHECK(cli_exists(p));
    }
    CHECK(run("$SDD score -m %s/a.safetensors --list %s/list.txt -o %s/l.txt && $SDD eval --scores %s/l.txt --key %s/list.txt",
              tmp, tmp, tmp, tmp, tmp) == 0);
    CHECK_STR_CONTAINS(out, "EER");

    /* sdd bench: the summary, the JSON line make bench reads, a model file's
     * weights, a training step, and its refusals */
    CHECK(run("$SDD bench --model AASIST-L --batch 2 --len 16000 --reps 1 --threads 1") == 0);
    CHECK_STR_CONTAINS(out, "AASIST-L fwd, 2 x 16000 samples, cpu, 1 thread");
    CHECK_STR_CONTAINS(out, "utterances/s");
    CHECK(run("$SDD bench -m %s/a.safetensors --mode infer1 --batch 2 --len 64600 --reps 1 --json --profile", tmp) == 0);
    {
        const char *b = strstr(out, "\"best_s\": ");
        CHECK_MSG(b && strtod(b + 10, NULL) > 0, "%s", out);
        CHECK_STR_CONTAINS(out, "\"mode\": \"infer1\", \"arch\": \"AASIST\"");
        CHECK_STR_CONTAINS(out, "\"mode\": \"infer1/profile\"");
    }
    /* utt: the batch's utterances one per thread; its arena is the threads' (one utterance each) */
    CHECK(run("$SDD bench --model AASIST-L --mode utt --batch 4 --len 16000 --reps 1 --threads 2 --json") == 0);
    CHECK_STR_CONTAINS(out, "\"mode\": \"utt\", \"arch\": \"AASIST-L\", \"batch\": 4");
    {
        const char *a = strstr(out, "\"arena_peak_mb\": ");
        CHECK_MSG(a && strtod(a + 17, NULL) > 0, "%s", out);
    }
    CHECK(run("$SDD bench --model AASIST-L --mode step-pcgrad --batch 2 --len 16000 --reps 1") == 0);
    CHECK_STR_CONTAINS(out, "step-pcgrad");
    CHECK(run("$SDD bench --model AASIST-L --mode step-pcgrad --batch 3 --len 16000") == 1);
    CHECK_STR_CONTAINS(out, "even batch");
    CHECK(run("$SDD bench --model AASIST-L --len 100") == 1);
    CHECK_STR_CONTAINS(out, "shorter than");
    CHECK(run("$SDD bench --mode nope") == 2);
    /* the OpenBLAS kernels: where OpenBLAS fell back to its generic ones on a
     * CPU with AVX2 or AVX-512 (as on this project's Xeon hosts), sdd restarts
     * itself with the CPU's and says which OpenBLAS had chosen; elsewhere
     * OpenBLAS's own choice stands. OPENBLAS_CORETYPE given is kept. */
    {
        const char *better = sdd_blas_better_core(), *own = sdd_blas_core();
        char want[160];
        CHECK(run("$SDD bench --model AASIST-L --batch 1 --len 16000 --reps 1 --threads 1 --json") == 0);
        snprintf(want, sizeof want, "\"blas_core\": \"%s\"", better ? better : own);
        CHECK_MSG(strstr(out, want) != NULL, "want %s (OpenBLAS chose %s): %s", want, own, out);
        snprintf(want, sizeof want, "\"blas_core_chosen_by_openblas\": \"%s\"", own);
        CHECK_MSG((strstr(out, want) != NULL) == (better != NULL), "OpenBLAS chose %s, better %s: %s", own,
                  better ? better : "none", out);
        CHECK(run("OPENBLAS_CORETYPE=Prescott $SDD bench --model AASIST-L --batch 1 --len 16000 --reps 1 --threads 1") == 0);
        CHECK_STR_CONTAINS(out, "OpenBLAS kernels: Prescott\n");
        /* a restarted process keeps its arguments, standard input and exit status */
        CHECK(run("$SDD score -m %s/a.safetensors tests/data/audio/tts_01.flac", tmp) == 0);
        const char *sp = strchr(out, ' ');
        snprintf(want, sizeof want, "- %s", sp ? sp + 1 : "?");
        CHECK(run("cat tests/data/audio/tts_01.flac | $SDD score -m %s/a.safetensors - && $SDD score -m %s/a.safetensors --nope",
                  tmp, tmp) == 2);
        CHECK_MSG(!strncmp(out, want, strlen(want)), "standard input: %s, the file: %s", out, want);
        CHECK_STR_CONTAINS(out, "--nope");
    }
    /* the XLS-R recomputation switch: on an XLSR model its JSON says so; refused elsewhere */
    CHECK(run("$SDD bench --model XLSR-AASIST-tiny --mode step-pcgrad --batch 2 --len 8000 --reps 1 --ssl-recompute off --json") == 0);
    CHECK_STR_CONTAINS(out, "\"arch\": \"XLSR-AASIST-tiny\"");
    CHECK_STR_CONTAINS(out, "\"recompute\": 0");
    CHECK(strstr(out, "arena_keep_est_mb") == NULL);
    /* recomputing (the default), it estimates the peak of keeping the activations */
    CHECK(run("$SDD bench --model XLSR-AASIST-tiny --mode fwdbwd --batch 2 --len 8000 --reps 1 --json") == 0);
    CHECK_STR_CONTAINS(out, "\"arena_keep_est_mb\": ");
    CHECK(run("$SDD bench --model XLSR-AASIST-tiny --mode fwdbwd --batch 2 --len 8000 --reps 1") == 0);
    CHECK_STR_CONTAINS(out, "MB with --ssl-recompute off)");
    CHECK(run("$SDD bench --model AASIST-L --len 16000 --ssl-recompute off") == 1);
    CHECK_STR_CONTAINS(out, "--ssl-recompute off: AASIST-L has no XLS-R front end");
    CHECK(run("$SDD bench --ssl-recompute maybe") == 2);
    CHECK(run("$SDD bench --model NOPE --len 16000") == 2);
    CHECK_STR_CONTAINS(out, "NOPE");
    CHECK(run("$SDD bench -m %s/missing.safetensors", tmp) == 1);
    CHECK_STR_CONTAINS(out, "missing.safetensors");
    run("rm -rf %s", tmp);
    return CHECK_DONE("test_cli");
}
