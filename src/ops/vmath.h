/* Vectorised SELU for the hot loops (the residual blocks apply it to every
 * element of the largest tensors: a scalar expm1f per element was 12% of a
 * training step). AVX-512 when available, else the scalar sdd_selu1/_d1.
 *
 * expm1 for x <= 0 with range reduction x = k ln2 + r, |r| <= ln2 / 2, a
 * degree-9 Taylor polynomial for expm1(r) (truncation < 1e-9 relative), and
 * expm1(x) = 2^k expm1(r) + (2^k - 1), both terms exact scalings, so the
 * result is within a few ulp of the correctly rounded one (tested against
 * double precision in test_gradcheck). NaN propagates, -inf gives -1. */
#ifndef SDD_OPS_VMATH_H
#define SDD_OPS_VMATH_H

#include "ops/internal.h"
#include <stddef.h>
#if defined(__AVX512F__)
#include <immintrin.h>

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

/* y[k] = SELU(x[k]); y may be x */
static inline void sdd_selu_vec(const float *x, float *y, size_t n)
{
    size_t k = 0;
#if defined(__AVX512F__)
    for (; k + 16 <= n; k += 16) _mm512_storeu_ps(y + k, sdd_v_selu(_mm512_loadu_ps(x + k)));
    if (k < n) {
        const __mmask16 m = (__mmask16)((1u << (n - k)) - 1u);
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
        const __mmask16 m = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1u);
        const __m512 g = sdd_v_selu_d(_mm512_maskz_loadu_ps(m, x + k));
        const __m512 dv = _mm512_maskz_loadu_ps(m, d + k);
        const __m512 r = acc ? _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + k), g, dv) : _mm512_mul_ps(dv, g);
        _mm512_mask_storeu_ps(d + k, m, r);
    }
#endif
    for (; k < n; k++) d[k] = acc ? d[k] + dy[k] * sdd_selu_d1(x[k]) : d[k] * sdd_selu_d1(x[k]);
}

#endif
