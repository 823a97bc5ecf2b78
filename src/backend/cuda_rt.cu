/* Owns the CUDA runtime side of the backend (see cuda.h): the device check,
 * device memory for arenas and parameter blocks, host <-> device copies, the
 * cuBLAS handle, the GEMM wrappers that count FLOPs for the benchmarks, the
 * card's FP32 peak and the error helpers of cuda_internal.h. */
#include "backend/cuda_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cublasHandle_t g_blas;
static int g_ready;

/* The process's rank among those of its machine under a launcher (Open MPI,
 * MPICH / Intel MPI, Slurm), else 0: data-parallel ranks on one machine
 * take one GPU each, rank r the GPU r mod (GPUs). */
static int local_rank(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID" };
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++) {
        const char *v = getenv(vars[k]);
        char *end;
        const long r = v && *v ? strtol(v, &end, 10) : -1;
        if (v && *v && !*end && r >= 0 && r < 1 << 20) return (int)r;
    }
    return 0;
}

extern "C" int sdd_cu_init(char *name, size_t cap, sdd_err *e)
{
    int n = 0;
    cudaError_t st = cudaGetDeviceCount(&n);
    if (st != cudaSuccess || n == 0)
        return sdd_err_set(e, "no CUDA device (%s)", st != cudaSuccess ? cudaGetErrorString(st) : "none found");
    const int dev = local_rank() % n;
    cudaDeviceProp pr;
    if ((st = cudaSetDevice(dev)) != cudaSuccess || (st = cudaGetDeviceProperties(&pr, dev)) != cudaSuccess)
        return sdd_err_set(e, "CUDA device %d (%s)", dev, cudaGetErrorString(st));
    if (name && cap && n > 1)
        snprintf(name, cap, "%s (device %d of %d, sm_%d%d, %.0f GiB)", pr.name, dev, n, pr.major, pr.minor, pr.totalGlobalMem / 1073741824.0);
    else if (name && cap) snprintf(name, cap, "%s (sm_%d%d, %.0f GiB)", pr.name, pr.major, pr.minor, pr.totalGlobalMem / 1073741824.0);
    if (!g_ready) {
        if (cublasCreate(&g_blas) != CUBLAS_STATUS_SUCCESS) return sdd_err_set(e, "CUDA: cuBLAS initialisation failed");
        /* FP32 GEMMs by default: the reference fixtures' tolerances are FP32
         * ones. SDD_CUDA_TF32=1 lets cuBLAS use TF32 tensor cores (10-bit
         * mantissa inputs, FP32 accumulation): faster, outside those tolerances */
        const char *tf = getenv("SDD_CUDA_TF32");
        cublasSetMathMode(g_blas, tf && !strcmp(tf, "1") ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
        g_ready = 1;
    }
    return 0;
}

cublasHandle_t sdd_cu_blas(void) { return g_blas; }

/* Every cuBLAS SGEMM of the backend goes through these three, which count
 * its FLOPs (2 m n k per product, host side) for the benchmarks' achieved
 * TFLOP/s (sdd_cu_gemm_flops) */
static double g_gemm_flops;

static void count_gemm(int m, int n, int k, int batch) { g_gemm_flops += 2.0 * m * n * (double)k * batch; }

extern "C" double sdd_cu_gemm_flops(int reset)
{
    const double f = g_gemm_flops;
    if (reset) g_gemm_flops = 0.0;
    return f;
}

cublasStatus_t sdd_cu_sgemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha, const float *A,
                            int lda, const float *B, int ldb, const float *beta, float *C, int ldc)
{
    count_gemm(m, n, k, 1);
    return cublasSgemm(g_blas, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

cublasStatus_t sdd_cu_sgemm_sb(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha, const float *A,
                               int lda, long long sa, const float *B, int ldb, long long sb, const float *beta, float *C, int ldc,
                               long long sc, int batch)
{
    count_gemm(m, n, k, batch);
    return cublasSgemmStridedBatched(g_blas, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

cublasStatus_t sdd_cu_sgemm_b(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha,
                              const float *const A[], int lda, const float *const B[], int ldb, const float *beta, float *const C[],
                              int ldc, int batch)
{
    count_gemm(m, n, k, batch);
    return cublasSgemmBatched(g_blas, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, batch);
}

extern "C" double sdd_cu_fp32_peak_tflops(void)
{
#ifdef SDD_CU_EMU
    return 0.0;   /* the emulation has no card */
#else
    int dev = 0, sms = 0, khz = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
        cudaGetLastError();
        return 0.0;
    }
    /* FP32 lanes per SM: 64 on sm_80 (A100), 128 on sm_86/89/90 and 10.x; others unknown */
    const int lanes = major == 8 && minor == 0 ? 64 : (major == 8 || major == 9 || major == 10) ? 128 : 0;
    return 2.0 * lanes * sms * (khz * 1e3) * 1e-12;
#endif
}

#ifdef SDD_CU_EMU
extern "C" void sdd_cu_emu_protect(int on) { sdd_emu::set_protect(on); }
#endif

static void prof_mark(const char *what);

/* the profile charges allocations and copies to labels of their own: a
 * cudaFree synchronises the device and a large cudaMalloc maps pages */
extern "C" void *sdd_cu_malloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes) != cudaSuccess) { cudaGetLastError(); return NULL; }
    prof_mark("cudaMalloc");
    return p;
}

