/* The model interface and registry. A model is a parameter block plus a
 * forward function from a waveform batch (B, L) to logits (B, 2) (column 1 =
 * bona fide, whose logit is the score). Architectures register by name. */
#ifndef SDD_MODELS_MODEL_H
#define SDD_MODELS_MODEL_H
#include "core/tensor.h"
#include "io/tensorset.h"

typedef struct sdd_model sdd_model;
struct sdd_model {
    char arch[32];
    sdd_params params;
    void *impl;
    sdd_tensor *(*forward)(sdd_ctx *c, sdd_model *m, sdd_tensor *wave);
    void (*free_impl)(void *impl);
    int nb_samp;          /* the reference input length (cut) */
    int64_t cut;          /* the cut sdd train trained and evaluated at (metadata "cut"): what a
                             stored threshold was found at, and sdd score's default; 0: none */
    int min_samples;      /* the shortest input the architecture accepts */
    double threshold;     /* decision threshold on the score, when has_threshold */
    int has_threshold;
    char config[512];     /* hyperparameters as JSON, stored in the model file's metadata */
    char calibration[1024]; /* score calibration as JSON (metrics/calibration.h), "" when none */
    void (*post_init)(sdd_model *m);  /* architecture defaults applied after sdd_model_init_random, or NULL */
    /* architecture settings kept in the model file's metadata, or NULL: meta_save adds them;
     * meta_load reads them (sdd_file: written by sdd; 0: a checkpoint of the reference code) */
    int (*meta_save)(const sdd_model *m, sdd_tensorset *ts, sdd_err *e);
    int (*meta_load)(sdd_model *m, const sdd_tensorset *ts, int sdd_file, const char *path, sdd_err *e);
    int cuda_ok;          /* 1 when every op of forward has a CUDA implementation (backend/cuda.h) */
    struct sdd_xlsr *ssl; /* the XLS-R front end of the XLSR-* models (in impl), NULL for the others */
    const char *cuda_missing; /* when !cuda_ok: the ops without one, named in the refusal (or NULL) */
};

/* XLSR-* models: recompute each front-end layer in the backward (on, the
 * default: only layer outputs are kept) or keep every activation (off: no
 * second forward; an estimated 8 GB more at 5 + 5 x 66,800 for the 300M front
 * end, not yet measured).
 * The gradients are the same either way. -1 for models without XLS-R. */
int sdd_model_set_recompute(sdd_model *m, int on, sdd_err *e);

/* Int8 inference (quant.c): quantizes the XLS-R front end's encoder linear
 * layers (backend/qgemm.h) for CPU forwards without a tape; *nlin (may be
 * NULL) gets how many. An error for models without XLS-R. Freed by
 * sdd_model_free. 0 or -1. */
int sdd_model_quantize_int8(sdd_model *m, int *nlin, sdd_err *e);
void sdd_model_free_int8(sdd_model *m);

/* 0 when m can run on a CUDA context; else -1 with "<who><arch> has no CUDA
 * implementation yet (...; use --device cpu)", naming m->cuda_missing. */
int sdd_model_cuda_check(const sdd_model *m, const char *who, sdd_err *e);

/* Creates an architecture by name ("AASIST", "AASIST-L", "XLSR-AASIST", "XLSR-Mamba",
 * "XLSR-Conformer-TCM", and the -tiny test sizes of the XLSR-* ones);
 * parameters allocated, zeroed. */
/* The registry's spelling of architecture `name` (case-insensitive; also the
 * short names xlsr-tcm and xlsr-conformer for XLSR-Conformer-TCM), NULL when unknown. */
const char *sdd_model_arch_name(const char *name);
sdd_model *sdd_model_new(const char *arch, sdd_err *e);
void sdd_model_free(sdd_model *m);
/* Comma-separated list of known architectures. */
const char *sdd_model_archs(void);
/* The number of samples to score m on by default: the cut it was trained at
 * (m->cut, stored by sdd train), else its architecture's reference length */
int64_t sdd_model_cut(const sdd_model *m);
/* PyTorch-default random initialisation (seeded), used by tests and training from scratch. */
void sdd_model_init_random(sdd_model *m, uint64_t seed);

/* Architecture constructors (registered in model.c). */
int sdd_aasist_create(sdd_model *m, int light, sdd_err *e);
/* XLSR-AASIST with the given XLS-R configuration (models/xlsr.h). */
struct sdd_xlsr_config_s;
int sdd_xlsr_aasist_create(sdd_model *m, const struct sdd_xlsr_config_s *cfg, sdd_err *e);
/* XLSR-Mamba / XLSR-Conformer-TCM: the XLS-R front end with a sequence back-end (models/backends.h);
 * the back-end's d_in is set to the front end's embedding size. */
struct sdd_mamba_cfg_s;
struct sdd_conformer_cfg_s;
int sdd_xlsr_mamba_create(sdd_model *m, const struct sdd_xlsr_config_s *xc, const struct sdd_mamba_cfg_s *bc,
                          const char *arch, sdd_err *e);
int sdd_xlsr_conformer_create(sdd_model *m, const struct sdd_xlsr_config_s *xc, const struct sdd_conformer_cfg_s *bc,
                              const char *arch, sdd_err *e);
/* The fixed sinc filter bank (70, 129) of an AASIST model. */
const float *sdd_aasist_filters(const sdd_model *m);

#endif
