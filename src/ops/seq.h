/* Sequence ops for wav2vec 2.0 / XLS-R and the XLSR-AASIST back-end, with the
 * conventions of ops.h (forward records backward on the tape; parameter
 * gradients per segment of the batch; deterministic reductions). Sequences
 * are channel-last: (B, T, C). Files: layernorm.c (LayerNorm, GELU,
 * transpose), conv1d.c (strided/grouped/padded Conv1d with optional weight
 * norm), attention_mh.c (multi-head scaled dot-product attention core,
 * softmax-attention pooling over one axis of a 2-D map), checkpoint.c
 * (activation recomputation of a sub-graph). */
#ifndef SDD_OPS_SEQ_H
#define SDD_OPS_SEQ_H
#include "core/tensor.h"

/* LayerNorm over the last dim (biased variance, as torch): x (..., D), gamma/beta (D). */
sdd_tensor *sdd_layernorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta, float eps);
/* GELU, erf form: 0.5 x (1 + erf(x / sqrt 2)). */
sdd_tensor *sdd_gelu(sdd_ctx *c, sdd_tensor *x);
/* (B, N, D) -> (B, D, N) */
sdd_tensor *sdd_transpose12(sdd_ctx *c, sdd_tensor *x);

/* Conv1d on channel-last sequences. x (B, T, Cin); weight (Cout, Cin / groups, K);
 * out (B, To, Cout) with To = (T + pad_left + pad_right - K) / stride + 1.
 * With wn_g (1, 1, K) given, the weight is weight norm over dim 2 (torch
 * weight_norm(dim=2)): w[:, :, k] = g[k] v[:, :, k] / ||v[:, :, k]||, v = `w`.
 * SamePad of an even kernel (drop the last frame) is pad_right = K/2 - 1. */
typedef struct { int stride, pad_left, pad_right, groups; } sdd_conv1d_opts;
sdd_tensor *sdd_conv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *wn_g, sdd_tensor *b,
                       const sdd_conv1d_opts *o);

/* Multi-head attention core: per head h (columns h*Dh .. h*Dh + Dh - 1),
 * O_h = dropout(softmax(Q_h K_h^T * scale)) V_h. q, k, v (B, T, H*Dh) -> (B, T, H*Dh).
 * Attention dropout p_drop acts in train mode unless c->dropout_off. */
sdd_tensor *sdd_mh_attention(sdd_ctx *c, sdd_tensor *q, sdd_tensor *k, sdd_tensor *v, int H, float scale,
                             float p_drop);

/* Softmax-attention pooling of a 2-D map: x, w (B, C, H, W).
 * axis 3: out (B, H, C) = sum_W x * softmax_W(w); axis 2: out (B, W, C) = sum_H x * softmax_H(w)
 * (node-major, i.e. the reference's sum then transpose(1, 2)). */
sdd_tensor *sdd_softmax_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, int axis);

/* Activation recomputation: y = fn(x) is computed without recording, only y
 * is kept; the backward recomputes fn on x with recording, runs that sub-tape
 * and releases its memory. fn must be a pure function of x and parameters
 * (dropout masks are reproduced from the op counter; no BatchNorm running
 * updates inside). Without grad the sub-graph's memory is released too, so
 * inference keeps only layer outputs. */
typedef sdd_tensor *(*sdd_ckpt_fn)(sdd_ctx *c, sdd_tensor *x, void *ud);
sdd_tensor *sdd_checkpoint(sdd_ctx *c, sdd_ckpt_fn fn, sdd_tensor *x, void *ud);
/* After a step whose backward recomputed (c->ck_sum, c->ck_max): the arena
 * peak the same step would reach with every checkpoint's activations kept,
 * from the arena's measured peak (host arena, or the device arena when dev).
 * Each footprint holds one sub-graph's activations and their gradients; kept,
 * they would all be live at the end of the backward, where the measured peak
 * held only the largest. An estimate (temporaries of the backward differ):
 * test_xlsr_aasist compares it with the measured no-recompute peak. */
size_t sdd_checkpoint_keep_estimate(const sdd_ctx *c, int dev);

#endif
