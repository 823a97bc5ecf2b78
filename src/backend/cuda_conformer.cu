/* CUDA forward and backward of the Conformer-TCM back end's small ops
 * (ops/conformer.h, and of ops/mamba.h the ones it shares with the Mamba back
 * end): GLU over the last dim, SiLU, the last-dim slice, the token mean, the
 * scaled add and the depthwise Conv1d. Each mirrors its CPU version in
 * src/ops (conformer.c, mamba.c) operation for operation: the elementwise
 * ops and the convolution's taps in the CPU's order and precision, the token
 * mean and the depthwise parameter gradients (one thread per channel, over
 * the segment's samples and steps in order, in double) too, so they give the
 * CPU's values up to the exp/erf implementations. Parameter gradients go to
 * the device gradient buffers per segment (sdd_pgrad). No atomics. */
#include "backend/cuda_internal.h"
#include <math.h>
extern "C" {
#include "ops/mamba.h"
}

typedef struct { sdd_tensor *a, *b, *w, *bias, *out; float s; int k0, k1; } cf_node;

__device__ __forceinline__ float d_sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

static cf_node *cf_record(sdd_ctx *c, sdd_backward_fn fn, sdd_tensor *a, sdd_tensor *b, sdd_tensor *w, sdd_tensor *bias,
                          sdd_tensor *out, int *fail)
{
    *fail = 0;
    out->rg = sdd_wants(c, a) || (b && sdd_wants(c, b)) || (w && sdd_wants(c, w)) || (bias && sdd_wants(c, bias));
    if (!c->grad || !out->rg) return NULL;
    cf_node *n = (cf_node *)sdd_scratch(c, sizeof *n);
    if (!n || sdd_tape_push(c, fn, n)) { *fail = 1; return NULL; }
    memset(n, 0, sizeof *n);
    n->a = a; n->b = b; n->w = w; n->bias = bias; n->out = out;
    return n;
}

/* a parameter's gradient buffer of segment s, or a tensor's own gradient (as ops/mamba.c) */
static float *grad_slot(sdd_ctx *c, sdd_tensor *t, int s)
{
    if (!t || !sdd_wants(c, t)) return NULL;
    return t->pidx >= 0 ? sdd_pgrad(c, t, s) : sdd_grad_of(c, t);
}

/* ---- GLU over the last dim: out (R, C) = x[:, :C] sigmoid(x[:, C:]) ---- */

__global__ void k_glu(const float *x, int64_t R, int64_t C, float *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)(R * C)) return;
    const int64_t r = (int64_t)(i / C), k = (int64_t)(i % C);
    out[i] = x[r * 2 * C + k] * d_sigm(x[r * 2 * C + C + k]);
}

__global__ void k_glu_bwd(const float *x, const float *dy, int64_t R, int64_t C, float *dx)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)(R * C)) return;
    const int64_t r = (int64_t)(i / C), k = (int64_t)(i % C);
    const float a = x[r * 2 * C + k], s = d_sigm(x[r * 2 * C + C + k]), g = dy[i];
    dx[r * 2 * C + k] += g * s;
    dx[r * 2 * C + C + k] += g * a * s * (1.0f - s);
}

static void glu_bwd(sdd_ctx *c, void *vn)
{
    cf_node *n = (cf_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const int64_t C = n->out->n[n->out->nd - 1], R = (int64_t)(sdd_numel(n->out) / (size_t)C);
    if (R * C > 0) SDD_LAUNCH(k_glu_bwd, sdd_cu_blocks((size_t)(R * C)), SDD_CU_THREADS, 0)(SDD_DEV(n->a), n->out->g, R, C, dx);
    sdd_cu_launched(c, "GLU backward");
}

extern "C" sdd_tensor *sdd_cu_glu_last(sdd_ctx *c, sdd_tensor *x)
{
    const int64_t C = x->n[x->nd - 1] / 2;
    sdd_tensor *out = sdd_new_lastdim(c, x, C);
    if (!out) return NULL;
    const int64_t R = (int64_t)(sdd_numel(out) / (size_t)(C ? C : 1));
    if (R * C > 0) SDD_LAUNCH(k_glu, sdd_cu_blocks((size_t)(R * C)), SDD_CU_THREADS, 0)(SDD_DEV(x), R, C, out->x);
    if (sdd_cu_launched(c, "GLU")) return NULL;
    int fail;
    cf_record(c, glu_bwd, x, NULL, NULL, NULL, out, &fail);
    return fail ? NULL : out;
}

/* ---- SiLU ---- */

__global__ void k_silu(const float *x, size_t n, float *y)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] * d_sigm(x[i]);
}

