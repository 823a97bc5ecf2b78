/* CUDA forward and backward of the Mamba back end's ops (ops/mamba.h) that
 * cuda_conformer.cu does not cover: RMSNorm, the time flip, attention
 * pooling over time and the selective scan. Each mirrors its CPU version in
 * src/ops/mamba.c: per-row and per-sample reductions run one thread per row
 * (or sample, or channel) in the CPU's order and precision; the selective
 * scan runs one thread per (sample, channel) with its state in registers,
 * keeps the state every SDD_SCAN_CHUNK steps and recomputes each chunk in
 * the backward, as the CPU does. Sums over channels (the gradients of B and
 * C) and over samples (the parameter gradients, per segment) go through
 * per-thread partials added in the CPU's order by a second kernel, so
 * nothing uses atomics and the results do not depend on scheduling. */
#include "backend/cuda_internal.h"
#include <math.h>
extern "C" {
#include "ops/mamba.h"
}
#include "ops/exp_nonpos.h"

#define SCAN_MAXN 64   /* largest d_state the scan kernels hold in registers */

typedef struct { sdd_tensor *x, *w, *bias, *out; float *aux; } mb_node;

static float *grad_slot(sdd_ctx *c, sdd_tensor *t, int s)
{
    if (!t || !sdd_wants(c, t)) return NULL;
    return t->pidx >= 0 ? sdd_pgrad(c, t, s) : sdd_grad_of(c, t);
}

static mb_node *mb_record(sdd_ctx *c, sdd_backward_fn fn, sdd_tensor *x, sdd_tensor *w, sdd_tensor *bias, sdd_tensor *out, float *aux,
                          int *fail)
{
    *fail = 0;
    out->rg = sdd_wants(c, x) || (w && sdd_wants(c, w)) || (bias && sdd_wants(c, bias));
    if (!c->grad || !out->rg) return NULL;
    mb_node *n = (mb_node *)sdd_scratch(c, sizeof *n);
    if (!n || sdd_tape_push(c, fn, n)) { *fail = 1; return NULL; }
    n->x = x; n->w = w; n->bias = bias; n->out = out; n->aux = aux;
    return n;
}

__device__ __forceinline__ float d_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
__device__ __forceinline__ float d_softplus(float v) { return v > 20.0f ? v : log1pf(expf(v)); }

/* ---- RMSNorm over the last dim ---- */

__global__ void k_rms(const float *x, const float *w, int64_t R, int64_t D, float eps, float *rstd, float *out)
{
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= R) return;
    const float *xr = x + r * D;
    double ss = 0.0;
    for (int64_t d = 0; d < D; d++) ss += (double)xr[d] * xr[d];
    const float is = (float)(1.0 / sqrt(ss / (double)D + (double)eps));
    rstd[r] = is;
    for (int64_t d = 0; d < D; d++) out[r * D + d] = xr[d] * is * w[d];
}

__global__ void k_rms_bwd_dx(const float *x, const float *w, const float *dy, const float *rstd, int64_t R, int64_t D, float *dx)
{
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= R) return;
    const float *xr = x + r * D, *g = dy + r * D;
    double s = 0.0;
    for (int64_t d = 0; d < D; d++) s += (double)g[d] * w[d] * xr[d];
    const double is = rstd[r], k = s * is * is / (double)D;
    for (int64_t d = 0; d < D; d++) dx[r * D + d] += (float)(is * ((double)g[d] * w[d] - xr[d] * k));
}

/* gw[d] += sum over rows [r0, r1) of dy x rstd (double, rows in order) */
__global__ void k_rms_bwd_w(const float *x, const float *dy, const float *rstd, int64_t r0, int64_t r1, int64_t D, float *gw)
{
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    double acc = 0.0;
    for (int64_t r = r0; r < r1; r++) acc += (double)dy[r * D + d] * x[r * D + d] * rstd[r];
    gw[d] += (float)acc;
}

