/* AASIST and AASIST-L (Jung et al. 2022), raw-waveform anti-spoofing, and
 * XLSR-AASIST (the same graph back-end on XLS-R features, reference-spec
 * section 2: LL, MaxPool2d(3,3) without |.|, residual blocks without pooling,
 * softmax-attention pooling over frequency and time), exactly
 * as the reference implementation computes them, including the quirks the
 * released weights depend on (reference-spec section 1): fixed sinc filters,
 * residual conv1 applied to the raw block input (bn1 computed only for its
 * running statistics), no activation after the residual add, top-k node order,
 * unexpanded master nodes, temperatures [2, 2, 100, 100].
 * Parameter names and order follow the PyTorch state dict. */
#include "models/model.h"
#include "models/xlsr.h"
#include "ops/ops.h"
#include "ops/seq.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-5f
#define BN_MOM 0.1f
#define SINC_C 70
#define SINC_K 129

typedef struct { int w, b; } lin_ix;
typedef struct { int w, b, rm, rv; } bn_ix;
typedef struct { int has_bn1, has_down; bn_ix bn1, bn2; lin_ix conv1, conv2, down; } res_ix;
typedef struct { int aw; lin_ix att_proj, pwa, pwoa; bn_ix bn; } gat_ix;
typedef struct { int aw11, aw22, aw12, awM; lin_ix pt1, pt2, att_proj, att_projM, pwa, pwoa, pwaM, pwoaM; bn_ix bn; } hs_ix;

typedef struct {
    int light;
    int ssl;                /* XLSR-AASIST: XLS-R front end, unpooled blocks, attention pooling */
    sdd_xlsr xl;
    lin_ix LL, att0, att3;  /* LL (128, E); attention convs 64->128 and 128->64 (1x1) */
    bn_ix first_bn1, att2;
    int nS;                 /* spectral nodes: 23 (sinc) or 42 (128 / 3) */
    int filts[6][2];        /* encoder channel pairs */
    int gat_dims[2];
    double pool_ratios[4];
    float temps[4];
    int pos_S, master1, master2;
    bn_ix first_bn;
    res_ix enc[6];
    gat_ix gat_S, gat_T;
    hs_ix st[4];            /* ST11, ST12, ST21, ST22 */
    lin_ix pool[6];         /* S, T, hS1, hT1, hS2, hT2 */
    lin_ix out;
    float filt[SINC_C * SINC_K];
    sdd_tensor *pt;         /* parameter tensor views, one per registered entry */
} aasist;

#define CHK(x) do { if ((x) < 0) return -1; } while (0)

static int reg_lin(sdd_params *ps, sdd_err *e, lin_ix *l, const char *pfx, int dout, int din)
{
    CHK(l->w = sdd_params_addf(ps, e, 1, 2, dout, din, 0, 0, "%s.weight", pfx));
    CHK(l->b = sdd_params_addf(ps, e, 1, 1, dout, 0, 0, 0, "%s.bias", pfx));
    return 0;
}

static int reg_conv(sdd_params *ps, sdd_err *e, lin_ix *l, const char *pfx, int cout, int cin, int kh, int kw)
{
    CHK(l->w = sdd_params_addf(ps, e, 1, 4, cout, cin, kh, kw, "%s.weight", pfx));
    CHK(l->b = sdd_params_addf(ps, e, 1, 1, cout, 0, 0, 0, "%s.bias", pfx));
    return 0;
}

static int reg_bn(sdd_params *ps, sdd_err *e, bn_ix *b, const char *pfx, int c)
{
    CHK(b->w = sdd_params_addf(ps, e, 1, 1, c, 0, 0, 0, "%s.weight", pfx));
    CHK(b->b = sdd_params_addf(ps, e, 1, 1, c, 0, 0, 0, "%s.bias", pfx));
    CHK(b->rm = sdd_params_addf(ps, e, 0, 1, c, 0, 0, 0, "%s.running_mean", pfx));
    CHK(b->rv = sdd_params_addf(ps, e, 0, 1, c, 0, 0, 0, "%s.running_var", pfx));
    return 0;
}

