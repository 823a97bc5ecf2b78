/* The XLSR-Conformer-TCM back-end (reference-spec section 3; dpda_ga
 * nets/conformer_tcm.py, nets/conformer.py): features (B, T, 1024) -> LL
 * Linear(1024, 144) -> BatchNorm2d(1) over (B, 1, T, 144) -> SELU -> + the
 * fixed sinusoidal positions -> class token prepended (N = T + 1 tokens) ->
 * 4 Conformer blocks -> fc5 Linear(144, 2) on token 0. All dropouts are 0.
 * Block: x += 0.5 FF(LN x); x += MHSA(LN x); x += Conv(x); x += 0.5 FF(LN x); LN.
 * FF: Linear(144, 576), Swish, Linear(576, 144).
 * Conv: LN, pointwise Conv1d 144 -> 576, GLU over channels -> 288, depthwise
 * Conv1d k31 pad (15, 15), BatchNorm1d(288), Swish, pointwise Conv1d 288 -> 144.
 * MHSA with head tokens: per head the mean over the N tokens of that head's
 * channels (B, 4, 36) -> ht_proj Linear(36, 144) -> (B, 4, 4, 36) -> LN(36) ->
 * GELU -> (B, 4, 144) + pos_embed; appended to the tokens (N + 4); qkv
 * Linear(144, 432, no bias), 4 heads, scale 36^-0.5, proj Linear(144, 144);
 * then cls += mean(head tokens) + mean(other tokens) and the head tokens drop. */
#include "models/backends.h"
#include "ops/ops.h"
#include "ops/seq.h"
#include "ops/mamba.h"
#include "ops/conformer.h"
#include "core/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LN_EPS 1e-5f
#define BN_EPS 1e-5f
#define BN_MOM 0.1f

void sdd_conformer_cfg_default(sdd_conformer_cfg *cfg)
{
    cfg->d_in = 1024;
    cfg->emb = 144;
    cfg->heads = 4;
    cfg->ff_mult = 4;
    cfg->expansion = 2;
    cfg->kernel = 31;
    cfg->n_blocks = 4;
}

void sdd_conformer_cfg_tiny(sdd_conformer_cfg *cfg)
{
    sdd_conformer_cfg_default(cfg);
    cfg->emb = 16;
    cfg->n_blocks = 2;
}

#define CHK(x) do { if ((x) < 0) return -1; } while (0)

