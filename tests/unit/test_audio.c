/* Tests for src/audio/decode.c and src/audio/encode.c: audio generated at run
 * time with libsndfile in a temp dir (sines/noise at 8k/16k/44.1k/48k, mono,
 * stereo, 6 channels; WAV/FLAC/OGG and Opus/MP3 where libsndfile writes them),
 * resampled length and frequency, channel mixing, every rejected input with
 * its message, in-memory decoding, pipes and FIFOs (read whole, so any
 * format and a streaming writer's unknown WAV length decode as from a file),
 * and atomic WAV/FLAC writing. */
#include "check.h"
#include "audio/decode.h"
#include "audio/encode.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static char tmpdir[64];

#define tpath(name) check_tmp_path(tmpdir, (name))

/* Per-channel generator: channel c of frame i at rate sr. */
typedef float (*gen_fn)(int64_t i, int c, int sr);

static float gen_sine1k(int64_t i, int c, int sr)
{
    (void)c;
    return (float)(0.5 * sin(2 * M_PI * 1000.0 * (double)i / sr));
}

/* Channel c: sine of amplitude 0.1*(c+1) at 1 kHz; the mean is 0.1*(ch+1)/2 * sine. */
static float gen_scaled(int64_t i, int c, int sr)
{
    return (float)(0.1 * (c + 1) * sin(2 * M_PI * 1000.0 * (double)i / sr));
}

/* Stereo with different content per channel (for an exact mean check). */
static float gen_lr(int64_t i, int c, int sr)
{
    double t = (double)i / sr;
    return c == 0 ? (float)(0.6 * sin(2 * M_PI * 440.0 * t))
                  : (float)(0.25 + 0.3 * cos(2 * M_PI * 1330.0 * t));
}

static uint32_t lcg = 12345;
static float gen_noise(int64_t i, int c, int sr)
{
    (void)i; (void)c; (void)sr;
    lcg = lcg * 1664525u + 1013904223u;
    return (float)((double)(lcg >> 8) / (double)(1u << 24) - 0.5);
}

/* Writes a file with libsndfile; returns 0, or -1 if this libsndfile cannot
 * write the format. */
static int write_audio(const char *path, int format, int sr, int ch, int64_t frames, gen_fn g)
{
    SF_INFO si = { .samplerate = sr, .channels = ch, .format = format };
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    if (!sf) return -1;
    float *buf = malloc((size_t)(frames > 0 ? frames : 1) * (size_t)ch * sizeof *buf);
    if (!buf) { sf_close(sf); return -1; }
    for (int64_t i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++) buf[i * ch + c] = g(i, c, sr);
    sf_count_t w = frames ? sf_writef_float(sf, buf, frames) : 0;
    free(buf);
    sf_close(sf);
    return w == frames ? 0 : -1;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long k = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(k > 0 ? (size_t)k : 1);
    *n = p ? fread(p, 1, (size_t)k, f) : 0;
    fclose(f);
    return p;
}

/* Rising zero crossings per second over x[a..b). */
static double zc_freq(const float *x, int64_t a, int64_t b, int sr)
{
    int64_t first = -1, last = -1, count = 0;
    for (int64_t i = a + 1; i < b; i++)
        if (x[i - 1] < 0 && x[i] >= 0) {
            if (first < 0) first = i;
            else count++;
            last = i;
        }
    return count > 0 ? (double)count * sr / (double)(last - first) : 0;
}

/* Amplitude of the f Hz component over x[a..b) (projection on sin and cos). */
static double amp_at(const float *x, int64_t a, int64_t b, int sr, double f)
{
    double s = 0, c = 0;
    for (int64_t i = a; i < b; i++) {
        double w = 2 * M_PI * f * (double)i / sr;
        s += x[i] * sin(w);
        c += x[i] * cos(w);
    }
    return 2 * sqrt(s * s + c * c) / (double)(b - a);
}

