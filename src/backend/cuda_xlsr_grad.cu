/* Tape entries and backward kernels of the sequence ops' CUDA forward
 * (cuda_xlsr.cu): LayerNorm, GELU, transpose, Conv1d (weight norm included),
 * multi-head attention and softmax pooling. Same semantics as the CPU
 * backward functions in src/ops (layernorm.c, conv1d.c, attention_mh.c):
 * parameter gradients per segment into the device gradient buffers
 * (sdd_pgrad). Per-row reductions (LayerNorm, softmax) run SDD_CU_LANES
 * threads per row in the CPU's precision, the lanes' shares added in lane
 * order; column sums over many rows go through fixed chunks of rows (the
 * LayerNorm parameter gradients here, Conv1d bias gradients through
 * sdd_cu_rowsum), the weight-norm dot products through sdd_cu_colprod; the
 * GEMMs are cuBLAS's. No atomics. */
#include "backend/cuda_xlsr.h"
#include <math.h>

/* ---- LayerNorm ---- */

typedef struct { sdd_tensor *x, *g, *b, *out; float *mean, *istd; int64_t R, D; } ln_node;

/* lane p of row r (see SDD_CU_LANES): partial sums of dh = dy gamma and
 * dh xh with xh = (x - m) is over the lane's entries, in double */
__global__ void k_ln_bwd_part(const float *x, const float *dy, const float *g, const float *fm, const float *fis, int64_t R, int64_t D,
                              double *pa, double *pb)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)R * SDD_CU_LANES) return;
    const int64_t r = (int64_t)(i / SDD_CU_LANES), p = (int64_t)(i % SDD_CU_LANES);
    const float *xr = x + r * D, *dyr = dy + r * D;
    const double m = fm[r], is = fis[r];
    double a = 0, b = 0;
    for (int64_t d = p; d < D; d += SDD_CU_LANES) {
        const double dh = (double)dyr[d] * (g ? g[d] : 1.0f), xh = (xr[d] - m) * is;
        a += dh;
        b += dh * xh;
    }
    pa[i] = a;
    pb[i] = b;
}

/* per row: s1 = mean_d dh, s2 = mean_d dh xh (the lanes in order) */
__global__ void k_ln_bwd_rows(const double *pa, const double *pb, int64_t R, int64_t D, double *s1, double *s2)
{
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= R) return;
    s1[r] = sdd_cu_lanes_sum(pa + r * SDD_CU_LANES) / (double)D;
    s2[r] = sdd_cu_lanes_sum(pb + r * SDD_CU_LANES) / (double)D;
}

/* dx += is (dh - s1 - xh s2) per entry; column d over x, rows over y (sdd_cu_rows_grid) */
__global__ void k_ln_bwd_dx(const float *x, const float *dy, const float *g, const float *fm, const float *fis, const double *s1,
                            const double *s2, int64_t R, int64_t D, float *dx)
{
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    const float gd = g ? g[d] : 1.0f;
    for (int64_t r = blockIdx.y; r < R; r += gridDim.y) {
        const size_t i = (size_t)r * D + d;
        const double m = fm[r], is = fis[r];
        const double dh = (double)dy[i] * gd, xh = (x[i] - m) * is;
        dx[i] += (float)(is * (dh - s1[r] - xh * s2[r]));
    }
}

/* gamma and beta gradients of one segment's rows [r0, r1), in two fixed-order
 * stages (no atomics): part (nch, 2, D) holds, per chunk j of `chunk` rows
 * and column d (threads over d, chunks over y), the chunk's sums in row order
 * of dy xhat (xhat in float, the product in double, as the CPU) and of dy;
 * then per column the chunks in order, added to gg / gb (either may be NULL) */
__global__ void k_ln_pgrad_part(const float *x, const float *dy, const float *fm, const float *fis, int64_t r0, int64_t r1, int64_t D,
                                int64_t chunk, double *part)
{
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y;
    if (d >= D) return;
    const int64_t a = r0 + j * chunk, e = a + chunk < r1 ? a + chunk : r1;
    double sg = 0, sb = 0;
    for (int64_t r = a; r < e; r++) {
        const float g = dy[r * D + d];
        sg += (double)g * ((x[r * D + d] - fm[r]) * fis[r]);
        sb += g;
    }
    part[2 * j * D + d] = sg;
    part[(2 * j + 1) * D + d] = sb;
}

