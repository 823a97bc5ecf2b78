/* RawBoost data augmentation (Tak et al., ICASSP 2022) exactly as the
 * reference implementation (shared/docs/reference-spec.md section 5), with
 * sdd's counter RNG in place of numpy's global one:
 *   algo 0 identity, 1 LnL convolutive noise, 2 ISD impulsive noise,
 *   3 SSI coloured additive noise, 4 = 1 -> 2 -> 3, 5 = 1 -> 2, 6 = 1 -> 3,
 *   7 = 2 -> 3, 8 = normWav(LnL(x) + ISD(x), 0).
 *
 * Randomness. Every draw is a pure function of the caller's key, so results
 * never depend on the thread count. Each stage has its own sub-key
 *   sdd_rawboost_stage_key(key, stage, index) = sdd_rng_key(key, 0x52617742, stage, index)
 * and reads uniforms U(c) = sdd_rng_uniform_d(subkey, c), U(a, b) = a + (b-a) U:
 *   LnL filter i (stage 1, index i), notch draws: for band j = 0..nBands-1
 *       fc = U(minF, maxF) at c = 3j, bw = U(minBW, maxBW) at 3j+1,
 *       numtaps = int(U(minCoeff, maxCoeff)) at 3j+2 (made odd by +1 if even);
 *       then G = U(minG_i, maxG_i) at c = 3 nBands, where (minG_i, maxG_i) =
 *       (minG, maxG) for i = 0 and (minG - minBias, maxG - maxBias) for i >= 1
 *       (the reference's i == 1 quirk: for the defaults G ~ U(-5, -20)).
 *   ISD (stage 2, index 0): beta = U(0, P) at c = 0; m = int(n beta / 100)
 *       samples chosen by a partial Fisher-Yates shuffle of 0..n-1, swap j
 *       (j = 0..m-1) with j + int(U(1+j) (n-j)); the first m entries are the
 *       indices; f_j = (2 U(1+m+j) - 1)(2 U(1+2m+j) - 1).
 *   SSI noise (stage 3, index 0): noise[t] = sdd_rng_normal(subkey, t), as
 *       sdd_rng_normal_fill computes it (within 1e-14 of the scalar function).
 *   SSI filter (stage 4, index 0): notch draws as above with (minG, maxG),
 *       then SNR = U(SNRmin, SNRmax) at c = 3 nBands + 1.
 * A stage uses the same sub-key in every combination (algo 4's LnL and ISD
 * are algo 5's, etc.).
 *
 * Deviations from the reference, on purpose: normWav leaves an all-zero
 * signal unchanged instead of dividing by zero, and SSI adds nothing when the
 * filtered noise is all zero (the reference would produce NaN). Computation
 * is double throughout (the reference does some steps in float32 when given
 * float32 audio; differences ~1e-7 relative). Long filters run through FFTs
 * (audio/fftconv.h) and x^k is a repeated product, not pow(): differences
 * from the reference's direct lfilter/np.power are rounding, ~1e-15 of the
 * signal's peak.
 *
 * The *_given functions are the deterministic parts with the draws as
 * arguments; tools/reference/rawboost_ref.py implements the same in
 * numpy/scipy and writes the fixtures tests/unit/test_rawboost.c checks. */
#ifndef SDD_AUDIO_RAWBOOST_H
#define SDD_AUDIO_RAWBOOST_H

#include <stdint.h>
#include "core/error.h"

typedef struct {
    int nBands;
    double minF, maxF, minBW, maxBW;
    int minCoeff, maxCoeff;
    double minG, maxG, minBiasLinNonLin, maxBiasLinNonLin;
    int N_f;
    double P, g_sd, SNRmin, SNRmax;
    int fs;
} sdd_rawboost_params;

#define SDD_RAWBOOST_NALGO 9        /* algo 0..8 */
#define SDD_RAWBOOST_MAX_BANDS 64   /* limits enforced by check_params */
#define SDD_RAWBOOST_MAX_COEFF 4096
#define SDD_RAWBOOST_MAX_NF 64
#define SDD_RAWBOOST_FREQZ_POINTS 512

enum { SDD_RB_STAGE_LNL = 1, SDD_RB_STAGE_ISD = 2, SDD_RB_STAGE_SSI_NOISE = 3, SDD_RB_STAGE_SSI_FILTER = 4 };

/* The reference defaults: nBands 5, minF 20, maxF 8000, minBW 100,
 * maxBW 1000, minCoeff 10, maxCoeff 100, minG 0, maxG 0, minBiasLinNonLin 5,
 * maxBiasLinNonLin 20, N_f 5, P 10, g_sd 2, SNRmin 10, SNRmax 40, fs 16000. */
void sdd_rawboost_default_params(sdd_rawboost_params *p);

/* Validates p; the message names the offending --rb-<param> flag(s):
 * nbands 0..64, nf 0..64, mincoeff <= maxcoeff in 0..4096, 0 <= minf <= maxf,
 * 0 < minbw <= maxbw, minf + minbw/2 > 0.001 and maxf - minbw/2 < fs/2 - 0.001
 * (every notch band must have 0 < f1 < f2 < fs/2, as firwin requires),
 * ming <= maxg (dB, any sign, |.| <= 200), 0 <= minbias <= maxbias,
 * 0 <= p <= 100, gsd >= 0, snr-min <= snr-max (dB, any sign, |.| <= 200),
 * fs > 0. Returns 0 or -1. */
