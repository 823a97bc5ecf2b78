/* CUDA training forward and backward of AASIST's graph stage: pairwise
 * attention (tanh activations kept for the backward), master-node attention,
 * graph pooling with dropout on the score input (mask drawn on the host from
 * the CPU op's RNG) and the readout (argmax indices kept). The backward
 * formulas are those of src/ops/attention.c and pool.c; parameter gradients
 * go per segment into the device gradient buffers. The graphs are small, so
 * every kernel gives one thread one output entry and loops over the rest
 * (for parameter gradients: over the segment's samples and node pairs). */
#include "backend/cuda_internal.h"
#include <math.h>
#include <string.h>
extern "C" {
#include "core/rng.h"
}

int sdd_cu_rowsum(sdd_ctx *c, const float *dy, int64_t r0, int64_t r1, size_t per, float *g);
float *sdd_cu_dropout_mask(sdd_ctx *c, uint64_t key, size_t m, size_t per_row, float p);

__device__ __forceinline__ int blk_of(int i, int j, int nT) { return (i < nT && j < nT) ? 0 : ((i >= nT && j >= nT) ? 1 : 2); }

/* ---- pairwise attention ---- */

/* T (B, N*N, Do) = tanh(bp + (x_i * x_j) wp^T); logits A = T . aw(i,j) / tau (double sum) */
__global__ void k_pair_fwd(const float *x, int B, int N, int D, int Do, const float *wp, const float *bp,
                           const float *aw0, const float *aw1, const float *aw2, int nT, float tau, float *T, float *A)
{
    const size_t total = (size_t)B * N * N;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const int j = (int)(idx % N), i = (int)((idx / N) % N), b = (int)(idx / ((size_t)N * N));
    const float *xi = x + ((size_t)b * N + i) * D, *xj = x + ((size_t)b * N + j) * D;
    const int k = blk_of(i, j, nT);
    const float *aw = k == 0 ? aw0 : (k == 1 ? aw1 : aw2);
    double e = 0.0;
    for (int o = 0; o < Do; o++) {
        float t = bp[o];
        const float *w = wp + (size_t)o * D;
        for (int d = 0; d < D; d++) t = fmaf(xi[d] * xj[d], w[d], t);
        t = tanhf(t);
        T[idx * Do + o] = t;
        e += (double)t * aw[o];
    }
    A[idx] = (float)(e / tau);
}

/* in-place row softmax in double (cuda_graph.cu's eval kernel; declared here,
 * not in cuda_internal.h, where cuda_xlsr.cu's own k_softmax_rows would overload it) */
__global__ void k_softmax_rows(float *A, size_t rows, int n);

/* de (rows, n) = A (dA - sum_j A dA) / tau, one thread per row */
__global__ void k_softmax_bwd(const float *A, const float *dA, size_t rows, int n, float tau, float *de)
{
    const size_t r = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float *a = A + r * n, *g = dA + r * n;
    double dot = 0.0;
    for (int j = 0; j < n; j++) dot += (double)a[j] * g[j];
    for (int j = 0; j < n; j++) de[r * n + j] = a[j] * (float)(g[j] - dot) / tau;
}

/* dZ (B, NN, Do) = de aw(i,j) (1 - T^2) */
__global__ void k_pair_dz(const float *de, const float *T, int B, int N, int Do, const float *aw0, const float *aw1, const float *aw2,
                          int nT, float *dZ)
{
    const size_t total = (size_t)B * N * N * Do;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const int o = (int)(idx % Do);
    const size_t r = idx / Do;
    const int j = (int)(r % N), i = (int)((r / N) % N);
    const int k = blk_of(i, j, nT);
    const float *aw = k == 0 ? aw0 : (k == 1 ? aw1 : aw2);
    const float t = T[idx];
    dZ[idx] = de[r] * aw[o] * (1.0f - t * t);
}

/* The weight gradients of pair attention as GEMMs over the pair rows
 * r = (b, i, j) (one thread per weight looping over all pairs would use a
 * few hundred threads): P (R, D) = x_i * x_j, and DE (R, nblk) = de[r] in the
 * column of the pair's block (the attention weights aw11 / aw22 / aw12). */
