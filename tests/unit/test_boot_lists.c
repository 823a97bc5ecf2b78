/* Tests of the per-attack and per-condition bootstrap (src/metrics/
 * boot_table.c, sdd eval --ci with a key naming attacks or codecs), run from
 * the repository root:
 *   - the bootstrap of a subset equals sdd_boot_run on a set built from only
 *     those trials (sorted anew by sdd_sorted_init), unpaired and paired, bit
 *     for bit; a subset of every trial equals the whole set's;
 *   - Holm's adjustment against values worked out by hand, and against
 *     statsmodels (tools/reference/holm_ref.py, tests/data/metrics/holm.txt)
 *     bit for bit;
 *   - on sdd_eval_run's reports: each entry's values equal the table's cell,
 *     the pooled entry the whole set's bootstrap, with the cells' own ASV
 *     coefficients for the min t-DCF;
 *   - through the binary: an attack's (a condition's) interval and paired p
 *     equal those sdd eval --ci gives for a key holding only its trials; the
 *     thread count changes nothing; --breakdown picks the lists; a 2021 DF
 *     vocoder type's entry likewise;
 *   - sdd compare's lists: an attack's values equal sdd compare's with a key
 *     holding only its trials; with one pair the trials-only values equal
 *     sdd eval --compare's. */
#include "check.h"
#include "cli_run.h"
#include "core/rng.h"
#include "metrics/bootstrap.h"
#include "metrics/evaluate.h"

#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA "tests/data/metrics/"
#define NM SDD_BOOT_NMETRIC

static char out[65536];
static char tmp[256];
#define run(...) cli_run(out, sizeof out, __VA_ARGS__)
static const char *T(const char *name) { return check_tmp_path(tmp, name); }

/* every value of two results the same, bit for bit (NaN as NaN) */
static int same_d(const double *x, const double *y, int n)
{
    for (int i = 0; i < n; i++)
        if (!(x[i] == y[i] || (isnan(x[i]) && isnan(y[i])))) return 0;
    return 1;
}

static int same_result(const sdd_boot_result *a, const sdd_boot_result *b)
{
    return a->n_bona == b->n_bona && a->n_spoof == b->n_spoof && !memcmp(a->has, b->has, sizeof a->has) &&
           same_d(a->est, b->est, NM) && same_d(a->lo, b->lo, NM) && same_d(a->hi, b->hi, NM) &&
           same_d(a->est_b, b->est_b, NM) && same_d(a->lo_b, b->lo_b, NM) && same_d(a->hi_b, b->hi_b, NM) &&
           same_d(a->diff, b->diff, NM) && same_d(a->diff_lo, b->diff_lo, NM) && same_d(a->diff_hi, b->diff_hi, NM) &&
           same_d(a->p, b->p, NM) && !memcmp(a->n_le, b->n_le, sizeof a->n_le) && !memcmp(a->n_ge, b->n_ge, sizeof a->n_ge);
}

