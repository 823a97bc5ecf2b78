/* Kernels shared inside src/ops (not part of the op API in ops.h): the conv2d
 * forward and backward on raw sample ranges, the BatchNorm statistics,
 * per-element normalisation and backward pieces, and the scalar SELU. The separate ops
 * (conv.c, norm.c, elementwise.c) and the fused residual block (resblock.c)
 * call the same code, so both compute bit-for-bit the same forward values.
 * Every function taking a sample range works on samples [b0, b0 + nb) of the
 * batch: data pointers point at sample b0, b0 selects the segment (path) each
 * sample's parameter gradient is routed to. Scratch comes from the arena and
 * is not released here (callers that loop take a mark around the call). */
#ifndef SDD_OPS_INTERNAL_H
#define SDD_OPS_INTERNAL_H
#include "core/tensor.h"
#include <math.h>

/* ---- device dispatch: with c->dev set an op returns its CUDA version (backend/cuda.h) ---- */
#ifdef SDD_CUDA
#include "backend/cuda.h"
#define SDD_ON_DEVICE(c, call) do { if ((c)->dev) return (call); } while (0)
#else
#define SDD_ON_DEVICE(c, call) do { } while (0)
#endif

/* ---- conv2d, stride 1, zero padding ---- */

typedef struct {
    int Cin, H, W;       /* input plane of one sample (Cin, H, W) */
    int Cout, kh, kw;    /* weight (Cout, Cin, kh, kw) */
    int ph, pw;          /* padding */
    int Ho, Wo;          /* output plane (Cout, Ho, Wo) */
} sdd_conv_geom;

/* Geometry of a conv of input planes (Cin, H, W) with w; -1 with c->err set when
 * the channel counts disagree or the output would be empty. */
int sdd_conv_geom_init(sdd_ctx *c, sdd_conv_geom *g, int Cin, int H, int W, const sdd_tensor *w, int ph, int pw);
/* out (nb, Cout, Ho, Wo) = conv(x (nb, Cin, H, W), w) + b (b may be NULL). -1 on OOM. */
int sdd_conv_fwd(sdd_ctx *c, const sdd_conv_geom *g, int nb, const float *x, const float *w, const float *b, float *out);
/* Forward in tiles, for consumers that reduce the output at once (the residual
 * block pools it): for each sample bb < nb, output row h and run of wc columns
 * starting at w0 (w0 a multiple of 3), tile (Cout, wc) with row stride ldt =
 * conv(x; w) + b, plus conv(x2; w2) + b2 when g2 is given (same output shape),
 * is handed to fn, in parallel (fn must only write what its tile owns).
 * The values are bit-identical to sdd_conv_fwd's (then + the second conv's).
 * -1 on OOM. */
typedef void (*sdd_conv_tile_fn)(void *arg, int bb, int h, int w0, int wc, const float *tile, int ldt);
int sdd_conv_fwd_tiles(sdd_ctx *c, int nb, const sdd_conv_geom *g, const float *x, const float *w, const float *b,
                       const sdd_conv_geom *g2, const float *x2, const float *w2, const float *b2,
                       sdd_conv_tile_fn fn, void *arg);
/* Backward of samples [b0, b0 + nb) given dy (nb, Cout, Ho, Wo): accumulates the
 * weight and bias gradients into each sample's segment buffer (sdd_pgrad) and,
 * when dx is not NULL, adds the input gradient into dx (nb, Cin, H, W), or
 * stores it there when dx_store is set (dx need not be initialised). -1 on OOM. */
int sdd_conv_bwd(sdd_ctx *c, const sdd_conv_geom *g, int b0, int nb, const float *x, const sdd_tensor *w,
                 const sdd_tensor *b, const float *dy, float *dx, int dx_store);

/* ---- BatchNorm ---- */

typedef struct {
    int cl;              /* channel-last layout (R, C) instead of (B, C, S) */
    int64_t C, S;        /* channels; inner size (channel-first) or rows per sample (channel-last) */
    int ng;              /* statistics groups: 1 (eval, joint statistics) or c->nseg */
    int batchstats;      /* batch statistics (train) instead of running ones */
    double *m, *is, *v;  /* (ng, C) mean, 1/sqrt(var + eps) the forward uses, biased variance */
    float *mean, *istd;  /* the same rounded to float: what the backward uses */
    double cnt[SDD_MAX_PATHS]; /* (ng) values behind each group's moments (all ranks' when reduced) */
} sdd_bn_stats;