static int expect_err(const char *path, const char *needle)
{
    float *x = (float *)1;
    int64_t n = 7;
    sdd_err e = { "" };
    int rc = sdd_audio_load(path, 16000, &x, &n, NULL, &e);
    CHECK(rc == -1);
    CHECK(x == NULL && n == 0);
    CHECK_STR_CONTAINS(e.msg, needle);
    CHECK_MSG(strchr(e.msg, '\n') == NULL, "multi-line message: %s", e.msg);
    CHECK_MSG(strncmp(e.msg, path, strlen(path)) == 0, "message does not start with the path: %s",
              e.msg);
    if (rc == 0) free(x);
    /* the header-only probe either passes (decoding shows what is wrong) or
     * fails with the very message of the decode */
    sdd_err pe = { "" };
    if (sdd_audio_probe(path, 16000, NULL, NULL, &pe)) CHECK_MSG(!strcmp(pe.msg, e.msg), "probe '%s', load '%s'", pe.msg, e.msg);
    return rc;
}

/* 1 when the probe of PATH fails (with load's message, expect_err checks that) */
static int probe_fails(const char *path, const sdd_audio_params *p)
{
    sdd_err e = { "" };
    sdd_audio_info info;
    info.channels = 99;
    const int rc = sdd_audio_probe(path, 16000, p, &info, &e);
    CHECK(rc == 0 || (rc == -1 && info.channels == 0 && !strncmp(e.msg, path, strlen(path)) && !strchr(e.msg, '\n')));
    return rc != 0;
}

/* sdd_audio_probe (the header read --eval sets get at sdd train's start):
 * catches what the header shows, passes what only decoding shows, and gives
 * the header's rate, channels and frame count (those of the decode) */
static void test_probe(void)
{
    static const char *caught[] = { "empty.wav", "trunc.wav", "trunc_hdr.flac", "text.wav", "missing.wav", "rate.wav" };
    static const char *passed[] = { "zero.wav", "trunc.flac", "nan.wav", "inf.wav" };
    for (size_t k = 0; k < sizeof caught / sizeof caught[0]; k++) {
        const char *p = tpath(caught[k]);
        CHECK_MSG(probe_fails(p, NULL), "%s passed the probe", caught[k]);
        float *x; int64_t n; sdd_err e1 = { "" }, e2 = { "" };
        CHECK(sdd_audio_load(p, 16000, &x, &n, NULL, &e1) == -1 && sdd_audio_probe(p, 16000, NULL, NULL, &e2) == -1);
        CHECK_MSG(!strcmp(e1.msg, e2.msg), "%s: probe '%s', load '%s'", caught[k], e2.msg, e1.msg);
    }
    CHECK(probe_fails(tmpdir, NULL));
    for (size_t k = 0; k < sizeof passed / sizeof passed[0]; k++)
        CHECK_MSG(!probe_fails(tpath(passed[k]), NULL), "%s failed the probe: decoding finds its fault", passed[k]);
    sdd_audio_params prm;
    sdd_audio_default_params(&prm);
    prm.max_seconds = 0.5;
    CHECK(probe_fails(tpath("long.wav"), &prm));
    prm.max_seconds = 2;
    CHECK(!probe_fails(tpath("long.wav"), &prm));
    static const char *good[] = { "sine_8000.wav", "sine_44100.flac", "sine_48000.ogg", "long.wav" };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        const char *p = tpath(good[k]);
        float *x = NULL; int64_t n; sdd_err e = { "" };
        sdd_audio_info a, b;
        CHECK_MSG(sdd_audio_load(p, 16000, &x, &n, &a, &e) == 0 && sdd_audio_probe(p, 16000, NULL, &b, &e) == 0, "%s: %s", good[k], e.msg);
        CHECK_MSG(a.sample_rate == b.sample_rate && a.channels == b.channels && a.frames == b.frames && !strcmp(a.format, b.format),
                  "%s: probe %d Hz %d ch %lld frames, decode %d Hz %d ch %lld frames", good[k], b.sample_rate, b.channels,
                  (long long)b.frames, a.sample_rate, a.channels, (long long)a.frames);
        free(x);
        /* the same through memory */
        FILE *f = fopen(p, "rb");
        unsigned char buf[1 << 17];
        const size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f) fclose(f);
        CHECK(len > 0 && len < sizeof buf && sdd_audio_probe_mem(buf, len, "m", 16000, NULL, &b, &e) == 0 && a.frames == b.frames);
    }
    sdd_err e = { "" };
    CHECK(sdd_audio_probe_mem("RIFF", 4, "four", 16000, NULL, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "four: cannot decode");
    CHECK(sdd_audio_probe_mem(NULL, 0, "none", 16000, NULL, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "none: empty file");
}

static void test_decode_rates(void)
{
    static const int rates[] = { 8000, 16000, 44100, 48000 };
    static const struct { int fmt; const char *ext; double amp_tol; } fmts[] = {
        { SF_FORMAT_WAV | SF_FORMAT_PCM_16, "wav", 0.01 },
        { SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "flac", 0.01 },
        { SF_FORMAT_OGG | SF_FORMAT_VORBIS, "ogg", 0.05 },
    };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++)
        for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
            int sr = rates[r];
            char name[64];
            snprintf(name, sizeof name, "sine_%d.%s", sr, fmts[f].ext);
            const char *p = tpath(name);
            int64_t frames = sr; /* one second */
            CHECK_MSG(write_audio(p, fmts[f].fmt, sr, 1, frames, gen_sine1k) == 0,
                      "cannot write %s", p);
            float *x = NULL;
            int64_t n = 0;
            sdd_audio_info info;
            sdd_err e = { "" };
            int rc = sdd_audio_load(p, 16000, &x, &n, &info, &e);
            CHECK_MSG(rc == 0, "%s: %s", p, e.msg);
            if (rc) continue;
            CHECK_MSG(llabs(n - 16000) <= 4, "%s: %lld samples, expected 16000", p, (long long)n);
            CHECK(info.sample_rate == sr);
            CHECK(info.channels == 1);
            CHECK_MSG(info.frames == frames, "%s: %lld frames", p, (long long)info.frames);
            CHECK(strlen(info.format) > 0);
            double fz = zc_freq(x, 1600, n - 1600, 16000);
            CHECK_MSG(fabs(fz - 1000.0) < 2.0, "%s: frequency %.3f Hz", p, fz);
            double a = amp_at(x, 1600, n - 1600, 16000, 1000.0);
            CHECK_MSG(fabs(a - 0.5) < fmts[f].amp_tol, "%s: amplitude %.4f", p, a);
            free(x);
        }
}

