/* CUDA forward kernels of the sequence ops (ops/seq.h) that the XLS-R front
 * end and the XLSR-AASIST back end use: LayerNorm, GELU, the (B, N, D)
 * transpose, Conv1d (strided, grouped, padded, optional weight norm; im2col
 * + cuBLAS SGEMM), multi-head attention (one batched cuBLAS GEMM over all
 * samples and heads for Q K^T and for P V, a row softmax) and
 * softmax-attention pooling. Each op mirrors its CPU version in src/ops, in
 * its precision: the per-row reductions (LayerNorm statistics, softmax sums)
 * run SDD_CU_LANES threads per row (coalesced reads), each summing its share
 * in double, the shares then added in lane order; the weight-norm norms are
 * column sums in double over fixed chunks of rows (sdd_cu_colprod) and the
 * GEMMs sum in cuBLAS's order, so outputs agree with the CPU's to float
 * rounding, not bits, and repeat to the bit run to run. Nothing uses
 * atomics. In training the ops record their backward (cuda_xlsr_grad.cu);
 * attention dropout factors are drawn on the device with the CPU's RNG. */
#include "backend/cuda_internal.h"
#include <math.h>
extern "C" {
#include "ops/internal.h"
}
#include "backend/cuda_xlsr.h"

#define IM2COL_BYTES ((size_t)512 << 20)   /* largest conv1d im2col buffer per GEMM batch */

/* ---- LayerNorm over the last dim ---- */

/* lane p of row r (thread r SDD_CU_LANES + p) sums entries d = p, p +
 * SDD_CU_LANES, ... of row r of x (R, D) in double: adjacent threads read
 * adjacent floats. Without `first` the values themselves; with it (the first
 * pass's partials) the squared deviations from the row's mean, which each
 * lane forms from those partials in lane order (the row's 32 doubles, read
 * by the whole warp at once) */
__global__ void k_ln_part(const float *x, int64_t R, int64_t D, const double *first, double *part)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)R * SDD_CU_LANES) return;
    const int64_t r = (int64_t)(i / SDD_CU_LANES), p = (int64_t)(i % SDD_CU_LANES);
    const float *xr = x + r * D;
    double s = 0;
    if (!first)
        for (int64_t d = p; d < D; d += SDD_CU_LANES) s += xr[d];
    else {
        const double m = sdd_cu_lanes_sum(first + r * SDD_CU_LANES) / (double)D;
        for (int64_t d = p; d < D; d += SDD_CU_LANES) s += (xr[d] - m) * (xr[d] - m);
    }
    part[i] = s;
}

/* per row: mean and 1/sqrt(var + eps) from the two passes' partials (the
 * CPU's two-pass formula in double), with float copies for the backward */
__global__ void k_ln_finish(const double *p1, const double *p2, int64_t R, int64_t D, float eps, double *dm, double *dis, float *fm,
                            float *fis)
{
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= R) return;
    const double m = sdd_cu_lanes_sum(p1 + r * SDD_CU_LANES) / (double)D;
    const double is = 1.0 / sqrt(sdd_cu_lanes_sum(p2 + r * SDD_CU_LANES) / (double)D + eps);
    dm[r] = m;
    dis[r] = is;
    fm[r] = (float)m;
    fis[r] = (float)is;
}

/* out = (x - m) is gamma + beta; column d over x, rows over y (sdd_cu_rows_grid) */
__global__ void k_ln_apply(const float *x, int64_t R, int64_t D, const double *dm, const double *dis, const float *g,
                           const float *b, float *out)
{
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    const float gd = g ? g[d] : 1.0f, bd = b ? b[d] : 0.0f;
    for (int64_t r = blockIdx.y; r < R; r += gridDim.y) {
        const size_t i = (size_t)r * D + d;
        out[i] = (float)((x[i] - dm[r]) * dis[r] * gd + bd);
    }
}

