/* CUDA forward kernels of the encoder and elementwise ops (eval mode; in
 * training the ops record their backward, see cuda_grad.cu and
 * cuda_conv_grad.cu, and BatchNorm / the residual block switch to their
 * training versions there): the
 * sinc front end, conv2d (im2col + cuBLAS SGEMM, FP32), max pooling, the
 * |.|-max node reductions, BatchNorm with running statistics, the fused
 * residual block, SELU, add, max, batch expansion, node concat/slice, linear
 * and bmm (cuBLAS). Each op mirrors its CPU version in src/ops (same shapes,
 * same NaN behaviour of the max selections, BatchNorm arithmetic in double);
 * sums run in another order, so values agree to float rounding, not bits. */
#include "backend/cuda_internal.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>
extern "C" {
#include "ops/internal.h"
}

#define SINC_MAX_TAPS (70 * 129)
#define SINC_TW 128                   /* pooled outputs per block */
#define IM2COL_BYTES ((size_t)1 << 30)   /* largest im2col buffer per GEMM batch */

__constant__ float c_filt[SINC_MAX_TAPS];

/* out (B, 1, Ho, Wo): per pooled column w, the 3 x 3 window over filters
 * 3h..3h+2 and times 3w..3w+2 of |conv|; each tap sum in order k = 0..K-1
 * with FMA, like the CPU GEMM, and the CPU's max order (NaN wins). */
__global__ void k_sinc(const float *wave, int64_t L, int Ho, int64_t Wo, int K, float *out)
{
    SDD_SHARED_DYN(float, s);
    const int b = blockIdx.y;
    const int64_t w0 = (int64_t)blockIdx.x * SINC_TW;
    const int64_t t0 = w0 * 3;
    const int span = SINC_TW * 3 + K - 1;
    const float *xb = wave + (size_t)b * L;
    for (int i = threadIdx.x; i < span; i += blockDim.x) s[i] = (t0 + i < L) ? xb[t0 + i] : 0.0f;
    __syncthreads();
    const int64_t w = w0 + threadIdx.x;
    if (w >= Wo) return;
    const float *sx = s + 3 * threadIdx.x;
    for (int h = 0; h < Ho; h++) {
        float y[3][3];
        for (int r = 0; r < 3; r++) {
            const float *f = c_filt + (3 * h + r) * K;
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f;
            for (int k = 0; k < K; k++) {
                const float fk = f[k];
                a0 = fmaf(fk, sx[k], a0);
                a1 = fmaf(fk, sx[k + 1], a1);
                a2 = fmaf(fk, sx[k + 2], a2);
            }
            y[r][0] = a0; y[r][1] = a1; y[r][2] = a2;
        }
        float m = 0.0f;
        for (int j = 0; j < 3; j++)
            for (int r = 0; r < 3; r++) {
                const float a = fabsf(y[r][j]);
                if (a > m || isnan(a)) m = a;
            }
        out[((size_t)b * Ho + h) * Wo + w] = m;
    }
}

extern "C" sdd_tensor *sdd_cu_sinc_front(sdd_ctx *c, sdd_tensor *wave, const float *filt, int C, int K)
{
    const int B = (int)wave->n[0];
    const int64_t L = wave->n[1], T = L - K + 1;
    if (T < 3) { sdd_err_set(&c->err, "sinc front end: input of %lld samples is shorter than %d", (long long)L, K + 2); c->failed = 1; return NULL; }
    if (C * K > SINC_MAX_TAPS) return sdd_cu_unsupported(c, "a sinc filter bank larger than 70 x 129");
    const int Ho = C / 3;
    const int64_t Wo = T / 3;
    sdd_tensor *out = sdd_new4(c, B, 1, Ho, Wo);
    if (!out) return NULL;
    if (cudaMemcpyToSymbol(c_filt, filt, (size_t)Ho * 3 * K * sizeof(float)) != cudaSuccess) {
        sdd_cu_launched(c, "sinc filters");
        return NULL;
    }
    dim3 grid((unsigned)((Wo + SINC_TW - 1) / SINC_TW), (unsigned)B);
    SDD_LAUNCH_SYNC(k_sinc, grid, SINC_TW, (SINC_TW * 3 + K - 1) * sizeof(float))(wave->x, L, Ho, Wo, K, out->x);
    return sdd_cu_launched(c, "sinc front end") ? NULL : out;
}

