/* Owns multi-seed training and its summary (see seeds.h). */
#include "train/seeds.h"
#include "core/sbuf.h"
#include "train/runlog.h"
#include "io/atomic.h"
#include "dist/dist.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sdd_seed_dir_name(const char *name, long long *seed)
{
    if (strncmp(name, "seed-", 5)) return 0;
    const size_t digits = strspn(name + 5, "0123456789");
    if (digits == 0 || digits > 12 || name[5 + digits]) return 0;
    if (seed) *seed = atoll(name + 5);
    return 1;
}

int sdd_seeds_parse(const char *s, uint64_t *seeds, sdd_err *e)
{
    int n = 0;
    const char *p = s;
    while (1) {
        char *end;
        errno = 0;
        if (*p < '0' || *p > '9') return sdd_err_set(e, "--seeds %s: expected S1,S2,... (non-negative integers)", s);
        long long v = strtoll(p, &end, 10);
        if (errno || v > 0x7fffffffLL) return sdd_err_set(e, "--seeds %s: a seed is not in 0..2147483647", s);
        if (n == SDD_TRAIN_MAX_SEEDS) return sdd_err_set(e, "--seeds %s: at most %d seeds", s, SDD_TRAIN_MAX_SEEDS);
        for (int k = 0; k < n; k++)
            if (seeds[k] == (uint64_t)v) return sdd_err_set(e, "--seeds %s: seed %lld given twice", s, v);
        seeds[n++] = (uint64_t)v;
        if (!*end) return n;
        if (*end != ',') return sdd_err_set(e, "--seeds %s: expected S1,S2,... (non-negative integers)", s);
        p = end + 1;
    }
}

/* "mean ± std (n)" of the finite values, in percent */
static void stat_line(sdd_sbuf *b, const char *what, const double *v, int n)
{
    double s = 0, ss = 0;
    int m = 0;
    for (int k = 0; k < n; k++)
        if (isfinite(v[k])) { s += v[k]; m++; }
    if (!m) { sdd_sbuf_put(b, "%-16s -\n", what); return; }
    const double mean = s / m;
    for (int k = 0; k < n; k++)
        if (isfinite(v[k])) ss += (v[k] - mean) * (v[k] - mean);
    if (m > 1) sdd_sbuf_put(b, "%-16s %.4f%% +- %.4f%% (mean +- sample std over %d seeds)\n", what, 100 * mean, 100 * sqrt(ss / (m - 1)), m);
    else sdd_sbuf_put(b, "%-16s %.4f%% (1 seed)\n", what, 100 * mean);
}

