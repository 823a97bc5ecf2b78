/* End-to-end tests of sdd calibrate, sdd fuse and the new sdd eval / sdd score
 * options (run from the repository root, after `make`): the trained weights
 * equal the scipy reference's, fused scores equal w . x + b, the a-DCF from
 * the command line, a model carrying its calibration, the 2021 t-DCF from
 * the eval-package's C012 file (--asv-c012), and the bad-input
 * contract: one-line errors naming the file, exit status 1 (error) or 2
 * (usage), no output files left behind. */
#include "check.h"
#include "metrics/calibration.h"
#include "metrics/evaluate.h"
#include "cli_run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA "tests/data/metrics/"

static char out[65536];
static char tmp[256];

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

static const char *T(const char *name) { return check_tmp_path(tmp, name); }

/* weights and bias the reference gives for NAME at prior 0.5 */
static int expected(const char *name, double *w, double *b)
{
    FILE *f = fopen(DATA "cal_expected.txt", "r");
    char line[512], nm[8];
    double prior, x[3];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        int got = sscanf(line, "%7s %la %la %la %la", nm, &prior, &x[0], &x[1], &x[2]);
        if (got < 4 || strcmp(nm, name) || prior != 0.5) continue;
        int k = (int)strlen(name);
        for (int i = 0; i < k; i++) w[i] = x[i];
        *b = x[k];
        found = 1;
    }
    if (f) fclose(f);
    return found;
}

#define one_line cli_one_line

static void test_calibrate_fuse(void)
{
    double w[2], b;
    sdd_calibration c;
    sdd_err e;
    CHECK(run("$SDD calibrate --scores " DATA "cal_a.txt --key " DATA "cal_key.txt -o %s", T("cal.json")) == 0);
    CHECK_STR_CONTAINS(out, "Bayes threshold -0.641854 on the LLR");
    CHECK(expected("a", w, &b));
    CHECK_MSG(sdd_calibration_load(T("cal.json"), &c, &e) == 0, "%s", e.msg);
    CHECK(c.k == 1 && fabs(c.w[0] - w[0]) <= 1e-12 * fabs(w[0]) && fabs(c.b - b) <= 1e-12 * (1 + fabs(b)));

    /* eval applies it */
    CHECK(run("$SDD eval --scores " DATA "cal_a.txt --key " DATA "cal_key.txt --calibration %s -o %s", T("cal.json"),
              T("r.json")) == 0);
    CHECK_STR_CONTAINS(out, "scores read as natural-log LLRs, calibrated");
    CHECK_STR_CONTAINS(out, "actDCF     ");
    CHECK(cli_exists(T("r.json")));

    /* fusion: learn, then apply */
    CHECK(run("$SDD fuse --scores " DATA "cal_a.txt " DATA "cal_b.txt --key " DATA "cal_key.txt -o %s", T("f.json")) == 0);
    CHECK(expected("ab", w, &b));
    CHECK(sdd_calibration_load(T("f.json"), &c, &e) == 0);
    CHECK(c.k == 2 && fabs(c.w[0] - w[0]) <= 1e-12 * fabs(w[0]) && fabs(c.w[1] - w[1]) <= 1e-12 * fabs(w[1]) &&
          fabs(c.b - b) <= 1e-12 * (1 + fabs(b)));
    CHECK(run("$SDD fuse --apply %s --scores " DATA "cal_a.txt " DATA "cal_b.txt -o %s --threshold", T("f.json"),
              T("fused.txt")) == 0);
    FILE *f = fopen(T("fused.txt"), "r"), *fa = fopen(DATA "cal_a.txt", "r");
    char la[256], lf[256];
    int n = 0, ok = 1;
    while (f && fa && fgets(lf, sizeof lf, f) && fgets(la, sizeof la, fa)) {
        char ida[64], idf[64], lab[16];
        double xa, s;
        if (sscanf(la, "%63s %lf", ida, &xa) != 2 || sscanf(lf, "%63s %lf %15s", idf, &s, lab) != 3) { ok = 0; break; }
        ok &= !strcmp(ida, idf) && !strcmp(lab, s >= c.threshold ? "bonafide" : "spoof");
        n++;
    }
    if (f) fclose(f);
    if (fa) fclose(fa);
    CHECK(ok && n == 600);
    /* the fused scores evaluate like any score file */
    CHECK(run("$SDD eval --scores %s --key " DATA "cal_key.txt", T("fused.txt")) == 0);
    CHECK_STR_CONTAINS(out, "minDCF     ");

    /* bad inputs */
    CHECK(run("$SDD fuse --apply %s --scores " DATA "cal_a.txt -o %s", T("f.json"), T("x.txt")) == 1);
    CHECK(one_line(out) && strstr(out, "f.json: fuses 2 score files, 1 given") && !cli_exists(T("x.txt")));
    CHECK(run("$SDD fuse --apply %s --scores " DATA "cal_a.txt " DATA "asv5_scores.txt -o %s", T("f.json"), T("x.txt")) == 1);
    CHECK(one_line(out) && strstr(out, "must score the same trials") && !cli_exists(T("x.txt")));
    f = fopen(T("bad.json"), "w");
    if (f) { fputs("{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1],\n \"bias\": }\n", f); fclose(f); }
    CHECK(run("$SDD eval --scores " DATA "cal_a.txt --key " DATA "cal_key.txt --calibration %s", T("bad.json")) == 1);
    CHECK_MSG(one_line(out) && strstr(out, "bad.json:2: not valid JSON"), "%s", out);
    CHECK(run("$SDD eval --scores " DATA "cal_a.txt --key " DATA "cal_key.txt --calibration %s", T("f.json")) == 1);
    CHECK(one_line(out) && strstr(out, "a fusion"));
    CHECK(run("$SDD calibrate --scores " DATA "cal_a.txt --key " DATA "asv5_protocol.tsv -o %s", T("y.json")) == 1);
    CHECK(one_line(out) && strstr(out, DATA "cal_a.txt: no score for trial E_0000001000") && !cli_exists(T("y.json")));
    CHECK(run("$SDD calibrate --scores " DATA "cal_a.txt -o %s", T("y.json")) == 2);
    CHECK(run("$SDD fuse --scores " DATA "cal_a.txt -o %s", T("y.json")) == 2);
    CHECK_STR_CONTAINS(out, "give --key DEVKEY to learn a fusion, or --apply FUSION.json to apply one");
    CHECK(run("$SDD calibrate --scores " DATA "cal_a.txt --key " DATA "cal_key.txt -o %s --prior 1", T("y.json")) == 2);
    CHECK(run("$SDD calibrate --scores " DATA "cal_a.txt --key " DATA "cal_key.txt -o /nonexistent/dir/c.json") == 1);
    CHECK(one_line(out));
}

