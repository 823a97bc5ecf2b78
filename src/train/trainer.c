/* Owns the training loop (see trainer.h). */
#include "train/trainer.h"
#include <jansson.h>
#include "train/options.h"
#include "train/recipe.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "io/safetensors.h"
#include "io/atomic.h"
#include "metrics/metrics.h"
#include "models/infer.h"
#include "models/modelio.h"
#include "models/xlsr_import.h"
#include "core/rng.h"
#include "dist/dist.h"
#include "backend/device.h"
#include "train/memory.h"
#include "train/nbest.h"
#include "train/seeds.h"
#include "ops/seq.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SDD_PURPOSE_DROP 0x64726f70u /* 'drop' */
#define SDD_PURPOSE_BNR 0x626e7263u  /* 'bnrc' */

sdd_train_config sdd_train_default_config(void)
{
    sdd_train_config c;
    memset(&c, 0, sizeof c);
    c.arch = "AASIST";
    c.step = sdd_step_default_params();
    /* measured choice (issue 4): joint statistics gave the lower eval EER for
     * all three seeds of the demo comparison, at 1.66x the step's cost */
    c.step.bn_stats = SDD_BN_JOINT;
    c.adam = sdd_adam_default_params();
    c.epochs = 100;
    c.patience = 7;
    c.batch = 5;
    c.dev_batch = 8;
    c.n_best = 5;
    c.workers = 1;
    c.cut = 64600;
    c.crop = SDD_CUT_FIRST;
    c.seed = 1234;
    c.rb_algo = 4;
    c.accum = 1;
    c.lr_schedule = SDD_LR_CONST;
    c.lr_min = 5e-6;
    c.ssl_recompute = SDD_RECOMPUTE_AUTO;
    sdd_rawboost_default_params(&c.rb);
    return c;
}

typedef struct {
    const sdd_train_config *cfg;
    sdd_model *m;
    sdd_ctx c;
    sdd_adam opt;
    sdd_align_state al;
    sdd_align_group *groups;   /* --align-groups block|tensor: cfg->step.groups */
    float *grad;
    sdd_nbest nb;              /* the n best epochs, their snapshot files */
    double best;               /* lowest dev loss so far */
    int not_improving, epoch0;
    long step;
    FILE *log;
    long log_bytes;            /* length of log.jsonl up to the state's epoch (-1: unknown, a state of an older sdd) */
    sdd_dist_stats eval_dist;  /* all-reduces of the dev scoring (not a step's) */
    sdd_dataset *ev[SDD_TRAIN_MAX_EVAL];  /* the --eval sets (lazy, headers read at the start; lead rank only) */
} trainer;

static int path_join(char *out, size_t n, const char *dir, const char *name)
{
    return snprintf(out, n, "%s/%s", dir, name) < (int)n ? 0 : -1;
}

/* --ssl-recompute auto, after this process's first step (which recomputed the
 * XLS-R layers): keep their activations from now on when the arena peak
 * estimated for that (sdd_checkpoint_keep_estimate) fits in the free memory,
 * the host's or, on CUDA, the device's (the n-best snapshots are files, not
 * memory: nbest.h). The choice is
 * logged; the gradients are the same to the bit either way, so each rank of
 * a data-parallel run may decide by its own memory. */
static int auto_recompute(trainer *t, sdd_err *e)
{
    const int dev = t->c.dev != 0;
    const sdd_arena *a = dev ? &t->c.darena : &t->c.arena;
    const size_t est = sdd_checkpoint_keep_estimate(&t->c, dev);
    size_t avail = 0, total = 0;
    sdd_err me;
    const int read = (dev ? sdd_device_mem_info(&avail, &total, &me) : sdd_host_mem_available(&avail, &me)) == 0;
    const int keep = read && sdd_recompute_keep_fits(est, a->reserved, avail);
    if (keep && sdd_model_set_recompute(t->m, 0, e)) return -1;
    const double mb = 1.0 / 1048576.0;
    fprintf(t->log, "{\"type\": \"ssl_recompute\", \"step\": %ld, \"recompute\": \"%s\", \"keep_peak_mb\": %.1f, \"held_mb\": %.1f, "
                    "\"available_mb\": %.1f, \"memory\": \"%s\"}\n", t->step, keep ? "off" : "on", est * mb, a->reserved * mb,
            read ? avail * mb : -1.0, dev ? "device" : "host");
    if (t->cfg->quiet || sdd_dist_rank() != 0) return 0;   /* each rank decides for itself; the lead one says so */
    if (!read)
        fprintf(stderr, "sdd train: --ssl-recompute auto: recomputing (the free memory is unknown: %s)\n", me.msg);
    else
        fprintf(stderr, "sdd train: --ssl-recompute auto: %s (keeping the XLS-R activations needs about %.0f MB of %s memory, "
                        "%.0f MB free)\n", keep ? "activations kept from now on" : "recomputing", est * mb, dev ? "device" : "host", avail * mb);
    return 0;
}

/* the log's record of --align-groups: each group's name and size in floats */
static int log_groups(trainer *t, const sdd_train_config *cfg, sdd_err *e)
{
    json_t *arr = json_array();
    int bad = !arr;
    for (int i = 0; i < cfg->step.ngroups && !bad; i++)
        bad = json_array_append_new(arr, json_pack("[s, I]", t->groups[i].name, (json_int_t)t->groups[i].n)) != 0;
    json_t *o = bad ? NULL : json_pack("{s:s, s:s, s:i, s:o}", "type", "align_groups", "mode", sdd_align_groups_name(cfg->align_groups),
                                       "count", cfg->step.ngroups, "groups", arr);
    if (!o) json_decref(arr);
    char *txt = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (!txt) return sdd_err_set(e, "log.jsonl: out of memory");
    fprintf(t->log, "%s\n", txt);
    free(txt);
    return 0;
}

#define EVAL_WINDOW 128   /* batches of a lazy evaluation set decoded at once */

/* Weighted-CE loss and bona fide scores of a labelled set in eval mode,
 * first-cut inputs. shard: every rank of a data-parallel run calls this for
 * the same set (the dev set), so rank r forwards batches r, r + N, ... only;
 * the scores (zero in the other ranks' rows) and each batch's loss numerator
 * and weight are then summed over ranks, exact as each has one non-zero
 * term, and the loss is summed in batch order: what one process gives with
 * the same weights, bit for bit, in 1/N of the forward time. */
