/* Tests for src/metrics: EER, DET curve, min t-DCF (2019 legacy and 2021),
 * Cllr / min Cllr and probit against the numpy reference values in
 * tests/data/metrics (tools/reference/metrics_ref.py, stored as exact hex
 * floats), hand-worked examples, the score-file readers' exact error
 * messages, and whole evaluations (sdd_eval_run) of ASVspoof 2019 / 2021 /
 * In-the-Wild style fixtures including the 2021 attack x codec table.
 * sdd eval's input handling (ID matching, breakdowns, DET SVG, bad
 * evaluations) is tested in test_eval.c. */
#include "check.h"
#include "metrics/metrics.h"
#include "metrics/scores.h"
#include "metrics/evaluate.h"
#include "metrics/match.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DATA "tests/data/metrics/"
#define REL 1e-12

/* equal up to floating rounding: |a-b| <= REL*max(|a|,|b|), or both NaN */
static int close_rel(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= REL * fmax(fabs(a), fabs(b));
}
#define CHECK_REL(a, b) do { double a_ = (a), b_ = (b); \
    CHECK_MSG(close_rel(a_, b_), "%s = %.17g, expected %.17g (%a vs %a)", #a, a_, b_, a_, b_); } while (0)

static int exact_count, value_count;
/* counts bit-identical values among those compared (reported at the end) */
static void tally(double a, double b)
{
    value_count++;
    if (a == b || (isnan(a) && isnan(b))) exact_count++;
}

/* ---- fixture cases ---- */

typedef struct { double *v; int64_t n, cap; } vec;

static void vec_push(vec *v, double x)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->v = realloc(v->v, (size_t)v->cap * sizeof *v->v);
        if (!v->v) { perror("realloc"); exit(1); }
    }
    v->v[v->n++] = x;
}

static void vec_parse(vec *v, char *s)
{
    v->n = 0;
    for (char *t = strtok(s, " \n"); t; t = strtok(NULL, " \n")) vec_push(v, strtod(t, NULL));
}

typedef struct {
    char name[64];
    vec tar, non, at, an, as;
    double eer, thr, cllr, min_cllr, t19, t19thr, t21, t21thr;
    long index;
    int has_asv, t19none, t21none;
} tcase;

static void run_case(const tcase *c)
{
    sdd_err e;
    sdd_eer_result r;
    int rc = sdd_eer(c->tar.v, c->tar.n, c->non.v, c->non.n, &r, &e);
    CHECK_MSG(rc == 0, "%s: %s", c->name, e.msg);
    CHECK_REL(r.eer, c->eer);
    CHECK_REL(r.threshold, c->thr);
    CHECK_MSG(r.index == c->index, "%s: index %lld, expected %ld", c->name, (long long)r.index, c->index);
    tally(r.eer, c->eer);
    tally(r.threshold, c->thr);

    sdd_sorted s;
    CHECK(sdd_sorted_init2(&s, c->tar.v, c->tar.n, c->non.v, c->non.n, &e) == 0);
    /* DET curve: its shape and the EER point */
    sdd_det d;
    CHECK(sdd_det_curve(&s, NULL, &d, &e) == 0);
    CHECK(d.n == c->tar.n + c->non.n + 1);
    CHECK(d.frr[0] == 0.0 && d.far[0] == 1.0 && d.frr[d.n - 1] == 1.0 && d.far[d.n - 1] == 0.0);
    CHECK_REL((d.frr[r.index] + d.far[r.index]) / 2.0, c->eer);
    int mono = 1;
    for (int64_t k = 1; k < d.n; k++) mono &= d.frr[k] >= d.frr[k - 1] && d.far[k] <= d.far[k - 1] && d.thr[k] >= d.thr[k - 1];
    CHECK_MSG(mono, "%s: DET curve not monotonic", c->name);
    sdd_det_free(&d);

    double cl, mcl;
    CHECK(sdd_cllr_sorted(&s, NULL, &cl, &mcl, &e) == 0);
    CHECK_REL(cl, c->cllr);
    CHECK_REL(mcl, c->min_cllr);
    tally(cl, c->cllr);
    tally(mcl, c->min_cllr);

    if (c->has_asv) {
        sdd_asv_rates a;
        sdd_tdcf_cost cost;
        sdd_tdcf_cost_asvspoof(&cost);
        CHECK(sdd_asv_rates_compute(c->at.v, c->at.n, c->an.v, c->an.n, c->as.v, c->as.n, &a, &e) == 0);
        for (int form = 2019; form <= 2021; form += 2) {
            sdd_tdcf_coef k;
            sdd_tdcf_result t;
            CHECK(sdd_tdcf_coef_compute(form, &a, &cost, &k, &e) == 0);
            rc = sdd_min_tdcf_sorted(&s, NULL, &k, &t, &e);
            if (form == 2019 ? c->t19none : c->t21none) {
                CHECK(rc == -1);
                CHECK_STR_CONTAINS(e.msg, "min t-DCF needs soft scores: only");
            } else {
                CHECK_MSG(rc == 0, "%s: %s", c->name, e.msg);
                CHECK_REL(t.min_tdcf, form == 2019 ? c->t19 : c->t21);
                CHECK_REL(t.threshold, form == 2019 ? c->t19thr : c->t21thr);
                tally(t.min_tdcf, form == 2019 ? c->t19 : c->t21);
            }
        }
    }
    sdd_sorted_free(&s);
}

