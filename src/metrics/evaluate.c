/* Owns sdd_eval_run and the report writers (evaluate.h): joins a CM score
 * file with its key by trial ID (match.h rules; subset filter, missing/unused IDs, label
 * cross-check for 2019 CM files), computes EER, Cllr, min t-DCF from ASV
 * scores (pooled, and per table cell when the 2021 ASV key gives attacks and
 * codecs, as the 2021 eval-package's C012 per condition), the attack x
 * condition table, and writes the text summary, JSON and DET TSV (the DET
 * SVG is det_svg.c). */
#include "metrics/evaluate.h"
#include "io/readall.h"
#include "metrics/scores.h"
#include "metrics/match.h"
#include "metrics/c012.h"
#include "data/list.h"
#include "core/lines.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static void warn(sdd_eval_report *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **w = realloc(r->warnings, (size_t)(r->nwarn + 1) * sizeof *w);
    if (!w) return;
    r->warnings = w;
    if ((w[r->nwarn] = strdup(buf))) r->nwarn++;
}

/* A small set of names (attacks, conditions); indexes are stable. */
typedef struct { const char **v; int n, cap; } nameset;

static int nameset_index(const nameset *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], x)) return i;
    return -1;
}

static int nameset_add(nameset *s, const char *x)
{
    int i = nameset_index(s, x);
    if (i >= 0) return i;
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 16;
        const char **p = realloc(s->v, (size_t)nc * sizeof *p);
        if (!p) return -1;
        s->v = p;
        s->cap = nc;
    }
    s->v[s->n] = x;
    return s->n++;
}

/* Official condition orders and tags (eval-package config.py). */
static const char *const la_codecs[] = { "none", "alaw", "pstn", "g722", "ulaw", "gsm", "opus" };
static const char *const df_codecs[] = { "nocodec", "low_mp3", "high_mp3", "low_m4a", "high_m4a",
                                         "low_ogg", "high_ogg", "mp3m4a", "oggm4a" };

static int official_rank(int key_format, const char *c)
{
    const char *const *v = key_format == SDD_LIST_ASV21_LA_KEY ? la_codecs
                         : key_format == SDD_LIST_ASV21_DF_KEY ? df_codecs : NULL;
    int n = key_format == SDD_LIST_ASV21_LA_KEY ? 7 : key_format == SDD_LIST_ASV21_DF_KEY ? 9 : 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i], c)) return i;
    return -1;
}

/* Conditions: the official order first, others alphabetically after. */
static int cmp_cond(const void *a, const void *b, void *fmt)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    const int kf = *(const int *)fmt;
    int rx = official_rank(kf, x), ry = official_rank(kf, y);
    if (rx >= 0 || ry >= 0) {
        if (rx < 0) return 1;
        if (ry < 0) return -1;
        return rx - ry;
    }
    return strcmp(x, y);
}

/* DF vocoder types in the eval-package order, others alphabetically after. */
static const char *const df_vocoders[] = { "traditional_vocoder", "waveform_concatenation",
                                           "neural_vocoder_autoregressive",
                                           "neural_vocoder_nonautoregressive", "unknown" };

static int cmp_vocoder(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int rx = -1, ry = -1;
    for (int i = 0; i < 5; i++) {
        if (!strcmp(df_vocoders[i], x)) rx = i;
        if (!strcmp(df_vocoders[i], y)) ry = i;
    }
    if (rx >= 0 || ry >= 0) return rx < 0 ? 1 : ry < 0 ? -1 : rx - ry;
    return strcmp(x, y);
}

/* Column col (0-based, whitespace-separated) of every line of path, indexed
 * by line number - 1 (NULL where the line is shorter); *n = lines. */
static char **column_by_line(const char *path, int col, int *n, sdd_err *e)
{
    sdd_lines rd;   /* the shared reader: lines bounded by SDD_LINES_MAX */
    if (sdd_lines_open(&rd, path, e)) return NULL;
    char **v = NULL;
    int nv = 0, capv = 0, ok = 1;
    ssize_t got;
    while (ok && (got = sdd_lines_next(&rd)) >= 0) {
        char *line = rd.line;
        if (nv == capv) {
            capv = capv ? 2 * capv : 1024;
            char **p = realloc(v, (size_t)capv * sizeof *p);
            if (!p) { ok = 0; break; }
            v = p;
        }
        v[nv] = NULL;
        int k = 0;
        for (char *s = line; *s;) {
            while (*s && strchr(" \t\r\n\v\f", *s)) s++;
            if (!*s) break;
            char *t = s;
            while (*s && !strchr(" \t\r\n\v\f", *s)) s++;
            if (k++ == col) {
                if (!(v[nv] = strndup(t, (size_t)(s - t)))) ok = 0;
                break;
            }
        }
        nv++;
    }
    if (ok && got < -1) ok = 0;   /* a read failure or a line over the limit */
    sdd_lines_close(&rd);
    if (!ok) {
        for (int i = 0; i < nv; i++) free(v[i]);
        free(v);
        sdd_err_set(e, "%s: cannot read the vocoder column", sdd_input_name(path));
        return NULL;
    }
    *n = nv;
    return v;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void sdd_eval_report_free(sdd_eval_report *r)
{
    if (!r) return;
    for (int i = 0; r->col_tag && i < r->table.ncol; i++) free(r->col_tag[i]);
    free(r->col_tag);
    sdd_table_free(&r->table);
    sdd_table_free(&r->vocoder_table);
    sdd_sorted_free(&r->cm);
    for (int64_t i = 0; r->trial_id && r->trial_id[i]; i++) free(r->trial_id[i]);
    free(r->trial_id);
    free(r->row_of);
    free(r->col_of);
    free(r->cell_coef);
    free(r->voc_of);
    sdd_boot_list_free(&r->boot_attack);
    sdd_boot_list_free(&r->boot_cond);
    sdd_boot_list_free(&r->boot_vocoder);
    sdd_adcf_attacks_free(&r->adcf_attacks);
    for (int i = 0; i < r->nwarn; i++) free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof *r);
    r->key_format = -1;
}

