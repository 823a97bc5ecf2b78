/* Tests of the EER bootstrap (src/metrics/bootstrap.c) and sdd eval's --ci /
 * --compare, run from the repository root:
 *   - against tools/reference/bootstrap_ref.py (tests/data/metrics/
 *     bootstrap.txt): each numpy-drawn replicate's EER from its counts, and
 *     numpy.quantile of the replicate EERs and paired differences, bit for bit;
 *   - the EER of a multiset equals the EER of the materialised trials (index
 *     and threshold too), counts of 1 the plain EER;
 *   - replicates independent of the thread count; a system against itself;
 *     the interval's coverage of a known EER over simulated evaluation sets;
 *   - pairing by ID, and the command line with its bad-input contract. */
#include "check.h"
#include "cli_run.h"
#include "core/rng.h"
#include "metrics/bootstrap.h"
#include "metrics/evaluate.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA "tests/data/metrics/"
#define MAXN 256
#define MAXR 64

static char out[65536];
static char tmp[256];
#define run(...) cli_run(out, sizeof out, __VA_ARGS__)
static const char *T(const char *name) { return check_tmp_path(tmp, name); }

typedef struct {
    int n, reps, nq;
    unsigned char lab[MAXN];
    double a[MAXN], b[MAXN];
    uint32_t cnt[MAXR][MAXN];
    double ea[MAXR], eb[MAXR], dcf[MAXR], t21[MAXR], t19[MAXR];   /* NaN: not soft */
    double q[16], qa[16], qd[16];
    sdd_tdcf_coef k21, k19;
} fixture;

/* a hex float, or "none" as NaN */
static double num_or_none(char *p, char **end)
{
    while (*p == ' ') p++;
    if (!strncmp(p, "none", 4)) { *end = p + 4; return NAN; }
    return strtod(p, end);
}

static int load_fixture(fixture *f)
{
    FILE *fp = fopen(DATA "bootstrap.txt", "r");
    if (!fp) return -1;
    memset(f, 0, sizeof *f);
    static char line[8192];
    int nt = 0;
    while (fgets(line, sizeof line, fp)) {
        char *p = line, *end;
        if (!strncmp(line, "trials ", 7)) f->n = atoi(line + 7);
        else if (!strncmp(line, "tdcf2021 ", 9) || !strncmp(line, "tdcf2019 ", 9)) {
            sdd_tdcf_coef *k = line[7] == '1' ? &f->k21 : &f->k19;
            k->form = line[7] == '1' ? SDD_TDCF_2021 : SDD_TDCF_2019;
            k->c0 = strtod(p + 9, &end);
            k->c1 = strtod(end, &end);
            k->c2 = strtod(end, NULL);
        }
        else if (!strncmp(line, "t ", 2) && nt < MAXN) {
            f->lab[nt] = (unsigned char)strtol(p + 2, &end, 10);
            f->a[nt] = strtod(end, &end);
            f->b[nt] = strtod(end, NULL);
            nt++;
        } else if (!strncmp(line, "rep ", 4) && f->reps < MAXR) {
            f->ea[f->reps] = strtod(p + 4, &end);
            f->eb[f->reps] = strtod(end, &end);
            f->dcf[f->reps] = strtod(end, &end);
            f->t21[f->reps] = num_or_none(end, &end);
            f->t19[f->reps] = num_or_none(end, &end);
            for (int i = 0; i < f->n && i < MAXN; i++) f->cnt[f->reps][i] = (uint32_t)strtoul(end, &end, 10);
            f->reps++;
        } else if (!strncmp(line, "q ", 2) && f->nq < 16) {
            f->q[f->nq] = strtod(p + 2, &end);
            f->qa[f->nq] = strtod(end, &end);
            f->qd[f->nq] = strtod(end, NULL);
            f->nq++;
        }
    }
    fclose(fp);
    return f->n == nt && f->n > 0 && f->n <= MAXN && f->reps > 0 && f->nq > 0 ? 0 : -1;
}

