/* Graph attention maps (AASIST's GAT and heterogeneous HS-GAL layers): the
 * pairwise map softmax_j(tanh(att_proj(x_i * x_j)) . w_blk / tau) with
 * block-specific attention weights, and the master-node attention pooling.
 * Both are coarse ops: forward and backward written out by hand. */
#include "ops/ops.h"
#include "ops/internal.h"
#include "backend/gemm.h"
#include <math.h>
#include <string.h>

typedef struct {
    sdd_tensor *x, *wp, *bp, *aw[3], *out;
    float *T;       /* (B, N*N, Do) tanh activations */
    int nT;
    float tau;
} pair_node;

static inline int blk_of(int i, int j, int nT) { return (i < nT && j < nT) ? 0 : ((i >= nT && j >= nT) ? 1 : 2); }

static void pairwise(const float *x, int N, int D, float *P)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            float *p = P + ((size_t)i * N + j) * D;
            const float *xi = x + (size_t)i * D, *xj = x + (size_t)j * D;
            for (int d = 0; d < D; d++) p[d] = xi[d] * xj[d];
        }
}

static void pair_backward(sdd_ctx *c, void *vn)
{
    pair_node *n = vn;
    if (!n->out->g) return;
    const int B = (int)n->x->n[0], N = (int)n->x->n[1], D = (int)n->x->n[2], Do = (int)n->wp->n[0];
    const size_t NN = (size_t)N * N;
    float *P = sdd_scratch(c, NN * D * sizeof(float));
    float *dZ = sdd_scratch(c, NN * Do * sizeof(float));
    float *dP = sdd_scratch(c, NN * D * sizeof(float));
    float *de = sdd_scratch(c, NN * sizeof(float));
    if (!P || !dZ || !dP || !de) return;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    for (int b = 0; b < B; b++) {
        const int s = sdd_seg_of(c, b);
        const float *A = n->out->x + b * NN, *dA = n->out->g + b * NN, *T = n->T + b * NN * Do;
        const float *xb = n->x->x + (size_t)b * N * D;
        for (int i = 0; i < N; i++) {
            double dot = 0.0;
            for (int j = 0; j < N; j++) dot += (double)A[i * N + j] * dA[i * N + j];
            for (int j = 0; j < N; j++) de[i * N + j] = A[i * N + j] * (float)(dA[i * N + j] - dot) / n->tau;
        }
        float *gaw[3];
        for (int k = 0; k < 3; k++) gaw[k] = n->aw[k] ? sdd_pgrad(c, n->aw[k], s) : NULL;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                const int k = blk_of(i, j, n->nT);
                const float *aw = n->aw[k]->x, *t = T + ((size_t)i * N + j) * Do;
                float *dz = dZ + ((size_t)i * N + j) * Do;
                const float e = de[i * N + j];
                for (int o = 0; o < Do; o++) {
                    if (gaw[k]) gaw[k][o] += e * t[o];
                    dz[o] = e * aw[o] * (1.0f - t[o] * t[o]);
                }
            }
        pairwise(xb, N, D, P);
        float *gw = sdd_pgrad(c, n->wp, s), *gb = sdd_pgrad(c, n->bp, s);
        if (gw)  /* gw (Do, D) += dZ^T (Do, NN) @ P (NN, D) */
            sdd_sgemm(1, 0, Do, D, (int)NN, 1.0f, dZ, Do, P, D, 1.0f, gw, D);
        if (gb)
            for (size_t r = 0; r < NN; r++)
                for (int o = 0; o < Do; o++) gb[o] += dZ[r * Do + o];
        if (dx) {
            /* dP (NN, D) = dZ (NN, Do) @ wp (Do, D) */
            sdd_sgemm(0, 0, (int)NN, D, Do, 1.0f, dZ, Do, n->wp->x, D, 0.0f, dP, D);
            float *dxb = dx + (size_t)b * N * D;
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++) {
                    const float *p = dP + ((size_t)i * N + j) * D;
                    const float *xi = xb + (size_t)i * D, *xj = xb + (size_t)j * D;
                    float *di = dxb + (size_t)i * D, *dj = dxb + (size_t)j * D;
                    for (int d = 0; d < D; d++) { di[d] += p[d] * xj[d]; dj[d] += p[d] * xi[d]; }
                }
        }
    }
}

