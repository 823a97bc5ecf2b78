/* Importing XLS-R weights from the checkpoint layouts in use (reference-spec
 * section 4): Hugging Face wav2vec2 (Wav2Vec2Model without a prefix, or
 * Wav2Vec2ForPreTraining's "wav2vec2." prefix; weight norm as weight_g /
 * weight_v or parametrizations.weight.original0 / original1), fairseq
 * (xlsr2_300m.pt's "model" dict), and the full-model checkpoints of
 * SSL_Anti-spoofing / dpda (ssl_model.model.* plus the back-end, optionally
 * under nn.DataParallel's "module."). Names are mapped to sdd's (fairseq names
 * under the model's encoder prefix); the pretraining-only tensors (quantizer,
 * project_q, project_hid, final_proj, mask_emb / masked_spec_embed) are
 * dropped and counted. */
#ifndef SDD_MODELS_XLSR_IMPORT_H
#define SDD_MODELS_XLSR_IMPORT_H
#include "models/model.h"
#include "io/tensorset.h"

typedef struct {
    int mapped;      /* encoder tensors found and renamed */
    int dropped;     /* pretraining-only tensors skipped */
    int other;       /* tensors outside the encoder, passed on unchanged */
} sdd_xlsr_import_info;

/* The sdd name of checkpoint key `key` for an encoder registered under `prefix`, written to out:
 * returns 1 (an encoder tensor), 0 (pretraining-only: drop) or -1 (not an XLS-R key). */
int sdd_xlsr_map_name(const char *key, const char *prefix, char *out, size_t n);
/* out = in with every XLS-R key renamed (see above), "module." stripped, pretraining-only
 * tensors dropped and other tensors kept; out's tensors are views of in's
 * (sdd_tensorset_add_view: no copy), so free out before in. out is
 * initialised by the call. */
int sdd_xlsr_map_tensorset(const sdd_tensorset *in, const char *prefix, sdd_tensorset *out,
                           sdd_xlsr_import_info *info, sdd_err *e);
/* Loads the XLS-R encoder weights of model m (an XLSR-* architecture) from a checkpoint
 * file in any of the layouts above (torch zip or safetensors): every encoder tensor
 * must be present with its exact shape (the loaded count is checked); tensors that are
 * neither encoder, pretraining-only nor (for a full-model checkpoint) the model's other
 * parameters are an error naming them. The rest of m is left as it is. */
int sdd_model_load_ssl(sdd_model *m, const char *path, sdd_xlsr_import_info *info, sdd_err *e);

#endif
