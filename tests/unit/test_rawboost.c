/* RawBoost tests: (a) exact agreement with the numpy/scipy reference
 * (tools/reference/rawboost_ref.py) on fixtures in tests/data/rawboost:
 * firwin taps and notch cascades to 1e-12, filterFIR, LnL/ISD/SSI with given
 * draws, and sdd_rawboost_apply end to end (the script reimplements sdd's
 * counter RNG and draw order) to 1e-6 relative; (b) distributions of the
 * draws; (c) determinism across calls, keys and thread counts; edge cases
 * (n = 1, all-zero input, input shorter than the filter); flag parsing;
 * (d) the fast paths: filterFIR by overlap-save FFT against the direct sum
 * and against scipy for every fixture case, the summed LnL powers, the
 * freqz peak through the FFT, the vectorised normal and uniform fills.
 * Tolerances: FFT filtering in double is exact up to rounding that grows
 * with log2(N) (~1e-15 of max |y|), so the scipy fixtures keep their 1e-12
 * and the FFT-vs-direct checks use 1e-13 relative to max |y|. */
#include "check.h"
#include "audio/rawboost.h"
#include "audio/fir.h"
#include "audio/fftconv.h"
#include "core/rng.h"
#include <omp.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- fixtures */

#define FX_MAX_ARR 24
typedef struct { char name[32]; int n; double *v; } fx_arr;
typedef struct { char name[64]; int narr; fx_arr a[FX_MAX_ARR]; } fx_case;
typedef struct { int ncase; fx_case c[64]; } fx_file;

static const char *root(void)
{
    static const char *pre[] = { "", "../", "../../", "../../../" };
    char q[512];
    struct stat st;
    for (int i = 0; i < 4; i++) {
        snprintf(q, sizeof q, "%stests/data/rawboost/notch.txt", pre[i]);
        if (stat(q, &st) == 0) return pre[i];
    }
    return "";
}

static void fx_free(fx_file *f)
{
    for (int i = 0; i < f->ncase; i++)
        for (int j = 0; j < f->c[i].narr; j++) free(f->c[i].a[j].v);
    free(f);
}

static fx_file *fx_load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%stests/data/rawboost/%s", root(), name);
    FILE *fp = fopen(path, "r");
    if (!fp) { fprintf(stderr, "cannot open %s\n", path); return NULL; }
    fx_file *f = calloc(1, sizeof *f);
    char tok[128];
    int ok = f != NULL;
    while (ok && fscanf(fp, "%127s", tok) == 1) {
        if (tok[0] == '#') { int ch; while ((ch = fgetc(fp)) != EOF && ch != '\n') {} continue; }
        if (!strcmp(tok, "@case")) {
            if (f->ncase == 64 || fscanf(fp, "%63s", f->c[f->ncase].name) != 1) { ok = 0; break; }
            f->ncase++;
            continue;
        }
        fx_case *c = f->ncase ? &f->c[f->ncase - 1] : NULL;
        int n;
        if (!c || c->narr == FX_MAX_ARR || fscanf(fp, "%d", &n) != 1 || n < 0) { ok = 0; break; }
        fx_arr *a = &c->a[c->narr++];
        snprintf(a->name, sizeof a->name, "%.31s", tok);
        a->n = n;
        a->v = malloc((size_t)(n ? n : 1) * sizeof *a->v);
        if (!a->v) { ok = 0; break; }
        for (int i = 0; i < n && ok; i++) ok = fscanf(fp, "%lf", &a->v[i]) == 1;
    }
    fclose(fp);
    if (!ok) { fprintf(stderr, "%s: malformed fixture\n", path); if (f) fx_free(f); return NULL; }
    return f;
}

static const fx_arr *fx_get(const fx_case *c, const char *name)
{
    for (int j = 0; j < c->narr; j++) if (!strcmp(c->a[j].name, name)) return &c->a[j];
    fprintf(stderr, "fixture case %s has no array %s\n", c->name, name);
    return NULL;
}
static double fx_num(const fx_case *c, const char *name) { const fx_arr *a = fx_get(c, name); return a && a->n ? a->v[0] : NAN; }
static const fx_case *fx_find(const fx_file *f, const char *name)
{
    for (int i = 0; i < f->ncase; i++) if (!strcmp(f->c[i].name, name)) return &f->c[i];
    return NULL;
}
static int *to_int(const fx_arr *a)
{
    int *v = malloc((size_t)(a->n ? a->n : 1) * sizeof *v);
    for (int i = 0; v && i < a->n; i++) v[i] = (int)a->v[i];
    return v;
}

/* max |got - want| / max(max |want|, floor) */
static double max_rel(const double *got, const double *want, int64_t n, double floor)
{
    double m = floor, d = 0.0;
    for (int64_t i = 0; i < n; i++) if (fabs(want[i]) > m) m = fabs(want[i]);
    for (int64_t i = 0; i < n; i++) { double t = fabs(got[i] - want[i]); if (!(t <= d)) d = t; }
    return d / m;
}