/* The fixed mel-spaced band-pass sinc filters (70, 129), bit for bit as the
 * reference builds them: band edges in double (numpy linspace semantics), the
 * sinc argument, the normalised sinc and its scale in float32 (the support
 * is a float32 tensor there), a float32 Hamming window (numpy's formula). */
static void sinc_filters(float *filt)
{
    const double sr = 16000.0;
    const double mel_max = 2595.0 * log10(1.0 + 8000.0 / 700.0);
    const double step = mel_max / SINC_C;
    double hz[SINC_C + 1];
    for (int i = 0; i <= SINC_C; i++) {
        const double m = i == SINC_C ? mel_max : (double)i * step;
        hz[i] = 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    }
    float win[SINC_K];
    for (int k = 0; k < SINC_K; k++) {
        const double nn = (double)(1 - SINC_K + 2 * k);
        win[k] = (float)(0.54 + 0.46 * cos(M_PI * nn / (SINC_K - 1)));
    }
    for (int i = 0; i < SINC_C; i++) {
        for (int k = 0; k < SINC_K; k++) {
            const float n = (float)(k - (SINC_K - 1) / 2);
            float lp[2];
            for (int e = 0; e < 2; e++) {
                const double fc = hz[i + 1 - e];
                const float arg = ((float)(2.0 * fc) * n) / (float)sr;
                const float y = (float)M_PI * (arg == 0.0f ? 1e-20f : arg);
                const float sn = (float)sin((double)y) / y;
                lp[e] = (float)(2.0 * fc / sr) * sn;
            }
            filt[i * SINC_K + k] = win[k] * (lp[0] - lp[1]);
        }
    }
}

