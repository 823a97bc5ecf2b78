/* The Mamba back-end's ops (declared in mamba.h): RMSNorm, SiLU, softplus,
 * the depthwise Conv1d (causal for Mamba, "same" for the Conformer), the selective scan (forward and exact
 * reverse-time backward with chunked state recomputation), attention pooling
 * over time, time flip and last-dim slicing. Parameter gradients go to each
 * sample's segment buffer; every reduction runs in a fixed order (per-sample
 * partial sums in double, added in sample order), so results do not depend on
 * the thread count. */
#include "ops/mamba.h"
#include "ops/internal.h"
#include "ops/exp_nonpos.h"
#include <math.h>
#include <string.h>

static void *op_fail(sdd_ctx *c, const char *what)
{
    if (!c->failed) sdd_err_set(&c->err, "%s", what);
    c->failed = 1;
    return NULL;
}

/* Gradient slot of t for the samples of segment s: the per-path buffer of a
 * parameter, the (shared) gradient of an activation; NULL when none is wanted. */
static float *grad_slot(sdd_ctx *c, sdd_tensor *t, int s)
{
    if (!t || !sdd_wants(c, t)) return NULL;
    return t->pidx >= 0 ? sdd_pgrad(c, t, s) : sdd_grad_of(c, t);
}

static inline float sigmoidf_(float v) { return 1.0f / (1.0f + expf(-v)); }
static inline float softplusf_(float v) { return v > 20.0f ? v : log1pf(expf(v)); }

typedef struct {
    sdd_tensor *in[8], *out;
    float *aux, *aux2;       /* op-specific saved values */
    float eps;
    int k0, k1;
} seq_node;

static seq_node *seq_push(sdd_ctx *c, sdd_backward_fn fn, sdd_tensor *out, int nin, sdd_tensor **in)
{
    out->rg = 0;
    for (int i = 0; i < nin; i++) out->rg |= sdd_wants(c, in[i]);
    if (!c->grad || !out->rg) return (seq_node *)1;   /* nothing to record */
    seq_node *n = sdd_scratch0(c, sizeof *n);
    if (!n) return NULL;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    n->out = out;
    if (sdd_tape_push(c, fn, n)) return NULL;
    return n;
}
#define SEQ_RECORDED(n) ((n) != (seq_node *)1)

/* ---- RMSNorm ---- */

static void rmsnorm_backward(sdd_ctx *c, void *vn)
{
    seq_node *n = vn;
    if (!n->out->g) return;
    sdd_tensor *x = n->in[0], *w = n->in[1];
    const int64_t D = x->n[x->nd - 1], R = (int64_t)(sdd_numel(x) / (size_t)D), rps = R / x->n[0];
    const float *dy = n->out->g, *rstd = n->aux;
    if (sdd_wants(c, x)) {
        float *dx = sdd_grad_of(c, x);
        if (!dx) return;
        #pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            const float *xr = x->x + r * D, *g = dy + r * D;
            double s = 0.0;
            for (int64_t d = 0; d < D; d++) s += (double)g[d] * w->x[d] * xr[d];
            const double is = rstd[r], k = s * is * is / (double)D;
            for (int64_t d = 0; d < D; d++) dx[r * D + d] += (float)(is * ((double)g[d] * w->x[d] - xr[d] * k));
        }
    }
    double *acc = sdd_scratch(c, (size_t)D * sizeof(double));
    if (!acc) return;
    for (int s = 0; s < c->nseg; s++) {
        float *gw = grad_slot(c, w, s);
        if (!gw) continue;
        for (int64_t d = 0; d < D; d++) acc[d] = 0.0;
        for (int64_t r = sdd_ctx_seg_begin(c, s) * rps; r < c->seg_end[s] * rps; r++)
            for (int64_t d = 0; d < D; d++) acc[d] += (double)dy[r * D + d] * x->x[r * D + d] * rstd[r];
        for (int64_t d = 0; d < D; d++) gw[d] += (float)acc[d];
    }
}