static void rms_bwd(sdd_ctx *c, void *vn)
{
    mb_node *n = (mb_node *)vn;
    if (!n->out->g) return;
    const int64_t D = n->x->n[n->x->nd - 1], R = (int64_t)(sdd_numel(n->x) / (size_t)D), rps = R / n->x->n[0];
    const float *x = SDD_DEV(n->x), *w = SDD_DEV(n->w), *dy = n->out->g;
    if (sdd_wants(c, n->x)) {
        float *dx = sdd_grad_of(c, n->x);
        if (!dx) return;
        if (R > 0) SDD_LAUNCH(k_rms_bwd_dx, sdd_cu_blocks((size_t)R), SDD_CU_THREADS, 0)(x, w, dy, n->aux, R, D, dx);
        if (sdd_cu_launched(c, "RMSNorm backward")) return;
    }
    for (int s = 0; s < c->nseg; s++) {
        float *gw = grad_slot(c, n->w, s);
        if (!gw) continue;
        SDD_LAUNCH(k_rms_bwd_w, sdd_cu_blocks((size_t)D), SDD_CU_THREADS, 0)(x, dy, n->aux, sdd_ctx_seg_begin(c, s) * rps,
                                                                            c->seg_end[s] * rps, D, gw);
        if (sdd_cu_launched(c, "RMSNorm weight gradient")) return;
    }
}

extern "C" sdd_tensor *sdd_cu_rmsnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, float eps)
{
    const int64_t D = x->n[x->nd - 1], R = (int64_t)(sdd_numel(x) / (size_t)D);
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    float *rstd = (float *)sdd_dscratch(c, (size_t)(R > 0 ? R : 1) * sizeof(float));
    if (!out || !rstd) return NULL;
    if (R > 0) SDD_LAUNCH(k_rms, sdd_cu_blocks((size_t)R), SDD_CU_THREADS, 0)(SDD_DEV(x), SDD_DEV(w), R, D, eps, rstd, out->x);
    if (sdd_cu_launched(c, "RMSNorm")) return NULL;
    int fail;
    mb_record(c, rms_bwd, x, w, NULL, out, rstd, &fail);
    return fail ? NULL : out;
}

/* ---- time flip: out[b, t] = x[b, T - 1 - t] (rows of D) ---- */

__global__ void k_flip(const float *src, int64_t B, int64_t T, int64_t D, float *dst, int add)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)(B * T * D)) return;
    const int64_t k = (int64_t)(i % D), t = (int64_t)((i / D) % T), b = (int64_t)(i / ((size_t)D * T));
    const float v = src[((size_t)b * T + (T - 1 - t)) * D + k];
    dst[i] = add ? dst[i] + v : v;
}

static void flip_bwd(sdd_ctx *c, void *vn)
{
    mb_node *n = (mb_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->x);
    if (!dx) return;
    const int64_t B = n->out->n[0], T = n->out->n[1], D = (int64_t)(sdd_numel(n->out) / (size_t)(B * T));
    const size_t m = sdd_numel(n->out);
    if (m) SDD_LAUNCH(k_flip, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(n->out->g, B, T, D, dx, 1);
    sdd_cu_launched(c, "time flip backward");
}

extern "C" sdd_tensor *sdd_cu_flip_time(sdd_ctx *c, sdd_tensor *x)
{
    const int64_t B = x->n[0], T = x->n[1], D = (int64_t)(sdd_numel(x) / (size_t)(B * T));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    const size_t m = sdd_numel(x);
    if (m) SDD_LAUNCH(k_flip, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(x), B, T, D, out->x, 0);
    if (sdd_cu_launched(c, "time flip")) return NULL;
    int fail;
    mb_record(c, flip_bwd, x, NULL, NULL, out, NULL, &fail);
    return fail ? NULL : out;
}

/* ---- attention pooling over time: a = softmax_t(x w + b), out (B, D) = sum_t a_t x_t ---- */

/* a[b, t] = bias + w . x[b, t] (double, d in order), rounded to float */
__global__ void k_apool_score(const float *x, const float *w, const float *bias, int B, int T, int D, float *a)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * T) return;
    const float *xt = x + i * D;
    double v = bias[0];
    for (int d = 0; d < D; d++) v += (double)w[d] * xt[d];
    a[i] = (float)v;
}