extern "C" sdd_tensor *sdd_cu_layernorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta, float eps)
{
    const int64_t D = x->n[x->nd - 1], R = (int64_t)(sdd_numel(x) / (size_t)D);
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    double *dm = (double *)sdd_dscratch(c, (size_t)(R + 1) * 2 * sizeof(double));
    float *fm = (float *)sdd_dscratch(c, (size_t)(R + 1) * 2 * sizeof(float));
    if (!out || !dm || !fm) return NULL;
    double *dis = dm + R + 1;
    float *fis = fm + R + 1;
    if (R) {
        /* the lanes' partials are temporaries: the last allocations, released after the statistics */
        const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
        const size_t nl = (size_t)R * SDD_CU_LANES;
        double *p1 = (double *)sdd_dscratch(c, nl * 2 * sizeof(double));
        if (!p1) return NULL;
        SDD_LAUNCH(k_ln_part, sdd_cu_blocks(nl), SDD_CU_THREADS, 0)(SDD_DEV(x), R, D, (const double *)NULL, p1);
        SDD_LAUNCH(k_ln_part, sdd_cu_blocks(nl), SDD_CU_THREADS, 0)(SDD_DEV(x), R, D, p1, p1 + nl);
        SDD_LAUNCH(k_ln_finish, sdd_cu_blocks((size_t)R), SDD_CU_THREADS, 0)(p1, p1 + nl, R, D, eps, dm, dis, fm, fis);
        sdd_arena_release(&c->darena, mk);
        SDD_LAUNCH(k_ln_apply, sdd_cu_rows_grid(R, D), SDD_CU_THREADS, 0)(SDD_DEV(x), R, D, dm, dis, gamma ? SDD_DEV(gamma) : NULL,
                                                                          beta ? SDD_DEV(beta) : NULL, out->x);
    }
    if (sdd_cu_launched(c, "layernorm")) return NULL;
    return sdd_cu_record_layernorm(c, x, gamma, beta, fm, fis, R, D, out) ? NULL : out;
}

/* ---- GELU, transpose ---- */

__global__ void k_gelu(const float *x, size_t n, float *y)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

extern "C" sdd_tensor *sdd_cu_gelu(sdd_ctx *c, sdd_tensor *x)
{
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    const size_t n = sdd_numel(x);
    if (n) SDD_LAUNCH(k_gelu, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(SDD_DEV(x), n, out->x);
    return sdd_cu_launched(c, "GELU") || sdd_cu_record_gelu(c, x, out) ? NULL : out;
}

/* dst (B, D, N) (= or +=) src (B, N, D) transposed per sample; one thread per dst entry */
__global__ void k_tr12(const float *src, float *dst, int64_t B, int64_t N, int64_t D, int add)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)(B * N * D)) return;
    const int64_t n = (int64_t)(i % N), d = (int64_t)((i / N) % D), b = (int64_t)(i / ((size_t)N * D));
    const float v = src[(b * N + n) * D + d];
    dst[i] = add ? dst[i] + v : v;
}

int sdd_cu_tr12(sdd_ctx *c, const float *src, float *dst, int64_t B, int64_t N, int64_t D, int add)
{
    const size_t n = (size_t)(B * N * D);
    if (n) SDD_LAUNCH(k_tr12, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(src, dst, B, N, D, add);
    return sdd_cu_launched(c, "transpose");
}

extern "C" sdd_tensor *sdd_cu_transpose12(sdd_ctx *c, sdd_tensor *x)
{
    sdd_tensor *out = sdd_new3(c, x->n[0], x->n[2], x->n[1]);
    if (!out) return NULL;
    if (sdd_cu_tr12(c, SDD_DEV(x), out->x, x->n[0], x->n[1], x->n[2], 0)) return NULL;
    return sdd_cu_record_transpose(c, x, out) ? NULL : out;
}

/* ---- Conv1d, channel-last: im2col (G, nb, To, K*Cg), then per group out_g (nb To, Cog) += cols_g W_g^T ---- */

/* column sums of products in two fixed-order stages (deterministic, no
 * atomics): part[j, k] = sum over the rows of chunk j of a[r, k] b[r, k] in
 * double; out[k] = the chunks' sums added in chunk order (sqrt with root) */
__global__ void k_colprod_part(const float *a, const float *b, int64_t rows, int64_t per, int64_t chunk, double *part)
{
    const int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y;
    if (k >= per) return;
    const int64_t r1 = (j + 1) * chunk < rows ? (j + 1) * chunk : rows;
    double s = 0;
    for (int64_t r = j * chunk; r < r1; r++) s += (double)a[r * per + k] * b[r * per + k];
    part[j * per + k] = s;
}

__global__ void k_colprod_sum(const double *part, int64_t nch, int64_t per, int root, double *out)
{
    const int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= per) return;
    double s = 0;
    for (int64_t j = 0; j < nch; j++) s += part[j * per + k];
    out[k] = root ? sqrt(s) : s;
}

