/* Tests for the ASVspoof 5 metrics (src/metrics/dcf.c: minDCF, actDCF,
 * a-DCF), the SASV score/key reader (sasv.c), the ASVspoof 5 evaluation
 * through sdd_eval_run (per attack x codec tables, a-DCF per attack), and
 * calibration / fusion (calibration.c, join.c): training against the scipy
 * reference, the JSON file and its bad inputs. Expected values come from
 * tools/reference/asv5_ref.py, whose formulas are checked bit-for-bit
 * against the official ASVspoof 5 evaluation package (--official). */
#include "check.h"
#include "metrics/metrics.h"
#include "metrics/dcf.h"
#include "metrics/sasv.h"
#include "metrics/calibration.h"
#include "metrics/join.h"
#include "metrics/evaluate.h"
#include "metrics/scores.h"
#include "data/list.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DATA "tests/data/metrics/"

static double worst_rel;   /* largest relative difference of the non-exact comparisons */

static int close_rel(double a, double b, double tol)
{
    const double d = fabs(a - b) / fmax(1e-300, fmax(fabs(a), fabs(b)));
    if (a != b && d > worst_rel) worst_rel = d;
    return a == b || d <= tol;
}

/* "v1 v2 ..." into a malloc'd array */
static double *parse_vec(const char *s, int64_t *n)
{
    int64_t cap = 64, k = 0;
    double *v = malloc((size_t)cap * sizeof *v);
    char *end;
    for (;;) {
        double x = strtod(s, &end);
        if (end == s) break;
        if (k == cap) v = realloc(v, (size_t)(cap *= 2) * sizeof *v);
        v[k++] = x;
        s = end;
    }
    *n = k;
    return v;
}

/* ---- unit cases: minDCF, actDCF, Cllr, a-DCF ---- */

