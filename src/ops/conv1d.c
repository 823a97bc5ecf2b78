/* Conv1d on channel-last sequences (see seq.h): any stride, zero padding on
 * either side, groups, optional weight norm over dim 2 (wav2vec 2.0's
 * positional convolution). Per sample and group the input patches are laid
 * out as rows (im2col: row t = x[t*stride - pad_left .. + K), channels of the
 * group, (K, Cg) flattened) and multiplied with the weight rearranged to
 * (Cout_g, K * Cg) by one sgemm. Backward per sample: the weight gradient
 * dW (Cout_g, K*Cg) += dY^T @ cols, accumulated for the samples of one
 * segment in sample order (deterministic), then routed to that segment's
 * buffer (through the weight-norm backward when there is one); the input
 * gradient dcols = dY @ W scattered back (col2im). */
#include "ops/seq.h"
#include "ops/internal.h"
#include "backend/gemm.h"
#include <math.h>
#include <string.h>

typedef struct {
    sdd_tensor *x, *w, *g, *b, *out;
    sdd_conv1d_opts o;
    int64_t T, Cin, Cout, K, Cg, Cog, To;
} c1_node;

/* Effective weight rearranged: wr (G, Cog, K, Cg) from w (Cout, Cg, K) (times g[k]/||v_k|| with weight norm).
 * nrm (K) receives ||v_k|| when g is given: each ||v_k||^2 is summed over the
 * rows i = (co, ci) in order, all K sums side by side, so w is read once in
 * memory order (the positional conv's v is 33 MB; a pass per tap k read it
 * 128 times with a 512-byte stride). */
static void c1_weight(const c1_node *n, float *wr, double *nrm)
{
    const int64_t Cout = n->Cout, Cg = n->Cg, K = n->K;
    const float *w = n->w->x;
    if (n->g) {
        for (int64_t k = 0; k < K; k++) nrm[k] = 0;
        for (int64_t i = 0; i < Cout * Cg; i++)
            for (int64_t k = 0; k < K; k++) nrm[k] += (double)w[i * K + k] * w[i * K + k];
        for (int64_t k = 0; k < K; k++) nrm[k] = sqrt(nrm[k]);
    }
    #pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < Cout; co++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t ci = 0; ci < Cg; ci++) {
                float v = w[(co * Cg + ci) * K + k];
                if (n->g) v = (float)(n->g->x[k] * (double)v / nrm[k]);
                wr[(co * K + k) * Cg + ci] = v;
            }
}

/* cols (To, K*Cg) of group gi of one sample xb (T, Cin) */
static void c1_im2col(const c1_node *n, const float *xb, int64_t gi, float *cols)
{
    const int64_t K = n->K, Cg = n->Cg;
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < n->To; t++)
        for (int64_t k = 0; k < K; k++) {
            const int64_t ti = t * n->o.stride + k - n->o.pad_left;
            float *dst = cols + (t * K + k) * Cg;
            if (ti < 0 || ti >= n->T) memset(dst, 0, (size_t)Cg * sizeof(float));
            else memcpy(dst, xb + ti * n->Cin + gi * Cg, (size_t)Cg * sizeof(float));
        }
}

/* dxb (T, Cin) += col2im(dcols) for group gi. One job per input row ti adds
 * the rows (t, k) with t * stride + k - pad_left = ti in increasing k, the
 * order of a k-major scatter, in one parallel region (a region per k was
 * 2,048 barriers per sample for the positional conv). */
static void c1_col2im(const c1_node *n, const float *dcols, int64_t gi, float *dxb)
{
    const int64_t K = n->K, Cg = n->Cg, S = n->o.stride, P = n->o.pad_left;
    #pragma omp parallel for schedule(static)
    for (int64_t ti = 0; ti < n->T; ti++) {
        float *dst = dxb + ti * n->Cin + gi * Cg;
        for (int64_t k = 0; k < K; k++) {
            const int64_t u = ti + P - k;   /* t * stride */
            if (u < 0 || u % S) continue;
            const int64_t t = u / S;
            if (t >= n->To) continue;
            const float *src = dcols + (t * K + k) * Cg;
            for (int64_t ci = 0; ci < Cg; ci++) dst[ci] += src[ci];
        }
    }
}

