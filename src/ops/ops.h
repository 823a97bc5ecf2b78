/* Every differentiable op: forward functions that record their backward on
 * the context's tape (see core/tensor.h). Layouts are row-major; shapes are
 * given as (B, ...) with B the batch, always the leading dim, so ops can route
 * parameter gradients per segment (path) of the batch. Each op returns NULL
 * when an input is NULL or memory runs out. Ops are grouped by family:
 * conv.c (sinc front end, conv2d), pool.c (max pools, |.|-max reductions,
 * graph pool, readout), norm.c (batch norm), linear.c (linear, bmm),
 * attention.c (graph attention maps), elementwise.c (SELU, add, max, dropout,
 * node concat/slice, batch expand), loss.c (weighted cross entropy),
 * resblock.c (AASIST's residual block as one memory-saving op). */
#ifndef SDD_OPS_OPS_H
#define SDD_OPS_OPS_H
#include "core/tensor.h"

/* Fixed sinc filter bank (C, K) applied to wave (B, L) (no padding, stride 1),
 * then |.| and MaxPool2d(3,3) over (filter, time) as one op: out (B, 1, C/3, (L-K+1)/3).
 * No gradient flows (the filters are fixed and the input is data). */
sdd_tensor *sdd_sinc_front(sdd_ctx *c, sdd_tensor *wave, const float *filt, int C, int K);

/* 2-D convolution, stride 1. x (B, Cin, H, W), w (Cout, Cin, kh, kw), b (Cout) or NULL.
 * out (B, Cout, H + 2ph - kh + 1, W + 2pw - kw + 1). */
sdd_tensor *sdd_conv2d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, int ph, int pw);

/* MaxPool2d with stride = kernel, no padding, floor. x (B, C, H, W) -> (B, C, H/kh, W/kw). */
sdd_tensor *sdd_maxpool2d(sdd_ctx *c, sdd_tensor *x, int kh, int kw);

/* max |e| over one axis of e (B, C, H, W), node-major result:
 * axis 3 -> (B, H, C); axis 2 -> (B, W, C). */
sdd_tensor *sdd_absmax_axis(sdd_ctx *c, sdd_tensor *e, int axis);

/* BatchNorm. channel_last = 0: x (B, C, S...) with C = x->n[1]; channel_last = 1:
 * x (B, ..., C) normalised per last-dim channel over all rows (BatchNorm1d on x.view(-1, C)).
 * Train mode: batch statistics (per segment when c->bn_per_seg) and a running
 * update from the whole batch's moments (momentum, unbiased variance).
 * Eval mode: running statistics. */
sdd_tensor *sdd_batchnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta,
                          sdd_tensor *rmean, sdd_tensor *rvar, int channel_last, float momentum, float eps);
/* Only the running-statistics update of a channel-first BatchNorm in train mode
 * (the reference computes bn1 in residual blocks and discards its output). */
void sdd_bn_track(sdd_ctx *c, sdd_tensor *x, sdd_tensor *rmean, sdd_tensor *rvar, float momentum);

/* AASIST residual block, fused: with A = SELU(BN2(conv1(x))),
 * y = MaxPool(1,3)(conv2(A) + (downsample(x) or x)).
 * x (B, Cin, H, W); w1 (Cout, Cin, kh1, kw1); w2 (Cout, Cout, kh2, kw2);
 * wd (Cout, Cin, khd, kwd) or NULL for the identity (then x must have conv2's output shape);
 * biases (Cout) or NULL; BN2 as sdd_batchnorm (channel-first).
 * y (B, Cout, H2, W2 / 3) with (H2, W2) conv2's output plane.
 * The same values and gradients as the separate ops, but the backward keeps
 * only conv1's output (or not even that when conv1 is cheap to recompute), the
 * BN statistics, one byte per output for the pool's argmax and the output;
 * everything else is recomputed in the backward into temporaries. */
typedef struct {
    sdd_tensor *w1, *b1;
    sdd_tensor *gamma, *beta, *rmean, *rvar;
    sdd_tensor *w2, *b2;
    sdd_tensor *wd, *bd;
    int ph1, pw1, ph2, pw2, phd, pwd;   /* zero padding of conv1, conv2, downsample */
    float momentum, eps;                /* BN2 */
} sdd_resblock_params;
sdd_tensor *sdd_resblock(sdd_ctx *c, sdd_tensor *x, const sdd_resblock_params *p);

