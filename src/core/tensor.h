/* Tensors, the per-step context and the autograd tape.
 *
 * A tensor is a view of float memory with up to 4 dims (row-major). Activations
 * live in the context's arena, which is reset at the start of every step;
 * parameter tensors point into the flat parameter block (params.h) and carry
 * their index there, so ops can route parameter gradients to per-path buffers.
 *
 * Paths: a batch is laid out as contiguous segments of samples, segment s
 * covering samples [seg_end[s-1], seg_end[s]). In dual-path training segment 0
 * holds the originals and segment 1 their RawBoost copies. An op that produces
 * a parameter gradient accumulates the contribution of segment s's samples
 * into gradient buffer seg_grad[s], so ONE backward pass yields both paths'
 * gradients. Ops that mix samples (BatchNorm in training) compute their
 * statistics per segment when bn_per_seg is set, which keeps the paths
 * independent and makes the split exact. With joint_grad set every parameter
 * gradient goes to buffer cur_grad instead (the reference's joint-statistics
 * mode, which needs one backward pass per path).
 *
 * Devices: with c->dev set (backend/device.h, CUDA builds only) the values
 * of activation tensors live in device memory (the arena `darena`), parameter
 * values in the params' device block (sdd_tensor_dev gives the pointer an op
 * must use), and ops run their CUDA implementation. Tensor structs and tape
 * nodes stay in host memory.
 *
 * Errors: an op that cannot allocate returns NULL and records the reason in
 * ctx->err; every op returns NULL when given a NULL input, so model code checks
 * only its final result. */
#ifndef SDD_CORE_TENSOR_H
#define SDD_CORE_TENSOR_H
#include <stdint.h>
#include <stddef.h>
#include "core/arena.h"
#include "core/params.h"
#include "core/error.h"

typedef struct sdd_tensor {
    float *x;                 /* values */
    float *g;                 /* gradient, allocated lazily in backward; NULL until then */
    int nd;
    int64_t n[SDD_MAX_DIMS];
    int rg;                   /* 1 when a gradient must flow into this tensor */
    int pidx;                 /* index in the parameter block, -1 for activations */
} sdd_tensor;

typedef struct sdd_ctx sdd_ctx;
typedef void (*sdd_backward_fn)(sdd_ctx *c, void *node);

/* Layer families of the per-family timing (bench_sdd --profile). */
enum { SDD_FAM_OTHER, SDD_FAM_SINC, SDD_FAM_CONV2D, SDD_FAM_GRAPH,
       SDD_FAM_SSL_CNN,   /* XLS-R feature extractor (7 conv layers, LayerNorm, GELU) */
       SDD_FAM_SSL_TF,    /* XLS-R projection, positional conv and transformer layers */
       SDD_FAM_N };

/* Per-family wall time, process CPU time (all threads; on a shared machine
 * the steadier one) and GEMM FLOPs of the forward and backward passes,
 * filled while sdd_ctx.prof points at one (NULL: off, and nothing but one
 * int store per family switch is done). Executed FLOPs: recomputation in the
 * backward counts there. */
typedef struct {
    double t_fwd[SDD_FAM_N], t_bwd[SDD_FAM_N];
    double cpu_fwd[SDD_FAM_N], cpu_bwd[SDD_FAM_N];
    double flop_fwd[SDD_FAM_N], flop_bwd[SDD_FAM_N];
    double t_last, cpu_last;  /* when the current forward family started */
    int in_bwd;
} sdd_prof;

typedef struct {
    sdd_backward_fn fn;
    void *node;
    int fam;                  /* layer family that recorded it (timing only) */
} sdd_tape_entry;

struct sdd_ctx {
    sdd_arena arena;
    sdd_params *params;
    sdd_tape_entry *tape;
    int ntape, captape;
    sdd_tensor **gten;        /* activation tensors whose gradient was allocated */
    int ngten, capgten;
    int train;                /* training behaviour: batch statistics, dropout */
    int grad;                 /* record the tape for a backward pass */
    int dropout_off;          /* train mode with every dropout disabled (tests) */
    int B;                    /* batch size of the current step */
    int nseg;
    int seg_end[SDD_MAX_PATHS];
    int seg_grad[SDD_MAX_PATHS];
    int bn_per_seg;
    int joint_grad, cur_grad;
    float bn_momentum;        /* > 0: replaces every BatchNorm's running-statistics momentum
                                 (statistics recomputation after weight averaging) */
    uint64_t rng_key;         /* dropout stream for this step */
    int op_serial;            /* per-op counter that keys each dropout mask */
    /* data-parallel training (src/dist); sdd_ctx_begin clears them. bn_reduce
     * sums BatchNorm moments and backward sums over ranks; with row_map set,
     * local row b of segment s is global row row_base[s] + b - seg_begin(s),
     * the row dropout masks are keyed by. */
    int (*bn_reduce)(double *buf, size_t n, void *arg);
    void *bn_reduce_arg;
    int row_map;
    int row_base[SDD_MAX_PATHS];
    int failed;
    sdd_err err;
    int dev;                  /* 0: CPU; 1: CUDA (values in device memory) */
    sdd_arena darena;         /* device memory of activations, reset with the step */
    int fam;                  /* layer family of the ops being recorded (SDD_FAM_*) */
    sdd_prof *prof;           /* per-family timing, or NULL (the default) */
    /* activation recomputation in the last backward pass (sdd_backward clears
     * them): per arena ([0] host, [1] device) the sum and the largest of the
     * checkpoints' footprints, each the bytes one recomputation and its
     * backward still hold when they are released (sdd_checkpoint_keep_estimate) */
    size_t ck_sum[2], ck_max[2];
};

