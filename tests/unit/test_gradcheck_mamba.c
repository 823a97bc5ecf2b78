/* Finite-difference checks of the Mamba and Conformer-TCM back-ends' ops
 * (src/ops/mamba.c, src/ops/conformer.c).
 * Each case builds an op from random inputs, takes L = sum(r * out) for a
 * fixed random r, and compares the tape's gradients (activations, and
 * parameters through the two per-path buffers of a 2-segment batch) with
 * central differences of L accumulated in double. The selective scan runs
 * over more steps than one recomputation chunk (and a partial last chunk), so
 * the chunked backward is exercised across chunk boundaries. Also: the
 * per-path split of the scan's parameter gradients, and bit-identical
 * results for 1 and 2 threads. */
#include "check.h"
#include "ops/mamba.h"
#include "ops/conformer.h"
#include "ops/ops.h"
#include "core/rng.h"
#include <omp.h>
#include <stdlib.h>

#define MAXIN 8

typedef sdd_tensor *(*build_fn)(sdd_ctx *c, sdd_tensor **in);

typedef struct {
    const char *name;
    int nin;
    int nd[MAXIN];
    int64_t shape[MAXIN][4];
    int is_param[MAXIN];
    float scale[MAXIN];      /* inputs ~ scale * N(0, 1) + shift */
    float shift[MAXIN];
    build_fn fn;
} gc_case;

static sdd_params ps;
static float *act[MAXIN];
static int pidx[MAXIN];

static sdd_tensor *forward(const gc_case *k, sdd_ctx *c, int grad, sdd_tensor **ins)
{
    const int B = (int)k->shape[0][0];
    sdd_ctx_begin(c, B, 1, grad);
    if (B >= 2) {
        int ends[2] = { B / 2, B };
        sdd_ctx_set_segments(c, 2, ends, NULL);
    }
    for (int i = 0; i < k->nin; i++) {
        if (k->is_param[i]) {
            ins[i] = sdd_scratch(c, sizeof(sdd_tensor));
            *ins[i] = sdd_param_tensor(&ps, pidx[i]);
        } else {
            ins[i] = sdd_tensor_wrap(c, act[i], k->nd[i], k->shape[i]);
            ins[i]->rg = 1;
        }
    }
    return k->fn(c, ins);
}

static double objective(const sdd_tensor *out, const float *r)
{
    double L = 0.0;
    for (size_t i = 0; i < sdd_numel(out); i++) L += (double)r[i] * out->x[i];
    return L;
}

static size_t numel_of(const gc_case *k, int i)
{
    size_t n = 1;
    for (int d = 0; d < k->nd[i]; d++) n *= (size_t)k->shape[i][d];
    return n;
}

static void setup(const gc_case *k)
{
    sdd_err e;
    sdd_params_init(&ps);
    for (int i = 0; i < k->nin; i++)
        if (k->is_param[i]) {
            char nm[16];
            snprintf(nm, sizeof nm, "p%d", i);
            pidx[i] = sdd_params_add(&ps, nm, k->nd[i], k->shape[i], 1, &e);
        }
    sdd_params_alloc(&ps, &e);
    sdd_params_alloc_grads(&ps, 2, &e);
    for (int i = 0; i < k->nin; i++) {
        const size_t m = numel_of(k, i);
        float *x = k->is_param[i] ? sdd_params_ptr(&ps, pidx[i]) : (act[i] = malloc(m * sizeof(float)));
        for (size_t j = 0; j < m; j++)
            x[j] = (float)(k->scale[i] * sdd_rng_normal(sdd_rng_key(31, (uint64_t)i, (uint64_t)k->nin, 0), j) + k->shift[i]);
    }
}

static void teardown(const gc_case *k)
{
    for (int i = 0; i < k->nin; i++) if (!k->is_param[i]) free(act[i]);
    sdd_params_free(&ps);
}

/* runs forward + backward with seed r; copies every input's gradient into ga[i] */
static sdd_tensor *run_grad(const gc_case *k, sdd_ctx *c, sdd_tensor **ins, float **ga, float **r)
{
    sdd_params_zero_grads(&ps);
    sdd_tensor *out = forward(k, c, 1, ins);
    if (!out) return NULL;
    const size_t m = sdd_numel(out);
    if (!*r) {
        *r = malloc(m * sizeof(float));
        for (size_t j = 0; j < m; j++) (*r)[j] = (float)sdd_rng_normal(99, j);
    }
    float *g = sdd_grad_of(c, out);
    for (size_t j = 0; j < m; j++) g[j] = (*r)[j];
    sdd_backward(c, 0, NULL, NULL);
    for (int i = 0; i < k->nin; i++) {
        const size_t n = numel_of(k, i);
        ga[i] = calloc(n, sizeof(float));
        if (k->is_param[i]) {
            for (int p = 0; p < 2; p++)
                for (size_t j = 0; j < n; j++) ga[i][j] += ps.grad[p][ps.p[pidx[i]].off + j];
        } else if (ins[i]->g) memcpy(ga[i], ins[i]->g, n * sizeof(float));
    }
    return out;
}

