/* Owns the shortcut features and the logistic regression of shortcut.h (its
 * solver is the calibration's, metrics/calibration.c). */
#include "data/shortcut.h"
#include "metrics/calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const sdd_shortcut_names[SDD_SC_N] = {
    "duration_s", "rms_dbfs", "peak_dbfs", "crest_db", "silence_ratio",
    "lead_silence_s", "rolloff95_hz", "bandwidth_hz", "noise_floor_dbfs", "clip_ratio",
};

#define FRAME 512
#define HOP 256
#define FLOOR_DB (-120.0)

static double to_db(double power) { return power > 1e-12 ? 10.0 * log10(power) : FLOOR_DB; }

/* In-place iterative radix-2 FFT of length FRAME (re, im). */
static void fft512(double *re, double *im)
{
    for (int i = 1, j = 0; i < FRAME; i++) {
        int bit = FRAME >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    for (int len = 2; len <= FRAME; len <<= 1) {
        double ang = -2.0 * M_PI / len;
        for (int i = 0; i < FRAME; i += len) {
            for (int k = 0; k < len / 2; k++) {
                double wr = cos(ang * k), wi = sin(ang * k);
                double ur = re[i + k], ui = im[i + k];
                double vr = re[i + k + len / 2] * wr - im[i + k + len / 2] * wi;
                double vi = re[i + k + len / 2] * wi + im[i + k + len / 2] * wr;
                re[i + k] = ur + vr; im[i + k] = ui + vi;
                re[i + k + len / 2] = ur - vr; im[i + k + len / 2] = ui - vi;
            }
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int sdd_shortcut_features(const float *x, int64_t n, int sr, double *f, sdd_err *e)
{
    if (!x || n < 1 || sr <= 0 || !f) return sdd_err_set(e, "shortcut features: bad arguments");
    double ss = 0, peak = 0;
    int64_t clipped = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs((double)x[i]);
        ss += a * a;
        if (a > peak) peak = a;
        if (a >= 0.999) clipped++;
    }
    f[SDD_SC_DURATION] = (double)n / sr;
    f[SDD_SC_RMS] = to_db(ss / (double)n);
    f[SDD_SC_PEAK] = to_db(peak * peak);
    f[SDD_SC_CREST] = f[SDD_SC_PEAK] - f[SDD_SC_RMS];
    f[SDD_SC_CLIP] = (double)clipped / (double)n;

    /* frames: (nfr, FRAME) with hop HOP; a clip shorter than a frame is one
     * zero-padded frame */
    int64_t nfr = n <= FRAME ? 1 : 1 + (n - FRAME) / HOP;
    double *fe = malloc((size_t)nfr * sizeof *fe);          /* (nfr) frame power, dB */
    double *spec = calloc(FRAME / 2 + 1, sizeof *spec);     /* (FRAME/2+1) mean power */
    double *re = malloc(FRAME * sizeof *re), *im = malloc(FRAME * sizeof *im);
    if (!fe || !spec || !re || !im) {
        free(fe); free(spec); free(re); free(im);
        return sdd_err_set(e, "shortcut features: out of memory");
    }
    double loud = FLOOR_DB;
    for (int64_t t = 0; t < nfr; t++) {
        double p = 0;
        for (int k = 0; k < FRAME; k++) {
            int64_t i = t * HOP + k;
            double v = i < n ? x[i] : 0.0;
            double w = 0.5 - 0.5 * cos(2.0 * M_PI * k / FRAME);
            p += v * v;
            re[k] = v * w;
            im[k] = 0;
        }
        fe[t] = to_db(p / FRAME);
        if (fe[t] > loud) loud = fe[t];
        fft512(re, im);
        for (int k = 0; k <= FRAME / 2; k++) spec[k] += (re[k] * re[k] + im[k] * im[k]) / (double)nfr;
    }
    int64_t quiet = 0, lead = -1;
    for (int64_t t = 0; t < nfr; t++) {
        if (fe[t] < loud - 40.0) quiet++;
        else if (lead < 0) lead = t;
    }
    f[SDD_SC_SILENCE] = (double)quiet / (double)nfr;
    f[SDD_SC_LEAD] = (double)(lead < 0 ? 0 : lead) * HOP / sr;

    double tot = 0, smax = 0;
    for (int k = 0; k <= FRAME / 2; k++) { tot += spec[k]; if (spec[k] > smax) smax = spec[k]; }
    double acc = 0, hz = (double)sr / FRAME;
    int roll = FRAME / 2, bw = 0;
    for (int k = 0; k <= FRAME / 2; k++) {
        acc += spec[k];
        if (acc >= 0.95 * tot) { roll = k; break; }
    }
    for (int k = 0; k <= FRAME / 2; k++)
        if (smax > 0 && to_db(spec[k]) >= to_db(smax) - 50.0) bw = k;
    f[SDD_SC_ROLLOFF] = roll * hz;
    f[SDD_SC_BANDWIDTH] = bw * hz;

    qsort(fe, (size_t)nfr, sizeof *fe, cmp_double);
    f[SDD_SC_NOISE] = fe[(int64_t)floor(0.1 * (double)(nfr - 1))];
    free(fe); free(spec); free(re); free(im);
    return 0;
}

int sdd_logreg_fit(const double *X, const unsigned char *y, int64_t n, int nf, double l2, sdd_logreg *m, sdd_err *e)
{
    if (!X || !y || !m || n < 2 || nf < 1 || nf > SDD_SC_N || !(l2 >= 0))
        return sdd_err_set(e, "logistic regression: bad arguments");
    int64_t npos = 0;
    for (int64_t i = 0; i < n; i++) npos += y[i] != 0;
    if (npos == 0 || npos == n) return sdd_err_set(e, "logistic regression: needs both classes");
    memset(m, 0, sizeof *m);
    m->nf = nf;
    for (int j = 0; j < nf; j++) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < n; i++) s += X[i * nf + j];
        m->mean[j] = s / (double)n;
        for (int64_t i = 0; i < n; i++) { double d = X[i * nf + j] - m->mean[j]; s2 += d * d; }
        double sd = sqrt(s2 / (double)n);
        m->sd[j] = sd > 1e-12 ? sd : 1.0;   /* a constant feature stays 0 */
    }
    /* the mean log-loss + l2/2 |w|^2 on the standardised features is the
     * calibration's prior-weighted objective with the prior at the train
     * share of class 1 (each trial weighs 1/n): its Newton solver finds the
     * optimum to rounding; its bias excludes logit(prior), added back here */
    double *Z = malloc((size_t)n * (size_t)nf * sizeof *Z);
    if (!Z) return sdd_err_set(e, "logistic regression: out of memory");
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < nf; j++) Z[i * nf + j] = (X[i * nf + j] - m->mean[j]) / m->sd[j];
    const double prior = (double)npos / (double)n;
    sdd_calibration c;
    const int rc = sdd_calibration_train(Z, y, n, nf, prior, l2, &c, NULL, e);
    free(Z);
    if (rc) return sdd_err_prefix(e, "logistic regression");
    for (int j = 0; j < nf; j++) m->w[j] = c.w[j];
    m->b = c.b + log(prior / (1.0 - prior));
    return 0;
}

