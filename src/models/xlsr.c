/* Owns the wav2vec 2.0 / XLS-R encoder (see xlsr.h): configurations,
 * parameter registration under fairseq names, and the forward pass built
 * from the sequence ops (ops/seq.h), whose tape gives the backward. */
#include "models/xlsr.h"
#include "ops/ops.h"
#include "ops/seq.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define LN_EPS 1e-5f

static const int conv_k[7] = { 10, 3, 3, 3, 3, 2, 2 }, conv_s[7] = { 5, 2, 2, 2, 2, 2, 2 };

static sdd_xlsr_config base_config(int dim)
{
    sdd_xlsr_config c;
    memset(&c, 0, sizeof c);
    c.nconv = 7;
    for (int i = 0; i < 7; i++) { c.conv_dim[i] = dim; c.conv_k[i] = conv_k[i]; c.conv_s[i] = conv_s[i]; }
    c.recompute = 1;
    return c;
}

sdd_xlsr_config sdd_xlsr_config_300m(void)
{
    sdd_xlsr_config c = base_config(512);
    c.embed = 1024; c.layers = 24; c.heads = 16; c.ffn = 4096; c.pos_k = 128; c.pos_groups = 16;
    c.dropout = 0.1f; c.attn_dropout = 0.1f; c.act_dropout = 0.0f; c.dropout_input = 0.0f;
    return c;
}

sdd_xlsr_config sdd_xlsr_config_tiny(void)
{
    sdd_xlsr_config c = base_config(32);
    c.embed = 64; c.layers = 2; c.heads = 4; c.ffn = 128; c.pos_k = 16; c.pos_groups = 4;
    c.dropout = 0.1f; c.attn_dropout = 0.1f;
    return c;
}

int64_t sdd_xlsr_frames(const sdd_xlsr_config *cfg, int64_t L)
{
    for (int i = 0; i < cfg->nconv; i++) {
        if (L < cfg->conv_k[i]) return 0;
        L = (L - cfg->conv_k[i]) / cfg->conv_s[i] + 1;
    }
    return L;
}

int64_t sdd_xlsr_min_samples(const sdd_xlsr_config *cfg)
{
    int64_t L = 1;
    for (int i = cfg->nconv - 1; i >= 0; i--) L = (L - 1) * cfg->conv_s[i] + cfg->conv_k[i];
    return L;
}

#define CHK(x) do { if ((x) < 0) return -1; } while (0)

static int reg_lin(sdd_params *ps, sdd_err *e, const char *pfx, sdd_xlsr_lin *l, int dout, int din, const char *base)
{
    CHK(l->w = sdd_params_addf(ps, e, 1, 2, dout, din, 0, 0, "%s%s.weight", pfx, base));
    CHK(l->b = sdd_params_addf(ps, e, 1, 1, dout, 0, 0, 0, "%s%s.bias", pfx, base));
    return 0;
}

static int reg_ln(sdd_params *ps, sdd_err *e, const char *pfx, sdd_xlsr_lin *l, int d, const char *base)
{
    CHK(l->w = sdd_params_addf(ps, e, 1, 1, d, 0, 0, 0, "%s%s.weight", pfx, base));
    CHK(l->b = sdd_params_addf(ps, e, 1, 1, d, 0, 0, 0, "%s%s.bias", pfx, base));
    return 0;
}

