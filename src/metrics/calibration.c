/* Owns calibration.h: prior-weighted linear logistic regression (Newton's
 * method on (w, b), k + 1 unknowns, in standardised coordinates), applying
 * it, the check that a fit is of use, the prior-weighted Cllr, and the JSON
 * calibration file (jansson; parse with validation, write atomically). */
#include "metrics/calibration.h"
#include "metrics/dcf.h"
#include "io/atomic.h"
#include "io/readall.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDD_CAL_FORMAT "sdd-calibration"

static double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }
static double sigmoid(double z)
{
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    const double ez = exp(z);
    return ez / (1.0 + ez);
}

double sdd_calibration_apply(const sdd_calibration *c, const double *x)
{
    double s = c->b;
    for (int j = 0; j < c->k; j++) s += c->w[j] * x[j];
    return s;
}

double sdd_calibration_cllr(const double *s, const unsigned char *pos, int64_t n, double prior)
{
    const double off = log(prior / (1 - prior));
    double st = 0, sn = 0;
    int64_t nt = 0, nn = 0;
    for (int64_t i = 0; i < n; i++) {
        if (pos[i]) { st += softplus(-(s[i] + off)); nt++; }
        else { sn += softplus(s[i] + off); nn++; }
    }
    if (!nt || !nn) return NAN;
    const double h = -(prior * log(prior) + (1 - prior) * log(1 - prior));
    return (prior * st / (double)nt + (1 - prior) * sn / (double)nn) / h;
}

int sdd_calibration_set_decision(sdd_calibration *c, double pspoof, double cmiss, double cfa, sdd_err *e)
{
    if (!(pspoof > 0 && pspoof < 1) || !(cmiss > 0) || !(cfa > 0) || !isfinite(cmiss) || !isfinite(cfa))
        return sdd_err_set(e, "decision costs must be 0 < pspoof < 1, cmiss > 0, cfa > 0");
    sdd_dcf_cost d = { pspoof, cmiss, cfa };
    const double t = sdd_dcf_bayes_threshold(&d);
    if (!isfinite(t))
        return sdd_err_set(e, "decision costs pspoof %g, cmiss %g, cfa %g give a Bayes threshold that is not finite",
                           pspoof, cmiss, cfa);
    c->pspoof = pspoof;
    c->cmiss = cmiss;
    c->cfa = cfa;
    c->threshold = t;
    return 0;
}

/* The solver works on standardised inputs z_j = (x_j - c_j) / (2 h_j), c_j
 * the median of input j and h_j half its median absolute deviation (or a
 * fallback spread), so that a score of 1e20 or 1e200 neither overflows the
 * Hessian (x^2) nor sets the scale of the steps. Weights v on z are weights
 * w_j = v_j u_j on the raw scores, u_j = 1 / (2 h_j), and the bias is
 * b = v_k - sum_j w_j c_j; the objective, its regulariser on w included, is
 * the same function in either coordinates. */
typedef struct {
    const double *z;          /* (n, k) standardised inputs */
    const unsigned char *pos;
    int64_t n;
    int k;
    double ct, cn, off, l2;   /* per-trial weights P/Nb, (1-P)/Ns; logit(P) */
    const double *u;          /* raw weight per unit of v */
} problem;

static double score_of(const problem *p, const double *th, int64_t i)
{
    double s = th[p->k];
    const double *zi = p->z + (size_t)i * p->k;
    for (int j = 0; j < p->k; j++) s += th[j] * zi[j];
    return s;
}

static double objective(const problem *p, const double *th)
{
    double f = 0;
    for (int64_t i = 0; i < p->n; i++) {
        const double z = score_of(p, th, i) + p->off;
        f += p->pos[i] ? p->ct * softplus(-z) : p->cn * softplus(z);
    }
    double r = 0;
    for (int j = 0; j < p->k; j++) r += (th[j] * p->u[j]) * (th[j] * p->u[j]);
    return f + 0.5 * p->l2 * r;
}