static int evaluate_set(trainer *t, sdd_dataset *ds, int shard, double *loss, float *scores, sdd_err *e)
{
    const int n = sdd_dataset_count(ds), B = t->cfg->dev_batch > 0 ? t->cfg->dev_batch : 8;
    const int nbatch = (n + B - 1) / B;
    const int N = shard ? sdd_dist_size() : 1, r = shard ? sdd_dist_rank() : 0;
    const int64_t L = t->cfg->cut;
    float *wave = malloc((size_t)B * L * sizeof(float));
    int *lab = malloc((size_t)B * sizeof(int));
    double *part = calloc(3 * (size_t)(nbatch ? nbatch : 1), sizeof(double));   /* (nbatch, 3): loss x weight, weight, labelled */
    if (!wave || !lab || !part) { free(wave); free(lab); free(part); return sdd_err_set(e, "out of memory for evaluation"); }
    if (N > 1) memset(scores, 0, (size_t)n * sizeof(float));
    int rc = 0;
    /* a lazy set (--eval) is decoded EVAL_WINDOW batches at a time */
    const int window = B * EVAL_WINDOW;
    for (int k = 0; k < nbatch && !rc; k++) {
        const int i0 = k * B, nb = n - i0 < B ? n - i0 : B;
        if (sdd_dataset_is_lazy(ds) && i0 % window == 0 && sdd_dataset_load(ds, i0, n - i0 < window ? n - i0 : window, e)) {
            rc = -1;
            break;
        }
        if (k % N != r) continue;
        /* the batch's inputs in parallel (with --cache none each read decodes
         * its file); algorithm 0: the plain cut, with the reason when a file
         * cannot be read; the lowest failing item is reported */
        int first_bad = nb;
        #pragma omp parallel for schedule(dynamic, 1)
        for (int b = 0; b < nb; b++) {
            sdd_err be;
            if (sdd_dataset_get_rawboost(ds, i0 + b, L, SDD_CUT_FIRST, 0, 0, NULL, 0, wave + (size_t)b * L, &be)) {
                #pragma omp critical(sdd_evaluate_read)
                if (b < first_bad) { first_bad = b; if (e) *e = be; }
            }
        }
        if (first_bad < nb) { rc = -1; break; }
        double w = 0.0;
        int labelled = 1;
        for (int b = 0; b < nb; b++) {
            lab[b] = sdd_dataset_label(ds, i0 + b);
            if (lab[b] < 0) { labelled = 0; lab[b] = 0; }
            w += t->cfg->step.class_weight[lab[b]];
        }
        double l;
        if (sdd_eval_loss(t->m, &t->c, wave, nb, L, lab, t->cfg->step.class_weight, &l, scores + i0, e)) { rc = -1; break; }
        if (labelled) { part[3 * k] = l * w; part[3 * k + 1] = w; part[3 * k + 2] = 1; }
    }
    if (!rc && N > 1) {
        /* kept out of the per-step all-reduce figures: these wait for the
         * slowest rank's share of the set */
        sdd_dist_stats s0, s1;
        sdd_dist_get_stats(&s0);
        if (sdd_dist_sum_f32(scores, (size_t)n, e) || sdd_dist_sum_f64(part, 3 * (size_t)nbatch, e)) rc = -1;
        sdd_dist_get_stats(&s1);
        t->eval_dist.calls += s1.calls - s0.calls;
        t->eval_dist.bytes += s1.bytes - s0.bytes;
        t->eval_dist.seconds += s1.seconds - s0.seconds;
    }
    double num = 0.0, den = 0.0;
    for (int k = 0; k < nbatch; k++)
        if (part[3 * k + 2] > 0) { num += part[3 * k]; den += part[3 * k + 1]; }
    free(wave);
    free(lab);
    free(part);
    *loss = den > 0 ? num / den : NAN;
    return rc;
}

static int set_eer(const sdd_dataset *ds, const float *scores, sdd_eer_result *r, sdd_err *e)
{
    const int n = sdd_dataset_count(ds);
    double *tar = malloc((size_t)n * sizeof(double)), *non = malloc((size_t)n * sizeof(double));
    if (!tar || !non) { free(tar); free(non); return sdd_err_set(e, "out of memory"); }
    int64_t nt = 0, nn = 0;
    for (int i = 0; i < n; i++) {
        int l = sdd_dataset_label(ds, i);
        if (l == 1) tar[nt++] = scores[i];
        else if (l == 0) non[nn++] = scores[i];
    }
    int rc = (nt && nn) ? sdd_eer(tar, nt, non, nn, r, e)
                        : sdd_err_set(e, "the set has no %s trial", nt ? "spoof" : "bona fide");
    free(tar);
    free(non);
    return rc;
}

/* a failed write of log.jsonl (full disk): the run stops, as for any other output */
static int log_error(trainer *t, sdd_err *e)
{
    return sdd_err_set(e, "%s/log.jsonl: write failed: %s", t->cfg->out_dir, strerror(errno ? errno : EIO));
}

/* training state next to the model: Adam moments, counters, the n-best list (files and values) */
static int save_state(trainer *t, int next_epoch, sdd_err *e)
{
    char path[1024], buf[64];
    sdd_tensorset ts;
    sdd_tensorset_init(&ts);
    const int64_t n = (int64_t)t->m->params.total;
    /* the big buffers are written from where they live, not copied first: for a
     * 300M-parameter model the moments and weights are GBs */
    int rc = sdd_tensorset_add_ref(&ts, "adam.m", SDD_F32, 1, &n, t->opt.m, (size_t)n * 4, e) ||
             sdd_tensorset_add_ref(&ts, "adam.v", SDD_F32, 1, &n, t->opt.v, (size_t)n * 4, e) ||
             sdd_tensorset_add_ref(&ts, "params", SDD_F32, 1, &n, t->m->params.data, (size_t)n * 4, e);
    if (!rc) rc = sdd_nbest_to_state(&t->nb, &ts, e);
    const int64_t four = 4;
    double rho[4] = { t->al.rho_t[0][0], t->al.rho_t[0][1], t->al.rho_t[1][0], t->al.rho_t[1][1] };
    if (!rc) rc = sdd_tensorset_add(&ts, "gradvac.rho_t", SDD_F64, 1, &four, rho, sizeof rho, e);
    const int64_t ng4 = 4 * (int64_t)t->al.ng;   /* --align-groups: each group's targets */
    if (!rc && t->al.ng) rc = sdd_tensorset_add_ref(&ts, "gradvac.rho_groups", SDD_F64, 1, &ng4, t->al.rho_g, (size_t)ng4 * 8, e);
    /* the log's length with this epoch's records, all flushed: a resumed run cuts the
     * log back to it, dropping the records of steps it will redo and any torn line */
    if (fflush(t->log) != 0 || ferror(t->log)) return log_error(t, e);
    const long log_bytes = ftell(t->log);
    struct { const char *k; long v; } ints[] = { { "next_epoch", next_epoch }, { "step", t->step }, { "adam_step", t->opt.step },
                                                 { "not_improving", t->not_improving }, { "nbest", t->nb.n },
                                                 { "log_bytes", log_bytes } };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && !rc; i++) {
        snprintf(buf, sizeof buf, "%ld", ints[i].v);
        rc = sdd_tensorset_set_meta(&ts, ints[i].k, buf, e);
    }
    snprintf(buf, sizeof buf, "%.17g", t->best);
    if (!rc) rc = sdd_tensorset_set_meta(&ts, "best", buf, e);
    if (!rc) rc = sdd_tensorset_set_meta(&ts, "arch", t->m->arch, e);
    if (!rc && path_join(path, sizeof path, t->cfg->out_dir, "state.safetensors")) rc = sdd_err_set(e, "output path too long");
    if (!rc) rc = sdd_safetensors_save(path, &ts, e);
    sdd_tensorset_free(&ts);
    return rc;
}

static long meta_long(const sdd_tensorset *ts, const char *k, const char *path, int *bad)
{
    const char *v = sdd_tensorset_get_meta(ts, k);
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || end == v || errno || x < 0) *bad = 1;   /* every counter is >= 0 */
    (void)path;
    return x;
}

