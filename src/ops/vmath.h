/* Vectorised SELU and GELU for the hot loops (the residual blocks apply it to every
 * element of the largest tensors: a scalar expm1f per element was 12% of a
 * training step). AVX-512 when available, else the scalar sdd_selu1/_d1.
 *
 * expm1 for x <= 0 with range reduction x = k ln2 + r, |r| <= ln2 / 2, a
 * degree-9 Taylor polynomial for expm1(r) (truncation < 1e-9 relative), and
 * expm1(x) = 2^k expm1(r) + (2^k - 1), both terms exact scalings, so the
 * result is within a few ulp of the correctly rounded one (tested against
 * double precision in test_gradcheck). NaN propagates, -inf gives -1.
 *
 * GELU (XLS-R's extractor and every transformer FFN; scalar erff was 6% of an
 * XLS-R forward): see sdd_v_gelu_cdf below. */
#ifndef SDD_OPS_VMATH_H
#define SDD_OPS_VMATH_H

#include "ops/internal.h"
#include <stddef.h>
#include <math.h>
#if defined(__AVX512F__)
#include <immintrin.h>

/* the lanes of a vector that hold the `left` elements still to do */
static inline __mmask16 sdd_v_mask(size_t left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u); }

/* expm1(r) for |r| <= 0.35: r + r^2/2! + ... + r^9/9! (Horner) */
static inline __m512 sdd_v_expm1_red(__m512 r)
{
    __m512 p = _mm512_set1_ps(1.0f / 362880.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 40320.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 5040.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_mul_ps(p, _mm512_mul_ps(r, r));
    return _mm512_add_ps(p, r);
}

/* k and r with x = k ln2 + r (Cody-Waite: ln2 split so k * ln2_hi is exact);
 * x is clamped to >= -88 first (max keeps a NaN x: it returns the second operand) */
static inline __m512 sdd_v_reduce(__m512 x, __m512 *k)
{
    x = _mm512_max_ps(_mm512_set1_ps(-88.0f), x);
    *k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(*k, _mm512_set1_ps(0.693145751953125f), x);
    return _mm512_fnmadd_ps(*k, _mm512_set1_ps(1.428606765330187045e-06f), r);
}

/* expm1(x) for x <= 0 (or NaN). Callers clamp with min(0, x), operands in that
 * order: vminps returns its second operand when either is NaN, so NaN survives. */
static inline __m512 sdd_v_expm1_neg(__m512 x)
{
    __m512 k;
    const __m512 p = sdd_v_expm1_red(sdd_v_reduce(x, &k));
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_add_ps(_mm512_scalef_ps(p, k), _mm512_sub_ps(_mm512_scalef_ps(one, k), one));
}

/* exp(x) for x <= 0 (or NaN) */
static inline __m512 sdd_v_exp_neg(__m512 x)
{
    __m512 k;
    const __m512 p = sdd_v_expm1_red(sdd_v_reduce(x, &k));
    return _mm512_scalef_ps(_mm512_add_ps(p, _mm512_set1_ps(1.0f)), k);
}

static inline __m512 sdd_v_selu(__m512 x)
{
    const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 neg = _mm512_mul_ps(_mm512_set1_ps((float)(SDD_SELU_SCALE * SDD_SELU_ALPHA)),
                                     sdd_v_expm1_neg(_mm512_min_ps(_mm512_setzero_ps(), x)));
    return _mm512_mask_mul_ps(neg, pos, x, _mm512_set1_ps((float)SDD_SELU_SCALE));
}

static inline __m512 sdd_v_selu_d(__m512 x)
{
    const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 neg = _mm512_mul_ps(_mm512_set1_ps((float)(SDD_SELU_SCALE * SDD_SELU_ALPHA)),
                                     sdd_v_exp_neg(_mm512_min_ps(_mm512_setzero_ps(), x)));
    return _mm512_mask_mov_ps(neg, pos, _mm512_set1_ps((float)SDD_SELU_SCALE));
}
#endif

/* GELU's polynomial coefficients, highest power first */
static const float sdd_gelu_p[7] = { 7.853857693e-05f, -8.010192517e-04f, 5.188327560e-03f, -2.685381187e-02f,
                                     1.128358515e-01f, -3.761262582e-01f, 1.128379166e+00f };
static const float sdd_gelu_r[10] = { -2.991889422e-02f, -6.523152195e-02f, 6.604963112e-02f, 9.055718739e-02f,
                                      -1.133059823e-01f, -1.629942649e-01f, 1.569464726e-01f, 5.513732527e-01f,
                                      6.686538162e-01f, 4.994932499e-01f };   /* R(t) in [0.34, 0.77] on z in [1/2, 10] */
#define SDD_GELU_TC 4.833333333e-01f         /* R in powers of t - 29/60 */
#define SDD_GELU_T 0.353553390593273762f     /* t = 1 / (1 + |x| / (2 sqrt 2)): from x, one rounding fewer than from z */

/* Phi(x) = (1 + erf(x / sqrt 2)) / 2, the normal CDF in GELU(x) = x Phi(x),
 * and *ez = exp(-x^2 / 2) for its derivative Phi(x) + x exp(-x^2/2) / sqrt(2 pi).
 * With z = |x| / sqrt 2:
 *   z <= 1/2:  erf(z) = z P(z^2)                          P: degree 6, relative error 1.2e-9
 *   z > 1/2:   erfc(z) = t R(t) exp(-z^2), t = 1/(1 + z/2)      R: degree 9 in t - 29/60, 2.5e-9
 * (coefficients from tools/reference/fit_gelu.py), so the float result is a
 * few ulp from the true one (test_gradcheck: GELU within 5 ulp; measured 3.4).
 * z^2 = x^2 / 2 = hi + lo exactly (FMA on x: a rounded z would cost erfc
 * 2 z^2 ulp) and exp(-z^2) = exp(-hi) (1 - lo), so erfc keeps its relative
 * accuracy where it is tiny
 * (GELU's far negative side); past z = 10 erfc and exp(-z^2) are 0 in float.
 * Phi is 1/2 +- erf/2 or 1 - erfc/2 | erfc/2 by the sign of x (the switch
 * at z = 1/2 keeps 1/2 - erf/2 clear of cancellation). NaN propagates
 * (every comparison is ordered-false, so NaN lanes take the erfc branch,
 * whose t is NaN). sdd_gelu_cdf1 is the same in scalar form (tails without
 * AVX-512, other CPUs), with libm's expf. */
static inline float sdd_gelu_cdf1(float x, float *ez)
{
    const float ax = fabsf(x), z = ax * 0.70710678118654752f;
    const float xx = x * x, hi = 0.5f * xx, lo = 0.5f * fmaf(x, x, -xx);   /* z^2 = x^2 / 2 = hi + lo */
    float p = sdd_gelu_p[0];
    for (int j = 1; j < 7; j++) p = fmaf(p, hi, sdd_gelu_p[j]);
    const float erf = z * p;
    const float t = 1.0f / fmaf(ax, SDD_GELU_T, 1.0f), u = t - SDD_GELU_TC;
    float r = sdd_gelu_r[0];
    for (int j = 1; j < 10; j++) r = fmaf(r, u, sdd_gelu_r[j]);
    float e = expf(-hi), erfc;
    e = fmaf(-lo, e, e);
    erfc = t * r * e;
    if (z > 10.0f) { e = 0.0f; erfc = 0.0f; }
    *ez = e;
    if (z <= 0.5f) return x > 0.0f ? fmaf(0.5f, erf, 0.5f) : fmaf(-0.5f, erf, 0.5f);
    return x > 0.0f ? fmaf(-0.5f, erfc, 1.0f) : 0.5f * erfc;
}

#if defined(__AVX512F__)
static inline __m512 sdd_v_gelu_cdf(__m512 x, __m512 *ez)
{
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f), zero = _mm512_setzero_ps();
    const __m512 ax = _mm512_abs_ps(x), z = _mm512_mul_ps(ax, _mm512_set1_ps(0.70710678118654752f));
    const __m512 xx = _mm512_mul_ps(x, x);
    const __m512 hi = _mm512_mul_ps(half, xx), lo = _mm512_mul_ps(half, _mm512_fmsub_ps(x, x, xx));
    __m512 p = _mm512_set1_ps(sdd_gelu_p[0]);
    for (int j = 1; j < 7; j++) p = _mm512_fmadd_ps(p, hi, _mm512_set1_ps(sdd_gelu_p[j]));
    const __m512 erf = _mm512_mul_ps(z, p);
    const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(ax, _mm512_set1_ps(SDD_GELU_T), one));
    const __m512 u = _mm512_sub_ps(t, _mm512_set1_ps(SDD_GELU_TC));
    __m512 r = _mm512_set1_ps(sdd_gelu_r[0]);
    for (int j = 1; j < 10; j++) r = _mm512_fmadd_ps(r, u, _mm512_set1_ps(sdd_gelu_r[j]));
    const __m512 e = sdd_v_exp_neg(_mm512_sub_ps(zero, hi));
    const __mmask16 far = _mm512_cmp_ps_mask(z, _mm512_set1_ps(10.0f), _CMP_GT_OQ);
    *ez = _mm512_mask_mov_ps(_mm512_fnmadd_ps(lo, e, e), far, zero);
    const __m512 erfc = _mm512_mask_mov_ps(_mm512_mul_ps(_mm512_mul_ps(t, r), *ez), far, zero);
    const __mmask16 small = _mm512_cmp_ps_mask(z, half, _CMP_LE_OQ), pos = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
    __m512 q = _mm512_mul_ps(half, erfc);                                  /* Phi(-|x|) */
    q = _mm512_mask_mov_ps(q, small, _mm512_fnmadd_ps(half, erf, half));
    __m512 up = _mm512_fnmadd_ps(half, erfc, one);                         /* Phi(|x|) */
    up = _mm512_mask_mov_ps(up, small, _mm512_fmadd_ps(half, erf, half));
    return _mm512_mask_mov_ps(q, pos, up);
}
#endif

