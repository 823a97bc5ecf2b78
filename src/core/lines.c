/* Owns the shared line reader (see lines.h). */
#include "core/lines.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

ssize_t sdd_lines_next(sdd_lines *r)
{
    if (r->lineno == INT_MAX) { errno = EFBIG; return -2; }
    if (r->f) {
        /* byte by byte rather than getline, which would take a line of any length */
        size_t k = 0;
        int c = 0;
        errno = 0;
        while ((c = getc_unlocked(r->f)) != EOF && c != '\n') {
            if (k == SDD_LINES_MAX) { r->lineno++; return -3; }
            if (k + 1 >= r->cap) {
                size_t nc = r->cap < 256 ? 256 : 2 * r->cap;
                char *p = realloc(r->line, nc);
                if (!p) { errno = ENOMEM; return -2; }
                r->line = p;
                r->cap = nc;
            }
            r->line[k++] = (char)c;
        }
        if (c == EOF && ferror(r->f)) return -2;
        if (c == EOF && k == 0) return -1;
        if (!r->line) {   /* an empty line before anything was allocated */
            if (!(r->line = malloc(256))) { errno = ENOMEM; return -2; }
            r->cap = 256;
        }
        r->line[k] = 0;
        r->lineno++;
        return (ssize_t)k;
    }
    if (r->pos >= r->len) return -1;
    const char *s = r->mem + r->pos;
    const char *nl = memchr(s, '\n', r->len - r->pos);
    size_t k = nl ? (size_t)(nl - s) : r->len - r->pos;
    if (k > SDD_LINES_MAX) { r->lineno++; return -3; }
    if (k + 1 > r->cap) {
        size_t c = k + 1 < 256 ? 256 : k + 1;
        char *p = realloc(r->line, c);
        if (!p) { errno = ENOMEM; return -2; }
        r->line = p;
        r->cap = c;
    }
    memcpy(r->line, s, k);
    r->line[k] = 0;
    r->pos += k + (nl ? 1 : 0);
    r->lineno++;
    return (ssize_t)k;
}