int sdd_rawboost_check_params(const sdd_rawboost_params *p, sdd_err *e);

/* Command-line flags "--rb-<param>" (nbands minf maxf minbw maxbw mincoeff
 * maxcoeff ming maxg minbias maxbias nf p gsd snr-min snr-max). Returns 1 when
 * FLAG is one of them and VALUE was stored (the caller consumes both), 0 when
 * FLAG is not a RawBoost flag, -1 with e naming the flag when VALUE is
 * missing (NULL) or not a valid value for it (range checks of single values;
 * min/max consistency is sdd_rawboost_check_params's job). */
int sdd_rawboost_parse_flag(sdd_rawboost_params *p, const char *flag, const char *value, sdd_err *e);

/* Help text for the flags, one line each, with the defaults. */
const char *sdd_rawboost_flags_help(void);

/* Name of algorithm algo ("LnL+ISD+SSI", ...), or NULL if out of range. */
const char *sdd_rawboost_algo_name(int algo);

/* Applies algorithm algo (0..8) to x[0..n) (n >= 1, finite samples), writing
 * n samples to y (which may equal x). All randomness comes from key (see
 * above). Output may exceed [-1, 1] (SSI adds noise after the last normWav).
 * Returns 0, or -1 with e set (bad algo or params, non-finite input, out of
 * memory). */
int sdd_rawboost_apply(int algo, const float *x, int64_t n, float *y,
                       const sdd_rawboost_params *p, uint64_t key, sdd_err *e);
/* The same in double. */
int sdd_rawboost_apply_d(int algo, const double *x, int64_t n, double *y,
                         const sdd_rawboost_params *p, uint64_t key, sdd_err *e);

/* ---- the draws (see the top of this file) ---- */
uint64_t sdd_rawboost_stage_key(uint64_t key, int stage, int index);
/* Notch draws from sub-key k: fc, bw, c (odd numtaps) per band, then G. */
void sdd_rawboost_draw_notch(const sdd_rawboost_params *p, double minG, double maxG, uint64_t k,
                             double *fc, double *bw, int *c, double *G);
/* ISD draws from sub-key k for n samples: returns m, the number of touched
 * samples; idx[0..m) their indices (idx must hold n entries: it is the
 * shuffle buffer) and fr[0..m) the factors (fr must hold n entries). */
int64_t sdd_rawboost_draw_isd(int64_t n, double P, uint64_t k, int64_t *idx, double *fr);

/* ---- deterministic parts (the draws given) ---- */
/* normWav: x /= max|x| (computed as x * (1/max|x|)) when always or max|x| > 1;
 * an all-zero x is left as is. */
void sdd_rawboost_normwav(double *x, int64_t n, int always);
/* Length of the notch cascade for the given numtaps draws: 1 + sum(c' - 1),
 * c' = c made odd. */
int sdd_rawboost_notch_len(const int *c, int nbands);
/* genNotchCoeffs with the draws given: per band f1 = fc - bw/2 (<= 0 -> 0.001),
 * f2 = fc + bw/2 (>= fs/2 -> fs/2 - 0.001), taps = firwin band-stop with c
 * made odd, cascaded by convolution; then b = 10^(G/20) b / max|H| over the
 * 512-point freqz grid. b must hold sdd_rawboost_notch_len(c, nbands) values;
 * *nb receives that length. nbands = 0 gives b = {10^(G/20)}. */
int sdd_rawboost_notch_coeffs(const double *fc, const double *bw, const int *c, int nbands,
                              double G, double fs, double *b, int *nb, sdd_err *e);
/* filterFIR (see audio/fir.h sdd_fir_filter_same). */
int sdd_rawboost_filter_fir(const double *x, int64_t n, const double *b, int nb, double *y, sdd_err *e);
/* LnL with the draws given: filter i (i = 0..nf-1) uses fc/bw/c[i*nbands ..
 * (i+1)*nbands) and G[i]; y = sum_i filterFIR(x^(i+1)); y -= mean(y);
 * normWav(y, 0). y must not overlap x. */
int sdd_rawboost_lnl_given(const double *x, int64_t n, int nf, int nbands, const double *fc,
                           const double *bw, const int *c, const double *G, double fs,
                           double *y, sdd_err *e);
/* ISD with the draws given: y = x; y[idx[j]] = x[idx[j]] + g_sd x[idx[j]] fr[j];
 * normWav(y, 0). Indices must be distinct and in [0, n). y may equal x. */
int sdd_rawboost_isd_given(const double *x, int64_t n, const int64_t *idx, const double *fr,
                           int64_t m, double g_sd, double *y, sdd_err *e);
/* SSI with the draws given: noise (n values, not modified) filtered with the
 * notch (fc, bw, c, G), normWav(., 1), scaled to ||x|| / 10^(snr/20) and added:
 * y = x + noise'. y may equal x. */
int sdd_rawboost_ssi_given(const double *x, int64_t n, const double *noise, const double *fc,
                           const double *bw, const int *c, int nbands, double G, double snr,
                           double fs, double *y, sdd_err *e);

#endif