static void test_cases(void)
{
    FILE *f = fopen(DATA "asv5_cases.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    double *v[3] = { NULL, NULL, NULL };
    int64_t nv[3] = { 0, 0, 0 };
    char name[64] = "";
    int ndcf = 0, nadcf = 0;
    double x[4];
    while (getline(&line, &cap, f) > 0) {
        char *rest = strchr(line, ' ');
        rest = rest ? rest + 1 : line + strlen(line);
        if (!strncmp(line, "case ", 5) || !strncmp(line, "adcf_case ", 10)) {
            sscanf(rest, "%63s", name);
            for (int i = 0; i < 3; i++) { free(v[i]); v[i] = NULL; nv[i] = 0; }
        } else if (!strncmp(line, "bona ", 5) || !strncmp(line, "tar ", 4)) v[0] = parse_vec(rest, &nv[0]);
        else if (!strncmp(line, "spoof ", 6) || !strncmp(line, "non ", 4)) v[1] = parse_vec(rest, &nv[1]);
        else if (!strncmp(line, "spf ", 4)) v[2] = parse_vec(rest, &nv[2]);
        else if (!strncmp(line, "dcf ", 4)) {
            CHECK(sscanf(rest, "%la %la %la %la", &x[0], &x[1], &x[2], &x[3]) == 4);
            sdd_sorted s;
            sdd_err e;
            sdd_dcf_cost c;
            sdd_dcf_cost_asvspoof5(&c);
            sdd_dcf_result r;
            CHECK(sdd_sorted_init2(&s, v[0], nv[0], v[1], nv[1], &e) == 0);
            CHECK_MSG(sdd_dcf_sorted(&s, NULL, &c, &r, &e) == 0, "%s", e.msg);
            /* the official formulas with the same operation order: bit-identical */
            CHECK_MSG(r.min_dcf == x[0] && r.min_threshold == x[1], "%s: minDCF %.17g at %.17g, expected %.17g at %.17g",
                      name, r.min_dcf, r.min_threshold, x[0], x[1]);
            CHECK_MSG(r.act_dcf == x[2] && r.act_threshold == x[3], "%s: actDCF %.17g at %.17g, expected %.17g at %.17g",
                      name, r.act_dcf, r.act_threshold, x[2], x[3]);
            sdd_sorted_free(&s);
            ndcf++;
        } else if (!strncmp(line, "cllr ", 5)) {
            CHECK(sscanf(rest, "%la", &x[0]) == 1);
            sdd_sorted s;
            sdd_err e;
            double cl;
            CHECK(sdd_sorted_init2(&s, v[0], nv[0], v[1], nv[1], &e) == 0);
            CHECK(sdd_cllr_sorted(&s, NULL, &cl, NULL, &e) == 0);
            /* numpy's pairwise mean vs a compensated sum: equal to rounding */
            CHECK_MSG(close_rel(cl, x[0], 1e-13), "%s: Cllr %.17g, official %.17g", name, cl, x[0]);
            sdd_sorted_free(&s);
        } else if (!strncmp(line, "adcf ", 5)) {
            CHECK(sscanf(rest, "%la %la", &x[0], &x[1]) == 2);
            const int64_t n = nv[0] + nv[1] + nv[2];
            double *sc = malloc((size_t)n * sizeof *sc);
            unsigned char *cls = malloc((size_t)n);
            /* interleave the classes so the sort, not the input order, decides ties */
            int64_t k = 0, i0 = 0, i1 = 0, i2 = 0;
            while (k < n) {
                if (i2 < nv[2]) { sc[k] = v[2][i2++]; cls[k++] = 2; }
                if (i1 < nv[1]) { sc[k] = v[1][i1++]; cls[k++] = 1; }
                if (i0 < nv[0]) { sc[k] = v[0][i0++]; cls[k++] = 0; }
            }
            sdd_adcf_cost c;
            sdd_adcf_cost_asvspoof5(&c);
            sdd_adcf_result r;
            sdd_err e;
            CHECK_MSG(sdd_adcf(sc, cls, NULL, n, &c, &r, &e) == 0, "%s", e.msg);
            CHECK_MSG(r.min_adcf == x[0] && r.threshold == x[1], "%s: a-DCF %.17g at %.17g, expected %.17g at %.17g",
                      name, r.min_adcf, r.threshold, x[0], x[1]);
            CHECK(r.ntar == nv[0] && r.nnon == nv[1] && r.nspoof == nv[2]);
            free(sc);
            free(cls);
            nadcf++;
        }
    }
    CHECK(ndcf == 7 && nadcf == 4);
    for (int i = 0; i < 3; i++) free(v[i]);
    free(line);
    fclose(f);

    /* errors */
    sdd_dcf_cost c = { 0.05, 1, 10 }, bad = { 1.0, 1, 10 };
    sdd_sorted s;
    sdd_err e;
    sdd_dcf_result r;
    const double b[] = { 1, 2 }, sp[] = { 0 };
    CHECK(sdd_sorted_init2(&s, b, 2, sp, 0, &e) == 0);
    CHECK(sdd_dcf_sorted(&s, NULL, &c, &r, &e) == -1 && !strcmp(e.msg, "no spoof trials"));
    CHECK(sdd_dcf_sorted(&s, NULL, &bad, &r, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "0 < Pspoof < 1");
    sdd_sorted_free(&s);
    CHECK(fabs(sdd_dcf_bayes_threshold(&c) + log(1.9)) < 1e-15);
    const double a[] = { 1, 0, NAN };
    const unsigned char cls[] = { 0, 1, 2 };
    sdd_adcf_cost ac;
    sdd_adcf_cost_asvspoof5(&ac);
    sdd_adcf_result ar;
    CHECK(sdd_adcf(a, cls, NULL, 2, &ac, &ar, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no spoof trials");
    CHECK(sdd_adcf(a, cls, NULL, 3, &ac, &ar, &e) == -1 && !strcmp(e.msg, "trial 3: score is not finite"));
}

/* ---- the ASVspoof 5 evaluation: tables per attack x codec ---- */

static int find_idx(char **names, int n, const char *x)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], x)) return i;
    return -1;
}

