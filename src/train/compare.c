/* Owns the regime comparison table of training runs (see compare.h). */
#include "train/compare.h"
#include "core/sbuf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL 19

void sdd_compare_run_stats(const sdd_runlog *r, sdd_compare_run *out)
{
    double best = NAN, num = 0, den = 0;
    int ep = 0;
    for (int k = 0; k < r->nep; k++) {
        const sdd_runlog_epoch *E = &r->ep[k];
        if (isfinite(E->dev_loss) && !(E->dev_loss >= best)) { best = E->dev_loss; ep = E->epoch + 1; }
        if (!isfinite(E->conflict_rate)) continue;
        /* weighted by the epoch's steps, so the run's rate is the share of all
         * its aligned steps; an epoch without a step count weighs 1 */
        const double w = E->steps > 0 ? (double)E->steps : 1.0;
        num += w * E->conflict_rate;
        den += w;
    }
    out->best_loss_epoch = ep;
    out->conflict_rate = den > 0 ? num / den : NAN;
}

/* "mean +- std" of the finite values of v[0..n), scaled; "(m)" added when
 * only m < n runs have the number; "-" when none has it */
static void cell(sdd_sbuf *b, const double *v, int n, double scale, int decimals)
{
    double s = 0, ss = 0;
    int m = 0;
    for (int k = 0; k < n; k++)
        if (isfinite(v[k])) { s += v[k]; m++; }
    char t[64];
    if (!m) snprintf(t, sizeof t, "-");
    else {
        const double mean = s / m;
        for (int k = 0; k < n; k++)
            if (isfinite(v[k])) ss += (v[k] - mean) * (v[k] - mean);
        const double sd = m > 1 ? sqrt(ss / (m - 1)) : NAN;
        int k = m > 1 ? snprintf(t, sizeof t, "%.*f +- %.*f", decimals, scale * mean, decimals, scale * sd)
                      : snprintf(t, sizeof t, "%.*f", decimals, scale * mean);
        if (m < n && k > 0 && (size_t)k < sizeof t) snprintf(t + k, sizeof t - (size_t)k, " (%d)", m);
    }
    sdd_sbuf_put(b, " %*s", CELL, t);
}

/* alignment and BatchNorm statistics only mean something with two paths
 * (one-path runs record the defaults, which changed over time) */
static int same_regime(const sdd_runlog *a, const sdd_runlog *b)
{
    if (strcmp(a->model, b->model) || strcmp(a->paths, b->paths)) return 0;
    return strcmp(a->paths, "dual") ||
           (!strcmp(a->align, b->align) && !strcmp(a->bn_stats, b->bn_stats) && !strcmp(a->align_groups, b->align_groups));
}

char *sdd_compare_table(const sdd_runlog *runs, int n, sdd_err *e)
{
    if (n < 1) { sdd_err_set(e, "no runs to compare"); return NULL; }
    int *group = malloc((size_t)n * sizeof *group);      /* group of each run */
    int *first = malloc((size_t)n * sizeof *first);      /* first run of each group */
    const char **names = malloc((size_t)n * 8 * sizeof *names);   /* evaluation set names, union */
    double *v = malloc((size_t)n * sizeof *v);
    sdd_compare_run *st = malloc((size_t)n * sizeof *st);
    sdd_sbuf b = { malloc(4096), 0, 4096, 0 };
    char *ret = NULL;
    if (!group || !first || !names || !v || !st || !b.s) { sdd_err_set(e, "out of memory"); goto done; }
    int ng = 0, nn = 0, one_model = 1;
    for (int r = 0; r < n; r++) {
        int g = 0;
        while (g < ng && !same_regime(&runs[first[g]], &runs[r])) g++;
        if (g == ng) first[ng++] = r;
        group[r] = g;
        one_model &= !strcmp(runs[r].model, runs[0].model);
        sdd_compare_run_stats(&runs[r], &st[r]);
        for (int k = 0; k < runs[r].nev; k++) {
            int j = 0;
            while (j < nn && strcmp(names[j], runs[r].ev[k].name)) j++;
            if (j == nn && nn < n * 8) names[nn++] = runs[r].ev[k].name;
        }
    }
    sdd_sbuf_put(&b, "%-30s %4s", "regime", "runs");
    for (int j = 0; j < nn; j++) {
        char h[96];
        snprintf(h, sizeof h, "%.60s EER %%", names[j]);
        sdd_sbuf_put(&b, " %*s", CELL, h);
    }
    sdd_sbuf_put(&b, " %*s %*s %*s\n", CELL, "final dev EER %", CELL, "best-loss epoch", CELL, "conflict rate %");
    for (int g = 0; g < ng; g++) {
        const sdd_runlog *R = &runs[first[g]];
        char label[128];
        int k = snprintf(label, sizeof label, "%s%s%s", one_model ? "" : R->model, one_model ? "" : " ", R->paths[0] ? R->paths : "-");
        if (!strcmp(R->paths, "dual") && k > 0 && (size_t)k < sizeof label)
            k += snprintf(label + k, sizeof label - (size_t)k, " %s", R->align[0] ? R->align : "-");
        if (!strcmp(R->paths, "dual") && strcmp(R->align_groups, "whole") && k > 0 && (size_t)k < sizeof label)   /* --align-groups */
            k += snprintf(label + k, sizeof label - (size_t)k, "/%s", R->align_groups);
        if (!strcmp(R->paths, "dual") && !strcmp(R->bn_stats, "joint") && k > 0 && (size_t)k < sizeof label)
            snprintf(label + k, sizeof label - (size_t)k, " joint-bn");
        int m = 0;
        for (int r = 0; r < n; r++) m += group[r] == g;
        sdd_sbuf_put(&b, "%-30s %4d", label, m);
        for (int j = 0; j < nn; j++) {
            m = 0;
            for (int r = 0; r < n; r++) {
                if (group[r] != g) continue;
                v[m] = NAN;
                for (int q = 0; q < runs[r].nev; q++)
                    if (!strcmp(runs[r].ev[q].name, names[j])) v[m] = runs[r].ev[q].eer;
                m++;
            }
            cell(&b, v, m, 100.0, 2);
        }
        m = 0;
        for (int r = 0; r < n; r++) if (group[r] == g) v[m++] = runs[r].has_final ? runs[r].final_dev_eer : NAN;
        cell(&b, v, m, 100.0, 2);
        m = 0;
        for (int r = 0; r < n; r++) if (group[r] == g) v[m++] = st[r].best_loss_epoch > 0 ? st[r].best_loss_epoch : NAN;
        cell(&b, v, m, 1.0, 1);
        m = 0;
        for (int r = 0; r < n; r++) if (group[r] == g) v[m++] = st[r].conflict_rate;
        cell(&b, v, m, 100.0, 1);
        sdd_sbuf_put(&b, "\n");
    }
    sdd_sbuf_put(&b, "mean +- sample std over each regime's runs ((m): only m runs have the number); best-loss epoch: the\n"
            "epoch (1 = first) with the lowest dev loss; conflict rate: the share of the run's aligned steps whose\n"
            "two path gradients conflict (negative dot product); '-': none (single-path regimes have no conflicts)\n");
    if (b.fail) { sdd_err_set(e, "out of memory"); goto done; }
    ret = b.s;
    b.s = NULL;
done:
    free(group);
    free(first);
    free(names);
    free(v);
    free(st);
    free(b.s);
    return ret;
}
