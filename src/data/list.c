/* Owns list/protocol parsing (see list.h): line reading from a file (getline)
 * or memory, format detection, per-format column mapping, label parsing, path
 * joining and duplicate-ID detection. */
#include "data/list.h"
#include "core/lines.h"
#include "io/readall.h"
#include "audio/decode.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#define MAX_ITEMS (INT_MAX / 4)

/* ---- line reader over a FILE* or a memory buffer ---- */

typedef sdd_lines reader;

static ssize_t next_line(reader *r) { return sdd_lines_next(r); }

/* ---- helpers ---- */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static char *dup_str(const char *s)
{
    if (!s) return NULL;
    size_t k = strlen(s) + 1;
    char *p = malloc(k);
    if (p) memcpy(p, s, k);
    return p;
}

/* AUDIO_DIR/REL + SUFFIX, or REL + SUFFIX when dir is NULL/empty or REL is absolute. */
static char *join_path(const char *dir, const char *rel, const char *suffix)
{
    int use_dir = dir && *dir && rel[0] != '/';
    size_t dl = use_dir ? strlen(dir) : 0, rl = strlen(rel), sl = strlen(suffix);
    int slash = use_dir && dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)slash + rl + sl + 1);
    if (!p) return NULL;
    char *q = p;
    if (use_dir) { memcpy(q, dir, dl); q += dl; }
    if (slash) *q++ = '/';
    memcpy(q, rel, rl); q += rl;
    memcpy(q, suffix, sl + 1);
    return p;
}

/* bonafide / bona-fide / bona_fide / spoof, case-insensitive; -2 when unknown. */
static int parse_label(const char *s)
{
    if (!strcasecmp(s, "bonafide") || !strcasecmp(s, "bona-fide") || !strcasecmp(s, "bona_fide"))
        return SDD_LABEL_BONAFIDE;
    if (!strcasecmp(s, "spoof")) return SDD_LABEL_SPOOF;
    return -2;
}

/* Splits s in place on whitespace; returns the token count (tokens beyond
 * max are counted but not stored). */
static int split_ws(char *s, char **tok, int max)
{
    int k = 0;
    while (*s) {
        while (*s && is_ws(*s)) s++;
        if (!*s) break;
        if (k < max) tok[k] = s;
        k++;
        while (*s && !is_ws(*s)) s++;
        if (*s) *s++ = 0;
    }
    return k;
}

/* Splits a CSV line in place (RFC 4180 quoting within the line, unquoted
 * fields trimmed). Returns the field count, or -1 on an unterminated quote. */
static int split_csv(char *s, char **tok, int max)
{
    int k = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t') s++;
        char *start = s, *w = s;
        if (*s == '"') {
            s++;
            for (;;) {
                if (!*s) return -1;
                if (*s == '"') {
                    if (s[1] == '"') { *w++ = '"'; s += 2; continue; }
                    s++;
                    break;
                }
                *w++ = *s++;
            }
            while (*s == ' ' || *s == '\t') s++;
            if (*s && *s != ',') return -1;
        } else {
            while (*s && *s != ',') s++;
            w = s;
            while (w > start && (w[-1] == ' ' || w[-1] == '\t')) w--;
        }
        char next = *s;
        *w = 0;
        if (k < max) tok[k] = start;
        k++;
        if (next != ',') break;
        s++;
    }
    return k;
}

/* ---- list building ---- */

typedef struct {
    const char *name;       /* for messages */
    const char *audio_dir;
    sdd_list *out;
    int cap;
    int *hash;              /* open addressing: item index + 1, 0 = empty */
    size_t hcap;
    sdd_err *e;
} builder;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Finds ID; returns the item index or -1, and the free slot in *slot. */
static int hash_find(const builder *b, const char *id, size_t *slot)
{
    size_t m = b->hcap - 1, i = (size_t)hash_str(id) & m;
    while (b->hash[i]) {
        int k = b->hash[i] - 1;
        if (!strcmp(b->out->items[k].id, id)) return k;
        i = (i + 1) & m;
    }
    *slot = i;
    return -1;
}

static int hash_grow(builder *b)
{
    size_t nc = b->hcap ? b->hcap * 2 : 1024;
    int *h = calloc(nc, sizeof *h);
    if (!h) return -1;
    for (int k = 0; k < b->out->n; k++) {
        size_t i = (size_t)hash_str(b->out->items[k].id) & (nc - 1);
        while (h[i]) i = (i + 1) & (nc - 1);
        h[i] = k + 1;
    }
    free(b->hash);
    b->hash = h;
    b->hcap = nc;
    return 0;
}