/* per sample: a = softmax over t (max, expf, double sum, a / sum in double) */
__global__ void k_apool_softmax(int B, int T, float *a)
{
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    float *ab = a + (size_t)b * T, mx = -INFINITY;
    for (int t = 0; t < T; t++) if (ab[t] > mx) mx = ab[t];
    double sum = 0.0;
    for (int t = 0; t < T; t++) { ab[t] = expf(ab[t] - mx); sum += ab[t]; }
    for (int t = 0; t < T; t++) ab[t] = (float)(ab[t] / sum);
}

__global__ void k_apool_out(const float *x, const float *a, int B, int T, int D, float *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * D) return;
    const int b = (int)(i / D), d = (int)(i % D);
    double v = 0.0;
    for (int t = 0; t < T; t++) v += (double)a[(size_t)b * T + t] * x[((size_t)b * T + t) * D + d];
    out[i] = (float)v;
}

/* ds[b, t] = a_t (g . x_t - sum_t' a_t' g . x_t'), per sample (double) */
__global__ void k_apool_ds(const float *x, const float *a, const float *go, int B, int T, int D, double *ds)
{
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const float *xb = x + (size_t)b * T * D, *g = go + (size_t)b * D, *ab = a + (size_t)b * T;
    double *db = ds + (size_t)b * T, mean = 0.0;
    for (int t = 0; t < T; t++) {
        double v = 0.0;
        for (int d = 0; d < D; d++) v += (double)g[d] * xb[(size_t)t * D + d];
        db[t] = v;
        mean += ab[t] * v;
    }
    for (int t = 0; t < T; t++) db[t] = ab[t] * (db[t] - mean);
}

__global__ void k_apool_dx(const float *a, const float *go, const double *ds, const float *w, int B, int T, int D, float *dx)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * T * D) return;
    const int d = (int)(i % D);
    const size_t bt = i / D;
    const int b = (int)(bt / T);
    dx[i] += a[bt] * go[(size_t)b * D + d] + (float)ds[bt] * w[d];
}

/* over samples [b0, b1) and steps in order: gw[d] += sum ds x (d = thread), gb += sum ds (thread D) */
__global__ void k_apool_dw(const float *x, const double *ds, int b0, int b1, int T, int D, float *gw, float *gb)
{
    const int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d > D) return;
    double acc = 0.0;
    for (int b = b0; b < b1; b++)
        for (int t = 0; t < T; t++) {
            const size_t bt = (size_t)b * T + t;
            acc += d < D ? ds[bt] * x[bt * D + d] : ds[bt];
        }
    if (d < D && gw) gw[d] += (float)acc;
    if (d == D && gb) gb[0] += (float)acc;
}

