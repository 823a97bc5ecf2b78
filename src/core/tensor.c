/* Owns tensors, the step context and the tape (see tensor.h). */
#include "core/tensor.h"
#include "backend/device.h"
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <time.h>

void sdd_ctx_init(sdd_ctx *c, sdd_params *params)
{
    memset(c, 0, sizeof *c);
    sdd_arena_init(&c->arena, (size_t)256 << 20);
    c->params = params;
    c->nseg = 1;
}

void sdd_ctx_free(sdd_ctx *c)
{
    sdd_arena_free(&c->arena);
    sdd_arena_free(&c->darena);
    free(c->tape);
    free(c->gten);
    memset(c, 0, sizeof *c);
}

void sdd_ctx_trim(sdd_ctx *c)
{
    sdd_arena_trim(&c->arena);
    sdd_arena_trim(&c->darena);
}

void sdd_ctx_begin(sdd_ctx *c, int B, int train, int grad)
{
    sdd_arena_reset(&c->arena);
    sdd_arena_reset(&c->darena);
    c->ntape = 0;
    c->ngten = 0;
    c->train = train;
    c->grad = grad;
    c->B = B;
    c->nseg = 1;
    c->seg_end[0] = B;
    c->seg_grad[0] = 0;
    c->op_serial = 0;
    c->fam = SDD_FAM_OTHER;
    c->bn_reduce = NULL;
    c->bn_reduce_arg = NULL;
    c->row_map = 0;
    c->failed = 0;
    c->err.msg[0] = 0;
}

int sdd_ctx_set_segments(sdd_ctx *c, int nseg, const int *ends, const int *bufs)
{
    if (nseg < 1 || nseg > SDD_MAX_PATHS) return sdd_err_set(&c->err, "segments: %d segments", nseg);
    int prev = 0;
    for (int s = 0; s < nseg; s++) {
        if (ends[s] <= prev) return sdd_err_set(&c->err, "segments: empty or unordered segment %d", s);
        prev = ends[s];
        c->seg_end[s] = ends[s];
        c->seg_grad[s] = bufs ? bufs[s] : s;
    }
    if (prev != c->B) return sdd_err_set(&c->err, "segments: end %d != batch %d", prev, c->B);
    c->nseg = nseg;
    return 0;
}

void *sdd_oom(sdd_ctx *c, const char *what)
{
    if (!c->failed) sdd_err_set(&c->err, "out of memory in %s (arena %zu MB in use)", what, c->arena.used >> 20);
    c->failed = 1;
    return NULL;
}

size_t sdd_numel(const sdd_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->nd; i++) n *= (size_t)t->n[i];
    return n;
}

void *sdd_dscratch(sdd_ctx *c, size_t bytes)
{
    if (c->failed) return NULL;
    void *p = sdd_arena_alloc(&c->darena, bytes);
    if (!p && !c->failed) {
        sdd_err_set(&c->err, "out of device memory (%zu MB requested, %zu MB in use)", bytes >> 20, c->darena.used >> 20);
        c->failed = 1;
    }
    return p;
}

void *sdd_scratch(sdd_ctx *c, size_t bytes)
{
    void *p = sdd_arena_alloc(&c->arena, bytes);
    return p ? p : sdd_oom(c, "scratch");
}

void *sdd_scratch0(sdd_ctx *c, size_t bytes)
{
    void *p = sdd_arena_calloc(&c->arena, bytes);
    return p ? p : sdd_oom(c, "scratch");
}

sdd_tensor *sdd_tensor_new(sdd_ctx *c, int nd, const int64_t *n)
{
    if (c->failed) return NULL;
    sdd_tensor *t = sdd_arena_alloc(&c->arena, sizeof *t);
    if (!t) return sdd_oom(c, "tensor");
    memset(t, 0, sizeof *t);
    t->nd = nd;
    t->pidx = -1;
    for (int i = 0; i < nd; i++) t->n[i] = n[i];
    if (c->dev) {
        t->x = sdd_dscratch(c, sdd_numel(t) * sizeof(float));
        if (!t->x) return NULL;
        return t;
    }
    t->x = sdd_arena_alloc(&c->arena, sdd_numel(t) * sizeof(float));
    if (!t->x) return sdd_oom(c, "tensor values");
    return t;
}

