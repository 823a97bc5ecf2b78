/* The bad-input matrix of tests/BAD_INPUTS.md, case by case (B01..B42 in
 * the comments match the table's IDs), run through the sdd binary ($SDD_BIN,
 * default ./sdd) from the repository root. Every input is generated here in
 * a temp folder (the 1-hour file too) except the wrong-shape checkpoint
 * (tests/data/badinput/wrong_shape.pth, tools/reference/make_badinput_fixtures.py).
 * Each case checks the exit status, the exact error text with the file (and
 * line) named, that errors are one line, and that no output file appears or
 * an existing one is left unchanged. Cases that score audio need the shared
 * AASIST-L checkpoint and are skipped, with a line saying so, without it. */
#include "check.h"
#include "cli_run.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

static char out[65536];
static char tmp[256];
static char model[512];   /* imported AASIST-L (a missing file without the shared checkpoints) */
static int have_model;
static const char *shared;

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

static const char *T(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

#define exists cli_exists

static int lines_of(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* the whole output is exactly one line "sdd: ..." holding want */
#define CHECK_ONE_LINE_ERROR(want) do { \
    CHECK_MSG(lines_of(out) == 1 && !strncmp(out, "sdd: ", 5), "not one 'sdd: ' line:\n%s", out); \
    CHECK_STR_CONTAINS(out, want); } while (0)

/* no file in tmp whose name starts with prefix (a leftover temp file) */
static int leftovers(const char *prefix)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -c '^%s'", tmp, prefix);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) { if (fscanf(p, "%d", &n) != 1) n = -1; pclose(p); }
    return n;
}

static void write_file(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(buf, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

/* the score after "ID " in "ID SCORE" lines of s (NAN when absent) */
static double score_of(const char *s, const char *id)
{
    const char *p = strstr(s, id);
    return p ? strtod(p + strlen(id), NULL) : NAN;
}

static void put32(unsigned char *b, uint32_t v) { for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i)); }
static void put16(unsigned char *b, unsigned v) { b[0] = (unsigned char)v; b[1] = (unsigned char)(v >> 8); }

/* A canonical 44-byte WAV header: fmt 1 (PCM 16) or 3 (float 32), data
 * chunk declaring `declared` frames. */
static void wav_header(unsigned char h[44], int fmt, int rate, int ch, int64_t declared)
{
    const int bps = fmt == 3 ? 4 : 2;
    const uint32_t data = (uint32_t)(declared * ch * bps);
    memcpy(h, "RIFF", 4); put32(h + 4, 36 + data); memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16); put16(h + 20, (unsigned)fmt); put16(h + 22, (unsigned)ch);
    put32(h + 24, (uint32_t)rate); put32(h + 28, (uint32_t)(rate * ch * bps));
    put16(h + 32, (unsigned)(ch * bps)); put16(h + 34, (unsigned)(8 * bps));
    memcpy(h + 36, "data", 4); put32(h + 40, data);
}

/* A WAV of `frames` frames (a 440 Hz tone, the same on every channel),
 * `written` of them actually present. bad >= 0 puts a NaN (fmt 3) or
 * bad_val at that frame. */
static void wav_write(const char *path, int fmt, int rate, int ch, int64_t frames, int64_t written,
                      int64_t bad, float bad_val)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    int ok = 1;
    unsigned char h[44];
    wav_header(h, fmt, rate, ch, frames);
    ok &= fwrite(h, 1, 44, f) == 44;
    enum { CH = 8192 };
    static unsigned char blk[CH * 6 * 4];
    for (int64_t i0 = 0; i0 < written; i0 += CH) {
        const int64_t nf = written - i0 < CH ? written - i0 : CH;
        size_t k = 0;
        for (int64_t i = i0; i < i0 + nf; i++) {
            float v = 0.3f * sinf(2.0f * 3.14159265f * 440.0f * (float)(i % rate) / (float)rate);
            if (i == bad) v = bad_val;
            for (int c = 0; c < ch; c++) {
                if (fmt == 3) { memcpy(blk + k, &v, 4); k += 4; }
                else { put16(blk + k, (unsigned)(uint16_t)(int16_t)lrintf(v * 32767.0f)); k += 2; }
            }
        }
        ok &= fwrite(blk, 1, k, f) == k;
    }
    ok &= fclose(f) == 0;
    CHECK_MSG(ok, "%s: write failed", path);
}

/* Runs a shell command with output discarded; its exit status, and the
 * peak resident memory of the command (KiB) in *rss_kb. */
static int run_rss(long *rss_kb, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &st, 0, &ru) != pid) return -1;
    *rss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* a zip archive holding one member name = data[0, n) (deflated when deflate) */
