/* Owns the bootstrap of bootstrap.h: the EER of a multiset of trials (one
 * O(n) pass over the sorted trials with a count per trial), numpy's linear
 * quantile, pairing two systems' trials by ID, the replicate loop (threads
 * over replicates, one count array each), the summary lines and JSON, and
 * sdd_eval_bootstrap (evaluate.h), which runs it on sdd eval's reports (its
 * per-attack and per-condition lists: boot_table.c). */
#include "metrics/bootstrap.h"
#include "metrics/evaluate.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

int sdd_metrics_counts(const sdd_sorted *s, const uint32_t *count, const sdd_dcf_cost *dc, const sdd_tdcf_coef *tk,
                       sdd_count_metrics *m, sdd_err *e)
{
    memset(m, 0, sizeof *m);
    for (int k = 0; k < SDD_BOOT_NMETRIC; k++) m->v[k] = NAN;
    sdd_eer_result *r = &m->eer;
    int64_t npos = 0, nneg = 0, first = -1, ndistinct = 0;
    double prev = 0.0;
    for (int64_t j = 0; j < s->n; j++) {
        const uint32_t c = count[s->orig[j]];
        if (!c) continue;
        if (first < 0 || s->score[j] != prev) ndistinct++;
        if (first < 0) first = j;
        prev = s->score[j];
        if (s->pos[j]) npos += c;
        else nneg += c;
    }
    r->npos = npos;
    r->nneg = nneg;
    if (npos == 0) return sdd_err_set(e, "no bona fide trials");
    if (nneg == 0) return sdd_err_set(e, "no spoof trials");
    if (dc && (!(dc->pspoof > 0 && dc->pspoof < 1) || !(dc->cmiss > 0) || !(dc->cfa > 0) || !isfinite(dc->cmiss) ||
               !isfinite(dc->cfa)))
        return sdd_err_set(e, "DCF parameters must be 0 < Pspoof < 1 and positive finite costs");
    /* the t-DCF of sdd_min_tdcf_sorted: only for soft scores (3+ distinct values) */
    const int tdcf = tk && ndistinct >= 3 && (tk->form == SDD_TDCF_2019 || tk->form == SDD_TDCF_2021);
    /* the loops of sdd_eer_sorted, sdd_dcf_sorted and sdd_min_tdcf_sorted in
     * one, each trial taken count times in a row: the copies of one trial
     * are adjacent in the sorted multiset (equal score and class), and which
     * of them comes first changes no point */
    const double np_ = (double)npos, nn_ = (double)nneg;
    double best_d = fabs(0.0 - 1.0), best_frr = 0.0, best_far = 1.0;
    double best_thr = s->score[first] - 0.001;
    int64_t best_k = 0, k = 0, cum = 0;
    const double ptar = dc ? 1 - dc->pspoof : 0, pfa_w = 1 - ptar;
    double best_dcf = dc ? dc->cmiss * 0.0 * ptar + dc->cfa * 1.0 * pfa_w : 0;
    const double c0 = tdcf ? tk->c0 : 0, c1 = tdcf ? tk->c1 : 0, c2 = tdcf ? tk->c2 : 0;
    const int legacy = tdcf && tk->form == SDD_TDCF_2019;
    const double den = legacy ? (c2 < c1 ? c2 : c1) : c0 + (c2 < c1 ? c2 : c1);
    double best_t = legacy ? (c1 * 0.0 + c2 * 1.0) / den : (c0 + c1 * 0.0 + c2 * 1.0) / den;
    int nan_seen = isnan(best_t);   /* np.argmin stops at the first NaN */
    for (int64_t j = first; j < s->n; j++) {
        const uint32_t c = count[s->orig[j]];
        for (uint32_t t = 0; t < c; t++) {
            k++;
            cum += s->pos[j];
            const double frr = (double)cum / np_;
            const double far = (double)(nneg - (k - cum)) / nn_;
            const double dd = fabs(frr - far);
            if (dd < best_d) {
                best_d = dd;
                best_k = k;
                best_frr = frr;
                best_far = far;
                best_thr = s->score[j];
            }
            if (dc) {
                const double v = dc->cmiss * frr * ptar + dc->cfa * far * pfa_w;
                if (v < best_dcf) best_dcf = v;
            }
            if (tdcf && !nan_seen) {
                const double v = legacy ? (c1 * frr + c2 * far) / den : (c0 + c1 * frr + c2 * far) / den;
                if (isnan(v) || v < best_t) { best_t = v; nan_seen = isnan(v); }
            }
        }
    }
    r->eer = (best_frr + best_far) / 2.0;
    r->threshold = best_thr;
    r->frr = best_frr;
    r->far = best_far;
    r->index = best_k;
    m->v[SDD_BOOT_EER] = r->eer;
    if (dc) m->v[SDD_BOOT_MINDCF] = best_dcf / fmin(dc->cmiss * ptar, dc->cfa * pfa_w);
    if (tdcf) m->v[SDD_BOOT_TDCF] = best_t;
    return 0;
}

