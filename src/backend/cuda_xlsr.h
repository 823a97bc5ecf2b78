/* Shared between cuda_xlsr.cu (the sequence ops' forward kernels) and
 * cuda_xlsr_grad.cu (their tape entries and backward kernels), C++ only:
 * the Conv1d geometry and launch helpers, and the record functions each
 * forward op calls (0, or -1 with c->err set; they record nothing unless a
 * gradient must flow). */
#ifndef SDD_BACKEND_CUDA_XLSR_H
#define SDD_BACKEND_CUDA_XLSR_H
#include "backend/cuda_internal.h"
#include <math.h>

/* Conv1d on channel-last sequences: x (B, T, Cin), w (Cout, Cg, K), G groups
 * of Cg input and Cog output channels, out (B, To, Cout) */
typedef struct {
    int64_t B, T, Cin, Cout, Cg, K, G, Cog, To;
    int stride, pad_left;
} sdd_cu_c1;

/* kernels of cuda_ops.cu / cuda_grad.cu the sequence ops launch too:
 * out[i] = bias[(i / per_ch) % C] (0 without bias), i < total;
 * dropout factors f (0 or 1/(1-p)): y = x f (0 where f is 0); dx += dy f */
__global__ void k_fill_bias(float *out, const float *bias, size_t per_ch, int C, size_t total);
__global__ void k_mul(const float *x, const float *f, float *y, size_t n);
__global__ void k_mul_acc(const float *dy, const float *f, float *dx, size_t n);

/* grid size for the grid-stride kernels */
unsigned sdd_cu_grid_cap(size_t n);
/* wr (G, Cog, K, Cg) from w (Cout, Cg, K), through weight norm when wn_g is set (nrm (K) = ||v_k||) */
int sdd_cu_c1_weight(sdd_ctx *c, const sdd_cu_c1 *g, const float *w, const float *wn_g, float *wr, double *nrm);
/* out[k] = sum over rows r of a[r, k] b[r, k] (a, b (rows, per)) in double,
 * in a fixed order (chunks of rows, then the chunks in order); sqrt of it with root */
int sdd_cu_colprod(sdd_ctx *c, const float *a, const float *b, int64_t rows, int64_t per, int root, double *out);
/* the launch shape of the conv1d im2col / col2im kernels: n entries over x
 * (*threads per block), ny over y, nz over z */
dim3 sdd_cu_c1_grid(int64_t n, int64_t ny, int64_t nz, int *threads);
/* cols (G, nb, To, K*Cg) of samples x (nb, T, Cin) */
int sdd_cu_c1_im2col(sdd_ctx *c, const sdd_cu_c1 *g, const float *x, int64_t nb, float *cols);
/* samples per im2col chunk (at most B) */
int64_t sdd_cu_c1_chunk(const sdd_cu_c1 *g, int64_t B);
/* dst (B, D, N) = (add 0) or += (add 1) src (B, N, D) transposed */
int sdd_cu_tr12(sdd_ctx *c, const float *src, float *dst, int64_t B, int64_t N, int64_t D, int add);
/* one batched SGEMM over nb samples x H heads (cuda_xlsr.cu): operand X of
 * sample b, head h at X + b sXb + h sXh; -1 with c->err set */
int sdd_cu_bh_gemm(sdd_ctx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                   const float *A, int lda, long long sab, long long sah, const float *Bm, int ldb, long long sbb, long long sbh,
                   float beta, float *C, int ldc, long long scb, long long sch, int nb, int H, const char *what);

/* fm, fis (R): the rows' mean and 1/std rounded to float (what the backward uses) */
int sdd_cu_record_layernorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta, float *fm, float *fis, int64_t R,
                            int64_t D, sdd_tensor *out);
int sdd_cu_record_gelu(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out);
int sdd_cu_record_transpose(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out);
int sdd_cu_record_conv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *wn_g, sdd_tensor *b, const sdd_cu_c1 *g,
                         sdd_tensor *out);
/* P (B, H, T, T) the softmax probabilities, mask (same size, scale or 0) or NULL without dropout */
int sdd_cu_record_mha(sdd_ctx *c, sdd_tensor *q, sdd_tensor *k, sdd_tensor *v, float *P, float *mask, float scale, int H,
                      sdd_tensor *out);
int sdd_cu_record_softmax_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, int axis, sdd_tensor *out);

/* the launch shape of the per-entry LayerNorm kernels over (R, D): columns
 * over x in blocks of SDD_CU_THREADS, rows over y (capped at 65535; the
 * kernels loop over the rest), so no entry divides a 64-bit index */
static inline dim3 sdd_cu_rows_grid(int64_t R, int64_t D)
{
    return dim3((unsigned)((D + SDD_CU_THREADS - 1) / SDD_CU_THREADS), (unsigned)(R < 1 ? 1 : R > 65535 ? 65535 : R));
}

/* lanes per row of the row reductions (LayerNorm statistics and backward,
 * attention softmax and backward): thread r SDD_CU_LANES + p takes entries
 * p, p + SDD_CU_LANES, ... of row r, so a warp reads a row's adjacent floats;
 * part of those reductions' summation order */
#define SDD_CU_LANES 32

/* a row's SDD_CU_LANES partial sums added in lane order */
__device__ __forceinline__ double sdd_cu_lanes_sum(const double *p)
{
    double s = 0;
    for (int q = 0; q < SDD_CU_LANES; q++) s += p[q];
    return s;
}

/* softmax-attention pooling's window, shared by its forward and backward
 * kernels: output o of (B, J, C) pools the L entries base + i st of x and w
 * (B, C, J, L) (axis 3) or (B, C, L, J) (axis 2); returns the weights'
 * normaliser 1/sum exp(w - max) as the CPU rounds it (terms to float, double
 * sum), with the max in *mx: p_i = expf(w_i - mx) * iz */
__device__ __forceinline__ float sdd_cu_sp_window(const float *w, size_t o, int64_t C, int64_t J, int64_t L, int axis, size_t *base,
                                                  int64_t *st, float *mx)
{
    const int64_t ch = (int64_t)(o % C), j = (int64_t)((o / C) % J), b = (int64_t)(o / ((size_t)C * J));
    const size_t plane = (size_t)(b * C + ch) * (size_t)(J * L);
    *base = axis == 3 ? plane + (size_t)j * L : plane + (size_t)j;
    *st = axis == 3 ? 1 : J;
    const float *wb = w + *base;
    float m = wb[0];
    for (int64_t i = 1; i < L; i++) m = wb[i * *st] > m ? wb[i * *st] : m;
    double z = 0;
    for (int64_t i = 0; i < L; i++) z += expf(wb[i * *st] - m);
    *mx = m;
    return (float)(1.0 / z);
}

#endif
