/* Owns the per-attack and per-condition bootstrap of bootstrap.h
 * (sdd_boot_list for sdd eval, sdd_boot_runs_list for sdd compare): the
 * bootstrap of a subset of the trials, of one system or of several runs
 * (the subset's sorted trials taken from the whole set's in one pass, so
 * nothing is sorted again), Holm's step-down adjustment of the entries'
 * p-values, and sdd eval's text lines and JSON of the lists.
 * Why per entry and on its own: the per-attack EERs are the field's usual
 * breakdown, and an attack has a few thousand trials, so its EER moves more
 * with the evaluation set's luck than the pooled one; "which attacks did
 * this system improve" needs a p-value per attack, and, with thirteen
 * attacks asked at once, one corrected for asking thirteen times (Holm's
 * method holds the family-wise error rate under any dependence between the
 * tests, which these have: every attack shares the bona fide trials). */
#include "metrics/bootstrap.h"
#include "metrics/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NM SDD_BOOT_NMETRIC

void sdd_boot_list_free(sdd_boot_list *l)
{
    if (!l) return;
    free(l->r);
    free(l->holm);
    memset(l, 0, sizeof *l);
}

/* out = the trials of s kept (keep by input position), in s's sorted order,
 * their input positions renumbered in input order: sub_of[i] is input
 * position i's number in out, or -1 */
static int take_subset(const sdd_sorted *s, const unsigned char *keep, sdd_sorted *out, int64_t *sub_of)
{
    int64_t m = 0;
    for (int64_t i = 0; i < s->n; i++) sub_of[i] = keep[i] ? m++ : -1;
    out->n = m;
    out->score = malloc((size_t)(m ? m : 1) * sizeof *out->score);
    out->pos = malloc((size_t)(m ? m : 1));
    out->orig = malloc((size_t)(m ? m : 1) * sizeof *out->orig);
    if (!out->score || !out->pos || !out->orig) {
        sdd_sorted_free(out);
        return -1;
    }
    int64_t j = 0;
    for (int64_t k = 0; k < s->n; k++) {
        const int64_t i = s->orig[k];
        if (!keep[i]) continue;
        out->score[j] = s->score[k];
        out->pos[j] = s->pos[k];
        out->orig[j] = sub_of[i];
        j++;
    }
    return 0;
}

int sdd_boot_run_subset(const sdd_sorted *a, const sdd_sorted *b, const int64_t *b_of_a, const unsigned char *keep,
                        const sdd_boot_params *p, sdd_boot_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    if (b && !b_of_a) return sdd_err_set(e, "bootstrap: a paired run needs the pairing");
    const int64_t n = a->n, nbn = b ? b->n : 0;
    sdd_sorted sa = { 0 }, sb = { 0 };
    int64_t *sub_a = malloc((size_t)(n ? n : 1) * sizeof *sub_a);
    int64_t *sub_b = b ? malloc((size_t)(nbn ? nbn : 1) * sizeof *sub_b) : NULL;
    unsigned char *keep_b = b ? calloc((size_t)(nbn ? nbn : 1), 1) : NULL;
    int64_t *pair = NULL;
    int rc = -1;
    if (!sub_a || (b && (!sub_b || !keep_b)) || take_subset(a, keep, &sa, sub_a)) goto oom;
    int64_t unmatched = 0;
    if (b) {
        /* b's trials are those matched to a kept trial of a */
        for (int64_t i = 0; i < n; i++)
            if (keep[i]) {
                if (b_of_a[i] >= 0) keep_b[b_of_a[i]] = 1;
                else unmatched++;
            }
        if (take_subset(b, keep_b, &sb, sub_b) || !(pair = malloc((size_t)(sa.n ? sa.n : 1) * sizeof *pair))) goto oom;
        for (int64_t i = 0; i < n; i++)
            if (keep[i]) pair[sub_a[i]] = b_of_a[i] >= 0 ? sub_b[b_of_a[i]] : -1;
    }
    rc = sdd_boot_run(&sa, b ? &sb : NULL, pair, p, r, e);
    r->unpaired_a = unmatched;
    goto done;
oom:
    rc = sdd_err_set(e, "out of memory for the bootstrap of a subset of %lld trials", (long long)n);
done:
    sdd_sorted_free(&sa);
    sdd_sorted_free(&sb);
    free(sub_a);
    free(sub_b);
    free(keep_b);
    free(pair);
    return rc;
}