/* ASV rates and coefficients for one table cell; row/col NULL = pooled. */
static int cell_coef(const sdd_asv_scores *a, const char *row, const char *col, int form,
                     const sdd_tdcf_cost *cost, sdd_tdcf_coef *k, sdd_err *e)
{
    double *buf = malloc((size_t)(a->n ? a->n : 1) * sizeof *buf);
    if (!buf) return sdd_err_set(e, "out of memory");
    int64_t nt = 0, nn = 0, ns = 0;
    /* targets from the front, nontargets from the back, then spoofs after targets */
    for (int64_t i = 0; i < a->n; i++) {
        if (col && (!a->codec || !a->codec[i] || strcmp(a->codec[i], col))) continue;
        if (a->cls[i] == SDD_ASV_TARGET) buf[nt++] = a->score[i];
    }
    double *non = malloc((size_t)(a->n ? a->n : 1) * sizeof *non);
    double *spf = malloc((size_t)(a->n ? a->n : 1) * sizeof *spf);
    if (!non || !spf) { free(buf); free(non); free(spf); return sdd_err_set(e, "out of memory"); }
    for (int64_t i = 0; i < a->n; i++) {
        if (col && (!a->codec || !a->codec[i] || strcmp(a->codec[i], col))) continue;
        if (a->cls[i] == SDD_ASV_NONTARGET) non[nn++] = a->score[i];
        else if (a->cls[i] == SDD_ASV_SPOOF &&
                 (!row || (a->attack && a->attack[i] && !strcmp(a->attack[i], row))))
            spf[ns++] = a->score[i];
    }
    sdd_asv_rates rates;
    int rc = sdd_asv_rates_compute(buf, nt, non, nn, spf, ns, &rates, e);
    if (rc == 0) rc = sdd_tdcf_coef_compute(form, &rates, cost, k, e);
    free(buf);
    free(non);
    free(spf);
    return rc;
}

/* The a-DCF part: SASV scores (and key) -> pooled and per-attack a-DCF. */
static int eval_sasv(const sdd_eval_opts *o, sdd_eval_report *r, sdd_err *e)
{
    sdd_sasv s;
    if (sdd_sasv_load(o->sasv_scores, o->sasv_key, o->sasv_sum, &s, e)) return -1;
    sdd_adcf_cost c;
    sdd_adcf_cost_asvspoof5(&c);
    int rc = sdd_sasv_adcf(&s, &c, &r->adcf, &r->adcf_attacks, e);
    if (rc) sdd_err_prefix(e, "%s", sdd_input_name(o->sasv_scores));
    else r->has_adcf = 1;
    sdd_sasv_free(&s);
    return rc;
}

/* ---- the run ---- */

