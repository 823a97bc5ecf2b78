/* Helpers shared by the CUDA backend's .cu files (C++ only): the cuBLAS
 * handle, launch-error checks that record a reason in the context, grid
 * sizes, and the eval-only guard. */
#ifndef SDD_BACKEND_CUDA_INTERNAL_H
#define SDD_BACKEND_CUDA_INTERNAL_H
#include "backend/cuda.h"
#include <cuda_runtime.h>
#include <cublas_v2.h>

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