static void test_eval_asv5(void)
{
    CHECK(run("$SDD eval --sasv-scores " DATA "asv5_sasv_scores.tsv --sasv-key " DATA "asv5_sasv_key.tsv -o %s",
              T("a.json")) == 0);
    CHECK_STR_CONTAINS(out, "a-DCF      0.454685043");
    CHECK_STR_CONTAINS(out, "A20               51     0.6286");
    CHECK(cli_exists(T("a.json")));
    CHECK(run("$SDD eval --scores " DATA "asv5_scores.txt --key " DATA "asv5_protocol.tsv --breakdown attack") == 0);
    CHECK_STR_CONTAINS(out, "minDCF     0.740096461");
    CHECK_STR_CONTAINS(out, "  EER (%)     minDCF\n");
    CHECK(run("$SDD eval --sasv-key " DATA "asv5_sasv_key.tsv --scores " DATA "asv5_scores.txt") == 2);
    CHECK(run("$SDD eval --sasv-scores " DATA "asv5_sasv_scores.tsv --det %s", T("d.svg")) == 2);
    CHECK(run("$SDD eval --sasv-scores " DATA "asv5_sasv_scores.tsv") == 1);
    CHECK(one_line(out) && strstr(out, "need a key file (--sasv-key)"));
}

static void test_model_calibration(void)
{
    const char *shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    char pth[512];
    snprintf(pth, sizeof pth, "%s/models/AASIST.pth", shared);
    if (!cli_exists(pth)) { printf("SKIP model calibration: needs %s\n", pth); return; }
    CHECK(run("$SDD calibrate --scores " DATA "cal_a.txt --key " DATA "cal_key.txt -m %s --model-out %s", pth,
              T("m.safetensors")) == 0);
    CHECK(run("$SDD info %s", T("m.safetensors")) == 0);
    CHECK_STR_CONTAINS(out, "calibration: {\"format\":\"sdd-calibration\"");
    /* -v: one indented "name (shape)" line per tensor, as many as the header counts */
    CHECK(run("$SDD info -v %s", T("m.safetensors")) == 0);
    {
        int ntens = -1, nlines = 0;
        const char *t = strstr(out, "tensors: ");
        if (t) ntens = atoi(t + 9);
        for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
            if (!strncmp(l, "  ", 2) && strchr(l, '(')) nlines++;
        CHECK_MSG(ntens > 100 && nlines == ntens, "sdd info -v: %d tensor lines, header says %d", nlines, ntens);
        CHECK_STR_CONTAINS(out, "  pos_S ");
    }
    CHECK(run("$SDD info %s extra", T("m.safetensors")) == 2);
    CHECK(one_line(out) && strstr(out, "unexpected argument extra"));
    sdd_calibration c;
    sdd_err e;
    CHECK(sdd_calibration_load(T("cal.json"), &c, &e) == 0);
    CHECK(run("$SDD score -m %s tests/data/audio/real_03.flac", pth) == 0);
    double raw = 0, llr = 0;
    char lab[16] = "";
    CHECK(sscanf(out, "%*s %lf", &raw) == 1);
    CHECK(run("$SDD score -m %s tests/data/audio/real_03.flac", T("m.safetensors")) == 0);
    CHECK(sscanf(out, "%*s %lf %15s", &llr, lab) == 2);
    const float want = (float)(c.w[0] * raw + c.b);
    CHECK_MSG(fabs(llr - want) <= 1e-6 * (1 + fabs(want)), "LLR %.9g, expected %.9g", llr, want);
    CHECK(!strcmp(lab, llr >= c.threshold ? "bonafide" : "spoof"));
    CHECK(run("$SDD score -m %s --no-calibration tests/data/audio/real_03.flac", T("m.safetensors")) == 0);
    double raw2 = 0;
    CHECK(sscanf(out, "%*s %lf", &raw2) == 1 && raw2 == raw);
    CHECK(run("$SDD score -m %s --calibration %s tests/data/audio/real_03.flac", pth, T("f.json")) == 1);
    CHECK(one_line(out) && strstr(out, "not a calibration"));
}