int sdd_boot_runs_subset(const sdd_sorted *const *a, const sdd_sorted *const *b, int S, const int64_t *const *ma,
                         const int64_t *const *mb, const unsigned char *keep, const sdd_boot_params *p,
                         sdd_boot_runs_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    if (S < 1 || S > SDD_BOOT_MAX_RUNS) return sdd_err_set(e, "compare: %d runs per system (1 to %d)", S, SDD_BOOT_MAX_RUNS);
    const int64_t n = a[0]->n;
    /* run x = side * S + s: its subset, its input positions' numbers there, its map from a[0]'s subset */
    sdd_sorted sub[2 * SDD_BOOT_MAX_RUNS];
    int64_t *num[2 * SDD_BOOT_MAX_RUNS] = { 0 }, *map[2 * SDD_BOOT_MAX_RUNS] = { 0 };
    const sdd_sorted *ps[2][SDD_BOOT_MAX_RUNS];
    const int64_t *pm[2][SDD_BOOT_MAX_RUNS];
    memset(sub, 0, sizeof sub);
    int64_t *sub0 = malloc((size_t)(n ? n : 1) * sizeof *sub0);
    int rc = 0;
    if (!sub0) return sdd_err_set(e, "out of memory");
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) sub0[i] = keep[i] ? m++ : -1;
    for (int x = 0; x < 2 * S && !rc; x++) {
        const sdd_sorted *run = x < S ? a[x] : b[x - S];
        const int64_t *mx = x < S ? ma[x] : mb[x - S];
        unsigned char *kx = calloc((size_t)(run->n ? run->n : 1), 1);
        num[x] = malloc((size_t)(run->n ? run->n : 1) * sizeof *num[x]);
        map[x] = malloc((size_t)(m ? m : 1) * sizeof *map[x]);
        if (!kx || !num[x] || !map[x]) { free(kx); rc = sdd_err_set(e, "out of memory"); break; }
        for (int64_t i = 0; i < n && !rc; i++)
            if (keep[i]) {
                if (mx[i] < 0 || mx[i] >= run->n) rc = sdd_err_set(e, "compare: trial %lld of the first run has no match", (long long)i);
                else kx[mx[i]] = 1;
            }
        if (!rc && take_subset(run, kx, &sub[x], num[x])) rc = sdd_err_set(e, "out of memory");
        free(kx);
        for (int64_t i = 0; i < n && !rc; i++)
            if (keep[i]) map[x][sub0[i]] = num[x][mx[i]];
        ps[x >= S][x % S] = &sub[x];
        pm[x >= S][x % S] = map[x];
    }
    if (!rc) rc = sdd_boot_runs(ps[0], ps[1], S, pm[0], pm[1], p, r, e);
    for (int x = 0; x < 2 * S; x++) {
        sdd_sorted_free(&sub[x]);
        free(num[x]);
        free(map[x]);
    }
    free(sub0);
    return rc;
}

static int cmp_pidx(const void *x, const void *y, void *pv)
{
    const double *p = pv;
    const double a = p[*(const int *)x], b = p[*(const int *)y];
    if (a != b) return (a > b) - (a < b);
    return (*(const int *)x > *(const int *)y) - (*(const int *)x < *(const int *)y);
}

int sdd_holm(const double *p, int n, double *adj)
{
    int *ord = malloc((size_t)(n > 0 ? n : 1) * sizeof *ord);
    if (!ord) return -1;
    int m = 0;
    for (int i = 0; i < n; i++) {
        adj[i] = NAN;
        if (!isnan(p[i])) ord[m++] = i;
    }
    qsort_r(ord, (size_t)m, sizeof *ord, cmp_pidx, (void *)p);
    /* the j-th smallest (from 0) is multiplied by m - j; running maximum, capped at 1 */
    double run = 0.0;
    for (int j = 0; j < m; j++) {
        double v = (double)(m - j) * p[ord[j]];
        if (v > 1.0) v = 1.0;
        if (v > run) run = v;
        adj[ord[j]] = run;
    }
    free(ord);
    return 0;
}