static void test_formats_named(void)
{
    const char *p = tpath("fmt.flac");
    CHECK(write_audio(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 1600, gen_sine1k) == 0);
    float *x = NULL;
    int64_t n = 0;
    sdd_audio_info info;
    sdd_err e = { "" };
    CHECK(sdd_audio_load(p, 16000, &x, &n, &info, &e) == 0);
    CHECK_STR_CONTAINS(info.format, "FLAC");
    CHECK(n == 1600);
    CHECK((info.sf_format & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC);
    free(x);
    /* target_sr <= 0 keeps the original rate */
    p = tpath("keep44.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, 4410, gen_sine1k) == 0);
    CHECK(sdd_audio_load(p, 0, &x, &n, &info, &e) == 0);
    CHECK(n == 4410);
    CHECK_STR_CONTAINS(info.format, "WAV");
    free(x);
}

static void test_mixing(void)
{
    /* stereo float WAV at 16 kHz, no resampling: output is exactly the mean */
    const char *p = tpath("lr.wav");
    int64_t frames = 8000;
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, frames, gen_lr) == 0);
    float *x = NULL;
    int64_t n = 0;
    sdd_audio_info info;
    sdd_err e = { "" };
    CHECK_MSG(sdd_audio_load(p, 16000, &x, &n, &info, &e) == 0, "%s", e.msg);
    CHECK(n == frames);
    CHECK(info.channels == 2);
    double maxd = 0;
    for (int64_t i = 0; i < n && x; i++) {
        double m = ((double)gen_lr(i, 0, 16000) + gen_lr(i, 1, 16000)) / 2;
        if (fabs(x[i] - m) > maxd) maxd = fabs(x[i] - m);
    }
    CHECK_MSG(maxd < 1e-6, "stereo mean off by %g", maxd);
    free(x);

    /* 6 channels FLAC 48 kHz -> 16 kHz: mean amplitude 0.1*(1+...+6)/6 = 0.35 */
    p = tpath("six.flac");
    CHECK(write_audio(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 6, 48000, gen_scaled) == 0);
    CHECK_MSG(sdd_audio_load(p, 16000, &x, &n, &info, &e) == 0, "%s", e.msg);
    CHECK(info.channels == 6);
    CHECK(llabs(n - 16000) <= 4);
    if (x) {
        CHECK_NEAR(amp_at(x, 1600, n - 1600, 16000, 1000.0), 0.35, 0.005);
        CHECK_NEAR(zc_freq(x, 1600, n - 1600, 16000), 1000.0, 2.0);
    }
    free(x);

    /* 6 channels WAV at 8 kHz -> 16 kHz (upsampling) */
    p = tpath("six8k.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 6, 8000, gen_scaled) == 0);
    CHECK_MSG(sdd_audio_load(p, 16000, &x, &n, &info, &e) == 0, "%s", e.msg);
    CHECK(llabs(n - 16000) <= 4);
    if (x) CHECK_NEAR(amp_at(x, 1600, n - 1600, 16000, 1000.0), 0.35, 0.005);
    free(x);
}

/* Opus and MP3 only where this libsndfile can write them. */
static void test_optional_formats(void)
{
    static const struct { int fmt; const char *ext; } f[] = {
        { SF_FORMAT_OGG | SF_FORMAT_OPUS, "opus" },
        { SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, "mp3" },
    };
    for (size_t k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "opt.%s", f[k].ext);
        const char *p = tpath(name);
        if (write_audio(p, f[k].fmt, 48000, 1, 48000, gen_sine1k) != 0) {
            printf("test_audio: %s writing not supported by this libsndfile, skipped\n", f[k].ext);
            continue;
        }
        float *x = NULL;
        int64_t n = 0;
        sdd_err e = { "" };
        int rc = sdd_audio_load(p, 16000, &x, &n, NULL, &e);
        CHECK_MSG(rc == 0, "%s: %s", p, e.msg);
        if (rc) continue;
        /* lossy codecs add priming delay/padding: allow 0.1 s */
        CHECK_MSG(llabs(n - 16000) <= 1600, "%s: %lld samples", p, (long long)n);
        CHECK_MSG(fabs(zc_freq(x, 3200, n - 3200, 16000) - 1000.0) < 3.0, "%s: frequency", p);
        free(x);
    }
}

