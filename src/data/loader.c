/* Owns the batch loader (see loader.h): the per-epoch shuffle, batch
 * building from the dataset (originals, RawBoost copies, both), and the
 * prefetch ring filled by pthread workers. Synchronisation: one mutex; batch
 * k lives in ring slot k % R and may be claimed by a worker only once the
 * consumer has released batch k - R, so a READY slot always holds the batch
 * the consumer expects next. Starting an epoch waits for in-flight builds
 * and discards what the ring holds. */
#include "data/loader.h"
#include "core/rng.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOT_FREE = 0, SLOT_READY = 1 };

typedef struct {
    sdd_batch b;
    int state;
    int rc;
    sdd_err err;
} slot;

struct sdd_loader {
    const sdd_dataset *ds;
    sdd_loader_params p;
    int n;              /* dataset items */
    int rows_max;       /* B or 2B */
    int *order;
    int64_t nbatches;
    int R;
    slot *ring;
    pthread_t *th;
    int nth;

    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_ready;
    int active, epoch, stop, busy, held;
    int64_t next_claim, next_give, released;
    sdd_loader_stats st;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sdd_loader_params sdd_loader_default_params(void)
{
    sdd_loader_params p;
    memset(&p, 0, sizeof p);
    p.batch_size = 5;
    p.cut = 66800;
    p.crop_mode = SDD_CUT_FIRST;
    p.mode = SDD_LOADER_DUAL;
    p.shuffle = 1;
    p.drop_last = 1;
    p.seed = 1234;
    p.rb_algo = 4;
    sdd_rawboost_default_params(&p.rb);
    p.workers = 2;
    p.prefetch = 0;
    return p;
}

/* Builds batch k of epoch `epoch` into s (s->rc, s->err set). */
static void build(sdd_loader *ld, int64_t k, int epoch, slot *s)
{
    const sdd_loader_params *p = &ld->p;
    const int B = p->batch_size;
    int64_t start = k * B;
    int cnt = (int)(ld->n - start < B ? ld->n - start : B);
    if (p->shard_count > 1) {
        /* drop_last is required, so cnt == B here */
        const int lo = (int)((int64_t)B * p->shard_rank / p->shard_count);
        const int hi = (int)((int64_t)B * (p->shard_rank + 1) / p->shard_count);
        start += lo;
        cnt = hi - lo;
    }
    sdd_batch *b = &s->b;
    b->epoch = epoch;
    b->batch = k;
    b->cut = p->cut;
    b->n_orig = p->mode == SDD_LOADER_AUG ? 0 : cnt;
    b->nb = p->mode == SDD_LOADER_DUAL ? 2 * cnt : cnt;
    s->rc = 0;
    s->err.msg[0] = 0;
    for (int r = 0; r < cnt; r++) {
        const int u = ld->order[start + r];
        const int lab = sdd_dataset_label(ld->ds, u);
        const uint64_t kc = sdd_rng_key(p->seed, (uint64_t)epoch, (uint64_t)u, SDD_PURPOSE_CROP);
        const uint64_t kr = sdd_rng_key(p->seed, (uint64_t)epoch, (uint64_t)u, SDD_PURPOSE_RAWB);
        const int row = p->mode == SDD_LOADER_DUAL ? cnt + r : r;   /* the augmented row */
        float *wo = b->wave + (size_t)r * (size_t)p->cut, *wa = b->wave + (size_t)row * (size_t)p->cut;
        if (p->mode != SDD_LOADER_AUG) {
            b->labels[r] = lab;
            b->index[r] = u;
            b->aug[r] = 0;
        }
        if (p->mode != SDD_LOADER_ORIG) {
            b->labels[row] = lab;
            b->index[row] = u;
            b->aug[row] = 1;
        }
        /* algorithm 0 is the plain cut; e gets the reason when the file cannot
         * be read (streamed sets, where the dual read decodes it once) */
        const int rc = p->mode == SDD_LOADER_DUAL ? sdd_dataset_get_dual(ld->ds, u, p->cut, p->crop_mode, kc, p->rb_algo, &p->rb, kr, wo, wa, &s->err)
                       : p->mode == SDD_LOADER_ORIG ? sdd_dataset_get_rawboost(ld->ds, u, p->cut, p->crop_mode, kc, 0, NULL, 0, wo, &s->err)
                                                    : sdd_dataset_get_rawboost(ld->ds, u, p->cut, p->crop_mode, kc, p->rb_algo, &p->rb, kr, wa, &s->err);
        if (rc) {
            s->rc = -1;
            return;
        }
    }
}

static void *worker(void *arg)
{
    sdd_loader *ld = arg;
    omp_set_num_threads(1);
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->stop && !(ld->active && ld->next_claim < ld->nbatches &&
                              ld->next_claim < ld->released + ld->R))
            pthread_cond_wait(&ld->cv_work, &ld->mu);
        if (ld->stop) break;
        const int64_t k = ld->next_claim++;
        slot *s = &ld->ring[k % ld->R];
        const int epoch = ld->epoch;
        ld->busy++;
        pthread_mutex_unlock(&ld->mu);
        const double t0 = now_s();
        build(ld, k, epoch, s);
        const double dt = now_s() - t0;
        pthread_mutex_lock(&ld->mu);
        ld->busy--;
        ld->st.build_s += dt;
        s->state = SLOT_READY;
        pthread_cond_broadcast(&ld->cv_ready);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static void free_ring(sdd_loader *ld)
{
    if (!ld->ring) return;
    for (int r = 0; r < ld->R; r++) {
        free(ld->ring[r].b.wave);
        free(ld->ring[r].b.labels);
        free(ld->ring[r].b.index);
        free(ld->ring[r].b.aug);
    }
    free(ld->ring);
    ld->ring = NULL;
}

void sdd_loader_destroy(sdd_loader *ld)
{
    if (!ld) return;
    if (ld->th) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = 1;
        pthread_cond_broadcast(&ld->cv_work);
        pthread_mutex_unlock(&ld->mu);
        for (int t = 0; t < ld->nth; t++) pthread_join(ld->th[t], NULL);
        free(ld->th);
    }
    pthread_cond_destroy(&ld->cv_work);
    pthread_cond_destroy(&ld->cv_ready);
    pthread_mutex_destroy(&ld->mu);
    free_ring(ld);
    free(ld->order);
    free(ld);
}