static void zip_write(const char *path, const char *name, const void *data, size_t n, int deflate)
{
    int err = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    CHECK(za != NULL);
    if (!za) return;
    zip_source_t *src = zip_source_buffer(za, data, n, 0);
    zip_int64_t idx = src ? zip_file_add(za, name, src, ZIP_FL_OVERWRITE) : -1;
    CHECK(idx >= 0);
    if (idx >= 0) CHECK(zip_set_file_compression(za, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 1) == 0);
    CHECK(zip_close(za) == 0);
}

/* ---- audio (sdd score) ---- */

/* runs `sdd score` on one bad file with -o; expects exit 1, one line naming
 * the file with `want`, and no output file */
static void score_rejects(const char *file, const char *want)
{
    const char *o = T("scores.txt");
    int rc = run("$SDD score -m %s --cut 8000 -o %s %s", model, o, file);
    CHECK_MSG(rc == 1, "%s: exit %d:\n%s", file, rc, out);
    /* the file's error line, then the summary line */
    CHECK_STR_CONTAINS(out, file);
    CHECK_STR_CONTAINS(out, want);
    CHECK_STR_CONTAINS(out, "sdd: 1 of 1 files could not be scored");
    CHECK_MSG(lines_of(out) == 2, "expected 2 lines:\n%s", out);
    CHECK(!exists(o));
    CHECK(leftovers("scores.txt") == 0);
}