__global__ void k_ln_pgrad_sum(const double *part, int64_t nch, int64_t D, float *gg, float *gb)
{
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    double sg = 0, sb = 0;
    for (int64_t j = 0; j < nch; j++) {
        sg += part[2 * j * D + d];
        sb += part[(2 * j + 1) * D + d];
    }
    if (gg) gg[d] += (float)sg;
    if (gb) gb[d] += (float)sb;
}

static void ln_bwd(sdd_ctx *c, void *vn)
{
    ln_node *n = (ln_node *)vn;
    if (!n->out->g) return;
    const int64_t R = n->R, D = n->D;
    const float *x = SDD_DEV(n->x), *dy = n->out->g, *gm = n->g ? SDD_DEV(n->g) : NULL;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (sdd_wants(c, n->x) && !dx) return;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    if (dx && R) {
        const size_t nl = (size_t)R * SDD_CU_LANES;
        double *s = (double *)sdd_dscratch(c, (size_t)R * 2 * sizeof(double)), *pa = (double *)sdd_dscratch(c, nl * 2 * sizeof(double));
        if (!s || !pa) return;
        SDD_LAUNCH(k_ln_bwd_part, sdd_cu_blocks(nl), SDD_CU_THREADS, 0)(x, dy, gm, n->mean, n->istd, R, D, pa, pa + nl);
        SDD_LAUNCH(k_ln_bwd_rows, sdd_cu_blocks((size_t)R), SDD_CU_THREADS, 0)(pa, pa + nl, R, D, s, s + R);
        SDD_LAUNCH(k_ln_bwd_dx, sdd_cu_rows_grid(R, D), SDD_CU_THREADS, 0)(x, dy, gm, n->mean, n->istd, s, s + R, R, D, dx);
        if (sdd_cu_launched(c, "layernorm backward")) return;
    }
    const int64_t rps = R / c->B;
    for (int s = 0; s < c->nseg; s++) {
        float *gg = n->g ? sdd_pgrad(c, n->g, s) : NULL, *gb = n->b ? sdd_pgrad(c, n->b, s) : NULL;
        const int64_t r0 = (int64_t)sdd_ctx_seg_begin(c, s) * rps, r1 = (int64_t)c->seg_end[s] * rps;
        if ((!gg && !gb) || r1 <= r0 || !D) continue;
        /* chunks of 32 rows (at most 65535 of them: the grid's y) */
        int64_t chunk = 32;
        if ((r1 - r0 + chunk - 1) / chunk > 65535) chunk = (r1 - r0 + 65534) / 65535;
        const int64_t nch = (r1 - r0 + chunk - 1) / chunk;
        const sdd_arena_mark pk = sdd_arena_get_mark(&c->darena);
        double *part = (double *)sdd_dscratch(c, (size_t)(nch * 2 * D) * sizeof(double));
        if (!part) return;
        SDD_LAUNCH(k_ln_pgrad_part, dim3(sdd_cu_blocks((size_t)D), (unsigned)nch), SDD_CU_THREADS, 0)(x, dy, n->mean, n->istd, r0, r1, D,
                                                                                                  chunk, part);
        SDD_LAUNCH(k_ln_pgrad_sum, sdd_cu_blocks((size_t)D), SDD_CU_THREADS, 0)(part, nch, D, gg, gb);
        if (sdd_cu_launched(c, "layernorm parameter gradients")) return;
        sdd_arena_release(&c->darena, pk);
    }
    sdd_arena_release(&c->darena, mk);
}

int sdd_cu_record_layernorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta, float *fm, float *fis, int64_t R,
                            int64_t D, sdd_tensor *out)
{
    out->rg = sdd_wants(c, x) || (gamma && sdd_wants(c, gamma)) || (beta && sdd_wants(c, beta));
    if (!c->grad || !out->rg) return 0;
    ln_node *n = (ln_node *)sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->x = x; n->g = gamma; n->b = beta; n->out = out; n->mean = fm; n->istd = fis; n->R = R; n->D = D;
    return sdd_tape_push(c, ln_bwd, n);
}

