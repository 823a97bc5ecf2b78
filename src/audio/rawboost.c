/* Owns RawBoost (see rawboost.h): parameters and their flags, the draws from
 * the counter RNG, and the deterministic algorithm bodies (LnL convolutive,
 * ISD impulsive, SSI coloured additive noise and their combinations). The FIR
 * design and filtering live in audio/fir.c. */
#include "audio/rawboost.h"
#include "audio/fir.h"
#include "audio/fftconv.h"
#include "core/rng.h"
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define RB_TAG 0x52617742u /* "RawB" */

void sdd_rawboost_default_params(sdd_rawboost_params *p)
{
    p->nBands = 5;
    p->minF = 20.0; p->maxF = 8000.0;
    p->minBW = 100.0; p->maxBW = 1000.0;
    p->minCoeff = 10; p->maxCoeff = 100;
    p->minG = 0.0; p->maxG = 0.0;
    p->minBiasLinNonLin = 5.0; p->maxBiasLinNonLin = 20.0;
    p->N_f = 5;
    p->P = 10.0; p->g_sd = 2.0;
    p->SNRmin = 10.0; p->SNRmax = 40.0;
    p->fs = 16000;
}

/* ------------------------------------------------------------ flags */

typedef enum { RB_INT, RB_DBL } rb_kind;
typedef struct {
    const char *name;   /* after "--rb-" */
    rb_kind kind;
    size_t off;
    double lo, hi;      /* accepted range of a single value */
} rb_flag;

#define F_INT(nm, field, lo, hi) { nm, RB_INT, offsetof(sdd_rawboost_params, field), lo, hi }
#define F_DBL(nm, field, lo, hi) { nm, RB_DBL, offsetof(sdd_rawboost_params, field), lo, hi }
static const rb_flag rb_flags[] = {
    F_INT("nbands", nBands, 0, SDD_RAWBOOST_MAX_BANDS),
    F_DBL("minf", minF, 0, 1e9),
    F_DBL("maxf", maxF, 0, 1e9),
    F_DBL("minbw", minBW, 0, 1e9),
    F_DBL("maxbw", maxBW, 0, 1e9),
    F_INT("mincoeff", minCoeff, 0, SDD_RAWBOOST_MAX_COEFF),
    F_INT("maxcoeff", maxCoeff, 0, SDD_RAWBOOST_MAX_COEFF),
    F_DBL("ming", minG, -200, 200),
    F_DBL("maxg", maxG, -200, 200),
    F_DBL("minbias", minBiasLinNonLin, 0, 200),
    F_DBL("maxbias", maxBiasLinNonLin, 0, 200),
    F_INT("nf", N_f, 0, SDD_RAWBOOST_MAX_NF),
    F_DBL("p", P, 0, 100),
    F_DBL("gsd", g_sd, 0, 1e6),
    F_DBL("snr-min", SNRmin, -200, 200),
    F_DBL("snr-max", SNRmax, -200, 200),
};
#undef F_INT
#undef F_DBL

int sdd_rawboost_parse_flag(sdd_rawboost_params *p, const char *flag, const char *value, sdd_err *e)
{
    if (!flag || strncmp(flag, "--rb-", 5) != 0) return 0;
    const rb_flag *f = NULL;
    for (size_t i = 0; i < sizeof rb_flags / sizeof rb_flags[0]; i++)
        if (!strcmp(flag + 5, rb_flags[i].name)) { f = &rb_flags[i]; break; }
    if (!f) return 0;
    if (!value || !*value) return sdd_err_set(e, "%s needs a value", flag);
    char *end;
    errno = 0;
    if (f->kind == RB_INT) {
        long v = strtol(value, &end, 10);
        if (errno || *end || v < (long)f->lo || v > (long)f->hi)
            return sdd_err_set(e, "%s: '%s' is not an integer in %.0f..%.0f", flag, value, f->lo, f->hi);
        *(int *)((char *)p + f->off) = (int)v;
    } else {
        double v = strtod(value, &end);
        if (errno || *end || !isfinite(v) || v < f->lo || v > f->hi) {
            if (f->lo == 0)
                return sdd_err_set(e, "%s: '%s' is not a number in 0..%g", flag, value, f->hi);
            return sdd_err_set(e, "%s: '%s' is not a number in %g..%g", flag, value, f->lo, f->hi);
        }
        *(double *)((char *)p + f->off) = v;
    }
    return 1;
}

