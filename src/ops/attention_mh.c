/* Multi-head scaled dot-product attention core and softmax-attention pooling
 * (see seq.h). The attention keeps the softmax probabilities P (B, H, T, T)
 * (and the dropout mask) for its backward; callers that cannot afford them
 * wrap the transformer layer in sdd_checkpoint. Work is split over
 * (sample, head) pairs, each with its own output and gradient slices, so no
 * sum depends on the thread count. */
#include "ops/seq.h"
#include "ops/internal.h"
#include "backend/gemm.h"
#include "core/rng.h"
#include <math.h>
#include <omp.h>
#include <string.h>

typedef struct {
    sdd_tensor *q, *k, *v, *out;
    float *P;            /* (B, H, T, T) softmax probabilities */
    uint8_t *mask;       /* (B, H, T, T) dropout keep mask, NULL without dropout */
    float scale, dscale; /* score scale, dropout scale 1/(1-p) */
    int H;
} mha_node;

/* row-wise softmax in place of S (T, T) */
static void softmax_rows(float *S, int64_t T)
{
    for (int64_t i = 0; i < T; i++) {
        float *r = S + i * T;
        float mx = r[0];
        for (int64_t j = 1; j < T; j++) mx = r[j] > mx ? r[j] : mx;
        double z = 0;
        for (int64_t j = 0; j < T; j++) { r[j] = expf(r[j] - mx); z += r[j]; }
        const float iz = (float)(1.0 / z);
        for (int64_t j = 0; j < T; j++) r[j] *= iz;
    }
}

static void mha_backward(sdd_ctx *c, void *vn)
{
    mha_node *n = vn;
    if (!n->out->g) return;
    const int64_t B = n->q->n[0], T = n->q->n[1], D = n->q->n[2], H = n->H, Dh = D / H;
    float *dq = sdd_wants(c, n->q) ? sdd_grad_of(c, n->q) : NULL;
    float *dk = sdd_wants(c, n->k) ? sdd_grad_of(c, n->k) : NULL;
    float *dv = sdd_wants(c, n->v) ? sdd_grad_of(c, n->v) : NULL;
    if ((sdd_wants(c, n->q) && !dq) || (sdd_wants(c, n->k) && !dk) || (sdd_wants(c, n->v) && !dv)) return;
    const int nt = omp_get_max_threads();
    sdd_arena_mark mk = sdd_arena_get_mark(&c->arena);
    float *work = sdd_scratch(c, (size_t)nt * 2 * T * T * sizeof(float));
    if (!work) return;
    const float *dO = n->out->g;
    #pragma omp parallel for schedule(dynamic)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *dP = work + (size_t)omp_get_thread_num() * 2 * T * T, *Pd = dP + T * T;
        const float *P = n->P + (size_t)bh * T * T;
        const uint8_t *m = n->mask ? n->mask + (size_t)bh * T * T : NULL;
        const size_t off = (size_t)b * T * D + h * Dh;
        const float *Pu = P;
        if (m) {
            for (int64_t i = 0; i < T * T; i++) Pd[i] = m[i] ? P[i] * n->dscale : 0.0f;
            Pu = Pd;
        }
        /* dV_h (T, Dh) += Pd^T (T, T) @ dO_h (T, Dh) */
        if (dv)
            sdd_sgemm(1, 0, (int)T, (int)Dh, (int)T, 1.0f, Pu, (int)T,
                      dO + off, (int)D, 1.0f, dv + off, (int)D);
        if (!dq && !dk) continue;
        /* dPd (T, T) = dO_h (T, Dh) @ V_h^T (Dh, T) */
        sdd_sgemm(0, 1, (int)T, (int)T, (int)Dh, 1.0f, dO + off, (int)D,
                  n->v->x + off, (int)D, 0.0f, dP, (int)T);
        for (int64_t i = 0; i < T; i++) {
            float *r = dP + i * T;
            const float *p = P + i * T;
            if (m) for (int64_t j = 0; j < T; j++) r[j] = m[i * T + j] ? r[j] * n->dscale : 0.0f;
            double s = 0;
            for (int64_t j = 0; j < T; j++) s += (double)r[j] * p[j];
            /* dS = P (dP - sum_j P dP), times the score scale */
            for (int64_t j = 0; j < T; j++) r[j] = (float)(p[j] * (r[j] - s)) * n->scale;
        }
        /* dQ_h += dS (T, T) @ K_h (T, Dh); dK_h += dS^T @ Q_h */
        if (dq)
            sdd_sgemm(0, 0, (int)T, (int)Dh, (int)T, 1.0f, dP, (int)T,
                      n->k->x + off, (int)D, 1.0f, dq + off, (int)D);
        if (dk)
            sdd_sgemm(1, 0, (int)T, (int)Dh, (int)T, 1.0f, dP, (int)T,
                      n->q->x + off, (int)D, 1.0f, dk + off, (int)D);
    }
    sdd_arena_release(&c->arena, mk);
}

