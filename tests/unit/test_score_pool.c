/* sdd_score_pool (models/infer.c): per-utterance parallel scoring. Against
 * sdd_score_batch run on one thread (AASIST-L, random weights, the bundled
 * clips): the same bits at the cut and for whole files; an item whose load
 * fails and one too short to score get their status and reason while the
 * others are scored; the caller's thread count is unchanged afterwards; a
 * pool of one thread and a run of no items work. */
#include "check.h"
#include "models/infer.h"
#include "models/modelio.h"
#include "audio/decode.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char *const clips[6] = { "real_01", "real_02", "real_03", "real_04", "tts_01", "tts_02" };

/* items 0..5 the clips, item 6 a failed load, item 7 three samples */
static int load(void *arg, int b, float **x, int64_t *n, sdd_err *e)
{
    (void)arg;
    if (b == 6) return sdd_err_set(e, "item 6: no such file");
    if (b == 7) {
        *x = calloc(3, sizeof(float));
        *n = 3;
        return *x ? 0 : sdd_err_set(e, "out of memory");
    }
    char path[256];
    snprintf(path, sizeof path, "tests/data/audio/%s.flac", clips[b]);
    return sdd_audio_load(path, 16000, x, n, NULL, e);
}

int main(void)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (!m) return CHECK_DONE("test_score_pool");
    sdd_model_init_random(m, 11);
    const int64_t cut = 16000, window = 20000;
    /* the reference: one thread, one forward per clip */
    double ref_cut[6], ref_full[6];
    omp_set_num_threads(1);
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    float *w = malloc((size_t)cut * sizeof(float));
    for (int b = 0; b < 6 && w; b++) {
        float *x = NULL, s = 0.0f;
        int64_t n = 0;
        CHECK_MSG(load(NULL, b, &x, &n, &e) == 0, "%s", e.msg);
        if (!x) continue;
        sdd_cut_repeat(x, n, cut, w);
        CHECK_MSG(sdd_score_batch(m, &c, w, 1, cut, &s, NULL, &e) == 0, "%s", e.msg);
        ref_cut[b] = s;
        CHECK_MSG(sdd_score_full(m, &c, x, n, window, &ref_full[b], &e) == 0, "%s", e.msg);
        free(x);
    }
    free(w);
    sdd_ctx_free(&c);
    /* two threads, then one */
    for (int T = 2; T >= 1; T--) {
        omp_set_num_threads(3);
        sdd_score_pool *p = sdd_score_pool_new(m, T, &e);
        CHECK_MSG(p != NULL, "%s", e.msg);
        if (!p) continue;
        double sc[8];
        int st[8];
        sdd_err errs[8];
        for (int full = 0; full < 2; full++) {
            memset(st, 0xff, sizeof st);
            sdd_score_pool_run(p, 8, load, NULL, full ? 0 : cut, window, sc, st, errs);
            for (int b = 0; b < 6; b++) {
                CHECK_MSG(st[b] == SDD_ITEM_SCORED, "T %d full %d item %d: %s", T, full, b, errs[b].msg);
                CHECK_MSG(sc[b] == (full ? ref_full[b] : ref_cut[b]), "T %d full %d item %d: %.9g vs %.9g", T, full, b, sc[b],
                          full ? ref_full[b] : ref_cut[b]);
            }
            CHECK(st[6] == SDD_ITEM_LOAD_FAILED);
            CHECK_STR_CONTAINS(errs[6].msg, "item 6: no such file");
            /* three samples: tiled up to the cut, or (whole) up to the model's minimum */
            CHECK(st[7] == SDD_ITEM_SCORED);
            CHECK(omp_get_max_threads() == 3);   /* the caller's setting survives */
        }
        /* a too-short cut is the item's scoring failure, with the reason */
        sc[0] = sc[1] = 42.0f;
        sdd_score_pool_run(p, 2, load, NULL, 100, window, sc, st, errs);
        CHECK(st[0] == SDD_ITEM_SCORE_FAILED && st[1] == SDD_ITEM_SCORE_FAILED);
        CHECK(sc[0] == 42.0f && sc[1] == 42.0f);   /* a failed item's score is left as it was */
        CHECK_STR_CONTAINS(errs[0].msg, "shorter than");
        sdd_score_pool_run(p, 0, load, NULL, cut, window, sc, st, errs);
        sdd_score_pool_free(p);
    }
    sdd_score_pool_free(NULL);
    sdd_model_free(m);
    return CHECK_DONE("test_score_pool");
}