int sdd_eval_run(const sdd_eval_opts *o, sdd_eval_report *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    r->key_format = -1;
    if (!o || (!o->scores && !o->sasv_scores)) return sdd_err_set(e, "no score file given");
    if (!o->scores) return eval_sasv(o, r, e) ? (sdd_eval_report_free(r), -1) : 0;
    if (o->calibration && o->calibration->k != 1)
        return sdd_err_set(e, "the calibration has %d inputs (a fusion): apply it with 'sdd fuse --apply'",
                           o->calibration->k);
    sdd_scores sc;
    sdd_list key = { 0 };
    sdd_asv_scores asv = { 0 };
    double *score = NULL;
    unsigned char *pos = NULL, *used = NULL;
    const char **att = NULL, **cod = NULL;
    int *row_of = NULL, *col_of = NULL;
    sdd_tdcf_coef *cells = NULL;
    sdd_c012 c012 = { 0 };
    nameset rows = { 0 }, cols = { 0 }, vocs = { 0 };
    int *vline = NULL, *vrow = NULL, vnl = 0;   /* DF keys: key line of each trial, vocoder row */
    const char **kid = NULL;
    int *kline = NULL;
    int64_t *s_of_k = NULL;
    signed char *rule_of_k = NULL;
    char **vcol = NULL;
    int64_t n = 0;
    int rc = -1;
    if (sdd_scores_load(o->scores, &sc, e)) return -1;
    /* what messages call the inputs: '-' is "- (standard input)" */
    const char *sname = sdd_input_name(o->scores), *kname = sdd_input_name(o->key);
    r->breakdown = o->breakdown;
    r->has_cm = 1;
    if (o->calibration) {
        for (int64_t j = 0; j < sc.n; j++) sc.score[j] = sdd_calibration_apply(o->calibration, &sc.score[j]);
        r->calibrated = 1;
    }

    if (o->key) {
        if (sdd_list_load(o->key, NULL, &key, e)) goto done;
        r->key_format = key.format;
        if (key.format == SDD_LIST_ASV21_TRIALS) {
            sdd_err_set(e, "%s: is a trial list without labels, not a key", kname);
            goto done;
        }
        int has_subset = 0;
        for (int i = 0; i < key.n && !has_subset; i++) has_subset = key.items[i].subset != NULL;
        const char *subset = NULL;
        if (has_subset) subset = o->subset ? o->subset : "eval";
        else if (o->subset && strcmp(o->subset, "all")) {
            sdd_err_set(e, "%s: has no subset column to select '%.60s' from", kname, o->subset);
            goto done;
        }
        if (subset && !strcmp(subset, "all")) subset = NULL;
        if (subset) snprintf(r->subset, sizeof r->subset, "%s", subset);
        score = malloc((size_t)key.n * sizeof *score);
        pos = malloc((size_t)key.n);
        att = malloc((size_t)key.n * sizeof *att);
        cod = malloc((size_t)key.n * sizeof *cod);
        used = calloc((size_t)sc.n, 1);
        vline = malloc((size_t)key.n * sizeof *vline);
        kid = malloc((size_t)key.n * sizeof *kid);
        kline = malloc((size_t)key.n * sizeof *kline);
        s_of_k = malloc((size_t)key.n * sizeof *s_of_k);
        rule_of_k = malloc((size_t)key.n);
        if (o->keep_trial_ids) r->trial_id = calloc((size_t)key.n + 1, sizeof *r->trial_id);
        if (!score || !pos || !att || !cod || !used || !vline || !kid || !kline || !s_of_k || !rule_of_k ||
            (o->keep_trial_ids && !r->trial_id)) {
            sdd_err_set(e, "out of memory");
            goto done;
        }
        /* every key trial (all subsets) takes part, so that scores of other
         * subsets are neither unused nor ambiguous */
        for (int i = 0; i < key.n; i++) {
            kid[i] = key.items[i].id;
            kline[i] = key.items[i].line;
        }
        if (sdd_match_ids(kid, kline, key.n, kname, (const char *const *)sc.id, sc.line, sc.n, sname,
                          s_of_k, rule_of_k, e))
            goto done;
        const char *first_missing[3];
        int64_t nkept = 0;
        for (int i = 0; i < key.n; i++) {
            const sdd_list_item *it = &key.items[i];
            int64_t j = s_of_k[i];
            if (j >= 0) used[j] = 1;
            if (subset && (!it->subset || strcmp(it->subset, subset))) continue;
            nkept++;
            if (it->label == SDD_LABEL_NONE) {
                sdd_err_set(e, "%s:%d: trial %.200s has no label (a key labels every trial bonafide or spoof)",
                            kname, it->line, it->id);
                goto done;
            }
            if (j < 0) {
                if (r->n_missing < 3) first_missing[r->n_missing] = it->id;
                r->n_missing++;
                continue;
            }
            const int isb = it->label == SDD_LABEL_BONAFIDE;
            if (sc.label && sc.label[j] != isb) {
                sdd_err_set(e, "%s:%d: %.200s is labelled %s here but %s in %s", sname, sc.line[j], it->id,
                            sc.label[j] ? "bonafide" : "spoof", isb ? "bonafide" : "spoof", kname);
                goto done;
            }
            if (r->trial_id && !(r->trial_id[n] = strdup(it->id))) { sdd_err_set(e, "out of memory"); goto done; }
            score[n] = sc.score[j];
            pos[n] = (unsigned char)isb;
            r->n_matched[rule_of_k[i]]++;
            att[n] = it->attack;
            cod[n] = it->codec;
            vline[n] = it->line;
            n++;
        }
        if (nkept == 0) {
            nameset subs = { 0 };
            char list[256] = "";
            for (int i = 0; i < key.n; i++)
                if (key.items[i].subset && nameset_add(&subs, key.items[i].subset) < 0) break;
            for (int i = 0; i < subs.n; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", subs.v[i]);
            free(subs.v);
            sdd_err_set(e, "%s: no trials in subset '%.60s' (subsets: %s)", kname, subset, list);
            goto done;
        }
        if (r->n_missing) {
            char ids[700];
            snprintf(ids, sizeof ids, "%.200s%s%.200s%s%.200s%s", first_missing[0],
                     r->n_missing > 1 ? ", " : "", r->n_missing > 1 ? first_missing[1] : "",
                     r->n_missing > 2 ? ", " : "", r->n_missing > 2 ? first_missing[2] : "",
                     r->n_missing > 3 ? ", ..." : "");
            if (!o->allow_missing) {
                if (r->n_missing == nkept)  /* nothing matched: show what the score IDs look like */
                    sdd_err_set(e, "%s: no score for %lld of the %lld trials in %s (first: %s); no score ID "
                                "matches a key ID exactly, by base name or by base name without extension "
                                "(score IDs look like '%.200s')", sname, (long long)r->n_missing,
                                (long long)nkept, kname, ids, sc.id[0]);
                else
                    sdd_err_set(e, "%s: no score for %lld of the %lld trials in %s (first: %s)", sname,
                                (long long)r->n_missing, (long long)nkept, kname, ids);
                goto done;
            }
            warn(r, "%s: no score for %lld of the %lld trials in %s (first: %s); skipped", sname,
                 (long long)r->n_missing, (long long)nkept, kname, ids);
        }
        int64_t first_unused = -1;
        for (int64_t j = 0; j < sc.n; j++) {
            if (!used[j] && first_unused < 0) first_unused = j;
            r->n_unused += !used[j];
        }
        if (r->n_unused)
            warn(r, "%s: %lld scores have no trial in %s; ignored (first: %.200s, line %d)", sname,
                 (long long)r->n_unused, kname, sc.id[first_unused], sc.line[first_unused]);
    } else {
        if (sc.format != SDD_SCORES_CM2019) {
            sdd_err_set(e, "%s: 'ID SCORE' files carry no labels: a key file is needed", sname);
            goto done;
        }
        score = malloc((size_t)sc.n * sizeof *score);
        pos = malloc((size_t)sc.n);
        att = malloc((size_t)sc.n * sizeof *att);
        cod = malloc((size_t)sc.n * sizeof *cod);
        if (o->keep_trial_ids) r->trial_id = calloc((size_t)sc.n + 1, sizeof *r->trial_id);
        if (!score || !pos || !att || !cod || (o->keep_trial_ids && !r->trial_id)) { sdd_err_set(e, "out of memory"); goto done; }
        for (int64_t j = 0; j < sc.n; j++) {
            if (r->trial_id && !(r->trial_id[n] = strdup(sc.id[j]))) { sdd_err_set(e, "out of memory"); goto done; }
            score[n] = sc.score[j];
            pos[n] = (unsigned char)(sc.label[j] == 1);
            att[n] = sc.src[j];
            cod[n] = NULL;
            n++;
        }
    }
    const char *src_name = kname ? kname : sname;
    for (int64_t i = 0; i < n; i++) { if (pos[i]) r->n_bona++; else r->n_spoof++; }
    if (r->n_bona == 0 || r->n_spoof == 0) {
        sdd_err_set(e, "%s: no %s trials among the %lld scored: the EER is undefined without both bona fide "
                    "and spoof trials", src_name, r->n_bona ? "spoof" : "bona fide", (long long)n);
        goto done;
    }
    if (sdd_sorted_init(&r->cm, score, pos, n, e)) goto done;
    if (sdd_eer_sorted(&r->cm, NULL, &r->eer, e)) goto done;
    if (sdd_cllr_sorted(&r->cm, NULL, &r->cllr, &r->min_cllr, e)) goto done;
    {
        sdd_dcf_cost dc;
        sdd_dcf_cost_asvspoof5(&dc);
        if (sdd_dcf_sorted(&r->cm, NULL, &dc, &r->dcf, e)) goto done;
    }

    /* attacks (of spoof trials) and conditions, in table order */
    for (int64_t i = 0; i < n; i++) {
        if ((!pos[i] && att[i] && nameset_add(&rows, att[i]) < 0) || (cod[i] && nameset_add(&cols, cod[i]) < 0)) {
            sdd_err_set(e, "out of memory");
            goto done;
        }
    }
    if (rows.n > 1) qsort(rows.v, (size_t)rows.n, sizeof *rows.v, cmp_str);
    if (cols.n > 1) qsort_r(cols.v, (size_t)cols.n, sizeof *cols.v, cmp_cond, &r->key_format);
    r->has_table = rows.n > 0 || cols.n > 0;
    if ((o->breakdown & SDD_BREAKDOWN_ATTACK) && rows.n == 0)
        warn(r, "%s: no attacks of spoof trials: no per-attack table", src_name);
    if ((o->breakdown & SDD_BREAKDOWN_CONDITION) && cols.n == 0)
        warn(r, "%s: no conditions (codecs): no per-condition table", src_name);

    /* t-DCF */
    const sdd_asv_scores *A = NULL;
    if (o->asv_c012) {
        /* precomputed 2021 coefficients: pooled and per cell, as main.py */
        if (o->asv_scores) { sdd_err_set(e, "give ASV scores or C012 coefficients, not both"); goto done; }
        if (o->tdcf == SDD_TDCF_2019) {
            sdd_err_set(e, "%s: C012 coefficients give the 2021 t-DCF only (the 2019 form needs ASV scores)", o->asv_c012);
            goto done;
        }
        if (sdd_c012_load(o->asv_c012, &c012, e)) goto done;
        r->has_tdcf = 1;
        r->tdcf_from_c012 = 1;
        r->tdcf_form = SDD_TDCF_2021;
        sdd_c012_get(&c012, NULL, NULL, &r->coef);   /* present: checked by the loader */
        r->asv.eer = r->asv.threshold = r->asv.pfa = r->asv.pmiss = NAN;
        r->asv.pmiss_spoof = r->asv.pfa_spoof = NAN;
        sdd_err e2;
        if (sdd_min_tdcf_sorted(&r->cm, NULL, &r->coef, &r->tdcf, &e2)) {
            r->tdcf.min_tdcf = NAN;
            warn(r, "%s: no min t-DCF: %s", sname, e2.msg);
        }
        if (r->has_table) {
            const int R = rows.n + 1, C = cols.n + 1;
            cells = calloc((size_t)R * C, sizeof *cells);
            if (!cells) { sdd_err_set(e, "out of memory"); goto done; }
            int found = 0;
            for (int ri = 0; ri < R; ri++)
                for (int ci = 0; ci < C; ci++) {
                    sdd_tdcf_coef *k = &cells[(size_t)ri * C + ci];
                    if (sdd_c012_get(&c012, ri < rows.n ? rows.v[ri] : NULL, ci < cols.n ? cols.v[ci] : NULL, k))
                        k->form = 0;
                    else found += ri < rows.n || ci < cols.n;
                }
            if (!found && R * C > 1)
                warn(r, "%s: no coefficients for any attack or codec of %s: only the pooled min t-DCF", o->asv_c012,
                     src_name);
        }
    } else if (o->asv_scores) {
        const char *asv_subset = r->subset[0] ? r->subset : o->subset;
        if (sdd_asv_load(o->asv_scores, o->asv_key, asv_subset, &asv, e)) goto done;
        A = &asv;
        r->has_tdcf = 1;
        r->tdcf_form = o->tdcf ? o->tdcf
                     : (r->key_format == SDD_LIST_ASV21_LA_KEY || r->key_format == SDD_LIST_ASV21_DF_KEY ||
                        r->key_format == SDD_LIST_ASV5)
                           ? SDD_TDCF_2021 : SDD_TDCF_2019;
        sdd_tdcf_cost cost;
        sdd_tdcf_cost_asvspoof(&cost);
        if (cell_coef(A, NULL, NULL, r->tdcf_form, &cost, &r->coef, e)) {
            sdd_err_prefix(e, "%s", sdd_input_name(o->asv_scores));
            goto done;
        }
        {   /* the ASV rates themselves, for the report */
            sdd_err e2;
            double *t = malloc((size_t)A->n * sizeof *t), *nn = malloc((size_t)A->n * sizeof *nn),
                   *s = malloc((size_t)A->n * sizeof *s);
            int64_t a = 0, b = 0, c = 0;
            if (!t || !nn || !s) { free(t); free(nn); free(s); sdd_err_set(e, "out of memory"); goto done; }
            for (int64_t i = 0; i < A->n; i++) {
                if (A->cls[i] == SDD_ASV_TARGET) t[a++] = A->score[i];
                else if (A->cls[i] == SDD_ASV_NONTARGET) nn[b++] = A->score[i];
                else s[c++] = A->score[i];
            }
            sdd_asv_rates_compute(t, a, nn, b, s, c, &r->asv, &e2);
            free(t); free(nn); free(s);
        }
        sdd_err e2;
        if (sdd_min_tdcf_sorted(&r->cm, NULL, &r->coef, &r->tdcf, &e2)) {
            r->tdcf.min_tdcf = NAN;
            warn(r, "%s: no min t-DCF: %s", sname, e2.msg);
        }
        if (r->has_table) {
            const int R = rows.n + 1, C = cols.n + 1;
            cells = calloc((size_t)R * C, sizeof *cells);
            if (!cells) { sdd_err_set(e, "out of memory"); goto done; }
            cells[(size_t)R * C - 1] = r->coef;
            if (A->codec) {  /* keyed ASV scores: C012 per cell, as the 2021 eval-package */
                for (int ri = 0; ri < R; ri++)
                    for (int ci = 0; ci < C; ci++) {
                        if (ri == R - 1 && ci == C - 1) continue;
                        sdd_err e3;
                        if (cell_coef(A, ri < rows.n ? rows.v[ri] : NULL, ci < cols.n ? cols.v[ci] : NULL,
                                      r->tdcf_form, &cost, &cells[(size_t)ri * C + ci], &e3))
                            cells[(size_t)ri * C + ci].form = 0;
                    }
            }
        }
    }

    else if (o->asv5_rates) {
        /* calculate_aDCF_tdcf_tEER's pre-computed rates of the organisers' ASV */
        r->has_tdcf = r->tdcf_asv5_rates = 1;
        r->tdcf_form = o->tdcf ? o->tdcf : SDD_TDCF_2021;
        sdd_asv_rates *a = &r->asv;
        a->eer = a->threshold = NAN;
        a->pfa = 0.01881016557566423;
        a->pmiss = 0.01880141010575793;
        a->pfa_spoof = 0.4607082907604729;
        a->pmiss_spoof = 1 - a->pfa_spoof;
        a->nspoof = 1;
        sdd_tdcf_cost cost;
        sdd_tdcf_cost_asvspoof(&cost);
        if (sdd_tdcf_coef_compute(r->tdcf_form, a, &cost, &r->coef, e)) goto done;
        a->nspoof = 0;
        sdd_err e2;
        if (sdd_min_tdcf_sorted(&r->cm, NULL, &r->coef, &r->tdcf, &e2)) {
            r->tdcf.min_tdcf = NAN;
            warn(r, "%s: no min t-DCF: %s", sname, e2.msg);
        }
        if (r->has_table) {
            const size_t cellsn = (size_t)(rows.n + 1) * (cols.n + 1);
            cells = calloc(cellsn, sizeof *cells);
            if (!cells) { sdd_err_set(e, "out of memory"); goto done; }
            for (size_t i = 0; i < cellsn; i++) cells[i] = r->coef;
        }
    }

    if (r->has_table) {
        row_of = malloc((size_t)n * sizeof *row_of);
        col_of = malloc((size_t)n * sizeof *col_of);
        if (!row_of || !col_of) { sdd_err_set(e, "out of memory"); goto done; }
        for (int64_t i = 0; i < n; i++) {
            row_of[i] = !pos[i] && att[i] ? nameset_index(&rows, att[i]) : -1;
            col_of[i] = cod[i] ? nameset_index(&cols, cod[i]) : -1;
        }
        if (sdd_table_compute(&r->cm, row_of, rows.v, rows.n, col_of, cols.v, cols.n, cells, &r->table, e))
            goto done;
        if (o->keep_breakdown) {   /* sdd_eval_bootstrap's lists: the report takes them */
            r->row_of = row_of;
            r->col_of = col_of;
            r->cell_coef = cells;
            row_of = col_of = NULL;
            cells = NULL;
        }
        r->col_tag = calloc((size_t)r->table.ncol, sizeof *r->col_tag);
        if (!r->col_tag) { sdd_err_set(e, "out of memory"); goto done; }
        for (int ci = 0; ci < cols.n; ci++) {
            int k = official_rank(r->key_format, cols.v[ci]);
            if (k >= 0) {
                char tag[8];
                snprintf(tag, sizeof tag, "C%d", k + 1);
                r->col_tag[ci] = strdup(tag);
            }
        }
    }
    if (key.format == SDD_LIST_ASV21_DF_KEY && vline) {
        /* the DF table: vocoder type (a spoof factor) x codec */
        vcol = column_by_line(o->key, 8, &vnl, e);   /* '-': the same lines again (sdd_lines_open) */
        if (!vcol) goto done;
        vrow = malloc((size_t)(n ? n : 1) * sizeof *vrow);
        if (!vrow) { sdd_err_set(e, "out of memory"); goto done; }
        for (int64_t i = 0; i < n; i++) {
            const char *vv = vline[i] >= 1 && vline[i] <= vnl ? vcol[vline[i] - 1] : NULL;
            if (!pos[i] && vv && strcmp(vv, "-") && nameset_add(&vocs, vv) < 0) { sdd_err_set(e, "out of memory"); goto done; }
        }
        if (vocs.n > 1) qsort(vocs.v, (size_t)vocs.n, sizeof *vocs.v, cmp_vocoder);
        for (int64_t i = 0; i < n; i++) {
            const char *vv = vline[i] >= 1 && vline[i] <= vnl ? vcol[vline[i] - 1] : NULL;
            vrow[i] = !pos[i] && vv ? nameset_index(&vocs, vv) : -1;
        }
        if (vocs.n > 0) {
            if (!col_of) {
                col_of = malloc((size_t)(n ? n : 1) * sizeof *col_of);
                if (!col_of) { sdd_err_set(e, "out of memory"); goto done; }
                for (int64_t i = 0; i < n; i++) col_of[i] = cod[i] ? nameset_index(&cols, cod[i]) : -1;
            }
            if (sdd_table_compute(&r->cm, vrow, vocs.v, vocs.n, col_of, cols.v, cols.n, NULL, &r->vocoder_table, e))
                goto done;
            r->has_vocoder_table = 1;
            if (o->keep_breakdown) { r->voc_of = vrow; vrow = NULL; }   /* the per-vocoder bootstrap list */
        }
    }
    if (o->sasv_scores && eval_sasv(o, r, e)) goto done;
    rc = 0;
done:
    for (int i = 0; vcol && i < vnl; i++) free(vcol[i]);
    free(vcol);
    free(vline); free(vrow); free(vocs.v);
    free(kid); free(kline); free(s_of_k); free(rule_of_k);
    free(score); free(pos); free(used); free(att); free(cod);
    free(row_of); free(col_of); free(cells);
    free(rows.v); free(cols.v);
    sdd_asv_free(&asv);
    sdd_c012_free(&c012);
    sdd_list_free(&key);
    sdd_scores_free(&sc);
    if (rc) sdd_eval_report_free(r);
    return rc;
}

/* ---- text summary ---- */

static void print_cell(FILE *f, double v, double scale, int w, const char *fmt)
{
    if (isnan(v)) fprintf(f, " %*s", w, "-");
    else fprintf(f, fmt, w, v * scale);
}

static const char *col_label(const sdd_eval_report *r, int c, char *buf, size_t n)
{
    return sdd_eval_entry_name(r, 0, c, buf, n);
}

static void print_matrix(const sdd_eval_report *r, const sdd_table *t, FILE *f, const double *v, double scale,
                         const char *fmt, const char *title, const char *rowhead)
{
    int w0 = 7;
    for (int i = 0; i < t->nrow; i++) if ((int)strlen(t->row_name[i]) > w0) w0 = (int)strlen(t->row_name[i]);
    fprintf(f, "\n%s\n%-*s", title, w0, rowhead);
    int *w = malloc((size_t)t->ncol * sizeof *w);
    if (!w) return;
    for (int c = 0; c < t->ncol; c++) {
        char b[128];
        col_label(r, c, b, sizeof b);
        w[c] = (int)strlen(b) > 7 ? (int)strlen(b) : 7;
        fprintf(f, " %*s", w[c], b);
    }
    fputc('\n', f);
    for (int i = 0; i < t->nrow; i++) {
        fprintf(f, "%-*s", w0, t->row_name[i]);
        for (int c = 0; c < t->ncol; c++) print_cell(f, v[(size_t)i * t->ncol + c], scale, w[c], fmt);
        fputc('\n', f);
    }
    free(w);
}

/* One factor of table t as a list: by_row, every row at the pooled column
 * (all conditions); else every column at the pooled row (all attacks). */
static void print_list(const sdd_eval_report *r, const sdd_table *t, FILE *f, int by_row, const char *title,
                       const char *head)
{
    const int n = by_row ? t->nrow : t->ncol;
    char b[128];
    int w0 = by_row ? 10 : 18;
    for (int i = 0; i < n; i++) {
        const char *name = by_row ? t->row_name[i] : col_label(r, i, b, sizeof b);
        if ((int)strlen(name) > w0) w0 = (int)strlen(name);
    }
    fprintf(f, "\n%s\n%-*s %9s %9s %10s %10s%s\n", title, w0, head, "bona fide", "spoof", "EER (%)", "minDCF",
            r->has_tdcf ? "  min t-DCF" : "");
    for (int i = 0; i < n; i++) {
        const size_t k = by_row ? (size_t)i * t->ncol + (t->ncol - 1) : (size_t)(t->nrow - 1) * t->ncol + i;
        fprintf(f, "%-*s %9lld %9lld", w0, by_row ? t->row_name[i] : col_label(r, i, b, sizeof b),
                (long long)t->n_bona[k], (long long)t->n_spoof[k]);
        print_cell(f, t->eer[k], 100.0, 10, " %*.4f");
        print_cell(f, t->min_dcf[k], 1.0, 10, " %*.4f");
        if (r->has_tdcf) print_cell(f, t->min_tdcf[k], 1.0, 10, " %*.4f");
        fputc('\n', f);
    }
}

int sdd_breakdown_parse(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "attack")) return SDD_BREAKDOWN_ATTACK;
    if (!strcmp(s, "condition")) return SDD_BREAKDOWN_CONDITION;
    if (!strcmp(s, "both")) return SDD_BREAKDOWN_BOTH;
    return -1;
}

