/* Owns the model timing behind `sdd bench` and bench_sdd (see bench.h). */
#include "train/bench.h"
#include "backend/blas.h"
#include "backend/device.h"
#include "backend/qgemm.h"
#include "core/rng.h"
#include "models/infer.h"
#include "models/model.h"
#include "models/modelio.h"
#include "ops/ops.h"
#include "ops/seq.h"
#include "train/step.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *const mode_names[SDD_BENCH_NMODES] = { "fwd", "fwdbwd", "dual", "infer1", "utt", "step-none",
                                                          "step-pcgrad", "step-joint-pcgrad" };

sdd_bench_params sdd_bench_default_params(void)
{
    sdd_bench_params p;
    memset(&p, 0, sizeof p);
    p.mode = SDD_BENCH_FWD;
    p.arch = "AASIST";
    p.batch = 10;
    p.len = 64600;
    p.reps = 3;
    p.device = SDD_DEV_CPU;
    p.recompute = 1;
    return p;
}

int sdd_bench_mode_parse(const char *s, sdd_bench_mode *mode)
{
    for (int i = 0; i < SDD_BENCH_NMODES; i++)
        if (s && !strcmp(s, mode_names[i])) { *mode = (sdd_bench_mode)i; return 0; }
    return -1;
}

const char *sdd_bench_mode_name(sdd_bench_mode mode)
{
    return mode >= 0 && mode < SDD_BENCH_NMODES ? mode_names[mode] : "?";
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* CPU seconds (user + system) of the process so far */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* the utt mode's items: row b of the batch, copied (the pool frees what it is given) */
typedef struct { const float *x; int64_t L; } bench_items;

static int bench_item(void *arg, int b, float **x, int64_t *n, sdd_err *e)
{
    const bench_items *bi = arg;
    if (!(*x = malloc((size_t)bi->L * sizeof(float)))) return sdd_err_set(e, "out of memory");
    memcpy(*x, bi->x + (size_t)b * bi->L, (size_t)bi->L * sizeof(float));
    *n = bi->L;
    return 0;
}

/* one forward (+ backward) of the fwd / fwdbwd / dual / infer1 modes on the CPU */
static int run_plain(sdd_model *m, sdd_ctx *c, sdd_bench_mode mode, const float *x, int B, int64_t L, const int *labels, sdd_err *e)
{
    const int dual = mode == SDD_BENCH_DUAL, train = dual || mode == SDD_BENCH_FWDBWD, one = mode == SDD_BENCH_INFER1;
    const float cw[2] = { 0.1f, 0.9f };
    const int bs = one ? 1 : B;
    for (int k = 0; k < (one ? B : 1); k++) {
        sdd_ctx_begin(c, bs, train, train);
        if (dual) {
            int ends[2] = { B / 2, B };
            c->bn_per_seg = 1;
            sdd_ctx_set_segments(c, 2, ends, NULL);
        }
        int64_t shp[2] = { bs, L };
        sdd_prof_start(c);
        sdd_tensor *z = m->forward(c, m, sdd_tensor_wrap(c, (float *)x + (size_t)k * (one ? L : 0), 2, shp));
        if (!z) return sdd_err_set(e, "%s", c->err.msg[0] ? c->err.msg : "forward failed");
        if (!train) continue;
        sdd_params_zero_grads(&m->params);
        sdd_tensor *l = sdd_ce_weighted(c, z, labels, cw, NULL);
        if (!l) return sdd_err_set(e, "%s", c->err.msg);
        float *g = sdd_grad_of(c, l);
        if (!g) return sdd_err_set(e, "%s", c->err.msg[0] ? c->err.msg : "out of memory");
        for (int s = 0; s < c->nseg; s++) g[s] = 1.0f;
        if (sdd_backward(c, 0, NULL, NULL)) return sdd_err_set(e, "%s", c->err.msg);
    }
    return 0;
}

int sdd_bench_run(const sdd_bench_params *p, sdd_bench_result *r, sdd_err *e)
{
    memset(r, 0, sizeof *r);
    if (p->mode < 0 || p->mode >= SDD_BENCH_NMODES) return sdd_err_set(e, "bench: unknown mode");
    if (p->batch < 1 || p->len < 1 || p->reps < 1) return sdd_err_set(e, "bench: batch, length and repetitions must be positive");
    const int step = p->mode >= SDD_BENCH_STEP_NONE, train = p->mode == SDD_BENCH_FWDBWD || p->mode == SDD_BENCH_DUAL;
    const int utt = p->mode == SDD_BENCH_UTT;
    if (p->device && (train || utt))
        return sdd_err_set(e, "bench: mode %s is measured on the CPU only (on cuda: fwd, infer1, step-*)", sdd_bench_mode_name(p->mode));
    if ((step || p->mode == SDD_BENCH_DUAL) && (p->batch < 2 || p->batch % 2))
        return sdd_err_set(e, "bench: mode %s needs an even batch of at least 2 (originals + copies), got %d", sdd_bench_mode_name(p->mode),
                           p->batch);
    if ((double)p->batch * (double)p->len > 1e10) return sdd_err_set(e, "bench: batch x length of %g samples is too large", (double)p->batch * p->len);
    sdd_model *m = p->model_path ? sdd_model_load(p->model_path, NULL, e) : sdd_model_new(p->arch, e);
    if (!m) return -1;
    if (!p->model_path) sdd_model_init_random(m, 1);
    snprintf(r->arch, sizeof r->arch, "%s", m->arch);
    if (p->int8 && (p->device || (p->mode != SDD_BENCH_FWD && p->mode != SDD_BENCH_INFER1 && p->mode != SDD_BENCH_UTT))) {
        sdd_model_free(m);
        return sdd_err_set(e, "bench: --int8 times CPU inference only (fwd, infer1, utt)");
    }
    if (p->int8 && sdd_model_quantize_int8(m, NULL, e)) {
        sdd_err_prefix(e, "bench: --int8");
        sdd_model_free(m);
        return -1;
    }
    if (!p->recompute && sdd_model_set_recompute(m, 0, e)) {
        sdd_err_prefix(e, "bench: --ssl-recompute off");
        sdd_model_free(m);
        return -1;
    }
    const int B = p->batch;
    const int64_t L = p->len;
    int rc = 0;
    if (L < m->min_samples) {
        sdd_err_set(e, "bench: %lld samples is shorter than %s's minimum of %d", (long long)L, m->arch, m->min_samples);
        sdd_model_free(m);
        return -1;
    }
    float *x = malloc((size_t)B * (size_t)L * sizeof(float)), *scores = malloc((size_t)B * sizeof(float));
    float *logits = malloc((size_t)2 * B * sizeof(float)), *gbuf = NULL;
    int *labels = malloc((size_t)B * sizeof(int));
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    sdd_adam opt;
    int have_opt = 0;
    sdd_align_state al;
    sdd_align_state_init(&al);
    sdd_step_params sp = sdd_step_default_params();
    sdd_score_pool *pool = NULL;
    bench_items bi = { NULL, L };
    double *pscore = NULL;
    int *pstat = NULL;
    sdd_err *perr = NULL;
    if (utt) {
        bi.x = x;
        pool = sdd_score_pool_new(m, omp_get_max_threads(), e);
        pscore = malloc((size_t)B * sizeof *pscore);
        pstat = malloc((size_t)B * sizeof *pstat);
        perr = malloc((size_t)B * sizeof *perr);
        if (!pool) { rc = -1; goto done; }
        if (!pscore || !pstat || !perr) { rc = sdd_err_set(e, "out of memory"); goto done; }
    }
    if (!x || !scores || !logits || !labels) { rc = sdd_err_set(e, "out of memory"); goto done; }
    for (size_t i = 0; i < (size_t)B * (size_t)L; i++) x[i] = 0.1f * (float)sdd_rng_normal(3, i);
    for (int b = 0; b < B; b++) labels[b] = b % 2;
    /* gradient buffers only where a backward runs (inference RSS is the weights and activations) */
    if (!p->device && (train || step) && sdd_params_alloc_grads(&m->params, 2, e)) { rc = -1; goto done; }
    if (p->device && sdd_ctx_set_device(&c, p->device, e)) { rc = -1; goto done; }
    if (step) {
        sp.paths = SDD_PATHS_DUAL;
        sp.align = p->mode == SDD_BENCH_STEP_NONE ? SDD_ALIGN_NONE : SDD_ALIGN_PCGRAD;
        sp.bn_stats = p->mode == SDD_BENCH_STEP_PCGRAD ? SDD_BN_PER_PATH : SDD_BN_JOINT;
        if (sdd_adam_init(&opt, &m->params, NULL, e)) { rc = -1; goto done; }
        have_opt = 1;
        if (!p->device && !(gbuf = malloc(m->params.total * sizeof(float)))) { rc = sdd_err_set(e, "out of memory"); goto done; }
    }
    double best = 1e300, total = 0, best_cpu = 1e300;
    for (int rep = 0; rep <= p->reps; rep++) {   /* rep 0 is the warm-up */
        if (rep == 1 && p->profile) { c.prof = &r->prof; memset(&r->prof, 0, sizeof r->prof); }
        const double t0 = omp_get_wtime(), u0 = cpu_s();
        if (step) {
            sdd_step_result res;
            sdd_prof_start(&c);
            if (sdd_train_step(m, &c, &opt, &al, &sp, x, B, L, labels, (uint64_t)rep, gbuf, &res, e)) { rc = -1; goto done; }
        } else if (p->device) {
            const int one = p->mode == SDD_BENCH_INFER1;
            for (int k = 0; k < (one ? B : 1); k++)
                if (sdd_score_batch(m, &c, x + (size_t)k * (one ? L : 0), one ? 1 : B, L, scores, logits, e)) { rc = -1; goto done; }
        } else if (utt) {
            sdd_score_pool_run(pool, B, bench_item, &bi, L, 0, pscore, pstat, perr);
            for (int b = 0; b < B; b++)
                if (pstat[b] != SDD_ITEM_SCORED) { rc = sdd_err_set(e, "%s", perr[b].msg); goto done; }
        } else if (run_plain(m, &c, p->mode, x, B, L, labels, e)) { rc = -1; goto done; }
        const double dt = omp_get_wtime() - t0, du = cpu_s() - u0;
        if (rep > 0) {
            total += dt;
            if (dt < best) best = dt;
            if (du < best_cpu) best_cpu = du;
        }
    }
    r->best_s = best;
    r->mean_s = total / p->reps;
    r->best_cpu_s = best_cpu;
    r->peak_rss_mb = peak_rss_mb();
    r->arena_peak_mb = (pool ? sdd_score_pool_arena_peak(pool) : c.arena.peak) / 1048576.0;
    r->device_arena_peak_mb = c.darena.peak / 1048576.0;
    if (c.ck_sum[0] || c.ck_sum[1])
        r->arena_keep_est_mb = sdd_checkpoint_keep_estimate(&c, p->device != 0) / 1048576.0;
    r->has_profile = c.prof != NULL;
done:
    c.prof = NULL;
    if (have_opt) sdd_adam_free(&opt);
    sdd_score_pool_free(pool);
    free(pscore); free(pstat); free(perr);
    sdd_ctx_free(&c);
    sdd_model_free(m);
    free(x); free(scores); free(logits); free(labels); free(gbuf);
    return rc;
}

void sdd_bench_print_json(FILE *f, const sdd_bench_params *p, const sdd_bench_result *r)
{
    const char *mode = sdd_bench_mode_name(p->mode);
    fprintf(f, "{\"impl\": \"sdd\", \"device\": \"%s\", \"mode\": \"%s\", \"arch\": \"%s\", \"batch\": %d, \"len\": %lld, \"threads\": %d, "
               "\"reps\": %d, \"best_s\": %.4f, \"mean_s\": %.4f, \"best_cpu_s\": %.4f, \"peak_rss_mb\": %.1f, \"arena_peak_mb\": %.1f, "
               "\"device_arena_peak_mb\": %.1f%s",
            p->device ? "cuda" : "cpu", mode, r->arch, p->batch, (long long)p->len, p->threads, p->reps, r->best_s, r->mean_s,
            r->best_cpu_s, r->peak_rss_mb, r->arena_peak_mb, r->device_arena_peak_mb, p->recompute ? "" : ", \"recompute\": 0");
    if (r->arena_keep_est_mb > 0) fprintf(f, ", \"arena_keep_est_mb\": %.1f", r->arena_keep_est_mb);
    if (p->int8) fprintf(f, ", \"int8\": 1, \"int8_kernel\": \"%s\"", sdd_q8_fast() ? sdd_q8_fast() : "none");
    const char *was = sdd_blas_core_was();
    fprintf(f, ", \"blas_core\": \"%s\"", sdd_blas_core());
    if (was) fprintf(f, ", \"blas_core_chosen_by_openblas\": \"%s\"", was);
    fprintf(f, "}\n");
    if (!r->has_profile) return;
    /* forward time is charged between family switches: the loss and, in step
     * modes, the alignment and Adam are in no family's forward time */
    static const char *const fam[SDD_FAM_N] = { "other", "sinc", "conv2d", "graph", "ssl_cnn", "ssl_transformer" };
    const sdd_prof *pr = &r->prof;
    const int n = p->reps;
    fprintf(f, "{\"impl\": \"sdd\", \"mode\": \"%s/profile\", \"threads\": %d, \"profile\": {", mode, p->threads);
    for (int k = 0; k < SDD_FAM_N; k++)
        fprintf(f, "%s\"%s\": {\"fwd_s\": %.4f, \"bwd_s\": %.4f, \"fwd_cpu_s\": %.4f, \"bwd_cpu_s\": %.4f, "
                   "\"fwd_gflop\": %.3f, \"bwd_gflop\": %.3f, \"fwd_gflops_per_cpu_s\": %.1f, \"bwd_gflops_per_cpu_s\": %.1f}",
                k ? ", " : "", fam[k], pr->t_fwd[k] / n, pr->t_bwd[k] / n, pr->cpu_fwd[k] / n, pr->cpu_bwd[k] / n,
                pr->flop_fwd[k] / n * 1e-9, pr->flop_bwd[k] / n * 1e-9, pr->cpu_fwd[k] > 0 ? pr->flop_fwd[k] / pr->cpu_fwd[k] * 1e-9 : 0.0,
                pr->cpu_bwd[k] > 0 ? pr->flop_bwd[k] / pr->cpu_bwd[k] * 1e-9 : 0.0);
    fprintf(f, "}}\n");
}
