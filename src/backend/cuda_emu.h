/* CPU emulation of the CUDA runtime and cuBLAS subset the backend uses, for
 * the emulation build (the .cu files compiled as C++ by g++ with
 * -DSDD_CU_EMU, see the Makefile's EMU rules): it lets `make test` run the
 * CUDA backend's host logic and every kernel's index math on a machine
 * without a GPU, against the CPU ops.
 *
 * What is emulated and how:
 *   - a launch SDD_LAUNCH(k, grid, block, shmem)(args) runs every block and,
 *     inside it, every thread sequentially (threadIdx/blockIdx are
 *     thread-local variables set before each call). Kernels launched this way
 *     must not depend on __syncthreads (calling it aborts).
 *   - SDD_LAUNCH_SYNC (kernels with barriers) runs a block's threads as
 *     real POSIX threads (one set per launch, going through the blocks in
 *     turn) meeting at a pthread barrier for __syncthreads, with the block's
 *     dynamic shared memory (SDD_SHARED_DYN) filled with NaNs before the
 *     block starts, so reads of unwritten shared memory show.
 *   - device memory is mmap'ed and kept PROT_NONE except while a kernel, a
 *     copy or a GEMM runs: host code that dereferences a device pointer
 *     crashes here as it would fail on a GPU. sdd_cu_emu_protect(0) turns
 *     this off (re-protecting every resident page at each launch costs
 *     system time; tests keep it on for a subset).
 *   - cuBLAS SGEMM (column-major, as cuBLAS; plain, strided-batched and
 *     pointer-array batched) goes to OpenBLAS's cblas_sgemm.
 *   - atomicAdd is a plain add (sequential launches only).
 *   - the contexts' device arenas are NaN-filled before their first use in
 *     each pass (device.c sets the arena's mem_poison in this build), so
 *     unwritten output shows as NaN.
 * Not emulated: warp-level behaviour, memory coherence between blocks,
 * timing, streams. */
#ifndef SDD_BACKEND_CUDA_EMU_H
#define SDD_BACKEND_CUDA_EMU_H
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <cblas.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __constant__ static
#define __restrict__

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