sdd_tensor *sdd_rmsnorm(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, float eps)
{
    if (!x || !w || c->failed) return NULL;
    const int64_t D = x->n[x->nd - 1];
    if (sdd_numel(w) != (size_t)D) return op_fail(c, "rmsnorm: weight size differs from the last dim");
    SDD_ON_DEVICE(c, sdd_cu_rmsnorm(c, x, w, eps));
    const int64_t R = (int64_t)(sdd_numel(x) / (size_t)D);
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    float *rstd = sdd_scratch(c, (size_t)R * sizeof(float));
    if (!out || !rstd) return NULL;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->x + r * D;
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) ss += (double)xr[d] * xr[d];
        rstd[r] = (float)(1.0 / sqrt(ss / (double)D + (double)eps));
        for (int64_t d = 0; d < D; d++) out->x[r * D + d] = xr[d] * rstd[r] * w->x[d];
    }
    sdd_tensor *in[2] = { x, w };
    seq_node *n = seq_push(c, rmsnorm_backward, out, 2, in);
    if (!n) return NULL;
    if (SEQ_RECORDED(n)) n->aux = rstd;
    return out;
}

/* ---- SiLU, softplus ---- */

static void silu_backward(sdd_ctx *c, void *vn)
{
    seq_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->in[0]);
    if (!dx) return;
    const size_t m = sdd_numel(n->out);
    const float *x = n->in[0]->x, *dy = n->out->g;
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < m; k++) {
        const float s = sigmoidf_(x[k]);
        dx[k] += dy[k] * s * (1.0f + x[k] * (1.0f - s));
    }
}

sdd_tensor *sdd_silu(sdd_ctx *c, sdd_tensor *x)
{
    if (!x || c->failed) return NULL;
    SDD_ON_DEVICE(c, sdd_cu_silu(c, x));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    const size_t m = sdd_numel(x);
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < m; k++) out->x[k] = x->x[k] * sigmoidf_(x->x[k]);
    return seq_push(c, silu_backward, out, 1, &x) ? out : NULL;
}

static void softplus_backward(sdd_ctx *c, void *vn)
{
    seq_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->in[0]);
    if (!dx) return;
    const size_t m = sdd_numel(n->out);
    const float *x = n->in[0]->x, *dy = n->out->g;
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < m; k++) dx[k] += x[k] > 20.0f ? dy[k] : dy[k] * sigmoidf_(x[k]);
}

sdd_tensor *sdd_softplus(sdd_ctx *c, sdd_tensor *x)
{
    if (!x || c->failed) return NULL;
    /* no model uses it on its own (the selective scan fuses its softplus), so no kernel:
     * a device context gets a reason instead of a host loop over device memory */
    SDD_ON_DEVICE(c, sdd_cu_unsupported(c, "softplus"));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    const size_t m = sdd_numel(x);
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < m; k++) out->x[k] = softplusf_(x->x[k]);
    return seq_push(c, softplus_backward, out, 1, &x) ? out : NULL;
}

/* ---- depthwise Conv1d ---- */

static void dwconv_backward(sdd_ctx *c, void *vn)
{
    seq_node *n = vn;
    if (!n->out->g) return;
    sdd_tensor *x = n->in[0], *w = n->in[1], *bias = n->in[2];
    const int B = (int)x->n[0], T = (int)x->n[1], C = (int)x->n[2], K = (int)w->n[w->nd - 1];
    const int To = (int)n->out->n[1], pl = n->k0;
    const float *dy = n->out->g;
    if (sdd_wants(c, x)) {
        float *dx = sdd_grad_of(c, x);
        if (!dx) return;
        /* x[t] feeds y[t - k + pl] through tap k */
        #pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int k = 0; k < K; k++) {
                    const int to = t - k + pl;
                    if (to < 0 || to >= To) continue;
                    const float *g = dy + ((size_t)b * To + to) * C;
                    float *d = dx + ((size_t)b * T + t) * C;
                    for (int ch = 0; ch < C; ch++) d[ch] += g[ch] * w->x[(size_t)ch * K + k];
                }
    }
    for (int s = 0; s < c->nseg; s++) {
        float *gw = grad_slot(c, w, s), *gb = grad_slot(c, bias, s);
        if (!gw && !gb) continue;
        const int b0 = sdd_ctx_seg_begin(c, s), b1 = c->seg_end[s];
        #pragma omp parallel for schedule(static)
        for (int ch = 0; ch < C; ch++) {
            double aw[SDD_DWCONV_MAXK] = { 0 }, ab = 0.0;
            for (int b = b0; b < b1; b++)
                for (int t = 0; t < To; t++) {
                    const double g = dy[((size_t)b * To + t) * C + ch];
                    ab += g;
                    for (int k = 0; k < K; k++) {
                        const int ti = t + k - pl;
                        if (ti >= 0 && ti < T) aw[k] += g * x->x[((size_t)b * T + ti) * C + ch];
                    }
                }
            if (gw) for (int k = 0; k < K; k++) gw[(size_t)ch * K + k] += (float)aw[k];
            if (gb) gb[ch] += (float)ab;
        }
    }
}