/* ---- GELU, transpose ---- */

typedef struct { sdd_tensor *x, *out; } un_node;

__global__ void k_gelu_bwd(const float *x, const float *dy, float *dx, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float v = x[i];
    dx[i] += dy[i] * (0.5f * (1.0f + erff(v * 0.70710678118654752f)) + v * 0.39894228040143268f * expf(-0.5f * v * v));
}

static void gelu_bwd(sdd_ctx *c, void *vn)
{
    un_node *n = (un_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->x);
    if (!dx) return;
    const size_t m = sdd_numel(n->x);
    if (m) SDD_LAUNCH(k_gelu_bwd, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(n->x), n->out->g, dx, m);
    sdd_cu_launched(c, "GELU backward");
}

static void transpose_bwd(sdd_ctx *c, void *vn)
{
    un_node *n = (un_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->x);
    if (!dx) return;
    /* dout (B, D, N) back to (B, N, D) */
    sdd_cu_tr12(c, n->out->g, dx, n->x->n[0], n->x->n[2], n->x->n[1], 1);
}

static int un_record(sdd_ctx *c, sdd_backward_fn fn, sdd_tensor *x, sdd_tensor *out)
{
    out->rg = sdd_wants(c, x);
    if (!c->grad || !out->rg) return 0;
    un_node *n = (un_node *)sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->x = x; n->out = out;
    return sdd_tape_push(c, fn, n);
}

int sdd_cu_record_gelu(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out) { return un_record(c, gelu_bwd, x, out); }

int sdd_cu_record_transpose(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out) { return un_record(c, transpose_bwd, x, out); }

/* ---- Conv1d ---- */

typedef struct { sdd_tensor *x, *w, *g, *b, *out; sdd_cu_c1 geo; } c1_node;

/* dx (nb, T, Cin) += col2im(dcols (G, nb, To, K*Cg)): one thread per dx
 * entry gathers its taps in k order (the CPU's); channels over x, times over
 * y and samples over z (grid-stride), 32-bit index math (see k_c1_im2col) */
__global__ void k_c1_col2im(const float *dcols, int nb, int T, int Cin, int Cg, int K, int To, int stride, int pad_left, float *dx)
{
    const int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= Cin) return;
    const int gi = ch / Cg, ci = ch - gi * Cg, KC = K * Cg;
    for (int b = blockIdx.z; b < nb; b += gridDim.z) {
        const float *dc = dcols + ((size_t)gi * nb + b) * To * KC + ci;
        float *dxb = dx + (size_t)b * T * Cin + ch;
        for (int ti = blockIdx.y; ti < T; ti += gridDim.y) {
            float v = dxb[(size_t)ti * Cin];
            for (int k = 0; k < K; k++) {
                const int u = ti + pad_left - k;
                if (u < 0 || u % stride) continue;
                const int t = u / stride;
                if (t >= To) continue;
                v += dc[(size_t)t * KC + k * Cg];
            }
            dxb[(size_t)ti * Cin] = v;
        }
    }
}

/* dw (Cout, Cg, K) (add 0: =, 1: +=) dwr (Cout, K, Cg) rearranged */
__global__ void k_c1_wgrad(const float *dwr, int64_t Cout, int64_t Cg, int64_t K, int add, float *dw)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)(Cout * Cg * K)) return;
    const int64_t k = (int64_t)(i % K), ci = (int64_t)((i / K) % Cg), co = (int64_t)(i / ((size_t)K * Cg));
    const float v = dwr[(co * K + k) * Cg + ci];
    dw[i] = add ? dw[i] + v : v;
}

/* weight norm: dg_k = (sum dw v) / ||v_k|| in place of the dot products; gg += dg */
__global__ void k_wn_dg(double *dg, const double *nrm, int64_t K, float *gg)
{
    const int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= K) return;
    dg[k] /= nrm[k];
    if (gg) gg[k] += (float)dg[k];
}

