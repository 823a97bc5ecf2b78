/* One data-parallel training step against the same step in one process, run
 * under `mpirun -np N` (tests/mpi/run.sh; N = 1 checks the identity too).
 * AASIST-L with dropout on, the bundled clips, a global dual-path batch of 4
 * utterances: every rank computes the one-process step of the whole batch
 * (the reference), then the distributed step of its loader shard; rank 0
 * checks the applied gradient, both path losses, the conflict statistics and
 * the BatchNorm running statistics against the reference, for align none and
 * pcgrad with per-path statistics and pcgrad with joint statistics; then
 * two micro-batches accumulated (--accum 2) and two BatchNorm recomputation
 * batches (--bn-recompute) of a global batch of 2, the same way. No Adam
 * step here: the comparison is of the gradient, so it stays tight (Adam's
 * first steps turn rounding-level gradients into lr-sized updates).
 * Built with -DSDD_CUDA (test_mpi_step_cu: the CUDA backend, emulated on the
 * CPU by the Makefile's EMU objects, or a real GPU per rank) the same
 * comparison runs on the device: both steps there, the running statistics
 * downloaded after each. */
#include "check.h"
#include "dist/dist.h"
#include "data/loader.h"
#include "train/step.h"
#include "backend/device.h"
#ifdef TEST_CU_EMU
void sdd_cu_emu_protect(int on);
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* a loader of global batch B (cut 4000, no workers): this rank's shard */
static sdd_loader_params shard_params(int B, int rank, int n)
{
    sdd_loader_params p = sdd_loader_default_params();
    p.batch_size = B;
    p.cut = 4000;
    p.workers = 0;
    p.shard_rank = rank;
    p.shard_count = n;
    return p;
}

static sdd_batch *first_batch(sdd_loader **ld, const sdd_dataset *ds, int B, int rank, int n)
{
    const sdd_loader_params p = shard_params(B, rank, n);
    sdd_err e;
    sdd_batch *b = NULL;
    if (sdd_loader_create(ld, ds, &p, &e) || sdd_loader_start_epoch(*ld, 3, &e) || sdd_loader_next(*ld, &b, &e) != 1) {
        fprintf(stderr, "loader: %s\n", e.msg);
        return NULL;
    }
    return b;
}

/* a copy of one loader batch (the loader's is valid until its next call) */
typedef struct { int nb; int64_t cut; float *wave; int *labels; } batch_copy;

/* the first two batches of epoch 3 of a loader of global batch B, this
 * rank's shard of each (rank 0 of 1: the whole batch) */
static int two_batches(const sdd_dataset *ds, int B, int rank, int n, batch_copy out[2])
{
    const sdd_loader_params p = shard_params(B, rank, n);
    sdd_loader *ld = NULL;
    sdd_err e;
    memset(out, 0, 2 * sizeof *out);
    int ok = sdd_loader_create(&ld, ds, &p, &e) == 0 && sdd_loader_start_epoch(ld, 3, &e) == 0;
    for (int k = 0; k < 2 && ok; k++) {
        sdd_batch *b = NULL;
        ok = sdd_loader_next(ld, &b, &e) == 1;
        if (!ok) break;
        out[k].nb = b->nb;
        out[k].cut = b->cut;
        out[k].wave = malloc((size_t)b->nb * b->cut * sizeof(float));
        out[k].labels = malloc((size_t)b->nb * sizeof(int));
        ok = out[k].wave && out[k].labels;
        if (ok) {
            memcpy(out[k].wave, b->wave, (size_t)b->nb * b->cut * sizeof(float));
            memcpy(out[k].labels, b->labels, (size_t)b->nb * sizeof(int));
        }
    }
    if (!ok) fprintf(stderr, "loader: %s\n", e.msg);
    sdd_loader_destroy(ld);
    return ok ? 0 : -1;
}

static double max_abs(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t k = 0; k < n; k++) if (fabs(a[k]) > m) m = fabs(a[k]);
    return m;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t k = 0; k < n; k++) { const double d = fabs((double)a[k] - b[k]); if (!(d <= m)) m = d; }
    return m;
}

