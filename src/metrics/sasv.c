/* Owns sasv.h: reading SASV score files and track 2 keys, and joining them
 * by (speaker, utterance). */
#include "metrics/sasv.h"
#include "metrics/scores.h"
#include "core/lines.h"
#include "io/readall.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    int line;
    int ncol;
    char *col[5];          /* into the row pool */
} row;

typedef struct {
    row *r;
    int64_t n, cap;
    char *pool;
    size_t plen, pcap;
    int ncol;
} table;

static void table_free(table *t)
{
    free(t->r);
    free(t->pool);
    memset(t, 0, sizeof *t);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static int is_number(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    return end != s && !*end && isfinite(v);
}

/* Reads every data line into t (columns as pool offsets until the end). */
static int read_table(sdd_lines *rd, const char *name, int min_col, int max_col, table *t, sdd_err *e)
{
    memset(t, 0, sizeof *t);
    size_t *off = NULL;   /* pool offsets, 5 per row */
    int rc = -1, seen_data = 0;
    for (;;) {
        ssize_t k = sdd_lines_next(rd);
        if (k == -1) break;
        if (k == -2) { sdd_err_set(e, "%s: read failed: %s", name, strerror(errno)); goto done; }
        if (k == -3) { sdd_err_set(e, "%s:%d: line longer than %d bytes", name, rd->lineno, SDD_LINES_MAX); goto done; }
        char *s = rd->line;
        if (rd->lineno == 1 && k >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) { s += 3; k -= 3; }
        if (strlen(s) != (size_t)k) { sdd_err_set(e, "%s:%d: contains a NUL byte", name, rd->lineno); goto done; }
        while (*s && is_ws(*s)) s++;
        if (!*s || *s == '#') continue;
        char *tok[6];
        int nt = 0;
        while (*s) {
            if (nt < 6) tok[nt] = s;
            nt++;
            while (*s && !is_ws(*s)) s++;
            if (*s) *s++ = 0;
            while (*s && is_ws(*s)) s++;
        }
        if (nt < min_col || nt > max_col) {
            sdd_err_set(e, "%s:%d: expected %d to %d columns, got %d", name, rd->lineno, min_col, max_col, nt);
            goto done;
        }
        if (t->ncol && nt != t->ncol) {
            sdd_err_set(e, "%s:%d: %d columns, but the lines before have %d", name, rd->lineno, nt, t->ncol);
            goto done;
        }
        /* a header: the first line, starting "spk" or naming a score or label column */
        if (!seen_data && !t->ncol) {
            seen_data = 1;
            int hdr = !strcasecmp(tok[0], "spk");
            for (int c = 0; c < nt && c < 6; c++) hdr |= strcasestr(tok[c], "score") || strcasestr(tok[c], "label");
            if (hdr && !is_number(tok[nt - 1])) continue;
        }
        t->ncol = nt;
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 1024;
            row *p = realloc(t->r, (size_t)t->cap * sizeof *p);
            size_t *o = realloc(off, (size_t)t->cap * 5 * sizeof *o);
            if (p) t->r = p;
            if (o) off = o;
            if (!p || !o) { sdd_err_set(e, "%s: out of memory", name); goto done; }
        }
        row *r = &t->r[t->n];
        r->line = rd->lineno;
        r->ncol = nt;
        for (int c = 0; c < nt; c++) {
            size_t L = strlen(tok[c]) + 1;
            if (t->plen + L > t->pcap) {
                size_t nc = t->pcap ? 2 * t->pcap : 65536;
                while (nc < t->plen + L) nc *= 2;
                char *p = realloc(t->pool, nc);
                if (!p) { sdd_err_set(e, "%s: out of memory", name); goto done; }
                t->pool = p;
                t->pcap = nc;
            }
            memcpy(t->pool + t->plen, tok[c], L);
            off[t->n * 5 + c] = t->plen;
            t->plen += L;
        }
        t->n++;
    }
    if (t->n == 0) { sdd_err_set(e, "%s: no trials", name); goto done; }
    for (int64_t i = 0; i < t->n; i++)
        for (int c = 0; c < t->r[i].ncol; c++) t->r[i].col[c] = t->pool + off[i * 5 + c];
    rc = 0;
done:
    free(off);
    if (rc) table_free(t);
    return rc;
}

static int load_table(const char *buf, size_t len, const char *path, const char *name, int lo, int hi, table *t,
                      sdd_err *e)
{
    sdd_lines rd = { 0 };
    if (path) {
        if (sdd_lines_open(&rd, path, e)) return -1;
    } else {
        rd.mem = buf ? buf : "";
        rd.len = buf ? len : 0;
    }
    int rc = read_table(&rd, name, lo, hi, t, e);
    sdd_lines_close(&rd);
    return rc;
}

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull;
    for (; *a; a++) h = (h ^ (unsigned char)*a) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (; *b; b++) h = (h ^ (unsigned char)*b) * 1099511628211ull;
    return h;
}

void sdd_sasv_free(sdd_sasv *s)
{
    if (!s) return;
    free(s->score);
    free(s->cls);
    free(s->attack);
    free(s->pool_);
    memset(s, 0, sizeof *s);
}