/* Holm over the named entries of a list (pv[0..N-1), the last entry pooled)
 * into holm[i * NM + m]; the pooled entry keeps its own p. A p of 0 (no
 * replicate crossed 0) is only known to be below 1 / reps: that bound goes
 * in, so the adjusted value stays an upper bound too. adj: N scratch */
static int holm_entries(double *pv, int N, int reps, int m, double *holm, double *adj)
{
    const double pooled = pv[N - 1];
    for (int i = 0; i < N - 1; i++)
        if (pv[i] * reps < 1.0) pv[i] = 1.0 / reps;
    if (N > 1 && sdd_holm(pv, N - 1, adj)) return -1;
    for (int i = 0; i < N - 1; i++) holm[(size_t)i * NM + m] = adj[i];
    holm[(size_t)(N - 1) * NM + m] = pooled;
    return 0;
}

/* One factor of a table whose entries a list holds: the rows (attacks,
 * vocoder types: a factor of the spoof trials, each row keeping every bona
 * fide trial) or the columns (conditions: both classes). */
typedef struct {
    const sdd_table *t;
    const int *row_of;   /* by_row: the row of the trial at each input position, -1 for none */
    int by_row;
    int tdcf;            /* the table's cells have t-DCF coefficients (the report's cell_coef) */
    const char *what;    /* "attack", "condition", "vocoder type" */
} factor;

static factor factor_of(const sdd_eval_report *r, int which)
{
    factor f = { &r->table, r->row_of, 1, 1, "attack" };
    if (which == 1) { f.by_row = 0; f.what = "condition"; }
    if (which == 2) { f.t = &r->vocoder_table; f.row_of = r->voc_of; f.tdcf = 0; f.what = "vocoder type"; }
    return f;
}

/* entry i of factor f: its trials (input positions of cm) into keep, and
 * its table cell */
static size_t entry_keep(const sdd_eval_report *r, const factor *f, int i, const unsigned char *lab, unsigned char *keep)
{
    const sdd_table *t = f->t;
    const int64_t n = r->cm.n;
    const int pooled = f->by_row ? i == t->nrow - 1 : i == t->ncol - 1;
    for (int64_t k = 0; k < n; k++)
        keep[k] = (unsigned char)(pooled || (f->by_row ? lab[k] || f->row_of[k] == i : r->col_of[k] == i));
    return f->by_row ? (size_t)i * t->ncol + (size_t)(t->ncol - 1) : (size_t)(t->nrow - 1) * t->ncol + (size_t)i;
}

/* entry i's name as data (JSON): the row's or the column's */
static const char *entry_data_name(const factor *f, int i)
{
    return f->by_row ? f->t->row_name[i] : f->t->col_name[i];
}

/* what building a list needs besides its results: each trial's class by
 * input position, an entry's trials, and Holm's inputs and outputs */
typedef struct {
    unsigned char *keep, *lab;
    double *pv, *adj;
} scratch;

static void scratch_free(scratch *w)
{
    free(w->keep);
    free(w->lab);
    free(w->pv);
    free(w->adj);
}

static int scratch_init(const sdd_eval_report *r, int N, scratch *w)
{
    const int64_t n = r->cm.n;
    w->keep = malloc((size_t)(n ? n : 1));
    w->lab = malloc((size_t)(n ? n : 1));
    w->pv = malloc((size_t)N * sizeof *w->pv);
    w->adj = malloc((size_t)N * sizeof *w->adj);
    if (!w->keep || !w->lab || !w->pv || !w->adj) { scratch_free(w); return -1; }
    for (int64_t k = 0; k < n; k++) w->lab[r->cm.orig[k]] = r->cm.pos[k];
    return 0;
}

/* the t-DCF coefficients of factor f's table cell `cell` where the table has
 * a min t-DCF there, else NULL */
static const sdd_tdcf_coef *cell_tdcf(const sdd_eval_report *r, const factor *f, size_t cell)
{
    const sdd_tdcf_coef *k = f->tdcf && r->cell_coef ? &r->cell_coef[cell] : NULL;
    return k && k->form && !isnan(f->t->min_tdcf[cell]) ? k : NULL;
}

/* whether the kept trials with a match in the other system (b_of_a >= 0)
 * hold both classes: a paired entry without one has no interval */