int sdd_eer_counts(const sdd_sorted *s, const uint32_t *count, sdd_eer_result *r, sdd_err *e)
{
    sdd_count_metrics m;
    const int rc = sdd_metrics_counts(s, count, NULL, NULL, &m, e);
    *r = m.eer;
    return rc;
}

double sdd_quantile_sorted(const double *v, int64_t n, double q)
{
    /* numpy: virtual index q (n - 1), then _lerp(a, b, t) = a + (b - a) t,
     * or b - (b - a) (1 - t) where t >= 0.5 */
    const double vi = q * (double)(n - 1);
    double fl = floor(vi);
    if (fl < 0) fl = 0;
    int64_t i = (int64_t)fl;
    if (i > n - 1) i = n - 1;
    const int64_t i1 = i + 1 < n ? i + 1 : n - 1;
    const double t = vi - fl, a = v[i], b = v[i1], d = b - a;
    return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
}

static int cmp_id(const void *x, const void *y, void *ids)
{
    const char *const *id = ids;
    return strcmp(id[*(const int64_t *)x], id[*(const int64_t *)y]);
}

/* class of each input position (the sorted arrays hold it by rank) */
static unsigned char *labels_by_input(const sdd_sorted *s)
{
    unsigned char *l = malloc((size_t)(s->n ? s->n : 1));
    if (l)
        for (int64_t k = 0; k < s->n; k++) l[s->orig[k]] = s->pos[k];
    return l;
}

int sdd_boot_pair(const sdd_sorted *a, const char *const *ida, const sdd_sorted *b, const char *const *idb,
                  int64_t *b_of_a, int64_t *unpaired_a, int64_t *unpaired_b, sdd_err *e)
{
    int64_t *ord = malloc((size_t)(b->n ? b->n : 1) * sizeof *ord);
    unsigned char *la = labels_by_input(a), *lb = labels_by_input(b), *hit = calloc((size_t)(b->n ? b->n : 1), 1);
    int rc = 0;
    if (!ord || !la || !lb || !hit) { rc = sdd_err_set(e, "out of memory pairing %lld trials", (long long)a->n); goto done; }
    for (int64_t j = 0; j < b->n; j++) ord[j] = j;
    qsort_r(ord, (size_t)b->n, sizeof *ord, cmp_id, (void *)idb);
    for (int64_t j = 1; j < b->n; j++)
        if (!strcmp(idb[ord[j]], idb[ord[j - 1]])) {
            rc = sdd_err_set(e, "trial %.200s is scored twice in the compared system", idb[ord[j]]);
            goto done;
        }
    *unpaired_a = 0;
    for (int64_t i = 0; i < a->n; i++) {
        int64_t lo = 0, hi = b->n;
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (strcmp(idb[ord[mid]], ida[i]) < 0) lo = mid + 1;
            else hi = mid;
        }
        const int64_t j = lo < b->n && !strcmp(idb[ord[lo]], ida[i]) ? ord[lo] : -1;
        b_of_a[i] = j;
        if (j < 0) { (*unpaired_a)++; continue; }
        if (hit[j]) { rc = sdd_err_set(e, "trial %.200s is scored twice", ida[i]); goto done; }
        hit[j] = 1;
        if (la[i] != lb[j]) {
            rc = sdd_err_set(e, "trial %.200s is %s in one system and %s in the other", ida[i],
                             la[i] ? "bona fide" : "spoof", la[i] ? "spoof" : "bona fide");
            goto done;
        }
    }
    *unpaired_b = 0;
    for (int64_t j = 0; j < b->n; j++) *unpaired_b += !hit[j];