sdd_tensor *sdd_dwconv1d(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *bias, int pad_left, int pad_right)
{
    if (!x || !w || c->failed) return NULL;
    if (x->nd != 3) return op_fail(c, "depthwise conv1d: input must be (B, T, C)");
    const int B = (int)x->n[0], T = (int)x->n[1], C = (int)x->n[2], K = (int)w->n[w->nd - 1];
    if (w->n[0] != C || sdd_numel(w) != (size_t)C * K || K > SDD_DWCONV_MAXK || (bias && sdd_numel(bias) != (size_t)C))
        return op_fail(c, "depthwise conv1d: weight must be (C, 1, K <= 64), bias (C)");
    const int To = T + pad_left + pad_right - K + 1;
    if (pad_left < 0 || pad_right < 0 || To < 1) return op_fail(c, "depthwise conv1d: bad padding or sequence shorter than the kernel");
    SDD_ON_DEVICE(c, sdd_cu_dwconv1d(c, x, w, bias, pad_left, pad_right));
    sdd_tensor *out = sdd_new3(c, B, To, C);
    if (!out) return NULL;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < To; t++) {
            float *y = out->x + ((size_t)b * To + t) * C;
            for (int ch = 0; ch < C; ch++) y[ch] = bias ? bias->x[ch] : 0.0f;
            for (int k = 0; k < K; k++) {
                const int ti = t + k - pad_left;
                if (ti < 0 || ti >= T) continue;
                const float *xi = x->x + ((size_t)b * T + ti) * C;
                for (int ch = 0; ch < C; ch++) y[ch] += w->x[(size_t)ch * K + k] * xi[ch];
            }
        }
    sdd_tensor *in[3] = { x, w, bias };
    seq_node *n = seq_push(c, dwconv_backward, out, bias ? 3 : 2, in);
    if (!n) return NULL;
    if (SEQ_RECORDED(n)) n->k0 = pad_left;
    return out;
}

/* ---- selective scan ---- */

typedef struct {
    sdd_tensor *u, *dt, *A_log, *Bm, *Cm, *Dskip, *z, *dt_bias, *out;
    float *hsave;            /* (B, nch, Di, N): the state before each chunk's first step */
    float *A;                /* (Di, N) -exp(A_log) */
    float *delta;            /* (B, T, Di) softplus(dt + dt_bias) */
} scan_node;

/* The recurrence of sample b over steps [t0, t1) from state h (Di, N), updated in
 * place. ys (when not NULL) gets y_t before the skip term and the gating;
 * hist and decay (when not NULL) get the state after every step and the
 * factors exp(delta_t A) of every step, each (t1 - t0, Di, N); abuf (N) is
 * work space used when decay is NULL. */
static void scan_steps(const scan_node *n, int b, int t0, int t1, float *h, float *ys, float *hist, float *decay, float *abuf)
{
    const int T = (int)n->u->n[1], Di = (int)n->u->n[2], N = (int)n->A_log->n[1];
    const float *A = n->A;
    for (int t = t0; t < t1; t++) {
        const size_t r = (size_t)b * T + t;
        const float *u = n->u->x + r * Di, *delta = n->delta + r * Di;
        const float *Bt = n->Bm->x + r * N, *Ct = n->Cm->x + r * N;
        float *dec = decay ? decay + (size_t)(t - t0) * Di * N : NULL;
        for (int d = 0; d < Di; d++) {
            const float du = delta[d] * u[d], *Ad = A + (size_t)d * N;
            float *hd = h + (size_t)d * N, *a = dec ? dec + (size_t)d * N : abuf, y = 0.0f;
            for (int k = 0; k < N; k++) a[k] = sdd_exp_nonpos(delta[d] * Ad[k]);
            for (int k = 0; k < N; k++) hd[k] = a[k] * hd[k] + du * Bt[k];
            for (int k = 0; k < N; k++) y += Ct[k] * hd[k];
            if (ys) ys[r * Di + d] = y;
        }
        if (hist) memcpy(hist + (size_t)(t - t0) * Di * N, h, (size_t)Di * N * sizeof(float));
    }
}