int sdd_xlsr_register(sdd_xlsr *x, sdd_params *ps, const char *prefix, const sdd_xlsr_config *cfg_in, sdd_err *e)
{
    const sdd_xlsr_config cfgv = *cfg_in;   /* cfg_in may point into x */
    const sdd_xlsr_config *cfg = &cfgv;
    memset(x, 0, sizeof *x);
    x->cfg = cfgv;
    if (cfg->nconv < 1 || cfg->nconv > SDD_XLSR_MAX_CONV || cfg->layers < 0 || cfg->layers > SDD_XLSR_MAX_LAYERS ||
        cfg->heads < 1 || cfg->embed % cfg->heads || cfg->pos_groups < 1 || cfg->embed % cfg->pos_groups || cfg->pos_k < 1)
        return sdd_err_set(e, "xlsr: bad configuration");
    char b[96];
    int cin = 1;
    for (int i = 0; i < cfg->nconv; i++) {
        const int d = cfg->conv_dim[i];
        CHK(x->conv[i].w = sdd_params_addf(ps, e, 1, 3, d, cin, cfg->conv_k[i], 0, "%sfeature_extractor.conv_layers.%d.0.weight", prefix, i));
        CHK(x->conv[i].b = sdd_params_addf(ps, e, 1, 1, d, 0, 0, 0, "%sfeature_extractor.conv_layers.%d.0.bias", prefix, i));
        snprintf(b, sizeof b, "feature_extractor.conv_layers.%d.2.1", i);
        CHK(reg_ln(ps, e, prefix, &x->conv_ln[i], d, b));
        x->ref_conv[i].x = x;
        x->ref_conv[i].i = i;
        cin = d;
    }
    CHK(reg_ln(ps, e, prefix, &x->fe_ln, cin, "layer_norm"));
    CHK(reg_lin(ps, e, prefix, &x->proj, cfg->embed, cin, "post_extract_proj"));
    const int E = cfg->embed;
    CHK(x->pos_b = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%sencoder.pos_conv.0.bias", prefix));
    CHK(x->pos_g = sdd_params_addf(ps, e, 1, 3, 1, 1, cfg->pos_k, 0, "%sencoder.pos_conv.0.weight_g", prefix));
    CHK(x->pos_v = sdd_params_addf(ps, e, 1, 3, E, E / cfg->pos_groups, cfg->pos_k, 0, "%sencoder.pos_conv.0.weight_v", prefix));
    for (int l = 0; l < cfg->layers; l++) {
        sdd_xlsr_layer *L = &x->layer[l];
        struct { sdd_xlsr_lin *p; const char *n; int o, i; } lins[6] = {
            { &L->k, "self_attn.k_proj", E, E }, { &L->v, "self_attn.v_proj", E, E }, { &L->q, "self_attn.q_proj", E, E },
            { &L->out, "self_attn.out_proj", E, E }, { &L->fc1, "fc1", cfg->ffn, E }, { &L->fc2, "fc2", E, cfg->ffn } };
        for (int k = 0; k < 6; k++) {
            snprintf(b, sizeof b, "encoder.layers.%d.%s", l, lins[k].n);
            CHK(reg_lin(ps, e, prefix, lins[k].p, lins[k].o, lins[k].i, b));
            if (k == 3) {
                snprintf(b, sizeof b, "encoder.layers.%d.self_attn_layer_norm", l);
                CHK(reg_ln(ps, e, prefix, &L->ln1, E, b));
            }
        }
        snprintf(b, sizeof b, "encoder.layers.%d.final_layer_norm", l);
        CHK(reg_ln(ps, e, prefix, &L->ln2, E, b));
        x->ref_layer[l].x = x;
        x->ref_layer[l].i = l;
    }
    CHK(reg_ln(ps, e, prefix, &x->enc_ln, E, "encoder.layer_norm"));
    return 0;
}

void sdd_xlsr_bind(sdd_xlsr *x, sdd_tensor *pt) { x->pt = pt; }

void sdd_xlsr_init_defaults(const sdd_xlsr *x, sdd_params *ps)
{
    const sdd_xlsr_config *cfg = &x->cfg;
    sdd_xlsr_lin lns[SDD_XLSR_MAX_CONV + 2 * SDD_XLSR_MAX_LAYERS + 2];
    int n = 0;
    for (int i = 0; i < cfg->nconv; i++) lns[n++] = x->conv_ln[i];
    lns[n++] = x->fe_ln;
    for (int l = 0; l < cfg->layers; l++) { lns[n++] = x->layer[l].ln1; lns[n++] = x->layer[l].ln2; }
    lns[n++] = x->enc_ln;
    for (int i = 0; i < n; i++) {
        float *w = sdd_params_ptr(ps, lns[i].w), *b = sdd_params_ptr(ps, lns[i].b);
        for (size_t k = 0; k < ps->p[lns[i].w].numel; k++) { w[k] = 1.0f; b[k] = 0.0f; }
    }
    /* weight_norm's initial g = ||v|| per tap, so the effective weight starts as v */
    const sdd_pinfo *pv = &ps->p[x->pos_v];
    const int64_t K = pv->shape[2];
    const float *v = sdd_params_ptr(ps, x->pos_v);
    float *g = sdd_params_ptr(ps, x->pos_g);
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (size_t i = 0; i < pv->numel / (size_t)K; i++) s += (double)v[i * K + k] * v[i * K + k];
        g[k] = (float)sqrt(s);
    }
}

#define P(i) (&x->pt[(i)])

static sdd_tensor *lin(sdd_ctx *c, const sdd_xlsr *x, sdd_tensor *h, const sdd_xlsr_lin *l)
{
    /* int8 weights serve inference only: a step (tape on) or the device uses float32 */
    if (x->q8 && x->q8[l->w] && !c->grad && !c->dev) return sdd_linear_q8(c, h, x->q8[l->w], P(l->b));
    return sdd_linear(c, h, P(l->w), P(l->b));
}

