/* Whole-file input for the small text formats that are parsed from memory
 * (recipes and run configs, training logs, calibration files): one bounded
 * reader, so that a hostile or mistaken path (a device, a huge file) gives a
 * one-line error instead of unbounded allocation. Owns sdd_read_all. */
#ifndef SDD_IO_READALL_H
#define SDD_IO_READALL_H
#include <stddef.h>
#include "core/error.h"

/* Reads all of path into a new buffer with a NUL after the last byte (the
 * length excludes it) and stores the length in *len. At most `limit` bytes
 * (0: no limit); a longer file is refused as "PATH: larger than N MiB: not
 * a WHAT" (WHAT names the expected format, e.g. "recipe"). NULL with e set
 * when the file cannot be opened or read or memory runs out. Free the
 * buffer with free(). */
/* The bound for recipes and a run's config.json (JSON of a few KB): read by
 * the recipe loader, the --resume check and sdd report alike. */
#define SDD_CONFIG_MAX ((size_t)16 << 20)

char *sdd_read_all(const char *path, size_t limit, const char *what, size_t *len, sdd_err *e);
/* The reader under sdd_read_all, on an open descriptor (not closed): all of
 * fd into a new NUL-terminated buffer, at most `limit` bytes (0: no limit).
 * NULL with *why = EFBIG (longer than limit), ENOMEM or the read's errno;
 * else *why = 0 and *len the length. For callers with their own messages
 * (the audio decoder's pipes). */
char *sdd_read_fd(int fd, size_t limit, size_t *len, int *why);

#endif
