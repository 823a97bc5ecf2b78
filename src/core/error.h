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

/* sdd_err_set(e, fmt, ...): formats into e->msg (e may be NULL) and returns
 * -1, so callers can write `return sdd_err_set(e, "%s: truncated", path);`.
 * sdd_err_prefix(e, fmt, ...): prepends "prefix: " to an existing message
 * (adds context on the way up) and returns -1.
 * Both are macros over the formatting functions so that the -1 is visible at
 * every call site: a static analyzer (make analyze) otherwise assumes an
 * error return could be 0 and walks paths that cannot happen. */
void sdd_err_setf(sdd_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void sdd_err_prefixf(sdd_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static inline int sdd_err_fail_(void) { return -1; }
#define sdd_err_set(...) (sdd_err_setf(__VA_ARGS__), sdd_err_fail_())
#define sdd_err_prefix(...) (sdd_err_prefixf(__VA_ARGS__), sdd_err_fail_())

#endif