sdd_tensor *sdd_selu(sdd_ctx *c, sdd_tensor *x);
/* a + b, same shape. */
sdd_tensor *sdd_add(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b);
/* elementwise max(a, b), same shape (ties go to a). */
sdd_tensor *sdd_max2(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b);
/* Inverted dropout with probability p, active in train mode only; mask from the step's counter RNG. */
sdd_tensor *sdd_dropout(sdd_ctx *c, sdd_tensor *x, float p);
/* p (1, ...) broadcast to (B, ...); its gradient is summed per segment. */
sdd_tensor *sdd_expand_batch(sdd_ctx *c, sdd_tensor *p, int B);
/* The same values viewed with another shape (same element count); gradients pass through. */
sdd_tensor *sdd_reshape(sdd_ctx *c, sdd_tensor *x, int nd, const int64_t *shape);
/* (B, N1, D) ++ (B, N2, D) -> (B, N1 + N2, D) */
sdd_tensor *sdd_concat_nodes(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b);
/* x[:, start:start+len, :] of (B, N, D) */
sdd_tensor *sdd_slice_nodes(sdd_ctx *c, sdd_tensor *x, int start, int len);

/* y = x w^T + b over the last dim. x (B, ..., din), w (dout, din), b (dout) or NULL. */
sdd_tensor *sdd_linear(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b);
/* The same through int8 weights (backend/qgemm.h; inference only: no
 * backward, CPU), every row of x at once: a row's result does not depend
 * on the others, as the quantization is per row and the sums exact. */
struct sdd_q8_linear_s;
sdd_tensor *sdd_linear_q8(sdd_ctx *c, sdd_tensor *x, const struct sdd_q8_linear_s *q, sdd_tensor *b);
/* (B, N, M) @ (B, M, D) -> (B, N, D) */
sdd_tensor *sdd_bmm(sdd_ctx *c, sdd_tensor *a, sdd_tensor *x);

/* Graph attention map: A[b,i,:] = softmax_j(tanh((x_i * x_j) wp^T + bp) . aw(i,j) / tau),
 * aw(i,j) = aw11 when i,j < nT, aw22 when i,j >= nT, aw12 otherwise (aw* (Do, 1)).
 * x (B, N, D), wp (Do, D), bp (Do) -> A (B, N, N). Pass nT = N for one node type. */
sdd_tensor *sdd_pair_attn(sdd_ctx *c, sdd_tensor *x, sdd_tensor *wp, sdd_tensor *bp,
                          sdd_tensor *aw11, sdd_tensor *aw22, sdd_tensor *aw12, int nT, float tau);
/* Master-node attention: a = softmax_n(tanh((x_n * m) wm^T + bm) . aw / tau); out = sum_n a_n x_n.
 * x (B, N, D), m (B, 1, D), wm (Do, D), bm (Do), aw (Do, 1) -> (B, 1, D). */
sdd_tensor *sdd_master_attn(sdd_ctx *c, sdd_tensor *x, sdd_tensor *m, sdd_tensor *wm, sdd_tensor *bm,
                            sdd_tensor *aw, float tau);
/* Graph pooling: s = sigmoid(dropout(h) w^T + b); keep the max(int(N*ratio), 1) highest
 * scores in descending order; out = (h * s) at those nodes. h (B, N, D), w (1, D), b (1). */
sdd_tensor *sdd_graph_pool(sdd_ctx *c, sdd_tensor *h, sdd_tensor *w, sdd_tensor *b, double ratio, float p_drop);
/* Readout [max_n |T|, mean_n T, max_n |S|, mean_n S, m] -> (B, 5D). T (B,nT,D), S (B,nS,D), m (B,1,D). */
sdd_tensor *sdd_readout(sdd_ctx *c, sdd_tensor *T, sdd_tensor *S, sdd_tensor *m);

/* Weighted cross entropy, one loss per segment: loss_s = sum_b w[y_b] nll_b / sum_b w[y_b]
 * over the samples of segment s (PyTorch's weighted mean). logits (B, K) -> (nseg,).
 * wsum (nseg) receives each segment's weight sum when not NULL. */
sdd_tensor *sdd_ce_weighted(sdd_ctx *c, sdd_tensor *logits, const int *labels, const float *cw, float *wsum);

#endif
