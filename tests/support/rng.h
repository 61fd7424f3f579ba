/* Reproducible pseudo-random numbers for host tests and benchmarks: xorshift64 (Marsaglia,
 * "Xorshift RNGs", 2003), one state per caller so each test's sequence depends only on its
 * own seed. */
#ifndef TRAPVISOR_TESTS_SUPPORT_RNG_H
#define TRAPVISOR_TESTS_SUPPORT_RNG_H

#include <stdint.h>

static inline uint64_t xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

#endif
