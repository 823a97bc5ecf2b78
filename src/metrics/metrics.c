/* Owns the metric computations of metrics.h: the stable sort of trials, the
 * official DET curve / EER / min t-DCF passes, ASV error rates, Cllr and
 * min Cllr, probit and the attack x condition table.
 * Every rate is a ratio of exact integer counts and every formula keeps the
 * operation order of the official numpy code, so results are bit-identical
 * to it; floating-point contraction (FMA) is switched off for that. */
#include "metrics/metrics.h"
#include "metrics/dcf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* ---- sorting ---- */

/* b goes before a: lower score, or equal score and positive vs negative. */
static inline int goes_before(const double *s, const unsigned char *p, int64_t b, int64_t a)
{
    return s[b] < s[a] || (s[b] == s[a] && p[b] > p[a]);
}

/* Stable merge sort of the index array a[0..n) by (score, positives first). */
static void merge_sort(int64_t *a, int64_t *tmp, int64_t n, const double *s,
                       const unsigned char *p)
{
    const int64_t RUN = 16;
    for (int64_t lo = 0; lo < n; lo += RUN) { /* insertion sort of short runs */
        int64_t hi = lo + RUN < n ? lo + RUN : n;
        for (int64_t i = lo + 1; i < hi; i++) {
            int64_t v = a[i], j = i;
            while (j > lo && goes_before(s, p, v, a[j - 1])) { a[j] = a[j - 1]; j--; }
            a[j] = v;
        }
    }
    int64_t *src = a, *dst = tmp;
    for (int64_t w = RUN; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = goes_before(s, p, src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        int64_t *t = src; src = dst; dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
}

int sdd_sorted_init(sdd_sorted *s, const double *score, const unsigned char *pos, int64_t n,
                    sdd_err *e)
{
    memset(s, 0, sizeof *s);
    if (n < 0) return sdd_err_set(e, "negative trial count");
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(score[i])) return sdd_err_set(e, "trial %lld: score is not finite", (long long)i + 1);
    size_t m = (size_t)(n > 0 ? n : 1);
    unsigned char *p01 = malloc(m);
    int64_t *tmp = malloc(m * sizeof *tmp);
    s->score = malloc(m * sizeof *s->score);
    s->pos = malloc(m);
    s->orig = malloc(m * sizeof *s->orig);
    if (!p01 || !tmp || !s->score || !s->pos || !s->orig) {
        free(p01); free(tmp);
        sdd_sorted_free(s);
        return sdd_err_set(e, "out of memory sorting %lld trials", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) { p01[i] = pos[i] ? 1 : 0; s->orig[i] = i; }
    merge_sort(s->orig, tmp, n, score, p01);
    for (int64_t k = 0; k < n; k++) {
        s->score[k] = score[s->orig[k]];
        s->pos[k] = p01[s->orig[k]];
    }
    s->n = n;
    free(p01);
    free(tmp);
    return 0;
}

int sdd_sorted_init2(sdd_sorted *s, const double *tar, int64_t nt, const double *non,
                     int64_t nn, sdd_err *e)
{
    memset(s, 0, sizeof *s);
    if (nt < 0 || nn < 0) return sdd_err_set(e, "negative trial count");
    size_t m = (size_t)(nt + nn > 0 ? nt + nn : 1);
    double *sc = malloc(m * sizeof *sc);
    unsigned char *p = malloc(m);
    if (!sc || !p) { free(sc); free(p); return sdd_err_set(e, "out of memory"); }
    if (nt) memcpy(sc, tar, (size_t)nt * sizeof *sc);
    if (nn) memcpy(sc + nt, non, (size_t)nn * sizeof *sc);
    memset(p, 1, (size_t)nt);
    memset(p + nt, 0, (size_t)nn);
    int rc = sdd_sorted_init(s, sc, p, nt + nn, e);
    free(sc);
    free(p);
    return rc;
}

void sdd_sorted_free(sdd_sorted *s)
{
    if (!s) return;
    free(s->score);
    free(s->pos);
    free(s->orig);
    memset(s, 0, sizeof *s);
}

/* ---- one pass over the kept trials ---- */

typedef struct { int64_t npos, nneg, ndistinct, first; } kept_counts;

#define KEPT(s, keep, k) (!(keep) || (keep)[(s)->orig[k]])

static void count_kept(const sdd_sorted *s, const unsigned char *keep, kept_counts *c)
{
    c->npos = c->nneg = c->ndistinct = 0;
    c->first = -1;
    double prev = 0.0;
    for (int64_t k = 0; k < s->n; k++) {
        if (!KEPT(s, keep, k)) continue;
        if (c->first < 0 || s->score[k] != prev) c->ndistinct++;
        if (c->first < 0) c->first = k;
        prev = s->score[k];
        if (s->pos[k]) c->npos++;
        else c->nneg++;
    }
}

static int need_both(const kept_counts *c, sdd_err *e)
{
    if (c->npos == 0) return sdd_err_set(e, "no bona fide trials");
    if (c->nneg == 0) return sdd_err_set(e, "no spoof trials");
    return 0;
}

int sdd_det_curve(const sdd_sorted *s, const unsigned char *keep, sdd_det *d, sdd_err *e)
{
    memset(d, 0, sizeof *d);
    kept_counts c;
    count_kept(s, keep, &c);
    if (need_both(&c, e)) return -1;
    const int64_t n = c.npos + c.nneg + 1;
    d->thr = malloc((size_t)n * sizeof *d->thr);
    d->frr = malloc((size_t)n * sizeof *d->frr);
    d->far = malloc((size_t)n * sizeof *d->far);
    d->pos = malloc((size_t)n);
    if (!d->thr || !d->frr || !d->far || !d->pos) {
        sdd_det_free(d);
        return sdd_err_set(e, "out of memory for a DET curve of %lld points", (long long)n);
    }
    const double np_ = (double)c.npos, nn_ = (double)c.nneg;
    d->thr[0] = s->score[c.first] - 0.001;
    d->frr[0] = 0.0;
    d->far[0] = 1.0;
    int64_t k = 0, cum = 0;
    for (int64_t j = c.first; j < s->n; j++) {
        if (!KEPT(s, keep, j)) continue;
        d->pos[k] = s->pos[j];
        k++;
        cum += s->pos[j];
        d->thr[k] = s->score[j];
        d->frr[k] = (double)cum / np_;
        d->far[k] = (double)(c.nneg - (k - cum)) / nn_;
    }
    d->n = n;
    return 0;
}

void sdd_det_free(sdd_det *d)
{
    if (!d) return;
    free(d->thr);
    free(d->frr);
    free(d->far);
    free(d->pos);
    memset(d, 0, sizeof *d);
}

int sdd_eer_sorted(const sdd_sorted *s, const unsigned char *keep, sdd_eer_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    kept_counts c;
    count_kept(s, keep, &c);
    r->npos = c.npos;
    r->nneg = c.nneg;
    if (need_both(&c, e)) return -1;
    const double np_ = (double)c.npos, nn_ = (double)c.nneg;
    double best_d = fabs(0.0 - 1.0), best_frr = 0.0, best_far = 1.0;
    double best_thr = s->score[c.first] - 0.001;
    int64_t best_k = 0, k = 0, cum = 0;
    for (int64_t j = c.first; j < s->n; j++) {
        if (!KEPT(s, keep, j)) continue;
        k++;
        cum += s->pos[j];
        const double frr = (double)cum / np_;
        const double far = (double)(c.nneg - (k - cum)) / nn_;
        const double dd = fabs(frr - far);
        if (dd < best_d) {
            best_d = dd;
            best_k = k;
            best_frr = frr;
            best_far = far;
            best_thr = s->score[j];
        }
    }
    r->eer = (best_frr + best_far) / 2.0;
    r->threshold = best_thr;
    r->frr = best_frr;
    r->far = best_far;
    r->index = best_k;
    return 0;
}

int sdd_eer(const double *tar, int64_t nt, const double *non, int64_t nn, sdd_eer_result *r,
            sdd_err *e)
{
    sdd_sorted s;
    if (sdd_sorted_init2(&s, tar, nt, non, nn, e)) { memset(r, 0, sizeof *r); return -1; }
    int rc = sdd_eer_sorted(&s, NULL, r, e);
    sdd_sorted_free(&s);
    return rc;
}

/* ---- t-DCF ---- */

void sdd_tdcf_cost_asvspoof(sdd_tdcf_cost *c)
{
    const double pspoof = 0.05;
    c->pspoof = pspoof;
    c->ptar = (1 - pspoof) * 0.99;
    c->pnon = (1 - pspoof) * 0.01;
    c->cmiss = 1;
    c->cfa = 10;
    c->cfa_spoof = 10;
    c->cmiss_asv = 1;
    c->cfa_asv = 10;
    c->cmiss_cm = 1;
    c->cfa_cm = 10;
}

int sdd_asv_rates_compute(const double *tar, int64_t nt, const double *non, int64_t nn,
                          const double *spoof, int64_t ns, sdd_asv_rates *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    r->ntar = nt;
    r->nnon = nn;
    r->nspoof = ns;
    if (nt <= 0) return sdd_err_set(e, "no target trials in the ASV scores");
    if (nn <= 0) return sdd_err_set(e, "no nontarget trials in the ASV scores");
    for (int64_t i = 0; i < ns; i++)
        if (!isfinite(spoof[i])) return sdd_err_set(e, "spoof ASV trial %lld: score is not finite", (long long)i + 1);
    sdd_eer_result er;
    if (sdd_eer(tar, nt, non, nn, &er, e)) return sdd_err_prefix(e, "ASV scores");
    const double thr = er.threshold;
    int64_t fa = 0, miss = 0, mspoof = 0;
    for (int64_t i = 0; i < nn; i++) fa += non[i] >= thr;
    for (int64_t i = 0; i < nt; i++) miss += tar[i] < thr;
    for (int64_t i = 0; i < ns; i++) mspoof += spoof[i] < thr;
    r->eer = er.eer;
    r->threshold = thr;
    r->pfa = (double)fa / (double)nn;
    r->pmiss = (double)miss / (double)nt;
    if (ns > 0) {
        r->pmiss_spoof = (double)mspoof / (double)ns;
        r->pfa_spoof = (double)(ns - mspoof) / (double)ns;
    } else {
        r->pmiss_spoof = r->pfa_spoof = NAN;
    }
    return 0;
}

int sdd_tdcf_coef_compute(int form, const sdd_asv_rates *a, const sdd_tdcf_cost *c,
                          sdd_tdcf_coef *k, sdd_err *e)
{
    k->form = form;
    k->c0 = k->c1 = k->c2 = NAN;
    if (c->ptar < 0 || c->pnon < 0 || c->pspoof < 0 || fabs(c->ptar + c->pnon + c->pspoof - 1) > 1e-10)
        return sdd_err_set(e, "t-DCF priors must be non-negative and sum to one");
    if (a->nspoof <= 0 || isnan(a->pmiss_spoof))
        return sdd_err_set(e, "the ASV scores have no spoof trials (needed for the t-DCF)");
    if (form == SDD_TDCF_2019) {
        /* Ptar (Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv Pfa_asv */
        const double c1 = c->ptar * (c->cmiss_cm - c->cmiss_asv * a->pmiss) - c->pnon * c->cfa_asv * a->pfa;
        const double c2 = c->cfa_cm * c->pspoof * (1 - a->pmiss_spoof);
        if (c1 < 0 || c2 < 0)
            return sdd_err_set(e, "t-DCF weights are negative (C1 %.9g, C2 %.9g): check the ASV scores", c1, c2);
        k->c0 = 0.0;
        k->c1 = c1;
        k->c2 = c2;
        return 0;
    }
    if (form == SDD_TDCF_2021) {
        k->c0 = c->ptar * c->cmiss * a->pmiss + c->pnon * c->cfa * a->pfa;
        k->c1 = c->ptar * c->cmiss - (c->ptar * c->cmiss * a->pmiss + c->pnon * c->cfa * a->pfa);
        k->c2 = c->pspoof * c->cfa_spoof * a->pfa_spoof;
        return 0;
    }
    return sdd_err_set(e, "unknown t-DCF form %d (2019 or 2021)", form);
}

int sdd_min_tdcf_sorted(const sdd_sorted *cm, const unsigned char *keep, const sdd_tdcf_coef *k,
                        sdd_tdcf_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    r->min_tdcf = r->threshold = NAN;
    if (k->form != SDD_TDCF_2019 && k->form != SDD_TDCF_2021)
        return sdd_err_set(e, "unknown t-DCF form %d (2019 or 2021)", k->form);
    kept_counts c;
    count_kept(cm, keep, &c);
    if (need_both(&c, e)) return -1;
    if (c.ndistinct < 3)
        return sdd_err_set(e, "min t-DCF needs soft scores: only %lld distinct CM score values",
                           (long long)c.ndistinct);
    const double np_ = (double)c.npos, nn_ = (double)c.nneg;
    const double c0 = k->c0, c1 = k->c1, c2 = k->c2;
    const double m = c2 < c1 ? c2 : c1;            /* np.minimum(C1, C2) */
    const int legacy = k->form == SDD_TDCF_2019;
    const double den = legacy ? m : c0 + m;
    int64_t kk = 0, cum = 0, best_k = 0;
    double pm = 0.0, pf = 1.0;
    double v = legacy ? (c1 * pm + c2 * pf) / den : (c0 + c1 * pm + c2 * pf) / den;
    double best = v, best_pm = pm, best_pf = pf, best_thr = cm->score[c.first] - 0.001;
    int nan_seen = isnan(v);                      /* np.argmin stops at the first NaN */
    for (int64_t j = c.first; j < cm->n && !nan_seen; j++) {
        if (!KEPT(cm, keep, j)) continue;
        kk++;
        cum += cm->pos[j];
        pm = (double)cum / np_;
        pf = (double)(c.nneg - (kk - cum)) / nn_;
        v = legacy ? (c1 * pm + c2 * pf) / den : (c0 + c1 * pm + c2 * pf) / den;
        if (isnan(v) || v < best) {
            nan_seen = isnan(v);
            best = v;
            best_k = kk;
            best_pm = pm;
            best_pf = pf;
            best_thr = cm->score[j];
        }
    }
    r->min_tdcf = best;
    r->threshold = best_thr;
    r->pmiss_cm = best_pm;
    r->pfa_cm = best_pf;
    r->index = best_k;
    return 0;
}

/* ---- Cllr ---- */

/* numpy's logaddexp(x, y). */
static double logaddexp(double x, double y)
{
    if (x == y) return x + M_LN2;
    const double t = x - y;
    if (t > 0) return x + log1p(exp(-t));
    if (t <= 0) return y + log1p(exp(t));
    return t;
}

/* Neumaier compensated sum. */
typedef struct { double s, c; } ksum;
static void ksum_add(ksum *k, double x)
{
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x)) k->c += (k->s - t) + x;
    else k->c += (x - t) + k->s;
    k->s = t;
}
static double ksum_get(const ksum *k) { return k->s + k->c; }

