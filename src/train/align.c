/* Owns gradient alignment (see align.h). */
#include "train/align.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sdd_align_state_init(sdd_align_state *s)
{
    memset(s, 0, sizeof *s);
    s->beta = 0.5;
    s->cagrad_c = 0.5;
}

int sdd_align_state_set_groups(sdd_align_state *s, int ng)
{
    double *r = ng > 0 ? calloc(4 * (size_t)ng, sizeof *r) : NULL;
    if (ng > 0 && !r) return -1;
    free(s->rho_g);
    s->rho_g = r;
    s->ng = ng > 0 ? ng : 0;
    return 0;
}

void sdd_align_state_free(sdd_align_state *s)
{
    free(s->rho_g);
    s->rho_g = NULL;
    s->ng = 0;
}

int sdd_align_groups_parse(const char *name)
{
    if (!strcmp(name, "whole")) return SDD_ALIGN_GROUPS_WHOLE;
    if (!strcmp(name, "block")) return SDD_ALIGN_GROUPS_BLOCK;
    if (!strcmp(name, "tensor")) return SDD_ALIGN_GROUPS_TENSOR;
    return -1;
}

const char *sdd_align_groups_name(int mode)
{
    static const char *names[] = { "whole", "block", "tensor" };
    return mode >= 0 && mode < 3 ? names[mode] : "?";
}

int sdd_align_parse(const char *name)
{
    if (!strcmp(name, "none")) return SDD_ALIGN_NONE;
    if (!strcmp(name, "pcgrad")) return SDD_ALIGN_PCGRAD;
    if (!strcmp(name, "gradvac")) return SDD_ALIGN_GRADVAC;
    if (!strcmp(name, "cagrad")) return SDD_ALIGN_CAGRAD;
    return -1;
}

const char *sdd_align_name(int method)
{
    static const char *names[] = { "none", "pcgrad", "gradvac", "cagrad" };
    return method >= 0 && method < 4 ? names[method] : "?";
}

/* Fixed-size chunks summed in order: the same bits for any thread count. */
#define DOT_CHUNK 4096
static double dot(const float *a, const float *b, size_t n)
{
    const size_t nc = (n + DOT_CHUNK - 1) / DOT_CHUNK;
    double part[1024], *pp = nc <= 1024 ? part : malloc(nc * sizeof(double));
    if (!pp) {   /* no memory for partials: one serial pass */
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
        return s;
    }
    #pragma omp parallel for schedule(static)
    for (size_t c = 0; c < nc; c++) {
        double s = 0.0;
        const size_t e = (c + 1) * DOT_CHUNK < n ? (c + 1) * DOT_CHUNK : n;
        for (size_t i = c * DOT_CHUNK; i < e; i++) s += (double)a[i] * b[i];
        pp[c] = s;
    }
    double s = 0.0;
    for (size_t c = 0; c < nc; c++) s += pp[c];
    if (pp != part) free(pp);
    return s;
}

/* out = a * x + b * y */
static void axpby(double a, const float *x, double b, const float *y, size_t n, float *out)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = (float)(a * x[i] + b * y[i]);
}

static double cagrad_obj(double t, double a0, double a1, double g00, double g01, double g11, double cp)
{
    const double q = t * t * g00 + 2.0 * t * (1.0 - t) * g01 + (1.0 - t) * (1.0 - t) * g11;
    return t * a0 + (1.0 - t) * a1 + cp * sqrt(q + 1e-8);
}

double sdd_cagrad_weight(double g00, double g01, double g11, double cp)
{
    /* w^T G b = t a0 + (1 - t) a1 with a_i = (G_i0 + G_i1) / 2; the objective is
     * convex in t (linear + c' x the norm of an affine function, smoothed), so
     * its derivative is monotone: bisection to machine precision. */
    const double a0 = 0.5 * (g00 + g01), a1 = 0.5 * (g01 + g11);
    const double A = g00 - 2.0 * g01 + g11, B = 2.0 * g01 - 2.0 * g11;
    #define DERIV(t) ((a0 - a1) + cp * (A * (t) + 0.5 * B) / sqrt((t) * (t) * g00 + 2.0 * (t) * (1.0 - (t)) * g01 + (1.0 - (t)) * (1.0 - (t)) * g11 + 1e-8))
    if (DERIV(0.0) >= 0.0) return 0.0;
    if (DERIV(1.0) <= 0.0) return 1.0;
    double lo = 0.0, hi = 1.0;
    for (int it = 0; it < 200 && hi - lo > 1e-15; it++) {
        const double mid = 0.5 * (lo + hi);
        if (DERIV(mid) > 0.0) hi = mid;
        else lo = mid;
    }
    #undef DERIV
    const double t = 0.5 * (lo + hi);
    /* guard: never worse than the end points (flat objectives) */
    double best = t, fb = cagrad_obj(t, a0, a1, g00, g01, g11, cp);
    const double ends[2] = { 0.0, 1.0 };
    for (int k = 0; k < 2; k++) {
        double f = cagrad_obj(ends[k], a0, a1, g00, g01, g11, cp);
        if (f < fb) { fb = f; best = ends[k]; }
    }
    return best;
}

void sdd_align_stats_from_dots(double g00, double g11, double g01, sdd_align_stats *s)
{
    memset(s, 0, sizeof *s);
    s->dot = g01;
    s->norm0 = sqrt(g00);
    s->norm1 = sqrt(g11);
    s->cos = (s->norm0 > 0 && s->norm1 > 0) ? s->dot / (s->norm0 * s->norm1) : 0.0;
    s->conflict = s->dot < 0.0;
}