static int ncases;

static void test_fixture_cases(void)
{
    FILE *f = fopen(DATA "cases.txt", "r");
    CHECK_MSG(f != NULL, "cannot open " DATA "cases.txt (run the tests from the repository root)");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    tcase c;
    memset(&c, 0, sizeof c);
    while (getline(&line, &cap, f) > 0) {
        char *sp = strchr(line, ' ');
        char *rest = sp ? sp + 1 : line + strlen(line);
        if (!strncmp(line, "case ", 5)) {
            snprintf(c.name, sizeof c.name, "%.*s", (int)strcspn(rest, "\n"), rest);
            c.has_asv = c.t19none = c.t21none = 0;
        } else if (!strncmp(line, "tar ", 4)) vec_parse(&c.tar, rest);
        else if (!strncmp(line, "non ", 4)) vec_parse(&c.non, rest);
        else if (!strncmp(line, "asv_tar ", 8)) { vec_parse(&c.at, rest); c.has_asv = 1; }
        else if (!strncmp(line, "asv_non ", 8)) vec_parse(&c.an, rest);
        else if (!strncmp(line, "asv_spoof ", 10)) vec_parse(&c.as, rest);
        else if (!strncmp(line, "eer ", 4)) {
            char *end;
            c.eer = strtod(rest, &end);
            c.thr = strtod(end, &end);
            c.index = strtol(end, NULL, 10);
        } else if (!strncmp(line, "cllr ", 5)) {
            char *end;
            c.cllr = strtod(rest, &end);
            c.min_cllr = strtod(end, NULL);
        } else if (!strncmp(line, "tdcf2019 ", 9)) {
            char *end;
            c.t19none = !strncmp(rest, "none", 4);
            c.t19 = strtod(rest, &end);
            c.t19thr = strtod(end, NULL);
        } else if (!strncmp(line, "tdcf2021 ", 9)) {
            char *end;
            c.t21none = !strncmp(rest, "none", 4);
            c.t21 = strtod(rest, &end);
            c.t21thr = strtod(end, NULL);
        } else if (!strncmp(line, "end", 3)) {
            run_case(&c);
            ncases++;
        } else if (!strncmp(line, "probit ", 7)) {
            for (char *t = strtok(rest, " \n"); t; t = strtok(NULL, " \n")) {
                char *colon = strchr(t, ':');
                if (!colon) continue;
                *colon = 0;
                double p = strtod(t, NULL), want = strtod(colon + 1, NULL), got = sdd_probit(p);
                if (isinf(want)) CHECK_MSG(got == want, "probit(%a) = %g, expected %g", p, got, want);
                else CHECK_MSG(fabs(got - want) <= 4e-16 * fmax(1.0, fabs(want)) * 8,
                               "probit(%a) = %.17g, expected %.17g", p, got, want);
            }
        }
    }
    free(line);
    fclose(f);
    free(c.tar.v); free(c.non.v); free(c.at.v); free(c.an.v); free(c.as.v);
    CHECK(ncases >= 12);
}

/* ---- hand-worked examples ---- */

static double eer_of(const double *t, int nt, const double *n, int nn, double *thr)
{
    sdd_err e;
    sdd_eer_result r;
    if (sdd_eer(t, nt, n, nn, &r, &e)) return NAN;
    if (thr) *thr = r.threshold;
    return r.eer;
}