namespace sdd_emu {
inline thread_local uint3 tid, bid;
inline dim3 bdim, gdim;
inline char *shared_mem;                /* the running block's dynamic shared memory */
inline pthread_barrier_t *barrier;      /* the running block's barrier (sync launches) */
inline int sync_launch;

/* device allocations, all PROT_NONE while no device work runs */
struct alloc { void *p; size_t len; };
inline alloc *allocs;
inline int nalloc, capalloc, open_depth;
inline int unprotected;

inline void protect_all(int prot)
{
    if (unprotected) return;
    for (int i = 0; i < nalloc; i++)
        if (mprotect(allocs[i].p, allocs[i].len, prot)) { perror("cuda emulation: mprotect"); abort(); }
}
inline void open() { if (open_depth++ == 0) protect_all(PROT_READ | PROT_WRITE); }
inline void close() { if (--open_depth == 0) protect_all(PROT_NONE); }

inline size_t page_round(size_t n) { const size_t pg = 4096; return (n + pg - 1) / pg * pg; }

inline void *dmalloc(size_t bytes)
{
    if (nalloc == capalloc) {
        const int nc = capalloc ? 2 * capalloc : 64;
        alloc *na = (alloc *)realloc(allocs, (size_t)nc * sizeof *na);
        if (!na) return NULL;
        allocs = na;
        capalloc = nc;
    }
    const size_t len = page_round(bytes ? bytes : 1);
    void *p = mmap(NULL, len, open_depth || unprotected ? PROT_READ | PROT_WRITE : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    allocs[nalloc].p = p;
    allocs[nalloc].len = len;
    nalloc++;
    return p;
}

inline void dfree(void *p)
{
    for (int i = 0; i < nalloc; i++)
        if (allocs[i].p == p) {
            munmap(p, allocs[i].len);
            allocs[i] = allocs[--nalloc];
            return;
        }
}

/* one thread of a sync launch: every block in turn, the blocks separated by
 * two barriers (all done with the last block; shared memory reset) */
template <class F> struct thread_arg { F *fn; uint3 t; dim3 g; size_t shm; pthread_barrier_t *bar; };

template <class F> void *thread_main(void *arg)
{
    thread_arg<F> *a = (thread_arg<F> *)arg;
    tid = a->t;
    const int first = a->t.x == 0 && a->t.y == 0 && a->t.z == 0;
    for (unsigned bz = 0; bz < a->g.z; bz++)
        for (unsigned by = 0; by < a->g.y; by++)
            for (unsigned bx = 0; bx < a->g.x; bx++) {
                pthread_barrier_wait(a->bar);
                if (first && shared_mem) memset(shared_mem, 0xff, a->shm);   /* NaN pattern */
                pthread_barrier_wait(a->bar);
                bid = { bx, by, bz };
                (*a->fn)();
            }
    return NULL;
}

/* SDD_LAUNCH(k, g, b, s)(args...): the arguments convert to the kernel's
 * parameter types at the call, as in a CUDA launch */
template <class K> struct launch;
template <class... P> struct launch<void (*)(P...)> {
    void (*k)(P...);
    dim3 g, b;
    size_t shm;
    int sync;
    void operator()(P... a)
    {
        open();
        bdim = b;
        gdim = g;
        char *sm = shm ? (char *)malloc(shm) : NULL;
        if (shm && !sm) { fprintf(stderr, "cuda emulation: no memory for shared memory\n"); abort(); }
        shared_mem = sm;
        if (sync) run_threads(a...);
        else
            for (unsigned bz = 0; bz < g.z; bz++)
                for (unsigned by = 0; by < g.y; by++)
                    for (unsigned bx = 0; bx < g.x; bx++) {
                        if (sm) memset(sm, 0xff, shm);   /* NaN pattern: unwritten shared memory shows */
                        bid = { bx, by, bz };
                        for (unsigned tz = 0; tz < b.z; tz++)
                            for (unsigned ty = 0; ty < b.y; ty++)
                                for (unsigned tx = 0; tx < b.x; tx++) {
                                    tid = { tx, ty, tz };
                                    k(a...);
                                }
                    }
        free(sm);
        shared_mem = NULL;
        close();
    }
    void run_threads(P... a)
    {
        const unsigned nt = b.x * b.y * b.z;
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, nt);
        barrier = &bar;
        auto body = [&]() { k(a...); };
        typedef decltype(body) F;
        pthread_t *th = (pthread_t *)malloc(nt * sizeof *th);
        thread_arg<F> *ta = (thread_arg<F> *)malloc(nt * sizeof *ta);
        if (!th || !ta) { fprintf(stderr, "cuda emulation: no memory for threads\n"); abort(); }
        unsigned i = 0;
        for (unsigned tz = 0; tz < b.z; tz++)
            for (unsigned ty = 0; ty < b.y; ty++)
                for (unsigned tx = 0; tx < b.x; tx++, i++) {
                    ta[i].fn = &body;
                    ta[i].t = { tx, ty, tz };
                    ta[i].g = g;
                    ta[i].shm = shm;
                    ta[i].bar = &bar;
                    if (pthread_create(&th[i], NULL, thread_main<F>, &ta[i])) { fprintf(stderr, "cuda emulation: pthread_create\n"); abort(); }
                }
        for (i = 0; i < nt; i++) pthread_join(th[i], NULL);
        pthread_barrier_destroy(&bar);
        barrier = NULL;
        free(th);
        free(ta);
    }
};

template <class... P> launch<void (*)(P...)> make_launch(void (*k)(P...), dim3 g, dim3 b, size_t shm, int sync)
{
    launch<void (*)(P...)> l = { k, g, b, shm, sync };
    return l;
}

inline void set_protect(int on)
{
    if (!on && !unprotected) { protect_all(PROT_READ | PROT_WRITE); unprotected = 1; }
    else if (on && unprotected) { unprotected = 0; if (!open_depth) protect_all(PROT_NONE); }
}

inline void syncthreads()
{
    if (!barrier) { fprintf(stderr, "cuda emulation: __syncthreads in a kernel not launched with SDD_LAUNCH_SYNC\n"); abort(); }
    pthread_barrier_wait(barrier);
}
} // namespace sdd_emu

