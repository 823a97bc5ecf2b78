/* XLSR-Mamba and XLSR-Conformer-TCM as registered models: the XLS-R front end
 * (models/xlsr.h, parameters under "ssl_model.model.") composed with a
 * sequence back-end (models/backends.h), waveform (B, L) -> logits (B, 2).
 * XLSR-Mamba's final-norm form is a model setting kept in the model file's
 * metadata ("mamba_final_norm": "fixed" | "reference"): new models are
 * "fixed"; a checkpoint imported from the reference code (no sdd metadata) is
 * "reference", the form its weights were trained with. */
#include "models/model.h"
#include "models/xlsr.h"
#include "models/backends.h"
#include "io/tensorset.h"
#include "core/rng.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int conformer;             /* 0: Mamba back-end, 1: Conformer-TCM */
    sdd_xlsr xl;
    sdd_mamba_backend mb;
    sdd_conformer_backend cb;
    sdd_tensor *pt;            /* the front end's parameter views */
} xlsr_seq;

static sdd_tensor *seq_forward(sdd_ctx *c, sdd_model *m, sdd_tensor *wave)
{
    xlsr_seq *s = m->impl;
    sdd_tensor *f = sdd_xlsr_forward(c, &s->xl, wave);                 /* (B, T, embed) */
    return s->conformer ? sdd_conformer_backend_forward(c, &s->cb, f) : sdd_mamba_backend_forward(c, &s->mb, f);
}

static void seq_free(void *impl)
{
    xlsr_seq *s = impl;
    if (!s) return;
    sdd_mamba_backend_free(&s->mb);
    sdd_conformer_backend_free(&s->cb);
    free(s->pt);
    free(s);
}

/* After the generic initialisation: the front end's defaults and the back-end's
 * own initialisation, seeded from what the generic one drew (so each seed of
 * sdd_model_init_random gives its own back-end). */
static void seq_post_init(sdd_model *m)
{
    xlsr_seq *s = m->impl;
    sdd_params *ps = &m->params;
    sdd_xlsr_init_defaults(&s->xl, ps);
    const int ll = s->conformer ? s->cb.LL_w : s->mb.LL_w;
    uint64_t seed = 0x5eed;
    for (size_t k = 0; k < 8 && k < ps->p[ll].numel; k++) {
        uint32_t bits;
        memcpy(&bits, sdd_params_ptr(ps, ll) + k, 4);
        seed = sdd_rng_key(seed, bits, k, 0);
    }
    if (s->conformer) sdd_conformer_backend_init(&s->cb, ps, seed);
    else sdd_mamba_backend_init(&s->mb, ps, seed);
}

static void mamba_config(sdd_model *m)
{
    const xlsr_seq *s = m->impl;
    const sdd_mamba_cfg *b = &s->mb.cfg;
    snprintf(m->config, sizeof m->config,
             "{\"ssl_embed\": %d, \"ssl_layers\": %d, \"emb_size\": %d, \"num_mamba_encoders\": %d, \"d_state\": %d, "
             "\"d_conv\": %d, \"expand\": %d, \"dt_rank\": %d, \"mamba_final_norm\": \"%s\"}",
             s->xl.cfg.embed, s->xl.cfg.layers, b->d_model, 2 * b->n_layer, b->d_state, b->d_conv, b->expand, b->dt_rank,
             sdd_mamba_final_norm_name(b->final_norm));
}

static int mamba_meta_save(const sdd_model *m, sdd_tensorset *ts, sdd_err *e)
{
    const xlsr_seq *s = m->impl;
    return sdd_tensorset_set_meta(ts, "mamba_final_norm", sdd_mamba_final_norm_name(s->mb.cfg.final_norm), e);
}

static int mamba_meta_load(sdd_model *m, const sdd_tensorset *ts, int sdd_file, const char *path, sdd_err *e)
{
    xlsr_seq *s = m->impl;
    sdd_mamba_final_norm fn = SDD_MAMBA_NORM_REFERENCE;   /* weights from the reference code */
    if (sdd_file) {
        const char *v = sdd_tensorset_get_meta(ts, "mamba_final_norm");
        if (!v) return sdd_err_set(e, "%s: metadata lacks mamba_final_norm (reference|fixed)", path);
        if (sdd_mamba_final_norm_parse(v, &fn)) return sdd_err_set(e, "%s: metadata mamba_final_norm '%s' is not reference|fixed", path, v);
    }
    s->mb.cfg.final_norm = fn;
    mamba_config(m);
    return 0;
}

/* the front end first, then the back end; views for both */
static int setup(sdd_model *m, xlsr_seq *s, const sdd_xlsr_config *xc, const void *bcfg, sdd_err *e)
{
    m->impl = s;
    m->free_impl = seq_free;
    m->forward = seq_forward;
    m->post_init = seq_post_init;
    /* the XLS-R front end has CUDA kernels (cuda_xlsr.cu), and so do both back
     * ends (cuda_conformer.cu, cuda_mamba.cu) */
    m->cuda_ok = 1;
    m->nb_samp = 66800;
    m->min_samples = (int)sdd_xlsr_min_samples(xc);   /* one frame */
    if (sdd_xlsr_register(&s->xl, &m->params, "ssl_model.model.", xc, e)) return -1;
    m->ssl = &s->xl;
    if (s->conformer ? sdd_conformer_backend_register(&s->cb, &m->params, bcfg, e)
                     : sdd_mamba_backend_register(&s->mb, &m->params, bcfg, e)) return -1;
    if (sdd_params_alloc(&m->params, e)) return -1;
    s->pt = calloc((size_t)m->params.np, sizeof *s->pt);
    if (!s->pt) return sdd_err_set(e, "out of memory");
    for (int i = 0; i < m->params.np; i++) s->pt[i] = sdd_param_tensor(&m->params, i);
    sdd_xlsr_bind(&s->xl, s->pt);
    if (s->conformer ? sdd_conformer_backend_bind(&s->cb, &m->params, e) : sdd_mamba_backend_bind(&s->mb, &m->params, e))
        return -1;
    seq_post_init(m);
    return 0;
}

int sdd_xlsr_mamba_create(sdd_model *m, const sdd_xlsr_config *xc, const sdd_mamba_cfg *bc, const char *arch, sdd_err *e)
{
    xlsr_seq *s = calloc(1, sizeof *s);
    if (!s) return sdd_err_set(e, "out of memory");
    sdd_mamba_cfg b = *bc;
    b.d_in = xc->embed;
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    m->meta_save = mamba_meta_save;
    m->meta_load = mamba_meta_load;
    if (setup(m, s, xc, &b, e)) return -1;
    mamba_config(m);
    return 0;
}

int sdd_xlsr_conformer_create(sdd_model *m, const sdd_xlsr_config *xc, const sdd_conformer_cfg *bc, const char *arch, sdd_err *e)
{
    xlsr_seq *s = calloc(1, sizeof *s);
    if (!s) return sdd_err_set(e, "out of memory");
    s->conformer = 1;
    sdd_conformer_cfg b = *bc;
    b.d_in = xc->embed;
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    if (setup(m, s, xc, &b, e)) return -1;
    snprintf(m->config, sizeof m->config,
             "{\"ssl_embed\": %d, \"ssl_layers\": %d, \"emb_size\": %d, \"heads\": %d, \"ff_mult\": %d, \"conv_expansion\": %d, "
             "\"kernel_size\": %d, \"num_encoders\": %d}",
             xc->embed, xc->layers, b.emb, b.heads, b.ff_mult, b.expansion, b.kernel, b.n_blocks);
    return 0;
}
