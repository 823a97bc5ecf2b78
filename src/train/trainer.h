/* The training loop behind `sdd train`: datasets and loader, the DPDA step
 * every batch with a JSONL log line (both losses, gradient norms, dot,
 * cosine, conflict), validation each epoch (weighted-CE loss and EER on the
 * dev set), the n best epochs by dev loss averaged into the final model
 * (with the dev EER threshold stored in it), early stopping, atomic
 * checkpoints every epoch and exact resume, and scoring of evaluation sets. */
#ifndef SDD_TRAIN_TRAINER_H
#define SDD_TRAIN_TRAINER_H
#include "train/step.h"
#include "audio/rawboost.h"
#include "train/schedule.h"

#define SDD_TRAIN_MAX_EVAL 8

enum { SDD_RECOMPUTE_OFF, SDD_RECOMPUTE_ON, SDD_RECOMPUTE_AUTO };

typedef struct {
    const char *train_list, *train_audio, *dev_list, *dev_audio;
    const char *eval_spec[SDD_TRAIN_MAX_EVAL];  /* NAME=LIST:DIR */
    int neval;
    const char *out_dir;
    const char *arch;         /* new model of this architecture ... */
    int arch_given;           /* arch was set (--model or the recipe), not the default: an --init
                                 model of another architecture is then refused */
    const char *init_model;   /* ... or start from this model file */
    const char *ssl_weights;  /* new XLSR-* model: its XLS-R front end loaded from this checkpoint
                                 (any layout sdd_model_load_ssl reads); NULL: random */
    int ssl_recompute;        /* XLSR-* models: SDD_RECOMPUTE_ON recompute the front end's layers in
                                 the backward, _OFF keep their activations (sdd_model_set_recompute),
                                 _AUTO (default) recompute in the first step, then keep them when the
                                 estimate of that memory fits in what is free (train/memory.h) */
    sdd_step_params step;
    int align_groups;         /* SDD_ALIGN_GROUPS_* (--align-groups): the alignment per layer or tensor;
                                 the run builds step.groups from the model */
    sdd_adam_params adam;
    int epochs, patience, batch, dev_batch, n_best, workers, resume;
    long max_steps;           /* stop after this many steps in total (0 = no limit) */
    int64_t cut, max_samples;
    int crop;                 /* SDD_CUT_FIRST or SDD_CUT_RANDOM for training batches */
    uint64_t seed;
    int rb_algo;
    sdd_rawboost_params rb;
    int ce_balanced;          /* --ce-weight balanced: step.class_weight set from the training list's
                                 class counts (inverse frequency, summing to 1) when the run starts */
    int select_eer;           /* model selection and early stopping on dev EER instead of dev loss */
    int accum;                /* micro-batches of `batch` per optimiser step (>= 1) */
    int lr_schedule;          /* SDD_LR_CONST or SDD_LR_COSINE (per optimiser step, T = epochs x steps per epoch) */
    double lr_min;            /* the cosine schedule's final rate */
    int bn_recompute;         /* after averaging: recompute BatchNorm running statistics on this many
                                 training batches (-1: one epoch), weights fixed (0: off) */
    int threads;              /* CPU threads (0: all cores); set by the caller */
    int cache_none;           /* --cache none: the train and dev sets are not held decoded; each file is
                                 decoded again whenever it is read (streamed datasets, data/dataset.h) */
    const char *recipe;       /* the recipe the settings came from (recorded in config.json) */
    int quiet;
    int device;              /* SDD_DEV_CPU or SDD_DEV_CUDA (backend/device.h): where the steps and evaluations run */
} sdd_train_config;

/* The reference recipe's defaults (dpda_ga on AASIST): dual path, PCGrad,
 * joint BatchNorm statistics (the reference's, two backward passes: better
 * EER than per-path statistics in the three-seed comparison of README,
 * "per-path vs joint"; sdd_step_default_params keeps per-path, the one-pass
 * step), batch 5+5, cut 64600 first samples, Adam lr
 * 1e-4 wd 1e-4, CE weights [0.1, 0.9], patience 7, 100 epochs, 5 best averaged,
 * RawBoost algo 4, seed 1234. */
sdd_train_config sdd_train_default_config(void);
int sdd_train_run(const sdd_train_config *cfg, sdd_err *e);
/* The first file of a training run found in dir (config.json, log.jsonl, the
 * state or a model), or NULL: a folder that holds one takes no other run */
const char *sdd_train_dir_run_file(const char *dir);
/* The first sign of a --seeds run in dir (summary.txt, a seed-S folder), or
 * NULL; name (n bytes) gets the entry's name */
const char *sdd_train_dir_seeds_entry(const char *dir, char *name, size_t n);

#endif
