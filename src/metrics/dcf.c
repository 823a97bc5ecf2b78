/* Owns the ASVspoof 5 detection costs of dcf.h: minDCF and actDCF of CM
 * scores, and the a-DCF of SASV scores. Every rate is a ratio of exact
 * integer counts and every formula keeps the operation order of the official
 * numpy code (contraction off), so results are bit-identical to it. */
#include "metrics/dcf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

void sdd_dcf_cost_asvspoof5(sdd_dcf_cost *c)
{
    c->pspoof = 0.05;
    c->cmiss = 1;
    c->cfa = 10;
}

double sdd_dcf_bayes_threshold(const sdd_dcf_cost *c)
{
    const double beta = c->cmiss * (1 - c->pspoof) / (c->cfa * c->pspoof);
    return -log(beta);
}

static int check_cost(const sdd_dcf_cost *c, sdd_err *e)
{
    if (!(c->pspoof > 0 && c->pspoof < 1) || !(c->cmiss > 0) || !(c->cfa > 0) || !isfinite(c->cmiss) ||
        !isfinite(c->cfa))
        return sdd_err_set(e, "DCF parameters must be 0 < Pspoof < 1 and positive finite costs");
    return 0;
}

int sdd_dcf_sorted(const sdd_sorted *s, const unsigned char *keep, const sdd_dcf_cost *c, sdd_dcf_result *r,
                   sdd_err *e)
{
    memset(r, 0, sizeof *r);
    r->min_dcf = r->act_dcf = r->min_threshold = NAN;
    if (check_cost(c, e)) return -1;
    int64_t npos = 0, nneg = 0, first = -1;
    for (int64_t k = 0; k < s->n; k++) {
        if (keep && !keep[s->orig[k]]) continue;
        if (first < 0) first = k;
        if (s->pos[k]) npos++;
        else nneg++;
    }
    if (npos == 0) return sdd_err_set(e, "no bona fide trials");
    if (nneg == 0) return sdd_err_set(e, "no spoof trials");
    const double np_ = (double)npos, nn_ = (double)nneg;
    /* compute_mindcf: p_target = 1 - Pspoof, then (1 - p_target) as written */
    const double ptar = 1 - c->pspoof, pfa_w = 1 - ptar;
    const double thr_act = sdd_dcf_bayes_threshold(c);
    double best = c->cmiss * 0.0 * ptar + c->cfa * 1.0 * pfa_w;
    double best_thr = s->score[first] - 0.001;
    int64_t best_k = 0, k = 0, cum = 0, miss_act = 0, fa_act = 0;
    for (int64_t j = first; j < s->n; j++) {
        if (keep && !keep[s->orig[j]]) continue;
        k++;
        cum += s->pos[j];
        if (s->pos[j]) miss_act += s->score[j] < thr_act;
        else fa_act += s->score[j] >= thr_act;
        const double frr = (double)cum / np_;
        const double far = (double)(nneg - (k - cum)) / nn_;
        const double v = c->cmiss * frr * ptar + c->cfa * far * pfa_w;
        if (v < best) {
            best = v;
            best_k = k;
            best_thr = s->score[j];
        }
    }
    const double cdef = fmin(c->cmiss * ptar, c->cfa * pfa_w);
    r->min_dcf = best / cdef;
    r->min_threshold = best_thr;
    r->min_index = best_k;
    /* compute_actDCF */
    const double pmiss = (double)miss_act / np_, pfa = (double)fa_act / nn_;
    const double act = c->cmiss * (1 - c->pspoof) * pmiss + c->cfa * c->pspoof * pfa;
    r->act_dcf = act / fmin(c->cfa * c->pspoof, c->cmiss * (1 - c->pspoof));
    r->act_threshold = thr_act;
    r->act_pmiss = pmiss;
    r->act_pfa = pfa;
    return 0;
}

void sdd_adcf_cost_asvspoof5(sdd_adcf_cost *c)
{
    const double pspoof = 0.05;
    c->pspoof = pspoof;
    c->ptar = (1 - pspoof) * 0.99;
    c->pnon = (1 - pspoof) * 0.01;
    c->cmiss = 1;
    c->cfa_asv = 10;
    c->cfa_cm = 10;
}

