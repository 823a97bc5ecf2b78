/* Owns audio writing (see encode.h): extension to libsndfile format, clipping
 * and NaN checks; libsndfile writes into an io/atomic temp file, which the
 * commit fsyncs and renames over PATH. */
#include "audio/encode.h"
#include "io/atomic.h"

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BLOCK 8192

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

    sdd_afile *af = sdd_afile_open(path, e);
    if (!af) return -1;
    /* libsndfile writes through the temp file's descriptor; the stdio stream
     * on it stays unused, so the commit's fflush has nothing to add */
    SF_INFO si = { .samplerate = sr, .channels = 1, .format = fmt };
    SNDFILE *sf = sf_open_fd(fileno(sdd_afile_fp(af)), SFM_WRITE, &si, SF_FALSE);
    if (!sf) {
        const char *why = sf_strerror(NULL);
        sdd_err_set(e, "%s: cannot open for writing: %s", path, why ? why : "unknown error");
        sdd_afile_abort(af);
        return -1;
    }
    int64_t clipped = 0;
    if (write_samples(sf, path, x, n, &clipped, e)) {
        sf_close(sf);
        sdd_afile_abort(af);
        return -1;
    }
    const int cerr = sf_close(sf);
    if (cerr) {
        sdd_err_set(e, "%s: finishing the file failed: %s", path, sf_error_number(cerr));
        sdd_afile_abort(af);
        return -1;
    }
    if (sdd_afile_commit(af, e)) return -1;
    if (n_clipped) *n_clipped = clipped;
    return 0;
}

int sdd_audio_save(const char *path, const float *x, int64_t n, int sr, sdd_err *e)
{
    return sdd_audio_save_ex(path, x, n, sr, NULL, e);
}