sdd_tensor *sdd_mh_attention(sdd_ctx *c, sdd_tensor *q, sdd_tensor *k, sdd_tensor *v, int H, float scale,
                             float p_drop)
{
    if (!q || !k || !v || c->failed) return NULL;
    const int64_t B = q->n[0], T = q->n[1], D = q->n[2];
    if (q->nd != 3 || sdd_numel(k) != sdd_numel(q) || sdd_numel(v) != sdd_numel(q) || H < 1 || D % H) {
        sdd_err_set(&c->err, "attention: q, k, v must be (B, T, H*Dh) alike with D %% H == 0");
        c->failed = 1;
        return NULL;
    }
    const uint64_t key = sdd_rng_key(c->rng_key, (uint64_t)c->op_serial++, 0xa77, 0);
    const int drop = c->train && !c->dropout_off && p_drop > 0.0f;
    SDD_ON_DEVICE(c, sdd_cu_mh_attention(c, q, k, v, H, scale, p_drop, key));
    const int64_t Dh = D / H;
    sdd_tensor *out = sdd_new3(c, B, T, D);
    float *P = sdd_scratch(c, (size_t)B * H * T * T * sizeof(float));
    uint8_t *mask = drop ? sdd_scratch(c, (size_t)B * H * T * T) : NULL;
    if (!out || !P || (drop && !mask)) return NULL;
    const float dscale = p_drop < 1.0f ? 1.0f / (1.0f - p_drop) : 0.0f;
    const int nt = omp_get_max_threads();
    float *work = drop ? sdd_scratch(c, (size_t)nt * T * T * sizeof(float)) : NULL;
    if (drop && !work) return NULL;
    #pragma omp parallel for schedule(dynamic)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, h = bh % H;
        const size_t off = (size_t)b * T * D + h * Dh;
        float *S = P + (size_t)bh * T * T;
        /* S (T, T) = Q_h (T, Dh) @ K_h^T * scale */
        sdd_sgemm(0, 1, (int)T, (int)T, (int)Dh, scale, q->x + off, (int)D,
                  k->x + off, (int)D, 0.0f, S, (int)T);
        softmax_rows(S, T);
        const float *Pu = S;
        if (drop) {
            float *Pd = work + (size_t)omp_get_thread_num() * T * T;
            uint8_t *m = mask + (size_t)bh * T * T;
            for (int64_t i = 0; i < T * T; i++) {
                m[i] = sdd_rng_uniform(key, (uint64_t)bh * T * T + i) >= p_drop;
                Pd[i] = m[i] ? S[i] * dscale : 0.0f;
            }
            Pu = Pd;
        }
        /* O_h (T, Dh) = P (T, T) @ V_h (T, Dh) */
        sdd_sgemm(0, 0, (int)T, (int)Dh, (int)T, 1.0f, Pu, (int)T,
                  v->x + off, (int)D, 0.0f, out->x + off, (int)D);
    }
    out->rg = sdd_wants(c, q) || sdd_wants(c, k) || sdd_wants(c, v);
    if (c->grad && out->rg) {
        mha_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->q = q; n->k = k; n->v = v; n->out = out; n->P = P; n->mask = mask;
        n->scale = scale; n->dscale = dscale; n->H = H;
        if (sdd_tape_push(c, mha_backward, n)) return NULL;
    }
    return out;
}

typedef struct { sdd_tensor *x, *w, *out; int axis; } sp_node;

/* geometry of one pooled vector: element i of vector (b, ch, j) is at base + i * stride,
 * output at (b, j, ch) of (B, J, C) */
typedef struct { int64_t B, C, J, L, stride; } sp_geom;

