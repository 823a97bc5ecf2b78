/* Error reporting with reasons. Library functions never exit(): they return
 * a negative status and fill an sdd_err with one line saying what is wrong,
 * naming the file (and line) where there is one: "FILE[:LINE]: reason".
 * Control bytes in the formatted text (a line break inside a quoted token or
 * file name) are replaced by spaces, so a message is always one line. */
#ifndef SDD_CORE_ERROR_H
#define SDD_CORE_ERROR_H

typedef struct sdd_err {
    char msg[1024];
} sdd_err;

/* Formats into e->msg (e may be NULL) and returns -1, so callers can write
 * `return sdd_err_set(e, "%s: truncated", path);`. */
int sdd_err_set(sdd_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prepends "prefix: " to an existing message (adds context on the way up). */
int sdd_err_prefix(sdd_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
