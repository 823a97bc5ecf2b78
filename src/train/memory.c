/* Owns the memory reading behind --ssl-recompute auto (see memory.h). */
#include "train/memory.h"
#include "core/lines.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* MemAvailable through the shared line reader (core/lines.h), from memory or a file */
static int meminfo_read(sdd_lines *r, const char *what, size_t *bytes, sdd_err *e)
{
    static const char key[] = "MemAvailable:";
    const size_t kl = sizeof key - 1;
    ssize_t len;
    while ((len = sdd_lines_next(r)) >= 0) {
        const char *s = r->line, *end = r->line + len;
        if ((size_t)len <= kl || memcmp(s, key, kl)) continue;
        /* "MemAvailable:   12345678 kB" */
        s += kl;
        while (s < end && *s == ' ') s++;
        uint64_t v = 0;
        const char *d0 = s;
        while (s < end && *s >= '0' && *s <= '9') {
            if (v > (UINT64_MAX - 9) / 10) return sdd_err_set(e, "%s:%d: MemAvailable is out of range", what, r->lineno);
            v = v * 10 + (uint64_t)(*s++ - '0');
        }
        if (s == d0) return sdd_err_set(e, "%s:%d: MemAvailable has no number", what, r->lineno);
        while (s < end && *s == ' ') s++;
        if (end - s != 2 || memcmp(s, "kB", 2)) return sdd_err_set(e, "%s:%d: MemAvailable is not in kB", what, r->lineno);
        if (v > SIZE_MAX / 1024) return sdd_err_set(e, "%s:%d: MemAvailable is out of range", what, r->lineno);
        *bytes = (size_t)v * 1024;
        return 0;
    }
    if (len == -3) return sdd_err_set(e, "%s:%d: line longer than %d bytes", what, r->lineno, SDD_LINES_MAX);
    if (len == -2) return sdd_err_set(e, "%s: read error: %s", what, strerror(errno));
    return sdd_err_set(e, "%s: no MemAvailable line", what);
}

int sdd_meminfo_available(const char *text, size_t n, const char *what, size_t *bytes, sdd_err *e)
{
    sdd_lines r = { .mem = text, .len = n };
    const int rc = meminfo_read(&r, what, bytes, e);
    free(r.line);
    return rc;
}

int sdd_host_mem_available(size_t *bytes, sdd_err *e)
{
    static const char path[] = "/proc/meminfo";
    sdd_lines r = { .f = fopen(path, "re") };
    if (!r.f) return sdd_err_set(e, "%s: cannot open: %s", path, strerror(errno));
    const int rc = meminfo_read(&r, path, bytes, e);
    free(r.line);
    fclose(r.f);
    return rc;
}

int sdd_recompute_keep_fits(size_t est, size_t held, size_t avail)
{
    if (avail == 0) return 0;
    const size_t grow = est > held ? est - held : 0;
    return grow <= avail / 5 * 4;
}
