/* Atomic file output: write into a temp file beside the target
 * ("PATH.tmp.XXXXXX"), then fflush + fsync + rename over PATH on commit, so
 * PATH is either the old file or the complete new one, never a partial file.
 * A PATH that exists and is not a regular file (/dev/null, /dev/full, a FIFO)
 * is opened and written directly instead; commit still reports write errors.
 * Owns sdd_afile and sdd_atomic_write. */
#ifndef SDD_IO_ATOMIC_H
#define SDD_IO_ATOMIC_H
#include <stddef.h>
#include <stdio.h>
#include "core/error.h"

typedef struct sdd_afile sdd_afile;

/* Creates the temp file in PATH's directory. NULL (e set) on failure, e.g.
 * "out/x.bin: cannot create temp file: No such file or directory". The new
 * file gets mode 0666 & ~umask (or the mode of an existing PATH). */
sdd_afile *sdd_afile_open(const char *path, sdd_err *e);
/* The stream to write to (binary mode). Do not fclose it. */
FILE *sdd_afile_fp(sdd_afile *af);
/* fflush, check ferror, fsync, fclose, rename over the target, fsync the
 * directory. Always frees af. On any failure the temp file is removed, the
 * target is untouched and e says why ("out.txt: write failed: No space left
 * on device"). Returns 0 or -1. */
int sdd_afile_commit(sdd_afile *af, sdd_err *e);
/* Discards: closes and removes the temp file, frees af. NULL is a no-op. */
void sdd_afile_abort(sdd_afile *af);

/* Writes buf[0..n) to path atomically. 0 or -1 (e set). */
int sdd_atomic_write(const char *path, const void *buf, size_t n, sdd_err *e);

#endif