static void print_adcf(const sdd_eval_report *r, FILE *f)
{
    if (!r->has_adcf) return;
    const sdd_adcf_result *a = &r->adcf;
    fprintf(f, "a-DCF      %.9f  (SASV threshold %.9g; %lld target, %lld nontarget, %lld spoof trials)\n",
            a->min_adcf, a->threshold, (long long)a->ntar, (long long)a->nnon, (long long)a->nspoof);
    const sdd_adcf_attacks *t = &r->adcf_attacks;
    if (t->n == 0) return;
    fprintf(f, "\nper attack: targets and nontargets with the attack's spoof trials\n%-10s %9s %10s\n", "attack",
            "spoof", "a-DCF");
    for (int i = 0; i < t->n; i++) {
        fprintf(f, "%-10s %9lld", t->name[i], (long long)t->r[i].nspoof);
        print_cell(f, t->r[i].min_adcf, 1.0, 10, " %*.4f");
        fputc('\n', f);
    }
}

static void print_tables(const sdd_eval_report *r, FILE *f);

void sdd_eval_print(const sdd_eval_report *r, FILE *f)
{
    if (!r->has_cm) { print_adcf(r, f); return; }
    fprintf(f, "trials     %lld (%lld bona fide, %lld spoof)%s%s\n", (long long)(r->n_bona + r->n_spoof),
            (long long)r->n_bona, (long long)r->n_spoof, r->subset[0] ? ", subset " : "", r->subset);
    if (r->key_format >= 0)
        fprintf(f, "IDs        %lld matched exactly, %lld by base name, %lld by base name without extension\n",
                (long long)r->n_matched[SDD_MATCH_EXACT], (long long)r->n_matched[SDD_MATCH_BASENAME],
                (long long)r->n_matched[SDD_MATCH_STEM]);
    fprintf(f, "EER        %.9f %%  (threshold %.9g)\n", r->eer.eer * 100.0, r->eer.threshold);
    if (r->has_tdcf) {
        if (isnan(r->tdcf.min_tdcf)) fprintf(f, "min t-DCF  -  (%d form; see the warning)\n", r->tdcf_form);
        else if (r->tdcf_from_c012)
            fprintf(f, "min t-DCF  %.9f  (2021 form, CM threshold %.9g; precomputed C0 %.9g, C1 %.9g, C2 %.9g)\n",
                    r->tdcf.min_tdcf, r->tdcf.threshold, r->coef.c0, r->coef.c1, r->coef.c2);
        else if (r->tdcf_asv5_rates)
            fprintf(f, "min t-DCF  %.9f  (%d%s form, CM threshold %.9g; the ASVspoof 5 organisers' ASV error rates)\n",
                    r->tdcf.min_tdcf, r->tdcf_form, r->tdcf_form == SDD_TDCF_2019 ? " legacy" : "", r->tdcf.threshold);
        else
            fprintf(f, "min t-DCF  %.9f  (%d%s form, CM threshold %.9g; ASV EER %.4f %%, threshold %.9g)\n",
                    r->tdcf.min_tdcf, r->tdcf_form, r->tdcf_form == SDD_TDCF_2019 ? " legacy" : "",
                    r->tdcf.threshold, r->asv.eer * 100.0, r->asv.threshold);
    }
    fprintf(f, "Cllr       %.6f bits  (scores read as natural-log LLRs%s), min Cllr %.6f bits\n", r->cllr,
            r->calibrated ? ", calibrated" : "", r->min_cllr);
    fprintf(f, "minDCF     %.9f  (ASVspoof 5 costs: Pspoof 0.05, Cmiss 1, Cfa 10; threshold %.9g)\n", r->dcf.min_dcf,
            r->dcf.min_threshold);
    fprintf(f, "actDCF     %.9f  (at the Bayes threshold %.6f for%s scores read as LLRs)\n", r->dcf.act_dcf,
            r->dcf.act_threshold, r->calibrated ? " calibrated" : "");
    if (r->has_boot) sdd_boot_print(&r->boot, r->boot_name, f);
    print_adcf(r, f);
    if (!r->has_table) return;
    print_tables(r, f);
    sdd_eval_print_boot_lists(r, f);
}