/* gradient g (k+1) and Hessian H ((k+1)^2, row-major) */
static void derivatives(const problem *p, const double *th, double *g, double *H)
{
    const int m = p->k + 1;
    memset(g, 0, (size_t)m * sizeof *g);
    memset(H, 0, (size_t)m * m * sizeof *H);
    double xt[SDD_CAL_MAX_INPUTS + 1];
    for (int64_t i = 0; i < p->n; i++) {
        const double z = score_of(p, th, i) + p->off, sg = sigmoid(z);
        const double c = p->pos[i] ? p->ct : p->cn;
        const double r = c * (sg - (p->pos[i] ? 1.0 : 0.0)), h = c * sg * (1 - sg);
        memcpy(xt, p->z + (size_t)i * p->k, (size_t)p->k * sizeof *xt);
        xt[p->k] = 1.0;
        for (int a = 0; a < m; a++) {
            g[a] += r * xt[a];
            if (h > 0)
                for (int b = 0; b <= a; b++) H[a * m + b] += h * xt[a] * xt[b];
        }
    }
    for (int a = 0; a < m; a++)
        for (int b = a + 1; b < m; b++) H[a * m + b] = H[b * m + a];
    for (int j = 0; j < p->k; j++) {
        g[j] += p->l2 * (th[j] * p->u[j]) * p->u[j];
        H[j * m + j] += p->l2 * p->u[j] * p->u[j];
    }
}

