/* Owns sdd_match_ids (match.h): score/key ID matching by exact ID, base
 * name and base name without extension, with hash maps over (start, length)
 * views into the IDs (no copies) and the ambiguity errors. */
#include "metrics/match.h"

#include <stdlib.h>
#include <string.h>

const char *sdd_match_rule_name(int rule)
{
    switch (rule) {
    case SDD_MATCH_EXACT: return "exact";
    case SDD_MATCH_BASENAME: return "base name";
    case SDD_MATCH_STEM: return "base name without extension";
    default: return NULL;
    }
}

const char *sdd_match_view(const char *id, int rule, size_t *len)
{
    const char *b = id;
    if (rule >= SDD_MATCH_BASENAME)
        for (const char *p = id; *p; p++)
            if (*p == '/' || *p == '\\') b = p + 1;
    size_t n = strlen(b);
    if (rule == SDD_MATCH_STEM) {
        const char *dot = strrchr(b, '.');
        if (dot && dot > b) n = (size_t)(dot - b);
    }
    *len = n;
    return b;
}

/* ---- a map from views to up to two indexes ---- */

typedef struct {
    const char *p;       /* NULL: empty slot */
    size_t n;
    int64_t first, second; /* the first two indexes with this view (second -1 if one) */
    int64_t open;        /* keys: the first one not matched by an earlier rule, or -1 */
} slot;

typedef struct { slot *v; size_t mask; } vmap;

static uint64_t hash_view(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static int vmap_init(vmap *m, int64_t count)
{
    size_t cap = 16;
    while (cap < (size_t)count * 2 + 2) cap *= 2;
    m->v = calloc(cap, sizeof *m->v);
    m->mask = cap - 1;
    return m->v ? 0 : -1;
}

/* The slot of view (p, n): the existing one, or (insert) a new one with
 * first = second = open = -1; NULL when absent and not inserting. */
static slot *vmap_get(vmap *m, const char *p, size_t n, int insert)
{
    size_t i = (size_t)hash_view(p, n) & m->mask;
    while (m->v[i].p) {
        if (m->v[i].n == n && !memcmp(m->v[i].p, p, n)) return &m->v[i];
        i = (i + 1) & m->mask;
    }
    if (!insert) return NULL;
    m->v[i] = (slot){ .p = p, .n = n, .first = -1, .second = -1, .open = -1 };
    return &m->v[i];
}

/* ---- matching ---- */

int sdd_match_ids(const char *const *kid, const int *kline, int64_t nk, const char *kname,
                  const char *const *sid, const int *sline, int64_t ns, const char *sname,
                  int64_t *score_of_key, signed char *rule_of_key, sdd_err *e)
{
    for (int64_t k = 0; k < nk; k++) {
        score_of_key[k] = -1;
        rule_of_key[k] = SDD_MATCH_NONE;
    }
    if (nk == 0 || ns == 0) return 0;
    unsigned char *used = calloc((size_t)ns, 1);
    int64_t *claim = malloc((size_t)nk * sizeof *claim);
    vmap m = { 0 };
    int rc = -1;
    if (!used || !claim || vmap_init(&m, ns > nk ? ns : nk)) { sdd_err_set(e, "out of memory"); goto done; }

    /* 1. exact: a map of the score IDs, looked up with every key ID */
    for (int64_t j = 0; j < ns; j++) {
        slot *s = vmap_get(&m, sid[j], strlen(sid[j]), 1);
        if (s->first < 0) s->first = j;
    }
    int64_t left = nk;
    for (int64_t k = 0; k < nk; k++) {
        const slot *s = vmap_get(&m, kid[k], strlen(kid[k]), 0);
        if (!s || used[s->first]) continue;
        score_of_key[k] = s->first;
        rule_of_key[k] = SDD_MATCH_EXACT;
        used[s->first] = 1;
        left--;
    }

    /* 2, 3. base name, stem: a map of every key's view, looked up with the
     * views of the unused score lines */
    for (int rule = SDD_MATCH_BASENAME; rule <= SDD_MATCH_STEM && left > 0; rule++) {
        int64_t unused = 0;
        for (int64_t j = 0; j < ns; j++) unused += !used[j];
        if (unused == 0) break;
        memset(m.v, 0, (m.mask + 1) * sizeof *m.v);
        for (int64_t k = 0; k < nk; k++) {
            size_t n;
            const char *p = sdd_match_view(kid[k], rule, &n);
            claim[k] = -1;
            if (n == 0) continue;
            slot *s = vmap_get(&m, p, n, 1);
            if (s->first < 0) s->first = k;
            else if (s->second < 0) s->second = k;
            if (s->open < 0 && score_of_key[k] < 0) s->open = k;
        }
        const char *how = sdd_match_rule_name(rule);
        for (int64_t j = 0; j < ns; j++) {
            if (used[j]) continue;
            size_t n;
            const char *p = sdd_match_view(sid[j], rule, &n);
            const slot *s = n ? vmap_get(&m, p, n, 0) : NULL;
            if (!s || s->open < 0) continue;  /* no key, or only keys an earlier rule matched */
            const int64_t k = s->open;
            if (s->second >= 0) {
                const int64_t k2 = s->first != k ? s->first : s->second;
                const int64_t a = k < k2 ? k : k2, b = k < k2 ? k2 : k;
                sdd_err_set(e, "%s:%d: ambiguous: score ID %.200s matches key IDs %.200s (%s:%d) and %.200s (%s:%d) by %s",
                            sname, sline[j], sid[j], kid[a], kname, kline[a], kid[b], kname, kline[b], how);
                goto done;
            }
            if (claim[k] >= 0) {
                const int64_t j0 = claim[k];
                sdd_err_set(e, "%s:%d: ambiguous: score IDs %.200s (line %d) and %.200s (line %d) both match key ID %.200s by %s",
                            sname, sline[j], sid[j0], sline[j0], sid[j], sline[j], kid[k], how);
                goto done;
            }
            claim[k] = j;
        }
        for (int64_t k = 0; k < nk; k++) {
            if (score_of_key[k] >= 0 || claim[k] < 0) continue;
            score_of_key[k] = claim[k];
            rule_of_key[k] = (signed char)rule;
            used[claim[k]] = 1;
            left--;
        }
    }
    rc = 0;
done:
    free(used);
    free(claim);
    free(m.v);
    if (rc)
        for (int64_t k = 0; k < nk; k++) {
            score_of_key[k] = -1;
            rule_of_key[k] = SDD_MATCH_NONE;
        }
    return rc;
}