static int parse_score(const char *tok, const char *name, int line, double *v, sdd_err *e)
{
    char *end;
    *v = strtod(tok, &end);
    if (end == tok || *end) return sdd_err_set(e, "%s:%d: '%.60s' is not a number", name, line, tok);
    if (!isfinite(*v)) return sdd_err_set(e, "%s:%d: score '%.60s' is not finite", name, line, tok);
    return 0;
}

static int do_load(const char *sbuf, size_t slen, const char *spath, const char *sname, const char *kbuf, size_t klen,
                   const char *kpath, const char *kname, int have_key, int sum, sdd_sasv *s, sdd_err *e)
{
    memset(s, 0, sizeof *s);
    table st, kt = { 0 };
    if (load_table(sbuf, slen, spath, sname, 3, 5, &st, e)) return -1;
    int rc = -1;
    int64_t *slot = NULL;
    size_t hcap = 0;
    const int labelled = st.ncol == 4;
    if (!labelled && !have_key) {
        sdd_err_set(e, "%s: SASV scores without a KEY column need a key file (--sasv-key)", sname);
        goto done;
    }
    if (sum && st.ncol != 5) {
        sdd_err_set(e, "%s: summing CM and ASV scores needs the 'SPK FILE CM ASV SASV' format", sname);
        goto done;
    }
    if (labelled && have_key) {
        sdd_err_set(e, "%s: labelled SASV scores (SPK FILE SCORE KEY) take no key file", sname);
        goto done;
    }
    const int64_t n = st.n;
    s->score = malloc((size_t)n * sizeof *s->score);
    s->cls = malloc((size_t)n);
    s->attack = calloc((size_t)n, sizeof *s->attack);
    if (!s->score || !s->cls || !s->attack) { sdd_err_set(e, "out of memory"); goto done; }
    for (int64_t i = 0; i < n; i++) {
        const row *r = &st.r[i];
        if (sum) {
            double cm, asv;
            for (int c = 2; c <= 3; c++)
                if (!strcmp(r->col[c], "-")) {
                    sdd_err_set(e, "%s:%d: no %s score ('-') to sum", sname, r->line, c == 2 ? "CM" : "ASV");
                    goto done;
                }
            if (parse_score(r->col[2], sname, r->line, &cm, e) || parse_score(r->col[3], sname, r->line, &asv, e))
                goto done;
            s->score[i] = cm + asv;
        } else if (st.ncol == 5 && !strcmp(r->col[4], "-")) {
            sdd_err_set(e, "%s:%d: no SASV score ('-'); summing the CM and ASV scores is an option (--sasv-sum)",
                        sname, r->line);
            goto done;
        } else if (parse_score(r->col[labelled ? 2 : st.ncol - 1], sname, r->line, &s->score[i], e)) goto done;
        if (labelled) {
            int c = sdd_asv_class_parse(r->col[3]);
            if (c < 0) {
                sdd_err_set(e, "%s:%d: key '%.60s' is not target, nontarget or spoof", sname, r->line, r->col[3]);
                goto done;
            }
            s->cls[i] = (unsigned char)c;
        }
    }
    /* duplicate (speaker, utterance) pairs in the scores */
    hcap = 1;
    while (hcap < (size_t)n * 2) hcap *= 2;
    slot = malloc(hcap * sizeof *slot);
    if (!slot) { sdd_err_set(e, "out of memory"); goto done; }
    for (size_t h = 0; h < hcap; h++) slot[h] = -1;
    for (int64_t i = 0; i < n; i++) {
        size_t h = (size_t)hash2(st.r[i].col[0], st.r[i].col[1]) & (hcap - 1);
        while (slot[h] >= 0) {
            const row *o = &st.r[slot[h]];
            if (!strcmp(o->col[0], st.r[i].col[0]) && !strcmp(o->col[1], st.r[i].col[1])) {
                sdd_err_set(e, "%s:%d: duplicate trial %.100s %.100s (first on line %d)", sname, st.r[i].line,
                            st.r[i].col[0], st.r[i].col[1], o->line);
                goto done;
            }
            h = (h + 1) & (hcap - 1);
        }
        slot[h] = i;
    }
    if (have_key) {
        if (load_table(kbuf, klen, kpath, kname, 4, 5, &kt, e)) goto done;
        const int five = kt.ncol == 5;
        unsigned char *seen = calloc((size_t)n, 1);
        if (!seen) { sdd_err_set(e, "out of memory"); goto done; }
        size_t attack_len = 0;
        for (int64_t k = 0; k < kt.n; k++) {
            const row *r = &kt.r[k];
            const char *lab = r->col[five ? 4 : 3];
            int c = sdd_asv_class_parse(lab);
            if (c < 0) {
                free(seen);
                sdd_err_set(e, "%s:%d: ASV label '%.60s' is not target, nontarget or spoof", kname, r->line, lab);
                goto done;
            }
            size_t h = (size_t)hash2(r->col[0], r->col[1]) & (hcap - 1);
            int64_t j = -1;
            while (slot[h] >= 0) {
                const row *o = &st.r[slot[h]];
                if (!strcmp(o->col[0], r->col[0]) && !strcmp(o->col[1], r->col[1])) { j = slot[h]; break; }
                h = (h + 1) & (hcap - 1);
            }
            if (j < 0) {
                free(seen);
                sdd_err_set(e, "%s: no score for trial %.100s %.100s (%s:%d)", sname, r->col[0], r->col[1], kname, r->line);
                goto done;
            }
            if (seen[j]) {
                free(seen);
                sdd_err_set(e, "%s:%d: duplicate trial %.100s %.100s", kname, r->line, r->col[0], r->col[1]);
                goto done;
            }
            seen[j] = 1;
            s->cls[j] = (unsigned char)c;
            if (five && c == 2) attack_len += strlen(r->col[3]) + 1;
        }
        for (int64_t j = 0; j < n; j++)
            if (!seen[j]) {
                free(seen);
                sdd_err_set(e, "%s:%d: trial %.100s %.100s is not in %s", sname, st.r[j].line, st.r[j].col[0],
                            st.r[j].col[1], kname);
                goto done;
            }
        free(seen);
        if (five && attack_len) {
            s->pool_ = malloc(attack_len);
            if (!s->pool_) { sdd_err_set(e, "out of memory"); goto done; }
            size_t p = 0;
            for (int64_t k = 0; k < kt.n; k++) {
                const row *r = &kt.r[k];
                if (sdd_asv_class_parse(r->col[4]) != 2) continue;
                size_t h = (size_t)hash2(r->col[0], r->col[1]) & (hcap - 1);
                while (strcmp(st.r[slot[h]].col[0], r->col[0]) || strcmp(st.r[slot[h]].col[1], r->col[1]))
                    h = (h + 1) & (hcap - 1);
                size_t L = strlen(r->col[3]) + 1;
                memcpy(s->pool_ + p, r->col[3], L);
                s->attack[slot[h]] = s->pool_ + p;
                p += L;
            }
        }
    }
    s->n = n;
    rc = 0;
done:
    free(slot);
    table_free(&st);
    table_free(&kt);
    if (rc) sdd_sasv_free(s);
    return rc;
}

