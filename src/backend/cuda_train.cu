/* CUDA side of the optimiser step: the dot products of the two path
 * gradients (fixed chunks of DOT_CHUNK values summed in double, the partial
 * sums added in chunk order, so the result does not depend on the launch
 * shape), their combination out = a0 g0 + a1 g1, the norm and finiteness of
 * the combined gradient, and Adam (PyTorch's single-tensor arithmetic, as
 * src/train/adam.c) over the trainable entries. Only the dot products and the
 * norm (a few doubles) come back to the host. */
#include "backend/cuda_internal.h"
#include <math.h>

#define DOT_CHUNK 4096

/* partials (nc, 3): sums of g0 g0, g1 g1, g0 g1 over chunk c */
__global__ void k_dots_part(const float *g0, const float *g1, size_t n, size_t nc, double *part)
{
    const size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= nc) return;
    const size_t e = (c + 1) * DOT_CHUNK < n ? (c + 1) * DOT_CHUNK : n;
    double a = 0.0, b = 0.0, d = 0.0;
    for (size_t i = c * DOT_CHUNK; i < e; i++) {
        const double x = g0[i], y = g1 ? g1[i] : 0.0;
        a += x * x;
        b += y * y;
        d += x * y;
        if (!isfinite(g0[i])) part[3 * nc] = 1.0;  /* any thread may flag: every writer stores the same value */
    }
    part[3 * c] = a;
    part[3 * c + 1] = b;
    part[3 * c + 2] = d;
}

/* one thread: the partials in chunk order; out[3] = the non-finite flag */
__global__ void k_dots_sum(const double *part, size_t nc, double *out)
{
    if (blockIdx.x * blockDim.x + threadIdx.x != 0) return;
    double a = 0.0, b = 0.0, d = 0.0;
    for (size_t c = 0; c < nc; c++) { a += part[3 * c]; b += part[3 * c + 1]; d += part[3 * c + 2]; }
    out[0] = a;
    out[1] = b;
    out[2] = d;
    out[3] = part[3 * nc];
}

/* dots[0..3] = g0.g0, g1.g1, g0.g1, non-finite flag of g0 (g1 may be NULL) */
static int dots4(const float *g0, const float *g1, size_t n, double *dots, sdd_err *e)
{
    const size_t nc = (n + DOT_CHUNK - 1) / DOT_CHUNK;
    double *part = NULL, *out = NULL;
    if (cudaMalloc((void **)&part, (3 * nc + 1) * sizeof(double)) != cudaSuccess ||
        cudaMalloc((void **)&out, 4 * sizeof(double)) != cudaSuccess) {
        cudaGetLastError();
        if (part) cudaFree(part);
        return sdd_err_set(e, "CUDA: out of device memory for the gradient dot products");
    }
    int rc = 0;
    if (cudaMemset(part, 0, (3 * nc + 1) * sizeof(double)) != cudaSuccess) rc = -1;
    if (!rc && nc) SDD_LAUNCH(k_dots_part, sdd_cu_blocks(nc), SDD_CU_THREADS, 0)(g0, g1, n, nc, part);
    if (!rc) SDD_LAUNCH(k_dots_sum, 1, 1, 0)(part, nc, out);
    cudaError_t st = cudaGetLastError();
    if (!rc && st == cudaSuccess && cudaMemcpy(dots, out, 4 * sizeof(double), cudaMemcpyDeviceToHost) != cudaSuccess) rc = -1;
    cudaFree(part);
    cudaFree(out);
    if (rc || st != cudaSuccess) return sdd_err_set(e, "CUDA gradient dot products failed: %s", cudaGetErrorString(st != cudaSuccess ? st : cudaGetLastError()));
    return 0;
}

extern "C" int sdd_cu_dots(const float *g0, const float *g1, size_t n, double *dots, sdd_err *e)
{
    double d[4];
    if (dots4(g0, g1, n, d, e)) return -1;
    dots[0] = d[0];
    dots[1] = d[1];
    dots[2] = d[2];
    return 0;
}

extern "C" int sdd_cu_norm2_finite(const float *g, size_t n, double *norm2, int *finite, sdd_err *e)
{
    double d[4];
    if (dots4(g, NULL, n, d, e)) return -1;
    *norm2 = d[0];
    *finite = d[3] == 0.0;
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
