/* Owns datasets (see dataset.h): list loading with the label check, parallel
 * decoding into the int16 cache (OpenMP over items, lowest failing line
 * reported, or failures skipped; all at open, or a range at a time for lazy
 * datasets), the accessors, class counts and CE weights, and the cut /
 * random crop / RawBoost-then-cut model inputs. */
#include "data/dataset.h"
#include "audio/decode.h"
#include "core/rng.h"

#include <math.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sdd_dataset {
    sdd_list list;
    char *list_path;
    int sr;
    int n;            /* kept items */
    int *src;         /* list item index of kept item i */
    int16_t **pcm;    /* cache of kept item i */
    int64_t *len;
    int64_t total, clipped;
    size_t bytes;
    char **skipped;   /* messages of skipped items, list order */
    int nskipped;
    /* lazy and streamed datasets: what sdd_dataset_load and sdd_dataset_get*
     * decode with, and the items held */
    int lazy, stream, threads;
    int64_t max_samples;
    sdd_audio_params ap;
    size_t list_bytes;  /* bytes of the bookkeeping, without the cache */
    int lo, hi;         /* items [lo, hi) are decoded */
};

sdd_dataset_params sdd_dataset_default_params(void)
{
    sdd_dataset_params p;
    memset(&p, 0, sizeof p);
    p.sample_rate = 16000;
    p.list_format = SDD_LIST_AUTO;
    p.require_labels = 1;
    p.skip_bad = 0;
    p.max_samples = 0;
    p.max_seconds = 0;
    p.threads = 0;
    return p;
}

void sdd_dataset_close(sdd_dataset *ds)
{
    if (!ds) return;
    if (ds->pcm)
        for (int i = 0; i < ds->n; i++) free(ds->pcm[i]);
    if (ds->skipped)
        for (int k = 0; k < ds->nskipped; k++) free(ds->skipped[k]);
    free(ds->skipped);
    free(ds->pcm);
    free(ds->len);
    free(ds->src);
    free(ds->list_path);
    sdd_list_free(&ds->list);
    free(ds);
}

/* Float samples -> int16 cache with rounding to nearest; returns clipped count. */
static int64_t to_int16(const float *x, int64_t n, int16_t *q)
{
    int64_t clipped = 0;
    for (int64_t t = 0; t < n; t++) {
        const float v = x[t] * SDD_DATASET_INT16_SCALE; /* exact: power-of-two scale */
        if (v >= 32767.5f) { q[t] = 32767; clipped++; }
        else if (v < -32768.5f) { q[t] = -32768; clipped++; }
        else q[t] = (int16_t)lrintf(v);
    }
    return clipped;
}

static size_t str_bytes(const char *s) { return s ? strlen(s) + 1 : 0; }

/* *msg = "LIST:LINE: why" (NULL if out of memory); returns -1 */
static int item_msg(const char *list_path, const sdd_list_item *it, const char *why, char **msg)
{
    size_t cap = strlen(list_path) + strlen(why) + 32;
    *msg = malloc(cap);
    if (*msg) snprintf(*msg, cap, "%s:%d: %s", list_path, it->line, why);
    return -1;
}

/* Decodes item k of the list into *pcm / *len; on failure returns -1 with a
 * malloc'd message "LIST:LINE: reason" in *msg (NULL if even that failed). */
static int decode_item(const sdd_list *l, int k, const char *list_path, int sr,
                       const sdd_audio_params *ap, int64_t max_samples,
                       int16_t **pcm, int64_t *len, int64_t *clipped, char **msg)
{
    const sdd_list_item *it = &l->items[k];
    sdd_err err;
    err.msg[0] = 0;
    float *buf = NULL;
    int64_t n = 0;
    if (sdd_audio_load_ex(it->path, sr, ap, &buf, &n, NULL, &err) == 0) {
        int64_t m = max_samples > 0 && n > max_samples ? max_samples : n;
        int16_t *q = malloc((size_t)m * sizeof *q);
        if (q) {
            *clipped = to_int16(buf, m, q);
            free(buf);
            *pcm = q;
            *len = m;
            return 0;
        }
        snprintf(err.msg, sizeof err.msg, "%s: out of memory for %lld samples", it->path, (long long)m);
    }
    free(buf);
    return item_msg(list_path, it, err.msg, msg);
}