static int cmp_d(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void test_reference(void)
{
    static fixture f;
    CHECK_MSG(load_fixture(&f) == 0, "cannot read " DATA "bootstrap.txt (run from the repository root)");
    if (f.n == 0) return;
    sdd_sorted sa, sb;
    sdd_err e;
    CHECK(sdd_sorted_init(&sa, f.a, f.lab, f.n, &e) == 0);
    CHECK(sdd_sorted_init(&sb, f.b, f.lab, f.n, &e) == 0);
    int same = 0, same_dcf = 0, hard = 0;
    double ea[MAXR], d[MAXR];
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    CHECK(f.k21.form == SDD_TDCF_2021 && f.k19.form == SDD_TDCF_2019);
    for (int k = 0; k < f.reps; k++) {
        sdd_eer_result ra, rb;
        CHECK(sdd_eer_counts(&sa, f.cnt[k], &ra, &e) == 0 && sdd_eer_counts(&sb, f.cnt[k], &rb, &e) == 0);
        same += ra.eer == f.ea[k] && rb.eer == f.eb[k];
        if (ra.eer != f.ea[k] || rb.eer != f.eb[k])
            fprintf(stderr, "replicate %d: %a %a vs numpy %a %a\n", k, ra.eer, rb.eer, f.ea[k], f.eb[k]);
        /* minDCF and both t-DCF forms from the same counts */
        sdd_count_metrics m21, m19;
        CHECK(sdd_metrics_counts(&sa, f.cnt[k], &dc, &f.k21, &m21, &e) == 0 &&
              sdd_metrics_counts(&sa, f.cnt[k], &dc, &f.k19, &m19, &e) == 0);
        const int t_ok = (isnan(f.t21[k]) ? isnan(m21.v[SDD_BOOT_TDCF]) : m21.v[SDD_BOOT_TDCF] == f.t21[k]) &&
                         (isnan(f.t19[k]) ? isnan(m19.v[SDD_BOOT_TDCF]) : m19.v[SDD_BOOT_TDCF] == f.t19[k]);
        same_dcf += m21.v[SDD_BOOT_MINDCF] == f.dcf[k] && m19.v[SDD_BOOT_MINDCF] == f.dcf[k] && t_ok &&
                    m21.v[SDD_BOOT_EER] == f.ea[k];
        hard += isnan(f.t21[k]);
        if (!t_ok || m21.v[SDD_BOOT_MINDCF] != f.dcf[k])
            fprintf(stderr, "replicate %d: minDCF %a t-DCF %a %a vs numpy %a %a %a\n", k, m21.v[SDD_BOOT_MINDCF],
                    m21.v[SDD_BOOT_TDCF], m19.v[SDD_BOOT_TDCF], f.dcf[k], f.t21[k], f.t19[k]);
        ea[k] = f.ea[k];
        d[k] = f.ea[k] - f.eb[k];
    }
    CHECK_MSG(same == f.reps, "%d of %d replicate EERs equal numpy's", same, f.reps);
    CHECK_MSG(same_dcf == f.reps, "%d of %d replicates' minDCF and min t-DCF equal numpy's", same_dcf, f.reps);
    CHECK(hard == 0);   /* the fixture's scores are soft in every replicate */
    qsort(ea, (size_t)f.reps, sizeof *ea, cmp_d);
    qsort(d, (size_t)f.reps, sizeof *d, cmp_d);
    for (int i = 0; i < f.nq; i++) {
        const double qa = sdd_quantile_sorted(ea, f.reps, f.q[i]), qd = sdd_quantile_sorted(d, f.reps, f.q[i]);
        CHECK_MSG(qa == f.qa[i] && qd == f.qd[i], "q %g: %a %a vs numpy %a %a", f.q[i], qa, qd, f.qa[i], f.qd[i]);
    }
    /* counts of 1: the plain EER */
    uint32_t one[MAXN];
    for (int i = 0; i < f.n; i++) one[i] = 1;
    sdd_eer_result r1, r0;
    CHECK(sdd_eer_counts(&sa, one, &r1, &e) == 0 && sdd_eer_sorted(&sa, NULL, &r0, &e) == 0);
    CHECK(r1.eer == r0.eer && r1.threshold == r0.threshold && r1.index == r0.index && r1.npos == r0.npos);
    /* nothing of one class: the same error as the plain EER */
    uint32_t zero_b[MAXN];
    for (int i = 0; i < f.n; i++) zero_b[i] = f.lab[i] ? 0 : 2;
    CHECK(sdd_eer_counts(&sa, zero_b, &r1, &e) == -1 && strstr(e.msg, "no bona fide trials"));
    sdd_sorted_free(&sa);
    sdd_sorted_free(&sb);
}

/* random multisets of tied scores: the metrics from counts = those of the copies */
static void test_materialised(void)
{
    enum { N = 60 };
    double sc[N], big[N * 4];
    unsigned char lab[N], blab[N * 4];
    uint32_t cnt[N];
    int agree = 0, cases = 0, hard = 0;
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    const sdd_tdcf_coef k21 = { SDD_TDCF_2021, 0.0186, 0.9219, 0.2188 }, k19 = { SDD_TDCF_2019, 0.0, 0.8, 0.37 };
    for (int c = 0; c < 300; c++) {
        const uint64_t key = sdd_rng_key(77, (uint64_t)c, 0, 0);
        /* every tenth set with 2 distinct scores: the t-DCF is undefined there */
        const double levels = c % 10 == 0 ? 1.0 : 8.0;
        for (int i = 0; i < N; i++) {
            lab[i] = sdd_rng_uniform_d(key, 3 * (uint64_t)i) < 0.4;
            sc[i] = floor(levels * sdd_rng_uniform_d(key, 3 * (uint64_t)i + 1)) + (lab[i] ? 1 : 0);
            cnt[i] = (uint32_t)(4.0 * sdd_rng_uniform_d(key, 3 * (uint64_t)i + 2));
        }
        int m = 0;
        for (int i = 0; i < N; i++)
            for (uint32_t t = 0; t < cnt[i]; t++) { big[m] = sc[i]; blab[m] = lab[i]; m++; }
        sdd_sorted s, sm;
        sdd_err e1, e2, e3;
        if (sdd_sorted_init(&s, sc, lab, N, &e1) || sdd_sorted_init(&sm, big, blab, m, &e2)) { CHECK(0); continue; }
        for (int f = 0; f < 2; f++) {
            const sdd_tdcf_coef *tk = f ? &k19 : &k21;
            sdd_count_metrics r;
            sdd_eer_result rm;
            sdd_dcf_result dm;
            sdd_tdcf_result tm;
            const int a = sdd_metrics_counts(&s, cnt, &dc, tk, &r, &e1), b = sdd_eer_sorted(&sm, NULL, &rm, &e2);
            cases++;
            if (a || b) { agree += a == b && !strcmp(e1.msg, e2.msg); continue; }
            const int dok = sdd_dcf_sorted(&sm, NULL, &dc, &dm, &e2) == 0;
            const int tok = sdd_min_tdcf_sorted(&sm, NULL, tk, &tm, &e3) == 0;
            hard += !tok;
            agree += r.eer.eer == rm.eer && r.eer.threshold == rm.threshold && r.eer.index == rm.index &&
                     r.eer.npos == rm.npos && r.eer.nneg == rm.nneg && r.eer.frr == rm.frr && r.v[SDD_BOOT_EER] == rm.eer &&
                     dok && r.v[SDD_BOOT_MINDCF] == dm.min_dcf &&
                     (tok ? r.v[SDD_BOOT_TDCF] == tm.min_tdcf : isnan(r.v[SDD_BOOT_TDCF]) && strstr(e3.msg, "soft"));
        }
        sdd_sorted_free(&s);
        sdd_sorted_free(&sm);
    }
    CHECK_MSG(agree == cases && cases == 600, "%d of %d multisets agree with their materialised trials", agree, cases);
    CHECK_MSG(hard >= 40, "%d multisets with hard scores (the t-DCF's undefined case)", hard);
}

static void gauss_set(uint64_t key, int nb, int ns, double dprime, double *sc, unsigned char *lab)
{
    for (int i = 0; i < nb + ns; i++) {
        lab[i] = i < nb;
        sc[i] = sdd_rng_normal(key, (uint64_t)i) + (i < nb ? dprime : 0.0);
    }
}

enum { E = SDD_BOOT_EER, D = SDD_BOOT_MINDCF, TD = SDD_BOOT_TDCF };

static void test_boot(void)
{
    enum { NB = 150, NS = 250 };
    double sc[NB + NS], sc2[NB + NS];
    unsigned char lab[NB + NS];
    gauss_set(sdd_rng_key(5, 0, 0, 0), NB, NS, 2.0, sc, lab);
    for (int i = 0; i < NB + NS; i++) sc2[i] = sc[i] + 0.9 * sdd_rng_normal(sdd_rng_key(6, 0, 0, 0), (uint64_t)i);
    sdd_sorted s, s2;
    sdd_err e;
    CHECK(sdd_sorted_init(&s, sc, lab, NB + NS, &e) == 0 && sdd_sorted_init(&s2, sc2, lab, NB + NS, &e) == 0);
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    const sdd_tdcf_coef k21 = { SDD_TDCF_2021, 0.0186, 0.9219, 0.2188 };
    sdd_boot_params p = { .reps = 500, .level = 0.95, .seed = 42, .dcf = &dc, .tdcf = &k21 };
    sdd_boot_result r1, r2, r3;
    const int nthr = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r1, &e) == 0);
    omp_set_num_threads(3);
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r2, &e) == 0);
    omp_set_num_threads(nthr);
    CHECK(!memcmp(r1.lo, r2.lo, sizeof r1.lo) && !memcmp(r1.hi, r2.hi, sizeof r1.hi));
    sdd_eer_result pe;
    sdd_dcf_result pd;
    sdd_tdcf_result pt;
    CHECK(sdd_eer_sorted(&s, NULL, &pe, &e) == 0 && sdd_dcf_sorted(&s, NULL, &dc, &pd, &e) == 0 &&
          sdd_min_tdcf_sorted(&s, NULL, &k21, &pt, &e) == 0);
    CHECK(r1.est[E] == pe.eer && r1.est[D] == pd.min_dcf && r1.est[TD] == pt.min_tdcf);
    CHECK(r1.has[E] && r1.has[D] && r1.has[TD] && r1.tdcf_hard == 0);
    for (int m = 0; m < SDD_BOOT_NMETRIC; m++)
        CHECK_MSG(r1.lo[m] < r1.est[m] && r1.est[m] < r1.hi[m], "metric %d: %g, CI %g .. %g", m, r1.est[m], r1.lo[m], r1.hi[m]);
    CHECK(r1.hi[E] - r1.lo[E] < 0.15);
    CHECK(r1.n_bona == NB && r1.n_spoof == NS && !r1.paired);
    p.seed = 43;
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r3, &e) == 0 && (r3.lo[E] != r1.lo[E] || r3.hi[E] != r1.hi[E]));
    /* a wider level, a wider interval, from the same replicates */
    p.seed = 42;
    p.level = 0.99;
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r3, &e) == 0 && r3.lo[E] <= r1.lo[E] && r3.hi[E] >= r1.hi[E] &&
          r3.lo[D] <= r1.lo[D] && r3.hi[D] >= r1.hi[D]);
    p.level = 0.95;
    /* without costs or coefficients: the EER alone */
    p.dcf = NULL;
    p.tdcf = NULL;
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r3, &e) == 0 && r3.has[E] && !r3.has[D] && !r3.has[TD] &&
          r3.lo[E] == r1.lo[E] && r3.hi[E] == r1.hi[E]);
    p.dcf = &dc;
    p.tdcf = &k21;

    /* paired: against itself, every difference 0 */
    int64_t b_of_a[NB + NS], ua, ub;
    for (int i = 0; i < NB + NS; i++) b_of_a[i] = i;
    CHECK(sdd_boot_run(&s, &s, b_of_a, &p, &r3, &e) == 0);
    for (int m = 0; m < SDD_BOOT_NMETRIC; m++)
        CHECK(r3.paired && r3.has[m] && r3.diff[m] == 0 && r3.diff_lo[m] == 0 && r3.diff_hi[m] == 0 && r3.p[m] == 1.0 &&
              r3.n_le[m] == 500 && r3.n_ge[m] == 500 && r3.lo[m] == r1.lo[m] && r3.hi[m] == r1.hi[m] &&
              r3.lo_b[m] == r1.lo[m]);
    /* against a noisier system: every difference negative and significant */
    CHECK(sdd_boot_run(&s, &s2, b_of_a, &p, &r3, &e) == 0);
    for (int m = 0; m < SDD_BOOT_NMETRIC; m++)
        CHECK_MSG(r3.diff[m] < 0 && r3.diff_hi[m] < 0 && r3.p[m] < 0.05 && r3.est_b[m] > r3.est[m] &&
                  r3.diff[m] == r3.est[m] - r3.est_b[m],
                  "metric %d: diff %g CI %g .. %g p %g", m, r3.diff[m], r3.diff_lo[m], r3.diff_hi[m], r3.p[m]);
    /* pairing over a subset */
    for (int i = 0; i < 10; i++) b_of_a[i] = -1;
    CHECK(sdd_boot_run(&s, &s2, b_of_a, &p, &r3, &e) == 0 && r3.n_bona == NB - 10 && r3.n_spoof == NS);

    /* bad parameters */
    p.reps = 0;
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r3, &e) == -1 && strstr(e.msg, "replicates"));
    p.reps = 10;
    p.level = 1.0;
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r3, &e) == -1 && strstr(e.msg, "level"));
    p.level = NAN;
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r3, &e) == -1 && strstr(e.msg, "level"));
    p.level = 0.95;
    for (int i = 0; i < NB; i++) b_of_a[i] = -1;
    CHECK(sdd_boot_run(&s, &s2, b_of_a, &p, &r3, &e) == -1 && strstr(e.msg, "no bona fide trials scored by both"));

    /* pairing by ID: b's trials in reverse order */
    const char *ida[NB + NS], *idb[NB + NS];
    static char names[NB + NS][16];
    for (int i = 0; i < NB + NS; i++) {
        snprintf(names[i], sizeof names[i], "T_%04d", i);
        ida[i] = names[i];
        idb[NB + NS - 1 - i] = names[i];
    }
    double rsc[NB + NS];
    unsigned char rlab[NB + NS];
    for (int i = 0; i < NB + NS; i++) { rsc[NB + NS - 1 - i] = sc2[i]; rlab[NB + NS - 1 - i] = lab[i]; }
    sdd_sorted sr;
    CHECK(sdd_sorted_init(&sr, rsc, rlab, NB + NS, &e) == 0);
    CHECK(sdd_boot_pair(&s, ida, &sr, idb, b_of_a, &ua, &ub, &e) == 0 && ua == 0 && ub == 0);
    int ok = 1;
    for (int i = 0; i < NB + NS; i++) ok &= b_of_a[i] == NB + NS - 1 - i;
    CHECK(ok);
    sdd_boot_result rr, rd;
    CHECK(sdd_boot_run(&s, &sr, b_of_a, &p, &rr, &e) == 0);
    for (int i = 0; i < NB + NS; i++) b_of_a[i] = i;
    CHECK(sdd_boot_run(&s, &s2, b_of_a, &p, &rd, &e) == 0);
    CHECK(!memcmp(rr.diff, rd.diff, sizeof rr.diff) && !memcmp(rr.diff_lo, rd.diff_lo, sizeof rr.diff_lo) &&
          !memcmp(rr.diff_hi, rd.diff_hi, sizeof rr.diff_hi) && !memcmp(rr.p, rd.p, sizeof rr.p));
    /* an unmatched ID on each side, a label that differs, an ID twice */
    idb[0] = "elsewhere";
    CHECK(sdd_boot_pair(&s, ida, &sr, idb, b_of_a, &ua, &ub, &e) == 0 && ua == 1 && ub == 1 && b_of_a[NB + NS - 1] == -1);
    idb[0] = names[NB + NS - 1];
    rlab[0] = !rlab[0];
    sdd_sorted_free(&sr);
    CHECK(sdd_sorted_init(&sr, rsc, rlab, NB + NS, &e) == 0);
    CHECK(sdd_boot_pair(&s, ida, &sr, idb, b_of_a, &ua, &ub, &e) == -1 && strstr(e.msg, names[NB + NS - 1]) &&
          strstr(e.msg, "in the other"));
    idb[1] = idb[2];
    CHECK(sdd_boot_pair(&s, ida, &sr, idb, b_of_a, &ua, &ub, &e) == -1 && strstr(e.msg, "scored twice"));
    sdd_sorted_free(&sr);
    sdd_sorted_free(&s);
    sdd_sorted_free(&s2);

    /* hard scores in some replicates: no t-DCF interval, the count said */
    double hs[40];
    unsigned char hl[40];
    for (int i = 0; i < 40; i++) { hl[i] = i < 4; hs[i] = i < 4 ? 1.0 : i < 38 ? 0.0 : 0.5; }
    CHECK(sdd_sorted_init(&s, hs, hl, 40, &e) == 0);
    p.reps = 200;
    CHECK(sdd_boot_run(&s, NULL, NULL, &p, &r3, &e) == 0);
    CHECK_MSG(!isnan(r3.est[TD]) && !r3.has[TD] && r3.tdcf_hard > 0 && r3.tdcf_hard < 200 && r3.has[E] && r3.has[D],
              "t-DCF %g has %d, %lld replicates undefined", r3.est[TD], r3.has[TD], (long long)r3.tdcf_hard);
    sdd_sorted_free(&s);
}

