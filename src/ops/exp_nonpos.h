/* exp(x) for x <= 0 (the selective scan's decay factors), shared by the CPU
 * scan (ops/mamba.c) and its CUDA kernels (backend/cuda_mamba.cu) so both
 * compute the same function. Branch-free so the compiler can vectorise loops
 * over it: 2^(x log2 e) as 2^n times a degree-6 polynomial (Taylor) for 2^f,
 * f in [-0.5, 0.5]; relative error below 7e-7 for x > -10 and 4e-6 down to
 * -87 (the rounding of x log2 e); 0 below -87 (where expf is denormal). */
#ifndef SDD_OPS_EXP_NONPOS_H
#define SDD_OPS_EXP_NONPOS_H
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define SDD_HOSTDEV __host__ __device__
#else
#define SDD_HOSTDEV
#endif

static inline SDD_HOSTDEV float sdd_exp_nonpos(float x)
{
    float y = x * 1.44269504088896341f;
    y = y < -126.0f ? -126.0f : y;
    const float n = (y + 12582912.0f) - 12582912.0f, f = y - n;   /* round to nearest: 1.5 * 2^23 */
    float p = 1.5403530393381609954e-4f;
    p = p * f + 1.3333558146428443423e-3f;
    p = p * f + 9.6181291076284771619e-3f;
    p = p * f + 5.5504108664821579953e-2f;
    p = p * f + 2.4022650695910071233e-1f;
    p = p * f + 6.9314718055994530942e-1f;
    p = p * f + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return x < -87.0f ? 0.0f : p * s;
}

#endif