/* ---------------------------------------------------------------- (a) exact */

static void test_notch_fixtures(void)
{
    fx_file *f = fx_load("notch.txt");
    CHECK(f != NULL);
    if (!f) return;
    int ncase = 0;
    for (int i = 0; i < f->ncase; i++) {
        const fx_case *c = &f->c[i];
        sdd_err e = { { 0 } };
        if (!strncmp(c->name, "firwin", 6)) {
            const fx_arr *h = fx_get(c, "h");
            int nt = (int)fx_num(c, "numtaps");
            double *g = malloc((size_t)nt * sizeof *g);
            CHECK(sdd_fir_firwin_bandstop(nt, fx_num(c, "f1"), fx_num(c, "f2"), fx_num(c, "fs"), g, &e) == 0);
            CHECK(h->n == nt);
            double r = max_rel(g, h->v, nt, 1e-300);
            CHECK_MSG(r < 1e-13, "%s: firwin taps differ by %.3g (relative to max)", c->name, r);
            free(g);
        } else {
            const fx_arr *fc = fx_get(c, "fc"), *bw = fx_get(c, "bw"), *cc = fx_get(c, "c"), *b = fx_get(c, "b");
            int *ci = to_int(cc), nb = 0;
            double *g = malloc((size_t)sdd_rawboost_notch_len(ci, cc->n) * sizeof *g);
            CHECK(sdd_rawboost_notch_len(ci, cc->n) == b->n);
            int rc = sdd_rawboost_notch_coeffs(fc->v, bw->v, ci, fc->n, fx_num(c, "G"), fx_num(c, "fs"), g, &nb, &e);
            CHECK_MSG(rc == 0, "%s: %s", c->name, e.msg);
            CHECK(nb == b->n);
            if (rc == 0 && nb == b->n) {
                double r = max_rel(g, b->v, nb, 1e-300);
                CHECK_MSG(r < 1e-12, "%s: notch coefficients differ by %.3g (relative to max)", c->name, r);
            }
            free(g); free(ci);
        }
        ncase++;
    }
    CHECK(ncase >= 9);
    fx_free(f);
}

static void test_filter_fixtures(void)
{
    fx_file *f = fx_load("filter.txt");
    CHECK(f != NULL);
    if (!f) return;
    for (int i = 0; i < f->ncase; i++) {
        const fx_case *c = &f->c[i];
        const fx_arr *x = fx_get(c, "x"), *b = fx_get(c, "b"), *y = fx_get(c, "y");
        double *g = malloc((size_t)x->n * sizeof *g);
        sdd_err e;
        CHECK(sdd_rawboost_filter_fir(x->v, x->n, b->v, b->n, g, &e) == 0);
        CHECK(y->n == x->n);
        double r = max_rel(g, y->v, x->n, 1e-300);
        CHECK_MSG(r < 1e-12, "%s: filterFIR differs by %.3g", c->name, r);
        /* both methods, whichever the cost model picks */
        const double *bs[1] = { b->v };
        for (int method = SDD_FIR_DIRECT; method <= SDD_FIR_FFT; method++) {
            CHECK(sdd_fir_filter_powers(x->v, x->n, 1, bs, &b->n, method, g, &e) == 0);
            r = max_rel(g, y->v, x->n, 1e-300);
            CHECK_MSG(r < 1e-12, "%s: filterFIR (%s) differs by %.3g", c->name,
                      method == SDD_FIR_FFT ? "FFT" : "direct", r);
        }
        free(g);
    }
    CHECK(f->ncase == 8);
    fx_free(f);
}

