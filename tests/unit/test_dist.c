/* The data-parallel pieces in the default (one-rank) build: shards of a
 * global batch partition it; loader shards are exactly the rows of the whole
 * batch (both paths, same crop and RawBoost draws); bad shard settings are
 * refused; and the distributed step with one rank (hooks on, sums the
 * identity, weight-sum seeds rescaled after the backward pass) gives the
 * plain step's gradient to float rounding and its running statistics bit for bit. The N-rank
 * equivalence runs under mpirun in tests/mpi. */
#include "check.h"
#include "dist/dist.h"
#include "data/loader.h"
#include "train/step.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sdd_batch *batch_of(sdd_loader **ld, const sdd_dataset *ds, int B, int r, int n, sdd_err *e)
{
    sdd_loader_params p = sdd_loader_default_params();
    p.batch_size = B;
    p.cut = 3000;
    p.crop_mode = SDD_CUT_RANDOM;
    p.workers = 0;
    p.shard_rank = r;
    p.shard_count = n;
    sdd_batch *b = NULL;
    if (sdd_loader_create(ld, ds, &p, e) || sdd_loader_start_epoch(*ld, 1, e) || sdd_loader_next(*ld, &b, e) != 1) return NULL;
    return b;
}

int main(void)
{
    sdd_err e;
    CHECK(sdd_dist_init(&e) == 0);
    CHECK(sdd_dist_size() == 1 && sdd_dist_rank() == 0);
    /* shards partition every batch, sizes within one of each other */
    for (int B = 1; B <= 12; B++)
        for (int n = 1; n <= B; n++) {
            int prev = 0, ok = 1, mn = B, mx = 0;
            for (int r = 0; r < n; r++) {
                int lo, hi;
                sdd_dist_shard(B, r, n, &lo, &hi);
                ok &= lo == prev && hi > lo;
                if (hi - lo < mn) mn = hi - lo;
                if (hi - lo > mx) mx = hi - lo;
                prev = hi;
            }
            CHECK_MSG(ok && prev == B && mx - mn <= 1, "B %d, %d ranks", B, n);
        }
    char list[128];
    snprintf(list, sizeof list, "/tmp/sdd-test-dist-%d.txt", (int)getpid());
    FILE *f = fopen(list, "w");
    fprintf(f, "real_01.flac bonafide\ntts_01.flac spoof\nreal_02.flac bonafide\ntts_02.flac spoof\nreal_03.flac bonafide\nreal_04.flac bonafide\n");
    fclose(f);
    sdd_dataset *ds = NULL;
    sdd_dataset_params dp = sdd_dataset_default_params();
    dp.require_labels = 1;
    CHECK_MSG(sdd_dataset_open(&ds, list, "tests/data/audio", &dp, &e) == 0, "%s", e.msg);
    /* loader shards: rows [lo, hi) of each path of the whole batch, bit for bit */
    const int B = 5, N = 2;
    sdd_loader *lf = NULL, *ls[2] = { NULL, NULL };
    sdd_batch *full = batch_of(&lf, ds, B, 0, 1, &e);
    CHECK_MSG(full != NULL, "%s", e.msg);
    for (int r = 0; r < N && full; r++) {
        sdd_batch *b = batch_of(&ls[r], ds, B, r, N, &e);
        CHECK_MSG(b != NULL, "%s", e.msg);
        if (!b) continue;
        int lo, hi;
        sdd_dist_shard(B, r, N, &lo, &hi);
        const int k = hi - lo;
        CHECK(b->nb == 2 * k && b->n_orig == k);
        for (int path = 0; path < 2; path++)
            for (int i = 0; i < k; i++) {
                const int fr = path * B + lo + i, sr = path * k + i;
                CHECK(b->index[sr] == full->index[fr] && b->labels[sr] == full->labels[fr] && b->aug[sr] == full->aug[fr]);
                CHECK(memcmp(b->wave + (size_t)sr * 3000, full->wave + (size_t)fr * 3000, 3000 * sizeof(float)) == 0);
            }
    }
    sdd_loader_destroy(lf);
    for (int r = 0; r < N; r++) sdd_loader_destroy(ls[r]);
    /* bad shard settings */
    sdd_loader_params p = sdd_loader_default_params();
    sdd_loader *bad = NULL;
    p.batch_size = 2; p.shard_count = 3; p.shard_rank = 0;
    CHECK(sdd_loader_create(&bad, ds, &p, &e) == -1 && bad == NULL);
    CHECK_STR_CONTAINS(e.msg, "shard 0 of 3");
    p.shard_count = 2; p.shard_rank = 2;
    CHECK(sdd_loader_create(&bad, ds, &p, &e) == -1);
    p.shard_rank = 1; p.drop_last = 0;
    CHECK(sdd_loader_create(&bad, ds, &p, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "drop_last");
    /* one-rank distributed step == the plain step (dropout on, per-path and joint BN) */
    sdd_loader *l1 = NULL;
    sdd_batch *b = batch_of(&l1, ds, 2, 0, 1, &e);
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK(b && m);
    if (b && m) {
        sdd_model_init_random(m, 5);
        sdd_params *ps = &m->params;
        const size_t n = ps->total;
        CHECK(sdd_params_alloc_grads(ps, 2, &e) == 0);
        CHECK(ps->grad[1] - ps->grad[0] >= (ptrdiff_t)n);
        sdd_ctx c;
        sdd_ctx_init(&c, ps);
        float *init = malloc(n * 4), *g0 = malloc(n * 4), *g1 = malloc(n * 4), *d0 = malloc(n * 4);
        memcpy(init, ps->data, n * 4);
        for (int bn = 0; bn < 2; bn++) {
            sdd_step_params sp = sdd_step_default_params();
            sp.bn_stats = bn ? SDD_BN_JOINT : SDD_BN_PER_PATH;
            sdd_align_state al;
            sdd_step_result r0, r1;
            memcpy(ps->data, init, n * 4);
            sdd_align_state_init(&al);
            CHECK(sdd_train_step(m, &c, NULL, &al, &sp, b->wave, b->nb, b->cut, b->labels, 3, g0, &r0, &e) == 0);
            memcpy(d0, ps->data, n * 4);
            memcpy(ps->data, init, n * 4);
            sdd_align_state_init(&al);
            sp.global_rows = 2;
            sp.shard_lo = 0;
            CHECK(sdd_train_step(m, &c, NULL, &al, &sp, b->wave, b->nb, b->cut, b->labels, 3, g1, &r1, &e) == 0);
            double gm = 0.0, gd = 0.0;
            for (size_t k = 0; k < n; k++) {
                if (fabs(g0[k]) > gm) gm = fabs(g0[k]);
                if (fabs((double)g0[k] - g1[k]) > gd) gd = fabs((double)g0[k] - g1[k]);
            }
            CHECK_MSG(gm > 0 && gd <= 1e-6 * gm, "bn mode %d: one-rank distributed gradient differs by %.3g (max %.3g)", bn, gd, gm);
            CHECK_MSG(memcmp(d0, ps->data, n * 4) == 0, "bn mode %d: running statistics differ", bn);
            CHECK_NEAR(r1.loss[0], r0.loss[0], 1e-6 * (1 + r0.loss[0]));
            CHECK_NEAR(r1.loss[1], r0.loss[1], 1e-6 * (1 + r0.loss[1]));
        }
        free(init); free(g0); free(g1); free(d0);
        sdd_ctx_free(&c);
    }
    sdd_model_free(m);
    sdd_loader_destroy(l1);
    sdd_dataset_close(ds);
    unlink(list);
    sdd_dist_finalize();
    return CHECK_DONE("test_dist");
}