static void test_hand(void)
{
    double thr = 0;
    /* sorted 1(n) 2(t) 2.5(n) 3(t): k=2 gives frr .5, far .5 -> EER 50 %, threshold 2 */
    CHECK(eer_of((double[]){ 2, 3 }, 2, (double[]){ 1, 2.5 }, 2, &thr) == 0.5 && thr == 2);
    /* one target, one nontarget, same score: the target sorts first, so
     * point 1 has frr 1 and far 1: EER 100 % (the official tie order) */
    CHECK(eer_of((double[]){ 1 }, 1, (double[]){ 1 }, 1, &thr) == 1.0 && thr == 1);
    CHECK(eer_of((double[]){ 1 }, 1, (double[]){ 0 }, 1, &thr) == 0.0 && thr == 0);
    CHECK(eer_of((double[]){ 0 }, 1, (double[]){ 1 }, 1, &thr) == 1.0 && thr == 0);
    /* all equal: T T T N N -> frr reaches 1 before far drops: EER 100 % */
    CHECK(eer_of((double[]){ .5, .5, .5 }, 3, (double[]){ .5, .5 }, 2, &thr) == 1.0 && thr == .5);
    /* separated: threshold at the highest nontarget */
    CHECK(eer_of((double[]){ 3, 4 }, 2, (double[]){ 1, 2 }, 2, &thr) == 0.0 && thr == 2);
    /* 4 targets 0.1..0.4, 4 nontargets 0.15..0.45 interleaved: points
     * k: frr/far = 1:.25/1 2:.25/.75 3:.5/.75 4:.5/.5 -> EER 50 % at 0.25 */
    CHECK(eer_of((double[]){ .1, .2, .3, .4 }, 4, (double[]){ .15, .25, .35, .45 }, 4, &thr) == 0.5 && thr == .25);
    /* tar {1,4}, non {2,3}, sorted 1t 2n 3n 4t: |frr-far| = 1, |.5-1|, |.5-.5| = 0 at k=2 */
    CHECK(eer_of((double[]){ 1, 4 }, 2, (double[]){ 2, 3 }, 2, &thr) == 0.5 && thr == 2);
    /* 3 targets vs 1 nontarget, sorted 1t 2n 3t 4t: |frr-far| = 1 (k=0),
     * |1/3-1| (k=1), |1/3-0| (k=2), |2/3-0|, 1 -> k=2: EER (1/3+0)/2 = 1/6 at 2 */
    CHECK(eer_of((double[]){ 1, 3, 4 }, 3, (double[]){ 2 }, 1, &thr) == (1.0 / 3.0 + 0.0) / 2.0 && thr == 2);

    /* t-DCF from given ASV rates. ASV perfect on bona fide, accepts every
     * spoof: 2019 C1 = 0.9405, C2 = 10 * 0.05 * 1 = 0.5, norm by 0.5:
     * tDCF = 1.881 Pmiss + Pfa. CM tar {1,3}, non {2,4}: points
     * (0,1) 1; (.5,1) 1.9405; (.5,.5) 1.4405; (1,.5) 2.381; (1,0) 1.881 -> min 1 */
    sdd_tdcf_cost cost;
    sdd_tdcf_cost_asvspoof(&cost);
    CHECK(cost.ptar == (1 - 0.05) * 0.99 && cost.pnon == (1 - 0.05) * 0.01);
    sdd_asv_rates a = { .pfa = 0, .pmiss = 0, .pmiss_spoof = 0, .pfa_spoof = 1, .ntar = 1, .nnon = 1, .nspoof = 1 };
    sdd_tdcf_coef k;
    sdd_err e;
    CHECK(sdd_tdcf_coef_compute(2019, &a, &cost, &k, &e) == 0);
    CHECK_NEAR(k.c1, 0.9405, 1e-15);
    CHECK_NEAR(k.c2, 0.5, 1e-15);
    sdd_sorted s;
    CHECK(sdd_sorted_init2(&s, (double[]){ 1, 3 }, 2, (double[]){ 2, 4 }, 2, &e) == 0);
    sdd_tdcf_result t;
    CHECK(sdd_min_tdcf_sorted(&s, NULL, &k, &t, &e) == 0);
    CHECK_NEAR(t.min_tdcf, 1.0, 1e-15);
    CHECK_NEAR(t.threshold, 0.999, 1e-15);
    /* 2021 with Pmiss_asv .1, Pfa_asv .2, Pfa_spoof .5: C0 = .9405*.1 + .095*.2
     * = .11305, C1 = .82745, C2 = .25; point 0: (C0 + C2)/(C0 + C2) = 1;
     * (.5,.5): (.11305+.413725+.125)/.36305 = 1.7953; min 1 at k = 0 */
    sdd_asv_rates b = { .pfa = .2, .pmiss = .1, .pmiss_spoof = .5, .pfa_spoof = .5, .ntar = 1, .nnon = 1, .nspoof = 1 };
    CHECK(sdd_tdcf_coef_compute(2021, &b, &cost, &k, &e) == 0);
    CHECK_NEAR(k.c0, 0.11305, 1e-15);
    CHECK_NEAR(k.c1, 0.82745, 1e-15);
    CHECK_NEAR(k.c2, 0.25, 1e-15);
    CHECK(sdd_min_tdcf_sorted(&s, NULL, &k, &t, &e) == 0);
    CHECK_NEAR(t.min_tdcf, 1.0, 1e-15);
    CHECK(t.index == 0);
    /* a good CM: tar {3,4,5}, non {0,1,2} -> Pmiss = Pfa = 0 at k = 3:
     * 2021 min = C0 / (C0 + min(C1, C2)) = .11305 / .36305 */
    sdd_sorted_free(&s);
    CHECK(sdd_sorted_init2(&s, (double[]){ 3, 4, 5 }, 3, (double[]){ 0, 1, 2 }, 3, &e) == 0);
    CHECK(sdd_min_tdcf_sorted(&s, NULL, &k, &t, &e) == 0);
    CHECK_NEAR(t.min_tdcf, 0.11305 / 0.36305, 1e-14);
    CHECK(t.index == 3 && t.threshold == 2);
    /* 2019 legacy negative weights are refused */
    sdd_asv_rates bad = { .pfa = 1, .pmiss = 1, .pmiss_spoof = 0, .pfa_spoof = 1, .ntar = 1, .nnon = 1, .nspoof = 1 };
    CHECK(sdd_tdcf_coef_compute(2019, &bad, &cost, &k, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "t-DCF weights are negative");
    sdd_sorted_free(&s);

    /* ASV rates at the ASV EER threshold: tar {1,2,3}, non {0,1.5} ->
     * EER threshold 1.5 (sorted 0n 1t 1.5n 2t 3t: k=2 frr 1/3 far 1/2 d 1/6;
     * k=3: frr 1/3 far 0 d 1/3; k=1: 0,.5 .5) -> threshold 1 (k=2 is the 1t);
     * Pfa = P(non >= 1) = .5, Pmiss = P(tar < 1) = 0 */
    double spf[] = { 0.5, 1.0, 2.5, -1 };
    CHECK(sdd_asv_rates_compute((double[]){ 1, 2, 3 }, 3, (double[]){ 0, 1.5 }, 2, spf, 4, &a, &e) == 0);
    CHECK(a.threshold == 1.0 && a.pfa == 0.5 && a.pmiss == 0.0 && a.pmiss_spoof == 0.5 && a.pfa_spoof == 0.5);

    /* Cllr: LLR 0 everywhere costs exactly 1 bit; min Cllr of a perfect split is 0 */
    CHECK(sdd_sorted_init2(&s, (double[]){ 0, 0 }, 2, (double[]){ 0 }, 1, &e) == 0);
    double cl, mcl;
    CHECK(sdd_cllr_sorted(&s, NULL, &cl, &mcl, &e) == 0);
    CHECK_NEAR(cl, 1.0, 1e-15);
    CHECK_NEAR(mcl, 1.0, 1e-15);
    sdd_sorted_free(&s);

    /* probit symmetry and known values */
    CHECK_NEAR(sdd_probit(0.5), 0.0, 1e-16);
    CHECK_NEAR(sdd_probit(0.975), 1.959963984540054, 1e-14);
    CHECK(sdd_probit(0.0) == -INFINITY && sdd_probit(1.0) == INFINITY && isnan(sdd_probit(1.5)));

    /* errors */
    CHECK(sdd_eer((double[]){ 1 }, 1, NULL, 0, &(sdd_eer_result){ 0 }, &e) == -1);
    CHECK(strcmp(e.msg, "no spoof trials") == 0);
    CHECK(sdd_eer(NULL, 0, (double[]){ 1 }, 1, &(sdd_eer_result){ 0 }, &e) == -1);
    CHECK(strcmp(e.msg, "no bona fide trials") == 0);
    CHECK(sdd_eer((double[]){ NAN }, 1, (double[]){ 1 }, 1, &(sdd_eer_result){ 0 }, &e) == -1);
    CHECK(strcmp(e.msg, "trial 1: score is not finite") == 0);
}

/* subsets through keep masks give the same as separate arrays */
static void test_subsets_and_sort(void)
{
    enum { N = 50000 };
    double *sc = malloc(N * sizeof *sc), *t = malloc(N * sizeof *t), *n = malloc(N * sizeof *n);
    unsigned char *pos = malloc(N), *keep = malloc(N);
    uint64_t x = 88172645463325252ull;
    int nt = 0, nn = 0;
    for (int i = 0; i < N; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        sc[i] = (double)(x % 2000) / 100.0 - (i % 3 ? 0 : 3);
        pos[i] = (x >> 20) & 1;
        keep[i] = (x >> 30) % 3 != 0;
        if (keep[i]) { if (pos[i]) t[nt++] = sc[i]; else n[nn++] = sc[i]; }
    }
    sdd_err e;
    sdd_sorted s;
    CHECK(sdd_sorted_init(&s, sc, pos, N, &e) == 0);
    int sorted = 1;
    for (int k = 1; k < N; k++)
        sorted &= s.score[k - 1] < s.score[k] || (s.score[k - 1] == s.score[k] && s.pos[k - 1] >= s.pos[k]);
    CHECK(sorted);
    sdd_eer_result a, b;
    CHECK(sdd_eer_sorted(&s, keep, &a, &e) == 0);
    CHECK(sdd_eer(t, nt, n, nn, &b, &e) == 0);
    CHECK(a.eer == b.eer && a.threshold == b.threshold && a.index == b.index);
    CHECK(a.npos == nt && a.nneg == nn);
    sdd_sorted_free(&s);
    free(sc); free(t); free(n); free(pos); free(keep);
}

/* ---- score files ---- */

static void expect_scores_err(const char *text, const char *msg)
{
    sdd_scores s;
    sdd_err e = { "" };
    int rc = sdd_scores_load_mem(text, strlen(text), "s.txt", &s, &e);
    CHECK(rc == -1 && s.n == 0 && s.id == NULL);
    CHECK_MSG(strcmp(e.msg, msg) == 0, "got '%s', expected '%s'", e.msg, msg);
    if (rc == 0) sdd_scores_free(&s);
}

static void expect_asv_err(const char *text, const char *msg)
{
    sdd_asv_scores a;
    sdd_err e = { "" };
    int rc = sdd_asv_load_mem(text, strlen(text), "asv.txt", &a, &e);
    CHECK(rc == -1 && a.n == 0);
    CHECK_MSG(strcmp(e.msg, msg) == 0, "got '%s', expected '%s'", e.msg, msg);
    if (rc == 0) sdd_asv_free(&a);
}

static void test_score_files(void)
{
    sdd_scores s;
    sdd_err e;
    const char *ok = "\xEF\xBB\xBF# comment\r\nu1 1.5 bonafide\r\n\r\n  u2\t-2e-3   spoof \r\nu3 7 spoof\n";
    CHECK(sdd_scores_load_mem(ok, strlen(ok), "ok", &s, &e) == 0);
    CHECK(s.n == 3 && s.format == SDD_SCORES_ID_SCORE && s.ncols == 3 && !s.label && !s.src);
    CHECK(!strcmp(s.id[1], "u2") && s.score[1] == -2e-3 && s.line[1] == 4);
    CHECK(sdd_scores_find(&s, "u3") == 2 && sdd_scores_find(&s, "u4") == -1);
    sdd_scores_free(&s);
    const char *cm = "LA_E_1 - bonafide 1.25\nLA_E_2 A07 spoof -3\nLA_E_3 bonafide bonafide 0.5\n";
    CHECK(sdd_scores_load_mem(cm, strlen(cm), "cm", &s, &e) == 0);
    CHECK(s.n == 3 && s.format == SDD_SCORES_CM2019 && s.label[0] == 1 && s.label[1] == 0);
    CHECK(s.src[0] == NULL && !strcmp(s.src[1], "A07") && s.src[2] == NULL && s.score[1] == -3);
    sdd_scores_free(&s);
    const char *two = "LA_E_9 0.000001\nLA_E_8 1e-400\n";
    CHECK(sdd_scores_load_mem(two, strlen(two), "two", &s, &e) == 0);
    CHECK(s.n == 2 && s.score[1] == 0.0);
    sdd_scores_free(&s);

    expect_scores_err("", "s.txt: no scores");
    expect_scores_err("# only\n\n", "s.txt: no scores");
    expect_scores_err("a 1\nb x\n", "s.txt:2: score 'x' is not a number");
    expect_scores_err("a 1\nb 1.5.2\n", "s.txt:2: score '1.5.2' is not a number");
    expect_scores_err("a 0x10\n", "s.txt:1: score '0x10' is not a number");
    expect_scores_err("a nan\n", "s.txt:1: score 'nan' is not finite");
    expect_scores_err("a 1\nb -inf\n", "s.txt:2: score '-inf' is not finite");
    expect_scores_err("a 1\nb 1e999\n", "s.txt:2: score '1e999' is not finite");
    expect_scores_err("a 1\n\nc 2\na 3\n", "s.txt:4: duplicate ID a (first on line 1)");
    expect_scores_err("a\n", "s.txt:1: expected 'ID SCORE' or 'UTT SRC KEY SCORE', got 1 column");
    expect_scores_err("a 1\nb 2 spoof\n", "s.txt:2: expected 2 columns (as on line 1), got 3");
    expect_scores_err("a 1 x\nb 2\n", "s.txt:2: expected 3 columns (as on line 1), got 2");
    expect_scores_err("a b\n", "s.txt:1: score 'b' is not a number");
    expect_scores_err("u - bonafide 1\nv A07 spoof\n", "s.txt:2: expected 4 columns (as on line 1), got 3");
    expect_scores_err("u - bonafide 1\nv A07 fake 2\n", "s.txt:2: unknown key 'fake' (expected bonafide or spoof)");
    expect_scores_err("u - bonafide one\n", "s.txt:1: score 'one' is not a number");
    {   /* the NUL case needs an explicit length */
        const char buf[] = "a 1\nb 2\0 3\n";
        e.msg[0] = 0;
        CHECK(sdd_scores_load_mem(buf, sizeof buf - 1, "s.txt", &s, &e) == -1);
        CHECK(strcmp(e.msg, "s.txt:2: contains a NUL byte (not a text file?)") == 0);
    }
    CHECK(sdd_scores_load("/nonexistent/x.txt", &s, &e) == -1);
    CHECK(strcmp(e.msg, "/nonexistent/x.txt: No such file or directory") == 0);

    sdd_asv_scores a;
    const char *asv = "LA_0039 target 1.5\nLA_0039 nontarget -2\nLA_0040 spoof 0.25\n";
    CHECK(sdd_asv_load_mem(asv, strlen(asv), "asv", &a, &e) == 0);
    CHECK(a.n == 3 && a.cls[0] == SDD_ASV_TARGET && a.cls[2] == SDD_ASV_SPOOF && a.score[1] == -2);
    sdd_asv_free(&a);
    const char *asv6 = "LA_0039 LA_E_1 x A07 spoof 0.1\nLA_0039 LA_E_2 x - target 3\n";
    CHECK(sdd_asv_load_mem(asv6, strlen(asv6), "asv", &a, &e) == 0);
    CHECK(a.n == 2 && a.cls[1] == SDD_ASV_TARGET && a.score[1] == 3);
    sdd_asv_free(&a);
    expect_asv_err("", "asv.txt: no scores");
    expect_asv_err("LA_0039 target\n", "asv.txt:1: expected 3 or more columns (... KEY SCORE), got 2");
    expect_asv_err("LA_0039 LA_E_1 1.5\n",
                   "asv.txt:1: ASV key 'LA_E_1' is not target, nontarget or spoof (2021 'speaker trial score' "
                   "files need the ASV key file)");
    expect_asv_err("a target 1\nb spoof nan\n", "asv.txt:2: score 'nan' is not finite");
    expect_asv_err("a target 1\nb x spoof 1\n", "asv.txt:2: expected 3 columns (as on line 1), got 4");
}

/* ---- whole evaluations ---- */

typedef struct { char row[64], col[64]; double eer, tdcf; } xcell;
typedef struct {
    double eer, thr, cllr, mcllr, t19, t19thr, t21, t21thr;
    long nb, ns;
    xcell cell[64], vcell[64];
    int ncell, nvcell;
} expect;

static void load_expect(const char *path, expect *x)
{
    memset(x, 0, sizeof *x);
    x->t19 = x->t21 = NAN;
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[512], a[64], b[64], c[64], d[64];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "eer %63s %63s", a, b) == 2) { x->eer = strtod(a, NULL); x->thr = strtod(b, NULL); }
        else if (sscanf(line, "cllr %63s %63s", a, b) == 2) { x->cllr = strtod(a, NULL); x->mcllr = strtod(b, NULL); }
        else if (sscanf(line, "tdcf2019 %63s %63s", a, b) == 2) { x->t19 = strtod(a, NULL); x->t19thr = strtod(b, NULL); }
        else if (sscanf(line, "tdcf2021 %63s %63s", a, b) == 2) { x->t21 = strtod(a, NULL); x->t21thr = strtod(b, NULL); }
        else if (sscanf(line, "trials %ld %ld", &x->nb, &x->ns) == 2) {}
        else if ((sscanf(line, "cell %63s %63s %63s %63s", a, b, c, d) == 4 && x->ncell < 64) ||
                 (sscanf(line, "vcell %63s %63s %63s %63s", a, b, c, d) == 4 && x->nvcell < 64)) {
            xcell *q = line[0] == 'v' ? &x->vcell[x->nvcell++] : &x->cell[x->ncell++];
            snprintf(q->row, sizeof q->row, "%s", a);
            snprintf(q->col, sizeof q->col, "%s", b);
            q->eer = strtod(c, NULL);
            q->tdcf = strtod(d, NULL);
        }
    }
    fclose(f);
}