static void truncate_to(const char *path, long size)
{
    CHECK(truncate(path, size) == 0);
}

static void test_bad_inputs(void)
{
    char want[512];
    const char *p = tpath("empty.wav");
    write_bytes(p, "", 0);
    expect_err(p, "empty file");

    p = tpath("zero.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 0, gen_sine1k) == 0);
    expect_err(p, "no audio samples");
    snprintf(want, sizeof want, "%s: no audio samples", p);
    {
        float *x; int64_t n; sdd_err e = { "" };
        sdd_audio_load(p, 16000, &x, &n, NULL, &e);
        CHECK(strcmp(e.msg, want) == 0);
    }

    p = tpath("trunc.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 16000, gen_noise) == 0);
    truncate_to(p, file_size(p) / 2);
    expect_err(p, "truncated WAV");

    p = tpath("trunc.flac");
    CHECK(write_audio(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 32000, gen_noise) == 0);
    truncate_to(p, file_size(p) / 2);
    expect_err(p, "truncated");

    p = tpath("trunc_hdr.flac");
    CHECK(write_audio(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 32000, gen_noise) == 0);
    truncate_to(p, 20);
    expect_err(p, "cannot decode");

    p = tpath("text.wav");
    const char *txt = "this is not audio, just some text\n";
    write_bytes(p, txt, strlen(txt));
    expect_err(p, "cannot decode");

    p = tpath("nan.wav");
    {
        SF_INFO si = { .samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT };
        SNDFILE *sf = sf_open(p, SFM_WRITE, &si);
        CHECK(sf != NULL);
        float buf[4000];
        for (int i = 0; i < 4000; i++) buf[i] = 0.1f * (float)sin(i * 0.1);
        buf[1234] = NAN;
        if (sf) { sf_writef_float(sf, buf, 4000); sf_close(sf); }
        float *x; int64_t n; sdd_err e = { "" };
        CHECK(sdd_audio_load(p, 16000, &x, &n, NULL, &e) == -1);
        snprintf(want, sizeof want, "%s: sample 1234 is NaN", p);
        CHECK_MSG(strcmp(e.msg, want) == 0, "got '%s'", e.msg);
    }
    p = tpath("inf.wav");
    {
        SF_INFO si = { .samplerate = 16000, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT };
        SNDFILE *sf = sf_open(p, SFM_WRITE, &si);
        float buf[2 * 3000] = { 0 };
        buf[2 * 2500 + 1] = -INFINITY; /* frame 2500, right channel */
        if (sf) { sf_writef_float(sf, buf, 3000); sf_close(sf); }
        float *x; int64_t n; sdd_err e = { "" };
        CHECK(sdd_audio_load(p, 16000, &x, &n, NULL, &e) == -1);
        snprintf(want, sizeof want, "%s: sample 2500 is Inf", p);
        CHECK_MSG(strcmp(e.msg, want) == 0, "got '%s'", e.msg);
    }

    p = tpath("missing.wav");
    expect_err(p, "No such file or directory");
    expect_err(tmpdir, "is a directory");

    /* length bound */
    p = tpath("long.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 16000, gen_sine1k) == 0);
    {
        sdd_audio_params prm;
        sdd_audio_default_params(&prm);
        CHECK(prm.max_seconds == 14400.0);
        prm.max_seconds = 0.5;
        float *x = (float *)1; int64_t n = 1; sdd_err e = { "" };
        CHECK(sdd_audio_load_ex(p, 16000, &prm, &x, &n, NULL, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "too long");
        CHECK(x == NULL);
        prm.max_seconds = 2;
        CHECK(sdd_audio_load_ex(p, 16000, &prm, &x, &n, NULL, &e) == 0);
        CHECK(n == 16000);
        free(x);
    }
    /* a head: the first samples of the whole decode, bit for bit, also through
     * the resampler (8 and 48 kHz, stereo); the rest is still checked (a
     * truncation after the head is an error); a file shorter than the head is whole */
    const int rates[3] = { 8000, 48000, 16000 };
    for (int k = 0; k < 3; k++) {
        p = tpath("head.wav");
        CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, rates[k], 2, 5 * rates[k], gen_noise) == 0);
        float *all = NULL, *h = NULL;
        int64_t na = 0, nh = 0;
        sdd_err e = { "" };
        CHECK(sdd_audio_load(p, 16000, &all, &na, NULL, &e) == 0);
        sdd_audio_params prm;
        sdd_audio_default_params(&prm);
        const int64_t heads[3] = { 1, 20011, 64600 };
        for (int j = 0; j < 3; j++) {
            prm.head = heads[j];
            CHECK_MSG(sdd_audio_load_ex(p, 16000, &prm, &h, &nh, NULL, &e) == 0, "%s", e.msg);
            CHECK_MSG(nh == heads[j] && na > nh && h && all && memcmp(h, all, (size_t)nh * sizeof(float)) == 0,
                      "%d Hz, head %lld: %lld samples, not the whole decode's first", rates[k], (long long)heads[j], (long long)nh);
            free(h);
            h = NULL;
        }
        prm.head = na + 100;
        CHECK(sdd_audio_load_ex(p, 16000, &prm, &h, &nh, NULL, &e) == 0);
        CHECK(nh == na && h && memcmp(h, all, (size_t)na * sizeof(float)) == 0);
        free(h);
        free(all);
        /* a head that only the resampler's filter tail reaches (fuzz_audio found
         * the output longer than the head): 40 frames at 8 kHz give ~80 samples */
        if (rates[k] == 8000) {
            CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 40, gen_noise) == 0);
            CHECK(sdd_audio_load(p, 16000, &all, &na, NULL, &e) == 0);
            prm.head = na - 10;
            CHECK(sdd_audio_load_ex(p, 16000, &prm, &h, &nh, NULL, &e) == 0);
            CHECK_MSG(nh == na - 10 && h && all && memcmp(h, all, (size_t)nh * sizeof(float)) == 0, "tail head: %lld of %lld", (long long)nh, (long long)na);
            free(h);
            free(all);
            CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, rates[k], 2, 5 * rates[k], gen_noise) == 0);
        }
        truncate_to(p, file_size(p) / 2);
        prm.head = 100;
        CHECK(sdd_audio_load_ex(p, 16000, &prm, &h, &nh, NULL, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "truncated");
    }
    /* an unsupported sample rate */
    p = tpath("rate.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 500, 1, 500, gen_sine1k) == 0);
    expect_err(p, "unsupported sample rate 500 Hz");
}