/* --asv-c012: the 2021 eval-package's precomputed t-DCF coefficients */
static void test_eval_c012(void)
{
    CHECK(run("$SDD eval --scores tests/data/metrics/asv21_la_scores.txt --key tests/data/metrics/asv21_la_key.txt "
              "--asv-c012 tests/data/metrics/asv21_la_c012.npy") == 0);
    CHECK_STR_CONTAINS(out, "min t-DCF  0.");
    CHECK_STR_CONTAINS(out, "precomputed C0");
    CHECK(run("$SDD eval --scores tests/data/metrics/asv21_la_scores.txt --key tests/data/metrics/asv21_la_key.txt "
              "--asv-c012 tests/data/metrics/asv21_la_c012.npy --asv-scores tests/data/metrics/asv21_la_asv_scores.txt") == 2);
    CHECK_STR_CONTAINS(out, "exclude each other");
    CHECK(run("$SDD eval --scores tests/data/metrics/asv21_la_scores.txt --key tests/data/metrics/asv21_la_key.txt "
              "--asv-c012 tests/data/metrics/asv21_la_key.txt -o %s/never.json", tmp) == 1);
    CHECK_STR_CONTAINS(out, "sdd: tests/data/metrics/asv21_la_key.txt: not a NumPy file");
    {
        char p[512];
        snprintf(p, sizeof p, "%s/never.json", tmp);
        CHECK(!cli_exists(p));
    }
}

/* The library's min t-DCF for these options, as `sdd eval` prints it */
static void lib_tdcf(const sdd_eval_opts *o, char *buf, size_t n)
{
    sdd_eval_report r;
    sdd_err e;
    snprintf(buf, n, "(library failed)");
    if (sdd_eval_run(o, &r, &e)) return;
    if (r.has_tdcf) snprintf(buf, n, "min t-DCF  %.9f  (%s form", r.tdcf.min_tdcf, r.tdcf_form == SDD_TDCF_2019 ? "2019 legacy" : "2021");
    sdd_eval_report_free(&r);
}

