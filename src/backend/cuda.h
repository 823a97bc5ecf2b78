/* The CUDA backend's entry points (builds with SDD_CUDA only): the runtime
 * (cuda_rt.cu: device check, memory, copies, the cuBLAS handle) and the CUDA
 * implementation of each op in ops/ops.h (cuda_ops.cu, cuda_graph.cu), which
 * the op dispatches to when c->dev is set. Same shapes and semantics as the
 * CPU ops; inputs and outputs are device tensors (parameter values through
 * sdd_tensor_dev). Eval mode only for now: an op asked for training
 * behaviour (batch statistics, dropout, gradients) fails with
 * "CUDA backend: ... not implemented yet". */
#ifndef SDD_BACKEND_CUDA_H
#define SDD_BACKEND_CUDA_H
#ifdef __cplusplus
/* system headers first, with C++ linkage; then the C headers as C */
#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
extern "C" {
#endif
#include "core/tensor.h"
#include "ops/ops.h"

int sdd_cu_init(char *name, size_t cap, sdd_err *e);
void *sdd_cu_malloc(size_t bytes);
void sdd_cu_free(void *p);
/* to_device: 1 host -> device, 0 device -> host (synchronous) */
int sdd_cu_copy(void *dst, const void *src, size_t bytes, int to_device, sdd_err *e);

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
/* Fails with the op's name: used by ops with no CUDA implementation yet. */
sdd_tensor *sdd_cu_unsupported(sdd_ctx *c, const char *what);

#ifdef __cplusplus
}
#endif
#endif