int sdd_cu_colprod(sdd_ctx *c, const float *a, const float *b, int64_t rows, int64_t per, int root, double *out)
{
    int64_t chunk = 256;
    if ((rows + chunk - 1) / chunk > 65535) chunk = (rows + 65534) / 65535;
    const int64_t nch = rows > 0 ? (rows + chunk - 1) / chunk : 1;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    double *part = (double *)sdd_dscratch(c, (size_t)(nch * per) * sizeof(double));
    if (!part) return -1;
    if (rows > 0) SDD_LAUNCH(k_colprod_part, dim3(sdd_cu_blocks((size_t)per), (unsigned)nch), SDD_CU_THREADS, 0)(a, b, rows, per, chunk, part);
    else if (sdd_cu_fill((float *)part, (size_t)(2 * per), 0.0f, 0, &c->err)) { c->failed = 1; return -1; }
    SDD_LAUNCH(k_colprod_sum, sdd_cu_blocks((size_t)per), SDD_CU_THREADS, 0)(part, nch, per, root, out);
    if (sdd_cu_launched(c, "column sums")) return -1;
    sdd_arena_release(&c->darena, mk);
    return 0;
}

/* wr (G, Cog, K, Cg) = (Cout, K, Cg) from w (Cout, Cg, K), times g[k] / nrm[k] with weight norm */
__global__ void k_c1_weight(const float *w, const float *g, const double *nrm, int64_t Cout, int64_t Cg, int64_t K, float *wr)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)(Cout * K * Cg)) return;
    const int64_t ci = (int64_t)(i % Cg), k = (int64_t)((i / Cg) % K), co = (int64_t)(i / ((size_t)Cg * K));
    float v = w[(co * Cg + ci) * K + k];
    if (g) v = (float)(g[k] * (double)v / nrm[k]);
    wr[i] = v;
}

/* cols (G, nb, To, K*Cg): threads over a row's K*Cg entries (x), rows t over
 * y and (group, sample) over z, both grid-stride; the per-element index math
 * is 32-bit (one division by Cg), as 64-bit divisions per element cost the
 * conv2d im2col a quarter of an AASIST step on an H200 */
__global__ void k_c1_im2col(const float *x, int nb, int T, int Cin, int G, int Cg, int K, int To, int stride, int pad_left,
                            float *cols)
{
    const int KC = K * Cg, kc = blockIdx.x * blockDim.x + threadIdx.x;
    if (kc >= KC) return;
    const int k = kc / Cg, ci = kc - k * Cg;
    for (int z = blockIdx.z; z < G * nb; z += gridDim.z) {
        const int gi = z / nb, b = z - gi * nb;
        const float *xb = x + (size_t)b * T * Cin + (size_t)gi * Cg + ci;
        float *cz = cols + (size_t)z * To * KC + kc;
        for (int t = blockIdx.y; t < To; t += gridDim.y) {
            const int ti = t * stride + k - pad_left;
            cz[(size_t)t * KC] = (ti >= 0 && ti < T) ? xb[(size_t)ti * Cin] : 0.0f;
        }
    }
}

unsigned sdd_cu_grid_cap(size_t n)
{
    const size_t g = (n + SDD_CU_THREADS - 1) / SDD_CU_THREADS;
    return (unsigned)(g > 65535 * 16 ? 65535 * 16 : g);
}

int sdd_cu_c1_weight(sdd_ctx *c, const sdd_cu_c1 *g, const float *w, const float *wn_g, float *wr, double *nrm)
{
    /* ||v_k|| over the (Cout, Cg) entries of tap k */
    if (wn_g && sdd_cu_colprod(c, w, w, g->Cout * g->Cg, g->K, 1, nrm)) return -1;
    const size_t wn = (size_t)g->Cout * g->K * g->Cg;
    SDD_LAUNCH(k_c1_weight, sdd_cu_blocks(wn), SDD_CU_THREADS, 0)(w, wn_g, nrm, g->Cout, g->Cg, g->K, wr);
    return sdd_cu_launched(c, "conv1d weight");
}

