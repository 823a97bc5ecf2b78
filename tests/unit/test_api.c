/* Uses only the public header include/sdd.h; compiled as C (test_api) and as
 * C++ (test_api_cxx). Loads the shipped AASIST-L checkpoint, scores a bundled
 * clip from a file and from a buffer, and checks error reporting. */
#include "sdd.h"
#include "check.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef __cplusplus
#define NAME "test_api_cxx"
#else
#define NAME "test_api"
#endif

static const char *shared_models(void)
{
    const char *s = getenv("SDD_SHARED");
    return s ? s : "../shared";
}

/* A model carrying a calibration (made with the sdd binary: score the bundled
 * clips, sdd calibrate --model-out): sdd_detector_calibrate gives the LLR and
 * the label that `sdd score` prints for it; the plain model has none */
static void test_calibrated(const char *pth)
{
    const char *bin = getenv("SDD_BIN") && *getenv("SDD_BIN") ? getenv("SDD_BIN") : "./sdd";
    char dir[64], cmd[4096], model[128], cal[128], err[512];
    snprintf(dir, sizeof dir, "/tmp/sdd-test-%s-%d", NAME, (int)getpid());
    snprintf(model, sizeof model, "%s/al.safetensors", dir);
    snprintf(cal, sizeof cal, "%s/cal.safetensors", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && %s import %s -o %s >/dev/null 2>&1 && printf 'real_01.flac bonafide\\nreal_02.flac bonafide\\n"
             "real_03.flac bonafide\\nreal_04.flac bonafide\\ntts_01.flac spoof\\ntts_02.flac spoof\\n' > %s/k.txt && "
             "%s score -m %s --list %s/k.txt --audio-dir tests/data/audio -o %s/s.txt && "
             "%s calibrate --scores %s/s.txt --key %s/k.txt -m %s --model-out %s > /dev/null && "
             "%s score -m %s tests/data/audio/tts_01.flac > %s/cli.txt",
             dir, bin, pth, model, dir, bin, model, dir, dir, bin, dir, dir, model, cal, bin, cal, dir);
    if (system(cmd) != 0) {
        printf("SKIP %s calibrated model: needs %s (run make)\n", NAME, bin);
        return;
    }
    sdd_detector *d = sdd_detector_load(model, NULL, err, sizeof err);
    double raw = 0, llr = 7, thr = 7;
    CHECK(d && sdd_detector_calibrate(d, 1.0, &llr, &thr) == 0 && llr == 7 && thr == 7);
    sdd_detector_free(d);
    d = sdd_detector_load(cal, NULL, err, sizeof err);
    CHECK_MSG(d != NULL, "load: %s", err);
    if (!d) return;
    CHECK(sdd_detector_score_file(d, "tests/data/audio/tts_01.flac", &raw) == 0);
    CHECK(sdd_detector_calibrate(d, raw, &llr, &thr) == 1);
    CHECK(sdd_detector_calibrate(d, raw, NULL, NULL) == 1);
    /* the CLI's line: "tests/data/audio/tts_01.flac LLR label" */
    char line[512] = "", id[256], label[32];
    double cli_llr = 0;
    snprintf(cmd, sizeof cmd, "%s/cli.txt", dir);
    FILE *f = fopen(cmd, "r");
    CHECK(f && fgets(line, sizeof line, f) && sscanf(line, "%255s %lf %31s", id, &cli_llr, label) == 3);
    if (f) fclose(f);
    char mine[64];
    snprintf(mine, sizeof mine, "%.9g", (double)(float)llr);   /* sdd score prints the LLR as a float */
    char theirs[64];
    snprintf(theirs, sizeof theirs, "%.9g", cli_llr);
    CHECK_MSG(!strcmp(mine, theirs), "LLR %s, sdd score printed %s", mine, theirs);
    CHECK(!strcmp(label, llr >= thr ? "bonafide" : "spoof"));
    CHECK(sdd_detector_calibrate(d, 1e308, &llr, NULL) == -1);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "not finite");
    CHECK(sdd_detector_calibrate(NULL, 1.0, &llr, &thr) == 0);
    sdd_detector_free(d);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/models/AASIST-L.pth", shared_models());
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIP %s: %s not found (set SDD_SHARED)\n", NAME, path);
        return CHECK_DONE(NAME);
    }
    fclose(f);
    sdd_detector_params p = sdd_detector_default_params();
    p.threads = 2;
    sdd_detector *d = sdd_detector_load(path, &p, err, sizeof err);
    CHECK_MSG(d != NULL, "load: %s", err);
    if (!d) return CHECK_DONE(NAME);
    CHECK(strcmp(sdd_detector_arch(d), "AASIST-L") == 0);
    CHECK(sdd_detector_threshold(d, NULL) == 0);
    double s1 = 0, s2 = 0, s3 = 0;
    CHECK(sdd_detector_score_file(d, "tests/data/audio/real_01.flac", &s1) == 0);
    CHECK(s1 == s1 && s1 > -1e6 && s1 < 1e6);
    /* the same clip as a buffer: a 1 s 16 kHz tone, scored twice, is deterministic */
    float *x = (float *)malloc(sizeof(float) * 16000);
    for (int i = 0; i < 16000; i++) x[i] = (float)(0.3 * sin(2 * 3.14159265358979 * 440.0 * i / 16000.0));
    CHECK(sdd_detector_score_samples(d, x, 16000, 16000, &s2) == 0);
    CHECK(sdd_detector_score_samples(d, x, 16000, 16000, &s3) == 0);
    CHECK(s2 == s3);
    /* a different rate goes through the resampler and still scores */
    CHECK(sdd_detector_score_samples(d, x, 16000, 8000, &s3) == 0);
    x[5] = NAN;
    CHECK(sdd_detector_score_samples(d, x, 16000, 16000, &s3) == -1);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "not finite");
    CHECK(sdd_detector_score_file(d, "tests/data/does-not-exist.wav", &s3) == -1);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "does-not-exist.wav");
    CHECK(sdd_detector_score_samples(d, x, 0, 16000, &s3) == -1);
    /* the index of a bad sample is the caller's, also through the resampler */
    x[5] = 0.0f;
    x[100] = NAN;
    CHECK(sdd_detector_score_samples(d, x, 16000, 48000, &s3) == -1);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "sample 100 is not finite");
    x[100] = 0.0f;
    /* a negative count at any rate, and NULLs, fail with a reason; the score is left as it was */
    s3 = 42;
    CHECK(sdd_detector_score_samples(d, x, -100, 8000, &s3) == -1 && s3 == 42);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "no samples");
    CHECK(sdd_detector_score_file(d, NULL, &s3) == -1 && s3 == 42);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "NULL argument");
    CHECK(sdd_detector_score_file(d, "tests/data/audio/real_01.flac", NULL) == -1);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "NULL argument");
    CHECK(sdd_detector_score_samples(d, NULL, 16000, 16000, &s3) == -1);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "NULL argument");
    /* samples that overflow the model: an error, the score left as it was */
    for (int i = 0; i < 16000; i++) x[i] = (float)(3e38 * sin(0.1 * i));
    CHECK(sdd_detector_score_samples(d, x, 16000, 16000, &s3) == -1 && s3 == 42);
    CHECK_STR_CONTAINS(sdd_detector_error(d), "not finite");
    free(x);
    /* several files at a time (one per thread): each gets what one thread
     * gives it; a missing file and a NULL path are reported, the others scored */
    {
        const char *files[5] = { "tests/data/audio/real_01.flac", "tests/data/does-not-exist.wav", "tests/data/audio/tts_01.flac", NULL,
                                 "tests/data/audio/real_02.flac" };
        double sc[5] = { 0, 0, 0, 0, 0 }, one = 0;
        int okv[5] = { 0, 0, 0, 0, 0 };
        CHECK(sdd_detector_score_files(d, files, 5, sc, okv) == 3);
        CHECK(okv[0] && !okv[1] && okv[2] && !okv[3] && okv[4]);
        CHECK_STR_CONTAINS(sdd_detector_error(d), "does-not-exist.wav");
        CHECK(sdd_detector_score_files(d, files, 0, sc, okv) == 0);
        CHECK(sdd_detector_score_files(d, files, -1, sc, okv) == -1);
        CHECK(sdd_detector_score_files(d, NULL, 2, sc, okv) == -1);
        CHECK_STR_CONTAINS(sdd_detector_error(d), "NULL argument");
        sdd_detector_params p1 = p;
        p1.threads = 1;
        sdd_detector *d1 = sdd_detector_load(path, &p1, err, sizeof err);
        CHECK_MSG(d1 != NULL, "%s", err);
        for (int k = 0; k < 5 && d1; k += 2) {
            CHECK(sdd_detector_score_file(d1, files[k], &one) == 0);
            CHECK_MSG(one == sc[k], "%s: %.9g one at a time on one thread, %.9g among several", files[k], one, sc[k]);
        }
        /* on one thread the files go one after the other: the same scores */
        double sc1[5] = { 0, 0, 0, 0, 0 };
        if (d1) CHECK(sdd_detector_score_files(d1, files, 5, sc1, okv) == 3 && sc1[0] == sc[0] && sc1[2] == sc[2] && sc1[4] == sc[4]);
        if (d1) CHECK_STR_CONTAINS(sdd_detector_error(d1), "does-not-exist.wav");
        sdd_detector_free(d1);
    }
    sdd_detector_free(d);
    /* whole-file mode: a window too large to convert (or infinite) never splits,
     * as a large finite one does; NULL err is allowed */
    x = (float *)malloc(sizeof(float) * 100000);
    for (int i = 0; i < 100000; i++) x[i] = (float)(0.3 * sin(0.05 * i));
    const double wins[3] = { 1e6, 1e300, INFINITY };
    double ws[3] = { 0, 1, 2 };
    for (int k = 0; k < 3; k++) {
        sdd_detector_params pw = sdd_detector_default_params();
        pw.threads = 2;
        pw.cut = -1;
        pw.window_s = wins[k];
        sdd_detector *dw = sdd_detector_load(path, &pw, NULL, 0);
        CHECK(dw != NULL);
        if (dw) CHECK_MSG(sdd_detector_score_samples(dw, x, 100000, 16000, &ws[k]) == 0, "%s", sdd_detector_error(dw));
        sdd_detector_free(dw);
    }
    CHECK_MSG(ws[0] == ws[1] && ws[0] == ws[2], "windows 1e6 / 1e300 / inf: %.9g %.9g %.9g", ws[0], ws[1], ws[2]);
    free(x);
    CHECK(sdd_detector_load("tests/data/does-not-exist.safetensors", NULL, NULL, 100) == NULL);
    CHECK(sdd_detector_load("tests/data/does-not-exist.safetensors", NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "does-not-exist.safetensors");
    /* the CUDA device where this build or machine has none: a load error with the reason */
    p.device = 1;
    d = sdd_detector_load(path, &p, err, sizeof err);
    if (d) { printf("CUDA device present: device load checked only for success\n"); sdd_detector_free(d); }
    else CHECK_MSG(strstr(err, "built without CUDA") || strstr(err, "no CUDA device"), "device load: %s", err);
    p.device = 7;
    CHECK(sdd_detector_load(path, &p, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "unknown device");
    CHECK(sdd_detector_load("README.md", NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "README.md");
    CHECK(strcmp(sdd_version(), SDD_VERSION_STRING) == 0);
    test_calibrated(path);
    return CHECK_DONE(NAME);
}