/* --tdcf and --asv-rates reach the t-DCF: the printed value is the
 * library's for the same options (whose values test_eval and test_asv5
 * check against the official tools' fixtures), and the forms differ */
static void test_eval_tdcf_options(void)
{
    char want[128];
    sdd_eval_opts o = { .scores = DATA "asv19_cm_scores.txt", .key = DATA "asv19_protocol.txt",
                        .asv_scores = DATA "asv19_asv_scores.txt" };
    const char *base = "$SDD eval --scores " DATA "asv19_cm_scores.txt --key " DATA "asv19_protocol.txt "
                       "--asv-scores " DATA "asv19_asv_scores.txt";
    o.tdcf = SDD_TDCF_2019;
    lib_tdcf(&o, want, sizeof want);
    CHECK(run("%s --tdcf 2019", base) == 0);
    CHECK_STR_CONTAINS(out, want);
    char legacy[128];
    snprintf(legacy, sizeof legacy, "%s", want);
    CHECK(run("%s", base) == 0);   /* an ASVspoof 2019 key: the 2019 form by default */
    CHECK_STR_CONTAINS(out, legacy);
    o.tdcf = SDD_TDCF_2021;
    lib_tdcf(&o, want, sizeof want);
    CHECK(strcmp(want, legacy) != 0);
    CHECK(run("%s --tdcf 2021", base) == 0);
    CHECK_STR_CONTAINS(out, want);
    /* ASVspoof 5 without ASV scores: the organisers' pooled ASV error rates */
    sdd_eval_opts o5 = { .scores = DATA "asv5_scores.txt", .key = DATA "asv5_protocol.tsv", .asv5_rates = 1 };
    lib_tdcf(&o5, want, sizeof want);
    CHECK(run("$SDD eval --scores " DATA "asv5_scores.txt --key " DATA "asv5_protocol.tsv --asv-rates asvspoof5") == 0);
    CHECK_STR_CONTAINS(out, want);
    CHECK_STR_CONTAINS(out, "the ASVspoof 5 organisers' ASV error rates");
    CHECK(run("$SDD eval --scores " DATA "asv5_scores.txt --key " DATA "asv5_protocol.tsv") == 0);
    CHECK(strstr(out, "min t-DCF") == NULL);   /* no ASV information, no t-DCF */
    /* usage errors: exit 2, one line naming the option */
    CHECK(run("%s --tdcf 2020", base) == 2);
    CHECK(one_line(out) && strstr(out, "--tdcf: '2020' is not 2019 or 2021"));
    CHECK(run("$SDD eval --scores " DATA "asv5_scores.txt --key " DATA "asv5_protocol.tsv --asv-rates asvspoof4") == 2);
    CHECK(one_line(out) && strstr(out, "is not asvspoof5"));
    CHECK(run("%s --asv-rates asvspoof5", base) == 2);
    CHECK(one_line(out) && strstr(out, "--asv-rates excludes --asv-scores"));
    CHECK(run("$SDD eval --scores " DATA "asv19_cm_scores.txt --key " DATA "asv19_protocol.txt --tdcf 2021") == 2);
    CHECK(one_line(out) && strstr(out, "--tdcf needs --asv-scores"));
    CHECK(run("$SDD eval --scores tests/data/metrics/asv21_la_scores.txt --key tests/data/metrics/asv21_la_key.txt "
              "--asv-c012 tests/data/metrics/asv21_la_c012.npy --tdcf 2019") == 2);
    CHECK(one_line(out) && strstr(out, "C012 coefficients are the 2021 form"));
    CHECK(run("%s --frobnicate", base) == 2);
    CHECK(one_line(out) && strstr(out, "unknown option --frobnicate"));
}

int main(void)
{
    const char *bin = cli_bin();
    if (!cli_exists(bin)) {
        printf("SKIP test_cli_eval: needs %s (run make)\n", bin);
        return CHECK_DONE("test_cli_eval");
    }
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-cli-eval-%d", (int)getpid());
    mkdir(tmp, 0700);
    test_calibrate_fuse();
    test_eval_asv5();
    test_eval_tdcf_options();
    test_model_calibration();
    test_eval_c012();
    run("rm -rf %s", tmp);
    return CHECK_DONE("test_cli_eval");
}