static int find_name(char **v, int n, const char *s)
{
    for (int i = 0; i < n; i++) if (!strcmp(v[i], s)) return i;
    return -1;
}

/* compares the table cells (EER always, min t-DCF when check_tdcf) */
static void check_table(const sdd_table *t, const xcell *cells, int ncell, int check_tdcf)
{
    CHECK(ncell > 0 && t->nrow * t->ncol == ncell);
    for (int i = 0; i < ncell; i++) {
        const xcell *q = &cells[i];
        int ri = find_name(t->row_name, t->nrow, q->row);
        int ci = find_name(t->col_name, t->ncol, q->col);
        CHECK_MSG(ri >= 0 && ci >= 0, "cell %s/%s missing", q->row, q->col);
        if (ri < 0 || ci < 0) continue;
        size_t k = (size_t)ri * t->ncol + ci;
        CHECK_MSG(close_rel(t->eer[k], q->eer), "cell %s/%s EER %.17g, expected %.17g", q->row, q->col,
                  t->eer[k], q->eer);
        tally(t->eer[k], q->eer);
        if (check_tdcf) {
            CHECK_MSG(close_rel(t->min_tdcf[k], q->tdcf), "cell %s/%s min t-DCF %.17g, expected %.17g",
                      q->row, q->col, t->min_tdcf[k], q->tdcf);
            tally(t->min_tdcf[k], q->tdcf);
        }
    }
}