static void run_case(const gc_case *k)
{
    setup(k);
    sdd_ctx c;
    sdd_ctx_init(&c, &ps);
    sdd_tensor *ins[MAXIN];
    float *ga[MAXIN] = { 0 }, *r = NULL;
    sdd_tensor *out = run_grad(k, &c, ins, ga, &r);
    CHECK_MSG(out != NULL, "%s: forward failed: %s", k->name, c.err.msg);
    if (!out) goto done;
    const size_t nout = sdd_numel(out);
    float *out2 = malloc(nout * sizeof(float));
    memcpy(out2, out->x, nout * sizeof(float));
    int bad = 0;
    double worst = 0.0;
    for (int i = 0; i < k->nin; i++) {
        float *x = k->is_param[i] ? sdd_params_ptr(&ps, pidx[i]) : act[i];
        const size_t n = numel_of(k, i);
        const size_t nprobe = n < 40 ? n : 40;
        for (size_t t = 0; t < nprobe; t++) {
            const size_t j = n < 40 ? t : (size_t)(sdd_rng_u64(7 + (uint64_t)i, t) % n);
            const float x0 = x[j];
            const float h = 1e-2f * (fabsf(x0) > 1.0f ? fabsf(x0) : 1.0f);
            x[j] = x0 + h;
            const double lp = objective(forward(k, &c, 0, ins), r);
            x[j] = x0 - h;
            const double lm = objective(forward(k, &c, 0, ins), r);
            x[j] = x0;
            const double num = (lp - lm) / (2.0 * ((double)(x0 + h) - (double)x0));
            const double ana = ga[i][j];
            const double err = fabs(num - ana) / (fabs(num) + fabs(ana) + 1e-2);
            if (err > worst) worst = err;
            if (err > 1e-2) {
                if (bad < 3) fprintf(stderr, "  %s input %d elem %zu: analytic %.6g numeric %.6g\n", k->name, i, j, ana, num);
                bad++;
            }
        }
    }
    CHECK_MSG(bad == 0, "%s: %d gradient entries off (worst rel %.3g)", k->name, bad, worst);
    /* the same bits with one thread as with two */
    float *g1[MAXIN] = { 0 };
    const int nt = omp_get_max_threads();
    omp_set_num_threads(nt > 1 ? 1 : 2);
    sdd_tensor *o1 = run_grad(k, &c, ins, g1, &r);
    omp_set_num_threads(nt);
    int same = o1 && sdd_numel(o1) == nout && memcmp(o1->x, out2, nout * sizeof(float)) == 0;
    for (int i = 0; i < k->nin; i++) {
        if (same && memcmp(g1[i], ga[i], numel_of(k, i) * sizeof(float)) != 0) same = 0;
        free(g1[i]);
    }
    CHECK_MSG(same, "%s: results differ between 1 and 2 threads", k->name);
    free(out2);
done:
    for (int i = 0; i < k->nin; i++) free(ga[i]);
    free(r);
    sdd_ctx_free(&c);
    teardown(k);
}

static sdd_tensor *b_rms(sdd_ctx *c, sdd_tensor **in) { return sdd_rmsnorm(c, in[0], in[1], 1e-5f); }
static sdd_tensor *b_silu(sdd_ctx *c, sdd_tensor **in) { return sdd_silu(c, in[0]); }
static sdd_tensor *b_softplus(sdd_ctx *c, sdd_tensor **in) { return sdd_softplus(c, in[0]); }
static sdd_tensor *b_conv(sdd_ctx *c, sdd_tensor **in) { return sdd_dwconv1d(c, in[0], in[1], in[2], 3, 0); }
static sdd_tensor *b_conv_same(sdd_ctx *c, sdd_tensor **in) { return sdd_dwconv1d(c, in[0], in[1], in[2], 3, 3); }
static sdd_tensor *b_scan(sdd_ctx *c, sdd_tensor **in) { return sdd_selective_scan(c, in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]); }
static sdd_tensor *b_scan_nz(sdd_ctx *c, sdd_tensor **in) { return sdd_selective_scan(c, in[0], in[1], in[2], in[3], in[4], in[5], NULL, NULL); }
static sdd_tensor *b_pool(sdd_ctx *c, sdd_tensor **in) { return sdd_attn_pool(c, in[0], in[1], in[2]); }
static sdd_tensor *b_flip(sdd_ctx *c, sdd_tensor **in) { return sdd_silu(c, sdd_flip_time(c, in[0])); }
static sdd_tensor *b_slice(sdd_ctx *c, sdd_tensor **in) { return sdd_silu(c, sdd_slice_last(c, in[0], 2, 3)); }