/* a (x, y, z) grid for k_c1_im2col / k_c1_col2im: x covers n entries in
 * blocks of *threads (a multiple of 32, at most SDD_CU_THREADS), y and z
 * capped at the hardware's 65535 (the kernels loop over the rest) */
dim3 sdd_cu_c1_grid(int64_t n, int64_t ny, int64_t nz, int *threads)
{
    int th = (int)((n + 31) / 32 * 32);
    if (th > SDD_CU_THREADS) th = SDD_CU_THREADS;
    if (th < 32) th = 32;
    *threads = th;
    return dim3((unsigned)((n + th - 1) / th), (unsigned)(ny < 1 ? 1 : ny > 65535 ? 65535 : ny),
                (unsigned)(nz < 1 ? 1 : nz > 65535 ? 65535 : nz));
}

int sdd_cu_c1_im2col(sdd_ctx *c, const sdd_cu_c1 *g, const float *x, int64_t nb, float *cols)
{
    /* 32-bit index math: each extent (not their products) below 2^31 */
    if (g->T >= INT32_MAX / 2) {
        sdd_err_set(&c->err, "conv1d: %lld time steps are too many for the CUDA kernels", (long long)g->T);
        c->failed = 1;
        return -1;
    }
    int th;
    const dim3 grid = sdd_cu_c1_grid(g->K * g->Cg, g->To, nb * g->G, &th);
    if (g->To > 0) SDD_LAUNCH(k_c1_im2col, grid, th, 0)((const float *)x, (int)nb, (int)g->T, (int)g->Cin, (int)g->G, (int)g->Cg, (int)g->K,
                                                       (int)g->To, g->stride, g->pad_left, cols);
    return sdd_cu_launched(c, "conv1d im2col");
}

int64_t sdd_cu_c1_chunk(const sdd_cu_c1 *g, int64_t B)
{
    const size_t per = (size_t)g->G * g->To * g->K * g->Cg * sizeof(float);
    int64_t chunk = (int64_t)(IM2COL_BYTES / (per ? per : 1));
    if (chunk < 1) chunk = 1;
    return chunk > B ? B : chunk;
}

