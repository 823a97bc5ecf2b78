/* CUDA forward (eval-mode) kernels of AASIST's graph stage (training
 * versions with their backward in cuda_graph_grad.cu): the pairwise
 * attention map, master-node attention, graph pooling (sigmoid scores, top-k)
 * and the readout. The graphs are small (tens of nodes, 24..64 features), so
 * each kernel gives one thread one output entry (or one row for softmax and
 * top-k) and keeps the CPU's arithmetic: double accumulation where the CPU
 * accumulates in double, the CPU's tie rules in every max and top-k. */
#include "backend/cuda_internal.h"
#include <math.h>

/* logits (B, N, N): e = sum_o tanh(bp_o + sum_d x_id x_jd wp_od) aw(i,j)_o, divided by tau */
__global__ void k_pair_logits(const float *x, int B, int N, int D, int Do, const float *wp, const float *bp,
                              const float *aw0, const float *aw1, const float *aw2, int nT, float tau, float *A)
{
    const size_t total = (size_t)B * N * N;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const int j = (int)(idx % N), i = (int)((idx / N) % N), b = (int)(idx / ((size_t)N * N));
    const float *xi = x + ((size_t)b * N + i) * D, *xj = x + ((size_t)b * N + j) * D;
    const float *aw = (i < nT && j < nT) ? aw0 : ((i >= nT && j >= nT) ? aw1 : aw2);
    double e = 0.0;
    for (int o = 0; o < Do; o++) {
        float t = bp[o];
        const float *w = wp + (size_t)o * D;
        for (int d = 0; d < D; d++) t = fmaf(xi[d] * xj[d], w[d], t);
        e += (double)tanhf(t) * aw[o];
    }
    A[idx] = (float)(e / tau);
}

/* in-place softmax of rows of length n (logits already float), in double as the CPU does */
__global__ void k_softmax_rows(float *A, size_t rows, int n)
{
    const size_t r = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float *a = A + r * n;
    double mx = -INFINITY;
    for (int j = 0; j < n; j++) if (a[j] > mx) mx = a[j];
    double se = 0.0;
    for (int j = 0; j < n; j++) se += exp(a[j] - mx);
    for (int j = 0; j < n; j++) a[j] = (float)(exp(a[j] - mx) / se);
}

extern "C" sdd_tensor *sdd_cu_pair_attn(sdd_ctx *c, sdd_tensor *x, sdd_tensor *wp, sdd_tensor *bp,
                                        sdd_tensor *aw11, sdd_tensor *aw22, sdd_tensor *aw12, int nT, float tau)
{
    if (c->train || c->grad) return sdd_cu_pair_attn_train(c, x, wp, bp, aw11, aw22, aw12, nT, tau);
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2], Do = (int)wp->n[0];
    sdd_tensor *out = sdd_new3(c, B, N, N);
    if (!out) return NULL;
    const float *a0 = SDD_DEV(aw11), *a1 = aw22 ? SDD_DEV(aw22) : a0, *a2 = aw12 ? SDD_DEV(aw12) : a0;
    const size_t total = (size_t)B * N * N;
    if (!total) return out;
    SDD_LAUNCH(k_pair_logits, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(SDD_DEV(x), B, N, D, Do, SDD_DEV(wp), SDD_DEV(bp), a0, a1, a2, nT, tau, out->x);
    SDD_LAUNCH(k_softmax_rows, sdd_cu_blocks((size_t)B * N), SDD_CU_THREADS, 0)(out->x, (size_t)B * N, N);
    return sdd_cu_launched(c, "pair attention") ? NULL : out;
}

/* a (B, N) logits: sum_o tanh(bm_o + sum_d x_kd m_d wm_od) aw_o / tau */
__global__ void k_master_logits(const float *x, const float *m, int B, int N, int D, int Do, const float *wm,
                                const float *bm, const float *aw, float tau, float *a)
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
        e += (double)tanhf(t) * aw[o];
    }
    a[idx] = (float)(e / tau);
}

/* out (B, 1, D) = sum_k a_bk x_bkd, in double */
__global__ void k_master_sum(const float *x, const float *a, int B, int N, int D, float *out)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * D) return;
    const int d = (int)(idx % D), b = (int)(idx / D);
    double v = 0.0;
    for (int k = 0; k < N; k++) v += (double)a[(size_t)b * N + k] * x[((size_t)b * N + k) * D + d];
    out[idx] = (float)v;
}

extern "C" sdd_tensor *sdd_cu_master_attn(sdd_ctx *c, sdd_tensor *x, sdd_tensor *m, sdd_tensor *wm, sdd_tensor *bm,
                                          sdd_tensor *aw, float tau)
{
    if (c->train || c->grad) return sdd_cu_master_attn_train(c, x, m, wm, bm, aw, tau);
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2], Do = (int)wm->n[0];
    if (m->n[0] != B || m->n[2] != D) { sdd_err_set(&c->err, "master attention: master shape"); c->failed = 1; return NULL; }
    sdd_tensor *out = sdd_new3(c, B, 1, D);
    float *a = (float *)sdd_dscratch(c, ((size_t)B * N + 1) * sizeof(float));
    if (!out || !a) return NULL;
    SDD_LAUNCH(k_master_logits, sdd_cu_blocks((size_t)B * N), SDD_CU_THREADS, 0)(SDD_DEV(x), SDD_DEV(m), B, N, D, Do, SDD_DEV(wm), SDD_DEV(bm), SDD_DEV(aw), tau, a);
    SDD_LAUNCH(k_softmax_rows, sdd_cu_blocks((size_t)B), SDD_CU_THREADS, 0)(a, (size_t)B, N);
    SDD_LAUNCH(k_master_sum, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(SDD_DEV(x), a, B, N, D, out->x);
    return sdd_cu_launched(c, "master attention") ? NULL : out;
}

