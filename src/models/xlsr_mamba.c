/* The XLSR-Mamba back-end (reference-spec section 3; dpda_ga nets/mamba.py
 * with mamba_ssm 1.x): features (B, T, 1024) -> LL Linear(1024, 144) ->
 * BatchNorm2d(1) over (B, 1, T, 144) -> SELU -> Dropout(0.1) = x_drop; a
 * forward stack of Mamba blocks on x_drop and a backward stack on x_drop
 * flipped in time; per stack the final RMSNorm (norm_f, shared by both),
 * attention pooling over time; concat -> Linear(288, 144) -> Dropout(0.1) ->
 * Linear(144, 2).
 * Block (mamba_ssm Block, fused add + norm, residual kept in float32):
 * residual += h (residual = h for the first block); h = Mamba(RMSNorm(residual)).
 * Mamba mixer: in_proj -> (x, z); x = SiLU(causal depthwise conv k4 (x));
 * x_proj(x) -> (dt_low, B, C); dt = dt_proj.weight dt_low; selective scan with
 * softplus(dt + dt_proj.bias), A = -exp(A_log), skip D, gate SiLU(z); out_proj.
 * Final norm: the reference (fused path, as coded) normalises x_drop + residual
 * of each stack, x_drop unflipped for the flipped backward stack too, so each
 * stack's last block never contributes (its norm and mixer get no gradient);
 * the fixed form normalises (last block output + residual) as mamba_ssm's
 * MixerModel does. The setting is cfg.final_norm. */
#include "models/backends.h"
#include "ops/ops.h"
#include "ops/mamba.h"
#include "core/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RMS_EPS 1e-5f
#define BN_EPS 1e-5f
#define BN_MOM 0.1f
#define DROP_P 0.1f

void sdd_mamba_cfg_default(sdd_mamba_cfg *cfg)
{
    cfg->d_in = 1024;
    cfg->d_model = 144;
    cfg->n_layer = 6;
    cfg->d_state = 16;
    cfg->d_conv = 4;
    cfg->expand = 2;
    cfg->dt_rank = 9;
    cfg->final_norm = SDD_MAMBA_NORM_FIXED;
}

void sdd_mamba_cfg_tiny(sdd_mamba_cfg *cfg)
{
    sdd_mamba_cfg_default(cfg);
    cfg->d_model = 24;
    cfg->n_layer = 2;
    cfg->d_state = 4;
    cfg->dt_rank = 2;
}

const char *sdd_mamba_final_norm_name(sdd_mamba_final_norm m)
{
    return m == SDD_MAMBA_NORM_REFERENCE ? "reference" : "fixed";
}

int sdd_mamba_final_norm_parse(const char *s, sdd_mamba_final_norm *m)
{
    if (!strcmp(s, "reference")) *m = SDD_MAMBA_NORM_REFERENCE;
    else if (!strcmp(s, "fixed")) *m = SDD_MAMBA_NORM_FIXED;
    else return -1;
    return 0;
}

#define CHK(x) do { if ((x) < 0) return -1; } while (0)

