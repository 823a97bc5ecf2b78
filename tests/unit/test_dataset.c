/* Tests for src/data/dataset.c and src/data/loader.c: a small dataset of WAV
 * and FLAC files generated in a temp dir (16 kHz, one at 8 kHz, a float WAV
 * for clipping) with a plain labelled list. Checks the int16 cache against
 * the decoded audio, the reference cut against sdd_cut_repeat, random crops,
 * RawBoost before the cut, class weights, the loader's epochs (each item once,
 * shuffles per epoch/seed, drop_last, dual/aug/orig rows with the documented
 * keys, identical batches for 0, 1 and 3 workers, epoch restarts), and the
 * missing-label and bad-file errors (and skipping). */
#include "check.h"
#include "audio/decode.h"
#include "audio/encode.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "models/infer.h"

#include <dirent.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NF 13          /* files in the main list */
#define CUT 1000

static char tmpdir[64];

#define tpath(name) check_tmp_path(tmpdir, (name))

static void put(const char *name, const char *text)
{
    FILE *f = fopen(tpath(name), "wb");
    if (!f) { perror(name); return; }
    fputs(text, f);
    fclose(f);
}

static uint32_t lcg = 777;
static float noise(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return (float)((lcg >> 8) / 16777216.0 - 0.5);
}

static int64_t file_len(int k) { return 300 + 173 * k; }  /* 300 .. 2376 samples */
static int file_sr(int k) { return k == 5 ? 8000 : 16000; }
static int file_label(int k) { return k % 3 == 0 ? 1 : 0; } /* 5 bonafide, 8 spoof */
static void file_name(int k, char *buf, size_t cap) { snprintf(buf, cap, "u%02d.%s", k, k % 2 ? "flac" : "wav"); }

static void make_files(void)
{
    char list[4096] = "# generated\n";
    for (int k = 0; k < NF; k++) {
        int64_t n = file_len(k);
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t t = 0; t < n; t++)
            x[t] = (float)(0.4 * sin(0.05 * (double)(t * (k + 1))) + 0.5 * noise());
        char name[32];
        file_name(k, name, sizeof name);
        sdd_err e;
        if (sdd_audio_save(tpath(name), x, n, file_sr(k), &e)) fprintf(stderr, "%s\n", e.msg);
        free(x);
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s %s\n", name, file_label(k) ? "bonafide" : "spoof");
    }
    put("train.lst", list);
}