const char *sdd_rawboost_flags_help(void)
{
    return "RawBoost parameters (defaults are the reference's):\n"
           "  --rb-nbands N      notch bands per filter, 0..64 (5)\n"
           "  --rb-minf HZ       lowest notch centre frequency (20)\n"
           "  --rb-maxf HZ       highest notch centre frequency (8000)\n"
           "  --rb-minbw HZ      narrowest notch, > 0 (100)\n"
           "  --rb-maxbw HZ      widest notch (1000)\n"
           "  --rb-mincoeff N    taps per band drawn as int(U(mincoeff, maxcoeff)), even\n"
           "  --rb-maxcoeff N    counts made odd; 0..4096 (10, 100: odd 11..99)\n"
           "  --rb-ming DB       lowest filter gain (0)\n"
           "  --rb-maxg DB       highest filter gain (0)\n"
           "  --rb-minbias DB    LnL: terms x^2..x^nf use gains U(ming - minbias,\n"
           "  --rb-maxbias DB    maxg - maxbias) (5, 20: gains in (-20, -5] dB)\n"
           "  --rb-nf N          LnL: number of terms x^1..x^N, 0..64 (5)\n"
           "  --rb-p PCT         ISD: impulses on U(0, PCT) percent of the samples, 0..100 (10)\n"
           "  --rb-gsd G         ISD: impulse gain (2)\n"
           "  --rb-snr-min DB    SSI: lowest SNR of the added coloured noise (10)\n"
           "  --rb-snr-max DB    SSI: highest SNR (40)\n";
}

const char *sdd_rawboost_algo_name(int algo)
{
    static const char *names[SDD_RAWBOOST_NALGO] = {
        "none", "LnL", "ISD", "SSI", "LnL+ISD+SSI", "LnL+ISD", "LnL+SSI", "ISD+SSI", "LnL||ISD"
    };
    return algo >= 0 && algo < SDD_RAWBOOST_NALGO ? names[algo] : NULL;
}