static int aasist_register(aasist *a, sdd_params *ps, sdd_err *e)
{
    char p[96];
    const int d0 = a->gat_dims[0], d1 = a->gat_dims[1];
    CHK(a->pos_S = sdd_params_addf(ps, e, 1, 3, 1, a->nS, a->filts[5][1], 0, "pos_S"));
    CHK(a->master1 = sdd_params_addf(ps, e, 1, 3, 1, 1, d0, 0, "master1"));
    CHK(a->master2 = sdd_params_addf(ps, e, 1, 3, 1, 1, d0, 0, "master2"));
    if (a->ssl) {
        CHK(sdd_xlsr_register(&a->xl, ps, "ssl_model.model.", &a->xl.cfg, e));
        CHK(reg_lin(ps, e, &a->LL, "LL", 128, a->xl.cfg.embed));
    }
    CHK(reg_bn(ps, e, &a->first_bn, "first_bn", 1));
    if (a->ssl) CHK(reg_bn(ps, e, &a->first_bn1, "first_bn1", a->filts[5][1]));
    for (int i = 0; i < 6; i++) {
        res_ix *r = &a->enc[i];
        const int cin = a->filts[i][0], cout = a->filts[i][1];
        r->has_bn1 = i > 0;
        r->has_down = cin != cout;
        if (r->has_bn1) { snprintf(p, sizeof p, "encoder.%d.0.bn1", i); CHK(reg_bn(ps, e, &r->bn1, p, cin)); }
        snprintf(p, sizeof p, "encoder.%d.0.conv1", i); CHK(reg_conv(ps, e, &r->conv1, p, cout, cin, 2, 3));
        snprintf(p, sizeof p, "encoder.%d.0.bn2", i); CHK(reg_bn(ps, e, &r->bn2, p, cout));
        snprintf(p, sizeof p, "encoder.%d.0.conv2", i); CHK(reg_conv(ps, e, &r->conv2, p, cout, cout, 2, 3));
        if (r->has_down) { snprintf(p, sizeof p, "encoder.%d.0.conv_downsample", i); CHK(reg_conv(ps, e, &r->down, p, cout, cin, 1, 3)); }
    }
    const int fe = a->filts[5][1];
    if (a->ssl) {
        CHK(reg_conv(ps, e, &a->att0, "attention.0", 128, fe, 1, 1));
        CHK(reg_bn(ps, e, &a->att2, "attention.2", 128));
        CHK(reg_conv(ps, e, &a->att3, "attention.3", fe, 128, 1, 1));
    }
    gat_ix *g[2] = { &a->gat_S, &a->gat_T };
    const char *gn[2] = { "GAT_layer_S", "GAT_layer_T" };
    for (int i = 0; i < 2; i++) {
        CHK(g[i]->aw = sdd_params_addf(ps, e, 1, 2, d0, 1, 0, 0, "%s.att_weight", gn[i]));
        snprintf(p, sizeof p, "%s.att_proj", gn[i]); CHK(reg_lin(ps, e, &g[i]->att_proj, p, d0, fe));
        snprintf(p, sizeof p, "%s.proj_with_att", gn[i]); CHK(reg_lin(ps, e, &g[i]->pwa, p, d0, fe));
        snprintf(p, sizeof p, "%s.proj_without_att", gn[i]); CHK(reg_lin(ps, e, &g[i]->pwoa, p, d0, fe));
        snprintf(p, sizeof p, "%s.bn", gn[i]); CHK(reg_bn(ps, e, &g[i]->bn, p, d0));
    }
    const char *sn[4] = { "HtrgGAT_layer_ST11", "HtrgGAT_layer_ST12", "HtrgGAT_layer_ST21", "HtrgGAT_layer_ST22" };
    for (int i = 0; i < 4; i++) {
        hs_ix *h = &a->st[i];
        const int din = (i % 2 == 0) ? d0 : d1, dout = d1;
        CHK(h->aw11 = sdd_params_addf(ps, e, 1, 2, dout, 1, 0, 0, "%s.att_weight11", sn[i]));
        CHK(h->aw22 = sdd_params_addf(ps, e, 1, 2, dout, 1, 0, 0, "%s.att_weight22", sn[i]));
        CHK(h->aw12 = sdd_params_addf(ps, e, 1, 2, dout, 1, 0, 0, "%s.att_weight12", sn[i]));
        CHK(h->awM = sdd_params_addf(ps, e, 1, 2, dout, 1, 0, 0, "%s.att_weightM", sn[i]));
        struct { lin_ix *l; const char *n; int o, in; } L[8] = {
            { &h->pt1, "proj_type1", din, din }, { &h->pt2, "proj_type2", din, din },
            { &h->att_proj, "att_proj", dout, din }, { &h->att_projM, "att_projM", dout, din },
            { &h->pwa, "proj_with_att", dout, din }, { &h->pwoa, "proj_without_att", dout, din },
            { &h->pwaM, "proj_with_attM", dout, din }, { &h->pwoaM, "proj_without_attM", dout, din } };
        for (int k = 0; k < 8; k++) { snprintf(p, sizeof p, "%s.%s", sn[i], L[k].n); CHK(reg_lin(ps, e, L[k].l, p, L[k].o, L[k].in)); }
        snprintf(p, sizeof p, "%s.bn", sn[i]); CHK(reg_bn(ps, e, &h->bn, p, dout));
    }
    const char *pn[6] = { "pool_S", "pool_T", "pool_hS1", "pool_hT1", "pool_hS2", "pool_hT2" };
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s.proj", pn[i]);
        CHK(reg_lin(ps, e, &a->pool[i], p, 1, i < 2 ? d0 : d1));
    }
    CHK(reg_lin(ps, e, &a->out, "out_layer", 2, 5 * d1));
    return 0;
}

#define P(i) (&a->pt[(i)])

static sdd_tensor *bn(sdd_ctx *c, aasist *a, sdd_tensor *x, const bn_ix *b, int cl)
{
    return sdd_batchnorm(c, x, P(b->w), P(b->b), P(b->rm), P(b->rv), cl, BN_MOM, BN_EPS);
}

static sdd_tensor *lin(sdd_ctx *c, aasist *a, sdd_tensor *x, const lin_ix *l)
{
    return sdd_linear(c, x, P(l->w), P(l->b));
}

