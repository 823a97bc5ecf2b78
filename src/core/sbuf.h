/* A growable text buffer for building JSON, SVG, Markdown and tables with
 * printf-style appends. Errors are sticky: the first failed allocation (or
 * encoding error) sets `fail`, later appends do nothing, and the caller checks
 * `fail` once at the end instead of after every append. */
#ifndef SDD_CORE_SBUF_H
#define SDD_CORE_SBUF_H
#include <stddef.h>

typedef struct {
    char *s;       /* NUL-terminated once anything was appended; owned by the caller */
    size_t n, cap; /* used bytes (without the NUL), allocated bytes */
    int fail;      /* 1 after an allocation or formatting failure */
} sdd_sbuf;

/* Appends printf(fmt, ...) to b, growing it as needed (b may start as {0}). */
void sdd_sbuf_put(sdd_sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