int sdd_rawboost_check_params(const sdd_rawboost_params *p, sdd_err *e)
{
    if (!p) return sdd_err_set(e, "RawBoost: no parameters");
    if (p->fs <= 0) return sdd_err_set(e, "RawBoost: sample rate %d is not positive", p->fs);
    const double nyq = 0.5 * p->fs;
    if (p->nBands < 0 || p->nBands > SDD_RAWBOOST_MAX_BANDS)
        return sdd_err_set(e, "--rb-nbands %d is not in 0..%d", p->nBands, SDD_RAWBOOST_MAX_BANDS);
    if (p->N_f < 0 || p->N_f > SDD_RAWBOOST_MAX_NF)
        return sdd_err_set(e, "--rb-nf %d is not in 0..%d", p->N_f, SDD_RAWBOOST_MAX_NF);
    if (p->minCoeff < 0 || p->minCoeff > SDD_RAWBOOST_MAX_COEFF)
        return sdd_err_set(e, "--rb-mincoeff %d is not in 0..%d", p->minCoeff, SDD_RAWBOOST_MAX_COEFF);
    if (p->maxCoeff < 0 || p->maxCoeff > SDD_RAWBOOST_MAX_COEFF)
        return sdd_err_set(e, "--rb-maxcoeff %d is not in 0..%d", p->maxCoeff, SDD_RAWBOOST_MAX_COEFF);
    if (p->minCoeff > p->maxCoeff)
        return sdd_err_set(e, "--rb-mincoeff %d is above --rb-maxcoeff %d", p->minCoeff, p->maxCoeff);
    const double fin[] = { p->minF, p->maxF, p->minBW, p->maxBW, p->minG, p->maxG, p->minBiasLinNonLin,
                           p->maxBiasLinNonLin, p->P, p->g_sd, p->SNRmin, p->SNRmax };
    static const char *fname[] = { "minf", "maxf", "minbw", "maxbw", "ming", "maxg", "minbias", "maxbias",
                                   "p", "gsd", "snr-min", "snr-max" };
    for (int i = 0; i < (int)(sizeof fin / sizeof fin[0]); i++)
        if (!isfinite(fin[i])) return sdd_err_set(e, "--rb-%s is not a finite number", fname[i]);
    if (p->minF < 0) return sdd_err_set(e, "--rb-minf %g is negative", p->minF);
    if (p->minF > p->maxF) return sdd_err_set(e, "--rb-minf %g is above --rb-maxf %g", p->minF, p->maxF);
    if (!(p->minBW > 0)) return sdd_err_set(e, "--rb-minbw %g is not positive", p->minBW);
    if (p->minBW > p->maxBW) return sdd_err_set(e, "--rb-minbw %g is above --rb-maxbw %g", p->minBW, p->maxBW);
    if (!(p->minF + 0.5 * p->minBW > 0.001))
        return sdd_err_set(e, "--rb-minf %g with --rb-minbw %g gives an empty notch band", p->minF, p->minBW);
    if (!(p->maxF - 0.5 * p->minBW < nyq - 0.001))
        return sdd_err_set(e, "--rb-maxf %g with --rb-minbw %g puts a notch band above the Nyquist frequency %g Hz",
                           p->maxF, p->minBW, nyq);
    if (fabs(p->minG) > 200 || fabs(p->maxG) > 200)
        return sdd_err_set(e, "--rb-ming/--rb-maxg must lie in -200..200 dB");
    if (p->minG > p->maxG) return sdd_err_set(e, "--rb-ming %g is above --rb-maxg %g", p->minG, p->maxG);
    if (p->minBiasLinNonLin < 0) return sdd_err_set(e, "--rb-minbias %g is negative", p->minBiasLinNonLin);
    if (p->maxBiasLinNonLin < 0) return sdd_err_set(e, "--rb-maxbias %g is negative", p->maxBiasLinNonLin);
    if (p->minBiasLinNonLin > p->maxBiasLinNonLin)
        return sdd_err_set(e, "--rb-minbias %g is above --rb-maxbias %g", p->minBiasLinNonLin, p->maxBiasLinNonLin);
    if (p->minBiasLinNonLin > 200 || p->maxBiasLinNonLin > 200)
        return sdd_err_set(e, "--rb-minbias/--rb-maxbias must lie in 0..200 dB");
    if (p->P < 0 || p->P > 100) return sdd_err_set(e, "--rb-p %g is not in 0..100", p->P);
    if (p->g_sd < 0) return sdd_err_set(e, "--rb-gsd %g is negative", p->g_sd);
    if (fabs(p->SNRmin) > 200 || fabs(p->SNRmax) > 200)
        return sdd_err_set(e, "--rb-snr-min/--rb-snr-max must lie in -200..200 dB");
    if (p->SNRmin > p->SNRmax) return sdd_err_set(e, "--rb-snr-min %g is above --rb-snr-max %g", p->SNRmin, p->SNRmax);
    return 0;
}

/* ------------------------------------------------------------ draws */

uint64_t sdd_rawboost_stage_key(uint64_t key, int stage, int index)
{
    return sdd_rng_key(key, RB_TAG, (uint64_t)stage, (uint64_t)index);
}

static inline double urange(double a, double b, uint64_t k, uint64_t c)
{
    return a + (b - a) * sdd_rng_uniform_d(k, c);
}

void sdd_rawboost_draw_notch(const sdd_rawboost_params *p, double minG, double maxG, uint64_t k,
                             double *fc, double *bw, int *c, double *G)
{
    uint64_t ctr = 0;
    for (int j = 0; j < p->nBands; j++) {
        fc[j] = urange(p->minF, p->maxF, k, ctr++);
        bw[j] = urange(p->minBW, p->maxBW, k, ctr++);
        int cc = (int)urange((double)p->minCoeff, (double)p->maxCoeff, k, ctr++);
        if (cc % 2 == 0) cc++;
        c[j] = cc;
    }
    *G = urange(minG, maxG, k, ctr);
}

