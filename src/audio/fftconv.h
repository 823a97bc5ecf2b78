/* FFT-based FIR filtering for RawBoost (FFTW underneath): overlap-save
 * filterFIR of a sum of filtered powers of one signal, the 512-point freqz
 * peak through a real FFT, and the choice between the FFT and the direct
 * sum (audio/fir.c) by a fixed operation-count model, so the method, and
 * with it every output bit, depends only on the lengths, never on the thread
 * count or on timing. FFTW plans are made once per size with FFTW_ESTIMATE
 * (deterministic: no measurement) under a mutex and then shared by all
 * threads (fftw_execute_* with new arrays is thread-safe). */
#ifndef SDD_AUDIO_FFTCONV_H
#define SDD_AUDIO_FFTCONV_H

#include <stdint.h>
#include "core/error.h"

enum { SDD_FIR_AUTO = 0, SDD_FIR_DIRECT = 1, SDD_FIR_FFT = 2 };

/* y[i] = sum_{t < nterms} filterFIR(x^(t+1), b[t])[i], i in [0, n): the LnL
 * sum (x^1 = x, x^(t+1) = x^t * x by repeated multiplication, within a few
 * ulp of numpy.power), with filterFIR as in audio/fir.h sdd_fir_filter_same:
 * term t reads x^(t+1) at i + (nb[t]+1)/2 - k for tap k. nterms = 1 is plain
 * filterFIR. method SDD_FIR_AUTO picks the cheaper of the direct sum and
 * overlap-save by sdd_fir_pick_method; SDD_FIR_DIRECT / SDD_FIR_FFT force one
 * (tests compare the two). nterms >= 1, nb[t] >= 1, n >= 1; y must not
 * overlap x. The direct sum adds term by term in tap order; the FFT path sums
 * the terms' spectra, so the two agree to rounding (~1e-15 of max |y|).
 * Returns 0, or -1 with e set (out of memory, FFTW plan failure). */
int sdd_fir_filter_powers(const double *x, int64_t n, int nterms, const double *const *b, const int *nb,
                          int method, double *y, sdd_err *e);

/* The method SDD_FIR_AUTO uses for these lengths (SDD_FIR_DIRECT or
 * SDD_FIR_FFT) and, for the FFT, the block size in *fft_n (0 for direct). */
int sdd_fir_pick_method(int64_t n, int nterms, const int *nb, int *fft_n);

/* max_k |H(e^{j pi k / npoints})|, k = 0..npoints-1, of the FIR b[0..nb): the
 * freqz grid, computed as scipy does for short filters (a real FFT of size
 * 2 npoints) with b folded modulo 2 npoints first, which gives the same DFT
 * for any nb. Returns -1 when memory or an FFTW plan cannot be had, or
 * npoints > INT_MAX / 2. */
double sdd_fir_freqz_maxabs_fft(const double *b, int nb, int npoints);

#endif