/* Over 200 simulated evaluation sets with a known EER (equal-variance
 * Gaussians d' = 2 apart: EER = Phi(-1)), the 90% interval should cover it
 * about 90% of the time; a bootstrap that does not resample (or resamples
 * the wrong trials) covers it far less or always. */
static void test_coverage(void)
{
    enum { NB = 200, NS = 300, SETS = 200 };
    const double truth = 0.5 * erfc(1.0 / sqrt(2.0));
    double sc[NB + NS];
    unsigned char lab[NB + NS];
    int covered = 0;
    double width = 0;
    for (int k = 0; k < SETS; k++) {
        gauss_set(sdd_rng_key(1000, (uint64_t)k, 0, 0), NB, NS, 2.0, sc, lab);
        sdd_sorted s;
        sdd_err e;
        sdd_boot_result r;
        sdd_boot_params p = { .reps = 300, .level = 0.90, .seed = (uint64_t)k };
        if (sdd_sorted_init(&s, sc, lab, NB + NS, &e) || sdd_boot_run(&s, NULL, NULL, &p, &r, &e)) { CHECK(0); break; }
        covered += r.lo[E] <= truth && truth <= r.hi[E];
        width += r.hi[E] - r.lo[E];
        sdd_sorted_free(&s);
    }
    printf("coverage of the 90%% interval: %d of %d sets, mean width %.4f (EER %.4f)\n", covered, SETS, width / SETS, truth);
    CHECK_MSG(covered >= 160 && covered <= 196, "90%% interval covered the true EER in %d of %d sets", covered, SETS);
}