int64_t sdd_rawboost_draw_isd(int64_t n, double P, uint64_t k, int64_t *idx, double *fr)
{
    const double beta = urange(0.0, P, k, 0);
    int64_t m = (int64_t)((double)n * (beta / 100.0));
    if (m > n) m = n;
    if (m < 0) m = 0;
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    /* uniforms drawn in vectorised chunks; the values and their order are
     * those of sdd_rng_uniform_d at the counters of rawboost.h */
    enum { CH = 256 };
    double ua[CH], ub[CH];
    for (int64_t j0 = 0; j0 < m; j0 += CH) {
        const int64_t cnt = m - j0 < CH ? m - j0 : CH;
        sdd_rng_uniform_d_fill(k, (uint64_t)(1 + j0), cnt, ua);
        for (int64_t q = 0; q < cnt; q++) {
            const int64_t j = j0 + q;
            int64_t r = j + (int64_t)(ua[q] * (double)(n - j));
            if (r >= n) r = n - 1;
            const int64_t t = idx[j]; idx[j] = idx[r]; idx[r] = t;
        }
    }
    for (int64_t j0 = 0; j0 < m; j0 += CH) {
        const int64_t cnt = m - j0 < CH ? m - j0 : CH;
        sdd_rng_uniform_d_fill(k, (uint64_t)(1 + m + j0), cnt, ua);
        sdd_rng_uniform_d_fill(k, (uint64_t)(1 + 2 * m + j0), cnt, ub);
        for (int64_t q = 0; q < cnt; q++) fr[j0 + q] = (2.0 * ua[q] - 1.0) * (2.0 * ub[q] - 1.0);
    }
    return m;
}

/* ------------------------------------------------------------ deterministic parts */

/* sum of x[0..n) in eight interleaved partial sums added in a fixed order:
 * vectorisable and the same bits on every call */