void sdd_ctx_init(sdd_ctx *c, sdd_params *params);
void sdd_ctx_free(sdd_ctx *c);
/* Between passes: the host and device arenas give their chunks back (sdd_arena_trim). */
void sdd_ctx_trim(sdd_ctx *c);
/* Starts a step: resets the arena and tape, one segment over the batch. */
void sdd_ctx_begin(sdd_ctx *c, int B, int train, int grad);
/* Splits the batch into segments (ends ascending, last == B), each routed to grad buffer bufs[s]. */
int sdd_ctx_set_segments(sdd_ctx *c, int nseg, const int *ends, const int *bufs);
static inline int sdd_ctx_seg_begin(const sdd_ctx *c, int s) { return s ? c->seg_end[s - 1] : 0; }

/* New activation tensor in the arena (values uninitialised); NULL on OOM. */
sdd_tensor *sdd_tensor_new(sdd_ctx *c, int nd, const int64_t *n);
sdd_tensor *sdd_new2(sdd_ctx *c, int64_t a, int64_t b);
sdd_tensor *sdd_new3(sdd_ctx *c, int64_t a, int64_t b, int64_t d);
sdd_tensor *sdd_new4(sdd_ctx *c, int64_t a, int64_t b, int64_t d, int64_t e);
/* New activation tensor shaped like x with its last dim set to last. */
sdd_tensor *sdd_new_lastdim(sdd_ctx *c, const sdd_tensor *x, int64_t last);
/* Wraps caller memory as a tensor that needs no gradient (model inputs). */
sdd_tensor *sdd_tensor_wrap(sdd_ctx *c, float *x, int nd, const int64_t *n);
/* A tensor view of parameter idx (lives in the params block). */
sdd_tensor sdd_param_tensor(const sdd_params *ps, int idx);
size_t sdd_numel(const sdd_tensor *t);
/* Values of t where the context's device reads them: the parameter's slot in
 * the device parameter block, or t->x (activations, and everything on the CPU). */
static inline float *sdd_tensor_dev(const sdd_ctx *c, const sdd_tensor *t)
{
    return (c->dev && t->pidx >= 0) ? c->params->ddata + c->params->p[t->pidx].off : t->x;
}
/* Device scratch (c->dev only), uninitialised; NULL with c->err set on OOM. */
void *sdd_dscratch(sdd_ctx *c, size_t bytes);
/* Scratch memory from the arena. */
void *sdd_scratch(sdd_ctx *c, size_t bytes);
void *sdd_scratch0(sdd_ctx *c, size_t bytes);

/* True when a gradient must be produced for t in this step. */
static inline int sdd_wants(const sdd_ctx *c, const sdd_tensor *t) { return c->grad && t && t->rg; }
/* The gradient of t, allocated zeroed on first use; NULL on OOM. */
float *sdd_grad_of(sdd_ctx *c, sdd_tensor *t);
/* Gradient buffer slot of parameter tensor w for the samples of segment s; NULL when w is not trainable. */
float *sdd_pgrad(sdd_ctx *c, const sdd_tensor *w, int s);
/* Segment of sample b. */
int sdd_seg_of(const sdd_ctx *c, int b);
/* The counter a per-element random draw uses for element k of a (c->B, per_row)
 * tensor: k itself, or its global-row position when c->row_map is set. */
static inline uint64_t sdd_rng_elem(const sdd_ctx *c, size_t k, size_t per_row)
{
    if (!c->row_map || per_row == 0) return (uint64_t)k;
    const int b = (int)(k / per_row), s = sdd_seg_of(c, b);
    const size_t g = (size_t)(c->row_base[s] + b - sdd_ctx_seg_begin(c, s));
    return (uint64_t)(g * per_row + k % per_row);
}

/* Per-family timing: the ops recorded from now on belong to family fam; with
 * c->prof set, the forward time since the last switch is charged to the
 * previous family (call with SDD_FAM_OTHER after the forward to close it). */
void sdd_prof_family(sdd_ctx *c, int fam);
/* Starts charging forward time (the family becomes SDD_FAM_OTHER). */
void sdd_prof_start(sdd_ctx *c);
/* Adds GEMM FLOPs to the current family (forward, or backward inside sdd_backward). */
static inline void sdd_prof_flops(sdd_ctx *c, double flops)
{
    if (c->prof) (c->prof->in_bwd ? c->prof->flop_bwd : c->prof->flop_fwd)[c->fam] += flops;
}

/* Records a backward closure (node lives in the arena). Returns -1 on OOM. */
int sdd_tape_push(sdd_ctx *c, sdd_backward_fn fn, void *node);
/* Seeds d(objective)/d(t_i) = seed_i (t_i scalar or any shape: every element gets seed_i) and runs the tape backwards. */
int sdd_backward(sdd_ctx *c, int n, sdd_tensor **t, const float *seed);
/* Zeroes every activation gradient (before a second backward pass over the same tape). */
void sdd_zero_act_grads(sdd_ctx *c);
/* Sets the gradient of t (allocated on first use) to vals (numel(t) host floats),
 * on the host or the device; -1 with c->err set. */
int sdd_grad_set(sdd_ctx *c, sdd_tensor *t, const float *vals);
/* Copies t's values (host or device) to dst (numel(t) floats); -1 with c->err set. */
int sdd_values_to_host(sdd_ctx *c, const sdd_tensor *t, float *dst);
/* Records an out-of-memory failure and returns NULL. */
void *sdd_oom(sdd_ctx *c, const char *what);

#endif