/* the attack x condition tables r->breakdown selects */
static void print_tables(const sdd_eval_report *r, FILE *f)
{
    const int want_a = !r->breakdown || (r->breakdown & SDD_BREAKDOWN_ATTACK);
    const int want_c = !r->breakdown || (r->breakdown & SDD_BREAKDOWN_CONDITION);
    const sdd_table *t = &r->table;
    const int has_a = t->nrow > 1, has_c = t->ncol > 1;
    if (want_a && want_c && has_a && has_c) {
        print_matrix(r, t, f, t->eer, 100.0, " %*.3f",
                     "EER (%): rows = attack (its spoof trials vs all bona fide), columns = condition", "attack");
        print_matrix(r, t, f, t->min_dcf, 1.0, " %*.4f", "minDCF: same rows and columns", "attack");
        int any = 0;
        for (int i = 0; i < t->nrow * t->ncol; i++) any |= !isnan(t->min_tdcf[i]);
        if (any) print_matrix(r, t, f, t->min_tdcf, 1.0, " %*.4f", "min t-DCF: same rows and columns", "attack");
    } else {
        if (want_a && has_a)
            print_list(r, t, f, 1, has_c ? "per attack: its spoof trials vs all bona fide, conditions pooled"
                                         : "per attack: its spoof trials vs all bona fide", "attack");
        if (want_c && has_c)
            print_list(r, t, f, 0, has_a ? "per condition: bona fide and spoof trials of the condition, attacks pooled"
                                         : "per condition: bona fide and spoof trials of the condition", "condition");
    }
    if (r->has_vocoder_table && want_a) {
        const sdd_table *v = &r->vocoder_table;
        if (want_c && v->ncol > 1)
            print_matrix(r, v, f, v->eer, 100.0, " %*.3f",
                         "EER (%): rows = vocoder type (its spoof trials vs all bona fide), columns = condition",
                         "vocoder");
        else
            print_list(r, v, f, 1, "per vocoder type: its spoof trials vs all bona fide, conditions pooled",
                       "vocoder");
    }
}