static int both_classes_paired(int64_t n, const unsigned char *keep, const unsigned char *lab, const int64_t *b_of_a)
{
    int seen[2] = { 0, 0 };
    for (int64_t k = 0; k < n && !(seen[0] && seen[1]); k++)
        if (keep[k] && b_of_a[k] >= 0) seen[lab[k] != 0] = 1;
    return seen[0] && seen[1];
}

static int boot_list(const sdd_eval_report *r, const sdd_eval_report *rb, const int64_t *b_of_a, const factor *f,
                     const sdd_boot_params *p, sdd_boot_list *l, sdd_err *e)
{
    const sdd_table *t = f->t;
    const int N = f->by_row ? t->nrow : t->ncol;
    scratch w = { 0 };
    memset(l, 0, sizeof *l);
    l->n = N;
    l->r = calloc((size_t)N, sizeof *l->r);
    l->holm = malloc((size_t)N * NM * sizeof *l->holm);
    if (!l->r || !l->holm || scratch_init(r, N, &w)) {
        sdd_boot_list_free(l);
        return sdd_err_set(e, "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < N && !rc; i++) {
        const size_t cell = entry_keep(r, f, i, w.lab, w.keep);
        sdd_boot_result *x = &l->r[i];
        for (int m = 0; m < NM; m++) x->est[m] = x->est_b[m] = x->diff[m] = x->p[m] = NAN;
        if (t->n_bona[cell] == 0 || t->n_spoof[cell] == 0) continue;   /* no EER: no interval (printed "-") */
        if (i == N - 1) { *x = r->boot; continue; }   /* the pooled entry is the whole set: the same draws */
        if (rb && !both_classes_paired(r->cm.n, w.keep, w.lab, b_of_a)) continue;   /* the other system lacks a class here */
        sdd_boot_params q = *p;
        q.tdcf = cell_tdcf(r, f, cell);
        if (sdd_boot_run_subset(&r->cm, rb ? &rb->cm : NULL, b_of_a, w.keep, &q, x, e))
            rc = sdd_err_prefix(e, "%s %s", f->what, entry_data_name(f, i));
    }
    for (int m = 0; m < NM && !rc; m++) {
        for (int i = 0; i < N; i++) w.pv[i] = rb && l->r[i].has[m] ? l->r[i].p[m] : NAN;
        if (holm_entries(w.pv, N, p->reps, m, l->holm, w.adj)) rc = sdd_err_set(e, "out of memory");
    }
    scratch_free(&w);
    if (rc) sdd_boot_list_free(l);
    return rc;
}

void sdd_boot_runs_list_free(sdd_boot_runs_list *l)
{
    if (!l) return;
    free(l->r);
    free(l->holm);
    memset(l, 0, sizeof *l);
}

int sdd_compare_list(const sdd_eval_report *rep, int kind, const sdd_sorted *const *a, const sdd_sorted *const *b,
                     int S, const int64_t *const *ma, const int64_t *const *mb, const sdd_boot_params *p,
                     sdd_boot_runs_list *l, sdd_err *e)
{
    memset(l, 0, sizeof *l);
    if (kind < 0 || kind >= SDD_FACTOR_N) return sdd_err_set(e, "compare: no factor %d", kind);
    if (!rep->has_table || !rep->row_of || !rep->col_of || a[0] != &rep->cm) return 0;
    if (kind == SDD_FACTOR_VOCODER && (!rep->has_vocoder_table || !rep->voc_of)) return 0;
    const factor f = factor_of(rep, kind);
    const sdd_table *t = f.t;
    const int N = f.by_row ? t->nrow : t->ncol;
    if (N < 2) return 0;
    scratch w = { 0 };
    l->n = N;
    l->r = calloc((size_t)N, sizeof *l->r);
    l->holm = malloc((size_t)N * NM * sizeof *l->holm);
    if (!l->r || !l->holm || scratch_init(rep, N, &w)) {
        sdd_boot_runs_list_free(l);
        return sdd_err_set(e, "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < N && !rc; i++) {
        const size_t cell = entry_keep(rep, &f, i, w.lab, w.keep);
        if (t->n_bona[cell] == 0 || t->n_spoof[cell] == 0) continue;   /* has[] all 0 */
        sdd_boot_params q = *p;
        q.tdcf = p->tdcf ? cell_tdcf(rep, &f, cell) : NULL;
        if (sdd_boot_runs_subset(a, b, S, ma, mb, w.keep, &q, &l->r[i], e))
            rc = sdd_err_prefix(e, "%s %s", f.what, entry_data_name(&f, i));
    }
    for (int m = 0; m < NM && !rc; m++) {
        for (int i = 0; i < N; i++) w.pv[i] = l->r[i].has[m] ? l->r[i].p[m] : NAN;
        if (holm_entries(w.pv, N, p->reps, m, l->holm, w.adj)) rc = sdd_err_set(e, "out of memory");
    }
    scratch_free(&w);
    if (rc) sdd_boot_runs_list_free(l);
    return rc;
}

int sdd_eval_bootstrap_lists(sdd_eval_report *r, const sdd_eval_report *rb, const int64_t *b_of_a,
                             const sdd_boot_params *p, sdd_err *e)
{
    sdd_boot_list *lists[3] = { &r->boot_attack, &r->boot_cond, &r->boot_vocoder };
    for (int k = 0; k < 3; k++) sdd_boot_list_free(lists[k]);
    if (!r->has_table || !r->row_of || !r->col_of) return 0;
    const int want_a = !r->breakdown || (r->breakdown & SDD_BREAKDOWN_ATTACK);
    const int want_c = !r->breakdown || (r->breakdown & SDD_BREAKDOWN_CONDITION);
    /* attacks, conditions, and (2021 DF keys) vocoder types, as the tables print them */
    const int want[3] = { want_a && r->table.nrow > 1, want_c && r->table.ncol > 1,
                          want_a && r->has_vocoder_table && r->voc_of && r->vocoder_table.nrow > 1 };
    for (int k = 0; k < 3; k++) {
        const factor f = factor_of(r, k);
        if (want[k] && boot_list(r, rb, b_of_a, &f, p, lists[k], e)) {
            for (int j = 0; j < k; j++) sdd_boot_list_free(lists[j]);
            return -1;
        }
    }
    return 0;
}

/* ---- text and JSON ---- */

static const char *const label[NM] = { "EER", "minDCF", "min t-DCF" };
static const double scale[NM] = { 100.0, 1.0, 1.0 };

const char *sdd_eval_entry_name(const sdd_eval_report *r, int by_row, int i, char *b, size_t n)
{
    if (by_row) return r->table.row_name[i];
    if (r->col_tag && r->col_tag[i]) snprintf(b, n, "%s:%s", r->col_tag[i], r->table.col_name[i]);
    else snprintf(b, n, "%s", r->table.col_name[i]);
    return b;
}

/* entry i's printed name: a condition with its official tag */
static const char *entry_name(const sdd_eval_report *r, const factor *f, int i, char *b, size_t n)
{
    return f->by_row ? f->t->row_name[i] : sdd_eval_entry_name(r, 0, i, b, n);
}

const char *sdd_eval_factor_what(int kind)
{
    return kind == SDD_FACTOR_VOCODER ? "vocoder type" : kind == SDD_FACTOR_CONDITION ? "condition" : "attack";
}

const char *sdd_eval_factor_entry(const sdd_eval_report *r, int kind, int i, int printed, char *buf, size_t n)
{
    const factor f = factor_of(r, kind);
    return printed ? entry_name(r, &f, i, buf, n) : entry_data_name(&f, i);
}

/* one line into f without its trailing blanks */
static void put_line(char *line, FILE *f)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ') line[--n] = '\0';
    fprintf(f, "%s\n", line);
}

static void print_list(const sdd_eval_report *r, const sdd_boot_list *l, const factor *fa, FILE *f)
{
    int has[NM] = { 0 }, w0 = fa->by_row ? 10 : 18;
    char b[128], line[512];
    for (int i = 0; i < l->n; i++) {
        for (int m = 0; m < NM; m++) has[m] |= l->r[i].has[m];
        const int w = (int)strlen(entry_name(r, fa, i, b, sizeof b));
        if (w > w0) w0 = w;
    }
    const sdd_boot_result *g = &r->boot;
    const char *what = fa->what;
    int tested = 0;   /* Holm's count: the named entries with a p (the EER's) */
    for (int i = 0; i < l->n - 1; i++) tested += l->r[i].has[SDD_BOOT_EER];
    if (!g->paired)
        fprintf(f, "\nper %s: value and %g%% bootstrap interval, each %s's trials resampled on their own\n", what,
                100.0 * g->level, what);
    else
        fprintf(f, "\nper %s: this - compared (%s), paired bootstrap, %g%% intervals; p per %s, and Holm-adjusted "
                   "over the %d %ss\n", what, r->boot_name ? r->boot_name : "", 100.0 * g->level, what, tested, what);
    int at = snprintf(line, sizeof line, "%-*s", w0, what);
    for (int m = 0; m < NM; m++) {
        if (!has[m]) continue;
        const char *h = m == SDD_BOOT_EER ? (g->paired ? "EER (points)" : "EER (%)") : label[m];
        if (!g->paired) at += snprintf(line + at, sizeof line - (size_t)at, "  %-28s", h);
        else at += snprintf(line + at, sizeof line - (size_t)at, "  %-30s %7s %7s", h, "p", "Holm p");
    }
    put_line(line, f);
    for (int i = 0; i < l->n; i++) {
        const sdd_boot_result *x = &l->r[i];
        at = snprintf(line, sizeof line, "%-*s", w0, entry_name(r, fa, i, b, sizeof b));
        for (int m = 0; m < NM; m++) {
            if (!has[m]) continue;
            const double k = scale[m];
            char s[96], pt[32], ht[32];
            if (!g->paired) {
                if (!x->has[m]) snprintf(s, sizeof s, "-");
                else snprintf(s, sizeof s, "%.4f (%.4f .. %.4f)", k * x->est[m], k * x->lo[m], k * x->hi[m]);
                at += snprintf(line + at, sizeof line - (size_t)at, "  %-28s", s);
                continue;
            }
            if (!x->has[m]) {
                at += snprintf(line + at, sizeof line - (size_t)at, "  %-30s %7s %7s", "-", "-", "-");
                continue;
            }
            snprintf(s, sizeof s, "%+.4f (%+.4f .. %+.4f)", k * x->diff[m], k * x->diff_lo[m], k * x->diff_hi[m]);
            sdd_boot_p_cell(x->p[m], x->reps, pt, sizeof pt);
            /* the pooled entry's "Holm p" is its own p; the others' are bounds already */
            sdd_boot_p_cell(l->holm[(size_t)i * NM + m], i == l->n - 1 ? x->reps : 0, ht, sizeof ht);
            at += snprintf(line + at, sizeof line - (size_t)at, "  %-30s %7s %7s", s, pt, ht);
        }
        put_line(line, f);
    }
}

void sdd_eval_print_boot_lists(const sdd_eval_report *r, FILE *f)
{
    if (!r->has_boot) return;
    const sdd_boot_list *lists[3] = { &r->boot_attack, &r->boot_cond, &r->boot_vocoder };
    for (int k = 0; k < 3; k++) {
        const factor fa = factor_of(r, k);
        if (lists[k]->n) print_list(r, lists[k], &fa, f);
    }
}

static json_t *list_json(const sdd_eval_report *r, const sdd_boot_list *l, const factor *fa)
{
    static const char *const metric_key[NM] = { "eer", "min_dcf", "min_tdcf" };
    json_t *a = json_array();
    if (!a) return NULL;
    for (int i = 0; i < l->n; i++) {
        const sdd_boot_result *x = &l->r[i];
        json_t *o = sdd_boot_json(x, r->boot_name);
        if (!o) { json_decref(a); return NULL; }
        json_object_set_new(o, "name", json_string(entry_data_name(fa, i)));
        json_t *c = json_object_get(o, "compared");
        for (int m = 0; c && m < NM; m++) {
            json_t *y = json_object_get(c, metric_key[m]);
            const double h = l->holm[(size_t)i * NM + m];
            if (y) json_object_set_new(y, "holm_p", isnan(h) ? json_null() : json_real(h));
        }
        json_array_append_new(a, o);
    }
    return a;
}

void sdd_eval_boot_lists_json(const sdd_eval_report *r, json_t *boot)
{
    if (!boot) return;
    static const char *const key[3] = { "per_attack", "per_condition", "per_vocoder" };
    const sdd_boot_list *lists[3] = { &r->boot_attack, &r->boot_cond, &r->boot_vocoder };
    for (int k = 0; k < 3; k++) {
        const factor fa = factor_of(r, k);
        json_object_set_new(boot, key[k], lists[k]->n ? list_json(r, lists[k], &fa) : json_null());
    }
}
