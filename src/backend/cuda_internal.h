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
#endif

/* the process's cuBLAS handle (created by sdd_cu_init), FP32 math, default stream */
cublasHandle_t sdd_cu_blas(void);
/* -1 with c->err set when the last launch failed */
int sdd_cu_launched(sdd_ctx *c, const char *what);
/* -1 with c->err set when st is not CUBLAS_STATUS_SUCCESS */
int sdd_cu_blas_ok(sdd_ctx *c, cublasStatus_t st, const char *what);
/* -1 with c->err set for a training-mode request (batch statistics, dropout, gradients) */
int sdd_cu_eval_only(sdd_ctx *c, const char *what);

#define SDD_CU_THREADS 256
static inline unsigned sdd_cu_blocks(size_t n) { return (unsigned)((n + SDD_CU_THREADS - 1) / SDD_CU_THREADS); }
#define SDD_DEV(t) sdd_tensor_dev(c, (t))

#endif