/* Reads only item k's header (sdd_audio_probe); on failure as decode_item. */
static int probe_item(const sdd_list *l, int k, const char *list_path, int sr, const sdd_audio_params *ap, char **msg)
{
    sdd_err err;
    err.msg[0] = 0;
    return sdd_audio_probe(l->items[k].path, sr, ap, NULL, &err) ? item_msg(list_path, &l->items[k], err.msg, msg) : 0;
}

enum { RANGE_CHECK, RANGE_KEEP, RANGE_PROBE };

/* Decodes list items [first, first + count) into pcm/len/msg/bad (indexed
 * from first), in parallel; *clipped gets the clipped samples. With errors
 * fatal (skip_bad 0), items after the lowest failure found so far are not
 * decoded; every item before it is, so the reported failure is the lowest
 * failing line whatever the thread count. mode RANGE_KEEP keeps what is
 * decoded; RANGE_CHECK drops each item at once (its length stays);
 * RANGE_PROBE reads only the headers (pcm and len stay 0). Returns that
 * failure's index (from first), or INT_MAX. */
static int decode_range(const sdd_list *l, const char *list_path, int first, int count, int sr, const sdd_audio_params *ap,
                        int64_t max_samples, int skip_bad, int mode, int threads, void (*progress)(void *, int, int), void *pctx,
                        int16_t **pcm, int64_t *len, char **msg, unsigned char *bad, int64_t *clipped)
{
    int first_bad = INT_MAX, done = 0;
    int64_t cl = 0;
    const int nt = threads > 0 ? threads : omp_get_max_threads();
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(+:cl)
    for (int k = 0; k < count; k++) {
        int fb;
        #pragma omp atomic read
        fb = first_bad;
        if (!skip_bad && k > fb) continue;
        int64_t c = 0;
        if (mode == RANGE_PROBE ? probe_item(l, first + k, list_path, sr, ap, &msg[k])
                                : decode_item(l, first + k, list_path, sr, ap, max_samples, &pcm[k], &len[k], &c, &msg[k])) {
            bad[k] = 1;
            #pragma omp critical(sdd_dataset_first_bad)
            if (k < first_bad) first_bad = k;
        } else if (mode == RANGE_CHECK) {
            free(pcm[k]);   /* checked and measured only */
            pcm[k] = NULL;
        }
        cl += c;
        int d;
        #pragma omp atomic capture
        d = ++done;
        if (progress && omp_get_thread_num() == 0) progress(pctx, d, count);
    }
    *clipped = cl;
    return first_bad;
}

