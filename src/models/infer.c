/* Owns inference helpers (see infer.h). */
#include "models/infer.h"
#include "backend/device.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void sdd_cut_repeat(const float *x, int64_t n, int64_t cut, float *out)
{
    for (int64_t k = 0; k < cut; k += n) {
        int64_t take = cut - k < n ? cut - k : n;
        memcpy(out + k, x, (size_t)take * sizeof(float));
    }
}

int sdd_score_batch(sdd_model *m, sdd_ctx *c, const float *wave, int B, int64_t L, float *scores, float *logits, sdd_err *e)
{
    if (L < m->min_samples) return sdd_err_set(e, "input of %lld samples is shorter than %s's minimum of %d", (long long)L, m->arch, m->min_samples);
    if (c->dev && sdd_model_cuda_check(m, "", e)) return -1;
    sdd_ctx_begin(c, B, 0, 0);
    int64_t shp[2] = { B, L };
    sdd_tensor *x;
    if (c->dev) {
        /* the batch's one upload; the logits come back below */
        x = sdd_tensor_new(c, 2, shp);
        if (x && sdd_device_from_host(x->x, wave, (size_t)B * L, e)) return -1;
    } else x = sdd_tensor_wrap(c, (float *)wave, 2, shp);
    sdd_tensor *z = m->forward(c, m, x);
    if (!z) return sdd_err_set(e, "%s", c->err.msg[0] ? c->err.msg : "forward failed");
    float small[2 * 64], *zh = z->x;
    if (c->dev) {
        zh = B <= 64 ? small : malloc((size_t)B * 2 * sizeof(float));
        if (!zh) return sdd_err_set(e, "out of memory");
        if (sdd_device_to_host(zh, z->x, (size_t)B * 2, e)) { if (zh != small) free(zh); return -1; }
    }
    for (int b = 0; b < B; b++) {
        scores[b] = zh[(size_t)b * 2 + 1];
        if (logits) { logits[2 * b] = zh[(size_t)b * 2]; logits[2 * b + 1] = zh[(size_t)b * 2 + 1]; }
    }
    if (zh != z->x && zh != small) free(zh);
    return 0;
}

int64_t sdd_window_samples(double seconds)
{
    const double w = seconds * 16000.0;
    if (!(w > 0)) return 0;
    return w < 0x1p60 ? (int64_t)w : (int64_t)1 << 60;
}

int sdd_score_full(sdd_model *m, sdd_ctx *c, const float *x, int64_t n, int64_t window, double *score, sdd_err *e)
{
    if (n <= 0) return sdd_err_set(e, "no samples");
    /* windows of at least twice the minimum, so every equal split is long enough */
    if (window < 2 * (int64_t)m->min_samples) window = 2 * (int64_t)m->min_samples;
    if (n < m->min_samples) {
        float *buf = malloc((size_t)m->min_samples * sizeof(float));
        if (!buf) return sdd_err_set(e, "out of memory");
        sdd_cut_repeat(x, n, m->min_samples, buf);
        float s;
        int rc = sdd_score_batch(m, c, buf, 1, m->min_samples, &s, NULL, e);
        free(buf);
        if (!rc) *score = s;   /* a failure leaves *score as it was */
        return rc;
    }
    const int64_t nw = (n + window - 1) / window;
    double sum = 0.0;
    for (int64_t w = 0; w < nw; w++) {
        const int64_t a = n * w / nw, b = n * (w + 1) / nw;
        float s;
        if (sdd_score_batch(m, c, x + a, 1, b - a, &s, NULL, e)) return -1;
        sum += s;
    }
    *score = sum / (double)nw;
    return 0;
}

struct sdd_score_pool {
    sdd_model *m;
    int n;
    sdd_ctx *c;   /* (n,) one per thread */
};

sdd_score_pool *sdd_score_pool_new(sdd_model *m, int nthreads, sdd_err *e)
{
    if (nthreads < 1) nthreads = 1;
    sdd_score_pool *p = calloc(1, sizeof *p);
    if (p) p->c = calloc((size_t)nthreads, sizeof *p->c);
    if (!p || !p->c) {
        free(p);
        sdd_err_set(e, "out of memory");
        return NULL;
    }
    p->m = m;
    p->n = nthreads;
    for (int t = 0; t < nthreads; t++) sdd_ctx_init(&p->c[t], &m->params);
    return p;
}

void sdd_score_pool_free(sdd_score_pool *p)
{
    if (!p) return;
    for (int t = 0; t < p->n; t++) sdd_ctx_free(&p->c[t]);
    free(p->c);
    free(p);
}

size_t sdd_score_pool_arena_peak(const sdd_score_pool *p)
{
    size_t s = 0;
    for (int t = 0; p && t < p->n; t++) s += p->c[t].arena.peak;
    return s;
}

/* one item on the calling thread's context */
static int score_item(sdd_model *m, sdd_ctx *c, const float *x, int64_t n, int64_t cut, int64_t window, double *score, sdd_err *e)
{
    if (cut <= 0) return sdd_score_full(m, c, x, n, window, score, e);
    if (n <= 0) return sdd_err_set(e, "no samples");
    float *w = malloc((size_t)cut * sizeof(float));
    if (!w) return sdd_err_set(e, "out of memory");
    sdd_cut_repeat(x, n, cut, w);
    float s;
    const int rc = sdd_score_batch(m, c, w, 1, cut, &s, NULL, e);
    free(w);
    if (!rc) *score = s;
    return rc;
}

void sdd_score_pool_run(sdd_score_pool *p, int n, sdd_score_load_fn load, void *arg, int64_t cut, int64_t window,
                        double *scores, int *status, sdd_err *errs)
{
    const int T = p->n < n ? p->n : n;
    /* the items' threads run their layers on one thread each: their own
     * thread count set to 1 (the ops size their splits by it), OpenBLAS
     * single-threaded inside a parallel region */
    #pragma omp parallel num_threads(T > 0 ? T : 1)
    {
        omp_set_num_threads(1);
        sdd_ctx *c = &p->c[omp_get_thread_num()];
        #pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < n; b++) {
            float *x = NULL;
            int64_t len = 0;
            if (load(arg, b, &x, &len, &errs[b])) { status[b] = SDD_ITEM_LOAD_FAILED; continue; }
            status[b] = score_item(p->m, c, x, len, cut, window, &scores[b], &errs[b]) ? SDD_ITEM_SCORE_FAILED : SDD_ITEM_SCORED;
            free(x);
        }
    }
}