static void scan_backward(sdd_ctx *c, void *vn)
{
    scan_node *n = vn;
    if (!n->out->g) return;
    const int B = (int)n->u->n[0], T = (int)n->u->n[1], Di = (int)n->u->n[2], N = (int)n->A_log->n[1];
    const int K = SDD_SCAN_CHUNK, nch = (T + K - 1) / K;
    const size_t DN = (size_t)Di * N;
    float *du = sdd_wants(c, n->u) ? sdd_grad_of(c, n->u) : NULL;
    float *ddt = sdd_wants(c, n->dt) ? sdd_grad_of(c, n->dt) : NULL;
    float *dB = sdd_wants(c, n->Bm) ? sdd_grad_of(c, n->Bm) : NULL;
    float *dC = sdd_wants(c, n->Cm) ? sdd_grad_of(c, n->Cm) : NULL;
    float *dz = n->z && sdd_wants(c, n->z) ? sdd_grad_of(c, n->z) : NULL;
    /* per-sample work space: recomputed chunk states (K+1, Di, N), the state gradient,
     * and the per-sample partial sums of the parameter gradients (A_log, D, dt_bias) */
    float *hist = sdd_scratch(c, (size_t)B * (K + 1) * DN * sizeof(float));
    float *decay = sdd_scratch(c, (size_t)B * K * DN * sizeof(float));
    float *dh = sdd_scratch(c, (size_t)B * DN * sizeof(float)), *hw = sdd_scratch(c, (size_t)B * DN * sizeof(float));
    double *pA = sdd_scratch0(c, (size_t)B * DN * sizeof(double));
    double *pD = sdd_scratch0(c, (size_t)B * Di * sizeof(double));
    double *pb = sdd_scratch0(c, (size_t)B * Di * sizeof(double));
    if (c->failed || !hist || !decay || !dh || !hw || !pA || !pD || !pb) return;
    const float *Aneg = n->A, *Dk = n->Dskip->x, *gout = n->out->g;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
        float *hs = hist + (size_t)b * (K + 1) * DN, *g = dh + (size_t)b * DN, *h = hw + (size_t)b * DN;
        float *dec = decay + (size_t)b * K * DN;
        double *gA = pA + (size_t)b * DN, *gD = pD + (size_t)b * Di, *gb = pb + (size_t)b * Di;
        memset(g, 0, DN * sizeof(float));
        for (int ci = nch - 1; ci >= 0; ci--) {
            const int t0 = ci * K, t1 = t0 + K < T ? t0 + K : T;
            memcpy(hs, n->hsave + ((size_t)b * nch + ci) * DN, DN * sizeof(float));
            memcpy(h, hs, DN * sizeof(float));
            scan_steps(n, b, t0, t1, h, NULL, hs + DN, dec, NULL);
            for (int t = t1 - 1; t >= t0; t--) {
                const size_t r = (size_t)b * T + t;
                const float *u = n->u->x + r * Di, *dt = n->dt->x + r * Di, *dl = n->delta + r * Di;
                const float *Bt = n->Bm->x + r * N, *Ct = n->Cm->x + r * N, *at = dec + (size_t)(t - t0) * DN;
                const float *hcur = hs + (size_t)(t - t0 + 1) * DN, *hprev = hs + (size_t)(t - t0) * DN;
                for (int d = 0; d < Di; d++) {
                    const float *hc = hcur + (size_t)d * N, *hp = hprev + (size_t)d * N;
                    float *gd = g + (size_t)d * N;
                    float gy = gout[r * Di + d];
                    if (n->z) {
                        const float zv = n->z->x[r * Di + d], sg = sigmoidf_(zv);
                        if (dz) {
                            float y = Dk[d] * u[d];
                            for (int k = 0; k < N; k++) y += Ct[k] * hc[k];
                            dz[r * Di + d] += gy * y * sg * (1.0f + zv * (1.0f - sg));
                        }
                        gy *= zv * sg;
                    }
                    gD[d] += (double)gy * u[d];
                    const float x = dt[d] + (n->dt_bias ? n->dt_bias->x[d] : 0.0f);
                    const float delta = dl[d];
                    float gu = gy * Dk[d];
                    double gdelta = 0.0;
                    for (int k = 0; k < N; k++) {
                        const float A = Aneg[(size_t)d * N + k], a = at[(size_t)d * N + k];
                        gd[k] += gy * Ct[k];
                        if (dC) dC[r * N + k] += gy * hc[k];
                        gdelta += (double)gd[k] * (A * a * hp[k] + Bt[k] * u[d]);
                        gA[(size_t)d * N + k] += (double)gd[k] * delta * a * hp[k] * A;   /* d/dA_log = A d/dA */
                        if (dB) dB[r * N + k] += gd[k] * delta * u[d];
                        gu += gd[k] * delta * Bt[k];
                        gd[k] *= a;
                    }
                    const double gx = gdelta * (x > 20.0f ? 1.0f : sigmoidf_(x));
                    if (ddt) ddt[r * Di + d] += (float)gx;
                    gb[d] += gx;
                    if (du) du[r * Di + d] += gu;
                }
            }
        }
    }
    /* parameter gradients: per-sample sums added in sample order within each segment */
    for (int s = 0; s < c->nseg; s++) {
        float *gA = grad_slot(c, n->A_log, s), *gD = grad_slot(c, n->Dskip, s), *gb = grad_slot(c, n->dt_bias, s);
        for (int b = sdd_ctx_seg_begin(c, s); b < c->seg_end[s]; b++) {
            if (gA) for (size_t j = 0; j < DN; j++) gA[j] += (float)pA[(size_t)b * DN + j];
            if (gD) for (int d = 0; d < Di; d++) gD[d] += (float)pD[(size_t)b * Di + d];
            if (gb) for (int d = 0; d < Di; d++) gb[d] += (float)pb[(size_t)b * Di + d];
        }
    }
}