static sdd_tensor *b_glu(sdd_ctx *c, sdd_tensor **in) { return sdd_glu_last(c, in[0]); }
static sdd_tensor *b_mean(sdd_ctx *c, sdd_tensor **in) { return sdd_silu(c, sdd_mean_nodes(c, in[0], 1, 3)); }
static sdd_tensor *b_axpy(sdd_ctx *c, sdd_tensor **in) { return sdd_silu(c, sdd_add_scaled(c, in[0], in[1], 0.5f)); }

#define S4(a, b, c_, d) { a, b, c_, d }

/* Per-path routing of the scan's parameter gradients: buffer s of a 2-segment
 * batch equals the gradient of segment s's samples run alone. */
static void test_scan_path_split(void)
{
    sdd_err e;
    sdd_params p;
    sdd_params_init(&p);
    const int B = 4, T = 21, Di = 3, N = 2;
    int64_t sa[2] = { Di, N }, sd[1] = { Di };
    const int ia = sdd_params_add(&p, "A_log", 2, sa, 1, &e), iD = sdd_params_add(&p, "D", 1, sd, 1, &e);
    const int ib = sdd_params_add(&p, "dt_bias", 1, sd, 1, &e);
    sdd_params_alloc(&p, &e);
    sdd_params_alloc_grads(&p, 2, &e);
    for (size_t j = 0; j < p.total; j++) p.data[j] = (float)(0.5 * sdd_rng_normal(3, j));
    const size_t nu = (size_t)B * T * Di, nn = (size_t)B * T * N;
    float *buf[5];
    const size_t sz[5] = { nu, nu, nn, nn, nu };
    for (int i = 0; i < 5; i++) {
        buf[i] = malloc(sz[i] * sizeof(float));
        for (size_t j = 0; j < sz[i]; j++) buf[i][j] = (float)sdd_rng_normal(40 + (uint64_t)i, j);
    }
    float *sep[2] = { malloc(p.total * sizeof(float)), malloc(p.total * sizeof(float)) };
    sdd_ctx c;
    sdd_ctx_init(&c, &p);
    for (int pass = 0; pass < 3; pass++) {
        const int b0 = pass == 1 ? B / 2 : 0, nb = pass == 2 ? B : B / 2;
        sdd_params_zero_grads(&p);
        sdd_ctx_begin(&c, nb, 1, 1);
        if (pass == 2) { int ends[2] = { B / 2, B }; sdd_ctx_set_segments(&c, 2, ends, NULL); }
        int64_t s3[3] = { nb, T, Di }, s3n[3] = { nb, T, N };
        sdd_tensor *u = sdd_tensor_wrap(&c, buf[0] + (size_t)b0 * T * Di, 3, s3);
        sdd_tensor *dt = sdd_tensor_wrap(&c, buf[1] + (size_t)b0 * T * Di, 3, s3);
        sdd_tensor *Bm = sdd_tensor_wrap(&c, buf[2] + (size_t)b0 * T * N, 3, s3n);
        sdd_tensor *Cm = sdd_tensor_wrap(&c, buf[3] + (size_t)b0 * T * N, 3, s3n);
        sdd_tensor *z = sdd_tensor_wrap(&c, buf[4] + (size_t)b0 * T * Di, 3, s3);
        sdd_tensor A = sdd_param_tensor(&p, ia), D = sdd_param_tensor(&p, iD), bb = sdd_param_tensor(&p, ib);
        sdd_tensor *y = sdd_selective_scan(&c, u, dt, &A, Bm, Cm, &D, z, &bb);
        CHECK_MSG(y != NULL, "scan path split: %s", c.err.msg);
        if (!y) break;
        float *g = sdd_grad_of(&c, y);
        for (size_t j = 0; j < sdd_numel(y); j++) g[j] = (float)sdd_rng_normal(50, j + (size_t)b0 * T * Di);
        sdd_backward(&c, 0, NULL, NULL);
        if (pass < 2) memcpy(sep[pass], p.grad[0], p.total * sizeof(float));
        else
            for (int s = 0; s < 2; s++) {
                double num = 0, den = 0;
                for (size_t j = 0; j < p.total; j++) { double d = p.grad[s][j] - sep[s][j]; num += d * d; den += (double)sep[s][j] * sep[s][j]; }
                CHECK_MSG(sqrt(num / (den + 1e-30)) < 1e-6, "scan path %d gradient differs from its separate run: rel %.3g", s, sqrt(num / (den + 1e-30)));
            }
    }
    sdd_ctx_free(&c);
    sdd_params_free(&p);
    for (int i = 0; i < 5; i++) free(buf[i]);
    free(sep[0]);
    free(sep[1]);
}

