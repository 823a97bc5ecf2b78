/* Finite-difference gradient checks for every differentiable op in src/ops.
 * Each case builds an op from random inputs, takes L = sum(r * out) for a
 * fixed random r, and compares the tape's gradients (activation inputs and
 * parameters, routed through the per-path buffers) with central differences
 * of L computed in double. Also checks that per-segment BatchNorm and
 * per-path parameter-gradient routing split the batch exactly, and that the
 * fused residual block equals the separate ops it replaces. */
#include "check.h"
#include "ops/ops.h"
#include "core/rng.h"
#include "ops/vmath.h"
#include <math.h>
#include <stdlib.h>

#include "gradcheck.h"

static sdd_tensor *b_conv(sdd_ctx *c, sdd_tensor **in, void *ud) { int *p = ud; return sdd_conv2d(c, in[0], in[1], in[2], p[0], p[1]); }
static sdd_tensor *b_maxpool(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_maxpool2d(c, in[0], 1, 3); }
static sdd_tensor *b_maxpool33(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_maxpool2d(c, in[0], 3, 3); }
static sdd_tensor *b_absmax3(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_absmax_axis(c, in[0], 3); }
static sdd_tensor *b_absmax2(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_absmax_axis(c, in[0], 2); }
static sdd_tensor *b_bn_cf(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_batchnorm(c, in[0], in[1], in[2], in[3], in[4], 0, 0.1f, 1e-5f); }
static sdd_tensor *b_bn_cl(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_batchnorm(c, in[0], in[1], in[2], in[3], in[4], 1, 0.1f, 1e-5f); }
static sdd_tensor *b_selu(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_selu(c, in[0]); }
static sdd_tensor *b_add(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_add(c, in[0], in[1]); }
static sdd_tensor *b_max2(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_max2(c, in[0], in[1]); }
static sdd_tensor *b_dropout(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_dropout(c, in[0], 0.3f); }
static sdd_tensor *b_expand(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_add(c, in[0], sdd_expand_batch(c, in[1], (int)in[0]->n[0])); }
static sdd_tensor *b_concat(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_concat_nodes(c, in[0], in[1]); }
static sdd_tensor *b_slice(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_slice_nodes(c, in[0], 2, 3); }
static sdd_tensor *b_linear(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_linear(c, in[0], in[1], in[2]); }
static sdd_tensor *b_bmm(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_bmm(c, in[0], in[1]); }
static sdd_tensor *b_pair(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_pair_attn(c, in[0], in[1], in[2], in[3], in[4], in[5], 3, 2.0f); }
static sdd_tensor *b_pair1(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_pair_attn(c, in[0], in[1], in[2], in[3], NULL, NULL, (int)in[0]->n[1], 0.5f); }
static sdd_tensor *b_master(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_master_attn(c, in[0], in[1], in[2], in[3], in[4], 2.0f); }
static sdd_tensor *b_gpool(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_graph_pool(c, in[0], in[1], in[2], 0.5, 0.3f); }
static sdd_tensor *b_readout(sdd_ctx *c, sdd_tensor **in, void *ud) { return sdd_readout(c, in[0], in[1], in[2]); }
/* fused residual block: inputs x, w1, b1, gamma, beta, rmean, rvar, w2, b2[, wd, bd] */
static sdd_tensor *b_resblock(sdd_ctx *c, sdd_tensor **in, void *ud)
{
    const int down = *(int *)ud;
    const sdd_resblock_params p = { in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8],
                                    down ? in[9] : NULL, down ? in[10] : NULL, 1, 1, 0, 1, 0, 1, 0.1f, 1e-5f };
    return sdd_resblock(c, in[0], &p);
}
static int ce_labels[6] = { 1, 0, 0, 1, 1, 0 };
static sdd_tensor *b_ce(sdd_ctx *c, sdd_tensor **in, void *ud) { float cw[2] = { 0.1f, 0.9f }; return sdd_ce_weighted(c, in[0], ce_labels, cw, NULL); }

#define S4(a, b, c_, d) { a, b, c_, d }