/* several runs per system (sdd_boot_runs) */
static void test_runs(void)
{
    enum { NB = 120, NS = 200, N = NB + NS };
    static double sc[4][N];
    unsigned char lab[N];
    /* a0, a1: one system's two runs; b0, b1: a noisier system's */
    gauss_set(sdd_rng_key(9, 0, 0, 0), NB, NS, 2.0, sc[0], lab);
    for (int i = 0; i < N; i++) {
        sc[1][i] = sc[0][i] + 0.3 * sdd_rng_normal(sdd_rng_key(9, 1, 0, 0), (uint64_t)i);
        sc[2][i] = sc[0][i] + 1.0 * sdd_rng_normal(sdd_rng_key(9, 2, 0, 0), (uint64_t)i);
        sc[3][i] = sc[0][i] + 1.1 * sdd_rng_normal(sdd_rng_key(9, 3, 0, 0), (uint64_t)i);
    }
    sdd_sorted st[4];
    sdd_err e;
    for (int k = 0; k < 4; k++) CHECK(sdd_sorted_init(&st[k], sc[k], lab, N, &e) == 0);
    int64_t id[N];
    for (int i = 0; i < N; i++) id[i] = i;
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    sdd_boot_params p = { .reps = 400, .level = 0.95, .seed = 11, .dcf = &dc };
    sdd_boot_runs_result r, r2;
    sdd_boot_result pr;

    /* one pair: both statistics are the paired bootstrap of sdd eval --compare, bit for bit */
    const sdd_sorted *a1[1] = { &st[0] }, *b1[1] = { &st[2] };
    const int64_t *m1[1] = { id };
    CHECK(sdd_boot_runs(a1, b1, 1, m1, m1, &p, &r, &e) == 0);
    CHECK(sdd_boot_run(&st[0], &st[2], id, &p, &pr, &e) == 0);
    for (int m = 0; m < 2; m++)
        CHECK_MSG(r.has[m] && r.diff[m] == pr.diff[m] && r.lo[m] == pr.diff_lo[m] && r.hi[m] == pr.diff_hi[m] &&
                  r.p[m] == pr.p[m] && r.lo_t[m] == pr.diff_lo[m] && r.hi_t[m] == pr.diff_hi[m] && r.p_t[m] == pr.p[m],
                  "metric %d: runs %a %a %a, paired %a %a %a", m, r.diff[m], r.lo[m], r.hi[m], pr.diff[m], pr.diff_lo[m], pr.diff_hi[m]);
    CHECK(!r.has[SDD_BOOT_TDCF] && r.runs == 1 && r.n_bona == NB && r.n_spoof == NS);

    /* two pairs, the second's trials in reverse input order (the IDs map them):
     * the same as in input order; thread count: no difference */
    static double rev[2][N];
    unsigned char rlab[N];
    int64_t rmap[N];
    for (int i = 0; i < N; i++) {
        rev[0][N - 1 - i] = sc[1][i];
        rev[1][N - 1 - i] = sc[3][i];
        rlab[N - 1 - i] = lab[i];
        rmap[i] = N - 1 - i;
    }
    sdd_sorted sr[2];
    CHECK(sdd_sorted_init(&sr[0], rev[0], rlab, N, &e) == 0 && sdd_sorted_init(&sr[1], rev[1], rlab, N, &e) == 0);
    const sdd_sorted *a2[2] = { &st[0], &st[1] }, *b2[2] = { &st[2], &st[3] };
    const sdd_sorted *a2r[2] = { &st[0], &sr[0] }, *b2r[2] = { &st[2], &sr[1] };
    const int64_t *m2[2] = { id, id }, *m2r[2] = { id, rmap };
    const int nthr = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(sdd_boot_runs(a2, b2, 2, m2, m2, &p, &r, &e) == 0);
    omp_set_num_threads(3);
    CHECK(sdd_boot_runs(a2r, b2r, 2, m2r, m2r, &p, &r2, &e) == 0);
    omp_set_num_threads(nthr);
    CHECK(!memcmp(r.lo, r2.lo, sizeof r.lo) && !memcmp(r.hi, r2.hi, sizeof r.hi) && !memcmp(r.p, r2.p, sizeof r.p) &&
          !memcmp(r.lo_t, r2.lo_t, sizeof r.lo_t) && !memcmp(r.p_t, r2.p_t, sizeof r.p_t) && r.diff[0] == r2.diff[0]);
    /* A is better in both pairs: negative, significant, and resampling the
     * pairs widens the interval or leaves it */
    sdd_eer_result e0, e2;
    CHECK(sdd_eer_sorted(&st[0], NULL, &e0, &e) == 0 && sdd_eer_sorted(&st[2], NULL, &e2, &e) == 0);
    CHECK(r.a[0][SDD_BOOT_EER] == e0.eer && r.b[0][SDD_BOOT_EER] == e2.eer);
    CHECK(r.diff[0] == r.mean_a[0] - r.mean_b[0] && r.mean_a[0] == (r.a[0][0] + r.a[1][0]) / 2);
    CHECK_MSG(r.diff[0] < 0 && r.hi_t[0] < 0 && r.p_t[0] < 0.05 && r.lo[0] <= r.lo_t[0] + 1e-12,
              "diff %g, trials %g .. %g p %g, runs %g .. %g p %g", r.diff[0], r.lo_t[0], r.hi_t[0], r.p_t[0], r.lo[0], r.hi[0], r.p[0]);
    /* two identical pairs: resampling them changes nothing */
    const sdd_sorted *a3[2] = { &st[0], &st[0] }, *b3[2] = { &st[2], &st[2] };
    CHECK(sdd_boot_runs(a3, b3, 2, m2, m2, &p, &r2, &e) == 0);
    CHECK(!memcmp(r2.lo, r2.lo_t, sizeof r2.lo) && !memcmp(r2.hi, r2.hi_t, sizeof r2.hi) && !memcmp(r2.p, r2.p_t, sizeof r2.p));
    /* pairs that disagree (A better in one, worse in the other): the runs'
     * interval is wider than the trials' */
    const sdd_sorted *a4[2] = { &st[0], &st[3] }, *b4[2] = { &st[2], &st[1] };
    CHECK(sdd_boot_runs(a4, b4, 2, m2, m2, &p, &r2, &e) == 0);
    CHECK_MSG(r2.hi[0] - r2.lo[0] > 1.5 * (r2.hi_t[0] - r2.lo_t[0]), "runs %g .. %g, trials %g .. %g", r2.lo[0], r2.hi[0],
              r2.lo_t[0], r2.hi_t[0]);
    /* bad parameters */
    CHECK(sdd_boot_runs(a2, b2, 0, m2, m2, &p, &r2, &e) == -1 && strstr(e.msg, "runs per system"));
    p.reps = 0;
    CHECK(sdd_boot_runs(a2, b2, 2, m2, m2, &p, &r2, &e) == -1 && strstr(e.msg, "replicates"));
    for (int k = 0; k < 4; k++) sdd_sorted_free(&st[k]);
    sdd_sorted_free(&sr[0]);
    sdd_sorted_free(&sr[1]);
}