/* dv = (g / ||v||) (dw - (dg_k / ||v||) v), dw (Cout, Cg, K) like v */
__global__ void k_wn_dv(const float *dw, const float *v, const float *g, const double *nrm, const double *dg, size_t n, int64_t K,
                        float *gw)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const int64_t k = (int64_t)(i % K);
    const double sc = g[k] / nrm[k];
    gw[i] += (float)(sc * ((double)dw[i] - dg[k] / nrm[k] * v[i]));
}

static void c1_bwd(sdd_ctx *c, void *vn)
{
    c1_node *n = (c1_node *)vn;
    if (!n->out->g) return;
    sdd_cu_prof_point("before conv1d backward (host, unlabelled)");
    const sdd_cu_c1 *g = &n->geo;
    const int64_t KC = g->K * g->Cg, To = g->To;
    const size_t wn = (size_t)g->Cout * KC;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    if (sdd_wants(c, n->x) && !dx) return;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    const int64_t chunk = sdd_cu_c1_chunk(g, g->B);
    float *wr = (float *)sdd_dscratch(c, wn * sizeof(float)), *dwr = (float *)sdd_dscratch(c, wn * sizeof(float));
    float *dwv = n->g ? (float *)sdd_dscratch(c, wn * sizeof(float)) : NULL;
    double *nrm = (double *)sdd_dscratch(c, (size_t)g->K * 2 * sizeof(double));
    float *cols = (float *)sdd_dscratch(c, (size_t)chunk * g->G * To * KC * sizeof(float));
    float *dcols = dx ? (float *)sdd_dscratch(c, (size_t)chunk * g->G * To * KC * sizeof(float)) : NULL;
    if (!wr || !dwr || !nrm || !cols || (dx && !dcols) || (n->g && !dwv)) return;
    double *dg = nrm + g->K;
    const float *x = SDD_DEV(n->x), *w = SDD_DEV(n->w), *wg = n->g ? SDD_DEV(n->g) : NULL, *dy = n->out->g;
    if (sdd_cu_c1_weight(c, g, w, wg, wr, nrm)) return;
    const float one = 1.0f, zero = 0.0f;
    for (int s = 0; s < c->nseg; s++) {
        float *gw = sdd_pgrad(c, n->w, s), *gg = n->g ? sdd_pgrad(c, n->g, s) : NULL, *gb = n->b ? sdd_pgrad(c, n->b, s) : NULL;
        const int wgrad = gw || gg;
        const int64_t sb = sdd_ctx_seg_begin(c, s), se = c->seg_end[s];
        if (wgrad && sdd_cu_fill(dwr, wn, 0.0f, 0, &c->err)) { c->failed = 1; return; }
        for (int64_t b0 = sb; b0 < se && (wgrad || dx) && To; b0 += chunk) {
            const int64_t nb = se - b0 < chunk ? se - b0 : chunk, rows = nb * To;
            const float *dyc = dy + (size_t)b0 * To * g->Cout;
            if (wgrad) {
                if (sdd_cu_c1_im2col(c, g, x + (size_t)b0 * g->T * g->Cin, nb, cols)) return;
                /* per group, column-major: dW_g^T (KC, Cog) += cols_g^T (KC, rows) @ dY_g (rows, Cog) over the chunk's (sample, t) rows */
                cublasStatus_t st = sdd_cu_sgemm_sb(CUBLAS_OP_N, CUBLAS_OP_T, (int)KC, (int)g->Cog, (int)rows, &one,
                                                              cols, (int)KC, (long long)(rows * KC), dyc, (int)g->Cout, (long long)g->Cog,
                                                              &one, dwr, (int)KC, (long long)(g->Cog * KC), (int)g->G);
                if (sdd_cu_blas_ok(c, st, "conv1d weight gradient")) return;
            }
            if (dx) {
                /* per group, column-major: dcols_g^T (KC, rows) = W_g^T (KC, Cog) @ dY_g^T (Cog, rows) */
                cublasStatus_t st = sdd_cu_sgemm_sb(CUBLAS_OP_N, CUBLAS_OP_N, (int)KC, (int)rows, (int)g->Cog, &one,
                                                              wr, (int)KC, (long long)(g->Cog * KC), dyc, (int)g->Cout, (long long)g->Cog,
                                                              &zero, dcols, (int)KC, (long long)(rows * KC), (int)g->G);
                if (sdd_cu_blas_ok(c, st, "conv1d input gradient")) return;
                int th;
                const dim3 grid = sdd_cu_c1_grid(g->Cin, g->T, nb, &th);
                SDD_LAUNCH(k_c1_col2im, grid, th, 0)(dcols, (int)nb, (int)g->T, (int)g->Cin, (int)g->Cg, (int)g->K, (int)To, g->stride,
                                                     g->pad_left, dx + (size_t)b0 * g->T * g->Cin);
                if (sdd_cu_launched(c, "conv1d col2im")) return;
            }
        }
        if (gb && sdd_cu_rowsum(c, dy, sb * To, se * To, (size_t)g->Cout, gb)) return;
        if (!wgrad) continue;
        if (!n->g) SDD_LAUNCH(k_c1_wgrad, sdd_cu_blocks(wn), SDD_CU_THREADS, 0)(dwr, g->Cout, g->Cg, g->K, 1, gw);
        else {
            /* w = g v / ||v||: dg_k = sum dw v / ||v_k||; dv = (g/||v||) (dw - (dg_k / ||v||) v) */
            SDD_LAUNCH(k_c1_wgrad, sdd_cu_blocks(wn), SDD_CU_THREADS, 0)(dwr, g->Cout, g->Cg, g->K, 0, dwv);
            if (sdd_cu_colprod(c, dwv, w, g->Cout * g->Cg, g->K, 0, dg)) return;
            SDD_LAUNCH(k_wn_dg, sdd_cu_blocks((size_t)g->K), SDD_CU_THREADS, 0)(dg, nrm, g->K, gg);
            if (gw) SDD_LAUNCH(k_wn_dv, sdd_cu_blocks(wn), SDD_CU_THREADS, 0)(dwv, w, wg, nrm, dg, wn, g->K, gw);
        }
        if (sdd_cu_launched(c, "conv1d weight gradient")) return;
    }
    sdd_arena_release(&c->darena, mk);
}

