/* Reproducible pseudo-random numbers for host tests and benchmarks: xorshift64 (Marsaglia,
 * "Xorshift RNGs", 2003) and xorshift64*, one state per caller so each test's sequence depends
 * only on its own seed. */
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

/* xorshift64* (Vigna, 2014): xorshift64 with other shifts and a multiplied output. */
static inline uint64_t xorshift64star(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

#endif
