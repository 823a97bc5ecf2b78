/* Finite-difference gradient checks for the sequence ops of seq.h (LayerNorm,
 * GELU, transpose, Conv1d with stride/padding/groups/weight norm, multi-head
 * attention with and without dropout, softmax-attention pooling, activation
 * recomputation). The harness is the one of test_gradcheck.c: L = sum(r * out)
 * for a fixed random r; tape gradients (activations and parameters through
 * the per-path buffers) against central differences in double. Also checks
 * that a checkpointed sub-graph gives the same values and bit-identical
 * gradients as the plain one, dropout included. */
#include "check.h"
#include "ops/ops.h"
#include "ops/seq.h"
#include "core/rng.h"
#include <stdlib.h>
#define MAXIN 12

typedef sdd_tensor *(*build_fn)(sdd_ctx *c, sdd_tensor **in, void *ud);

typedef struct {
    const char *name;
    int nin;
    int nd[MAXIN];
    int64_t shape[MAXIN][4];
    int is_param[MAXIN];     /* 1: registered in the parameter block (gradient per path) */
    int positive[MAXIN];     /* inputs that must stay > 0 (variances) */
    int nograd[MAXIN];       /* inputs not differentiated (running statistics) */
    int train;
    int nseg;                /* segments of the batch (leading dim of input 0) */
    int bn_per_seg;
    build_fn fn;
    void *ud;
    int spaced;              /* 1: inputs are distinct values 0.01 apart (ops with kinks: max, top-k);
                              * 2: composite op with kinks inside: random inputs, the small step, the
                              * slope of either side accepted, error floor scaled by the gradients */
} gc_case;

static sdd_params ps;
static float *act[MAXIN];
static int pidx[MAXIN];

static sdd_tensor *forward(const gc_case *k, sdd_ctx *c, int grad, sdd_tensor **ins)
{
    sdd_ctx_begin(c, (int)k->shape[0][0], k->train, grad);
    c->bn_per_seg = k->bn_per_seg;
    c->rng_key = 42;
    if (k->nseg > 1) {
        int B = (int)k->shape[0][0], ends[2] = { B / 2, B };
        sdd_ctx_set_segments(c, 2, ends, NULL);
    }
    for (int i = 0; i < k->nin; i++) {
        if (k->is_param[i]) {
            ins[i] = sdd_scratch(c, sizeof(sdd_tensor));
            *ins[i] = sdd_param_tensor(&ps, pidx[i]);
            if (k->nograd[i]) ins[i]->rg = 0;
        } else {
            ins[i] = sdd_tensor_wrap(c, act[i], k->nd[i], k->shape[i]);
            ins[i]->rg = !k->nograd[i];
        }
    }
    return k->fn(c, ins, k->ud);
}

static double objective(const sdd_tensor *out, const float *r)
{
    double L = 0.0;
    size_t m = sdd_numel(out);
    for (size_t i = 0; i < m; i++) L += (double)r[i] * out->x[i];
    return L;
}