static void test_given_fixtures(void)
{
    fx_file *f = fx_load("given.txt");
    CHECK(f != NULL);
    if (!f) return;
    const fx_case *in = fx_find(f, "input");
    CHECK(in != NULL);
    if (!in) { fx_free(f); return; }
    const fx_arr *x0 = fx_get(in, "x"), *noise = fx_get(in, "noise");
    int seen = 0;
    for (int i = 0; i < f->ncase; i++) {
        const fx_case *c = &f->c[i];
        if (c == in) continue;
        const int n = (int)fx_num(c, "len");
        const double scale = fx_num(c, "scale");
        const fx_arr *y = fx_get(c, "y");
        double *x = malloc((size_t)n * sizeof *x), *g = malloc((size_t)n * sizeof *g);
        for (int t = 0; t < n; t++) x[t] = scale * x0->v[t];
        sdd_err e = { { 0 } };
        int rc = -1;
        if (!strncmp(c->name, "lnl", 3)) {
            const fx_arr *cc = fx_get(c, "c");
            int *ci = to_int(cc);
            rc = sdd_rawboost_lnl_given(x, n, (int)fx_num(c, "nf"), (int)fx_num(c, "nbands"), fx_get(c, "fc")->v,
                                        fx_get(c, "bw")->v, ci, fx_get(c, "G")->v, fx_num(c, "fs"), g, &e);
            free(ci);
        } else if (!strncmp(c->name, "isd", 3)) {
            const fx_arr *ia = fx_get(c, "idx");
            int64_t *idx = malloc((size_t)ia->n * sizeof *idx);
            for (int j = 0; j < ia->n; j++) idx[j] = (int64_t)ia->v[j];
            rc = sdd_rawboost_isd_given(x, n, idx, fx_get(c, "fr")->v, ia->n, fx_num(c, "gsd"), g, &e);
            free(idx);
        } else if (!strncmp(c->name, "ssi", 3)) {
            const fx_arr *cc = fx_get(c, "c");
            int *ci = to_int(cc);
            rc = sdd_rawboost_ssi_given(x, n, noise->v, fx_get(c, "fc")->v, fx_get(c, "bw")->v, ci, cc->n,
                                        fx_num(c, "G"), fx_num(c, "snr"), fx_num(c, "fs"), g, &e);
            free(ci);
        }
        CHECK_MSG(rc == 0, "%s: %s", c->name, e.msg);
        CHECK(y->n == n);
        double r = max_rel(g, y->v, n, 1e-300);
        CHECK_MSG(r < 1e-10, "%s: differs from the reference by %.3g", c->name, r);
        free(x); free(g);
        seen++;
    }
    CHECK(seen == 7);
    fx_free(f);
}

static void params_from(const fx_arr *a, sdd_rawboost_params *p)
{
    p->nBands = (int)a->v[0]; p->minF = a->v[1]; p->maxF = a->v[2]; p->minBW = a->v[3]; p->maxBW = a->v[4];
    p->minCoeff = (int)a->v[5]; p->maxCoeff = (int)a->v[6]; p->minG = a->v[7]; p->maxG = a->v[8];
    p->minBiasLinNonLin = a->v[9]; p->maxBiasLinNonLin = a->v[10]; p->N_f = (int)a->v[11]; p->P = a->v[12];
    p->g_sd = a->v[13]; p->SNRmin = a->v[14]; p->SNRmax = a->v[15]; p->fs = (int)a->v[16];
}

static void test_apply_fixtures(void)
{
    fx_file *f = fx_load("apply.txt");
    CHECK(f != NULL);
    if (!f) return;
    const fx_case *in = fx_find(f, "input");
    CHECK(in != NULL);
    if (!in) { fx_free(f); return; }
    const fx_arr *x0 = fx_get(in, "x");
    int seen = 0;
    for (int i = 0; i < f->ncase; i++) {
        const fx_case *c = &f->c[i];
        if (c == in) continue;
        sdd_rawboost_params p;
        const fx_arr *pa = fx_get(c, "params"), *y = fx_get(c, "y");
        CHECK(pa->n == 17);
        params_from(pa, &p);
        const int n = (int)fx_num(c, "len"), algo = (int)fx_num(c, "algo");
        const uint64_t key = sdd_rng_key((uint64_t)fx_num(c, "seed"), 0, 0, 0);
        const double scale = fx_num(c, "scale");
        float *xf = malloc((size_t)n * sizeof *xf), *yf = malloc((size_t)n * sizeof *yf);
        double *xd = malloc((size_t)n * sizeof *xd), *yd = malloc((size_t)n * sizeof *yd), *yfd = malloc((size_t)n * sizeof *yfd);
        for (int t = 0; t < n; t++) { xf[t] = (float)(scale * (double)(float)x0->v[t]); xd[t] = xf[t]; }
        sdd_err e = { { 0 } };
        int rc = sdd_rawboost_apply(algo, xf, n, yf, &p, key, &e);
        CHECK_MSG(rc == 0, "%s: %s", c->name, e.msg);
        CHECK(sdd_rawboost_apply_d(algo, xd, n, yd, &p, key, &e) == 0);
        for (int t = 0; t < n; t++) yfd[t] = yf[t];
        CHECK(y->n == n);
        double r = max_rel(yfd, y->v, n, 1e-30);
        CHECK_MSG(r < 1e-6, "%s: float output differs from the reference by %.3g", c->name, r);
        r = max_rel(yd, y->v, n, 1e-30);
        CHECK_MSG(r < 1e-9, "%s: double output differs from the reference by %.3g", c->name, r);
        free(xf); free(yf); free(xd); free(yd); free(yfd);
        seen++;
    }
    CHECK(seen == 16);
    fx_free(f);
}

/* ---------------------------------------------------------------- (b) distributions */

