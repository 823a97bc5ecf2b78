/* Owns inference helpers (see infer.h). */
#include "models/infer.h"
#include "backend/device.h"
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
        *score = s;
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