int sdd_dataset_open(sdd_dataset **out, const char *list_path, const char *audio_dir,
                     const sdd_dataset_params *params, sdd_err *e)
{
    if (!out) return sdd_err_set(e, "sdd_dataset_open: NULL output");
    *out = NULL;
    if (!list_path) return sdd_err_set(e, "sdd_dataset_open: no list given");
    const sdd_dataset_params p = params ? *params : sdd_dataset_default_params();
    if (p.sample_rate <= 0) return sdd_err_set(e, "%s: bad sample rate %d", list_path, p.sample_rate);
    if (p.max_samples < 0) return sdd_err_set(e, "%s: bad max_samples %lld", list_path, (long long)p.max_samples);
    if (p.max_seconds < 0 || p.threads < 0)
        return sdd_err_set(e, "%s: bad dataset parameters (max_seconds %g, threads %d)", list_path,
                           p.max_seconds, p.threads);
    if (p.lazy && p.skip_bad) return sdd_err_set(e, "%s: a lazy dataset cannot skip bad files", list_path);
    if (p.lazy && p.stream) return sdd_err_set(e, "%s: a dataset is lazy or streamed, not both", list_path);
    sdd_audio_params ap;
    sdd_audio_default_params(&ap);
    if (p.max_seconds > 0) ap.max_seconds = p.max_seconds;

    sdd_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return sdd_err_set(e, "%s: out of memory", list_path);
    ds->sr = p.sample_rate;
    ds->list_path = strdup(list_path);
    if (!ds->list_path) { free(ds); return sdd_err_set(e, "%s: out of memory", list_path); }
    if (sdd_list_load_fmt(list_path, audio_dir, (sdd_list_format)p.list_format, &ds->list, e)) {
        sdd_dataset_close(ds);
        return -1;
    }
    const sdd_list *l = &ds->list;
    const int total = l->n;
    if (total == 0) { sdd_dataset_close(ds); return sdd_err_set(e, "%s: no items", list_path); }
    if (p.require_labels)
        for (int k = 0; k < total; k++)
            if (l->items[k].label == SDD_LABEL_NONE) {
                sdd_err_set(e, "%s:%d: %.300s has no label (a training list needs bonafide or spoof)",
                            list_path, l->items[k].line, l->items[k].id);
                sdd_dataset_close(ds);
                return -1;
            }

    int16_t **pcm = calloc((size_t)total, sizeof *pcm);
    int64_t *len = calloc((size_t)total, sizeof *len);
    char **msg = calloc((size_t)total, sizeof *msg);
    unsigned char *bad = calloc((size_t)total, 1);
    ds->src = malloc((size_t)total * sizeof *ds->src);
    if (!pcm || !len || !msg || !bad || !ds->src) {
        free(pcm); free(len); free(msg); free(bad);
        sdd_dataset_close(ds);
        return sdd_err_set(e, "%s: out of memory for %d items", list_path, total);
    }

    int64_t clipped = 0;
    const int mode = p.lazy ? RANGE_PROBE : p.stream ? RANGE_CHECK : RANGE_KEEP;
    const int first_bad = p.lazy && !p.probe ? INT_MAX : decode_range(l, list_path, 0, total, p.sample_rate, &ap, p.max_samples, p.skip_bad,
                                                                      mode, p.threads, p.progress, p.progress_ctx, pcm, len, msg, bad, &clipped);
    int rc = 0;
    if (first_bad != INT_MAX && !p.skip_bad) {
        if (msg[first_bad]) sdd_err_set(e, "%s", msg[first_bad]);
        else sdd_err_set(e, "%s:%d: out of memory", list_path, l->items[first_bad].line);
        rc = -1;
    }
    int nbad = 0;
    for (int k = 0; k < total; k++) nbad += bad[k];
    if (rc == 0 && nbad == total) {
        sdd_err_set(e, "%s: every file failed to decode (first: %.700s)", list_path,
                    msg[0] ? msg[0] : "out of memory");
        rc = -1;
    }
    if (rc == 0 && nbad > 0) {
        ds->skipped = calloc((size_t)nbad, sizeof *ds->skipped);
        if (!ds->skipped) rc = sdd_err_set(e, "%s: out of memory", list_path);
    }
    if (rc == 0) {
        ds->pcm = malloc((size_t)(total - nbad) * sizeof *ds->pcm);
        ds->len = malloc((size_t)(total - nbad) * sizeof *ds->len);
        if (!ds->pcm || !ds->len) rc = sdd_err_set(e, "%s: out of memory", list_path);
    }
    if (rc) {
        for (int k = 0; k < total; k++) { free(pcm[k]); free(msg[k]); }
        free(pcm); free(len); free(msg); free(bad);
        sdd_dataset_close(ds);
        return -1;
    }
    size_t bytes = sizeof *ds + str_bytes(ds->list_path) + (size_t)total * sizeof(sdd_list_item);
    for (int k = 0; k < total; k++) {
        const sdd_list_item *it = &l->items[k];
        bytes += str_bytes(it->id) + str_bytes(it->path) + str_bytes(it->attack) +
                 str_bytes(it->speaker) + str_bytes(it->subset) + str_bytes(it->codec);
        if (bad[k]) {
            char *m = msg[k];
            if (!m) m = strdup("(out of memory formatting the message)");
            ds->skipped[ds->nskipped++] = m;
            msg[k] = NULL;
            continue;
        }
        ds->src[ds->n] = k;
        ds->pcm[ds->n] = pcm[k];
        ds->len[ds->n] = len[k];
        ds->total += len[k];
        bytes += (p.stream ? 0 : (size_t)len[k] * sizeof(int16_t)) + sizeof(int16_t *) + sizeof(int64_t) + sizeof(int);
        ds->n++;
    }
    ds->clipped = clipped;
    ds->bytes = bytes + (size_t)nbad * sizeof(char *);
    ds->lazy = p.lazy;
    ds->stream = p.stream;
    ds->threads = p.threads;
    ds->max_samples = p.max_samples;
    ds->ap = ap;
    ds->list_bytes = ds->bytes;
    ds->hi = p.lazy ? 0 : ds->n;
    for (int k = 0; k < total; k++) free(msg[k]);
    free(pcm); free(len); free(msg); free(bad);
    if (p.progress && (!p.lazy || p.probe)) p.progress(p.progress_ctx, total, total);
    *out = ds;
    return 0;
}