int sdd_cu_record_conv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *wn_g, sdd_tensor *b, const sdd_cu_c1 *g,
                         sdd_tensor *out)
{
    out->rg = sdd_wants(c, x) || sdd_wants(c, w) || (wn_g && sdd_wants(c, wn_g)) || (b && sdd_wants(c, b));
    if (!c->grad || !out->rg) return 0;
    c1_node *n = (c1_node *)sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->x = x; n->w = w; n->g = wn_g; n->b = b; n->out = out; n->geo = *g;
    return sdd_tape_push(c, c1_bwd, n);
}

/* ---- multi-head attention ---- */

typedef struct { sdd_tensor *q, *k, *v, *out; float *P, *mask, scale; int H; } mha_node;

/* per row of dP (rows, T), with p the row of P and f the dropout factors (or
 * NULL): r = dP f; dS = (float)(p (r - sum_j r p)) * scale, in place (the
 * CPU's precision), over SDD_CU_LANES lanes per row: each lane masks its
 * entries and sums its share of r p in double, then forms the row's sum from
 * the lanes' in lane order and writes its entries' dS */
__global__ void k_softmax_bwd_part(float *dP, const float *P, const float *f, int64_t rows, int64_t T, double *part)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * SDD_CU_LANES) return;
    const int64_t r = (int64_t)(i / SDD_CU_LANES), q = (int64_t)(i % SDD_CU_LANES);
    float *dr = dP + r * T;
    const float *p = P + r * T, *m = f ? f + r * T : NULL;
    double s = 0;
    for (int64_t j = q; j < T; j += SDD_CU_LANES) {
        if (m) dr[j] = m[j] != 0.0f ? dr[j] * m[j] : 0.0f;
        s += (double)dr[j] * p[j];
    }
    part[i] = s;
}

__global__ void k_softmax_bwd_apply(float *dP, const float *P, int64_t rows, int64_t T, float scale, const double *part)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * SDD_CU_LANES) return;
    const int64_t r = (int64_t)(i / SDD_CU_LANES), q = (int64_t)(i % SDD_CU_LANES);
    const double s = sdd_cu_lanes_sum(part + r * SDD_CU_LANES);
    float *dr = dP + r * T;
    const float *p = P + r * T;
    for (int64_t j = q; j < T; j += SDD_CU_LANES) dr[j] = (float)(p[j] * (dr[j] - s)) * scale;
}

