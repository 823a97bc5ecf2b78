/* The growable text buffer (core/sbuf.h). */
#include "core/sbuf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sdd_sbuf_put(sdd_sbuf *b, const char *fmt, ...)
{
    if (b->fail) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        /* a buffer that starts empty ({0}) is measured first, then allocated */
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->fail = 1; return; }
        if (b->s && (size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
        size_t cap = (b->cap + (size_t)k + 1) * 2;
        char *t = realloc(b->s, cap);
        if (!t) { b->fail = 1; return; }
        b->s = t;
        b->cap = cap;
    }
}
