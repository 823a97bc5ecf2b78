/* Finite-difference gradient checks for the sequence ops of seq.h (LayerNorm,
 * GELU, transpose, Conv1d with stride/padding/groups/weight norm, multi-head
 * attention with and without dropout, softmax-attention pooling, activation
 * recomputation). The harness is gradcheck.h, shared with test_gradcheck.c: L = sum(r * out)
 * for a fixed random r; tape gradients (activations and parameters through
 * the per-path buffers) against central differences in double. Also checks
 * that a checkpointed sub-graph gives the same values and bit-identical
 * gradients as the plain one, dropout included. */
#include "check.h"
#include "ops/ops.h"
#include "ops/seq.h"
#include "core/rng.h"
#include <stdlib.h>
#include "gradcheck.h"

#define S4(a, b, c_, d) { a, b, c_, d }

static sdd_tensor *b_ln(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_layernorm(c, in[0], in[1], in[2], 1e-5f); }
static sdd_tensor *b_gelu(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_gelu(c, in[0]); }
static sdd_tensor *b_tr(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_transpose12(c, in[0]); }
static sdd_tensor *b_conv1d(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_conv1d(c, in[0], in[1], NULL, in[2], ud); }
static sdd_tensor *b_conv1d_wn(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_conv1d(c, in[0], in[1], in[2], in[3], ud); }
static sdd_tensor *b_mha(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_mh_attention(c, in[0], in[1], in[2], 2, 0.35f, *(float *)ud); }
static sdd_tensor *b_spool3(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_softmax_pool(c, in[0], in[1], 3); }
static sdd_tensor *b_spool2(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_softmax_pool(c, in[0], in[1], 2); }

/* a small pre-LN block: x + W2 dropout(GELU(W1 LN(x))) over (B, T, D) */
typedef struct { sdd_tensor *g, *b, *w1, *b1, *w2; } blk_ud;
static sdd_tensor *blk_fn(sdd_ctx *c, sdd_tensor *x, void *ud)
{
    blk_ud *u = ud;
    sdd_tensor *h = sdd_gelu(c, sdd_linear(c, sdd_layernorm(c, x, u->g, u->b, 1e-5f), u->w1, u->b1));
    return sdd_add(c, x, sdd_linear(c, sdd_dropout(c, h, 0.25f), u->w2, NULL));
}
static sdd_tensor *b_ckpt(sdd_ctx *c, sdd_tensor **in, void *ud)
{
    blk_ud u = { in[1], in[2], in[3], in[4], in[5] };
    blk_ud *pu = sdd_scratch(c, sizeof u);
    if (!pu) return NULL;
    *pu = u;
    return sdd_checkpoint(c, blk_fn, sdd_checkpoint(c, blk_fn, in[0], pu), pu);
}

/* checkpointed vs plain: same output, bit-identical gradients (input and both path buffers) */
static void test_checkpoint_exact(void)
{
    sdd_err e;
    sdd_params p;
    sdd_params_init(&p);
    const int B = 4, T = 5, D = 6, F = 9;
    int64_t sd[1] = { D }, sw1[2] = { F, D }, sb1[1] = { F }, sw2[2] = { D, F };
    int ig = sdd_params_add(&p, "g", 1, sd, 1, &e), ib = sdd_params_add(&p, "b", 1, sd, 1, &e);
    int i1 = sdd_params_add(&p, "w1", 2, sw1, 1, &e), ib1 = sdd_params_add(&p, "b1", 1, sb1, 1, &e);
    int i2 = sdd_params_add(&p, "w2", 2, sw2, 1, &e);
    sdd_params_alloc(&p, &e);
    sdd_params_alloc_grads(&p, 2, &e);
    for (size_t j = 0; j < p.total; j++) p.data[j] = (float)(0.5 * sdd_rng_normal(8, j));
    float *x = malloc(sizeof(float) * B * T * D), *out[2], *gx[2], *gp[2][2];
    for (int j = 0; j < B * T * D; j++) x[j] = (float)sdd_rng_normal(9, j);
    sdd_ctx c;
    sdd_ctx_init(&c, &p);
    for (int pass = 0; pass < 2; pass++) {
        sdd_params_zero_grads(&p);
        sdd_ctx_begin(&c, B, 1, 1);
        c.rng_key = 77;
        int ends[2] = { 2, 4 };
        sdd_ctx_set_segments(&c, 2, ends, NULL);
        int64_t sx[3] = { B, T, D };
        sdd_tensor *in = sdd_tensor_wrap(&c, x, 3, sx);
        in->rg = 1;
        sdd_tensor G = sdd_param_tensor(&p, ig), Bt = sdd_param_tensor(&p, ib), W1 = sdd_param_tensor(&p, i1),
                   B1 = sdd_param_tensor(&p, ib1), W2 = sdd_param_tensor(&p, i2);
        blk_ud u = { &G, &Bt, &W1, &B1, &W2 };
        sdd_tensor *y = pass ? sdd_checkpoint(&c, blk_fn, sdd_checkpoint(&c, blk_fn, in, &u), &u) : blk_fn(&c, blk_fn(&c, in, &u), &u);
        CHECK_MSG(y != NULL, "checkpoint forward: %s", c.err.msg);
        if (!y) break;
        out[pass] = malloc(sizeof(float) * B * T * D);
        memcpy(out[pass], y->x, sizeof(float) * B * T * D);
        float *gy = sdd_grad_of(&c, y);
        for (int j = 0; j < B * T * D; j++) gy[j] = (float)sdd_rng_normal(10, j);
        CHECK(sdd_backward(&c, 0, NULL, NULL) == 0);
        gx[pass] = malloc(sizeof(float) * B * T * D);
        memcpy(gx[pass], in->g, sizeof(float) * B * T * D);
        for (int s = 0; s < 2; s++) {
            gp[pass][s] = malloc(p.total * sizeof(float));
            memcpy(gp[pass][s], p.grad[s], p.total * sizeof(float));
        }
    }
    CHECK(memcmp(out[0], out[1], sizeof(float) * B * T * D) == 0);
    CHECK(memcmp(gx[0], gx[1], sizeof(float) * B * T * D) == 0);
    for (int s = 0; s < 2; s++) CHECK_MSG(memcmp(gp[0][s], gp[1][s], p.total * sizeof(float)) == 0, "path %d parameter gradients differ", s);
    double n1 = 0;
    for (size_t j = 0; j < p.total; j++) n1 += fabs(gp[0][1][j]);
    CHECK(n1 > 0);   /* path 1 received its own gradient */
    for (int k = 0; k < 2; k++) { free(out[k]); free(gx[k]); free(gp[k][0]); free(gp[k][1]); }
    sdd_ctx_free(&c);
    sdd_params_free(&p);
    free(x);
}

