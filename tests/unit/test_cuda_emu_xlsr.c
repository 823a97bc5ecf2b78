/* XLS-R models on the CUDA backend under CPU emulation (src/backend/cuda_emu.h;
 * built like test_cuda_emu, linking the emulation objects before libsdd.a):
 * the sequence ops' CUDA kernels (src/backend/cuda_xlsr*.cu, cuda_conformer.cu,
 * cuda_mamba.cu) run on the CPU with device memory inaccessible to host code,
 * against the CPU backend and the PyTorch fixture. Eval: XLSR-AASIST-tiny
 * logits vs its float64 fixture, and XLSR-AASIST-tiny, XLSR-Conformer-TCM-tiny
 * and XLSR-Mamba-tiny vs the CPU from random weights; sdd_checkpoint on the
 * device (the kept output overlapping its old place); the cuBLAS GEMM FLOP
 * count behind the GPU benchmarks' TFLOP/s; LayerNorm over more rows than a
 * grid's y extent. Training: DPDA PCGrad
 * steps of each tiny model (dropout on, activation recomputation as
 * configured) on the emulated device vs the CPU backend from the same weights
 * and batch: per-path losses, per-path gradients, the combined gradient, the
 * weights after Adam; two steps (one under the sanitizers). */
#include "check.h"
#include "device_logits.h"
#include "device_step.h"
#include "fixture.h"
#include "models/modelio.h"
#include "models/infer.h"
#include "io/safetensors.h"
#include "backend/device.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "ops/seq.h"
#include "train/step.h"
#include <stdlib.h>
#include <string.h>

#define FIX "tests/data/fixtures/xlsr_aasist_tiny.safetensors"

/* the fixture's random-weight XLSR-AASIST-tiny (NULL when it cannot be loaded) */
static sdd_model *fixture_model(const sdd_tensorset *fx)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("XLSR-AASIST-tiny", &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (!m) return NULL;
    const int rc = fx_set_weights(m, fx, FIX, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc) { sdd_model_free(m); return NULL; }
    return m;
}