static int load_state(trainer *t, sdd_err *e)
{
    char path[1024];
    if (path_join(path, sizeof path, t->cfg->out_dir, "state.safetensors")) return sdd_err_set(e, "output path too long");
    sdd_tensorset ts;
    /* the header only: the weights and moments are read into place below */
    if (sdd_safetensors_open(path, &ts, e)) return -1;
    const size_t bytes = t->m->params.total * sizeof(float);
    const sdd_ntensor *m = sdd_tensorset_find(&ts, "adam.m"), *v = sdd_tensorset_find(&ts, "adam.v"), *p = sdd_tensorset_find(&ts, "params");
    const sdd_ntensor *rho = sdd_tensorset_find(&ts, "gradvac.rho_t");
    const sdd_ntensor *rho_g = t->al.ng ? sdd_tensorset_find(&ts, "gradvac.rho_groups") : NULL;
    const char *arch = sdd_tensorset_get_meta(&ts, "arch");
    int bad = !m || !v || !p || !rho || m->nbytes != bytes || v->nbytes != bytes || p->nbytes != bytes || rho->nbytes != 32 ||
              (t->al.ng && (!rho_g || rho_g->nbytes != 32 * (size_t)t->al.ng)) || !arch || strcmp(arch, t->m->arch);
    const long next_epoch = meta_long(&ts, "next_epoch", path, &bad);
    long step = meta_long(&ts, "step", path, &bad), astep = meta_long(&ts, "adam_step", path, &bad);
    const long ni = meta_long(&ts, "not_improving", path, &bad), nb = meta_long(&ts, "nbest", path, &bad);
    if (next_epoch > INT_MAX || ni > INT_MAX) bad = 1;   /* the n-best count: sdd_nbest_from_state */
    const char *best = sdd_tensorset_get_meta(&ts, "best");
    if (!best) bad = 1;
    int no_log_bytes = 0;
    const long log_bytes = sdd_tensorset_get_meta(&ts, "log_bytes") ? meta_long(&ts, "log_bytes", path, &bad) : (no_log_bytes = 1, -1);
    if (bad) { sdd_tensorset_free(&ts); return sdd_err_set(e, "%s: not a training state for this model and settings", path); }
    /* the n-best list first, so that a state refused for it changes nothing;
     * its files are checked once the run is known to go on (sdd_nbest_prepare) */
    if (sdd_nbest_from_state(&t->nb, &ts, nb, bytes, path, e)) { sdd_tensorset_free(&ts); return -1; }
    /* read from the file straight into the moments and the model's
     * parameter block, so a resumed 300M-parameter run never holds the state
     * twice */
    double r[4];
    if (sdd_tensor_read(m, t->opt.m, e) || sdd_tensor_read(v, t->opt.v, e) || sdd_tensor_read(p, t->m->params.data, e) ||
        sdd_tensor_read(rho, r, e) || (rho_g && sdd_tensor_read(rho_g, t->al.rho_g, e))) {
        sdd_tensorset_free(&ts);
        return sdd_err_prefix(e, "%s", path);
    }
    t->al.rho_t[0][0] = r[0]; t->al.rho_t[0][1] = r[1]; t->al.rho_t[1][0] = r[2]; t->al.rho_t[1][1] = r[3];
    t->epoch0 = (int)next_epoch;
    t->step = step;
    t->opt.step = astep;
    t->not_improving = (int)ni;
    t->best = strtod(best, NULL);
    t->log_bytes = no_log_bytes ? -1 : log_bytes;
    sdd_tensorset_free(&ts);
    return 0;
}

/* Whether the last complete line of the log after byte `from` is the final
 * record: the run was finished when it was written (it is written last). */
static int log_has_final(const char *path, long from)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char line[4096], last[4096] = "";
    int whole = 1;
    if (from > 0 && fseek(f, from, SEEK_SET) != 0) { fclose(f); return 0; }
    while (fgets(line, sizeof line, f)) {
        const size_t n = strlen(line);
        if (n && line[n - 1] == '\n') {
            if (whole) memcpy(last, line, n + 1);
            whole = 1;
        } else whole = 0;   /* a long line's first part, or a torn last line */
    }
    fclose(f);
    static const char final_rec[] = "{\"type\": \"final\",";
    return strncmp(last, final_rec, sizeof final_rec - 1) == 0;
}

/* RUNDIR/config.json: every setting of the run by option name (a recipe), written atomically at the start */
static int write_config(const sdd_train_config *cfg, const char *arch, sdd_err *e)
{
    char path[1200];
    if (path_join(path, sizeof path, cfg->out_dir, "config.json")) return sdd_err_set(e, "output path too long");
    char *txt = sdd_train_config_json(cfg, arch, e);
    if (!txt) return -1;
    int rc = sdd_atomic_write(path, txt, strlen(txt), e);
    free(txt);
    return rc;
}

static int open_set(sdd_dataset **ds, const char *list, const char *dir, int64_t max_samples, int stream, sdd_err *e)
{
    sdd_dataset_params p = sdd_dataset_default_params();
    p.require_labels = 1;
    p.max_samples = max_samples;
    p.stream = stream;
    return sdd_dataset_open(ds, list, dir, &p, e);
}

/* NAME=LIST:DIR with NAME of letters, digits, '_', '-', '.' (it names a file and a log field) */
/* JSON number, null when not finite */
static const char *jnum(char *buf, double v)
{
    if (!isfinite(v)) return "null";
    snprintf(buf, 32, "%.9g", v);
    return buf;
}

/* Opens --eval set NAME=LIST:DIR: decoded later a window at a time, on its
 * first cut only, so a set of any size (ASVspoof 2021 DF eval, 611,829
 * files) takes the same memory. Every file's header is read now, so a
 * missing or unreadable file stops the run before training, not after it. */
static int open_eval(const char *spec, int64_t cut, int quiet, sdd_dataset **ds, sdd_err *e)
{
    const double t0 = omp_get_wtime();
    char list[1024], dir[1024];
    const char *eq = strchr(spec, '='), *colon = strchr(eq + 1, ':');
    snprintf(list, sizeof list, "%.*s", (int)(colon - eq - 1), eq + 1);
    snprintf(dir, sizeof dir, "%s", colon + 1);
    sdd_dataset_params p = sdd_dataset_default_params();
    p.require_labels = 0;
    p.lazy = 1;
    p.probe = 1;
    p.max_samples = cut;
    if (sdd_dataset_open(ds, list, dir, &p, e)) return sdd_err_prefix(e, "--eval");
    if (!quiet)
        fprintf(stderr, "sdd train: eval %.*s: %d files, every header read (%.1f s); scored with the final model\n", (int)(eq - spec), spec,
                sdd_dataset_count(*ds), omp_get_wtime() - t0);
    return 0;
}