__global__ void k_pair_prod(const float *x, int B, int N, int D, float *P)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * N * N * D) return;
    const int d = (int)(idx % D);
    const size_t r = idx / D;
    const int j = (int)(r % N), i = (int)((r / N) % N);
    const size_t b = r / ((size_t)N * N);
    P[idx] = x[(b * N + i) * D + d] * x[(b * N + j) * D + d];
}

__global__ void k_pair_deblk(const float *de, int B, int N, int nT, int nblk, float *DE)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * N * N * nblk) return;
    const int k = (int)(idx % nblk);
    const size_t r = idx / nblk;
    const int j = (int)(r % N), i = (int)((r / N) % N);
    DE[idx] = nblk == 1 || blk_of(i, j, nT) == k ? de[r] : 0.0f;
}

/* g_k[o] += C[k * Do + o] for the blocks whose gradient is wanted */
__global__ void k_pair_gaw_add(const float *C, int Do, int nblk, float *g0, float *g1, float *g2)
{
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= nblk * Do) return;
    float *g = t / Do == 0 ? g0 : (t / Do == 1 ? g1 : g2);
    if (g) g[t % Do] += C[t];
}

/* dP (B, NN, D) = dZ wp */
__global__ void k_pair_dp(const float *dZ, const float *wp, size_t rows, int D, int Do, float *dP)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= rows * D) return;
    const int d = (int)(idx % D);
    const size_t r = idx / D;
    float s = 0.0f;
    for (int o = 0; o < Do; o++) s += dZ[r * Do + o] * wp[(size_t)o * D + d];
    dP[idx] = s;
}

/* dx[b, i, d] += sum_j (dP[i, j, d] + dP[j, i, d]) x[j, d] */
__global__ void k_pair_dx(const float *dP, const float *x, int B, int N, int D, float *dx)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * N * D) return;
    const int d = (int)(idx % D), i = (int)((idx / D) % N), b = (int)(idx / ((size_t)D * N));
    const float *P = dP + (size_t)b * N * N * D;
    float s = 0.0f;
    for (int j = 0; j < N; j++) {
        const float xj = x[((size_t)b * N + j) * D + d];
        s += P[((size_t)i * N + j) * D + d] * xj + P[((size_t)j * N + i) * D + d] * xj;
    }
    dx[idx] += s;
}

typedef struct { sdd_tensor *x, *wp, *bp, *aw[3], *out; float *T; int nT; float tau; } cu_pair_node;