extern "C" void sdd_cu_free(void *p)
{
    if (!p) return;
    cudaFree(p);
    prof_mark("cudaFree");
}

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
    prof_mark(add ? "add constant" : "fill");
    return 0;
}

extern "C" int sdd_cu_copy(void *dst, const void *src, size_t bytes, int to_device, sdd_err *e)
{
    if (!bytes) return 0;
    cudaError_t st = cudaMemcpy(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost);
    if (st != cudaSuccess) return sdd_err_set(e, "CUDA copy of %zu bytes failed: %s", bytes, cudaGetErrorString(st));
    prof_mark(to_device ? "copy to device" : "copy to host");
    return 0;
}

/* Profiling (sdd_cu_prof_enable): every launch check synchronises the device
 * and charges the wall time since the previous check to its label, so each
 * label's share counts its kernels plus the host work just before them. */
static int g_prof;
static struct { const char *what; double sec; long n; } g_pt[256];
static int g_np;
static double g_last;

static double prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

extern "C" void sdd_cu_prof_enable(int on)
{
    g_prof = on;
    g_np = 0;
    cudaDeviceSynchronize();
    g_last = prof_now();
}

static void prof_mark(const char *what)
{
    if (!g_prof) return;
    cudaDeviceSynchronize();
    const double t = prof_now(), d = t - g_last;
    g_last = t;
    int i = 0;
    while (i < g_np && strcmp(g_pt[i].what, what)) i++;
    if (i == g_np) {
        if (g_np == (int)(sizeof g_pt / sizeof g_pt[0])) return;
        g_pt[g_np].what = what; g_pt[g_np].sec = 0.0; g_pt[g_np].n = 0;
        g_np++;
    }
    g_pt[i].sec += d;
    g_pt[i].n++;
}

extern "C" void sdd_cu_prof_point(const char *what) { prof_mark(what); }

extern "C" void sdd_cu_prof_report(FILE *f, int steps)
{
    double tot = 0.0;
    for (int i = 0; i < g_np; i++) tot += g_pt[i].sec;
    for (int i = 0; i < g_np; i++)   /* largest first (selection sort: few labels) */
        for (int j = i + 1; j < g_np; j++)
            if (g_pt[j].sec > g_pt[i].sec) { const auto t = g_pt[i]; g_pt[i] = g_pt[j]; g_pt[j] = t; }
    fprintf(f, "profile: %.2f ms per step over %d steps (synchronised after every launch)\n", tot * 1e3 / (steps > 0 ? steps : 1), steps);
    for (int i = 0; i < g_np; i++)
        fprintf(f, "  %-40s %8.2f ms/step %5.1f%%  %6ld launches/step\n", g_pt[i].what, g_pt[i].sec * 1e3 / (steps > 0 ? steps : 1),
                tot > 0 ? 100.0 * g_pt[i].sec / tot : 0.0, g_pt[i].n / (steps > 0 ? steps : 1));
}

extern "C" int sdd_cu_mem_info(size_t *free_b, size_t *total_b, sdd_err *e)
{
    cudaError_t st = cudaMemGetInfo(free_b, total_b);
    if (st != cudaSuccess) return sdd_err_set(e, "CUDA: cannot read the device's free memory: %s", cudaGetErrorString(st));
    return 0;
}

extern "C" int sdd_cu_copy_d2d(void *dst, const void *src, size_t bytes, sdd_err *e)
{
    if (!bytes) return 0;
    cudaError_t st = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice);
    if (st != cudaSuccess) return sdd_err_set(e, "CUDA device copy of %zu bytes failed: %s", bytes, cudaGetErrorString(st));
    prof_mark("device copy");
    return 0;
}

int sdd_cu_launched(sdd_ctx *c, const char *what)
{
    cudaError_t st = cudaGetLastError();
    if (st == cudaSuccess) { prof_mark(what); return 0; }
    if (!c->failed) sdd_err_set(&c->err, "CUDA %s: %s", what, cudaGetErrorString(st));
    c->failed = 1;
    return -1;
}

int sdd_cu_blas_ok(sdd_ctx *c, cublasStatus_t st, const char *what)
{
    if (st == CUBLAS_STATUS_SUCCESS) { prof_mark(what); return 0; }
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