static void mha_bwd(sdd_ctx *c, void *vn)
{
    mha_node *n = (mha_node *)vn;
    if (!n->out->g) return;
    const int64_t B = n->q->n[0], T = n->q->n[1], D = n->q->n[2], H = n->H, Dh = D / H;
    float *dq = sdd_wants(c, n->q) ? sdd_grad_of(c, n->q) : NULL;
    float *dk = sdd_wants(c, n->k) ? sdd_grad_of(c, n->k) : NULL;
    float *dv = sdd_wants(c, n->v) ? sdd_grad_of(c, n->v) : NULL;
    if ((sdd_wants(c, n->q) && !dq) || (sdd_wants(c, n->k) && !dk) || (sdd_wants(c, n->v) && !dv)) return;
    const size_t np = (size_t)B * H * T * T;
    if (!np) return;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    float *dP = (float *)sdd_dscratch(c, np * sizeof(float));
    float *Pd = n->mask ? (float *)sdd_dscratch(c, np * sizeof(float)) : NULL;
    if (!dP || (n->mask && !Pd)) return;
    if (Pd) SDD_LAUNCH(k_mul, sdd_cu_blocks(np), SDD_CU_THREADS, 0)(n->P, n->mask, Pd, np);
    if (sdd_cu_launched(c, "attention backward")) return;
    const float *Pu = Pd ? Pd : n->P, *dO = n->out->g, *qd = SDD_DEV(n->q), *kd = SDD_DEV(n->k), *vd = SDD_DEV(n->v);
    const long long sT = T * D, sP = H * T * T, sPh = T * T;
    /* dV_bh (Tk, Dh) += Pu_bh^T dO_bh; column-major dV_bh^T (Dh, Tk) += dO_bh^T (Dh, Tq) @ Pu_bh (Tq, Tk) */
    if (dv && sdd_cu_bh_gemm(c, CUBLAS_OP_N, CUBLAS_OP_T, (int)Dh, (int)T, (int)T, 1.0f, dO, (int)D, sT, Dh, Pu, (int)T, sP, sPh, 1.0f, dv,
                             (int)D, sT, Dh, (int)B, (int)H, "attention backward (V)")) return;
    /* dP_bh = dO_bh V_bh^T; column-major dP_bh^T (Tk, Tq) = V_bh (Tk, Dh) @ dO_bh^T (Dh, Tq) */
    if ((dq || dk) && sdd_cu_bh_gemm(c, CUBLAS_OP_T, CUBLAS_OP_N, (int)T, (int)T, (int)Dh, 1.0f, vd, (int)D, sT, Dh, dO, (int)D, sT, Dh, 0.0f,
                                     dP, (int)T, sP, sPh, (int)B, (int)H, "attention backward (P)")) return;
    if (!dq && !dk) { sdd_arena_release(&c->darena, mk); return; }
    const size_t nl = (size_t)(B * H * T) * SDD_CU_LANES;
    double *part = (double *)sdd_dscratch(c, nl * sizeof(double));
    if (!part) return;
    SDD_LAUNCH(k_softmax_bwd_part, sdd_cu_blocks(nl), SDD_CU_THREADS, 0)(dP, n->P, n->mask, B * H * T, T, part);
    SDD_LAUNCH(k_softmax_bwd_apply, sdd_cu_blocks(nl), SDD_CU_THREADS, 0)(dP, n->P, B * H * T, T, n->scale, part);
    if (sdd_cu_launched(c, "attention softmax backward")) return;
    /* dQ_bh += dS_bh K_bh; column-major dQ_bh^T (Dh, Tq) += K_bh^T (Dh, Tk) @ dS_bh^T (Tk, Tq) */
    if (dq && sdd_cu_bh_gemm(c, CUBLAS_OP_N, CUBLAS_OP_N, (int)Dh, (int)T, (int)T, 1.0f, kd, (int)D, sT, Dh, dP, (int)T, sP, sPh, 1.0f, dq,
                             (int)D, sT, Dh, (int)B, (int)H, "attention backward (Q)")) return;
    /* dK_bh += dS_bh^T Q_bh; column-major dK_bh^T (Dh, Tk) += Q_bh^T (Dh, Tq) @ dS_bh (Tq, Tk) */
    if (dk && sdd_cu_bh_gemm(c, CUBLAS_OP_N, CUBLAS_OP_T, (int)Dh, (int)T, (int)T, 1.0f, qd, (int)D, sT, Dh, dP, (int)T, sP, sPh, 1.0f, dk,
                             (int)D, sT, Dh, (int)B, (int)H, "attention backward (K)")) return;
    sdd_arena_release(&c->darena, mk);
}

