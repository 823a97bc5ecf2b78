/* Sequence back-ends of the XLS-R models (reference-spec section 3), usable
 * on their own: each registers its parameters (named as in the reference
 * state dict) into a parameter block that may also hold a front end, and maps
 * front-end features (B, T, d_in) to logits (B, 2).
 * XLSR-Mamba: xlsr_mamba.c; XLSR-Conformer-TCM: xlsr_conformer.c. */
#ifndef SDD_MODELS_BACKENDS_H
#define SDD_MODELS_BACKENDS_H
#include "core/tensor.h"

#define SDD_MAMBA_MAX_LAYERS 16

typedef enum {
    SDD_MAMBA_NORM_FIXED = 0,   /* final RMSNorm of (last layer output + residual), as mamba_ssm intends */
    SDD_MAMBA_NORM_REFERENCE    /* the reference's: RMSNorm(x_drop + residual); each stack's last layer unused */
} sdd_mamba_final_norm;

typedef struct sdd_mamba_cfg_s {
    int d_in;          /* front-end feature size (1024) */
    int d_model;       /* 144 */
    int n_layer;       /* Mamba layers per direction (6) */
    int d_state;       /* 16 */
    int d_conv;        /* 4 */
    int expand;        /* 2: d_inner = expand * d_model */
    int dt_rank;       /* ceil(d_model / 16) = 9 */
    sdd_mamba_final_norm final_norm;
} sdd_mamba_cfg;

typedef struct { int in_proj, conv_w, conv_b, x_proj, dt_w, dt_b, A_log, D, out_proj, norm; } sdd_mamba_layer_ix;

typedef struct {
    sdd_mamba_cfg cfg;
    int LL_w, LL_b, bn_w, bn_b, bn_rm, bn_rv;
    sdd_mamba_layer_ix layer[2][SDD_MAMBA_MAX_LAYERS];   /* [0] forward_layers, [1] backward_layers */
    int norm_f, fpool_w, fpool_b, bpool_w, bpool_b, cLL_w, cLL_b, cls_w, cls_b;
    sdd_tensor *pt;    /* views of every entry of the bound parameter block */
} sdd_mamba_backend;

/* The XLSR-Mamba sizes (d_in 1024, d_model 144, 6 layers, d_state 16, d_conv 4,
 * expand 2, dt_rank 9) with the fixed final norm. */
void sdd_mamba_cfg_default(sdd_mamba_cfg *cfg);
/* The tiny test sizes (d_model 24, 2 layers, d_state 4, d_conv 4, expand 2, dt_rank 2), fixed final norm. */
void sdd_mamba_cfg_tiny(sdd_mamba_cfg *cfg);
/* "reference" | "fixed" */
const char *sdd_mamba_final_norm_name(sdd_mamba_final_norm m);
int sdd_mamba_final_norm_parse(const char *s, sdd_mamba_final_norm *m);
/* Registers the back-end's parameters into ps (before sdd_params_alloc). */
int sdd_mamba_backend_register(sdd_mamba_backend *mb, sdd_params *ps, const sdd_mamba_cfg *cfg, sdd_err *e);
/* After sdd_params_alloc: builds the parameter views (freed by sdd_mamba_backend_free). */
int sdd_mamba_backend_bind(sdd_mamba_backend *mb, const sdd_params *ps, sdd_err *e);
void sdd_mamba_backend_free(sdd_mamba_backend *mb);
/* The reference's initialisation of the back-end's entries (mamba_ssm 1.x):
 * PyTorch-default Linear/Conv1d, dt_proj weight U(+-dt_rank^-0.5), dt_proj bias
 * the inverse softplus of dt = exp(U(log 1e-3, log 0.1)) floored at 1e-4,
 * A_log = log(1..d_state), D = 1, out_proj rescaled by 1/sqrt(n_layer),
 * norms and BatchNorm weight 1, running statistics (0, 1). Seeded. */
void sdd_mamba_backend_init(const sdd_mamba_backend *mb, sdd_params *ps, uint64_t seed);
/* features (B, T, d_in) -> logits (B, 2). */
sdd_tensor *sdd_mamba_backend_forward(sdd_ctx *c, const sdd_mamba_backend *mb, sdd_tensor *feat);

/* ---- XLSR-Conformer-TCM ---- */

#define SDD_CONFORMER_MAX_BLOCKS 16
#define SDD_CONFORMER_MAX_POS 10000   /* rows of the reference's sinusoidal table: the longest input in frames */

typedef struct sdd_conformer_cfg_s {
    int d_in;          /* 1024 */
    int emb;           /* 144 */
    int heads;         /* 4 (dim_head = emb / heads) */
    int ff_mult;       /* 4 */
    int expansion;     /* 2: conv module inner size emb * expansion */
    int kernel;        /* 31 */
    int n_blocks;      /* 4 */
} sdd_conformer_cfg;

typedef struct {
    int ff_ln_w[2], ff_ln_b[2], ff_w0[2], ff_b0[2], ff_w3[2], ff_b3[2];   /* ff1, ff2 */
    int at_ln_w, at_ln_b, qkv, proj_w, proj_b, ht_w, ht_b, htn_w, htn_b, pos;
    int cv_ln_w, cv_ln_b, pw1_w, pw1_b, dw_w, dw_b, bn_w, bn_b, bn_rm, bn_rv, pw2_w, pw2_b;
    int post_w, post_b;
} sdd_conformer_block_ix;

typedef struct {
    sdd_conformer_cfg cfg;
    int LL_w, LL_b, bn_w, bn_b, bn_rm, bn_rv;
    int pos_emb, class_token, fc_w, fc_b;
    sdd_conformer_block_ix blk[SDD_CONFORMER_MAX_BLOCKS];
    sdd_tensor *pt;
} sdd_conformer_backend;

/* The XLSR-Conformer-TCM sizes: d_in 1024, emb 144, 4 heads, ff_mult 4, expansion 2, kernel 31, 4 blocks. */
void sdd_conformer_cfg_default(sdd_conformer_cfg *cfg);
/* The tiny test sizes: emb 16, 4 heads, ff_mult 4, expansion 2, kernel 31, 2 blocks. */
void sdd_conformer_cfg_tiny(sdd_conformer_cfg *cfg);
int sdd_conformer_backend_register(sdd_conformer_backend *cb, sdd_params *ps, const sdd_conformer_cfg *cfg, sdd_err *e);
/* After sdd_params_alloc: parameter views; also writes the fixed sinusoidal table into
 * conformer.positional_emb (a non-trainable entry, as requires_grad=False in the reference). */
int sdd_conformer_backend_bind(sdd_conformer_backend *cb, sdd_params *ps, sdd_err *e);
void sdd_conformer_backend_free(sdd_conformer_backend *cb);
/* The reference's initialisation (PyTorch defaults; class token U[0, 1); head-token
 * positions 0; LayerNorm/BatchNorm (1, 0); running statistics (0, 1); the sinusoidal table). Seeded. */
void sdd_conformer_backend_init(const sdd_conformer_backend *cb, sdd_params *ps, uint64_t seed);
/* features (B, T, d_in) -> logits (B, 2); T <= SDD_CONFORMER_MAX_POS. */
sdd_tensor *sdd_conformer_backend_forward(sdd_ctx *c, const sdd_conformer_backend *cb, sdd_tensor *feat);

#endif