__global__ void k_silu_bwd(const float *x, const float *dy, size_t n, float *dx)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float s = d_sigm(x[i]);
    dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
}

static void silu_bwd(sdd_ctx *c, void *vn)
{
    cf_node *n = (cf_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const size_t m = sdd_numel(n->out);
    if (m) SDD_LAUNCH(k_silu_bwd, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(n->a), n->out->g, m, dx);
    sdd_cu_launched(c, "SiLU backward");
}

extern "C" sdd_tensor *sdd_cu_silu(sdd_ctx *c, sdd_tensor *x)
{
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    const size_t m = sdd_numel(x);
    if (m) SDD_LAUNCH(k_silu, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(x), m, out->x);
    if (sdd_cu_launched(c, "SiLU")) return NULL;
    int fail;
    cf_record(c, silu_bwd, x, NULL, NULL, NULL, out, &fail);
    return fail ? NULL : out;
}

/* ---- last-dim slice: out (R, len) = x[:, start : start + len] of x (R, D) ---- */

__global__ void k_slice_last(const float *x, int64_t R, int64_t D, int64_t start, int64_t len, float *out, int bwd)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)(R * len)) return;
    const int64_t r = (int64_t)(i / len), k = (int64_t)(i % len);
    /* forward: out[i] = x[...]; backward (x is dy, out is dx): dx[...] += dy[i] */
    if (bwd) out[r * D + start + k] += x[i];
    else out[i] = x[r * D + start + k];
}

static void slice_last_bwd(sdd_ctx *c, void *vn)
{
    cf_node *n = (cf_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const int64_t D = n->a->n[n->a->nd - 1], len = n->k1, R = (int64_t)(sdd_numel(n->out) / (size_t)len);
    if (R * len > 0) SDD_LAUNCH(k_slice_last, sdd_cu_blocks((size_t)(R * len)), SDD_CU_THREADS, 0)(n->out->g, R, D, n->k0, len, dx, 1);
    sdd_cu_launched(c, "slice backward");
}

extern "C" sdd_tensor *sdd_cu_slice_last(sdd_ctx *c, sdd_tensor *x, int start, int len)
{
    const int64_t D = x->n[x->nd - 1];
    sdd_tensor *out = sdd_new_lastdim(c, x, len);
    if (!out) return NULL;
    const int64_t R = (int64_t)(sdd_numel(x) / (size_t)D);
    if (R * len > 0) SDD_LAUNCH(k_slice_last, sdd_cu_blocks((size_t)(R * len)), SDD_CU_THREADS, 0)(SDD_DEV(x), R, D, start, len, out->x, 0);
    if (sdd_cu_launched(c, "slice")) return NULL;
    int fail;
    cf_node *n = cf_record(c, slice_last_bwd, x, NULL, NULL, NULL, out, &fail);
    if (n) { n->k0 = start; n->k1 = len; }
    return fail ? NULL : out;
}

/* ---- token mean: out (B, 1, D) = mean over t in [start, start + len) of x (B, N, D) ---- */

__global__ void k_mean_nodes(const float *x, int B, int N, int D, int start, int len, float *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * D) return;
    const int b = (int)(i / D), d = (int)(i % D);
    double s = 0.0;
    for (int t = start; t < start + len; t++) s += x[((size_t)b * N + t) * D + d];
    out[i] = (float)(s / len);
}

