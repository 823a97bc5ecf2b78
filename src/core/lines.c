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
        errno = 0;
        ssize_t k = getline(&r->line, &r->cap, r->f);
        if (k < 0) return ferror(r->f) || errno == ENOMEM ? -2 : -1;
        if (k > 0 && r->line[k - 1] == '\n') r->line[--k] = 0;
        r->lineno++;
        return k;
    }
    if (r->pos >= r->len) return -1;
    const char *s = r->mem + r->pos;
    const char *nl = memchr(s, '\n', r->len - r->pos);
    size_t k = nl ? (size_t)(nl - s) : r->len - r->pos;
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