static void pair_bwd(sdd_ctx *c, void *vn)
{
    cu_pair_node *n = (cu_pair_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->x->n[0], N = (int)n->x->n[1], D = (int)n->x->n[2], Do = (int)n->wp->n[0];
    const size_t NN = (size_t)N * N;
    float *de = (float *)sdd_dscratch(c, (size_t)B * NN * sizeof(float));
    float *dZ = (float *)sdd_dscratch(c, (size_t)B * NN * Do * sizeof(float));
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (!de || !dZ || c->failed) return;
    const float *x = SDD_DEV(n->x), *a0 = SDD_DEV(n->aw[0]), *a1 = SDD_DEV(n->aw[1]), *a2 = SDD_DEV(n->aw[2]);
    const int nblk = n->nT < N ? 3 : 1;
    SDD_LAUNCH(k_softmax_bwd, sdd_cu_blocks((size_t)B * N), SDD_CU_THREADS, 0)(n->out->x, n->out->g, (size_t)B * N, N, n->tau, de);
    SDD_LAUNCH(k_pair_dz, sdd_cu_blocks((size_t)B * NN * Do), SDD_CU_THREADS, 0)(de, n->T, B, N, Do, a0, a1, a2, n->nT, dZ);
    float *P = (float *)sdd_dscratch(c, (size_t)B * NN * D * sizeof(float));
    float *DE = (float *)sdd_dscratch(c, (size_t)B * NN * nblk * sizeof(float));
    float *C = (float *)sdd_dscratch(c, (size_t)nblk * Do * sizeof(float));
    if (!P || !DE || !C) return;
    SDD_LAUNCH(k_pair_prod, sdd_cu_blocks((size_t)B * NN * D), SDD_CU_THREADS, 0)(x, B, N, D, P);
    SDD_LAUNCH(k_pair_deblk, sdd_cu_blocks((size_t)B * NN * nblk), SDD_CU_THREADS, 0)(de, B, N, n->nT, nblk, DE);
    const float one = 1.0f, zero = 0.0f;
    for (int s = 0; s < c->nseg; s++) {
        const int b0 = sdd_ctx_seg_begin(c, s), b1 = c->seg_end[s];
        const size_t r0 = (size_t)b0 * NN;
        const int R = (int)((size_t)(b1 - b0) * NN);
        if (R <= 0) continue;
        float *g0 = sdd_pgrad(c, n->aw[0], s);
        float *g1 = nblk > 1 ? sdd_pgrad(c, n->aw[1], s) : NULL, *g2 = nblk > 1 ? sdd_pgrad(c, n->aw[2], s) : NULL;
        if (g0 || g1 || g2) {   /* C (Do, nblk) = T_s^T (Do, R) @ DE_s (R, nblk) */
            if (sdd_cu_blas_ok(c, sdd_cu_sgemm(CUBLAS_OP_N, CUBLAS_OP_T, Do, nblk, R, &one, n->T + r0 * Do, Do,
                                              DE + r0 * nblk, nblk, &zero, C, Do), "pair attention backward (attention weights)")) return;
            SDD_LAUNCH(k_pair_gaw_add, sdd_cu_blocks((size_t)nblk * Do), SDD_CU_THREADS, 0)(C, Do, nblk, g0, g1, g2);
        }
        float *gw = sdd_pgrad(c, n->wp, s), *gb = sdd_pgrad(c, n->bp, s);
        /* gw^T (D, Do) += P_s^T (D, R) @ dZ_s (R, Do) */
        if (gw && sdd_cu_blas_ok(c, sdd_cu_sgemm(CUBLAS_OP_N, CUBLAS_OP_T, D, Do, R, &one, P + r0 * D, D, dZ + r0 * Do, Do,
                                                &one, gw, D), "pair attention backward (projection)")) return;
        if (gb && sdd_cu_rowsum(c, dZ, (int64_t)b0 * NN, (int64_t)b1 * NN, (size_t)Do, gb)) return;
    }
    if (dx) {
        float *dP = (float *)sdd_dscratch(c, (size_t)B * NN * D * sizeof(float));
        if (!dP) return;
        SDD_LAUNCH(k_pair_dp, sdd_cu_blocks((size_t)B * NN * D), SDD_CU_THREADS, 0)(dZ, SDD_DEV(n->wp), (size_t)B * NN, D, Do, dP);
        SDD_LAUNCH(k_pair_dx, sdd_cu_blocks((size_t)B * N * D), SDD_CU_THREADS, 0)(dP, x, B, N, D, dx);
    }
    sdd_cu_launched(c, "pair attention backward");
}

extern "C" sdd_tensor *sdd_cu_pair_attn_train(sdd_ctx *c, sdd_tensor *x, sdd_tensor *wp, sdd_tensor *bp,
                                              sdd_tensor *aw11, sdd_tensor *aw22, sdd_tensor *aw12, int nT, float tau)
{
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2], Do = (int)wp->n[0];
    sdd_tensor *out = sdd_new3(c, B, N, N);
    cu_pair_node *n = (cu_pair_node *)sdd_scratch0(c, sizeof *n);
    float *T = (float *)sdd_dscratch(c, ((size_t)B * N * N * Do + 1) * sizeof(float));
    if (!out || !n || !T) return NULL;
    sdd_tensor *aw[3] = { aw11, aw22 && nT < N ? aw22 : aw11, aw12 && nT < N ? aw12 : aw11 };
    const size_t total = (size_t)B * N * N;
    if (total) {
        SDD_LAUNCH(k_pair_fwd, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(SDD_DEV(x), B, N, D, Do, SDD_DEV(wp), SDD_DEV(bp), SDD_DEV(aw[0]),
                                                                       SDD_DEV(aw[1]), SDD_DEV(aw[2]), nT, tau, T, out->x);
        SDD_LAUNCH(k_softmax_rows, sdd_cu_blocks((size_t)B * N), SDD_CU_THREADS, 0)(out->x, (size_t)B * N, N);
    }
    if (sdd_cu_launched(c, "pair attention")) return NULL;
    out->rg = sdd_wants(c, x) || sdd_wants(c, wp) || sdd_wants(c, bp) || sdd_wants(c, aw11);
    if (!c->grad || !out->rg) return out;
    n->x = x; n->wp = wp; n->bp = bp; n->out = out; n->T = T; n->nT = nT; n->tau = tau;
    for (int k = 0; k < 3; k++) n->aw[k] = aw[k];
    return sdd_tape_push(c, pair_bwd, n) ? NULL : out;
}

/* ---- master attention ---- */

/* T (B, N, Do) = tanh(bm + (x_k * m) wm^T); logits a = T . aw / tau */
__global__ void k_master_fwd(const float *x, const float *m, int B, int N, int D, int Do, const float *wm, const float *bm,
                             const float *aw, float tau, float *T, float *a)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * N) return;
    const int b = (int)(idx / N);
    const float *xk = x + idx * D, *mb = m + (size_t)b * D;
    double e = 0.0;
    for (int o = 0; o < Do; o++) {
        float t = bm[o];
        const float *w = wm + (size_t)o * D;
        for (int d = 0; d < D; d++) t = fmaf(xk[d] * mb[d], w[d], t);
        t = tanhf(t);
        T[idx * Do + o] = t;
        e += (double)t * aw[o];
    }
    a[idx] = (float)(e / tau);
}