/* Solves A d = r in place (A destroyed), partial pivoting. -1 when singular. */
static int solve(double *A, double *r, int m)
{
    for (int c = 0; c < m; c++) {
        int piv = c;
        for (int i = c + 1; i < m; i++)
            if (fabs(A[i * m + c]) > fabs(A[piv * m + c])) piv = i;
        if (!(fabs(A[piv * m + c]) > 1e-300)) return -1;
        if (piv != c) {
            for (int j = 0; j < m; j++) { double t = A[c * m + j]; A[c * m + j] = A[piv * m + j]; A[piv * m + j] = t; }
            double t = r[c]; r[c] = r[piv]; r[piv] = t;
        }
        for (int i = c + 1; i < m; i++) {
            const double f = A[i * m + c] / A[c * m + c];
            for (int j = c; j < m; j++) A[i * m + j] -= f * A[c * m + j];
            r[i] -= f * r[c];
        }
    }
    for (int i = m - 1; i >= 0; i--) {
        double s = r[i];
        for (int j = i + 1; j < m; j++) s -= A[i * m + j] * r[j];
        r[i] = s / A[i * m + i];
    }
    for (int i = 0; i < m; i++)
        if (!isfinite(r[i])) return -1;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of v[0..n) (sorted in place) */
static double median(double *v, int64_t n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * v[n / 2 - 1] + 0.5 * v[n / 2];
}

/* Centre c and half-spread h of input j: z = (x/2 - c/2) / h stays finite
 * (|z| <= 1e300) and the regulariser's curvature l2 u^2 below 1e200. */
static void standardise(const double *x, int64_t n, int k, int j, double l2, double *tmp, double *c, double *h)
{
    for (int64_t i = 0; i < n; i++) tmp[i] = x[(size_t)i * k + j];
    *c = median(tmp, n);
    double far = 0, mean = 0;
    for (int64_t i = 0; i < n; i++) {
        tmp[i] = fabs(0.5 * x[(size_t)i * k + j] - 0.5 * *c);
        far = fmax(far, tmp[i]);
        mean += tmp[i] / (double)n;
    }
    double s = median(tmp, n);
    if (!(s > 0)) s = mean;   /* more than half the scores equal */
    if (!(s > 0)) s = 1;      /* all equal: z = 0, the weight only pays the regulariser */
    s = fmax(s, far * 1e-300);
    if (l2 > 0) s = fmax(s, 0.5 * sqrt(l2) * 1e-100);
    *h = fmax(s, 1e-300);
}

int sdd_calibration_train(const double *x, const unsigned char *pos, int64_t n, int k, double prior, double l2,
                          sdd_calibration *c, sdd_calibration_info *info, sdd_err *e)
{
    memset(c, 0, sizeof *c);
    if (k < 1 || k > SDD_CAL_MAX_INPUTS) return sdd_err_set(e, "%d score inputs (1 to %d allowed)", k, SDD_CAL_MAX_INPUTS);
    if (!(prior > 0 && prior < 1)) return sdd_err_set(e, "the prior must be in (0, 1), not %g", prior);
    if (!(l2 >= 0) || !isfinite(l2)) return sdd_err_set(e, "the regularisation must be >= 0");
    int64_t nt = 0, nn = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++)
            if (!isfinite(x[(size_t)i * k + j])) return sdd_err_set(e, "trial %lld: score is not finite", (long long)i + 1);
        if (pos[i]) nt++;
        else nn++;
    }
    if (!nt) return sdd_err_set(e, "no bona fide trials to train on");
    if (!nn) return sdd_err_set(e, "no spoof trials to train on");
    const int m = k + 1;
    double *z = malloc((size_t)n * k * sizeof *z), *tmp = malloc((size_t)n * sizeof *tmp);
    double *H = malloc((size_t)m * m * sizeof *H), *H0 = malloc((size_t)m * m * sizeof *H0);
    if (!z || !tmp || !H || !H0) {
        free(z); free(tmp); free(H); free(H0);
        return sdd_err_set(e, "out of memory");
    }
    double ctr[SDD_CAL_MAX_INPUTS], half[SDD_CAL_MAX_INPUTS], u[SDD_CAL_MAX_INPUTS];
    for (int j = 0; j < k; j++) {
        standardise(x, n, k, j, l2, tmp, &ctr[j], &half[j]);
        u[j] = 0.5 / half[j];
        for (int64_t i = 0; i < n; i++)
            z[(size_t)i * k + j] = (0.5 * x[(size_t)i * k + j] - 0.5 * ctr[j]) / half[j];
    }
    free(tmp);
    problem p = { z, pos, n, k, prior / (double)nt, (1 - prior) / (double)nn, log(prior / (1 - prior)), l2, u };
    double th[SDD_CAL_MAX_INPUTS + 1], tn[SDD_CAL_MAX_INPUTS + 1], g[SDD_CAL_MAX_INPUTS + 1], d[SDD_CAL_MAX_INPUTS + 1];
    /* Starts: all weights 0; each input as it is (w_j = 1, b = 0: the
     * identity, whose objective is the raw scores' Cllr); the inputs'
     * average. Newton's method goes on from the best, and the line search
     * only accepts decreases (the polishing steps below move by rounding
     * only), so the result is never worse than any start. */
    double f = INFINITY;
    for (int s = -1; s <= k; s++) {
        if (s == k && k == 1) break;
        for (int a = 0; a < m; a++) tn[a] = 0;
        for (int j = 0; j < k; j++) {
            if (s != j && s != k) continue;
            const double wj = s == k ? 1.0 / k : 1.0;
            tn[j] = wj / u[j];
            tn[k] += wj * ctr[j];
        }
        int ok = 1;
        for (int a = 0; a < m; a++) ok &= isfinite(tn[a]);
        const double fs = ok ? objective(&p, tn) : INFINITY;
        if (s == -1 || fs < f) {
            f = fs;
            memcpy(th, tn, (size_t)m * sizeof *th);
        }
    }
    /* scores at a scale of 1e200 make their identity overconfident far
     * beyond what the Hessian can resolve (it underflows): shrink the start
     * towards 0 while that lowers the objective */
    for (int i = 0; i < 1100; i++) {
        for (int a = 0; a < m; a++) tn[a] = 0.5 * th[a];
        const double fs = objective(&p, tn);
        if (!(fs < f)) break;
        f = fs;
        memcpy(th, tn, (size_t)m * sizeof *th);
    }
    int it = 0;
    for (it = 1; it <= 200; it++) {
        derivatives(&p, th, g, H);
        int fin = 1;
        for (int a = 0; a < m; a++) fin &= isfinite(g[a]);
        if (!fin) break;
        memcpy(H0, H, (size_t)m * m * sizeof *H);
        for (int a = 0; a < m; a++) d[a] = -g[a];
        if (solve(H, d, m)) {
            /* singular (a constant input without regularisation): a small
             * ridge, else the gradient */
            double big = 0;
            for (int a = 0; a < m; a++) big = fmax(big, fabs(H0[a * m + a]));
            for (int a = 0; a < m; a++) { H0[a * m + a] += 1e-12 * big + 1e-300; d[a] = -g[a]; }
            if (solve(H0, d, m))
                for (int a = 0; a < m; a++) d[a] = -g[a];
        }
        double gd = 0;
        for (int a = 0; a < m; a++) gd += g[a] * d[a];
        if (!(gd < 0)) break;   /* no descent left: at the minimum to rounding */
        double t = 1.0, fn = f;
        /* once the predicted decrease is below the objective's rounding, the
         * full Newton step is taken unchecked (quadratic convergence there) */
        const int polish = -gd <= 1e-13 * fabs(f);
        for (int ls = 0; ls < 60; ls++, t *= 0.5) {
            for (int a = 0; a < m; a++) tn[a] = th[a] + t * d[a];
            fn = objective(&p, tn);
            if (polish ? isfinite(fn) : fn <= f + 1e-4 * t * gd) break;
        }
        if (polish ? !isfinite(fn) : !(fn <= f + 1e-4 * t * gd)) break;
        /* far from the minimum (separable classes, a score far out) a full
         * step can be much too short: double it while the objective falls */
        if (!polish && t == 1.0) {
            double tx[SDD_CAL_MAX_INPUTS + 1];
            for (double t2 = 2; t2 <= 1073741824.0; t2 *= 2) {
                for (int a = 0; a < m; a++) tx[a] = th[a] + t2 * d[a];
                const double fx = objective(&p, tx);
                if (!(fx < fn)) break;
                fn = fx;
                memcpy(tn, tx, (size_t)m * sizeof *tn);
            }
        }
        double step = 0, size = 0;
        for (int a = 0; a < m; a++) {
            step = fmax(step, fabs(tn[a] - th[a]));
            size = fmax(size, fabs(tn[a]));
            th[a] = tn[a];
        }
        f = fn;
        /* a tiny step only ends the search once the decrease is negligible:
         * a score far out makes the first Newton steps tiny but worthwhile */
        if (polish && step <= 1e-13 * (1 + size)) break;
    }
    free(H);
    free(H0);
    free(z);
    double b = th[k];
    for (int j = 0; j < k; j++) {
        c->w[j] = th[j] * u[j];
        b -= c->w[j] * ctr[j];
        if (!isfinite(c->w[j])) return sdd_err_set(e, "logistic regression diverged");
    }
    if (!isfinite(b)) return sdd_err_set(e, "logistic regression diverged");
    /* Back on raw scores, b = v_k - sum w_j c_j can lose the bias to rounding
     * when the scores span many orders of magnitude (1e9 and 1e32 in one set).
     * Judged on the raw scores, the fit must beat the starts (zero weights,
     * each input as it is, the inputs' average); when rounding made it worse,
     * the best start is kept, so the result is never worse than the raw scores. */
    double ones[SDD_CAL_MAX_INPUTS], fit[SDD_CAL_MAX_INPUTS + 1], cand[SDD_CAL_MAX_INPUTS + 1];
    for (int j = 0; j < k; j++) { ones[j] = 1.0; fit[j] = c->w[j]; }
    fit[k] = b;
    const problem raw = { x, pos, n, k, p.ct, p.cn, p.off, l2, ones };
    double fbest = objective(&raw, fit);
    for (int s = -1; s <= k; s++) {
        if (s == k && k == 1) break;
        for (int a = 0; a < m; a++) cand[a] = 0;
        for (int j = 0; j < k; j++)
            if (s == j || s == k) cand[j] = s == k ? 1.0 / k : 1.0;
        const double fc = objective(&raw, cand);
        if (fc < fbest || !(fbest == fbest)) {
            fbest = fc;
            memcpy(fit, cand, (size_t)m * sizeof *fit);
        }
    }
    for (int j = 0; j < k; j++) c->w[j] = fit[j];
    b = fit[k];
    c->k = k;
    c->b = b;
    c->prior = prior;
    c->l2 = l2;
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    sdd_calibration_set_decision(c, dc.pspoof, dc.cmiss, dc.cfa, NULL);
    if (info) {
        info->iterations = it > 200 ? 200 : it;
        double *s = malloc((size_t)(n ? n : 1) * sizeof *s);
        info->cllr_before = info->cllr_after = NAN;
        if (s) {
            if (k == 1) info->cllr_before = sdd_calibration_cllr(x, pos, n, prior);
            for (int64_t i = 0; i < n; i++) s[i] = sdd_calibration_apply(c, x + (size_t)i * k);
            info->cllr_after = sdd_calibration_cllr(s, pos, n, prior);
            free(s);
        }
    }
    return 0;
}

