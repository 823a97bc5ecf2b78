/* The calibration solver under hostile scores, and the bad-input contract
 * of sdd calibrate, fuse, eval, report and landscape (BAD_INPUTS.md B49 to
 * B54, IDs in the comments), run from the repository root after `make`:
 * a correct-side score of 1e20 or scores at a scale of 1e200 still give the
 * fit the bulk of the scores calls for, and the prior-weighted objective at
 * the result is never above the raw scores' (the identity is in the affine
 * family); degenerate fits (all-equal scores, a prior of 1e-300) are refused
 * with one line and nothing written; out-of-range decision costs are usage
 * errors naming the option; a calibration whose LLR overflows is an error
 * naming it and the trial; an output that is an input, or two outputs that
 * are one file, is a usage error with nothing written; a landscape whose
 * losses overflow warns. */
#include "check.h"
#include "metrics/calibration.h"
#include "cli_run.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N 200

static char out[65536];
static char tmp[256];

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

static const char *T(const char *name) { return check_tmp_path(tmp, name); }

static int one_line(const char *s) { return !strncmp(s, "sdd", 3) && cli_one_line(s); }

/* a fixed stream of standard normal numbers (no libc rand: the same on every system) */
static uint64_t rng_state;
static double gauss(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        u[i] = ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* N trials alternating spoof / bona fide (odd = bona fide), scores
 * scale * N(+-1, 1) (sep: scale * +-(1 + |N(0,1)|), separable) */
static void make(double *x, unsigned char *pos, double scale, int sep, uint64_t seed)
{
    rng_state = seed;
    for (int i = 0; i < N; i++) {
        pos[i] = i % 2;
        const double m = pos[i] ? 1 : -1;
        x[i] = sep ? scale * m * (1 + fabs(gauss())) : scale * (m + gauss());
    }
}

/* the training objective (prior-weighted logistic loss + l2/2 w^2) at LLR = w x + b, k = 1 */
static double objective(const double *x, const unsigned char *pos, int n, double prior, double l2, double w, double b)
{
    int nt = 0;
    for (int i = 0; i < n; i++) nt += pos[i];
    const double off = log(prior / (1 - prior));
    double f = 0;
    for (int i = 0; i < n; i++) {
        const double z = w * x[i] + b + off, y = pos[i] ? -z : z;
        f += (pos[i] ? prior / nt : (1 - prior) / (n - nt)) * (y > 0 ? y + log1p(exp(-y)) : log1p(exp(y)));
    }
    return f + 0.5 * l2 * w * w;
}

static void write_scores(const char *path, const double *x, int n)
{
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < n; i++) fprintf(f, "t%d %.17g\n", i, x[i]);
    if (f) fclose(f);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

/* the whole file as text (static buffer), "" when unreadable */
static const char *slurp(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    return buf;
}

/* B49: the solver on hostile scores, called directly */
static void test_solver(void)
{
    double x[N], x0[N];
    unsigned char pos[N];
    sdd_calibration c, c0;
    sdd_calibration_info info;
    sdd_err e;
    int bad;

    /* scores 23 orders of magnitude apart (found by fuzz_calfit): going back
     * from standardised to raw scores lost the bias to rounding, and the fit
     * (Cllr 1.1e11 bits) was far worse than the raw scores (1.8e9); now it is
     * never worse than the best start, here zero weights, which the check
     * then refuses as degenerate */
    {
        const double xs[2] = { 24133.0 * 1e28, 11.0 * 1e8 };
        const unsigned char ps[2] = { 1, 0 };
        CHECK(sdd_calibration_train(xs, ps, 2, 1, 0.2, 1e-6, &c, &info, &e) == 0);
        CHECK_MSG(info.cllr_after <= info.cllr_before, "Cllr %g -> %g", info.cllr_before, info.cllr_after);
        CHECK(sdd_calibration_check(&c, xs, 2, &bad, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "degenerate fit");
    }
    /* one bona fide score of 1e20 (the correct side): the same fit as with
     * that score at 1e3, where its loss is 0 as well */
    make(x, pos, 1, 0, 1);
    memcpy(x0, x, sizeof x);
    x[1] = 1e20;
    x0[1] = 1e3;
    CHECK_MSG(sdd_calibration_train(x, pos, N, 1, 0.5, 1e-6, &c, &info, &e) == 0, "%s", e.msg);
    CHECK(sdd_calibration_train(x0, pos, N, 1, 0.5, 1e-6, &c0, NULL, &e) == 0);
    CHECK_MSG(c.w[0] > 1 && c.w[0] < 4 && fabs(c.w[0] - c0.w[0]) <= 1e-9 * c0.w[0] && fabs(c.b - c0.b) <= 1e-9,
              "outlier fit w %.17g b %.17g, without it w %.17g b %.17g", c.w[0], c.b, c0.w[0], c0.b);
    CHECK_MSG(info.cllr_after < info.cllr_before, "Cllr %g -> %g", info.cllr_before, info.cllr_after);
    CHECK(sdd_calibration_check(&c, x, N, &bad, &e) == 0);

    /* at any scale, calibrated or not, separable or not, the objective at
     * the result is at most the identity's (w = 1, b = 0) and at most the
     * constant LLR's (w = 0, best b = 0 for balanced classes at P = 0.5) */
    const struct { double scale; int sep; double prior; } cases[] = {
        { 1, 0, 0.5 },     { 1e-3, 0, 0.5 }, { 1e5, 0, 0.5 },  { 1e100, 0, 0.5 }, { 1, 1, 0.5 },
        { 1e5, 1, 0.5 },   { 1e100, 1, 0.5 }, { 1e200, 1, 0.5 }, { -1, 0, 0.5 },   { 3, 0, 0.95 },
        { 1e200, 0, 0.05 },
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        make(x, pos, cases[t].scale, cases[t].sep, 7 + t);
        const double P = cases[t].prior;
        CHECK_MSG(sdd_calibration_train(x, pos, N, 1, P, 1e-6, &c, &info, &e) == 0, "case %zu: %s", t, e.msg);
        const double f = objective(x, pos, N, P, 1e-6, c.w[0], c.b), fid = objective(x, pos, N, P, 1e-6, 1, 0);
        const double f0 = objective(x, pos, N, P, 1e-6, 0, 0);
        CHECK_MSG(isfinite(c.w[0]) && isfinite(c.b) && f <= fid * (1 + 1e-12) + 1e-300 && f <= f0 * (1 + 1e-12),
                  "case %zu (scale %g%s): w %.9g b %.9g objective %.17g, identity %.17g, zero %.17g", t, cases[t].scale,
                  cases[t].sep ? ", separable" : "", c.w[0], c.b, f, fid, f0);
        CHECK_MSG(info.cllr_after <= info.cllr_before + 1e-6, "case %zu: Cllr %g -> %g", t, info.cllr_before, info.cllr_after);
        CHECK_MSG(sdd_calibration_check(&c, x, N, &bad, &e) == 0, "case %zu: %s", t, e.msg);
        /* the fit keeps the classes apart, the right way round (case 8's
         * scores are higher for spoofs): mean LLR higher for bona fide */
        double mb = 0, ms = 0;
        for (int i = 0; i < N; i++) *(pos[i] ? &mb : &ms) += sdd_calibration_apply(&c, &x[i]) / (N / 2);
        CHECK_MSG(mb > ms, "case %zu: mean LLR bona fide %g, spoof %g", t, mb, ms);
    }

    /* fusion of a system with an outlier and one at a scale of 1e200: at most
     * the objective of either system alone (w = e_j) */
    double x2[2 * N], a[N], s[N];
    make(a, pos, 1, 0, 3);
    make(s, pos, 1e200, 0, 4);
    a[3] = 1e20;
    for (int i = 0; i < N; i++) { x2[2 * i] = a[i]; x2[2 * i + 1] = s[i]; }
    CHECK_MSG(sdd_calibration_train(x2, pos, N, 2, 0.5, 1e-6, &c, &info, &e) == 0, "%s", e.msg);
    CHECK(isfinite(c.w[0]) && isfinite(c.w[1]) && isfinite(c.b) && c.w[0] > 0 && c.w[1] > 0);
    CHECK_MSG(info.cllr_after <= sdd_calibration_cllr(a, pos, N, 0.5) + 1e-6 &&
              info.cllr_after <= sdd_calibration_cllr(s, pos, N, 0.5) + 1e-6,
              "fused Cllr %g, alone %g and %g", info.cllr_after, sdd_calibration_cllr(a, pos, N, 0.5),
              sdd_calibration_cllr(s, pos, N, 0.5));
    CHECK(sdd_calibration_check(&c, x2, N, &bad, &e) == 0);

    /* B50: degenerate fits are trained (finite) but refused by the check */
    for (int i = 0; i < N; i++) x[i] = 3.5;
    CHECK(sdd_calibration_train(x, pos, N, 1, 0.5, 1e-6, &c, NULL, &e) == 0 && isfinite(c.b));
    CHECK(sdd_calibration_check(&c, x, N, &bad, &e) == -1 && bad == 0);
    CHECK_STR_CONTAINS(e.msg, "all 200 scores are equal (3.5)");
    make(x, pos, 1, 0, 1);
    CHECK(sdd_calibration_train(x, pos, N, 1, 1e-300, 1e-6, &c, NULL, &e) == 0);
    CHECK(sdd_calibration_check(&c, x, N, &bad, &e) == -1 && bad == -1);
    CHECK_STR_CONTAINS(e.msg, "degenerate fit: the LLR is the same for all 200 trials");
    for (int i = 0; i < N; i++) { x2[2 * i] = x[i]; x2[2 * i + 1] = -2; }
    CHECK(sdd_calibration_train(x2, pos, N, 2, 0.5, 1e-6, &c, NULL, &e) == 0);
    CHECK(sdd_calibration_check(&c, x2, N, &bad, &e) == -1 && bad == 1);
    /* B51: costs whose Bayes threshold is not finite */
    CHECK(sdd_calibration_set_decision(&c, 0.999999, 1e-300, 1e308, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "not finite");
    CHECK(sdd_calibration_set_decision(&c, 0.05, 1, 10, &e) == 0 && isfinite(c.threshold));
}

/* B49, B50, B51 through sdd calibrate and sdd fuse */
static void test_calibrate_cli(void)
{
    double x[N], y[N];
    unsigned char pos[N];
    make(x, pos, 1, 0, 1);
    x[1] = 1e20;
    write_scores(T("sm"), x, N);
    FILE *f = fopen(T("km"), "w");
    for (int i = 0; f && i < N; i++) fprintf(f, "t%d %s\n", i, pos[i] ? "bonafide" : "spoof");
    if (f) fclose(f);
    sdd_calibration c;
    sdd_err e;
    double before = NAN, after = NAN;

    /* B49: the 1e20 outlier (was: LLR = 4.2e-20 * score, Cllr 0.58 -> 0.995) */
    CHECK(run("$SDD calibrate --scores %s --key %s -o %s", T("sm"), T("km"), T("c.json")) == 0);
    const char *cl = strstr(out, "Cllr ");
    CHECK_MSG(cl && sscanf(cl, "Cllr %lf -> %lf", &before, &after) == 2 && after < before, "%s", out);
    CHECK_MSG(sdd_calibration_load(T("c.json"), &c, &e) == 0, "%s", e.msg);
    CHECK_MSG(c.w[0] > 1 && c.w[0] < 4, "w %g", c.w[0]);
    /* separable at +-1e200 (was: 0 * score + 0) */
    make(y, pos, 1e200, 1, 2);
    write_scores(T("sep"), y, N);
    CHECK(run("$SDD calibrate --scores %s --key %s -o %s", T("sep"), T("km"), T("c2.json")) == 0);
    cl = strstr(out, "Cllr ");
    CHECK_MSG(cl && sscanf(cl, "Cllr %lf -> %lf", &before, &after) == 2 && after <= before + 1e-6, "%s", out);
    CHECK(!strstr(out, "nan"));
    CHECK(sdd_calibration_load(T("c2.json"), &c, &e) == 0 && c.w[0] > 0);
    /* the fusion learns with the same solver */
    CHECK(run("$SDD fuse --scores %s %s --key %s -o %s", T("sm"), T("sep"), T("km"), T("f.json")) == 0);
    CHECK(sdd_calibration_load(T("f.json"), &c, &e) == 0 && c.w[0] > 0 && c.w[1] > 0);

    /* B50: degenerate fits: refused, one line naming the file, nothing written */
    for (int i = 0; i < N; i++) y[i] = 3.5;
    write_scores(T("eq"), y, N);
    write_text(T("dummy.model"), "not a model\n");
    CHECK(run("$SDD calibrate --scores %s --key %s -o %s", T("eq"), T("km"), T("x.json")) == 1);
    CHECK_MSG(one_line(out) && strstr(out, "eq: all 200 scores are equal (3.5)") && !cli_exists(T("x.json")), "%s", out);
    make(x, pos, 1, 0, 1);
    write_scores(T("s0"), x, N);
    CHECK(run("$SDD calibrate --scores %s --key %s -o %s --prior 1e-300", T("s0"), T("km"), T("x.json")) == 1);
    CHECK_MSG(one_line(out) && strstr(out, "s0: degenerate fit") && !strstr(out, "nan") && !cli_exists(T("x.json")), "%s", out);
    CHECK(run("$SDD calibrate --scores %s --key %s -m %s --model-out %s --prior 1e-300", T("s0"), T("km"), T("dummy.model"),
              T("x.safetensors")) == 1);
    CHECK_MSG(one_line(out) && strstr(out, "s0: degenerate fit") && !cli_exists(T("x.safetensors")), "%s", out);
    CHECK(run("$SDD fuse --scores %s %s --key %s -o %s", T("s0"), T("eq"), T("km"), T("x.json")) == 1);
    CHECK_MSG(one_line(out) && strstr(out, "eq: all 200 scores are equal") && !cli_exists(T("x.json")), "%s", out);

    /* B51: decision costs out of range are usage errors naming the option */
    const char *costs[][2] = { { "--pspoof 0", "--pspoof" }, { "--pspoof 1", "--pspoof" }, { "--cmiss 0", "--cmiss" },
                               { "--cfa -1", "--cfa" }, { "--cfa 1e308 --pspoof 0.999999 --cmiss 1e-300", "not finite" } };
    for (int i = 0; i < 5; i++) {
        CHECK_MSG(run("$SDD calibrate --scores %s --key %s -o %s %s", T("s0"), T("km"), T("x.json"), costs[i][0]) == 2, "%s: %s",
                  costs[i][0], out);
        CHECK_MSG(strstr(out, costs[i][1]) && !strstr(out, "s0:") && !cli_exists(T("x.json")), "%s: %s", costs[i][0], out);
        CHECK(run("$SDD fuse --scores %s %s --key %s -o %s %s", T("s0"), T("sm"), T("km"), T("x.json"), costs[i][0]) == 2);
        CHECK_MSG(strstr(out, costs[i][1]) && !cli_exists(T("x.json")), "fuse %s: %s", costs[i][0], out);
    }
}

/* B52: a calibration whose LLR overflows */
static void test_overflow(void)
{
    write_text(T("sc"), "t0 -1\nt1 2\nt2 5\n");
    write_text(T("sb"), "t0 1\nt1 1\nt2 1\n");
    write_text(T("key"), "t0 spoof\nt1 bonafide\nt2 bonafide\n");
    const char *dec = "\"decision\": {\"pspoof\": 0.05, \"cmiss\": 1, \"cfa\": 10}}\n";
    char js[512];
    snprintf(js, sizeof js, "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1e308], \"bias\": 0, %s", dec);
    write_text(T("cb.json"), js);
    snprintf(js, sizeof js, "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1e308, 1], \"bias\": 0, %s", dec);
    write_text(T("fb.json"), js);
    CHECK(run("$SDD eval --scores %s --key %s --calibration %s -o %s", T("sc"), T("key"), T("cb.json"), T("r.json")) == 1);
    CHECK_MSG(one_line(out) && strstr(out, "sc:2: calibration") && strstr(out, "cb.json") && strstr(out, "trial t1") &&
              !cli_exists(T("r.json")), "%s", out);
    CHECK(run("$SDD fuse --apply %s --scores %s %s -o %s", T("fb.json"), T("sc"), T("sb"), T("o.txt")) == 1);
    CHECK_MSG(one_line(out) && strstr(out, "fb.json: trial t1 of") && strstr(out, "not finite") && !cli_exists(T("o.txt")),
              "%s", out);
    /* in range, both still work */
    snprintf(js, sizeof js, "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [2, 1], \"bias\": 0, %s", dec);
    write_text(T("fb.json"), js);
    CHECK(run("$SDD fuse --apply %s --scores %s %s -o %s", T("fb.json"), T("sc"), T("sb"), T("o.txt")) == 0);
    CHECK_STR_CONTAINS(slurp(T("o.txt")), "t2 11\n");
}

/* run, expect a usage error (2) mentioning want, and FILE unchanged (its text before) */
static void refused(const char *file, const char *want, const char *cmd)
{
    static char before[65536];
    snprintf(before, sizeof before, "%s", slurp(file));
    const int rc = run("%s", cmd);
    CHECK_MSG(rc == 2 && strstr(out, want), "%s -> %d: %s", cmd, rc, out);
    CHECK_MSG(!strcmp(slurp(file), before), "%s changed by: %s", file, cmd);
}

/* B53: an output that is an input, or two outputs that are one file */
static void test_same_file(void)
{
    char cmd[4096];
    write_text(T("asv"), "LA_0001 A01 spoof 1.0\n");
    if (symlink(T("sc"), T("sc.link"))) perror("symlink");
    /* calibrate: -o and --model-out against --scores, --key, -m and each other */
    snprintf(cmd, sizeof cmd, "$SDD calibrate --scores %s --key %s -o %s", T("sm"), T("km"), T("km"));
    refused(T("km"), "same file as --key", cmd);
    snprintf(cmd, sizeof cmd, "$SDD calibrate --scores %s --key %s -o %s", T("sm"), T("km"), T("sm"));
    refused(T("sm"), "same file as --scores", cmd);
    snprintf(cmd, sizeof cmd, "$SDD calibrate --scores %s --key %s -m %s --model-out %s", T("sm"), T("km"), T("dummy.model"),
             T("dummy.model"));
    refused(T("dummy.model"), "same file as -m", cmd);
    snprintf(cmd, sizeof cmd, "$SDD calibrate --scores %s --key %s -o %s -m %s --model-out %s", T("sm"), T("km"), T("two.json"),
             T("dummy.model"), T("two.json"));
    refused(T("two.json"), "name the same file", cmd);
    CHECK(!cli_exists(T("two.json")));
    /* fuse: learning (-o vs the score files and the key), applying (vs the scores and the fusion) */
    snprintf(cmd, sizeof cmd, "$SDD fuse --scores %s %s --key %s -o %s", T("s0"), T("sm"), T("km"), T("sm"));
    refused(T("sm"), "same file as the score file", cmd);
    snprintf(cmd, sizeof cmd, "$SDD fuse --scores %s %s --key %s -o %s", T("s0"), T("sm"), T("km"), T("km"));
    refused(T("km"), "same file as --key", cmd);
    snprintf(cmd, sizeof cmd, "$SDD fuse --apply %s --scores %s %s -o %s", T("fb.json"), T("sc"), T("sb"), T("sb"));
    refused(T("sb"), "same file as the score file", cmd);
    snprintf(cmd, sizeof cmd, "$SDD fuse --apply %s --scores %s %s -o %s", T("fb.json"), T("sc"), T("sb"), T("fb.json"));
    refused(T("fb.json"), "same file as --apply", cmd);
    /* eval: -o and --det against each input, through a link too, and each other */
    snprintf(cmd, sizeof cmd, "$SDD eval --scores %s --key %s -o %s", T("sc"), T("key"), T("sc"));
    refused(T("sc"), "same file as --scores", cmd);
    snprintf(cmd, sizeof cmd, "$SDD eval --scores %s --key %s -o %s", T("sc"), T("key"), T("sc.link"));
    refused(T("sc"), "same file as --scores", cmd);
    snprintf(cmd, sizeof cmd, "$SDD eval --scores %s --key %s --det %s", T("sc"), T("key"), T("key"));
    refused(T("key"), "same file as --key", cmd);
    snprintf(cmd, sizeof cmd, "$SDD eval --scores %s --key %s --calibration %s -o %s", T("sc"), T("key"), T("c.json"),
             T("c.json"));
    refused(T("c.json"), "same file as --calibration", cmd);
    snprintf(cmd, sizeof cmd, "$SDD eval --scores %s --key %s --asv-scores %s --det %s", T("sc"), T("key"), T("asv"), T("asv"));
    refused(T("asv"), "same file as --asv-scores", cmd);
    snprintf(cmd, sizeof cmd, "$SDD eval --scores %s --key %s --det %s -o %s", T("sc"), T("key"), T("r.svg"), T("r.svg"));
    refused(T("r.svg"), "-o and --det name the same file", cmd);
    CHECK(!cli_exists(T("r.svg")));
    /* report: --svg against a run's log and config */
    mkdir(T("run"), 0700);
    write_text(T("run/log.jsonl"), "{\"epoch\": 1}\n");
    write_text(T("run/config.json"), "{}\n");
    snprintf(cmd, sizeof cmd, "$SDD report %s --svg %s", T("run"), T("run/log.jsonl"));
    refused(T("run/log.jsonl"), "--svg", cmd);
    snprintf(cmd, sizeof cmd, "$SDD report --svg %s %s/", T("run/config.json"), T("run"));
    refused(T("run/config.json"), "--svg", cmd);
    /* landscape: -o and --svg against the model and the list, and each other */
    write_text(T("dev.lst"), "real_03.flac bonafide\ntts_01.flac spoof\n");
    snprintf(cmd, sizeof cmd, "$SDD landscape -m %s --list %s --audio-dir tests/data/audio -o %s", T("dummy.model"),
             T("dev.lst"), T("dev.lst"));
    refused(T("dev.lst"), "same file as --list", cmd);
    snprintf(cmd, sizeof cmd, "$SDD landscape -m %s --list %s --audio-dir tests/data/audio -o %s --svg %s", T("dummy.model"),
             T("dev.lst"), T("l.tsv"), T("dummy.model"));
    refused(T("dummy.model"), "same file as -m", cmd);
    snprintf(cmd, sizeof cmd, "$SDD landscape -m %s --list %s --audio-dir tests/data/audio -o %s --svg %s", T("dummy.model"),
             T("dev.lst"), T("l.tsv"), T("l.tsv"));
    refused(T("l.tsv"), "-o and --svg name the same file", cmd);
    CHECK(!cli_exists(T("l.tsv")));
}

/* B54: a landscape whose losses overflow: the table as it is, and a warning */
static void test_landscape_nan(void)
{
    const char *shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    char pth[512];
    snprintf(pth, sizeof pth, "%s/models/AASIST-L.pth", shared);
    if (!cli_exists(pth)) { printf("SKIP landscape warning: needs %s\n", pth); return; }
    CHECK(run("$SDD import %s -o %s", pth, T("M.safetensors")) == 0);
    CHECK(run("$SDD landscape -m %s --list %s --audio-dir tests/data/audio --dirs 1 --steps 2 --cut 16000 --range 100 -o %s "
              "--svg %s",
              T("M.safetensors"), T("dev.lst"), T("l.tsv"), T("l.svg")) == 0);
    CHECK_STR_CONTAINS(out, "sdd: warning: ");
    CHECK_STR_CONTAINS(out, "2 of 2 grid points gave a non-finite loss (first at a=-100 b=0");
    CHECK_STR_CONTAINS(out, "not plotted");
    CHECK_STR_CONTAINS(slurp(T("l.tsv")), "\n-100\t0\tnan\t");
    CHECK(cli_exists(T("l.svg")));
    /* a finite landscape says nothing */
    CHECK(run("$SDD landscape -m %s --list %s --audio-dir tests/data/audio --dirs 1 --steps 2 --cut 16000 --range 0.01 -o %s",
              T("M.safetensors"), T("dev.lst"), T("l.tsv")) == 0);
    CHECK_MSG(!strstr(out, "warning") && !strstr(slurp(T("l.tsv")), "nan"), "%s", out);
}

int main(void)
{
    const char *bin = cli_bin();
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-cli-calib-%d", (int)getpid());
    mkdir(tmp, 0700);
    test_solver();
    if (!cli_exists(bin)) printf("SKIP test_cli_calib commands: needs %s (run make)\n", bin);
    else {
        test_calibrate_cli();
        test_overflow();
        test_same_file();
        test_landscape_nan();
    }
    run("rm -rf %s", tmp);
    return CHECK_DONE("test_cli_calib");
}
