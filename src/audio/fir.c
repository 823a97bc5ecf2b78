/* Owns FIR design and filtering for RawBoost (see fir.h). The band-stop
 * design follows scipy.signal.firwin step by step (normalised cut-offs,
 * pass bands [0, f1] and [f2, 1], sum of right*sinc(right m) - left*sinc(left
 * m) terms, Hamming window, division by the DC sum) so the taps agree with
 * scipy's to rounding. The direct filterFIR sum lives here; the FFT path and
 * the choice between the two are audio/fftconv.c's. */
#include "audio/fir.h"
#include "audio/fftconv.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.141592653589793;

void sdd_fir_hamming(int M, double *w)
{
    if (M <= 0) return;
    if (M == 1) { w[0] = 1.0; return; }
    /* numpy.linspace(-pi, pi, M): k * step + start, last point exactly pi */
    const double step = (PI - (-PI)) / (double)(M - 1);
    const double a0 = 0.54, a1 = 1.0 - 0.54;
    for (int k = 0; k < M; k++) {
        double t = k == M - 1 ? PI : (double)k * step + (-PI);
        w[k] = a0 + a1 * cos(t);
    }
}

double sdd_fir_sinc(double x)
{
    double y = PI * (x == 0.0 ? 1.0e-20 : x);
    return sin(y) / y;
}

int sdd_fir_firwin_bandstop(int numtaps, double f1, double f2, double fs, double *h, sdd_err *e)
{
    if (numtaps < 1 || numtaps % 2 == 0)
        return sdd_err_set(e, "firwin: a band-stop filter needs an odd number of taps, got %d", numtaps);
    if (!(fs > 0.0))
        return sdd_err_set(e, "firwin: sample rate %g is not positive", fs);
    const double nyq = 0.5 * fs;
    const double c1 = f1 / nyq, c2 = f2 / nyq;
    if (!(c1 > 0.0) || !(c2 < 1.0) || !(c2 > c1))
        return sdd_err_set(e, "firwin: cut-offs %g, %g Hz must satisfy 0 < f1 < f2 < %g", f1, f2, nyq);
    double *w = malloc((size_t)numtaps * sizeof *w);
    if (!w) return sdd_err_set(e, "firwin: out of memory for %d taps", numtaps);
    sdd_fir_hamming(numtaps, w);
    const double alpha = 0.5 * (double)(numtaps - 1);
    for (int k = 0; k < numtaps; k++) {
        const double m = (double)k - alpha;
        /* bands [0, c1] and [c2, 1], accumulated in firwin's order */
        double v = 0.0;
        v += c1 * sdd_fir_sinc(c1 * m);
        /* firwin's "- 0 * sinc(0 * m)" for the band starting at 0: sinc(0) is
         * 1 and v - 0.0 is v, so the term changes nothing and is skipped */
        v += 1.0 * sdd_fir_sinc(1.0 * m);
        v -= c2 * sdd_fir_sinc(c2 * m);
        h[k] = v * w[k];
    }
    free(w);
    /* scale: first pass band starts at 0, so the scale frequency is 0 (cos = 1) */
    double s = 0.0;
    for (int k = 0; k < numtaps; k++) s += h[k] * 1.0;
    for (int k = 0; k < numtaps; k++) h[k] /= s;
    return 0;
}

double sdd_fir_freqz_maxabs(const double *b, int nb, int npoints)
{
    if (npoints < 1 || nb < 1) return 0.0;
    if (npoints > INT_MAX / 2) return -1.0; /* the table's 2 npoints must fit an int */
    const int T = 2 * npoints; /* exp(-j pi k n / npoints) depends on k n mod 2 npoints */
    double *ct = malloc((size_t)T * 2 * sizeof *ct);
    if (!ct) return -1.0;
    double *st = ct + T;
    for (int j = 0; j < T; j++) {
        ct[j] = cos(PI * (double)j / (double)npoints);
        st[j] = sin(PI * (double)j / (double)npoints);
    }
    double best = 0.0;
    for (int k = 0; k < npoints; k++) {
        double re = 0.0, im = 0.0;
        int64_t idx = 0;
        for (int n = 0; n < nb; n++) {
            re += b[n] * ct[idx];
            im -= b[n] * st[idx];
            idx += k;
            if (idx >= T) idx -= T;
        }
        const double mag = hypot(re, im);
        if (mag > best) best = mag;
    }
    free(ct);
    return best;
}