int sdd_mamba_backend_register(sdd_mamba_backend *mb, sdd_params *ps, const sdd_mamba_cfg *cfg, sdd_err *e)
{
    memset(mb, 0, sizeof *mb);
    mb->cfg = *cfg;
    const int dm = cfg->d_model, di = cfg->expand * cfg->d_model, N = cfg->d_state, R = cfg->dt_rank;
    if (cfg->n_layer < 1 || cfg->n_layer > SDD_MAMBA_MAX_LAYERS || dm < 1 || di < 1 || N < 1 || R < 1 ||
        cfg->d_conv < 1 || cfg->d_conv > 64 || cfg->d_in < 1 || (size_t)di * N > 65536)
        return sdd_err_set(e, "XLSR-Mamba: unsupported sizes (d_model %d, layers %d, d_state %d, d_conv %d, expand %d, dt_rank %d)",
                           dm, cfg->n_layer, N, cfg->d_conv, cfg->expand, R);
    CHK(mb->LL_w = sdd_params_addf(ps, e, 1, 2, dm, cfg->d_in, 0, 0, "LL.weight"));
    CHK(mb->LL_b = sdd_params_addf(ps, e, 1, 1, dm, 0, 0, 0, "LL.bias"));
    CHK(mb->bn_w = sdd_params_addf(ps, e, 1, 1, 1, 0, 0, 0, "first_bn.weight"));
    CHK(mb->bn_b = sdd_params_addf(ps, e, 1, 1, 1, 0, 0, 0, "first_bn.bias"));
    CHK(mb->bn_rm = sdd_params_addf(ps, e, 0, 1, 1, 0, 0, 0, "first_bn.running_mean"));
    CHK(mb->bn_rv = sdd_params_addf(ps, e, 0, 1, 1, 0, 0, 0, "first_bn.running_var"));
    const char *stack[2] = { "forward_layers", "backward_layers" };
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < cfg->n_layer; l++) {
            sdd_mamba_layer_ix *L = &mb->layer[s][l];
            char p[80];
            snprintf(p, sizeof p, "conformer.%s.%d", stack[s], l);
            CHK(L->A_log = sdd_params_addf(ps, e, 1, 2, di, N, 0, 0, "%s.mixer.A_log", p));
            CHK(L->D = sdd_params_addf(ps, e, 1, 1, di, 0, 0, 0, "%s.mixer.D", p));
            CHK(L->in_proj = sdd_params_addf(ps, e, 1, 2, 2 * di, dm, 0, 0, "%s.mixer.in_proj.weight", p));
            CHK(L->conv_w = sdd_params_addf(ps, e, 1, 3, di, 1, cfg->d_conv, 0, "%s.mixer.conv1d.weight", p));
            CHK(L->conv_b = sdd_params_addf(ps, e, 1, 1, di, 0, 0, 0, "%s.mixer.conv1d.bias", p));
            CHK(L->x_proj = sdd_params_addf(ps, e, 1, 2, R + 2 * N, di, 0, 0, "%s.mixer.x_proj.weight", p));
            CHK(L->dt_w = sdd_params_addf(ps, e, 1, 2, di, R, 0, 0, "%s.mixer.dt_proj.weight", p));
            CHK(L->dt_b = sdd_params_addf(ps, e, 1, 1, di, 0, 0, 0, "%s.mixer.dt_proj.bias", p));
            CHK(L->out_proj = sdd_params_addf(ps, e, 1, 2, dm, di, 0, 0, "%s.mixer.out_proj.weight", p));
            CHK(L->norm = sdd_params_addf(ps, e, 1, 1, dm, 0, 0, 0, "%s.norm.weight", p));
        }
    CHK(mb->norm_f = sdd_params_addf(ps, e, 1, 1, dm, 0, 0, 0, "conformer.norm_f.weight"));
    CHK(mb->fpool_w = sdd_params_addf(ps, e, 1, 2, 1, dm, 0, 0, "conformer.f_attention_pool.weight"));
    CHK(mb->fpool_b = sdd_params_addf(ps, e, 1, 1, 1, 0, 0, 0, "conformer.f_attention_pool.bias"));
    CHK(mb->bpool_w = sdd_params_addf(ps, e, 1, 2, 1, dm, 0, 0, "conformer.b_attention_pool.weight"));
    CHK(mb->bpool_b = sdd_params_addf(ps, e, 1, 1, 1, 0, 0, 0, "conformer.b_attention_pool.bias"));
    CHK(mb->cLL_w = sdd_params_addf(ps, e, 1, 2, dm, 2 * dm, 0, 0, "conformer.LL.weight"));
    CHK(mb->cLL_b = sdd_params_addf(ps, e, 1, 1, dm, 0, 0, 0, "conformer.LL.bias"));
    CHK(mb->cls_w = sdd_params_addf(ps, e, 1, 2, 2, dm, 0, 0, "conformer.classifier.weight"));
    CHK(mb->cls_b = sdd_params_addf(ps, e, 1, 1, 2, 0, 0, 0, "conformer.classifier.bias"));
    return 0;
}

int sdd_mamba_backend_bind(sdd_mamba_backend *mb, const sdd_params *ps, sdd_err *e)
{
    free(mb->pt);
    mb->pt = calloc((size_t)ps->np, sizeof *mb->pt);
    if (!mb->pt) return sdd_err_set(e, "out of memory");
    for (int i = 0; i < ps->np; i++) mb->pt[i] = sdd_param_tensor(ps, i);
    return 0;
}

void sdd_mamba_backend_free(sdd_mamba_backend *mb)
{
    if (!mb) return;
    free(mb->pt);
    mb->pt = NULL;
}

