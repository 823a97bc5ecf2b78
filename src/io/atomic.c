/* Owns atomic file output (see atomic.h): temp file via mkstemp in the target
 * directory, commit = fflush/ferror/fsync/fclose/rename/fsync(dir), abort =
 * remove the temp file. A target that exists and is not a regular file
 * (/dev/null, /dev/full, a FIFO) is written directly: renaming over a device
 * node would replace it with a regular file. Also the stale temp file sweep
 * and the crash-point hook (atomic.h). */
#include "io/atomic.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sdd_crash_hook crash_hook;

void sdd_crash_hook_set(sdd_crash_hook hook)
{
    crash_hook = hook;
}

void sdd_crashpoint(const char *point)
{
    if (crash_hook) crash_hook(point);
}

struct sdd_afile {
    char *path;   /* target */
    char *tmp;    /* temp file name; NULL when writing a special file directly */
    FILE *fp;
};

/* The process umask without changing it (umask() is not thread-safe to
 * probe); Linux reports it in /proc/self/status. Falls back to 022. */
static mode_t current_umask(void)
{
    mode_t m = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return m;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Umask:", 6) == 0) {
            m = (mode_t)(strtoul(line + 6, NULL, 8) & 0777);
            break;
        }
    fclose(f);
    return m;
}

static void afile_free(sdd_afile *af)
{
    free(af->path);
    free(af->tmp);
    free(af);
}

/* The folder is named: "cannot create" of a file that exists
 * (/proc/version) says little without it. */
static void tmp_fail(const char *path, int err, sdd_err *e)
{
    const char *slash = strrchr(path, '/');
    const int dn = !slash ? 1 : (int)(slash - path);
    sdd_err_set(e, "%s: cannot create temp file in %.*s/: %s", path, dn > 4000 ? 4000 : dn, !slash ? "." : path, strerror(err));
}

int sdd_atomic_probe(const char *path, sdd_err *e)
{
    if (!path || !*path) return sdd_err_set(e, "atomic: empty output path");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return sdd_err_set(e, "%s: is a directory", path);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) return 0;   /* written in place, opened then */
    const size_t n = strlen(path);
    char *tmp = malloc(n + sizeof ".tmp.XXXXXX");
    if (!tmp) return sdd_err_set(e, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        tmp_fail(path, errno, e);
        free(tmp);
        return -1;
    }
    close(fd);
    unlink(tmp);
    free(tmp);
    return 0;
}

sdd_afile *sdd_afile_open(const char *path, sdd_err *e)
{
    if (!path || !*path) { sdd_err_set(e, "atomic: empty output path"); return NULL; }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        sdd_err_set(e, "%s: is a directory", path);
        return NULL;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        sdd_afile *af = calloc(1, sizeof *af);
        if (!af || !(af->path = strdup(path))) {
            free(af);
            sdd_err_set(e, "%s: out of memory", path);
            return NULL;
        }
        if (!(af->fp = fopen(path, "wb"))) {
            sdd_err_set(e, "%s: cannot open: %s", path, strerror(errno));
            afile_free(af);
            return NULL;
        }
        errno = 0;
        return af;
    }
    sdd_afile *af = calloc(1, sizeof *af);
    size_t n = strlen(path);
    if (af) {
        af->path = strdup(path);
        af->tmp = malloc(n + sizeof ".tmp.XXXXXX");
    }
    if (!af || !af->path || !af->tmp) {
        if (af) { free(af->path); free(af->tmp); free(af); }
        sdd_err_set(e, "%s: out of memory", path);
        return NULL;
    }
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        tmp_fail(path, errno, e);
        free(af->path); free(af->tmp); free(af);
        return NULL;
    }
    mode_t mode = (stat(path, &st) == 0) ? (st.st_mode & 07777) : (0666 & ~current_umask());
    (void)fchmod(fd, mode);   /* best effort: a 0600 file is still a correct file */
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        sdd_err_set(e, "%s: cannot open temp file: %s", path, strerror(errno));
        close(fd);
        unlink(af->tmp);
        free(af->path); free(af->tmp); free(af);
        return NULL;
    }
    errno = 0;
    sdd_crashpoint("atomic.open");
    return af;
}

FILE *sdd_afile_fp(sdd_afile *af)
{
    return af ? af->fp : NULL;
}

void sdd_afile_abort(sdd_afile *af)
{
    if (!af) return;
    if (af->fp) fclose(af->fp);
    if (af->tmp) unlink(af->tmp);
    afile_free(af);
}