__global__ void k_mean_nodes_bwd(const float *dy, int B, int N, int D, int start, int len, float *dx)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * len * D) return;
    const int d = (int)(i % D), t = start + (int)((i / D) % len), b = (int)(i / ((size_t)D * len));
    dx[((size_t)b * N + t) * D + d] += dy[(size_t)b * D + d] * (1.0f / (float)len);
}

static void mean_nodes_bwd(sdd_ctx *c, void *vn)
{
    cf_node *n = (cf_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const int B = (int)n->a->n[0], N = (int)n->a->n[1], D = (int)n->a->n[2];
    const size_t m = (size_t)B * n->k1 * D;
    if (m) SDD_LAUNCH(k_mean_nodes_bwd, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(n->out->g, B, N, D, n->k0, n->k1, dx);
    sdd_cu_launched(c, "token mean backward");
}

extern "C" sdd_tensor *sdd_cu_mean_nodes(sdd_ctx *c, sdd_tensor *x, int start, int len)
{
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2];
    sdd_tensor *out = sdd_new3(c, B, 1, D);
    if (!out) return NULL;
    if ((size_t)B * D > 0) SDD_LAUNCH(k_mean_nodes, sdd_cu_blocks((size_t)B * D), SDD_CU_THREADS, 0)(SDD_DEV(x), B, N, D, start, len, out->x);
    if (sdd_cu_launched(c, "token mean")) return NULL;
    int fail;
    cf_node *n = cf_record(c, mean_nodes_bwd, x, NULL, NULL, NULL, out, &fail);
    if (n) { n->k0 = start; n->k1 = len; }
    return fail ? NULL : out;
}

/* ---- scaled add: out = a + s b ---- */

__global__ void k_add_scaled(const float *a, const float *b, float s, size_t n, float *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + s * b[i];
}

static void add_scaled_bwd(sdd_ctx *c, void *vn)
{
    cf_node *n = (cf_node *)vn;
    if (!n->out->g) return;
    const size_t m = sdd_numel(n->out);
    if (sdd_wants(c, n->a)) {
        float *d = sdd_grad_of(c, n->a);
        if (!d || sdd_cu_axpy(c, d, n->out->g, 1.0f, m)) return;
    }
    if (sdd_wants(c, n->b)) {
        float *d = sdd_grad_of(c, n->b);
        if (!d) return;
        sdd_cu_axpy(c, d, n->out->g, n->s, m);
    }
}

extern "C" sdd_tensor *sdd_cu_add_scaled(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, float s)
{
    sdd_tensor *out = sdd_tensor_new(c, a->nd, a->n);
    if (!out) return NULL;
    const size_t m = sdd_numel(a);
    if (m) SDD_LAUNCH(k_add_scaled, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(a), SDD_DEV(b), s, m, out->x);
    if (sdd_cu_launched(c, "scaled add")) return NULL;
    int fail;
    cf_node *n = cf_record(c, add_scaled_bwd, a, b, NULL, NULL, out, &fail);
    if (n) n->s = s;
    return fail ? NULL : out;
}

/* ---- depthwise Conv1d: x (B, T, C), w (C, 1, K), out (B, To, C) ---- */

__global__ void k_dwconv(const float *x, const float *w, const float *bias, int B, int T, int C, int K, int To, int pl, float *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * To * C) return;
    const int ch = (int)(i % C), t = (int)((i / C) % To), b = (int)(i / ((size_t)C * To));
    float y = bias ? bias[ch] : 0.0f;
    for (int k = 0; k < K; k++) {
        const int ti = t + k - pl;
        if (ti >= 0 && ti < T) y += w[(size_t)ch * K + k] * x[((size_t)b * T + ti) * C + ch];
    }
    out[i] = y;
}