sdd_tensor *sdd_selective_scan(sdd_ctx *c, sdd_tensor *u, sdd_tensor *dt, sdd_tensor *A_log, sdd_tensor *Bm,
                               sdd_tensor *Cm, sdd_tensor *Dskip, sdd_tensor *z, sdd_tensor *dt_bias)
{
    if (!u || !dt || !A_log || !Bm || !Cm || !Dskip || c->failed) return NULL;
    if (u->nd != 3) return op_fail(c, "selective scan: u must be (B, T, Di)");
    const int B = (int)u->n[0], T = (int)u->n[1], Di = (int)u->n[2], N = (int)A_log->n[A_log->nd - 1];
    const size_t BT = (size_t)B * T;
    if (sdd_numel(dt) != BT * Di || (z && sdd_numel(z) != BT * Di) || sdd_numel(A_log) != (size_t)Di * N ||
        sdd_numel(Bm) != BT * N || sdd_numel(Cm) != BT * N || sdd_numel(Dskip) != (size_t)Di ||
        (dt_bias && sdd_numel(dt_bias) != (size_t)Di))
        return op_fail(c, "selective scan: inconsistent shapes");
    if ((size_t)Di * N > 65536) return op_fail(c, "selective scan: d_inner x d_state over 65536");
    SDD_ON_DEVICE(c, sdd_cu_selective_scan(c, u, dt, A_log, Bm, Cm, Dskip, z, dt_bias));
    sdd_tensor *out = sdd_new3(c, B, T, Di);
    if (!out) return NULL;
    sdd_tensor *in[8] = { u, dt, A_log, Bm, Cm, Dskip, z, dt_bias };
    int rg = 0;
    for (int i = 0; i < 8; i++) rg |= in[i] && sdd_wants(c, in[i]);
    const int rec = c->grad && rg;
    const int K = SDD_SCAN_CHUNK, nch = (T + K - 1) / K;
    const size_t DN = (size_t)Di * N;
    scan_node tmp = { u, dt, A_log, Bm, Cm, Dskip, z, dt_bias, out, NULL, NULL, NULL };
    scan_node *n = rec ? sdd_scratch(c, sizeof *n) : &tmp;
    float *hsave = rec ? sdd_scratch(c, (size_t)B * nch * DN * sizeof(float)) : NULL;
    float *hbuf = sdd_scratch(c, (size_t)B * DN * sizeof(float)), *Aneg = sdd_scratch(c, DN * sizeof(float));
    float *delta = sdd_scratch(c, BT * Di * sizeof(float)), *abuf = sdd_scratch(c, (size_t)B * N * sizeof(float));
    if (!n || (rec && !hsave) || !hbuf || !Aneg || !delta || !abuf) return NULL;
    *n = tmp;
    n->hsave = hsave;
    n->A = Aneg;
    n->delta = delta;
    for (size_t j = 0; j < DN; j++) Aneg[j] = -expf(A_log->x[j]);
    #pragma omp parallel for schedule(static)
    for (size_t r = 0; r < BT; r++)
        for (int d = 0; d < Di; d++) delta[r * Di + d] = softplusf_(dt->x[r * Di + d] + (dt_bias ? dt_bias->x[d] : 0.0f));
    #pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
        float *h = hbuf + (size_t)b * DN;
        memset(h, 0, DN * sizeof(float));
        for (int ci = 0; ci < nch; ci++) {
            const int t0 = ci * K, t1 = t0 + K < T ? t0 + K : T;
            if (hsave) memcpy(hsave + ((size_t)b * nch + ci) * DN, h, DN * sizeof(float));
            scan_steps(n, b, t0, t1, h, out->x, NULL, NULL, abuf + (size_t)b * N);
        }
        for (int t = 0; t < T; t++) {
            const size_t r = (size_t)b * T + t;
            for (int d = 0; d < Di; d++) {
                float y = out->x[r * Di + d] + Dskip->x[d] * u->x[r * Di + d];
                if (z) { const float zv = z->x[r * Di + d]; y *= zv * sigmoidf_(zv); }
                out->x[r * Di + d] = y;
            }
        }
    }
    out->rg = rg;
    if (rec && sdd_tape_push(c, scan_backward, n)) return NULL;
    return out;
}