int sdd_cllr_sorted(const sdd_sorted *s, const unsigned char *keep, double *cllr,
                    double *min_cllr, sdd_err *e)
{
    kept_counts c;
    count_kept(s, keep, &c);
    if (need_both(&c, e)) return -1;
    const double np_ = (double)c.npos, nn_ = (double)c.nneg;
    ksum st = { 0, 0 }, sn = { 0, 0 };
    for (int64_t j = c.first; j < s->n; j++) {
        if (!KEPT(s, keep, j)) continue;
        if (s->pos[j]) ksum_add(&st, logaddexp(0.0, -s->score[j]));
        else ksum_add(&sn, logaddexp(0.0, s->score[j]));
    }
    if (cllr) *cllr = (ksum_get(&st) / np_ + ksum_get(&sn) / nn_) / (2.0 * M_LN2);
    if (!min_cllr) return 0;

    /* PAV over blocks of equal scores: block i has T[i] positives, M[i]
     * negatives; merge while the previous block's positive fraction is >=
     * this one's (a non-decreasing fit). */
    double *T = malloc((size_t)c.ndistinct * sizeof *T), *M = malloc((size_t)c.ndistinct * sizeof *M);
    if (!T || !M) { free(T); free(M); return sdd_err_set(e, "out of memory"); }
    int64_t top = -1;
    double prev = 0.0;
    int started = 0;
    for (int64_t j = c.first; j < s->n; j++) {
        if (!KEPT(s, keep, j)) continue;
        if (!started || s->score[j] != prev) {
            /* close the previous block: pool adjacent violators */
            while (top >= 1 && T[top - 1] * (T[top] + M[top]) >= T[top] * (T[top - 1] + M[top - 1])) {
                T[top - 1] += T[top];
                M[top - 1] += M[top];
                top--;
            }
            top++;
            T[top] = M[top] = 0.0;
            started = 1;
        }
        prev = s->score[j];
        if (s->pos[j]) T[top] += 1.0;
        else M[top] += 1.0;
    }
    while (top >= 1 && T[top - 1] * (T[top] + M[top]) >= T[top] * (T[top - 1] + M[top - 1])) {
        T[top - 1] += T[top];
        M[top - 1] += M[top];
        top--;
    }
    /* block LLR = log(T/M) - log(Np/Nn); a positive costs log2(1 + M Np / (T Nn)),
     * a negative log2(1 + T Nn / (M Np)) */
    ksum ct = { 0, 0 }, cn = { 0, 0 };
    for (int64_t b = 0; b <= top; b++) {
        if (T[b] > 0 && M[b] > 0) {
            ksum_add(&ct, T[b] * log1p((M[b] * np_) / (T[b] * nn_)));
            ksum_add(&cn, M[b] * log1p((T[b] * nn_) / (M[b] * np_)));
        }
    }
    *min_cllr = (ksum_get(&ct) / np_ + ksum_get(&cn) / nn_) / (2.0 * M_LN2);
    free(T);
    free(M);
    return 0;
}