#define threadIdx (sdd_emu::tid)
#define blockIdx (sdd_emu::bid)
#define blockDim (sdd_emu::bdim)
#define gridDim (sdd_emu::gdim)
#define __syncthreads() sdd_emu::syncthreads()
#define SDD_LAUNCH(k, g, b, s) sdd_emu::make_launch((k), dim3(g), dim3(b), (size_t)(s), 0)
#define SDD_LAUNCH_SYNC(k, g, b, s) sdd_emu::make_launch((k), dim3(g), dim3(b), (size_t)(s), 1)
#define SDD_SHARED_DYN(type, name) type *name = (type *)sdd_emu::shared_mem

static inline float atomicAdd(float *p, float v) { const float o = *p; *p = o + v; return o; }
static inline double atomicAdd(double *p, double v) { const double o = *p; *p = o + v; return o; }

/* ---- runtime ---- */

typedef int cudaError_t;
#define cudaSuccess 0
#define cudaErrorMemoryAllocation 2
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
struct cudaDeviceProp { char name[256]; int major, minor; size_t totalGlobalMem; };

static inline const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated CUDA error"; }
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
static inline cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : (cudaError_t)1; }
static inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev)
{
    (void)dev;
    snprintf(p->name, sizeof p->name, "CUDA emulation on the CPU");
    p->major = 9;
    p->minor = 0;
    p->totalGlobalMem = (size_t)1 << 30;
    return cudaSuccess;
}
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
/* the emulated device's 1 GiB, all of it free (allocations are host memory) */
static inline cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b)
{
    *free_b = *total_b = (size_t)1 << 30;
    return cudaSuccess;
}
static inline cudaError_t cudaMalloc(void **p, size_t bytes)
{
    *p = sdd_emu::dmalloc(bytes);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
static inline cudaError_t cudaFree(void *p) { sdd_emu::dfree(p); return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    (void)kind;
    sdd_emu::open();
    memcpy(dst, src, bytes);
    sdd_emu::close();
    return cudaSuccess;
}
static inline cudaError_t cudaMemset(void *dst, int v, size_t bytes)
{
    sdd_emu::open();
    memset(dst, v, bytes);
    sdd_emu::close();
    return cudaSuccess;
}
template <class T> cudaError_t cudaMemcpyToSymbol(T &sym, const void *src, size_t bytes)
{
    if (bytes > sizeof sym) return 1;
    memcpy((void *)&sym, src, bytes);
    return cudaSuccess;
}

/* ---- cuBLAS (column-major SGEMM only) ---- */

typedef void *cublasHandle_t;
typedef int cublasStatus_t;
#define CUBLAS_STATUS_SUCCESS 0
#define CUBLAS_DEFAULT_MATH 0
#define CUBLAS_TF32_TENSOR_OP_MATH 3   /* accepted and ignored: the emulation computes in FP32 */
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
static inline cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = (void *)1; return CUBLAS_STATUS_SUCCESS; }
static inline cublasStatus_t cublasSetMathMode(cublasHandle_t h, int mode) { (void)h; (void)mode; return CUBLAS_STATUS_SUCCESS; }

static inline cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                                       const float *alpha, const float *A, int lda, long long sa,
                                                       const float *B, int ldb, long long sb, const float *beta,
                                                       float *C, int ldc, long long sc, int batch)
{
    (void)h;
    sdd_emu::open();
    for (int i = 0; i < batch; i++)
        cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_T ? CblasTrans : CblasNoTrans, tb == CUBLAS_OP_T ? CblasTrans : CblasNoTrans,
                    m, n, k, *alpha, A + i * sa, lda, B + i * sb, ldb, *beta, C + i * sc, ldc);
    sdd_emu::close();
    return CUBLAS_STATUS_SUCCESS;
}

/* the pointer arrays are device memory, read while the device is open */
static inline cublasStatus_t cublasSgemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                                const float *alpha, const float *const A[], int lda, const float *const B[], int ldb,
                                                const float *beta, float *const C[], int ldc, int batch)
{
    (void)h;
    sdd_emu::open();
    for (int i = 0; i < batch; i++)
        cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_T ? CblasTrans : CblasNoTrans, tb == CUBLAS_OP_T ? CblasTrans : CblasNoTrans,
                    m, n, k, *alpha, A[i], lda, B[i], ldb, *beta, C[i], ldc);
    sdd_emu::close();
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda, const float *B, int ldb,
                                         const float *beta, float *C, int ldc)
{
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

#endif
