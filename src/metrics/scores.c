/* Owns the CM and ASV score-file readers of scores.h: a line reader over a
 * FILE or memory, whitespace tokenising, strict number parsing, format
 * detection, a string pool and an ID hash for duplicate detection/lookup. */
#include "metrics/scores.h"
#include "core/lines.h"
#include "io/readall.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#define MAX_TOK 16
#define MAX_ENTRIES (INT64_C(1) << 40)

/* ---- line reader ---- */

typedef sdd_lines reader;

static ssize_t next_line(reader *r) { return sdd_lines_next(r); }

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Reads the next data line (skipping blank and '#' lines, a BOM on line 1)
 * and splits it; returns the token count, 0 at the end, -1 on error. */
static int next_tokens(reader *r, const char *name, char **tok, sdd_err *e)
{
    for (;;) {
        ssize_t k = next_line(r);
        if (k == -1) return 0;
        if (k == -2) {
            if (errno == EFBIG) return sdd_err_set(e, "%s: too many lines", name);
            return sdd_err_set(e, "%s:%d: read failed: %s", name, r->lineno + 1, strerror(errno));
        }
        if (k == -3) return sdd_err_set(e, "%s:%d: line longer than %d bytes (not a score file?)", name, r->lineno, SDD_LINES_MAX);
        char *s = r->line;
        if (r->lineno == 1 && k >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) { s += 3; k -= 3; }
        if (strlen(s) != (size_t)k)
            return sdd_err_set(e, "%s:%d: contains a NUL byte (not a text file?)", name, r->lineno);
        while (is_ws(*s)) s++;
        if (!*s || *s == '#') continue;
        int n = 0;
        while (*s) {
            while (*s && is_ws(*s)) s++;
            if (!*s) break;
            if (n < MAX_TOK) tok[n] = s;
            n++;
            while (*s && !is_ws(*s)) s++;
            if (*s) *s++ = 0;
        }
        if (n > MAX_TOK) n = MAX_TOK + 1;  /* "more than MAX_TOK" */
        return n;
    }
}

/* 0: a finite number; 1: not a number; 2: a number but not finite. Decimal
 * only (no hex), the whole token must be consumed. */
static int parse_score(const char *s, double *v)
{
    if (!*s || strpbrk(s, "xX")) return 1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end) return 1;
    if (!isfinite(x)) return 2;
    *v = x;  /* ERANGE underflow gives a tiny or zero value, as Python does */
    return 0;
}

static int score_err(sdd_err *e, const char *name, int line, const char *tok, int rc)
{
    return sdd_err_set(e, "%s:%d: score '%.60s' is %s", name, line, tok,
                       rc == 2 ? "not finite" : "not a number");
}

/* ---- string pool (offsets while growing, pointers at the end) ---- */

typedef struct { char *buf; size_t len, cap; } pool;

static int64_t pool_add(pool *p, const char *s)
{
    size_t k = strlen(s) + 1;
    if (p->len + k > p->cap) {
        size_t c = p->cap ? p->cap : 4096;
        while (c < p->len + k) c *= 2;
        char *b = realloc(p->buf, c);
        if (!b) return -1;
        p->buf = b;
        p->cap = c;
    }
    memcpy(p->buf + p->len, s, k);
    p->len += k;
    return (int64_t)(p->len - k);
}