/* ---- JSON ---- */

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *matrix_d(const sdd_table *t, const double *v, double scale)
{
    json_t *m = json_array();
    for (int i = 0; i < t->nrow; i++) {
        json_t *row = json_array();
        for (int c = 0; c < t->ncol; c++) json_array_append_new(row, num(v[(size_t)i * t->ncol + c] * scale));
        json_array_append_new(m, row);
    }
    return m;
}

static json_t *matrix_i(const sdd_table *t, const int64_t *v);

/* One table: row and column names, column tags, per-cell values. */
static json_t *table_json(const sdd_eval_report *r, const sdd_table *t);

static json_t *matrix_i(const sdd_table *t, const int64_t *v)
{
    json_t *m = json_array();
    for (int i = 0; i < t->nrow; i++) {
        json_t *row = json_array();
        for (int c = 0; c < t->ncol; c++) json_array_append_new(row, json_integer(v[(size_t)i * t->ncol + c]));
        json_array_append_new(m, row);
    }
    return m;
}

static json_t *adcf_json(const sdd_eval_report *r, const sdd_eval_opts *o)
{
    if (!r->has_adcf) return json_null();
    json_t *a = json_object(), *rows = json_array();
    json_object_set_new(a, "file", json_string(o->sasv_scores));
    json_object_set_new(a, "key", o->sasv_key ? json_string(o->sasv_key) : json_null());
    json_object_set_new(a, "min_adcf", num(r->adcf.min_adcf));
    json_object_set_new(a, "threshold", num(r->adcf.threshold));
    json_object_set_new(a, "pmiss", num(r->adcf.pmiss));
    json_object_set_new(a, "pfa_nontarget", num(r->adcf.pfa_non));
    json_object_set_new(a, "pfa_spoof", num(r->adcf.pfa_spoof));
    json_object_set_new(a, "target", json_integer(r->adcf.ntar));
    json_object_set_new(a, "nontarget", json_integer(r->adcf.nnon));
    json_object_set_new(a, "spoof", json_integer(r->adcf.nspoof));
    for (int i = 0; i < r->adcf_attacks.n; i++) {
        json_t *x = json_object();
        json_object_set_new(x, "attack", json_string(r->adcf_attacks.name[i]));
        json_object_set_new(x, "spoof", json_integer(r->adcf_attacks.r[i].nspoof));
        json_object_set_new(x, "min_adcf", num(r->adcf_attacks.r[i].min_adcf));
        json_array_append_new(rows, x);
    }
    json_object_set_new(a, "per_attack", rows);
    return a;
}

