/* Counter-based random numbers: every draw is a pure function of
 * (key, counter), so augmentation, dropout and shuffling give the same values
 * for any thread count or scheduling. Keys are built from the seed and the
 * purpose (epoch, utterance, layer, ...) with sdd_rng_key. */
#ifndef SDD_CORE_RNG_H
#define SDD_CORE_RNG_H
#include <stdint.h>

/* Mixes a key from up to four 64-bit words (unused ones 0). */
uint64_t sdd_rng_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
/* 64 random bits for draw number `counter` of stream `key`. */
uint64_t sdd_rng_u64(uint64_t key, uint64_t counter);
/* Uniform in [0, 1) with 24 bits (float) / 53 bits (double). */
float sdd_rng_uniform(uint64_t key, uint64_t counter);
double sdd_rng_uniform_d(uint64_t key, uint64_t counter);
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