static sdd_tensor *ln(sdd_ctx *c, const sdd_xlsr *x, sdd_tensor *h, const sdd_xlsr_lin *l)
{
    return sdd_layernorm(c, h, P(l->w), P(l->b), LN_EPS);
}

/* extractor layer i: (B, T, Cin) -> GELU(LN_channels(conv(x))) (B, T', C) */
static sdd_tensor *conv_block(sdd_ctx *c, sdd_tensor *h, void *ud)
{
    const sdd_xlsr_ref *r = ud;
    const sdd_xlsr *x = r->x;
    const sdd_conv1d_opts o = { x->cfg.conv_s[r->i], 0, 0, 1 };
    h = sdd_conv1d(c, h, P(x->conv[r->i].w), NULL, P(x->conv[r->i].b), &o);
    return sdd_gelu(c, ln(c, x, h, &x->conv_ln[r->i]));
}

/* pre-LN transformer layer: x += Attn(LN x); x += FFN(LN x) on (B, T, E) */
static sdd_tensor *tf_layer(sdd_ctx *c, sdd_tensor *h, void *ud)
{
    const sdd_xlsr_ref *r = ud;
    const sdd_xlsr *x = r->x;
    const sdd_xlsr_layer *L = &x->layer[r->i];
    const sdd_xlsr_config *cfg = &x->cfg;
    sdd_tensor *a = ln(c, x, h, &L->ln1);
    const float scale = 1.0f / sqrtf((float)(cfg->embed / cfg->heads));
    a = sdd_mh_attention(c, lin(c, x, a, &L->q), lin(c, x, a, &L->k), lin(c, x, a, &L->v), cfg->heads, scale, cfg->attn_dropout);
    h = sdd_add(c, h, sdd_dropout(c, lin(c, x, a, &L->out), cfg->dropout));
    sdd_tensor *f = sdd_gelu(c, lin(c, x, ln(c, x, h, &L->ln2), &L->fc1));
    f = lin(c, x, sdd_dropout(c, f, cfg->act_dropout), &L->fc2);
    return sdd_add(c, h, sdd_dropout(c, f, cfg->dropout));
}

sdd_tensor *sdd_xlsr_forward(sdd_ctx *c, const sdd_xlsr *x, sdd_tensor *wave)
{
    if (!wave || c->failed) return NULL;
    const sdd_xlsr_config *cfg = &x->cfg;
    const int64_t L = wave->n[wave->nd - 1];
    if (sdd_xlsr_frames(cfg, L) < 1) {
        sdd_err_set(&c->err, "xlsr: input of %lld samples is shorter than the receptive field (%lld)", (long long)L,
                    (long long)sdd_xlsr_min_samples(cfg));
        c->failed = 1;
        return NULL;
    }
    int64_t shp[3] = { wave->n[0], L, 1 };
    sdd_tensor *h = sdd_reshape(c, wave, 3, shp);                              /* (B, L, 1) */
    /* without a gradient the checkpoint only frees each layer's temporaries,
     * so inference keeps that even with recomputation off */
    const int ck = cfg->recompute || !c->grad;
    sdd_prof_family(c, SDD_FAM_SSL_CNN);
    for (int i = 0; i < cfg->nconv; i++)
        h = ck ? sdd_checkpoint(c, conv_block, h, (void *)&x->ref_conv[i]) : conv_block(c, h, (void *)&x->ref_conv[i]);
    sdd_prof_family(c, SDD_FAM_SSL_TF);
    h = lin(c, x, ln(c, x, h, &x->fe_ln), &x->proj);                             /* (B, T, E) */
    h = sdd_dropout(c, h, cfg->dropout_input);
    const int K = cfg->pos_k;
    const sdd_conv1d_opts po = { 1, K / 2, K / 2 - (K % 2 == 0), cfg->pos_groups };
    h = sdd_add(c, h, sdd_gelu(c, sdd_conv1d(c, h, P(x->pos_v), P(x->pos_g), P(x->pos_b), &po)));
    h = sdd_dropout(c, h, cfg->dropout);
    for (int l = 0; l < cfg->layers; l++)
        h = ck ? sdd_checkpoint(c, tf_layer, h, (void *)&x->ref_layer[l]) : tf_layer(c, h, (void *)&x->ref_layer[l]);
    h = ln(c, x, h, &x->enc_ln);
    sdd_prof_family(c, SDD_FAM_OTHER);   /* the back end's ops: its own families, or other */
    return h;
}