__global__ void k_master_sum2(const float *x, const float *a, int B, int N, int D, float *out)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * D) return;
    const int d = (int)(idx % D), b = (int)(idx / D);
    double v = 0.0;
    for (int k = 0; k < N; k++) v += (double)a[(size_t)b * N + k] * x[((size_t)b * N + k) * D + d];
    out[idx] = (float)v;
}

/* per sample: da_k = dy . x_k; de_k = a_k (da_k - sum a da) / tau */
__global__ void k_master_de(const float *x, const float *a, const float *dy, int B, int N, int D, float tau, float *de)
{
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    double dot = 0.0;
    for (int k = 0; k < N; k++) {
        double v = 0.0;
        for (int d = 0; d < D; d++) v += (double)dy[(size_t)b * D + d] * x[((size_t)b * N + k) * D + d];
        de[(size_t)b * N + k] = (float)v;
        dot += a[(size_t)b * N + k] * v;
    }
    for (int k = 0; k < N; k++) {
        const size_t i = (size_t)b * N + k;
        de[i] = (float)(a[i] * (de[i] - dot)) / tau;
    }
}

/* dz (B, N, Do) = de aw (1 - T^2) */
__global__ void k_master_dz(const float *de, const float *T, const float *aw, size_t rows, int Do, float *dz)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= rows * Do) return;
    const float t = T[idx];
    dz[idx] = de[idx / Do] * aw[idx % Do] * (1.0f - t * t);
}

/* gaw[o] += sum de T[o]; gw[o, d] += sum dz[o] x[d] m[d] over samples [b0, b1); one thread per (o, d) of gw plus Do for gaw */
__global__ void k_master_gw(const float *de, const float *T, const float *dz, const float *x, const float *m, int b0, int b1, int N,
                            int D, int Do, float *gaw, float *gw)
{
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < Do * D) {
        if (!gw) return;
        const int o = t / D, d = t % D;
        float s = 0.0f;
        for (int b = b0; b < b1; b++)
            for (int k = 0; k < N; k++) s += dz[((size_t)b * N + k) * Do + o] * (x[((size_t)b * N + k) * D + d] * m[(size_t)b * D + d]);
        gw[t] += s;
    } else if (t < Do * D + Do) {
        if (!gaw) return;
        const int o = t - Do * D;
        float s = 0.0f;
        for (int b = b0; b < b1; b++)
            for (int k = 0; k < N; k++) s += de[(size_t)b * N + k] * T[((size_t)b * N + k) * Do + o];
        gaw[o] += s;
    }
}