/* dx[b, t, ch] += sum over taps k (in order) of dy[b, t - k + pl, ch] w[ch, k] */
__global__ void k_dwconv_bwd_dx(const float *dy, const float *w, int B, int T, int C, int K, int To, int pl, float *dx)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * T * C) return;
    const int ch = (int)(i % C), t = (int)((i / C) % T), b = (int)(i / ((size_t)C * T));
    float d = dx[i];
    for (int k = 0; k < K; k++) {
        const int to = t - k + pl;
        if (to >= 0 && to < To) d += dy[((size_t)b * To + to) * C + ch] * w[(size_t)ch * K + k];
    }
    dx[i] = d;
}

/* per channel, over samples [b0, b1) and steps in order (double): gw[ch, k] +=
 * sum dy x, gb[ch] += sum dy (either may be NULL) */
__global__ void k_dwconv_bwd_w(const float *dy, const float *x, int b0, int b1, int T, int C, int K, int To, int pl, float *gw, float *gb)
{
    const int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
    double aw[SDD_DWCONV_MAXK], ab = 0.0;
    for (int k = 0; k < K; k++) aw[k] = 0.0;
    for (int b = b0; b < b1; b++)
        for (int t = 0; t < To; t++) {
            const double g = dy[((size_t)b * To + t) * C + ch];
            ab += g;
            for (int k = 0; k < K; k++) {
                const int ti = t + k - pl;
                if (ti >= 0 && ti < T) aw[k] += g * x[((size_t)b * T + ti) * C + ch];
            }
        }
    if (gw) for (int k = 0; k < K; k++) gw[(size_t)ch * K + k] += (float)aw[k];
    if (gb) gb[ch] += (float)ab;
}

static void dwconv_bwd(sdd_ctx *c, void *vn)
{
    cf_node *n = (cf_node *)vn;
    if (!n->out->g) return;
    sdd_tensor *x = n->a, *w = n->w;
    const int B = (int)x->n[0], T = (int)x->n[1], C = (int)x->n[2], K = (int)w->n[w->nd - 1], To = (int)n->out->n[1], pl = n->k0;
    const float *dy = n->out->g;
    if (sdd_wants(c, x)) {
        float *dx = sdd_grad_of(c, x);
        if (!dx) return;
        if ((size_t)B * T * C > 0)
            SDD_LAUNCH(k_dwconv_bwd_dx, sdd_cu_blocks((size_t)B * T * C), SDD_CU_THREADS, 0)(dy, SDD_DEV(w), B, T, C, K, To, pl, dx);
        if (sdd_cu_launched(c, "depthwise conv1d backward")) return;
    }
    for (int s = 0; s < c->nseg; s++) {
        float *gw = grad_slot(c, w, s), *gb = grad_slot(c, n->bias, s);
        if (!gw && !gb) continue;
        SDD_LAUNCH(k_dwconv_bwd_w, sdd_cu_blocks((size_t)C), SDD_CU_THREADS, 0)(dy, SDD_DEV(x), sdd_ctx_seg_begin(c, s), c->seg_end[s], T, C,
                                                                               K, To, pl, gw, gb);
        if (sdd_cu_launched(c, "depthwise conv1d weight gradient")) return;
    }
}

extern "C" sdd_tensor *sdd_cu_dwconv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *bias, int pad_left, int pad_right)
{
    const int B = (int)x->n[0], T = (int)x->n[1], C = (int)x->n[2], K = (int)w->n[w->nd - 1];
    const int To = T + pad_left + pad_right - K + 1;
    sdd_tensor *out = sdd_new3(c, B, To, C);
    if (!out) return NULL;
    const size_t m = (size_t)B * To * C;
    if (m) SDD_LAUNCH(k_dwconv, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(x), SDD_DEV(w), bias ? SDD_DEV(bias) : NULL, B, T, C, K, To,
                                                                     pad_left, out->x);
    if (sdd_cu_launched(c, "depthwise conv1d")) return NULL;
    int fail;
    cf_node *n = cf_record(c, dwconv_bwd, x, NULL, w, bias, out, &fail);
    if (n) n->k0 = pad_left;
    return fail ? NULL : out;
}