sdd_tensor *sdd_new2(sdd_ctx *c, int64_t a, int64_t b) { int64_t n[2] = { a, b }; return sdd_tensor_new(c, 2, n); }
sdd_tensor *sdd_new3(sdd_ctx *c, int64_t a, int64_t b, int64_t d) { int64_t n[3] = { a, b, d }; return sdd_tensor_new(c, 3, n); }
sdd_tensor *sdd_new4(sdd_ctx *c, int64_t a, int64_t b, int64_t d, int64_t e) { int64_t n[4] = { a, b, d, e }; return sdd_tensor_new(c, 4, n); }

sdd_tensor *sdd_new_lastdim(sdd_ctx *c, const sdd_tensor *x, int64_t last)
{
    int64_t n[SDD_MAX_DIMS];
    for (int i = 0; i < x->nd; i++) n[i] = x->n[i];
    n[x->nd - 1] = last;
    return sdd_tensor_new(c, x->nd, n);
}

sdd_tensor *sdd_tensor_wrap(sdd_ctx *c, float *x, int nd, const int64_t *n)
{
    if (c->failed) return NULL;
    sdd_tensor *t = sdd_arena_alloc(&c->arena, sizeof *t);
    if (!t) return sdd_oom(c, "tensor");
    memset(t, 0, sizeof *t);
    t->x = x;
    t->nd = nd;
    t->pidx = -1;
    for (int i = 0; i < nd; i++) t->n[i] = n[i];
    return t;
}

sdd_tensor sdd_param_tensor(const sdd_params *ps, int idx)
{
    sdd_tensor t;
    memset(&t, 0, sizeof t);
    const sdd_pinfo *pi = &ps->p[idx];
    t.x = ps->data + pi->off;
    t.nd = pi->nd;
    for (int i = 0; i < pi->nd; i++) t.n[i] = pi->shape[i];
    t.rg = pi->trainable;
    t.pidx = idx;
    return t;
}

float *sdd_grad_of(sdd_ctx *c, sdd_tensor *t)
{
    if (t->g) return t->g;
    if (t->pidx >= 0) return NULL; /* parameters use sdd_pgrad */
    if (c->dev) {
        /* device gradients: arena memory zeroed on the device */
        t->g = sdd_dscratch(c, sdd_numel(t) * sizeof(float));
        if (!t->g) return NULL;
        if (sdd_device_zero(t->g, sdd_numel(t), &c->err)) { c->failed = 1; t->g = NULL; return NULL; }
    } else {
        t->g = sdd_arena_calloc(&c->arena, sdd_numel(t) * sizeof(float));
        if (!t->g) return sdd_oom(c, "gradient");
    }
    if (c->ngten == c->capgten) {
        int nc = c->capgten ? 2 * c->capgten : 256;
        sdd_tensor **ng = realloc(c->gten, (size_t)nc * sizeof *ng);
        if (!ng) return sdd_oom(c, "gradient list");
        c->gten = ng;
        c->capgten = nc;
    }
    c->gten[c->ngten++] = t;
    return t->g;
}

float *sdd_pgrad(sdd_ctx *c, const sdd_tensor *w, int s)
{
    if (!c->grad || w->pidx < 0 || !w->rg) return NULL;
    int buf = c->joint_grad ? c->cur_grad : c->seg_grad[s];
    if (c->dev) {
        if (buf >= c->params->ndgrad || !c->params->dgrad[buf]) return NULL;
        return c->params->dgrad[buf] + c->params->p[w->pidx].off;
    }
    if (buf >= c->params->ngrad || !c->params->grad[buf]) return NULL;
    return c->params->grad[buf] + c->params->p[w->pidx].off;
}

int sdd_seg_of(const sdd_ctx *c, int b)
{
    for (int s = 0; s < c->nseg; s++)
        if (b < c->seg_end[s]) return s;
    return c->nseg - 1;
}

