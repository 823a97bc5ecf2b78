/* The CUDA backend's entry points (builds with SDD_CUDA only): the runtime
 * (cuda_rt.cu: device check, memory, copies, the cuBLAS handle) and the CUDA
 * implementation of each op in ops/ops.h (cuda_ops.cu, cuda_graph.cu), which
 * the op dispatches to when c->dev is set. Same shapes and semantics as the
 * CPU ops; inputs and outputs are device tensors (parameter values through
 * sdd_tensor_dev). Training (batch statistics per segment, dropout,
 * gradients per segment into the device gradient buffers), the gradient
 * alignment's dot products and combination, and Adam run on the device too.
 * The emulation build (cuda_emu.h, SDD_CU_EMU) runs all of it on the CPU. */
#ifndef SDD_BACKEND_CUDA_H
#define SDD_BACKEND_CUDA_H
#ifdef __cplusplus
/* system headers first, with C++ linkage; then the C headers as C */
#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
extern "C" {
#endif
#include "core/tensor.h"
#include "ops/ops.h"
#include <stdio.h>
#include "ops/seq.h"

int sdd_cu_init(char *name, size_t cap, sdd_err *e);
void *sdd_cu_malloc(size_t bytes);
void sdd_cu_free(void *p);
/* dst[0, n) = v (add 0) or += v (add 1), on the device */
int sdd_cu_fill(float *dst, size_t n, float v, int add, sdd_err *e);
/* to_device: 1 host -> device, 0 device -> host (synchronous) */
int sdd_cu_copy(void *dst, const void *src, size_t bytes, int to_device, sdd_err *e);
/* device -> device (the ranges must not overlap) */
int sdd_cu_copy_d2d(void *dst, const void *src, size_t bytes, sdd_err *e);
/* the device's free and total memory in bytes (cudaMemGetInfo) */
int sdd_cu_mem_info(size_t *free_b, size_t *total_b, sdd_err *e);

sdd_tensor *sdd_cu_sinc_front(sdd_ctx *c, sdd_tensor *wave, const float *filt, int C, int K);
sdd_tensor *sdd_cu_conv2d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b, int ph, int pw);
sdd_tensor *sdd_cu_maxpool2d(sdd_ctx *c, sdd_tensor *x, int kh, int kw);
sdd_tensor *sdd_cu_absmax_axis(sdd_ctx *c, sdd_tensor *e, int axis);
sdd_tensor *sdd_cu_batchnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta,
                             sdd_tensor *rmean, sdd_tensor *rvar, int channel_last, float eps);
sdd_tensor *sdd_cu_resblock(sdd_ctx *c, sdd_tensor *x, const sdd_resblock_params *p);
sdd_tensor *sdd_cu_selu(sdd_ctx *c, sdd_tensor *x);
sdd_tensor *sdd_cu_add(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b);
sdd_tensor *sdd_cu_max2(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b);
sdd_tensor *sdd_cu_expand_batch(sdd_ctx *c, sdd_tensor *p, int B);
sdd_tensor *sdd_cu_concat_nodes(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b);
sdd_tensor *sdd_cu_slice_nodes(sdd_ctx *c, sdd_tensor *x, int start, int len);
sdd_tensor *sdd_cu_linear(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *b);
sdd_tensor *sdd_cu_bmm(sdd_ctx *c, sdd_tensor *a, sdd_tensor *x);
sdd_tensor *sdd_cu_pair_attn(sdd_ctx *c, sdd_tensor *x, sdd_tensor *wp, sdd_tensor *bp,
                             sdd_tensor *aw11, sdd_tensor *aw22, sdd_tensor *aw12, int nT, float tau);
sdd_tensor *sdd_cu_master_attn(sdd_ctx *c, sdd_tensor *x, sdd_tensor *m, sdd_tensor *wm, sdd_tensor *bm,
                               sdd_tensor *aw, float tau);
sdd_tensor *sdd_cu_graph_pool(sdd_ctx *c, sdd_tensor *h, sdd_tensor *w, sdd_tensor *b, double ratio, float p_drop);
sdd_tensor *sdd_cu_readout(sdd_ctx *c, sdd_tensor *T, sdd_tensor *S, sdd_tensor *m);
/* XLS-R front end and XLSR-AASIST back end (cuda_xlsr.cu; ops/seq.h) */
sdd_tensor *sdd_cu_layernorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta, float eps);
sdd_tensor *sdd_cu_gelu(sdd_ctx *c, sdd_tensor *x);
sdd_tensor *sdd_cu_transpose12(sdd_ctx *c, sdd_tensor *x);
sdd_tensor *sdd_cu_conv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *wn_g, sdd_tensor *b, const sdd_conv1d_opts *o,
                          int64_t To);
/* key: the CPU op's attention-dropout stream */
sdd_tensor *sdd_cu_mh_attention(sdd_ctx *c, sdd_tensor *q, sdd_tensor *k, sdd_tensor *v, int H, float scale, float p_drop,
                                uint64_t key);
sdd_tensor *sdd_cu_softmax_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, int axis);
/* the Conformer-TCM back end's small ops (cuda_conformer.cu; ops/conformer.h, ops/mamba.h),
 * called after the CPU op has checked the shapes */