static void test_asv5_eval(void)
{
    sdd_eval_opts o = { .scores = DATA "asv5_scores.txt", .key = DATA "asv5_protocol.tsv", .asv5_rates = 1 };
    sdd_eval_report r;
    sdd_err e;
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    if (!r.has_cm) return;
    CHECK(r.key_format == 6 /* SDD_LIST_ASV5 */ && r.has_table);
    FILE *f = fopen(DATA "asv5_expected.txt", "r");
    char line[512];
    int ncell = 0, ntdcf = 0;
    while (f && fgets(line, sizeof line, f)) {
        double x[6];
        char att[32], cod[32];
        long long nb, ns;
        if (sscanf(line, "pooled %la %la %la %la %la %la", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5]) == 6) {
            CHECK(r.eer.eer == x[0] && r.eer.threshold == x[1]);
            CHECK(r.dcf.min_dcf == x[2] && r.dcf.min_threshold == x[3] && r.dcf.act_dcf == x[4]);
            CHECK(close_rel(r.cllr, x[5], 1e-13));
        } else if (sscanf(line, "cell %31s %31s %lld %lld %la %la %la %la", att, cod, &nb, &ns, &x[0], &x[1], &x[2],
                          &x[3]) == 8) {
            const sdd_table *t = &r.table;
            int ri = find_idx(t->row_name, t->nrow, att), ci = find_idx(t->col_name, t->ncol, cod);
            CHECK_MSG(ri >= 0 && ci >= 0, "no cell %s/%s", att, cod);
            if (ri < 0 || ci < 0) continue;
            const size_t k = (size_t)ri * t->ncol + ci;
            CHECK(t->n_bona[k] == nb && t->n_spoof[k] == ns);
            CHECK_MSG(t->eer[k] == x[0] && t->min_dcf[k] == x[1] && t->act_dcf[k] == x[2],
                      "cell %s/%s: EER %.17g minDCF %.17g actDCF %.17g, expected %.17g %.17g %.17g", att, cod,
                      t->eer[k], t->min_dcf[k], t->act_dcf[k], x[0], x[1], x[2]);
            CHECK(close_rel(t->cllr[k], x[3], 1e-13));
            ncell++;
        } else if (sscanf(line, "tdcf %31s %31s %la %la", att, cod, &x[0], &x[1]) == 4) {
            /* min t-DCF from the organisers' ASV error rates, in every cell */
            const sdd_table *t = &r.table;
            int ri = find_idx(t->row_name, t->nrow, att), ci = find_idx(t->col_name, t->ncol, cod);
            CHECK(ri >= 0 && ci >= 0);
            if (ri < 0 || ci < 0) continue;
            CHECK_MSG(t->min_tdcf[(size_t)ri * t->ncol + ci] == x[0], "cell %s/%s: min t-DCF %.17g, expected %.17g",
                      att, cod, t->min_tdcf[(size_t)ri * t->ncol + ci], x[0]);
            if (!strcmp(att, "pooled") && !strcmp(cod, "pooled"))
                CHECK(r.has_tdcf && r.tdcf_asv5_rates && r.tdcf_form == SDD_TDCF_2021 && r.tdcf.min_tdcf == x[0] &&
                      r.tdcf.threshold == x[1]);
            ntdcf++;
        }
    }
    if (f) fclose(f);
    CHECK(ncell == 25 && ntdcf == 26 && r.table.nrow == 5 && r.table.ncol == 5);
    /* the report shows them */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sdd_eval_print(&r, m);
    CHECK(sdd_eval_write_json(&r, &o, m, &e) == 0);
    fclose(m);
    CHECK_STR_CONTAINS(buf, "minDCF     0.740096461  (ASVspoof 5 costs");
    CHECK_STR_CONTAINS(buf, "minDCF: same rows and columns");
    CHECK_STR_CONTAINS(buf, "\"min_dcf\": 0.74009646");
    CHECK_STR_CONTAINS(buf, "\"act_dcf\": [");
    free(buf);
    sdd_eval_report_free(&r);
}

