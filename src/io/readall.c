/* Owns sdd_read_all and sdd_read_fd (readall.h): reads a whole file or
 * stream through a doubling buffer, never more than one byte past the size
 * limit, so a stream with no known size (a FIFO, /dev/zero) is bounded too. */
#include "io/readall.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *sdd_read_fd(int fd, size_t limit, size_t *len, int *why)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    *why = 0;
    for (;;) {
        if (n + 1 >= cap) {   /* room for one more byte and the NUL */
            const size_t grow = cap ? 2 * cap : 4096;
            char *t = grow > cap ? realloc(buf, grow) : NULL;
            if (!t) { *why = ENOMEM; break; }
            buf = t;
            cap = grow;
        }
        /* with a limit, read at most one byte past it: that byte proves the input too long */
        size_t want = cap - 1 - n;
        if (limit && want > limit + 1 - n) want = limit + 1 - n;
        const ssize_t k = read(fd, buf + n, want);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) { *why = errno ? errno : EIO; break; }
        n += (size_t)k;
        if (limit && n > limit) { *why = EFBIG; break; }
        if (k == 0) break;
    }
    if (*why) { free(buf); return NULL; }
    buf[n] = '\0';
    *len = n;
    return buf;
}

char *sdd_read_all(const char *path, size_t limit, const char *what, size_t *len, sdd_err *e)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { sdd_err_set(e, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    int why;
    char *buf = sdd_read_fd(fd, limit, len, &why);
    close(fd);
    if (why == EFBIG) sdd_err_set(e, "%s: larger than %zu MiB: not a %s", path, (limit + (1u << 20) - 1) >> 20, what);
    else if (why == ENOMEM) sdd_err_set(e, "%s: out of memory", path);
    else if (why) sdd_err_set(e, "%s: read error", path);
    return buf;
}
