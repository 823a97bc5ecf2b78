/* Counter-based random numbers: every draw is a pure function of
 * (key, counter), so augmentation, dropout and shuffling give the same values
 * for any thread count or scheduling. Keys are built from the seed and the
 * purpose (epoch, utterance, layer, ...) with sdd_rng_key. */
#ifndef SDD_CORE_RNG_H
#define SDD_CORE_RNG_H
#include <stdint.h>

/* Mixes a key from up to four 64-bit words (unused ones 0). */
uint64_t sdd_rng_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
/* SplitMix64's finaliser (rng.c's header comment). */
static inline uint64_t sdd_rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* 64 random bits for draw number `counter` of stream `key`. Inline, like the
 * uniform draws below, so that loops over counters (dropout masks) vectorise. */
static inline uint64_t sdd_rng_u64(uint64_t key, uint64_t counter)
{
    return sdd_rng_mix64(sdd_rng_mix64(key ^ (counter * 0x9e3779b97f4a7c15ULL)) + key);
}
/* Uniform in [0, 1) with 24 bits (float) / 53 bits (double). */
static inline float sdd_rng_uniform(uint64_t key, uint64_t counter)
{
    return (float)(sdd_rng_u64(key, counter) >> 40) * (1.0f / 16777216.0f);
}
static inline double sdd_rng_uniform_d(uint64_t key, uint64_t counter)
{
    return (double)(sdd_rng_u64(key, counter) >> 11) * (1.0 / 9007199254740992.0);
}
/* out[i] = sdd_rng_uniform_d(key, counter + i) for i < n, bit for bit
 * (vectorised). */
void sdd_rng_uniform_d_fill(uint64_t key, uint64_t counter, int64_t n, double *out);
/* Standard normal (Box-Muller on draws 2*counter and 2*counter+1). */
double sdd_rng_normal(uint64_t key, uint64_t counter);
/* out[i] = sdd_rng_normal(key, counter + i) for i < n, from the same uniform
 * draws but with log and cos evaluated by polynomials that the compiler
 * vectorises (~10x faster than libm calls): each value within 1e-14
 * (absolute, plus 2e-15 relative) of sdd_rng_normal's. */
void sdd_rng_normal_fill(uint64_t key, uint64_t counter, int64_t n, double *out);

/* A sequential stream over a key, for code that draws one value after another. */
typedef struct { uint64_t key, ctr; } sdd_rng;
static inline sdd_rng sdd_rng_stream(uint64_t key) { sdd_rng r = { key, 0 }; return r; }
static inline double sdd_rng_next_d(sdd_rng *r) { return sdd_rng_uniform_d(r->key, r->ctr++); }

#endif
