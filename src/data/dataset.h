/* Datasets: a list or protocol file (any format sdd_list_load parses) plus an
 * audio folder, decoded into an in-memory int16 cache (at open; for lazy and
 * streamed datasets see below), and the functions
 * that turn a cached utterance into a model input (the reference cut, a
 * random crop, RawBoost on the full utterance before the cut).
 *
 * Cache. Every file is decoded to 16 kHz mono float (audio/decode.h) and
 * stored as int16 q = round(x * 32768), clipped to [-32768, 32767] (the
 * clipped samples are counted); a sample is read back as q / 32768. The
 * reference reads 16-bit FLAC with soundfile/librosa, which yields exactly
 * int16 / 32768, and libsndfile decodes 16-bit PCM to the same values, so for
 * the 16-bit 16 kHz files of the ASVspoof/In-the-Wild sets the cache is
 * lossless: what the model sees equals the decoded float bit for bit. (Scaling
 * by 32767 instead would move most samples by up to one LSB.) Resampled,
 * mixed-down or higher-resolution sources are rounded to the nearest 1/32768;
 * full-scale +1.0 is the one 16-bit value that clips (to 32767/32768).
 *
 * Bad files. A file that fails to decode is an error naming the list line
 * and the file (the default), or with p->skip_bad the item is dropped and its
 * message kept as a warning (sdd_dataset_n_skipped / sdd_dataset_skipped);
 * indices are then 0..count-1 over the kept items, in list order.
 *
 * Lazy datasets (p->lazy): the list is parsed and checked at open, and
 * nothing is decoded; sdd_dataset_load decodes one range of items at a time,
 * dropping the previous one, for sets scored once in order that would not
 * fit decoded (ASVspoof 2021 DF eval: 611,829 files). Items outside the
 * loaded range have length 0 and sdd_dataset_get* refuse them. With
 * p->probe, open also reads every file's header (sdd_audio_probe): what a
 * header shows wrong (a missing or empty file, a format libsndfile cannot
 * open, a cut WAV, a bad rate or channel count, too long) is open's error,
 * naming the lowest such line; what only decoding shows (corrupt frames, NaN
 * samples) is still sdd_dataset_load's.
 *
 * Streamed datasets (p->stream): every file is decoded at open as for the
 * cache (the same checks, errors and skips; lengths known) but nothing is
 * kept, and sdd_dataset_get* decode the file again on each read, to the same
 * values the cache would hold. For training sets larger than memory
 * (ASVspoof 5 train: 182,357 files), at the cost of a decode per read;
 * sdd_dataset_samples is then NULL. A file that no longer decodes at a read,
 * or decodes to another length than at open, is that read's error
 * ("LIST:LINE: FILE: reason").
 *
 * Thread safety: after sdd_dataset_open returns, a dataset is read-only and
 * every accessor and sdd_dataset_get* may be called from any number of
 * threads at once (a lazy one between calls of sdd_dataset_load). */
#ifndef SDD_DATA_DATASET_H
#define SDD_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "audio/rawboost.h"
#include "data/list.h"

#define SDD_DATASET_INT16_SCALE 32768.0f

/* crop modes of sdd_dataset_get */
enum {
    SDD_CUT_FIRST = 0,  /* the reference cut: first `cut` samples, shorter clips tiled (= sdd_cut_repeat) */
    SDD_CUT_RANDOM = 1, /* clovaai's pad_random: a random window of `cut` samples; shorter clips tiled */
};

typedef struct sdd_dataset sdd_dataset;

typedef struct {
    int sample_rate;     /* decode rate, Hz (16000) */
    int list_format;     /* sdd_list_format (SDD_LIST_AUTO) */
    int require_labels;  /* 1: every item must carry bonafide/spoof (training sets) */
    int skip_bad;        /* 0: a file that fails to decode is an error; 1: skip it with a warning */
    int64_t max_samples; /* cache at most this many samples per utterance (the first ones); 0 = whole.
                          * Note: RawBoost then sees the capped utterance, not the whole one. */
    double max_seconds;  /* longer files fail to decode; 0 = audio/decode.h's default (4 h) */
    int threads;         /* decoding threads (OpenMP): 0 = omp_get_max_threads(), 1 = serial */
    int lazy;            /* 1: decode nothing at open, a range at a time with sdd_dataset_load (skip_bad must be 0) */
    int probe;           /* with lazy, 1: every file's header is read at open (sdd_audio_probe, in parallel),
                          * so a missing, unreadable or wrong-format file is an error before any range is loaded */
    int stream;          /* 1: no cache: every file decoded at open to check it and measure it, then
                          * again each time sdd_dataset_get* reads it (not with lazy) */
    /* Optional progress report, called from one thread with (ctx, done, total)
     * now and then while decoding and once at the end. */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} sdd_dataset_params;

/* Defaults: 16000 Hz, auto format, labels required, errors on bad files,
 * whole utterances, decode's length limit, all OpenMP threads, no progress. */
sdd_dataset_params sdd_dataset_default_params(void);

/* Loads LIST_PATH (audio paths resolved against AUDIO_DIR, which may be NULL;
 * see sdd_list_load) and decodes every file into the cache. p may be NULL
 * (defaults). Returns 0, or -1 with e set and *ds NULL:
 *   "LIST:LINE: ID has no label (a training list needs bonafide or spoof)"
 *   "LIST:LINE: FILE: <decode error>"  (unless p->skip_bad)
 *   "LIST: every file failed to decode (first: ...)" (with p->skip_bad)
 * and list parse errors as sdd_list_load gives them. */
int sdd_dataset_open(sdd_dataset **ds, const char *list_path, const char *audio_dir,
                     const sdd_dataset_params *p, sdd_err *e);