double sdd_logreg_score(const sdd_logreg *m, const double *x)
{
    double s = m->b;
    for (int j = 0; j < m->nf; j++) s += m->w[j] * (x[j] - m->mean[j]) / m->sd[j];
    return s;
}

typedef struct { double s; unsigned char y; } scored;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

int sdd_shortcut_eer(const double *s, const unsigned char *y, int64_t n, double *eer, sdd_err *e)
{
    if (!s || !y || !eer || n < 2) return sdd_err_set(e, "EER: bad arguments");
    scored *v = malloc((size_t)n * sizeof *v);
    if (!v) return sdd_err_set(e, "EER: out of memory");
    int64_t npos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(s[i])) { free(v); return sdd_err_set(e, "EER: NaN score"); }
        v[i].s = s[i]; v[i].y = y[i] != 0; npos += v[i].y;
    }
    int64_t nneg = n - npos;
    if (!npos || !nneg) { free(v); return sdd_err_set(e, "EER: needs both classes"); }
    qsort(v, (size_t)n, sizeof *v, cmp_scored);
    /* threshold below group g: miss = positives below, fa = negatives at or above */
    double miss0 = 0, fa0 = 1;    /* threshold below everything */
    int64_t pos_below = 0, neg_below = 0;
    *eer = 0.5;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j].s == v[i].s) { pos_below += v[j].y; neg_below += !v[j].y; j++; }
        double miss1 = (double)pos_below / npos, fa1 = 1.0 - (double)neg_below / nneg;
        if (miss1 >= fa1) {
            /* the segment (miss0, fa0) -> (miss1, fa1) crosses miss = fa */
            double d0 = fa0 - miss0, d1 = miss1 - fa1, t = d0 + d1 > 0 ? d0 / (d0 + d1) : 0.5;
            *eer = miss0 + t * (miss1 - miss0);
            break;
        }
        miss0 = miss1; fa0 = fa1;
        i = j;
    }
    free(v);
    return 0;
}