static sdd_tensor *res_block(sdd_ctx *c, aasist *a, sdd_tensor *x, const res_ix *r)
{
    if (r->has_bn1) sdd_bn_track(c, x, P(r->bn1.rm), P(r->bn1.rv), BN_MOM);
    const sdd_resblock_params p = {
        .w1 = P(r->conv1.w), .b1 = P(r->conv1.b),
        .gamma = P(r->bn2.w), .beta = P(r->bn2.b), .rmean = P(r->bn2.rm), .rvar = P(r->bn2.rv),
        .w2 = P(r->conv2.w), .b2 = P(r->conv2.b),
        .wd = r->has_down ? P(r->down.w) : NULL, .bd = r->has_down ? P(r->down.b) : NULL,
        .ph1 = 1, .pw1 = 1, .ph2 = 0, .pw2 = 1, .phd = 0, .pwd = 1,
        .momentum = BN_MOM, .eps = BN_EPS,
    };
    return sdd_resblock(c, x, &p);
}

static sdd_tensor *gat(sdd_ctx *c, aasist *a, sdd_tensor *x, const gat_ix *g, float tau)
{
    x = sdd_dropout(c, x, 0.2f);
    if (!x) return NULL;
    sdd_tensor *A = sdd_pair_attn(c, x, P(g->att_proj.w), P(g->att_proj.b), P(g->aw), NULL, NULL, (int)x->n[1], tau);
    sdd_tensor *y = sdd_add(c, lin(c, a, sdd_bmm(c, A, x), &g->pwa), lin(c, a, x, &g->pwoa));
    return sdd_selu(c, bn(c, a, y, &g->bn, 1));
}

/* HS-GAL: (T, S, master) -> (T', S', master') */
static int hsgal(sdd_ctx *c, aasist *a, sdd_tensor **T, sdd_tensor **S, sdd_tensor **m, const hs_ix *h, float tau)
{
    if (!*T || !*S || !*m) return -1;
    const int nT = (int)(*T)->n[1], nS = (int)(*S)->n[1];
    sdd_tensor *x = sdd_concat_nodes(c, lin(c, a, *T, &h->pt1), lin(c, a, *S, &h->pt2));
    x = sdd_dropout(c, x, 0.2f);
    if (!x) return -1;
    sdd_tensor *A = sdd_pair_attn(c, x, P(h->att_proj.w), P(h->att_proj.b), P(h->aw11), P(h->aw22), P(h->aw12), nT, tau);
    sdd_tensor *ma = sdd_master_attn(c, x, *m, P(h->att_projM.w), P(h->att_projM.b), P(h->awM), tau);
    sdd_tensor *mn = sdd_add(c, lin(c, a, ma, &h->pwaM), lin(c, a, *m, &h->pwoaM));
    sdd_tensor *y = sdd_add(c, lin(c, a, sdd_bmm(c, A, x), &h->pwa), lin(c, a, x, &h->pwoa));
    y = sdd_selu(c, bn(c, a, y, &h->bn, 1));
    *T = sdd_slice_nodes(c, y, 0, nT);
    *S = sdd_slice_nodes(c, y, nT, nS);
    *m = mn;
    return (*T && *S && *m) ? 0 : -1;
}

static sdd_tensor *gpool(sdd_ctx *c, aasist *a, sdd_tensor *h, int which, double ratio)
{
    return sdd_graph_pool(c, h, P(a->pool[which].w), P(a->pool[which].b), ratio, 0.3f);
}

/* XLSR-AASIST's residual block: as res_block without the pooling, from separate ops */
static sdd_tensor *res_block_nopool(sdd_ctx *c, aasist *a, sdd_tensor *x, const res_ix *r)
{
    if (!x) return NULL;
    if (r->has_bn1) sdd_bn_track(c, x, P(r->bn1.rm), P(r->bn1.rv), BN_MOM);
    sdd_tensor *z = sdd_conv2d(c, x, P(r->conv1.w), P(r->conv1.b), 1, 1);
    z = sdd_conv2d(c, sdd_selu(c, bn(c, a, z, &r->bn2, 0)), P(r->conv2.w), P(r->conv2.b), 0, 1);
    sdd_tensor *skip = r->has_down ? sdd_conv2d(c, x, P(r->down.w), P(r->down.b), 0, 1) : x;
    return sdd_add(c, z, skip);
}

