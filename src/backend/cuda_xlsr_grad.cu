/* Tape entries of the sequence ops' CUDA forward (cuda_xlsr.cu). Training
 * through them is not implemented yet: when a gradient must flow, recording
 * fails with the op's name. */
#include "backend/cuda_xlsr.h"
#include <stdio.h>

/* 0 when no gradient flows into out (nothing to record); else the refusal */
static int no_grad(sdd_ctx *c, sdd_tensor *out, int wants, const char *what)
{
    out->rg = wants;
    if (!c->grad || !wants) return 0;
    char msg[128];
    snprintf(msg, sizeof msg, "gradients through %s", what);
    sdd_cu_unsupported(c, msg);
    return -1;
}

int sdd_cu_record_layernorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *gamma, sdd_tensor *beta, float *fm, float *fis, int64_t R,
                            int64_t D, sdd_tensor *out)
{
    return no_grad(c, out, sdd_wants(c, x) || (gamma && sdd_wants(c, gamma)) || (beta && sdd_wants(c, beta)), "LayerNorm");
}

int sdd_cu_record_gelu(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out) { return no_grad(c, out, sdd_wants(c, x), "GELU"); }

int sdd_cu_record_transpose(sdd_ctx *c, sdd_tensor *x, sdd_tensor *out) { return no_grad(c, out, sdd_wants(c, x), "transpose"); }

int sdd_cu_record_conv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *wn_g, sdd_tensor *b, const sdd_cu_c1 *g,
                         sdd_tensor *out)
{
    return no_grad(c, out, sdd_wants(c, x) || sdd_wants(c, w) || (wn_g && sdd_wants(c, wn_g)) || (b && sdd_wants(c, b)), "conv1d");
}

int sdd_cu_record_mha(sdd_ctx *c, sdd_tensor *q, sdd_tensor *k, sdd_tensor *v, float *P, float *mask, float scale, int H,
                      sdd_tensor *out)
{
    return no_grad(c, out, sdd_wants(c, q) || sdd_wants(c, k) || sdd_wants(c, v), "multi-head attention");
}

int sdd_cu_record_softmax_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, int axis, sdd_tensor *out)
{
    return no_grad(c, out, sdd_wants(c, x) || sdd_wants(c, w), "softmax pooling");
}