int sdd_train_seeds(const sdd_train_config *cfg, const uint64_t *seeds, int n, char **summary, sdd_err *e)
{
    if (summary) *summary = NULL;
    if (n < 1) return sdd_err_set(e, "--seeds: no seed");
    /* under mpirun every rank trains every seed (each run data-parallel);
     * rank 0 alone checks the folder, reads the logs and writes the summary,
     * as it alone checks and writes a run's files (a failure on it ends the job) */
    const int lead = sdd_dist_rank() == 0;
    /* OUT holds the seed-S runs and their summary, nothing else of a run */
    const char *held;
    char entry[256];
    if (lead && (held = sdd_train_dir_run_file(cfg->out_dir)))
        return sdd_err_set(e, "%s: holds a single run (%s): --seeds writes OUT/seed-S folders and OUT/summary.txt; give another --out",
                           cfg->out_dir, held);
    if (lead && !cfg->resume && (held = sdd_train_dir_seeds_entry(cfg->out_dir, entry, sizeof entry)))
        return sdd_err_set(e, "%s: holds a --seeds run already (%s): --resume continues it; to start again, remove it or "
                           "give another --out", cfg->out_dir, held);
    /* the lead alone creates OUT and OUT/seed-S (sdd_train_run): no other rank can
     * make a fresh OUT look used before the checks above */
    char top[1200] = "";
    if (lead && sdd_mkdirs(cfg->out_dir, top, sizeof top, e)) return -1;
    sdd_runlog *logs = calloc((size_t)n, sizeof *logs);
    char (*dirs)[1100] = calloc((size_t)n, sizeof *dirs);
    if (!logs || !dirs) { free(logs); free(dirs); return sdd_err_set(e, "out of memory"); }
    int rc = 0, loaded = 0;
    for (int k = 0; k < n && !rc; k++) {
        snprintf(dirs[k], sizeof dirs[k], "%s/seed-%llu", cfg->out_dir, (unsigned long long)seeds[k]);
        sdd_train_config c = *cfg;
        c.out_dir = dirs[k];
        c.seed = seeds[k];
        sdd_runlog done;
        sdd_err ignore;
        const int finished = cfg->resume && sdd_runlog_load(&done, dirs[k], &ignore) == 0 && done.has_final;
        if (finished) sdd_runlog_free(&done);
        if (!cfg->quiet && lead) fprintf(stderr, "sdd train: seed %llu (%d of %d)%s\n", (unsigned long long)seeds[k], k + 1, n,
                                 finished ? ": finished already" : "");
        if (!finished && sdd_train_run(&c, e)) { sdd_err_prefix(e, "seed %llu", (unsigned long long)seeds[k]); rc = -1; break; }
        if (!lead) continue;
        if (sdd_runlog_load(&logs[k], dirs[k], e)) { rc = -1; break; }
        loaded++;
    }
    if (!lead) {
        free(logs);
        free(dirs);
        return rc;
    }
    sdd_sbuf b = { malloc(4096), 0, 4096, 0 };
    if (!rc && !b.s) rc = sdd_err_set(e, "out of memory");
    if (!rc) {
        /* evaluation set names from the first run; each set's EER over the seeds */
        sdd_sbuf_put(&b, "%-16s %12s", "seed", "final dev EER");
        const sdd_runlog *L0 = &logs[0];
        for (int j = 0; j < L0->nev; j++) sdd_sbuf_put(&b, " %14s", L0->ev[j].name);
        sdd_sbuf_put(&b, "\n");
        double *v = calloc((size_t)n, sizeof *v);
        if (!v) rc = sdd_err_set(e, "out of memory");
        for (int k = 0; k < n && !rc; k++) {
            sdd_sbuf_put(&b, "%-16llu %11.4f%%", (unsigned long long)seeds[k], 100 * logs[k].final_dev_eer);
            for (int j = 0; j < L0->nev; j++) {
                double x = NAN;
                for (int q = 0; q < logs[k].nev; q++)
                    if (!strcmp(logs[k].ev[q].name, L0->ev[j].name)) x = logs[k].ev[q].eer;
                sdd_sbuf_put(&b, " %13.4f%%", 100 * x);
            }
            sdd_sbuf_put(&b, "\n");
        }
        for (int k = 0; k < n && !rc; k++) v[k] = logs[k].has_final ? logs[k].final_dev_eer : NAN;
        if (!rc) stat_line(&b, "dev EER", v, n);
        for (int j = 0; j < L0->nev && !rc; j++) {
            for (int k = 0; k < n; k++) {
                v[k] = NAN;
                for (int q = 0; q < logs[k].nev; q++)
                    if (!strcmp(logs[k].ev[q].name, L0->ev[j].name)) v[k] = logs[k].ev[q].eer;
            }
            char what[80];
            snprintf(what, sizeof what, "%s EER", L0->ev[j].name);
            stat_line(&b, what, v, n);
        }
        free(v);
        if (!rc && b.fail) rc = sdd_err_set(e, "out of memory");
        char path[1200];
        snprintf(path, sizeof path, "%s/summary.txt", cfg->out_dir);
        if (!rc) rc = sdd_atomic_write(path, b.s, b.n, e);
    }
    for (int k = 0; k < loaded; k++) sdd_runlog_free(&logs[k]);
    /* a first seed that failed before writing leaves none of the folders it created (each removed only when empty) */
    if (rc) sdd_rmdirs(cfg->out_dir, top);
    free(logs);
    free(dirs);
    if (!rc && summary) *summary = b.s;
    else free(b.s);
    return rc;
}
