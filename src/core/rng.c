/* Owns the counter-based RNG (see rng.h): a SplitMix64-style finaliser applied
 * to key ^ (counter * odd constant), run twice. Statistically adequate for
 * dropout, cropping and augmentation draws; not for cryptography. */
#include "core/rng.h"
#include <math.h>
#include <string.h>

uint64_t sdd_rng_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t k = sdd_rng_mix64(a + 0x9e3779b97f4a7c15ULL);
    k = sdd_rng_mix64(k ^ (b + 0x632be59bd9b4e019ULL));
    k = sdd_rng_mix64(k ^ (c + 0x85157af5ULL));
    k = sdd_rng_mix64(k ^ (d + 0x2545f4914f6cdd1dULL));
    return k;
}

double sdd_rng_normal(uint64_t key, uint64_t counter)
{
    double u1 = sdd_rng_uniform_d(key, 2 * counter);
    double u2 = sdd_rng_uniform_d(key, 2 * counter + 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void sdd_rng_uniform_d_fill(uint64_t key, uint64_t counter, int64_t n, double *out)
{
    #pragma omp simd
    for (int64_t i = 0; i < n; i++)
        out[i] = (double)(int64_t)(sdd_rng_u64(key, counter + (uint64_t)i) >> 11)
                 * (1.0 / 9007199254740992.0);
}

/* ---- vectorisable Box-Muller for sdd_rng_normal_fill ----
 * log(u), u a positive normal double: u = 2^e m with m in [sqrt(1/2),
 * sqrt(2)), log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1),
 * |s| <= 0.1716, so s^2 <= 0.0295 and the series to s^23 is exact to double
 * rounding (the next term is below 1e-18 of the sum). e ln 2 is added with
 * ln 2 split in two for accuracy. The polynomials use fma() (one rounding
 * per step; a single instruction with -march=native: the build compiles ISO
 * C, which does not contract a*b+c). */
static inline double vlog(double u)
{
    uint64_t bits;
    memcpy(&bits, &u, sizeof bits);
    int64_t ex = (int64_t)((bits >> 52) & 0x7ff) - 1023;
    const uint64_t mb = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double m;
    memcpy(&m, &mb, sizeof m);
    const int big = m > 1.4142135623730951;
    m = big ? 0.5 * m : m;
    ex = big ? ex + 1 : ex;
    const double f = m - 1.0, s = f / (2.0 + f), z = s * s;
    double q = 1.0 / 23.0;
    q = fma(q, z, 1.0 / 21.0);
    q = fma(q, z, 1.0 / 19.0);
    q = fma(q, z, 1.0 / 17.0);
    q = fma(q, z, 1.0 / 15.0);
    q = fma(q, z, 1.0 / 13.0);
    q = fma(q, z, 1.0 / 11.0);
    q = fma(q, z, 1.0 / 9.0);
    q = fma(q, z, 1.0 / 7.0);
    q = fma(q, z, 1.0 / 5.0);
    q = fma(q, z, 1.0 / 3.0);
    const double r = 2.0 * s * z * q;          /* log m - 2 s */
    const double ed = (double)ex;
    return ed * 6.93147180369123816490e-01 + ((2.0 * s) + (r + ed * 1.90821492927058770002e-10));
}

/* cos(C u) for u in [0, 1), C = 6.283185307179586 (2 pi rounded, as in
 * sdd_rng_normal): q = round(4u), r = u - q/4 in [-1/8, 1/8] exactly (both
 * are multiples of 2^-53), t = C r in [-pi/4, pi/4]; then cos(t + q pi/2)
 * from the Taylor series of cos t and sin t (to t^16 and t^17: the first
 * omitted terms are below 3e-18 and 1e-19). */
static inline double vcos2pi(double u)
{
    const double qd = nearbyint(4.0 * u);
    const double t = 6.283185307179586 * (u - 0.25 * qd), z = t * t;
    double c = 1.0 / 20922789888000.0;                        /* 1/16! */
    c = fma(c, -z, 1.0 / 87178291200.0);
    c = fma(c, -z, 1.0 / 479001600.0);
    c = fma(c, -z, 1.0 / 3628800.0);
    c = fma(c, -z, 1.0 / 40320.0);
    c = fma(c, -z, 1.0 / 720.0);
    c = fma(c, -z, 1.0 / 24.0);
    c = fma(c, -z, 1.0 / 2.0);
    c = fma(c, -z, 1.0);                                         /* cos t */
    double s = 1.0 / 355687428096000.0;                       /* 1/17! */
    s = fma(s, -z, 1.0 / 1307674368000.0);
    s = fma(s, -z, 1.0 / 6227020800.0);
    s = fma(s, -z, 1.0 / 39916800.0);
    s = fma(s, -z, 1.0 / 362880.0);
    s = fma(s, -z, 1.0 / 5040.0);
    s = fma(s, -z, 1.0 / 120.0);
    s = fma(s, -z, 1.0 / 6.0);
    s = fma(s, -z, 1.0) * t;                                   /* sin t */
    const int q = (int)qd & 3;   /* cos(t + q pi/2): cos, -sin, -cos, sin */
    const double v = (q & 1) ? s : c;
    return (q == 1 || q == 2) ? -v : v;
}

/* The Makefile compiles this file with -fno-math-errno (values unchanged:
 * sqrt's argument is never negative here) so that the sqrt does not stop
 * the loop from being vectorised. */
void sdd_rng_normal_fill(uint64_t key, uint64_t counter, int64_t n, double *out)
{
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        const uint64_t c = counter + (uint64_t)i;
        const double u1r = (double)(int64_t)(sdd_rng_u64(key, 2 * c) >> 11)
                           * (1.0 / 9007199254740992.0);
        const double u2 = (double)(int64_t)(sdd_rng_u64(key, 2 * c + 1) >> 11)
                          * (1.0 / 9007199254740992.0);
        const double u1 = u1r < 1e-300 ? 1e-300 : u1r;
        out[i] = sqrt(-2.0 * vlog(u1)) * vcos2pi(u2);
    }
}