int sdd_loader_create(sdd_loader **out, const sdd_dataset *ds, const sdd_loader_params *params, sdd_err *e)
{
    if (!out) return sdd_err_set(e, "loader: NULL output");
    *out = NULL;
    if (!ds || sdd_dataset_count(ds) < 1) return sdd_err_set(e, "loader: empty dataset");
    const sdd_loader_params p = params ? *params : sdd_loader_default_params();
    if (p.batch_size < 1 || p.batch_size > (1 << 20))
        return sdd_err_set(e, "loader: batch size %d out of range (1..%d)", p.batch_size, 1 << 20);
    if (p.cut < 1) return sdd_err_set(e, "loader: cut %lld must be at least 1", (long long)p.cut);
    if (p.crop_mode != SDD_CUT_FIRST && p.crop_mode != SDD_CUT_RANDOM)
        return sdd_err_set(e, "loader: unknown crop mode %d", p.crop_mode);
    if (p.mode != SDD_LOADER_ORIG && p.mode != SDD_LOADER_AUG && p.mode != SDD_LOADER_DUAL)
        return sdd_err_set(e, "loader: unknown mode %d", p.mode);
    if (p.workers < 0 || p.workers > 256) return sdd_err_set(e, "loader: workers %d out of range (0..256)", p.workers);
    if (p.prefetch < 0 || p.prefetch > 1024) return sdd_err_set(e, "loader: prefetch %d out of range (0..1024)", p.prefetch);
    if (p.shard_count > 1 && (p.shard_count > p.batch_size || p.shard_rank < 0 || p.shard_rank >= p.shard_count || !p.drop_last))
        return sdd_err_set(e, "loader: shard %d of %d needs 0 <= rank < count <= batch size %d and drop_last",
                           p.shard_rank, p.shard_count, p.batch_size);
    if (p.mode != SDD_LOADER_ORIG) {
        if (p.rb_algo < 0 || p.rb_algo >= SDD_RAWBOOST_NALGO)
            return sdd_err_set(e, "loader: unknown RawBoost algorithm %d (0..8)", p.rb_algo);
        if (sdd_rawboost_check_params(&p.rb, e)) return -1;
    }
    const int rows = p.mode == SDD_LOADER_DUAL ? 2 * p.batch_size : p.batch_size;
    if ((double)rows * (double)p.cut > 1e12)
        return sdd_err_set(e, "loader: batch of %d x %lld samples is too large", rows, (long long)p.cut);

    sdd_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return sdd_err_set(e, "loader: out of memory");
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv_work, NULL);
    pthread_cond_init(&ld->cv_ready, NULL);
    ld->ds = ds;
    ld->p = p;
    ld->n = sdd_dataset_count(ds);
    ld->rows_max = rows;
    ld->held = -1;
    ld->R = p.prefetch > 0 ? p.prefetch : (2 * p.workers > 2 ? 2 * p.workers : 2);
    ld->order = malloc((size_t)ld->n * sizeof *ld->order);
    ld->ring = calloc((size_t)ld->R, sizeof *ld->ring);
    int ok = ld->order && ld->ring;
    for (int r = 0; ok && r < ld->R; r++) {
        sdd_batch *b = &ld->ring[r].b;
        b->wave = malloc((size_t)rows * (size_t)p.cut * sizeof *b->wave);
        b->labels = malloc((size_t)rows * sizeof *b->labels);
        b->index = malloc((size_t)rows * sizeof *b->index);
        b->aug = malloc((size_t)rows);
        ok = b->wave && b->labels && b->index && b->aug;
    }
    if (!ok) {
        sdd_err_set(e, "loader: out of memory for %d batch buffers of %d x %lld samples",
                    ld->R, rows, (long long)p.cut);
        sdd_loader_destroy(ld);
        return -1;
    }
    if (p.workers > 0) {
        ld->th = calloc((size_t)p.workers, sizeof *ld->th);
        if (!ld->th) { sdd_loader_destroy(ld); return sdd_err_set(e, "loader: out of memory"); }
        for (int t = 0; t < p.workers; t++) {
            if (pthread_create(&ld->th[t], NULL, worker, ld)) {
                sdd_loader_destroy(ld);
                return sdd_err_set(e, "loader: cannot start worker thread %d of %d", t + 1, p.workers);
            }
            ld->nth = t + 1;
        }
    }
    *out = ld;
    return 0;
}