static void test_notch_draws(void)
{
    sdd_rawboost_params p;
    sdd_rawboost_default_params(&p);
    enum { K = 2000 };
    int hist[101] = { 0 }, bad_c = 0, bad_f = 0, bad_g = 0;
    double sum_fc = 0, sum_bw = 0, sum_g = 0;
    const int nb = p.nBands;
    for (int k = 0; k < K; k++) {
        double fc[8], bw[8], G;
        int c[8];
        /* filter i >= 1 of LnL: gains U(0 - 5, 0 - 20) */
        const uint64_t sk = sdd_rawboost_stage_key(sdd_rng_key(3, k, 0, 0), SDD_RB_STAGE_LNL, 1 + k % 4);
        sdd_rawboost_draw_notch(&p, p.minG - p.minBiasLinNonLin, p.maxG - p.maxBiasLinNonLin, sk, fc, bw, c, &G);
        for (int j = 0; j < nb; j++) {
            if (c[j] % 2 == 0 || c[j] < 11 || c[j] > 99) bad_c++;
            else hist[c[j]]++;
            if (fc[j] < p.minF || fc[j] >= p.maxF || bw[j] < p.minBW || bw[j] >= p.maxBW) bad_f++;
            sum_fc += fc[j]; sum_bw += bw[j];
        }
        if (!(G > -20.0 && G <= -5.0)) bad_g++;
        sum_g += G;
    }
    CHECK(bad_c == 0);
    CHECK(bad_f == 0);
    CHECK(bad_g == 0);
    /* chi-square over the 45 odd counts 11..99 (44 dof; 0.1% critical value 78.7) */
    const double expct = (double)K * nb / 45.0;
    double chi2 = 0;
    for (int v = 11; v <= 99; v += 2) chi2 += (hist[v] - expct) * (hist[v] - expct) / expct;
    CHECK_MSG(chi2 < 78.7, "numtaps histogram chi2 %.1f", chi2);
    const double N = (double)K * nb;
    CHECK_NEAR(sum_fc / N, 0.5 * (p.minF + p.maxF), 0.05 * (p.maxF - p.minF));
    CHECK_NEAR(sum_bw / N, 0.5 * (p.minBW + p.maxBW), 0.05 * (p.maxBW - p.minBW));
    CHECK_NEAR(sum_g / K, -12.5, 0.5);
    /* G = 0 exactly for filter 0 with the defaults */
    double fc[8], bw[8], G = 1;
    int c[8];
    sdd_rawboost_draw_notch(&p, p.minG, p.maxG, sdd_rawboost_stage_key(9, SDD_RB_STAGE_LNL, 0), fc, bw, c, &G);
    CHECK(G == 0.0);
}

static void test_isd_draws(void)
{
    enum { K = 400, N = 5000 };
    int64_t *idx = malloc(N * sizeof *idx);
    double *fr = malloc(N * sizeof *fr);
    unsigned char *mark = malloc(N);
    double frac = 0, s1 = 0, s2 = 0;
    long nf = 0, dup = 0, range = 0, fbad = 0, lowhalf = 0, tot = 0;
    for (int k = 0; k < K; k++) {
        const int64_t m = sdd_rawboost_draw_isd(N, 10.0, sdd_rng_key(5, k, 0, 0), idx, fr);
        frac += (double)m / N;
        memset(mark, 0, N);
        for (int64_t j = 0; j < m; j++) {
            if (idx[j] < 0 || idx[j] >= N) { range++; continue; }
            if (mark[idx[j]]++) dup++;
            if (idx[j] < N / 2) lowhalf++;
            tot++;
            if (!(fr[j] > -1.0 && fr[j] < 1.0)) fbad++;
            s1 += fr[j]; s2 += fr[j] * fr[j]; nf++;
        }
    }
    CHECK(range == 0);
    CHECK(dup == 0);
    CHECK(fbad == 0);
    /* beta ~ U(0, P): on average P/2 = 5% of the samples */
    CHECK_NEAR(frac / K, 0.05, 0.006);
    CHECK_NEAR((double)lowhalf / (double)tot, 0.5, 0.01);
    CHECK_NEAR(s1 / nf, 0.0, 0.01);
    CHECK_NEAR(s2 / nf, 1.0 / 9.0, 0.005);   /* E[(2U-1)^2]^2 = 1/9 */
    free(idx); free(fr); free(mark);

    /* apply algo 2 touches exactly the drawn samples (quiet input: no normWav) */
    sdd_rawboost_params p;
    sdd_rawboost_default_params(&p);
    enum { L = 3000 };
    float x[L], y[L];
    for (int t = 0; t < L; t++) x[t] = 0.1f * sinf(0.01f * t) + 0.05f;
    int64_t id2[L];
    double f2[L];
    const uint64_t key = sdd_rng_key(77, 0, 0, 0);
    const int64_t m = sdd_rawboost_draw_isd(L, p.P, sdd_rawboost_stage_key(key, SDD_RB_STAGE_ISD, 0), id2, f2);
    sdd_err e;
    CHECK(sdd_rawboost_apply(2, x, L, y, &p, key, &e) == 0);
    int changed = 0;
    for (int t = 0; t < L; t++) changed += y[t] != x[t];
    CHECK(m > 0);
    CHECK(changed == m);
}