/* ---- conv2d: im2col (nb, K, Ho*Wo) then out_b (Cout, N) = w (Cout, K) @ cols_b (K, N) ---- */

/* One thread per (position q, row k = (ci, i, j), sample b): grid (ceil(N / threads),
 * Kd, nb), 32-bit index arithmetic (one sample's N = Ho * Wo < 2^31, checked by the
 * callers). kmajor 0: cols (nb, Kd, N), the forward's per-sample GEMM operand;
 * kmajor 1: cols (Kd, nb, N), the weight gradient's operand, whose rows run over
 * (sample, position) so that one GEMM reduces over the whole batch. */
__global__ void k_im2col2(const float *x, int Cin, int H, int W, int kh, int kw, int ph, int pw, int Ho, int Wo, int kmajor, float *cols)
{
    const int N = Ho * Wo;
    const int q = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (q >= N) return;
    const int k = (int)blockIdx.y, b = (int)blockIdx.z, Kd = (int)gridDim.y, nb = (int)gridDim.z;
    const int j = k % kw, i = (k / kw) % kh, ci = k / (kw * kh);
    const int h = q / Wo + i - ph, w = q % Wo + j - pw;
    const size_t o = kmajor ? ((size_t)k * nb + b) * N + q : ((size_t)b * Kd + k) * N + q;
    cols[o] = (h >= 0 && h < H && w >= 0 && w < W) ? x[(((size_t)b * Cin + ci) * H + h) * W + w] : 0.0f;
}

int sdd_cu_im2col(sdd_ctx *c, const sdd_conv_geom *g, int nb, const float *x, int kmajor, float *cols)
{
    const size_t N = (size_t)g->Ho * g->Wo, Kd = (size_t)g->Cin * g->kh * g->kw;
    if (N > 0x7fffffff || Kd > 65535 || nb > 65535) {
        sdd_err_set(&c->err, "conv2d: im2col of %zu positions x %zu taps x %d samples is beyond this kernel's grid", N, Kd, nb);
        c->failed = 1;
        return -1;
    }
    if (!N || !Kd || nb < 1) return 0;
    const dim3 grid((unsigned)((N + SDD_CU_THREADS - 1) / SDD_CU_THREADS), (unsigned)Kd, (unsigned)nb);
    SDD_LAUNCH(k_im2col2, grid, SDD_CU_THREADS, 0)(x, g->Cin, g->H, g->W, g->kh, g->kw, g->ph, g->pw, g->Ho, g->Wo, kmajor, cols);
    return sdd_cu_launched(c, kmajor ? "conv2d backward (im2col)" : "im2col");
}

__global__ void k_fill_bias(float *out, const float *bias, size_t per_ch, int C, size_t total)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < total) out[idx] = bias ? bias[(idx / per_ch) % C] : 0.0f;
}

/* Direct convolution for kernels up to 3 wide (every AASIST conv), with no
 * im2col buffer: a thread computes DC_C output channels x DC_Q consecutive
 * positions of one output row, reading its input row segment once per
 * (ci, i) and each weight once (the same address for the whole block: a
 * broadcast load), DC_C * DC_Q * kw FMAs per DC_Q + 2 + DC_C * kw loads.
 * Sums run over ci, i, j in order. Grid (ceil(Ho ceil(Wo / DC_Q) / 128),
 * Cout / DC_C, B), 128 threads; Cout % DC_C == 0. */
#define DC_Q 8
#define DC_C 8
#define DC_THREADS 128