static void item_free(sdd_list_item *it)
{
    free(it->id);
    free(it->path);
    free(it->attack);
    free(it->speaker);
    free(it->subset);
    free(it->codec);
}

/* "-" and "bonafide" in an attack column mean "no attack". */
static const char *attack_or_null(const char *s)
{
    return !s || !strcmp(s, "-") || !strcasecmp(s, "bonafide") || !strcasecmp(s, "bona-fide")
               ? NULL : s;
}

/* Adds one entry; strings are copied. path_rel is joined with audio_dir and
 * suffix. Returns 0 or -1 with e set. */
static int add_item(builder *b, int line, const char *id, const char *path_rel,
                    const char *suffix, const char *label_str, const char *attack,
                    const char *speaker, const char *subset, const char *codec)
{
    int label = SDD_LABEL_NONE;
    if (label_str) {
        label = parse_label(label_str);
        if (label == -2)
            return sdd_err_set(b->e, "%s:%d: unknown label '%.200s' (expected bonafide or spoof)",
                               b->name, line, label_str);
    }
    if ((size_t)b->out->n * 2 >= b->hcap && hash_grow(b))
        return sdd_err_set(b->e, "%s:%d: out of memory", b->name, line);
    size_t slot = 0;
    int prev = hash_find(b, id, &slot);
    if (prev >= 0)
        return sdd_err_set(b->e, "%s:%d: duplicate ID %.300s (first on line %d)", b->name, line,
                           id, b->out->items[prev].line);
    if (b->out->n >= MAX_ITEMS)
        return sdd_err_set(b->e, "%s:%d: too many entries", b->name, line);
    if (b->out->n == b->cap) {
        int nc = b->cap ? b->cap * 2 : 256;
        sdd_list_item *p = realloc(b->out->items, (size_t)nc * sizeof *p);
        if (!p) return sdd_err_set(b->e, "%s:%d: out of memory", b->name, line);
        b->out->items = p;
        b->cap = nc;
    }
    attack = attack_or_null(attack);
    sdd_list_item it = {
        .id = dup_str(id), .path = join_path(b->audio_dir, path_rel, suffix),
        .label = (sdd_label)label, .attack = dup_str(attack), .speaker = dup_str(speaker),
        .line = line, .subset = dup_str(subset), .codec = dup_str(codec),
    };
    if (!it.id || !it.path || (attack && !it.attack) || (speaker && !it.speaker) ||
        (subset && !it.subset) || (codec && !it.codec)) {
        item_free(&it);
        return sdd_err_set(b->e, "%s:%d: out of memory", b->name, line);
    }
    b->out->items[b->out->n++] = it;
    b->hash[slot] = b->out->n;
    return 0;
}

/* Column count each whitespace format expects (plain: 1 or 2). */
static int fmt_cols(int fmt)
{
    switch (fmt) {
    case SDD_LIST_ASV19: return 5;
    case SDD_LIST_ASV21_TRIALS: return 1;
    case SDD_LIST_ASV21_LA_KEY: return 8;
    case SDD_LIST_ASV21_DF_KEY: return 13;
    case SDD_LIST_ASV5: return 10;
    default: return 0;
    }
}

/* One data line of a whitespace-separated format. */
static int parse_ws_line(builder *b, int fmt, char *s, int line)
{
    char *t[13];
    int k = split_ws(s, t, 13);
    if (fmt == SDD_LIST_PLAIN) {
        if (k < 1 || k > 2)
            return sdd_err_set(b->e, "%s:%d: expected 1 or 2 columns (PATH [LABEL]), got %d",
                               b->name, line, k);
        return add_item(b, line, t[0], t[0], "", k == 2 ? t[1] : NULL, NULL, NULL, NULL, NULL);
    }
    int want = fmt_cols(fmt);
    if (k != want)
        return sdd_err_set(b->e, "%s:%d: expected %d column%s, got %d", b->name, line, want,
                           want == 1 ? "" : "s", k);
    switch (fmt) {
    case SDD_LIST_ASV19:
        if (!strcasecmp(t[4], "target") || !strcasecmp(t[4], "nontarget"))
            return sdd_err_set(b->e, "%s:%d: an ASVspoof 5 track 2 trial list (SPK FILE GENDER ATTACK ASV_KEY), "
                               "not a CM protocol: give it to sdd eval as --sasv-key", b->name, line);
        return add_item(b, line, t[1], t[1], ".flac", t[4], t[3], t[0], NULL, NULL);
    case SDD_LIST_ASV21_TRIALS:
        return add_item(b, line, t[0], t[0], ".flac", NULL, NULL, NULL, NULL, NULL);
    case SDD_LIST_ASV21_LA_KEY:
    case SDD_LIST_ASV21_DF_KEY:
        return add_item(b, line, t[1], t[1], ".flac", t[5], t[4], t[0], t[7], t[2]);
    case SDD_LIST_ASV5:
        return add_item(b, line, t[1], t[1], ".flac", t[8], t[7], t[0], NULL, t[3]);
    }
    return sdd_err_set(b->e, "%s:%d: internal error: format %d", b->name, line, fmt);
}