int main(void)
{
    static sdd_conv1d_opts o_s2 = { 2, 0, 0, 1 }, o_grp = { 1, 2, 1, 2 }, o_wn = { 1, 2, 1, 2 }, o_s3p = { 3, 1, 2, 1 };
    static float p0 = 0.0f, p3 = 0.3f;
    gc_case cases[] = {
        { "layernorm", 3, { 3, 1, 1 }, { S4(4, 3, 7, 0), S4(7, 0, 0, 0), S4(7, 0, 0, 0) }, { 0, 1, 1 }, {0}, {0}, 0, 2, 0, b_ln, NULL, 0 },
        { "gelu", 1, { 3 }, { S4(2, 5, 7, 0) }, {0}, {0}, {0}, 0, 1, 0, b_gelu, NULL, 0 },
        { "transpose12", 1, { 3 }, { S4(2, 5, 3, 0) }, {0}, {0}, {0}, 0, 1, 0, b_tr, NULL, 0 },
        { "conv1d k3 s2", 3, { 3, 3, 1 }, { S4(4, 11, 3, 0), S4(5, 3, 3, 0), S4(5, 0, 0, 0) }, { 0, 1, 1 }, {0}, {0}, 0, 2, 0, b_conv1d, &o_s2, 0 },
        { "conv1d k4 s3 pad(1,2)", 3, { 3, 3, 1 }, { S4(2, 10, 2, 0), S4(3, 2, 4, 0), S4(3, 0, 0, 0) }, { 0, 1, 1 }, {0}, {0}, 0, 2, 0, b_conv1d, &o_s3p, 0 },
        { "conv1d k4 groups 2 pad(2,1)", 3, { 3, 3, 1 }, { S4(2, 6, 4, 0), S4(6, 2, 4, 0), S4(6, 0, 0, 0) }, { 0, 1, 1 }, {0}, {0}, 0, 2, 0, b_conv1d, &o_grp, 0 },
        { "conv1d weight norm groups 2", 4, { 3, 3, 3, 1 }, { S4(2, 6, 4, 0), S4(6, 2, 4, 0), S4(1, 1, 4, 0), S4(6, 0, 0, 0) }, { 0, 1, 1, 1 }, {0}, {0}, 0, 2, 0, b_conv1d_wn, &o_wn, 0 },
        { "multi-head attention", 3, { 3, 3, 3 }, { S4(2, 5, 8, 0), S4(2, 5, 8, 0), S4(2, 5, 8, 0) }, {0}, {0}, {0}, 0, 1, 0, b_mha, &p0, 0 },
        { "multi-head attention dropout", 3, { 3, 3, 3 }, { S4(2, 5, 8, 0), S4(2, 5, 8, 0), S4(2, 5, 8, 0) }, {0}, {0}, {0}, 1, 1, 0, b_mha, &p3, 0 },
        { "softmax pool axis 3", 2, { 4, 4 }, { S4(2, 3, 4, 5), S4(2, 3, 4, 5) }, {0}, {0}, {0}, 0, 1, 0, b_spool3, NULL, 0 },
        { "softmax pool axis 2", 2, { 4, 4 }, { S4(2, 3, 4, 5), S4(2, 3, 4, 5) }, {0}, {0}, {0}, 0, 1, 0, b_spool2, NULL, 0 },
        { "checkpointed pre-LN blocks (dropout)", 6, { 3, 1, 1, 2, 1, 2 }, { S4(4, 3, 6, 0), S4(6, 0, 0, 0), S4(6, 0, 0, 0), S4(9, 6, 0, 0), S4(9, 0, 0, 0), S4(6, 9, 0, 0) }, { 0, 1, 1, 1, 1, 1 }, {0}, {0}, 1, 2, 0, b_ckpt, NULL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
    test_checkpoint_exact();
    return CHECK_DONE("test_gradcheck_xlsr");
}