__global__ void k_conv_direct(const float *x, const float *w, const float *bias, int Cin, int H, int W, int kh, int kw, int ph, int pw,
                              int Ho, int Wo, int accum, float *out)
{
    const int ngw = (Wo + DC_Q - 1) / DC_Q;
    const int t = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (t >= Ho * ngw) return;
    const int ho = t / ngw, w0 = (t % ngw) * DC_Q, co0 = (int)blockIdx.y * DC_C, b = (int)blockIdx.z, Cout = (int)gridDim.y * DC_C;
    const int Kd = Cin * kh * kw;
    float acc[DC_C][DC_Q];
    SDD_UNROLL
    for (int c = 0; c < DC_C; c++) {
        const float bv = bias ? bias[co0 + c] : 0.0f;
        SDD_UNROLL
        for (int q = 0; q < DC_Q; q++) acc[c][q] = bv;
    }
    const float *xb = x + (size_t)b * Cin * H * W;
    for (int ci = 0; ci < Cin; ci++)
        for (int i = 0; i < kh; i++) {
            const int h = ho + i - ph;
            if (h < 0 || h >= H) continue;
            const float *xr = xb + ((size_t)ci * H + h) * W;
            float xs[DC_Q + 2];
            SDD_UNROLL
            for (int u = 0; u < DC_Q + 2; u++) {
                const int ww = w0 - pw + u;
                xs[u] = ww >= 0 && ww < W ? xr[ww] : 0.0f;
            }
            const float *wk = w + (size_t)co0 * Kd + (ci * kh + i) * kw;
            SDD_UNROLL
            for (int j = 0; j < 3; j++) {
                if (j >= kw) break;
                SDD_UNROLL
                for (int c = 0; c < DC_C; c++) {
                    const float wv = wk[(size_t)c * Kd + j];
                    SDD_UNROLL
                    for (int q = 0; q < DC_Q; q++) acc[c][q] = fmaf(wv, xs[q + j], acc[c][q]);
                }
            }
        }
    float *o = out + ((size_t)b * Cout + co0) * Ho * Wo + (size_t)ho * Wo + w0;
    SDD_UNROLL
    for (int c = 0; c < DC_C; c++)
        SDD_UNROLL
        for (int q = 0; q < DC_Q; q++)
            if (w0 + q < Wo) o[(size_t)c * Ho * Wo + q] = accum ? o[(size_t)c * Ho * Wo + q] + acc[c][q] : acc[c][q];
}

/* SDD_CUDA_CONV=im2col keeps every convolution on im2col + cuBLAS (for comparisons) */
int sdd_cu_conv_direct_ok(const sdd_conv_geom *g, int B)
{
    const char *v = getenv("SDD_CUDA_CONV");
    const int mode = !(v && !strcmp(v, "im2col"));
    const long long rows = (long long)g->Ho * ((g->Wo + DC_Q - 1) / DC_Q);
    return mode && g->kw <= 3 && g->Cout % DC_C == 0 && g->Cout / DC_C <= 65535 && B <= 65535 && rows < 0x7fffffffLL &&
           (long long)g->Ho * g->Wo < 0x7fffffffLL;
}

/* out (B, Cout, Ho, Wo) = (accum ? out : 0) + conv(x, w) + b by the direct kernel (sdd_cu_conv_direct_ok) */
int sdd_cu_conv_direct(sdd_ctx *c, const sdd_conv_geom *g, int B, const float *x, const float *w, const float *b, int accum, float *out)
{
    const long long rows = (long long)g->Ho * ((g->Wo + DC_Q - 1) / DC_Q);
    if (rows == 0 || B == 0) return 0;
    const dim3 grid((unsigned)((rows + DC_THREADS - 1) / DC_THREADS), (unsigned)(g->Cout / DC_C), (unsigned)B);
    SDD_LAUNCH(k_conv_direct, grid, DC_THREADS, 0)(x, w, b, g->Cin, g->H, g->W, g->kh, g->kw, g->ph, g->pw, g->Ho, g->Wo, accum, out);
    return sdd_cu_launched(c, accum ? "conv2d backward (input, direct)" : "conv2d (direct)");
}