/* A 32-bit float WAV (values beyond 16-bit full scale) for the clipping count. */
static void make_float_wav(const char *name, const float *x, int n)
{
    SF_INFO si;
    memset(&si, 0, sizeof si);
    si.samplerate = 16000;
    si.channels = 1;
    si.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE *sf = sf_open(tpath(name), SFM_WRITE, &si);
    if (!sf) { fprintf(stderr, "cannot write %s\n", name); return; }
    sf_command(sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    sf_writef_float(sf, x, n);
    sf_close(sf);
}

static sdd_dataset *open_ds(const char *list, int threads, sdd_err *e)
{
    sdd_dataset_params p = sdd_dataset_default_params();
    p.threads = threads;
    sdd_dataset *ds = NULL;
    e->msg[0] = 0;
    if (sdd_dataset_open(&ds, tpath(list), tmpdir, &p, e)) return NULL;
    return ds;
}

static void test_cache(sdd_dataset *ds)
{
    CHECK(sdd_dataset_count(ds) == NF);
    CHECK(sdd_dataset_sample_rate(ds) == 16000);
    CHECK(sdd_dataset_n_skipped(ds) == 0);
    CHECK(sdd_dataset_n_clipped(ds) == 0);
    CHECK(sdd_dataset_list_format(ds) == SDD_LIST_PLAIN);
    int64_t total = 0;
    int exact = 1, near = 1, lens = 1, meta = 1;
    for (int k = 0; k < NF; k++) {
        char name[32];
        file_name(k, name, sizeof name);
        float *x = NULL;
        int64_t n = 0;
        sdd_err e;
        if (sdd_audio_load(tpath(name), 16000, &x, &n, NULL, &e)) { CHECK_MSG(0, "%s", e.msg); continue; }
        if (sdd_dataset_length(ds, k) != n) lens = 0;
        if (file_sr(k) == 16000 && n != file_len(k)) lens = 0;
        if (strcmp(sdd_dataset_id(ds, k), name) || !strstr(sdd_dataset_path(ds, k), name) ||
            sdd_dataset_label(ds, k) != file_label(k) || sdd_dataset_item(ds, k)->line != k + 2)
            meta = 0;
        total += sdd_dataset_length(ds, k);
        const int16_t *q = sdd_dataset_samples(ds, k);
        float *full = malloc((size_t)n * sizeof *full);
        sdd_dataset_get_full(ds, k, full);
        for (int64_t t = 0; t < n && t < sdd_dataset_length(ds, k); t++) {
            /* 16-bit 16 kHz sources round-trip exactly; resampled ones round to 1/32768 */
            if (file_sr(k) == 16000 && full[t] != x[t]) exact = 0;
            if (q[t] != (int16_t)lrintf(x[t] * 32768.0f) || full[t] != q[t] / 32768.0f) near = 0;
        }
        free(full);
        free(x);
    }
    CHECK(lens);
    CHECK(meta);
    CHECK_MSG(exact, "16-bit 16 kHz files are not cached losslessly");
    CHECK_MSG(near, "cache is not round(x * 32768)");
    CHECK(sdd_dataset_total_samples(ds) == total);
    CHECK(sdd_dataset_bytes(ds) >= (size_t)total * 2);
    CHECK(sdd_dataset_bytes(ds) < (size_t)total * 2 + 65536);
    CHECK(sdd_dataset_length(ds, NF) == 0 && sdd_dataset_id(ds, -1) == NULL && sdd_dataset_samples(ds, NF) == NULL);

    int64_t c[2];
    CHECK(sdd_dataset_class_counts(ds, c) == 0);
    CHECK(c[0] == 8 && c[1] == 5);
    float w[2];
    sdd_err e;
    CHECK(sdd_dataset_ce_weights(ds, w, &e) == 0);
    CHECK_NEAR(w[0], 5.0 / 13, 1e-7);
    CHECK_NEAR(w[1], 8.0 / 13, 1e-7);
}

static void test_cuts(sdd_dataset *ds)
{
    float *full = malloc(8192 * sizeof *full), *a = malloc(8192 * sizeof *a), *b = malloc(8192 * sizeof *b);
    int first_ok = 1, short_rand_ok = 1, rand_ok = 1, det_ok = 1;
    for (int k = 0; k < NF; k++) {
        const int64_t n = sdd_dataset_length(ds, k);
        sdd_dataset_get_full(ds, k, full);
        const int64_t cuts[3] = { CUT, n, 3 * n + 7 };
        for (int ci = 0; ci < 3; ci++) {
            sdd_cut_repeat(full, n, cuts[ci], a);
            if (sdd_dataset_get(ds, k, cuts[ci], SDD_CUT_FIRST, 99, b) ||
                memcmp(a, b, (size_t)cuts[ci] * sizeof *a))
                first_ok = 0;
        }
        for (uint64_t key = 0; key < 20; key++) {
            if (sdd_dataset_get(ds, k, CUT, SDD_CUT_RANDOM, key, b)) { rand_ok = 0; continue; }
            if (n <= CUT) {
                sdd_cut_repeat(full, n, CUT, a);
                if (memcmp(a, b, CUT * sizeof *a)) short_rand_ok = 0;
                continue;
            }
            int64_t off = sdd_dataset_crop_offset(n, CUT, SDD_CUT_RANDOM, key);
            if (off < 0 || off > n - CUT || memcmp(full + off, b, CUT * sizeof *b)) rand_ok = 0;
            sdd_dataset_get(ds, k, CUT, SDD_CUT_RANDOM, key, a);
            if (memcmp(a, b, CUT * sizeof *a)) det_ok = 0;
        }
    }
    CHECK_MSG(first_ok, "SDD_CUT_FIRST differs from sdd_cut_repeat");
    CHECK_MSG(short_rand_ok, "random crop of a short clip is not the tiled clip");
    CHECK_MSG(rand_ok, "random crop is not a window of the utterance");
    CHECK_MSG(det_ok, "random crop is not deterministic per key");

    /* offsets cover every window start and are a function of the key */
    int seen[4] = { 0 };
    for (uint64_t key = 0; key < 400; key++) {
        int64_t off = sdd_dataset_crop_offset(CUT + 3, CUT, SDD_CUT_RANDOM, sdd_rng_key(5, key, 0, 0));
        if (off >= 0 && off <= 3) seen[off]++;
    }
    CHECK(seen[0] > 50 && seen[1] > 50 && seen[2] > 50 && seen[3] > 50);
    CHECK(seen[0] + seen[1] + seen[2] + seen[3] == 400);
    CHECK(sdd_dataset_crop_offset(CUT, CUT, SDD_CUT_RANDOM, 1) == 0);
    CHECK(sdd_dataset_crop_offset(5000, CUT, SDD_CUT_FIRST, 1) == 0);
    int distinct = 0;
    int64_t prev = -1;
    for (uint64_t key = 0; key < 10; key++) {
        int64_t off = sdd_dataset_crop_offset(100000, CUT, SDD_CUT_RANDOM, key);
        distinct += off != prev;
        prev = off;
    }
    CHECK(distinct >= 8);

    /* bad arguments */
    CHECK(sdd_dataset_get(ds, NF, CUT, SDD_CUT_FIRST, 0, a) == -1);
    CHECK(sdd_dataset_get(ds, 0, 0, SDD_CUT_FIRST, 0, a) == -1);
    CHECK(sdd_dataset_get(ds, 0, CUT, 7, 0, a) == -1);

    /* RawBoost on the whole utterance, then the cut */
    sdd_rawboost_params rb;
    sdd_rawboost_default_params(&rb);
    int rb_ok = 1, rb_changed = 0;
    sdd_err e;
    for (int k = 0; k < NF; k += 3) {
        const int64_t n = sdd_dataset_length(ds, k);
        for (int mode = SDD_CUT_FIRST; mode <= SDD_CUT_RANDOM; mode++) {
            const uint64_t rkey = sdd_rng_key(1, 2, (uint64_t)k, 3), ckey = sdd_rng_key(4, 5, (uint64_t)k, 6);
            sdd_dataset_get_full(ds, k, full);
            float *y = malloc((size_t)n * sizeof *y);
            if (sdd_rawboost_apply(4, full, n, y, &rb, rkey, &e)) { CHECK_MSG(0, "%s", e.msg); free(y); continue; }
            const int64_t off = sdd_dataset_crop_offset(n, CUT, mode, ckey);
            if (n > CUT) memcpy(a, y + off, CUT * sizeof *a);
            else sdd_cut_repeat(y, n, CUT, a);
            free(y);
            if (sdd_dataset_get_rawboost(ds, k, CUT, mode, ckey, 4, &rb, rkey, b, &e)) {
                CHECK_MSG(0, "%s", e.msg);
                continue;
            }
            if (memcmp(a, b, CUT * sizeof *a)) rb_ok = 0;
            sdd_dataset_get(ds, k, CUT, mode, ckey, a);
            if (memcmp(a, b, CUT * sizeof *a)) rb_changed++;
        }
    }
    CHECK_MSG(rb_ok, "RawBoost-then-cut differs from sdd_rawboost_apply on the full utterance then the cut");
    CHECK(rb_changed == 10);
    /* algo 0 is the plain input */
    CHECK(sdd_dataset_get_rawboost(ds, 1, CUT, SDD_CUT_RANDOM, 8, 0, &rb, 9, b, &e) == 0);
    sdd_dataset_get(ds, 1, CUT, SDD_CUT_RANDOM, 8, a);
    CHECK(memcmp(a, b, CUT * sizeof *a) == 0);
    CHECK(sdd_dataset_get_rawboost(ds, 1, CUT, SDD_CUT_FIRST, 0, 9, &rb, 0, b, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "algorithm");
    free(full); free(a); free(b);
}

/* ---- loader ---- */

/* Runs one epoch, appending wave/labels/index/aug of every batch to the
 * buffers (when given); returns the number of batches or -1. */
typedef struct {
    float *wave;
    int *lab, *idx;
    unsigned char *aug;
    int *nb;
    size_t rows, nbatch;
} epoch_rec;

static void rec_free(epoch_rec *r) { free(r->wave); free(r->lab); free(r->idx); free(r->aug); free(r->nb); memset(r, 0, sizeof *r); }

static int run_epoch(sdd_loader *ld, int epoch, epoch_rec *r, int64_t cut)
{
    sdd_err e;
    if (sdd_loader_start_epoch(ld, epoch, &e)) { fprintf(stderr, "%s\n", e.msg); return -1; }
    sdd_batch *b;
    int rc, nb = 0;
    while ((rc = sdd_loader_next(ld, &b, &e)) == 1) {
        if (b->batch != nb || b->epoch != epoch || b->cut != cut) return -1;
        nb++;
        if (!r) continue;
        r->wave = realloc(r->wave, (r->rows + (size_t)b->nb) * (size_t)cut * sizeof *r->wave);
        r->lab = realloc(r->lab, (r->rows + (size_t)b->nb) * sizeof *r->lab);
        r->idx = realloc(r->idx, (r->rows + (size_t)b->nb) * sizeof *r->idx);
        r->aug = realloc(r->aug, r->rows + (size_t)b->nb);
        r->nb = realloc(r->nb, (r->nbatch + 1) * sizeof *r->nb);
        memcpy(r->wave + r->rows * (size_t)cut, b->wave, (size_t)b->nb * (size_t)cut * sizeof *b->wave);
        memcpy(r->lab + r->rows, b->labels, (size_t)b->nb * sizeof *b->labels);
        memcpy(r->idx + r->rows, b->index, (size_t)b->nb * sizeof *b->index);
        memcpy(r->aug + r->rows, b->aug, (size_t)b->nb);
        r->nb[r->nbatch++] = b->nb;
        r->rows += (size_t)b->nb;
    }
    if (rc < 0) { fprintf(stderr, "%s\n", e.msg); return -1; }
    if (sdd_loader_next(ld, &b, &e) != 0 || b) return -1; /* stays at the end */
    return nb;
}

static int same_rec(const epoch_rec *a, const epoch_rec *b, int64_t cut)
{
    return a->rows == b->rows && a->nbatch == b->nbatch && a->rows > 0 &&
           !memcmp(a->wave, b->wave, a->rows * (size_t)cut * sizeof *a->wave) &&
           !memcmp(a->lab, b->lab, a->rows * sizeof *a->lab) &&
           !memcmp(a->idx, b->idx, a->rows * sizeof *a->idx) &&
           !memcmp(a->aug, b->aug, a->rows) && !memcmp(a->nb, b->nb, a->nbatch * sizeof *a->nb);
}

static sdd_loader *mk_loader(const sdd_dataset *ds, sdd_loader_params p)
{
    sdd_loader *ld = NULL;
    sdd_err e;
    if (sdd_loader_create(&ld, ds, &p, &e)) fprintf(stderr, "%s\n", e.msg);
    return ld;
}

static void test_loader(const sdd_dataset *ds)
{
    sdd_loader_params p = sdd_loader_default_params();
    CHECK(p.batch_size == 5 && p.cut == 66800 && p.mode == SDD_LOADER_DUAL && p.drop_last && p.rb_algo == 4);
    p.batch_size = 4;
    p.cut = CUT;
    p.mode = SDD_LOADER_ORIG;
    p.drop_last = 0;
    p.workers = 0;
    p.seed = 1;

    /* every item exactly once; order differs between epochs and seeds */
    sdd_loader *ld = mk_loader(ds, p);
    CHECK(ld != NULL);
    if (!ld) return;
    sdd_batch *b;
    sdd_err e;
    CHECK(sdd_loader_next(ld, &b, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no epoch started");
    CHECK(sdd_loader_batches_per_epoch(ld) == 4);
    epoch_rec r0 = { 0 }, r1 = { 0 }, r2 = { 0 };
    CHECK(run_epoch(ld, 0, &r0, CUT) == 4);
    CHECK(r0.rows == NF && r0.nb[3] == 1);
    int seen[NF] = { 0 }, once = 1, lab_ok = 1, wave_ok = 1;
    float *a = malloc(CUT * sizeof *a);
    for (size_t i = 0; i < r0.rows; i++) {
        if (r0.idx[i] < 0 || r0.idx[i] >= NF) { once = 0; continue; }
        seen[r0.idx[i]]++;
        if (r0.lab[i] != sdd_dataset_label(ds, r0.idx[i]) || r0.aug[i]) lab_ok = 0;
        sdd_dataset_get(ds, r0.idx[i], CUT, SDD_CUT_FIRST, 0, a);
        if (memcmp(a, r0.wave + i * CUT, CUT * sizeof *a)) wave_ok = 0;
    }
    for (int k = 0; k < NF; k++) once &= seen[k] == 1;
    CHECK_MSG(once, "an item is missing or repeated in the epoch");
    CHECK(lab_ok);
    CHECK(wave_ok);
    const int *ord = sdd_loader_order(ld);
    int in_order = 1;
    for (int k = 0; k < NF; k++) in_order &= ord[k] == r0.idx[k];
    CHECK(in_order);
    CHECK(run_epoch(ld, 1, &r1, CUT) == 4);
    CHECK(r1.rows == NF && memcmp(r0.idx, r1.idx, NF * sizeof *r0.idx) != 0);
    CHECK(run_epoch(ld, 0, &r2, CUT) == 4);
    CHECK_MSG(same_rec(&r0, &r2, CUT), "epoch 0 again differs");
    rec_free(&r1);
    rec_free(&r2);
    sdd_loader_stats st;
    sdd_loader_get_stats(ld, &st);
    CHECK(st.batches == 12 && st.waits == 12 && st.wait_s >= 0 && st.build_s > 0);
    sdd_loader_reset_stats(ld);
    sdd_loader_get_stats(ld, &st);
    CHECK(st.batches == 0 && st.wait_s == 0);
    sdd_loader_destroy(ld);

    p.seed = 2;
    ld = mk_loader(ds, p);
    CHECK(run_epoch(ld, 0, &r1, CUT) == 4);
    CHECK(memcmp(r0.idx, r1.idx, NF * sizeof *r0.idx) != 0);
    rec_free(&r1);
    sdd_loader_destroy(ld);

    /* no shuffle: list order */
    p.shuffle = 0;
    ld = mk_loader(ds, p);
    CHECK(run_epoch(ld, 3, &r1, CUT) == 4);
    int listorder = r1.rows == NF;
    for (size_t i = 0; listorder && i < r1.rows; i++) listorder = r1.idx[i] == (int)i;
    CHECK(listorder);
    rec_free(&r1);
    sdd_loader_destroy(ld);
    p.shuffle = 1;

    /* drop_last: 3 full batches of distinct items */
    p.drop_last = 1;
    p.seed = 1;
    ld = mk_loader(ds, p);
    CHECK(sdd_loader_batches_per_epoch(ld) == 3);
    CHECK(run_epoch(ld, 0, &r1, CUT) == 3);
    int dl_ok = r1.rows == 12 && r1.nb[0] == 4 && r1.nb[2] == 4;
    int dseen[NF] = { 0 };
    for (size_t i = 0; i < r1.rows; i++) if (dseen[r1.idx[i]]++) dl_ok = 0;
    CHECK(dl_ok);
    CHECK(r1.rows == 12 && memcmp(r0.idx, r1.idx, 12 * sizeof *r0.idx) == 0); /* same shuffle */
    rec_free(&r1);
    sdd_loader_destroy(ld);
    rec_free(&r0);

    /* dual mode, random crops: rows, keys, and 0 / 1 / 3 workers identical */
    p.mode = SDD_LOADER_DUAL;
    p.crop_mode = SDD_CUT_RANDOM;
    p.drop_last = 0;
    p.seed = 42;
    p.batch_size = 3;
    epoch_rec w[3][2];
    memset(w, 0, sizeof w);
    const int nw[3] = { 0, 1, 3 };
    for (int wi = 0; wi < 3; wi++) {
        p.workers = nw[wi];
        p.prefetch = wi == 2 ? 2 : 0; /* fewer slots than workers too */
        ld = mk_loader(ds, p);
        CHECK(ld != NULL);
        if (!ld) continue;
        CHECK(run_epoch(ld, 0, &w[wi][0], CUT) == 5);
        CHECK(run_epoch(ld, 1, &w[wi][1], CUT) == 5);
        sdd_loader_destroy(ld);
    }
    CHECK_MSG(same_rec(&w[0][0], &w[1][0], CUT) && same_rec(&w[0][1], &w[1][1], CUT), "0 vs 1 worker differ");
    CHECK_MSG(same_rec(&w[0][0], &w[2][0], CUT) && same_rec(&w[0][1], &w[2][1], CUT), "0 vs 3 workers differ");
    CHECK(w[0][0].rows == 2 * NF && w[0][0].nb[4] == 2);
    int dual_ok = 1, keys_ok = 1;
    size_t row = 0;
    float *c = malloc(CUT * sizeof *c);
    for (size_t bi = 0; bi < w[0][0].nbatch; bi++) {
        const int nb = w[0][0].nb[bi], h = nb / 2;
        for (int r = 0; r < h; r++) {
            const size_t o = row + (size_t)r, q = row + (size_t)(r + h);
            const int u = w[0][0].idx[o];
            if (w[0][0].aug[o] != 0 || w[0][0].aug[q] != 1 || w[0][0].idx[q] != u ||
                w[0][0].lab[o] != w[0][0].lab[q] || w[0][0].lab[o] != sdd_dataset_label(ds, u))
                dual_ok = 0;
            const uint64_t kc = sdd_rng_key(42, 0, (uint64_t)u, SDD_PURPOSE_CROP);
            const uint64_t kr = sdd_rng_key(42, 0, (uint64_t)u, SDD_PURPOSE_RAWB);
            sdd_dataset_get(ds, u, CUT, SDD_CUT_RANDOM, kc, a);
            if (sdd_dataset_get_rawboost(ds, u, CUT, SDD_CUT_RANDOM, kc, 4, &p.rb, kr, c, &e)) keys_ok = 0;
            if (memcmp(a, w[0][0].wave + o * CUT, CUT * sizeof *a) ||
                memcmp(c, w[0][0].wave + q * CUT, CUT * sizeof *c))
                keys_ok = 0;
        }
        row += (size_t)nb;
    }
    CHECK_MSG(dual_ok, "dual batch is not [originals | copies] with the same items and labels");
    CHECK_MSG(keys_ok, "loader rows differ from the dataset calls with the documented keys");
    CHECK(memcmp(w[0][0].wave, w[0][1].wave, CUT * sizeof *a) != 0);

    /* aug mode = the copies of the dual batches; epoch restart mid-way */
    p.mode = SDD_LOADER_AUG;
    p.workers = 2;
    p.prefetch = 3;
    ld = mk_loader(ds, p);
    if (ld) {
        CHECK(sdd_loader_start_epoch(ld, 0, &e) == 0);
        CHECK(sdd_loader_next(ld, &b, &e) == 1 && b && b->n_orig == 0);
        CHECK(sdd_loader_start_epoch(ld, 1, &e) == 0);   /* abandon epoch 0 after one batch */
        CHECK(sdd_loader_next(ld, &b, &e) == 1 && b && b->epoch == 1 && b->batch == 0);
        epoch_rec ra = { 0 };
        CHECK(run_epoch(ld, 0, &ra, CUT) == 5);
        int aug_ok = ra.rows == NF;
        row = 0;
        size_t ar = 0;
        for (size_t bi = 0; aug_ok && bi < w[0][0].nbatch; bi++) {
            const int h = w[0][0].nb[bi] / 2;
            for (int r = 0; r < h; r++, ar++)
                if (!ra.aug[ar] || ra.idx[ar] != w[0][0].idx[row + (size_t)(r + h)] ||
                    memcmp(ra.wave + ar * CUT, w[0][0].wave + (row + (size_t)(r + h)) * CUT, CUT * sizeof *a))
                    aug_ok = 0;
            row += (size_t)w[0][0].nb[bi];
        }
        CHECK_MSG(aug_ok, "aug batches are not the dual batches' copies");
        rec_free(&ra);
        sdd_loader_get_stats(ld, &st);
        CHECK(st.batches == 7 && st.build_s > 0);
        sdd_loader_destroy(ld);
    }
    for (int wi = 0; wi < 3; wi++) { rec_free(&w[wi][0]); rec_free(&w[wi][1]); }

    /* bad parameters */
    sdd_loader *bad = NULL;
    sdd_loader_params q = p;
    q.batch_size = 0;
    CHECK(sdd_loader_create(&bad, ds, &q, &e) == -1 && bad == NULL);
    CHECK_STR_CONTAINS(e.msg, "batch size");
    q = p;
    q.rb.minF = -1;
    CHECK(sdd_loader_create(&bad, ds, &q, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--rb-minf");
    q.mode = SDD_LOADER_ORIG; /* no copies: RawBoost params unused */
    CHECK(sdd_loader_create(&bad, ds, &q, &e) == 0);
    sdd_loader_destroy(bad);
    sdd_loader_destroy(NULL);
    free(a);
    free(c);
}

/* lazy datasets (sdd_train's --eval sets): nothing decoded at open, one range
 * at a time after, the same cache values as an eager open with the same cap */
static void test_lazy(const sdd_dataset *eager)
{
    sdd_err e;
    sdd_dataset *ds = NULL, *capped = NULL;
    sdd_dataset_params p = sdd_dataset_default_params();
    p.threads = 2;
    p.lazy = 1;
    p.max_samples = 1000;
    CHECK_MSG(sdd_dataset_open(&ds, tpath("train.lst"), tmpdir, &p, &e) == 0, "%s", e.msg);
    if (!ds) return;
    sdd_dataset_params q = p;
    q.lazy = 0;
    CHECK_MSG(sdd_dataset_open(&capped, tpath("train.lst"), tmpdir, &q, &e) == 0, "%s", e.msg);
    CHECK(sdd_dataset_is_lazy(ds) && !sdd_dataset_is_lazy(eager) && sdd_dataset_count(ds) == NF);
    CHECK(sdd_dataset_total_samples(ds) == 0 && sdd_dataset_length(ds, 0) == 0 && !sdd_dataset_samples(ds, 0));
    float out[CUT];
    CHECK(sdd_dataset_get(ds, 0, CUT, SDD_CUT_FIRST, 0, out) == -1);
    CHECK(sdd_dataset_get_rawboost(ds, 0, CUT, SDD_CUT_FIRST, 0, 4, NULL, 0, out, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "not loaded (lazy dataset)");
    for (int round = 0; round < 2; round++) {
        const int lo = round ? 9 : 2, cnt = round ? NF - 9 : 5;
        CHECK_MSG(sdd_dataset_load(ds, lo, cnt, &e) == 0, "%s", e.msg);
        int same = 1;
        int64_t tot = 0;
        for (int k = 0; k < NF && capped; k++) {
            const int in = k >= lo && k < lo + cnt;
            const int64_t n = sdd_dataset_length(ds, k);
            tot += n;
            if (!in) { same &= n == 0 && sdd_dataset_get(ds, k, CUT, SDD_CUT_FIRST, 0, out) == -1; continue; }
            float ref[CUT];
            same &= n == sdd_dataset_length(capped, k) && n <= 1000 &&
                    !memcmp(sdd_dataset_samples(ds, k), sdd_dataset_samples(capped, k), (size_t)n * sizeof(int16_t)) &&
                    sdd_dataset_get(ds, k, CUT, SDD_CUT_FIRST, 0, out) == 0 &&
                    sdd_dataset_get(eager, k, CUT, SDD_CUT_FIRST, 0, ref) == 0 && !memcmp(out, ref, sizeof out);
        }
        CHECK_MSG(same, "lazy range [%d, %d): not the eager cache's values, or other items loaded", lo, lo + cnt);
        CHECK(tot == sdd_dataset_total_samples(ds));
    }
    CHECK(sdd_dataset_load(ds, 0, 0, &e) == 0 && sdd_dataset_total_samples(ds) == 0);
    CHECK(sdd_dataset_load(ds, 10, NF, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "outside 0..13");
    CHECK(sdd_dataset_load((sdd_dataset *)eager, 0, 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "not a lazy dataset");
    sdd_dataset_close(ds);
    sdd_dataset_close(capped);
    /* a bad file is found when its range is loaded, naming its line; then nothing is loaded */
    put("lazybad.lst", "u00.wav spoof\nu01.flac bonafide\nmissing.wav spoof\nu02.wav spoof\n");
    p.max_samples = 0;
    CHECK_MSG(sdd_dataset_open(&ds, tpath("lazybad.lst"), tmpdir, &p, &e) == 0, "%s", e.msg);
    if (ds) {
        CHECK(sdd_dataset_load(ds, 0, 2, &e) == 0 && sdd_dataset_length(ds, 1) == file_len(1));
        CHECK(sdd_dataset_load(ds, 1, 3, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "lazybad.lst:3: ");
        CHECK_STR_CONTAINS(e.msg, "missing.wav");
        CHECK(sdd_dataset_length(ds, 1) == 0 && sdd_dataset_total_samples(ds) == 0);
        CHECK(sdd_dataset_load(ds, 3, 1, &e) == 0 && sdd_dataset_length(ds, 3) == file_len(2));
        sdd_dataset_close(ds);
    }
    /* with probe, open reads every header: the missing file is open's error */
    p.probe = 1;
    ds = (sdd_dataset *)1;
    CHECK(sdd_dataset_open(&ds, tpath("lazybad.lst"), tmpdir, &p, &e) == -1 && ds == NULL);
    CHECK_STR_CONTAINS(e.msg, "lazybad.lst:3: ");
    CHECK_STR_CONTAINS(e.msg, "missing.wav: No such file or directory");
    /* ... the lowest bad line, with several: an empty file on line 2 */
    put("empty.wav", "");
    put("lazybad2.lst", "u00.wav spoof\nempty.wav bonafide\nmissing.wav spoof\nu02.wav spoof\n");
    CHECK(sdd_dataset_open(&ds, tpath("lazybad2.lst"), tmpdir, &p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "lazybad2.lst:2: ");
    CHECK_STR_CONTAINS(e.msg, "empty file");
    /* ... but a fault only decoding shows (a FLAC cut after its header) is still the load's */
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "f=%s; head -c $(($(stat -c %%s $f) / 2)) $f > %s", tpath("u11.flac"), tpath("cut.flac"));
    CHECK(system(cmd) == 0);
    put("lazycut.lst", "u00.wav spoof\nu01.flac bonafide\ncut.flac spoof\n");
    CHECK_MSG(sdd_dataset_open(&ds, tpath("lazycut.lst"), tmpdir, &p, &e) == 0, "%s", e.msg);
    if (ds) {
        CHECK(sdd_dataset_count(ds) == 3 && sdd_dataset_total_samples(ds) == 0);
        CHECK(sdd_dataset_load(ds, 0, 3, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "lazycut.lst:3: ");
        CHECK_STR_CONTAINS(e.msg, "cut.flac: ");
        sdd_dataset_close(ds);
    }
    p.probe = 0;
    p.skip_bad = 1;
    ds = (sdd_dataset *)1;
    CHECK(sdd_dataset_open(&ds, tpath("lazybad.lst"), tmpdir, &p, &e) == -1 && ds == NULL);
    CHECK_STR_CONTAINS(e.msg, "a lazy dataset cannot skip bad files");
}

/* streamed datasets (sdd train --cache none): checked at open, nothing kept,
 * every read decoded again to the values of the cache */
static void test_stream(const sdd_dataset *eager)
{
    sdd_err e;
    sdd_dataset *ds = NULL;
    sdd_dataset_params p = sdd_dataset_default_params();
    p.threads = 2;
    p.stream = 1;
    CHECK_MSG(sdd_dataset_open(&ds, tpath("train.lst"), tmpdir, &p, &e) == 0, "%s", e.msg);
    if (!ds) return;
    CHECK(sdd_dataset_count(ds) == NF && sdd_dataset_total_samples(ds) == sdd_dataset_total_samples(eager));
    CHECK(sdd_dataset_bytes(ds) < sdd_dataset_bytes(eager) - (size_t)sdd_dataset_total_samples(eager));
    sdd_rawboost_params rb;
    sdd_rawboost_default_params(&rb);
    int same = 1;
    for (int k = 0; k < NF; k++) {
        const int64_t n = sdd_dataset_length(ds, k);
        float a[CUT], b[CUT], *fa = malloc((size_t)n * sizeof *fa), *fb = malloc((size_t)n * sizeof *fb);
        same &= n == sdd_dataset_length(eager, k) && !sdd_dataset_samples(ds, k) && fa && fb;
        same &= sdd_dataset_get_full(ds, k, fa) == 0 && sdd_dataset_get_full(eager, k, fb) == 0 && !memcmp(fa, fb, (size_t)n * sizeof *fa);
        for (int mode = 0; mode < 2; mode++) {
            same &= sdd_dataset_get(ds, k, CUT, mode, 77 + k, a) == 0 && sdd_dataset_get(eager, k, CUT, mode, 77 + k, b) == 0 &&
                    !memcmp(a, b, sizeof a);
            same &= sdd_dataset_get_rawboost(ds, k, CUT, mode, 5, 4, &rb, 9 + k, a, &e) == 0 &&
                    sdd_dataset_get_rawboost(eager, k, CUT, mode, 5, 4, &rb, 9 + k, b, &e) == 0 && !memcmp(a, b, sizeof a);
            /* the dual read (one decode): the two calls' values, streamed or cached */
            float o[CUT], g[CUT];
            for (int src = 0; src < 2; src++) {
                same &= sdd_dataset_get_dual(src ? eager : ds, k, CUT, mode, 5, 4, &rb, 9 + k, o, g, &e) == 0 && !memcmp(g, b, sizeof b) &&
                        sdd_dataset_get(eager, k, CUT, mode, 5, a) == 0 && !memcmp(o, a, sizeof a);
            }
        }
        free(fa);
        free(fb);
    }
    CHECK_MSG(same, "a streamed read differs from the cache's");
    sdd_dataset_close(ds);
    /* bad files: skipped at open as for the cache; a file gone after open is the read's error, naming its line */
    put("streambad.lst", "u00.wav spoof\nmissing.wav spoof\ngone.wav bonafide\nu02.wav spoof\n");
    char src[300];
    snprintf(src, sizeof src, "cp %s %s", tpath("u02.wav"), tpath("gone.wav"));
    CHECK(system(src) == 0);
    p.skip_bad = 1;
    CHECK_MSG(sdd_dataset_open(&ds, tpath("streambad.lst"), tmpdir, &p, &e) == 0, "%s", e.msg);
    if (ds) {
        CHECK(sdd_dataset_count(ds) == 3 && sdd_dataset_n_skipped(ds) == 1);
        CHECK_STR_CONTAINS(sdd_dataset_skipped(ds, 0), "streambad.lst:2: ");
        unlink(tpath("gone.wav"));
        float a[CUT];
        CHECK(sdd_dataset_get(ds, 1, CUT, SDD_CUT_FIRST, 0, a) == -1);
        CHECK(sdd_dataset_get_rawboost(ds, 1, CUT, SDD_CUT_FIRST, 0, 0, NULL, 0, a, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "streambad.lst:3: ");
        CHECK_STR_CONTAINS(e.msg, "gone.wav");
        float g[CUT];
        CHECK(sdd_dataset_get_dual(ds, 1, CUT, SDD_CUT_FIRST, 0, 4, &rb, 0, a, g, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "streambad.lst:3: ");
        CHECK(sdd_dataset_get(ds, 2, CUT, SDD_CUT_FIRST, 0, a) == 0);
        /* replaced by a longer file: refused, the buffers sized at open would not hold it */
        snprintf(src, sizeof src, "cp %s %s", tpath("u05.flac"), tpath("gone.wav"));
        CHECK(system(src) == 0);
        float *full = malloc((size_t)sdd_dataset_length(ds, 1) * sizeof *full);
        CHECK(full && sdd_dataset_get_full(ds, 1, full) == -1);
        CHECK(sdd_dataset_get_rawboost(ds, 1, CUT, SDD_CUT_FIRST, 0, 0, NULL, 0, a, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "streambad.lst:3: ");
        CHECK_STR_CONTAINS(e.msg, "(the file changed)");
        free(full);
        sdd_dataset_close(ds);
    }
    p.skip_bad = 0;
    p.lazy = 1;
    ds = (sdd_dataset *)1;
    CHECK(sdd_dataset_open(&ds, tpath("train.lst"), tmpdir, &p, &e) == -1 && ds == NULL);
    CHECK_STR_CONTAINS(e.msg, "lazy or streamed, not both");
}

static void test_errors(void)
{
    sdd_err e;
    sdd_dataset *ds;
    sdd_dataset_params p = sdd_dataset_default_params();

    /* missing label */
    put("nolab.lst", "u00.wav bonafide\nu01.flac spoof\nu02.wav\n");
    ds = (sdd_dataset *)1;
    CHECK(sdd_dataset_open(&ds, tpath("nolab.lst"), tmpdir, &p, &e) == -1 && ds == NULL);
    CHECK_STR_CONTAINS(e.msg, "nolab.lst:3: u02.wav has no label");
    p.require_labels = 0;
    CHECK(sdd_dataset_open(&ds, tpath("nolab.lst"), tmpdir, &p, &e) == 0);
    if (ds) {
        CHECK(sdd_dataset_count(ds) == 3 && sdd_dataset_label(ds, 2) == SDD_LABEL_NONE);
        int64_t c[2];
        CHECK(sdd_dataset_class_counts(ds, c) == 1 && c[0] == 1 && c[1] == 1);
        sdd_dataset_close(ds);
    }
    p.require_labels = 1;

    /* a list whose labels cover one class only: no CE weights */
    put("one.lst", "u00.wav spoof\n");
    CHECK(sdd_dataset_open(&ds, tpath("one.lst"), tmpdir, &p, &e) == 0);
    float w[2];
    CHECK(sdd_dataset_ce_weights(ds, w, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no bonafide items");
    sdd_dataset_close(ds);

    /* unreadable files: a missing one (line 3) and a non-audio one (line 5) */
    put("junk.wav", "this is not audio\n");
    put("bad.lst", "u00.wav spoof\nu01.flac bonafide\nmissing.wav spoof\nu02.wav spoof\njunk.wav bonafide\n");
    for (int th = 1; th <= 2; th++) {
        p.threads = th;
        ds = (sdd_dataset *)1;
        CHECK(sdd_dataset_open(&ds, tpath("bad.lst"), tmpdir, &p, &e) == -1 && ds == NULL);
        CHECK_STR_CONTAINS(e.msg, "bad.lst:3: ");
        CHECK_STR_CONTAINS(e.msg, "missing.wav");
    }
    p.skip_bad = 1;
    CHECK(sdd_dataset_open(&ds, tpath("bad.lst"), tmpdir, &p, &e) == 0);
    if (ds) {
        CHECK(sdd_dataset_count(ds) == 3);
        CHECK(sdd_dataset_n_skipped(ds) == 2);
        CHECK_STR_CONTAINS(sdd_dataset_skipped(ds, 0), "bad.lst:3: ");
        CHECK_STR_CONTAINS(sdd_dataset_skipped(ds, 1), "bad.lst:5: ");
        CHECK_STR_CONTAINS(sdd_dataset_skipped(ds, 1), "junk.wav");
        CHECK(sdd_dataset_skipped(ds, 2) == NULL);
        CHECK(strcmp(sdd_dataset_id(ds, 2), "u02.wav") == 0 && sdd_dataset_item(ds, 2)->line == 4);
        CHECK(sdd_dataset_length(ds, 2) == file_len(2));
        sdd_dataset_close(ds);
    }
    put("allbad.lst", "missing.wav spoof\njunk.wav spoof\n");
    CHECK(sdd_dataset_open(&ds, tpath("allbad.lst"), tmpdir, &p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "every file failed to decode");
    p.skip_bad = 0;
    p.threads = 0;

    put("empty.lst", "# nothing\n");
    CHECK(sdd_dataset_open(&ds, tpath("empty.lst"), tmpdir, &p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "empty.lst: no entries");
    CHECK(sdd_dataset_open(&ds, tpath("nosuch.lst"), tmpdir, &p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "nosuch.lst");

    /* clipping count and max_samples */
    const float xs[6] = { 0.25f, 1.0f, 1.5f, -1.2f, -1.0f, 0.5f };
    make_float_wav("clip.wav", xs, 6);
    put("clip.lst", "clip.wav bonafide\nu04.wav spoof\n");
    p.max_samples = 5;
    CHECK(sdd_dataset_open(&ds, tpath("clip.lst"), tmpdir, &p, &e) == 0);
    if (ds) {
        const int16_t *q = sdd_dataset_samples(ds, 0);
        CHECK(sdd_dataset_length(ds, 0) == 5 && sdd_dataset_length(ds, 1) == 5);
        CHECK(q[0] == 8192 && q[1] == 32767 && q[2] == 32767 && q[3] == -32768 && q[4] == -32768);
        CHECK(sdd_dataset_n_clipped(ds) == 3);
        sdd_dataset_close(ds);
    }
    sdd_dataset_close(NULL);
}

static int n_progress, last_done;
static void progress(void *ctx, int done, int total)
{
    (void)ctx;
    n_progress++;
    if (done < last_done || done > total) n_progress = -1000;
    last_done = done;
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sdd_dataset_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    make_files();

    sdd_err e;
    sdd_dataset *ds = open_ds("train.lst", 1, &e);
    CHECK_MSG(ds != NULL, "%s", e.msg);
    sdd_dataset_params p = sdd_dataset_default_params();
    p.threads = 2;
    p.progress = progress;
    sdd_dataset *ds2 = NULL;
    CHECK(sdd_dataset_open(&ds2, tpath("train.lst"), tmpdir, &p, &e) == 0);
    CHECK(n_progress >= 1 && last_done == NF);
    if (ds && ds2) {
        int same = sdd_dataset_count(ds2) == NF;
        for (int k = 0; same && k < NF; k++)
            same = sdd_dataset_length(ds, k) == sdd_dataset_length(ds2, k) &&
                   !memcmp(sdd_dataset_samples(ds, k), sdd_dataset_samples(ds2, k),
                           (size_t)sdd_dataset_length(ds, k) * sizeof(int16_t));
        CHECK_MSG(same, "1 and 2 decoding threads give different caches");
    }
    sdd_dataset_close(ds2);
    if (ds) {
        test_cache(ds);
        test_cuts(ds);
        test_loader(ds);
        test_lazy(ds);
        test_stream(ds);
        sdd_dataset_close(ds);
    }
    test_errors();

    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) unlink(tpath(de->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
    return CHECK_DONE("test_dataset");
}