/* Per-segment parameter gradients from dwr (G, Cog, K, Cg), the weight
 * gradient in the rearranged layout: gw (Cout, Cg, K) += dwr back in w's
 * layout, or through the weight norm w = g v / ||v||:
 *   dg_k = sum_i dw_ik v_ik / ||v_k||,  dv_ik = (g_k / ||v_k||) (dw_ik - (dg_k / ||v_k||) v_ik).
 * With the weight norm dw goes back to w's layout first (into dwt), so the
 * dot products read both operands in memory order; each dg_k still sums
 * i = (co, ci) in order. */
static void c1_wgrad(const c1_node *n, const float *dwr, float *dwt, const double *nrm, double *dot, float *gw, float *gg)
{
    const int64_t Cout = n->Cout, Cg = n->Cg, K = n->K, NR = Cout * Cg;   /* rows (co, ci) */
    #pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < Cout; co++)
        for (int64_t ci = 0; ci < Cg; ci++)
            for (int64_t k = 0; k < K; k++) {
                const float d = dwr[(co * K + k) * Cg + ci];
                if (n->g) dwt[(co * Cg + ci) * K + k] = d;
                else gw[(co * Cg + ci) * K + k] += d;
            }
    if (!n->g) return;
    const float *v = n->w->x;
    for (int64_t k = 0; k < K; k++) dot[k] = 0;
    for (int64_t i = 0; i < NR; i++)
        for (int64_t k = 0; k < K; k++) dot[k] += (double)dwt[i * K + k] * v[i * K + k];
    for (int64_t k = 0; k < K; k++) {
        dot[k] /= nrm[k];                       /* dg_k */
        if (gg) gg[k] += (float)dot[k];
    }
    if (!gw) return;
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < NR; i++)
        for (int64_t k = 0; k < K; k++) {
            const double sc = n->g->x[k] / nrm[k];
            gw[i * K + k] += (float)(sc * ((double)dwt[i * K + k] - dot[k] / nrm[k] * v[i * K + k]));
        }
}

static void c1_backward(sdd_ctx *c, void *vn)
{
    c1_node *n = vn;
    if (!n->out->g) return;
    const int64_t G = n->o.groups, Cg = n->Cg, Cog = n->Cog, K = n->K, KC = K * Cg, To = n->To, Cout = n->Cout;
    const size_t wn = (size_t)Cout * KC;
    /* the input gradient outlives this call: allocated before the mark */
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (sdd_wants(c, n->x) && !dx) return;
    sdd_arena_mark mk = sdd_arena_get_mark(&c->arena);
    float *wr = sdd_scratch(c, wn * sizeof(float));
    double *nrm = sdd_scratch(c, (size_t)K * sizeof(double));
    float *cols = sdd_scratch(c, (size_t)To * KC * sizeof(float));
    float *dcols = sdd_scratch(c, (size_t)To * KC * sizeof(float));
    float *dwr = sdd_scratch(c, wn * sizeof(float)), *dwt = sdd_scratch(c, wn * sizeof(float));
    double *dot = sdd_scratch(c, (size_t)K * sizeof(double));
    if (!wr || !nrm || !cols || !dcols || !dwr || !dwt || !dot) return;
    c1_weight(n, wr, nrm);
    const float *dy = n->out->g;
    for (int s = 0; s < c->nseg; s++) {
        sdd_tensor *wt = n->w;
        float *gw = sdd_pgrad(c, wt, s), *gg = n->g ? sdd_pgrad(c, n->g, s) : NULL;
        float *gb = n->b ? sdd_pgrad(c, n->b, s) : NULL;
        const int wgrad = gw || gg;
        if (wgrad) memset(dwr, 0, wn * sizeof(float));
        for (int b = sdd_ctx_seg_begin(c, s); b < c->seg_end[s]; b++) {
            const float *xb = n->x->x + (size_t)b * n->T * n->Cin, *dyb = dy + (size_t)b * To * Cout;
            for (int64_t gi = 0; gi < G; gi++) {
                if (wgrad || dx) c1_im2col(n, xb, gi, cols);
                if (wgrad)  /* dW_g (Cog, KC) += dY_g^T (Cog, To) @ cols (To, KC) */
                    sdd_sgemm(1, 0, (int)Cog, (int)KC, (int)To, 1.0f,
                              dyb + gi * Cog, (int)Cout, cols, (int)KC, 1.0f, dwr + (size_t)gi * Cog * KC, (int)KC);
                if (dx) {   /* dcols (To, KC) = dY_g (To, Cog) @ W_g (Cog, KC) */
                    sdd_sgemm(0, 0, (int)To, (int)KC, (int)Cog, 1.0f,
                              dyb + gi * Cog, (int)Cout, wr + (size_t)gi * Cog * KC, (int)KC, 0.0f, dcols, (int)KC);
                    c1_col2im(n, dcols, gi, dx + (size_t)b * n->T * n->Cin);
                }
            }
            if (gb) {   /* per channel over t in order */
                #pragma omp parallel for schedule(static)
                for (int64_t co = 0; co < Cout; co++) {
                    float acc = gb[co];
                    for (int64_t t = 0; t < To; t++) acc += dyb[t * Cout + co];
                    gb[co] = acc;
                }
            }
        }
        if (wgrad) c1_wgrad(n, dwr, dwt, nrm, dot, gw, gg);
    }
    sdd_arena_release(&c->arena, mk);
}