static void test_mem(void)
{
    const char *p = tpath("mem.flac");
    CHECK(write_audio(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 22050, gen_lr) == 0);
    size_t len = 0;
    unsigned char *img = read_all(p, &len);
    CHECK(img != NULL && len > 0);
    float *a = NULL, *b = NULL;
    int64_t na = 0, nb = 0;
    sdd_audio_info ia, ib;
    sdd_err e = { "" };
    CHECK(sdd_audio_load(p, 16000, &a, &na, &ia, &e) == 0);
    CHECK_MSG(sdd_audio_load_mem(img, len, "img", 16000, NULL, &b, &nb, &ib, &e) == 0, "%s", e.msg);
    CHECK(na == nb && na > 0);
    CHECK(a && b && memcmp(a, b, (size_t)na * sizeof *a) == 0);
    CHECK(ia.frames == ib.frames && ia.channels == ib.channels);
    free(a);
    free(b);
    /* truncated image, garbage and empty image */
    CHECK(sdd_audio_load_mem(img, len / 2, "half", 16000, NULL, &b, &nb, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "half: truncated");
    CHECK(sdd_audio_load_mem("RIFF....WAVEjunk", 16, "junk", 16000, NULL, &b, &nb, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "junk: cannot decode");
    CHECK(sdd_audio_load_mem(img, 0, "none", 16000, NULL, &b, &nb, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "none: empty file");
    free(img);

    p = tpath("memtrunc.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1000, gen_noise) == 0);
    img = read_all(p, &len);
    CHECK(sdd_audio_load_mem(img, len - 10, "w", 16000, NULL, &b, &nb, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "w: truncated WAV: header declares 2000 bytes of audio, file holds 1990");
    free(img);
}


/* ---- pipes: a writer thread feeds bytes into a pipe the decoder opens as /dev/fd/N ---- */

typedef struct { int fd; const unsigned char *p; size_t n; } feed_arg;

static void *feed_main(void *arg)
{
    feed_arg *f = arg;
    size_t done = 0;
    while (done < f->n) {
        ssize_t w = write(f->fd, f->p + done, f->n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;   /* EPIPE: the reader stopped (SIGPIPE is ignored) */
        done += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

/* Decodes bytes [p, p + n) through a pipe; returns the decode's status. */
static int load_piped(const unsigned char *p, size_t n, const sdd_audio_params *ap, float **out, int64_t *nout,
                      sdd_audio_info *info, sdd_err *e)
{
    int fds[2];
    if (pipe(fds)) return -2;
    feed_arg f = { fds[1], p, n };
    pthread_t th;
    if (pthread_create(&th, NULL, feed_main, &f)) { close(fds[0]); close(fds[1]); return -2; }
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    const int rc = sdd_audio_load_ex(path, 16000, ap, out, nout, info, e);
    close(fds[0]);
    pthread_join(th, NULL);
    return rc;
}

static void test_pipe(void)
{
    signal(SIGPIPE, SIG_IGN);
    sdd_err e = { "" };
    float *a = NULL, *b = NULL;
    int64_t na = 0, nb = 0;
    sdd_audio_info ia, ib;
    /* a WAV as ffmpeg and sox write it to a pipe: RIFF and data sizes 0xffffffff */
    const char *w = tpath("pipe.wav");
    CHECK(write_audio(w, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 2, 30000, gen_lr) == 0);
    size_t len = 0;
    unsigned char *img = read_all(w, &len);
    CHECK(img && len == 44 + 30000 * 4 && !memcmp(img + 36, "data", 4));
    CHECK(sdd_audio_load(w, 16000, &a, &na, &ia, &e) == 0);
    if (img && len > 44) {
        memset(img + 4, 0xff, 4);
        memset(img + 40, 0xff, 4);
        const int rc = load_piped(img, len, NULL, &b, &nb, &ib, &e);
        CHECK_MSG(rc == 0, "piped streaming WAV: %s", e.msg);
        CHECK(rc == 0 && nb == na && a && b && memcmp(a, b, (size_t)na * sizeof *a) == 0);
        CHECK(rc == 0 && ib.frames == 30000 && ib.channels == 2 && ib.sample_rate == 22050);
        free(b);
        /* the stream limit: one byte less than the stream is refused, its length is not */
        sdd_audio_params ap;
        sdd_audio_default_params(&ap);
        CHECK(ap.max_stream == (int64_t)1 << 30);
        ap.max_stream = (int64_t)len - 1;
        CHECK(load_piped(img, len, &ap, &b, &nb, NULL, &e) == -1 && b == NULL && nb == 0);
        char want[128];
        snprintf(want, sizeof want, "more than %zu bytes from a pipe or device; write it to a file first", len - 1);
        CHECK_STR_CONTAINS(e.msg, want);
        CHECK_STR_CONTAINS(e.msg, "/dev/fd/");
        ap.max_stream = (int64_t)len;
        CHECK_MSG(load_piped(img, len, &ap, &b, &nb, NULL, &e) == 0 && nb == na, "%s", e.msg);
        free(b);
    }
    free(img);
    free(a);
    /* FLAC cannot be decoded from an unseekable stream; read whole, it decodes as the file */
    const char *fl = tpath("pipe.flac");
    CHECK(write_audio(fl, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 40000, gen_noise) == 0);
    img = read_all(fl, &len);
    CHECK(sdd_audio_load(fl, 16000, &a, &na, NULL, &e) == 0);
    CHECK_MSG(img && load_piped(img, len, NULL, &b, &nb, NULL, &e) == 0, "piped FLAC: %s", e.msg);
    CHECK(na == 40000 && nb == na && a && b && memcmp(a, b, (size_t)na * sizeof *a) == 0);
    free(a);
    free(b);
    free(img);
    /* an empty pipe */
    CHECK(load_piped((const unsigned char *)"", 0, NULL, &b, &nb, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "empty file (0 bytes)");
    /* a FIFO with no writer: the probe leaves it for the decode and does not wait */
    const char *ff = tpath("fifo.wav");
    CHECK(mkfifo(ff, 0600) == 0);
    sdd_audio_info pi;
    CHECK_MSG(sdd_audio_probe(ff, 16000, NULL, &pi, &e) == 0, "%s", e.msg);
    CHECK(pi.frames == 0 && pi.sample_rate == 0);
}

static void test_is_audio_path(void)
{
    CHECK(sdd_audio_is_audio_path("a.wav"));
    CHECK(sdd_audio_is_audio_path("dir/B.FLAC"));
    CHECK(sdd_audio_is_audio_path("x.Ogg"));
    CHECK(sdd_audio_is_audio_path("x.opus"));
    CHECK(sdd_audio_is_audio_path("x.mp3"));
    CHECK(sdd_audio_is_audio_path("x.aiff"));
    CHECK(sdd_audio_is_audio_path("x.sph"));
    CHECK(sdd_audio_is_audio_path("/a.b/c.au"));
    CHECK(!sdd_audio_is_audio_path("x.txt"));
    CHECK(!sdd_audio_is_audio_path("LA_E_1234567"));
    CHECK(!sdd_audio_is_audio_path("dir.wav/file"));
    CHECK(!sdd_audio_is_audio_path(".wav"));
    CHECK(!sdd_audio_is_audio_path("x."));
    CHECK(!sdd_audio_is_audio_path("fake/file1.wav_16k.wav_silence"));
    CHECK(!sdd_audio_is_audio_path(NULL));
}

/* Number of directory entries whose name contains ".tmp." */
static int count_tmp(void)
{
    DIR *d = opendir(tmpdir);
    int k = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) k++;
    if (d) closedir(d);
    return k;
}

static void test_save(void)
{
    umask(022);
    int64_t n = 16000;
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = gen_sine1k(i, 0, 16000);
    x[10] = 1.5f;
    x[20] = -2.0f;
    static const char *names[] = { "out.wav", "out.FLAC" };
    for (int k = 0; k < 2; k++) {
        const char *p = tpath(names[k]);
        int64_t clipped = -1;
        sdd_err e = { "" };
        CHECK_MSG(sdd_audio_save_ex(p, x, n, 16000, &clipped, &e) == 0, "%s", e.msg);
        CHECK(clipped == 2);
        struct stat st;
        CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644);
        float *y = NULL;
        int64_t ny = 0;
        sdd_audio_info info;
        CHECK_MSG(sdd_audio_load(p, 16000, &y, &ny, &info, &e) == 0, "%s", e.msg);
        CHECK(ny == n);
        CHECK(info.channels == 1 && info.sample_rate == 16000);
        CHECK((info.sf_format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16);
        CHECK((info.sf_format & SF_FORMAT_TYPEMASK) == (k ? SF_FORMAT_FLAC : SF_FORMAT_WAV));
        double maxd = 0;
        for (int64_t i = 0; i < ny && y; i++) {
            double want = x[i] > 1 ? 1 : x[i] < -1 ? -1 : x[i];
            if (fabs(y[i] - want) > maxd) maxd = fabs(y[i] - want);
        }
        CHECK_MSG(maxd <= 1.0 / 32768 + 1e-7, "%s: max error %g", p, maxd);
        free(y);
    }
    CHECK(count_tmp() == 0);

    /* a failed write leaves the old file untouched and no temp file */
    const char *p = tpath("out.wav");
    long before = file_size(p);
    x[100] = NAN;
    sdd_err e = { "" };
    CHECK(sdd_audio_save(p, x, n / 2, 16000, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "sample 100 is NaN");
    CHECK(file_size(p) == before);
    CHECK(count_tmp() == 0);
    x[100] = 0;

    /* overwrite replaces the content */
    CHECK(sdd_audio_save(p, x, 800, 8000, &e) == 0);
    float *y = NULL;
    int64_t ny = 0;
    sdd_audio_info info;
    CHECK(sdd_audio_load(p, 0, &y, &ny, &info, &e) == 0);
    CHECK(ny == 800 && info.sample_rate == 8000);
    free(y);

    /* a failure without an old file leaves nothing at PATH */
    p = tpath("never.wav");
    x[5] = INFINITY;
    CHECK(sdd_audio_save(p, x, n, 16000, &e) == -1);
    CHECK(access(p, F_OK) != 0);
    x[5] = 0;
    CHECK(count_tmp() == 0);

    CHECK(sdd_audio_save(tpath("x.mp3"), x, n, 16000, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "use .wav or .flac");
    CHECK(sdd_audio_save(tpath("nodir/x.wav"), x, n, 16000, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "nodir/x.wav: cannot create temp file");
    CHECK(sdd_audio_save(tpath("zero.wav"), x, 0, 16000, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no samples");
    CHECK(sdd_audio_save(tpath("rate.wav"), x, n, 0, &e) == -1);
    CHECK(count_tmp() == 0);
    /* a folder named like an audio file is refused, not replaced */
    const char *dir = tpath("folder.wav");
    struct stat st;
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(sdd_audio_save(dir, x, n, 16000, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "folder.wav: is a directory");
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && rmdir(dir) == 0);
    /* a path that leads to a device is written through, not replaced by a
     * regular file: null.wav -> /dev/null keeps its link and /dev/null stays */
    const char *lnk = tpath("null.wav");
    CHECK(symlink("/dev/null", lnk) == 0);
    CHECK_MSG(sdd_audio_save(lnk, x, n, 16000, &e) == 0, "%s", e.msg);
    CHECK(lstat(lnk, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(count_tmp() == 0);
    free(x);
}

static void rm_tree(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) unlink(tpath(de->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sdd_test_audio_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_decode_rates();
    test_formats_named();
    test_mixing();
    test_optional_formats();
    test_bad_inputs();
    test_probe();
    test_mem();
    test_pipe();
    test_is_audio_path();
    test_save();
    rm_tree();
    return CHECK_DONE("test_audio");
}