/* graph back-end from the spectral (B, nS, C) and temporal (B, nT, C) node features to logits (B, 2) */
static sdd_tensor *graph_tail(sdd_ctx *c, aasist *a, sdd_tensor *eS, sdd_tensor *eT, int B);

static sdd_tensor *aasist_forward(sdd_ctx *c, sdd_model *m, sdd_tensor *wave)
{
    aasist *a = m->impl;
    if (!wave) return NULL;
    const int B = (int)wave->n[0];
    if (a->ssl) {
        sdd_tensor *h = sdd_xlsr_forward(c, &a->xl, wave);                                             /* (B, T, 1024) */
        sdd_prof_family(c, SDD_FAM_CONV2D);
        h = sdd_linear(c, h, P(a->LL.w), P(a->LL.b));                                                  /* (B, T, 128) */
        h = sdd_transpose12(c, h);                                                                      /* (B, 128, T) */
        if (!h) return NULL;
        int64_t s4[4] = { B, 1, h->n[1], h->n[2] };
        h = sdd_maxpool2d(c, sdd_reshape(c, h, 4, s4), 3, 3);                                           /* (B, 1, 42, T/3) */
        h = sdd_selu(c, bn(c, a, h, &a->first_bn, 0));
        for (int i = 0; i < 6; i++) h = res_block_nopool(c, a, h, &a->enc[i]);                         /* (B, 64, 42, W) */
        h = sdd_selu(c, bn(c, a, h, &a->first_bn1, 0));
        sdd_tensor *w = sdd_selu(c, sdd_conv2d(c, h, P(a->att0.w), P(a->att0.b), 0, 0));
        w = sdd_conv2d(c, bn(c, a, w, &a->att2, 0), P(a->att3.w), P(a->att3.b), 0, 0);                 /* (B, 64, 42, W) */
        sdd_prof_family(c, SDD_FAM_GRAPH);
        sdd_tensor *eS = sdd_add(c, sdd_softmax_pool(c, h, w, 3), sdd_expand_batch(c, P(a->pos_S), B));  /* (B, 42, 64) */
        sdd_tensor *y = graph_tail(c, a, eS, sdd_softmax_pool(c, h, w, 2), B);                         /* eT (B, W, 64) */
        sdd_prof_family(c, SDD_FAM_OTHER);
        return y;
    }
    /* layer families for bench_sdd --profile: sinc front end, the 2-D residual
     * encoder (with its input BatchNorm), the graph back end from the node features on */
    sdd_prof_family(c, SDD_FAM_SINC);
    sdd_tensor *x = sdd_sinc_front(c, wave, a->filt, SINC_C, SINC_K);   /* (B, 1, 23, W) */
    sdd_prof_family(c, SDD_FAM_CONV2D);
    x = sdd_selu(c, bn(c, a, x, &a->first_bn, 0));
    for (int i = 0; i < 6; i++) x = res_block(c, a, x, &a->enc[i]);   /* (B, C, 23, W') */
    sdd_prof_family(c, SDD_FAM_GRAPH);
    if (!x) return NULL;
    sdd_tensor *eS = sdd_add(c, sdd_absmax_axis(c, x, 3), sdd_expand_batch(c, P(a->pos_S), B));  /* (B, 23, C) */
    sdd_tensor *y = graph_tail(c, a, eS, sdd_absmax_axis(c, x, 2), B);                            /* eT (B, W', C) */
    sdd_prof_family(c, SDD_FAM_OTHER);
    return y;
}