/* out (B, Cout, Ho, Wo) = conv(x, w) + b; device pointers; temporaries released */
int sdd_cu_conv_fwd(sdd_ctx *c, const sdd_conv_geom *g, int B, const float *x, const float *w, const float *b, float *out)
{
    if (sdd_cu_conv_direct_ok(g, B)) return sdd_cu_conv_direct(c, g, B, x, w, b, 0, out);
    const size_t N = (size_t)g->Ho * g->Wo, Kd = (size_t)g->Cin * g->kh * g->kw;
    const size_t per = Kd * N * sizeof(float);
    int chunk = (int)(IM2COL_BYTES / (per ? per : 1));
    if (chunk < 1) chunk = 1;
    if (chunk > B) chunk = B;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    float *cols = (float *)sdd_dscratch(c, (size_t)chunk * per);
    if (!cols) return -1;
    const size_t total = (size_t)B * g->Cout * N;
    SDD_LAUNCH(k_fill_bias, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(out, b, N, g->Cout, total);
    if (sdd_cu_launched(c, "conv2d bias")) return -1;
    const float one = 1.0f;
    for (int b0 = 0; b0 < B; b0 += chunk) {
        const int nb = B - b0 < chunk ? B - b0 : chunk;
        if (sdd_cu_im2col(c, g, nb, x + (size_t)b0 * g->Cin * g->H * g->W, 0, cols)) return -1;
        /* column-major view: out_b^T (N, Cout) = cols_b^T (N, Kd) @ w^T (Kd, Cout) */
        cublasStatus_t st = sdd_cu_sgemm_sb(CUBLAS_OP_N, CUBLAS_OP_N, (int)N, g->Cout, (int)Kd, &one,
                                                      cols, (int)N, (long long)(Kd * N), w, (int)Kd, 0, &one,
                                                      out + (size_t)b0 * g->Cout * N, (int)N, (long long)g->Cout * N, nb);
        if (sdd_cu_blas_ok(c, st, "conv2d GEMM")) return -1;
    }
    sdd_arena_release(&c->darena, mk);
    return 0;
}

extern "C" sdd_tensor *sdd_cu_conv2d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, int ph, int pw)
{
    sdd_conv_geom g;
    if (sdd_conv_geom_init(c, &g, (int)x->n[1], (int)x->n[2], (int)x->n[3], w, ph, pw)) return NULL;
    const int B = (int)x->n[0];
    sdd_tensor *out = sdd_new4(c, B, g.Cout, g.Ho, g.Wo);
    if (!out) return NULL;
    if (sdd_cu_conv_fwd(c, &g, B, SDD_DEV(x), SDD_DEV(w), b ? SDD_DEV(b) : NULL, out->x)) return NULL;
    return sdd_cu_record_conv(c, x, w, b, &g, out) ? NULL : out;
}

/* ---- pooling ---- */

/* MaxPool2d, stride = kernel; the CPU's scan order (first max wins, NaN wins);
 * with sc set the pooled value is of x + sc (the residual sum, fused) */
__global__ void k_maxpool(const float *x, const float *sc, size_t planes, int H, int W, int kh, int kw, float *out, int *ix)
{
    const int Ho = H / kh, Wo = W / kw;
    const size_t total = planes * Ho * Wo;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const int w = (int)(idx % Wo), h = (int)((idx / Wo) % Ho);
    const size_t pl = idx / ((size_t)Ho * Wo);
    const float *xp = x + pl * H * W, *sp = sc ? sc + pl * H * W : NULL;
    const int first = (h * kh) * W + w * kw;
    float m = sp ? xp[first] + sp[first] : xp[first];
    int best = first;
    for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
            const int k = (h * kh + i) * W + w * kw + j;
            const float v = sp ? xp[k] + sp[k] : xp[k];
            if (v > m || isnan(v)) { m = v; best = k; if (isnan(m)) goto done; }
        }
done:
    out[idx] = m;
    if (ix) ix[idx] = (int)(pl * H * W + best);
}