int sdd_sasv_load(const char *scores, const char *key, int sum_cm_asv, sdd_sasv *s, sdd_err *e)
{
    return do_load(NULL, 0, scores, sdd_input_name(scores), NULL, 0, key, sdd_input_name(key), key != NULL, sum_cm_asv, s, e);
}

int sdd_sasv_load_mem(const char *sbuf, size_t slen, const char *sname, const char *kbuf, size_t klen,
                      const char *kname, int sum_cm_asv, sdd_sasv *s, sdd_err *e)
{
    return do_load(sbuf, slen, NULL, sname ? sname : "(scores)", kbuf, klen, NULL, kname ? kname : "(key)",
                   kbuf != NULL, sum_cm_asv, s, e);
}

void sdd_adcf_attacks_free(sdd_adcf_attacks *a)
{
    if (!a) return;
    for (int i = 0; a->name && i < a->n; i++) free(a->name[i]);
    free(a->name);
    free(a->r);
    memset(a, 0, sizeof *a);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int sdd_sasv_adcf(const sdd_sasv *s, const sdd_adcf_cost *c, sdd_adcf_result *pooled, sdd_adcf_attacks *attacks,
                  sdd_err *e)
{
    if (attacks) memset(attacks, 0, sizeof *attacks);
    if (sdd_adcf(s->score, s->cls, NULL, s->n, c, pooled, e)) return -1;
    if (!attacks) return 0;
    /* distinct attack names, sorted */
    const char **v = malloc((size_t)(s->n ? s->n : 1) * sizeof *v);
    unsigned char *keep = malloc((size_t)(s->n ? s->n : 1));
    if (!v || !keep) { free(v); free(keep); return sdd_err_set(e, "out of memory"); }
    int64_t m = 0;
    for (int64_t i = 0; i < s->n; i++)
        if (s->attack[i]) v[m++] = s->attack[i];
    if (m > 1) qsort(v, (size_t)m, sizeof *v, cmp_str);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++)
        if (!u || strcmp(v[u - 1], v[i])) v[u++] = v[i];
    int rc = 0;
    if (u > 0) {
        attacks->name = calloc((size_t)u, sizeof *attacks->name);
        attacks->r = calloc((size_t)u, sizeof *attacks->r);
        if (!attacks->name || !attacks->r) rc = sdd_err_set(e, "out of memory");
        for (int64_t a = 0; rc == 0 && a < u; a++) {
            if (!(attacks->name[a] = strdup(v[a]))) { rc = sdd_err_set(e, "out of memory"); break; }
            attacks->n = (int)a + 1;
            for (int64_t i = 0; i < s->n; i++)
                keep[i] = s->cls[i] != 2 || (s->attack[i] && !strcmp(s->attack[i], v[a]));
            sdd_err ig;
            if (sdd_adcf(s->score, s->cls, keep, s->n, c, &attacks->r[a], &ig)) attacks->r[a].min_adcf = NAN;
        }
    }
    free(v);
    free(keep);
    if (rc) sdd_adcf_attacks_free(attacks);
    return rc;
}
