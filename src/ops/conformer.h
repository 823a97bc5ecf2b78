/* Small ops of the Conformer-TCM back-end (conformer.c), conventions of
 * ops.h: GLU over the last dim, the mean over a range of tokens, a + s * b,
 * and the fixed sinusoidal position table. */
#ifndef SDD_OPS_CONFORMER_H
#define SDD_OPS_CONFORMER_H
#include "core/tensor.h"

/* GLU over the last dim: x (..., 2C) -> out[..., c] = x[..., c] * sigmoid(x[..., C + c]). */
sdd_tensor *sdd_glu_last(sdd_ctx *c, sdd_tensor *x);
/* Mean of tokens [start, start + len) of x (B, N, D) -> (B, 1, D). */
sdd_tensor *sdd_mean_nodes(sdd_ctx *c, sdd_tensor *x, int start, int len);
/* a + s * b, same shape. */
sdd_tensor *sdd_add_scaled(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, float s);
/* The reference's sinusoidal table (n, dim): angle p / 10000^(2 floor(i/2) / dim) in
 * double rounded to float, then sin (even i) / cos (odd i) in float. */
void sdd_sinusoid_table(float *pe, int n, int dim);

#endif