/* Lazy datasets: frees the items decoded so far and decodes items
 * [first, first + count) as sdd_dataset_open would (in parallel, the same
 * cache values; a failing file is the error "LIST:LINE: FILE: reason" of the
 * lowest failing line, and then nothing is loaded). -1 with e set also for a
 * dataset that is not lazy or a range outside 0..count. */
int sdd_dataset_load(sdd_dataset *ds, int first, int count, sdd_err *e);

/* Frees everything; NULL is fine. */
void sdd_dataset_close(sdd_dataset *ds);

/* ---- accessors (i in [0, count)) ---- */
int sdd_dataset_count(const sdd_dataset *ds);
int sdd_dataset_is_lazy(const sdd_dataset *ds);                /* opened with p->lazy */
int sdd_dataset_label(const sdd_dataset *ds, int i);          /* sdd_label: -1 none, 0 spoof, 1 bonafide */
const char *sdd_dataset_id(const sdd_dataset *ds, int i);
const char *sdd_dataset_path(const sdd_dataset *ds, int i);
int64_t sdd_dataset_length(const sdd_dataset *ds, int i);     /* samples (0: not loaded, lazy) */
const sdd_list_item *sdd_dataset_item(const sdd_dataset *ds, int i); /* line, attack, speaker, ... */
const int16_t *sdd_dataset_samples(const sdd_dataset *ds, int i);    /* the cache of item i (NULL: not loaded, streamed) */
int sdd_dataset_sample_rate(const sdd_dataset *ds);
const char *sdd_dataset_list_path(const sdd_dataset *ds);
int sdd_dataset_list_format(const sdd_dataset *ds);          /* sdd_list_format actually used */

/* Bytes held by the dataset: the int16 cache plus per-item bookkeeping (the
 * parsed list's strings are counted approximately). */
size_t sdd_dataset_bytes(const sdd_dataset *ds);
/* Samples clipped while filling the cache (|x| beyond the int16 range); of the items held for a lazy dataset. */
int64_t sdd_dataset_n_clipped(const sdd_dataset *ds);
/* Total samples over all items (held in the cache, or for a streamed dataset read at open). */
int64_t sdd_dataset_total_samples(const sdd_dataset *ds);
/* Items skipped (p->skip_bad), and the message of skipped item k in list
 * order ("LIST:LINE: FILE: reason"). */
int sdd_dataset_n_skipped(const sdd_dataset *ds);
const char *sdd_dataset_skipped(const sdd_dataset *ds, int k);

/* Items per class: counts[0] spoof, counts[1] bonafide; returns the number of
 * unlabelled items. */
int sdd_dataset_class_counts(const sdd_dataset *ds, int64_t counts[2]);
/* Weighted cross-entropy weights from the class counts, inverse frequency
 * normalised to sum 1: w[c] = n[1-c] / (n[0] + n[1]). ASVspoof 2019 LA train
 * (22,800 spoof / 2,580 bonafide) gives (0.1017, 0.8983), the data behind the
 * reference's fixed [0.1, 0.9]. Returns -1 with e set when a class is empty. */
int sdd_dataset_ce_weights(const sdd_dataset *ds, float w[2], sdd_err *e);

/* ---- model inputs ---- */
/* The whole cached utterance i as float (length(i) samples) into out. */
int sdd_dataset_get_full(const sdd_dataset *ds, int i, float *out);

/* Window offset of the crop: with n = length(i) > cut and crop_mode
 * SDD_CUT_RANDOM, floor(U * (n - cut + 1)) with U = sdd_rng_uniform_d(key, 0),
 * so every window start 0..n-cut is possible (clovaai's randint(n - cut)
 * excludes the last one and fails at n == cut); otherwise 0. */
int64_t sdd_dataset_crop_offset(int64_t n, int64_t cut, int crop_mode, uint64_t key);

/* Writes the `cut`-sample model input for item i into out:
 *   SDD_CUT_FIRST   first cut samples; a clip shorter than cut is tiled
 *                   (repeated) first: identical to sdd_cut_repeat.
 *   SDD_CUT_RANDOM  clips longer than cut: the window at
 *                   sdd_dataset_crop_offset(n, cut, mode, key); clips of at
 *                   most cut samples: tiled as SDD_CUT_FIRST (as clovaai).
 * Returns 0, or -1 for a bad index, an item not loaded, cut < 1 or an unknown mode. */
int sdd_dataset_get(const sdd_dataset *ds, int i, int64_t cut, int crop_mode, uint64_t key, float *out);

/* As sdd_dataset_get, with RawBoost algorithm ALGO (0..8, params RB, key
 * RB_KEY) applied to the whole cached utterance first, as the reference
 * does, then the cut/crop (crop offset from CROP_KEY) of the augmented
 * signal. ALGO 0 is sdd_dataset_get (RB unused) with the reason of a failure
 * in e, e.g. a streamed file that no longer decodes. Allocates a scratch copy of the utterance. Returns 0 or -1 with e
 * set (bad arguments, RawBoost errors, out of memory). */
int sdd_dataset_get_rawboost(const sdd_dataset *ds, int i, int64_t cut, int crop_mode,
                             uint64_t crop_key, int algo, const sdd_rawboost_params *rb,
                             uint64_t rb_key, float *out, sdd_err *e);

/* Both paths of a dual-path row from one read of item i (one decode for a
 * streamed dataset): orig (cut) = sdd_dataset_get_rawboost with algorithm 0,
 * aug (cut) = the same with algo, rb and rb_key, at the same crop; the
 * values of those two calls. */
int sdd_dataset_get_dual(const sdd_dataset *ds, int i, int64_t cut, int crop_mode, uint64_t crop_key, int algo,
                         const sdd_rawboost_params *rb, uint64_t rb_key, float *orig, float *aug, sdd_err *e);

#endif