static void apool_bwd(sdd_ctx *c, void *vn)
{
    mb_node *n = (mb_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->x->n[0], T = (int)n->x->n[1], D = (int)n->x->n[2];
    const float *x = SDD_DEV(n->x), *w = SDD_DEV(n->w), *go = n->out->g;
    /* x's gradient outlives this op: taken before the mark */
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (sdd_wants(c, n->x) && !dx) return;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    double *ds = (double *)sdd_dscratch(c, (size_t)B * T * sizeof(double));
    if (!ds) return;
    SDD_LAUNCH(k_apool_ds, sdd_cu_blocks((size_t)B), SDD_CU_THREADS, 0)(x, n->aux, go, B, T, D, ds);
    if (sdd_cu_launched(c, "attention pool backward")) return;
    if (dx) {
        const size_t m = (size_t)B * T * D;
        if (m) SDD_LAUNCH(k_apool_dx, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(n->aux, go, ds, w, B, T, D, dx);
        if (sdd_cu_launched(c, "attention pool input gradient")) return;
    }
    for (int s = 0; s < c->nseg; s++) {
        float *gw = grad_slot(c, n->w, s), *gb = grad_slot(c, n->bias, s);
        if (!gw && !gb) continue;
        SDD_LAUNCH(k_apool_dw, sdd_cu_blocks((size_t)D + 1), SDD_CU_THREADS, 0)(x, ds, sdd_ctx_seg_begin(c, s), c->seg_end[s], T, D, gw, gb);
        if (sdd_cu_launched(c, "attention pool weight gradient")) return;
    }
    sdd_arena_release(&c->darena, mk);
}

extern "C" sdd_tensor *sdd_cu_attn_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *bias)
{
    const int B = (int)x->n[0], T = (int)x->n[1], D = (int)x->n[2];
    sdd_tensor *out = sdd_new2(c, B, D);
    float *a = (float *)sdd_dscratch(c, (size_t)(B * T > 0 ? B * T : 1) * sizeof(float));
    if (!out || !a) return NULL;
    if (B * T > 0) {
        SDD_LAUNCH(k_apool_score, sdd_cu_blocks((size_t)B * T), SDD_CU_THREADS, 0)(SDD_DEV(x), SDD_DEV(w), SDD_DEV(bias), B, T, D, a);
        SDD_LAUNCH(k_apool_softmax, sdd_cu_blocks((size_t)B), SDD_CU_THREADS, 0)(B, T, a);
    }
    if ((size_t)B * D > 0) SDD_LAUNCH(k_apool_out, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(SDD_DEV(x), a, B, T, D, out->x);
    if (sdd_cu_launched(c, "attention pool")) return NULL;
    int fail;
    mb_record(c, apool_bwd, x, w, bias, out, a, &fail);
    return fail ? NULL : out;
}

/* ---- selective scan ---- */

typedef struct {
    sdd_tensor *u, *dt, *A_log, *Bm, *Cm, *Dskip, *z, *dt_bias, *out;
    float *hsave;   /* (B, nch, Di, N) the state before each chunk's first step */
    float *A;       /* (Di, N) -exp(A_log) */
    float *delta;   /* (B, T, Di) softplus(dt + dt_bias) */
} sc_node;

__global__ void k_scan_prep_a(const float *A_log, size_t n, float *A)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) A[i] = -expf(A_log[i]);
}

__global__ void k_scan_prep_delta(const float *dt, const float *dt_bias, size_t BT, int Di, float *delta)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= BT * Di) return;
    delta[i] = d_softplus(dt[i] + (dt_bias ? dt_bias[i % Di] : 0.0f));
}

/* one thread per (b, d): the recurrence over all steps, y with the skip term and the gating */
__global__ void k_scan_fwd(const float *u, const float *delta, const float *A, const float *Bm, const float *Cm, const float *Dk,
                           const float *z, int B, int T, int Di, int N, float *hsave, float *out)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * Di) return;
    const int b = i / Di, d = i % Di, K = SDD_SCAN_CHUNK, nch = (T + K - 1) / K;
    float h[SCAN_MAXN];
    for (int k = 0; k < N; k++) h[k] = 0.0f;
    for (int t = 0; t < T; t++) {
        if (hsave && t % K == 0)
            for (int k = 0; k < N; k++) hsave[(((size_t)b * nch + t / K) * Di + d) * N + k] = h[k];
        const size_t r = (size_t)b * T + t;
        const float dl = delta[r * Di + d], du = dl * u[r * Di + d];
        const float *Bt = Bm + r * N, *Ct = Cm + r * N, *Ad = A + (size_t)d * N;
        float y = 0.0f;
        for (int k = 0; k < N; k++) h[k] = sdd_exp_nonpos(dl * Ad[k]) * h[k] + du * Bt[k];
        for (int k = 0; k < N; k++) y += Ct[k] * h[k];
        y = y + Dk[d] * u[r * Di + d];
        if (z) { const float zv = z[r * Di + d]; y *= zv * d_sigmoid(zv); }
        out[r * Di + d] = y;
    }
}