/* ---- SASV scores and the a-DCF ---- */

static void test_sasv(void)
{
    sdd_eval_opts o = { .sasv_scores = DATA "asv5_sasv_scores.tsv", .sasv_key = DATA "asv5_sasv_key.tsv" };
    sdd_eval_report r;
    sdd_err e;
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.has_adcf && !r.has_cm && r.adcf_attacks.n == 4);
    FILE *f = fopen(DATA "asv5_sasv_expected.txt", "r");
    char line[256];
    int rows = 0;
    while (f && fgets(line, sizeof line, f)) {
        char att[32];
        long long nt, nn, ns;
        double v, t;
        if (sscanf(line, "adcf %31s %lld %lld %lld %la %la", att, &nt, &nn, &ns, &v, &t) != 6) continue;
        const sdd_adcf_result *x = &r.adcf;
        if (strcmp(att, "pooled")) {
            int i = find_idx(r.adcf_attacks.name, r.adcf_attacks.n, att);
            CHECK(i >= 0);
            if (i < 0) continue;
            x = &r.adcf_attacks.r[i];
        }
        CHECK_MSG(x->min_adcf == v && x->threshold == t, "%s: a-DCF %.17g at %.17g, expected %.17g at %.17g", att,
                  x->min_adcf, x->threshold, v, t);
        CHECK(x->ntar == nt && x->nnon == nn && x->nspoof == ns);
        rows++;
    }
    if (f) fclose(f);
    CHECK(rows == 5);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sdd_eval_print(&r, m);
    CHECK(sdd_eval_write_json(&r, &o, m, &e) == 0);
    fclose(m);
    CHECK_STR_CONTAINS(buf, "a-DCF      0.454685043  (SASV threshold 1.37332141; 300 target, 117 nontarget, 189 spoof");
    CHECK_STR_CONTAINS(buf, "\"per_attack\": [");
    free(buf);
    sdd_eval_report_free(&r);

    /* formats and bad inputs, from memory */
    sdd_sasv s;
    const char *lab = "S1 u1 2.5 target\nS1 u2 -1 nontarget\nS2 u1 0.5 spoof\n";
    CHECK(sdd_sasv_load_mem(lab, strlen(lab), "lab", NULL, 0, NULL, 0, &s, &e) == 0);
    CHECK(s.n == 3 && s.cls[0] == 0 && s.cls[1] == 1 && s.cls[2] == 2 && s.score[2] == 0.5);
    sdd_sasv_free(&s);
    const char *sc3 = "S1 u1 2.5\nS1 u2 -1\nS2 u1 0.5\n";
    const char *key5 = "S2 u1 F A17 spoof\nS1 u1 M bonafide target\nS1 u2 M bonafide nontarget\n";
    CHECK(sdd_sasv_load_mem(sc3, strlen(sc3), "sc", key5, strlen(key5), "key", 0, &s, &e) == 0);
    CHECK(s.n == 3 && s.cls[2] == 2 && s.attack[2] && !strcmp(s.attack[2], "A17") && !s.attack[0]);
    sdd_sasv_free(&s);
    /* the official file: SASV column, or CM + ASV */
    const char *off = "spk\tfilename\tcm-score\tasv-score\tsasv-score\nS1\tu1\t1.5\t2\t9\nS1\tu2\t-1\t0.25\t8\n"
                      "S2\tu1\t0.5\t-0.5\t-\n";
    CHECK(sdd_sasv_load_mem(off, strlen(off), "off", key5, strlen(key5), "key", 1, &s, &e) == 0);
    CHECK(s.n == 3 && s.score[0] == 3.5 && s.score[1] == -0.75 && s.score[2] == 0.0);
    sdd_sasv_free(&s);
    struct { const char *sc, *key, *want; int sum; } bad[] = {
        { off, key5, "sc:4: no SASV score ('-'); summing the CM and ASV scores is an option (--sasv-sum)", 0 },
        { "S1 u1 - 1 2\n", key5, "sc:1: no CM score ('-') to sum", 1 },
        { "S1 u1 1 - 2\n", key5, "sc:1: no ASV score ('-') to sum", 1 },
        { sc3, key5, "sc: summing CM and ASV scores needs the 'SPK FILE CM ASV SASV' format", 1 },
        { sc3, NULL, "sc: SASV scores without a KEY column need a key file (--sasv-key)", 0 },
        { lab, key5, "sc: labelled SASV scores (SPK FILE SCORE KEY) take no key file", 0 },
        { "S1 u1 x\n", key5, "sc:1: 'x' is not a number", 0 },
        { "S1 u1 nan\n", key5, "sc:1: score 'nan' is not finite", 0 },
        { "S1 u1 1\nS1 u1 2\n", key5, "sc:2: duplicate trial S1 u1 (first on line 1)", 0 },
        { "S1 u1 1\nS1 u2 2 3\n", key5, "sc:2: 4 columns, but the lines before have 3", 0 },
        { "S1 u1\n", key5, "sc:1: expected 3 to 5 columns, got 2", 0 },
        { "", key5, "sc: no trials", 0 },
        { "S1 u1 1\nS1 u2 2\n", key5, "sc: no score for trial S2 u1 (key:1)", 0 },
        { "S1 u1 1\nS1 u2 2\nS2 u1 3\nS3 u9 1\n", key5, "sc:4: trial S3 u9 is not in key", 0 },
        { sc3, "S2 u1 F A17 spof\n", "key:1: ASV label 'spof' is not target, nontarget or spoof", 0 },
        { "S1 u1 1 tgt\n", NULL, "sc:1: key 'tgt' is not target, nontarget or spoof", 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = sdd_sasv_load_mem(bad[i].sc, strlen(bad[i].sc), "sc", bad[i].key, bad[i].key ? strlen(bad[i].key) : 0,
                                   "key", bad[i].sum, &s, &e);
        CHECK_MSG(rc == -1 && !strcmp(e.msg, bad[i].want) && s.n == 0, "case %zu: got '%s'", i, rc ? e.msg : "success");
    }
    /* a key without spoof trials: the a-DCF refuses */
    const char *nospf = "S1 u1 2.5 target\nS1 u2 -1 nontarget\n";
    CHECK(sdd_sasv_load_mem(nospf, strlen(nospf), "n", NULL, 0, NULL, 0, &s, &e) == 0);
    sdd_adcf_cost c;
    sdd_adcf_cost_asvspoof5(&c);
    sdd_adcf_result ar;
    CHECK(sdd_sasv_adcf(&s, &c, &ar, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no spoof trials");
    sdd_sasv_free(&s);
}

/* ---- calibration and fusion ---- */

static void test_calibration(void)
{
    FILE *f = fopen(DATA "cal_expected.txt", "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[8];
        double prior, w[2], b;
        int got = sscanf(line, "%7s %la %la %la %la", name, &prior, &w[0], &w[1], &b);
        const int k = (int)strlen(name);
        if (k == 1) b = w[1];
        CHECK(got == 4 + (k == 2));
        const char *files[2] = { !strcmp(name, "b") ? DATA "cal_b.txt" : DATA "cal_a.txt", DATA "cal_b.txt" };
        sdd_joined j;
        sdd_err e;
        CHECK_MSG(sdd_join_keyed(DATA "cal_key.txt", files, k, 0, &j, &e) == 0, "%s", e.msg);
        if (j.n == 0) continue;
        CHECK(j.n == 600 && j.k == k);
        sdd_calibration c;
        sdd_calibration_info info;
        CHECK_MSG(sdd_calibration_train(j.x, j.pos, j.n, k, prior, 1e-6, &c, &info, &e) == 0, "%s", e.msg);
        for (int i = 0; i < k; i++)
            CHECK_MSG(close_rel(c.w[i], w[i], 1e-12), "%s prior %g: w%d %.17g, scipy %.17g", name, prior, i, c.w[i], w[i]);
        CHECK_MSG(fabs(c.b - b) <= 1e-12 * (1 + fabs(b)), "%s prior %g: b %.17g, scipy %.17g", name, prior, c.b, b);
        CHECK(info.cllr_after <= info.cllr_before || k > 1);
        CHECK(info.iterations < 50);
        /* the JSON round trip keeps every bit */
        char *js = sdd_calibration_to_json(&c, 0, files, NULL, &e);
        sdd_calibration d;
        CHECK(js && sdd_calibration_parse(js, strlen(js), "rt", &d, &e) == 0);
        CHECK(d.k == k && d.b == c.b && d.w[0] == c.w[0] && d.threshold == c.threshold && d.prior == prior);
        free(js);
        sdd_joined_free(&j);
        n++;
    }
    if (f) fclose(f);
    CHECK(n == 6);

    /* calibrated evaluation: Cllr improves, actDCF is taken on the LLRs */
    sdd_joined j;
    sdd_err e;
    const char *fa = DATA "cal_a.txt";
    CHECK(sdd_join_keyed(DATA "cal_key.txt", &fa, 1, 0, &j, &e) == 0);
    sdd_calibration c;
    CHECK(sdd_calibration_train(j.x, j.pos, j.n, 1, 0.5, 1e-6, &c, NULL, &e) == 0);
    sdd_eval_opts o = { .scores = fa, .key = DATA "cal_key.txt" };
    sdd_eval_report raw, cal;
    CHECK(sdd_eval_run(&o, &raw, &e) == 0);
    o.calibration = &c;
    CHECK(sdd_eval_run(&o, &cal, &e) == 0);
    CHECK(cal.calibrated && !raw.calibrated);
    CHECK_MSG(cal.cllr < raw.cllr && cal.cllr >= cal.min_cllr - 1e-12, "Cllr %g -> %g (min %g)", raw.cllr, cal.cllr, cal.min_cllr);
    CHECK(cal.eer.eer == raw.eer.eer && fabs(cal.min_cllr - raw.min_cllr) < 1e-12);  /* monotonic: same ranking */
    double *s = malloc((size_t)j.n * sizeof *s);
    for (int64_t i = 0; i < j.n; i++) s[i] = c.w[0] * j.x[i] + c.b;
    sdd_sorted so;
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    sdd_dcf_result dr;
    CHECK(sdd_sorted_init(&so, s, j.pos, j.n, &e) == 0 && sdd_dcf_sorted(&so, NULL, &dc, &dr, &e) == 0);
    CHECK(dr.act_dcf == cal.dcf.act_dcf);
    sdd_sorted_free(&so);
    free(s);
    sdd_eval_report_free(&raw);
    sdd_eval_report_free(&cal);
    /* a fusion is not a calibration */
    c.k = 2;
    CHECK(sdd_eval_run(&o, &raw, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "2 inputs (a fusion)");
    sdd_joined_free(&j);

    /* training errors */
    const double x1[] = { 1, 2, NAN };
    const unsigned char p1[] = { 1, 1, 0 };
    CHECK(sdd_calibration_train(x1, p1, 2, 1, 0.5, 0, &c, NULL, &e) == -1 && !strcmp(e.msg, "no spoof trials to train on"));
    CHECK(sdd_calibration_train(x1, p1, 3, 1, 0.5, 0, &c, NULL, &e) == -1 && !strcmp(e.msg, "trial 3: score is not finite"));
    CHECK(sdd_calibration_train(x1, p1, 3, 1, 1.0, 0, &c, NULL, &e) == -1);
    /* separable classes: the regularisation keeps it finite */
    const double x2[] = { 3, 4, -1, -2 };
    const unsigned char p2[] = { 1, 1, 0, 0 };
    CHECK(sdd_calibration_train(x2, p2, 4, 1, 0.5, 1e-6, &c, NULL, &e) == 0 && isfinite(c.w[0]) && c.w[0] > 0);
    /* a constant input (singular Hessian) still gives a finite answer */
    const double x3[] = { 1, 1, 1, 1 };
    CHECK(sdd_calibration_train(x3, p2, 4, 1, 0.5, 0, &c, NULL, &e) == 0 && isfinite(c.b));

    /* join errors */
    const char *two[2] = { DATA "cal_a.txt", DATA "asv5_scores.txt" };
    CHECK(sdd_join_plain(two, 2, &j, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "asv5_scores.txt: scores 900 trials, tests/data/metrics/cal_a.txt 600: the files must score the same trials");
    CHECK(sdd_join_keyed(DATA "asv5_protocol.tsv", two, 1, 0, &j, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, DATA "cal_a.txt: no score for");
    CHECK(sdd_join_keyed(DATA "asv5_protocol.tsv", two, 1, 1, &j, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no trial has a score in every file");
}

static void test_calibration_file(void)
{
    sdd_calibration c;
    sdd_err e;
    const char *good = "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [0.5], \"bias\": -1,"
                       " \"decision\": {\"pspoof\": 0.05, \"cmiss\": 1, \"cfa\": 10}, \"future\": [1, 2]}";
    CHECK_MSG(sdd_calibration_parse(good, strlen(good), "g", &c, &e) == 0, "%s", e.msg);
    CHECK(c.k == 1 && c.w[0] == 0.5 && c.b == -1 && c.prior == 0.5 && fabs(c.threshold + log(1.9)) < 1e-15);
    double x = 4;
    CHECK(sdd_calibration_apply(&c, &x) == 1.0);
    const char *stated = "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1, 2], \"bias\": 0,"
                         " \"decision\": {\"pspoof\": 0.5, \"cmiss\": 1, \"cfa\": 1, \"threshold\": 0.25}}";
    CHECK(sdd_calibration_parse(stated, strlen(stated), "s", &c, &e) == 0 && c.k == 2 && c.threshold == 0.25);
    struct { const char *text, *want; } bad[] = {
        { "", "c:1: not valid JSON: " },
        { "{\"format\": ", "c:1: not valid JSON: " },
        { "[1, 2]", "c: not a JSON object" },
        { "{\"format\": \"other\", \"version\": 1}", "c: not an sdd calibration file (\"format\" is not \"sdd-calibration\")" },
        { "{\"format\": \"sdd-calibration\", \"version\": 2}", "c: unsupported \"version\" (this sdd reads version 1)" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": []}", "c: \"weights\" must be an array of 1 to 64 numbers" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [\"1\"], \"bias\": 0}", "c: \"weights\"[0] is not a finite number" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1]}", "c: missing \"bias\"" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1], \"bias\": true}", "c: \"bias\" is not a number" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1], \"bias\": 1e999}", "c:1: not valid JSON: real number overflow" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1], \"bias\": 0}", "c: missing \"decision\" object (pspoof, cmiss, cfa)" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1], \"bias\": 0, \"prior\": 1, \"decision\": {}}", "c: \"prior\" must be in (0, 1)" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1], \"bias\": 0, \"decision\": {\"pspoof\": 0.05}}", "c: decision: missing \"cmiss\"" },
        { "{\"format\": \"sdd-calibration\", \"version\": 1, \"weights\": [1], \"bias\": 0, \"decision\": {\"pspoof\": 0, \"cmiss\": 1, \"cfa\": 1}}", "c: decision costs must be 0 < pspoof < 1, cmiss > 0, cfa > 0" },
        { "{\"format\": \"sdd-calibration\", \"format\": \"sdd-calibration\"}", "c:1: not valid JSON: " },
        { "{\"format\": \"sdd-calibration\", \"version\": 1} x", "c:1: not valid JSON: " },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = sdd_calibration_parse(bad[i].text, strlen(bad[i].text), "c", &c, &e);
        CHECK_MSG(rc == -1 && !strncmp(e.msg, bad[i].want, strlen(bad[i].want)) && !strchr(e.msg, '\n') && c.k == 0,
                  "case %zu: got '%s'", i, rc ? e.msg : "success");
    }
    /* a NUL byte inside */
    const char nul[] = "{\"format\": \"sdd-calibration\"\0}";
    CHECK(sdd_calibration_parse(nul, sizeof nul - 1, "c", &c, &e) == -1);
    /* fuzz_calibration's crash: jansson quotes the token it stopped at, here
     * one holding a line break; the message must stay one line */
    const char brk[] = "{\"format\": \"sdd\\\n\0\0\0\0-calecision\":{\"pspoof\"::[9], \"bias\":1, \"cfa\":0}}";
    CHECK(sdd_calibration_parse(brk, sizeof brk - 1, "c", &c, &e) == -1 && c.k == 0);
    CHECK_MSG(!strcmp(e.msg, "c:2: not valid JSON: invalid escape near '\"sdd\\ '"), "got '%s'", e.msg);
    CHECK(sdd_calibration_load("/nonexistent/cal.json", &c, &e) == -1 && !strcmp(e.msg, "/nonexistent/cal.json: cannot open: No such file or directory"));
    /* a file past the 1 MiB bound is refused before parsing, named as the wrong kind of file */
    CHECK(sdd_calibration_load("/dev/zero", &c, &e) == -1 && c.k == 0);
    CHECK_MSG(!strcmp(e.msg, "/dev/zero: larger than 1 MiB: not a calibration file"), "got '%s'", e.msg);
    /* written atomically, read back */
    char path[64];
    snprintf(path, sizeof path, "/tmp/sdd_test_cal_%d.json", (int)getpid());
    CHECK(sdd_calibration_parse(good, strlen(good), "g", &c, &e) == 0);
    CHECK(sdd_calibration_save(path, &c, NULL, NULL, &e) == 0);
    sdd_calibration d;
    CHECK(sdd_calibration_load(path, &d, &e) == 0 && d.w[0] == c.w[0] && d.b == c.b && d.threshold == c.threshold);
    unlink(path);
    CHECK(sdd_calibration_save("/nonexistent/dir/cal.json", &c, NULL, NULL, &e) == -1);
}

/* ---- ASVspoof 5 protocols ---- */

static void test_protocols(void)
{
    sdd_list l;
    sdd_err e;
    CHECK_MSG(sdd_list_load(DATA "asv5_protocol.tsv", "flac_E_eval", &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_ASV5 && l.n == 900);
    if (l.n == 900) {
        /* E_0012 E_0000001000 F C02 4 E_0009000001 - bonafide bonafide - */
        CHECK(!strcmp(l.items[0].id, "E_0000001000") && !strcmp(l.items[0].codec, "C02") && !l.items[0].attack &&
              l.items[0].label == SDD_LABEL_BONAFIDE && !strcmp(l.items[0].path, "flac_E_eval/E_0000001000.flac"));
        /* E_0004 E_0000001002 F C05 4 E_0009000003 AC3 A18 spoof - */
        CHECK(!strcmp(l.items[2].codec, "C05") && !strcmp(l.items[2].attack, "A18") &&
              l.items[2].label == SDD_LABEL_SPOOF && !strcmp(l.items[2].speaker, "E_0004"));
    }
    sdd_list_free(&l);
    const char *t2 = "E_0021 E_0000001000 M bonafide target\nE_0005 E_0000001092 F A17 spoof\n";
    CHECK(sdd_list_load_mem(t2, strlen(t2), "t2.tsv", NULL, SDD_LIST_AUTO, &l, &e) == -1);
    CHECK(!strcmp(e.msg, "t2.tsv:1: an ASVspoof 5 track 2 trial list (SPK FILE GENDER ATTACK ASV_KEY), not a CM "
                         "protocol: give it to sdd eval as --sasv-key"));
}

int main(void)
{
    test_protocols();
    test_cases();
    test_asv5_eval();
    test_sasv();
    test_calibration();
    test_calibration_file();
    printf("test_asv5: largest relative difference to the reference (Cllr, calibration weights): %.2g\n", worst_rel);
    return CHECK_DONE("test_asv5");
}
