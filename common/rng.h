/* rng.h - the one deterministic random number generator of hyperfold.
 *
 * Every random choice (trial sampling, fold shuffles, initialisation) draws from an hf_rng seeded
 * with hf_rng_derive(seed, a, b), so that results depend only on the job's seeds and never on the
 * number of ranks or the order in which tasks run. xoshiro256** seeded through splitmix64. */
#ifndef HF_RNG_H
#define HF_RNG_H

#include <stdint.h>

typedef struct hf_rng {
    uint64_t s[4];
} hf_rng;

/* Seeds `r` from (seed, a, b): e.g. (job seed, trial, fold). */
void hf_rng_init(hf_rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t hf_rng_next(hf_rng *r);
/* Uniform double in [0, 1). */
double hf_rng_uniform(hf_rng *r);
/* Uniform integer in [0, n). n > 0. */
uint64_t hf_rng_below(hf_rng *r, uint64_t n);
/* Fisher-Yates shuffle of an index array. */
void hf_rng_shuffle_i64(hf_rng *r, int64_t *v, int64_t n);

#endif