static void test_subset(void)
{
    enum { N = 300 };
    double sa[N], sb[N], xa[N], xb[N];
    unsigned char lab[N], keep[N], xl[N];
    const uint64_t key = sdd_rng_key(31, 0, 0, 0);
    for (int i = 0; i < N; i++) {
        lab[i] = sdd_rng_uniform_d(key, 4 * (uint64_t)i) < 0.35;
        /* ties: scores on a grid of 40 values */
        sa[i] = floor(40.0 * sdd_rng_uniform_d(key, 4 * (uint64_t)i + 1)) / 10.0 + (lab[i] ? 1.0 : 0.0);
        sb[i] = sa[i] + floor(10.0 * sdd_rng_normal(key, 4 * (uint64_t)i + 2)) / 20.0;
        keep[i] = sdd_rng_uniform_d(key, 4 * (uint64_t)i + 3) < 0.4;
    }
    sdd_sorted a, b, ma, mb;
    sdd_err e;
    CHECK(sdd_sorted_init(&a, sa, lab, N, &e) == 0 && sdd_sorted_init(&b, sb, lab, N, &e) == 0);
    /* the subset materialised in input order: an independent way to the same set */
    int m = 0;
    for (int i = 0; i < N; i++)
        if (keep[i]) { xa[m] = sa[i]; xb[m] = sb[i]; xl[m] = lab[i]; m++; }
    CHECK(sdd_sorted_init(&ma, xa, xl, m, &e) == 0 && sdd_sorted_init(&mb, xb, xl, m, &e) == 0);
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    const sdd_tdcf_coef k21 = { SDD_TDCF_2021, 0.0186, 0.9219, 0.2188 };
    sdd_boot_params p = { .reps = 300, .level = 0.9, .seed = 11, .dcf = &dc, .tdcf = &k21 };
    sdd_boot_result r1, r2;
    CHECK(sdd_boot_run_subset(&a, NULL, NULL, keep, &p, &r1, &e) == 0 && sdd_boot_run(&ma, NULL, NULL, &p, &r2, &e) == 0);
    CHECK_MSG(same_result(&r1, &r2), "unpaired subset: EER CI %a .. %a vs %a .. %a", r1.lo[0], r1.hi[0], r2.lo[0], r2.hi[0]);
    CHECK(r1.has[0] && r1.has[1] && r1.has[2] && r1.n_bona + r1.n_spoof == m);
    /* paired: b's trials in reverse order, the pairing through it */
    double rb[N];
    unsigned char rl[N];
    int64_t b_of_a[N], pair[N];
    for (int i = 0; i < N; i++) { rb[N - 1 - i] = sb[i]; rl[N - 1 - i] = lab[i]; b_of_a[i] = N - 1 - i; }
    sdd_sorted br;
    CHECK(sdd_sorted_init(&br, rb, rl, N, &e) == 0);
    for (int i = 0; i < m; i++) pair[i] = i;
    CHECK(sdd_boot_run_subset(&a, &br, b_of_a, keep, &p, &r1, &e) == 0 && sdd_boot_run(&ma, &mb, pair, &p, &r2, &e) == 0);
    CHECK_MSG(same_result(&r1, &r2) && r1.paired, "paired subset: diff %a p %g vs %a p %g", r1.diff[0], r1.p[0], r2.diff[0], r2.p[0]);
    CHECK(r1.unpaired_a == 0);
    /* two kept trials without a match: left out, counted */
    int64_t b_of_a2[N];
    memcpy(b_of_a2, b_of_a, sizeof b_of_a2);
    int gone = 0;
    for (int i = 0; i < N && gone < 2; i++)
        if (keep[i]) { b_of_a2[i] = -1; gone++; }
    CHECK(sdd_boot_run_subset(&a, &br, b_of_a2, keep, &p, &r1, &e) == 0 && r1.unpaired_a == 2 && r1.n_bona + r1.n_spoof == m - 2);
    /* every trial kept: the whole set's bootstrap */
    unsigned char all[N];
    memset(all, 1, sizeof all);
    CHECK(sdd_boot_run_subset(&a, &br, b_of_a, all, &p, &r1, &e) == 0 && sdd_boot_run(&a, &br, b_of_a, &p, &r2, &e) == 0);
    CHECK(same_result(&r1, &r2));
    /* a subset without spoof trials: the whole set's error */
    unsigned char bona[N];
    for (int i = 0; i < N; i++) bona[i] = lab[i];
    CHECK(sdd_boot_run_subset(&a, NULL, NULL, bona, &p, &r1, &e) == -1 && strstr(e.msg, "no spoof trials"));
    sdd_sorted_free(&a);
    sdd_sorted_free(&b);
    sdd_sorted_free(&br);
    sdd_sorted_free(&ma);
    sdd_sorted_free(&mb);
}

static void test_holm(void)
{
    /* sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> running max 0.06 */
    const double p[4] = { 0.01, 0.04, 0.03, 0.005 };
    double adj[4];
    CHECK(sdd_holm(p, 4, adj) == 0);
    CHECK_NEAR(adj[0], 0.03, 1e-15);
    CHECK_NEAR(adj[1], 0.06, 1e-15);
    CHECK_NEAR(adj[2], 0.06, 1e-15);
    CHECK_NEAR(adj[3], 0.02, 1e-15);
    /* NaN left out of the count; capped at 1; ties in index order */
    const double q[5] = { 0.4, NAN, 0.2, 0.2, 0.9 };
    double aq[5];
    CHECK(sdd_holm(q, 5, aq) == 0);
    CHECK(isnan(aq[1]));
    CHECK_NEAR(aq[2], 0.8, 1e-15);   /* 0.2 x 4 */
    CHECK_NEAR(aq[3], 0.8, 1e-15);   /* 0.2 x 3 = 0.6, raised to 0.8 */
    CHECK_NEAR(aq[0], 0.8, 1e-15);   /* 0.4 x 2 */
    CHECK(aq[4] == 0.9);             /* 0.9 x 1, above 0.8 */
    const double z[2] = { 0.7, 0.6 };
    double az[2];
    CHECK(sdd_holm(z, 2, az) == 0 && az[0] == 1.0 && az[1] == 1.0);
    CHECK(sdd_holm(z, 0, az) == 0);
    double one = 0.3, a1;
    CHECK(sdd_holm(&one, 1, &a1) == 0 && a1 == 0.3);

    /* against statsmodels' multipletests(method='holm') (tools/reference/holm_ref.py) */
    FILE *f = fopen(DATA "holm.txt", "r");
    CHECK_MSG(f != NULL, "cannot read " DATA "holm.txt (run from the repository root)");
    if (!f) return;
    static char line[16384];
    double pv[64], ref[64], got[64];
    int n = 0, sets = 0, same = 0;
    while (fgets(line, sizeof line, f)) {
        char *q = line + 2, *end;
        if (!strncmp(line, "set ", 4)) n = atoi(line + 4);
        else if (!strncmp(line, "p ", 2) || !strncmp(line, "adj ", 4)) {
            double *dst = line[0] == 'p' ? pv : ref;
            if (line[0] == 'a') q = line + 4;
            for (int i = 0; i < n && i < 64; i++) { dst[i] = strtod(q, &end); q = end; }
            if (line[0] != 'a' || n < 1 || n > 64) continue;
            sets++;
            int ok = sdd_holm(pv, n, got) == 0;
            for (int i = 0; i < n; i++) ok &= got[i] == ref[i];
            same += ok;
            if (!ok) fprintf(stderr, "holm set %d (n %d): differs from statsmodels\n", sets, n);
        }
    }
    fclose(f);
    CHECK_MSG(sets == 40 && same == sets, "%d of %d sets equal statsmodels' Holm values bit for bit", same, sets);
}