static double snr_db(const double *x, const double *y, int64_t n)
{
    double sx = 0, sn = 0;
    for (int64_t t = 0; t < n; t++) { sx += x[t] * x[t]; sn += (y[t] - x[t]) * (y[t] - x[t]); }
    return 10.0 * log10(sx / sn);
}

static void test_ssi_snr(void)
{
    sdd_rawboost_params p;
    sdd_rawboost_default_params(&p);
    enum { L = 4000 };
    double x[L], y[L];
    for (int t = 0; t < L; t++) x[t] = 0.3 * sin(0.05 * t) + 0.1 * sin(0.7 * t);
    double lo = 1e9, hi = -1e9, mean = 0;
    const int K = 40;
    sdd_err e;
    for (int k = 0; k < K; k++) {
        CHECK(sdd_rawboost_apply_d(3, x, L, y, &p, sdd_rng_key(k, 1, 0, 0), &e) == 0);
        double s = snr_db(x, y, L);
        if (s < lo) lo = s;
        if (s > hi) hi = s;
        mean += s / K;
    }
    CHECK_MSG(lo >= p.SNRmin - 1e-9 && hi <= p.SNRmax + 1e-9, "SNR range [%g, %g]", lo, hi);
    CHECK(hi - lo > 10.0);
    CHECK_NEAR(mean, 25.0, 5.0);
    /* negative SNRs are allowed and honoured */
    p.SNRmin = -6; p.SNRmax = -6;
    CHECK(sdd_rawboost_apply_d(3, x, L, y, &p, 1, &e) == 0);
    CHECK_NEAR(snr_db(x, y, L), -6.0, 1e-9);
}

/* ---------------------------------------------------------------- (c) determinism */

static void test_determinism(void)
{
    sdd_rawboost_params p;
    sdd_rawboost_default_params(&p);
    enum { L = 64000 };  /* 4 s: large enough for the parallel paths */
    float *x = malloc(L * sizeof *x), *y1 = malloc(L * sizeof *y1), *y2 = malloc(L * sizeof *y2);
    for (int t = 0; t < L; t++) x[t] = 0.4f * sinf(0.013f * t) * cosf(0.0007f * t) + 0.01f * sinf(1.7f * t);
    sdd_err e;
    const uint64_t key = sdd_rng_key(2024, 0, 0, 0);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(sdd_rawboost_apply(4, x, L, y1, &p, key, &e) == 0);
    omp_set_num_threads(3);
    CHECK(sdd_rawboost_apply(4, x, L, y2, &p, key, &e) == 0);
    CHECK_MSG(memcmp(y1, y2, L * sizeof *y1) == 0, "algo 4 output depends on the thread count");
    CHECK(sdd_rawboost_apply(4, x, L, y2, &p, key, &e) == 0);
    CHECK_MSG(memcmp(y1, y2, L * sizeof *y1) == 0, "algo 4 output differs between two calls");
    omp_set_num_threads(saved);
    CHECK(sdd_rawboost_apply(4, x, L, y2, &p, sdd_rng_key(2025, 0, 0, 0), &e) == 0);
    int differ = 0;
    for (int t = 0; t < L; t++) differ += y1[t] != y2[t];
    CHECK(differ > L / 2);
    /* in place = out of place */
    const int n2 = 2000;
    for (int algo = 0; algo < SDD_RAWBOOST_NALGO; algo++) {
        memcpy(y2, x, n2 * sizeof *x);
        CHECK(sdd_rawboost_apply(algo, x, n2, y1, &p, key, &e) == 0);
        CHECK(sdd_rawboost_apply(algo, y2, n2, y2, &p, key, &e) == 0);
        CHECK_MSG(memcmp(y1, y2, n2 * sizeof *y1) == 0, "algo %d in place differs", algo);
    }
    /* algo 4's first two stages are algo 5 (same sub-keys) */
    float *y5 = malloc(n2 * sizeof *y5);
    double *d5 = malloc(n2 * sizeof *d5), *d4 = malloc(n2 * sizeof *d4), *dd = malloc(n2 * sizeof *dd);
    for (int t = 0; t < n2; t++) dd[t] = x[t];
    CHECK(sdd_rawboost_apply_d(5, dd, n2, d5, &p, key, &e) == 0);
    CHECK(sdd_rawboost_apply_d(4, dd, n2, d4, &p, key, &e) == 0);
    double *d3 = malloc(n2 * sizeof *d3);
    CHECK(sdd_rawboost_apply_d(3, d5, n2, d3, &p, key, &e) == 0);
    CHECK(memcmp(d3, d4, n2 * sizeof *d3) == 0);
    free(y5); free(d5); free(d4); free(dd); free(d3);
    free(x); free(y1); free(y2);
}