static void test_cli_compare(void)
{
    const char *key = DATA "itw_meta.csv", *a1 = DATA "itw_scores.txt";
    CHECK(run("awk '{ if ($3 == \"spoof\") $2 += 0.6; print }' %s > %s && awk '{ if ($3 == \"spoof\") $2 += 0.3; print }' %s > %s "
              "&& awk '{ $2 = $2 * 1.1 + 0.05; print }' %s > %s",
              a1, T("b1.txt"), a1, T("b2.txt"), a1, T("a2.txt")) == 0);
    CHECK(run("$SDD compare --key %s --a %s %s --b %s %s --ci 300 -o %s", key, a1, T("a2.txt"), T("b1.txt"), T("b2.txt"),
              T("c.json")) == 0);
    CHECK_STR_CONTAINS(out, "trials     300 (200 bona fide, 100 spoof), 2 run pairs");
    CHECK_STR_CONTAINS(out, "A          mean EER 22.0000 %");
    CHECK_STR_CONTAINS(out, "B          mean EER 24.0000 %");
    CHECK_STR_CONTAINS(out, "  EER      -2.0000 points\n    runs and trials resampled:  CI ");
    CHECK_STR_CONTAINS(out, "    trials only:                CI ");
    char text[65536];
    snprintf(text, sizeof text, "%s", out);
    /* the same with its runs listed in another order of pairs: the same mean, other draws of pairs */
    CHECK(run("OMP_NUM_THREADS=1 $SDD compare --key %s --a %s %s --b %s %s --ci 300", key, a1, T("a2.txt"), T("b1.txt"),
              T("b2.txt")) == 0);
    CHECK_MSG(!strcmp(out, text), "the thread count changed the output");
    CHECK(run("cat %s", T("c.json")) == 0);
    CHECK_STR_CONTAINS(out, "\"difference\": {");
    CHECK_STR_CONTAINS(out, "\"trials_only_p\": ");
    CHECK_STR_CONTAINS(out, "\"replicates\": 300");
    /* -o -: JSON alone on stdout */
    CHECK(run("$SDD compare --key %s --a %s --b %s --ci 50 -o - 2>/dev/null | head -c 1", key, a1, T("b1.txt")) == 0);
    CHECK(!strcmp(out, "{"));

    /* usage errors (2) and errors (1), one line each, no report written */
    CHECK(run("$SDD compare --key %s --a %s %s --b %s", key, a1, T("a2.txt"), T("b1.txt")) == 2);
    CHECK(cli_one_line(out) && strstr(out, "--a has 2 runs and --b 1"));
    CHECK(run("$SDD compare --key %s --a %s", key, a1) == 2 && cli_one_line(out) && strstr(out, "needs the runs of both"));
    CHECK(run("$SDD compare --key %s --a --b %s", key, a1) == 2 && cli_one_line(out) && strstr(out, "--a needs one or more"));
    CHECK(run("$SDD compare --key %s --a %s --b -", key, a1) == 2 && cli_one_line(out) && strstr(out, "standard input"));
    CHECK(run("$SDD compare --key %s --a %s --b %s -o %s", key, a1, T("b1.txt"), T("b1.txt")) == 2 && cli_one_line(out));
    CHECK(run("$SDD compare --key %s --a %s --b %s --ci 0", key, a1, T("b1.txt")) == 2 && cli_one_line(out));
    CHECK(run("$SDD compare --key %s --a %s --b %s --frob", key, a1, T("b1.txt")) == 2 && strstr(out, "unknown option --frob"));
    CHECK(run("sed 1d %s > %s", a1, T("m.txt")) == 0);
    CHECK(run("$SDD compare --key %s --a %s --b %s -o %s", key, a1, T("m.txt"), T("x.json")) == 1);
    CHECK(cli_one_line(out) && strstr(out, "m.txt") && strstr(out, "no score for 1 of the 300 trials"));
    CHECK(run("test -e %s", T("x.json")) != 0);
    CHECK(run("$SDD compare --key %s --a %s --b %s", key, a1, T("nothere.txt")) == 1 && cli_one_line(out) &&
          strstr(out, "nothere.txt"));
    /* without a key, 2019 CM files: a trial one run lacks */
    CHECK(run("sed 1d " DATA "asv19_cm_scores.txt > %s", T("m19.txt")) == 0);
    CHECK(run("$SDD compare --a " DATA "asv19_cm_scores.txt --b %s", T("m19.txt")) == 1);
    CHECK(cli_one_line(out) && strstr(out, "every run must score the same trials"));
    CHECK(run("$SDD compare --help") == 0 && strstr(out, "usage: sdd compare"));
}