/* ---- attention pooling over time ---- */

static void attn_pool_backward(sdd_ctx *c, void *vn)
{
    seq_node *n = vn;
    if (!n->out->g) return;
    sdd_tensor *x = n->in[0], *w = n->in[1], *bias = n->in[2];
    const int T = (int)x->n[1], D = (int)x->n[2];
    const float *a = n->aux, *go = n->out->g;
    float *dx = sdd_wants(c, x) ? sdd_grad_of(c, x) : NULL;
    double *ds = sdd_scratch(c, (size_t)T * sizeof(double)), *aw = sdd_scratch(c, (size_t)D * sizeof(double));
    if (c->failed || !ds || !aw) return;
    for (int s = 0; s < c->nseg; s++) {
        float *gw = grad_slot(c, w, s), *gb = grad_slot(c, bias, s);
        double ab = 0.0;
        for (int d = 0; d < D; d++) aw[d] = 0.0;
        for (int b = sdd_ctx_seg_begin(c, s); b < c->seg_end[s]; b++) {
            const float *xb = x->x + (size_t)b * T * D, *g = go + (size_t)b * D;
            const float *ab_ = a + (size_t)b * T;
            double mean = 0.0;
            for (int t = 0; t < T; t++) {
                double v = 0.0;
                for (int d = 0; d < D; d++) v += (double)g[d] * xb[(size_t)t * D + d];
                ds[t] = v;
                mean += ab_[t] * v;
            }
            for (int t = 0; t < T; t++) {
                ds[t] = ab_[t] * (ds[t] - mean);   /* d score_t */
                ab += ds[t];
                for (int d = 0; d < D; d++) aw[d] += ds[t] * xb[(size_t)t * D + d];
                if (dx) {
                    float *dxt = dx + ((size_t)b * T + t) * D;
                    for (int d = 0; d < D; d++) dxt[d] += ab_[t] * g[d] + (float)ds[t] * w->x[d];
                }
            }
        }
        if (gw) for (int d = 0; d < D; d++) gw[d] += (float)aw[d];
        if (gb) gb[0] += (float)ab;
    }
}