sdd_tensor *sdd_conv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *wn_g, sdd_tensor *b,
                       const sdd_conv1d_opts *o)
{
    if (!x || !w || c->failed) return NULL;
    const int64_t B = x->n[0], T = x->n[1], Cin = x->n[2], Cout = w->n[0], Cg = w->n[1], K = w->n[2];
    const int G = o->groups > 0 ? o->groups : 1;
    if (x->nd != 3 || w->nd != 3 || Cg * G != Cin || Cout % G || o->stride < 1 || o->pad_left < 0 || o->pad_right < 0 ||
        (wn_g && (sdd_numel(wn_g) != (size_t)K)) || (b && b->n[0] != Cout)) {
        sdd_err_set(&c->err, "conv1d: input (%lld, %lld, %lld) does not fit weight (%lld, %lld, %lld) with %d groups",
                    (long long)B, (long long)T, (long long)Cin, (long long)Cout, (long long)Cg, (long long)K, G);
        c->failed = 1;
        return NULL;
    }
    const int64_t span = T + o->pad_left + o->pad_right - K;
    if (span < 0) {
        sdd_err_set(&c->err, "conv1d: input of %lld frames is shorter than the kernel (%lld)", (long long)T, (long long)K);
        c->failed = 1;
        return NULL;
    }
    c1_node tmp = { x, w, wn_g, b, NULL, *o, T, Cin, Cout, K, Cg, Cout / G, span / o->stride + 1 };
    tmp.o.groups = G;
    SDD_ON_DEVICE(c, sdd_cu_conv1d(c, x, w, wn_g, b, &tmp.o, tmp.To));
    sdd_tensor *out = sdd_new3(c, B, tmp.To, Cout);
    if (!out) return NULL;
    tmp.out = out;
    const int64_t KC = K * Cg, Cog = Cout / G, To = tmp.To;
    sdd_arena_mark mk = sdd_arena_get_mark(&c->arena);
    float *wr = sdd_scratch(c, (size_t)Cout * KC * sizeof(float));
    double *nrm = sdd_scratch(c, (size_t)K * sizeof(double));
    float *cols = sdd_scratch(c, (size_t)To * KC * sizeof(float));
    if (!wr || !nrm || !cols) return NULL;
    c1_weight(&tmp, wr, nrm);
    for (int64_t bb = 0; bb < B; bb++) {
        float *ob = out->x + (size_t)bb * To * Cout;
        for (int64_t t = 0; t < To; t++)
            for (int64_t co = 0; co < Cout; co++) ob[t * Cout + co] = b ? b->x[co] : 0.0f;
        for (int64_t gi = 0; gi < G; gi++) {
            c1_im2col(&tmp, x->x + (size_t)bb * T * Cin, gi, cols);
            /* out_g (To, Cog) += cols (To, KC) @ W_g^T (KC, Cog) */
            sdd_sgemm(0, 1, (int)To, (int)Cog, (int)KC, 1.0f, cols, (int)KC,
                      wr + (size_t)gi * Cog * KC, (int)KC, 1.0f, ob + gi * Cog, (int)Cout);
        }
    }
    sdd_arena_release(&c->arena, mk);
    out->rg = sdd_wants(c, x) || sdd_wants(c, w) || (wn_g && sdd_wants(c, wn_g)) || (b && sdd_wants(c, b));
    if (c->grad && out->rg) {
        c1_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        *n = tmp;
        if (sdd_tape_push(c, c1_backward, n)) return NULL;
    }
    return out;
}