/* Per-path routing: with per-segment BatchNorm, gradient buffer s of a conv+BN+linear
 * chain over a 2-segment batch must equal the gradient of segment s's loss computed alone. */
static void test_path_split(void)
{
    sdd_err e;
    sdd_params p;
    sdd_params_init(&p);
    int64_t sw[4] = { 3, 2, 2, 3 }, sb[1] = { 3 }, sl[2] = { 2, 3 * 3 * 6 }, s2[1] = { 2 };
    int iw = sdd_params_add(&p, "w", 4, sw, 1, &e), ib = sdd_params_add(&p, "b", 1, sb, 1, &e);
    int ig = sdd_params_add(&p, "g", 1, sb, 1, &e), ibe = sdd_params_add(&p, "be", 1, sb, 1, &e);
    int irm = sdd_params_add(&p, "rm", 1, sb, 0, &e), irv = sdd_params_add(&p, "rv", 1, sb, 0, &e);
    int il = sdd_params_add(&p, "lw", 2, sl, 1, &e), ilb = sdd_params_add(&p, "lb", 1, s2, 1, &e);
    sdd_params_alloc(&p, &e);
    sdd_params_alloc_grads(&p, 2, &e);
    for (size_t j = 0; j < p.total; j++) p.data[j] = (float)sdd_rng_normal(5, j);
    for (int k = 0; k < 3; k++) { sdd_params_ptr(&p, irv)[k] = 1.0f; sdd_params_ptr(&p, irm)[k] = 0.0f; }
    const int B = 6;
    float *x = malloc(sizeof(float) * B * 2 * 4 * 6);
    for (int j = 0; j < B * 2 * 4 * 6; j++) x[j] = (float)sdd_rng_normal(6, j);
    int labels[6] = { 1, 0, 1, 1, 0, 0 };
    float cw[2] = { 0.1f, 0.9f };
    float *sep[2];
    sdd_ctx c;
    sdd_ctx_init(&c, &p);
    for (int pass = 0; pass < 3; pass++) {
        /* pass 0, 1: each half alone (one segment); pass 2: both halves, two segments */
        const int b0 = pass == 1 ? B / 2 : 0, nb = pass == 2 ? B : B / 2;
        sdd_params_zero_grads(&p);
        sdd_ctx_begin(&c, nb, 1, 1);
        c.bn_per_seg = 1;
        if (pass == 2) { int ends[2] = { B / 2, B }; sdd_ctx_set_segments(&c, 2, ends, NULL); }
        int64_t sx[4] = { nb, 2, 4, 6 };
        sdd_tensor *in = sdd_tensor_wrap(&c, x + (size_t)b0 * 48, 4, sx);
        sdd_tensor W = sdd_param_tensor(&p, iw), Bb = sdd_param_tensor(&p, ib), G = sdd_param_tensor(&p, ig),
                   Be = sdd_param_tensor(&p, ibe), RM = sdd_param_tensor(&p, irm), RV = sdd_param_tensor(&p, irv),
                   LW = sdd_param_tensor(&p, il), LB = sdd_param_tensor(&p, ilb);
        sdd_tensor *h = sdd_selu(&c, sdd_batchnorm(&c, sdd_conv2d(&c, in, &W, &Bb, 0, 1), &G, &Be, &RM, &RV, 0, 0.1f, 1e-5f));
        int64_t sf[2] = { nb, 54 };
        sdd_tensor *flat = sdd_reshape(&c, h, 2, sf);
        sdd_tensor *z = sdd_linear(&c, flat, &LW, &LB);
        sdd_tensor *L = sdd_ce_weighted(&c, z, labels + b0, cw, NULL);
        CHECK_MSG(L != NULL, "path split forward: %s", c.err.msg);
        if (!L) break;
        float one[1] = { 1.0f };
        sdd_tensor *Ls[1] = { L };
        if (pass < 2) {
            sdd_backward(&c, 1, Ls, one);
            sep[pass] = malloc(p.total * sizeof(float));
            memcpy(sep[pass], p.grad[0], p.total * sizeof(float));
        } else {
            /* seed both per-segment losses with 1: buffers 0 and 1 get each path's gradient */
            float *gl = sdd_grad_of(&c, L);
            gl[0] = gl[1] = 1.0f;
            sdd_backward(&c, 0, NULL, NULL);
            for (int s = 0; s < 2; s++) {
                double num = 0, den = 0;
                for (size_t j = 0; j < p.total; j++) { double d = p.grad[s][j] - sep[s][j]; num += d * d; den += sep[s][j] * sep[s][j]; }
                CHECK_MSG(sqrt(num / (den + 1e-30)) < 1e-5, "path %d gradient differs from its separate loss: rel %.3g", s, sqrt(num / (den + 1e-30)));
            }
            free(sep[0]);
            free(sep[1]);
        }
    }
    sdd_ctx_free(&c);
    sdd_params_free(&p);
    free(x);
}

