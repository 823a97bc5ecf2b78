/* Helpers shared by the CUDA backend's .cu files (C++ only): the runtime
 * (CUDA's, or the CPU emulation of cuda_emu.h with SDD_CU_EMU), the launch
 * macros, the cuBLAS handle, launch-error checks that record a reason in the context, grid
 * sizes, and the eval-only guard. */
#ifndef SDD_BACKEND_CUDA_INTERNAL_H
#define SDD_BACKEND_CUDA_INTERNAL_H
#include "backend/cuda.h"
#ifdef SDD_CU_EMU
#include "backend/cuda_emu.h"
#else
#include <cuda_runtime.h>
#include <cublas_v2.h>
/* kernel launches go through these so the emulation build (cuda_emu.h) can
 * run them on the CPU: SDD_LAUNCH(k, grid, block, shmem)(args...); kernels
 * that use __syncthreads are launched with SDD_LAUNCH_SYNC */
#define SDD_LAUNCH(k, g, b, s) k<<<(g), (b), (s)>>>
#define SDD_LAUNCH_SYNC(k, g, b, s) k<<<(g), (b), (s)>>>
#define SDD_SHARED_DYN(type, name) extern __shared__ type name[]
/* loops whose indices must become constants (register arrays) */
#define SDD_UNROLL _Pragma("unroll")
#endif
#ifndef SDD_UNROLL
#define SDD_UNROLL
#endif

/* the process's cuBLAS handle (created by sdd_cu_init), FP32 math, default stream */
cublasHandle_t sdd_cu_blas(void);
/* cublasSgemm, ...StridedBatched and ...Batched on that handle, counting
 * their FLOPs (sdd_cu_gemm_flops); every GEMM of the backend uses these */
cublasStatus_t sdd_cu_sgemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha, const float *A,
                            int lda, const float *B, int ldb, const float *beta, float *C, int ldc);
cublasStatus_t sdd_cu_sgemm_sb(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha, const float *A,
                               int lda, long long sa, const float *B, int ldb, long long sb, const float *beta, float *C, int ldc,
                               long long sc, int batch);
cublasStatus_t sdd_cu_sgemm_b(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha,
                              const float *const A[], int lda, const float *const B[], int ldb, const float *beta, float *const C[],
                              int ldc, int batch);
/* -1 with c->err set when the last launch failed */
int sdd_cu_launched(sdd_ctx *c, const char *what);
/* -1 with c->err set when st is not CUBLAS_STATUS_SUCCESS */
int sdd_cu_blas_ok(sdd_ctx *c, cublasStatus_t st, const char *what);
/* -1 with c->err set for a training-mode request (batch statistics, dropout, gradients) */
int sdd_cu_eval_only(sdd_ctx *c, const char *what);

/* training pieces shared between the .cu files (C++ linkage) */
extern "C" {
#include "ops/internal.h"
}
int sdd_cu_conv_fwd(sdd_ctx *c, const sdd_conv_geom *g, int B, const float *x, const float *w, const float *b, float *out);
/* the direct convolution kernel (cuda_ops.cu): whether it takes geometry g,
 * and out (+)= conv(x, w) + b through it (accum 1: added to out) */
int sdd_cu_conv_direct_ok(const sdd_conv_geom *g, int B);
int sdd_cu_conv_direct(sdd_ctx *c, const sdd_conv_geom *g, int B, const float *x, const float *w, const float *b, int accum, float *out);
int sdd_cu_conv_bwd(sdd_ctx *c, const sdd_conv_geom *g, int B, const float *x, const sdd_tensor *w, const sdd_tensor *bias,
                    const float *dy, float *dx);
/* im2col of nb samples of x (nb, Cin, H, W): kmajor 0 -> cols (nb, Kd, N), 1 -> (Kd, nb, N) */
int sdd_cu_im2col(sdd_ctx *c, const sdd_conv_geom *g, int nb, const float *x, int kmajor, float *cols);
/* g[k] += sum over rows r < rows of x[r * per + k] (deterministic parallel reduction) */
int sdd_cu_colsum_acc(sdd_ctx *c, const float *x, int64_t rows, size_t per, float *g);
int sdd_cu_axpy(sdd_ctx *c, float *y, const float *x, float a, size_t n);
int sdd_cu_rowsum(sdd_ctx *c, const float *dy, int64_t r0, int64_t r1, size_t per, float *g);
float *sdd_cu_dropout_mask(sdd_ctx *c, uint64_t key, size_t m, size_t per_row, float p);
/* f[i] = 1/(1-p) where sdd_rng_uniform(key, i) >= p, else 0, i < n, drawn on the
 * device (cuda_xlsr.cu; the CPU's RNG bit for bit); -1 with c->err set */
int sdd_cu_drop_factors(sdd_ctx *c, uint64_t key, size_t n, float p, float *f);
/* graph pooling's forward kernels (cuda_graph.cu), also launched by the
 * training variant in cuda_graph_grad.cu: scores s (B, N) = sigmoid(h w + b),
 * the top K per sample (ties to the lower index), gather (B, K, D) = h_node s */
__global__ void k_gpool_scores(const float *h, int B, int N, int D, const float *w, const float *bias, float *s);
__global__ void k_gpool_topk(const float *s, int B, int N, int K, int *idx);
__global__ void k_gpool_gather(const float *h, const float *s, const int *idx, int B, int N, int K, int D, float *out);
/* tape entries of the forward ops (0, or -1 with c->err set) */
int sdd_cu_record_selu(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out);
int sdd_cu_record_add(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out);
int sdd_cu_record_max2(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out);
int sdd_cu_record_expand(sdd_ctx *c, sdd_tensor *p, sdd_tensor *out);
int sdd_cu_record_concat(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, sdd_tensor *out);
int sdd_cu_record_slice(sdd_ctx *c, sdd_tensor *x, int start, int len, sdd_tensor *out);
int sdd_cu_record_linear(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, sdd_tensor *out);
int sdd_cu_record_bmm(sdd_ctx *c, sdd_tensor *a, sdd_tensor *x, sdd_tensor *out);
int sdd_cu_record_conv(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, const sdd_conv_geom *g, sdd_tensor *out);
/* out[k] came from x[idx[k]] (disjoint windows); sign: times sign(x) (|.|-max) */
int sdd_cu_record_scatter(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out, int *idx, int sign);
/* training forward of the fused residual block (geometries checked by the caller) */
extern "C" sdd_tensor *sdd_cu_resblock_train(sdd_ctx *c, sdd_tensor *x, const sdd_resblock_params *p, const sdd_conv_geom *g1,
                                             const sdd_conv_geom *g2, const sdd_conv_geom *gd);

#define SDD_CU_THREADS 256
static inline unsigned sdd_cu_blocks(size_t n) { return (unsigned)((n + SDD_CU_THREADS - 1) / SDD_CU_THREADS); }
#define SDD_DEV(t) sdd_tensor_dev(c, (t))

#endif