extern "C" sdd_tensor *sdd_cu_maxpool2d(sdd_ctx *c, sdd_tensor *x, int kh, int kw)
{
    const int B = (int)x->n[0], C = (int)x->n[1], H = (int)x->n[2], W = (int)x->n[3];
    sdd_tensor *out = sdd_new4(c, B, C, H / kh, W / kw);
    if (!out) return NULL;
    const size_t total = sdd_numel(out);
    if ((size_t)B * C * H * W > (size_t)INT32_MAX) return sdd_cu_unsupported(c, "maxpool2d of more than 2^31 values");
    int *ix = c->grad ? (int *)sdd_dscratch(c, (total + 1) * sizeof(int)) : NULL;
    if (c->grad && !ix) return NULL;
    if (total) SDD_LAUNCH(k_maxpool, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(SDD_DEV(x), NULL, (size_t)B * C, H, W, kh, kw, out->x, ix);
    if (sdd_cu_launched(c, "maxpool2d")) return NULL;
    return c->grad && sdd_cu_record_scatter(c, x, out, ix, 0) ? NULL : out;
}

/* out (B, N, C) node-major: max |e| along W (axis 3, N = H) or H (axis 2, N = W) */
__global__ void k_absmax(const float *e, int B, int C, int H, int W, int axis, float *out, int *ix)
{
    const int N = axis == 3 ? H : W;
    const size_t total = (size_t)B * N * C;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const int ch = (int)(idx % C), nn = (int)((idx / C) % N), b = (int)(idx / ((size_t)C * N));
    const float *p = e + ((size_t)b * C + ch) * H * W;
    const int len = axis == 3 ? W : H, stride = axis == 3 ? 1 : W;
    const float *q = axis == 3 ? p + (size_t)nn * W : p + nn;
    float m = fabsf(q[0]);
    int best = 0;
    for (int k = 1; k < len; k++) {
        const float v = fabsf(q[(size_t)k * stride]);
        if (v > m || (isnan(v) && !isnan(m))) { m = v; best = k; }
    }
    out[idx] = m;
    if (ix) ix[idx] = (int)((q - e) + (size_t)best * stride);
}

extern "C" sdd_tensor *sdd_cu_absmax_axis(sdd_ctx *c, sdd_tensor *e, int axis)
{
    const int B = (int)e->n[0], C = (int)e->n[1], H = (int)e->n[2], W = (int)e->n[3];
    sdd_tensor *out = sdd_new3(c, B, axis == 3 ? H : W, C);
    if (!out) return NULL;
    const size_t total = sdd_numel(out);
    if (sdd_numel(e) > (size_t)INT32_MAX) return sdd_cu_unsupported(c, "absmax of more than 2^31 values");
    int *ix = c->grad ? (int *)sdd_dscratch(c, (total + 1) * sizeof(int)) : NULL;
    if (c->grad && !ix) return NULL;
    if (total) SDD_LAUNCH(k_absmax, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(SDD_DEV(e), B, C, H, W, axis, out->x, ix);
    if (sdd_cu_launched(c, "absmax")) return NULL;
    return c->grad && sdd_cu_record_scatter(c, e, out, ix, 1) ? NULL : out;
}

/* ---- BatchNorm (running statistics) and SELU ---- */

__device__ __forceinline__ float d_selu(float v)
{
    return v > 0.0f ? (float)SDD_SELU_SCALE * v : (float)(SDD_SELU_SCALE * SDD_SELU_ALPHA) * expm1f(v);
}

/* y = (x - m) / sqrt(v + eps) * gamma + beta in double (the CPU's sdd_bn1 computes it in
 * float, as PyTorch does); then SELU when selu is set.
 * Channel of element idx: (idx / S) % C channel-first, idx % C channel-last. */
__global__ void k_bn_eval(const float *x, size_t total, int64_t C, int64_t S, int cl, const float *gamma, const float *beta,
                          const float *rm, const float *rv, float eps, int selu, float *out)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const int64_t ch = cl ? (int64_t)(idx % C) : (int64_t)((idx / S) % C);
    const double m = rm[ch], is = 1.0 / sqrt((double)rv[ch] + (double)eps);
    const float v = (float)((x[idx] - m) * is * gamma[ch] + beta[ch]);
    out[idx] = selu ? d_selu(v) : v;
}

static int bn_eval(sdd_ctx *c, const float *x, float *out, size_t total, int64_t C, int64_t S, int cl,
                   sdd_tensor *gamma, sdd_tensor *beta, sdd_tensor *rm, sdd_tensor *rv, float eps, int selu)
{
    if (total) SDD_LAUNCH(k_bn_eval, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(x, total, C, S, cl, SDD_DEV(gamma), SDD_DEV(beta),
                                                                   SDD_DEV(rm), SDD_DEV(rv), eps, selu, out);
    return sdd_cu_launched(c, "batchnorm");
}

extern "C" sdd_tensor *sdd_cu_batchnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta,
                                        sdd_tensor *rmean, sdd_tensor *rvar, int channel_last, float eps)
{
    if (sdd_cu_eval_only(c, "gradients through BatchNorm with running statistics")) return NULL;
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    sdd_bn_stats st;
    sdd_bn_layout(&st, x, channel_last);
    return bn_eval(c, x->x, out->x, sdd_numel(x), st.C, st.S, channel_last, gamma, beta, rmean, rvar, eps, 0) ? NULL : out;
}

/* ---- fused residual block (eval): y = MaxPool(1,3)(conv2(SELU(BN2(conv1(x)))) + shortcut) ---- */

extern "C" sdd_tensor *sdd_cu_resblock(sdd_ctx *c, sdd_tensor *x, const sdd_resblock_params *p)
{
    const int B = (int)x->n[0], Cin = (int)x->n[1], H = (int)x->n[2], W = (int)x->n[3];
    sdd_conv_geom g1, g2, gd;
    if (sdd_conv_geom_init(c, &g1, Cin, H, W, p->w1, p->ph1, p->pw1)) return NULL;
    if (sdd_conv_geom_init(c, &g2, g1.Cout, g1.Ho, g1.Wo, p->w2, p->ph2, p->pw2)) return NULL;
    if (p->wd && sdd_conv_geom_init(c, &gd, Cin, H, W, p->wd, p->phd, p->pwd)) return NULL;
    const int sc_C = p->wd ? gd.Cout : Cin, sc_H = p->wd ? gd.Ho : H, sc_W = p->wd ? gd.Wo : W;
    if (sc_C != g2.Cout || sc_H != g2.Ho || sc_W != g2.Wo) {
        sdd_err_set(&c->err, "resblock: shortcut (%d, %d, %d) does not match conv2's output (%d, %d, %d)",
                    sc_C, sc_H, sc_W, g2.Cout, g2.Ho, g2.Wo);
        c->failed = 1;
        return NULL;
    }
    if (g2.Wo < 3) { sdd_err_set(&c->err, "resblock: width %d too small to pool", g2.Wo); c->failed = 1; return NULL; }
    if (c->train) return sdd_cu_resblock_train(c, x, p, &g1, &g2, &gd);
    if (sdd_cu_eval_only(c, "gradients through a residual block with running statistics")) return NULL;
    sdd_tensor *out = sdd_new4(c, B, g2.Cout, g2.Ho, g2.Wo / 3);
    if (!out) return NULL;
    const sdd_arena_mark mk = sdd_arena_get_mark(&c->darena);
    const size_t zn = (size_t)B * g1.Cout * g1.Ho * g1.Wo, pn = (size_t)B * g2.Cout * g2.Ho * g2.Wo;
    float *z = (float *)sdd_dscratch(c, zn * sizeof(float));
    float *P = (float *)sdd_dscratch(c, pn * sizeof(float));
    float *D = p->wd ? (float *)sdd_dscratch(c, pn * sizeof(float)) : NULL;
    if (!z || !P || (p->wd && !D)) return NULL;
    if (sdd_cu_conv_fwd(c, &g1, B, x->x, SDD_DEV(p->w1), p->b1 ? SDD_DEV(p->b1) : NULL, z)) return NULL;
    if (bn_eval(c, z, z, zn, g1.Cout, (int64_t)g1.Ho * g1.Wo, 0, p->gamma, p->beta, p->rmean, p->rvar, p->eps, 1)) return NULL;
    if (sdd_cu_conv_fwd(c, &g2, B, z, SDD_DEV(p->w2), p->b2 ? SDD_DEV(p->b2) : NULL, P)) return NULL;
    if (p->wd && sdd_cu_conv_fwd(c, &gd, B, x->x, SDD_DEV(p->wd), p->bd ? SDD_DEV(p->bd) : NULL, D)) return NULL;
    const size_t total = sdd_numel(out);
    SDD_LAUNCH(k_maxpool, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(P, p->wd ? D : SDD_DEV(x), (size_t)B * g2.Cout, g2.Ho, g2.Wo, 1, 3, out->x, NULL);
    if (sdd_cu_launched(c, "residual pool")) return NULL;
    sdd_arena_release(&c->darena, mk);
    return out;
}

/* ---- elementwise and shape ops ---- */

__global__ void k_selu(const float *x, size_t n, float *y)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = d_selu(x[i]);
}

__global__ void k_add(const float *a, const float *b, size_t n, float *y)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a[i] + b[i];
}

