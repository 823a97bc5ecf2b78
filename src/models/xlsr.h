/* wav2vec 2.0 / XLS-R encoder (reference-spec section 4) with configurable
 * sizes: the conv feature extractor in layer-norm mode (Conv1d -> LayerNorm
 * over channels -> GELU per layer), LayerNorm + feature projection, the
 * grouped positional convolution with weight norm (SamePad, GELU, added),
 * pre-LN transformer layers and the final LayerNorm. Parameters are
 * registered under a prefix with the fairseq names (e.g.
 * "ssl_model.model.encoder.layers.0.self_attn.q_proj.weight"); the
 * pretraining-only tensors (quantizer, project_q, final_proj, mask_emb) are
 * not part of the model. Sequences are channel-last (B, T, C). In training,
 * every extractor layer and transformer layer is recomputed in the backward
 * (sdd_checkpoint) when cfg.recompute is set, so only layer outputs stay. */
#ifndef SDD_MODELS_XLSR_H
#define SDD_MODELS_XLSR_H
#include "core/tensor.h"

#define SDD_XLSR_MAX_CONV 8
#define SDD_XLSR_MAX_LAYERS 48

typedef struct sdd_xlsr_config_s {
    int nconv;
    int conv_dim[SDD_XLSR_MAX_CONV], conv_k[SDD_XLSR_MAX_CONV], conv_s[SDD_XLSR_MAX_CONV];
    int embed, layers, heads, ffn;
    int pos_k, pos_groups;
    float dropout, attn_dropout, act_dropout, dropout_input;
    int recompute;
} sdd_xlsr_config;

/* XLS-R 300M: 7 convs of 512 (k 10,3,3,3,3,2,2; s 5,2,2,2,2,2,2), 1024-d, 24 layers, 16 heads,
 * FFN 4096, pos conv k128 g16; dropouts as fairseq's Wav2Vec2Config defaults (0.1, 0.1, 0, 0). */
sdd_xlsr_config sdd_xlsr_config_300m(void);
/* The test size: the same 7-conv geometry with 32 channels, 64-d, 2 layers, 4 heads, FFN 128, pos k16 g4. */
sdd_xlsr_config sdd_xlsr_config_tiny(void);
/* Frames for L samples (0 when L is too short). */
int64_t sdd_xlsr_frames(const sdd_xlsr_config *cfg, int64_t L);
/* The shortest input giving one frame. */
int64_t sdd_xlsr_min_samples(const sdd_xlsr_config *cfg);

typedef struct { int w, b; } sdd_xlsr_lin;
typedef struct { sdd_xlsr_lin q, k, v, out, ln1, fc1, fc2, ln2; } sdd_xlsr_layer;
typedef struct sdd_xlsr sdd_xlsr;
typedef struct { const sdd_xlsr *x; int i; } sdd_xlsr_ref;
struct sdd_xlsr {
    sdd_xlsr_config cfg;
    sdd_xlsr_lin conv[SDD_XLSR_MAX_CONV], conv_ln[SDD_XLSR_MAX_CONV];
    sdd_xlsr_lin fe_ln, proj;
    int pos_g, pos_v, pos_b;
    sdd_xlsr_layer layer[SDD_XLSR_MAX_LAYERS];
    sdd_xlsr_lin enc_ln;
    sdd_xlsr_ref ref_conv[SDD_XLSR_MAX_CONV], ref_layer[SDD_XLSR_MAX_LAYERS];
    sdd_tensor *pt;     /* the model's parameter views (set by sdd_xlsr_bind) */
    struct sdd_q8_linear_s **q8; /* int8 inference (sdd_model_quantize_int8): indexed by a linear
                                    weight's parameter index, the quantized layer or NULL; NULL: float32 */
};

/* Registers the encoder's parameters as prefix + fairseq name; -1 with e set on error. */
int sdd_xlsr_register(sdd_xlsr *x, sdd_params *ps, const char *prefix, const sdd_xlsr_config *cfg, sdd_err *e);
/* Points the encoder at the parameter views pt (indexed like the block). */
void sdd_xlsr_bind(sdd_xlsr *x, sdd_tensor *pt);
/* Layer-norm defaults (weight 1, bias 0) and weight-norm g = ||v|| over dims (0, 1) per tap. */
void sdd_xlsr_init_defaults(const sdd_xlsr *x, sdd_params *ps);
/* wave (B, L) -> features (B, T, embed). */
sdd_tensor *sdd_xlsr_forward(sdd_ctx *c, const sdd_xlsr *x, sdd_tensor *wave);

#endif