/* element (b, ch, k) of a BatchNorm input; k runs over S */
static inline size_t sdd_bn_at(const sdd_bn_stats *st, int64_t b, int64_t ch, int64_t k)
{
    return st->cl ? ((size_t)b * st->S + k) * st->C + ch : ((size_t)b * st->C + ch) * st->S + k;
}
/* statistics group of sample b */
static inline int sdd_bn_group(const sdd_ctx *c, const sdd_bn_stats *st, int b)
{
    return st->ng == 1 ? 0 : sdd_seg_of(c, b);
}
/* The normalised value of one element, in float as PyTorch computes it:
 * (x - mean) * scale + beta with mean the float batch (or running) mean and
 * scale = (float)(istd * gamma); x - mean is exact when x is near the mean.
 * The scalar and vector forms (sdd_bn_apply_run) give the same bits (one fma). */
static inline float sdd_bn1(float x, float mean, float scale, float beta)
{
    return fmaf(x - mean, scale, beta);
}
/* y[k] = sdd_bn1(x[k], mean, scale, beta) for k < n; y may be x */
void sdd_bn_apply_run(const float *x, float *y, size_t n, float mean, float scale, float beta);
/* Backward sums of one run of a channel-first plane: *a += sum dy[k],
 * *ax += sum dy[k] * xhat[k] with xhat = (x - mean) * istd in float, the
 * products accumulated in double lanes and reduced at the end of the call.
 * Callers split planes into runs of SDD_BN_RUN, so a plane's sums do not
 * depend on who walks it (the fused residual block or the separate op). */
#define SDD_BN_RUN 1024
void sdd_bn_sums_run(const float *x, const float *dy, size_t n, float mean, float istd, double *a, double *ax);

/* Layout of a BatchNorm over x (the whole batch) with c->B samples. */
void sdd_bn_layout(sdd_bn_stats *st, const sdd_tensor *x, int channel_last);
/* Sets the mode from the context (batch statistics per group in train mode,
 * running ones in eval mode) and allocates the arrays in the arena; -1 on OOM. */
int sdd_bn_stats_alloc(sdd_ctx *c, sdd_bn_stats *st);
/* Statistics of x (the whole batch, laid out as st says); in train mode also
 * updates the running statistics from the whole batch's moments. */
void sdd_bn_stats_compute(sdd_ctx *c, sdd_bn_stats *st, const float *x, const sdd_tensor *rmean,
                          const sdd_tensor *rvar, float momentum, float eps);
/* Backward sums for samples [b0, b0 + nb): sdy[s*C + ch] += sum dy, sdyx[s*C + ch] += sum dy * xhat
 * over the samples of segment s, in double; channel-first: each (sample,
 * channel) plane summed by sdd_bn_sums_run runs, plane totals added in sample
 * order (calls over consecutive ranges give the same sums as one call). */
void sdd_bn_bwd_sums(const sdd_ctx *c, const sdd_bn_stats *st, int b0, int nb, const float *x, const float *dy,
                     double *sdy, double *sdyx);
/* gamma/beta gradients from the completed sums, per segment. */
void sdd_bn_bwd_params(sdd_ctx *c, const sdd_bn_stats *st, const sdd_tensor *gamma, const sdd_tensor *beta,
                       const double *sdy, const double *sdyx);
/* Input gradient of samples [b0, b0 + nb) from the completed sums: added into dx,
 * or stored when store is set (then dx may be dy). */
/* With c->bn_reduce: *sdy, *sdyx replaced by copies summed over ranks (what
 * the input gradient needs; the parameter gradients take the local sums). */
int sdd_bn_bwd_reduce(sdd_ctx *c, const sdd_bn_stats *st, const double **sdy, const double **sdyx);
void sdd_bn_bwd_dx(const sdd_ctx *c, const sdd_bn_stats *st, const sdd_tensor *gamma, int b0, int nb,
                   const float *x, const float *dy, const double *sdy, const double *sdyx, float *dx, int store);

/* ---- SELU ---- */

#define SDD_SELU_ALPHA 1.6732632423543772848170429916717
#define SDD_SELU_SCALE 1.0507009873554804934193349852946

static inline float sdd_selu1(float v)
{
    return v > 0.0f ? (float)SDD_SELU_SCALE * v : (float)(SDD_SELU_SCALE * SDD_SELU_ALPHA) * expm1f(v);
}
/* derivative from the input, not y + scale*alpha, which cancels badly for very negative x */
static inline float sdd_selu_d1(float v)
{
    return v > 0.0f ? (float)SDD_SELU_SCALE : (float)(SDD_SELU_SCALE * SDD_SELU_ALPHA) * expf(v);
}

#endif
