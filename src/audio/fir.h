/* Window-method FIR design and FIR filtering, as RawBoost needs them:
 * scipy.signal.firwin's band-stop design (Hamming window, scaled to unit DC
 * gain), the peak magnitude of the frequency response on freqz's default grid,
 * full convolution and RawBoost's filterFIR ("same length, advanced by
 * len(b)/2 + 1/2 samples" lfilter). All in double; every output sample is
 * computed in a fixed order, so results do not depend on the thread count. */
#ifndef SDD_AUDIO_FIR_H
#define SDD_AUDIO_FIR_H

#include <stdint.h>
#include "core/error.h"

/* Symmetric Hamming window of length M (scipy get_window('hamming', M,
 * fftbins=False): 0.54 + 0.46 cos(t), t = linspace(-pi, pi, M); M = 1 gives 1). */
void sdd_fir_hamming(int M, double *w);

/* numpy.sinc: sin(pi x) / (pi x), 1 at x = 0. */
double sdd_fir_sinc(double x);

/* scipy.signal.firwin(numtaps, [f1, f2], window='hamming', pass_zero=True,
 * scale=True, fs=fs): a band-stop filter (pass bands [0, f1] and [f2, fs/2]),
 * scaled so that its DC gain is 1. numtaps must be odd (a band-stop filter
 * passes Nyquist) and 0 < f1 < f2 < fs/2. Writes numtaps taps to h. */
int sdd_fir_firwin_bandstop(int numtaps, double f1, double f2, double fs, double *h, sdd_err *e);

/* max_k |H(e^{jw_k})| of the FIR b over w_k = pi k / npoints, k = 0..npoints-1
 * (scipy.signal.freqz(b, 1, worN=npoints) grid; RawBoost uses 512 points,
 * i.e. frequencies k fs / 1024). Returns -1 if a table cannot be allocated
 * or npoints > INT_MAX / 2. */
double sdd_fir_freqz_maxabs(const double *b, int nb, int npoints);

/* Full convolution out[0 .. na+nb-1) = a * b (numpy.convolve). */
void sdd_fir_convolve(const double *a, int na, const double *b, int nb, double *out);

/* RawBoost's filterFIR: N = nb + 1; the input zero-padded by N samples at the
 * end, filtered with lfilter(b, 1, .) and cut to [N/2, len - N/2) (integer
 * parts), which has n samples: y[i] = sum_k b[k] x[i + (nb+1)/2 - k] with x
 * zero outside [0, n). Works for any n >= 1 and nb >= 1, also n < nb.
 * x and y may not overlap. Computed directly or by overlap-save FFT,
 * whichever audio/fftconv.h's operation-count model says is cheaper for
 * (n, nb). */
int sdd_fir_filter_same(const double *x, int64_t n, const double *b, int nb, double *y, sdd_err *e);

/* filterFIR by the direct sum, each output summed over k = 0, 1, ..., nb-1
 * in that order; parallel over output blocks when worthwhile (the same bits
 * for any thread count). */
int sdd_fir_filter_direct(const double *x, int64_t n, const double *b, int nb, double *y, sdd_err *e);

#endif
