/* `sdd report`: a table of training runs from their log.jsonl and config.json
 * (see src/train/runlog.h), and the convergence plot as SVG. */
#include "cli/cli.h"
#include "train/runlog.h"
#include "train/compare.h"
#include "train/seeds.h"
#include "io/atomic.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd report [--by-regime] [--svg FILE] RUNDIR...\n"
            "Summarises training runs (sdd train --out RUNDIR): one row per run with its model,\n"
            "regime (paths), alignment, BatchNorm statistics, epochs, the best dev EER and its\n"
            "epoch, the final (averaged) model's dev EER, the evaluation sets' EERs, the\n"
            "conflict rate of each epoch (%% of steps whose path gradients conflict) and the\n"
            "training time. A run still in progress is read up to its last complete record.\n"
            "The folder of a --seeds run stands for its seed-S runs, in seed order.\n"
            "  --by-regime  one row per regime instead (model, paths, alignment, BatchNorm\n"
            "               statistics; e.g. the seeds of sdd train --seeds): each evaluation\n"
            "               set's EER, the final dev EER, the epoch of the best dev loss and the\n"
            "               conflict rate as mean +- sample std over the regime's runs (whether\n"
            "               two regimes differ beyond the seeds and the evaluation set's luck:\n"
            "               sdd compare on their runs' scores_NAME.txt)\n"
            "  --svg FILE   also write the convergence plot: dev EER and dev loss against\n"
            "               epoch, one line per run (written atomically)\n");
}

/* a run's name in the table and the plot: its folder's name, with the
 * parent's for the seed-S folders of a --seeds run (runs/pcgrad/seed-1 ->
 * pcgrad/seed-1) */
static void run_name(const char *dir, char *out, size_t n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", (int)len, dir);
    char *s = strrchr(buf, '/');
    const char *last = s && s[1] ? s + 1 : buf;
    if (s && s != buf && sdd_seed_dir_name(last, NULL)) {
        *s = 0;
        char *p = strrchr(buf, '/');
        snprintf(out, n, "%s/%s", p ? p + 1 : buf, last);
    } else snprintf(out, n, "%s", last);
}

static int cmp_seed(const void *a, const void *b)
{
    const long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Appends dir to list, or, for the folder of a --seeds run (no log.jsonl of
 * its own, seed-S folders), its seed-S folders in seed order. -1: out of memory */
static int add_run(char ***list, int *n, int *cap, const char *dir)
{
    char p[4200];
    struct stat st;
    long long seeds[64];
    int ns = 0;
    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    DIR *d = stat(p, &st) != 0 ? opendir(dir) : NULL;
    for (struct dirent *de; d && ns < 64 && (de = readdir(d));) {
        const char *s = de->d_name;
        long long seed;
        if (!sdd_seed_dir_name(s, &seed)) continue;
        snprintf(p, sizeof p, "%s/%s/log.jsonl", dir, s);
        if (stat(p, &st) == 0) seeds[ns++] = seed;
    }
    if (d) closedir(d);
    qsort(seeds, (size_t)ns, sizeof *seeds, cmp_seed);
    for (int k = 0; k < (ns ? ns : 1); k++) {
        if (*n == *cap) {
            const int c = *cap ? 2 * *cap : 16;
            char **g = realloc(*list, (size_t)c * sizeof *g);
            if (!g) return -1;
            *list = g;
            *cap = c;
        }
        const size_t l = strlen(dir) + 32;
        char *q = malloc(l);
        if (!q) return -1;
        if (ns) snprintf(q, l, "%s%sseed-%lld", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", seeds[k]);
        else snprintf(q, l, "%s", dir);
        (*list)[(*n)++] = q;
    }
    return 0;
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
    char **dirs = NULL;
    int nd = 0, cap = 0, rc = SDD_EXIT_OK;
    for (int i = 1; i < argc && rc == SDD_EXIT_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); goto out; }
        if (!strcmp(a, "--by-regime")) by_regime = 1;
        else if (!strcmp(a, "--svg")) {
            if (!(svg = cli_value(argc, argv, &i))) rc = cli_usage_error("report", "--svg needs a value");
        } else if (a[0] == '-' && a[1]) rc = cli_usage_error("report", "unknown option %s", a);
        else if (add_run(&dirs, &nd, &cap, a)) { cli_error("out of memory"); rc = SDD_EXIT_ERROR; }
    }
    if (rc == SDD_EXIT_OK && !nd) rc = cli_usage_error("report", "no run directory given");
    if (rc != SDD_EXIT_OK) goto out;
    /* the plot never replaces a run's files */
    for (int r = 0; r < nd && svg; r++) {
        static const char *const files[] = { "log.jsonl", "config.json" };
        for (int f = 0; f < 2; f++) {
            char in[4096];
            snprintf(in, sizeof in, "%s/%s", dirs[r], files[f]);
            const cli_file outs[] = { { "--svg", svg } }, ins[] = { { "the run's", in } };
            if (cli_check_outputs("report", outs, 1, ins, 1)) { rc = SDD_EXIT_USAGE; goto out; }
        }
    }
    sdd_runlog *runs = calloc((size_t)nd, sizeof *runs);
    const char **labels = calloc((size_t)nd, sizeof *labels);
    char (*names)[256] = calloc((size_t)nd, sizeof *names);
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
        printf("%-20s %-12s %-5s %-14s %-9s %6s %14s %10s  %-24s %-9s %s\n", "run", "model", "paths", "align", "bn-stats", "epochs",
               "best dev EER", "final EER", "eval EER", "time", "conflicts per epoch (%)");
        for (int r = 0; r < nd; r++) {
            const sdd_runlog *R = &runs[r];
            run_name(dirs[r], names[r], sizeof names[r]);
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
            char al[40];   /* the alignment, and its groups when not the whole vector (--align-groups) */
            const int grouped = strcmp(R->align_groups, "whole") != 0;
            snprintf(al, sizeof al, "%s%s%s", R->align[0] ? R->align : "-", grouped ? "/" : "", grouped ? R->align_groups : "");
            printf("%-20s %-12s %-5s %-14s %-9s %6d %14s %10s  %-24s %-9s", names[r], R->model[0] ? R->model : "-",
                   R->paths[0] ? R->paths : "-", al, R->bn_stats[0] ? R->bn_stats : "-", R->nep, best, fin, evs, t);
            for (int k = 0; k < R->nep; k++) {
                if (isfinite(R->ep[k].conflict_rate)) printf(" %.0f", 100.0 * R->ep[k].conflict_rate);
                else printf(" -");
            }
            printf("\n");
        }
    }
    if (rc == SDD_EXIT_OK && svg) {
        for (int r = 0; r < nd; r++) {
            run_name(dirs[r], names[r], sizeof names[r]);
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
out:
    for (int r = 0; r < nd; r++) free(dirs[r]);
    free(dirs);
    return rc;
}
