/* The CUDA backend under CPU emulation (src/backend/cuda_emu.h; this binary
 * links the emulation objects of $(BUILD)/emu/ before libsdd.a): the .cu
 * host code and every kernel's index math run on the CPU, so what a GPU run
 * would compute is checked here against the CPU backend and the PyTorch
 * fixtures. Device memory is inaccessible to host code outside kernels and
 * copies, so a host dereference of a device pointer crashes this test.
 * Training: one DPDA step per regime (paths, alignment, BatchNorm statistics)
 * on the emulated device vs the CPU backend from the same weights and batch:
 * per-path losses, per-path gradients, the combined gradient, the updated
 * weights; then several steps (weights after them); and `sdd train`'s loop
 * whole (sdd_train_run, 2 epochs): snapshot files, the device arena given
 * back before the final phase, the averaged weights uploaded and evaluated,
 * against the same run on the CPU.
 * What it cannot show: timing, races between GPU threads, warp effects. */
#include "check.h"
#include "train_setup.h"
#include "device_logits.h"
#include "landscape_rows.h"
#include "device_step.h"
#include "models/modelio.h"
#include "models/infer.h"
#include "io/safetensors.h"
#include "backend/device.h"
#include "core/rng.h"
#include "train/step.h"
#include "train/landscape.h"
#include "ops/mamba.h"
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static double rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    if (den == 0.0) return sqrt(num) <= 1e-6 ? 0.0 : INFINITY;
    return sqrt(num / den);
}

/* a fixture's random-weight model: eval logits on the emulated device vs the float64 truth and the CPU */
static void eval_fixture(const char *fname)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/fixtures/%s", fname);
    sdd_tensorset fx;
    sdd_err e;
    if (sdd_safetensors_load(path, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return; }
    const char *arch = sdd_tensorset_get_meta(&fx, "model");
    sdd_model *m = arch ? sdd_model_new(arch, &e) : NULL;
    CHECK_MSG(m != NULL, "%s: no model", fname);
    const int rc = m ? fx_set_weights(m, &fx, fname, &e) : -1;
    CHECK_MSG(rc == 0, "%s: %s", fname, e.msg);
    const sdd_ntensor *in = sdd_tensorset_find(&fx, "input"), *want = sdd_tensorset_find(&fx, "logits_eval");
    CHECK(in && want && in->ndim == 2);
    if (!rc && in && want && in->ndim == 2) {
        const int B = (int)in->shape[0];
        const int64_t L = in->shape[1];
        float *emu = malloc((size_t)B * 2 * sizeof(float)), *cpu = malloc((size_t)B * 2 * sizeof(float));
        const int ok = emu && cpu && logits_on(m, 1, (const float *)in->data, B, L, emu) == 0 &&
                       logits_on(m, 0, (const float *)in->data, B, L, cpu) == 0;
        CHECK_MSG(ok, "%s: forward failed", fname);
        if (ok) {
            const double err = rel_l2(emu, (const float *)want->data, (size_t)B * 2), gc = rel_l2(emu, cpu, (size_t)B * 2);
            printf("%s (%s, B=%d, L=%lld): emulated CUDA eval logits vs float64 truth %.3g, vs CPU %.3g\n",
                   fname, arch, B, (long long)L, err, gc);
            CHECK_MSG(err <= 1e-4, "%s: emulated CUDA logits relative L2 error %.3g", fname, err);
            CHECK_MSG(gc <= 1e-4, "%s: emulated CUDA vs CPU logits differ by %.3g", fname, gc);
        }
        free(emu);
        free(cpu);
    }
    sdd_model_free(m);
    sdd_tensorset_free(&fx);
}

static void eval_device_name(void)
{
    char name[256];
    sdd_err e;
    CHECK(sdd_device_cuda_built() == 1);
    CHECK(sdd_device_check(SDD_DEV_CUDA, name, sizeof name, &e) == 0);
    CHECK_STR_CONTAINS(name, "emulation");
}

/* a dual-path batch (nb = 2B: originals then copies) of noise, labels alternating */
static void make_batch(int nb, int64_t L, float *wave, int *labels)
{
    for (int64_t i = 0; i < nb * L; i++) wave[i] = 0.1f * (2.0f * sdd_rng_uniform(21, (uint64_t)i) - 1.0f);
    for (int b = 0; b < nb; b++) labels[b] = (b % (nb / 2)) % 2;
}

