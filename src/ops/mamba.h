/* Sequence ops of the Mamba back-end (mamba.c), same conventions as ops.h:
 * forward functions record their backward on the tape, (B, ...) with the
 * batch leading, parameter gradients routed per segment (path), reductions in
 * a fixed order (the same bits for any thread count). Sequences are laid out
 * time-major per sample: (B, T, C). */
#ifndef SDD_OPS_MAMBA_H
#define SDD_OPS_MAMBA_H
#include "core/tensor.h"

/* RMSNorm over the last dim (mamba_ssm's rms_norm_fn): y = x / sqrt(mean(x^2) + eps) * w.
 * x (B, ..., D), w (D). */
sdd_tensor *sdd_rmsnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, float eps);
/* x * sigmoid(x), any shape. */
sdd_tensor *sdd_silu(sdd_ctx *c, sdd_tensor *x);
/* log(1 + exp(x)), x for x > 20 (PyTorch's threshold), any shape. */
sdd_tensor *sdd_softplus(sdd_ctx *c, sdd_tensor *x);
/* Depthwise Conv1d with zero padding: y[b,t,c] = bias[c] + sum_k w[c,0,k] x[b, t+k-pad_left, c],
 * x (B, T, C), w (C, 1, K <= 64), bias (C) or NULL -> (B, T + pad_left + pad_right - K + 1, C).
 * Mamba's causal conv (padding K-1 both sides, output cut to T) is pad_left = K-1, pad_right = 0. */
#define SDD_DWCONV_MAXK 64
sdd_tensor *sdd_dwconv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *bias, int pad_left, int pad_right);
/* Selective scan (mamba_ssm selective_scan_fn with delta_softplus):
 *   delta = softplus(dt + dt_bias), A = -exp(A_log),
 *   h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t   (per channel d, state n; h_{-1} = 0),
 *   y_t = C_t . h_t + Dskip * u_t,  out = y * silu(z)  (no gating when z is NULL).
 * u, dt, z (B, T, Di); A_log (Di, N); Bm, Cm (B, T, N); Dskip, dt_bias (Di) (dt_bias may be NULL).
 * out (B, T, Di). The backward is the exact reverse-time recurrence; it recomputes the
 * states chunk by chunk from the states the forward kept every SDD_SCAN_CHUNK steps. */
#define SDD_SCAN_CHUNK 16
sdd_tensor *sdd_selective_scan(sdd_ctx *c, sdd_tensor *u, sdd_tensor *dt, sdd_tensor *A_log, sdd_tensor *Bm,
                               sdd_tensor *Cm, sdd_tensor *Dskip, sdd_tensor *z, sdd_tensor *dt_bias);
/* Attention pooling over time: a = softmax_t(x_t . w + b), out = sum_t a_t x_t.
 * x (B, T, D), w (1, D), b (1) -> (B, D). */
sdd_tensor *sdd_attn_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b);
/* x[:, ::-1, :] of (B, T, D) (torch flip over dim 1). */
sdd_tensor *sdd_flip_time(sdd_ctx *c, sdd_tensor *x);
/* x[..., start:start+len] of x (B, ..., D) -> (B, ..., len). */
sdd_tensor *sdd_slice_last(sdd_ctx *c, sdd_tensor *x, int start, int len);

#endif
