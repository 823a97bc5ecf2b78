/* Owns audio writing (see encode.h): extension to libsndfile format, clipping
 * and NaN checks, and the small temp-file + fsync + rename helper that makes
 * the write atomic. */
#include "audio/encode.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 8192

/* Mode for a new file: 0666 less the process umask (read without changing
 * it, since umask() is process-wide and not thread-safe). */
static mode_t new_file_mode(void)
{
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "re");
    if (f) {
        char line[256];
        unsigned m;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "Umask: %o", &m) == 1) { mask = (mode_t)(m & 0777); break; }
        fclose(f);
    }
    return 0666 & ~mask;
}

/* fsyncs the directory holding PATH so the rename itself is durable. */
static void sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int ext_format(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot) return 0;
    if (!strcasecmp(dot, ".wav")) return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    if (!strcasecmp(dot, ".flac")) return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    return 0;
}

/* Writes the samples through an open libsndfile handle in clipped blocks. */
static int write_samples(SNDFILE *sf, const char *path, const float *x, int64_t n,
                         int64_t *clipped, sdd_err *e)
{
    float blk[BLOCK];
    int64_t nclip = 0;
    for (int64_t off = 0; off < n; off += BLOCK) {
        int64_t m = n - off < BLOCK ? n - off : BLOCK;
        for (int64_t i = 0; i < m; i++) {
            float v = x[off + i];
            if (!isfinite(v))
                return sdd_err_set(e, "%s: sample %lld is %s, not written", path,
                                   (long long)(off + i), isnan(v) ? "NaN" : "Inf");
            if (v > 1.0f) { v = 1.0f; nclip++; }
            else if (v < -1.0f) { v = -1.0f; nclip++; }
            blk[i] = v;
        }
        if (sf_writef_float(sf, blk, m) != m) {
            /* libsndfile says "System error : File too large."; keep the reason */
            const char *why = sf_strerror(sf);
            if (!why) why = "unknown error";
            if (!strncmp(why, "System error : ", 15)) why += 15;
            size_t k = strlen(why);
            while (k > 0 && why[k - 1] == '.') k--;
            return sdd_err_set(e, "%s: write failed: %.*s", path, (int)k, why);
        }
    }
    *clipped = nclip;
    return 0;
}

int sdd_audio_save_ex(const char *path, const float *x, int64_t n, int sr,
                      int64_t *n_clipped, sdd_err *e)
{
    if (n_clipped) *n_clipped = 0;
    if (!path || (!x && n > 0)) return sdd_err_set(e, "sdd_audio_save: NULL argument");
    int fmt = ext_format(path);
    if (!fmt) return sdd_err_set(e, "%s: cannot write this format (use .wav or .flac)", path);
    if (n <= 0) return sdd_err_set(e, "%s: no samples to write", path);
    if (sr < 1 || sr > 1000000) return sdd_err_set(e, "%s: invalid sample rate %d", path, sr);
    if ((fmt & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV && n > (int64_t)0x7fff0000 / 2)
        return sdd_err_set(e, "%s: %lld samples are too many for a WAV file", path,
                           (long long)n);
    if (fmt & SF_FORMAT_FLAC && sr > 655350)
        return sdd_err_set(e, "%s: sample rate %d is too high for FLAC", path, sr);

    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) return sdd_err_set(e, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return sdd_err_set(e, "%s: cannot create temporary file: %s", path, strerror(err));
    }
    int rc = -1;
    SNDFILE *sf = NULL;
    struct stat st;
    mode_t mode = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (st.st_mode & 07777)
                                                               : new_file_mode();
    if (fchmod(fd, mode) != 0) {
        sdd_err_set(e, "%s: chmod %s: %s", path, tmp, strerror(errno));
        goto fail;
    }
    SF_INFO si = { .samplerate = sr, .channels = 1, .format = fmt };
    sf = sf_open_fd(fd, SFM_WRITE, &si, SF_FALSE);
    if (!sf) {
        const char *why = sf_strerror(NULL);
        sdd_err_set(e, "%s: cannot open for writing: %s", path, why ? why : "unknown error");
        goto fail;
    }
    int64_t clipped = 0;
    if (write_samples(sf, path, x, n, &clipped, e)) goto fail;
    int cerr = sf_close(sf);
    sf = NULL;
    if (cerr) {
        sdd_err_set(e, "%s: finishing the file failed: %s", path, sf_error_number(cerr));
        goto fail;
    }
    if (fsync(fd) != 0) {
        sdd_err_set(e, "%s: fsync: %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        sdd_err_set(e, "%s: close: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        sdd_err_set(e, "%s: rename from %s: %s", path, tmp, strerror(errno));
        goto fail;
    }
    sync_dir_of(path);
    if (n_clipped) *n_clipped = clipped;
    free(tmp);
    return 0;
fail:
    if (sf) sf_close(sf);
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
}

int sdd_audio_save(const char *path, const float *x, int64_t n, int sr, sdd_err *e)
{
    return sdd_audio_save_ex(path, x, n, sr, NULL, e);
}