done:
    free(ord);
    free(la);
    free(lb);
    free(hit);
    return rc;
}

static int cmp_double(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* interval of reps values (sorted in place) */
static void interval(double *v, int reps, double level, double *lo, double *hi)
{
    qsort(v, (size_t)reps, sizeof *v, cmp_double);
    *lo = sdd_quantile_sorted(v, reps, (1.0 - level) / 2.0);
    *hi = sdd_quantile_sorted(v, reps, (1.0 + level) / 2.0);
}

#define NM SDD_BOOT_NMETRIC

/* replicate k's trial counts (input positions of the n trials): draw t
 * picks a bona fide trial (cls[0..nb)) for t < nb, a spoof one (cls[nb..))
 * after */
static void draw_trials(uint64_t seed, int k, const int64_t *cls, int64_t nb, int64_t ns, int64_t n, uint32_t *cnt)
{
    const uint64_t key = sdd_rng_key(seed, (uint64_t)k, 1, 0);
    memset(cnt, 0, (size_t)(n ? n : 1) * sizeof *cnt);
    for (int64_t t = 0; t < nb + ns; t++) {
        const int64_t base = t < nb ? 0 : nb, m = t < nb ? nb : ns;
        int64_t pick = (int64_t)(sdd_rng_uniform_d(key, (uint64_t)t) * (double)m);
        if (pick >= m) pick = m - 1;
        cnt[cls[base + pick]]++;
    }
}

/* dst (nx entries) = cnt of the trials cls[0..m) moved to another run's
 * input positions, map[cls[t]] (map NULL: the same positions); 0 elsewhere */
static void map_counts(const uint32_t *cnt, const int64_t *map, const int64_t *cls, int64_t m, int64_t nx, uint32_t *dst)
{
    memset(dst, 0, (size_t)(nx ? nx : 1) * sizeof *dst);
    for (int64_t t = 0; t < m; t++) dst[map ? map[cls[t]] : cls[t]] = cnt[cls[t]];
}

/* the metrics of x's trials counted cnt into out, NaN where undefined: a
 * replicate draws both classes, so the only failure is none of them */
static void metrics_or_nan(const sdd_sorted *x, const uint32_t *cnt, const sdd_boot_params *p, const sdd_tdcf_coef *tk,
                           double out[NM])
{
    sdd_count_metrics m;
    sdd_err ee;
    if (sdd_metrics_counts(x, cnt, p->dcf, tk, &m, &ee))
        for (int q = 0; q < NM; q++) m.v[q] = NAN;
    memcpy(out, m.v, sizeof m.v);
}

/* replicate k: counts of a's trials (cnt, input positions), b's through
 * b_of_a (cnt_b), the metrics of each into va / vb (k * NM + metric) */
static void replicate(const sdd_sorted *a, const sdd_sorted *b, const int64_t *b_of_a, const sdd_boot_params *p,
                      const int64_t *cls, int64_t nb, int64_t ns, int k, uint32_t *cnt, uint32_t *cnt_b, double *va,
                      double *vb)
{
    draw_trials(p->seed, k, cls, nb, ns, a->n, cnt);
    metrics_or_nan(a, cnt, p, p->tdcf, va + (size_t)k * NM);
    if (!b) return;
    map_counts(cnt, b_of_a, cls, nb + ns, b->n, cnt_b);
    metrics_or_nan(b, cnt_b, p, p->tdcf, vb + (size_t)k * NM);
}

/* the trials drawn from, by class, in input order: bona fide into
 * cls[0..*nb), spoof into cls[*nb..*nb + *ns); with b_of_a only those with a
 * match (>= 0) */
static void split_classes(const unsigned char *la, int64_t n, const int64_t *b_of_a, int64_t *cls, int64_t *nb, int64_t *ns)
{
    *nb = *ns = 0;
    for (int64_t i = 0; i < n; i++)
        if ((!b_of_a || b_of_a[i] >= 0) && la[i]) cls[(*nb)++] = i;
    for (int64_t i = 0; i < n; i++)
        if ((!b_of_a || b_of_a[i] >= 0) && !la[i]) cls[*nb + (*ns)++] = i;
}

static int check_params(const sdd_boot_params *p, sdd_err *e)
{
    if (!p || p->reps < 1 || p->reps > SDD_BOOT_MAX_REPS)
        return sdd_err_set(e, "bootstrap: %d replicates (1 to %d)", p ? p->reps : 0, SDD_BOOT_MAX_REPS);
    if (!(p->level > 0.0 && p->level < 1.0)) return sdd_err_set(e, "bootstrap: level %g is not in (0, 1)", p->level);
    return 0;
}

/* metric m of the R replicates in v (R, NM) into col */
static void column(const double *v, int R, int m, double *col)
{
    for (int k = 0; k < R; k++) col[k] = v[(size_t)k * NM + m];
}

/* replicates whose metric m is NaN in v or (when given) in w */
static int64_t undefined(const double *v, const double *w, int R, int m)
{
    int64_t u = 0;
    for (int k = 0; k < R; k++) u += isnan(v[(size_t)k * NM + m]) || (w && isnan(w[(size_t)k * NM + m]));
    return u;
}

/* the R replicates d of a difference (sorted in place): its interval, the
 * two-sided p of "no difference", and how many were <= 0 and >= 0 */
static void p_interval(double *d, int R, double level, double *lo, double *hi, double *p, int64_t *n_le, int64_t *n_ge)
{
    int64_t le = 0, ge = 0;
    for (int k = 0; k < R; k++) {
        le += d[k] <= 0.0;
        ge += d[k] >= 0.0;
    }
    const double m = (double)(le < ge ? le : ge);
    *p = 2.0 * m / (double)R < 1.0 ? 2.0 * m / (double)R : 1.0;
    if (n_le) *n_le = le;
    if (n_ge) *n_ge = ge;
    interval(d, R, level, lo, hi);
}

int sdd_boot_run(const sdd_sorted *a, const sdd_sorted *b, const int64_t *b_of_a, const sdd_boot_params *p,
                 sdd_boot_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    if (check_params(p, e)) return -1;
    if (b && !b_of_a) return sdd_err_set(e, "bootstrap: a paired run needs the pairing");
    r->reps = p->reps;
    r->level = p->level;
    r->seed = p->seed;
    r->paired = b != NULL;
    const int64_t n = a->n, nbn = b ? b->n : 0;
    const int R = p->reps;
    /* the trials drawn from: a's (paired: those with a match), by class, in input order */
    unsigned char *la = labels_by_input(a);
    int64_t *cls = malloc((size_t)(n ? n : 1) * sizeof *cls);
    uint32_t *one = calloc((size_t)(n ? n : 1), sizeof *one), *one_b = b ? calloc((size_t)(nbn ? nbn : 1), sizeof *one_b) : NULL;
    double *va = malloc((size_t)R * NM * sizeof *va), *vb = b ? malloc((size_t)R * NM * sizeof *vb) : NULL;
    double *col = malloc((size_t)R * sizeof *col);
    int rc = 0;
    if (!la || !cls || !one || !va || !col || (b && (!one_b || !vb))) {
        rc = sdd_err_set(e, "out of memory for the bootstrap of %lld trials", (long long)n);
        goto done;
    }
    int64_t nb, ns;
    split_classes(la, n, b ? b_of_a : NULL, cls, &nb, &ns);
    r->n_bona = nb;
    r->n_spoof = ns;
    if (nb == 0 || ns == 0) {
        rc = sdd_err_set(e, "bootstrap: no %s trials%s", nb ? "spoof" : "bona fide", b ? " scored by both systems" : "");
        goto done;
    }
    if ((uint64_t)(nb + ns) > UINT32_MAX) { rc = sdd_err_set(e, "bootstrap: too many trials"); goto done; }
    /* the point estimates over the trials resampled */
    sdd_count_metrics ma, mb;
    for (int64_t k = 0; k < nb + ns; k++) one[cls[k]] = 1;
    if (b) map_counts(one, b_of_a, cls, nb + ns, nbn, one_b);
    if (sdd_metrics_counts(a, one, p->dcf, p->tdcf, &ma, e) || (b && sdd_metrics_counts(b, one_b, p->dcf, p->tdcf, &mb, e))) {
        rc = -1;
        goto done;
    }
    int failed = 0;
    #pragma omp parallel
    {
        uint32_t *cnt = calloc((size_t)(n ? n : 1), sizeof *cnt);
        uint32_t *cnt_b = b ? calloc((size_t)(nbn ? nbn : 1), sizeof *cnt_b) : NULL;
        const int ok = cnt && (!b || cnt_b);
        if (!ok) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (int k = 0; k < R; k++)
            if (ok) replicate(a, b, b_of_a, p, cls, nb, ns, k, cnt, cnt_b, va, vb);
        free(cnt);
        free(cnt_b);
    }
    if (failed) { rc = sdd_err_set(e, "out of memory for the bootstrap's counts"); goto done; }
    for (int m = 0; m < NM; m++) {
        r->est[m] = ma.v[m];
        r->est_b[m] = b ? mb.v[m] : NAN;
        r->lo[m] = r->hi[m] = r->lo_b[m] = r->hi_b[m] = r->diff[m] = r->diff_lo[m] = r->diff_hi[m] = r->p[m] = NAN;
        if (isnan(ma.v[m]) || (b && isnan(mb.v[m]))) continue;
        /* a metric undefined in any replicate (a min t-DCF of hard scores) has no interval */
        const int64_t u = undefined(va, vb, R, m);
        if (u) {
            if (m == SDD_BOOT_TDCF) r->tdcf_hard = u;
            continue;
        }
        r->has[m] = 1;
        column(va, R, m, col);
        interval(col, R, p->level, &r->lo[m], &r->hi[m]);
        if (!b) continue;
        column(vb, R, m, col);
        interval(col, R, p->level, &r->lo_b[m], &r->hi_b[m]);
        r->diff[m] = ma.v[m] - mb.v[m];
        for (int k = 0; k < R; k++) col[k] = va[(size_t)k * NM + m] - vb[(size_t)k * NM + m];
        p_interval(col, R, p->level, &r->diff_lo[m], &r->diff_hi[m], &r->p[m], &r->n_le[m], &r->n_ge[m]);
    }
done:
    free(la);
    free(cls);
    free(one);
    free(one_b);
    free(va);
    free(vb);
    free(col);
    return rc;
}

static const char *const metric_key[NM] = { "eer", "min_dcf", "min_tdcf" };

void sdd_boot_p_text(double p, int reps, char *buf, size_t n)
{
    if (p * reps < 1.0) snprintf(buf, n, "p < %.2g", 1.0 / reps);
    else snprintf(buf, n, "p = %.3g", p);
}

void sdd_boot_p_cell(double p, int reps, char *buf, size_t n)
{
    if (isnan(p)) snprintf(buf, n, "-");
    else if (reps > 0 && p * reps < 1.0) snprintf(buf, n, "<%.2g", 1.0 / reps);
    else snprintf(buf, n, "%.3g", p);
}

void sdd_boot_print(const sdd_boot_result *r, const char *name_b, FILE *f)
{
    fprintf(f, "bootstrap  %d stratified replicates of the %lld bona fide and %lld spoof trials%s (seed %llu); "
               "%g%% percentile intervals\n",
            r->reps, (long long)r->n_bona, (long long)r->n_spoof, r->paired ? " both systems scored" : "",
            (unsigned long long)r->seed, 100.0 * r->level);
    static const char *const label[NM] = { "EER", "minDCF", "min t-DCF" };
    const double scale[NM] = { 100.0, 1.0, 1.0 };
    const char *unit[NM] = { " %", "", "" };
    for (int m = 0; m < NM; m++) {
        if (!r->has[m]) continue;
        const double k = scale[m];
        fprintf(f, "  %-10s %.4f .. %.4f%s", label[m], k * r->lo[m], k * r->hi[m], unit[m]);
        if (r->paired)
            fprintf(f, "   compared %.4f%s (%.4f .. %.4f)", k * r->est_b[m], unit[m], k * r->lo_b[m], k * r->hi_b[m]);
        if (m == SDD_BOOT_TDCF) fprintf(f, "   (the ASV error rates held fixed)");
        fputc('\n', f);
    }
    if (r->tdcf_hard)
        fprintf(f, "  min t-DCF  no interval: undefined in %lld replicates (fewer than 3 distinct scores drawn)\n",
                (long long)r->tdcf_hard);
    if (!r->paired) return;
    if (r->unpaired_a || r->unpaired_b)
        fprintf(f, "  (this system on the trials both scored: EER %.9f %%)\n", 100.0 * r->est[SDD_BOOT_EER]);
    fprintf(f, "difference this - compared (%s), paired bootstrap, two-sided p:\n", name_b);
    for (int m = 0; m < NM; m++) {
        if (!r->has[m]) continue;
        char pt[64];
        sdd_boot_p_text(r->p[m], r->reps, pt, sizeof pt);
        const double k = scale[m];
        fprintf(f, "  %-10s %+.4f%s, CI %+.4f .. %+.4f, %s\n", label[m], k * r->diff[m], m == SDD_BOOT_EER ? " points" : "",
                k * r->diff_lo[m], k * r->diff_hi[m], pt);
    }
}

json_t *sdd_boot_json(const sdd_boot_result *r, const char *name_b)
{
    json_t *j = json_object();
    if (!j) return NULL;
    json_object_set_new(j, "replicates", json_integer(r->reps));
    json_object_set_new(j, "level", json_real(r->level));
    json_object_set_new(j, "seed", json_integer((json_int_t)(r->seed & 0x7fffffffffffffffULL)));
    json_object_set_new(j, "bonafide", json_integer(r->n_bona));
    json_object_set_new(j, "spoof", json_integer(r->n_spoof));
    json_object_set_new(j, "tdcf_undefined_replicates", json_integer(r->tdcf_hard));
    json_t *c = r->paired ? json_object() : NULL;
    for (int m = 0; m < NM; m++) {
        if (!r->has[m]) continue;
        json_t *x = json_object();
        json_object_set_new(x, "value", json_real(r->est[m]));
        json_object_set_new(x, "lo", json_real(r->lo[m]));
        json_object_set_new(x, "hi", json_real(r->hi[m]));
        json_object_set_new(j, metric_key[m], x);
        if (!c) continue;
        json_t *y = json_object();
        json_object_set_new(y, "value", json_real(r->est_b[m]));
        json_object_set_new(y, "lo", json_real(r->lo_b[m]));
        json_object_set_new(y, "hi", json_real(r->hi_b[m]));
        json_object_set_new(y, "diff", json_real(r->diff[m]));
        json_object_set_new(y, "diff_lo", json_real(r->diff_lo[m]));
        json_object_set_new(y, "diff_hi", json_real(r->diff_hi[m]));
        json_object_set_new(y, "p", json_real(r->p[m]));
        json_object_set_new(y, "replicates_le0", json_integer(r->n_le[m]));
        json_object_set_new(y, "replicates_ge0", json_integer(r->n_ge[m]));
        json_object_set_new(c, metric_key[m], y);
    }
    if (c) {
        json_object_set_new(c, "scores", json_string(name_b ? name_b : ""));
        json_object_set_new(c, "unmatched_this", json_integer(r->unpaired_a));
        json_object_set_new(c, "unmatched_compared", json_integer(r->unpaired_b));
        json_object_set_new(j, "compared", c);
    }
    return j;
}

int sdd_eval_bootstrap(sdd_eval_report *r, const sdd_eval_report *rb, const char *name_b, const sdd_boot_params *p,
                       int allow_unpaired, sdd_err *e)
{
    r->has_boot = 0;
    if (!r->has_cm || (rb && !rb->has_cm)) return sdd_err_set(e, "bootstrap: no CM scores evaluated");
    if (rb && (!r->trial_id || !rb->trial_id))
        return sdd_err_set(e, "bootstrap: a report without its trial IDs (sdd_eval_opts.keep_trial_ids) cannot be paired");
    int64_t *b_of_a = NULL, ua = 0, ub = 0;
    if (rb) {
        if (!(b_of_a = malloc((size_t)(r->cm.n ? r->cm.n : 1) * sizeof *b_of_a))) return sdd_err_set(e, "out of memory");
        if (sdd_boot_pair(&r->cm, (const char *const *)r->trial_id, &rb->cm, (const char *const *)rb->trial_id, b_of_a,
                          &ua, &ub, e)) {
            free(b_of_a);
            return sdd_err_prefix(e, "%s", name_b);
        }
        if ((ua || ub) && !allow_unpaired) {
            free(b_of_a);
            return sdd_err_set(e, "%s: %lld of this system's %lld trials have no score there and %lld of its %lld trials "
                               "none here (--allow-missing compares the trials both scored)",
                               name_b, (long long)ua, (long long)r->cm.n, (long long)ub, (long long)rb->cm.n);
        }
    }
    /* minDCF with ASVspoof 5's costs, as the report; the min t-DCF with the
     * report's coefficients (both systems share the ASV system) */
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    sdd_boot_params q = *p;
    q.dcf = &dc;
    q.tdcf = r->has_tdcf && !isnan(r->tdcf.min_tdcf) ? &r->coef : NULL;
    if (sdd_boot_run(&r->cm, rb ? &rb->cm : NULL, b_of_a, &q, &r->boot, e)) {
        free(b_of_a);
        return -1;
    }
    r->boot.unpaired_a = ua;
    r->boot.unpaired_b = ub;
    r->boot_name = name_b;
    const int rc = sdd_eval_bootstrap_lists(r, rb, b_of_a, &q, e);
    free(b_of_a);
    if (rc) return -1;
    r->has_boot = 1;
    return 0;
}

/* ---- several runs per system (sdd compare) ---- */

/* the statistic of one replicate: d[s] (run pair s's difference, NaN when
 * undefined) averaged with weights w (NULL: every pair once) */
static double mean_w(const double *d, const int *w, int S)
{
    double sum = 0.0;
    int m = 0;
    for (int s = 0; s < S; s++) {
        const int k = w ? w[s] : 1;
        if (!k) continue;
        sum += (double)k * d[s];
        m += k;
    }
    return sum / (double)m;
}

int sdd_boot_runs(const sdd_sorted *const *a, const sdd_sorted *const *b, int S, const int64_t *const *ma,
                  const int64_t *const *mb, const sdd_boot_params *p, sdd_boot_runs_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    if (S < 1 || S > SDD_BOOT_MAX_RUNS) return sdd_err_set(e, "compare: %d runs per system (1 to %d)", S, SDD_BOOT_MAX_RUNS);
    if (check_params(p, e)) return -1;
    r->runs = S;
    r->reps = p->reps;
    r->level = p->level;
    r->seed = p->seed;
    const int R = p->reps;
    const int64_t n = a[0]->n;
    int64_t nmax = n;
    for (int s = 0; s < S; s++) {
        if (a[s]->n > nmax) nmax = a[s]->n;
        if (b[s]->n > nmax) nmax = b[s]->n;
    }
    unsigned char *la = labels_by_input(a[0]);
    int64_t *cls = malloc((size_t)(n ? n : 1) * sizeof *cls);
    uint32_t *one0 = calloc((size_t)(n ? n : 1), sizeof *one0), *one = malloc((size_t)(nmax ? nmax : 1) * sizeof *one);
    /* (R, NM) statistics: runs and trials resampled, trials only */
    double *vh = malloc((size_t)R * NM * sizeof *vh), *vt = malloc((size_t)R * NM * sizeof *vt);
    double *col = malloc((size_t)R * sizeof *col);
    int rc = 0;
    if (!la || !cls || !one0 || !one || !vh || !vt || !col) { rc = sdd_err_set(e, "out of memory for the bootstrap"); goto done; }
    int64_t nb, ns;
    split_classes(la, n, NULL, cls, &nb, &ns);
    r->n_bona = nb;
    r->n_spoof = ns;
    if (nb == 0 || ns == 0) { rc = sdd_err_set(e, "bootstrap: no %s trials", nb ? "spoof" : "bona fide"); goto done; }
    if ((uint64_t)(nb + ns) > UINT32_MAX) { rc = sdd_err_set(e, "bootstrap: too many trials"); goto done; }
    /* each run on the whole set (cls holds every trial: none is left out here) */
    for (int64_t i = 0; i < n; i++) one0[i] = 1;
    for (int s = 0; s < S; s++)
        for (int side = 0; side < 2; side++) {
            const sdd_sorted *x = side ? b[s] : a[s];
            map_counts(one0, side ? mb[s] : ma[s], cls, n, x->n, one);
            sdd_count_metrics m;
            if (sdd_metrics_counts(x, one, p->dcf, p->tdcf, &m, e)) { rc = -1; goto done; }
            for (int k = 0; k < NM; k++) (side ? r->b : r->a)[s][k] = m.v[k];
        }
    for (int k = 0; k < NM; k++) {
        double sa = 0, sb = 0;
        for (int s = 0; s < S; s++) { sa += r->a[s][k]; sb += r->b[s][k]; }
        r->mean_a[k] = sa / S;
        r->mean_b[k] = sb / S;
        r->diff[k] = r->mean_a[k] - r->mean_b[k];
    }
    int failed = 0;
    #pragma omp parallel
    {
        uint32_t *cnt = malloc((size_t)(n ? n : 1) * sizeof *cnt), *cr = malloc((size_t)(nmax ? nmax : 1) * sizeof *cr);
        double d[SDD_BOOT_MAX_RUNS][NM];
        const int ok = cnt && cr;
        if (!ok) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (int k = 0; k < R; k++) {
            if (!ok) continue;
            draw_trials(p->seed, k, cls, nb, ns, n, cnt);
            for (int s = 0; s < S; s++) {
                double v[2][NM];
                for (int side = 0; side < 2; side++) {
                    const sdd_sorted *x = side ? b[s] : a[s];
                    map_counts(cnt, side ? mb[s] : ma[s], cls, n, x->n, cr);
                    metrics_or_nan(x, cr, p, p->tdcf, v[side]);
                }
                for (int q = 0; q < NM; q++) d[s][q] = v[0][q] - v[1][q];
            }
            /* the run pairs drawn: S draws after the trials' in the same stream */
            const uint64_t key = sdd_rng_key(p->seed, (uint64_t)k, 1, 0);
            int w[SDD_BOOT_MAX_RUNS] = { 0 };
            for (int u = 0; u < S; u++) {
                int pick = (int)(sdd_rng_uniform_d(key, (uint64_t)(nb + ns + u)) * (double)S);
                w[pick < S ? pick : S - 1]++;
            }
            for (int q = 0; q < NM; q++) {
                double dq[SDD_BOOT_MAX_RUNS];
                for (int s = 0; s < S; s++) dq[s] = d[s][q];
                vt[(size_t)k * NM + q] = mean_w(dq, NULL, S);
                vh[(size_t)k * NM + q] = mean_w(dq, w, S);
            }
        }
        free(cnt);
        free(cr);
    }
    if (failed) { rc = sdd_err_set(e, "out of memory for the bootstrap's counts"); goto done; }
    for (int q = 0; q < NM; q++) {
        r->lo[q] = r->hi[q] = r->p[q] = r->lo_t[q] = r->hi_t[q] = r->p_t[q] = NAN;
        if (isnan(r->diff[q])) continue;
        if (undefined(vh, vt, R, q)) continue;
        r->has[q] = 1;
        column(vh, R, q, col);
        p_interval(col, R, p->level, &r->lo[q], &r->hi[q], &r->p[q], NULL, NULL);
        column(vt, R, q, col);
        p_interval(col, R, p->level, &r->lo_t[q], &r->hi_t[q], &r->p_t[q], NULL, NULL);
    }
done:
    free(la);
    free(cls);
    free(one0);
    free(one);
    free(vh);
    free(vt);
    free(col);
    return rc;
}
