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
 *   - every device allocation sits between two guard pages that stay
 *     PROT_NONE, its end 256-byte aligned against the trailing one (as
 *     cudaMalloc aligns its start), so a kernel or copy running past either
 *     end of an allocation crashes here as compute-sanitizer would report it.
 *   - what a GPU refuses or cannot do aborts with a line naming the call:
 *     a launch outside the limits of sm_90 (grid y/z above 65,535, an empty
 *     grid or block, more than 1,024 threads, more than 48 KiB of dynamic
 *     shared memory, which needs an opt-in the backend never makes), a
 *     kernel argument that is a host pointer (a kernel reading host memory
 *     works in an emulation and faults on a card), a cudaMemcpy whose kind
 *     does not match where its pointers live or whose range leaves the
 *     allocation, a cudaMemset off the device, and a cuBLAS call with a
 *     host matrix or pointer array or a leading dimension below its rows
 *     (cuBLAS returns CUBLAS_STATUS_INVALID_VALUE, 7, for those; so does
 *     this).
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
#include <type_traits>

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

/* device allocations, all PROT_NONE while no device work runs; p is what
 * cudaMalloc returned, len the bytes asked for (what copies and GEMMs may
 * touch), map/maplen the whole mapping with its two guard pages */
struct alloc { void *p; size_t len; char *map; size_t maplen; };
inline alloc *allocs;
inline int nalloc, capalloc, open_depth;
inline int unprotected;

inline const size_t page = 4096;
inline size_t page_round(size_t n) { return (n + page - 1) / page * page; }

/* the usable pages of allocation i (between the guards) */
inline void protect_one(int i, int prot)
{
    if (mprotect(allocs[i].map + page, allocs[i].maplen - 2 * page, prot)) { perror("cuda emulation: mprotect"); abort(); }
}

inline void protect_all(int prot)
{
    if (unprotected) return;
    for (int i = 0; i < nalloc; i++) protect_one(i, prot);
}
inline void open() { if (open_depth++ == 0) protect_all(PROT_READ | PROT_WRITE); }
inline void close() { if (--open_depth == 0) protect_all(PROT_NONE); }

/* the one line naming the call and why, then abort */
[[noreturn]] inline void fail(const char *what, const char *detail)
{
    fprintf(stderr, "cuda emulation: %s: %s\n", what, detail);
    abort();
}

/* the allocation holding [p, p + bytes), or -1 (bytes 0: p may be its end) */
inline int find(const void *p, size_t bytes)
{
    const char *q = (const char *)p;
    for (int i = 0; i < nalloc; i++) {
        const char *a = (const char *)allocs[i].p;
        if (q >= a && q <= a + allocs[i].len && bytes <= (size_t)(a + allocs[i].len - q)) return i;
    }
    return -1;
}
inline int on_device(const void *p) { return find(p, 0) >= 0; }

