/* Owns audio decoding (see decode.h): libsndfile reading from a path or from
 * memory (virtual I/O), channel mixing, NaN/Inf and length checks, a RIFF
 * truncation check, and streamed libsoxr resampling into the output buffer. */
#include "audio/decode.h"
#include "io/readall.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_SECONDS 14400.0
#define BLOCK_SAMPLES 65536          /* interleaved samples read per block */
#define MIN_RATE 1000
#define MAX_RATE 1000000
#define INIT_CAP_MAX ((size_t)1 << 22) /* first output allocation, samples */
#define DEFAULT_MAX_STREAM ((int64_t)1 << 30) /* a pipe or device is read into memory whole */

void sdd_audio_default_params(sdd_audio_params *p)
{
    if (p) { p->max_seconds = DEFAULT_MAX_SECONDS; p->head = 0; p->max_stream = DEFAULT_MAX_STREAM; }
}

/* ---- byte sources: a file descriptor or a memory image ---- */

typedef struct {
    int fd;                      /* >= 0 for files */
    const unsigned char *mem;    /* for memory images */
    int64_t len;                 /* total length, -1 when unknown */
    int64_t pos;                 /* virtual I/O position (memory only) */
} src_t;

/* Reads up to n bytes at offset off; returns the count read (0 at EOF/error). */
static size_t src_read_at(const src_t *s, int64_t off, void *buf, size_t n)
{
    if (s->mem) {
        if (off < 0 || off >= s->len) return 0;
        if ((int64_t)n > s->len - off) n = (size_t)(s->len - off);
        memcpy(buf, s->mem + off, n);
        return n;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(s->fd, (char *)buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

static sf_count_t vio_len(void *u) { return ((src_t *)u)->len; }

static sf_count_t vio_seek(sf_count_t off, int whence, void *u)
{
    src_t *s = u;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos : s->len;
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0) return -1;
    s->pos = base + off;
    return s->pos;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *u)
{
    src_t *s = u;
    if (count <= 0) return 0;
    size_t got = src_read_at(s, s->pos, ptr, (size_t)count);
    s->pos += (int64_t)got;
    return (sf_count_t)got;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *u)
{
    (void)ptr; (void)count; (void)u;
    return 0;
}

static sf_count_t vio_tell(void *u) { return ((src_t *)u)->pos; }

/* ---- helpers ---- */

/* Copies libsndfile's reason into dst as one line without a trailing period. */
static void one_line(char *dst, size_t cap, const char *src)
{
    size_t k = 0;
    for (; src && *src && k + 1 < cap; src++)
        dst[k++] = (*src == '\n' || *src == '\r' || *src == '\t') ? ' ' : *src;
    while (k > 0 && (dst[k - 1] == ' ' || dst[k - 1] == '.')) k--;
    dst[k] = 0;
    if (k == 0) snprintf(dst, cap, "unknown libsndfile error");
}

static uint32_t rd32(const unsigned char *b, int big)
{
    return big ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
               : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* libsndfile silently shortens a RIFF/RIFX WAVE file whose data chunk runs
 * past the end of the file; such a file was cut off, so reject it. Sizes that
 * streaming writers use as "unknown" (0, >= 0x7fff0000) are accepted. */
static int check_riff(const src_t *s, const char *name, sdd_err *e)
{
    unsigned char h[12];
    if (s->len < 12 || src_read_at(s, 0, h, 12) != 12) return 0;
    int big;
    if (!memcmp(h, "RIFF", 4)) big = 0;
    else if (!memcmp(h, "RIFX", 4)) big = 1;
    else return 0;
    if (memcmp(h + 8, "WAVE", 4)) return 0;
    int64_t off = 12;
    for (int iter = 0; iter < 4096 && off + 8 <= s->len; iter++) {
        unsigned char c[8];
        if (src_read_at(s, off, c, 8) != 8) return 0;
        uint32_t size = rd32(c + 4, big);
        if (!memcmp(c, "data", 4)) {
            int64_t avail = s->len - (off + 8);
            if (size != 0 && size < 0x7fff0000u && (int64_t)size > avail)
                return sdd_err_set(e, "%s: truncated WAV: header declares %u bytes of audio, "
                                   "file holds %lld", name, size, (long long)avail);
            return 0;
        }
        off += 8 + (int64_t)size + (size & 1);
    }
    return 0;
}

/* Grows *buf to hold at least need floats (geometric growth, capped at max). */
static int grow(float **buf, size_t *cap, size_t need, size_t max)
{
    if (need <= *cap) return 0;
    size_t c = *cap + *cap / 2;
    if (c < need) c = need;
    if (c > max) c = max;
    if (c < need) return -1;
    float *p = realloc(*buf, c * sizeof *p);
    if (!p) return -1;
    *buf = p;
    *cap = c;
    return 0;
}

static void format_name(int fmt, char *dst, size_t cap)
{
    SF_FORMAT_INFO major = { .format = fmt & SF_FORMAT_TYPEMASK };
    SF_FORMAT_INFO sub = { .format = fmt & SF_FORMAT_SUBMASK };
    int okm = sf_command(NULL, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0 && major.name;
    int oks = sf_command(NULL, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0 && sub.name;
    snprintf(dst, cap, "%s%s%s", okm ? major.name : "unknown format", oks ? ", " : "",
             oks ? sub.name : "");
}

/* input frames allowed by max_seconds at rate sr */
static int64_t max_input(double max_seconds, int sr)
{
    const double d = max_seconds * sr;
    return d > 1e15 ? (int64_t)1e15 : (int64_t)d;
}

/* What the header alone tells against what decoding needs: channel count,
 * sample rates, a declared length beyond max_seconds. decode_sf's first
 * checks, and all of sdd_audio_probe's after libsndfile opened the file. */
static int check_header(const SF_INFO *si, const char *name, int target_sr, double max_seconds, sdd_err *e)
{
    const int ch = si->channels, sr = si->samplerate;
    if (ch < 1 || ch > 1024)
        return sdd_err_set(e, "%s: unsupported channel count %d", name, ch);
    if (sr < MIN_RATE || sr > MAX_RATE)
        return sdd_err_set(e, "%s: unsupported sample rate %d Hz (expected %d to %d)",
                           name, sr, MIN_RATE, MAX_RATE);
    const int out_sr = target_sr > 0 ? target_sr : sr;
    if (out_sr < MIN_RATE || out_sr > MAX_RATE)
        return sdd_err_set(e, "%s: unsupported target sample rate %d Hz", name, out_sr);
    const int64_t declared = si->frames;
    if (declared > 0 && declared < SF_COUNT_MAX && declared > max_input(max_seconds, sr))
        return sdd_err_set(e, "%s: too long: %.1f s (limit %.0f s)", name,
                           (double)declared / sr, max_seconds);
    return 0;
}

static void fill_info(const SF_INFO *si, int64_t frames, sdd_audio_info *info)
{
    if (!info) return;
    info->sample_rate = si->samplerate;
    info->channels = si->channels;
    info->frames = frames;
    info->sf_format = si->format;
    format_name(si->format, info->format, sizeof info->format);
}

/* Streams the open file through mixing and resampling. Closes nothing. */
static int decode_sf(SNDFILE *sf, const SF_INFO *si, const char *name, int target_sr,
                     double max_seconds, int64_t head, float **out, int64_t *n, sdd_audio_info *info,
                     sdd_err *e)
{
    if (check_header(si, name, target_sr, max_seconds, e)) return -1;
    const int ch = si->channels, sr = si->samplerate, out_sr = target_sr > 0 ? target_sr : sr;
    const int64_t max_in = max_input(max_seconds, sr), declared = si->frames;
    const int known = declared > 0 && declared < SF_COUNT_MAX;

    double ratio = (double)out_sr / sr;
    size_t max_out = head > 0 ? (size_t)head + (size_t)(BLOCK_SAMPLES * ratio) + 8192 : (size_t)((double)max_in * ratio) + 4096;
    size_t cap = known ? (size_t)((double)declared * ratio) + 1024 : 65536;
    if (cap > INIT_CAP_MAX) cap = INIT_CAP_MAX;
    if (cap > max_out) cap = max_out;

    int rc = -1;
    size_t block_frames = BLOCK_SAMPLES / (size_t)ch;
    if (block_frames < 1) block_frames = 1;
    float *buf = malloc(block_frames * (size_t)ch * sizeof *buf);
    float *mono = malloc(block_frames * sizeof *mono);
    float *y = malloc(cap * sizeof *y);
    soxr_t rs = NULL;
    size_t yn = 0;
    int64_t total = 0;
    if (!buf || !mono || !y) { sdd_err_set(e, "%s: out of memory", name); goto done; }

    if (out_sr != sr) {
        soxr_error_t serr = NULL;
        soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        soxr_runtime_spec_t rt = soxr_runtime_spec(1);
        rs = soxr_create(sr, out_sr, 1, &serr, &io, &q, &rt);
        if (!rs || serr) {
            sdd_err_set(e, "%s: cannot resample %d Hz to %d Hz: %s", name, sr, out_sr,
                        serr ? serr : "soxr_create failed");
            goto done;
        }
    }

    for (;;) {
        sf_count_t got = sf_readf_float(sf, buf, (sf_count_t)block_frames);
        if (got <= 0) break;
        size_t ns = (size_t)got * (size_t)ch;
        for (size_t i = 0; i < ns; i++) {
            if (!isfinite(buf[i])) {
                sdd_err_set(e, "%s: sample %lld is %s", name,
                            (long long)(total + (int64_t)(i / (size_t)ch)),
                            isnan(buf[i]) ? "NaN" : "Inf");
                goto done;
            }
        }
        if (ch == 1) {
            memcpy(mono, buf, (size_t)got * sizeof *mono);
        } else {
            for (sf_count_t f = 0; f < got; f++) {
                double acc = 0;
                const float *fr = buf + (size_t)f * (size_t)ch;
                for (int c = 0; c < ch; c++) acc += fr[c];
                mono[f] = (float)(acc / ch);
            }
        }
        total += got;
        if (total > max_in) {
            sdd_err_set(e, "%s: too long: more than %.0f s", name, max_seconds);
            goto done;
        }
        /* a complete head: the rest is only read and checked. Resampled
         * samples already out are final (later input only makes later
         * output), so the head equals the start of a whole decode. */
        if (head > 0 && yn >= (size_t)head) continue;
        if (!rs) {
            if (grow(&y, &cap, yn + (size_t)got, max_out)) {
                sdd_err_set(e, "%s: out of memory", name);
                goto done;
            }
            memcpy(y + yn, mono, (size_t)got * sizeof *y);
            yn += (size_t)got;
            continue;
        }
        const float *ip = mono;
        size_t left = (size_t)got;
        for (int iter = 0; iter < 1000; iter++) {
            if (grow(&y, &cap, yn + (size_t)((double)left * ratio) + 1024, max_out)) {
                sdd_err_set(e, "%s: out of memory", name);
                goto done;
            }
            size_t idone = 0, odone = 0, space = cap - yn;
            soxr_error_t serr = soxr_process(rs, ip, left, &idone, y + yn, space, &odone);
            if (serr) { sdd_err_set(e, "%s: resampling failed: %s", name, serr); goto done; }
            ip += idone;
            left -= idone;
            yn += odone;
            if (left == 0 && odone < space) break;
        }
        if (left > 0) { sdd_err_set(e, "%s: resampler did not consume its input", name); goto done; }
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR) {
        char why[256];
        one_line(why, sizeof why, sf_strerror(sf));
        sdd_err_set(e, "%s: cannot decode: %s", name, why);
        goto done;
    }
    if (total == 0) { sdd_err_set(e, "%s: no audio samples", name); goto done; }
    const int cut_short = head > 0 && yn >= (size_t)head;
    /* MP3 frame counts are estimates; every other format's count is exact. */
    if (known && total < declared && (si->format & SF_FORMAT_TYPEMASK) != SF_FORMAT_MPEG) {
        sdd_err_set(e, "%s: truncated: header declares %lld frames, only %lld could be decoded",
                    name, (long long)declared, (long long)total);
        goto done;
    }
    if (cut_short) yn = (size_t)head;
    if (rs) {
        for (int iter = 0; iter < 100000 && !cut_short; iter++) { /* flush the filter tail */
            if (grow(&y, &cap, yn + 4096, max_out + 65536)) {
                sdd_err_set(e, "%s: out of memory", name);
                goto done;
            }
            size_t odone = 0;
            soxr_error_t serr = soxr_process(rs, NULL, 0, NULL, y + yn, cap - yn, &odone);
            if (serr) { sdd_err_set(e, "%s: resampling failed: %s", name, serr); goto done; }
            yn += odone;
            if (odone == 0) break;
        }
        for (size_t i = 0; i < yn; i++)
            if (!isfinite(y[i])) {
                sdd_err_set(e, "%s: resampled sample %zu is not finite (input values too large)",
                            name, i);
                goto done;
            }
    }
    if (head > 0 && yn > (size_t)head) yn = (size_t)head;   /* a head reached only by the filter tail */
    if (yn == 0) { sdd_err_set(e, "%s: no audio samples after resampling", name); goto done; }
    float *shrunk = realloc(y, yn * sizeof *y);
    if (shrunk) y = shrunk;
    *out = y;
    *n = (int64_t)yn;
    y = NULL;
    fill_info(si, total, info);
    rc = 0;
done:
    if (rs) soxr_delete(rs);
    free(buf);
    free(mono);
    free(y);
    return rc;
}

static double max_secs(const sdd_audio_params *p)
{
    return p && p->max_seconds > 0 && isfinite(p->max_seconds) ? p->max_seconds
                                                                : DEFAULT_MAX_SECONDS;
}

static void reset_out(float **out, int64_t *n, sdd_audio_info *info)
{
    if (out) *out = NULL;
    if (n) *n = 0;
    if (info) memset(info, 0, sizeof *info);
}

/* An open input: libsndfile's handle on a file descriptor, or on a memory
 * image (src) whose bytes are `owned` when they were read from a pipe. */
typedef struct {
    SNDFILE *sf;
    SF_INFO si;
    src_t src;
    unsigned char *owned;
} input_t;

static void input_close(input_t *in)
{
    if (in->sf) sf_close(in->sf);
    free(in->owned);
    in->sf = NULL;
    in->owned = NULL;
}

static int open_mem(input_t *in, const void *buf, size_t len, const char *name, sdd_err *e);

/* Opens PATH for libsndfile after the checks libsndfile does not make (a
 * directory, an empty file, a cut RIFF data chunk); in->si gets the header.
 * A pipe, FIFO or device is read whole first (sdd_read_fd) and opened from
 * memory; with defer_stream it is left unread instead and 1 returned. */
static int open_path(input_t *in, const char *path, const sdd_audio_params *p, int defer_stream, sdd_err *e)
{
    memset(in, 0, sizeof *in);
    /* a probe does not wait for a FIFO's writer (O_NONBLOCK); a decode does, as cat would */
    int fd = open(path, O_RDONLY | O_CLOEXEC | (defer_stream ? O_NONBLOCK : 0));
    if (fd < 0) return sdd_err_set(e, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return sdd_err_set(e, "%s: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        if (defer_stream) { close(fd); return 1; }
        /* such a stream cannot seek, so libsndfile could not clamp a streaming
         * writer's "unknown" WAV length to the real one (ffmpeg and sox write
         * 0xffffffff to a pipe) and cannot decode FLAC from it at all; read
         * whole into memory, both work as for a regular file */
        const int64_t m64 = p && p->max_stream > 0 ? p->max_stream : DEFAULT_MAX_STREAM;
        const size_t max = m64 > (int64_t)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)m64;
        size_t len;
        int why;
        char *b = sdd_read_fd(fd, max, &len, &why);
        close(fd);
        if (!b)
            return why == EFBIG ? sdd_err_set(e, "%s: more than %zu bytes from a pipe or device; write it to a file first", path, max)
                 : why == ENOMEM ? sdd_err_set(e, "%s: out of memory", path)
                 : sdd_err_set(e, "%s: read error: %s", path, strerror(why));
        in->owned = (unsigned char *)b;
        if (open_mem(in, b, len, path, e)) { input_close(in); return -1; }
        return 0;
    }
    const char *why = S_ISDIR(st.st_mode) ? "is a directory, not an audio file" : st.st_size == 0 ? "empty file (0 bytes)" : NULL;
    src_t s = { .fd = fd, .len = S_ISDIR(st.st_mode) ? -1 : (int64_t)st.st_size };
    if (why || check_riff(&s, path, e)) {
        close(fd);
        if (why) sdd_err_set(e, "%s: %s", path, why);
        return -1;
    }
    in->sf = sf_open_fd(fd, SFM_READ, &in->si, SF_TRUE); /* owns fd from here */
    if (!in->sf) {
        char msg[256];
        one_line(msg, sizeof msg, sf_strerror(NULL));
        return sdd_err_set(e, "%s: cannot decode: %s", path, msg);
    }
    return 0;
}

/* The same for an in-memory image, which must outlive the handle. */
static int open_mem(input_t *in, const void *buf, size_t len, const char *name, sdd_err *e)
{
    if (!buf && len) return sdd_err_set(e, "%s: NULL argument", name);
    if (len == 0) return sdd_err_set(e, "%s: empty file (0 bytes)", name);
    if (len > (size_t)INT64_MAX) return sdd_err_set(e, "%s: too large", name);
    in->src = (src_t){ .fd = -1, .mem = buf, .len = (int64_t)len };
    if (check_riff(&in->src, name, e)) return -1;
    SF_VIRTUAL_IO vio = { vio_len, vio_seek, vio_read, vio_write, vio_tell };   /* copied by sf_open_virtual */
    memset(&in->si, 0, sizeof in->si);
    in->sf = sf_open_virtual(&vio, SFM_READ, &in->si, &in->src);
    if (!in->sf) {
        char why[256];
        one_line(why, sizeof why, sf_strerror(NULL));
        return sdd_err_set(e, "%s: cannot decode: %s", name, why);
    }
    return 0;
}

int sdd_audio_load_ex(const char *path, int target_sr, const sdd_audio_params *p,
                      float **out, int64_t *n, sdd_audio_info *info, sdd_err *e)
{
    reset_out(out, n, info);
    if (!path || !out || !n) return sdd_err_set(e, "sdd_audio_load: NULL argument");
    input_t in;
    if (open_path(&in, path, p, 0, e)) return -1;
    int rc = decode_sf(in.sf, &in.si, path, target_sr, max_secs(p), p ? p->head : 0, out, n, info, e);
    input_close(&in);
    return rc;
}

int sdd_audio_load(const char *path, int target_sr, float **out, int64_t *n,
                   sdd_audio_info *info, sdd_err *e)
{
    return sdd_audio_load_ex(path, target_sr, NULL, out, n, info, e);
}

int sdd_audio_load_mem(const void *buf, size_t len, const char *name, int target_sr,
                       const sdd_audio_params *p, float **out, int64_t *n,
                       sdd_audio_info *info, sdd_err *e)
{
    reset_out(out, n, info);
    if (!name) name = "(memory)";
    if (!out || !n) return sdd_err_set(e, "%s: NULL argument", name);
    input_t in = { 0 };
    if (open_mem(&in, buf, len, name, e)) { input_close(&in); return -1; }
    int rc = decode_sf(in.sf, &in.si, name, target_sr, max_secs(p), p ? p->head : 0, out, n, info, e);
    input_close(&in);
    return rc;
}

/* header checks of an open file; info gets the declared frames (0: unknown) */
static int probe_in(input_t *in, const char *name, int target_sr, const sdd_audio_params *p,
                    sdd_audio_info *info, sdd_err *e)
{
    const SF_INFO *si = &in->si;
    const int rc = check_header(si, name, target_sr, max_secs(p), e);
    if (!rc) fill_info(si, si->frames > 0 && si->frames < SF_COUNT_MAX ? (int64_t)si->frames : 0, info);
    input_close(in);
    return rc;
}

int sdd_audio_probe(const char *path, int target_sr, const sdd_audio_params *p, sdd_audio_info *info, sdd_err *e)
{
    if (info) memset(info, 0, sizeof *info);
    if (!path) return sdd_err_set(e, "sdd_audio_probe: NULL argument");
    input_t in;
    const int o = open_path(&in, path, p, 1, e);   /* a pipe is left for the decode to read */
    return o < 0 ? -1 : o > 0 ? 0 : probe_in(&in, path, target_sr, p, info, e);
}

int sdd_audio_probe_mem(const void *buf, size_t len, const char *name, int target_sr, const sdd_audio_params *p,
                        sdd_audio_info *info, sdd_err *e)
{
    if (info) memset(info, 0, sizeof *info);
    if (!name) name = "(memory)";
    input_t in = { 0 };
    if (open_mem(&in, buf, len, name, e)) { input_close(&in); return -1; }
    return probe_in(&in, name, target_sr, p, info, e);
}

int sdd_audio_is_audio_path(const char *path)
{
    static const char *const ext[] = {
        "wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "mp2", "mp1", "aiff", "aif",
        "aifc", "au", "snd", "caf", "w64", "rf64", "sph", "nist", "voc", "paf", "iff",
        "svx", "sf", "ircam", "xi", "htk", "sds", "avr", "wve", "mat4", "mat5", "pvf",
        "mpc", "sd2",
    };
    if (!path) return 0;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || !dot[1]) return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot + 1, ext[i])) return 1;
    return 0;
}