/* in the emulation objects (cuda_rt.cu): device memory protection on (1) or off */
void sdd_cu_emu_protect(int on);

typedef struct { const char *arch; int paths, align, bn, dropout, steps, protect, groups; } regime;

/* the regime's steps on the CPU and the emulated device from the same weights */
static void train_compare(const regime *r)
{
    sdd_err e;
    dstep_pair p;
    memset(&p, 0, sizeof p);
    sdd_cu_emu_protect(r->protect);
    const int B = 2, nb = r->paths == SDD_PATHS_DUAL ? 2 * B : B;
    const int64_t L = 8000;
    float *wave = malloc((size_t)nb * L * sizeof(float));
    int *lab = malloc((size_t)nb * sizeof(int));
    int ok = wave && lab && dstep_init(&p, r->arch, 7, &e) == 0;
    CHECK_MSG(ok, "%s setup: %s", r->arch, wave && lab ? e.msg : "out of memory");
    sdd_step_params sp = sdd_step_default_params();
    sp.paths = r->paths;
    sp.align = r->align;
    sp.bn_stats = r->bn;
    sp.no_dropout = !r->dropout;
    /* --align-groups: each group's dots on the device, its coefficients on the host */
    if (ok && r->groups) {
        ok = dstep_set_groups(&p, r->groups, &sp, &e) == 0;
        CHECK_MSG(ok, "%s groups: %s", r->arch, e.msg);
    }
    const char *an = sdd_align_name(r->align);
    for (int st = 0; ok && st < r->steps; st++) {
        make_batch(nb, L, wave, lab);
        for (int64_t i = 0; i < nb * L; i++) wave[i] *= 1.0f + 0.1f * st;
        dstep_diff d;
        ok = dstep_run(&p, &sp, wave, nb, L, lab, 5 + st, 1, &d, &e) == 0;
        CHECK_MSG(ok, "%s align %s step %d: %s", r->arch, an, st, e.msg);
        if (!ok) break;
        /* Adam's first steps are about lr x sign(g): entries whose gradient is
         * at the float noise level can flip, so the update is compared, as a
         * vector, with a tolerance of a few percent; the weights much tighter */
        printf("%s paths %d align %s bn %s%s step %d: loss cpu %.6f cuda %.6f (rel %.2g); combined gradient rel L2 %.2g, per-path %.2g; "
               "Adam update %.2g; weights %.2g%s\n", r->arch, r->paths, an, r->bn == SDD_BN_JOINT ? "joint" : "per-path",
               r->dropout ? " dropout" : "", st, d.cpu.loss_total, d.dev.loss_total, d.loss, d.grad, d.path_grad, d.update, d.weights,
               d.cpu.has_align_stats ? (d.cpu.al.conflict == d.dev.al.conflict ? ", same conflict flag" : ", CONFLICT FLAG DIFFERS") : "");
        CHECK_MSG(d.loss <= 1e-4, "%s %s step %d: loss differs by %.3g", r->arch, an, st, d.loss);
        CHECK_MSG(d.grad <= 2e-3, "%s %s step %d: combined gradient differs by %.3g", r->arch, an, st, d.grad);
        CHECK_MSG(d.path_grad <= 2e-3, "%s %s step %d: per-path gradients differ by %.3g", r->arch, an, st, d.path_grad);
        CHECK_MSG(d.update <= 5e-2, "%s %s step %d: Adam updates differ by %.3g", r->arch, an, st, d.update);
        CHECK_MSG(d.weights <= 1e-4, "%s %s step %d: weights differ by %.3g", r->arch, an, st, d.weights);
        if (r->groups) {
            printf("  %s groups: %d of %d in conflict (cpu), %d (cuda)\n", sdd_align_groups_name(r->groups), d.cpu.group_conflicts,
                   sp.ngroups, d.dev.group_conflicts);
            CHECK(d.cpu.group_conflicts > 0 && d.cpu.group_conflicts < sp.ngroups);
            /* per layer the counts agree; per tensor they need not: a conv bias
             * feeding BatchNorm has a zero gradient up to rounding, so the sign
             * of its dot product is noise (36 against 46 of 175 here) */
            if (r->groups == SDD_ALIGN_GROUPS_BLOCK) CHECK(d.cpu.group_conflicts == d.dev.group_conflicts);
            double worst = 0.0;   /* GradVac's per-group targets, updated from the device's dots and the CPU's */
            for (int i = 0; i < 4 * sp.ngroups; i++) worst = fmax(worst, fabs(p.ac.rho_g[i] - p.ad.rho_g[i]));
            CHECK_MSG(worst < 1e-5, "%s groups: GradVac targets differ by %.3g", r->arch, worst);
        }
        if (d.cpu.has_align_stats) {
            CHECK(d.dev.has_align_stats);
            CHECK_NEAR(d.dev.al.cos, d.cpu.al.cos, 2e-3);
            if (r->align != SDD_ALIGN_NONE) CHECK_NEAR(d.dev.al.norm_out / fmax(d.cpu.al.norm_out, 1e-30), 1.0, 2e-3);
        }
        CHECK(dstep_sync(&p, &e) == 0);
    }
    dstep_free(&p);
    sdd_cu_emu_protect(1);
    free(wave); free(lab);
}