int main(void)
{
    /* scan inputs: u, dt (pre-bias; softplus of around -1 keeps exp(delta A) away from 0),
     * A_log, B, C, D, z, dt_bias */
    gc_case cases[] = {
        { "rmsnorm", 2, { 3, 1 }, { S4(4, 5, 7, 0), S4(7, 0, 0, 0) }, { 0, 1 }, { 1, 0.3f }, { 0, 1 }, b_rms },
        { "silu", 1, { 3 }, { S4(2, 3, 5, 0) }, { 0 }, { 2 }, { 0 }, b_silu },
        { "softplus", 1, { 3 }, { S4(2, 3, 5, 0) }, { 0 }, { 3 }, { 0 }, b_softplus },
        { "causal dwconv1d k4", 3, { 3, 3, 1 }, { S4(4, 9, 5, 0), S4(5, 1, 4, 0), S4(5, 0, 0, 0) }, { 0, 1, 1 }, { 1, 0.5f, 0.5f }, { 0 }, b_conv },
        { "dwconv1d k4 pad 3+3", 3, { 3, 3, 1 }, { S4(4, 9, 5, 0), S4(5, 1, 4, 0), S4(5, 0, 0, 0) }, { 0, 1, 1 }, { 1, 0.5f, 0.5f }, { 0 }, b_conv_same },
        { "selective scan (gated, 3 chunks)", 8, { 3, 3, 2, 3, 3, 1, 3, 1 },
          { S4(4, 37, 3, 0), S4(4, 37, 3, 0), S4(3, 4, 0, 0), S4(4, 37, 4, 0), S4(4, 37, 4, 0), S4(3, 0, 0, 0), S4(4, 37, 3, 0), S4(3, 0, 0, 0) },
          { 0, 0, 1, 0, 0, 1, 0, 1 }, { 1, 0.5f, 0.5f, 1, 1, 1, 1, 0.3f }, { 0, -1, 0, 0, 0, 0, 0, 0 }, b_scan },
        { "selective scan (no gate, no bias)", 6, { 3, 3, 2, 3, 3, 1 },
          { S4(2, 16, 2, 0), S4(2, 16, 2, 0), S4(2, 3, 0, 0), S4(2, 16, 3, 0), S4(2, 16, 3, 0), S4(2, 0, 0, 0) },
          { 0, 0, 1, 0, 0, 1 }, { 1, 0.5f, 0.5f, 1, 1, 1 }, { 0, 0.5f, 0, 0, 0, 0 }, b_scan_nz },
        { "attention pool", 3, { 3, 2, 1 }, { S4(4, 6, 5, 0), S4(1, 5, 0, 0), S4(1, 0, 0, 0) }, { 0, 1, 1 }, { 1, 0.7f, 0.5f }, { 0 }, b_pool },
        { "flip time", 1, { 3 }, { S4(2, 5, 3, 0) }, { 0 }, { 1 }, { 0 }, b_flip },
        { "GLU last dim", 1, { 3 }, { S4(2, 3, 8, 0) }, { 0 }, { 1.5f }, { 0 }, b_glu },
        { "token mean", 1, { 3 }, { S4(2, 5, 3, 0) }, { 0 }, { 1 }, { 0 }, b_mean },
        { "scaled add", 2, { 3, 3 }, { S4(2, 3, 4, 0), S4(2, 3, 4, 0) }, { 0, 0 }, { 1, 1 }, { 0 }, b_axpy },
        { "slice last", 1, { 3 }, { S4(2, 3, 7, 0) }, { 0 }, { 1 }, { 0 }, b_slice },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
    test_scan_path_split();
    return CHECK_DONE("test_gradcheck_mamba");
}