int sdd_tape_push(sdd_ctx *c, sdd_backward_fn fn, void *node)
{
    if (c->ntape == c->captape) {
        int nc = c->captape ? 2 * c->captape : 256;
        sdd_tape_entry *nt = realloc(c->tape, (size_t)nc * sizeof *nt);
        if (!nt) { sdd_oom(c, "tape"); return -1; }
        c->tape = nt;
        c->captape = nc;
    }
    c->tape[c->ntape].fn = fn;
    c->tape[c->ntape].node = node;
    c->tape[c->ntape].fam = c->fam;
    c->ntape++;
    return 0;
}

/* CPU seconds of the process (every thread) */
static double prof_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* the tape run with each entry's time and FLOPs charged to its family */
static int backward_timed(sdd_ctx *c)
{
    const int fam0 = c->fam;
    c->prof->in_bwd = 1;
    for (int i = c->ntape - 1; i >= 0 && !c->failed; i--) {
        c->fam = c->tape[i].fam;
        const double t0 = omp_get_wtime(), u0 = prof_cpu();
        c->tape[i].fn(c, c->tape[i].node);
        c->prof->t_bwd[c->fam] += omp_get_wtime() - t0;
        c->prof->cpu_bwd[c->fam] += prof_cpu() - u0;
    }
    c->prof->in_bwd = 0;
    c->fam = fam0;
    return c->failed ? -1 : 0;
}

int sdd_backward(sdd_ctx *c, int n, sdd_tensor **t, const float *seed)
{
    if (c->failed) return -1;
    memset(c->ck_sum, 0, sizeof c->ck_sum);
    memset(c->ck_max, 0, sizeof c->ck_max);
    for (int i = 0; i < n; i++) {
        float *g = sdd_grad_of(c, t[i]);
        if (!g) return -1;
        size_t m = sdd_numel(t[i]);
        if (c->dev) {
            if (sdd_device_add_const(g, m, seed[i], &c->err)) { c->failed = 1; return -1; }
            continue;
        }
        for (size_t k = 0; k < m; k++) g[k] += seed[i];
    }
    if (c->prof) return backward_timed(c);
    for (int i = c->ntape - 1; i >= 0; i--) {
        c->tape[i].fn(c, c->tape[i].node);
        if (c->failed) return -1;
    }
    return 0;
}

void sdd_prof_family(sdd_ctx *c, int fam)
{
    if (c->prof) {
        const double now = omp_get_wtime(), cpu = prof_cpu();
        c->prof->t_fwd[c->fam] += now - c->prof->t_last;
        c->prof->cpu_fwd[c->fam] += cpu - c->prof->cpu_last;
        c->prof->t_last = now;
        c->prof->cpu_last = cpu;
    }
    c->fam = fam;
}

void sdd_prof_start(sdd_ctx *c)
{
    c->fam = SDD_FAM_OTHER;
    if (c->prof) { c->prof->t_last = omp_get_wtime(); c->prof->cpu_last = prof_cpu(); }
}

void sdd_zero_act_grads(sdd_ctx *c)
{
    for (int i = 0; i < c->ngten; i++) {
        if (c->dev) {
            if (sdd_device_zero(c->gten[i]->g, sdd_numel(c->gten[i]), &c->err)) c->failed = 1;
            continue;
        }
        memset(c->gten[i]->g, 0, sdd_numel(c->gten[i]) * sizeof(float));
    }
}

int sdd_grad_set(sdd_ctx *c, sdd_tensor *t, const float *vals)
{
    float *g = sdd_grad_of(c, t);
    if (!g) return -1;
    const size_t m = sdd_numel(t);
    if (c->dev) {
        if (sdd_device_from_host(g, vals, m, &c->err)) { c->failed = 1; return -1; }
        return 0;
    }
    memcpy(g, vals, m * sizeof(float));
    return 0;
}

int sdd_values_to_host(sdd_ctx *c, const sdd_tensor *t, float *dst)
{
    const size_t m = sdd_numel(t);
    if (c->dev) {
        if (sdd_device_to_host(dst, sdd_tensor_dev(c, t), m, &c->err)) { c->failed = 1; return -1; }
        return 0;
    }
    memcpy(dst, t->x, m * sizeof(float));
    return 0;
}