/* dq = dz wm; dx[b,k,d] += a dy[d] + dq m[d]; dm[b,d] += sum_k dq x */
__global__ void k_master_dx(const float *dz, const float *wm, const float *x, const float *m, const float *a, const float *dy, int B, int N,
                            int D, int Do, float *dx, float *dm)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * D) return;
    const int d = (int)(idx % D), b = (int)(idx / D);
    float sm = 0.0f;
    for (int k = 0; k < N; k++) {
        const size_t r = (size_t)b * N + k;
        float dq = 0.0f;
        for (int o = 0; o < Do; o++) dq += dz[r * Do + o] * wm[(size_t)o * D + d];
        if (dx) dx[r * D + d] += a[r] * dy[idx] + dq * m[idx];
        sm += dq * x[r * D + d];
    }
    if (dm) dm[idx] += sm;
}

typedef struct { sdd_tensor *x, *m, *wm, *bm, *aw, *out; float *T, *a; float tau; } cu_master_node;

static void master_bwd(sdd_ctx *c, void *vn)
{
    cu_master_node *n = (cu_master_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->x->n[0], N = (int)n->x->n[1], D = (int)n->x->n[2], Do = (int)n->wm->n[0];
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    float *dm = sdd_wants(c, n->m) ? sdd_grad_of(c, n->m) : NULL;
    float *de = (float *)sdd_dscratch(c, ((size_t)B * N + 1) * sizeof(float));
    float *dz = (float *)sdd_dscratch(c, ((size_t)B * N * Do + 1) * sizeof(float));
    if (!de || !dz || c->failed) return;
    const float *x = SDD_DEV(n->x), *m = SDD_DEV(n->m);
    SDD_LAUNCH(k_master_de, sdd_cu_blocks((size_t)B), SDD_CU_THREADS, 0)(x, n->a, n->out->g, B, N, D, n->tau, de);
    SDD_LAUNCH(k_master_dz, sdd_cu_blocks((size_t)B * N * Do), SDD_CU_THREADS, 0)(de, n->T, SDD_DEV(n->aw), (size_t)B * N, Do, dz);
    for (int s = 0; s < c->nseg; s++) {
        const int b0 = sdd_ctx_seg_begin(c, s), b1 = c->seg_end[s];
        float *gaw = sdd_pgrad(c, n->aw, s), *gw = sdd_pgrad(c, n->wm, s), *gb = sdd_pgrad(c, n->bm, s);
        if (gaw || gw) SDD_LAUNCH(k_master_gw, sdd_cu_blocks((size_t)Do * D + Do), SDD_CU_THREADS, 0)(de, n->T, dz, x, m, b0, b1, N, D, Do, gaw, gw);
        if (gb && sdd_cu_rowsum(c, dz, (int64_t)b0 * N, (int64_t)b1 * N, (size_t)Do, gb)) return;
    }
    if (dx || dm) SDD_LAUNCH(k_master_dx, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(dz, SDD_DEV(n->wm), x, m, n->a, n->out->g, B, N, D, Do, dx, dm);
    sdd_cu_launched(c, "master attention backward");
}

extern "C" sdd_tensor *sdd_cu_master_attn_train(sdd_ctx *c, sdd_tensor *x, sdd_tensor *m, sdd_tensor *wm, sdd_tensor *bm,
                                                sdd_tensor *aw, float tau)
{
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2], Do = (int)wm->n[0];
    sdd_tensor *out = sdd_new3(c, B, 1, D);
    cu_master_node *n = (cu_master_node *)sdd_scratch0(c, sizeof *n);
    float *T = (float *)sdd_dscratch(c, ((size_t)B * N * Do + 1) * sizeof(float));
    float *a = (float *)sdd_dscratch(c, ((size_t)B * N + 1) * sizeof(float));
    if (!out || !n || !T || !a) return NULL;
    SDD_LAUNCH(k_master_fwd, sdd_cu_blocks((size_t)B * N), SDD_CU_THREADS, 0)(SDD_DEV(x), SDD_DEV(m), B, N, D, Do, SDD_DEV(wm), SDD_DEV(bm),
                                                                             SDD_DEV(aw), tau, T, a);
    SDD_LAUNCH(k_softmax_rows, sdd_cu_blocks((size_t)B), SDD_CU_THREADS, 0)(a, (size_t)B, N);
    SDD_LAUNCH(k_master_sum2, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(SDD_DEV(x), a, B, N, D, out->x);
    if (sdd_cu_launched(c, "master attention")) return NULL;
    out->rg = sdd_wants(c, x) || sdd_wants(c, m) || sdd_wants(c, wm) || sdd_wants(c, bm) || sdd_wants(c, aw);
    if (!c->grad || !out->rg) return out;
    n->x = x; n->m = m; n->wm = wm; n->bm = bm; n->aw = aw; n->out = out; n->T = T; n->a = a; n->tau = tau;
    return sdd_tape_push(c, master_bwd, n) ? NULL : out;
}

/* ---- graph pooling ---- */

/* dzr (B, K) = (dy . h_node) s (1 - s), in double as the CPU */
__global__ void k_gp_dzr(const float *dy, const float *h, const float *s, const int *idx, int B, int N, int K, int D, float *dzr)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * K) return;
    const int b = (int)(i / K), node = idx[i];
    const float sc = s[(size_t)b * N + node];
    double ds = 0.0;
    for (int d = 0; d < D; d++) ds += (double)dy[i * D + d] * h[((size_t)b * N + node) * D + d];
    dzr[i] = (float)ds * sc * (1.0f - sc);
}