sdd_tensor *sdd_cu_glu_last(sdd_ctx *c, sdd_tensor *x);
sdd_tensor *sdd_cu_silu(sdd_ctx *c, sdd_tensor *x);
sdd_tensor *sdd_cu_slice_last(sdd_ctx *c, sdd_tensor *x, int start, int len);
sdd_tensor *sdd_cu_mean_nodes(sdd_ctx *c, sdd_tensor *x, int start, int len);
sdd_tensor *sdd_cu_add_scaled(sdd_ctx *c, sdd_tensor *a, sdd_tensor *b, float s);
sdd_tensor *sdd_cu_dwconv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *bias, int pad_left, int pad_right);
/* the Mamba back end's other ops (cuda_mamba.cu; ops/mamba.h), after the CPU op's shape checks */
sdd_tensor *sdd_cu_rmsnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, float eps);
sdd_tensor *sdd_cu_flip_time(sdd_ctx *c, sdd_tensor *x);
sdd_tensor *sdd_cu_attn_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *bias);
sdd_tensor *sdd_cu_selective_scan(sdd_ctx *c, sdd_tensor *u, sdd_tensor *dt, sdd_tensor *A_log, sdd_tensor *Bm,
                                  sdd_tensor *Cm, sdd_tensor *Dskip, sdd_tensor *z, sdd_tensor *dt_bias);
/* Training (c->train / c->grad): the ops above record their backward on the
 * tape; these are the training versions and the ops only training uses.
 * Parameter gradients go to params->dgrad (sdd_pgrad), per segment. */
sdd_tensor *sdd_cu_batchnorm_train(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta,
                                   sdd_tensor *rmean, sdd_tensor *rvar, int channel_last, float momentum, float eps);
void sdd_cu_bn_track(sdd_ctx *c, sdd_tensor *x, sdd_tensor *rmean, sdd_tensor *rvar, float momentum);
/* key: the CPU op's dropout stream (the mask is the CPU backend's, bit for bit) */
sdd_tensor *sdd_cu_dropout(sdd_ctx *c, sdd_tensor *x, float p, uint64_t key);
sdd_tensor *sdd_cu_ce_weighted(sdd_ctx *c, sdd_tensor *logits, const int *labels, const float *cw, float *wsum);
sdd_tensor *sdd_cu_pair_attn_train(sdd_ctx *c, sdd_tensor *x, sdd_tensor *wp, sdd_tensor *bp,
                                   sdd_tensor *aw11, sdd_tensor *aw22, sdd_tensor *aw12, int nT, float tau);
sdd_tensor *sdd_cu_master_attn_train(sdd_ctx *c, sdd_tensor *x, sdd_tensor *m, sdd_tensor *wm, sdd_tensor *bm,
                                     sdd_tensor *aw, float tau);
sdd_tensor *sdd_cu_graph_pool_train(sdd_ctx *c, sdd_tensor *h, sdd_tensor *w, sdd_tensor *b, double ratio, float p_drop);
sdd_tensor *sdd_cu_readout_train(sdd_ctx *c, sdd_tensor *T, sdd_tensor *S, sdd_tensor *m);
/* out (n) = a0 g0 + a1 g1; dots[0..2] = g0.g0, g1.g1, g0.g1 (double), all on
 * the device, only the three dots come back (the alignment's scalars);
 * scratch: sdd_cu_dots_scratch(n) doubles of device memory */
size_t sdd_cu_dots_scratch(size_t n);
int sdd_cu_dots(const float *g0, const float *g1, size_t n, double *scratch, double *dots, sdd_err *e);
int sdd_cu_combine(const float *g0, const float *g1, size_t n, double a0, double a1, float *out, sdd_err *e);
/* |out|^2 and a finite check (1 when every entry is finite) */
int sdd_cu_norm2_finite(const float *g, size_t n, double *scratch, double *norm2, int *finite, sdd_err *e);
/* Adam on the device over the trainable ranges (off, len) of the block */
int sdd_cu_adam(float *theta, float *m, float *v, const float *grad, const size_t *off, const size_t *len, int nr,
                float b1, float b2, float omb1, float omb2, float wd, float step_size, float bc2_sqrt, float eps, sdd_err *e);

/* dst[0, n) += src[0, n) (device); -1 with c->err set */
int sdd_cu_acc(sdd_ctx *c, float *dst, const float *src, size_t n);

#ifdef SDD_CU_EMU
/* emulation build only: device memory inaccessible to host code (1, the default) or not */
void sdd_cu_emu_protect(int on);
#endif

/* Profiling for benchmarks: on 1 synchronises after every launch and sums
 * the time per launch label (restarting the table); the report prints the
 * labels by time per step. */
void sdd_cu_prof_enable(int on);
void sdd_cu_prof_report(FILE *f, int steps);
/* charges the time since the last profile mark (host work and launches
 * without a label of their own) to what; nothing when profiling is off */
void sdd_cu_prof_point(const char *what);

/* The FLOPs of the backend's cuBLAS GEMMs (2 m n k each) since the last
 * reset (reset 1 restarts the count), and the card's FP32 CUDA-core peak in
 * TFLOP/s (SMs x FP32 lanes x 2 x clock; 0 for an architecture whose lane
 * count this file does not know): the benchmarks' achieved TFLOP/s. */
double sdd_cu_gemm_flops(int reset);
double sdd_cu_fp32_peak_tflops(void);

/* Fails with the op's name: used by ops with no CUDA implementation yet. */
sdd_tensor *sdd_cu_unsupported(sdd_ctx *c, const char *what);

#ifdef __cplusplus
}
#endif
#endif
