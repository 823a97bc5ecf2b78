/* `sdd report`: a table of training runs from their log.jsonl and config.json
 * (see src/train/runlog.h), and the convergence plot as SVG. */
#include "cli/cli.h"
#include "train/runlog.h"
#include "train/compare.h"
#include "io/atomic.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd report [--by-regime] [--svg FILE] RUNDIR...\n"
            "Summarises training runs (sdd train --out RUNDIR): one row per run with its model,\n"
            "regime (paths), alignment, BatchNorm statistics, epochs, the best dev EER and its\n"
            "epoch, the final (averaged) model's dev EER, the evaluation sets' EERs, the\n"
            "conflict rate of each epoch (%% of steps whose path gradients conflict) and the\n"
            "training time. A run still in progress is read up to its last complete record.\n"
            "  --by-regime  one row per regime instead (model, paths, alignment, BatchNorm\n"
            "               statistics; e.g. the seeds of sdd train --seeds): each evaluation\n"
            "               set's EER, the final dev EER, the epoch of the best dev loss and the\n"
            "               conflict rate as mean +- sample std over the regime's runs\n"
            "  --svg FILE   also write the convergence plot: dev EER and dev loss against\n"
            "               epoch, one line per run (written atomically)\n");
}

static const char *base(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    static char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)n, dir);
    char *s = strrchr(buf, '/');
    return s && s[1] ? s + 1 : buf;
}

static void pct(char *out, size_t n, double v)
{
    if (isfinite(v)) snprintf(out, n, "%.2f%%", 100.0 * v);
    else snprintf(out, n, "-");
}

int cmd_report(int argc, char **argv)
{
    const char *svg = NULL;
    int by_regime = 0;
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    int nd = 0;
    if (!dirs) { cli_error("out of memory"); return SDD_EXIT_ERROR; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free(dirs); return SDD_EXIT_OK; }
        if (!strcmp(a, "--by-regime")) by_regime = 1;
        else if (!strcmp(a, "--svg")) {
            if (!(svg = cli_value(argc, argv, &i))) { free(dirs); return cli_usage_error("report", "--svg needs a value"); }
        } else if (a[0] == '-' && a[1]) {
            free(dirs);
            return cli_usage_error("report", "unknown option %s", a);
        } else dirs[nd++] = a;
    }
    if (!nd) { free(dirs); return cli_usage_error("report", "no run directory given"); }
    /* the plot never replaces a run's files */
    for (int r = 0; r < nd && svg; r++) {
        static const char *const files[] = { "log.jsonl", "config.json" };
        for (int f = 0; f < 2; f++) {
            char in[4096];
            snprintf(in, sizeof in, "%s/%s", dirs[r], files[f]);
            const cli_file outs[] = { { "--svg", svg } }, ins[] = { { "the run's", in } };
            if (cli_check_outputs("report", outs, 1, ins, 1)) { free(dirs); return SDD_EXIT_USAGE; }
        }
    }
    sdd_runlog *runs = calloc((size_t)nd, sizeof *runs);
    const char **labels = calloc((size_t)nd, sizeof *labels);
    char (*names)[256] = calloc((size_t)nd, sizeof *names);
    int rc = SDD_EXIT_OK;
    sdd_err e;
    if (!runs || !labels || !names) { cli_error("out of memory"); rc = SDD_EXIT_ERROR; }
    int loaded = 0;
    for (; loaded < nd && rc == SDD_EXIT_OK; loaded++)
        if (sdd_runlog_load(&runs[loaded], dirs[loaded], &e)) { cli_error("%s", e.msg); rc = SDD_EXIT_ERROR; break; }
    if (rc == SDD_EXIT_OK && by_regime) {
        char *t = sdd_compare_table(runs, nd, &e);
        if (!t) { cli_error("%s", e.msg); rc = SDD_EXIT_ERROR; }
        else fputs(t, stdout);
        free(t);
    } else if (rc == SDD_EXIT_OK) {
        printf("%-20s %-12s %-5s %-8s %-9s %6s %14s %10s  %-24s %-9s %s\n", "run", "model", "paths", "align", "bn-stats", "epochs",
               "best dev EER", "final EER", "eval EER", "time", "conflicts per epoch (%)");
        for (int r = 0; r < nd; r++) {
            const sdd_runlog *R = &runs[r];
            snprintf(names[r], sizeof names[r], "%s", base(dirs[r]));
            labels[r] = names[r];
            int bep;
            char best[32], fin[32], evs[256] = "", t[32], tmp[64];
            const double b = sdd_runlog_best_eer(R, &bep);
            if (isfinite(b)) snprintf(best, sizeof best, "%.2f%% (ep %d)", 100.0 * b, bep);
            else snprintf(best, sizeof best, "-");
            pct(fin, sizeof fin, R->has_final ? R->final_dev_eer : NAN);
            size_t el = 0;
            for (int k = 0; k < R->nev && el < sizeof evs - 1; k++) {
                pct(tmp, sizeof tmp, R->ev[k].eer);
                el += (size_t)snprintf(evs + el, sizeof evs - el, "%s%s=%s", k ? " " : "", R->ev[k].name, tmp);
            }
            if (!R->nev) snprintf(evs, sizeof evs, "-");
            double secs = 0;
            for (int k = 0; k < R->nep; k++) if (isfinite(R->ep[k].seconds)) secs += R->ep[k].seconds;
            /* a hand-edited log can hold any number: outside 0..10^6 hours the time is not shown */
            if (secs >= 0 && secs < 3.6e9) snprintf(t, sizeof t, "%dh%02dm%02ds", (int)(secs / 3600), (int)fmod(secs / 60, 60), (int)fmod(secs, 60));
            else snprintf(t, sizeof t, "-");
            printf("%-20s %-12s %-5s %-8s %-9s %6d %14s %10s  %-24s %-9s", names[r], R->model[0] ? R->model : "-",
                   R->paths[0] ? R->paths : "-", R->align[0] ? R->align : "-", R->bn_stats[0] ? R->bn_stats : "-", R->nep, best, fin, evs, t);
            for (int k = 0; k < R->nep; k++) {
                if (isfinite(R->ep[k].conflict_rate)) printf(" %.0f", 100.0 * R->ep[k].conflict_rate);
                else printf(" -");
            }
            printf("\n");
        }
    }
    if (rc == SDD_EXIT_OK && svg) {
        for (int r = 0; r < nd; r++) {
            snprintf(names[r], sizeof names[r], "%s", base(dirs[r]));
            labels[r] = names[r];
        }
        char *txt = sdd_runlog_svg(runs, labels, nd, &e);
        if (!txt || sdd_atomic_write(svg, txt, strlen(txt), &e)) { cli_error("%s", e.msg); rc = SDD_EXIT_ERROR; }
        free(txt);
    }
    for (int r = 0; r < loaded && runs; r++) sdd_runlog_free(&runs[r]);
    free(runs);
    free(labels);
    free(names);
    free(dirs);
    return rc;
}