/* dh at the kept nodes (distinct within a sample): dy s + dzr w mask */
__global__ void k_gp_dh(const float *dy, const float *s, const int *idx, const float *dzr, const float *w, const float *mask, int B, int N,
                        int K, int D, float *dh)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * K * D) return;
    const int d = (int)(i % D);
    const size_t br = i / D;
    const int b = (int)(br / K), node = idx[br];
    const size_t at = ((size_t)b * N + node) * D + d;
    const float mk = mask ? mask[at] : 1.0f;
    dh[at] += dy[i] * s[(size_t)b * N + node] + dzr[br] * w[d] * mk;
}

/* gw[d] += sum dzr z_node[d], gb += sum dzr over samples [b0, b1); one thread per d plus one for the bias */
__global__ void k_gp_gw(const float *dzr, const float *z, const int *idx, int b0, int b1, int N, int K, int D, float *gw, float *gb)
{
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t > D) return;
    float s = 0.0f;
    for (int b = b0; b < b1; b++)
        for (int r = 0; r < K; r++) {
            const size_t br = (size_t)b * K + r;
            s += t < D ? dzr[br] * z[((size_t)b * N + idx[br]) * D + t] : dzr[br];
        }
    if (t < D) { if (gw) gw[t] += s; }
    else if (gb) gb[0] += s;
}

typedef struct { sdd_tensor *h, *w, *b, *out; float *z, *s, *mask; int *idx; } cu_gp_node;