/* Picks the whitespace format from the first data line's column count. */
static int detect_ws(builder *b, const char *s, int line)
{
    int k = 0, in = 0;
    const char *first = NULL, *first_end = NULL;
    for (const char *p = s; *p; p++) {
        if (is_ws(*p)) { if (in && k == 1) first_end = p; in = 0; }
        else if (!in) { in = 1; k++; if (k == 1) first = p; }
    }
    switch (k) {
    case 1: {
        size_t fl = first_end ? (size_t)(first_end - first) : strlen(first);
        char *one = malloc(fl + 1);
        if (!one) return sdd_err_set(b->e, "%s:%d: out of memory", b->name, line);
        memcpy(one, first, fl);
        one[fl] = 0;
        int trial = !strchr(one, '/') && !sdd_audio_is_audio_path(one);
        free(one);
        return trial ? SDD_LIST_ASV21_TRIALS : SDD_LIST_PLAIN;
    }
    case 2: return SDD_LIST_PLAIN;
    case 5: return SDD_LIST_ASV19;
    case 8: return SDD_LIST_ASV21_LA_KEY;
    case 10: return SDD_LIST_ASV5;
    case 13: return SDD_LIST_ASV21_DF_KEY;
    }
    return sdd_err_set(b->e, "%s:%d: cannot tell the list format from %d columns (expected "
                       "PATH [LABEL], a trial list, an ASVspoof 2019 (5), 2021 key (8 or 13) or "
                       "ASVspoof 5 (10 column) protocol, or a CSV with file and label columns)",
                       b->name, line, k);
}

/* CSV column positions from the header. */
typedef struct { int file, label, speaker, ncols; } csv_cols;

/* Reads a header line; returns 1 when it has file and label columns, 0 when
 * it is not such a header, -1 on error. s is modified. */
static int csv_header(builder *b, char *s, int line, csv_cols *c)
{
    char *t[64];
    int k = split_csv(s, t, 64);
    if (k < 0) return sdd_err_set(b->e, "%s:%d: unterminated quoted field", b->name, line);
    if (k > 64) return 0;
    c->file = c->label = c->speaker = -1;
    c->ncols = k;
    for (int i = 0; i < k; i++) {
        if (!strcasecmp(t[i], "file") && c->file < 0) c->file = i;
        else if (!strcasecmp(t[i], "label") && c->label < 0) c->label = i;
        else if (!strcasecmp(t[i], "speaker") && c->speaker < 0) c->speaker = i;
    }
    return c->file >= 0 && c->label >= 0;
}

static int parse_csv_line(builder *b, const csv_cols *c, char *s, int line)
{
    char *t[64];
    int k = split_csv(s, t, 64);
    if (k < 0) return sdd_err_set(b->e, "%s:%d: unterminated quoted field", b->name, line);
    if (k != c->ncols)
        return sdd_err_set(b->e, "%s:%d: expected %d columns, got %d", b->name, line, c->ncols, k);
    const char *file = t[c->file];
    if (!*file) return sdd_err_set(b->e, "%s:%d: empty file name", b->name, line);
    /* FoR's meta.csv names files without their .wav extension. */
    const char *suffix = sdd_audio_is_audio_path(file) ? "" : ".wav";
    return add_item(b, line, file, file, suffix, t[c->label], NULL,
                    c->speaker >= 0 ? t[c->speaker] : NULL, NULL, NULL);
}

static int is_csv(int fmt) { return fmt == SDD_LIST_ITW || fmt == SDD_LIST_FOR; }