int sdd_cu_record_mha(sdd_ctx *c, sdd_tensor *q, sdd_tensor *k, sdd_tensor *v, float *P, float *mask, float scale, int H,
                      sdd_tensor *out)
{
    out->rg = sdd_wants(c, q) || sdd_wants(c, k) || sdd_wants(c, v);
    if (!c->grad || !out->rg) return 0;
    mha_node *n = (mha_node *)sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->q = q; n->k = k; n->v = v; n->out = out; n->P = P; n->mask = mask; n->scale = scale; n->H = H;
    return sdd_tape_push(c, mha_bwd, n);
}

/* ---- softmax-attention pooling ---- */

typedef struct { sdd_tensor *x, *w, *out; int axis; } sp_node;

/* one thread per pooled vector (b, j, ch): with p = softmax(w) recomputed as in the forward,
 * s = sum_i p_i dy x_i (double); dx_i += dy p_i; dw_i += (float)(p_i (dy x_i - s)) */
__global__ void k_softmax_pool_bwd(const float *x, const float *w, const float *dout, int64_t B, int64_t C, int64_t J, int64_t L,
                                   int axis, float *dx, float *dw)
{
    const size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= (size_t)(B * J * C)) return;
    size_t base;
    int64_t st;
    float mx;
    const float iz = sdd_cu_sp_window(w, o, C, J, L, axis, &base, &st, &mx);
    const float dy = dout[o];
    double s = 0;
    for (int64_t i = 0; i < L; i++) s += (double)(expf(w[base + i * st] - mx) * iz) * dy * x[base + i * st];
    for (int64_t i = 0; i < L; i++) {
        const size_t e = base + i * st;
        const float p = expf(w[e] - mx) * iz;
        if (dx) dx[e] += dy * p;
        if (dw) dw[e] += (float)(p * ((double)dy * x[e] - s));
    }
}

static void sp_bwd(sdd_ctx *c, void *vn)
{
    sp_node *n = (sp_node *)vn;
    if (!n->out->g) return;
    float *dx = sdd_wants(c, n->x) ? sdd_grad_of(c, n->x) : NULL;
    float *dw = sdd_wants(c, n->w) ? sdd_grad_of(c, n->w) : NULL;
    if ((sdd_wants(c, n->x) && !dx) || (sdd_wants(c, n->w) && !dw)) return;
    const int64_t B = n->x->n[0], C = n->x->n[1], J = n->axis == 3 ? n->x->n[2] : n->x->n[3], L = n->axis == 3 ? n->x->n[3] : n->x->n[2];
    const size_t m = (size_t)(B * J * C);
    if (m) SDD_LAUNCH(k_softmax_pool_bwd, sdd_cu_blocks(m), SDD_CU_THREADS, 0)(SDD_DEV(n->x), SDD_DEV(n->w), n->out->g, B, C, J, L,
                                                                             n->axis, dx, dw);
    sdd_cu_launched(c, "softmax pool backward");
}

int sdd_cu_record_softmax_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, int axis, sdd_tensor *out)
{
    out->rg = sdd_wants(c, x) || sdd_wants(c, w);
    if (!c->grad || !out->rg) return 0;
    sp_node *n = (sp_node *)sdd_scratch(c, sizeof *n);
    if (!n) return -1;
    n->x = x; n->w = w; n->out = out; n->axis = axis;
    return sdd_tape_push(c, sp_bwd, n);
}