/* grad = 0: d[k] = GELU(x[k]) = x Phi(x) (exact erf form; d may be x);
 * grad = 1: d[k] += dy[k] * GELU'(x[k]), GELU'(x) = Phi(x) + x exp(-x^2/2) / sqrt(2 pi) */
static inline void sdd_gelu_run(const float *x, const float *dy, float *d, size_t n, int grad)
{
    size_t k = 0;
#if defined(__AVX512F__)
    for (; k < n; k += 16) {
        const __mmask16 m = sdd_v_mask(n - k);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + k);
        __m512 ez;
        const __m512 cdf = sdd_v_gelu_cdf(v, &ez);
        if (!grad) { _mm512_mask_storeu_ps(d + k, m, _mm512_mul_ps(v, cdf)); continue; }
        const __m512 g = _mm512_fmadd_ps(_mm512_mul_ps(v, _mm512_set1_ps(0.39894228040143268f)), ez, cdf);
        _mm512_mask_storeu_ps(d + k, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + k), g, _mm512_maskz_loadu_ps(m, d + k)));
    }
#endif
    for (; k < n; k++) {
        float ez;
        const float cdf = sdd_gelu_cdf1(x[k], &ez);
        d[k] = grad ? fmaf(dy[k], fmaf(x[k] * 0.39894228040143268f, ez, cdf), d[k]) : x[k] * cdf;
    }
}