int sdd_calibration_check(const sdd_calibration *c, const double *x, int64_t n, int *input, sdd_err *e)
{
    *input = -1;
    for (int j = 0; j < c->k; j++) {
        int64_t i = 1;
        while (i < n && x[(size_t)i * c->k + j] == x[j]) i++;
        if (n > 0 && i == n) {
            *input = j;
            return sdd_err_set(e, "all %lld scores are equal (%.9g): they cannot tell the classes apart", (long long)n, x[j]);
        }
    }
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        const double s = sdd_calibration_apply(c, x + (size_t)i * c->k);
        if (!isfinite(s)) return sdd_err_set(e, "the fitted LLR of trial %lld is not finite", (long long)i + 1);
        lo = fmin(lo, s);
        hi = fmax(hi, s);
    }
    char w[64];
    if (c->k == 1) snprintf(w, sizeof w, "weight %.3g", c->w[0]);
    else snprintf(w, sizeof w, "%d weights", c->k);
    if (!(hi - lo > 1e-6))
        return sdd_err_set(e, "degenerate fit: the LLR is the same for all %lld trials to within 1e-6 (%s, bias %.3g; "
                              "prior %g): the scores do not separate the classes at this prior", (long long)n, w, c->b, c->prior);
    if (c->k == 1 && !isfinite((c->threshold - c->b) / c->w[0]))
        return sdd_err_set(e, "degenerate fit: the Bayes threshold on the raw score is not finite (%s, bias %.3g)", w, c->b);
    return 0;
}

