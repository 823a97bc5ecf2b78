/* Owns the n-best list of a training run and its snapshot files (see nbest.h). */
#include "train/nbest.h"
#include "dist/dist.h"
#include "io/safetensors.h"
#include "models/modelio.h"
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sdd_nbest_init(sdd_nbest *nb, int cap, const char *dir, int select_eer, sdd_err *e)
{
    memset(nb, 0, sizeof *nb);
    nb->cap = cap;
    nb->dir = dir;
    nb->metric = select_eer ? "dev_eer" : "dev_loss";
    nb->crit = calloc((size_t)cap, sizeof *nb->crit);
    nb->file = calloc((size_t)cap, sizeof *nb->file);
    nb->embedded = calloc((size_t)cap, sizeof *nb->embedded);
    if (!nb->crit || !nb->file || !nb->embedded) { sdd_nbest_free(nb); return sdd_err_set(e, "out of memory"); }
    return 0;
}

void sdd_nbest_free(sdd_nbest *nb)
{
    for (int k = 0; nb->embedded && k < nb->cap; k++) free(nb->embedded[k]);
    free(nb->embedded);
    free(nb->crit);
    free(nb->file);
    memset(nb, 0, sizeof *nb);
}

/* dir/name into out; -1 (e set, naming both) when too long */
static int join(char *out, size_t n, const char *dir, const char *name, sdd_err *e)
{
    if (snprintf(out, n, "%s/%s", dir, name) < (int)n) return 0;
    return sdd_err_set(e, "%s/%s: path too long", dir, name);
}

/* The names sdd gives snapshots: best-epochN or best-stateN (N digits), .safetensors. */
static int name_ok(const char *nm)
{
    const char *p = !strncmp(nm, "best-epoch", 10) ? nm + 10 : !strncmp(nm, "best-state", 10) ? nm + 10 : NULL;
    if (!p || !isdigit((unsigned char)*p) || strlen(nm) >= 64) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return !strcmp(p, ".safetensors");
}

/* m's weights, or `block` in their place (the same layout), as snapshot file
 * `name` with its epoch (when >= 0) and metric value in the metadata */
static int write_snapshot(const sdd_nbest *nb, const sdd_model *m, const float *block, const char *name, int epoch, double crit, sdd_err *e)
{
    char path[1200], buf[64];
    if (join(path, sizeof path, nb->dir, name, e)) return -1;
    sdd_tensorset ts;
    int rc = sdd_model_to_tensorset(m, &ts, e);
    /* the set's tensors borrow m's parameters, in registration order: point them into `block` instead */
    for (int i = 0; block && !rc && i < m->params.np; i++) ts.t[i].data = (void *)(block + m->params.p[i].off);
    snprintf(buf, sizeof buf, "%d", epoch);
    if (!rc && epoch >= 0) rc = sdd_tensorset_set_meta(&ts, "epoch", buf, e);
    snprintf(buf, sizeof buf, "%.17g", crit);
    if (!rc) rc = sdd_tensorset_set_meta(&ts, nb->metric, buf, e);
    if (!rc) rc = sdd_safetensors_save(path, &ts, e);
    sdd_tensorset_free(&ts);
    return rc;
}

int sdd_nbest_insert(sdd_nbest *nb, const sdd_model *m, int epoch, double crit, int lead, sdd_err *e)
{
    int pos = nb->n;
    while (pos > 0 && nb->crit[pos - 1] > crit) pos--;
    if (pos >= nb->cap) return 0;
    char name[64];
    if (snprintf(name, sizeof name, "best-epoch%03d.safetensors", epoch) >= (int)sizeof name) return sdd_err_set(e, "epoch %d: snapshot name too long", epoch);
    if (lead && write_snapshot(nb, m, NULL, name, epoch, crit, e)) return -1;
    if (nb->n < nb->cap) nb->n++;
    for (int k = nb->n - 1; k > pos; k--) {
        nb->crit[k] = nb->crit[k - 1];
        memcpy(nb->file[k], nb->file[k - 1], sizeof nb->file[k]);
    }
    nb->crit[pos] = crit;
    memcpy(nb->file[pos], name, sizeof name);
    return 0;
}

int sdd_nbest_to_state(const sdd_nbest *nb, sdd_tensorset *state, sdd_err *e)
{
    char key[32], buf[64];
    int rc = 0;
    for (int k = 0; k < nb->n && !rc; k++) {
        snprintf(key, sizeof key, "nbest_file.%d", k);
        rc = sdd_tensorset_set_meta(state, key, nb->file[k], e);
        snprintf(key, sizeof key, "nbest_loss.%d", k);
        snprintf(buf, sizeof buf, "%.17g", nb->crit[k]);
        if (!rc) rc = sdd_tensorset_set_meta(state, key, buf, e);
    }
    return rc;
}

