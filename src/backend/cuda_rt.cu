/* Owns the CUDA runtime side of the backend (see cuda.h): the device check,
 * device memory for arenas and parameter blocks, host <-> device copies, the
 * cuBLAS handle and the error helpers of cuda_internal.h. */
#include "backend/cuda_internal.h"
#include <stdio.h>

static cublasHandle_t g_blas;
static int g_ready;

extern "C" int sdd_cu_init(char *name, size_t cap, sdd_err *e)
{
    int n = 0;
    cudaError_t st = cudaGetDeviceCount(&n);
    if (st != cudaSuccess || n == 0)
        return sdd_err_set(e, "no CUDA device (%s)", st != cudaSuccess ? cudaGetErrorString(st) : "none found");
    cudaDeviceProp pr;
    if ((st = cudaGetDeviceProperties(&pr, 0)) != cudaSuccess)
        return sdd_err_set(e, "no CUDA device (%s)", cudaGetErrorString(st));
    if (name && cap) snprintf(name, cap, "%s (sm_%d%d, %.0f GiB)", pr.name, pr.major, pr.minor, pr.totalGlobalMem / 1073741824.0);
    if (!g_ready) {
        if (cublasCreate(&g_blas) != CUBLAS_STATUS_SUCCESS) return sdd_err_set(e, "CUDA: cuBLAS initialisation failed");
        /* FP32 GEMMs (no TF32): the reference fixtures' tolerances are FP32 ones */
        cublasSetMathMode(g_blas, CUBLAS_DEFAULT_MATH);
        g_ready = 1;
    }
    return 0;
}

cublasHandle_t sdd_cu_blas(void) { return g_blas; }

#ifdef SDD_CU_EMU
extern "C" void sdd_cu_emu_protect(int on) { sdd_emu::set_protect(on); }
#endif

extern "C" void *sdd_cu_malloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes) != cudaSuccess) { cudaGetLastError(); return NULL; }
    return p;
}

extern "C" void sdd_cu_free(void *p) { if (p) cudaFree(p); }

__global__ void k_fill(float *dst, size_t n, float v, int add)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = add ? dst[i] + v : v;
}

extern "C" int sdd_cu_fill(float *dst, size_t n, float v, int add, sdd_err *e)
{
    if (!n) return 0;
    SDD_LAUNCH(k_fill, sdd_cu_blocks(n), SDD_CU_THREADS, 0)(dst, n, v, add);
    cudaError_t st = cudaGetLastError();
    if (st != cudaSuccess) return sdd_err_set(e, "CUDA fill of %zu floats failed: %s", n, cudaGetErrorString(st));
    return 0;
}

extern "C" int sdd_cu_copy(void *dst, const void *src, size_t bytes, int to_device, sdd_err *e)
{
    if (!bytes) return 0;
    cudaError_t st = cudaMemcpy(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost);
    if (st != cudaSuccess) return sdd_err_set(e, "CUDA copy of %zu bytes failed: %s", bytes, cudaGetErrorString(st));
    return 0;
}

int sdd_cu_launched(sdd_ctx *c, const char *what)
{
    cudaError_t st = cudaGetLastError();
    if (st == cudaSuccess) return 0;
    if (!c->failed) sdd_err_set(&c->err, "CUDA %s: %s", what, cudaGetErrorString(st));
    c->failed = 1;
    return -1;
}

int sdd_cu_blas_ok(sdd_ctx *c, cublasStatus_t st, const char *what)
{
    if (st == CUBLAS_STATUS_SUCCESS) return 0;
    if (!c->failed) sdd_err_set(&c->err, "CUDA %s: cuBLAS status %d", what, (int)st);
    c->failed = 1;
    return -1;
}

int sdd_cu_eval_only(sdd_ctx *c, const char *what)
{
    if (!c->train && !c->grad) return 0;
    if (!c->failed) sdd_err_set(&c->err, "CUDA backend: %s is not implemented yet", what);
    c->failed = 1;
    return -1;
}

extern "C" sdd_tensor *sdd_cu_unsupported(sdd_ctx *c, const char *what)
{
    if (!c->failed) sdd_err_set(&c->err, "CUDA backend: %s is not implemented yet", what);
    c->failed = 1;
    return NULL;
}
