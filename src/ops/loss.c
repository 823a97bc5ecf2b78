/* Losses: class-weighted cross entropy with one loss per batch segment
 * (PyTorch CrossEntropyLoss(weight=...) mean semantics within a segment). */
#include "ops/ops.h"
#include "ops/internal.h"
#include <math.h>
#include <string.h>

typedef struct { sdd_tensor *z, *out; float *p; const int *y; float cw[8]; double wsum[SDD_MAX_PATHS]; } ce_node;

static void ce_backward(sdd_ctx *c, void *vn)
{
    ce_node *n = vn;
    if (!n->out->g) return;
    float *dz = sdd_grad_of(c, n->z);
    if (!dz) return;
    const int B = (int)n->z->n[0], K = (int)n->z->n[1];
    for (int b = 0; b < B; b++) {
        const int s = sdd_seg_of(c, b);
        const double f = n->out->g[s] * n->cw[n->y[b]] / n->wsum[s];
        for (int k = 0; k < K; k++)
            dz[(size_t)b * K + k] += (float)(f * (n->p[(size_t)b * K + k] - (k == n->y[b])));
    }
}

sdd_tensor *sdd_ce_weighted(sdd_ctx *c, sdd_tensor *logits, const int *labels, const float *cw, float *wsum)
{
    if (!logits || c->failed) return NULL;
    const int B = (int)logits->n[0], K = (int)logits->n[1];
    if (K > 8) { sdd_err_set(&c->err, "cross entropy: %d classes (max 8)", K); c->failed = 1; return NULL; }
    SDD_ON_DEVICE(c, sdd_cu_ce_weighted(c, logits, labels, cw, wsum));
    int64_t ns = c->nseg;
    sdd_tensor *out = sdd_tensor_new(c, 1, &ns);
    ce_node *n = sdd_scratch0(c, sizeof *n);
    float *p = sdd_scratch(c, (size_t)B * K * sizeof(float));
    int *y = sdd_scratch(c, (size_t)B * sizeof(int));
    if (!out || !n || !p || !y) return NULL;
    memcpy(y, labels, (size_t)B * sizeof(int));
    double num[SDD_MAX_PATHS] = { 0 };
    for (int k = 0; k < K; k++) n->cw[k] = cw ? cw[k] : 1.0f;
    for (int b = 0; b < B; b++) {
        if (y[b] < 0 || y[b] >= K) { sdd_err_set(&c->err, "cross entropy: label %d of sample %d out of range", y[b], b); c->failed = 1; return NULL; }
        const float *z = logits->x + (size_t)b * K;
        double mx = z[0];
        for (int k = 1; k < K; k++) if (z[k] > mx) mx = z[k];
        double se = 0.0;
        for (int k = 0; k < K; k++) se += exp(z[k] - mx);
        const double lse = mx + log(se);
        for (int k = 0; k < K; k++) p[(size_t)b * K + k] = (float)exp(z[k] - lse);
        const int s = sdd_seg_of(c, b);
        num[s] += n->cw[y[b]] * (lse - z[y[b]]);
        n->wsum[s] += n->cw[y[b]];
    }
    for (int s = 0; s < c->nseg; s++) {
        out->x[s] = (float)(n->wsum[s] > 0 ? num[s] / n->wsum[s] : 0.0);
        if (wsum) wsum[s] = (float)n->wsum[s];
    }
    n->z = logits; n->out = out; n->p = p; n->y = y;
    out->rg = sdd_wants(c, logits);
    if (c->grad && out->rg && sdd_tape_push(c, ce_backward, n)) return NULL;
    return out;
}