/* s (B, N) = sigmoid(b + sum_d h_d w_d), the sum in double */
__global__ void k_gpool_scores(const float *h, int B, int N, int D, const float *w, const float *bias, float *s)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * N) return;
    double a = bias[0];
    const float *hv = h + idx * D;
    for (int d = 0; d < D; d++) a += (double)hv[d] * w[d];
    s[idx] = 1.0f / (1.0f + expf(-(float)a));
}

/* per sample: the K highest scores in descending order, ties to the lower index */
__global__ void k_gpool_topk(const float *s, int B, int N, int K, int *idx)
{
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const float *sb = s + (size_t)b * N;
    int *ib = idx + (size_t)b * K;
    for (int r = 0; r < K; r++) {
        int best = -1;
        for (int nn = 0; nn < N; nn++) {
            int used = 0;
            for (int q = 0; q < r; q++) if (ib[q] == nn) { used = 1; break; }
            if (used) continue;
            if (best < 0 || sb[nn] > sb[best]) best = nn;
        }
        ib[r] = best;
    }
}

__global__ void k_gpool_gather(const float *h, const float *s, const int *idx, int B, int N, int K, int D, float *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * K * D) return;
    const int d = (int)(i % D), r = (int)((i / D) % K), b = (int)(i / ((size_t)D * K));
    const int node = idx[(size_t)b * K + r];
    out[i] = h[((size_t)b * N + node) * D + d] * s[(size_t)b * N + node];
}

extern "C" sdd_tensor *sdd_cu_graph_pool(sdd_ctx *c, sdd_tensor *h, sdd_tensor *w, sdd_tensor *b, double ratio, float p_drop)
{
    if (c->train || c->grad) return sdd_cu_graph_pool_train(c, h, w, b, ratio, p_drop);
    const int B = (int)h->n[0], N = (int)h->n[1], D = (int)h->n[2];
    int K = (int)((double)N * ratio);
    if (K < 1) K = 1;
    sdd_tensor *out = sdd_new3(c, B, K, D);
    float *s = (float *)sdd_dscratch(c, ((size_t)B * N + 1) * sizeof(float));
    int *idx = (int *)sdd_dscratch(c, ((size_t)B * K + 1) * sizeof(int));
    if (!out || !s || !idx) return NULL;
    SDD_LAUNCH(k_gpool_scores, sdd_cu_blocks((size_t)B * N), SDD_CU_THREADS, 0)(SDD_DEV(h), B, N, D, SDD_DEV(w), SDD_DEV(b), s);
    SDD_LAUNCH(k_gpool_topk, sdd_cu_blocks((size_t)B), SDD_CU_THREADS, 0)(s, B, N, K, idx);
    SDD_LAUNCH(k_gpool_gather, sdd_cu_blocks((size_t)B * K * D), SDD_CU_THREADS, 0)(SDD_DEV(h), s, idx, B, N, K, D, out->x);
    return sdd_cu_launched(c, "graph pooling") ? NULL : out;
}

/* out (B, 5D) = [max_n |T|, mean_n T, max_n |S|, mean_n S, m]; the max keeps the value |v| */
__global__ void k_readout(const float *T, int nT, const float *S, int nS, const float *m, int B, int D, float *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * D) return;
    const int d = (int)(i % D), b = (int)(i / D);
    const float *src[2] = { T, S };
    const int cnt[2] = { nT, nS };
    for (int part = 0; part < 2; part++) {
        float mx = -1.0f;
        double sum = 0.0;
        for (int k = 0; k < cnt[part]; k++) {
            const float v = src[part][((size_t)b * cnt[part] + k) * D + d];
            sum += v;
            if (fabsf(v) > mx) mx = fabsf(v);
        }
        out[(size_t)b * 5 * D + (size_t)part * 2 * D + d] = mx;
        out[(size_t)b * 5 * D + (size_t)part * 2 * D + D + d] = (float)(sum / cnt[part]);
    }
    out[(size_t)b * 5 * D + 4 * D + d] = m[(size_t)b * D + d];
}

extern "C" sdd_tensor *sdd_cu_readout(sdd_ctx *c, sdd_tensor *T, sdd_tensor *S, sdd_tensor *m)
{
    if (c->train || c->grad) return sdd_cu_readout_train(c, T, S, m);
    const int B = (int)T->n[0], D = (int)T->n[2];
    sdd_tensor *out = sdd_new2(c, B, 5 * D);
    if (!out) return NULL;
    SDD_LAUNCH(k_readout, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(SDD_DEV(T), (int)T->n[1], SDD_DEV(S), (int)S->n[1], SDD_DEV(m), B, D, out->x);
    return sdd_cu_launched(c, "readout") ? NULL : out;
}