/* U(-bound, bound) into n floats */
static void fill_uniform(float *x, size_t n, double bound, uint64_t key)
{
    for (size_t k = 0; k < n; k++) x[k] = (float)(bound * (2.0 * sdd_rng_uniform_d(key, k) - 1.0));
}

static void fill_const(float *x, size_t n, float v)
{
    for (size_t k = 0; k < n; k++) x[k] = v;
}

void sdd_mamba_backend_init(const sdd_mamba_backend *mb, sdd_params *ps, uint64_t seed)
{
    const sdd_mamba_cfg *cfg = &mb->cfg;
    const int dm = cfg->d_model, di = cfg->expand * dm, N = cfg->d_state, R = cfg->dt_rank;
    uint64_t ctr = 0;
#define KEY() sdd_rng_key(seed, 0x3a3ba, ctr++, 0)
#define PTR(i) sdd_params_ptr(ps, (i))
#define NUM(i) ps->p[(i)].numel
    /* PyTorch default for Linear (kaiming-uniform a = sqrt(5)): weight and bias U(+-1/sqrt(fan_in)) */
    const int lin[5][3] = { { mb->LL_w, mb->LL_b, cfg->d_in }, { mb->fpool_w, mb->fpool_b, dm },
                            { mb->bpool_w, mb->bpool_b, dm }, { mb->cLL_w, mb->cLL_b, 2 * dm }, { mb->cls_w, mb->cls_b, dm } };
    for (int i = 0; i < 5; i++) {
        fill_uniform(PTR(lin[i][0]), NUM(lin[i][0]), 1.0 / sqrt(lin[i][2]), KEY());
        fill_uniform(PTR(lin[i][1]), NUM(lin[i][1]), 1.0 / sqrt(lin[i][2]), KEY());
    }
    fill_const(PTR(mb->bn_w), 1, 1.0f);
    fill_const(PTR(mb->bn_b), 1, 0.0f);
    fill_const(PTR(mb->bn_rm), 1, 0.0f);
    fill_const(PTR(mb->bn_rv), 1, 1.0f);
    fill_const(PTR(mb->norm_f), NUM(mb->norm_f), 1.0f);
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < cfg->n_layer; l++) {
            const sdd_mamba_layer_ix *L = &mb->layer[s][l];
            fill_uniform(PTR(L->in_proj), NUM(L->in_proj), 1.0 / sqrt(dm), KEY());
            /* Conv1d groups = d_inner: fan_in = d_conv */
            fill_uniform(PTR(L->conv_w), NUM(L->conv_w), 1.0 / sqrt(cfg->d_conv), KEY());
            fill_uniform(PTR(L->conv_b), NUM(L->conv_b), 1.0 / sqrt(cfg->d_conv), KEY());
            fill_uniform(PTR(L->x_proj), NUM(L->x_proj), 1.0 / sqrt(di), KEY());
            fill_uniform(PTR(L->dt_w), NUM(L->dt_w), 1.0 / sqrt(R), KEY());
            const uint64_t kdt = KEY();
            float *db = PTR(L->dt_b);
            for (int d = 0; d < di; d++) {
                double dt = exp(sdd_rng_uniform_d(kdt, (uint64_t)d) * (log(0.1) - log(1e-3)) + log(1e-3));
                if (dt < 1e-4) dt = 1e-4;
                db[d] = (float)(dt + log(-expm1(-dt)));   /* softplus^-1(dt) */
            }
            float *al = PTR(L->A_log);
            for (int d = 0; d < di; d++)
                for (int k = 0; k < N; k++) al[(size_t)d * N + k] = (float)log((double)(k + 1));
            fill_const(PTR(L->D), NUM(L->D), 1.0f);
            fill_uniform(PTR(L->out_proj), NUM(L->out_proj), 1.0 / sqrt(di) / sqrt(cfg->n_layer), KEY());
            fill_const(PTR(L->norm), NUM(L->norm), 1.0f);
        }
#undef KEY
#undef PTR
#undef NUM
}

#define P(i) (&mb->pt[(i)])