inline void *dmalloc(size_t bytes)
{
    if (nalloc == capalloc) {
        const int nc = capalloc ? 2 * capalloc : 64;
        alloc *na = (alloc *)realloc(allocs, (size_t)nc * sizeof *na);
        if (!na) return NULL;
        allocs = na;
        capalloc = nc;
    }
    const size_t len = ((bytes ? bytes : 1) + 255) & ~(size_t)255;
    const size_t maplen = page_round(len) + 2 * page;
    char *m = (char *)mmap(NULL, maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    allocs[nalloc] = { m + maplen - page - len, bytes, m, maplen };
    nalloc++;
    if (open_depth || unprotected) protect_one(nalloc - 1, PROT_READ | PROT_WRITE);
    return allocs[nalloc - 1].p;
}

inline void dfree(void *p)
{
    for (int i = 0; i < nalloc; i++)
        if (allocs[i].p == p) {
            munmap(allocs[i].map, allocs[i].maplen);
            allocs[i] = allocs[--nalloc];
            return;
        }
}

/* a launch a GPU would refuse (sm_90 limits; dynamic shared memory without the opt-in) */
inline void check_config(const char *name, dim3 g, dim3 b, size_t shm)
{
    const unsigned long long nt = (unsigned long long)b.x * b.y * b.z;
    if (g.x && g.y && g.z && g.x <= 2147483647u && g.y <= 65535 && g.z <= 65535 && nt && nt <= 1024 && b.z <= 64 && shm <= 48 * 1024)
        return;
    char d[200];
    snprintf(d, sizeof d, "launch configuration a GPU refuses: grid (%u, %u, %u), block (%u, %u, %u), %zu bytes of shared memory", g.x,
             g.y, g.z, b.x, b.y, b.z, shm);
    fail(name, d);
}

/* a kernel argument that is a pointer must point into device memory (or be NULL) */
template <class T> void check_arg(const char *name, int i, const T &a)
{
    if constexpr (std::is_pointer<T>::value && !std::is_function<typename std::remove_pointer<T>::type>::value) {
        if (a && !on_device((const void *)a)) {
            char d[96];
            snprintf(d, sizeof d, "argument %d (%p) is not device memory", i + 1, (const void *)a);
            fail(name, d);
        }
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
    const char *name;
    dim3 g, b;
    size_t shm;
    int sync;
    void operator()(P... a)
    {
        check_config(name, g, b, shm);
        int i = 0;
        (check_arg(name, i++, a), ...);
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

template <class... P> launch<void (*)(P...)> make_launch(void (*k)(P...), const char *name, dim3 g, dim3 b, size_t shm, int sync)
{
    launch<void (*)(P...)> l = { k, name, g, b, shm, sync };
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
#define SDD_LAUNCH(k, g, b, s) sdd_emu::make_launch((k), #k, dim3(g), dim3(b), (size_t)(s), 0)
#define SDD_LAUNCH_SYNC(k, g, b, s) sdd_emu::make_launch((k), #k, dim3(g), dim3(b), (size_t)(s), 1)
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
/* where a copy's range must lie for its kind: 1 device, 0 host */
static inline void emu_copy_side(const void *p, size_t bytes, int dev, const char *what, const char *side)
{
    char d[128];
    if (!bytes) return;   /* cudaMemcpy of nothing succeeds whatever the pointers */
    if (dev && sdd_emu::find(p, bytes) < 0) {
        snprintf(d, sizeof d, "%s range [%p, +%zu) is not within one device allocation", side, p, bytes);
        sdd_emu::fail(what, d);
    }
    if (!dev && sdd_emu::on_device(p)) {
        snprintf(d, sizeof d, "%s %p is device memory, the copy's kind says host", side, p);
        sdd_emu::fail(what, d);
    }
}
static inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    emu_copy_side(dst, bytes, kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice, "cudaMemcpy", "destination");
    emu_copy_side(src, bytes, kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice, "cudaMemcpy", "source");
    sdd_emu::open();
    memcpy(dst, src, bytes);
    sdd_emu::close();
    return cudaSuccess;
}
static inline cudaError_t cudaMemset(void *dst, int v, size_t bytes)
{
    emu_copy_side(dst, bytes, 1, "cudaMemset", "destination");
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

#define CUBLAS_STATUS_INVALID_VALUE 7

/* a column-major matrix of rows x cols at leading dimension ld: its elements
 * must lie in device memory; ld below rows is cuBLAS's INVALID_VALUE (1) */
static inline int emu_blas_matrix(const char *what, const char *which, const float *p, int rows, int cols, int ld)
{
    if (ld < (rows > 1 ? rows : 1)) return 1;
    if (!rows || !cols) return 0;
    const size_t n = (size_t)(cols - 1) * ld + rows;
    if (sdd_emu::find(p, n * sizeof *p) < 0) {
        char d[160];
        snprintf(d, sizeof d, "matrix %s (%d x %d, ld %d at %p) is not within one device allocation", which, rows, cols, ld,
                 (const void *)p);
        sdd_emu::fail(what, d);
    }
    return 0;
}
/* A, B and C of one product; 1 for an invalid value */
static inline int emu_blas_check(const char *what, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *A,
                                 int lda, const float *B, int ldb, const float *C, int ldc)
{
    if (m < 0 || n < 0 || k < 0) return 1;
    return emu_blas_matrix(what, "A", A, ta == CUBLAS_OP_T ? k : m, ta == CUBLAS_OP_T ? m : k, lda) |
           emu_blas_matrix(what, "B", B, tb == CUBLAS_OP_T ? n : k, tb == CUBLAS_OP_T ? k : n, ldb) |
           emu_blas_matrix(what, "C", C, m, n, ldc);
}

static inline cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                                       const float *alpha, const float *A, int lda, long long sa,
                                                       const float *B, int ldb, long long sb, const float *beta,
                                                       float *C, int ldc, long long sc, int batch)
{
    (void)h;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < batch; i++)
        if (emu_blas_check("cublasSgemm", ta, tb, m, n, k, A + i * sa, lda, B + i * sb, ldb, C + i * sc, ldc))
            return CUBLAS_STATUS_INVALID_VALUE;
    sdd_emu::open();
    for (int i = 0; i < batch; i++)
        cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_T ? CblasTrans : CblasNoTrans, tb == CUBLAS_OP_T ? CblasTrans : CblasNoTrans,
                    m, n, k, *alpha, A + i * sa, lda, B + i * sb, ldb, *beta, C + i * sc, ldc);
    sdd_emu::close();
    return CUBLAS_STATUS_SUCCESS;
}

/* the pointer arrays are device memory (a host array faults on a card), read while the device is open */
static inline cublasStatus_t cublasSgemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                                const float *alpha, const float *const A[], int lda, const float *const B[], int ldb,
                                                const float *beta, float *const C[], int ldc, int batch)
{
    (void)h;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    const size_t arr = (size_t)batch * sizeof(float *);
    if (batch && (sdd_emu::find(A, arr) < 0 || sdd_emu::find(B, arr) < 0 || sdd_emu::find(C, arr) < 0))
        sdd_emu::fail("cublasSgemmBatched", "a pointer array is not device memory");
    int bad = 0;
    sdd_emu::open();
    for (int i = 0; i < batch && !bad; i++) bad = emu_blas_check("cublasSgemmBatched", ta, tb, m, n, k, A[i], lda, B[i], ldb, C[i], ldc);
    for (int i = 0; i < batch && !bad; i++)
        cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_T ? CblasTrans : CblasNoTrans, tb == CUBLAS_OP_T ? CblasTrans : CblasNoTrans,
                    m, n, k, *alpha, A[i], lda, B[i], ldb, *beta, C[i], ldc);
    sdd_emu::close();
    return bad ? CUBLAS_STATUS_INVALID_VALUE : CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda, const float *B, int ldb,
                                         const float *beta, float *C, int ldc)
{
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

#endif