static int parse_all(reader *r, const char *name, const char *audio_dir, int fmt,
                     sdd_list *out, sdd_err *e)
{
    builder b = { .name = name, .audio_dir = audio_dir, .out = out, .e = e };
    csv_cols cols = { -1, -1, -1, 0 };
    int have_header = 0, rc = -1;
    if (fmt < SDD_LIST_AUTO || fmt > SDD_LIST_FOR) {
        sdd_err_set(e, "%s: unknown list format %d", name, fmt);
        goto done;
    }
    for (;;) {
        ssize_t k = next_line(r);
        if (k == -1) break;
        if (k == -2) {
            sdd_err_set(e, "%s:%d: read failed: %s", name, r->lineno + 1, strerror(errno));
            goto done;
        }
        if (k == -3) {
            sdd_err_set(e, "%s:%d: line longer than %d bytes (not a list?)", name, r->lineno, SDD_LINES_MAX);
            goto done;
        }
        int line = r->lineno;
        if (line == INT_MAX) { sdd_err_set(e, "%s: too many lines", name); goto done; }
        char *s = r->line;
        if (line == 1 && k >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) { s += 3; k -= 3; }
        if (strlen(s) != (size_t)k) {
            sdd_err_set(e, "%s:%d: contains a NUL byte (not a text list?)", name, line);
            goto done;
        }
        while (k > 0 && is_ws(s[k - 1])) s[--k] = 0;
        while (is_ws(*s)) s++;
        if (!*s) continue;
        if (*s == '#' && !is_csv(fmt)) continue;
        if (fmt == SDD_LIST_AUTO) {
            if (strchr(s, ',')) {
                char *copy = dup_str(s);
                if (!copy) { sdd_err_set(e, "%s:%d: out of memory", name, line); goto done; }
                int h = csv_header(&b, copy, line, &cols);
                free(copy);
                if (h < 0) goto done;
                if (h) {
                    fmt = cols.speaker >= 0 ? SDD_LIST_ITW : SDD_LIST_FOR;
                    have_header = 1;
                    continue;
                }
            }
            fmt = detect_ws(&b, s, line);
            if (fmt < 0) goto done;
        }
        if (is_csv(fmt)) {
            if (!have_header) {
                int h = csv_header(&b, s, line, &cols);
                if (h < 0) goto done;
                if (!h) {
                    sdd_err_set(e, "%s:%d: expected a CSV header naming file and label columns",
                                name, line);
                    goto done;
                }
                have_header = 1;
                continue;
            }
            if (parse_csv_line(&b, &cols, s, line)) goto done;
        } else if (parse_ws_line(&b, fmt, s, line)) {
            goto done;
        }
    }
    if (out->n == 0) {
        sdd_err_set(e, "%s: no entries", name);
        goto done;
    }
    out->format = fmt;
    if (out->n < b.cap) {
        sdd_list_item *p = realloc(out->items, (size_t)out->n * sizeof *p);
        if (p) out->items = p;
    }
    rc = 0;
done:
    free(b.hash);
    if (rc) sdd_list_free(out);
    return rc;
}

int sdd_list_load_mem(const char *buf, size_t len, const char *name, const char *audio_dir,
                      sdd_list_format fmt, sdd_list *out, sdd_err *e)
{
    if (!name) name = "(memory)";
    if (!out) return sdd_err_set(e, "%s: NULL argument", name);
    memset(out, 0, sizeof *out);
    if (!buf && len) return sdd_err_set(e, "%s: NULL argument", name);
    reader r = { .mem = buf, .len = len };
    int rc = parse_all(&r, name, audio_dir, (int)fmt, out, e);
    free(r.line);
    return rc;
}

int sdd_list_load_fmt(const char *path, const char *audio_dir, sdd_list_format fmt,
                      sdd_list *out, sdd_err *e)
{
    if (!out) return sdd_err_set(e, "%s: NULL argument", path ? path : "(null)");
    memset(out, 0, sizeof *out);
    if (!path) return sdd_err_set(e, "sdd_list_load: NULL path");
    reader r;
    if (sdd_lines_open(&r, path, e)) return -1;
    int rc = parse_all(&r, sdd_input_name(path), audio_dir, (int)fmt, out, e);
    sdd_lines_close(&r);
    return rc;
}

int sdd_list_load(const char *path, const char *audio_dir, sdd_list *out, sdd_err *e)
{
    return sdd_list_load_fmt(path, audio_dir, SDD_LIST_AUTO, out, e);
}

void sdd_list_free(sdd_list *l)
{
    if (!l) return;
    for (int i = 0; i < l->n; i++) item_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
    l->format = SDD_LIST_AUTO;
}

static const char *const fmt_names[] = {
    "auto", "plain", "asv19", "asv21", "asv21-la", "asv21-df", "asv5", "itw", "for",
};

const char *sdd_list_format_name(int fmt)
{
    if (fmt < 0 || fmt >= (int)(sizeof fmt_names / sizeof fmt_names[0])) return "unknown";
    return fmt_names[fmt];
}

int sdd_list_format_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < (int)(sizeof fmt_names / sizeof fmt_names[0]); i++)
        if (!strcasecmp(name, fmt_names[i])) return i;
    return -1;
}
