/* Owns the bootstrap of bootstrap.h: the EER of a multiset of trials (one
 * O(n) pass over the sorted trials with a count per trial), numpy's linear
 * quantile, pairing two systems' trials by ID, the replicate loop (threads
 * over replicates, one count array each), the summary lines and JSON, and
 * sdd_eval_bootstrap (evaluate.h), which runs it on sdd eval's reports. */
#include "metrics/bootstrap.h"
#include "metrics/evaluate.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

int sdd_eer_counts(const sdd_sorted *s, const uint32_t *count, sdd_eer_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    int64_t npos = 0, nneg = 0, first = -1;
    for (int64_t j = 0; j < s->n; j++) {
        const uint32_t c = count[s->orig[j]];
        if (!c) continue;
        if (first < 0) first = j;
        if (s->pos[j]) npos += c;
        else nneg += c;
    }
    r->npos = npos;
    r->nneg = nneg;
    if (npos == 0) return sdd_err_set(e, "no bona fide trials");
    if (nneg == 0) return sdd_err_set(e, "no spoof trials");
    /* sdd_eer_sorted's loop, each trial taken count times in a row: the
     * copies of one trial are adjacent in the sorted multiset (equal score
     * and class), and which of them comes first changes no point */
    const double np_ = (double)npos, nn_ = (double)nneg;
    double best_d = fabs(0.0 - 1.0), best_frr = 0.0, best_far = 1.0;
    double best_thr = s->score[first] - 0.001;
    int64_t best_k = 0, k = 0, cum = 0;
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
        }
    }
    r->eer = (best_frr + best_far) / 2.0;
    r->threshold = best_thr;
    r->frr = best_frr;
    r->far = best_far;
    r->index = best_k;
    return 0;
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

int sdd_boot_eer(const sdd_sorted *a, const sdd_sorted *b, const int64_t *b_of_a, const sdd_boot_params *p,
                 sdd_boot_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    if (!p || p->reps < 1 || p->reps > SDD_BOOT_MAX_REPS)
        return sdd_err_set(e, "bootstrap: %d replicates (1 to %d)", p ? p->reps : 0, SDD_BOOT_MAX_REPS);
    if (!(p->level > 0.0 && p->level < 1.0)) return sdd_err_set(e, "bootstrap: level %g is not in (0, 1)", p->level);
    if (b && !b_of_a) return sdd_err_set(e, "bootstrap: a paired run needs the pairing");
    r->reps = p->reps;
    r->level = p->level;
    r->seed = p->seed;
    r->paired = b != NULL;
    const int64_t n = a->n;
    const int R = p->reps;
    /* the trials drawn from: a's (paired: those with a match), by class, in input order */
    unsigned char *la = labels_by_input(a);
    int64_t *cls = malloc((size_t)(n ? n : 1) * sizeof *cls);
    uint32_t *one = calloc((size_t)(n ? n : 1), sizeof *one), *one_b = b ? calloc((size_t)(b->n ? b->n : 1), sizeof *one_b) : NULL;
    double *ea = malloc((size_t)R * sizeof *ea), *eb = b ? malloc((size_t)R * sizeof *eb) : NULL;
    double *d = b ? malloc((size_t)R * sizeof *d) : NULL;
    int rc = 0;
    if (!la || !cls || !one || !ea || (b && (!one_b || !eb || !d))) {
        rc = sdd_err_set(e, "out of memory for the bootstrap of %lld trials", (long long)n);
        goto done;
    }
    int64_t nb = 0, ns = 0;
    for (int64_t i = 0; i < n; i++)
        if ((!b || b_of_a[i] >= 0) && la[i]) cls[nb++] = i;
    for (int64_t i = 0; i < n; i++)
        if ((!b || b_of_a[i] >= 0) && !la[i]) cls[nb + ns++] = i;
    r->n_bona = nb;
    r->n_spoof = ns;
    if (nb == 0 || ns == 0) {
        rc = sdd_err_set(e, "bootstrap: no %s trials%s", nb ? "spoof" : "bona fide", b ? " scored by both systems" : "");
        goto done;
    }
    if ((uint64_t)nb > UINT32_MAX || (uint64_t)ns > UINT32_MAX) { rc = sdd_err_set(e, "bootstrap: too many trials"); goto done; }
    /* the point estimates over the trials resampled */
    sdd_eer_result er;
    for (int64_t k = 0; k < nb + ns; k++) {
        one[cls[k]] = 1;
        if (b) one_b[b_of_a[cls[k]]] = 1;
    }
    if (sdd_eer_counts(a, one, &er, e)) { rc = -1; goto done; }
    r->eer = er.eer;
    if (b) {
        if (sdd_eer_counts(b, one_b, &er, e)) { rc = -1; goto done; }
        r->eer_b = er.eer;
        r->diff = r->eer - r->eer_b;
    }
    int failed = 0;
    #pragma omp parallel
    {
        uint32_t *cnt = calloc((size_t)(n ? n : 1), sizeof *cnt);
        uint32_t *cnt_b = b ? calloc((size_t)(b->n ? b->n : 1), sizeof *cnt_b) : NULL;
        if (!cnt || (b && !cnt_b)) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (int k = 0; k < R; k++) {
            if (!cnt || (b && !cnt_b)) continue;
            const uint64_t key = sdd_rng_key(p->seed, (uint64_t)k, 1, 0);
            memset(cnt, 0, (size_t)(n ? n : 1) * sizeof *cnt);
            /* draw t: bona fide for t < nb, spoof after */
            for (int64_t t = 0; t < nb + ns; t++) {
                const int64_t base = t < nb ? 0 : nb, m = t < nb ? nb : ns;
                int64_t pick = (int64_t)(sdd_rng_uniform_d(key, (uint64_t)t) * (double)m);
                if (pick >= m) pick = m - 1;
                cnt[cls[base + pick]]++;
            }
            sdd_eer_result x;
            sdd_err ee;
            ea[k] = sdd_eer_counts(a, cnt, &x, &ee) ? NAN : x.eer;
            if (b) {
                memset(cnt_b, 0, (size_t)(b->n ? b->n : 1) * sizeof *cnt_b);
                for (int64_t t = 0; t < nb + ns; t++) cnt_b[b_of_a[cls[t]]] = cnt[cls[t]];
                eb[k] = sdd_eer_counts(b, cnt_b, &x, &ee) ? NAN : x.eer;
                d[k] = ea[k] - eb[k];
            }
        }
        free(cnt);
        free(cnt_b);
    }
    if (failed) { rc = sdd_err_set(e, "out of memory for the bootstrap's counts"); goto done; }
    if (b) {
        for (int k = 0; k < R; k++) {
            r->n_le += d[k] <= 0.0;
            r->n_ge += d[k] >= 0.0;
        }
        const double m = (double)(r->n_le < r->n_ge ? r->n_le : r->n_ge);
        r->p = 2.0 * m / (double)R < 1.0 ? 2.0 * m / (double)R : 1.0;
        interval(d, R, p->level, &r->diff_lo, &r->diff_hi);
        interval(eb, R, p->level, &r->lo_b, &r->hi_b);
    }
    interval(ea, R, p->level, &r->lo, &r->hi);
done:
    free(la);
    free(cls);
    free(one);
    free(one_b);
    free(ea);
    free(eb);
    free(d);
    return rc;
}