static void audio_cases(void)
{
    char want[1024];
    /* B01 empty file */
    write_str(T("empty.wav"), "");
    score_rejects(T("empty.wav"), "empty.wav: empty file (0 bytes)");
    /* B02 zero-length audio: a valid header, no frames */
    wav_write(T("zero.wav"), 1, 16000, 1, 0, 0, -1, 0);
    score_rejects(T("zero.wav"), "zero.wav: no audio samples");
    /* B03 truncated WAV: header says 16000 frames, 1000 present */
    wav_write(T("trunc.wav"), 1, 16000, 1, 16000, 1000, -1, 0);
    score_rejects(T("trunc.wav"), "trunc.wav: truncated WAV: header declares 32000 bytes of audio, file holds 2000");
    /* B04 truncated FLAC: a bundled clip cut in half */
    CHECK(run("head -c 6000 tests/data/audio/real_01.flac > %s", T("trunc.flac")) == 0);
    score_rejects(T("trunc.flac"), "trunc.flac: truncated: header declares");
    /* B05 unsupported format: text named .wav, and an MP4 container */
    write_str(T("text.wav"), "hello, this is not audio\n");
    score_rejects(T("text.wav"), "text.wav: cannot decode: Format not recognised");
    static const unsigned char mp4[32] = { 0, 0, 0, 32, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0,
                                           'i', 's', 'o', 'm', 'i', 's', 'o', '2', 'm', 'p', '4', '1', 0, 0, 0, 8 };
    write_file(T("clip.mp4"), mp4, sizeof mp4);
    score_rejects(T("clip.mp4"), "clip.mp4: cannot decode: Format not recognised");
    /* B06 NaN and B07 Inf samples (32-bit float WAV) */
    wav_write(T("nan.wav"), 3, 16000, 1, 16000, 16000, 100, NAN);
    score_rejects(T("nan.wav"), "nan.wav: sample 100 is NaN");
    wav_write(T("inf.wav"), 3, 16000, 1, 16000, 16000, 5, INFINITY);
    score_rejects(T("inf.wav"), "inf.wav: sample 5 is Inf");
    /* B08 a directory given as an audio file is searched; no audio inside */
    CHECK(run("mkdir -p %s && cp tests/data/audio/LICENSE %s/notes.txt", T("noaudio"), T("noaudio")) == 0);
    CHECK(run("$SDD score -m %s --cut 8000 -o %s %s", model, T("scores.txt"), T("noaudio")) == 1);
    snprintf(want, sizeof want, "sdd: %s: no audio files found", T("noaudio"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(!exists(T("scores.txt")));

    /* accepted: B09 8 kHz, B10 48 kHz, B11 6 channels at 48 kHz (the same
     * tone on every channel: mixing to mono gives the 48 kHz file's score),
     * B12 a FLAC named .wav (scored as the FLAC it is), B13 a WAV named .txt
     * given by name (any name given explicitly is decoded by content) */
    wav_write(T("r8k.wav"), 1, 8000, 1, 16000, 16000, -1, 0);
    wav_write(T("r48k.wav"), 1, 48000, 1, 48000, 48000, -1, 0);
    wav_write(T("six.wav"), 1, 48000, 6, 48000, 48000, -1, 0);
    CHECK(run("cp tests/data/audio/real_01.flac %s && cp %s %s", T("flac_named.wav"), T("r48k.wav"), T("wav_named.txt")) == 0);
    int rc = run("$SDD score -m %s --cut 8000 -o %s %s %s %s %s tests/data/audio/real_01.flac %s", model, T("ok.txt"),
                 T("r8k.wav"), T("r48k.wav"), T("six.wav"), T("flac_named.wav"), T("wav_named.txt"));
    CHECK_MSG(rc == 0 && out[0] == 0, "exit %d:\n%s", rc, out);
    CHECK(run("cat %s", T("ok.txt")) == 0);
    CHECK(lines_of(out) == 6);
    double s[6] = { NAN, NAN, NAN, NAN, NAN, NAN };
    const char *names[6] = { "r8k.wav ", "r48k.wav ", "six.wav ", "flac_named.wav ", "real_01.flac ", "wav_named.txt " };
    for (int k = 0; k < 6; k++) {
        const char *p = strstr(out, names[k]);
        CHECK_MSG(p != NULL, "%s missing:\n%s", names[k], out);
        if (p) s[k] = strtod(p + strlen(names[k]), NULL);
        CHECK(isfinite(s[k]));
    }
    CHECK_MSG(s[2] == s[1], "6 channels %.9g vs mono %.9g", s[2], s[1]);
    CHECK(s[3] == s[4]);
    CHECK(s[5] == s[1]);
    /* B14 a folder: names without an audio extension are not decoded */
    CHECK(run("mkdir -p %s && cp tests/data/audio/real_01.flac %s/a.flac && cp %s %s/b.txt",
              T("mixed"), T("mixed"), T("text.wav"), T("mixed")) == 0);
    CHECK(run("$SDD score -m %s --cut 8000 %s", model, T("mixed")) == 0);
    CHECK(lines_of(out) == 1);
    CHECK_STR_CONTAINS(out, "/a.flac ");

    /* B15 a 1-hour file (16 kHz, 16-bit, 115 MB), generated and removed here:
     * only the scored window is decoded, so scoring it takes no more memory
     * than scoring a 10 s file (decoding it whole would add 230 MB) */
    wav_write(T("hour.wav"), 1, 16000, 1, 3600LL * 16000, 3600LL * 16000, -1, 0);
    wav_write(T("ten.wav"), 1, 16000, 1, 10 * 16000, 10 * 16000, -1, 0);
    rc = run("$SDD score -m %s %s %s", model, T("hour.wav"), T("ten.wav"));
    CHECK_MSG(rc == 0 && lines_of(out) == 2, "exit %d:\n%s", rc, out);
    CHECK_STR_CONTAINS(out, "hour.wav ");
    /* both start with the same tone: the same first 64,600 samples, the same score */
    CHECK(score_of(out, "hour.wav") == score_of(out, "ten.wav"));
    long rss_hour = 0, rss_ten = 0;
    CHECK(run_rss(&rss_hour, "$SDD score -m %s %s >/dev/null 2>&1", model, T("hour.wav")) == 0);
    CHECK(run_rss(&rss_ten, "$SDD score -m %s %s >/dev/null 2>&1", model, T("ten.wav")) == 0);
    CHECK_MSG(rss_hour < rss_ten + 32 * 1024, "1-hour file: %ld KiB peak, 10 s file: %ld KiB", rss_hour, rss_ten);
    /* --full holds the whole file: refused above --max-seconds (default 4 hours) */
    CHECK(run("$SDD score -m %s --full --max-seconds 600 -o %s %s", model, T("s.txt"), T("hour.wav")) == 1);
    snprintf(want, sizeof want, "sdd: %s: too long: 3600.0 s (limit 600 s)\nsdd: 1 of 1 files could not be scored\n", T("hour.wav"));
    CHECK_MSG(!strcmp(out, want), "got:\n%s", out);
    CHECK(!exists(T("s.txt")));
    CHECK(run("$SDD score -m %s --max-seconds 600 %s", model, T("hour.wav")) == 2);
    CHECK_STR_CONTAINS(out, "--max-seconds applies to --full only");
    unlink(T("hour.wav"));
    unlink(T("ten.wav"));
    /* B34 a FLAC whose STREAMINFO declares 10^10 frames (7 days at 16 kHz)
     * over 24,907 real ones: refused before any allocation, with --full and
     * without */
    FILE *ff = fopen("tests/data/audio/real_01.flac", "rb");
    static unsigned char flac[1 << 20];
    const size_t fn = ff ? fread(flac, 1, sizeof flac, ff) : 0;
    if (ff) fclose(ff);
    CHECK(fn > 26 && !memcmp(flac, "fLaC", 4) && (flac[4] & 0x7f) == 0);   /* STREAMINFO first */
    const uint64_t lie = 10000000000ull;   /* 36 bits: the low nibble of byte 21, bytes 22..25 */
    flac[21] = (unsigned char)((flac[21] & 0xF0) | ((lie >> 32) & 0x0F));
    for (int i = 0; i < 4; i++) flac[22 + i] = (unsigned char)(lie >> (24 - 8 * i));
    write_file(T("liar.flac"), flac, fn);
    CHECK(run("$SDD score -m %s --full -o %s %s", model, T("s.txt"), T("liar.flac")) == 1);
    snprintf(want, sizeof want, "sdd: %s: too long: 625000.0 s (limit 14400 s)\n", T("liar.flac"));
    CHECK_MSG(!strncmp(out, want, strlen(want)), "got:\n%s", out);
    score_rejects(T("liar.flac"), "too long: 625000.0 s (limit 14400 s)");
    CHECK(!exists(T("s.txt")));
}

/* ---- lists (sdd score --list, sdd train) ---- */

static void list_cases(void)
{
    char want[1024];
    char adir[512];
    snprintf(adir, sizeof adir, "%s", T("la"));
    CHECK(run("mkdir -p %s && cp tests/data/audio/real_01.flac %s/LA_T_1.flac && cp tests/data/audio/tts_01.flac %s/LA_T_2.flac",
              adir, adir, adir) == 0);
    const char *good = "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 spoof\n";
    /* B16 a protocol line with a missing column */
    write_str(T("cols.txt"), "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 A01 spoof\n");
    CHECK(run("$SDD score -m %s --list %s --audio-dir %s -o %s", model, T("cols.txt"), adir, T("s.txt")) == 1);
    snprintf(want, sizeof want, "sdd: %s:2: expected 5 columns, got 4", T("cols.txt"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(!exists(T("s.txt")));
    /* B17 an unknown label */
    write_str(T("label.txt"), "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 fake\n");
    CHECK(run("$SDD score -m %s --list %s --audio-dir %s -o %s", model, T("label.txt"), adir, T("s.txt")) == 1);
    snprintf(want, sizeof want, "sdd: %s:2: unknown label 'fake' (expected bonafide or spoof)", T("label.txt"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(!exists(T("s.txt")));
    /* B18 a duplicate ID */
    write_str(T("dup.txt"), "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 spoof\nLA_0080 LA_T_1 - - bonafide\n");
    CHECK(run("$SDD score -m %s --list %s --audio-dir %s -o %s", model, T("dup.txt"), adir, T("s.txt")) == 1);
    snprintf(want, sizeof want, "sdd: %s:3: duplicate ID LA_T_1 (first on line 1)", T("dup.txt"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(!exists(T("s.txt")));
    write_str(T("lf.txt"), good);
    if (!have_model) goto train;
    /* B19 CRLF line ends: accepted, the same scores as LF */
    write_str(T("crlf.txt"), "LA_0079 LA_T_1 - - bonafide\r\nLA_0079 LA_T_2 - A01 spoof\r\n");
    CHECK(run("$SDD score -m %s --cut 8000 --list %s --audio-dir %s -o %s", model, T("lf.txt"), adir, T("lf.scores")) == 0);
    CHECK(run("$SDD score -m %s --cut 8000 --list %s --audio-dir %s -o %s", model, T("crlf.txt"), adir, T("crlf.scores")) == 0);
    CHECK_MSG(run("cmp %s %s", T("lf.scores"), T("crlf.scores")) == 0, "%s", out);
    /* B20 an ID missing from the audio folder: its error line, the others
     * scored and written, exit 1 (see the table) */
    write_str(T("missing.txt"), "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_9 - A01 spoof\n");
    CHECK(run("$SDD score -m %s --cut 8000 --list %s --audio-dir %s -o %s", model, T("missing.txt"), adir, T("m.scores")) == 1);
    snprintf(want, sizeof want, "sdd: %s/LA_T_9.flac: No such file or directory\nsdd: 1 of 2 files could not be scored\n", adir);
    CHECK_MSG(!strcmp(out, want), "got:\n%s", out);
    CHECK(run("cat %s", T("m.scores")) == 0);
    CHECK(lines_of(out) == 1 && !strncmp(out, "LA_T_1 ", 7));
train:
    /* B21 ... and in a training list: training refuses to start, naming the
     * file; nothing is written into the run folder */
    CHECK(run("$SDD train --train %s --train-audio %s --dev %s --dev-audio %s --out %s --model AASIST-L --cut 4000 --quiet",
              T("missing.txt"), adir, T("lf.txt"), adir, T("run")) == 1);
    snprintf(want, sizeof want, "%s/LA_T_9.flac: No such file or directory", adir);
    CHECK_ONE_LINE_ERROR(want);
    CHECK(run("ls -A %s | wc -l", T("run")) == 0 && atoi(out) == 0);
}

/* ---- score files (sdd eval) ---- */

static void score_file_cases(void)
{
    char want[1024];
    write_str(T("key.txt"), "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 spoof\nLA_0079 LA_T_3 - A02 spoof\n");
    /* B22 a non-numeric score */
    write_str(T("nonnum.txt"), "LA_T_1 1.5\nLA_T_2 abc\nLA_T_3 -2\n");
    CHECK(run("$SDD eval --scores %s --key %s -o %s", T("nonnum.txt"), T("key.txt"), T("r.json")) == 1);
    snprintf(want, sizeof want, "sdd: %s:2: score 'abc' is not a number", T("nonnum.txt"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(!exists(T("r.json")));
    /* B23 a NaN score */
    write_str(T("nan.scores"), "LA_T_1 1.5\nLA_T_2 nan\nLA_T_3 -2\n");
    CHECK(run("$SDD eval --scores %s --key %s -o %s", T("nan.scores"), T("key.txt"), T("r.json")) == 1);
    snprintf(want, sizeof want, "sdd: %s:2: score 'nan' is not finite", T("nan.scores"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(!exists(T("r.json")));
    /* B24 a key trial without a score: an error, or a warning and skipped
     * with --allow-missing */
    write_str(T("two.txt"), "LA_T_1 1.5\nLA_T_2 -1\n");
    CHECK(run("$SDD eval --scores %s --key %s -o %s", T("two.txt"), T("key.txt"), T("r.json")) == 1);
    snprintf(want, sizeof want, "sdd: %s: no score for 1 of the 3 trials in %s (first: LA_T_3)", T("two.txt"), T("key.txt"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(!exists(T("r.json")));
    CHECK(run("$SDD eval --scores %s --key %s -o %s --allow-missing", T("two.txt"), T("key.txt"), T("r.json")) == 0);
    snprintf(want, sizeof want, "sdd: warning: %s: no score for 1 of the 3 trials in %s (first: LA_T_3); skipped", T("two.txt"), T("key.txt"));
    CHECK_STR_CONTAINS(out, want);
    CHECK(exists(T("r.json")));
}

/* ---- size limits of the parsers (hostile headers and lengths) ---- */

static void limit_cases(void)
{
    char want[1024];
    /* B35 a list line of 2 MiB (the line reader's limit is 1 MiB) */
    {
        const size_t n = (size_t)2 << 20;
        char *big = malloc(n + 64);
        CHECK(big != NULL);
        if (!big) return;
        memset(big, 'b', n);
        memcpy(big + n, " spoof\n", 8);
        FILE *f = fopen(T("longline.txt"), "wb");
        CHECK(f && fputs("a.flac bonafide\n", f) >= 0 && fwrite(big, 1, n + 7, f) == n + 7 && fclose(f) == 0);
        CHECK(run("$SDD score -m %s --list %s -o %s", model, T("longline.txt"), T("s.txt")) == 1);
        snprintf(want, sizeof want, "sdd: %s:2: line longer than 1048576 bytes (not a list?)\n", T("longline.txt"));
        CHECK_ONE_LINE_ERROR(want);
        CHECK(!exists(T("s.txt")));
        /* B36 the same in a score file */
        f = fopen(T("longscore.txt"), "wb");
        CHECK(f && fputs("LA_T_1 1.5\n", f) >= 0 && fwrite(big, 1, n + 7, f) == n + 7 && fclose(f) == 0);
        write_str(T("key2.txt"), "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 spoof\n");
        CHECK(run("$SDD eval --scores %s --key %s -o %s", T("longscore.txt"), T("key2.txt"), T("r2.json")) == 1);
        snprintf(want, sizeof want, "sdd: %s:2: line longer than 1048576 bytes (not a score file?)\n", T("longscore.txt"));
        CHECK_ONE_LINE_ERROR(want);
        CHECK(!exists(T("r2.json")));
        free(big);
        unlink(T("longline.txt"));
        unlink(T("longscore.txt"));
    }
    /* B37 a safetensors header length of 150 MB (a sparse file that long):
     * over the 100 MB limit, refused before reading or allocating it */
    {
        unsigned char h[9] = { 0, 0, 0, 0, 0, 0, 0, 0, '{' };
        const uint64_t hl = 150000000;
        for (int i = 0; i < 8; i++) h[i] = (unsigned char)(hl >> (8 * i));
        write_file(T("bighdr.safetensors"), h, sizeof h);
        CHECK(truncate(T("bighdr.safetensors"), 150000100) == 0);
        CHECK(run("$SDD info %s", T("bighdr.safetensors")) == 1);
        snprintf(want, sizeof want, "sdd: %s: header length 150000000 is over the 100000000-byte limit\n", T("bighdr.safetensors"));
        CHECK_ONE_LINE_ERROR(want);
        unlink(T("bighdr.safetensors"));
    }
    /* B38 a .pth whose pickle is 65 MiB (deflated to ~65 KB): over the
     * 64 MiB limit, refused before it is inflated */
    {
        const size_t n = (size_t)65 << 20;
        unsigned char *z = calloc(n, 1);
        CHECK(z != NULL);
        if (z) {
            zip_write(T("hugepkl.pth"), "archive/data.pkl", z, n, 1);
            free(z);
            CHECK(run("$SDD import %s -o %s", T("hugepkl.pth"), T("x.safetensors")) == 1);
            snprintf(want, sizeof want, "sdd: %s: 'archive/data.pkl' is 68157440 bytes, over the 67108864-byte limit\n", T("hugepkl.pth"));
            CHECK_ONE_LINE_ERROR(want);
            CHECK(!exists(T("x.safetensors")));
            unlink(T("hugepkl.pth"));
        }
    }
    /* B39 a .pth whose pickle nests 300 lists (the limit is 256 levels) */
    {
        unsigned char pk[2 + 300 + 299 + 1];
        pk[0] = 0x80;
        pk[1] = 2;
        memset(pk + 2, ']', 300);         /* EMPTY_LIST */
        memset(pk + 302, 'a', 299);       /* APPEND: each list into the one below */
        pk[601] = '.';                    /* STOP */
        zip_write(T("deep.pth"), "archive/data.pkl", pk, sizeof pk, 0);
        CHECK(run("$SDD import %s -o %s", T("deep.pth"), T("x.safetensors")) == 1);
        snprintf(want, sizeof want, "sdd: %s: archive/data.pkl offset ", T("deep.pth"));
        CHECK_ONE_LINE_ERROR(want);
        CHECK_STR_CONTAINS(out, ": objects nested deeper than 256 levels");
        CHECK(!exists(T("x.safetensors")));
    }
    /* B40 a .npy (C012 coefficients) whose header length runs past the file */
    {
        const unsigned char npy[] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff, '{', '\'' };
        write_file(T("c012.npy"), npy, sizeof npy);
        write_str(T("sc.txt"), "LA_T_1 1.5\nLA_T_2 -1\n");
        write_str(T("key3.txt"), "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 spoof\n");
        CHECK(run("$SDD eval --scores %s --key %s --asv-c012 %s -o %s", T("sc.txt"), T("key3.txt"), T("c012.npy"), T("r2.json")) == 1);
        snprintf(want, sizeof want, "sdd: %s: .npy header of 65535 bytes runs past the end\n", T("c012.npy"));
        CHECK_ONE_LINE_ERROR(want);
        CHECK(!exists(T("r2.json")));
    }
    /* B41 a WAV whose data chunk declares 100 MiB in a 1 KB file */
    {
        unsigned char h[44 + 1000];
        memset(h, 0, sizeof h);
        wav_header(h, 1, 16000, 1, 0);
        put32(h + 40, 100u << 20);        /* 0xFFFFFFxx would mean "length unknown" (streamed WAV) */
        put32(h + 4, (100u << 20) + 36);
        write_file(T("liar.wav"), h, sizeof h);
        if (have_model) score_rejects(T("liar.wav"), "truncated WAV: header declares 104857600 bytes of audio, file holds 1000");
    }
    /* B42 a recipe of 17 MiB (recipes are read whole up to 16 MiB) */
    {
        FILE *f = fopen(T("big.json"), "wb");
        CHECK(f != NULL);
        if (f) {
            fputs("{\"lr\": 1e-4, \"x\": \"", f);
            for (int i = 0; i < 17 * 1024; i++) fprintf(f, "%01024d", 0);
            fputs("\"}", f);
            CHECK(fclose(f) == 0);
        }
        CHECK(run("$SDD train --recipe %s --train L --train-audio D --dev L --dev-audio D --out %s", T("big.json"), T("recipe_run")) == 2);
        snprintf(want, sizeof want, "sdd: %s: larger than 16 MiB: not a recipe\n", T("big.json"));
        CHECK_ONE_LINE_ERROR(want);
        CHECK(!exists(T("recipe_run")));
        unlink(T("big.json"));
    }
}

/* ---- checkpoints (sdd import, sdd score -m, sdd train --resume) ---- */

static void checkpoint_cases(void)
{
    char want[1024];
    /* B25 a truncated .pth */
    if (have_model) {
        CHECK(run("head -c 200000 %s/models/AASIST-L.pth > %s", shared, T("trunc.pth")) == 0);
        CHECK(run("$SDD import %s -o %s", T("trunc.pth"), T("x.safetensors")) == 1);
        snprintf(want, sizeof want, "sdd: %s: damaged or truncated zip archive", T("trunc.pth"));
        CHECK_ONE_LINE_ERROR(want);
        CHECK(!exists(T("x.safetensors")));
    }
    /* B26 a .pth with a tensor of the wrong shape */
    CHECK(run("$SDD import tests/data/badinput/wrong_shape.pth -o %s", T("x.safetensors")) == 1);
    CHECK_ONE_LINE_ERROR("sdd: tests/data/badinput/wrong_shape.pth: tensor out_layer.weight has shape (3,160), AASIST-L expects (2,160)");
    CHECK(!exists(T("x.safetensors")));
    /* B43 a fairseq-layout checkpoint with an object of a class outside the .pth
     * reader's allow-list inside its state dict ("model"): refused, for import and
     * as --ssl-weights (next to the state dict, as in xlsr2_300m.pt, such objects load) */
    CHECK(run("$SDD import tests/data/badinput/class_in_state_dict.pt -o %s", T("x.safetensors")) == 1);
    CHECK_ONE_LINE_ERROR("sdd: tests/data/badinput/class_in_state_dict.pt: the state dict ('model') holds an instance of "
                         "unknown GLOBAL 'argparse.Namespace' under key 'meta'");
    CHECK(!exists(T("x.safetensors")));
    CHECK(run("$SDD train --model XLSR-AASIST-tiny --ssl-weights tests/data/badinput/class_in_state_dict.pt --train %s "
              "--train-audio tests/data/audio --dev %s --dev-audio tests/data/audio --out %s", T("key.txt"), T("key.txt"), T("sslrun")) == 1);
    CHECK_ONE_LINE_ERROR("sdd: --ssl-weights: tests/data/badinput/class_in_state_dict.pt: the state dict ('model') holds an instance of "
                         "unknown GLOBAL 'argparse.Namespace' under key 'meta'");
    CHECK(!exists(T("sslrun/config.json")));
    /* B27 a safetensors file whose header lies about the data offsets */
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,800]}}";
    unsigned char buf[256];
    const size_t hl = strlen(hdr);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, 0, 8);
    write_file(T("lie.safetensors"), buf, 8 + hl + 8);
    CHECK(run("$SDD info %s", T("lie.safetensors")) == 1);
    snprintf(want, sizeof want, "sdd: %s: tensor 'a': data_offsets [0, 800] outside the data area (8 bytes)",
             T("lie.safetensors"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(run("$SDD score -m %s -o %s tests/data/audio/real_01.flac", T("lie.safetensors"), T("s.txt")) == 1);
    CHECK_ONE_LINE_ERROR(want);
    CHECK(!exists(T("s.txt")));
    /* B28 a checkpoint for a different model */
    if (have_model) {
        CHECK(run("$SDD import %s/models/AASIST.pth --arch AASIST-L -o %s", shared, T("x.safetensors")) == 1);
        snprintf(want, sizeof want, "sdd: %s/models/AASIST.pth: tensor pos_S has shape (1,23,64), AASIST-L expects (1,23,24)", shared);
        CHECK_ONE_LINE_ERROR(want);
        CHECK(!exists(T("x.safetensors")));
    }
    /* B29 --resume with a corrupt training state: refused before anything in
     * the run folder changes */
    CHECK(run("mkdir -p %s && printf 'garbage' > %s/state.safetensors && printf '{}' > %s/config.json",
              T("rrun"), T("rrun"), T("rrun")) == 0);
    CHECK(run("$SDD train --train %s --train-audio %s --dev %s --dev-audio %s --out %s --model AASIST-L --cut 4000 --quiet --resume",
              T("lf.txt"), T("la"), T("lf.txt"), T("la"), T("rrun")) == 1);
    snprintf(want, sizeof want, "sdd: %s/state.safetensors: 7 bytes, too short for a safetensors header", T("rrun"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(run("cat %s/state.safetensors %s/config.json; ls -A %s | wc -l", T("rrun"), T("rrun"), T("rrun")) == 0);
    CHECK_MSG(!strcmp(out, "garbage{}2\n"), "run folder changed:\n%s", out);
}

/* ---- outputs ---- */

static void output_cases(void)
{
    char want[1024];
    /* B30 an output folder that cannot be written: one that does not exist,
     * one below a regular file, and (when not root) a read-only one */
    CHECK(run("{ $SDD eval --scores %s --key %s --allow-missing -o %s/no/such/r.json >/dev/null; }", T("two.txt"), T("key.txt"), tmp) == 1);
    snprintf(want, sizeof want, "sdd: %s/no/such/r.json: cannot create temp file in %s/no/such/: No such file or directory", tmp, tmp);
    CHECK_STR_CONTAINS(out, want);
    CHECK(run("$SDD augment --algo 0 tests/data/audio/real_01.flac %s/x.wav", T("key.txt")) == 1);
    snprintf(want, sizeof want, "sdd: %s/x.wav: cannot create temp file in %s/: Not a directory", T("key.txt"), T("key.txt"));
    CHECK_ONE_LINE_ERROR(want);
    if (geteuid() != 0) {
        CHECK(run("mkdir -p %s && chmod 0500 %s", T("ro"), T("ro")) == 0);
        CHECK(run("$SDD augment --algo 0 tests/data/audio/real_01.flac %s/x.wav", T("ro")) == 1);
        snprintf(want, sizeof want, "sdd: %s/x.wav: cannot create temp file in %s/: Permission denied", T("ro"), T("ro"));
        CHECK_ONE_LINE_ERROR(want);
        CHECK(run("chmod 0700 %s && ls -A %s | wc -l", T("ro"), T("ro")) == 0 && atoi(out) == 0);
    } else {
        printf("test_badinput: running as root, the read-only folder case of B30 is skipped\n");
    }
    /* B31 a full disk, standard output: /dev/full gives ENOSPC */
    CHECK(run("$SDD eval --scores %s --key %s --allow-missing 2>/dev/null >/dev/full; echo $?", T("two.txt"), T("key.txt")) == 0);
    CHECK(!strcmp(out, "1\n"));
    CHECK(run("{ $SDD eval --scores %s --key %s --allow-missing >/dev/full; }", T("two.txt"), T("key.txt")) == 1);
    CHECK_STR_CONTAINS(out, "sdd: standard output: write failed: No space left on device");
    /* B32 a full disk, an output file: -o /dev/full is written in place (not
     * replaced by a renamed temp file) and the failure is reported */
    CHECK(run("$SDD eval --scores %s --key %s --allow-missing -o /dev/full --det /dev/null", T("two.txt"), T("key.txt")) == 1);
    CHECK_STR_CONTAINS(out, "sdd: /dev/full: write failed: No space left on device");
    struct stat st;
    CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    /* B33 a full disk, simulated with a file-size limit (SIGXFSZ ignored, so
     * writes fail with EFBIG): no output file, no temp file left, and an
     * existing output is left as it was */
    CHECK(run("printf old > %s", T("full.wav")) == 0);
    CHECK(run("trap '' XFSZ; ulimit -f 8; $SDD augment --algo 0 tests/data/audio/real_01.flac %s", T("full.wav")) == 1);
    snprintf(want, sizeof want, "sdd: %s: write failed: File too large\n", T("full.wav"));
    CHECK_ONE_LINE_ERROR(want);
    CHECK(run("cat %s", T("full.wav")) == 0 && !strcmp(out, "old"));
    CHECK(leftovers("full.wav.tmp") == 0);
    if (have_model) {
        CHECK(run("trap '' XFSZ; ulimit -f 8; $SDD import %s/models/AASIST-L.pth -o %s", shared, T("full.safetensors")) == 1);
        snprintf(want, sizeof want, "sdd: %s: write failed: File too large\n", T("full.safetensors"));
        CHECK_ONE_LINE_ERROR(want);
        CHECK(!exists(T("full.safetensors")));
        CHECK(leftovers("full.safetensors") == 0);
    }
}

int main(void)
{
    shared = getenv("SDD_SHARED") ? getenv("SDD_SHARED") : "../shared";
    const char *bin = cli_bin();
    struct stat st;
    if (stat(bin, &st) != 0) {
        printf("SKIP test_badinput: needs %s (run make)\n", bin);
        return CHECK_DONE("test_badinput");
    }
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-bad-%d", (int)getpid());
    CHECK(mkdir(tmp, 0700) == 0);
    char pth[512];
    snprintf(pth, sizeof pth, "%s/models/AASIST-L.pth", shared);
    snprintf(model, sizeof model, "%s/al.safetensors", tmp);
    if (stat(pth, &st) == 0) {
        CHECK(run("$SDD import %s -o %s", pth, model) == 0);
        have_model = 1;
    } else {
        printf("test_badinput: no %s, the cases that score audio are skipped\n", pth);
    }
    if (have_model) audio_cases();
    list_cases();
    score_file_cases();
    limit_cases();
    checkpoint_cases();
    output_cases();
    run("rm -rf %s", tmp);
    return CHECK_DONE("test_badinput");
}