static inline void sdd_gelu_vec(const float *x, float *y, size_t n) { sdd_gelu_run(x, NULL, y, n, 0); }
static inline void sdd_gelu_d_vec(const float *x, const float *dy, float *dx, size_t n) { sdd_gelu_run(x, dy, dx, n, 1); }

/* y[k] = SELU(x[k]); y may be x */
static inline void sdd_selu_vec(const float *x, float *y, size_t n)
{
    size_t k = 0;
#if defined(__AVX512F__)
    for (; k + 16 <= n; k += 16) _mm512_storeu_ps(y + k, sdd_v_selu(_mm512_loadu_ps(x + k)));
    if (k < n) {
        const __mmask16 m = sdd_v_mask(n - k);
        _mm512_mask_storeu_ps(y + k, m, sdd_v_selu(_mm512_maskz_loadu_ps(m, x + k)));
        return;
    }
#endif
    for (; k < n; k++) y[k] = sdd_selu1(x[k]);
}

/* d[k] = d[k] * SELU'(x[k]) (acc = 0), or dx[k] += dy[k] * SELU'(x[k]) (acc = 1, d = dx, dy given) */
static inline void sdd_selu_d_vec(const float *x, const float *dy, float *d, size_t n, int acc)
{
    size_t k = 0;
#if defined(__AVX512F__)
    for (; k < n; k += 16) {
        const __mmask16 m = sdd_v_mask(n - k);
        const __m512 g = sdd_v_selu_d(_mm512_maskz_loadu_ps(m, x + k));
        const __m512 dv = _mm512_maskz_loadu_ps(m, d + k);
        const __m512 r = acc ? _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + k), g, dv) : _mm512_mul_ps(dv, g);
        _mm512_mask_storeu_ps(d + k, m, r);
    }
#endif
    for (; k < n; k++) d[k] = acc ? d[k] + dy[k] * sdd_selu_d1(x[k]) : d[k] * sdd_selu_d1(x[k]);
}

#endif