static double sum_fixed(const double *x, int64_t n, int squares)
{
    double acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    int64_t i = 0;
    if (squares)
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; j++) acc[j] += x[i + j] * x[i + j];
    else
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; j++) acc[j] += x[i + j];
    for (int j = 0; i < n; i++, j++) acc[j] += squares ? x[i] * x[i] : x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void sdd_rawboost_normwav(double *x, int64_t n, int always)
{
    double m = 0.0;
    #pragma omp simd reduction(max:m)
    for (int64_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    if (m == 0.0) return; /* all zero: the reference would divide by zero */
    /* times 1/m rather than / m: within one rounding of the reference's
     * division, and a multiply vectorises at full rate */
    const double inv = 1.0 / m;
    if (always || m > 1.0)
        for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

static inline int odd_taps(int c) { return c % 2 == 0 ? c + 1 : c; }

int sdd_rawboost_notch_len(const int *c, int nbands)
{
    int len = 1;
    for (int j = 0; j < nbands; j++) len += odd_taps(c[j]) - 1;
    return len;
}

int sdd_rawboost_notch_coeffs(const double *fc, const double *bw, const int *c, int nbands,
                              double G, double fs, double *b, int *nb, sdd_err *e)
{
    if (nbands < 0) return sdd_err_set(e, "notch: %d bands", nbands);
    for (int j = 0; j < nbands; j++)
        if (c[j] < 0 || c[j] > SDD_RAWBOOST_MAX_COEFF)
            return sdd_err_set(e, "notch: band %d: %d taps is not in 0..%d", j, c[j], SDD_RAWBOOST_MAX_COEFF);
    const int total = sdd_rawboost_notch_len(c, nbands);
    int maxc = 1;
    for (int j = 0; j < nbands; j++) if (odd_taps(c[j]) > maxc) maxc = odd_taps(c[j]);
    double *h = malloc((size_t)maxc * sizeof *h);
    double *tmp = malloc((size_t)total * sizeof *tmp);
    if (!h || !tmp) { free(h); free(tmp); return sdd_err_set(e, "notch: out of memory"); }
    int len = 1;
    b[0] = 1.0;
    for (int j = 0; j < nbands; j++) {
        const int cj = odd_taps(c[j]);
        double f1 = fc[j] - bw[j] / 2.0, f2 = fc[j] + bw[j] / 2.0;
        if (f1 <= 0) f1 = 1.0 / 1000.0;
        if (f2 >= fs / 2.0) f2 = fs / 2.0 - 1.0 / 1000.0;
        if (sdd_fir_firwin_bandstop(cj, f1, f2, fs, h, e)) {
            free(h); free(tmp);
            return sdd_err_prefix(e, "notch band %d (fc %g Hz, bw %g Hz)", j, fc[j], bw[j]);
        }
        sdd_fir_convolve(h, cj, b, len, tmp);
        len += cj - 1;
        memcpy(b, tmp, (size_t)len * sizeof *b);
    }
    free(h); free(tmp);
    const double hmax = sdd_fir_freqz_maxabs_fft(b, len, SDD_RAWBOOST_FREQZ_POINTS);
    if (hmax < 0) return sdd_err_set(e, "notch: out of memory");
    if (!(hmax > 0) || !isfinite(hmax)) return sdd_err_set(e, "notch: the filter has no response (max |H| = %g)", hmax);
    const double g = pow(10.0, G / 20.0);
    for (int k = 0; k < len; k++) b[k] = g * b[k] / hmax;
    *nb = len;
    return 0;
}

int sdd_rawboost_filter_fir(const double *x, int64_t n, const double *b, int nb, double *y, sdd_err *e)
{
    return sdd_fir_filter_same(x, n, b, nb, y, e);
}

/* Notch coefficients for the draws of filter number f (arrays offset by the caller). */
static double *notch_alloc(const double *fc, const double *bw, const int *c, int nbands, double G,
                           double fs, int *nb, sdd_err *e)
{
    for (int j = 0; j < nbands; j++)
        if (c[j] < 0 || c[j] > SDD_RAWBOOST_MAX_COEFF) {
            sdd_err_set(e, "notch: band %d: %d taps is not in 0..%d", j, c[j], SDD_RAWBOOST_MAX_COEFF);
            return NULL;
        }
    double *b = malloc((size_t)sdd_rawboost_notch_len(c, nbands) * sizeof *b);
    if (!b) { sdd_err_set(e, "notch: out of memory"); return NULL; }
    if (sdd_rawboost_notch_coeffs(fc, bw, c, nbands, G, fs, b, nb, e)) { free(b); return NULL; }
    return b;
}

int sdd_rawboost_lnl_given(const double *x, int64_t n, int nf, int nbands, const double *fc,
                           const double *bw, const int *c, const double *G, double fs,
                           double *y, sdd_err *e)
{
    if (n <= 0) return 0;
    if (nf <= 0) {
        for (int64_t t = 0; t < n; t++) y[t] = 0.0;
        return 0;
    }
    double **bs = calloc((size_t)nf, sizeof *bs);
    int *nbs = calloc((size_t)nf, sizeof *nbs);
    int rc = 0;
    if (!bs || !nbs) { rc = sdd_err_set(e, "LnL: out of memory"); goto done; }
    for (int i = 0; i < nf && !rc; i++) {
        bs[i] = notch_alloc(fc + (size_t)i * nbands, bw + (size_t)i * nbands, c + (size_t)i * nbands,
                            nbands, G[i], fs, &nbs[i], e);
        if (!bs[i]) rc = sdd_err_prefix(e, "LnL filter %d", i);
    }
    /* y = sum_i filterFIR(x^(i+1), b_i): one pass (overlap-save sums the
     * terms' spectra before a single inverse transform per block) */
    if (!rc) rc = sdd_fir_filter_powers(x, n, nf, (const double *const *)bs, nbs, SDD_FIR_AUTO, y, e);
    if (!rc) {
        const double mean = sum_fixed(y, n, 0) / (double)n;
        for (int64_t t = 0; t < n; t++) y[t] = y[t] - mean;
        sdd_rawboost_normwav(y, n, 0);
    }
done:
    for (int i = 0; bs && i < nf; i++) free(bs[i]);
    free(bs);
    free(nbs);
    return rc ? -1 : 0;
}

int sdd_rawboost_isd_given(const double *x, int64_t n, const int64_t *idx, const double *fr,
                           int64_t m, double g_sd, double *y, sdd_err *e)
{
    for (int64_t j = 0; j < m; j++)
        if (idx[j] < 0 || idx[j] >= n)
            return sdd_err_set(e, "ISD: index %lld is outside 0..%lld", (long long)idx[j], (long long)n - 1);
    if (y != x) memcpy(y, x, (size_t)n * sizeof *y);
    /* distinct indices: y[idx] still equals x[idx] when it is written */
    for (int64_t j = 0; j < m; j++) {
        const double xv = x[idx[j]];
        y[idx[j]] = xv + g_sd * xv * fr[j];
    }
    sdd_rawboost_normwav(y, n, 0);
    return 0;
}

static double norm2(const double *x, int64_t n)
{
    return sqrt(sum_fixed(x, n, 1));
}

/* SSI body with the filtered-noise buffer f (n values) given by the caller. */
static int ssi_core(const double *x, int64_t n, const double *noise, const double *fc, const double *bw,
                    const int *c, int nbands, double G, double snr, double fs, double *y, double *f, sdd_err *e)
{
    int nb;
    double *b = notch_alloc(fc, bw, c, nbands, G, fs, &nb, e);
    if (!b) return sdd_err_prefix(e, "SSI");
    int rc = sdd_fir_filter_same(noise, n, b, nb, f, e);
    free(b);
    if (rc) return -1;
    sdd_rawboost_normwav(f, n, 1);
    const double nn = norm2(f, n);
    if (nn == 0.0) { /* all-zero noise: add nothing (the reference gives NaN) */
        if (y != x) memcpy(y, x, (size_t)n * sizeof *y);
        return 0;
    }
    /* the reference's f / nn * nx / 10^(snr/20) as one factor (a few
     * roundings apart on a term 10-40 dB below the signal) */
    const double nx = norm2(x, n), scale = nx / (nn * pow(10.0, 0.05 * snr));
    for (int64_t t = 0; t < n; t++) y[t] = x[t] + f[t] * scale;
    return 0;
}

int sdd_rawboost_ssi_given(const double *x, int64_t n, const double *noise, const double *fc,
                           const double *bw, const int *c, int nbands, double G, double snr,
                           double fs, double *y, sdd_err *e)
{
    if (n <= 0) return 0;
    double *f = malloc((size_t)n * sizeof *f);
    if (!f) return sdd_err_set(e, "SSI: out of memory for %lld samples", (long long)n);
    int rc = ssi_core(x, n, noise, fc, bw, c, nbands, G, snr, fs, y, f, e);
    free(f);
    return rc;
}

/* ------------------------------------------------------------ algorithms with draws */

static int lnl(const double *x, int64_t n, const sdd_rawboost_params *p, uint64_t key, double *y, sdd_err *e)
{
    const int nf = p->N_f, nbd = p->nBands;
    const size_t cnt = (size_t)(nf > 0 ? nf : 1) * (size_t)(nbd > 0 ? nbd : 1);
    double *fc = malloc(cnt * sizeof *fc), *bw = malloc(cnt * sizeof *bw), *G = malloc((size_t)(nf > 0 ? nf : 1) * sizeof *G);
    int *c = malloc(cnt * sizeof *c);
    if (!fc || !bw || !G || !c) { free(fc); free(bw); free(G); free(c); return sdd_err_set(e, "LnL: out of memory"); }
    double minG = p->minG, maxG = p->maxG;
    for (int i = 0; i < nf; i++) {
        if (i == 1) { minG = minG - p->minBiasLinNonLin; maxG = maxG - p->maxBiasLinNonLin; }
        const size_t o = (size_t)i * nbd;
        sdd_rawboost_draw_notch(p, minG, maxG, sdd_rawboost_stage_key(key, SDD_RB_STAGE_LNL, i),
                                fc + o, bw + o, c + o, &G[i]);
    }
    int rc = sdd_rawboost_lnl_given(x, n, nf, nbd, fc, bw, c, G, (double)p->fs, y, e);
    free(fc); free(bw); free(G); free(c);
    return rc;
}

/* idx (n int64) and fr (n doubles): scratch from the caller's workspace */
static int isd(const double *x, int64_t n, const sdd_rawboost_params *p, uint64_t key, double *y,
               int64_t *idx, double *fr, sdd_err *e)
{
    const int64_t m = sdd_rawboost_draw_isd(n, p->P, sdd_rawboost_stage_key(key, SDD_RB_STAGE_ISD, 0), idx, fr);
    return sdd_rawboost_isd_given(x, n, idx, fr, m, p->g_sd, y, e);
}

/* noise and f (n doubles each): scratch from the caller's workspace */
static int ssi(const double *x, int64_t n, const sdd_rawboost_params *p, uint64_t key, double *y,
               double *noise, double *f, sdd_err *e)
{
    double fc[SDD_RAWBOOST_MAX_BANDS], bw[SDD_RAWBOOST_MAX_BANDS], G;
    int c[SDD_RAWBOOST_MAX_BANDS];
    sdd_rng_normal_fill(sdd_rawboost_stage_key(key, SDD_RB_STAGE_SSI_NOISE, 0), 0, n, noise);
    const uint64_t kf = sdd_rawboost_stage_key(key, SDD_RB_STAGE_SSI_FILTER, 0);
    sdd_rawboost_draw_notch(p, p->minG, p->maxG, kf, fc, bw, c, &G);
    const double snr = urange(p->SNRmin, p->SNRmax, kf, 3 * (uint64_t)p->nBands + 1);
    return ssi_core(x, n, noise, fc, bw, c, p->nBands, G, snr, (double)p->fs, y, f, e);
}

static int check_input(int algo, int64_t n, const sdd_rawboost_params *p, sdd_err *e)
{
    if (algo < 0 || algo >= SDD_RAWBOOST_NALGO) return sdd_err_set(e, "RawBoost: unknown algorithm %d (0..8)", algo);
    if (n < 1) return sdd_err_set(e, "RawBoost: empty input");
    return sdd_rawboost_check_params(p, e);
}

/* The algorithms on checked input. ws holds 4 n doubles: two stage outputs
 * a, b and two scratch buffers (ISD's indices and factors, then SSI's noise
 * and filtered noise). One allocation per call instead of one per buffer:
 * fewer fresh pages to fault in. out may equal x. */
static int run(int algo, const double *x, int64_t n, double *out, const sdd_rawboost_params *p, uint64_t key,
               double *ws, sdd_err *e)
{
    int bad = 0;   /* x - x is 0 exactly for finite x, NaN for inf and NaN */
    #pragma omp simd reduction(|:bad)
    for (int64_t t = 0; t < n; t++) bad |= !(x[t] - x[t] == 0.0);
    for (int64_t t = 0; bad && t < n; t++)
        if (!isfinite(x[t])) return sdd_err_set(e, "RawBoost: sample %lld is not finite", (long long)t);
    if (algo == 0) { if (out != x) memcpy(out, x, (size_t)n * sizeof *out); return 0; }
    double *a = ws, *b = ws + n, *s1 = ws + 2 * n, *s2 = ws + 3 * n;
    int64_t *idx = (int64_t *)s1;
    int rc = 0;
    switch (algo) {
    case 1: rc = lnl(x, n, p, key, a, e); break;
    case 2: rc = isd(x, n, p, key, a, idx, s2, e); break;
    case 3: rc = ssi(x, n, p, key, a, s1, s2, e); break;
    case 4:
        rc = lnl(x, n, p, key, b, e);
        if (!rc) rc = isd(b, n, p, key, b, idx, s2, e);
        if (!rc) rc = ssi(b, n, p, key, a, s1, s2, e);
        break;
    case 5:
        rc = lnl(x, n, p, key, b, e);
        if (!rc) rc = isd(b, n, p, key, a, idx, s2, e);
        break;
    case 6:
        rc = lnl(x, n, p, key, b, e);
        if (!rc) rc = ssi(b, n, p, key, a, s1, s2, e);
        break;
    case 7:
        rc = isd(x, n, p, key, b, idx, s2, e);
        if (!rc) rc = ssi(b, n, p, key, a, s1, s2, e);
        break;
    case 8:
        rc = lnl(x, n, p, key, a, e);
        if (!rc) rc = isd(x, n, p, key, b, idx, s2, e);
        if (!rc) {
            for (int64_t t = 0; t < n; t++) a[t] = a[t] + b[t];
            sdd_rawboost_normwav(a, n, 0);
        }
        break;
    }
    if (!rc) memcpy(out, a, (size_t)n * sizeof *out);
    return rc ? -1 : 0;
}

int sdd_rawboost_apply_d(int algo, const double *x, int64_t n, double *y,
                         const sdd_rawboost_params *p, uint64_t key, sdd_err *e)
{
    if (check_input(algo, n, p, e)) return -1;
    double *ws = malloc((size_t)n * 4 * sizeof *ws);
    if (!ws) return sdd_err_set(e, "RawBoost: out of memory for %lld samples", (long long)n);
    const int rc = run(algo, x, n, y, p, key, ws, e);
    free(ws);
    return rc;
}

int sdd_rawboost_apply(int algo, const float *x, int64_t n, float *y,
                       const sdd_rawboost_params *p, uint64_t key, sdd_err *e)
{
    if (check_input(algo, n, p, e)) return -1;
    double *ws = malloc((size_t)n * 5 * sizeof *ws);   /* (5, n): the signal in double, then run's 4 */
    if (!ws) return sdd_err_set(e, "RawBoost: out of memory for %lld samples", (long long)n);
    double *d = ws + 4 * n;
    for (int64_t t = 0; t < n; t++) d[t] = (double)x[t];
    const int rc = run(algo, d, n, d, p, key, ws, e);
    if (!rc)
        for (int64_t t = 0; t < n; t++) y[t] = (float)d[t];
    free(ws);
    return rc;
}
