/* Atomic file output: write into a temp file beside the target
 * ("PATH.tmp.XXXXXX"), then fflush + fsync + rename over PATH on commit, so
 * PATH is either the old file or the complete new one, never a partial file.
 * A PATH that exists and is not a regular file (/dev/null, /dev/full, a FIFO)
 * is opened and written directly instead; commit still reports write errors.
 * Owns sdd_afile, sdd_atomic_write, the removal of temp files an
 * interrupted process left, and the crash-point hook of the crash-safety tests. */
#ifndef SDD_IO_ATOMIC_H
#define SDD_IO_ATOMIC_H
#include <stddef.h>
#include <stdio.h>
#include "core/error.h"

typedef struct sdd_afile sdd_afile;

/* Creates the temp file in PATH's directory. NULL (e set) on failure, e.g.
 * "out/x.bin: cannot create temp file in out/: No such file or directory". The new
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

/* Whether path can be written atomically later, checked now (before hours of
 * work): a temp file made and removed in its folder, with sdd_afile_open's
 * errors. An existing non-regular file (/dev/null, a FIFO) is not opened:
 * it is written in place when the output is ready. 0 or -1 (e set). */
int sdd_atomic_probe(const char *path, sdd_err *e);

/* Writes buf[0..n) to path atomically. 0 or -1 (e set). */
int sdd_atomic_write(const char *path, const void *buf, size_t n, sdd_err *e);

/* Removes the temp files ("NAME.tmp.XXXXXX") that writers killed before their
 * commit left in folder dir. Only for folders this process owns alone (a run
 * folder): a concurrent writer's temp file would go too. Returns how many
 * were removed, -1 when dir cannot be read. */
int sdd_atomic_remove_stale(const char *dir);

/* Output folders (a run's --out): sdd_mkdirs creates dir and every missing
 * parent (as mkdir -p); top (n bytes) gets the highest folder it created, ""
 * when dir was there already. sdd_rmdirs(dir, top) undoes it after a failure:
 * removes dir, then its parents up to top, each only while empty. */
int sdd_mkdirs(const char *dir, char *top, size_t n, sdd_err *e);
void sdd_rmdirs(const char *dir, const char *top);

/* Crash points: sdd_crashpoint(NAME) calls the hook set here, if any, with
 * NAME; nothing otherwise. Atomic writes pass "atomic.open" (temp created,
 * empty), "atomic.half" (sdd_atomic_write: half the bytes written and
 * flushed), "atomic.unflushed" (commit entered: part of the data may still be
 * in stdio buffers), "atomic.synced" (temp complete and fsynced, not renamed)
 * and "atomic.renamed" (renamed, folder not yet fsynced); the training loop
 * passes its own ("train.*", trainer.c). The crash-safety tests set a hook
 * that raises SIGKILL at the Nth point. Set it before any work starts. */
typedef void (*sdd_crash_hook)(const char *point);
void sdd_crash_hook_set(sdd_crash_hook hook);
void sdd_crashpoint(const char *point);

#endif