void sdd_align_measure(const float *g0, const float *g1, size_t n, sdd_align_stats *s)
{
    const double d01 = dot(g0, g1, n), d00 = dot(g0, g0, n), d11 = dot(g1, g1, n);
    sdd_align_stats_from_dots(d00, d11, d01, s);
}

void sdd_align(int method, const float *g0, const float *g1, size_t n, float *out,
               sdd_align_state *st, sdd_align_stats *stats)
{
    sdd_align_stats s;
    sdd_align_measure(g0, g1, n, &s);
    double a0, a1;
    sdd_align_coefs(method, &s, st, &a0, &a1);
    axpby(a0, g0, a1, g1, n, out);
    s.norm_out = sqrt(dot(out, out, n));
    if (stats) *stats = s;
}

void sdd_align_coefs(int method, sdd_align_stats *sp, sdd_align_state *st, double *a0, double *a1)
{
    sdd_align_stats s = *sp;
    const double d = s.dot, n00 = s.norm0 * s.norm0, n11 = s.norm1 * s.norm1;
    switch (method) {
    case SDD_ALIGN_PCGRAD: {
        /* pc0 = g0 - min(0, g0.g1)/|g1|^2 g1 ; pc1 = g1 - min(0, g1.g0)/|g0|^2 g0 ; out = mean */
        const double c0 = (d < 0.0 && n11 > 0.0) ? d / n11 : 0.0;
        const double c1 = (d < 0.0 && n00 > 0.0) ? d / n00 : 0.0;
        /* out = 0.5 (g0 - c0 g1 + g1 - c1 g0) */
        *a0 = 0.5 * (1.0 - c1);
        *a1 = 0.5 * (1.0 - c0);
        break;
    }
    case SDD_ALIGN_GRADVAC: {
        /* pc_i starts as g_i; with two tasks each is adjusted once, against the other's original gradient */
        double coef[2][2];          /* pc_i = coef[i][0] g0 + coef[i][1] g1 */
        const double nn[2] = { n00, n11 };
        for (int i = 0; i < 2; i++) {
            const int j = 1 - i;
            coef[i][i] = 1.0;
            coef[i][j] = 0.0;
            const double npc = sqrt(nn[i]), ngj = sqrt(nn[j]);
            const double rho = d / (npc * ngj + 1e-8);   /* pc_i . g_j = g_i . g_j = d */
            const double rt = st->rho_t[i][j];
            if (rho < rt) {
                const double w = npc * (rt * sqrt(1.0 - rho * rho) - rho * sqrt(1.0 - rt * rt)) / (ngj * sqrt(1.0 - rt * rt) + 1e-8);
                coef[i][j] += w;
            }
            if (rho > 0.0) st->rho_t[i][j] = (1.0 - st->beta) * rt + st->beta * rho;
        }
        *a0 = 0.5 * (coef[0][0] + coef[1][0]);
        *a1 = 0.5 * (coef[0][1] + coef[1][1]);
        break;
    }
    case SDD_ALIGN_CAGRAD: {
        const double g0n = sqrt((n00 + 2.0 * d + n11) / 4.0 + 1e-8);   /* sqrt(mean(G) + 1e-8) */
        const double cp = st->cagrad_c * g0n + 1e-8;
        const double t = sdd_cagrad_weight(n00, d, n11, cp);
        s.cagrad_w = t;
        const double gwn = sqrt(t * t * n00 + 2.0 * t * (1.0 - t) * d + (1.0 - t) * (1.0 - t) * n11);
        const double lam = cp / (gwn + 1e-8);
        const double resc = 1.0 + st->cagrad_c * st->cagrad_c;
        /* g = (mean(g) + lam g_w) / (1 + c^2), g_w = t g0 + (1 - t) g1 */
        *a0 = (0.5 + lam * t) / resc;
        *a1 = (0.5 + lam * (1.0 - t)) / resc;
        break;
    }
    default:
        *a0 = 0.5;
        *a1 = 0.5;
        break;
    }
    *sp = s;
}

void sdd_align_group_coefs(int method, int gi, double g00, double g11, double g01, sdd_align_state *st, double *a0,
                           double *a1, int *nconflict)
{
    sdd_align_stats s;
    sdd_align_stats_from_dots(g00, g11, g01, &s);
    *nconflict += s.conflict;
    /* the group's own GradVac targets stand in for the whole vector's */
    sdd_align_state gs = *st;
    memcpy(gs.rho_t, st->rho_g + 4 * (size_t)gi, sizeof gs.rho_t);
    sdd_align_coefs(method, &s, &gs, a0, a1);
    memcpy(st->rho_g + 4 * (size_t)gi, gs.rho_t, sizeof gs.rho_t);
}

void sdd_align_grouped(int method, const float *g0, const float *g1, size_t n, const sdd_align_group *gr, int ng,
                       float *out, sdd_align_state *st, sdd_align_stats *stats, int *nconflict)
{
    sdd_align_stats s;
    sdd_align_measure(g0, g1, n, &s);
    *nconflict = 0;
    for (int i = 0; i < ng; i++) {
        const float *x = g0 + gr[i].off, *y = g1 + gr[i].off;
        double a0, a1;
        sdd_align_group_coefs(method, i, dot(x, x, gr[i].n), dot(y, y, gr[i].n), dot(x, y, gr[i].n), st, &a0, &a1, nconflict);
        axpby(a0, x, a1, y, gr[i].n, out + gr[i].off);
    }
    s.norm_out = sqrt(dot(out, out, n));
    if (stats) *stats = s;
}
