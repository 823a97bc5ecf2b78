/* CUDA training pieces of the elementwise, shape, dense and loss ops: the
 * tape entries the forward ops of cuda_ops.cu record (SELU, add, max,
 * batch expansion, node concat/slice, linear, bmm), dropout, and the
 * class-weighted cross entropy. Same semantics as the CPU backward functions
 * in src/ops (parameter gradients per segment into the device gradient
 * buffer sdd_pgrad returns); each kernel gives one thread one output entry
 * and reduces serially, in double where the CPU does, so nothing depends on
 * atomics or barriers (the emulation build runs every kernel as written). */
#include "backend/cuda_internal.h"
#include <math.h>
extern "C" {
#include "ops/internal.h"
#include "core/rng.h"
}

/* ---- shared kernels ---- */

/* y[i] += a * x[i] */
__global__ void k_axpy(float *y, const float *x, float a, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}

/* g[k] += sum over rows r in [r0, r1) of dy[r * per + k], k < per (rows are samples or row blocks) */
__global__ void k_rowsum(const float *dy, int64_t r0, int64_t r1, size_t per, float *g)
{
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= per) return;
    double s = 0.0;
    for (int64_t r = r0; r < r1; r++) s += dy[(size_t)r * per + k];
    g[k] += (float)s;
}