static void check_cells(const sdd_eval_report *r, const expect *x, int check_tdcf)
{
    CHECK(r->has_table);
    check_table(&r->table, x->cell, x->ncell, check_tdcf);
}

static void test_eval_2019(void)
{
    expect x;
    load_expect(DATA "asv19_expected.txt", &x);
    sdd_eval_report r;
    sdd_err e;
    /* sdd's own "ID SCORE" file + the CM protocol + 3-column ASV scores */
    sdd_eval_opts o = { .scores = DATA "asv19_scores.txt", .key = DATA "asv19_protocol.txt",
                        .asv_scores = DATA "asv19_asv_scores.txt" };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.n_bona == x.nb && r.n_spoof == x.ns && r.nwarn == 0 && r.subset[0] == 0);
    CHECK_REL(r.eer.eer, x.eer);
    CHECK_REL(r.eer.threshold, x.thr);
    CHECK_REL(r.cllr, x.cllr);
    CHECK_REL(r.min_cllr, x.mcllr);
    CHECK(r.has_tdcf && r.tdcf_form == 2019);
    CHECK_REL(r.tdcf.min_tdcf, x.t19);
    CHECK_REL(r.tdcf.threshold, x.t19thr);
    tally(r.eer.eer, x.eer);
    tally(r.tdcf.min_tdcf, x.t19);
    CHECK(r.table.ncol == 1 && r.table.nrow == 5);
    check_cells(&r, &x, 0);
    CHECK_REL(r.table.min_tdcf[r.table.nrow - 1], x.t19);
    /* the JSON and DET writers */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    CHECK(sdd_eval_write_json(&r, &o, m, &e) == 0);
    fclose(m);
    CHECK_STR_CONTAINS(buf, "\"eer\": ");
    CHECK_STR_CONTAINS(buf, "\"form\": 2019");
    CHECK_STR_CONTAINS(buf, "\"rows\": [");
    free(buf);
    m = open_memstream(&buf, &len);
    CHECK(sdd_eval_write_det(&r, m, &e) == 0);
    fclose(m);
    CHECK(!strncmp(buf, "threshold\tfar\tfrr\tprobit_far\tprobit_frr\n", 40));
    /* first row: far 1, frr 0 -> probits inf / -inf; last row: far 0, frr 1 */
    CHECK_STR_CONTAINS(buf, "\t1\t0\tinf\t-inf\n");
    CHECK(len > 20 && !strcmp(buf + len - strlen("\t0\t1\t-inf\tinf\n"), "\t0\t1\t-inf\tinf\n"));
    int rows = 0;
    for (size_t i = 0; i < len; i++) rows += buf[i] == '\n';
    CHECK(rows > 10 && rows <= (int)(x.nb + x.ns + 2));
    free(buf);
    m = open_memstream(&buf, &len);
    sdd_eval_print(&r, m);
    fclose(m);
    CHECK_STR_CONTAINS(buf, "min t-DCF");
    CHECK_STR_CONTAINS(buf, "A16");
    free(buf);
    sdd_eval_report_free(&r);

    /* 2021 normalisation on the same data */
    o.tdcf = SDD_TDCF_2021;
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.tdcf_form == 2021);
    CHECK_REL(r.tdcf.min_tdcf, x.t21);
    CHECK_REL(r.tdcf.threshold, x.t21thr);
    tally(r.tdcf.min_tdcf, x.t21);
    sdd_eval_report_free(&r);

    /* the clovaai "utt src key score" file alone (it carries the truth) */
    sdd_eval_opts o2 = { .scores = DATA "asv19_cm_scores.txt", .asv_scores = DATA "asv19_asv_scores.txt" };
    CHECK_MSG(sdd_eval_run(&o2, &r, &e) == 0, "%s", e.msg);
    CHECK(r.n_bona == x.nb && r.n_spoof == x.ns);
    CHECK_REL(r.eer.eer, x.eer);
    CHECK_REL(r.tdcf.min_tdcf, x.t19);
    check_cells(&r, &x, 0);
    sdd_eval_report_free(&r);
    /* ... and with the protocol, which it agrees with */
    o2.key = DATA "asv19_protocol.txt";
    CHECK_MSG(sdd_eval_run(&o2, &r, &e) == 0, "%s", e.msg);
    CHECK_REL(r.eer.eer, x.eer);
    sdd_eval_report_free(&r);
}

