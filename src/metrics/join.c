/* Owns join.h: joining score files with a key or with each other by ID. */
#include "metrics/join.h"
#include "metrics/scores.h"
#include "metrics/match.h"
#include "data/list.h"
#include "io/readall.h"

#include <stdlib.h>
#include <string.h>

void sdd_joined_free(sdd_joined *j)
{
    if (!j) return;
    for (int64_t i = 0; j->id && i < j->n; i++) free(j->id[i]);
    free(j->id);
    free(j->x);
    free(j->pos);
    memset(j, 0, sizeof *j);
}

/* Matches the nk "key" IDs with score file sc; s_of_k[i] = score index or -1. */
static int match(const char *const *kid, const int *kline, int64_t nk, const char *kname, const sdd_scores *sc,
                 const char *sname, int64_t *s_of_k, sdd_err *e)
{
    signed char *rule = malloc((size_t)(nk ? nk : 1));
    if (!rule) return sdd_err_set(e, "out of memory");
    int rc = sdd_match_ids(kid, kline, nk, kname, (const char *const *)sc->id, sc->line, sc->n, sname, s_of_k,
                           rule, e);
    free(rule);
    return rc;
}

static int join(const char *key, const char *const *scores, int k, int allow_missing, sdd_joined *j, sdd_err *e)
{
    memset(j, 0, sizeof *j);
    if (k < 1) return sdd_err_set(e, "no score files");
    sdd_list kl = { 0 };
    sdd_scores *sc = calloc((size_t)k, sizeof *sc);
    int64_t *s_of_k = NULL, nk = 0;
    const char **kid = NULL;
    int *kline = NULL, rc = -1, loaded = 0;
    if (!sc) return sdd_err_set(e, "out of memory");
    for (; loaded < k; loaded++)
        if (sdd_scores_load(scores[loaded], &sc[loaded], e)) goto done;
    const char *kname = sdd_input_name(key ? key : scores[0]);   /* '-': "- (standard input)" */
    if (key) {
        if (sdd_list_load(key, NULL, &kl, e)) goto done;
        nk = kl.n;
    } else {
        nk = sc[0].n;
    }
    kid = malloc((size_t)nk * sizeof *kid);
    kline = malloc((size_t)nk * sizeof *kline);
    s_of_k = malloc((size_t)nk * k * sizeof *s_of_k);
    j->x = malloc((size_t)nk * k * sizeof *j->x);
    j->id = calloc((size_t)nk, sizeof *j->id);
    if (key) j->pos = malloc((size_t)nk);
    if (!kid || !kline || !s_of_k || !j->x || !j->id || (key && !j->pos)) { sdd_err_set(e, "out of memory"); goto done; }
    for (int64_t i = 0; i < nk; i++) {
        kid[i] = key ? kl.items[i].id : sc[0].id[i];
        kline[i] = key ? kl.items[i].line : sc[0].line[i];
        if (key && kl.items[i].label == SDD_LABEL_NONE) {
            sdd_err_set(e, "%s:%d: trial %.200s has no label (a key labels every trial bonafide or spoof)", kname,
                        kl.items[i].line, kl.items[i].id);
            goto done;
        }
    }
    for (int f = 0; f < k; f++) {
        if (match(kid, kline, nk, kname, &sc[f], sdd_input_name(scores[f]), s_of_k + (size_t)f * nk, e)) goto done;
        int64_t nmatch = 0;
        for (int64_t i = 0; i < nk; i++) nmatch += s_of_k[(size_t)f * nk + i] >= 0;
        if (!key && nmatch != sc[f].n) {
            sdd_err_set(e, "%s: scores %lld trials, %s %lld: the files must score the same trials",
                        sdd_input_name(scores[f]), (long long)sc[f].n, sdd_input_name(scores[0]), (long long)sc[0].n);
            goto done;
        }
    }
    int64_t n = 0;
    for (int64_t i = 0; i < nk; i++) {
        int all = 1;
        for (int f = 0; f < k && all; f++) {
            if (s_of_k[(size_t)f * nk + i] >= 0) continue;
            all = 0;
            if (!allow_missing) {
                sdd_err_set(e, "%s: no score for trial %.200s (%s:%d)", sdd_input_name(scores[f]), kid[i], kname, kline[i]);
                goto done;
            }
        }
        if (!all) { j->n_missing++; continue; }
        for (int f = 0; f < k; f++) j->x[(size_t)n * k + f] = sc[f].score[s_of_k[(size_t)f * nk + i]];
        if (key) j->pos[n] = kl.items[i].label == SDD_LABEL_BONAFIDE;
        if (!(j->id[n] = strdup(kid[i]))) { sdd_err_set(e, "out of memory"); goto done; }
        n++;
        j->n = n;
    }
    if (n == 0) { sdd_err_set(e, "%s: no trial has a score in every file", kname); goto done; }
    j->k = k;
    rc = 0;
done:
    for (int f = 0; f < loaded; f++) sdd_scores_free(&sc[f]);
    free(sc);
    sdd_list_free(&kl);
    free(kid);
    free(kline);
    free(s_of_k);
    if (rc) sdd_joined_free(j);
    return rc;
}

int sdd_join_keyed(const char *key, const char *const *scores, int k, int allow_missing, sdd_joined *j, sdd_err *e)
{
    if (!key) { memset(j, 0, sizeof *j); return sdd_err_set(e, "no key file"); }
    return join(key, scores, k, allow_missing, j, e);
}

int sdd_join_plain(const char *const *scores, int k, sdd_joined *j, sdd_err *e)
{
    return join(NULL, scores, k, 0, j, e);
}