int sdd_nbest_from_state(sdd_nbest *nb, const sdd_tensorset *state, long count, size_t bytes, const char *path, sdd_err *e)
{
    if (count < 0 || count > nb->cap) return sdd_err_set(e, "%s: %ld n-best entries, more than --n-best %d", path, count, nb->cap);
    for (int k = 0; k < count; k++) {
        char key[32], lkey[32];
        snprintf(key, sizeof key, "nbest_file.%d", k);
        snprintf(lkey, sizeof lkey, "nbest_loss.%d", k);
        const char *f = sdd_tensorset_get_meta(state, key), *l = sdd_tensorset_get_meta(state, lkey);
        char *end = NULL;
        nb->crit[k] = l ? strtod(l, &end) : NAN;
        if (!l || *end || end == l || isnan(nb->crit[k])) return sdd_err_set(e, "%s: n-best entry %d has no value, or not a number", path, k);
        if (f) {
            if (!name_ok(f)) return sdd_err_set(e, "%s: n-best entry %d: '%.64s' is not a snapshot file name", path, k, f);
            snprintf(nb->file[k], sizeof nb->file[k], "%s", f);
            continue;
        }
        /* a state written before the snapshots were files embeds them */
        snprintf(key, sizeof key, "nbest.%d", k);
        const sdd_ntensor *s = sdd_tensorset_find(state, key);
        if (!s || s->nbytes != bytes) return sdd_err_set(e, "%s: n-best snapshot %d missing", path, k);
        float *block = malloc(bytes);
        if (!block) return sdd_err_set(e, "out of memory");
        if (sdd_tensor_read(s, block, e)) { free(block); return sdd_err_prefix(e, "%s", path); }
        nb->embedded[k] = block;
        snprintf(nb->file[k], sizeof nb->file[k], "best-state%d.safetensors", k);
    }
    nb->n = (int)count;
    return 0;
}

/* Opens snapshot k and checks it: this run's model, and the metric value the list holds for it. */
static int check_snapshot(const sdd_nbest *nb, const sdd_model *m, int k, sdd_err *e)
{
    char path[1200], want[64];
    if (join(path, sizeof path, nb->dir, nb->file[k], e)) return -1;
    sdd_tensorset ts;
    if (sdd_model_open_weights(m, path, &ts, e)) return -1;
    const char *v = sdd_tensorset_get_meta(&ts, nb->metric);
    snprintf(want, sizeof want, "%.17g", nb->crit[k]);
    int rc = 0;
    if (!v || strcmp(v, want))
        rc = sdd_err_set(e, "%s: %s %s, the state's n-best entry %d is %s (not the snapshot the state names)", path, nb->metric, v ? v : "missing", k, want);
    sdd_tensorset_free(&ts);
    return rc;
}

int sdd_nbest_prepare(sdd_nbest *nb, sdd_model *m, int lead, const char *state_path, sdd_err *e)
{
    int rc = 0, embedded = 0, written = 0;
    for (int k = 0; k < nb->n; k++) embedded |= nb->embedded[k] != NULL;
    for (int k = 0; k < nb->n && !rc; k++) {
        if (!nb->embedded[k]) continue;
        if (lead && write_snapshot(nb, m, nb->embedded[k], nb->file[k], -1, nb->crit[k], e)) rc = -1;
        else written = k + 1;
        free(nb->embedded[k]);
        nb->embedded[k] = NULL;
    }
    char path[1200];
    sdd_err je;
    for (int k = 0; rc && lead && k < written; k++)   /* a failed conversion leaves no file */
        if (!strncmp(nb->file[k], "best-state", 10) && !join(path, sizeof path, nb->dir, nb->file[k], &je)) unlink(path);
    if (rc) return -1;
    /* every rank checks the files, after the lead rank has written those it converted */
    double one = 1.0;
    if (embedded && sdd_dist_size() > 1 && sdd_dist_sum_f64(&one, 1, e)) return -1;
    for (int k = 0; k < nb->n; k++)
        if (check_snapshot(nb, m, k, e)) return sdd_err_prefix(e, "%s: n-best snapshot", state_path);
    if (lead) sdd_nbest_prune(nb);
    return 0;
}

void sdd_nbest_prune(const sdd_nbest *nb)
{
    DIR *d = opendir(nb->dir);
    if (!d) return;
    struct dirent *de;
    char path[1200];
    sdd_err e;
    while ((de = readdir(d))) {
        if (!name_ok(de->d_name)) continue;
        int kept = 0;
        for (int k = 0; k < nb->n && !kept; k++) kept = !strcmp(de->d_name, nb->file[k]);
        if (!kept && !join(path, sizeof path, nb->dir, de->d_name, &e)) unlink(path);
    }
    closedir(d);
}

int sdd_nbest_average(const sdd_nbest *nb, sdd_model *m, sdd_err *e)
{
    double one = 1.0;
    if (sdd_dist_size() > 1 && sdd_dist_sum_f64(&one, 1, e)) return -1;
    char (*path)[1200] = calloc((size_t)nb->n, sizeof *path);
    const char **paths = calloc((size_t)nb->n, sizeof *paths);
    int rc = path && paths ? 0 : sdd_err_set(e, "out of memory");
    for (int k = 0; k < nb->n && !rc; k++) {
        rc = join(path[k], sizeof path[k], nb->dir, nb->file[k], e) || check_snapshot(nb, m, k, e);
        paths[k] = path[k];
    }
    if (!rc && sdd_model_average(m, paths, nb->n, e)) rc = -1;
    free(path);
    free(paths);
    return rc ? sdd_err_prefix(e, "n-best snapshot") : 0;
}