__global__ void k_max2(const float *a, const float *b, size_t n, float *y)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a[i] >= b[i] ? a[i] : b[i];
}

/* copies rows: out[b, o0 + r, :] = in[b, i0 + r, :] for r < len; in has Nin rows, out Nout */
__global__ void k_rows(const float *in, int Nin, int i0, float *out, int Nout, int o0, int len, int D, int B)
{
    const size_t total = (size_t)B * len * D;
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int d = (int)(i % D), r = (int)((i / D) % len), b = (int)(i / ((size_t)D * len));
    out[((size_t)b * Nout + o0 + r) * D + d] = in[((size_t)b * Nin + i0 + r) * D + d];
}

extern "C" sdd_tensor *sdd_cu_selu(sdd_ctx *c, sdd_tensor *x)
{
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    const size_t n = sdd_numel(x);
    if (n) SDD_LAUNCH(k_selu, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(SDD_DEV(x), n, out->x);
    return sdd_cu_launched(c, "SELU") || sdd_cu_record_selu(c, x, out) ? NULL : out;
}

extern "C" sdd_tensor *sdd_cu_add(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b)
{
    sdd_tensor *out = sdd_tensor_new(c, a->nd, a->n);
    if (!out) return NULL;
    const size_t n = sdd_numel(a);
    if (n) SDD_LAUNCH(k_add, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(SDD_DEV(a), SDD_DEV(b), n, out->x);
    return sdd_cu_launched(c, "add") || sdd_cu_record_add(c, a, b, out) ? NULL : out;
}

extern "C" sdd_tensor *sdd_cu_max2(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b)
{
    sdd_tensor *out = sdd_tensor_new(c, a->nd, a->n);
    if (!out) return NULL;
    const size_t n = sdd_numel(a);
    if (n) SDD_LAUNCH(k_max2, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(SDD_DEV(a), SDD_DEV(b), n, out->x);
    return sdd_cu_launched(c, "max") || sdd_cu_record_max2(c, a, b, out) ? NULL : out;
}

extern "C" sdd_tensor *sdd_cu_expand_batch(sdd_ctx *c, sdd_tensor *p, int B)
{
    int64_t shp[SDD_MAX_DIMS];
    for (int i = 0; i < p->nd; i++) shp[i] = p->n[i];
    shp[0] = B;
    sdd_tensor *out = sdd_tensor_new(c, p->nd, shp);
    if (!out) return NULL;
    const size_t per = sdd_numel(p);
    for (int b = 0; b < B; b++)
        if (cudaMemcpy(out->x + (size_t)b * per, SDD_DEV(p), per * sizeof(float), cudaMemcpyDeviceToDevice) != cudaSuccess) {
            sdd_cu_launched(c, "expand");
            return NULL;
        }
    return sdd_cu_record_expand(c, p, out) ? NULL : out;
}

extern "C" sdd_tensor *sdd_cu_concat_nodes(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b)
{
    const int B = (int)a->n[0], N1 = (int)a->n[1], N2 = (int)b->n[1], D = (int)a->n[2];
    sdd_tensor *out = sdd_new3(c, B, N1 + N2, D);
    if (!out) return NULL;
    const size_t n1 = (size_t)B * N1 * D, n2 = (size_t)B * N2 * D;
    if (n1) SDD_LAUNCH(k_rows, sdd_cu_blocks(n1), SDD_CU_THREADS, 0)(SDD_DEV(a), N1, 0, out->x, N1 + N2, 0, N1, D, B);
    if (n2) SDD_LAUNCH(k_rows, sdd_cu_blocks(n2), SDD_CU_THREADS, 0)(SDD_DEV(b), N2, 0, out->x, N1 + N2, N1, N2, D, B);
    return sdd_cu_launched(c, "concat") || sdd_cu_record_concat(c, a, b, out) ? NULL : out;
}

extern "C" sdd_tensor *sdd_cu_slice_nodes(sdd_ctx *c, sdd_tensor *x, int start, int len)
{
    const int B = (int)x->n[0], N = (int)x->n[1], D = (int)x->n[2];
    sdd_tensor *out = sdd_new3(c, B, len, D);
    if (!out) return NULL;
    const size_t n = (size_t)B * len * D;
    if (n) SDD_LAUNCH(k_rows, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(SDD_DEV(x), N, start, out->x, len, 0, len, D, B);
    return sdd_cu_launched(c, "slice") || sdd_cu_record_slice(c, x, start, len, out) ? NULL : out;
}

/* ---- dense layers (cuBLAS, FP32) ---- */

extern "C" sdd_tensor *sdd_cu_linear(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b)
{
    const int dout = (int)w->n[0], din = (int)w->n[1];
    sdd_tensor *out = sdd_new_lastdim(c, x, dout);
    if (!out) return NULL;
    const int64_t R = (int64_t)(sdd_numel(x) / din);
    const size_t total = (size_t)R * dout;
    if (!total) return sdd_cu_record_linear(c, x, w, b, out) ? NULL : out;
    SDD_LAUNCH(k_fill_bias, sdd_cu_blocks(total), SDD_CU_THREADS, 0)(out->x, b ? SDD_DEV(b) : NULL, 1, dout, total);
    if (sdd_cu_launched(c, "linear bias")) return NULL;
    const float one = 1.0f;
    /* column-major: out^T (dout, R) = w (dout, din) @ x^T (din, R); w row-major is w^T column-major */
    cublasStatus_t st = sdd_cu_sgemm(CUBLAS_OP_T, CUBLAS_OP_N, dout, (int)R, din, &one,
                                    SDD_DEV(w), din, SDD_DEV(x), din, &one, out->x, dout);
    return sdd_cu_blas_ok(c, st, "linear") || sdd_cu_record_linear(c, x, w, b, out) ? NULL : out;
}

extern "C" sdd_tensor *sdd_cu_bmm(sdd_ctx *c, sdd_tensor *a, sdd_tensor *x)
{
    const int B = (int)a->n[0], N = (int)a->n[1], M = (int)a->n[2], D = (int)x->n[2];
    sdd_tensor *out = sdd_new3(c, B, N, D);
    if (!out) return NULL;
    const float one = 1.0f, zero = 0.0f;
    /* column-major: C_b^T (D, N) = X_b^T (D, M) @ A_b^T (M, N) */
    cublasStatus_t st = sdd_cu_sgemm_sb(CUBLAS_OP_N, CUBLAS_OP_N, D, N, M, &one,
                                                  SDD_DEV(x), D, (long long)M * D, SDD_DEV(a), M, (long long)N * M, &zero,
                                                  out->x, D, (long long)N * D, B);
    return sdd_cu_blas_ok(c, st, "bmm") || sdd_cu_record_bmm(c, a, x, out) ? NULL : out;
}