extern "C" sdd_tensor *sdd_cu_conv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *wn_g, sdd_tensor *b, const sdd_conv1d_opts *o,
                                     int64_t To)
{
    sdd_cu_prof_point("before conv1d (host, unlabelled)");
    sdd_cu_c1 g;
    g.B = x->n[0]; g.T = x->n[1]; g.Cin = x->n[2]; g.Cout = w->n[0]; g.Cg = w->n[1]; g.K = w->n[2];
    g.G = o->groups > 0 ? o->groups : 1; g.Cog = g.Cout / g.G; g.To = To; g.stride = o->stride; g.pad_left = o->pad_left;
    sdd_tensor *out = sdd_new3(c, g.B, To, g.Cout);
    if (!out) return NULL;
    const int64_t KC = g.K * g.Cg, chunk = sdd_cu_c1_chunk(&g, g.B);
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    float *wr = (float *)sdd_dscratch(c, (size_t)g.Cout * KC * sizeof(float));
    double *nrm = (double *)sdd_dscratch(c, (size_t)g.K * sizeof(double));
    float *cols = (float *)sdd_dscratch(c, (size_t)chunk * g.G * To * KC * sizeof(float));
    if (!wr || !nrm || !cols) return NULL;
    if (sdd_cu_c1_weight(c, &g, SDD_DEV(w), wn_g ? SDD_DEV(wn_g) : NULL, wr, nrm)) return NULL;
    const size_t total = (size_t)g.B * To * g.Cout;
    if (total) SDD_LAUNCH(k_fill_bias, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(out->x, b ? SDD_DEV(b) : NULL, 1, (int)g.Cout, total);
    if (sdd_cu_launched(c, "conv1d bias")) return NULL;
    const float one = 1.0f;
    for (int64_t b0 = 0; b0 < g.B && total; b0 += chunk) {
        const int64_t nb = g.B - b0 < chunk ? g.B - b0 : chunk;
        const int64_t rows = nb * To;
        if (sdd_cu_c1_im2col(c, &g, SDD_DEV(x) + (size_t)b0 * g.T * g.Cin, nb, cols)) return NULL;
        /* per group, column-major: out_g^T (Cog, rows) += W_g (Cog, KC) @ cols_g^T (KC, rows) over the chunk's (sample, t) rows */
        cublasStatus_t st = sdd_cu_sgemm_sb(CUBLAS_OP_T, CUBLAS_OP_N, (int)g.Cog, (int)rows, (int)KC, &one,
                                                      wr, (int)KC, (long long)(g.Cog * KC), cols, (int)KC, (long long)(rows * KC), &one,
                                                      out->x + (size_t)b0 * To * g.Cout, (int)g.Cout, (long long)g.Cog, (int)g.G);
        if (sdd_cu_blas_ok(c, st, "conv1d GEMM")) return NULL;
    }
    sdd_arena_release(&c->darena, mk);
    return sdd_cu_record_conv1d(c, x, w, wn_g, b, &g, out) ? NULL : out;
}

/* ---- multi-head attention ---- */

/* softmax of each row of S (rows, T) in place, in the CPU's precision (max,
 * expf terms, their double sum, times (float)(1/sum)) over SDD_CU_LANES
 * lanes per row (thread r SDD_CU_LANES + p takes entries p, p + SDD_CU_LANES,
 * ...): the lanes' maxima, then each lane's exp terms and partial sum, then
 * each lane scales its entries by the row's sum (the lanes in order) */
__global__ void k_softmax_max(const float *S, int64_t rows, int64_t T, float *pm)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * SDD_CU_LANES) return;
    const int64_t r = (int64_t)(i / SDD_CU_LANES), p = (int64_t)(i % SDD_CU_LANES);
    const float *sr = S + r * T;
    float mx = p < T ? sr[p] : -INFINITY;
    for (int64_t j = p + SDD_CU_LANES; j < T; j += SDD_CU_LANES) mx = sr[j] > mx ? sr[j] : mx;
    pm[i] = mx;
}

__global__ void k_softmax_exp(float *S, int64_t rows, int64_t T, const float *pm, double *part)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * SDD_CU_LANES) return;
    const int64_t r = (int64_t)(i / SDD_CU_LANES), p = (int64_t)(i % SDD_CU_LANES);
    const float *m = pm + r * SDD_CU_LANES;
    float mx = m[0];
    for (int q = 1; q < SDD_CU_LANES; q++) mx = m[q] > mx ? m[q] : mx;
    float *sr = S + r * T;
    double z = 0;
    for (int64_t j = p; j < T; j += SDD_CU_LANES) { sr[j] = expf(sr[j] - mx); z += sr[j]; }
    part[i] = z;
}

__global__ void k_softmax_scale(float *S, int64_t rows, int64_t T, const double *part)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * SDD_CU_LANES) return;
    const int64_t r = (int64_t)(i / SDD_CU_LANES), p = (int64_t)(i % SDD_CU_LANES);
    const float iz = (float)(1.0 / sdd_cu_lanes_sum(part + r * SDD_CU_LANES));
    float *sr = S + r * T;
    for (int64_t j = p; j < T; j += SDD_CU_LANES) sr[j] *= iz;
}

/* the CPU's attention-dropout factors on the device: f[i] = 1/(1-p) when
 * sdd_rng_uniform(key, i) >= p, else 0 (core/rng.c's SplitMix64-style
 * finaliser run twice, the top 24 bits as the float) */
__device__ __forceinline__ uint64_t d_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

__global__ void k_drop_factors(uint64_t key, size_t n, float p, float scale, float *f)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const uint64_t u = d_mix64(d_mix64(key ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL)) + key);
        f[i] = (float)(u >> 40) * (1.0f / 16777216.0f) >= p ? scale : 0.0f;
    }
}

int sdd_cu_drop_factors(sdd_ctx *c, uint64_t key, size_t n, float p, float *f)
{
    if (n) SDD_LAUNCH(k_drop_factors, sdd_cu_grid_cap(n), SDD_CU_THREADS, 0)(key, n, p, p < 1.0f ? 1.0f / (1.0f - p) : 0.0f, f);
    return sdd_cu_launched(c, "dropout factors");
}