/* one thread per (b, d): the reverse-time recurrence chunk by chunk (states
 * recomputed from hsave), as ops/mamba.c's scan_backward; the contributions
 * to dB and dC per channel into PB, PC (B, T, Di, N), the parameter
 * gradients per sample into pA (B, Di, N), pD, pb (B, Di) */
__global__ void k_scan_bwd(const float *u, const float *dt, const float *dt_bias, const float *delta, const float *A, const float *Bm,
                           const float *Cm, const float *Dk, const float *z, const float *hsave, const float *gout, int B, int T, int Di,
                           int N, float *du, float *ddt, float *dz, float *PB, float *PC, double *pA, double *pD, double *pb)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * Di) return;
    const int b = i / Di, d = i % Di, K = SDD_SCAN_CHUNK, nch = (T + K - 1) / K;
    float g[SCAN_MAXN], hs[(SDD_SCAN_CHUNK + 1) * SCAN_MAXN];
    double gA[SCAN_MAXN], gD = 0.0, gb = 0.0;
    for (int k = 0; k < N; k++) { g[k] = 0.0f; gA[k] = 0.0; }
    const float *Ad = A + (size_t)d * N;
    for (int ci = nch - 1; ci >= 0; ci--) {
        const int t0 = ci * K, t1 = t0 + K < T ? t0 + K : T;
        for (int k = 0; k < N; k++) hs[k] = hsave[(((size_t)b * nch + ci) * Di + d) * N + k];
        for (int t = t0; t < t1; t++) {
            const size_t r = (size_t)b * T + t;
            const float dl = delta[r * Di + d], dun = dl * u[r * Di + d];
            const float *hp = hs + (size_t)(t - t0) * N;
            float *hc = hs + (size_t)(t - t0 + 1) * N;
            for (int k = 0; k < N; k++) hc[k] = sdd_exp_nonpos(dl * Ad[k]) * hp[k] + dun * Bm[r * N + k];
        }
        for (int t = t1 - 1; t >= t0; t--) {
            const size_t r = (size_t)b * T + t;
            const float *Bt = Bm + r * N, *Ct = Cm + r * N;
            const float *hc = hs + (size_t)(t - t0 + 1) * N, *hp = hs + (size_t)(t - t0) * N;
            const float ud = u[r * Di + d];
            float gy = gout[r * Di + d];
            if (z) {
                const float zv = z[r * Di + d], sg = d_sigmoid(zv);
                if (dz) {
                    float y = Dk[d] * ud;
                    for (int k = 0; k < N; k++) y += Ct[k] * hc[k];
                    dz[r * Di + d] += gy * y * sg * (1.0f + zv * (1.0f - sg));
                }
                gy *= zv * sg;
            }
            gD += (double)gy * ud;
            const float x = dt[r * Di + d] + (dt_bias ? dt_bias[d] : 0.0f);
            const float dl = delta[r * Di + d];
            float gu = gy * Dk[d];
            double gdelta = 0.0;
            float *pbr = PB + (r * Di + d) * N, *pcr = PC + (r * Di + d) * N;
            for (int k = 0; k < N; k++) {
                const float Ak = Ad[k], a = sdd_exp_nonpos(dl * Ak);
                g[k] += gy * Ct[k];
                pcr[k] = gy * hc[k];
                gdelta += (double)g[k] * (Ak * a * hp[k] + Bt[k] * ud);
                gA[k] += (double)g[k] * dl * a * hp[k] * Ak;
                pbr[k] = g[k] * dl * ud;
                gu += g[k] * dl * Bt[k];
                g[k] *= a;
            }
            const double gx = gdelta * (x > 20.0f ? 1.0f : d_sigmoid(x));
            if (ddt) ddt[r * Di + d] += (float)gx;
            gb += gx;
            if (du) du[r * Di + d] += gu;
        }
    }
    for (int k = 0; k < N; k++) pA[((size_t)b * Di + d) * N + k] = gA[k];
    pD[(size_t)b * Di + d] = gD;
    pb[(size_t)b * Di + d] = gb;
}