/* sdd landscape on (emulated) CUDA: the same grid as on the CPU (weights
 * uploaded per grid point, forward and loss on the device) */
static void landscape_compare(void)
{
    char dir[128], model[256], list[256], o1[256], o2[256];
    snprintf(dir, sizeof dir, "/tmp/sdd-test-cuemu-land-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(model, sizeof model, "%s/m.safetensors", dir);
    snprintf(list, sizeof list, "%s/list.txt", dir);
    snprintf(o1, sizeof o1, "%s/cpu.tsv", dir);
    snprintf(o2, sizeof o2, "%s/cuda.tsv", dir);
    sdd_err e;
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK(m != NULL);
    if (!m) return;
    sdd_model_init_random(m, 9);
    CHECK_MSG(sdd_model_save(m, model, &e) == 0, "%s", e.msg);
    sdd_model_free(m);
    FILE *f = fopen(list, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "real_01.flac bonafide\ntts_01.flac spoof\nreal_02.flac bonafide\ntts_02.flac spoof\n");
    fclose(f);
    sdd_landscape_params p = sdd_landscape_default_params();
    p.model = model; p.list = list; p.audio_dir = "tests/data/audio";
    p.steps = 3; p.range = 0.5; p.cut = 4000; p.batch = 4; p.quiet = 1;
    CHECK_MSG(sdd_landscape_run(&p, o1, &e) == 0, "%s", e.msg);
    p.device = SDD_DEV_CUDA;
    CHECK_MSG(sdd_landscape_run(&p, o2, &e) == 0, "landscape on CUDA: %s", e.msg);
    double a[16][4], b[16][4];
    const int na = landscape_rows(o1, a, 16), nb = landscape_rows(o2, b, 16);
    CHECK(na == 9 && nb == 9);
    double worst = 0.0;
    for (int k = 0; k < 9 && na == nb; k++) {
        CHECK(a[k][0] == b[k][0] && a[k][1] == b[k][1]);
        for (int j = 2; j < 4; j++) worst = fmax(worst, fabs(a[k][j] - b[k][j]) / fmax(1e-6, fabs(a[k][j])));
    }
    printf("landscape (AASIST-L, 3 x 3 grid, both inputs): worst relative loss difference CUDA vs CPU %.2g\n", worst);
    CHECK_MSG(worst <= 1e-5, "landscape losses differ by %.3g", worst);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
}

/* an op with no CUDA kernel says so on a device context instead of running
 * its host loop over device memory */
static void op_without_kernel(void)
{
    sdd_params ps = { 0 };
    sdd_ctx c;
    sdd_err e;
    sdd_ctx_init(&c, &ps);
    CHECK(sdd_ctx_set_device(&c, SDD_DEV_CUDA, &e) == 0);
    sdd_ctx_begin(&c, 1, 0, 0);
    const int64_t n[2] = { 2, 3 };
    sdd_tensor *x = sdd_tensor_new(&c, 2, n);
    CHECK(x != NULL);
    CHECK(sdd_softplus(&c, x) == NULL && c.failed);
    CHECK_STR_CONTAINS(c.err.msg, "CUDA backend: softplus is not implemented yet");
    sdd_ctx_free(&c);
}

/* whole training runs on the emulated device and the CPU from the same seed */
static void train_run_compare(void)
{
    char dir[256], list[300], out[2][300], path[2][400];
    snprintf(dir, sizeof dir, "/tmp/sdd-test-cuda-emu-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(list, sizeof list, "%s/list.txt", dir);
    CHECK(ts_write_list(list) == 0);
    for (int d = 0; d < 2; d++) {
        snprintf(out[d], sizeof out[d], "%s/%s", dir, d ? "cuda" : "cpu");
        sdd_train_config c = ts_config(list, out[d], 2);
        c.device = d ? SDD_DEV_CUDA : SDD_DEV_CPU;
        sdd_err e;
        CHECK_MSG(sdd_train_run(&c, &e) == 0, "sdd_train_run on the %s: %s", d ? "emulated device" : "CPU", e.msg);
        snprintf(path[d], sizeof path[d], "%s/model.safetensors", out[d]);
    }
    char snap[400];
    snprintf(snap, sizeof snap, "%s/best-epoch001.safetensors", out[1]);
    CHECK_MSG(access(snap, F_OK) == 0, "no snapshot file from the emulated device's run");
    sdd_err e;
    sdd_model *a = sdd_model_load(path[0], NULL, &e), *b = sdd_model_load(path[1], NULL, &e);
    CHECK_MSG(a && b, "final models: %s", e.msg);
    if (a && b) {
        double num = 0, den = 0;
        for (size_t k = 0; k < a->params.total; k++) {
            const double x = a->params.data[k], y = b->params.data[k];
            num += (x - y) * (x - y);
            den += x * x;
        }
        const double rel = sqrt(num / den);
        printf("sdd_train_run, 2 epochs: final model, emulated device vs CPU: rel L2 %.2g; thresholds %.6g / %.6g\n", rel, a->threshold, b->threshold);
        CHECK_MSG(rel <= 1e-3 && b->has_threshold, "final models differ by %.3g", rel);
    }
    sdd_model_free(a);
    sdd_model_free(b);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    eval_device_name();
    op_without_kernel();
    dstep_check_dots();
    eval_fixture("aasistl_rand.safetensors");
    eval_fixture("aasist_rand.safetensors");
    const regime rs[] = {
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 0, 2, 1, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_GRADVAC, SDD_BN_PER_PATH, 0, 2, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_CAGRAD, SDD_BN_PER_PATH, 0, 1, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_NONE, SDD_BN_PER_PATH, 0, 1, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_NONE, SDD_BN_JOINT, 0, 1, 0, 0 },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_JOINT, 0, 1, 0, 0 },
        { "AASIST-L", SDD_PATHS_AUG, SDD_ALIGN_NONE, SDD_BN_PER_PATH, 1, 1, 0, 0 },
        { "AASIST", SDD_PATHS_DUAL, SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, 1, 1, 0, 0 },
        /* --align-groups: per-layer GradVac (targets per group over two steps), per-tensor CAGrad */
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_GRADVAC, SDD_BN_PER_PATH, 0, 2, 1, SDD_ALIGN_GROUPS_BLOCK },
        { "AASIST-L", SDD_PATHS_DUAL, SDD_ALIGN_CAGRAD, SDD_BN_PER_PATH, 0, 1, 0, SDD_ALIGN_GROUPS_TENSOR },
    };