static void test_eval_2021(void)
{
    expect x;
    load_expect(DATA "asv21_la_expected.txt", &x);
    sdd_eval_report r;
    sdd_err e;
    sdd_eval_opts o = { .scores = DATA "asv21_la_scores.txt", .key = DATA "asv21_la_key.txt",
                        .asv_scores = DATA "asv21_la_asv_scores.txt", .asv_key = DATA "asv21_la_asv_key.txt" };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(r.subset, "eval") && r.n_bona == x.nb && r.n_spoof == x.ns);
    CHECK_MSG(r.nwarn == 0, "warning: %s", r.nwarn ? r.warnings[0] : "");
    CHECK(r.tdcf_form == 2021);
    CHECK_REL(r.eer.eer, x.eer);
    CHECK_REL(r.eer.threshold, x.thr);
    CHECK_REL(r.tdcf.min_tdcf, x.t21);
    CHECK_REL(r.tdcf.threshold, x.t21thr);
    CHECK(r.table.nrow == 5 && r.table.ncol == 5);
    /* columns in the eval-package order with its tags */
    CHECK(!strcmp(r.table.col_name[0], "none") && !strcmp(r.table.col_name[1], "alaw") &&
          !strcmp(r.table.col_name[2], "gsm") && !strcmp(r.table.col_name[3], "opus"));
    CHECK(r.col_tag && !strcmp(r.col_tag[0], "C1") && !strcmp(r.col_tag[2], "C6") && !strcmp(r.col_tag[3], "C7") &&
          r.col_tag[4] == NULL);
    check_cells(&r, &x, 1);
    sdd_eval_report_free(&r);

    /* every subset: more trials; an unknown subset lists the ones there are */
    o.subset = "all";
    o.asv_scores = NULL;
    o.asv_key = NULL;
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.n_bona + r.n_spoof == 900 && r.subset[0] == 0 && !r.has_tdcf);
    sdd_eval_report_free(&r);
    o.subset = "hidden";
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    CHECK(!strcmp(e.msg, DATA "asv21_la_key.txt: no trials in subset 'hidden' (subsets: eval, progress)") ||
          !strcmp(e.msg, DATA "asv21_la_key.txt: no trials in subset 'hidden' (subsets: progress, eval)"));
}