sdd_tensor *sdd_pair_attn(sdd_ctx *c, sdd_tensor *x, sdd_tensor *wp, sdd_tensor *bp,
                          sdd_tensor *aw11, sdd_tensor *aw22, sdd_tensor *aw12, int nT, float tau)
{
    if (!x || !wp || !bp || !aw11 || c->failed) return NULL;
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2], Do = (int)wp->n[0];
    if (nT < N && (!aw22 || !aw12)) { sdd_err_set(&c->err, "pair attention: missing block weights"); c->failed = 1; return NULL; }
    const size_t NN = (size_t)N * N;
    SDD_ON_DEVICE(c, sdd_cu_pair_attn(c, x, wp, bp, aw11, aw22, aw12, nT, tau));
    sdd_tensor *out = sdd_new3(c, B, N, N);
    float *T = sdd_scratch(c, (size_t)B * NN * Do * sizeof(float));
    float *P = sdd_scratch(c, NN * D * sizeof(float));
    if (!out || !T || !P) return NULL;
    sdd_tensor *aw[3] = { aw11, aw22 ? aw22 : aw11, aw12 ? aw12 : aw11 };
    for (int b = 0; b < B; b++) {
        float *Tb = T + b * NN * Do;
        pairwise(x->x + (size_t)b * N * D, N, D, P);
        for (size_t r = 0; r < NN; r++) memcpy(Tb + r * Do, bp->x, (size_t)Do * sizeof(float));
        sdd_sgemm(0, 1, (int)NN, Do, D, 1.0f, P, D, wp->x, D, 1.0f, Tb, Do);
        for (size_t r = 0; r < NN * Do; r++) Tb[r] = tanhf(Tb[r]);
        float *A = out->x + b * NN;
        for (int i = 0; i < N; i++) {
            double mx = -INFINITY;
            for (int j = 0; j < N; j++) {
                const float *w = aw[blk_of(i, j, nT)]->x, *t = Tb + ((size_t)i * N + j) * Do;
                double e = 0.0;
                for (int o = 0; o < Do; o++) e += (double)t[o] * w[o];
                A[i * N + j] = (float)(e / tau);
                if (A[i * N + j] > mx) mx = A[i * N + j];
            }
            double se = 0.0;
            for (int j = 0; j < N; j++) se += exp(A[i * N + j] - mx);
            for (int j = 0; j < N; j++) A[i * N + j] = (float)(exp(A[i * N + j] - mx) / se);
        }
    }
    out->rg = sdd_wants(c, x) || sdd_wants(c, wp) || sdd_wants(c, bp) || sdd_wants(c, aw11);
    if (c->grad && out->rg) {
        pair_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->x = x; n->wp = wp; n->bp = bp; n->out = out; n->T = T; n->nT = nT; n->tau = tau;
        n->aw[0] = aw11; n->aw[1] = aw22; n->aw[2] = aw12;
        if (nT >= N) n->aw[1] = n->aw[2] = aw11;
        if (sdd_tape_push(c, pair_backward, n)) return NULL;
    }
    return out;
}

typedef struct {
    sdd_tensor *x, *m, *wm, *bm, *aw, *out;
    float *T;   /* (B, N, Do) tanh activations */
    float *a;   /* (B, N) attention weights */
    float tau;
} master_node;

static void master_backward(sdd_ctx *c, void *vn)
{
    master_node *n = vn;
    if (!n->out->g) return;
    const int B = (int)n->x->n[0], N = (int)n->x->n[1], D = (int)n->x->n[2], Do = (int)n->wm->n[0];
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    float *dm = sdd_wants(c, n->m) ? sdd_grad_of(c, n->m) : NULL;
    float *dz = sdd_scratch(c, (size_t)N * Do * sizeof(float));
    float *q = sdd_scratch(c, (size_t)N * D * sizeof(float));
    float *dq = sdd_scratch(c, (size_t)N * D * sizeof(float));
    if (!dz || !q || !dq) return;
    for (int b = 0; b < B; b++) {
        const int s = sdd_seg_of(c, b);
        const float *xb = n->x->x + (size_t)b * N * D, *mb = n->m->x + (size_t)b * D;
        const float *dy = n->out->g + (size_t)b * D, *a = n->a + (size_t)b * N, *T = n->T + (size_t)b * N * Do;
        double da[512], dot = 0.0;
        double *dap = N <= 512 ? da : sdd_scratch(c, (size_t)N * sizeof(double));
        if (!dap) return;
        for (int k = 0; k < N; k++) {
            double v = 0.0;
            for (int d = 0; d < D; d++) v += (double)dy[d] * xb[(size_t)k * D + d];
            dap[k] = v;
            dot += a[k] * v;
        }
        float *gaw = sdd_pgrad(c, n->aw, s), *gw = sdd_pgrad(c, n->wm, s), *gb = sdd_pgrad(c, n->bm, s);
        for (int k = 0; k < N; k++) {
            const float de = (float)(a[k] * (dap[k] - dot)) / n->tau;
            const float *t = T + (size_t)k * Do;
            for (int o = 0; o < Do; o++) {
                if (gaw) gaw[o] += de * t[o];
                dz[(size_t)k * Do + o] = de * n->aw->x[o] * (1.0f - t[o] * t[o]);
            }
            for (int d = 0; d < D; d++) q[(size_t)k * D + d] = xb[(size_t)k * D + d] * mb[d];
        }
        if (gw) sdd_sgemm(1, 0, Do, D, N, 1.0f, dz, Do, q, D, 1.0f, gw, D);
        if (gb) for (int k = 0; k < N; k++) for (int o = 0; o < Do; o++) gb[o] += dz[(size_t)k * Do + o];
        sdd_sgemm(0, 0, N, D, Do, 1.0f, dz, Do, n->wm->x, D, 0.0f, dq, D);
        for (int k = 0; k < N; k++)
            for (int d = 0; d < D; d++) {
                if (dx) dx[((size_t)b * N + k) * D + d] += a[k] * dy[d] + dq[(size_t)k * D + d] * mb[d];
                if (dm) dm[(size_t)b * D + d] += dq[(size_t)k * D + d] * xb[(size_t)k * D + d];
            }
    }
}