static void gp_bwd(sdd_ctx *c, void *vn)
{
    cu_gp_node *n = (cu_gp_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->h->n[0], N = (int)n->h->n[1], D = (int)n->h->n[2], K = (int)n->out->n[1];
    float *dh = sdd_wants(c, n->h) ? sdd_grad_of(c, n->h) : NULL;
    float *dzr = (float *)sdd_dscratch(c, ((size_t)B * K + 1) * sizeof(float));
    if (!dzr || c->failed) return;
    const float *h = SDD_DEV(n->h);
    SDD_LAUNCH(k_gp_dzr, sdd_cu_blocks((size_t)B * K), SDD_CU_THREADS, 0)(n->out->g, h, n->s, n->idx, B, N, K, D, dzr);
    for (int s = 0; s < c->nseg; s++) {
        float *gw = sdd_pgrad(c, n->w, s), *gb = sdd_pgrad(c, n->b, s);
        if (gw || gb) SDD_LAUNCH(k_gp_gw, sdd_cu_blocks((size_t)D + 1), SDD_CU_THREADS, 0)(dzr, n->z, n->idx, sdd_ctx_seg_begin(c, s), c->seg_end[s],
                                                                                          N, K, D, gw, gb);
    }
    if (dh) SDD_LAUNCH(k_gp_dh, sdd_cu_blocks((size_t)B * K * D), SDD_CU_THREADS, 0)(n->out->g, n->s, n->idx, dzr, SDD_DEV(n->w), n->mask,
                                                                                    B, N, K, D, dh);
    sdd_cu_launched(c, "graph pooling backward");
}

__global__ void k_mul2(const float *x, const float *f, float *y, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = f[i] != 0.0f ? x[i] * f[i] : 0.0f;
}

extern "C" sdd_tensor *sdd_cu_graph_pool_train(sdd_ctx *c, sdd_tensor *h, sdd_tensor *w, sdd_tensor *b, double ratio, float p_drop)
{
    const int B = (int)h->n[0], N = (int)h->n[1], D = (int)h->n[2];
    int K = (int)((double)N * ratio);
    if (K < 1) K = 1;
    const uint64_t key = sdd_rng_key(c->rng_key, (uint64_t)c->op_serial++, 0x9001, 0);
    const int drop = c->train && !c->dropout_off && p_drop > 0.0f;
    sdd_tensor *out = sdd_new3(c, B, K, D);
    cu_gp_node *n = (cu_gp_node *)sdd_scratch0(c, sizeof *n);
    float *s = (float *)sdd_dscratch(c, ((size_t)B * N + 1) * sizeof(float));
    int *idx = (int *)sdd_dscratch(c, ((size_t)B * K + 1) * sizeof(int));
    if (!out || !n || !s || !idx) return NULL;
    const size_t m = sdd_numel(h);
    float *z = SDD_DEV(h), *mask = NULL;
    if (drop) {
        mask = sdd_cu_dropout_mask(c, key, m, B == c->B ? (size_t)N * D : 0, p_drop);
        z = (float *)sdd_dscratch(c, (m + 1) * sizeof(float));
        if (!mask || !z) return NULL;
        SDD_LAUNCH(k_mul2, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(h), mask, z, m);
    }
    SDD_LAUNCH(k_gpool_scores, sdd_cu_blocks((size_t)B * N), SDD_CU_THREADS, 0)(z, B, N, D, SDD_DEV(w), SDD_DEV(b), s);
    SDD_LAUNCH(k_gpool_topk, sdd_cu_blocks((size_t)B), SDD_CU_THREADS, 0)(s, B, N, K, idx);
    SDD_LAUNCH(k_gpool_gather, sdd_cu_blocks((size_t)B * K * D), SDD_CU_THREADS, 0)(SDD_DEV(h), s, idx, B, N, K, D, out->x);
    if (sdd_cu_launched(c, "graph pooling")) return NULL;
    out->rg = sdd_wants(c, h) || sdd_wants(c, w) || sdd_wants(c, b);
    if (!c->grad || !out->rg) return out;
    n->h = h; n->w = w; n->b = b; n->out = out; n->z = z; n->s = s; n->mask = mask; n->idx = idx;
    return sdd_tape_push(c, gp_bwd, n) ? NULL : out;
}

/* ---- readout ---- */

__global__ void k_readout2(const float *T, int nT, const float *S, int nS, const float *m, int B, int D, float *out, int *iT, int *iS)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * D) return;
    const int d = (int)(i % D), b = (int)(i / D);
    const float *src[2] = { T, S };
    const int cnt[2] = { nT, nS };
    int *ix[2] = { iT, iS };
    for (int part = 0; part < 2; part++) {
        float mx = -1.0f;
        int best = 0;
        double sum = 0.0;
        for (int k = 0; k < cnt[part]; k++) {
            const float v = src[part][((size_t)b * cnt[part] + k) * D + d];
            sum += v;
            if (fabsf(v) > mx) { mx = fabsf(v); best = k; }
        }
        out[(size_t)b * 5 * D + (size_t)part * 2 * D + d] = mx;
        out[(size_t)b * 5 * D + (size_t)part * 2 * D + D + d] = (float)(sum / cnt[part]);
        ix[part][i] = best;
    }
    out[(size_t)b * 5 * D + 4 * D + d] = m[(size_t)b * D + d];
}

