/* Owns sdd_read_all (readall.h): reads a whole file through a doubling
 * buffer, never more than one byte past the size limit, so a stream with no
 * known size (a FIFO, /dev/zero) is bounded too. */
#include "io/readall.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sdd_read_all(const char *path, size_t limit, const char *what, size_t *len, sdd_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) { sdd_err_set(e, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (n + 1 >= cap) {   /* room for one more byte and the NUL */
            const size_t grow = cap ? 2 * cap : 4096;
            char *t = grow > cap ? realloc(buf, grow) : NULL;
            if (!t) { rc = sdd_err_set(e, "%s: out of memory", path); break; }
            buf = t;
            cap = grow;
        }
        /* with a limit, read at most one byte past it: that byte proves the file too long */
        size_t want = cap - 1 - n;
        if (limit && want > limit + 1 - n) want = limit + 1 - n;
        const size_t k = fread(buf + n, 1, want, f);
        n += k;
        if (limit && n > limit) {
            rc = sdd_err_set(e, "%s: larger than %zu MiB: not a %s", path, (limit + (1u << 20) - 1) >> 20, what);
            break;
        }
        if (k < want) {
            if (ferror(f)) rc = sdd_err_set(e, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc) { free(buf); return NULL; }
    buf[n] = '\0';
    *len = n;
    return buf;
}