sdd_tensor *sdd_master_attn(sdd_ctx *c, sdd_tensor *x, sdd_tensor *m, sdd_tensor *wm, sdd_tensor *bm,
                            sdd_tensor *aw, float tau)
{
    if (!x || !m || !wm || !bm || !aw || c->failed) return NULL;
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2], Do = (int)wm->n[0];
    if (m->n[0] != B || m->n[2] != D) { sdd_err_set(&c->err, "master attention: master shape"); c->failed = 1; return NULL; }
    SDD_ON_DEVICE(c, sdd_cu_master_attn(c, x, m, wm, bm, aw, tau));
    sdd_tensor *out = sdd_new3(c, B, 1, D);
    float *T = sdd_scratch(c, (size_t)B * N * Do * sizeof(float));
    float *a = sdd_scratch(c, (size_t)B * N * sizeof(float));
    float *q = sdd_scratch(c, (size_t)N * D * sizeof(float));
    if (!out || !T || !a || !q) return NULL;
    for (int b = 0; b < B; b++) {
        const float *xb = x->x + (size_t)b * N * D, *mb = m->x + (size_t)b * D;
        float *Tb = T + (size_t)b * N * Do, *ab = a + (size_t)b * N;
        for (int k = 0; k < N; k++) {
            for (int d = 0; d < D; d++) q[(size_t)k * D + d] = xb[(size_t)k * D + d] * mb[d];
            memcpy(Tb + (size_t)k * Do, bm->x, (size_t)Do * sizeof(float));
        }
        sdd_sgemm(0, 1, N, Do, D, 1.0f, q, D, wm->x, D, 1.0f, Tb, Do);
        double mx = -INFINITY;
        for (int k = 0; k < N; k++) {
            double e = 0.0;
            for (int o = 0; o < Do; o++) { Tb[(size_t)k * Do + o] = tanhf(Tb[(size_t)k * Do + o]); e += (double)Tb[(size_t)k * Do + o] * aw->x[o]; }
            ab[k] = (float)(e / tau);
            if (ab[k] > mx) mx = ab[k];
        }
        double se = 0.0;
        for (int k = 0; k < N; k++) se += exp(ab[k] - mx);
        for (int k = 0; k < N; k++) ab[k] = (float)(exp(ab[k] - mx) / se);
        float *o = out->x + (size_t)b * D;
        for (int d = 0; d < D; d++) {
            double v = 0.0;
            for (int k = 0; k < N; k++) v += (double)ab[k] * xb[(size_t)k * D + d];
            o[d] = (float)v;
        }
    }
    out->rg = sdd_wants(c, x) || sdd_wants(c, m) || sdd_wants(c, wm) || sdd_wants(c, bm) || sdd_wants(c, aw);
    if (c->grad && out->rg) {
        master_node *n = sdd_scratch(c, sizeof *n);
        if (!n) return NULL;
        n->x = x; n->m = m; n->wm = wm; n->bm = bm; n->aw = aw; n->out = out; n->T = T; n->a = a; n->tau = tau;
        if (sdd_tape_push(c, master_backward, n)) return NULL;
    }
    return out;
}