/* ---- JSON ---- */

static int get_num(json_t *o, const char *key, double *v, int required, const char *name, sdd_err *e)
{
    json_t *j = json_object_get(o, key);
    if (!j) return required ? sdd_err_set(e, "%s: missing \"%s\"", name, key) : 1;
    if (!json_is_number(j)) return sdd_err_set(e, "%s: \"%s\" is not a number", name, key);
    *v = json_number_value(j);
    if (!isfinite(*v)) return sdd_err_set(e, "%s: \"%s\" is not finite", name, key);
    return 0;
}

int sdd_calibration_parse(const char *buf, size_t len, const char *name, sdd_calibration *c, sdd_err *e)
{
    memset(c, 0, sizeof *c);
    if (!name) name = "(calibration)";
    if (!buf && len) return sdd_err_set(e, "%s: NULL buffer", name);
    json_error_t je;
    json_t *j = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!j) return sdd_err_set(e, "%s:%d: not valid JSON: %s", name, je.line > 0 ? je.line : 1, je.text);
    int rc = -1;
    sdd_calibration t = { 0 };
    json_t *fmt = json_object_get(j, "format"), *ver = json_object_get(j, "version");
    json_t *w = json_object_get(j, "weights"), *dec = json_object_get(j, "decision");
    if (!json_is_object(j)) { sdd_err_set(e, "%s: not a JSON object", name); goto done; }
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), SDD_CAL_FORMAT)) {
        sdd_err_set(e, "%s: not an sdd calibration file (\"format\" is not \"%s\")", name, SDD_CAL_FORMAT);
        goto done;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        sdd_err_set(e, "%s: unsupported \"version\" (this sdd reads version 1)", name);
        goto done;
    }
    if (!json_is_array(w) || json_array_size(w) < 1 || json_array_size(w) > SDD_CAL_MAX_INPUTS) {
        sdd_err_set(e, "%s: \"weights\" must be an array of 1 to %d numbers", name, SDD_CAL_MAX_INPUTS);
        goto done;
    }
    t.k = (int)json_array_size(w);
    for (int i = 0; i < t.k; i++) {
        json_t *x = json_array_get(w, (size_t)i);
        if (!json_is_number(x) || !isfinite(json_number_value(x))) {
            sdd_err_set(e, "%s: \"weights\"[%d] is not a finite number", name, i);
            goto done;
        }
        t.w[i] = json_number_value(x);
    }
    if (get_num(j, "bias", &t.b, 1, name, e)) goto done;
    t.prior = 0.5;
    int r = get_num(j, "prior", &t.prior, 0, name, e);
    if (r < 0) goto done;
    if (!(t.prior > 0 && t.prior < 1)) { sdd_err_set(e, "%s: \"prior\" must be in (0, 1)", name); goto done; }
    r = get_num(j, "l2", &t.l2, 0, name, e);
    if (r < 0) goto done;
    if (!json_is_object(dec)) { sdd_err_set(e, "%s: missing \"decision\" object (pspoof, cmiss, cfa)", name); goto done; }
    double ps, cm, cf, thr;
    char sub[300];
    snprintf(sub, sizeof sub, "%s: decision", name);
    if (get_num(dec, "pspoof", &ps, 1, sub, e) || get_num(dec, "cmiss", &cm, 1, sub, e) ||
        get_num(dec, "cfa", &cf, 1, sub, e))
        goto done;
    if (sdd_calibration_set_decision(&t, ps, cm, cf, e)) { sdd_err_prefix(e, "%s", name); goto done; }
    r = get_num(dec, "threshold", &thr, 0, sub, e);
    if (r < 0) goto done;
    if (r == 0) t.threshold = thr;   /* a stated threshold overrides the Bayes one */
    *c = t;
    rc = 0;