static sdd_tensor *graph_tail(sdd_ctx *c, aasist *a, sdd_tensor *eS, sdd_tensor *eT, int B)
{
    sdd_tensor *oS = gpool(c, a, gat(c, a, eS, &a->gat_S, a->temps[0]), 0, a->pool_ratios[0]);
    sdd_tensor *oT = gpool(c, a, gat(c, a, eT, &a->gat_T, a->temps[1]), 1, a->pool_ratios[1]);
    sdd_tensor *Tb[2], *Sb[2], *Mb[2];
    const int mp[2] = { a->master1, a->master2 };
    for (int br = 0; br < 2; br++) {
        sdd_tensor *T = oT, *S = oS, *M = sdd_expand_batch(c, P(mp[br]), B);
        if (hsgal(c, a, &T, &S, &M, &a->st[2 * br], a->temps[2])) return NULL;
        S = gpool(c, a, S, 2 + 2 * br, a->pool_ratios[2]);
        T = gpool(c, a, T, 3 + 2 * br, a->pool_ratios[2]);
        sdd_tensor *Ta = T, *Sa = S, *Ma = M;
        if (hsgal(c, a, &Ta, &Sa, &Ma, &a->st[2 * br + 1], a->temps[2])) return NULL;
        Tb[br] = sdd_dropout(c, sdd_add(c, T, Ta), 0.2f);
        Sb[br] = sdd_dropout(c, sdd_add(c, S, Sa), 0.2f);
        Mb[br] = sdd_dropout(c, sdd_add(c, M, Ma), 0.2f);
    }
    sdd_tensor *h = sdd_readout(c, sdd_max2(c, Tb[0], Tb[1]), sdd_max2(c, Sb[0], Sb[1]), sdd_max2(c, Mb[0], Mb[1]));
    h = sdd_dropout(c, h, 0.5f);
    return lin(c, a, h, &a->out);
}

static void aasist_free(void *impl)
{
    aasist *a = impl;
    if (a) free(a->pt);
    free(a);
}

/* XLSR-AASIST defaults the generic initialisation does not know: LayerNorm and
 * attention BatchNorm weight 1 / bias 0, weight-norm g = ||v|| */
static void xlsr_aasist_post_init(sdd_model *m)
{
    aasist *a = m->impl;
    sdd_params *ps = &m->params;
    sdd_xlsr_init_defaults(&a->xl, ps);
    for (size_t k = 0; k < ps->p[a->att2.w].numel; k++) {
        sdd_params_ptr(ps, a->att2.w)[k] = 1.0f;
        sdd_params_ptr(ps, a->att2.b)[k] = 0.0f;
    }
}