static sp_geom sp_layout(const sdd_tensor *x, int axis)
{
    sp_geom g = { x->n[0], x->n[1], 0, 0, 0 };
    if (axis == 3) { g.J = x->n[2]; g.L = x->n[3]; g.stride = 1; }
    else { g.J = x->n[3]; g.L = x->n[2]; g.stride = x->n[3]; }
    return g;
}

static size_t sp_base(const sp_geom *g, int axis, int64_t b, int64_t ch, int64_t j)
{
    const size_t plane = (size_t)(b * g->C + ch) * (size_t)(g->J * g->L);
    return axis == 3 ? plane + (size_t)j * g->L : plane + (size_t)j;
}

/* softmax of w over one vector into p (L) */
static void sp_softmax(const float *w, int64_t L, int64_t st, float *p)
{
    float mx = w[0];
    for (int64_t i = 1; i < L; i++) mx = w[i * st] > mx ? w[i * st] : mx;
    double z = 0;
    for (int64_t i = 0; i < L; i++) { p[i] = expf(w[i * st] - mx); z += p[i]; }
    const float iz = (float)(1.0 / z);
    for (int64_t i = 0; i < L; i++) p[i] *= iz;
}

static void sp_backward(sdd_ctx *c, void *vn)
{
    sp_node *n = vn;
    if (!n->out->g) return;
    const sp_geom g = sp_layout(n->x, n->axis);
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    float *dw = sdd_wants(c, n->w) ? sdd_grad_of(c, n->w) : NULL;
    if ((sdd_wants(c, n->x) && !dx) || (sdd_wants(c, n->w) && !dw)) return;
    const int nt = omp_get_max_threads();
    sdd_arena_mark mk = sdd_arena_get_mark(&c->arena);
    float *work = sdd_scratch(c, (size_t)nt * g.L * sizeof(float));
    if (!work) return;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t ch = 0; ch < g.C; ch++) {
            float *p = work + (size_t)omp_get_thread_num() * g.L;
            for (int64_t j = 0; j < g.J; j++) {
                const size_t base = sp_base(&g, n->axis, b, ch, j);
                const float dy = n->out->g[(size_t)(b * g.J + j) * g.C + ch];
                sp_softmax(n->w->x + base, g.L, g.stride, p);
                double s = 0;
                for (int64_t i = 0; i < g.L; i++) s += (double)p[i] * dy * n->x->x[base + i * g.stride];
                for (int64_t i = 0; i < g.L; i++) {
                    const size_t e = base + i * g.stride;
                    if (dx) dx[e] += dy * p[i];
                    if (dw) dw[e] += (float)(p[i] * ((double)dy * n->x->x[e] - s));
                }
            }
        }
    sdd_arena_release(&c->arena, mk);
}

sdd_tensor *sdd_softmax_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, int axis)
{
    if (!x || !w || c->failed) return NULL;
    if (x->nd != 4 || w->nd != 4 || sdd_numel(x) != sdd_numel(w) || (axis != 2 && axis != 3)) {
        sdd_err_set(&c->err, "softmax pool: x and w must be (B, C, H, W) alike, axis 2 or 3");
        c->failed = 1;
        return NULL;
    }
    SDD_ON_DEVICE(c, sdd_cu_softmax_pool(c, x, w, axis));
    const sp_geom g = sp_layout(x, axis);
    sdd_tensor *out = sdd_new3(c, g.B, g.J, g.C);
    const int nt = omp_get_max_threads();
    sdd_arena_mark mk = sdd_arena_get_mark(&c->arena);
    float *work = out ? sdd_scratch(c, (size_t)nt * g.L * sizeof(float)) : NULL;
    if (!out || !work) return NULL;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t ch = 0; ch < g.C; ch++) {
            float *p = work + (size_t)omp_get_thread_num() * g.L;
            for (int64_t j = 0; j < g.J; j++) {
                const size_t base = sp_base(&g, axis, b, ch, j);
                sp_softmax(w->x + base, g.L, g.stride, p);
                float s = 0.0f;
                for (int64_t i = 0; i < g.L; i++) s += x->x[base + i * g.stride] * p[i];
                out->x[(size_t)(b * g.J + j) * g.C + ch] = s;
            }
        }
    sdd_arena_release(&c->arena, mk);
    out->rg = sdd_wants(c, x) || sdd_wants(c, w);
    if (c->grad && out->rg) {
        sp_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->x = x; n->w = w; n->out = out; n->axis = axis;
        if (sdd_tape_push(c, sp_backward, n)) return NULL;
    }
    return out;
}