void sdd_boot_print(const sdd_boot_result *r, const char *name_b, FILE *f)
{
    const double L = 100.0 * r->level;
    fprintf(f, "EER CI     %.4f .. %.4f %%  (%g%% percentile interval; %d stratified bootstrap replicates of the %lld "
               "bona fide and %lld spoof trials%s, seed %llu)\n",
            100.0 * r->lo, 100.0 * r->hi, L, r->reps, (long long)r->n_bona, (long long)r->n_spoof,
            r->paired ? " both systems scored" : "", (unsigned long long)r->seed);
    if (!r->paired) return;
    if (r->unpaired_a || r->unpaired_b)
        fprintf(f, "this       EER %.9f %% on the trials both systems scored\n", 100.0 * r->eer);
    fprintf(f, "compared   EER %.9f %%, CI %.4f .. %.4f %%  (%s, same trials and draws)\n", 100.0 * r->eer_b,
            100.0 * r->lo_b, 100.0 * r->hi_b, name_b);
    char p[64];
    if (r->p * r->reps < 1.0) snprintf(p, sizeof p, "p < %.2g", 1.0 / r->reps);   /* no replicate crossed 0 */
    else snprintf(p, sizeof p, "p = %.3g", r->p);
    fprintf(f, "EER diff   %+.4f points, CI %+.4f .. %+.4f  (this - compared; paired bootstrap, two-sided %s)\n",
            100.0 * r->diff, 100.0 * r->diff_lo, 100.0 * r->diff_hi, p);
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
    json_object_set_new(j, "eer", json_real(r->eer));
    json_object_set_new(j, "eer_lo", json_real(r->lo));
    json_object_set_new(j, "eer_hi", json_real(r->hi));
    if (r->paired) {
        json_t *c = json_object();
        json_object_set_new(c, "scores", json_string(name_b ? name_b : ""));
        json_object_set_new(c, "eer", json_real(r->eer_b));
        json_object_set_new(c, "eer_lo", json_real(r->lo_b));
        json_object_set_new(c, "eer_hi", json_real(r->hi_b));
        json_object_set_new(c, "diff", json_real(r->diff));
        json_object_set_new(c, "diff_lo", json_real(r->diff_lo));
        json_object_set_new(c, "diff_hi", json_real(r->diff_hi));
        json_object_set_new(c, "p", json_real(r->p));
        json_object_set_new(c, "replicates_le0", json_integer(r->n_le));
        json_object_set_new(c, "replicates_ge0", json_integer(r->n_ge));
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
    if (!r->has_cm || !r->trial_id || (rb && (!rb->has_cm || !rb->trial_id)))
        return sdd_err_set(e, "bootstrap: no CM scores evaluated");
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
    const int rc = sdd_boot_eer(&r->cm, rb ? &rb->cm : NULL, b_of_a, p, &r->boot, e);
    free(b_of_a);
    if (rc) return -1;
    r->boot.unpaired_a = ua;
    r->boot.unpaired_b = ub;
    r->boot_name = name_b;
    r->has_boot = 1;
    return 0;
}