int main(int argc, char **argv)
{
    sdd_err e;
    if (sdd_dist_init(&e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    const int rank = sdd_dist_rank(), N = sdd_dist_size(), B = 4;
    const char *list = argc > 1 ? argv[1] : "list.txt";
    sdd_dataset *ds = NULL;
    sdd_dataset_params dp = sdd_dataset_default_params();
    dp.require_labels = 1;
    CHECK_MSG(sdd_dataset_open(&ds, list, "tests/data/audio", &dp, &e) == 0, "%s", e.msg);
    sdd_loader *lf = NULL, *ls = NULL;
    sdd_batch *full = ds ? first_batch(&lf, ds, B, 0, 1) : NULL, *mine = ds ? first_batch(&ls, ds, B, rank, N) : NULL;
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK(full && mine && m);
    if (!full || !mine || !m) { sdd_dist_abort(1); return CHECK_DONE("test_mpi_step"); }
    sdd_model_init_random(m, 7);
    sdd_params *ps = &m->params;
    const size_t n = ps->total;
    CHECK(sdd_params_alloc_grads(ps, 2, &e) == 0);
    sdd_ctx c;
    sdd_ctx_init(&c, ps);
#ifdef SDD_CUDA
    const char *name = "test_mpi_step_cu";
    const int dev = 1;
#ifdef TEST_CU_EMU
    sdd_cu_emu_protect(0);   /* device-pointer hygiene is test_cuda_emu's; here the emulation's page toggling would take minutes */
#endif
    CHECK_MSG(sdd_ctx_set_device(&c, SDD_DEV_CUDA, &e) == 0, "%s", e.msg);
#else
    const char *name = "test_mpi_step";
    const int dev = 0;
#endif
    float *init = malloc(n * 4), *g_ref = malloc(n * 4), *g_dist = malloc(n * 4), *d_ref = malloc(n * 4);
    CHECK(init && g_ref && g_dist && d_ref);
    memcpy(init, ps->data, n * 4);
    const struct { int align, bn; const char *name; } cases[] = {
        { SDD_ALIGN_NONE, SDD_BN_PER_PATH, "none" }, { SDD_ALIGN_PCGRAD, SDD_BN_PER_PATH, "pcgrad" },
        { SDD_ALIGN_PCGRAD, SDD_BN_JOINT, "pcgrad, joint BN" }, { SDD_ALIGN_NONE, SDD_BN_JOINT, "none, joint BN" } };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sdd_step_params p = sdd_step_default_params();
        p.align = cases[k].align;
        p.bn_stats = cases[k].bn;
        sdd_align_state al;
        sdd_step_result r_ref, r_dist;
        /* the reference: one process, the whole global batch */
        memcpy(ps->data, init, n * 4);
        CHECK_MSG(!dev || sdd_params_upload(ps, &e) == 0, "%s", e.msg);
        sdd_align_state_init(&al);
        CHECK_MSG(sdd_train_step(m, &c, NULL, &al, &p, full->wave, full->nb, full->cut, full->labels, 99, g_ref, &r_ref, &e) == 0, "%s", e.msg);
        CHECK_MSG(!dev || sdd_params_download(ps, &e) == 0, "%s", e.msg);
        memcpy(d_ref, ps->data, n * 4);     /* running statistics updated */
        /* the distributed step of this rank's shard */
        memcpy(ps->data, init, n * 4);
        CHECK_MSG(!dev || sdd_params_upload(ps, &e) == 0, "%s", e.msg);
        sdd_align_state_init(&al);
        p.global_rows = B;
        sdd_dist_shard(B, rank, N, &p.shard_lo, &(int){ 0 });
        CHECK_MSG(sdd_train_step(m, &c, NULL, &al, &p, mine->wave, mine->nb, mine->cut, mine->labels, 99, g_dist, &r_dist, &e) == 0, "%s", e.msg);
        CHECK_MSG(!dev || sdd_params_download(ps, &e) == 0, "%s", e.msg);
        if (rank != 0) continue;
        const double gs = max_abs(g_ref, n), gd = max_diff(g_ref, g_dist, n);
        const double rs = max_abs(d_ref, n), rd = max_diff(d_ref, ps->data, n);
        printf("%s: %d ranks, align %s: gradient max |diff| %.3g of max %.3g; running stats max |diff| %.3g; losses %.9g %.9g vs %.9g %.9g\n",
               name, N, cases[k].name, gd, gs, rd, r_ref.loss[0], r_ref.loss[1], r_dist.loss[0], r_dist.loss[1]);
        CHECK_MSG(gs > 0 && gd <= 1e-5 * gs, "align %s: gradient differs by %.3g (max %.3g)", cases[k].name, gd, gs);
        CHECK_MSG(rd <= 1e-6 * rs, "align %s: parameters/running statistics differ by %.3g", cases[k].name, rd);
        CHECK_NEAR(r_dist.loss[0], r_ref.loss[0], 1e-6);
        CHECK_NEAR(r_dist.loss[1], r_ref.loss[1], 1e-6);
        CHECK_NEAR(r_dist.loss_total, r_ref.loss_total, 1e-6);
        if (r_ref.has_align_stats) {
            CHECK(r_dist.has_align_stats);
            CHECK_NEAR(r_dist.al.cos, r_ref.al.cos, 1e-5);
            CHECK(r_dist.al.conflict == r_ref.al.conflict);
        }
    }
    /* --accum 2 (two micro-batches of a global batch of 2 per optimiser step)
     * and --bn-recompute (two batches): one process against the ranks' shards */
    batch_copy fb[2] = { { 0 } }, mb[2] = { { 0 } };
    const int B2 = 2;
    const int have = two_batches(ds, B2, 0, 1, fb) == 0 && two_batches(ds, B2, rank, N, mb) == 0;
    CHECK(have);
    for (int dist = 0; dist < 2 && have; dist++) {
        const batch_copy *bb = dist ? mb : fb;
        sdd_step_params p = sdd_step_default_params();
        if (dist) {
            p.global_rows = B2;
            sdd_dist_shard(B2, rank, N, &p.shard_lo, &(int){ 0 });
        }
        sdd_align_state al;
        sdd_align_state_init(&al);
        sdd_accum a;
        sdd_step_result r;
        memcpy(ps->data, init, n * 4);
        CHECK_MSG(!dev || sdd_params_upload(ps, &e) == 0, "%s", e.msg);
        int rc = sdd_accum_begin(m, &a, 2, &e);
        for (int k = 0; k < 2 && !rc; k++) rc = sdd_accum_micro(m, &c, &p, &a, bb[k].wave, bb[k].nb, bb[k].cut, bb[k].labels, 41 + k, &e);
        if (!rc) rc = sdd_accum_apply(m, NULL, &al, &p, &a, dist ? g_dist : g_ref, &r, &e);
        CHECK_MSG(rc == 0, "accum, %s: %s", dist ? "ranks" : "one process", e.msg);
        /* the running statistics of two recomputation batches */
        sdd_bn_reset_running(m);
        CHECK_MSG(!dev || sdd_params_upload(ps, &e) == 0, "%s", e.msg);
        long seen = 0;
        for (int k = 0; k < 2 && !rc; k++) rc = sdd_bn_recompute_batch(m, &c, &p, bb[k].wave, bb[k].nb, bb[k].cut, 51 + k, &seen, &e);
        CHECK_MSG(rc == 0, "BatchNorm recomputation, %s: %s", dist ? "ranks" : "one process", e.msg);
        CHECK_MSG(!dev || sdd_params_download(ps, &e) == 0, "%s", e.msg);
        CHECK(seen == 2 * 2 * B2);   /* global dual-path rows, on every rank */
        if (!dist) memcpy(d_ref, ps->data, n * 4);
    }
    if (have && rank == 0) {
        const double gs = max_abs(g_ref, n), gd = max_diff(g_ref, g_dist, n);
        const double rs = max_abs(d_ref, n), rd = max_diff(d_ref, ps->data, n);
        printf("%s: %d ranks, --accum 2: gradient max |diff| %.3g of max %.3g; --bn-recompute 2: running stats max |diff| %.3g of max %.3g\n",
               name, N, gd, gs, rd, rs);
        CHECK_MSG(gs > 0 && gd <= 1e-5 * gs, "accum: gradient differs by %.3g (max %.3g)", gd, gs);
        CHECK_MSG(rd <= 1e-6 * rs, "bn recompute: running statistics differ by %.3g", rd);
    }
    for (int k = 0; k < 2; k++) { free(fb[k].wave); free(fb[k].labels); free(mb[k].wave); free(mb[k].labels); }
    free(init); free(g_ref); free(g_dist); free(d_ref);
    sdd_ctx_free(&c);
    sdd_model_free(m);
    sdd_loader_destroy(lf);
    sdd_loader_destroy(ls);
    sdd_dataset_close(ds);
    const int rc = rank == 0 ? CHECK_DONE(name) : 0;
    sdd_dist_finalize();
    return rc;
}