/* The fused residual block against the separate ops it replaces
 * (conv, BN, SELU, conv, downsample, add, max pool): same outputs, running
 * statistics, input and per-path parameter gradients, in train mode (joint and
 * per-path statistics) and eval mode. Cin 1: conv1 recomputed, 3: saved. */
static void test_resblock_vs_ops(int Cin)
{
    sdd_err e;
    sdd_params p;
    sdd_params_init(&p);
    const int B = 6, Co = 4, H = 5, W = 100;   /* pooled width 33: two 16-window vector groups and a scalar tail */
    int64_t s1[4] = { Co, Cin, 2, 3 }, s2[4] = { Co, Co, 2, 3 }, sd[4] = { Co, Cin, 1, 3 }, sc[1] = { Co };
    int iw1 = sdd_params_add(&p, "w1", 4, s1, 1, &e), ib1 = sdd_params_add(&p, "b1", 1, sc, 1, &e);
    int ig = sdd_params_add(&p, "g", 1, sc, 1, &e), ibe = sdd_params_add(&p, "be", 1, sc, 1, &e);
    int irm = sdd_params_add(&p, "rm", 1, sc, 0, &e), irv = sdd_params_add(&p, "rv", 1, sc, 0, &e);
    int iw2 = sdd_params_add(&p, "w2", 4, s2, 1, &e), ib2 = sdd_params_add(&p, "b2", 1, sc, 1, &e);
    int iwd = sdd_params_add(&p, "wd", 4, sd, 1, &e), ibd = sdd_params_add(&p, "bd", 1, sc, 1, &e);
    sdd_params_alloc(&p, &e);
    sdd_params_alloc_grads(&p, 2, &e);
    for (size_t j = 0; j < p.total; j++) p.data[j] = (float)(0.5 * sdd_rng_normal(8, j));
    for (int k = 0; k < Co; k++) sdd_params_ptr(&p, irv)[k] = 0.5f + (float)k;
    float *saved = malloc(p.total * sizeof(float));
    memcpy(saved, p.data, p.total * sizeof(float));
    const size_t nx = (size_t)B * Cin * H * W;
    float *x = malloc(nx * sizeof(float));
    for (size_t j = 0; j < nx; j++) x[j] = (float)sdd_rng_normal(9, j);
    float *ref[3] = { 0 }, *refx = malloc(nx * sizeof(float)), *refy = NULL;
    size_t ny = 0;
    sdd_ctx c;
    sdd_ctx_init(&c, &p);
    for (int mode = 0; mode < 3; mode++)          /* train joint, train per-path, eval */
        for (int fused = 0; fused < 2; fused++) {
            memcpy(p.data, saved, p.total * sizeof(float));
            sdd_params_zero_grads(&p);
            sdd_ctx_begin(&c, B, mode < 2, 1);
            c.bn_per_seg = mode == 1;
            int ends[2] = { B / 2, B };
            sdd_ctx_set_segments(&c, 2, ends, NULL);
            int64_t sx[4] = { B, Cin, H, W };
            sdd_tensor *in = sdd_tensor_wrap(&c, x, 4, sx);
            in->rg = 1;
            sdd_tensor T[10];
            const int idx[10] = { iw1, ib1, ig, ibe, irm, irv, iw2, ib2, iwd, ibd };
            for (int i = 0; i < 10; i++) T[i] = sdd_param_tensor(&p, idx[i]);
            sdd_tensor *y;
            if (fused) {
                const sdd_resblock_params rp = { &T[0], &T[1], &T[2], &T[3], &T[4], &T[5], &T[6], &T[7], &T[8], &T[9],
                                                 1, 1, 0, 1, 0, 1, 0.1f, 1e-5f };
                y = sdd_resblock(&c, in, &rp);
            } else {
                sdd_tensor *o = sdd_conv2d(&c, in, &T[0], &T[1], 1, 1);
                o = sdd_selu(&c, sdd_batchnorm(&c, o, &T[2], &T[3], &T[4], &T[5], 0, 0.1f, 1e-5f));
                o = sdd_conv2d(&c, o, &T[6], &T[7], 0, 1);
                y = sdd_maxpool2d(&c, sdd_add(&c, o, sdd_conv2d(&c, in, &T[8], &T[9], 0, 1)), 1, 3);
            }
            CHECK_MSG(y != NULL, "resblock vs ops (Cin %d): forward: %s", Cin, c.err.msg);
            if (!y) continue;
            float *g = sdd_grad_of(&c, y);
            ny = sdd_numel(y);
            for (size_t j = 0; j < ny; j++) g[j] = (float)sdd_rng_normal(10, j);
            float *yv = malloc(ny * sizeof(float));
            memcpy(yv, y->x, ny * sizeof(float));
            sdd_backward(&c, 0, NULL, NULL);
            if (!fused) {
                for (int s = 0; s < 2; s++) { ref[s] = malloc(p.total * sizeof(float)); memcpy(ref[s], p.grad[s], p.total * sizeof(float)); }
                ref[2] = malloc(p.total * sizeof(float));
                memcpy(ref[2], p.data, p.total * sizeof(float));
                memcpy(refx, in->g, nx * sizeof(float));
                refy = yv;
                continue;
            }
            CHECK_MSG(memcmp(yv, refy, ny * sizeof(float)) == 0, "resblock vs ops (Cin %d, mode %d): outputs differ", Cin, mode);
            CHECK_MSG(memcmp(p.data, ref[2], p.total * sizeof(float)) == 0, "resblock vs ops (Cin %d, mode %d): running statistics differ", Cin, mode);
            double num = 0, den = 0;
            for (size_t j = 0; j < nx; j++) { double d = in->g[j] - refx[j]; num += d * d; den += (double)refx[j] * refx[j]; }
            CHECK_MSG(sqrt(num / den) < 1e-6, "resblock vs ops (Cin %d, mode %d): input gradient rel %.3g", Cin, mode, sqrt(num / den));
            for (int s = 0; s < 2; s++) {
                /* relative to the tensor's norm, floored at 1e-3 of the whole path gradient's:
                 * conv1's bias gradient is zero up to rounding under per-path BatchNorm */
                double all = 0;
                for (size_t j = 0; j < p.total; j++) all += (double)ref[s][j] * ref[s][j];
                for (int i = 0; i < p.np; i++) {
                    if (!p.p[i].trainable) continue;
                    num = den = 0;
                    for (size_t j = 0; j < p.p[i].numel; j++) {
                        double d = p.grad[s][p.p[i].off + j] - ref[s][p.p[i].off + j];
                        num += d * d;
                        den += (double)ref[s][p.p[i].off + j] * ref[s][p.p[i].off + j];
                    }
                    const double rel = sqrt(num / (den + 1e-6 * all + 1e-30));
                    CHECK_MSG(rel < 1e-5, "resblock vs ops (Cin %d, mode %d): path %d gradient of %s rel %.3g (norm %.3g of %.3g)",
                              Cin, mode, s, p.p[i].name, rel, sqrt(den), sqrt(all));
                }
            }
            for (int k = 0; k < 3; k++) { free(ref[k]); ref[k] = NULL; }
            free(refy);
            free(yv);
        }
    sdd_ctx_free(&c);
    sdd_params_free(&p);
    free(saved);
    free(x);
    free(refx);
}