done:
    json_decref(j);
    return rc;
}

int sdd_calibration_load(const char *path, sdd_calibration *c, sdd_err *e)
{
    memset(c, 0, sizeof *c);
    size_t n;
    char *buf = sdd_read_all(path, (size_t)1 << 20, "calibration file", &n, e);
    if (!buf) return -1;
    const int rc = sdd_calibration_parse(buf, n, path, c, e);
    free(buf);
    return rc;
}

char *sdd_calibration_to_json(const sdd_calibration *c, int compact, const char *const *inputs,
                              const void *trained_on, sdd_err *e)
{
    json_t *j = json_object(), *w = json_array(), *d = json_object();
    if (!j || !w || !d) { json_decref(j); json_decref(w); json_decref(d); sdd_err_set(e, "out of memory"); return NULL; }
    json_object_set_new(j, "format", json_string(SDD_CAL_FORMAT));
    json_object_set_new(j, "version", json_integer(1));
    json_object_set_new(j, "kind", json_string(c->k == 1 ? "calibration" : "fusion"));
    json_object_set_new(j, "output", json_string("natural-log likelihood ratio, bona fide vs spoof: LLR = weights . scores + bias"));
    for (int i = 0; i < c->k; i++) json_array_append_new(w, json_real(c->w[i]));
    json_object_set_new(j, "weights", w);
    json_object_set_new(j, "bias", json_real(c->b));
    json_object_set_new(j, "prior", json_real(c->prior));
    json_object_set_new(j, "l2", json_real(c->l2));
    json_object_set_new(d, "pspoof", json_real(c->pspoof));
    json_object_set_new(d, "cmiss", json_real(c->cmiss));
    json_object_set_new(d, "cfa", json_real(c->cfa));
    json_object_set_new(d, "threshold", json_real(c->threshold));
    json_object_set_new(j, "decision", d);
    if (inputs) {
        json_t *in = json_array();
        for (int i = 0; i < c->k; i++) json_array_append_new(in, json_string(inputs[i] ? inputs[i] : ""));
        json_object_set_new(j, "inputs", in);
    }
    if (trained_on) json_object_set(j, "trained_on", (json_t *)trained_on);
    char *s = json_dumps(j, (compact ? JSON_COMPACT : JSON_INDENT(2)) | JSON_REAL_PRECISION(17) | JSON_ENSURE_ASCII);
    json_decref(j);
    if (!s) sdd_err_set(e, "out of memory");
    return s;
}

int sdd_calibration_save(const char *path, const sdd_calibration *c, const char *const *inputs,
                         const void *trained_on, sdd_err *e)
{
    char *s = sdd_calibration_to_json(c, 0, inputs, trained_on, e);
    if (!s) return -1;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) { free(s); return sdd_err_set(e, "out of memory"); }
    t[n] = '\n';
    t[n + 1] = 0;
    int rc = sdd_atomic_write(path, t, n + 1, e);
    free(t);
    return rc;
}