/* light: AASIST-L; xcfg: XLSR-AASIST with that XLS-R configuration (NULL: sinc front end) */
static int create(sdd_model *m, int light, const sdd_xlsr_config *xcfg, sdd_err *e)
{
    aasist *a = calloc(1, sizeof *a);
    if (!a) return sdd_err_set(e, "out of memory");
    m->impl = a;
    m->free_impl = aasist_free;
    m->forward = aasist_forward;
    /* every op of the sinc front end, the XLS-R front end and both back ends has a CUDA kernel */
    m->cuda_ok = 1;
    a->light = light;
    a->ssl = xcfg != NULL;
    a->nS = a->ssl ? 42 : 23;
    const int full[6][2] = { { 1, 32 }, { 32, 32 }, { 32, 64 }, { 64, 64 }, { 64, 64 }, { 64, 64 } };
    const int lite[6][2] = { { 1, 32 }, { 32, 32 }, { 32, 24 }, { 24, 24 }, { 24, 24 }, { 24, 24 } };
    memcpy(a->filts, light ? lite : full, sizeof a->filts);
    a->gat_dims[0] = light ? 24 : 64;
    a->gat_dims[1] = 32;
    const double pr_full[4] = { 0.5, 0.7, 0.5, 0.5 }, pr_lite[4] = { 0.4, 0.5, 0.7, 0.5 }, pr_ssl[4] = { 0.5, 0.5, 0.5, 0.5 };
    memcpy(a->pool_ratios, a->ssl ? pr_ssl : light ? pr_lite : pr_full, sizeof a->pool_ratios);
    const float temps[4] = { 2.0f, 2.0f, 100.0f, 100.0f };
    memcpy(a->temps, temps, sizeof temps);
    if (a->ssl) {
        a->xl.cfg = *xcfg;
        m->nb_samp = 66800;
        /* three XLS-R frames: the 3x3 pool needs one column */
        int64_t hop = 1;
        for (int i = 0; i < xcfg->nconv; i++) hop *= xcfg->conv_s[i];
        m->min_samples = (int)(sdd_xlsr_min_samples(xcfg) + 2 * hop);
        m->post_init = xlsr_aasist_post_init;
        snprintf(m->config, sizeof m->config,
                 "{\"nb_samp\": 66800, \"ssl\": {\"conv_dim\": %d, \"embed\": %d, \"layers\": %d, \"heads\": %d, "
                 "\"ffn\": %d, \"pos_conv\": [%d, %d]}, \"LL\": 128, \"filts\": [128, [1, 32], [32, 32], [32, 64], [64, 64]], "
                 "\"gat_dims\": [64, 32], \"pool_ratios\": [0.5, 0.5, 0.5, 0.5], \"temperatures\": [2.0, 2.0, 100.0, 100.0]}",
                 xcfg->conv_dim[0], xcfg->embed, xcfg->layers, xcfg->heads, xcfg->ffn, xcfg->pos_k, xcfg->pos_groups);
        snprintf(m->arch, sizeof m->arch, "%s", xcfg->embed == 1024 && xcfg->layers == 24 ? "XLSR-AASIST" : "XLSR-AASIST-tiny");
    } else {
        m->nb_samp = 64600;
        /* sinc (129) + 3x3 pool + six (1,3) pools must leave at least one time frame */
        m->min_samples = SINC_K - 1 + 3 * 729;
        sinc_filters(a->filt);
        snprintf(m->config, sizeof m->config,
                 "{\"nb_samp\": 64600, \"first_conv\": 128, \"filts\": [70, [1, 32], [32, 32], [32, %d], [%d, %d]], "
                 "\"gat_dims\": [%d, %d], \"pool_ratios\": [%g, %g, %g, %g], \"temperatures\": [2.0, 2.0, 100.0, 100.0]}",
                 a->filts[2][1], a->filts[3][0], a->filts[3][1], a->gat_dims[0], a->gat_dims[1],
                 a->pool_ratios[0], a->pool_ratios[1], a->pool_ratios[2], a->pool_ratios[3]);
        snprintf(m->arch, sizeof m->arch, "%s", light ? "AASIST-L" : "AASIST");
    }
    if (aasist_register(a, &m->params, e)) return -1;
    if (sdd_params_alloc(&m->params, e)) return -1;
    a->pt = calloc((size_t)m->params.np, sizeof *a->pt);
    if (!a->pt) return sdd_err_set(e, "out of memory");
    for (int i = 0; i < m->params.np; i++) a->pt[i] = sdd_param_tensor(&m->params, i);
    if (a->ssl) {
        sdd_xlsr_bind(&a->xl, a->pt);
        m->ssl = &a->xl;
    }
    /* BatchNorm defaults: weight 1, running_var 1 */
    for (int i = 0; i < m->params.np; i++) {
        const char *n = m->params.p[i].name;
        size_t L = strlen(n);
        int ones = (L > 12 && strcmp(n + L - 12, ".running_var") == 0) ||
                   (strstr(n, "bn") && L > 7 && strcmp(n + L - 7, ".weight") == 0);
        if (ones) for (size_t k = 0; k < m->params.p[i].numel; k++) sdd_params_ptr(&m->params, i)[k] = 1.0f;
    }
    if (m->post_init) m->post_init(m);
    return 0;
}

int sdd_aasist_create(sdd_model *m, int light, sdd_err *e) { return create(m, light, NULL, e); }

int sdd_xlsr_aasist_create(sdd_model *m, const sdd_xlsr_config *cfg, sdd_err *e) { return create(m, 0, cfg, e); }

/* The fixed sinc filter bank (70, 129) of an AASIST model, for tests. */
const float *sdd_aasist_filters(const sdd_model *m)
{
    return ((const aasist *)m->impl)->filt;
}