/* items [a, b) of a lazy dataset no longer held */
static void drop_items(sdd_dataset *ds, int a, int b)
{
    for (int i = a; i < b; i++) {
        free(ds->pcm[i]);
        ds->pcm[i] = NULL;
        ds->len[i] = 0;
    }
}

int sdd_dataset_load(sdd_dataset *ds, int first, int count, sdd_err *e)
{
    if (!ds || !ds->lazy) return sdd_err_set(e, "%s: not a lazy dataset", ds ? ds->list_path : "dataset");
    if (first < 0 || count < 0 || first > ds->n || count > ds->n - first)
        return sdd_err_set(e, "%s: items [%d, %d + %d) outside 0..%d", ds->list_path, first, first, count, ds->n);
    drop_items(ds, ds->lo, ds->hi);
    ds->lo = ds->hi = first;
    ds->total = 0;
    ds->bytes = ds->list_bytes;
    if (!count) return 0;
    char **msg = calloc((size_t)count, sizeof *msg);
    unsigned char *bad = calloc((size_t)count, 1);
    if (!msg || !bad) { free(msg); free(bad); return sdd_err_set(e, "%s: out of memory", ds->list_path); }
    int64_t clipped = 0;
    const int fb = decode_range(&ds->list, ds->list_path, first, count, ds->sr, &ds->ap, ds->max_samples, 0, RANGE_KEEP, ds->threads, NULL, NULL,
                                ds->pcm + first, ds->len + first, msg, bad, &clipped);
    int rc = 0;
    if (fb != INT_MAX) {
        if (msg[fb]) sdd_err_set(e, "%s", msg[fb]);
        else sdd_err_set(e, "%s:%d: out of memory", ds->list_path, ds->list.items[first + fb].line);
        rc = -1;
        drop_items(ds, first, first + count);
    } else {
        ds->hi = first + count;
        ds->clipped = clipped;   /* of the items held */
        for (int i = first; i < ds->hi; i++) {
            ds->total += ds->len[i];
            ds->bytes += (size_t)ds->len[i] * sizeof(int16_t);
        }
    }
    for (int k = 0; k < count; k++) free(msg[k]);
    free(msg);
    free(bad);
    return rc;
}

/* ---- accessors ---- */

static int ok_index(const sdd_dataset *ds, int i) { return ds && i >= 0 && i < ds->n; }

int sdd_dataset_count(const sdd_dataset *ds) { return ds ? ds->n : 0; }
int sdd_dataset_is_lazy(const sdd_dataset *ds) { return ds ? ds->lazy : 0; }
int sdd_dataset_label(const sdd_dataset *ds, int i)
{
    return ok_index(ds, i) ? (int)ds->list.items[ds->src[i]].label : SDD_LABEL_NONE;
}
const char *sdd_dataset_id(const sdd_dataset *ds, int i)
{
    return ok_index(ds, i) ? ds->list.items[ds->src[i]].id : NULL;
}
const char *sdd_dataset_path(const sdd_dataset *ds, int i)
{
    return ok_index(ds, i) ? ds->list.items[ds->src[i]].path : NULL;
}
int64_t sdd_dataset_length(const sdd_dataset *ds, int i) { return ok_index(ds, i) ? ds->len[i] : 0; }
const sdd_list_item *sdd_dataset_item(const sdd_dataset *ds, int i)
{
    return ok_index(ds, i) ? &ds->list.items[ds->src[i]] : NULL;
}
const int16_t *sdd_dataset_samples(const sdd_dataset *ds, int i) { return ok_index(ds, i) ? ds->pcm[i] : NULL; }
int sdd_dataset_sample_rate(const sdd_dataset *ds) { return ds ? ds->sr : 0; }
const char *sdd_dataset_list_path(const sdd_dataset *ds) { return ds ? ds->list_path : NULL; }
int sdd_dataset_list_format(const sdd_dataset *ds) { return ds ? ds->list.format : 0; }
size_t sdd_dataset_bytes(const sdd_dataset *ds) { return ds ? ds->bytes : 0; }
int64_t sdd_dataset_n_clipped(const sdd_dataset *ds) { return ds ? ds->clipped : 0; }
int64_t sdd_dataset_total_samples(const sdd_dataset *ds) { return ds ? ds->total : 0; }
int sdd_dataset_n_skipped(const sdd_dataset *ds) { return ds ? ds->nskipped : 0; }
const char *sdd_dataset_skipped(const sdd_dataset *ds, int k)
{
    return ds && k >= 0 && k < ds->nskipped ? ds->skipped[k] : NULL;
}