int sdd_eval_write_json(const sdd_eval_report *r, const sdd_eval_opts *o, FILE *f, sdd_err *e)
{
    if (!r->has_cm) {
        json_t *j = json_object();
        if (!j) return sdd_err_set(e, "out of memory");
        json_object_set_new(j, "adcf", adcf_json(r, o));
        int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_ENSURE_ASCII);
        json_decref(j);
        if (rc || fputc('\n', f) == EOF) return sdd_err_set(e, "cannot write the JSON report");
        return 0;
    }
    json_t *j = json_object();
    if (!j) return sdd_err_set(e, "out of memory");
    json_object_set_new(j, "scores", json_string(o->scores));
    json_object_set_new(j, "key", o->key ? json_string(o->key) : json_null());
    json_object_set_new(j, "key_format", r->key_format >= 0 ? json_string(sdd_list_format_name(r->key_format))
                                                            : json_string("cm2019-scores"));
    json_object_set_new(j, "subset", r->subset[0] ? json_string(r->subset) : json_null());
    json_t *tr = json_object();
    json_object_set_new(tr, "bonafide", json_integer(r->n_bona));
    json_object_set_new(tr, "spoof", json_integer(r->n_spoof));
    json_object_set_new(tr, "missing", json_integer(r->n_missing));
    json_object_set_new(tr, "unused_scores", json_integer(r->n_unused));
    json_object_set_new(j, "trials", tr);
    if (r->key_format >= 0) {
        json_t *m = json_object();
        json_object_set_new(m, "exact", json_integer(r->n_matched[SDD_MATCH_EXACT]));
        json_object_set_new(m, "basename", json_integer(r->n_matched[SDD_MATCH_BASENAME]));
        json_object_set_new(m, "stem", json_integer(r->n_matched[SDD_MATCH_STEM]));
        json_object_set_new(j, "id_match", m);
    } else {
        json_object_set_new(j, "id_match", json_null());
    }
    json_object_set_new(j, "eer", num(r->eer.eer));
    json_object_set_new(j, "eer_percent", num(r->eer.eer * 100.0));
    json_object_set_new(j, "eer_threshold", num(r->eer.threshold));
    json_t *bj = r->has_boot ? sdd_boot_json(&r->boot, r->boot_name) : NULL;
    sdd_eval_boot_lists_json(r, bj);
    json_object_set_new(j, "bootstrap", bj ? bj : json_null());
    json_object_set_new(j, "calibrated", json_boolean(r->calibrated));
    json_object_set_new(j, "cllr", num(r->cllr));
    json_object_set_new(j, "min_cllr", num(r->min_cllr));
    json_object_set_new(j, "min_dcf", num(r->dcf.min_dcf));
    json_object_set_new(j, "act_dcf", num(r->dcf.act_dcf));
    json_t *dc = json_object();
    json_object_set_new(dc, "pspoof", json_real(0.05));
    json_object_set_new(dc, "cmiss", json_real(1));
    json_object_set_new(dc, "cfa", json_real(10));
    json_object_set_new(dc, "min_threshold", num(r->dcf.min_threshold));
    json_object_set_new(dc, "act_threshold", num(r->dcf.act_threshold));
    json_object_set_new(dc, "act_pmiss", num(r->dcf.act_pmiss));
    json_object_set_new(dc, "act_pfa", num(r->dcf.act_pfa));
    json_object_set_new(j, "dcf", dc);
    if (r->has_tdcf) {
        json_t *t = json_object(), *a = json_object();
        json_object_set_new(t, "form", json_integer(r->tdcf_form));
        json_object_set_new(t, "min_tdcf", num(r->tdcf.min_tdcf));
        json_object_set_new(t, "cm_threshold", num(r->tdcf.threshold));
        json_object_set_new(t, "pmiss_cm", num(r->tdcf.pmiss_cm));
        json_object_set_new(t, "pfa_cm", num(r->tdcf.pfa_cm));
        json_object_set_new(t, "c0", num(r->coef.c0));
        json_object_set_new(t, "c1", num(r->coef.c1));
        json_object_set_new(t, "c2", num(r->coef.c2));
        json_object_set_new(a, "file", json_string(r->tdcf_from_c012 ? o->asv_c012
                                                   : r->tdcf_asv5_rates ? "ASVspoof 5 organisers' pooled rates"
                                                                        : o->asv_scores));
        json_object_set_new(a, "source", json_string(r->tdcf_from_c012 ? "c012" : r->tdcf_asv5_rates ? "asvspoof5-rates" : "scores"));
        json_object_set_new(a, "eer", num(r->asv.eer));
        json_object_set_new(a, "threshold", num(r->asv.threshold));
        json_object_set_new(a, "pfa", num(r->asv.pfa));
        json_object_set_new(a, "pmiss", num(r->asv.pmiss));
        json_object_set_new(a, "pmiss_spoof", num(r->asv.pmiss_spoof));
        json_object_set_new(a, "pfa_spoof", num(r->asv.pfa_spoof));
        json_object_set_new(a, "target", json_integer(r->asv.ntar));
        json_object_set_new(a, "nontarget", json_integer(r->asv.nnon));
        json_object_set_new(a, "spoof", json_integer(r->asv.nspoof));
        json_object_set_new(t, "asv", a);
        json_object_set_new(j, "tdcf", t);
    } else {
        json_object_set_new(j, "tdcf", json_null());
    }
    json_object_set_new(j, "breakdown", r->has_table ? table_json(r, &r->table) : json_null());
    json_object_set_new(j, "breakdown_vocoder",
                        r->has_vocoder_table ? table_json(r, &r->vocoder_table) : json_null());
    json_object_set_new(j, "adcf", adcf_json(r, o));
    json_t *w = json_array();
    for (int i = 0; i < r->nwarn; i++) json_array_append_new(w, json_string(r->warnings[i]));
    json_object_set_new(j, "warnings", w);
    int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_ENSURE_ASCII);
    json_decref(j);
    if (rc || fputc('\n', f) == EOF) return sdd_err_set(e, "cannot write the JSON report");
    return 0;
}