void sdd_fir_convolve(const double *a, int na, const double *b, int nb, double *out)
{
    const int no = na + nb - 1;
    for (int i = 0; i < no; i++) out[i] = 0.0;
    for (int i = 0; i < na; i++) {
        const double ai = a[i];
        double *o = out + i;
        for (int k = 0; k < nb; k++) o[k] += ai * b[k];
    }
}

#define FIR_BLOCK 512

int sdd_fir_filter_same(const double *x, int64_t n, const double *b, int nb, double *y, sdd_err *e)
{
    if (nb < 1) return sdd_err_set(e, "filterFIR: empty filter");
    const double *bs[1] = { b };
    return sdd_fir_filter_powers(x, n, 1, bs, &nb, SDD_FIR_AUTO, y, e);
}

int sdd_fir_filter_direct(const double *x, int64_t n, const double *b, int nb, double *y, sdd_err *e)
{
    if (n <= 0) return 0;
    if (nb < 1) return sdd_err_set(e, "filterFIR: empty filter");
    const int64_t h = (nb + 1) / 2;       /* int(N / 2) with N = nb + 1 */
    /* xp[nb + t] = x[t], zero elsewhere: reads at nb + i + h - k stay inside */
    const int64_t np = n + 2 * (int64_t)nb;
    double *xp = calloc((size_t)np, sizeof *xp);
    if (!xp) return sdd_err_set(e, "filterFIR: out of memory for %lld samples", (long long)n);
    memcpy(xp + nb, x, (size_t)n * sizeof *x);
    const int64_t nblk = (n + FIR_BLOCK - 1) / FIR_BLOCK;
    const double work = (double)n * (double)nb;
    #pragma omp parallel for schedule(static) if (work > 4.0e6 && nblk > 1)
    for (int64_t blk = 0; blk < nblk; blk++) {
        const int64_t i0 = blk * FIR_BLOCK;
        const int len = (int)(n - i0 < FIR_BLOCK ? n - i0 : FIR_BLOCK);
        double acc[FIR_BLOCK];
        for (int i = 0; i < len; i++) acc[i] = 0.0;
        /* each output sums k = 0, 1, ..., nb-1 in that order; eight (then
         * four) taps per pass over the block keep that order and save
         * loads/stores of acc */
        const double *base = xp + nb + i0 + h;
        int k = 0;
        for (; k + 8 <= nb; k += 8) {
            const double b0 = b[k], b1 = b[k + 1], b2 = b[k + 2], b3 = b[k + 3];
            const double b4 = b[k + 4], b5 = b[k + 5], b6 = b[k + 6], b7 = b[k + 7];
            const double *s0 = base - k;
            for (int i = 0; i < len; i++) {
                double a = acc[i];
                a += b0 * s0[i];
                a += b1 * s0[i - 1];
                a += b2 * s0[i - 2];
                a += b3 * s0[i - 3];
                a += b4 * s0[i - 4];
                a += b5 * s0[i - 5];
                a += b6 * s0[i - 6];
                a += b7 * s0[i - 7];
                acc[i] = a;
            }
        }
        for (; k + 4 <= nb; k += 4) {
            const double b0 = b[k], b1 = b[k + 1], b2 = b[k + 2], b3 = b[k + 3];
            const double *s0 = base - k, *s1 = s0 - 1, *s2 = s0 - 2, *s3 = s0 - 3;
            for (int i = 0; i < len; i++) {
                double a = acc[i];
                a += b0 * s0[i];
                a += b1 * s1[i];
                a += b2 * s2[i];
                a += b3 * s3[i];
                acc[i] = a;
            }
        }
        for (; k < nb; k++) {
            const double bk = b[k];
            const double *s = base - k;
            for (int i = 0; i < len; i++) acc[i] += bk * s[i];
        }
        memcpy(y + i0, acc, (size_t)len * sizeof *acc);
    }
    free(xp);
    return 0;
}