/* ---- probit ---- */

double sdd_probit(double p)
{
    if (isnan(p) || p < 0 || p > 1) return NAN;
    if (p == 0) return -INFINITY;
    if (p == 1) return INFINITY;
    if (p > 0.5) return -sdd_probit(1.0 - p);     /* 1 - p is exact here */
    /* Abramowitz & Stegun 26.2.23 start (|error| < 4.5e-4), then Halley steps
     * on Phi(x) = p with Phi from erfc, which is accurate in the lower tail. */
    const double t = sqrt(-2.0 * log(p));
    double x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                     (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
    for (int it = 0; it < 8; it++) {
        const double err = 0.5 * erfc(-x / M_SQRT2) - p;
        const double u = err * sqrt(2.0 * M_PI) * exp(x * x / 2.0);
        const double dx = u / (1.0 + x * u / 2.0);
        x -= dx;
        if (fabs(dx) <= 1e-15 * fabs(x) || dx == 0.0) break;
    }
    return x;
}

/* ---- attack x condition table ---- */

static char *dup_s(const char *s)
{
    size_t k = strlen(s) + 1;
    char *p = malloc(k);
    if (p) memcpy(p, s, k);
    return p;
}

void sdd_table_free(sdd_table *t)
{
    if (!t) return;
    for (int i = 0; t->row_name && i < t->nrow; i++) free(t->row_name[i]);
    for (int i = 0; t->col_name && i < t->ncol; i++) free(t->col_name[i]);
    free(t->row_name);
    free(t->col_name);
    free(t->eer);
    free(t->eer_threshold);
    free(t->min_tdcf);
    free(t->min_dcf);
    free(t->act_dcf);
    free(t->cllr);
    free(t->n_bona);
    free(t->n_spoof);
    memset(t, 0, sizeof *t);
}

int sdd_table_compute(const sdd_sorted *cm, const int *row_of, const char *const *rows, int nrows,
                      const int *col_of, const char *const *cols, int ncols,
                      const sdd_tdcf_coef *coef, sdd_table *t, sdd_err *e)
{
    memset(t, 0, sizeof *t);
    if (nrows < 0 || ncols < 0 || (nrows && !row_of) || (ncols && !col_of))
        return sdd_err_set(e, "table: bad arguments");
    const int R = nrows + 1, C = ncols + 1;
    const size_t cells = (size_t)R * (size_t)C, n = (size_t)cm->n;
    t->nrow = R;
    t->ncol = C;
    t->row_name = calloc((size_t)R, sizeof *t->row_name);
    t->col_name = calloc((size_t)C, sizeof *t->col_name);
    t->eer = malloc(cells * sizeof *t->eer);
    t->eer_threshold = malloc(cells * sizeof *t->eer_threshold);
    t->min_tdcf = malloc(cells * sizeof *t->min_tdcf);
    t->min_dcf = malloc(cells * sizeof *t->min_dcf);
    t->act_dcf = malloc(cells * sizeof *t->act_dcf);
    t->cllr = malloc(cells * sizeof *t->cllr);
    t->n_bona = calloc(cells, sizeof *t->n_bona);
    t->n_spoof = calloc(cells, sizeof *t->n_spoof);
    unsigned char *keep = malloc(n ? n : 1), *posorig = malloc(n ? n : 1);
    int ok = t->row_name && t->col_name && t->eer && t->eer_threshold && t->min_tdcf && t->min_dcf && t->act_dcf && t->cllr && t->n_bona &&
             t->n_spoof && keep && posorig;
    for (int i = 0; ok && i < R; i++) ok = (t->row_name[i] = dup_s(i < nrows ? rows[i] : "pooled")) != NULL;
    for (int i = 0; ok && i < C; i++) ok = (t->col_name[i] = dup_s(i < ncols ? cols[i] : "pooled")) != NULL;
    if (!ok) {
        free(keep); free(posorig);
        sdd_table_free(t);
        return sdd_err_set(e, "out of memory for a %d x %d table", R, C);
    }
    for (size_t k = 0; k < n; k++) posorig[cm->orig[k]] = cm->pos[k];
    sdd_dcf_cost dcf;
    sdd_dcf_cost_asvspoof5(&dcf);
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < C; c++) {
            const size_t cell = (size_t)r * C + c;
            int64_t nb = 0, ns = 0;
            for (size_t i = 0; i < n; i++) {
                const int kc = c == ncols || col_of[i] == c;
                const int kr = posorig[i] || r == nrows || row_of[i] == r;
                keep[i] = (unsigned char)(kc && kr);
                if (keep[i]) { if (posorig[i]) nb++; else ns++; }
            }
            t->n_bona[cell] = nb;
            t->n_spoof[cell] = ns;
            t->eer[cell] = t->eer_threshold[cell] = t->min_tdcf[cell] = NAN;
            t->min_dcf[cell] = t->act_dcf[cell] = t->cllr[cell] = NAN;
            if (nb == 0 || ns == 0) continue;
            sdd_eer_result er;
            sdd_err ignore;
            if (sdd_eer_sorted(cm, keep, &er, &ignore) == 0) {
                t->eer[cell] = er.eer;
                t->eer_threshold[cell] = er.threshold;
            }
            sdd_dcf_result dr;
            if (sdd_dcf_sorted(cm, keep, &dcf, &dr, &ignore) == 0) {
                t->min_dcf[cell] = dr.min_dcf;
                t->act_dcf[cell] = dr.act_dcf;
            }
            if (sdd_cllr_sorted(cm, keep, &t->cllr[cell], NULL, &ignore)) t->cllr[cell] = NAN;
            if (coef && coef[cell].form && !isnan(coef[cell].c0) && !isnan(coef[cell].c1) &&
                !isnan(coef[cell].c2)) {
                sdd_tdcf_result tr;
                if (sdd_min_tdcf_sorted(cm, keep, &coef[cell], &tr, &ignore) == 0)
                    t->min_tdcf[cell] = tr.min_tdcf;
            }
        }
    }
    free(keep);
    free(posorig);
    return 0;
}