int sdd_cu_axpy(sdd_ctx *c, float *y, const float *x, float a, size_t n)
{
    if (n) SDD_LAUNCH(k_axpy, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(y, x, a, n);
    return sdd_cu_launched(c, "gradient accumulation");
}

int sdd_cu_rowsum(sdd_ctx *c, const float *dy, int64_t r0, int64_t r1, size_t per, float *g)
{
    /* many rows of few columns: one thread per column would loop serially over thousands of rows */
    if (r1 - r0 > 64 && per <= 65535) return sdd_cu_colsum_acc(c, dy + (size_t)r0 * per, r1 - r0, per, g);
    if (per && r1 > r0) SDD_LAUNCH(k_rowsum, sdd_cu_blocks(per), SDD_CU_THREADS, 0)(dy, r0, r1, per, g);
    return sdd_cu_launched(c, "gradient row sum");
}

extern "C" int sdd_cu_acc(sdd_ctx *c, float *dst, const float *src, size_t n) { return sdd_cu_axpy(c, dst, src, 1.0f, n); }

typedef struct { sdd_tensor *a, *b, *out; float *mask; int k0, k1; } cu_ew_node;

/* records fn for out = f(a, b) when a gradient must flow; (cu_ew_node *)1 when nothing is recorded */
static cu_ew_node *ew_record(sdd_ctx *c, sdd_backward_fn fn, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out)
{
    out->rg = sdd_wants(c, a) || sdd_wants(c, b);
    if (!c->grad || !out->rg) return (cu_ew_node *)1;
    cu_ew_node *n = (cu_ew_node *)sdd_scratch0(c, sizeof *n);
    if (!n) return NULL;
    n->a = a; n->b = b; n->out = out;
    if (sdd_tape_push(c, fn, n)) return NULL;
    return n;
}
#define EW_RECORDED(n) ((n) != (cu_ew_node *)1)

/* ---- SELU, add, max ---- */

__device__ __forceinline__ float d_selu_d(float v)
{
    return v > 0.0f ? (float)SDD_SELU_SCALE : (float)(SDD_SELU_SCALE * SDD_SELU_ALPHA) * expf(v);
}

__global__ void k_selu_bwd(const float *x, const float *dy, float *dx, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dx[i] += dy[i] * d_selu_d(x[i]);
}

static void selu_bwd(sdd_ctx *c, void *vn)
{
    cu_ew_node *n = (cu_ew_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const size_t m = sdd_numel(n->a);
    SDD_LAUNCH(k_selu_bwd, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(n->a), n->out->g, dx, m);
    sdd_cu_launched(c, "SELU backward");
}

int sdd_cu_record_selu(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out) { return ew_record(c, selu_bwd, x, NULL, out) ? 0 : -1; }

static void add_bwd(sdd_ctx *c, void *vn)
{
    cu_ew_node *n = (cu_ew_node *)vn;
    if (!n->out->g) return;
    sdd_tensor *src[2] = { n->a, n->b };
    for (int i = 0; i < 2; i++) {
        if (!sdd_wants(c, src[i])) continue;
        float *d = sdd_grad_of(c, src[i]);
        if (!d || sdd_cu_axpy(c, d, n->out->g, 1.0f, sdd_numel(n->out))) return;
    }
}

int sdd_cu_record_add(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out) { return ew_record(c, add_bwd, a, b, out) ? 0 : -1; }

/* ties go to a, as in the forward */
__global__ void k_max2_bwd(const float *a, const float *b, const float *dy, float *da, float *db, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    if (a[i] >= b[i]) { if (da) da[i] += dy[i]; }
    else if (db) db[i] += dy[i];
}

static void max2_bwd(sdd_ctx *c, void *vn)
{
    cu_ew_node *n = (cu_ew_node *)vn;
    if (!n->out->g) return;
    float *da = sdd_wants(c, n->a) ? sdd_grad_of(c, n->a) : NULL;
    float *db = sdd_wants(c, n->b) ? sdd_grad_of(c, n->b) : NULL;
    if (c->failed) return;
    const size_t m = sdd_numel(n->out);
    SDD_LAUNCH(k_max2_bwd, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(n->a), SDD_DEV(n->b), n->out->g, da, db, m);
    sdd_cu_launched(c, "max backward");
}

int sdd_cu_record_max2(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out) { return ew_record(c, max2_bwd, a, b, out) ? 0 : -1; }

/* ---- dropout: the mask is drawn on the host from the CPU op's counter RNG
 * (the same bits as the CPU backend) and uploaded as 0 / 1/(1-p) factors ---- */

__global__ void k_mul(const float *x, const float *f, float *y, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = f[i] != 0.0f ? x[i] * f[i] : 0.0f;
}

__global__ void k_mul_acc(const float *dy, const float *f, float *dx, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && f[i] != 0.0f) dx[i] += dy[i] * f[i];
}

static void dropout_bwd(sdd_ctx *c, void *vn)
{
    cu_ew_node *n = (cu_ew_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->a);
    if (!dx) return;
    const size_t m = sdd_numel(n->a);
    SDD_LAUNCH(k_mul_acc, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(n->out->g, n->mask, dx, m);
    sdd_cu_launched(c, "dropout backward");
}

float *sdd_cu_dropout_mask(sdd_ctx *c, uint64_t key, size_t m, size_t per_row, float p)
{
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    float *d = (float *)sdd_dscratch(c, (m ? m : 1) * sizeof(float));
    if (!d) return NULL;
    /* without the row mapping, element k's counter is k: drawn on the device */
    if (!c->row_map) return sdd_cu_drop_factors(c, key, m, p, d) ? NULL : d;
    float *h = (float *)sdd_scratch(c, (m ? m : 1) * sizeof(float));
    if (!h) return NULL;
    for (size_t k = 0; k < m; k++) h[k] = sdd_rng_uniform(key, sdd_rng_elem(c, k, per_row)) >= p ? scale : 0.0f;
    if (sdd_cu_copy(d, h, m * sizeof(float), 1, &c->err)) { c->failed = 1; return NULL; }
    return d;
}

extern "C" sdd_tensor *sdd_cu_dropout(sdd_ctx *c, sdd_tensor *x, float p, uint64_t key)
{
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    const size_t m = sdd_numel(x);
    const size_t per_row = x->n[0] == c->B ? m / (size_t)c->B : 0;
    float *mask = out ? sdd_cu_dropout_mask(c, key, m, per_row, p) : NULL;
    if (!mask) return NULL;
    if (m) SDD_LAUNCH(k_mul, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(x), mask, out->x, m);
    if (sdd_cu_launched(c, "dropout")) return NULL;
    cu_ew_node *n = ew_record(c, dropout_bwd, x, NULL, out);
    if (!n) return NULL;
    if (EW_RECORDED(n)) n->mask = mask;
    return out;
}

/* ---- batch expansion, node concat / slice ---- */

static void expand_bwd(sdd_ctx *c, void *vn)
{
    cu_ew_node *n = (cu_ew_node *)vn;
    if (!n->out->g) return;
    const size_t per = sdd_numel(n->a);
    if (n->a->pidx < 0) {
        float *g = sdd_grad_of(c, n->a);
        if (g) sdd_cu_rowsum(c, n->out->g, 0, n->out->n[0], per, g);
        return;
    }
    for (int s = 0; s < c->nseg; s++) {
        float *g = sdd_pgrad(c, n->a, s);
        if (g && sdd_cu_rowsum(c, n->out->g, sdd_ctx_seg_begin(c, s), c->seg_end[s], per, g)) return;
    }
}

int sdd_cu_record_expand(sdd_ctx *c, sdd_tensor *p, sdd_tensor *out) { return ew_record(c, expand_bwd, p, NULL, out) ? 0 : -1; }

/* in[b, i0 + r, :] += out[b, o0 + r, :] for r < len (the gradient of a row copy) */
__global__ void k_rows_add(float *in, int Nin, int i0, const float *out, int Nout, int o0, int len, int D, int B)
{
    const size_t total = (size_t)B * len * D;
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int d = (int)(i % D), r = (int)((i / D) % len), b = (int)(i / ((size_t)D * len));
    in[((size_t)b * Nin + i0 + r) * D + d] += out[((size_t)b * Nout + o0 + r) * D + d];
}

static void concat_bwd(sdd_ctx *c, void *vn)
{
    cu_ew_node *n = (cu_ew_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->out->n[0], N = (int)n->out->n[1], D = (int)n->out->n[2];
    sdd_tensor *src[2] = { n->a, n->b };
    int off = 0;
    for (int i = 0; i < 2; i++) {
        const int Ni = (int)src[i]->n[1];
        if (sdd_wants(c, src[i])) {
            float *d = sdd_grad_of(c, src[i]);
            if (!d) return;
            const size_t m = (size_t)B * Ni * D;
            if (m) SDD_LAUNCH(k_rows_add, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(d, Ni, 0, n->out->g, N, off, Ni, D, B);
        }
        off += Ni;
    }
    sdd_cu_launched(c, "concat backward");
}

int sdd_cu_record_concat(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out) { return ew_record(c, concat_bwd, a, b, out) ? 0 : -1; }

static void slice_bwd(sdd_ctx *c, void *vn)
{
    cu_ew_node *n = (cu_ew_node *)vn;
    if (!n->out->g) return;
    float *d = sdd_grad_of(c, n->a);
    if (!d) return;
    const int B = (int)n->a->n[0], N = (int)n->a->n[1], D = (int)n->a->n[2];
    const size_t m = (size_t)B * n->k1 * D;
    if (m) SDD_LAUNCH(k_rows_add, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(d, N, n->k0, n->out->g, n->k1, 0, n->k1, D, B);
    sdd_cu_launched(c, "slice backward");
}

int sdd_cu_record_slice(sdd_ctx *c, sdd_tensor *x, int start, int len, sdd_tensor *out)
{
    cu_ew_node *n = ew_record(c, slice_bwd, x, NULL, out);
    if (!n) return -1;
    if (EW_RECORDED(n)) { n->k0 = start; n->k1 = len; }
    return 0;
}

/* ---- linear and bmm (cuBLAS, column-major views of the row-major tensors) ---- */

typedef struct { sdd_tensor *x, *w, *b, *out; int64_t rows_per_sample; } cu_linear_node;

static void linear_bwd(sdd_ctx *c, void *vn)
{
    cu_linear_node *n = (cu_linear_node *)vn;
    if (!n->out->g) return;
    const int dout = (int)n->w->n[0], din = (int)n->w->n[1];
    const int64_t R = (int64_t)(sdd_numel(n->x) / din);
    const float *dy = n->out->g, *x = SDD_DEV(n->x), *w = SDD_DEV(n->w);
    const float one = 1.0f;
    if (sdd_wants(c, n->x)) {
        float *dx = sdd_grad_of(c, n->x);
        if (!dx) return;
        /* dx^T (din, R) += w^T (din, dout) @ dy^T (dout, R) */
        if (sdd_cu_blas_ok(c, sdd_cu_sgemm(CUBLAS_OP_N, CUBLAS_OP_N, din, (int)R, dout, &one, w, din, dy, dout,
                                          &one, dx, din), "linear backward (input)")) return;
    }
    for (int s = 0; s < c->nseg; s++) {
        float *gw = sdd_pgrad(c, n->w, s), *gb = n->b ? sdd_pgrad(c, n->b, s) : NULL;
        const int64_t r0 = (int64_t)sdd_ctx_seg_begin(c, s) * n->rows_per_sample, r1 = (int64_t)c->seg_end[s] * n->rows_per_sample;
        if (gw && r1 > r0)   /* gw^T (din, dout) += x_s^T (din, Rs) @ dy_s (Rs, dout) */
            if (sdd_cu_blas_ok(c, sdd_cu_sgemm(CUBLAS_OP_N, CUBLAS_OP_T, din, dout, (int)(r1 - r0), &one, x + r0 * din, din,
                                              dy + r0 * dout, dout, &one, gw, din), "linear backward (weight)")) return;
        if (gb && sdd_cu_rowsum(c, dy, r0, r1, (size_t)dout, gb)) return;
    }
}

int sdd_cu_record_linear(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, sdd_tensor *out)
{
    out->rg = sdd_wants(c, x) || sdd_wants(c, w) || (b && sdd_wants(c, b));
    if (!c->grad || !out->rg) return 0;
    cu_linear_node *n = (cu_linear_node *)sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->x = x; n->w = w; n->b = b; n->out = out;
    n->rows_per_sample = (int64_t)(sdd_numel(x) / w->n[1]) / x->n[0];
    return sdd_tape_push(c, linear_bwd, n);
}

static void bmm_bwd(sdd_ctx *c, void *vn)
{
    cu_ew_node *n = (cu_ew_node *)vn;
    if (!n->out->g) return;
    const int B = (int)n->a->n[0], N = (int)n->a->n[1], M = (int)n->a->n[2], D = (int)n->b->n[2];
    float *da = sdd_wants(c, n->a) ? sdd_grad_of(c, n->a) : NULL;
    float *dx = sdd_wants(c, n->b) ? sdd_grad_of(c, n->b) : NULL;
    if (c->failed) return;
    const float one = 1.0f, *A = SDD_DEV(n->a), *X = SDD_DEV(n->b), *dY = n->out->g;
    if (da)   /* dA_b^T (M, N) += X_b (M, D) @ dY_b^T (D, N) */
        if (sdd_cu_blas_ok(c, sdd_cu_sgemm_sb(CUBLAS_OP_T, CUBLAS_OP_N, M, N, D, &one, X, D, (long long)M * D,
                                                        dY, D, (long long)N * D, &one, da, M, (long long)N * M, B), "bmm backward (A)")) return;
    if (dx)   /* dX_b^T (D, M) += dY_b^T (D, N) @ A_b (N, M) */
        sdd_cu_blas_ok(c, sdd_cu_sgemm_sb(CUBLAS_OP_N, CUBLAS_OP_T, D, M, N, &one, dY, D, (long long)N * D,
                                                    A, M, (long long)N * M, &one, dx, D, (long long)M * D, B), "bmm backward (X)");
}

int sdd_cu_record_bmm(sdd_ctx *c, sdd_tensor *a, sdd_tensor *x, sdd_tensor *out) { return ew_record(c, bmm_bwd, a, x, out) ? 0 : -1; }

/* ---- weighted cross entropy ---- */

typedef struct { double wsum[SDD_MAX_PATHS]; float cw[8]; int seg_end[SDD_MAX_PATHS]; int nseg; } ce_consts;

/* one thread: p (B, K) softmax, out (nseg) per-segment weighted means, in double as the CPU */
__global__ void k_ce_fwd(const float *z, const int *y, int B, int K, ce_consts cc, float *p, float *out)
{
    if (blockIdx.x * blockDim.x + threadIdx.x != 0) return;
    double num[SDD_MAX_PATHS] = { 0.0, 0.0, 0.0, 0.0 };
    for (int b = 0; b < B; b++) {
        const float *zb = z + (size_t)b * K;
        double mx = zb[0];
        for (int k = 1; k < K; k++) if (zb[k] > mx) mx = zb[k];
        double se = 0.0;
        for (int k = 0; k < K; k++) se += exp(zb[k] - mx);
        const double lse = mx + log(se);
        for (int k = 0; k < K; k++) p[(size_t)b * K + k] = (float)exp(zb[k] - lse);
        int s = 0;
        while (s < cc.nseg - 1 && b >= cc.seg_end[s]) s++;
        num[s] += cc.cw[y[b]] * (lse - zb[y[b]]);
    }
    for (int s = 0; s < cc.nseg; s++) out[s] = (float)(cc.wsum[s] > 0 ? num[s] / cc.wsum[s] : 0.0);
}

__global__ void k_ce_bwd(const float *p, const int *y, const float *g, int B, int K, ce_consts cc, float *dz)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * K) return;
    const int b = (int)(i / K), k = (int)(i % K);
    int s = 0;
    while (s < cc.nseg - 1 && b >= cc.seg_end[s]) s++;
    const double f = g[s] * cc.cw[y[b]] / cc.wsum[s];
    dz[i] += (float)(f * (p[i] - (k == y[b])));
}

typedef struct { sdd_tensor *z, *out; float *p; int *y; ce_consts cc; } cu_ce_node;

static void ce_bwd(sdd_ctx *c, void *vn)
{
    cu_ce_node *n = (cu_ce_node *)vn;
    if (!n->out->g) return;
    float *dz = sdd_grad_of(c, n->z);
    if (!dz) return;
    const int B = (int)n->z->n[0], K = (int)n->z->n[1];
    SDD_LAUNCH(k_ce_bwd, sdd_cu_blocks((size_t)B * K), SDD_CU_THREADS, 0)(n->p, n->y, n->out->g, B, K, n->cc, dz);
    sdd_cu_launched(c, "cross entropy backward");
}

/* the weight sums come from the host labels; the loss values stay on the device */
extern "C" sdd_tensor *sdd_cu_ce_weighted(sdd_ctx *c, sdd_tensor *logits, const int *labels, const float *cw, float *wsum)
{
    const int B = (int)logits->n[0], K = (int)logits->n[1];
    int64_t ns = c->nseg;
    sdd_tensor *out = sdd_tensor_new(c, 1, &ns);
    cu_ce_node *n = (cu_ce_node *)sdd_scratch0(c, sizeof *n);
    float *p = (float *)sdd_dscratch(c, (size_t)B * K * sizeof(float));
    int *y = (int *)sdd_dscratch(c, (size_t)B * sizeof(int));
    if (!out || !n || !p || !y) return NULL;
    for (int k = 0; k < K; k++) n->cc.cw[k] = cw ? cw[k] : 1.0f;
    n->cc.nseg = c->nseg;
    for (int s = 0; s < c->nseg; s++) n->cc.seg_end[s] = c->seg_end[s];
    for (int b = 0; b < B; b++) {
        if (labels[b] < 0 || labels[b] >= K) { sdd_err_set(&c->err, "cross entropy: label %d of sample %d out of range", labels[b], b); c->failed = 1; return NULL; }
        n->cc.wsum[sdd_seg_of(c, b)] += n->cc.cw[labels[b]];
    }
    for (int s = 0; s < c->nseg; s++) if (wsum) wsum[s] = (float)n->cc.wsum[s];
    if (sdd_cu_copy(y, labels, (size_t)B * sizeof(int), 1, &c->err)) { c->failed = 1; return NULL; }
    SDD_LAUNCH(k_ce_fwd, 1, 1, 0)(SDD_DEV(logits), y, B, K, n->cc, p, out->x);
    if (sdd_cu_launched(c, "cross entropy")) return NULL;
    n->z = logits; n->out = out; n->p = p; n->y = y;
    out->rg = sdd_wants(c, logits);
    if (c->grad && out->rg && sdd_tape_push(c, ce_bwd, n)) return NULL;
    return out;
}
