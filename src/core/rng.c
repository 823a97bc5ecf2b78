/* Owns the counter-based RNG (see rng.h): a SplitMix64-style finaliser applied
 * to key ^ (counter * odd constant), run twice. Statistically adequate for
 * dropout, cropping and augmentation draws; not for cryptography. */
#include "core/rng.h"
#include <math.h>

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sdd_rng_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t k = mix64(a + 0x9e3779b97f4a7c15ULL);
    k = mix64(k ^ (b + 0x632be59bd9b4e019ULL));
    k = mix64(k ^ (c + 0x85157af5ULL));
    k = mix64(k ^ (d + 0x2545f4914f6cdd1dULL));
    return k;
}

uint64_t sdd_rng_u64(uint64_t key, uint64_t counter)
{
    return mix64(mix64(key ^ (counter * 0x9e3779b97f4a7c15ULL)) + key);
}

float sdd_rng_uniform(uint64_t key, uint64_t counter)
{
    return (float)(sdd_rng_u64(key, counter) >> 40) * (1.0f / 16777216.0f);
}

double sdd_rng_uniform_d(uint64_t key, uint64_t counter)
{
    return (double)(sdd_rng_u64(key, counter) >> 11) * (1.0 / 9007199254740992.0);
}

double sdd_rng_normal(uint64_t key, uint64_t counter)
{
    double u1 = sdd_rng_uniform_d(key, 2 * counter);
    double u2 = sdd_rng_uniform_d(key, 2 * counter + 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