/* pointer arrays of the (sample, head) operands: entry i = b H + h of pa/pb/pc
 * is A + b sab + h sah (likewise B, C), i < n */
__global__ void k_bh_ptrs(const float *A, long long sab, long long sah, const float *Bm, long long sbb, long long sbh, float *C,
                          long long scb, long long sch, int H, int n, const float **pa, const float **pb, float **pc)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const long long b = i / H, h = i - b * H;
    pa[i] = A + b * sab + h * sah;
    pb[i] = Bm + b * sbb + h * sbh;
    pc[i] = C + b * scb + h * sch;
}

/* C_bh = alpha op(A_bh) op(B_bh) + beta C_bh for nb samples x H heads in ONE
 * cuBLAS call (the column-major views of the row-major head slices): the
 * heads of a sample are equally spaced and so are the samples, but the two
 * spacings differ (b T D + h Dh), so the batch goes through device pointer
 * arrays built by k_bh_ptrs in the arena (released after the call: later
 * work on the one stream runs after it). One sample is a strided batch. */
int sdd_cu_bh_gemm(sdd_ctx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                   const float *A, int lda, long long sab, long long sah, const float *Bm, int ldb, long long sbb, long long sbh,
                   float beta, float *C, int ldc, long long scb, long long sch, int nb, int H, const char *what)
{
    if (nb < 1 || H < 1) return 0;
    if (nb == 1) {
        cublasStatus_t st = sdd_cu_sgemm_sb(ta, tb, m, n, k, &alpha, A, lda, sah, Bm, ldb, sbh, &beta, C, ldc, sch, H);
        return sdd_cu_blas_ok(c, st, what);
    }
    const int nbh = nb * H;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    const float **pa = (const float **)sdd_dscratch(c, (size_t)nbh * sizeof(float *));
    const float **pb = (const float **)sdd_dscratch(c, (size_t)nbh * sizeof(float *));
    float **pc = (float **)sdd_dscratch(c, (size_t)nbh * sizeof(float *));
    if (!pa || !pb || !pc) return -1;
    SDD_LAUNCH(k_bh_ptrs, sdd_cu_blocks((size_t)nbh), SDD_CU_THREADS, 0)(A, sab, sah, Bm, sbb, sbh, C, scb, sch, H, nbh, pa, pb, pc);
    if (sdd_cu_launched(c, "attention GEMM pointers")) return -1;
    cublasStatus_t st = sdd_cu_sgemm_b(ta, tb, m, n, k, &alpha, pa, lda, pb, ldb, &beta, pc, ldc, nbh);
    if (sdd_cu_blas_ok(c, st, what)) return -1;
    sdd_arena_release(&c->darena, mk);
    return 0;
}