/* sdd_eval_bootstrap's lists on the 2021 LA fixture (4 attacks, 4 codecs, keyed ASV scores) */
static void test_reports(void)
{
    sdd_eval_opts o = { 0 };
    o.scores = DATA "asv21_la_scores.txt";
    o.key = DATA "asv21_la_key.txt";
    o.asv_scores = DATA "asv21_la_asv_scores.txt";
    o.asv_key = DATA "asv21_la_asv_key.txt";
    sdd_eval_report r;
    sdd_err e;
    sdd_boot_params p = { .reps = 200, .level = 0.95, .seed = 3 };
    /* not kept: no lists */
    CHECK(sdd_eval_run(&o, &r, &e) == 0 && !r.row_of && !r.cell_coef);
    CHECK(sdd_eval_bootstrap(&r, NULL, NULL, &p, 0, &e) == 0 && r.boot_attack.n == 0 && r.boot_cond.n == 0);
    sdd_eval_report_free(&r);
    o.keep_breakdown = 1;
    CHECK(sdd_eval_run(&o, &r, &e) == 0 && r.row_of && r.col_of && r.cell_coef);
    CHECK(sdd_eval_bootstrap(&r, NULL, NULL, &p, 0, &e) == 0);
    const sdd_table *t = &r.table;
    CHECK(r.boot_attack.n == t->nrow && r.boot_cond.n == t->ncol && t->nrow == 5 && t->ncol == 5);
    int agree = 0, cells = 0, tdcf = 0;
    for (int by_row = 0; by_row < 2; by_row++) {
        const sdd_boot_list *l = by_row ? &r.boot_attack : &r.boot_cond;
        for (int i = 0; i < l->n; i++) {
            const size_t c = by_row ? (size_t)i * t->ncol + (t->ncol - 1) : (size_t)(t->nrow - 1) * t->ncol + i;
            const sdd_boot_result *x = &l->r[i];
            cells++;
            tdcf += x->has[SDD_BOOT_TDCF];
            agree += x->n_bona == t->n_bona[c] && x->n_spoof == t->n_spoof[c] && x->est[SDD_BOOT_EER] == t->eer[c] &&
                     x->est[SDD_BOOT_MINDCF] == t->min_dcf[c] && x->est[SDD_BOOT_TDCF] == t->min_tdcf[c] &&
                     x->has[SDD_BOOT_EER] && x->lo[SDD_BOOT_EER] <= x->est[SDD_BOOT_EER] &&
                     x->est[SDD_BOOT_EER] <= x->hi[SDD_BOOT_EER] && isnan(l->holm[(size_t)i * NM]);
        }
        CHECK(same_result(&l->r[l->n - 1], &r.boot));
    }
    CHECK_MSG(agree == cells, "%d of %d entries agree with the table", agree, cells);
    CHECK(tdcf == cells);   /* keyed ASV scores: every cell has its own coefficients */
    /* the cells' own coefficients: an attack's min t-DCF is not the pooled coefficients' */
    sdd_tdcf_result tr;
    unsigned char *keep = malloc((size_t)r.cm.n);
    unsigned char *lab = malloc((size_t)r.cm.n);
    for (int64_t k = 0; k < r.cm.n; k++) lab[r.cm.orig[k]] = r.cm.pos[k];
    int64_t in = 0;
    for (int64_t i = 0; i < r.cm.n; i++) in += keep[i] = (unsigned char)(lab[i] || r.row_of[i] == 0);
    sdd_sorted sub;
    double *sc = malloc((size_t)in * sizeof *sc);
    unsigned char *sl = malloc((size_t)in);
    int64_t j = 0;
    for (int64_t k = 0; k < r.cm.n; k++)
        if (keep[r.cm.orig[k]]) { sc[j] = r.cm.score[k]; sl[j] = r.cm.pos[k]; j++; }
    CHECK(sdd_sorted_init(&sub, sc, sl, in, &e) == 0);
    CHECK(sdd_min_tdcf_sorted(&sub, NULL, &r.coef, &tr, &e) == 0 && tr.min_tdcf != r.boot_attack.r[0].est[SDD_BOOT_TDCF]);
    sdd_sorted_free(&sub);
    free(sc); free(sl); free(keep); free(lab);

    /* paired with itself: every entry 0, p 1, Holm 1 */
    sdd_eval_report rb;
    o.keep_trial_ids = 1;
    sdd_eval_report_free(&r);
    CHECK(sdd_eval_run(&o, &r, &e) == 0 && sdd_eval_run(&o, &rb, &e) == 0);
    CHECK(sdd_eval_bootstrap(&r, &rb, "b", &p, 0, &e) == 0 && r.boot_attack.n == 5);
    int ones = 0;
    for (int i = 0; i < r.boot_attack.n; i++)
        ones += r.boot_attack.r[i].diff[SDD_BOOT_EER] == 0 && r.boot_attack.r[i].p[SDD_BOOT_EER] == 1 &&
                r.boot_attack.holm[(size_t)i * NM + SDD_BOOT_EER] == 1;
    CHECK(ones == 5);
    /* --breakdown attack: the attack list only */
    sdd_eval_report_free(&r);
    o.breakdown = SDD_BREAKDOWN_ATTACK;
    CHECK(sdd_eval_run(&o, &r, &e) == 0 && sdd_eval_bootstrap(&r, &rb, "b", &p, 0, &e) == 0);
    CHECK(r.boot_attack.n == 5 && r.boot_cond.n == 0);
    sdd_eval_report_free(&rb);
    sdd_eval_report_free(&r);
    /* 2021 DF: the vocoder list's entries are the vocoder table's cells */
    sdd_eval_opts df = { 0 };
    df.scores = DATA "asv21_df_scores.txt";
    df.key = DATA "asv21_df_key.txt";
    df.keep_breakdown = 1;
    CHECK(sdd_eval_run(&df, &r, &e) == 0 && r.has_vocoder_table && r.voc_of);
    CHECK(sdd_eval_bootstrap(&r, NULL, NULL, &p, 0, &e) == 0 && r.boot_vocoder.n == r.vocoder_table.nrow);
    int vok = 0;
    for (int i = 0; i < r.boot_vocoder.n; i++) {
        const size_t c = (size_t)i * r.vocoder_table.ncol + (r.vocoder_table.ncol - 1);
        vok += r.boot_vocoder.r[i].est[SDD_BOOT_EER] == r.vocoder_table.eer[c] &&
               r.boot_vocoder.r[i].n_spoof == r.vocoder_table.n_spoof[c] && r.boot_vocoder.r[i].has[SDD_BOOT_EER];
    }
    CHECK_MSG(vok == r.boot_vocoder.n && vok == 6, "%d of %d vocoder entries agree with the table", vok, r.boot_vocoder.n);
    sdd_eval_report_free(&r);
    df.breakdown = SDD_BREAKDOWN_CONDITION;   /* the vocoder list goes with the attacks */
    CHECK(sdd_eval_run(&df, &r, &e) == 0 && sdd_eval_bootstrap(&r, NULL, NULL, &p, 0, &e) == 0 && r.boot_vocoder.n == 0);
    sdd_eval_report_free(&r);
    /* a key without attacks or conditions (In-the-Wild): no lists */
    sdd_eval_opts w = { 0 };
    w.scores = DATA "itw_scores.txt";
    w.key = DATA "itw_meta.csv";
    w.keep_breakdown = 1;
    CHECK(sdd_eval_run(&w, &r, &e) == 0 && sdd_eval_bootstrap(&r, NULL, NULL, &p, 0, &e) == 0 && r.has_boot &&
          r.boot_attack.n == 0 && r.boot_cond.n == 0);
    sdd_eval_report_free(&r);
}

