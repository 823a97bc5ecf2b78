/* The per-layer-family timing hook (sdd_prof in core/tensor.h): GEMM FLOPs
 * of a conv2d and a linear layer charged to the family they were recorded
 * under, forward and backward (weight and input gradients counted only where
 * they are computed), times non-negative, tape entries tagged with their
 * family, and the values and gradients bit-identical with the hook off. */
#include "check.h"
#include "ops/ops.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>

enum { B = 2, CI = 2, CO = 3, H = 4, W = 9, KH = 2, KW = 3, DOUT = 4 };

int main(void)
{
    sdd_err e;
    sdd_params p;
    sdd_params_init(&p);
    int64_t sw[4] = { CO, CI, KH, KW }, sb[1] = { CO }, sl[2] = { DOUT, W }, sd[1] = { DOUT };
    const int iw = sdd_params_add(&p, "w", 4, sw, 1, &e), ib = sdd_params_add(&p, "b", 1, sb, 1, &e);
    const int il = sdd_params_add(&p, "lw", 2, sl, 1, &e), ilb = sdd_params_add(&p, "lb", 1, sd, 1, &e);
    CHECK(sdd_params_alloc(&p, &e) == 0 && sdd_params_alloc_grads(&p, 1, &e) == 0);
    for (size_t j = 0; j < p.total; j++) p.data[j] = (float)sdd_rng_normal(21, j);
    float x[B * CI * H * W];
    for (int j = 0; j < B * CI * H * W; j++) x[j] = (float)sdd_rng_normal(22, (uint64_t)j);
    /* conv padding (0, 1): output (B, CO, H - 1, W); the linear runs over its last dim */
    const int Ho = H - KH + 1, Wo = W;
    const double conv_f = 2.0 * B * CO * CI * KH * KW * Ho * Wo, lin_f = 2.0 * B * CO * Ho * W * DOUT;
    float *out[2] = { NULL, NULL }, *grad[2] = { NULL, NULL };
    const size_t nout = (size_t)B * CO * Ho * DOUT;
    sdd_ctx c;
    sdd_ctx_init(&c, &p);
    for (int on = 0; on < 2; on++) {
        sdd_prof prof;
        memset(&prof, 0, sizeof prof);
        c.prof = on ? &prof : NULL;
        sdd_params_zero_grads(&p);
        sdd_ctx_begin(&c, B, 1, 1);
        sdd_prof_start(&c);
        int64_t sx[4] = { B, CI, H, W };
        sdd_tensor Wt = sdd_param_tensor(&p, iw), Bt = sdd_param_tensor(&p, ib), Lw = sdd_param_tensor(&p, il),
                   Lb = sdd_param_tensor(&p, ilb);
        sdd_prof_family(&c, SDD_FAM_CONV2D);
        sdd_tensor *y = sdd_conv2d(&c, sdd_tensor_wrap(&c, x, 4, sx), &Wt, &Bt, 0, 1);
        sdd_prof_family(&c, SDD_FAM_GRAPH);
        sdd_tensor *z = sdd_linear(&c, y, &Lw, &Lb);
        sdd_prof_family(&c, SDD_FAM_OTHER);
        CHECK_MSG(z != NULL, "forward: %s", c.err.msg);
        if (!z) break;
        CHECK(c.ntape == 2 && c.tape[0].fam == SDD_FAM_CONV2D && c.tape[1].fam == SDD_FAM_GRAPH);
        float *g = sdd_grad_of(&c, z);
        for (size_t j = 0; j < nout; j++) g[j] = (float)sdd_rng_normal(23, j);
        CHECK(sdd_backward(&c, 0, NULL, NULL) == 0);
        CHECK(c.fam == SDD_FAM_OTHER);
        out[on] = malloc(nout * sizeof(float));
        grad[on] = malloc(p.total * sizeof(float));
        memcpy(out[on], z->x, nout * sizeof(float));
        memcpy(grad[on], p.grad[0], p.total * sizeof(float));
        if (!on) continue;
        CHECK_NEAR(prof.flop_fwd[SDD_FAM_CONV2D], conv_f, 0.0);
        /* the input needs no gradient: the conv's backward is the weight gradient only */
        CHECK_NEAR(prof.flop_bwd[SDD_FAM_CONV2D], conv_f, 0.0);
        CHECK_NEAR(prof.flop_fwd[SDD_FAM_GRAPH], lin_f, 0.0);
        CHECK_NEAR(prof.flop_bwd[SDD_FAM_GRAPH], 2.0 * lin_f, 0.0);   /* dx and dW */
        CHECK(prof.flop_fwd[SDD_FAM_SINC] == 0.0 && prof.flop_bwd[SDD_FAM_OTHER] == 0.0);
        for (int f = 0; f < SDD_FAM_N; f++)
            CHECK(prof.t_fwd[f] >= 0.0 && prof.t_bwd[f] >= 0.0 && prof.cpu_fwd[f] >= 0.0 && prof.cpu_bwd[f] >= 0.0);
        CHECK(prof.in_bwd == 0);
    }
    if (out[0] && out[1]) {
        CHECK_MSG(memcmp(out[0], out[1], nout * sizeof(float)) == 0, "outputs differ with the profile on");
        CHECK_MSG(memcmp(grad[0], grad[1], p.total * sizeof(float)) == 0, "gradients differ with the profile on");
    }
    for (int k = 0; k < 2; k++) { free(out[k]); free(grad[k]); }
    sdd_ctx_free(&c);
    sdd_params_free(&p);
    return CHECK_DONE("test_prof");
}