/* scores evaluation set k (NAME=LIST:DIR, opened by open_eval) with the final model */
static int eval_spec(trainer *t, int k, sdd_err *e)
{
    const char *spec = t->cfg->eval_spec[k];
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(strchr(spec, '=') - spec), spec);
    sdd_dataset *ds = t->ev[k];
    const int n = sdd_dataset_count(ds);
    float *scores = malloc((size_t)n * sizeof(float));
    double loss;
    int rc = scores ? evaluate_set(t, ds, 0, &loss, scores, e) : sdd_err_set(e, "out of memory");
    char path[1200];
    if (!rc) {
        snprintf(path, sizeof path, "%s/scores_%s.txt", t->cfg->out_dir, name);
        size_t cap = (size_t)n * 64 + 1, len = 0;
        char *txt = malloc(cap);
        if (!txt) rc = sdd_err_set(e, "out of memory");
        for (int i = 0; i < n && !rc; i++)
            len += (size_t)snprintf(txt + len, cap - len, "%.40s %.9g\n", sdd_dataset_id(ds, i), scores[i]);
        if (!rc) rc = sdd_atomic_write(path, txt, len, e);
        free(txt);
    }
    if (!rc) {
        sdd_eer_result r;
        sdd_err ee;
        if (set_eer(ds, scores, &r, &ee) == 0) {
            if (!t->cfg->quiet) fprintf(stderr, "sdd train: eval %s: %d trials, EER %.4f%% (scores in %s)\n", name, n, 100.0 * r.eer, path);
            char b1[32], b2[32];
            fprintf(t->log, "{\"type\": \"eval\", \"name\": \"%s\", \"trials\": %d, \"eer\": %s, \"loss\": %s}\n", name, n, jnum(b1, r.eer), jnum(b2, loss));
        } else if (!t->cfg->quiet) fprintf(stderr, "sdd train: eval %s: %d trials scored (no EER: the list has no labels of both classes), %s\n", name, n, path);
    }
    free(scores);
    sdd_dataset_close(ds);   /* its list is not needed again */
    t->ev[k] = NULL;
    return rc;
}

/* BatchNorm running statistics of the averaged weights recomputed on training
 * batches (see sdd_bn_recompute_batch): the batches of a fixed extra epoch
 * (index `epochs`, so a resumed run draws the same ones), at most
 * cfg->bn_recompute of them (-1: the whole epoch). */
static int recompute_bn(trainer *t, sdd_loader *ld, long *nbat, sdd_err *e)
{
    const sdd_train_config *cfg = t->cfg;
    sdd_bn_reset_running(t->m);
    if (t->c.dev && sdd_params_upload(&t->m->params, e)) return -1;
    if (sdd_loader_start_epoch(ld, cfg->epochs, e)) return -1;
    long seen = 0;
    sdd_batch *b;
    int got = 1;
    *nbat = 0;
    while ((cfg->bn_recompute < 0 || *nbat < cfg->bn_recompute) && (got = sdd_loader_next(ld, &b, e)) == 1) {
        const uint64_t key = sdd_rng_key(cfg->seed, (uint64_t)cfg->epochs, (uint64_t)*nbat, SDD_PURPOSE_BNR);
        if (sdd_bn_recompute_batch(t->m, &t->c, &cfg->step, b->wave, b->nb, b->cut, key, &seen, e)) return -1;
        ++*nbat;
    }
    if (got < 0) return -1;
    if (t->c.dev && sdd_params_download(&t->m->params, e)) return -1;
    if (!cfg->quiet) fprintf(stderr, "sdd train: BatchNorm statistics recomputed on %ld training batches\n", *nbat);
    return 0;
}

