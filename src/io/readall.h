/* Whole-file input for the small text formats that are parsed from memory
 * (recipes and run configs, training logs, calibration files): one bounded
 * reader, so that a hostile or mistaken path (a device, a huge file) gives a
 * one-line error instead of unbounded allocation. Owns sdd_read_all. */
#ifndef SDD_IO_READALL_H
#define SDD_IO_READALL_H
#include <stddef.h>
#include "core/error.h"
#include "core/lines.h"

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

/* Text inputs of the line parsers (lists and protocols, keys, CM and ASV
 * score files, SASV tables). "-" is standard input: it is read whole the
 * first time (at most SDD_STDIN_MAX bytes) and kept for the process, so
 * that every later open of "-" reads the same lines (a pipe can be read only
 * once, and a parser may read a file twice: the 2021 DF key's vocoder
 * column). Any other path is opened as a file; a folder is refused as
 * "PATH: is a directory". On success r is ready for sdd_lines_next; release
 * it with sdd_lines_close. Errors name the input as sdd_input_name does. */
#define SDD_STDIN_MAX ((size_t)1 << 30)
int sdd_lines_open(sdd_lines *r, const char *path, sdd_err *e);
void sdd_lines_close(sdd_lines *r);
/* What messages call an input path: "- (standard input)" for "-", else path. */
const char *sdd_input_name(const char *path);

#endif