/* bootstrap[list][i][metric][field] of a JSON report (list NULL: the whole
 * set's); the differences and p-values are under "compared" */
static double jget(json_t *root, const char *list, int i, const char *metric, const char *field)
{
    json_t *x = json_object_get(root, "bootstrap");
    if (list) x = json_array_get(json_object_get(x, list), (size_t)i);
    if (!strncmp(field, "diff", 4) || !strcmp(field, "p") || !strcmp(field, "holm_p")) x = json_object_get(x, "compared");
    json_t *v = json_object_get(json_object_get(x, metric), field);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *load(const char *path)
{
    json_error_t je;
    return json_load_file(path, 0, &je);
}

static void test_cli(void)
{
    const char *ev = "$SDD eval --key " DATA "asv21_la_key.txt";
    /* b: the A19 spoof trials scored 1 higher */
    CHECK(run("awk 'NR == FNR { att[$2] = $5; next } { if (att[$1] == \"A19\") $2 += 1.0; print }' " DATA
              "asv21_la_key.txt " DATA "asv21_la_scores.txt > %s", T("b.txt")) == 0);
    CHECK(run("OMP_NUM_THREADS=3 %s --scores " DATA "asv21_la_scores.txt --compare %s --ci 300 --ci-seed 5 -o %s", ev,
              T("b.txt"), T("all.json")) == 0);
    CHECK_STR_CONTAINS(out, "\nper attack: this - compared (");
    CHECK_STR_CONTAINS(out, "Holm-adjusted over the 4 attacks\n");
    CHECK_STR_CONTAINS(out, "\nper condition: this - compared (");
    CHECK_STR_CONTAINS(out, "\nA07         +0.0000 (+0.0000 .. +0.0000)         1       1");
    char first[65536];
    snprintf(first, sizeof first, "%s", out);
    CHECK(run("OMP_NUM_THREADS=1 %s --scores " DATA "asv21_la_scores.txt --compare %s --ci 300 --ci-seed 5", ev, T("b.txt")) == 0);
    CHECK_MSG(!strcmp(first, out), "the thread count changed the output");
    json_t *all = load(T("all.json"));
    CHECK(all != NULL);
    /* A19 (row 3) and the alaw codec (C2, column 1): the same as a key with only their trials */
    CHECK(run("awk '$5 == \"bonafide\" || $5 == \"A19\"' " DATA "asv21_la_key.txt > %s && awk '$3 == \"alaw\"' " DATA
              "asv21_la_key.txt > %s", T("k19.txt"), T("kalaw.txt")) == 0);
    const struct { const char *key, *list; int i; } sub[] = { { "k19.txt", "per_attack", 3 }, { "kalaw.txt", "per_condition", 1 } };
    for (int s = 0; s < 2; s++) {
        char kp[256];
        snprintf(kp, sizeof kp, "%s", T(sub[s].key));
        CHECK(run("$SDD eval --key %s --scores " DATA "asv21_la_scores.txt --compare %s --ci 300 --ci-seed 5 -o %s", kp,
                  T("b.txt"), T("one.json")) == 0);
        json_t *one = load(T("one.json"));
        CHECK(one != NULL);
        int same = 0, n = 0;
        static const char *const metric[2] = { "eer", "min_dcf" };
        static const char *const field[] = { "value", "lo", "hi", "diff", "diff_lo", "diff_hi", "p" };
        for (int m = 0; m < 2; m++)
            for (size_t f = 0; f < sizeof field / sizeof field[0]; f++) {
                const double x = jget(all, sub[s].list, sub[s].i, metric[m], field[f]);
                const double y = jget(one, NULL, 0, metric[m], field[f]);
                n++;
                same += x == y && !isnan(x);
                if (x != y) fprintf(stderr, "%s %s %s: %a vs %a\n", sub[s].list, metric[m], field[f], x, y);
            }
        CHECK_MSG(same == n, "%s: %d of %d values equal sdd eval on its trials alone", sub[s].key, same, n);
        json_decref(one);
    }
    /* A19's p is 0 (no replicate crossed 0): Holm takes 1/300 x 4 attacks */
    CHECK(jget(all, "per_attack", 3, "eer", "p") == 0.0);
    CHECK_NEAR(jget(all, "per_attack", 3, "eer", "holm_p"), 4.0 / 300.0, 1e-15);
    CHECK(jget(all, "per_attack", 0, "eer", "holm_p") == 1.0);
    json_decref(all);

    /* 2021 DF: a vocoder type's entry is sdd eval --ci on a key with only its trials and the bona fide ones */
    const char *dfk = DATA "asv21_df_key.txt", *dfs = DATA "asv21_df_scores.txt";
    CHECK(run("awk '{ $2 = $2 * 0.9 - 0.1; print }' %s > %s", dfs, T("dfb.txt")) == 0);
    CHECK(run("$SDD eval --key %s --scores %s --compare %s --ci 200 --ci-seed 3 -o %s", dfk, dfs, T("dfb.txt"), T("df.json")) == 0);
    CHECK_STR_CONTAINS(out, "\nper vocoder type: this - compared (");
    CHECK(run("awk '$6 == \"bonafide\" || $9 == \"traditional_vocoder\"' %s > %s", dfk, T("kvoc.txt")) == 0);
    char kv[256];
    snprintf(kv, sizeof kv, "%s", T("kvoc.txt"));
    CHECK(run("$SDD eval --key %s --scores %s --compare %s --ci 200 --ci-seed 3 -o %s", kv, dfs, T("dfb.txt"), T("dfone.json")) == 0);
    json_t *dfa = load(T("df.json")), *dfo = load(T("dfone.json"));
    CHECK(dfa && dfo);
    {
        json_t *e0 = json_array_get(json_object_get(json_object_get(dfa, "bootstrap"), "per_vocoder"), 0);
        CHECK(e0 && !strcmp(json_string_value(json_object_get(e0, "name")), "traditional_vocoder"));
        int same = 0, n = 0;
        static const char *const field[] = { "value", "lo", "hi", "diff", "diff_lo", "diff_hi", "p" };
        for (int m = 0; m < 2; m++)
            for (size_t f = 0; f < sizeof field / sizeof field[0]; f++) {
                const char *met = m ? "min_dcf" : "eer";
                const double x = jget(dfa, "per_vocoder", 0, met, field[f]), y = jget(dfo, NULL, 0, met, field[f]);
                n++;
                same += x == y && !isnan(x);
            }
        CHECK_MSG(same == n, "traditional_vocoder: %d of %d values equal sdd eval on its trials alone", same, n);
    }
    json_decref(dfa);
    json_decref(dfo);

    /* unpaired, --breakdown condition: the condition list only, values with intervals */
    CHECK(run("%s --scores " DATA "asv21_la_scores.txt --ci 100 --breakdown condition -o %s", ev, T("c.json")) == 0);
    CHECK_STR_CONTAINS(out, "\nper condition: value and 95% bootstrap interval, each condition's trials resampled on their own\n"
                            "condition           EER (%)                       minDCF\n");
    CHECK(!strstr(out, "per attack: value"));
    CHECK(run("grep -c '\"per_attack\": null' %s", T("c.json")) == 0);
    /* no --ci: no lists */
    CHECK(run("%s --scores " DATA "asv21_la_scores.txt", ev) == 0 && !strstr(out, "bootstrap interval"));
    /* ASVspoof 2019 CM scores with ASV scores: per attack, the t-DCF only pooled (one pooled ASV system) */
    CHECK(run("$SDD eval --scores " DATA "asv19_cm_scores.txt --asv-scores " DATA "asv19_asv_scores.txt --ci 100") == 0);
    CHECK_STR_CONTAINS(out, "attack      EER (%)                       minDCF                        min t-DCF\nA07 ");
    /* --allow-missing: an attack without any trial both scored has no interval */
    CHECK(run("awk 'NR == FNR { att[$2] = $5; next } att[$1] != \"A07\"' " DATA "asv21_la_key.txt %s > %s", T("b.txt"),
              T("m.txt")) == 0);
    CHECK(run("%s --scores " DATA "asv21_la_scores.txt --compare %s --allow-missing --ci 100 --breakdown attack", ev,
              T("m.txt")) == 0);
    CHECK_STR_CONTAINS(out, "Holm-adjusted over the 3 attacks\n");
    CHECK_STR_CONTAINS(out, "\nA07         -                                    -       -");
    CHECK_STR_CONTAINS(out, "\nA19         -12.1981 (");   /* p 0: Holm's bound 3 x 1/100 */
    CHECK_STR_CONTAINS(out, "   <0.01    0.03  -0.2246 (");
}

/* field of per_attack[i] (list NULL: "difference") in sdd compare's JSON */
static double cget(json_t *root, const char *list, int i, const char *metric, const char *field)
{
    json_t *x = list ? json_array_get(json_object_get(root, list), (size_t)i) : json_object_get(root, "difference");
    json_t *v = json_object_get(json_object_get(x, metric), field);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void test_compare(void)
{
    const char *key = DATA "asv21_la_key.txt", *a1 = DATA "asv21_la_scores.txt";
    /* A2 a rescaled copy; B1 with A19's scores raised, B2 with A10's */
    CHECK(run("awk '{ $2 = $2 * 1.1 + 0.05; print }' %s > %s && "
              "awk 'NR == FNR { att[$2] = $5; next } { if (att[$1] == \"A19\") $2 += 1.0; print }' %s %s > %s && "
              "awk 'NR == FNR { att[$2] = $5; next } { if (att[$1] == \"A10\") $2 += 0.5; print }' %s %s > %s",
              a1, T("a2.txt"), key, a1, T("b1.txt"), key, a1, T("b2.txt")) == 0);
    char files[1024];
    snprintf(files, sizeof files, "--a %s %s --b %s %s", a1, T("a2.txt"), T("b1.txt"), T("b2.txt"));
    CHECK(run("OMP_NUM_THREADS=3 $SDD compare --key %s %s --ci 300 --ci-seed 9 -o %s", key, files, T("cmp.json")) == 0);
    CHECK_STR_CONTAINS(out, "\nper attack: A - B, mean over the pairs, runs and trials resampled; p per attack, Holm-adjusted "
                            "over the 4 attacks, and with the trials only\n");
    CHECK_STR_CONTAINS(out, "\nper condition: A - B");
    CHECK_STR_CONTAINS(out, "\nA07         +0.0000 (+0.0000 .. +0.0000)         1       1       1");
    char first[65536];
    snprintf(first, sizeof first, "%s", out);
    CHECK(run("OMP_NUM_THREADS=1 $SDD compare --key %s %s --ci 300 --ci-seed 9", key, files) == 0);
    CHECK_MSG(!strcmp(first, out), "the thread count changed the output");
    json_t *all = load(T("cmp.json"));
    CHECK(all != NULL);
    /* A19 alone: the key's bona fide and A19 lines */
    CHECK(run("awk '$5 == \"bonafide\" || $5 == \"A19\"' %s > %s", key, T("k19.txt")) == 0);
    char k19[256];
    snprintf(k19, sizeof k19, "%s", T("k19.txt"));
    CHECK(run("$SDD compare --key %s %s --ci 300 --ci-seed 9 -o %s", k19, files, T("one.json")) == 0);
    json_t *one = load(T("one.json"));
    CHECK(one != NULL);
    static const char *const metric[2] = { "eer", "min_dcf" };
    static const char *const field[] = { "mean_a", "mean_b", "diff", "lo", "hi", "p", "trials_only_lo", "trials_only_hi", "trials_only_p" };
    int same = 0, n = 0;
    for (int m = 0; m < 2; m++)
        for (size_t f = 0; f < sizeof field / sizeof field[0]; f++) {
            const double x = cget(all, "per_attack", 3, metric[m], field[f]), y = cget(one, NULL, 0, metric[m], field[f]);
            n++;
            same += x == y && !isnan(x);
            if (x != y) fprintf(stderr, "compare A19 %s %s: %a vs %a\n", metric[m], field[f], x, y);
        }
    CHECK_MSG(same == n, "%d of %d values of A19 equal sdd compare on its trials alone", same, n);
    /* Holm: the named entries' p times up to 4, never below p; the pooled entry's own */
    int holm_ok = 1;
    for (int i = 0; i < 4; i++) {
        const double p = cget(all, "per_attack", i, "eer", "p"), h = cget(all, "per_attack", i, "eer", "holm_p");
        holm_ok &= h >= p && h <= 1.0 && h <= 4.0 * (p > 1.0 / 300 ? p : 1.0 / 300) + 1e-15;
    }
    CHECK(holm_ok);
    CHECK(cget(all, "per_attack", 4, "eer", "holm_p") == cget(all, "per_attack", 4, "eer", "p"));
    CHECK(cget(all, "per_attack", 4, "eer", "diff") == cget(all, NULL, 0, "eer", "diff"));
    json_decref(one);
    json_decref(all);

    /* one pair, with the keyed 2021 ASV scores: the trials-only values of the whole set and of
     * each attack, the min t-DCF with its cell's coefficients included, are sdd eval --compare's */
    const char *asv = "--asv-scores " DATA "asv21_la_asv_scores.txt --asv-key " DATA "asv21_la_asv_key.txt";
    CHECK(run("$SDD compare --key %s %s --a %s --b %s --ci 200 --ci-seed 4 --breakdown attack -o %s", key, asv, a1,
              T("b1.txt"), T("c1.json")) == 0);
    CHECK(!strstr(out, "per condition"));
    CHECK_STR_CONTAINS(out, ", min t-DCF 0.");
    CHECK_STR_CONTAINS(out, "\n  min t-DCF  -0.");
    CHECK(run("$SDD eval --key %s %s --scores %s --compare %s --ci 200 --ci-seed 4 -o %s", key, asv, a1, T("b1.txt"),
              T("e1.json")) == 0);
    json_t *c1 = load(T("c1.json")), *e1 = load(T("e1.json"));
    CHECK(c1 && e1);
    static const char *const metric3[3] = { "eer", "min_dcf", "min_tdcf" };
    same = n = 0;
    for (int i = -1; i < 5; i++)
        for (int m = 0; m < 3; m++) {
            const char *cl = i < 0 ? NULL : "per_attack", *el = i < 0 ? NULL : "per_attack";
            const int k = i < 0 ? 0 : i;
            const double x[3] = { cget(c1, cl, k, metric3[m], "trials_only_lo"), cget(c1, cl, k, metric3[m], "trials_only_hi"),
                                  cget(c1, cl, k, metric3[m], "trials_only_p") };
            const double y[3] = { jget(e1, el, k, metric3[m], "diff_lo"), jget(e1, el, k, metric3[m], "diff_hi"),
                                  jget(e1, el, k, metric3[m], "p") };
            for (int q = 0; q < 3; q++) {
                n++;
                same += x[q] == y[q] && !isnan(x[q]);
                if (x[q] != y[q]) fprintf(stderr, "one pair, entry %d, %s, value %d: %a vs %a\n", i, metric3[m], q, x[q], y[q]);
            }
        }
    CHECK_MSG(same == n, "%d of %d values of sdd compare (one pair) equal sdd eval --compare's", same, n);
    /* the attacks' own coefficients: A07's min t-DCF is not the pooled coefficients' value */
    CHECK(cget(c1, "per_attack", 0, "min_tdcf", "mean_a") != cget(c1, "per_attack", 4, "min_tdcf", "mean_a"));
    json_decref(c1);
    json_decref(e1);
    /* 2021 DF, one pair: each vocoder type's trials-only values are sdd eval --compare's */
    const char *dfk = DATA "asv21_df_key.txt", *dfs = DATA "asv21_df_scores.txt";
    CHECK(run("awk 'NR == FNR { v[$2] = $9; next } { if (v[$1] == \"neural_vocoder_autoregressive\") $2 += 0.7; print }' "
              "%s %s > %s", dfk, dfs, T("dfb.txt")) == 0);
    CHECK(run("$SDD compare --key %s --a %s --b %s --ci 200 --ci-seed 6 -o %s", dfk, dfs, T("dfb.txt"), T("dfc.json")) == 0);
    CHECK_STR_CONTAINS(out, "\nper vocoder type: A - B, mean over the pairs");
    CHECK(run("$SDD eval --key %s --scores %s --compare %s --ci 200 --ci-seed 6 -o %s", dfk, dfs, T("dfb.txt"), T("dfe.json")) == 0);
    json_t *dc = load(T("dfc.json")), *de = load(T("dfe.json"));
    CHECK(dc && de);
    same = n = 0;
    for (int i = 0; i < 6; i++)
        for (int m = 0; m < 2; m++) {
            n += 3;
            same += cget(dc, "per_vocoder", i, metric[m], "trials_only_lo") == jget(de, "per_vocoder", i, metric[m], "diff_lo");
            same += cget(dc, "per_vocoder", i, metric[m], "trials_only_hi") == jget(de, "per_vocoder", i, metric[m], "diff_hi");
            same += cget(dc, "per_vocoder", i, metric[m], "trials_only_p") == jget(de, "per_vocoder", i, metric[m], "p");
        }
    CHECK_MSG(same == n, "%d of %d per-vocoder values of sdd compare (one pair) equal sdd eval --compare's", same, n);
    CHECK(cget(dc, "per_vocoder", 2, "eer", "diff") < 0);   /* neural_vocoder_autoregressive: B raised its spoofs */
    json_decref(dc);
    json_decref(de);
    /* --breakdown none: no lists; a bad value: a usage error */
    CHECK(run("$SDD compare --key %s --a %s --b %s --ci 50 --breakdown none -o %s", key, a1, T("b1.txt"), T("n.json")) == 0);
    CHECK(!strstr(out, "per attack") && !strstr(out, "per condition"));
    CHECK(run("grep -c '\"per_attack\": null' %s", T("n.json")) == 0);
    CHECK(run("$SDD compare --key %s --a %s --b %s --breakdown codec", key, a1, T("b1.txt")) == 2);
    CHECK(cli_one_line(out) && strstr(out, "is not attack, condition, both or none"));
    /* the ASV options' usage errors, as sdd eval's */
    CHECK(run("$SDD compare --key %s --a %s --b %s --tdcf 2019", key, a1, T("b1.txt")) == 2);
    CHECK(cli_one_line(out) && strstr(out, "sdd compare: --tdcf needs --asv-scores, --asv-c012 or --asv-rates"));
    CHECK(run("$SDD compare --key %s --a %s --b %s --asv-rates x", key, a1, T("b1.txt")) == 2);
    CHECK(cli_one_line(out) && strstr(out, "--asv-rates: 'x' is not asvspoof5"));
    CHECK(run("$SDD compare --key %s --a %s --b %s --asv-scores -", key, a1, T("b1.txt")) == 2 && cli_one_line(out));
    CHECK(run("$SDD compare --key %s --a %s --b %s --asv-scores %s/none.txt", key, a1, T("b1.txt"), tmp) == 1);
    CHECK(cli_one_line(out) && strstr(out, "none.txt"));
}

/* sdd_boot_runs_subset keeping every trial: sdd_boot_runs */
static void test_runs_subset(void)
{
    enum { N = 200, S = 3 };
    double sc[2 * S][N];
    unsigned char lab[N], all[N];
    const uint64_t key = sdd_rng_key(8, 0, 0, 0);
    for (int i = 0; i < N; i++) {
        lab[i] = sdd_rng_uniform_d(key, (uint64_t)i) < 0.5;
        all[i] = 1;
        for (int x = 0; x < 2 * S; x++)
            sc[x][i] = (lab[i] ? 1.0 : 0.0) + sdd_rng_normal(sdd_rng_key(8, (uint64_t)x + 1, 0, 0), (uint64_t)i);
    }
    sdd_sorted runs[2 * S];
    int64_t ident[N];
    const sdd_sorted *a[S], *b[S];
    const int64_t *ma[S], *mb[S];
    sdd_err e;
    for (int i = 0; i < N; i++) ident[i] = i;
    for (int x = 0; x < 2 * S; x++) CHECK(sdd_sorted_init(&runs[x], sc[x], lab, N, &e) == 0);
    for (int s = 0; s < S; s++) { a[s] = &runs[s]; b[s] = &runs[S + s]; ma[s] = mb[s] = ident; }
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    sdd_boot_params p = { .reps = 150, .level = 0.9, .seed = 2, .dcf = &dc };
    static sdd_boot_runs_result r1, r2;
    CHECK(sdd_boot_runs_subset(a, b, S, ma, mb, all, &p, &r1, &e) == 0 && sdd_boot_runs(a, b, S, ma, mb, &p, &r2, &e) == 0);
    CHECK(same_d(r1.lo, r2.lo, NM) && same_d(r1.hi, r2.hi, NM) && same_d(r1.p, r2.p, NM) && same_d(r1.lo_t, r2.lo_t, NM) &&
          same_d(r1.p_t, r2.p_t, NM) && same_d(r1.diff, r2.diff, NM) && r1.has[0] && r1.has[1]);
    for (int x = 0; x < 2 * S; x++) sdd_sorted_free(&runs[x]);
}

int main(void)
{
    test_subset();
    test_holm();
    test_reports();
    test_runs_subset();
    const char *bin = cli_bin();
    if (!cli_exists(bin)) printf("SKIP test_boot_lists' command-line checks: needs %s (run make)\n", bin);
    else {
        snprintf(tmp, sizeof tmp, "/tmp/sdd-test-boot-lists-%d", (int)getpid());
        mkdir(tmp, 0700);
        test_cli();
        test_compare();
        run("rm -rf %s", tmp);
    }
    return CHECK_DONE("test_boot_lists");
}