int sdd_dataset_class_counts(const sdd_dataset *ds, int64_t counts[2])
{
    counts[0] = counts[1] = 0;
    int none = 0;
    for (int i = 0; ds && i < ds->n; i++) {
        int lab = ds->list.items[ds->src[i]].label;
        if (lab == SDD_LABEL_SPOOF || lab == SDD_LABEL_BONAFIDE) counts[lab]++;
        else none++;
    }
    return none;
}

int sdd_dataset_ce_weights(const sdd_dataset *ds, float w[2], sdd_err *e)
{
    int64_t c[2];
    sdd_dataset_class_counts(ds, c);
    if (c[0] == 0 || c[1] == 0)
        return sdd_err_set(e, "%s: no %s items: class weights need both classes",
                           ds ? ds->list_path : "(no dataset)", c[0] == 0 ? "spoof" : "bonafide");
    const double tot = (double)(c[0] + c[1]);
    w[0] = (float)((double)c[1] / tot);
    w[1] = (float)((double)c[0] / tot);
    return 0;
}

/* ---- model inputs ---- */

/* Item i's int16 samples: the cache's, or for a streamed dataset decoded now
 * into *own (the caller frees it). -1 (e set when not NULL) for an item not
 * loaded or a file that no longer decodes. */
static int item_pcm(const sdd_dataset *ds, int i, const int16_t **q, int64_t *n, int16_t **own, sdd_err *e)
{
    *own = NULL;
    if (!ds->stream) {
        if (!ds->pcm[i]) return e ? sdd_err_set(e, "%s: not loaded (lazy dataset)", sdd_dataset_path(ds, i)) : -1;
        *q = ds->pcm[i];
        *n = ds->len[i];
        return 0;
    }
    int64_t clipped;
    char *msg = NULL;
    if (decode_item(&ds->list, ds->src[i], ds->list_path, ds->sr, &ds->ap, ds->max_samples, own, n, &clipped, &msg)) {
        if (e) sdd_err_set(e, "%s", msg ? msg : "out of memory decoding an item");
        free(msg);
        return -1;
    }
    if (*n != ds->len[i]) {   /* replaced since open: its length (and the callers' buffers) no longer hold */
        const sdd_list_item *it = &ds->list.items[ds->src[i]];
        if (e) sdd_err_set(e, "%s:%d: %s: %lld samples now, %lld when the set was opened (the file changed)", ds->list_path, it->line,
                           it->path, (long long)*n, (long long)ds->len[i]);
        free(*own);
        *own = NULL;
        return -1;
    }
    *q = *own;
    return 0;
}

/* n cached samples as floats */
static void q_to_float(const int16_t *q, int64_t n, float *out)
{
    const float s = 1.0f / SDD_DATASET_INT16_SCALE;
    for (int64_t t = 0; t < n; t++) out[t] = (float)q[t] * s;
}

int sdd_dataset_get_full(const sdd_dataset *ds, int i, float *out)
{
    const int16_t *q = NULL;
    int16_t *own = NULL;
    int64_t n = 0;
    if (!ok_index(ds, i) || !out || item_pcm(ds, i, &q, &n, &own, NULL)) return -1;
    q_to_float(q, n, out);
    free(own);
    return 0;
}

int64_t sdd_dataset_crop_offset(int64_t n, int64_t cut, int crop_mode, uint64_t key)
{
    if (crop_mode != SDD_CUT_RANDOM || n <= cut || cut < 1) return 0;
    const int64_t span = n - cut + 1;
    int64_t off = (int64_t)(sdd_rng_uniform_d(key, 0) * (double)span);
    if (off >= span) off = span - 1;
    return off;
}

/* out[0..cut) from x[0..n) (float or int16 source): a window at off when
 * n > cut, else x tiled. */