static void run_case(const gc_case *k)
{
    sdd_err e;
    sdd_params_init(&ps);
    size_t nel[MAXIN];
    for (int i = 0; i < k->nin; i++) {
        nel[i] = 1;
        for (int d = 0; d < k->nd[i]; d++) nel[i] *= (size_t)k->shape[i][d];
        if (k->is_param[i]) {
            char nm[32];
            snprintf(nm, sizeof nm, "p%d", i);
            pidx[i] = sdd_params_add(&ps, nm, k->nd[i], k->shape[i], 1, &e);
        }
    }
    sdd_params_alloc(&ps, &e);
    sdd_params_alloc_grads(&ps, 2, &e);
    uint64_t key = sdd_rng_key(1234, (uint64_t)(uintptr_t)k->name[0], k->nin, k->nd[0]);
    for (int i = 0; i < k->nin; i++) {
        float *x = k->is_param[i] ? sdd_params_ptr(&ps, pidx[i]) : (act[i] = malloc(nel[i] * sizeof(float)));
        for (size_t j = 0; j < nel[i]; j++) {
            double v = sdd_rng_normal(key + i, j);
            if (k->spaced == 1) v = 0.01 * (double)((j * 7919 + (size_t)i * 104729) % 1009) - 5.0;
            x[j] = (float)(k->positive[i] ? 0.5 + fabs(v) : v);
        }
    }
    sdd_ctx c;
    sdd_ctx_init(&c, &ps);
    sdd_tensor *ins[MAXIN];
    sdd_tensor *out = forward(k, &c, 1, ins);
    CHECK_MSG(out != NULL, "%s: forward failed: %s", k->name, c.err.msg);
    if (!out) goto done;
    size_t m = sdd_numel(out);
    float *r = malloc(m * sizeof(float));
    for (size_t j = 0; j < m; j++) r[j] = (float)sdd_rng_normal(99, j);
    float *g = sdd_grad_of(&c, out);
    for (size_t j = 0; j < m; j++) g[j] = r[j];
    sdd_backward(&c, 0, NULL, NULL);
    /* copy analytic gradients before re-running forwards */
    float *ga[MAXIN];
    for (int i = 0; i < k->nin; i++) {
        ga[i] = calloc(nel[i], sizeof(float));
        if (k->is_param[i]) {
            for (int p = 0; p < 2; p++)
                for (size_t j = 0; j < nel[i]; j++) ga[i][j] += ps.grad[p][ps.p[pidx[i]].off + j];
        } else if (ins[i]->g) {
            for (size_t j = 0; j < nel[i]; j++) ga[i][j] = ins[i]->g[j];
        }
    }
    int bad = 0;
    double worst = 0.0;
    const double l0 = objective(out, r);
    for (int i = 0; i < k->nin; i++) {
        if (k->nograd[i]) { free(ga[i]); continue; }
        float *x = k->is_param[i] ? sdd_params_ptr(&ps, pidx[i]) : act[i];
        /* error floor: 1e-2, or for composite ops 1e-2 of the input's largest gradient
         * (float32 rounding of a deep composition swamps the differences of tiny entries) */
        double floor = 1e-2;
        for (size_t j = 0; k->spaced == 2 && j < nel[i]; j++)
            if (1e-2 * fabs(ga[i][j]) > floor) floor = 1e-2 * fabs(ga[i][j]);
        size_t nprobe = nel[i] < 24 ? nel[i] : 24;
        for (size_t t = 0; t < nprobe; t++) {
            size_t j = nel[i] < 24 ? t : (size_t)(sdd_rng_u64(7 + i, t) % nel[i]);
            const float x0 = x[j];
            const float h = (k->spaced ? 1e-3f : 1e-2f) * (fabsf(x0) > 1.0f ? fabsf(x0) : 1.0f);
            x[j] = x0 + h;
            double lp = objective(forward(k, &c, 0, ins), r);
            x[j] = x0 - h;
            double lm = objective(forward(k, &c, 0, ins), r);
            x[j] = x0;
            const double hd = (double)(x0 + h) - (double)x0;
            double num = (lp - lm) / (2.0 * hd);
            double ana = ga[i][j];
            double err = fabs(num - ana) / (fabs(num) + fabs(ana) + floor);
            if (err > 2e-2 && k->spaced == 2) {
                /* a max switch inside [x - h, x + h]: the gradient must be the slope on one side */
                const double sp = (lp - l0) / hd, sm = (l0 - lm) / hd;
                const double ep = fabs(sp - ana) / (fabs(sp) + fabs(ana) + floor);
                const double em = fabs(sm - ana) / (fabs(sm) + fabs(ana) + floor);
                err = ep < em ? ep : em;
            }
            if (err > worst) worst = err;
            if (err > 2e-2) {
                if (bad < 3) fprintf(stderr, "  %s input %d elem %zu: analytic %.6g numeric %.6g\n", k->name, i, j, ana, num);
                bad++;
            }
        }
        free(ga[i]);
    }
    CHECK_MSG(bad == 0, "%s: %d gradient entries off (worst rel %.3g)", k->name, bad, worst);
    free(r);
done:
    sdd_ctx_free(&c);
    for (int i = 0; i < k->nin; i++) if (!k->is_param[i]) free(act[i]);
    sdd_params_free(&ps);
}

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