#ifdef __SANITIZE_ADDRESS__
    /* under the sanitizers (make test-asan) every kernel and host path once,
     * not every regime: the emulation is slow there and CI has a time budget */
    const size_t sel[] = { 0, 4, 6, 7 };
    for (size_t i = 0; i < sizeof sel / sizeof sel[0]; i++) train_compare(&rs[sel[i]]);
    const int full = 0;
#else
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) train_compare(&rs[i]);
    const int full = 1;
#endif
    /* the other convolution paths (environment switches, read at every call):
     * im2col + cuBLAS for forward and input gradient, the direct weight gradient */
    setenv("SDD_CUDA_CONV", "im2col", 1);
    printf("SDD_CUDA_CONV=im2col:\n");
    if (full) train_compare(&rs[0]);
    train_compare(&rs[7]);
    unsetenv("SDD_CUDA_CONV");
    setenv("SDD_CUDA_WGRAD", "direct", 1);
    printf("SDD_CUDA_WGRAD=direct:\n");
    if (full) train_compare(&rs[0]);
    train_compare(&rs[7]);
    unsetenv("SDD_CUDA_WGRAD");
    if (full) landscape_compare();
    if (full) train_run_compare();   /* not under the sanitizers: CI's time budget */
    return CHECK_DONE("test_cuda_emu");
}