/* the eval-package's precomputed coefficients (tools/reference/c012_ref.py:
 * C012 from the same ASV fixture, dumped as np.array(dict).dump does, with
 * A19/opus left out and A13/gsm NaN): the same numbers as from the ASV scores */
static void test_eval_2021_c012(void)
{
    expect x;
    load_expect(DATA "asv21_la_expected.txt", &x);
    sdd_eval_report r;
    sdd_err e;
    sdd_eval_opts o = { .scores = DATA "asv21_la_scores.txt", .key = DATA "asv21_la_key.txt",
                        .asv_c012 = DATA "asv21_la_c012.npy" };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.has_tdcf && r.tdcf_from_c012 && r.tdcf_form == 2021 && r.nwarn == 0);
    CHECK_REL(r.tdcf.min_tdcf, x.t21);
    CHECK_REL(r.tdcf.threshold, x.t21thr);
    tally(r.tdcf.min_tdcf, x.t21);
    int special = 0;
    for (int i = 0; i < x.ncell; i++)
        if ((!strcmp(x.cell[i].row, "A19") && !strcmp(x.cell[i].col, "opus")) ||
            (!strcmp(x.cell[i].row, "A13") && !strcmp(x.cell[i].col, "gsm"))) {
            x.cell[i].tdcf = NAN;
            special++;
        }
    CHECK(special == 2);
    check_cells(&r, &x, 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    CHECK(sdd_eval_write_json(&r, &o, m, &e) == 0);
    fclose(m);
    CHECK_STR_CONTAINS(buf, "\"source\": \"c012\"");
    CHECK_STR_CONTAINS(buf, "asv21_la_c012.npy");
    free(buf);
    m = open_memstream(&buf, &len);
    sdd_eval_print(&r, m);
    fclose(m);
    CHECK_STR_CONTAINS(buf, "precomputed C0");
    free(buf);
    sdd_eval_report_free(&r);

    /* the np.save'd object array holds the same dictionary */
    o.asv_c012 = "tests/data/io/npy_c012_save.npy";
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK_REL(r.tdcf.min_tdcf, x.t21);
    check_cells(&r, &x, 1);
    sdd_eval_report_free(&r);
    /* [C0, C1, C2] alone: the pooled value, no cell coefficients (a warning) */
    o.asv_c012 = "tests/data/io/npy_c012_pooled.npy";
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK_REL(r.tdcf.min_tdcf, x.t21);
    CHECK(r.nwarn == 1 && strstr(r.warnings[0], "only the pooled min t-DCF"));
    CHECK(isnan(r.table.min_tdcf[0]));
    CHECK_REL(r.table.min_tdcf[r.table.nrow * r.table.ncol - 1], x.t21);
    sdd_eval_report_free(&r);

    /* refusals */
    o.asv_c012 = DATA "asv21_la_c012.npy";
    o.asv_scores = DATA "asv21_la_asv_scores.txt";
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "not both");
    o.asv_scores = NULL;
    o.tdcf = SDD_TDCF_2019;
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "2021 t-DCF only");
    o.tdcf = 0;
    o.asv_c012 = "tests/data/io/npy_f8_2x3.npy";
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "npy_f8_2x3.npy: a numeric C012 array must hold 3 values");
    o.asv_c012 = DATA "asv21_la_key.txt";
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "asv21_la_key.txt: not a NumPy file");
    o.asv_c012 = DATA "no_such.npy";
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no_such.npy: cannot open");
}