int sdd_conformer_backend_register(sdd_conformer_backend *cb, sdd_params *ps, const sdd_conformer_cfg *cfg, sdd_err *e)
{
    memset(cb, 0, sizeof *cb);
    cb->cfg = *cfg;
    const int E = cfg->emb, H = cfg->heads, F = E * cfg->ff_mult, I = E * cfg->expansion, K = cfg->kernel;
    if (cfg->n_blocks < 1 || cfg->n_blocks > SDD_CONFORMER_MAX_BLOCKS || E < 1 || H < 1 || E % H || F < 1 || I < 1 ||
        K < 1 || K > SDD_DWCONV_MAXK || cfg->d_in < 1)
        return sdd_err_set(e, "XLSR-Conformer-TCM: unsupported sizes (emb %d, heads %d, ff_mult %d, expansion %d, kernel %d, blocks %d)",
                           E, H, cfg->ff_mult, cfg->expansion, K, cfg->n_blocks);
    const int dh = E / H;
    CHK(cb->LL_w = sdd_params_addf(ps, e, 1, 2, E, cfg->d_in, 0, 0, "LL.weight"));
    CHK(cb->LL_b = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "LL.bias"));
    CHK(cb->bn_w = sdd_params_addf(ps, e, 1, 1, 1, 0, 0, 0, "first_bn.weight"));
    CHK(cb->bn_b = sdd_params_addf(ps, e, 1, 1, 1, 0, 0, 0, "first_bn.bias"));
    CHK(cb->bn_rm = sdd_params_addf(ps, e, 0, 1, 1, 0, 0, 0, "first_bn.running_mean"));
    CHK(cb->bn_rv = sdd_params_addf(ps, e, 0, 1, 1, 0, 0, 0, "first_bn.running_var"));
    CHK(cb->pos_emb = sdd_params_addf(ps, e, 0, 3, 1, SDD_CONFORMER_MAX_POS, E, 0, "conformer.positional_emb"));
    CHK(cb->class_token = sdd_params_addf(ps, e, 1, 2, 1, E, 0, 0, "conformer.class_token"));
    for (int i = 0; i < cfg->n_blocks; i++) {
        sdd_conformer_block_ix *b = &cb->blk[i];
        char p[64];
        snprintf(p, sizeof p, "conformer.encoder_blocks.%d", i);
        for (int f = 0; f < 2; f++) {
            const int n = f + 1;
            CHK(b->ff_ln_w[f] = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.ff%d.fn.norm.weight", p, n));
            CHK(b->ff_ln_b[f] = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.ff%d.fn.norm.bias", p, n));
            CHK(b->ff_w0[f] = sdd_params_addf(ps, e, 1, 2, F, E, 0, 0, "%s.ff%d.fn.fn.net.0.weight", p, n));
            CHK(b->ff_b0[f] = sdd_params_addf(ps, e, 1, 1, F, 0, 0, 0, "%s.ff%d.fn.fn.net.0.bias", p, n));
            CHK(b->ff_w3[f] = sdd_params_addf(ps, e, 1, 2, E, F, 0, 0, "%s.ff%d.fn.fn.net.3.weight", p, n));
            CHK(b->ff_b3[f] = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.ff%d.fn.fn.net.3.bias", p, n));
        }
        CHK(b->at_ln_w = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.attn.norm.weight", p));
        CHK(b->at_ln_b = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.attn.norm.bias", p));
        CHK(b->qkv = sdd_params_addf(ps, e, 1, 2, 3 * E, E, 0, 0, "%s.attn.fn.qkv.weight", p));
        CHK(b->proj_w = sdd_params_addf(ps, e, 1, 2, E, E, 0, 0, "%s.attn.fn.proj.weight", p));
        CHK(b->proj_b = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.attn.fn.proj.bias", p));
        CHK(b->ht_w = sdd_params_addf(ps, e, 1, 2, E, dh, 0, 0, "%s.attn.fn.ht_proj.weight", p));
        CHK(b->ht_b = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.attn.fn.ht_proj.bias", p));
        CHK(b->htn_w = sdd_params_addf(ps, e, 1, 1, dh, 0, 0, 0, "%s.attn.fn.ht_norm.weight", p));
        CHK(b->htn_b = sdd_params_addf(ps, e, 1, 1, dh, 0, 0, 0, "%s.attn.fn.ht_norm.bias", p));
        CHK(b->pos = sdd_params_addf(ps, e, 1, 3, 1, H, E, 0, "%s.attn.fn.pos_embed", p));
        CHK(b->cv_ln_w = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.conv.net.0.weight", p));
        CHK(b->cv_ln_b = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.conv.net.0.bias", p));
        CHK(b->pw1_w = sdd_params_addf(ps, e, 1, 3, 2 * I, E, 1, 0, "%s.conv.net.2.weight", p));
        CHK(b->pw1_b = sdd_params_addf(ps, e, 1, 1, 2 * I, 0, 0, 0, "%s.conv.net.2.bias", p));
        CHK(b->dw_w = sdd_params_addf(ps, e, 1, 3, I, 1, K, 0, "%s.conv.net.4.conv.weight", p));
        CHK(b->dw_b = sdd_params_addf(ps, e, 1, 1, I, 0, 0, 0, "%s.conv.net.4.conv.bias", p));
        CHK(b->bn_w = sdd_params_addf(ps, e, 1, 1, I, 0, 0, 0, "%s.conv.net.5.weight", p));
        CHK(b->bn_b = sdd_params_addf(ps, e, 1, 1, I, 0, 0, 0, "%s.conv.net.5.bias", p));
        CHK(b->bn_rm = sdd_params_addf(ps, e, 0, 1, I, 0, 0, 0, "%s.conv.net.5.running_mean", p));
        CHK(b->bn_rv = sdd_params_addf(ps, e, 0, 1, I, 0, 0, 0, "%s.conv.net.5.running_var", p));
        CHK(b->pw2_w = sdd_params_addf(ps, e, 1, 3, E, I, 1, 0, "%s.conv.net.7.weight", p));
        CHK(b->pw2_b = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.conv.net.7.bias", p));
        CHK(b->post_w = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.post_norm.weight", p));
        CHK(b->post_b = sdd_params_addf(ps, e, 1, 1, E, 0, 0, 0, "%s.post_norm.bias", p));
    }
    CHK(cb->fc_w = sdd_params_addf(ps, e, 1, 2, 2, E, 0, 0, "conformer.fc5.weight"));
    CHK(cb->fc_b = sdd_params_addf(ps, e, 1, 1, 2, 0, 0, 0, "conformer.fc5.bias"));
    return 0;
}

int sdd_conformer_backend_bind(sdd_conformer_backend *cb, sdd_params *ps, sdd_err *e)
{
    free(cb->pt);
    cb->pt = calloc((size_t)ps->np, sizeof *cb->pt);
    if (!cb->pt) return sdd_err_set(e, "out of memory");
    for (int i = 0; i < ps->np; i++) cb->pt[i] = sdd_param_tensor(ps, i);
    sdd_sinusoid_table(sdd_params_ptr(ps, cb->pos_emb), SDD_CONFORMER_MAX_POS, cb->cfg.emb);
    return 0;
}

void sdd_conformer_backend_free(sdd_conformer_backend *cb)
{
    if (!cb) return;
    free(cb->pt);
    cb->pt = NULL;
}

static void fill(sdd_params *ps, int i, double lo, double hi, uint64_t key)
{
    float *x = sdd_params_ptr(ps, i);
    for (size_t k = 0; k < ps->p[i].numel; k++) x[k] = (float)(lo + (hi - lo) * sdd_rng_uniform_d(key, k));
}

void sdd_conformer_backend_init(const sdd_conformer_backend *cb, sdd_params *ps, uint64_t seed)
{
    const sdd_conformer_cfg *cfg = &cb->cfg;
    const int E = cfg->emb, F = E * cfg->ff_mult, I = E * cfg->expansion, dh = E / cfg->heads;
    uint64_t ctr = 0;
#define KEY() sdd_rng_key(seed, 0xc0f7, ctr++, 0)
    /* PyTorch default Linear/Conv1d: weight and bias U(+-1/sqrt(fan_in)) */
#define LIN(w, b, fan) do { const double bd_ = 1.0 / sqrt((double)(fan)); fill(ps, (w), -bd_, bd_, KEY()); \
                            if ((b) >= 0) fill(ps, (b), -bd_, bd_, KEY()); } while (0)
#define ONES_ZEROS(w, b) do { fill(ps, (w), 1.0, 1.0, 0); fill(ps, (b), 0.0, 0.0, 0); } while (0)
    LIN(cb->LL_w, cb->LL_b, cfg->d_in);
    ONES_ZEROS(cb->bn_w, cb->bn_b);
    ONES_ZEROS(cb->bn_rv, cb->bn_rm);
    fill(ps, cb->class_token, 0.0, 1.0, KEY());
    LIN(cb->fc_w, cb->fc_b, E);
    sdd_sinusoid_table(sdd_params_ptr(ps, cb->pos_emb), SDD_CONFORMER_MAX_POS, E);
    for (int i = 0; i < cfg->n_blocks; i++) {
        const sdd_conformer_block_ix *b = &cb->blk[i];
        for (int f = 0; f < 2; f++) {
            ONES_ZEROS(b->ff_ln_w[f], b->ff_ln_b[f]);
            LIN(b->ff_w0[f], b->ff_b0[f], E);
            LIN(b->ff_w3[f], b->ff_b3[f], F);
        }
        ONES_ZEROS(b->at_ln_w, b->at_ln_b);
        LIN(b->qkv, -1, E);
        LIN(b->proj_w, b->proj_b, E);
        LIN(b->ht_w, b->ht_b, dh);
        ONES_ZEROS(b->htn_w, b->htn_b);
        fill(ps, b->pos, 0.0, 0.0, 0);
        ONES_ZEROS(b->cv_ln_w, b->cv_ln_b);
        LIN(b->pw1_w, b->pw1_b, E);
        LIN(b->dw_w, b->dw_b, cfg->kernel);
        ONES_ZEROS(b->bn_w, b->bn_b);
        ONES_ZEROS(b->bn_rv, b->bn_rm);
        LIN(b->pw2_w, b->pw2_b, I);
        ONES_ZEROS(b->post_w, b->post_b);
    }
#undef KEY
#undef LIN
#undef ONES_ZEROS
}

#define P(i) (&cb->pt[(i)])

static sdd_tensor *ln(sdd_ctx *c, const sdd_conformer_backend *cb, sdd_tensor *x, int w, int b)
{
    return sdd_layernorm(c, x, P(w), P(b), LN_EPS);
}

/* FF f (0: ff1, 1: ff2) on LN(x), without the 0.5 */
static sdd_tensor *ff(sdd_ctx *c, const sdd_conformer_backend *cb, const sdd_conformer_block_ix *b, int f, sdd_tensor *x)
{
    sdd_tensor *h = sdd_linear(c, ln(c, cb, x, b->ff_ln_w[f], b->ff_ln_b[f]), P(b->ff_w0[f]), P(b->ff_b0[f]));
    return sdd_linear(c, sdd_silu(c, h), P(b->ff_w3[f]), P(b->ff_b3[f]));
}

/* head-token MHSA on x = LN(input) (B, N, E) -> (B, N, E) */
static sdd_tensor *mhsa(sdd_ctx *c, const sdd_conformer_backend *cb, const sdd_conformer_block_ix *b, sdd_tensor *x)
{
    if (!x) return NULL;
    const int64_t B = x->n[0], N = x->n[1], E = cb->cfg.emb, H = cb->cfg.heads, dh = E / H;
    const int64_t s_hd[3] = { B, H, dh }, s_hhd[3] = { B, H * H, dh }, s_he[3] = { B, H, E };
    sdd_tensor *ht = sdd_reshape(c, sdd_mean_nodes(c, x, 0, (int)N), 3, s_hd);           /* (B, H, dh) */
    ht = sdd_reshape(c, sdd_linear(c, ht, P(b->ht_w), P(b->ht_b)), 3, s_hhd);            /* (B, H*H, dh) */
    ht = sdd_reshape(c, sdd_gelu(c, sdd_layernorm(c, ht, P(b->htn_w), P(b->htn_b), LN_EPS)), 3, s_he);
    ht = sdd_add(c, ht, sdd_expand_batch(c, P(b->pos), (int)B));                         /* (B, H, E) */
    sdd_tensor *xt = sdd_concat_nodes(c, x, ht);                                          /* (B, N+H, E) */
    sdd_tensor *qkv = sdd_linear(c, xt, P(b->qkv), NULL);                                 /* (B, N+H, 3E) */
    sdd_tensor *o = sdd_mh_attention(c, sdd_slice_last(c, qkv, 0, (int)E), sdd_slice_last(c, qkv, (int)E, (int)E),
                                     sdd_slice_last(c, qkv, 2 * (int)E, (int)E), (int)H, (float)(1.0 / sqrt((double)dh)), 0.0f);
    o = sdd_linear(c, o, P(b->proj_w), P(b->proj_b));
    sdd_tensor *cls = sdd_add(c, sdd_add(c, sdd_slice_nodes(c, o, 0, 1), sdd_mean_nodes(c, o, (int)N, (int)H)),
                              sdd_mean_nodes(c, o, 1, (int)N - 1));
    return sdd_concat_nodes(c, cls, sdd_slice_nodes(c, o, 1, (int)N - 1));
}

/* the convolution module on x (B, N, E) -> (B, N, E) */
static sdd_tensor *conv_module(sdd_ctx *c, const sdd_conformer_backend *cb, const sdd_conformer_block_ix *b, sdd_tensor *x)
{
    const int K = cb->cfg.kernel, pl = K / 2, pr = K / 2 - (K + 1) % 2;
    sdd_tensor *h = sdd_linear(c, ln(c, cb, x, b->cv_ln_w, b->cv_ln_b), P(b->pw1_w), P(b->pw1_b));   /* (B, N, 2I) */
    h = sdd_dwconv1d(c, sdd_glu_last(c, h), P(b->dw_w), P(b->dw_b), pl, pr);                      /* (B, N, I) */
    h = sdd_batchnorm(c, h, P(b->bn_w), P(b->bn_b), P(b->bn_rm), P(b->bn_rv), 1, BN_MOM, BN_EPS);
    return sdd_linear(c, sdd_silu(c, h), P(b->pw2_w), P(b->pw2_b));
}

sdd_tensor *sdd_conformer_backend_forward(sdd_ctx *c, const sdd_conformer_backend *cb, sdd_tensor *feat)
{
    if (!feat || c->failed) return NULL;
    const int E = cb->cfg.emb;
    if (feat->nd != 3 || feat->n[2] != cb->cfg.d_in || feat->n[1] < 1 || feat->n[1] > SDD_CONFORMER_MAX_POS) {
        sdd_err_set(&c->err, "XLSR-Conformer-TCM: features must be (B, T <= %d, %d)", SDD_CONFORMER_MAX_POS, cb->cfg.d_in);
        c->failed = 1;
        return NULL;
    }
    const int64_t B = feat->n[0], T = feat->n[1];
    sdd_tensor *x = sdd_linear(c, feat, P(cb->LL_w), P(cb->LL_b));                      /* (B, T, E) */
    const int64_t s1[3] = { B, 1, T * E }, s3[3] = { B, T, E }, scl[3] = { B, 1, E }, s2[2] = { B, 2 };
    x = sdd_batchnorm(c, sdd_reshape(c, x, 3, s1), P(cb->bn_w), P(cb->bn_b), P(cb->bn_rm), P(cb->bn_rv), 0, BN_MOM, BN_EPS);
    x = sdd_reshape(c, sdd_selu(c, x), 3, s3);
    /* the table's first T positions through the op (on CUDA the parameter's
     * device copy; a wrap of its host values would hand kernels host memory) */
    sdd_tensor *pe = sdd_slice_nodes(c, P(cb->pos_emb), 0, (int)T);                      /* (1, T, E), fixed: no gradient */
    x = sdd_add(c, x, sdd_expand_batch(c, pe, (int)B));
    sdd_tensor *cls = sdd_reshape(c, sdd_expand_batch(c, P(cb->class_token), (int)B), 3, scl);
    x = sdd_concat_nodes(c, cls, x);                                                       /* (B, T+1, E) */
    for (int i = 0; i < cb->cfg.n_blocks; i++) {
        const sdd_conformer_block_ix *b = &cb->blk[i];
        x = sdd_add_scaled(c, x, ff(c, cb, b, 0, x), 0.5f);
        x = sdd_add(c, x, mhsa(c, cb, b, ln(c, cb, x, b->at_ln_w, b->at_ln_b)));
        x = sdd_add(c, x, conv_module(c, cb, b, x));
        x = sdd_add_scaled(c, x, ff(c, cb, b, 1, x), 0.5f);
        x = ln(c, cb, x, b->post_w, b->post_b);
    }
    return sdd_reshape(c, sdd_linear(c, sdd_slice_nodes(c, x, 0, 1), P(cb->fc_w), P(cb->fc_b)), 2, s2);
}
