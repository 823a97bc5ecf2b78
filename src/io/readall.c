/* Owns sdd_read_all and sdd_read_fd (readall.h): reads a whole file or
 * stream through a doubling buffer, never more than one byte past the size
 * limit, so a stream with no known size (a FIFO, /dev/zero) is bounded too.
 * Also owns the text-input opener of the line parsers (sdd_lines_open), and
 * with it the one copy of standard input that every open of "-" reads. */
#include "io/readall.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* standard input, read once: kept for the process (reachable, so not a leak) */
static pthread_mutex_t stdin_lock = PTHREAD_MUTEX_INITIALIZER;
static char *stdin_buf;
static size_t stdin_len;
static int stdin_why = -1;   /* -1: not read yet; 0: read; else the errno of the failed read */

const char *sdd_input_name(const char *path)
{
    return path && !strcmp(path, "-") ? "- (standard input)" : path;
}

int sdd_lines_open(sdd_lines *r, const char *path, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    if (!path) return sdd_err_set(e, "sdd_lines_open: NULL path");
    if (!strcmp(path, "-")) {
        pthread_mutex_lock(&stdin_lock);
        if (stdin_why < 0) stdin_buf = sdd_read_fd(STDIN_FILENO, SDD_STDIN_MAX, &stdin_len, &stdin_why);
        const int why = stdin_why;
        pthread_mutex_unlock(&stdin_lock);
        const char *name = sdd_input_name(path);
        if (why == EFBIG) return sdd_err_set(e, "%s: larger than %zu MiB", name, SDD_STDIN_MAX >> 20);
        if (why) return sdd_err_set(e, "%s: %s", name, strerror(why));
        r->mem = stdin_buf;
        r->len = stdin_len;
        return 0;
    }
    r->f = fopen(path, "re");
    if (!r->f) return sdd_err_set(e, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(r->f);
        r->f = NULL;
        return sdd_err_set(e, "%s: is a directory", path);
    }
    return 0;
}

void sdd_lines_close(sdd_lines *r)
{
    if (!r) return;
    if (r->f) fclose(r->f);
    free(r->line);
    memset(r, 0, sizeof *r);
}