/* b goes before a: lower score, or equal score and lower class
 * (the official stable sort of targets, nontargets, spoofs concatenated). */
static int adcf_before(const double *s, const unsigned char *cls, int64_t b, int64_t a)
{
    return s[b] < s[a] || (s[b] == s[a] && (cls[b] < cls[a] || (cls[b] == cls[a] && b < a)));
}

static void sort_idx(int64_t *a, int64_t *tmp, int64_t n, const double *s, const unsigned char *cls)
{
    if (n < 2) return;
    const int64_t h = n / 2;
    sort_idx(a, tmp, h, s, cls);
    sort_idx(a + h, tmp, n - h, s, cls);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = adcf_before(s, cls, a[j], a[i]) ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

int sdd_adcf(const double *score, const unsigned char *cls, const unsigned char *keep, int64_t n,
             const sdd_adcf_cost *c, sdd_adcf_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    r->min_adcf = r->threshold = NAN;
    if (!(c->ptar >= 0 && c->pnon >= 0 && c->pspoof >= 0 && c->cmiss >= 0 && c->cfa_asv >= 0 && c->cfa_cm >= 0))
        return sdd_err_set(e, "a-DCF priors and costs must be non-negative");
    int64_t m = 0, cnt[3] = { 0, 0, 0 };
    for (int64_t i = 0; i < n; i++) {
        if (keep && !keep[i]) continue;
        if (cls[i] > 2) return sdd_err_set(e, "trial %lld: class %d is not target, nontarget or spoof", (long long)i + 1, cls[i]);
        if (!isfinite(score[i])) return sdd_err_set(e, "trial %lld: score is not finite", (long long)i + 1);
        cnt[cls[i]]++;
        m++;
    }
    r->ntar = cnt[0];
    r->nnon = cnt[1];
    r->nspoof = cnt[2];
    if (!cnt[0]) return sdd_err_set(e, "no target trials (the a-DCF needs target, nontarget and spoof trials)");
    if (!cnt[1]) return sdd_err_set(e, "no nontarget trials (the a-DCF needs target, nontarget and spoof trials)");
    if (!cnt[2]) return sdd_err_set(e, "no spoof trials (the a-DCF needs target, nontarget and spoof trials)");
    int64_t *idx = malloc((size_t)m * sizeof *idx), *tmp = malloc((size_t)m * sizeof *tmp);
    if (!idx || !tmp) { free(idx); free(tmp); return sdd_err_set(e, "out of memory sorting %lld trials", (long long)m); }
    m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!keep || keep[i]) idx[m++] = i;
    sort_idx(idx, tmp, m, score, cls);
    const double nt = (double)cnt[0], nn = (double)cnt[1], ns = (double)cnt[2];
    const double wt = c->cmiss * c->ptar, wn = c->cfa_asv * c->pnon, ws = c->cfa_cm * c->pspoof;
    const double all_accept = c->cfa_asv * c->pnon + c->cfa_cm * c->pspoof, all_reject = c->cmiss * c->ptar;
    const double norm = all_reject < all_accept ? all_reject : all_accept;
    int64_t fp_non = cnt[1], fp_spf = cnt[2], fn = 0;
    double pm = 0.0, pn = 1.0, ps = 1.0;
    double best = (wt * pm + wn * pn + ws * ps) / norm, best_thr = score[idx[0]] - 1e-8;
    double bpm = pm, bpn = pn, bps = ps;
    int64_t best_k = 0;
    for (int64_t k = 0; k < m; k++) {
        const int64_t i = idx[k];
        if (cls[i] == 1) fp_non--;
        else if (cls[i] == 0) fn++;
        else fp_spf--;
        pn = (double)fp_non / nn;
        ps = (double)fp_spf / ns;
        pm = (double)fn / nt;
        const double v = (wt * pm + wn * pn + ws * ps) / norm;
        if (v < best) {
            best = v;
            best_thr = score[i];
            best_k = k + 1;
            bpm = pm;
            bpn = pn;
            bps = ps;
        }
    }
    free(idx);
    free(tmp);
    r->min_adcf = best;
    r->threshold = best_thr;
    r->index = best_k;
    r->pmiss = bpm;
    r->pfa_non = bpn;
    r->pfa_spoof = bps;
    return 0;
}