/* Grows the arrays in *v (each of elem size sz[i]) to hold at least n+1. */
static int grow(void **v[], const size_t sz[], int nv, int64_t n, int64_t *cap)
{
    if (n < *cap) return 0;
    int64_t nc = *cap ? *cap * 2 : 1024;
    for (int i = 0; i < nv; i++) {
        if (!v[i]) continue;
        void *p = realloc(*v[i], (size_t)nc * sz[i]);
        if (!p) return -1;
        *v[i] = p;
    }
    *cap = nc;
    return 0;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- CM scores ---- */

void sdd_scores_free(sdd_scores *s)
{
    if (!s) return;
    free(s->id);
    free(s->score);
    free(s->line);
    free(s->src);
    free(s->label);
    free(s->pool_);
    free(s->hash_);
    memset(s, 0, sizeof *s);
}

/* Looks ID up in the hash (entries index+1 into ids[]); *slot gets the free
 * slot when absent. ids are offsets into pool. */
static int64_t hfind(const int64_t *h, size_t hcap, const char *pool_buf, const int64_t *ids,
                     const char *id, size_t *slot)
{
    size_t m = hcap - 1, i = (size_t)hash_str(id) & m;
    while (h[i]) {
        int64_t k = h[i] - 1;
        if (!strcmp(pool_buf + ids[k], id)) return k;
        i = (i + 1) & m;
    }
    if (slot) *slot = i;
    return -1;
}

static int hgrow(int64_t **h, size_t *hcap, const char *pool_buf, const int64_t *ids, int64_t n)
{
    size_t nc = *hcap ? *hcap * 2 : 2048;
    int64_t *nh = calloc(nc, sizeof *nh);
    if (!nh) return -1;
    for (int64_t k = 0; k < n; k++) {
        size_t i = (size_t)hash_str(pool_buf + ids[k]) & (nc - 1);
        while (nh[i]) i = (i + 1) & (nc - 1);
        nh[i] = k + 1;
    }
    free(*h);
    *h = nh;
    *hcap = nc;
    return 0;
}

static int parse_label(const char *s)
{
    if (!strcasecmp(s, "bonafide") || !strcasecmp(s, "bona-fide") || !strcasecmp(s, "bona_fide")) return 1;
    if (!strcasecmp(s, "spoof")) return 0;
    return -1;
}

static int parse_cm(reader *r, const char *name, sdd_scores *s, sdd_err *e)
{
    pool P = { 0 };
    int64_t *ids = NULL, *srcs = NULL, n = 0, cap = 0;
    int first_line = 0, fmt = 0, ncols = 0, rc = -1;
    char *tok[MAX_TOK];
    memset(s, 0, sizeof *s);
    for (;;) {
        int k = next_tokens(r, name, tok, e);
        if (k < 0) goto fail;
        if (k == 0) break;
        const int line = r->lineno;
        if (!fmt) {
            double v;
            if (k < 2) {
                sdd_err_set(e, "%s:%d: expected 'ID SCORE' or 'UTT SRC KEY SCORE', got 1 column", name, line);
                goto fail;
            }
            if (parse_score(tok[1], &v) != 1) fmt = SDD_SCORES_ID_SCORE;
            else if (k == 4 && parse_label(tok[2]) >= 0) fmt = SDD_SCORES_CM2019;
            else { score_err(e, name, line, tok[1], 1); goto fail; }
            ncols = k;
            first_line = line;
        }
        if (k != ncols) {
            if (k > MAX_TOK)
                sdd_err_set(e, "%s:%d: expected %d columns (as on line %d), got more than %d", name, line,
                            ncols, first_line, MAX_TOK);
            else
                sdd_err_set(e, "%s:%d: expected %d column%s (as on line %d), got %d", name, line, ncols,
                            ncols == 1 ? "" : "s", first_line, k);
            goto fail;
        }
        const char *id = tok[0];
        const char *sc = fmt == SDD_SCORES_CM2019 ? tok[3] : tok[1];
        double v = 0;
        int prc = parse_score(sc, &v);
        if (prc) { score_err(e, name, line, sc, prc); goto fail; }
        int lab = -1;
        if (fmt == SDD_SCORES_CM2019 && (lab = parse_label(tok[2])) < 0) {
            sdd_err_set(e, "%s:%d: unknown key '%.60s' (expected bonafide or spoof)", name, line, tok[2]);
            goto fail;
        }
        if (n >= MAX_ENTRIES) { sdd_err_set(e, "%s:%d: too many entries", name, line); goto fail; }
        void **arrs[] = { (void **)&ids, (void **)&s->score, (void **)&s->line,
                          fmt == SDD_SCORES_CM2019 ? (void **)&srcs : NULL,
                          fmt == SDD_SCORES_CM2019 ? (void **)&s->label : NULL };
        const size_t sz[] = { sizeof *ids, sizeof *s->score, sizeof *s->line, sizeof *srcs, sizeof *s->label };
        if (grow(arrs, sz, 5, n, &cap)) { sdd_err_set(e, "%s:%d: out of memory", name, line); goto fail; }
        if ((size_t)n * 2 >= s->hcap_ && hgrow(&s->hash_, &s->hcap_, P.buf, ids, n)) {
            sdd_err_set(e, "%s:%d: out of memory", name, line);
            goto fail;
        }
        size_t slot = 0;
        int64_t prev = hfind(s->hash_, s->hcap_, P.buf, ids, id, &slot);
        if (prev >= 0) {
            sdd_err_set(e, "%s:%d: duplicate ID %.300s (first on line %d)", name, line, id, s->line[prev]);
            goto fail;
        }
        int64_t off = pool_add(&P, id);
        int64_t soff = -1;
        if (off >= 0 && fmt == SDD_SCORES_CM2019 && strcmp(tok[1], "-") && strcasecmp(tok[1], "bonafide") &&
            (soff = pool_add(&P, tok[1])) < 0)
            off = -1;
        if (off < 0) { sdd_err_set(e, "%s:%d: out of memory", name, line); goto fail; }
        ids[n] = off;
        s->score[n] = v;
        s->line[n] = line;
        if (fmt == SDD_SCORES_CM2019) {
            srcs[n] = soff;
            s->label[n] = (signed char)lab;
        }
        s->hash_[slot] = n + 1;
        n++;
    }
    if (n == 0) { sdd_err_set(e, "%s: no scores", name); goto fail; }
    s->id = malloc((size_t)n * sizeof *s->id);
    if (fmt == SDD_SCORES_CM2019) s->src = malloc((size_t)n * sizeof *s->src);
    if (!s->id || (fmt == SDD_SCORES_CM2019 && !s->src)) { sdd_err_set(e, "%s: out of memory", name); goto fail; }
    for (int64_t i = 0; i < n; i++) {
        s->id[i] = P.buf + ids[i];
        if (s->src) s->src[i] = srcs[i] >= 0 ? P.buf + srcs[i] : NULL;
    }
    s->n = n;
    s->ncols = ncols;
    s->format = fmt;
    s->pool_ = P.buf;
    P.buf = NULL;
    rc = 0;
fail:
    free(ids);
    free(srcs);
    free(P.buf);
    if (rc) sdd_scores_free(s);
    return rc;
}

int64_t sdd_scores_find(const sdd_scores *s, const char *id)
{
    if (!s || !s->hash_ || !id) return -1;
    size_t m = s->hcap_ - 1, i = (size_t)hash_str(id) & m;
    while (s->hash_[i]) {
        int64_t k = s->hash_[i] - 1;
        if (!strcmp(s->id[k], id)) return k;
        i = (i + 1) & m;
    }
    return -1;
}

int sdd_scores_load(const char *path, sdd_scores *s, sdd_err *e)
{
    if (!s) return sdd_err_set(e, "sdd_scores_load: NULL argument");
    memset(s, 0, sizeof *s);
    if (!path) return sdd_err_set(e, "sdd_scores_load: NULL path");
    reader r;
    if (sdd_lines_open(&r, path, e)) return -1;
    int rc = parse_cm(&r, sdd_input_name(path), s, e);
    sdd_lines_close(&r);
    return rc;
}

int sdd_scores_load_mem(const char *buf, size_t len, const char *name, sdd_scores *s, sdd_err *e)
{
    if (!name) name = "(memory)";
    if (!s) return sdd_err_set(e, "%s: NULL argument", name);
    memset(s, 0, sizeof *s);
    if (!buf && len) return sdd_err_set(e, "%s: NULL argument", name);
    reader r = { .mem = buf, .len = len };
    int rc = parse_cm(&r, name, s, e);
    free(r.line);
    return rc;
}

/* ---- ASV scores ---- */

int sdd_asv_class_parse(const char *s)
{
    if (!strcasecmp(s, "target")) return SDD_ASV_TARGET;
    if (!strcasecmp(s, "nontarget")) return SDD_ASV_NONTARGET;
    if (!strcasecmp(s, "spoof")) return SDD_ASV_SPOOF;
    return -1;
}

void sdd_asv_free(sdd_asv_scores *a)
{
    if (!a) return;
    free(a->score);
    free(a->cls);
    free(a->line);
    free(a->attack);
    free(a->codec);
    free(a->pool_);
    memset(a, 0, sizeof *a);
}

/* Labelled "... KEY SCORE" lines. */
static int parse_asv_labelled(reader *r, const char *name, sdd_asv_scores *a, sdd_err *e)
{
    int64_t n = 0, cap = 0;
    int ncols = 0, first_line = 0;
    char *tok[MAX_TOK];
    memset(a, 0, sizeof *a);
    for (;;) {
        int k = next_tokens(r, name, tok, e);
        if (k < 0) goto fail;
        if (k == 0) break;
        const int line = r->lineno;
        if (!ncols) {
            if (k < 3 || k > MAX_TOK) {
                sdd_err_set(e, "%s:%d: expected 3 or more columns (... KEY SCORE), got %s%d", name, line,
                            k > MAX_TOK ? "more than " : "", k > MAX_TOK ? MAX_TOK : k);
                goto fail;
            }
            ncols = k;
            first_line = line;
        } else if (k != ncols) {
            sdd_err_set(e, "%s:%d: expected %d columns (as on line %d), got %s%d", name, line, ncols,
                        first_line, k > MAX_TOK ? "more than " : "", k > MAX_TOK ? MAX_TOK : k);
            goto fail;
        }
        int cls = sdd_asv_class_parse(tok[k - 2]);
        if (cls < 0) {
            sdd_err_set(e, "%s:%d: ASV key '%.60s' is not target, nontarget or spoof (2021 "
                        "'speaker trial score' files need the ASV key file)", name, line, tok[k - 2]);
            goto fail;
        }
        double v = 0;
        int prc = parse_score(tok[k - 1], &v);
        if (prc) { score_err(e, name, line, tok[k - 1], prc); goto fail; }
        void **arrs[] = { (void **)&a->score, (void **)&a->cls, (void **)&a->line };
        const size_t sz[] = { sizeof *a->score, sizeof *a->cls, sizeof *a->line };
        if (n >= MAX_ENTRIES || grow(arrs, sz, 3, n, &cap)) {
            sdd_err_set(e, "%s:%d: out of memory", name, line);
            goto fail;
        }
        a->score[n] = v;
        a->cls[n] = (unsigned char)cls;
        a->line[n] = line;
        n++;
    }
    if (n == 0) { sdd_err_set(e, "%s: no scores", name); goto fail; }
    a->n = n;
    return 0;
fail:
    sdd_asv_free(a);
    return -1;
}

int sdd_asv_load_mem(const char *buf, size_t len, const char *name, sdd_asv_scores *a, sdd_err *e)
{
    if (!name) name = "(memory)";
    if (!a) return sdd_err_set(e, "%s: NULL argument", name);
    memset(a, 0, sizeof *a);
    if (!buf && len) return sdd_err_set(e, "%s: NULL argument", name);
    reader r = { .mem = buf, .len = len };
    int rc = parse_asv_labelled(&r, name, a, e);
    free(r.line);
    return rc;
}

/* "ASV_SPK TRIAL SCORE" lines of rs paired with the 8-column key rk. */
static int parse_asv_keyed(reader *rs, const char *sname, reader *rk, const char *kname,
                           const char *subset, sdd_asv_scores *a, sdd_err *e)
{
    pool P = { 0 };
    int64_t n = 0, cap = 0, nall = 0, *aoff = NULL, *coff = NULL;
    char *ts[MAX_TOK], *tk[MAX_TOK];
    const int all = !subset || !strcmp(subset, "all");
    memset(a, 0, sizeof *a);
    for (;;) {
        int ks = next_tokens(rs, sname, ts, e);
        if (ks < 0) goto fail;
        int kk = next_tokens(rk, kname, tk, e);
        if (kk < 0) goto fail;
        if (ks == 0 && kk == 0) break;
        if (ks == 0 || kk == 0) {
            sdd_err_set(e, "%s: %s entries than the ASV key %s (the 2021 ASV scores pair with the key "
                        "line by line)", sname, ks == 0 ? "fewer" : "more", kname);
            goto fail;
        }
        const int ls = rs->lineno, lk = rk->lineno;
        if (ks != 3) {
            sdd_err_set(e, "%s:%d: expected 3 columns (ASV_SPK TRIAL SCORE), got %s%d", sname, ls,
                        ks > MAX_TOK ? "more than " : "", ks > MAX_TOK ? MAX_TOK : ks);
            goto fail;
        }
        if (kk != 8) {
            sdd_err_set(e, "%s:%d: expected 8 columns (spk trial codec trans attack label trim subset), "
                        "got %s%d", kname, lk, kk > MAX_TOK ? "more than " : "", kk > MAX_TOK ? MAX_TOK : kk);
            goto fail;
        }
        if (strcmp(ts[1], tk[1])) {
            sdd_err_set(e, "%s:%d: trial %.100s, but line %d of the ASV key %s has %.100s", sname, ls,
                        ts[1], lk, kname, tk[1]);
            goto fail;
        }
        int cls = sdd_asv_class_parse(tk[5]);
        if (cls < 0) {
            sdd_err_set(e, "%s:%d: ASV label '%.60s' is not target, nontarget or spoof", kname, lk, tk[5]);
            goto fail;
        }
        double v = 0;
        int prc = parse_score(ts[2], &v);
        if (prc) { score_err(e, sname, ls, ts[2], prc); goto fail; }
        nall++;
        if (!all && strcmp(tk[7], subset)) continue;
        void **arrs[] = { (void **)&a->score, (void **)&a->cls, (void **)&a->line, (void **)&aoff, (void **)&coff };
        const size_t sz[] = { sizeof *a->score, sizeof *a->cls, sizeof *a->line, sizeof *aoff, sizeof *coff };
        if (n >= MAX_ENTRIES || grow(arrs, sz, 5, n, &cap)) { sdd_err_set(e, "%s:%d: out of memory", sname, ls); goto fail; }
        const int has_attack = strcmp(tk[4], "-") && strcasecmp(tk[4], "bonafide");
        int64_t ao = has_attack ? pool_add(&P, tk[4]) : -1;
        int64_t co = pool_add(&P, tk[2]);
        if (co < 0 || (has_attack && ao < 0)) { sdd_err_set(e, "%s:%d: out of memory", sname, ls); goto fail; }
        a->score[n] = v;
        a->cls[n] = (unsigned char)cls;
        a->line[n] = ls;
        aoff[n] = ao;
        coff[n] = co;
        n++;
    }
    if (nall == 0) { sdd_err_set(e, "%s: no scores", sname); goto fail; }
    if (n == 0) { sdd_err_set(e, "%s: no ASV trials in subset '%.60s'", kname, subset); goto fail; }
    a->attack = malloc((size_t)n * sizeof *a->attack);
    a->codec = malloc((size_t)n * sizeof *a->codec);
    if (!a->attack || !a->codec) { sdd_err_set(e, "%s: out of memory", sname); goto fail; }
    for (int64_t i = 0; i < n; i++) {
        a->attack[i] = aoff[i] >= 0 ? P.buf + aoff[i] : NULL;
        a->codec[i] = P.buf + coff[i];
    }
    a->n = n;
    a->pool_ = P.buf;
    free(aoff);
    free(coff);
    return 0;
fail:
    free(aoff);
    free(coff);
    free(P.buf);
    sdd_asv_free(a);
    return -1;
}

int sdd_asv_load(const char *path, const char *key_path, const char *subset, sdd_asv_scores *a,
                 sdd_err *e)
{
    if (!a) return sdd_err_set(e, "sdd_asv_load: NULL argument");
    memset(a, 0, sizeof *a);
    if (!path) return sdd_err_set(e, "sdd_asv_load: NULL path");
    reader r;
    if (sdd_lines_open(&r, path, e)) return -1;
    int rc;
    if (!key_path) {
        rc = parse_asv_labelled(&r, sdd_input_name(path), a, e);
    } else {
        reader rk;
        if (sdd_lines_open(&rk, key_path, e)) { sdd_lines_close(&r); return -1; }
        rc = parse_asv_keyed(&r, sdd_input_name(path), &rk, sdd_input_name(key_path), subset, a, e);
        sdd_lines_close(&rk);
    }
    sdd_lines_close(&r);
    return rc;
}
