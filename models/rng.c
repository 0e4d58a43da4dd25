/*
 * rng.c — the trainer's own deterministic generator: xoshiro256** (Blackman
 * and Vigna), seeded through splitmix64. Ours rather than libc's so that a
 * seed means the same numbers on every machine, and its 32-byte state can be
 * saved in a checkpoint and restored bit for bit.
 */
#include "models/models.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void model_rng_seed(model_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

void model_rng_seed2(model_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    model_rng_seed(r, a ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t model_rng_next(model_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double model_rng_uniform(model_rng *r) { return (model_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t model_rng_below(model_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    /* Rejection keeps it exactly uniform. */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t x = model_rng_next(r);
        if (x < lim) return x % n;
    }
}

double model_rng_normal(model_rng *r)
{
    /* Box-Muller, one value per call (the other is dropped, for simplicity
     * of the state: nothing is cached outside s[]). */
    double u1 = model_rng_uniform(r), u2 = model_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