static json_t *table_json(const sdd_eval_report *r, const sdd_table *t)
{
    json_t *b = json_object(), *rows = json_array(), *cols = json_array(), *tags = json_array();
    for (int i = 0; i < t->nrow; i++) json_array_append_new(rows, json_string(t->row_name[i]));
    for (int c = 0; c < t->ncol; c++) {
        json_array_append_new(cols, json_string(t->col_name[c]));
        json_array_append_new(tags, r->col_tag && c < r->table.ncol && r->col_tag[c] ? json_string(r->col_tag[c])
                                                                                     : json_null());
    }
    json_object_set_new(b, "rows", rows);
    json_object_set_new(b, "columns", cols);
    json_object_set_new(b, "column_tags", tags);
    json_object_set_new(b, "eer_percent", matrix_d(t, t->eer, 100.0));
    json_object_set_new(b, "eer_threshold", matrix_d(t, t->eer_threshold, 1.0));
    json_object_set_new(b, "min_tdcf", matrix_d(t, t->min_tdcf, 1.0));
    json_object_set_new(b, "min_dcf", matrix_d(t, t->min_dcf, 1.0));
    json_object_set_new(b, "act_dcf", matrix_d(t, t->act_dcf, 1.0));
    json_object_set_new(b, "cllr", matrix_d(t, t->cllr, 1.0));
    json_object_set_new(b, "bonafide", matrix_i(t, t->n_bona));
    json_object_set_new(b, "spoof", matrix_i(t, t->n_spoof));
    return b;
}

/* ---- DET TSV ---- */

static void put_num(FILE *f, double x, const char *fmt)
{
    if (isnan(x)) fputs("nan", f);
    else if (isinf(x)) fputs(x > 0 ? "inf" : "-inf", f);
    else fprintf(f, fmt, x);
}

int sdd_eval_write_det(const sdd_eval_report *r, FILE *f, sdd_err *e)
{
    sdd_det d;
    if (sdd_det_curve(&r->cm, NULL, &d, e)) return -1;
    fputs("threshold\tfar\tfrr\tprobit_far\tprobit_frr\n", f);
    for (int64_t k = 0; k < d.n; k++) {
        /* point k lies between the steps rejecting trials k-1 and k */
        if (k > 0 && k < d.n - 1 && d.pos[k - 1] == d.pos[k]) continue;
        put_num(f, d.thr[k], "%.17g");
        fputc('\t', f);
        put_num(f, d.far[k], "%.17g");
        fputc('\t', f);
        put_num(f, d.frr[k], "%.17g");
        fputc('\t', f);
        put_num(f, sdd_probit(d.far[k]), "%.17g");
        fputc('\t', f);
        put_num(f, sdd_probit(d.frr[k]), "%.17g");
        fputc('\n', f);
    }
    sdd_det_free(&d);
    if (ferror(f)) return sdd_err_set(e, "cannot write the DET curve");
    return 0;
}