/* One Mamba mixer: n (B, T, d_model) -> (B, T, d_model). */
static sdd_tensor *mixer(sdd_ctx *c, const sdd_mamba_backend *mb, const sdd_mamba_layer_ix *L, sdd_tensor *n)
{
    const int di = mb->cfg.expand * mb->cfg.d_model, N = mb->cfg.d_state, R = mb->cfg.dt_rank;
    sdd_tensor *xz = sdd_linear(c, n, P(L->in_proj), NULL);                    /* (B, T, 2 di) */
    sdd_tensor *x = sdd_slice_last(c, xz, 0, di), *z = sdd_slice_last(c, xz, di, di);
    x = sdd_silu(c, sdd_dwconv1d(c, x, P(L->conv_w), P(L->conv_b), mb->cfg.d_conv - 1, 0));  /* (B, T, di), causal */
    sdd_tensor *xd = sdd_linear(c, x, P(L->x_proj), NULL);                     /* (B, T, R + 2N) */
    sdd_tensor *dt = sdd_linear(c, sdd_slice_last(c, xd, 0, R), P(L->dt_w), NULL);
    sdd_tensor *y = sdd_selective_scan(c, x, dt, P(L->A_log), sdd_slice_last(c, xd, R, N), sdd_slice_last(c, xd, R + N, N),
                                       P(L->D), z, P(L->dt_b));
    return sdd_linear(c, y, P(L->out_proj), NULL);
}

/* One stack over x (B, T, d_model): the normalised output of the final norm. */
static sdd_tensor *stack(sdd_ctx *c, const sdd_mamba_backend *mb, int s, sdd_tensor *x, sdd_tensor *x_drop)
{
    const int ref = mb->cfg.final_norm == SDD_MAMBA_NORM_REFERENCE, nl = mb->cfg.n_layer;
    sdd_tensor *h = x, *res = NULL;
    for (int l = 0; l < nl; l++) {
        res = res ? sdd_add(c, h, res) : h;
        /* the reference discards the last block's output: not computed */
        if (ref && l == nl - 1) break;
        h = mixer(c, mb, &mb->layer[s][l], sdd_rmsnorm(c, res, P(mb->layer[s][l].norm), RMS_EPS));
    }
    return sdd_rmsnorm(c, sdd_add(c, ref ? x_drop : h, res), P(mb->norm_f), RMS_EPS);
}

sdd_tensor *sdd_mamba_backend_forward(sdd_ctx *c, const sdd_mamba_backend *mb, sdd_tensor *feat)
{
    if (!feat || c->failed) return NULL;
    const int dm = mb->cfg.d_model;
    if (feat->nd != 3 || feat->n[2] != mb->cfg.d_in) {
        sdd_err_set(&c->err, "XLSR-Mamba: features must be (B, T, %d)", mb->cfg.d_in);
        c->failed = 1;
        return NULL;
    }
    const int64_t B = feat->n[0], T = feat->n[1];
    sdd_tensor *x = sdd_linear(c, feat, P(mb->LL_w), P(mb->LL_b));             /* (B, T, dm) */
    const int64_t s1[3] = { B, 1, T * dm }, s3[3] = { B, T, dm };
    x = sdd_batchnorm(c, sdd_reshape(c, x, 3, s1), P(mb->bn_w), P(mb->bn_b), P(mb->bn_rm), P(mb->bn_rv), 0, BN_MOM, BN_EPS);
    x = sdd_reshape(c, sdd_selu(c, x), 3, s3);
    sdd_tensor *xd = sdd_dropout(c, x, DROP_P);
    sdd_tensor *f = stack(c, mb, 0, xd, xd);
    sdd_tensor *b = stack(c, mb, 1, sdd_flip_time(c, xd), xd);
    const int64_t sc[3] = { B, dm, 1 }, s2[2] = { B, 2 * dm };
    sdd_tensor *fp = sdd_reshape(c, sdd_attn_pool(c, f, P(mb->fpool_w), P(mb->fpool_b)), 3, sc);
    sdd_tensor *bp = sdd_reshape(c, sdd_attn_pool(c, b, P(mb->bpool_w), P(mb->bpool_b)), 3, sc);
    sdd_tensor *h = sdd_reshape(c, sdd_concat_nodes(c, fp, bp), 2, s2);       /* (B, 2 dm) */
    h = sdd_dropout(c, sdd_linear(c, h, P(mb->cLL_w), P(mb->cLL_b)), DROP_P);
    return sdd_linear(c, h, P(mb->cls_w), P(mb->cls_b));
}