/* dst[r, k] += sum over channels d (in order) of P[r, d, k], r < R */
__global__ void k_scan_chsum(const float *P, size_t R, int Di, int N, float *dst)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= R * N) return;
    const size_t r = i / N;
    const int k = (int)(i % N);
    float v = dst[i];
    for (int d = 0; d < Di; d++) v += P[(r * Di + d) * N + k];
    dst[i] = v;
}

/* g[j] += (float) p[b, j] for samples b in [b0, b1), in order */
__global__ void k_scan_param(const double *p, int b0, int b1, size_t per, float *g)
{
    const size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= per) return;
    for (int b = b0; b < b1; b++) g[j] += (float)p[(size_t)b * per + j];
}

static void scan_bwd(sdd_ctx *c, void *vn)
{
    sc_node *n = (sc_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->u->n[0], T = (int)n->u->n[1], Di = (int)n->u->n[2], N = (int)n->A_log->n[1];
    const size_t BT = (size_t)B * T, DN = (size_t)Di * N;
    float *du = sdd_wants(c, n->u) ? sdd_grad_of(c, n->u) : NULL;
    float *ddt = sdd_wants(c, n->dt) ? sdd_grad_of(c, n->dt) : NULL;
    float *dB = sdd_wants(c, n->Bm) ? sdd_grad_of(c, n->Bm) : NULL;
    float *dC = sdd_wants(c, n->Cm) ? sdd_grad_of(c, n->Cm) : NULL;
    float *dz = n->z && sdd_wants(c, n->z) ? sdd_grad_of(c, n->z) : NULL;
    if (c->failed) return;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    float *PB = (float *)sdd_dscratch(c, BT * DN * sizeof(float)), *PC = (float *)sdd_dscratch(c, BT * DN * sizeof(float));
    double *pA = (double *)sdd_dscratch(c, (size_t)B * DN * sizeof(double));
    double *pD = (double *)sdd_dscratch(c, (size_t)B * Di * sizeof(double)), *pb = (double *)sdd_dscratch(c, (size_t)B * Di * sizeof(double));
    if (!PB || !PC || !pA || !pD || !pb) return;
    SDD_LAUNCH(k_scan_bwd, sdd_cu_blocks((size_t)B * Di), SDD_CU_THREADS, 0)(
        SDD_DEV(n->u), SDD_DEV(n->dt), n->dt_bias ? SDD_DEV(n->dt_bias) : NULL, n->delta, n->A, SDD_DEV(n->Bm), SDD_DEV(n->Cm),
        SDD_DEV(n->Dskip), n->z ? SDD_DEV(n->z) : NULL, n->hsave, n->out->g, B, T, Di, N, du, ddt, dz, PB, PC, pA, pD, pb);
    if (sdd_cu_launched(c, "selective scan backward")) return;
    if (dB) SDD_LAUNCH(k_scan_chsum, sdd_cu_blocks(BT * N), SDD_CU_THREADS, 0)(PB, BT, Di, N, dB);
    if (dC) SDD_LAUNCH(k_scan_chsum, sdd_cu_blocks(BT * N), SDD_CU_THREADS, 0)(PC, BT, Di, N, dC);
    if (sdd_cu_launched(c, "selective scan B/C gradients")) return;
    for (int s = 0; s < c->nseg; s++) {
        float *gA = grad_slot(c, n->A_log, s), *gD = grad_slot(c, n->Dskip, s), *gbias = grad_slot(c, n->dt_bias, s);
        const int b0 = sdd_ctx_seg_begin(c, s), b1 = c->seg_end[s];
        if (gA) SDD_LAUNCH(k_scan_param, sdd_cu_blocks(DN), SDD_CU_THREADS, 0)(pA, b0, b1, DN, gA);
        if (gD) SDD_LAUNCH(k_scan_param, sdd_cu_blocks((size_t)Di), SDD_CU_THREADS, 0)(pD, b0, b1, (size_t)Di, gD);
        if (gbias) SDD_LAUNCH(k_scan_param, sdd_cu_blocks((size_t)Di), SDD_CU_THREADS, 0)(pb, b0, b1, (size_t)Di, gbias);
        if (sdd_cu_launched(c, "selective scan parameter gradients")) return;
    }
    sdd_arena_release(&c->darena, mk);
}

extern "C" sdd_tensor *sdd_cu_selective_scan(sdd_ctx *c, sdd_tensor *u, sdd_tensor *dt, sdd_tensor *A_log, sdd_tensor *Bm,
                                             sdd_tensor *Cm, sdd_tensor *Dskip, sdd_tensor *z, sdd_tensor *dt_bias)
{
    const int B = (int)u->n[0], T = (int)u->n[1], Di = (int)u->n[2], N = (int)A_log->n[A_log->nd - 1];
    if (N > SCAN_MAXN) {
        sdd_err_set(&c->err, "selective scan on CUDA: d_state %d is over %d", N, SCAN_MAXN);
        c->failed = 1;
        return NULL;
    }
    const size_t BT = (size_t)B * T, DN = (size_t)Di * N;
    sdd_tensor *out = sdd_new3(c, B, T, Di);
    if (!out) return NULL;
    sdd_tensor *in[8] = { u, dt, A_log, Bm, Cm, Dskip, z, dt_bias };
    int rg = 0;
    for (int i = 0; i < 8; i++) rg |= in[i] && sdd_wants(c, in[i]);
    const int rec = c->grad && rg, K = SDD_SCAN_CHUNK, nch = (T + K - 1) / K;
    sc_node *n = rec ? (sc_node *)sdd_scratch(c, sizeof *n) : NULL;
    float *A = (float *)sdd_dscratch(c, (DN > 0 ? DN : 1) * sizeof(float));
    float *delta = (float *)sdd_dscratch(c, (BT * Di > 0 ? BT * Di : 1) * sizeof(float));
    float *hsave = rec ? (float *)sdd_dscratch(c, ((size_t)B * nch * DN > 0 ? (size_t)B * nch * DN : 1) * sizeof(float)) : NULL;
    if ((rec && (!n || !hsave)) || !A || !delta) return NULL;
    if (DN > 0) SDD_LAUNCH(k_scan_prep_a, sdd_cu_blocks(DN), SDD_CU_THREADS, 0)(SDD_DEV(A_log), DN, A);
    if (BT * Di > 0) SDD_LAUNCH(k_scan_prep_delta, sdd_cu_blocks(BT * Di), SDD_CU_THREADS, 0)(SDD_DEV(dt), dt_bias ? SDD_DEV(dt_bias) : NULL, BT,
                                                                                        Di, delta);
    if ((size_t)B * Di > 0)
        SDD_LAUNCH(k_scan_fwd, sdd_cu_blocks((size_t)B * Di), SDD_CU_THREADS, 0)(SDD_DEV(u), delta, A, SDD_DEV(Bm), SDD_DEV(Cm),
                                                                                SDD_DEV(Dskip), z ? SDD_DEV(z) : NULL, B, T, Di, N, hsave,
                                                                                out->x);
    if (sdd_cu_launched(c, "selective scan")) return NULL;
    out->rg = rg;
    if (!rec) return out;
    n->u = u; n->dt = dt; n->A_log = A_log; n->Bm = Bm; n->Cm = Cm; n->Dskip = Dskip; n->z = z; n->dt_bias = dt_bias; n->out = out;
    n->hsave = hsave; n->A = A; n->delta = delta;
    return sdd_tape_push(c, scan_bwd, n) ? NULL : out;
}