/* sdd_eval_bootstrap on sdd_eval_run's reports: the trial IDs are kept only when asked */
static void test_eval_reports(void)
{
    sdd_eval_opts o = { 0 };
    o.scores = DATA "itw_scores.txt";
    o.key = DATA "itw_meta.csv";
    sdd_eval_report r, rb;
    sdd_err e;
    sdd_boot_params p = { .reps = 50, .level = 0.95, .seed = 1 };
    CHECK(sdd_eval_run(&o, &r, &e) == 0 && r.trial_id == NULL);
    CHECK(sdd_eval_bootstrap(&r, NULL, NULL, &p, 0, &e) == 0 && r.has_boot && r.boot.has[SDD_BOOT_EER] && !r.boot.paired);
    CHECK(sdd_eval_run(&o, &rb, &e) == 0);
    CHECK(sdd_eval_bootstrap(&r, &rb, "b", &p, 0, &e) == -1 && strstr(e.msg, "keep_trial_ids") && !r.has_boot);
    sdd_eval_report_free(&rb);
    sdd_eval_report_free(&r);
    o.keep_trial_ids = 1;
    CHECK(sdd_eval_run(&o, &r, &e) == 0 && sdd_eval_run(&o, &rb, &e) == 0 && r.trial_id && r.trial_id[0] &&
          r.trial_id[r.cm.n] == NULL && !strcmp(r.trial_id[0], "0.wav"));
    CHECK(sdd_eval_bootstrap(&r, &rb, "b", &p, 0, &e) == 0 && r.boot.paired && r.boot.diff[SDD_BOOT_EER] == 0 &&
          r.boot.p[SDD_BOOT_EER] == 1.0);
    sdd_eval_report_free(&rb);
    sdd_eval_report_free(&r);
}