/* ---------------------------------------------------------------- edge cases */

static int all_finite(const float *y, int64_t n)
{
    for (int64_t t = 0; t < n; t++) if (!isfinite(y[t])) return 0;
    return 1;
}

static void test_edges(void)
{
    sdd_rawboost_params p;
    sdd_rawboost_default_params(&p);
    sdd_err e;
    float x1 = 0.5f, y1;
    for (int algo = 0; algo < SDD_RAWBOOST_NALGO; algo++) {
        CHECK_MSG(sdd_rawboost_apply(algo, &x1, 1, &y1, &p, 42, &e) == 0, "algo %d n=1: %s", algo, e.msg);
        CHECK(isfinite(y1));
    }
    /* all zeros: normWav must not divide by zero; every algorithm returns zeros */
    enum { L = 1000 };
    float z[L], y[L];
    memset(z, 0, sizeof z);
    for (int algo = 0; algo < SDD_RAWBOOST_NALGO; algo++) {
        CHECK(sdd_rawboost_apply(algo, z, L, y, &p, 43, &e) == 0);
        int nz = 0;
        for (int t = 0; t < L; t++) nz += y[t] != 0.0f;
        CHECK_MSG(all_finite(y, L) && nz == 0, "algo %d on zeros: %d non-zero/non-finite", algo, nz);
    }
    double dz[4] = { 0, 0, 0, 0 };
    sdd_rawboost_normwav(dz, 4, 1);
    CHECK(dz[0] == 0 && dz[3] == 0);
    /* shorter than the filters (up to 491 taps) */
    float s[7] = { 0.1f, -0.3f, 0.2f, 0.9f, -0.8f, 0.05f, 0.0f }, ys[7];
    for (int algo = 0; algo < SDD_RAWBOOST_NALGO; algo++) {
        CHECK(sdd_rawboost_apply(algo, s, 7, ys, &p, 44, &e) == 0);
        CHECK(all_finite(ys, 7));
    }
    /* filterFIR with a single tap advances by one sample (N/2 = 1) */
    double xb[4] = { 1, 2, 3, 4 }, b1 = 2.0, yb[4];
    CHECK(sdd_fir_filter_same(xb, 4, &b1, 1, yb, &e) == 0);
    CHECK(yb[0] == 4 && yb[1] == 6 && yb[2] == 8 && yb[3] == 0);
    /* errors */
    CHECK(sdd_rawboost_apply(9, s, 7, ys, &p, 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "unknown algorithm");
    CHECK(sdd_rawboost_apply(-1, s, 7, ys, &p, 1, &e) == -1);
    CHECK(sdd_rawboost_apply(1, s, 0, ys, &p, 1, &e) == -1);
    float bad[3] = { 0, NAN, 0 };
    CHECK(sdd_rawboost_apply(1, bad, 3, ys, &p, 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "not finite");
    sdd_rawboost_params q = p;
    q.minF = 9000;
    CHECK(sdd_rawboost_apply(1, s, 7, ys, &q, 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-minf");
    double h[4];
    CHECK(sdd_fir_firwin_bandstop(4, 100, 200, 16000, h, &e) == -1);
    CHECK(sdd_fir_firwin_bandstop(3, 200, 100, 16000, h, &e) == -1);
    CHECK(sdd_fir_firwin_bandstop(3, 100, 8000, 16000, h, &e) == -1);
    /* zero bands: the filter is the gain alone; nf = 0 gives silence */
    q = p; q.nBands = 0; q.minG = q.maxG = -6.0; q.N_f = 1;
    float xq[5] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f }, yq[5];
    CHECK(sdd_rawboost_apply(1, xq, 5, yq, &q, 1, &e) == 0);
    const double g = pow(10.0, -6.0 / 20.0);
    CHECK_NEAR(yq[0], g * (0.2 - 0.28), 1e-6);   /* advanced one sample, mean 0.28 g removed */
    CHECK_NEAR(yq[4], g * (0.0 - 0.28), 1e-6);
    q.N_f = 0;
    CHECK(sdd_rawboost_apply(1, xq, 5, yq, &q, 1, &e) == 0);
    CHECK(yq[0] == 0 && yq[4] == 0);
    CHECK(sdd_rawboost_algo_name(4) && !strcmp(sdd_rawboost_algo_name(4), "LnL+ISD+SSI"));
    CHECK(sdd_rawboost_algo_name(9) == NULL);
}

/* ---------------------------------------------------------------- flags */

static void test_flags(void)
{
    sdd_rawboost_params p, d;
    sdd_rawboost_default_params(&p);
    sdd_rawboost_default_params(&d);
    CHECK(d.nBands == 5 && d.minF == 20 && d.maxF == 8000 && d.minBW == 100 && d.maxBW == 1000 &&
          d.minCoeff == 10 && d.maxCoeff == 100 && d.minG == 0 && d.maxG == 0 && d.minBiasLinNonLin == 5 &&
          d.maxBiasLinNonLin == 20 && d.N_f == 5 && d.P == 10 && d.g_sd == 2 && d.SNRmin == 10 &&
          d.SNRmax == 40 && d.fs == 16000);
    sdd_err e;
    CHECK(sdd_rawboost_check_params(&d, &e) == 0);
    static const char *names[] = { "nbands", "minf", "maxf", "minbw", "maxbw", "mincoeff", "maxcoeff", "ming",
                                   "maxg", "minbias", "maxbias", "nf", "p", "gsd", "snr-min", "snr-max" };
    const char *help = sdd_rawboost_flags_help();
    for (int i = 0; i < 16; i++) {
        char f[32];
        snprintf(f, sizeof f, "--rb-%s", names[i]);
        CHECK_STR_CONTAINS(help, f);
        CHECK_MSG(sdd_rawboost_parse_flag(&p, f, "3", &e) == 1, "%s 3: %s", f, e.msg);
        CHECK(sdd_rawboost_parse_flag(&p, f, NULL, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, f);
        CHECK(sdd_rawboost_parse_flag(&p, f, "abc", &e) == -1);
        CHECK_STR_CONTAINS(e.msg, f);
    }
    p = d;
    CHECK(sdd_rawboost_parse_flag(&p, "--threads", "3", &e) == 0);
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-foo", "3", &e) == 0);
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-nbands", "3", &e) == 1 && p.nBands == 3);
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-nbands", "2.5", &e) == -1);
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-minf", "-3", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-minf");
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-p", "101", &e) == -1);
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-gsd", "-1", &e) == -1);
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-minf", "inf", &e) == -1);
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-ming", "-3", &e) == 1 && p.minG == -3);
    CHECK(sdd_rawboost_parse_flag(&p, "--rb-snr-min", "-5.5", &e) == 1 && p.SNRmin == -5.5);
    CHECK(sdd_rawboost_check_params(&p, &e) == 0);
    p = d; p.minF = 900; p.maxF = 800;
    CHECK(sdd_rawboost_check_params(&p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-minf");
    CHECK_STR_CONTAINS(e.msg, "--rb-maxf");
    p = d; p.SNRmin = 50;
    CHECK(sdd_rawboost_check_params(&p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-snr-min");
    p = d; p.minCoeff = 101;
    CHECK(sdd_rawboost_check_params(&p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-mincoeff");
    p = d; p.minBW = 0;
    CHECK(sdd_rawboost_check_params(&p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-minbw");
    p = d; p.maxF = 8100;   /* a 100 Hz notch centred at 8100 Hz is above Nyquist */
    CHECK(sdd_rawboost_check_params(&p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-maxf");
    p = d; p.minG = 1; p.maxG = 0;
    CHECK(sdd_rawboost_check_params(&p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-ming");
}


/* ---------------------------------------------------------------- (d) fast paths */

/* random filters of the given lengths, the LnL sum by both methods */
static double powers_fft_vs_direct(int64_t n, int nterms, const int *nb, uint64_t seed)
{
    double *x = malloc((size_t)n * sizeof *x), *y1 = malloc((size_t)n * sizeof *y1), *y2 = malloc((size_t)n * sizeof *y2);
    double *bs[8];
    for (int t = 0; t < nterms; t++) {
        bs[t] = malloc((size_t)nb[t] * sizeof *bs[t]);
        for (int k = 0; k < nb[t]; k++) bs[t][k] = sdd_rng_normal(seed + 100 + t, k) / sqrt((double)nb[t]);
    }
    for (int64_t i = 0; i < n; i++) x[i] = 0.5 * sin(0.001 * i) + 0.2 * sdd_rng_normal(seed, i);
    sdd_err e;
    int ok = sdd_fir_filter_powers(x, n, nterms, (const double *const *)bs, nb, SDD_FIR_DIRECT, y1, &e) == 0 &&
             sdd_fir_filter_powers(x, n, nterms, (const double *const *)bs, nb, SDD_FIR_FFT, y2, &e) == 0;
    const double r = ok ? max_rel(y2, y1, n, 1e-300) : 1.0;
    for (int t = 0; t < nterms; t++) free(bs[t]);
    free(x); free(y1); free(y2);
    return r;
}

static void test_fft_paths(void)
{
    /* lengths around block edges, shorter than the filter, mixed advances */
    static const struct { int64_t n; int nterms; int nb[5]; } cases[] = {
        { 64600, 5, { 317, 217, 313, 227, 195 } }, { 64600, 1, { 491 } }, { 3000, 5, { 11, 12, 99, 100, 1 } },
        { 1, 3, { 7, 8, 1 } }, { 10, 2, { 301, 2 } }, { 2049, 1, { 2048 } }, { 5000, 4, { 1, 1, 1, 1 } },
        { 777, 5, { 31, 45, 17, 3, 64 } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const double r = powers_fft_vs_direct(cases[i].n, cases[i].nterms, cases[i].nb, 40 + i);
        CHECK_MSG(r < 1e-13, "case %zu (n %lld): FFT and direct LnL sums differ by %.3g of max", i,
                  (long long)cases[i].n, r);
    }
    /* the model: long signals with long filters go through the FFT, tiny ones direct */
    int nb5[5] = { 317, 217, 313, 227, 195 }, N = 0, one = 3;
    CHECK(sdd_fir_pick_method(64600, 5, nb5, &N) == SDD_FIR_FFT && N >= 512 && (N & (N - 1)) == 0);
    CHECK(sdd_fir_pick_method(20, 1, &one, &N) == SDD_FIR_DIRECT && N == 0);
    /* the same bits from several threads at once (shared plan cache) */
    enum { T = 4, L = 9000 };
    double *x = malloc(L * sizeof *x), *ref = malloc(L * sizeof *ref), *out = malloc((size_t)T * L * sizeof *out);
    double b[300];
    for (int k = 0; k < 300; k++) b[k] = sdd_rng_normal(7, k) * 0.05;
    for (int i = 0; i < L; i++) x[i] = sdd_rng_normal(8, i);
    sdd_err e;
    CHECK(sdd_fir_filter_same(x, L, b, 300, ref, &e) == 0);
    int bad = 0;
    #pragma omp parallel for num_threads(T) reduction(+:bad)
    for (int t = 0; t < T; t++) {
        sdd_err et;
        const int nbt = 300 - 37 * t;   /* different lengths: different FFT sizes too */
        double *o = out + (size_t)t * L;
        if (sdd_fir_filter_same(x, L, b, nbt, o, &et)) bad++;
        if (t == 0 && memcmp(o, ref, L * sizeof *o)) bad++;
    }
    CHECK(bad == 0);
    free(x); free(ref); free(out);
}

static void test_freqz_fft(void)
{
    /* the FFT peak equals the direct 512-point evaluation, also for filters
     * longer than the 1024-point transform (folded) */
    const int lens[] = { 1, 2, 51, 491, 1024, 1500, 3000 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        const int nb = lens[i];
        double *b = malloc((size_t)nb * sizeof *b);
        for (int k = 0; k < nb; k++) b[k] = sdd_rng_normal(300 + i, k);
        const double d = sdd_fir_freqz_maxabs(b, nb, 512), f = sdd_fir_freqz_maxabs_fft(b, nb, 512);
        CHECK_MSG(fabs(d - f) <= 1e-12 * d, "nb %d: freqz peak %.17g (direct) vs %.17g (FFT)", nb, d, f);
        free(b);
    }
    /* a grid whose table size 2 npoints would overflow an int is refused
     * before anything is allocated or indexed (without the guard the
     * signed overflow aborts under make test-asan's UBSan) */
    const double one = 1.0;
    CHECK(sdd_fir_freqz_maxabs(&one, 1, INT_MAX / 2 + 1) == -1.0);
    CHECK(sdd_fir_freqz_maxabs_fft(&one, 1, INT_MAX / 2 + 1) == -1.0);
    CHECK(sdd_fir_freqz_maxabs(&one, 1, INT_MAX) == -1.0);
}

static void test_rng_fills(void)
{
    enum { M = 200000 };
    double *a = malloc(M * sizeof *a);
    double worst = 0.0;
    for (int k = 0; k < 3; k++) {
        const uint64_t key = sdd_rng_key(11 + k, 2, 3, 4), c0 = (uint64_t)k * 1000003u;
        sdd_rng_normal_fill(key, c0, M, a);
        for (int i = 0; i < M; i++) {
            const double want = sdd_rng_normal(key, c0 + i), d = fabs(a[i] - want) / (1e-14 + 2e-15 * fabs(want));
            if (!(d <= worst)) worst = d;
        }
    }
    CHECK_MSG(worst <= 1.0, "normal fill differs from sdd_rng_normal by %.3g of the bound", worst);
    int same = 1;
    sdd_rng_uniform_d_fill(99, 5, M, a);
    for (int i = 0; i < M; i++) same &= a[i] == sdd_rng_uniform_d(99, 5 + (uint64_t)i);
    CHECK_MSG(same, "uniform fill is not bit-identical to sdd_rng_uniform_d");
    sdd_rng_normal_fill(1, 0, 0, a);   /* n = 0 writes nothing */
    free(a);
}

int main(void)
{
    test_notch_fixtures();
    test_filter_fixtures();
    test_given_fixtures();
    test_apply_fixtures();
    test_notch_draws();
    test_isd_draws();
    test_ssi_snr();
    test_determinism();
    test_edges();
    test_flags();
    test_fft_paths();
    test_freqz_fft();
    test_rng_fills();
    return CHECK_DONE("test_rawboost");
}