extern "C" sdd_tensor *sdd_cu_mh_attention(sdd_ctx *c, sdd_tensor *q, sdd_tensor *k, sdd_tensor *v, int H, float scale, float p_drop,
                                           uint64_t key)
{
    const int64_t B = q->n[0], T = q->n[1], D = q->n[2], Dh = D / H;
    const int drop = c->train && !c->dropout_off && p_drop > 0.0f;
    sdd_tensor *out = sdd_new3(c, B, T, D);
    const size_t np = (size_t)B * H * T * T;
    float *P = (float *)sdd_dscratch(c, (np ? np : 1) * sizeof(float));
    if (!out || !P) return NULL;
    /* the CPU's mask, element bh * T * T + i (no row mapping), as 1/(1-p) or 0 */
    float *mask = drop ? (float *)sdd_dscratch(c, (np ? np : 1) * sizeof(float)) : NULL;
    /* the dropped probabilities only feed the output product: the backward rebuilds them from P and the
     * mask, so they are the arena's last allocation and go back to it below (B H T^2 floats a layer) */
    const sdd_arena_mark pd_mark = sdd_arena_get_mark(&c->darena);
    float *Pd = drop ? (float *)sdd_dscratch(c, (np ? np : 1) * sizeof(float)) : NULL;
    if (drop && (!mask || !Pd)) return NULL;
    if (drop && sdd_cu_drop_factors(c, key, np, p_drop, mask)) return NULL;
    const float *qd = SDD_DEV(q), *kd = SDD_DEV(k), *vd = SDD_DEV(v);
    /* column-major: S_bh^T (Tk, Tq) = K_bh (Tk, Dh) @ Q_bh^T (Dh, Tq) * scale, i.e. row-major S_bh = Q_bh K_bh^T * scale */
    if (np && sdd_cu_bh_gemm(c, CUBLAS_OP_T, CUBLAS_OP_N, (int)T, (int)T, (int)Dh, scale, kd, (int)D, T * D, Dh, qd, (int)D, T * D, Dh,
                             0.0f, P, (int)T, H * T * T, T * T, (int)B, (int)H, "attention scores")) return NULL;
    const size_t nl = (size_t)(B * H * T) * SDD_CU_LANES;
    const sdd_arena_mark sm_mark = sdd_arena_get_mark(&c->darena);
    float *pm = (float *)sdd_dscratch(c, (nl ? nl : 1) * sizeof(float));
    double *zp = (double *)sdd_dscratch(c, (nl ? nl : 1) * sizeof(double));
    if (!pm || !zp) return NULL;
    if (np) {
        SDD_LAUNCH(k_softmax_max, sdd_cu_blocks(nl), SDD_CU_THREADS, 0)(P, B * H * T, T, pm);
        SDD_LAUNCH(k_softmax_exp, sdd_cu_blocks(nl), SDD_CU_THREADS, 0)(P, B * H * T, T, pm, zp);
        SDD_LAUNCH(k_softmax_scale, sdd_cu_blocks(nl), SDD_CU_THREADS, 0)(P, B * H * T, T, zp);
    }
    sdd_arena_release(&c->darena, sm_mark);   /* the lanes' partials: later work on the one stream runs after the softmax */
    if (drop && np) SDD_LAUNCH(k_mul, sdd_cu_blocks(np), SDD_CU_THREADS, 0)(P, mask, Pd, np);
    if (sdd_cu_launched(c, "attention softmax")) return NULL;
    const float *Pu = drop ? Pd : P;
    /* column-major: O_bh^T (Dh, Tq) = V_bh^T (Dh, Tk) @ P_bh^T (Tk, Tq) */
    if (np && sdd_cu_bh_gemm(c, CUBLAS_OP_N, CUBLAS_OP_N, (int)Dh, (int)T, (int)T, 1.0f, vd, (int)D, T * D, Dh, Pu, (int)T, H * T * T,
                             T * T, 0.0f, out->x, (int)D, T * D, Dh, (int)B, (int)H, "attention output")) return NULL;
    if (drop) sdd_arena_release(&c->darena, pd_mark);   /* later work on the one stream runs after the products */
    return sdd_cu_record_mha(c, q, k, v, P, mask, scale, H, out) ? NULL : out;
}

/* ---- softmax-attention pooling ---- */

/* one thread per output (b, j, ch) of (B, J, C): sum_i x_i softmax(w)_i over the vector at base, stride st,
 * the softmax as the CPU's (expf terms rounded to float, double sum, times (float)(1/sum)), the sum in float in order */
__global__ void k_softmax_pool(const float *x, const float *w, int64_t B, int64_t C, int64_t J, int64_t L, int axis, float *out)
{
    const size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= (size_t)(B * J * C)) return;
    size_t base;
    int64_t st;
    float mx;
    const float iz = sdd_cu_sp_window(w, o, C, J, L, axis, &base, &st, &mx);
    float s = 0.0f;
    for (int64_t i = 0; i < L; i++) s += x[base + i * st] * (expf(w[base + i * st] - mx) * iz);
    out[o] = s;
}

extern "C" sdd_tensor *sdd_cu_softmax_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, int axis)
{
    const int64_t B = x->n[0], C = x->n[1], J = axis == 3 ? x->n[2] : x->n[3], L = axis == 3 ? x->n[3] : x->n[2];
    sdd_tensor *out = sdd_new3(c, B, J, C);
    if (!out) return NULL;
    const size_t n = (size_t)(B * J * C);
    if (n) SDD_LAUNCH(k_softmax_pool, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(SDD_DEV(x), SDD_DEV(w), B, C, J, L, axis, out->x);
    if (sdd_cu_launched(c, "softmax pool")) return NULL;
    return sdd_cu_record_softmax_pool(c, x, w, axis, out) ? NULL : out;
}