int sdd_loader_start_epoch(sdd_loader *ld, int epoch, sdd_err *e)
{
    if (!ld) return sdd_err_set(e, "loader: NULL loader");
    if (epoch < 0) return sdd_err_set(e, "loader: epoch %d must be >= 0", epoch);
    pthread_mutex_lock(&ld->mu);
    ld->active = 0;
    while (ld->busy > 0) pthread_cond_wait(&ld->cv_ready, &ld->mu);
    for (int r = 0; r < ld->R; r++) ld->ring[r].state = SLOT_FREE;
    ld->held = -1;
    for (int i = 0; i < ld->n; i++) ld->order[i] = i;
    if (ld->p.shuffle) {
        const uint64_t key = sdd_rng_key(ld->p.seed, (uint64_t)epoch, 0, SDD_PURPOSE_SHUF);
        for (int i = ld->n - 1; i > 0; i--) {
            int j = (int)(sdd_rng_uniform_d(key, (uint64_t)i) * (double)(i + 1));
            if (j > i) j = i;
            int t = ld->order[i]; ld->order[i] = ld->order[j]; ld->order[j] = t;
        }
    }
    const int64_t B = ld->p.batch_size;
    ld->nbatches = ld->p.drop_last ? ld->n / B : (ld->n + B - 1) / B;
    ld->epoch = epoch;
    ld->next_claim = ld->next_give = ld->released = 0;
    ld->active = 1;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    return 0;
}

int64_t sdd_loader_batches_per_epoch(const sdd_loader *ld)
{
    if (!ld) return 0;
    const int64_t B = ld->p.batch_size;
    return ld->p.drop_last ? ld->n / B : (ld->n + B - 1) / B;
}

const int *sdd_loader_order(const sdd_loader *ld) { return ld ? ld->order : NULL; }

int sdd_loader_next(sdd_loader *ld, sdd_batch **b, sdd_err *e)
{
    if (b) *b = NULL;
    if (!ld || !b) return sdd_err_set(e, "loader: NULL argument");
    pthread_mutex_lock(&ld->mu);
    if (!ld->active) {
        pthread_mutex_unlock(&ld->mu);
        return sdd_err_set(e, "loader: no epoch started (call sdd_loader_start_epoch first)");
    }
    if (ld->held >= 0) {
        ld->ring[ld->held].state = SLOT_FREE;
        ld->held = -1;
        ld->released++;
        pthread_cond_broadcast(&ld->cv_work);
    }
    if (ld->next_give >= ld->nbatches) {
        pthread_mutex_unlock(&ld->mu);
        return 0;
    }
    const int64_t k = ld->next_give;
    slot *s = &ld->ring[k % ld->R];
    if (ld->nth == 0) {
        const int epoch = ld->epoch;
        pthread_mutex_unlock(&ld->mu);
        const double t0 = now_s();
        build(ld, k, epoch, s);
        const double dt = now_s() - t0;
        pthread_mutex_lock(&ld->mu);
        ld->st.build_s += dt;
        ld->st.wait_s += dt;
        ld->st.waits++;
        s->state = SLOT_READY;
    } else if (s->state != SLOT_READY) {
        const double t0 = now_s();
        while (s->state != SLOT_READY) pthread_cond_wait(&ld->cv_ready, &ld->mu);
        ld->st.wait_s += now_s() - t0;
        ld->st.waits++;
    }
    ld->next_give++;
    ld->held = (int)(k % ld->R);
    ld->st.batches++;
    const int rc = s->rc;
    if (rc) sdd_err_set(e, "%s", s->err.msg);
    pthread_mutex_unlock(&ld->mu);
    if (rc) return -1;
    *b = &s->b;
    return 1;
}

void sdd_loader_get_stats(const sdd_loader *ld, sdd_loader_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!ld) return;
    sdd_loader *m = (sdd_loader *)ld;
    pthread_mutex_lock(&m->mu);
    *s = m->st;
    pthread_mutex_unlock(&m->mu);
}

void sdd_loader_reset_stats(sdd_loader *ld)
{
    if (!ld) return;
    pthread_mutex_lock(&ld->mu);
    memset(&ld->st, 0, sizeof ld->st);
    pthread_mutex_unlock(&ld->mu);
}