/* whether the model registry has this architecture (sdd_model_archs: "A, B, ...") */
static int arch_known(const char *arch)
{
    const char *name = sdd_model_arch_name(arch), *l = sdd_model_archs();
    if (!name) return 0;
    const size_t n = strlen(name);
    for (const char *p = l; (p = strstr(p, name)); p++)
        if ((p == l || p[-1] == ' ') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

/* --ssl-weights is for a new XLSR-* model only: --init already brings every weight,
 * and the other architectures have no XLS-R front end */
static int check_ssl_weights(const sdd_train_config *cfg, sdd_err *e)
{
    if (!cfg->ssl_weights) return 0;
    if (cfg->init_model)
        return sdd_err_set(e, "--ssl-weights %s: not with --init %s (--init starts from a whole model file; "
                              "--ssl-weights loads the XLS-R front end of a new --model)", cfg->ssl_weights, cfg->init_model);
    if (strncasecmp(cfg->arch, "XLSR-", 5))
        return sdd_err_set(e, "--ssl-weights %s: model %s has no XLS-R front end (use --model XLSR-AASIST, XLSR-Mamba, "
                              "XLSR-Conformer-TCM or their -tiny sizes)", cfg->ssl_weights, cfg->arch);
    return 0;
}

static int load_ssl_weights(sdd_model *m, const sdd_train_config *cfg, sdd_err *e)
{
    sdd_xlsr_import_info info;
    if (sdd_model_load_ssl(m, cfg->ssl_weights, &info, e)) return sdd_err_prefix(e, "--ssl-weights");
    if (!cfg->quiet && sdd_dist_rank() == 0)
        fprintf(stderr, "sdd train: XLS-R front end from %s: %d tensors loaded, %d pretraining-only and %d other tensors ignored\n",
                cfg->ssl_weights, info.mapped, info.dropped, info.other);
    return 0;
}

/* Data-parallel run (several ranks, src/dist): the step sums over ranks,
 * this rank's shard of every batch, and only rank 0 talks. Each micro-batch
 * of --accum, and each --bn-recompute batch, is a global batch of --batch
 * rows: its BatchNorm moments are summed over ranks, the accumulated
 * gradients once per optimiser step. */
static int dist_config(sdd_train_config *dc, sdd_err *e)
{
    const int r = sdd_dist_rank(), n = sdd_dist_size();
    if (dc->batch < n) return sdd_err_set(e, "train: --batch %d is smaller than the %d ranks (each rank needs an utterance per batch)", dc->batch, n);
    int hi;
    dc->step.global_rows = dc->batch;
    sdd_dist_shard(dc->batch, r, n, &dc->step.shard_lo, &hi);
    if (r != 0) dc->quiet = 1;
    return 0;
}

/* --ce-weight balanced: weights proportional to the other class's count, so
 * both classes weigh the same in the loss. On ASVspoof 2019 LA train (2,580
 * bona fide, 22,800 spoof) this gives the reference's [0.1, 0.9] (0.102,
 * 0.898); on a balanced corpus, [0.5, 0.5]. */
/* spoof (n[0]) and bona fide (n[1]) utterances of a set */
static void class_counts(const sdd_dataset *ds, int64_t n[2])
{
    n[0] = n[1] = 0;
    for (int i = 0; i < sdd_dataset_count(ds); i++) {
        const int l = sdd_dataset_label(ds, i);
        if (l == 0 || l == 1) n[l]++;
    }
}

/* --ce-weight balanced: each class weighted by the other's share (the
 * training set has both: check_classes ran first) */
static void balance_weights(const sdd_dataset *tr, float *w)
{
    int64_t n[2];
    class_counts(tr, n);
    w[0] = (float)((double)n[1] / (double)(n[0] + n[1]));
    w[1] = (float)((double)n[0] / (double)(n[0] + n[1]));
}

/* Both classes in a set: the cross-entropy of one class teaches nothing, and
 * the dev EER (which selects the snapshots and sets the final model's
 * threshold) is undefined without both. */
static int check_classes(const sdd_dataset *dv, const char *list, const char *what, sdd_err *e)
{
    int64_t n[2];
    class_counts(dv, n);
    if (!n[0] || !n[1])
        return sdd_err_set(e, "%s: the %s set needs both classes (%lld spoof, %lld bona fide)", list, what,
                           (long long)n[0], (long long)n[1]);
    return 0;
}

static int train_run(const sdd_train_config *cfg, sdd_err *e);

const char *sdd_train_dir_run_file(const char *dir)
{
    static const char *const run_files[] = { "config.json", "log.jsonl", "state.safetensors", "model.safetensors", "last.safetensors" };
    char p[1200];
    struct stat st;
    for (size_t k = 0; k < sizeof run_files / sizeof run_files[0]; k++)
        if (!path_join(p, sizeof p, dir, run_files[k]) && stat(p, &st) == 0) return run_files[k];
    return NULL;
}

const char *sdd_train_dir_seeds_entry(const char *dir, char *name, size_t n)
{
    char p[1200];
    struct stat st;
    if (!path_join(p, sizeof p, dir, "summary.txt") && stat(p, &st) == 0) return "summary.txt";
    DIR *d = opendir(dir);
    if (!d) return NULL;
    const char *found = NULL;
    for (struct dirent *de; !found && (de = readdir(d));) {
        const char *s = de->d_name;
        if (!sdd_seed_dir_name(s, NULL)) continue;
        if (!path_join(p, sizeof p, dir, s) && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(name, n, "%s/", s);
            found = name;
        }
    }
    closedir(d);
    return found;
}

int sdd_train_run(const sdd_train_config *cfg, sdd_err *e)
{
    if (!cfg || !cfg->out_dir || !cfg->out_dir[0]) return sdd_err_set(e, "train: no output folder");
    /* --out runs/a creates runs/ too; a run that failed before writing
     * anything leaves none of the folders it created behind. Under mpirun
     * the lead rank alone creates them, as it alone checks and writes the
     * folder: another rank's OUT/seed-S made a fresh --seeds OUT look used
     * to the lead's check (about one 2-rank run in three). */
    const int lead = sdd_dist_rank() == 0;
    char top[1200] = "";
    if (lead && sdd_mkdirs(cfg->out_dir, top, sizeof top, e)) return -1;
    const int rc = train_run(cfg, e);
    if (rc && lead) sdd_rmdirs(cfg->out_dir, top);
    return rc;
}

static int train_run(const sdd_train_config *cfg, sdd_err *e)
{
    sdd_train_config dcfg = *cfg;   /* this run's settings, completed below (distribution, class weights) */
    const int lead = sdd_dist_rank() == 0;
    if (sdd_dist_size() > 1 && dist_config(&dcfg, e)) return -1;
    cfg = &dcfg;
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.best = INFINITY;
    t.log_bytes = -1;
    if (cfg->n_best < 1 || cfg->batch < 1 || cfg->epochs < 1) return sdd_err_set(e, "train: n-best, batch and epochs must be >= 1");
    /* a fresh run never replaces another: that run's model, state and log would
     * no longer match the config.json written below */
    const char *held;
    char entry[256];
    if (lead && !cfg->resume && (held = sdd_train_dir_run_file(cfg->out_dir)))
        return sdd_err_set(e, "%s: holds a run already (%s): --resume continues it; to start again, remove it or "
                           "give another --out", cfg->out_dir, held);
    /* nor one beside the seed-S runs of a --seeds run (its summary would no longer describe the folder) */
    if (lead && (held = sdd_train_dir_seeds_entry(cfg->out_dir, entry, sizeof entry)))
        return sdd_err_set(e, "%s: holds a --seeds run (%s): a single run goes into another --out (--seeds with "
                           "--resume continues that one)", cfg->out_dir, held);
    /* --resume without a state starts afresh: a run killed in its first epoch
     * (last.safetensors and a snapshot may be there already). A final model is
     * written only after a state, so with one the state was lost. */
    if (lead && cfg->resume) {
        char rp[1200], sp[1200];
        struct stat rs;
        if (!path_join(sp, sizeof sp, cfg->out_dir, "state.safetensors") && stat(sp, &rs) != 0 &&
            !path_join(rp, sizeof rp, cfg->out_dir, "model.safetensors") && stat(rp, &rs) == 0)
            return sdd_err_set(e, "%s: --resume: state.safetensors is missing but the run has its model.safetensors: it "
                               "cannot be continued; remove the folder to start again, or give another --out", cfg->out_dir);
    }
    /* temp files of checkpoints a killed run was writing: never read, but each can be as large as the state */
    const int stale = lead ? sdd_atomic_remove_stale(cfg->out_dir) : 0;
    if (stale > 0 && !cfg->quiet) fprintf(stderr, "sdd train: %s: removed %d temp file%s an interrupted run left\n", cfg->out_dir, stale, stale > 1 ? "s" : "");
    for (int k = 0; k < cfg->neval; k++)
        if (sdd_train_check_eval(cfg, k, cfg->eval_spec[k], e)) return -1;
    if (!cfg->init_model && !arch_known(cfg->arch))
        return sdd_err_set(e, "model '%s'%s%s%s is not available in this build (available: %s)", cfg->arch,
                           cfg->recipe ? " (recipe " : "", cfg->recipe ? cfg->recipe : "", cfg->recipe ? ")" : "", sdd_model_archs());
    if (check_ssl_weights(cfg, e)) return -1;
    sdd_dataset *tr = NULL, *dv = NULL;
    sdd_loader *ld = NULL;
    int rc = 0;
    char path[1200];
    snprintf(path, sizeof path, "%s/state.safetensors", cfg->out_dir);
    struct stat st;
    const int resumed = cfg->resume && stat(path, &st) == 0;
    t.m = cfg->init_model ? sdd_model_load(cfg->init_model, NULL, e) : sdd_model_new(cfg->arch, e);
    if (!t.m) return -1;
    if (!cfg->init_model) sdd_model_init_random(t.m, cfg->seed);
    /* --init brings its architecture: a --model (or recipe model) of another one was asked for in vain */
    if (cfg->init_model && cfg->arch_given && strcmp(sdd_model_arch_name(cfg->arch) ? sdd_model_arch_name(cfg->arch) : cfg->arch, t.m->arch)) {
        rc = sdd_err_set(e, "--init %s: its model is %s, but the run's model is %s (%s%s): leave --model out with --init, "
                         "or give an --init model of that architecture", cfg->init_model, t.m->arch, cfg->arch,
                         cfg->recipe ? "--model or recipe " : "--model", cfg->recipe ? cfg->recipe : "");
        goto done;
    }
    if (cfg->cut < t.m->min_samples) {
        rc = sdd_err_set(e, "--cut %lld is shorter than %s's minimum input of %d samples", (long long)cfg->cut, t.m->arch, t.m->min_samples);
        goto done;
    }
    /* an --init model's threshold and calibration were for its own scores: the
     * snapshots and last.safetensors do not carry them, and the final model
     * stores the dev EER threshold of its own */
    t.m->has_threshold = 0;
    t.m->calibration[0] = 0;
    /* every file of the run records its cut: sdd score's default, the length the dev threshold is found at */
    t.m->cut = cfg->cut;
    if (cfg->ssl_recompute == SDD_RECOMPUTE_OFF && sdd_model_set_recompute(t.m, 0, e)) { rc = sdd_err_prefix(e, "--ssl-recompute off"); goto done; }
    /* a resumed run goes on with the settings it was started with (a changed
     * default must not switch it silently) */
    if (resumed && path_join(path, sizeof path, cfg->out_dir, "config.json")) { rc = sdd_err_set(e, "output path too long"); goto done; }
    if (resumed && sdd_recipe_check_resume(cfg, t.m->arch, path, e)) { rc = sdd_err_prefix(e, "--resume"); goto done; }
    /* a resumed run takes every weight from its state: the front end is loaded only at the start */
    if (cfg->ssl_weights && !resumed && load_ssl_weights(t.m, cfg, e)) { rc = -1; goto done; }
    if (open_set(&tr, cfg->train_list, cfg->train_audio, cfg->max_samples, cfg->cache_none, e)) { rc = -1; goto done; }
    /* the dev set is only ever read on its first cut: the cache keeps no more */
    const int64_t dev_keep = cfg->max_samples > 0 && cfg->max_samples < cfg->cut ? cfg->max_samples : cfg->cut;
    if (open_set(&dv, cfg->dev_list, cfg->dev_audio, dev_keep, cfg->cache_none, e)) { rc = -1; goto done; }
    if (check_classes(tr, cfg->train_list, "training", e) || check_classes(dv, cfg->dev_list, "dev", e)) { rc = -1; goto done; }
    if (cfg->ce_balanced) balance_weights(tr, dcfg.step.class_weight);
    if (sdd_params_alloc_grads(&t.m->params, 2, e) || sdd_adam_init(&t.opt, &t.m->params, &cfg->adam, e)) { rc = -1; goto done; }
    sdd_ctx_init(&t.c, &t.m->params);
    sdd_align_state_init(&t.al);
    if (cfg->step.paths == SDD_PATHS_DUAL && cfg->step.align != SDD_ALIGN_NONE) {   /* --align-groups */
        if (sdd_align_groups_build(&t.m->params, cfg->align_groups, &t.groups, &dcfg.step.ngroups, e)) { rc = -1; goto done; }
        if (sdd_align_state_set_groups(&t.al, dcfg.step.ngroups)) { rc = sdd_err_set(e, "out of memory"); goto done; }
        dcfg.step.groups = t.groups;
    }
    t.grad = malloc(t.m->params.total * sizeof(float));
    if (!t.grad) { rc = sdd_err_set(e, "out of memory"); goto done; }
    if (sdd_nbest_init(&t.nb, cfg->n_best, cfg->out_dir, cfg->select_eer, e)) { rc = -1; goto done; }
    if (resumed && load_state(&t, e)) { rc = -1; goto done; }
    /* CUDA: the parameters (as initialised or resumed) go to the device; they
     * and Adam's moments come back at the end of every epoch */
    if (cfg->device == SDD_DEV_CUDA && sdd_model_cuda_check(t.m, "train: ", e)) { rc = -1; goto done; }
    if (cfg->device == SDD_DEV_CUDA && sdd_ctx_set_device(&t.c, SDD_DEV_CUDA, e)) { rc = -1; goto done; }
    const long step_start = t.step;
    sdd_dist_stats dist0;   /* this run's all-reduces only (a --seeds run trains several in one process) */
    sdd_dist_get_stats(&dist0);
    /* training is over when the state says so under the current settings (more
     * --epochs or a larger --patience continue it); what may be left is the final phase */
    const int trained = resumed && (t.epoch0 >= cfg->epochs || t.not_improving >= cfg->patience || (cfg->max_steps > 0 && t.step >= cfg->max_steps));
    snprintf(path, sizeof path, "%s/log.jsonl", cfg->out_dir);
    if (trained && log_has_final(path, t.log_bytes)) {   /* every rank: they all see the run folder */
        if (!cfg->quiet) fprintf(stderr, "sdd train: %s: the run finished already (%s); nothing to do\n", cfg->out_dir,
                                 t.not_improving >= cfg->patience && t.epoch0 < cfg->epochs ? "stopped early, no dev improvement" : "all epochs trained");
        goto done;
    }
    if (trained && !cfg->quiet) fprintf(stderr, "sdd train: %s: training was over; writing the final model\n", cfg->out_dir);
    for (int k = 0; k < cfg->neval && lead; k++)
        if (open_eval(cfg->eval_spec[k], cfg->cut, cfg->quiet, &t.ev[k], e)) { rc = -1; goto done; }
    /* the run goes on: the state's snapshot files are checked (embedded ones written out) before anything is written */
    char spath[1200];
    if (resumed && path_join(spath, sizeof spath, cfg->out_dir, "state.safetensors")) { rc = sdd_err_set(e, "%s: output path too long", cfg->out_dir); goto done; }
    if (resumed && sdd_nbest_prepare(&t.nb, t.m, lead, spath, e)) { rc = -1; goto done; }
    sdd_loader_params lp = sdd_loader_default_params();
    lp.batch_size = cfg->batch;
    lp.cut = cfg->cut;
    lp.crop_mode = cfg->crop;
    lp.mode = cfg->step.paths == SDD_PATHS_DUAL ? SDD_LOADER_DUAL : cfg->step.paths == SDD_PATHS_AUG ? SDD_LOADER_AUG : SDD_LOADER_ORIG;
    lp.seed = cfg->seed;
    lp.rb_algo = cfg->rb_algo;
    lp.rb = cfg->rb;
    lp.workers = cfg->workers;
    lp.shard_rank = sdd_dist_rank();
    lp.shard_count = sdd_dist_size();
    if (sdd_loader_create(&ld, tr, &lp, e)) { rc = -1; goto done; }
    /* an optimiser step every K micro-batches; the last nbat % K batches of an epoch are skipped */
    const int K = cfg->accum > 0 ? cfg->accum : 1;
    const int64_t nbat = sdd_loader_batches_per_epoch(ld);
    const long steps_per_epoch = (long)(nbat / K);
    if (steps_per_epoch < 1) {
        rc = nbat < 1 ? sdd_err_set(e, "%s: %d utterances%s, fewer than one batch (--batch %d)", cfg->train_list, sdd_dataset_count(tr),
                                    sdd_dist_size() > 1 ? " shared by the ranks" : "", cfg->batch)
                      : sdd_err_set(e, "%s: %lld batches per epoch, fewer than --accum %d", cfg->train_list, (long long)nbat, K);
        goto done;
    }
    /* the log only grows: one shorter than the state recorded at its epoch was
     * cut or edited, and appending to it would glue records together */
    if (lead && resumed && t.log_bytes >= 0 && (stat(path, &st) != 0 || st.st_size < t.log_bytes)) {
        rc = sdd_err_set(e, "%s: shorter than the %ld bytes the state recorded at its epoch (the log was cut or edited): "
                         "restore it, or start again in a new --out", path, t.log_bytes);
        goto done;
    }
    if (lead && write_config(cfg, t.m->arch, e)) { rc = -1; goto done; }
    /* a resumed run's log continues at the state's epoch: the records of the
     * steps it redoes, and a line torn by the interruption, are cut off */
    if (lead && resumed && t.log_bytes >= 0 && stat(path, &st) == 0 && st.st_size > t.log_bytes && truncate(path, t.log_bytes) != 0) {
        rc = sdd_err_set(e, "%s: cannot truncate to %ld bytes: %s", path, t.log_bytes, strerror(errno));
        goto done;
    }
    t.log = fopen(lead ? path : "/dev/null", resumed ? "a" : "w");
    if (!t.log) { rc = sdd_err_set(e, "%s: cannot open: %s", path, strerror(errno)); goto done; }
    setvbuf(t.log, NULL, _IOLBF, 0);   /* whole lines reach the file as they are written: a run that dies keeps its log */
    if (!resumed) {   /* a fresh log */
        /* the weights as given (float to 6 digits: 0.2, not 0.200000003) */
        fprintf(t.log, "{\"type\": \"start\", \"arch\": \"%s\", \"train\": %d, \"dev\": %d, \"class_weight\": [%.6g, %.6g]}\n", t.m->arch,
                sdd_dataset_count(tr), sdd_dataset_count(dv), (double)cfg->step.class_weight[0], (double)cfg->step.class_weight[1]);
        if (cfg->step.ngroups && log_groups(&t, cfg, e)) { rc = -1; goto done; }
    }
    fseek(t.log, 0, SEEK_END);          /* so that ftell gives the length (save_state) */
    const int ndev = sdd_dataset_count(dv);
    float *dev_scores = malloc((size_t)ndev * sizeof(float));
    if (!dev_scores) { rc = sdd_err_set(e, "out of memory"); goto done; }
    if (!cfg->quiet)
        fprintf(stderr, "sdd train: %s, %d train / %d dev utterances, paths %s, align %s, bn-stats %s, batch %d%s, %lld batches per epoch\n",
                t.m->arch, sdd_dataset_count(tr), ndev, cfg->step.paths == SDD_PATHS_DUAL ? "dual" : cfg->step.paths == SDD_PATHS_AUG ? "aug" : "orig",
                sdd_align_name(cfg->step.align), cfg->step.bn_stats == SDD_BN_JOINT ? "joint" : "per-path", cfg->batch,
                cfg->step.paths == SDD_PATHS_DUAL ? " + copies" : "", (long long)sdd_loader_batches_per_epoch(ld));
    if (!cfg->quiet && cfg->step.ngroups)
        fprintf(stderr, "sdd train: --align-groups %s: %s aligned in %d groups (log.jsonl: align_groups)\n", sdd_align_groups_name(cfg->align_groups),
                sdd_align_name(cfg->step.align), cfg->step.ngroups);
    int stop = trained;
    const int tty = !cfg->quiet && isatty(2);
    const long total_steps = (long)cfg->epochs * steps_per_epoch;
    int auto_pending = cfg->ssl_recompute == SDD_RECOMPUTE_AUTO && t.m->ssl;
    for (int ep = t.epoch0; ep < cfg->epochs && !stop && !rc; ep++) {
        if (sdd_loader_start_epoch(ld, ep, e)) { rc = -1; break; }
        double t0 = omp_get_wtime(), lsum = 0.0, ts = t0;
        long nsteps = 0, nconf = 0, nal = 0, gconf = 0;
        int64_t mb = 0;
        sdd_accum acc;
        memset(&acc, 0, sizeof acc);
        sdd_batch *b;
        int got;
        while ((got = sdd_loader_next(ld, &b, e)) == 1) {
            if (mb++ >= (int64_t)steps_per_epoch * K) continue;
            if (acc.k == 0) {
                ts = omp_get_wtime();
                if (sdd_accum_begin(t.m, &acc, K, e)) { rc = -1; break; }
            }
            const uint64_t key = sdd_rng_key(cfg->seed, (uint64_t)ep, (uint64_t)t.step * (uint64_t)K + (uint64_t)acc.k, SDD_PURPOSE_DROP);
            if (sdd_accum_micro(t.m, &t.c, &cfg->step, &acc, b->wave, b->nb, b->cut, b->labels, key, e)) {
                sdd_err_prefix(e, "epoch %d step %ld", ep, t.step);
                rc = -1;
                break;
            }
            if (acc.k < K) continue;
            sdd_step_result r;
            t.opt.p.lr = sdd_lr_at(cfg->lr_schedule, cfg->adam.lr, cfg->lr_min, t.step, total_steps);
            if (sdd_accum_apply(t.m, &t.opt, &t.al, &cfg->step, &acc, t.c.dev ? NULL : t.grad, &r, e)) {
                sdd_err_prefix(e, "epoch %d step %ld", ep, t.step);
                rc = -1;
                break;
            }
            acc.k = 0;
            lsum += r.loss_total;
            nsteps++;
            fprintf(t.log, "{\"type\": \"step\", \"epoch\": %d, \"step\": %ld, \"lr\": %.9g, \"loss\": %.9g", ep, t.step, t.opt.p.lr, r.loss_total);
            if (r.has_align_stats) {
                char jb[32];
                nal++;
                nconf += r.al.conflict;
                fprintf(t.log, ", \"loss_orig\": %.9g, \"loss_aug\": %.9g, \"norm_orig\": %.9g, \"norm_aug\": %.9g, \"dot\": %.9g, \"cos\": %s, \"conflict\": %s",
                        r.loss[0], r.loss[1], r.al.norm0, r.al.norm1, r.al.dot, jnum(jb, r.al.cos), r.al.conflict ? "true" : "false");
                if (cfg->step.align == SDD_ALIGN_CAGRAD && !cfg->step.ngroups) fprintf(t.log, ", \"cagrad_w\": %.9g", r.al.cagrad_w);
                if (cfg->step.ngroups) fprintf(t.log, ", \"group_conflicts\": %d", r.group_conflicts);
                gconf += r.group_conflicts;
            }
            fprintf(t.log, ", \"seconds\": %.4f}\n", omp_get_wtime() - ts);
            if (ferror(t.log)) { rc = log_error(&t, e); break; }
            t.step++;
            if (auto_pending) {
                auto_pending = 0;
                if (auto_recompute(&t, e)) { rc = -1; break; }
            }
            sdd_crashpoint("train.step");
            if (tty) {
                /* progress on a terminal only: position, running loss, conflict rate, speed */
                fprintf(stderr, "\repoch %d  %ld/%ld  loss %.4f  conflicts %ld/%ld  %.2f s/step ", ep, nsteps, steps_per_epoch,
                        lsum / nsteps, nconf, nal, (omp_get_wtime() - t0) / nsteps);
                fflush(stderr);
            }
            if (cfg->max_steps > 0 && t.step >= cfg->max_steps) { stop = 1; break; }
        }
        if (tty) fputc('\n', stderr);
        if (rc || got < 0) { rc = -1; break; }
        if (t.c.dev && (sdd_params_download(&t.m->params, e) || sdd_adam_sync_host(&t.opt, &t.m->params, e))) { rc = -1; break; }
        double dloss;
        const double tdev = omp_get_wtime();
        if (evaluate_set(&t, dv, 1, &dloss, dev_scores, e)) { rc = -1; break; }
        const double dev_s = omp_get_wtime() - tdev;
        sdd_eer_result er;
        sdd_err ee;
        const int have_eer = set_eer(dv, dev_scores, &er, &ee) == 0;
        if (!isfinite(dloss)) { rc = sdd_err_set(e, "epoch %d: dev loss is not finite (training diverged)", ep); break; }
        /* selection metric: dev loss (the reference) or dev EER (--select eer) */
        const double crit = cfg->select_eer ? (have_eer ? er.eer : INFINITY) : dloss;
        if (crit < t.best) { t.best = crit; t.not_improving = 0; } else t.not_improving++;
        if (sdd_nbest_insert(&t.nb, t.m, ep, crit, lead, e)) { rc = -1; break; }
        sdd_crashpoint("train.snapshot");
        sdd_loader_stats ls;
        sdd_loader_get_stats(ld, &ls);
        char j1[32], j2[32], j3[32], j4[32];
        fprintf(t.log, "{\"type\": \"epoch\", \"epoch\": %d, \"steps\": %ld, \"train_loss\": %s, \"dev_loss\": %s, \"dev_eer\": %s, "
                       "\"conflict_rate\": %s, \"aligned_steps\": %ld, ",
                ep, nsteps, jnum(j1, nsteps ? lsum / nsteps : NAN), jnum(j2, dloss), jnum(j3, have_eer ? er.eer : NAN),
                jnum(j4, nal ? (double)nconf / nal : NAN), nal);
        /* --align-groups: the share of (step, group) pairs in conflict */
        if (cfg->step.ngroups) fprintf(t.log, "\"group_conflict_rate\": %s, ", jnum(j4, nal ? (double)gconf / ((double)nal * cfg->step.ngroups) : NAN));
        fprintf(t.log, "\"seconds\": %.2f, \"dev_seconds\": %.2f, \"data_wait_s\": %.3f, \"not_improving\": %d}\n",
                omp_get_wtime() - t0, dev_s, ls.wait_s, t.not_improving);
        if (fflush(t.log) != 0 || ferror(t.log)) { rc = log_error(&t, e); break; }
        sdd_crashpoint("train.epoch");
        if (!cfg->quiet)
            fprintf(stderr, "sdd train: epoch %d: %ld steps, train loss %.4f, dev loss %.4f, dev EER %.2f%%, conflicts %ld/%ld, %.1f s\n",
                    ep, nsteps, nsteps ? lsum / nsteps : NAN, dloss, have_eer ? 100.0 * er.eer : NAN, nconf, nal, omp_get_wtime() - t0);
        snprintf(path, sizeof path, "%s/last.safetensors", cfg->out_dir);
        if (lead && sdd_model_save(t.m, path, e)) { rc = -1; break; }
        sdd_crashpoint("train.last");
        if (lead && save_state(&t, ep + 1, e)) { rc = -1; break; }
        sdd_crashpoint("train.state");
        if (lead) sdd_nbest_prune(&t.nb);
        if (t.not_improving >= cfg->patience) {
            if (!cfg->quiet) fprintf(stderr, "sdd train: no dev improvement for %d epochs: stopping\n", t.not_improving);
            stop = 1;
        }
    }
    if (!rc && t.nb.n > 0) {
        /* the training passes' activations (GBs for XLS-R when kept) are not
         * needed by the final phase's forward passes */
        sdd_ctx_trim(&t.c);
        /* final model: element-wise mean of the n best snapshots */
        if (sdd_nbest_average(&t.nb, t.m, e)) rc = -1;
        if (!rc && t.c.dev && sdd_params_upload(&t.m->params, e)) rc = -1;
        long bnr_batches = 0;
        if (!rc && cfg->bn_recompute) rc = recompute_bn(&t, ld, &bnr_batches, e);
        double dloss;
        sdd_eer_result er;
        sdd_err ee;
        if (rc) ;
        else if (evaluate_set(&t, dv, 1, &dloss, dev_scores, e)) rc = -1;
        else if (set_eer(dv, dev_scores, &er, &ee) == 0) { t.m->threshold = er.threshold; t.m->has_threshold = 1; }
        else if (lead)
            /* said even with --quiet: the saved model has no decision threshold,
             * so `sdd score` gives scores but no accept/reject decisions */
            fprintf(stderr, "sdd: warning: %s/model.safetensors: saved without a decision threshold: no dev EER (%s)\n",
                    cfg->out_dir, ee.msg);
        snprintf(path, sizeof path, "%s/model.safetensors", cfg->out_dir);
        if (!rc && lead && sdd_model_save(t.m, path, e)) rc = -1;
        if (!rc) {
            sdd_crashpoint("train.model");
            if (!cfg->quiet)
                fprintf(stderr, "sdd train: final model (mean of %d best epochs) %s: dev loss %.4f, dev EER %.2f%% at threshold %.6g\n",
                        t.nb.n, path, dloss, t.m->has_threshold ? 100.0 * er.eer : NAN, t.m->threshold);
        }
        for (int k = 0; k < cfg->neval && !rc && lead; k++) {
            rc = eval_spec(&t, k, e);
            sdd_crashpoint("train.eval");
        }
        /* the final record comes last and is made durable: with it in the log,
         * --resume knows there is nothing left to do */
        if (!rc) {
            char j1[32], j2[32], j3[32];
            fprintf(t.log, "{\"type\": \"final\", \"averaged\": %d, \"bn_recompute_batches\": %ld, \"dev_loss\": %s, \"dev_eer\": %s, \"threshold\": %s}\n",
                    t.nb.n, bnr_batches, jnum(j1, dloss), jnum(j2, t.m->has_threshold ? er.eer : NAN), jnum(j3, t.m->has_threshold ? t.m->threshold : NAN));
            if (fflush(t.log) != 0 || ferror(t.log) || (lead && fsync(fileno(t.log)) != 0 && errno != EINVAL)) rc = log_error(&t, e);
        }
    }
    free(dev_scores);
    if (sdd_dist_size() > 1 && !cfg->quiet && t.step > step_start) {
        sdd_dist_stats ds;
        sdd_dist_get_stats(&ds);
        ds.calls -= dist0.calls + t.eval_dist.calls;
        ds.bytes -= dist0.bytes + t.eval_dist.bytes;
        ds.seconds -= dist0.seconds + t.eval_dist.seconds;
        fprintf(stderr, "sdd train: %d ranks: %ld all-reduces, %.3f MB and %.4f s per step in them; dev scoring: %ld, %.3f s in all\n",
                sdd_dist_size(), ds.calls, ds.bytes / 1e6 / (double)(t.step - step_start), ds.seconds / (double)(t.step - step_start),
                t.eval_dist.calls, t.eval_dist.seconds);
    }
done:
    if (t.log) fclose(t.log);
    sdd_loader_destroy(ld);
    if (t.m) sdd_ctx_free(&t.c);
    sdd_adam_free(&t.opt);
    sdd_nbest_free(&t.nb);
    free(t.grad);
    free(t.groups);
    sdd_align_state_free(&t.al);
    sdd_model_free(t.m);
    sdd_dataset_close(tr);
    sdd_dataset_close(dv);
    for (int k = 0; k < cfg->neval; k++) sdd_dataset_close(t.ev[k]);
    return rc;
}
