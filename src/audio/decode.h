/* Audio decoding: any format the installed libsndfile reads (WAV, FLAC,
 * OGG/Vorbis, Opus, MP3, AIFF, ...), mixed to mono by averaging the channels
 * and resampled with libsoxr (SOXR_HQ, float32) to the rate the caller asks
 * for. Decoding is streamed in bounded blocks: besides the output only one
 * block of input and the resampler state are held in memory.
 * Also owns the "is this an audio file name" test used by list parsing and
 * directory scans. */
#ifndef SDD_AUDIO_DECODE_H
#define SDD_AUDIO_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

/* What the file held before mixing and resampling. */
typedef struct sdd_audio_info {
    int sample_rate;   /* original rate in Hz */
    int channels;      /* original channel count */
    int64_t frames;    /* frames actually decoded (per channel, original rate) */
    int sf_format;     /* libsndfile SF_FORMAT_* code (major | subtype) */
    char format[96];   /* e.g. "WAV (Microsoft), Signed 16 bit PCM" */
} sdd_audio_info;

typedef struct sdd_audio_params {
    double max_seconds; /* longer inputs are rejected; default 4 hours */
    int64_t head;       /* > 0: keep only the first `head` output samples, the
                           same ones a whole decode starts with; the rest of
                           the file is still read and checked (NaN/Inf,
                           truncation, max_seconds: the same errors as a whole
                           decode) but not kept or resampled, so memory does
                           not grow with the file. 0 (default): all samples */
    int64_t max_stream; /* a pipe, FIFO or device cannot seek, so it is read
                           whole into memory first (then any format decodes
                           as from a file, and a streaming writer's "unknown"
                           WAV length is the real one); more bytes than this
                           are refused. 0: the default, 1 GiB */
} sdd_audio_params;

/* Fills *p with the defaults (max_seconds = 14400, head = 0, max_stream = 1 GiB). */
void sdd_audio_default_params(sdd_audio_params *p);

/* Decodes PATH into a newly malloc'd mono float buffer *out of *n samples at
 * target_sr Hz (target_sr <= 0 keeps the original rate). info may be NULL.
 * Returns 0, or -1 with one line in e naming the file: missing file, a
 * directory, an empty file, an unreadable/unsupported format (libsndfile's
 * reason), a truncated file, no audio samples, a NaN/Inf sample, an
 * unsupported sample rate, or a length beyond max_seconds. On error *out is
 * NULL and *n is 0. */
int sdd_audio_load(const char *path, int target_sr, float **out, int64_t *n,
                   sdd_audio_info *info, sdd_err *e);

/* As sdd_audio_load with explicit params (NULL = defaults). */
int sdd_audio_load_ex(const char *path, int target_sr, const sdd_audio_params *p,
                      float **out, int64_t *n, sdd_audio_info *info, sdd_err *e);

/* Decodes an in-memory file image (any format as above). NAME is used only in
 * error messages. p may be NULL. */
int sdd_audio_load_mem(const void *buf, size_t len, const char *name, int target_sr,
                       const sdd_audio_params *p, float **out, int64_t *n,
                       sdd_audio_info *info, sdd_err *e);

/* Reads only PATH's header and makes the checks sdd_audio_load makes before
 * decoding, with the same messages: a missing or unreadable file, a
 * directory, an empty file, a cut WAV data chunk, a format libsndfile cannot
 * open, the channel count, the sample rates, a declared length beyond
 * max_seconds. A file that fails here fails sdd_audio_load; one that passes
 * may still fail it (corrupt frames, a NaN sample, fewer frames than
 * declared). info (may be NULL) gets the header's rate, channels, format and
 * declared frames (0 when the header does not say). p may be NULL. */
int sdd_audio_probe(const char *path, int target_sr, const sdd_audio_params *p, sdd_audio_info *info, sdd_err *e);

/* The same for an in-memory file image; NAME is used only in messages. */
int sdd_audio_probe_mem(const void *buf, size_t len, const char *name, int target_sr, const sdd_audio_params *p,
                        sdd_audio_info *info, sdd_err *e);

/* 1 when PATH ends in a known audio extension (case-insensitive: wav, wave,
 * flac, ogg, oga, opus, mp3, aiff, aif, aifc, au, snd, caf, w64, rf64, sph,
 * nist, voc, ...), else 0. */
int sdd_audio_is_audio_path(const char *path);

#endif