static void cut_f(const float *x, int64_t n, int64_t cut, int64_t off, float *out)
{
    if (n > cut) { memcpy(out, x + off, (size_t)cut * sizeof *out); return; }
    for (int64_t k = 0; k < cut; k += n) {
        int64_t take = cut - k < n ? cut - k : n;
        memcpy(out + k, x, (size_t)take * sizeof *out);
    }
}

static void cut_q(const int16_t *q, int64_t n, int64_t cut, int64_t off, float *out)
{
    if (n > cut) { q_to_float(q + off, cut, out); return; }
    for (int64_t k = 0; k < cut; k += n) q_to_float(q, cut - k < n ? cut - k : n, out + k);
}

/* sdd_dataset_get, _get_rawboost and _get_dual: the checks done, e may be
 * NULL. plain (may be NULL) gets the plain cut, out (may be NULL) the cut of
 * RawBoost algorithm algo (0: the plain cut), both at the same crop, from one
 * read of the item (one decode for a streamed dataset). */
static int get_impl(const sdd_dataset *ds, int i, int64_t cut, int crop_mode, uint64_t crop_key, int algo,
                    const sdd_rawboost_params *rb, uint64_t rb_key, float *plain, float *out, sdd_err *e)
{
    const int16_t *q = NULL;
    int16_t *own = NULL;
    int64_t n = 0;
    if (item_pcm(ds, i, &q, &n, &own, e)) return -1;
    const int64_t off = sdd_dataset_crop_offset(n, cut, crop_mode, crop_key);
    if (plain) cut_q(q, n, cut, off, plain);
    if (!out || algo == 0) {
        if (out) cut_q(q, n, cut, off, out);
        free(own);
        return 0;
    }
    float *full = malloc((size_t)n * sizeof *full);
    if (!full) { free(own); return e ? sdd_err_set(e, "%s: out of memory for %lld samples", sdd_dataset_path(ds, i), (long long)n) : -1; }
    q_to_float(q, n, full);
    free(own);
    int rc = 0;
    if (sdd_rawboost_apply(algo, full, n, full, rb, rb_key, e)) rc = e ? sdd_err_prefix(e, "%s", sdd_dataset_path(ds, i)) : -1;
    else cut_f(full, n, cut, off, out);
    free(full);
    return rc;
}

int sdd_dataset_get(const sdd_dataset *ds, int i, int64_t cut, int crop_mode, uint64_t key, float *out)
{
    if (!ok_index(ds, i) || !out || cut < 1) return -1;
    if (crop_mode != SDD_CUT_FIRST && crop_mode != SDD_CUT_RANDOM) return -1;
    return get_impl(ds, i, cut, crop_mode, key, 0, NULL, 0, NULL, out, NULL);
}

int sdd_dataset_get_rawboost(const sdd_dataset *ds, int i, int64_t cut, int crop_mode,
                             uint64_t crop_key, int algo, const sdd_rawboost_params *rb,
                             uint64_t rb_key, float *out, sdd_err *e)
{
    if (!ok_index(ds, i)) return sdd_err_set(e, "dataset: item %d out of range (0..%d)", i, ds ? ds->n - 1 : -1);
    if (!out || cut < 1) return sdd_err_set(e, "dataset: bad cut %lld", (long long)cut);
    if (crop_mode != SDD_CUT_FIRST && crop_mode != SDD_CUT_RANDOM)
        return sdd_err_set(e, "dataset: unknown crop mode %d", crop_mode);
    return get_impl(ds, i, cut, crop_mode, crop_key, algo, rb, rb_key, NULL, out, e);
}

int sdd_dataset_get_dual(const sdd_dataset *ds, int i, int64_t cut, int crop_mode, uint64_t crop_key, int algo,
                         const sdd_rawboost_params *rb, uint64_t rb_key, float *orig, float *aug, sdd_err *e)
{
    if (!orig || !aug) return sdd_err_set(e, "dataset: no output for the dual read");
    if (!ok_index(ds, i)) return sdd_err_set(e, "dataset: item %d out of range (0..%d)", i, ds ? ds->n - 1 : -1);
    if (cut < 1) return sdd_err_set(e, "dataset: bad cut %lld", (long long)cut);
    if (crop_mode != SDD_CUT_FIRST && crop_mode != SDD_CUT_RANDOM)
        return sdd_err_set(e, "dataset: unknown crop mode %d", crop_mode);
    return get_impl(ds, i, cut, crop_mode, crop_key, algo, rb, rb_key, orig, aug, e);
}