/* one thread per (b, d) of one part: its argmax gets g sign(v), every node g_mean / cnt */
__global__ void k_readout_bwd(const float *g, const float *x, const int *ix, int part, int cnt, int B, int D, float *dx)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * D) return;
    const int d = (int)(i % D), b = (int)(i / D);
    const float *gb = g + (size_t)b * 5 * D + (size_t)part * 2 * D;
    for (int k = 0; k < cnt; k++) dx[((size_t)b * cnt + k) * D + d] += gb[D + d] / cnt;
    const size_t at = ((size_t)b * cnt + ix[i]) * D + d;
    const float v = x[at];
    dx[at] += gb[d] * (v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f));
}

__global__ void k_readout_dm(const float *g, int B, int D, float *dm)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (size_t)B * D) dm[i] += g[(i / D) * 5 * D + 4 * D + i % D];
}

typedef struct { sdd_tensor *T, *S, *m, *out; int *iT, *iS; } cu_readout_node;

static void readout_bwd(sdd_ctx *c, void *vn)
{
    cu_readout_node *n = (cu_readout_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->T->n[0], D = (int)n->T->n[2];
    sdd_tensor *src[2] = { n->T, n->S };
    int *ix[2] = { n->iT, n->iS };
    for (int part = 0; part < 2; part++) {
        if (!sdd_wants(c, src[part])) continue;
        float *dx = sdd_grad_of(c, src[part]);
        if (!dx) return;
        SDD_LAUNCH(k_readout_bwd, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(n->out->g, SDD_DEV(src[part]), ix[part], part,
                                                                                  (int)src[part]->n[1], B, D, dx);
    }
    if (sdd_wants(c, n->m)) {
        float *dm = sdd_grad_of(c, n->m);
        if (!dm) return;
        SDD_LAUNCH(k_readout_dm, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(n->out->g, B, D, dm);
    }
    sdd_cu_launched(c, "readout backward");
}

extern "C" sdd_tensor *sdd_cu_readout_train(sdd_ctx *c, sdd_tensor *T, sdd_tensor *S, sdd_tensor *m)
{
    const int B = (int)T->n[0], D = (int)T->n[2];
    sdd_tensor *out = sdd_new2(c, B, 5 * D);
    cu_readout_node *n = (cu_readout_node *)sdd_scratch0(c, sizeof *n);
    int *iT = (int *)sdd_dscratch(c, ((size_t)B * D + 1) * sizeof(int)), *iS = (int *)sdd_dscratch(c, ((size_t)B * D + 1) * sizeof(int));
    if (!out || !n || !iT || !iS) return NULL;
    SDD_LAUNCH(k_readout2, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(SDD_DEV(T), (int)T->n[1], SDD_DEV(S), (int)S->n[1], SDD_DEV(m), B, D,
                                                                           out->x, iT, iS);
    if (sdd_cu_launched(c, "readout")) return NULL;
    out->rg = sdd_wants(c, T) || sdd_wants(c, S) || sdd_wants(c, m);
    if (!c->grad || !out->rg) return out;
    n->T = T; n->S = S; n->m = m; n->out = out; n->iT = iT; n->iS = iS;
    return sdd_tape_push(c, readout_bwd, n) ? NULL : out;
}