/* resblock case: B = 6 in 2 segments (3 + 3, so a 2-sample chunk straddles
 * them), width 7 (the pool drops a column); few pooling windows and the small
 * step keep max-pool switches out of the differences. In train mode conv1's
 * bias has no effect (BN2 removes it): not differentiated. */
#define RB_CASE(name, cin, cout, train, perseg) \
    { name, (cin) != (cout) ? 11 : 9, { 4, 4, 1, 1, 1, 1, 1, 4, 1, 4, 1 }, \
      { S4(6, cin, 2, 7), S4(cout, cin, 2, 3), S4(cout, 0, 0, 0), S4(cout, 0, 0, 0), S4(cout, 0, 0, 0), \
        S4(cout, 0, 0, 0), S4(cout, 0, 0, 0), S4(cout, cout, 2, 3), S4(cout, 0, 0, 0), S4(cout, cin, 1, 3), S4(cout, 0, 0, 0) }, \
      { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, { 0, 0, 0, 0, 0, 0, 1 }, { 0, 0, train, 0, 0, 1, 1 }, train, 2, perseg, \
      b_resblock, (cin) != (cout) ? &rb_down : &rb_id, 2 }

/* The vectorised SELU and its derivative against double precision: within 4
 * float ulp of the true value (plus 1e-37 absolute near underflow), NaN kept,
 * -inf to the limit, every lane of a partial vector. */
static void test_selu_vec(void)
{
    enum { N = 20011 };
    static float x[N], y[N], d[N], one[N];
    for (int i = 0; i < N; i++) {
        x[i] = -100.0f + 110.0f * (float)i / (float)(N - 1);   /* -100 .. 10, includes tiny |x| near 0 */
        one[i] = 1.0f;
    }
    x[0] = -INFINITY; x[1] = NAN; x[2] = 0.0f; x[3] = -0.0f; x[4] = -1e-30f; x[5] = -1e-7f; x[6] = 3e-8f; x[7] = -0.3465f;
    sdd_selu_vec(x, y, N);
    memcpy(d, one, sizeof d);
    sdd_selu_d_vec(x, NULL, d, N, 0);
    int bad = 0, badd = 0;
    const double sc = 1.0507009873554804934193349852946, al = 1.6732632423543772848170429916717;
    for (int i = 0; i < N; i++) {
        if (isnan(x[i])) { bad += !isnan(y[i]); badd += !isnan(d[i]); continue; }
        const double xv = x[i];
        const double ty = xv > 0 ? sc * xv : sc * al * expm1(xv), td = xv > 0 ? sc : sc * al * exp(xv);
        const double uy = 4.0 * 1.2e-7 * fabs(ty) + 1e-37, ud = 4.0 * 1.2e-7 * fabs(td) + 1e-37;
        if (fabs(y[i] - ty) > uy) { if (bad++ < 3) fprintf(stderr, "  selu(%.9g) = %.9g, true %.12g\n", xv, y[i], ty); }
        if (fabs(d[i] - td) > ud) { if (badd++ < 3) fprintf(stderr, "  selu'(%.9g) = %.9g, true %.12g\n", xv, d[i], td); }
    }
    CHECK_MSG(bad == 0, "vectorised SELU within 4 ulp of double (%d bad)", bad);
    CHECK_MSG(badd == 0, "vectorised SELU derivative within 4 ulp of double (%d bad)", badd);
    /* accumulate form on a 7-element tail: dx += dy * SELU'(x) */
    float dx[7] = { 1, 1, 1, 1, 1, 1, 1 }, dy[7] = { 2, 2, 2, 2, 2, 2, 2 }, xs[7] = { -3, -1, -0.5f, 0, 0.5f, 1, 3 };
    sdd_selu_d_vec(xs, dy, dx, 7, 1);
    int badacc = 0;
    for (int i = 0; i < 7; i++) {
        const double td = xs[i] > 0 ? sc : sc * al * exp((double)xs[i]);
        badacc += fabs(dx[i] - (1.0 + 2.0 * td)) > 1e-6;
    }
    CHECK_MSG(badacc == 0, "SELU derivative accumulate form (%d bad)", badacc);
}

/* The vectorised GELU and its derivative against double precision (libm's
 * erfc in double): GELU within 5 float ulp of the true value (measured 3.4);
 * the derivative Phi(x) + x phi(x) cancels for x < 0, so within 5 ulp of
 * |Phi| + |x phi|; 1e-37 absolute near underflow. NaN kept, +-inf as the
 * erf form gives them, every lane of a partial vector, the accumulate form,
 * and the scalar form (sdd_gelu_cdf1: tails and CPUs without AVX-512) on
 * the same points. */
static void test_gelu_vec(void)
{
    enum { N = 40009 };
    static float x[N], y[N], dx[N], dy[N];
    for (int i = 0; i < N; i++) {
        x[i] = -20.0f + 32.0f * (float)i / (float)(N - 1);   /* -20 .. 12: both erf/erfc branches, the far tail */
        dx[i] = 0.25f;
        dy[i] = 1.0f;
    }
    x[0] = -INFINITY; x[1] = NAN; x[2] = 0.0f; x[3] = -0.0f; x[4] = -1e-30f; x[5] = 1e-7f; x[6] = INFINITY;
    x[7] = 1.41421354f; x[8] = -1.41421354f; x[9] = 1.4142137f; x[10] = -14.1421356f; x[11] = -14.2f;
    sdd_gelu_vec(x, y, N - 3);                    /* a 13-element tail, then the last 3 */
    sdd_gelu_vec(x + N - 3, y + N - 3, 3);
    sdd_gelu_d_vec(x, dy, dx, N);
    int bad = 0, badd = 0, bads = 0;
    for (int i = 0; i < N; i++) {
        const double xv = x[i];
        float ez, ys = x[i] * sdd_gelu_cdf1(x[i], &ez);
        if (isnan(xv) || xv == -INFINITY) { bad += !isnan(y[i]); badd += !isnan(dx[i]); bads += !isnan(ys); continue; }
        if (xv == INFINITY) { bad += y[i] != INFINITY; badd += !isnan(dx[i]); bads += ys != INFINITY; continue; }
        const double cdf = 0.5 * erfc(-xv / sqrt(2.0)), pdf = exp(-0.5 * xv * xv) / sqrt(2.0 * M_PI);
        const double ty = xv * cdf, td = cdf + xv * pdf;
        const double uy = 5.0 * 1.2e-7 * fabs(ty) + 1e-37, ud = 5.0 * 1.2e-7 * (fabs(cdf) + fabs(xv * pdf)) + 1e-37;
        if (fabs(y[i] - ty) > uy) { if (bad++ < 3) fprintf(stderr, "  gelu(%.9g) = %.9g, true %.12g\n", xv, y[i], ty); }
        if (fabs(ys - ty) > uy) { if (bads++ < 3) fprintf(stderr, "  scalar gelu(%.9g) = %.9g, true %.12g\n", xv, ys, ty); }
        if (fabs(dx[i] - 0.25 - td) > ud + 3e-8) {
            if (badd++ < 3) fprintf(stderr, "  0.25 + gelu'(%.9g) = %.9g, true %.12g\n", xv, dx[i], 0.25 + td);
        }
    }
    CHECK_MSG(bad == 0, "vectorised GELU within 5 ulp of double (%d bad)", bad);
    CHECK_MSG(bads == 0, "scalar GELU (sdd_gelu_cdf1) within 5 ulp of double (%d bad)", bads);
    CHECK_MSG(badd == 0, "vectorised GELU derivative (accumulated) within 5 ulp of double (%d bad)", badd);
}

int main(void)
{
    int conv_pad11[2] = { 1, 1 }, conv_pad01[2] = { 0, 1 };
    static int rb_down = 1, rb_id = 0;
    gc_case cases[] = {
        { "conv2d k23 p11", 3, { 4, 4, 1 }, { S4(2, 3, 4, 7), S4(5, 3, 2, 3), S4(5, 0, 0, 0) }, { 0, 1, 1 }, {0}, {0}, 0, 2, 0, b_conv, conv_pad11, 0 },
        { "conv2d k13 p01", 3, { 4, 4, 1 }, { S4(2, 2, 3, 5), S4(4, 2, 1, 3), S4(4, 0, 0, 0) }, { 0, 1, 1 }, {0}, {0}, 0, 2, 0, b_conv, conv_pad01, 0 },
        { "maxpool 1x3", 1, { 4 }, { S4(2, 2, 3, 9) }, {0}, {0}, {0}, 0, 1, 0, b_maxpool, NULL, 1 },
        { "maxpool 3x3", 1, { 4 }, { S4(2, 1, 7, 10) }, {0}, {0}, {0}, 0, 1, 0, b_maxpool33, NULL, 1 },
        { "absmax axis 3", 1, { 4 }, { S4(2, 3, 4, 5) }, {0}, {0}, {0}, 0, 1, 0, b_absmax3, NULL, 1 },
        { "absmax axis 2", 1, { 4 }, { S4(2, 3, 4, 5) }, {0}, {0}, {0}, 0, 1, 0, b_absmax2, NULL, 1 },
        { "batchnorm2d train joint", 5, { 4, 1, 1, 1, 1 }, { S4(4, 3, 2, 5), S4(3, 0, 0, 0), S4(3, 0, 0, 0), S4(3, 0, 0, 0), S4(3, 0, 0, 0) }, { 0, 1, 1, 1, 1 }, { 0, 0, 0, 0, 1 }, { 0, 0, 0, 1, 1 }, 1, 2, 0, b_bn_cf, NULL, 0 },
        { "batchnorm2d train per-path", 5, { 4, 1, 1, 1, 1 }, { S4(4, 3, 2, 5), S4(3, 0, 0, 0), S4(3, 0, 0, 0), S4(3, 0, 0, 0), S4(3, 0, 0, 0) }, { 0, 1, 1, 1, 1 }, { 0, 0, 0, 0, 1 }, { 0, 0, 0, 1, 1 }, 1, 2, 1, b_bn_cf, NULL, 0 },
        { "batchnorm2d eval", 5, { 4, 1, 1, 1, 1 }, { S4(2, 3, 2, 5), S4(3, 0, 0, 0), S4(3, 0, 0, 0), S4(3, 0, 0, 0), S4(3, 0, 0, 0) }, { 0, 1, 1, 1, 1 }, { 0, 0, 0, 0, 1 }, { 0, 0, 0, 1, 1 }, 0, 2, 0, b_bn_cf, NULL, 0 },
        { "batchnorm1d train per-path", 5, { 3, 1, 1, 1, 1 }, { S4(4, 5, 6, 0), S4(6, 0, 0, 0), S4(6, 0, 0, 0), S4(6, 0, 0, 0), S4(6, 0, 0, 0) }, { 0, 1, 1, 1, 1 }, { 0, 0, 0, 0, 1 }, { 0, 0, 0, 1, 1 }, 1, 2, 1, b_bn_cl, NULL, 0 },
        { "selu", 1, { 3 }, { S4(2, 5, 7, 0) }, {0}, {0}, {0}, 0, 1, 0, b_selu, NULL, 0 },
        { "add", 2, { 3, 3 }, { S4(2, 5, 7, 0), S4(2, 5, 7, 0) }, {0}, {0}, {0}, 0, 1, 0, b_add, NULL, 0 },
        { "max2", 2, { 3, 3 }, { S4(2, 5, 7, 0), S4(2, 5, 7, 0) }, {0}, {0}, {0}, 0, 1, 0, b_max2, NULL, 1 },
        { "dropout", 1, { 3 }, { S4(2, 5, 7, 0) }, {0}, {0}, {0}, 1, 1, 0, b_dropout, NULL, 0 },
        { "expand_batch", 2, { 3, 3 }, { S4(4, 5, 3, 0), S4(1, 5, 3, 0) }, { 0, 1 }, {0}, {0}, 0, 2, 0, b_expand, NULL, 0 },
        { "concat nodes", 2, { 3, 3 }, { S4(2, 4, 3, 0), S4(2, 5, 3, 0) }, {0}, {0}, {0}, 0, 1, 0, b_concat, NULL, 0 },
        { "slice nodes", 1, { 3 }, { S4(2, 7, 3, 0) }, {0}, {0}, {0}, 0, 1, 0, b_slice, NULL, 0 },
        { "linear", 3, { 3, 2, 1 }, { S4(4, 3, 5, 0), S4(6, 5, 0, 0), S4(6, 0, 0, 0) }, { 0, 1, 1 }, {0}, {0}, 0, 2, 0, b_linear, NULL, 0 },
        { "bmm", 2, { 3, 3 }, { S4(2, 4, 5, 0), S4(2, 5, 3, 0) }, {0}, {0}, {0}, 0, 1, 0, b_bmm, NULL, 0 },
        { "pair attention (3 blocks)", 6, { 3, 2, 1, 2, 2, 2 }, { S4(4, 5, 4, 0), S4(6, 4, 0, 0), S4(6, 0, 0, 0), S4(6, 1, 0, 0), S4(6, 1, 0, 0), S4(6, 1, 0, 0) }, { 0, 1, 1, 1, 1, 1 }, {0}, {0}, 0, 2, 0, b_pair, NULL, 0 },
        { "pair attention (1 block)", 4, { 3, 2, 1, 2 }, { S4(2, 4, 3, 0), S4(5, 3, 0, 0), S4(5, 0, 0, 0), S4(5, 1, 0, 0) }, { 0, 1, 1, 1 }, {0}, {0}, 0, 1, 0, b_pair1, NULL, 0 },
        { "master attention", 5, { 3, 3, 2, 1, 2 }, { S4(4, 5, 4, 0), S4(4, 1, 4, 0), S4(3, 4, 0, 0), S4(3, 0, 0, 0), S4(3, 1, 0, 0) }, { 0, 0, 1, 1, 1 }, {0}, {0}, 0, 2, 0, b_master, NULL, 0 },
        { "graph pool", 3, { 3, 2, 1 }, { S4(4, 6, 3, 0), S4(1, 3, 0, 0), S4(1, 0, 0, 0) }, { 0, 1, 1 }, {0}, {0}, 1, 2, 0, b_gpool, NULL, 1 },
        { "readout", 3, { 3, 3, 3 }, { S4(2, 4, 3, 0), S4(2, 3, 3, 0), S4(2, 1, 3, 0) }, {0}, {0}, {0}, 0, 1, 0, b_readout, NULL, 1 },
        RB_CASE("resblock down (conv1 recomputed) joint", 1, 3, 1, 0),
        RB_CASE("resblock down (conv1 recomputed) per-path", 1, 3, 1, 1),
        RB_CASE("resblock down (conv1 saved) joint", 3, 4, 1, 0),
        RB_CASE("resblock down (conv1 saved) per-path", 3, 4, 1, 1),
        RB_CASE("resblock identity (conv1 saved) per-path", 3, 3, 1, 1),
        RB_CASE("resblock identity (conv1 recomputed) joint", 2, 2, 1, 0),
        RB_CASE("resblock down eval", 3, 4, 0, 0),
        { "weighted cross entropy", 1, { 2 }, { S4(6, 2, 0, 0) }, {0}, {0}, {0}, 0, 2, 0, b_ce, NULL, 0 },
    };
    test_selu_vec();
    test_gelu_vec();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
    test_path_split();
    test_resblock_vs_ops(1);
    test_resblock_vs_ops(3);
    return CHECK_DONE("test_gradcheck");
}