static void test_eval_df(void)
{
    expect x;
    load_expect(DATA "asv21_df_expected.txt", &x);
    sdd_eval_report r;
    sdd_err e;
    sdd_eval_opts o = { .scores = DATA "asv21_df_scores.txt", .key = DATA "asv21_df_key.txt" };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(r.subset, "eval") && r.n_bona == x.nb && r.n_spoof == x.ns && !r.has_tdcf);
    CHECK_REL(r.eer.eer, x.eer);
    CHECK_REL(r.eer.threshold, x.thr);
    check_cells(&r, &x, 0);
    CHECK(r.has_vocoder_table);
    check_table(&r.vocoder_table, x.vcell, x.nvcell, 0);
    /* official orders: vocoder types and DF codecs C1.. */
    CHECK(r.vocoder_table.nrow == 6 && !strcmp(r.vocoder_table.row_name[0], "traditional_vocoder") &&
          !strcmp(r.vocoder_table.row_name[4], "unknown"));
    CHECK(r.col_tag && !strcmp(r.table.col_name[4], "mp3m4a") && !strcmp(r.col_tag[4], "C8"));
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sdd_eval_print(&r, m);
    CHECK(sdd_eval_write_json(&r, &o, m, &e) == 0);
    fclose(m);
    CHECK_STR_CONTAINS(buf, "rows = vocoder type");
    CHECK_STR_CONTAINS(buf, "\"breakdown_vocoder\": {");
    free(buf);
    sdd_eval_report_free(&r);
}

static void test_eval_itw(void)
{
    expect x;
    load_expect(DATA "itw_expected.txt", &x);
    sdd_eval_report r;
    sdd_err e;
    sdd_eval_opts o = { .scores = DATA "itw_scores.txt", .key = DATA "itw_meta.csv" };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.n_bona == x.nb && r.n_spoof == x.ns && !r.has_table && !r.has_tdcf);
    CHECK_REL(r.eer.eer, x.eer);
    CHECK_REL(r.eer.threshold, x.thr);
    sdd_eval_report_free(&r);
}

int main(void)
{
    test_fixture_cases();
    test_hand();
    test_subsets_and_sort();
    test_score_files();
    test_eval_2019();
    test_eval_2021();
    test_eval_2021_c012();
    test_eval_df();
    test_eval_itw();
    printf("test_metrics: %d fixture cases; %d of %d reference values bit-identical\n", ncases, exact_count,
           value_count);
    return CHECK_DONE("test_metrics");
}