static void test_cli(void)
{
    const char *ev = "$SDD eval --scores " DATA "itw_scores.txt --key " DATA "itw_meta.csv";
    CHECK(run("OMP_NUM_THREADS=3 %s --ci 400 --ci-seed 7 -o %s", ev, T("r.json")) == 0);
    CHECK_STR_CONTAINS(out, "bootstrap  400 stratified replicates of the 200 bona fide and 100 spoof trials (seed 7); 95% percentile");
    CHECK_STR_CONTAINS(out, "\n  EER        ");
    CHECK_STR_CONTAINS(out, "\n  minDCF     ");
    CHECK(!strstr(out, "min t-DCF"));   /* no ASV scores: no t-DCF, no interval of it */
    char first[65536];
    snprintf(first, sizeof first, "%s", out);
    CHECK(run("OMP_NUM_THREADS=1 %s --ci 400 --ci-seed 7", ev) == 0);
    CHECK_MSG(!strcmp(first, out), "the interval changed with the thread count");
    CHECK(run("cat %s", T("r.json")) == 0);
    CHECK_STR_CONTAINS(out, "\"bootstrap\": {");
    CHECK_STR_CONTAINS(out, "\"replicates\": 400");
    CHECK_STR_CONTAINS(out, "\"min_dcf\": {");
    CHECK(!strstr(out, "\"compared\""));
    CHECK(run("%s -o %s", ev, T("n.json")) == 0 && run("grep -c '\"bootstrap\": null' %s", T("n.json")) == 0);

    /* --compare: a copy with the spoof scores raised by 0.6 (more errors) */
    CHECK(run("awk '{ if ($3 == \"spoof\") $2 += 0.6; print }' " DATA "itw_scores.txt > %s", T("b.txt")) == 0);
    CHECK(run("%s --compare %s --ci 300", ev, T("b.txt")) == 0);
    CHECK_STR_CONTAINS(out, "   compared ");
    CHECK_STR_CONTAINS(out, "paired bootstrap, two-sided p:\n  EER        -");
    CHECK(run("%s --compare " DATA "itw_scores.txt", ev) == 0);
    CHECK_STR_CONTAINS(out, "  EER        +0.0000 points, CI +0.0000 .. +0.0000, p = 1\n");
    CHECK_STR_CONTAINS(out, "  minDCF     +0.0000, CI +0.0000 .. +0.0000, p = 1\n");
    CHECK_STR_CONTAINS(out, "1000 stratified");
    /* a trial missing from the compared file: an error, or left out with --allow-missing */
    CHECK(run("sed 1d " DATA "itw_scores.txt > %s", T("m.txt")) == 0);
    CHECK(run("%s --compare %s", ev, T("m.txt")) == 1);
    CHECK(cli_one_line(out) && strstr(out, "--compare: ") && strstr(out, "no score for 1 of the 300 trials"));
    CHECK(run("%s --compare %s --allow-missing", ev, T("m.txt")) == 0);
    CHECK_STR_CONTAINS(out, "1 trials scored only by " DATA "itw_scores.txt and 0 only by");
    CHECK_STR_CONTAINS(out, "(this system on the trials both scored: EER ");
    CHECK_STR_CONTAINS(out, "200 bona fide and 99 spoof trials both systems scored");

    /* usage errors: exit 2, one line */
    const struct { const char *args, *msg; } bad[] = {
        { "--ci 0", "is not a replicate count" },          { "--ci 12x", "is not a replicate count" },
        { "--ci 2000000", "is not a replicate count" },    { "--ci 100 --ci-level 1", "is not a coverage" },
        { "--ci 100 --ci-level nan", "is not a coverage" }, { "--ci 100 --ci-seed -1", "is not a seed" },
        { "--ci-level 0.9", "need --ci N or --compare" },  { "--ci", "--ci needs a replicate count" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(run("%s %s", ev, bad[i].args) == 2 && cli_one_line(out) && strstr(out, bad[i].msg), "%s: %s", bad[i].args, out);
    }
    CHECK(run("$SDD eval --sasv-scores " DATA "asv5_sasv_scores.tsv --sasv-key " DATA "asv5_sasv_key.tsv --ci 10") == 2);
    CHECK(cli_one_line(out) && strstr(out, "need CM scores"));
    /* the compared file must not be an output, and is read like the others */
    CHECK(run("%s --compare %s -o %s", ev, T("b.txt"), T("b.txt")) == 2 && cli_one_line(out));
    CHECK(run("%s --compare %s", ev, T("nonexistent.txt")) == 1 && cli_one_line(out) && strstr(out, "nonexistent.txt"));
    CHECK(run("printf 'x 1 bonafide\\nx 2 bonafide\\n' > %s && %s --compare %s --allow-missing", T("d.txt"), ev, T("d.txt")) == 1);
    CHECK(cli_one_line(out));
    /* ASVspoof 2019 CM score files carry their labels: one that differs */
    CHECK(run("sed '1s/ spoof / bonafide /' " DATA "asv19_cm_scores.txt > %s", T("l.txt")) == 0);
    CHECK(run("awk '{ if ($3 == \"spoof\") $4 += 0.5; print }' " DATA "asv19_cm_scores.txt > %s", T("b19.txt")) == 0);
    CHECK(run("$SDD eval --scores " DATA "asv19_cm_scores.txt --compare %s", T("l.txt")) == 1);
    CHECK(cli_one_line(out) && strstr(out, "trial LA_E_1004884 is spoof in one system and bona fide in the other"));
    CHECK(run("$SDD eval --scores " DATA "asv19_cm_scores.txt --compare " DATA "asv19_cm_scores.txt --ci 50") == 0);
    CHECK_STR_CONTAINS(out, "  EER        +0.0000 points");
    /* with ASV scores: the min t-DCF's interval, and its difference, in the JSON too */
    CHECK(run("$SDD eval --scores " DATA "asv19_cm_scores.txt --asv-scores " DATA "asv19_asv_scores.txt --compare %s --ci 200 -o %s",
              T("b19.txt"), T("t.json")) == 0);
    CHECK_STR_CONTAINS(out, "  min t-DCF  ");
    CHECK_STR_CONTAINS(out, "(the ASV error rates held fixed)");
    /* this and compared, in the whole set's and in the per-attack list's pooled entry (the attacks
     * have no t-DCF of their own: the 2019 ASV scores name no attacks) */
    CHECK(run("grep -c '\"min_tdcf\": {' %s", T("t.json")) == 0 && atoi(out) == 4);
}

int main(void)
{
    test_reference();
    test_materialised();
    test_boot();
    test_coverage();
    test_runs();
    test_eval_reports();
    const char *bin = cli_bin();
    if (!cli_exists(bin)) printf("SKIP test_bootstrap's command-line checks: needs %s (run make)\n", bin);
    else {
        snprintf(tmp, sizeof tmp, "/tmp/sdd-test-bootstrap-%d", (int)getpid());
        mkdir(tmp, 0700);
        test_cli();
        test_cli_compare();
        run("rm -rf %s", tmp);
    }
    return CHECK_DONE("test_bootstrap");
}
