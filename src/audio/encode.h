/* Audio encoding: writes a mono float signal as 16-bit PCM WAV or FLAC
 * (chosen by the file extension), atomically (io/atomic.h): the data goes to
 * a temporary file in the same directory which is fsync'ed and renamed over
 * PATH, so PATH either keeps its old content or holds the complete new file.
 * A PATH that is a device or FIFO is written directly, as atomic.h does. */
#ifndef SDD_AUDIO_ENCODE_H
#define SDD_AUDIO_ENCODE_H

#include <stdint.h>
#include "core/error.h"

/* Writes x[0..n) at sr Hz to PATH (".wav" or ".flac", case-insensitive).
 * Samples are clipped to [-1, 1]; NaN/Inf samples are rejected. n must be
 * > 0. Returns 0, or -1 with one line in e naming PATH. */
int sdd_audio_save(const char *path, const float *x, int64_t n, int sr, sdd_err *e);

/* As sdd_audio_save; when n_clipped is not NULL it receives the number of
 * samples that were outside [-1, 1] and were clipped. */
int sdd_audio_save_ex(const char *path, const float *x, int64_t n, int sr,
                      int64_t *n_clipped, sdd_err *e);

#endif
