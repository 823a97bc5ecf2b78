/* Int8 linear layers for inference (sdd score --int8): y = x @ W^T + b with
 * W quantized once per output row and x quantized per row as it comes.
 * The scheme, which tools/reference/qgemm_ref.py implements independently:
 *   weights, per output row o (symmetric, int8 in [-127, 127]):
 *     s_o = max_k |W[o][k]| / 127 (float32; 1 when the row is 0),
 *     q[o][k] = nearbyint(W[o][k] / s_o) (float32 division, ties to even)
 *   activations, per input row r (asymmetric, uint8 in [0, 255], zero exact):
 *     lo = min(0, min_k x[r][k]), hi = max(0, max_k x[r][k]),
 *     s_r = (hi - lo) / 255 (float32; 1 when hi == lo), z_r = clamp(nearbyint(-lo / s_r), 0, 255),
 *     a[r][k] = clamp(nearbyint(x[r][k] / s_r) + z_r, 0, 255)
 *   output, from the exact integer sum acc = sum_k a[r][k] q[o][k]:
 *     y[r][o] = (float)((double)(acc - z_r sum_k q[o][k]) * ((double)s_r * s_o) + b[o])
 * The integer sums are exact, so every kernel, tile order and thread count
 * gives the same bits. The fast kernels use VNNI's vpdpbusd: with AVX-512,
 * 64 uint8 x int8 products per instruction against 16 float FMAs; the
 * 256-bit AVX-VNNI form (laptop cores without AVX-512) 32. Where the CPU
 * has AMX (Xeon since Sapphire Rapids; decided at run time, any build),
 * AUTO uses its tiles instead: 16 x 16 x 64 products per TDPBUSD
 * (qgemm_amx.c). A build for a CPU with none of these has only the scalar
 * loop, exact but slower than float32, so sdd score refuses --int8 there
 * (sdd_q8_fast). */
#ifndef SDD_BACKEND_QGEMM_H
#define SDD_BACKEND_QGEMM_H

#include <stdint.h>
#include "core/error.h"

typedef struct sdd_q8_linear_s {
    int dout, din;
    int kp;             /* din rounded up to a multiple of 4 */
    int nb;             /* blocks of 16 output rows: (dout + 15) / 16 */
    int8_t *w;          /* (nb, kp / 4, 16, 4): block j, k-group g holds q[16 j + i][4 g + t] at i * 4 + t; 0 padded */
    float *scale;       /* (dout) s_o */
    int32_t *colsum;    /* (dout) sum_k q[o][k] */
} sdd_q8_linear;

/* The name of the fast kernel AUTO uses in this build on this CPU ("amx",
 * "avx512-vnni", "avx-vnni"), or NULL for none. */
const char *sdd_q8_fast(void);
/* 0 where sdd_q8_fast has a kernel; else -1 with e saying so (the refusal
 * of sdd score --int8 and of the library's int8 parameter) */
int sdd_q8_fast_check(sdd_err *e);

/* Quantizes W (dout, din), row-major. 0, or -1 with e set (bad sizes, a
 * weight that is not finite, out of memory). */
int sdd_q8_linear_init(sdd_q8_linear *q, const float *w, int dout, int din, sdd_err *e);
void sdd_q8_linear_free(sdd_q8_linear *q);
/* The dequantized weight q[o][k] * s_o (for checks). */
float sdd_q8_weight(const sdd_q8_linear *q, int o, int k);

/* kernels: AUTO picks AMX where the CPU runs it, else the widest the
 * build has (AVX-512 VNNI, else the 256-bit AVX-VNNI of CPUs without
 * AVX-512, else the scalar loop); the others force one (tests), an error
 * where the build or the CPU lacks it */
enum { SDD_Q8_AUTO = 0, SDD_Q8_SCALAR = 1, SDD_Q8_AVX512VNNI = 2, SDD_Q8_AVXVNNI_256 = 3, SDD_Q8_AMX = 4 };
int sdd_q8_has_kernel(int kernel);
/* "scalar", "avx512-vnni", "avx-vnni", "amx"; NULL for AUTO or an unknown kernel */
const char *sdd_q8_kernel_name(int kernel);
/* y (R, dout) = x (R, din) @ W^T + b (b may be NULL), the scheme above;
 * kernel SDD_Q8_AUTO uses the fast kernel where the build has it, threads
 * over row and column tiles. 0, or -1 with e set (out of memory; a row
 * with a value that is not finite). */
int sdd_q8_linear_forward(const sdd_q8_linear *q, const float *x, int64_t R, const float *b, float *y, int kernel,
                          sdd_err *e);

#endif