sdd_tensor *sdd_attn_pool(sdd_ctx *c, sdd_tensor *x, sdd_tensor *w, sdd_tensor *bias)
{
    if (!x || !w || !bias || c->failed) return NULL;
    if (x->nd != 3 || sdd_numel(w) != (size_t)x->n[2] || sdd_numel(bias) != 1)
        return op_fail(c, "attention pool: x must be (B, T, D), w (1, D), b (1)");
    SDD_ON_DEVICE(c, sdd_cu_attn_pool(c, x, w, bias));
    const int B = (int)x->n[0], T = (int)x->n[1], D = (int)x->n[2];
    sdd_tensor *out = sdd_new2(c, B, D);
    float *a = sdd_scratch(c, (size_t)B * T * sizeof(float));
    if (!out || !a) return NULL;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *xb = x->x + (size_t)b * T * D;
        float *ab = a + (size_t)b * T, mx = -INFINITY;
        for (int t = 0; t < T; t++) {
            double v = bias->x[0];
            for (int d = 0; d < D; d++) v += (double)w->x[d] * xb[(size_t)t * D + d];
            ab[t] = (float)v;
            if (ab[t] > mx) mx = ab[t];
        }
        double sum = 0.0;
        for (int t = 0; t < T; t++) { ab[t] = expf(ab[t] - mx); sum += ab[t]; }
        for (int t = 0; t < T; t++) ab[t] = (float)(ab[t] / sum);
        float *o = out->x + (size_t)b * D;
        for (int d = 0; d < D; d++) {
            double v = 0.0;
            for (int t = 0; t < T; t++) v += (double)ab[t] * xb[(size_t)t * D + d];
            o[d] = (float)v;
        }
    }
    sdd_tensor *in[3] = { x, w, bias };
    seq_node *n = seq_push(c, attn_pool_backward, out, 3, in);
    if (!n) return NULL;
    if (SEQ_RECORDED(n)) n->aux = a;
    return out;
}

/* ---- time flip, last-dim slice ---- */

static void flip_backward(sdd_ctx *c, void *vn)
{
    seq_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->in[0]);
    if (!dx) return;
    const int B = (int)n->out->n[0], T = (int)n->out->n[1], D = (int)(sdd_numel(n->out) / ((size_t)B * T));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *g = n->out->g + ((size_t)b * T + (T - 1 - t)) * D;
            float *d = dx + ((size_t)b * T + t) * D;
            for (int k = 0; k < D; k++) d[k] += g[k];
        }
}

sdd_tensor *sdd_flip_time(sdd_ctx *c, sdd_tensor *x)
{
    if (!x || c->failed) return NULL;
    if (x->nd < 2) return op_fail(c, "flip: input must be (B, T, ...)");
    SDD_ON_DEVICE(c, sdd_cu_flip_time(c, x));
    const int B = (int)x->n[0], T = (int)x->n[1], D = (int)(sdd_numel(x) / ((size_t)B * T));
    sdd_tensor *out = sdd_tensor_new(c, x->nd, x->n);
    if (!out) return NULL;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            memcpy(out->x + ((size_t)b * T + t) * D, x->x + ((size_t)b * T + (T - 1 - t)) * D, (size_t)D * sizeof(float));
    return seq_push(c, flip_backward, out, 1, &x) ? out : NULL;
}

static void slice_last_backward(sdd_ctx *c, void *vn)
{
    seq_node *n = vn;
    if (!n->out->g) return;
    float *dx = sdd_grad_of(c, n->in[0]);
    if (!dx) return;
    const int64_t D = n->in[0]->n[n->in[0]->nd - 1], len = n->k1, R = (int64_t)(sdd_numel(n->out) / (size_t)len);
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < len; k++) dx[r * D + n->k0 + k] += n->out->g[r * len + k];
}

sdd_tensor *sdd_slice_last(sdd_ctx *c, sdd_tensor *x, int start, int len)
{
    if (!x || c->failed) return NULL;
    const int64_t D = x->n[x->nd - 1];
    if (start < 0 || len <= 0 || start + len > D) return op_fail(c, "slice: range outside the last dim");
    SDD_ON_DEVICE(c, sdd_cu_slice_last(c, x, start, len));
    sdd_tensor *out = sdd_new_lastdim(c, x, len);
    if (!out) return NULL;
    const int64_t R = (int64_t)(sdd_numel(x) / (size_t)D);
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) memcpy(out->x + r * len, x->x + r * D + start, (size_t)len * sizeof(float));
    seq_node *n = seq_push(c, slice_last_backward, out, 1, &x);
    if (!n) return NULL;
    if (SEQ_RECORDED(n)) { n->k0 = start; n->k1 = len; }
    return out;
}