/* eval logits on the emulated device vs the float64 truth and the CPU */
static void eval_fixture(void)
{
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load(FIX, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    sdd_model *m = fixture_model(&fx);
    const sdd_ntensor *in = sdd_tensorset_find(&fx, "input"), *want = sdd_tensorset_find(&fx, "logits_eval");
    CHECK(in && want && in->ndim == 2);
    if (m && in && want && in->ndim == 2 && want->nbytes == (size_t)in->shape[0] * 2 * sizeof(float)) {
        const int B = (int)in->shape[0];
        const int64_t L = in->shape[1];
        float emu[16], cpu[16];
        CHECK(B <= 8);
        const int ok = B <= 8 && logits_on(m, 1, (const float *)in->data, B, L, emu) == 0 && logits_on(m, 0, (const float *)in->data, B, L, cpu) == 0;
        CHECK_MSG(ok, "fixture forward failed");
        if (ok) {
            const double err = fx_rel_l2(emu, (const float *)want->data, (size_t)B * 2), gc = fx_rel_l2(emu, cpu, (size_t)B * 2);
            printf("xlsr_aasist_tiny fixture (B=%d, L=%lld): emulated CUDA eval logits vs float64 truth %.3g, vs CPU %.3g\n",
                   B, (long long)L, err, gc);
            CHECK_MSG(err <= 1e-4, "emulated CUDA logits relative L2 error %.3g", err);
            CHECK_MSG(gc <= 1e-5, "emulated CUDA vs CPU logits differ by %.3g", gc);
        }
    }
    sdd_model_free(m);
    sdd_tensorset_free(&fx);
}

/* random weights (seed), a noise batch (B, L): eval logits on the emulated device vs the CPU backend */
static void eval_random(const char *arch, uint64_t seed, int B, int64_t L, double tol)
{
    sdd_err e;
    sdd_model *m = sdd_model_new(arch, &e);
    CHECK_MSG(m != NULL, "%s: %s", arch, e.msg);
    if (!m) return;
    sdd_model_init_random(m, seed);
    float *x = malloc((size_t)B * L * sizeof(float)), *emu = malloc((size_t)B * 2 * sizeof(float)), *cpu = malloc((size_t)B * 2 * sizeof(float));
    CHECK(x && emu && cpu);
    if (x && emu && cpu) {
        for (int64_t i = 0; i < B * L; i++) x[i] = 0.2f * (2.0f * sdd_rng_uniform(seed + 1, (uint64_t)i) - 1.0f);
        const int ok = logits_on(m, 1, x, B, L, emu) == 0 && logits_on(m, 0, x, B, L, cpu) == 0;
        CHECK_MSG(ok, "%s: forward failed", arch);
        if (ok) {
            const double gc = fx_rel_l2(emu, cpu, (size_t)B * 2);
            printf("%s random weights (seed %llu, B=%d, L=%lld): emulated CUDA vs CPU eval logits %.3g\n", arch,
                   (unsigned long long)seed, B, (long long)L, gc);
            CHECK_MSG(gc <= tol, "%s: emulated CUDA vs CPU logits differ by %.3g", arch, gc);
        }
    }
    free(x); free(emu); free(cpu);
    sdd_model_free(m);
}

/* sdd_checkpoint on the device: y = GELU(x) after a small slice, so the kept
 * output's range overlaps where it starts (the copy goes through a temporary) */
static sdd_tensor *ck_fn(sdd_ctx *c, sdd_tensor *x, void *ud)
{
    (void)ud;
    return sdd_slice_nodes(c, x, 0, 1) ? sdd_gelu(c, x) : NULL;
}

/* c on the CPU (dev 0) or the emulated device (1), begun for B samples
 * (grad: training with gradients), and the input tensor of shape shp holding
 * host: wrapped on the CPU, copied to the device */
static sdd_tensor *ctx_with_input(sdd_ctx *c, sdd_params *ps, int dev, int B, int grad, float *host, int nd, const int64_t *shp)
{
    sdd_err e;
    sdd_ctx_init(c, ps);
    CHECK(sdd_ctx_set_device(c, dev, &e) == 0);
    sdd_ctx_begin(c, B, grad, grad);
    sdd_tensor *x = dev ? sdd_tensor_new(c, nd, shp) : sdd_tensor_wrap(c, host, nd, shp);
    if (dev && x) CHECK(sdd_device_from_host(x->x, host, sdd_numel(x), &e) == 0);
    return x;
}

static void eval_checkpoint(void)
{
    sdd_params ps;
    sdd_params_init(&ps);
    float host[2 * 5 * 7], want[2 * 5 * 7], got[2 * 5 * 7];
    for (int i = 0; i < 70; i++) host[i] = 0.3f * (float)(i % 11) - 1.5f;
    int64_t shp[3] = { 2, 5, 7 };
    for (int dev = 0; dev < 2; dev++) {
        sdd_ctx c;
        sdd_tensor *x = ctx_with_input(&c, &ps, dev, 2, 0, host, 3, shp);
        sdd_tensor *y = sdd_checkpoint(&c, ck_fn, x, NULL);
        CHECK_MSG(y != NULL, "checkpoint (%s): %s", dev ? "cuda" : "cpu", c.err.msg);
        if (y) CHECK(sdd_values_to_host(&c, y, dev ? got : want) == 0);
        sdd_ctx_free(&c);
    }
    CHECK(fx_rel_l2(got, want, 70) <= 1e-6);
    sdd_params_free(&ps);
}

/* in the emulation objects (cuda_rt.cu): device memory protection on (1) or off;
 * the cuBLAS GEMM FLOP count of the benchmarks' TFLOP/s (reset 1 restarts it) */
void sdd_cu_emu_protect(int on);
double sdd_cu_gemm_flops(int reset);

/* LayerNorm over more rows than a grid's y extent (65535): the per-entry
 * kernels loop over the rest, so every row of the output and of the input
 * gradient must match the CPU's (a fresh context: unwritten rows read 0) */
static void layernorm_tall(void)
{
    enum { R = 70001, D = 8 };
    const int64_t shp[2] = { R, D };
    float *x = malloc(sizeof(float) * R * D), *dy = malloc(sizeof(float) * R * D), *out[2], *dx[2];
    for (int k = 0; k < 2; k++) { out[k] = calloc((size_t)R * D, sizeof(float)); dx[k] = calloc((size_t)R * D, sizeof(float)); }
    if (!x || !dy || !out[0] || !out[1] || !dx[0] || !dx[1]) { CHECK(0); return; }
    for (int i = 0; i < R * D; i++) {
        x[i] = (float)sdd_rng_normal(31, (uint64_t)i);
        dy[i] = (float)sdd_rng_normal(32, (uint64_t)i);
    }
    sdd_params ps;
    sdd_params_init(&ps);
    for (int dev = 0; dev < 2; dev++) {
        sdd_ctx c;
        sdd_err e;
        sdd_tensor *t = ctx_with_input(&c, &ps, dev, 1, 1, x, 2, shp);
        if (t) t->rg = 1;
        sdd_tensor *y = t ? sdd_layernorm(&c, t, NULL, NULL, 1e-5f) : NULL;
        float *g = y ? sdd_grad_of(&c, y) : NULL;
        CHECK_MSG(g != NULL, "layernorm (%s): %s", dev ? "cuda" : "cpu", c.err.msg);
        if (g) {
            if (dev) CHECK(sdd_device_from_host(g, dy, (size_t)R * D, &e) == 0);
            else memcpy(g, dy, sizeof(float) * R * D);
            CHECK(sdd_backward(&c, 0, NULL, NULL) == 0);
            CHECK(sdd_values_to_host(&c, y, out[dev]) == 0);
            if (dev) CHECK(sdd_device_to_host(dx[dev], t->g, (size_t)R * D, &e) == 0);
            else memcpy(dx[dev], t->g, sizeof(float) * R * D);
        }
        sdd_ctx_free(&c);
    }
    double wo = 0, wd = 0;
    for (int r = 0; r < R; r++)
        for (int d = 0; d < D; d++) {
            const size_t i = (size_t)r * D + d;
            const double a = fabs(out[1][i] - out[0][i]), b = fabs(dx[1][i] - dx[0][i]);
            if (!(a <= wo)) wo = a;   /* a NaN sticks */
            if (!(b <= wd)) wd = b;
        }
    CHECK_MSG(wo <= 1e-5 && wd <= 1e-4, "layernorm over %d rows: emulated CUDA vs CPU, worst output %.3g, input gradient %.3g", R, wo, wd);
    sdd_params_free(&ps);
    for (int k = 0; k < 2; k++) { free(out[k]); free(dx[k]); }
    free(x);
    free(dy);
}

/* the GEMM FLOP count: multi-head attention (2 products per sample and head)
 * and a linear layer, each 2 m n k, counted exactly */
static void gemm_count(void)
{
    sdd_params ps;
    sdd_params_init(&ps);
    sdd_ctx c;
    sdd_err e;
    sdd_ctx_init(&c, &ps);
    CHECK(sdd_ctx_set_device(&c, SDD_DEV_CUDA, &e) == 0);
    sdd_ctx_begin(&c, 2, 0, 0);
    const int64_t sq[3] = { 2, 5, 8 }, sw[2] = { 3, 8 };
    float host[80];
    for (int i = 0; i < 80; i++) host[i] = 0.05f * (float)(i % 7) - 0.1f;
    sdd_tensor *q = sdd_tensor_new(&c, 3, sq), *k = sdd_tensor_new(&c, 3, sq), *v = sdd_tensor_new(&c, 3, sq), *w = sdd_tensor_new(&c, 2, sw);
    CHECK(q && k && v && w);
    if (!q || !k || !v || !w) { sdd_ctx_free(&c); return; }
    CHECK(!sdd_device_from_host(q->x, host, 80, &e) && !sdd_device_from_host(k->x, host, 80, &e) &&
          !sdd_device_from_host(v->x, host, 80, &e) && !sdd_device_from_host(w->x, host, 24, &e));
    sdd_cu_gemm_flops(1);
    /* B 2 x H 2 heads of Dh 4: scores and output, each 2 T T Dh = 200 */
    CHECK(sdd_mh_attention(&c, q, k, v, 2, 0.5f, 0.0f) != NULL);
    CHECK_NEAR(sdd_cu_gemm_flops(0), 2 * 4 * 200.0, 0);
    /* (2, 5, 8) x (3, 8)^T: 2 R din dout = 2 * 10 * 8 * 3 */
    CHECK(sdd_linear(&c, q, w, NULL) != NULL);
    CHECK_NEAR(sdd_cu_gemm_flops(1), 1600.0 + 480.0, 0);
    CHECK_NEAR(sdd_cu_gemm_flops(0), 0.0, 0);
    sdd_ctx_free(&c);
    sdd_params_free(&ps);
}

/* the DPDA steps (2 + 2 copies) of arch on the CPU and the emulated device
 * from the same weights, with BatchNorm statistics bn; recompute 0: the
 * device copy keeps the XLS-R activations (the CPU recomputes them) */
static void train_compare(const char *arch, int align, int bn, int recompute, int steps, int protect)
{
    sdd_err e;
    dstep_pair p;
    memset(&p, 0, sizeof p);
    sdd_cu_emu_protect(protect);
    const int nb = 4;
    const int64_t L = 6000;
    float *wave = malloc((size_t)nb * L * sizeof(float));
    int lab[4] = { 1, 0, 1, 0 };
    int ok = wave && dstep_init(&p, arch, 7, &e) == 0;
    CHECK_MSG(ok, "setup: %s", wave ? e.msg : "out of memory");
    if (ok && !recompute) CHECK(sdd_model_set_recompute(p.md, 0, &e) == 0);
    sdd_step_params sp = sdd_step_default_params();
    sp.paths = SDD_PATHS_DUAL;
    sp.align = align;
    sp.bn_stats = bn;
    const char *an = sdd_align_name(align);
    const char *how = bn == SDD_BN_JOINT ? (recompute ? " joint-bn" : " joint-bn no-recompute") : recompute ? "" : " no-recompute";
    for (int st = 0; ok && st < steps; st++) {
        for (int64_t i = 0; i < nb * L; i++) wave[i] = (0.1f + 0.05f * st) * (2.0f * sdd_rng_uniform(21 + st, (uint64_t)i) - 1.0f);
        dstep_diff d;
        ok = dstep_run(&p, &sp, wave, nb, L, lab, 5 + st, 1, &d, &e) == 0;
        CHECK_MSG(ok, "%s align %s step %d: %s", arch, an, st, e.msg);
        if (!ok) break;
        /* the XLS-R parameters each op's backward produces, one by one (path 0) */
        static const char *const names[] = {
            "ssl_model.model.feature_extractor.conv_layers.0.0.weight", "ssl_model.model.feature_extractor.conv_layers.1.2.1.weight",
            "ssl_model.model.encoder.pos_conv.0.weight_g", "ssl_model.model.encoder.pos_conv.0.weight_v",
            "ssl_model.model.encoder.pos_conv.0.bias", "ssl_model.model.encoder.layers.0.self_attn.q_proj.weight",
            "ssl_model.model.encoder.layers.1.self_attn.k_proj.weight", "ssl_model.model.encoder.layers.1.fc1.bias",
            "ssl_model.model.encoder.layer_norm.bias", "attention.0.weight" };
        const sdd_params *pc = &p.mc->params;
        const int xa = !strcmp(arch, "XLSR-AASIST-tiny");
        for (size_t k = 0; xa && st == 0 && k < sizeof names / sizeof names[0]; k++) {
            const int ip = sdd_params_find(pc, names[k]);
            CHECK_MSG(ip >= 0, "no parameter %s", names[k]);
            if (ip < 0) continue;
            const sdd_pinfo *pi = &pc->p[ip];
            const double e1 = fx_rel_l2(p.pd + pi->off, pc->grad[0] + pi->off, pi->numel);
            double g2 = 0;
            for (size_t q = 0; q < pi->numel; q++) g2 += (double)pc->grad[0][pi->off + q] * pc->grad[0][pi->off + q];
            CHECK_MSG(g2 > 0 && e1 <= 1e-4, "%s: gradient norm %.3g, CUDA vs CPU %.3g", names[k], sqrt(g2), e1);
        }
        if (xa && st == 0) {
            /* the device Adam's ranges: every trainable tensor inside one, nothing else, fewer ranges than tensors */
            size_t want = 0, covered = 0;
            int ntr = 0, inside = 1;
            for (int i = 0; i < pc->np; i++) {
                if (!pc->p[i].trainable) continue;
                want += pc->p[i].numel;
                ntr++;
                int in = 0;
                for (int r = 0; r < p.od.nr && !in; r++)
                    in = pc->p[i].off >= p.od.roff[r] && pc->p[i].off + pc->p[i].numel <= p.od.roff[r] + p.od.rlen[r];
                inside &= in;
            }
            for (int r = 0; r < p.od.nr; r++) covered += p.od.rlen[r];
            CHECK_MSG(inside && covered == want && p.od.nr >= 1 && p.od.nr < ntr, "device Adam: %d ranges of %zu entries for %d tensors of %zu",
                      p.od.nr, covered, ntr, want);
        }
        printf("%s dual align %s%s dropout step %d: losses cpu %.6f %.6f cuda %.6f %.6f (rel %.2g); per-path gradients "
               "rel L2 %.2g, combined %.2g; Adam update %.2g; weights %.2g%s\n", arch, an, how, st, d.cpu.loss[0], d.cpu.loss[1], d.dev.loss[0],
               d.dev.loss[1], d.loss, d.path_grad, d.grad, d.update, d.weights,
               d.cpu.has_align_stats ? (d.cpu.al.conflict == d.dev.al.conflict ? ", same conflict flag" : ", CONFLICT FLAG DIFFERS") : "");
        CHECK_MSG(d.loss <= 1e-5, "%s step %d: losses differ by %.3g", arch, st, d.loss);
        CHECK_MSG(d.path_grad <= 1e-4 && d.grad <= 1e-4, "%s step %d: gradients differ by %.3g / %.3g", arch, st, d.path_grad, d.grad);
        CHECK_MSG(d.update <= 5e-2 && d.weights <= 1e-5, "%s step %d: update / weights differ by %.3g / %.3g", arch, st, d.update, d.weights);
        if (d.cpu.has_align_stats) {
            CHECK(d.dev.has_align_stats);
            CHECK_NEAR(d.dev.al.cos, d.cpu.al.cos, 1e-3);
        }
        CHECK(dstep_sync(&p, &e) == 0);
    }
    dstep_free(&p);
    sdd_cu_emu_protect(1);
    free(wave);
}

int main(void)
{
    eval_fixture();
    eval_random("XLSR-AASIST-tiny", 3, 3, 9001, 1e-5);
    eval_checkpoint();
    gemm_count();
    layernorm_tall();
    eval_random("XLSR-Conformer-TCM-tiny", 5, 3, 9001, 1e-5);
    eval_random("XLSR-Mamba-tiny", 7, 3, 9001, 1e-5);
    /* 22 s of audio: the first conv's 65,599 output frames pass the grid's
     * 65,535 rows, so im2col's loop over rows wraps (eval: col2im, a
     * training kernel, is not reached) */
    eval_random("XLSR-AASIST-tiny", 4, 1, 328000, 1e-5);
#ifdef __SANITIZE_ADDRESS__
    const int steps = 1;   /* every kernel and host path once: the sanitizer build is slow */
#else
    const int steps = 2;
#endif
    train_compare("XLSR-AASIST-tiny", SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, steps, 1);
    train_compare("XLSR-Conformer-TCM-tiny", SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, steps, 1);
    train_compare("XLSR-Mamba-tiny", SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, steps, 1);
    /* sdd train's default (joint statistics: two backward passes through the
     * checkpoints) and the device keeping its activations (--ssl-recompute off) */
    train_compare("XLSR-AASIST-tiny", SDD_ALIGN_PCGRAD, SDD_BN_JOINT, 1, 1, 1);
    train_compare("XLSR-AASIST-tiny", SDD_ALIGN_PCGRAD, SDD_BN_JOINT, 0, 1, 1);
    return CHECK_DONE("test_cuda_emu_xlsr");
}
