/* Probes of the CUDA emulation's refusals (src/backend/cuda_emu.h), for
 * test_cuda_emu_strict: each probe does one thing, right or wrong, on the
 * emulated device. Compiled as C++ with -DSDD_CU_EMU like the backend's .cu
 * files; a wrong probe is expected to end the process (abort with a line on
 * stderr, or a fault on a guard page), a right one to return 0. */
#include "backend/cuda_emu.h"
#include <stdint.h>

__global__ void k_probe_scale(float *x, int n, float a)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= a;
}

/* writes one float at offset off of x (past the end for off >= n) */
__global__ void k_probe_poke(float *x, long off) { x[off] = 1.0f; }

__global__ void k_probe_sum(const float *const *p, int n, float *out)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += *p[i];
    *out = s;
}

extern "C" const char *emu_probe_name(int which)
{
    static const char *const names[] = {
        "right: launch, copies, GEMMs",          /* 0 */
        "host pointer as a kernel argument",     /* 1 */
        "grid y above 65,535",                   /* 2 */
        "empty grid",                            /* 3 */
        "1,025 threads per block",               /* 4 */
        "64 KiB of dynamic shared memory",       /* 5 */
        "kernel writes one float past the end",  /* 6 */
        "kernel writes 4 KiB before the start", /* 7 */
        "host-to-device copy into host memory",  /* 8 */
        "device-to-host copy past the allocation", /* 9 */
        "cudaMemset of host memory",             /* 10 */
        "cuBLAS GEMM with a host matrix",        /* 11 */
        "cuBLAS batched GEMM with a host pointer array", /* 12 */
        "cuBLAS GEMM whose B runs past its allocation",   /* 13 */
        "cuBLAS GEMM with lda below A's rows",   /* 14 */
    };
    return which >= 0 && which < (int)(sizeof names / sizeof *names) ? names[which] : NULL;
}

/* 0 when the probe ran to its end; 1 when a call returned an error; 2 when a
 * right probe computed a wrong value */
extern "C" int emu_probe(int which)
{
    const int n = 100;
    float host[100], *d = NULL, *d2 = NULL, *d3 = NULL;
    for (int i = 0; i < n; i++) host[i] = (float)i;
    if (cudaMalloc((void **)&d, n * sizeof(float)) || cudaMalloc((void **)&d2, n * sizeof(float)) ||
        cudaMalloc((void **)&d3, n * sizeof(float)))
        return 1;
    if (cudaMemcpy(d, host, n * sizeof(float), cudaMemcpyHostToDevice)) return 1;
    const float one = 1.0f, zero = 0.0f;
    switch (which) {
    case 0: {
        SDD_LAUNCH(k_probe_scale, 4, 32, 0)(d, n, 2.0f);
        SDD_LAUNCH(k_probe_scale, dim3(1, 65535), 1, 0)(d2, 0, 2.0f);      /* the limits themselves */
        SDD_LAUNCH(k_probe_scale, 1, 1024, 48 * 1024)(d2, 0, 2.0f);
        /* C (10 x 10) = A (10 x 10) * I: the identity built on the host */
        float eye[100] = { 0 };
        for (int i = 0; i < 10; i++) eye[i * 10 + i] = 1.0f;
        if (cudaMemcpy(d2, eye, sizeof eye, cudaMemcpyHostToDevice)) return 1;
        if (cublasSgemm(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 10, 10, 10, &one, d, 10, d2, 10, &zero, d3, 10)) return 1;
        const float *ptrs[3] = { d, d2, d3 };
        float **dp = NULL;
        if (cudaMalloc((void **)&dp, sizeof ptrs) || cudaMemcpy(dp, ptrs, sizeof ptrs, cudaMemcpyHostToDevice)) return 1;
        if (cublasSgemmBatched(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 10, 10, 10, &one, (const float *const *)dp, 10,
                               (const float *const *)dp + 1, 10, &zero, (float *const *)dp + 2, 10, 1))
            return 1;
        if (cudaMemcpy(d2, d, 0, cudaMemcpyDeviceToDevice)) return 1;   /* nothing: any pointers */
        float back[100];
        if (cudaMemcpy(back, d3, sizeof back, cudaMemcpyDeviceToHost)) return 1;
        for (int i = 0; i < n; i++)
            if (back[i] != 2.0f * (float)i) return 2;
        cudaFree(dp);
        break;
    }
    case 1: SDD_LAUNCH(k_probe_scale, 4, 32, 0)(host, n, 2.0f); break;
    case 2: SDD_LAUNCH(k_probe_scale, dim3(1, 65536), 32, 0)(d, n, 2.0f); break;
    case 3: SDD_LAUNCH(k_probe_scale, 0, 32, 0)(d, n, 2.0f); break;
    case 4: SDD_LAUNCH(k_probe_scale, 1, 1025, 0)(d, n, 2.0f); break;
    case 5: SDD_LAUNCH(k_probe_scale, 1, 32, 64 * 1024)(d, n, 2.0f); break;
    /* 100 floats are 400 bytes, rounded to 512 against the guard: 28 floats of slack */
    case 6: SDD_LAUNCH(k_probe_poke, 1, 1, 0)(d, 128L); break;
    /* the start is aligned to the end, so less than a page before it is slack; a page before is the guard */
    case 7: SDD_LAUNCH(k_probe_poke, 1, 1, 0)(d, -1024L); break;
    case 8: if (cudaMemcpy(host, d, n * sizeof(float), cudaMemcpyHostToDevice)) return 1; break;
    case 9: if (cudaMemcpy(host, d + 1, n * sizeof(float), cudaMemcpyDeviceToHost)) return 1; break;
    case 10: if (cudaMemset(host, 0, sizeof host)) return 1; break;
    case 11:
        if (cublasSgemm(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 10, 10, 10, &one, host, 10, d2, 10, &zero, d3, 10)) return 1;
        break;
    case 12: {
        const float *ptrs[3] = { d, d2, d3 };
        if (cublasSgemmBatched(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 10, 10, 10, &one, ptrs, 10, ptrs + 1, 10, &zero,
                               (float *const *)ptrs + 2, 10, 1))
            return 1;
        break;
    }
    case 13:   /* B is 10 x 10 at ld 10 from d2 + 1: one float past the 100 asked for */
        if (cublasSgemm(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 10, 10, 10, &one, d, 10, d2 + 1, 10, &zero, d3, 10)) return 1;
        break;
    case 14: /* cuBLAS answers CUBLAS_STATUS_INVALID_VALUE: the probe returns 1, nothing aborts */
        if (cublasSgemm(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 10, 10, 10, &one, d, 9, d2, 10, &zero, d3, 10)) return 1;
        break;
    default: return 1;
    }
    cudaFree(d);
    cudaFree(d2);
    cudaFree(d3);
    return 0;
}
