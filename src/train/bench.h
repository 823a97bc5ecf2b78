/* Timing of a model's forward, backward and training step (`sdd bench`,
 * and make bench's bench_sdd): one mode per call, a warm-up then `reps`
 * timed repetitions, best and mean wall seconds, the least process CPU
 * seconds of a repetition, arena peaks, and optionally the per layer family
 * profile (sdd_prof). The input is seeded noise, the weights random or a
 * model file's: timing only, the outputs are not looked at. */
#ifndef SDD_TRAIN_BENCH_H
#define SDD_TRAIN_BENCH_H
#include "core/error.h"
#include "core/tensor.h"
#include <stdint.h>
#include <stdio.h>

typedef enum {
    SDD_BENCH_FWD,          /* eval forward of the batch */
    SDD_BENCH_FWDBWD,       /* train forward + weighted CE + backward (one gradient buffer; CPU only) */
    SDD_BENCH_DUAL,         /* the same as two halves with per-path BatchNorm statistics and gradients (CPU only) */
    SDD_BENCH_INFER1,       /* batch-1 scoring of each of the batch's utterances in turn */
    SDD_BENCH_UTT,          /* the batch's utterances scored in parallel, one per thread (sdd_score_pool, sdd score's default; CPU only) */
    SDD_BENCH_STEP_NONE,    /* full dual-path step (sdd_train_step): --align none, joint statistics */
    SDD_BENCH_STEP_PCGRAD,  /* full step, PCGrad, per-path statistics (one backward; make demo's regime) */
    SDD_BENCH_STEP_JOINT_PCGRAD, /* full step, PCGrad, joint statistics (the reference and sdd train's default: two backwards) */
    SDD_BENCH_NMODES
} sdd_bench_mode;

typedef struct {
    sdd_bench_mode mode;
    const char *arch;       /* architecture for random weights (when model_path is NULL) */
    const char *model_path; /* a model file to time instead (its weights, its architecture) */
    int batch;              /* utterances per forward (step modes: originals + copies) */
    int64_t len;            /* samples per utterance */
    int reps;               /* timed repetitions after one warm-up */
    int threads;            /* recorded only: the caller sets the thread count */
    int device;             /* SDD_DEV_CPU or SDD_DEV_CUDA */
    int profile;            /* collect the per layer family profile */
    int recompute;          /* XLSR-* models: 1 (default) recompute the front end in the backward, 0 keep activations */
    int int8;               /* XLSR-* models, CPU, fwd / infer1 / utt: the encoder's linear layers in int8 */
} sdd_bench_params;

typedef struct {
    char arch[64];
    double best_s, mean_s, best_cpu_s;
    double peak_rss_mb, arena_peak_mb, device_arena_peak_mb;
    /* a backward that recomputed (XLSR-* with recompute on): the arena peak
     * estimated for keeping the activations (sdd_checkpoint_keep_estimate),
     * host or device arena as the run used; 0 otherwise */
    double arena_keep_est_mb;
    int has_profile;
    sdd_prof prof;          /* summed over the timed repetitions */
} sdd_bench_result;

sdd_bench_params sdd_bench_default_params(void);
/* "fwd", "fwdbwd", "dual", "infer1", "utt", "step-none", "step-pcgrad", "step-joint-pcgrad" */
int sdd_bench_mode_parse(const char *s, sdd_bench_mode *mode);
const char *sdd_bench_mode_name(sdd_bench_mode mode);
/* Runs the measurement; -1 with the reason in e (bad parameters, a mode the
 * device does not run, a model that cannot be loaded, a failed step). */
int sdd_bench_run(const sdd_bench_params *p, sdd_bench_result *r, sdd_err *e);
/* One JSON object per line: the measurement, then (with a profile) the per
 * family line; the keys make bench's report reads. */
void sdd_bench_print_json(FILE *f, const sdd_bench_params *p, const sdd_bench_result *r);

#endif