/* fsync the directory holding path so the rename itself is durable. Errors
 * are ignored: some file systems refuse fsync on directories. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { (void)fsync(fd); close(fd); }
    free(dir);
}

int sdd_afile_commit(sdd_afile *af, sdd_err *e)
{
    if (!af) return sdd_err_set(e, "atomic: commit of a NULL file");
    int err = errno;   /* a failed fwrite leaves its errno here, usually */
    sdd_crashpoint("atomic.unflushed");
    if (fflush(af->fp) != 0) err = errno;
    else if (ferror(af->fp)) err = err ? err : EIO;
    else err = 0;
    if (err) {
        sdd_err_set(e, "%s: write failed: %s", af->path, strerror(err));
        sdd_afile_abort(af);
        return -1;
    }
    if (af->tmp && fsync(fileno(af->fp)) != 0 && errno != EINVAL && errno != EROFS) {
        sdd_err_set(e, "%s: write failed (fsync): %s", af->path, strerror(errno));
        sdd_afile_abort(af);
        return -1;
    }
    FILE *fp = af->fp;
    af->fp = NULL;
    if (fclose(fp) != 0) {
        sdd_err_set(e, "%s: write failed (close): %s", af->path, strerror(errno));
        sdd_afile_abort(af);
        return -1;
    }
    if (!af->tmp) {   /* a special file: nothing to rename */
        afile_free(af);
        return 0;
    }
    sdd_crashpoint("atomic.synced");
    if (rename(af->tmp, af->path) != 0) {
        sdd_err_set(e, "%s: cannot replace file: %s", af->path, strerror(errno));
        sdd_afile_abort(af);
        return -1;
    }
    sdd_crashpoint("atomic.renamed");
    sync_dir(af->path);
    afile_free(af);
    return 0;
}

int sdd_atomic_write(const char *path, const void *buf, size_t n, sdd_err *e)
{
    sdd_afile *af = sdd_afile_open(path, e);
    if (!af) return -1;
    /* in two halves with a flush between them, so that a crash point can
     * leave a temp file holding part of the data, as a kill mid-write does */
    const size_t h = n / 2;
    if ((h && fwrite(buf, 1, h, af->fp) != h) || fflush(af->fp) != 0) {
        sdd_err_set(e, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
        sdd_afile_abort(af);
        return -1;
    }
    sdd_crashpoint("atomic.half");
    if (n > h && fwrite((const char *)buf + h, 1, n - h, af->fp) != n - h) {
        sdd_err_set(e, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
        sdd_afile_abort(af);
        return -1;
    }
    return sdd_afile_commit(af, e);
}

/* NAME.tmp.XXXXXX with six characters of mkstemp's alphabet */
static int is_temp_name(const char *name)
{
    const size_t n = strlen(name);
    if (n < 12 || memcmp(name + n - 11, ".tmp.", 5) != 0) return 0;
    for (size_t i = n - 6; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9'))) return 0;
    return 1;
}

int sdd_atomic_remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int removed = 0;
    const int dfd = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (is_temp_name(de->d_name) && unlinkat(dfd, de->d_name, 0) == 0) removed++;
    closedir(d);
    return removed;
}

int sdd_mkdirs(const char *dir, char *top, size_t n, sdd_err *e)
{
    if (top && n) top[0] = 0;
    const size_t len = strlen(dir);
    if (!len) return sdd_err_set(e, "an empty folder name");
    char *p = malloc(len + 1);
    if (!p) return sdd_err_set(e, "%s: out of memory", dir);
    memcpy(p, dir, len + 1);
    while (len > 1 && p[strlen(p) - 1] == '/') p[strlen(p) - 1] = 0;   /* "runs/a/" */
    int rc = 0;
    /* each prefix ending before a '/', then the whole path */
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/') continue;
        const char c = *s;
        *s = 0;
        struct stat st;
        const int made = mkdir(p, 0777) == 0, err = errno;
        if (made) {
            if (top && n && !top[0]) snprintf(top, n, "%s", p);
        } else if (err != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            const char *why = err == EEXIST ? "Not a directory" : strerror(err);
            if (!c) rc = sdd_err_set(e, "%s: cannot create: %s", p, why);
            else rc = sdd_err_set(e, "%s: cannot create %s: %s", dir, p, why);
            *s = c;
            break;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    if (rc && top && n && top[0]) sdd_rmdirs(dir, top);
    if (rc && top && n) top[0] = 0;
    return rc;
}

void sdd_rmdirs(const char *dir, const char *top)
{
    if (!top || !top[0]) return;
    const size_t tl = strlen(top);
    char *p = strdup(dir);
    if (!p) return;
    for (size_t l = strlen(p); l > 1 && p[l - 1] == '/'; l--) p[l - 1] = 0;
    /* dir, then each parent while it is top or below it */
    while (strlen(p) >= tl && !strncmp(p, top, tl) && (p[tl] == 0 || p[tl] == '/')) {
        if (rmdir(p) && errno != ENOENT) break;   /* not empty: kept, with its parents */
        char *slash = strrchr(p, '/');
        if (!slash || slash == p) break;
        *slash = 0;
    }
    free(p);
}
