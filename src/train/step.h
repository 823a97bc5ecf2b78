/* One DPDA training step: forward of the batch, per-path losses, ONE
 * backward pass giving each path's gradient (per-path BatchNorm statistics),
 * gradient alignment with conflict statistics, and the Adam step.
 *
 * Regimes (the batch layout the loader produces):
 *   SDD_PATHS_ORIG / SDD_PATHS_AUG: B utterances, one path, one loss.
 *   SDD_PATHS_DUAL: [B originals | B RawBoost copies].
 *     align none: one weighted-CE loss over both halves (the plain dual-path
 *       regime); with per-path statistics its gradient is the weight-sum
 *       combination of the two path gradients, so conflict statistics come free.
 *     align pcgrad/gradvac/cagrad: each path's loss and gradient, aligned.
 * BatchNorm statistics: SDD_BN_PER_PATH (default: the paths are normalised
 * separately, which makes one backward pass split exactly) or SDD_BN_JOINT
 * (the reference recipe: statistics over the whole batch; the two path
 * gradients then need two backward passes over the same tape). Running
 * statistics are always updated from the whole batch's moments.
 * Data-parallel (global_rows > 0): every rank computes the step of the
 * global batch from its shard, see src/dist/dist.h.
 * CUDA (a context switched with sdd_ctx_set_device): the same step with the
 * parameters, both path gradients (params.dgrad), the combination and Adam's
 * moments on the device; the loss values, the three dot products of the
 * alignment and the combined gradient's norm are the only values that come
 * back to the host inside a step (grad_out, when not NULL, is filled by a
 * copy: pass NULL in training). Not with data-parallel training. */
#ifndef SDD_TRAIN_STEP_H
#define SDD_TRAIN_STEP_H
#include "models/model.h"
#include "train/align.h"
#include "train/adam.h"

enum { SDD_PATHS_ORIG = 0, SDD_PATHS_AUG = 1, SDD_PATHS_DUAL = 2 };
enum { SDD_BN_PER_PATH = 0, SDD_BN_JOINT = 1 };

typedef struct {
    int paths;            /* SDD_PATHS_* */
    int align;            /* sdd_align_method */
    int bn_stats;         /* SDD_BN_* */
    float class_weight[2];/* weighted CE: [spoof, bona fide] = [0.1, 0.9] */
    int no_dropout;       /* train mode with dropout disabled (reference comparisons) */
    /* Data-parallel training (src/dist/dist.h): when global_rows > 0 this
     * process holds rows [shard_lo, shard_lo + local) of each path's
     * global_rows; BatchNorm statistics, loss numerators and weight sums, and
     * the path gradients are summed over ranks before alignment and Adam. */
    int global_rows, shard_lo;
    /* Grouped alignment (--align-groups; align.h): ngroups groups tiling the
     * parameter block, aligned one by one; NULL / 0: the whole vector. */
    const sdd_align_group *groups;
    int ngroups;
} sdd_step_params;

typedef struct {
    double loss[2];       /* per-path losses (loss[1] unused for one path) */
    double loss_total;    /* the regime's objective */
    sdd_align_stats al;   /* conflict statistics (dual only) */
    int has_align_stats;
    int group_conflicts;  /* grouped alignment: groups whose dot product is negative */
} sdd_step_result;

/* The groups of --align-groups MODE over the model's parameters (*out
 * malloc'ed, *ng of them; NULL and 0 for whole), consecutive tensors with
 * the same key in one group. 0, or -1 with e set. */
int sdd_align_groups_build(const sdd_params *ps, int mode, sdd_align_group **out, int *ng, sdd_err *e);

sdd_step_params sdd_step_default_params(void);
/* wave (nb, L) with nb = B (one path) or 2B (dual); labels (nb) in {0 spoof, 1 bona fide}.
 * grad_out (params->total floats) receives the combined gradient that was applied.
 * The same as sdd_accum_begin(K = 1), one sdd_accum_micro, sdd_accum_apply. */
int sdd_train_step(sdd_model *m, sdd_ctx *c, sdd_adam *opt, sdd_align_state *al, const sdd_step_params *p,
                   const float *wave, int nb, int64_t L, const int *labels, uint64_t rng_key,
                   float *grad_out, sdd_step_result *res, sdd_err *e);
/* Gradient accumulation over K micro-batches per optimiser step (--accum K).
 * Each micro-batch's per-path gradients are added to the per-path buffers,
 * seeded with the micro-batch's class-weight sum, and divided by the total
 * weight sum at the end: the accumulated gradient of each path is exactly
 * that of the weighted-CE mean over all K micro-batches (the large batch's
 * objective), and alignment is applied once, to the accumulated per-path
 * gradients. What differs from one large batch: BatchNorm batch statistics
 * are those of each micro-batch (and the running statistics are updated K
 * times), as in PyTorch accumulation. With K = 1 the arithmetic is that of
 * the single step (seeds 1, no rescaling). */
typedef struct {
    int K, k;             /* micro-batches per step, done so far */
    double w[2];          /* per-path class-weight sums over the micro-batches */
    double wl[2];         /* per-path sums of weight sum x loss */
    int dev;              /* the micro-batches ran on CUDA: gradients in params.dgrad */
} sdd_accum;

/* zeroes the per-path gradient buffers and the sums */
int sdd_accum_begin(sdd_model *m, sdd_accum *a, int K, sdd_err *e);
/* forward + backward of one micro-batch into the per-path buffers */
int sdd_accum_micro(sdd_model *m, sdd_ctx *c, const sdd_step_params *p, sdd_accum *a,
                    const float *wave, int nb, int64_t L, const int *labels, uint64_t rng_key, sdd_err *e);
/* combines (aligns) the accumulated gradients into grad_out, checks they are
 * finite and takes the Adam step (opt NULL: no update) */
int sdd_accum_apply(sdd_model *m, sdd_adam *opt, sdd_align_state *al, const sdd_step_params *p, sdd_accum *a,
                    float *grad_out, sdd_step_result *res, sdd_err *e);

/* BatchNorm statistics recomputation after weight averaging, as SWA's
 * bn_update (torchcontrib, used by the AASIST repository): running means set
 * to 0 and variances to 1, then train-mode forwards of training batches
 * (the step's path layout and statistics groups, no backward, weights
 * untouched) with momentum b / (n + b) for a batch of b after n samples, so
 * the running statistics end as the sample-weighted mean of the batches'
 * statistics (mean and unbiased variance, whole-batch moments). */
void sdd_bn_reset_running(sdd_model *m);
/* one batch; *seen counts the samples so far (start at 0): with
 * p->global_rows set (data-parallel), those of the global batches */
int sdd_bn_recompute_batch(sdd_model *m, sdd_ctx *c, const sdd_step_params *p, const float *wave, int nb, int64_t L,
                           uint64_t rng_key, long *seen, sdd_err *e);

/* Weighted-CE loss of a batch in eval mode (validation); scores (nb) optional. */
int sdd_eval_loss(sdd_model *m, sdd_ctx *c, const float *wave, int nb, int64_t L, const int *labels,
                  const float *class_weight, double *loss, float *scores, sdd_err *e);

#endif
