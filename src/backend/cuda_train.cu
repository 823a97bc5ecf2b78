/* CUDA side of the optimiser step: the dot products of the two path
 * gradients (fixed chunks of DOT_CHUNK values, each summed in double by a
 * block of DOT_T threads and a fixed tree, then the chunk sums the same way:
 * the order is a constant of this file, so results repeat to the bit), their
 * combination out = a0 g0 + a1 g1, the norm and finiteness of the combined
 * gradient, and Adam (PyTorch's single-tensor arithmetic, as
 * src/train/adam.c) over the trainable entries. Only the dot products and the
 * norm (a few doubles) come back to the host. */
#include "backend/cuda_internal.h"
#include <math.h>

#define DOT_CHUNK 4096
#define DOT_T 128   /* threads per block of both reduction stages: part of the summation order */

/* (part: 3 doubles per chunk, then out: 3 doubles) for n floats */
extern "C" size_t sdd_cu_dots_scratch(size_t n)
{
    return 3 * ((n + DOT_CHUNK - 1) / DOT_CHUNK) + 3;
}

/* the block's sums of thread t's triple (a, q, d) over a fixed tree in shared
 * memory s (3, DOT_T); thread 0 writes them to dst[0..2] */
__device__ void dots_block_sum(double *s, int t, double a, double q, double d, double *dst)
{
    s[t] = a;
    s[DOT_T + t] = q;
    s[2 * DOT_T + t] = d;
    for (int h = DOT_T / 2; h > 0; h >>= 1) {
        __syncthreads();
        if (t < h) {
            s[t] += s[t + h];
            s[DOT_T + t] += s[DOT_T + t + h];
            s[2 * DOT_T + t] += s[2 * DOT_T + t + h];
        }
    }
    __syncthreads();
    if (t == 0) {
        dst[0] = s[0];
        dst[1] = s[DOT_T];
        dst[2] = s[2 * DOT_T];
    }
}

/* block c: chunk c of DOT_CHUNK values; thread t sums values t, t + DOT_T, ...
 * of it (adjacent threads read adjacent floats), then the block's fixed tree.
 * part (nc, 3): sums of g0 g0, g1 g1, g0 g1 */
__global__ void k_dots_part(const float *g0, const float *g1, size_t n, double *part)
{
    SDD_SHARED_DYN(double, s);
    const int t = threadIdx.x;
    const size_t c = blockIdx.x, b = c * DOT_CHUNK, e = b + DOT_CHUNK < n ? b + DOT_CHUNK : n;
    double a = 0.0, q = 0.0, d = 0.0;
    for (size_t i = b + t; i < e; i += DOT_T) {
        const double x = g0[i], y = g1 ? g1[i] : 0.0;
        a += x * x;
        q += y * y;
        d += x * y;
    }
    dots_block_sum(s, t, a, q, d, part + 3 * c);
}

/* one block: thread t adds chunks t, t + DOT_T, ... in order, then the tree;
 * out[0..2] = the three sums */
__global__ void k_dots_sum(const double *part, size_t nc, double *out)
{
    SDD_SHARED_DYN(double, s);
    const int t = threadIdx.x;
    double a = 0.0, q = 0.0, d = 0.0;
    for (size_t c = t; c < nc; c += DOT_T) { a += part[3 * c]; q += part[3 * c + 1]; d += part[3 * c + 2]; }
    dots_block_sum(s, t, a, q, d, out);
}

/* dots[0..2] = g0.g0, g1.g1, g0.g1 (g1 may be NULL); scratch:
 * sdd_cu_dots_scratch(n) doubles of device memory (kept by the caller, so a
 * step allocates and frees nothing); the 3 doubles of the answer are the
 * step's only copy back. g0.g0 is non-finite exactly when g0 has a
 * non-finite entry: the squares are non-negative, so nothing cancels, and a
 * double cannot overflow on a sum of squared floats (each below 2^256, so
 * the sum stays below 2^320 for any n a size_t counts). No separate flag is
 * needed, and no two blocks write one address */
extern "C" int sdd_cu_dots(const float *g0, const float *g1, size_t n, double *scratch, double *dots, sdd_err *e)
{
    const size_t nc = (n + DOT_CHUNK - 1) / DOT_CHUNK;
    double *part = scratch, *out = scratch + 3 * nc;
    const size_t shm = 3 * DOT_T * sizeof(double);
    if (nc) SDD_LAUNCH_SYNC(k_dots_part, (unsigned)nc, DOT_T, shm)(g0, g1, n, part);
    SDD_LAUNCH_SYNC(k_dots_sum, 1, DOT_T, shm)(part, nc, out);
    cudaError_t st = cudaGetLastError();
    if (st == cudaSuccess) st = cudaMemcpy(dots, out, 3 * sizeof(double), cudaMemcpyDeviceToHost);
    return st == cudaSuccess ? 0 : sdd_err_set(e, "CUDA gradient dot products failed: %s", cudaGetErrorString(st));
}

extern "C" int sdd_cu_norm2_finite(const float *g, size_t n, double *scratch, double *norm2, int *finite, sdd_err *e)
{
    double d[3];
    if (sdd_cu_dots(g, NULL, n, scratch, d, e)) return -1;
    *norm2 = d[0];
    *finite = isfinite(d[0]);
    return 0;
}

__global__ void k_combine(const float *g0, const float *g1, size_t n, double a0, double a1, float *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = (float)(a0 * g0[i] + a1 * (g1 ? g1[i] : 0.0f));
}

extern "C" int sdd_cu_combine(const float *g0, const float *g1, size_t n, double a0, double a1, float *out, sdd_err *e)
{
    if (n) SDD_LAUNCH(k_combine, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(g0, g1, n, a0, a1, out);
    cudaError_t st = cudaGetLastError();
    return st == cudaSuccess ? 0 : sdd_err_set(e, "CUDA gradient combination failed: %s", cudaGetErrorString(st));
}

/* one thread per entry of range r: the ranges' offsets and lengths in device memory */
__global__ void k_adam(float *theta, float *m, float *v, const float *grad, size_t off, size_t len,
                       float b1, float b2, float omb1, float omb2, float wd, float step_size, float bc2_sqrt, float eps)
{
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= len) return;
    const size_t i = off + k;
    float gk = grad[i];
    if (wd != 0.0f) gk += wd * theta[i];
    m[i] = b1 * m[i] + omb1 * gk;
    v[i] = b2 * v[i] + omb2 * (gk * gk);
    const float denom = sqrtf(v[i]) / bc2_sqrt + eps;
    theta[i] -= step_size * (m[i] / denom);
}

extern "C" int sdd_cu_adam(float *theta, float *m, float *v, const float *grad, const size_t *off, const size_t *len, int nr,
                           float b1, float b2, float omb1, float omb2, float wd, float step_size, float bc2_sqrt, float eps, sdd_err *e)
{
    for (int r = 0; r < nr; r++)
        if (len[r]) SDD_LAUNCH(k_adam, sdd_cu_blocks(len[r]), SDD_CU_THREADS, 0)(theta, m, v, grad, off[r], len[r], b1, b2, omb1, omb2, wd,
                                                                                 step_size, bc2_sqrt, eps);
    cudaError_t st = cudaGetLastError();
    return st == cudaSuccess ? 0 : sdd_err_set(e, "CUDA Adam step failed: %s", cudaGetErrorString(st));
}
