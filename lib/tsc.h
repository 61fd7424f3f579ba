/* Time-stamp counter reads (header-only).
 * SDM Vol. 2B, RDTSC/RDTSCP: RDTSC is not serializing; LFENCE before it waits for earlier
 * instructions to complete locally, LFENCE after it keeps later ones from starting early.
 * RDTSCP waits for earlier instructions; an LFENCE after it orders later ones. */
#ifndef TRAPVISOR_LIB_TSC_H
#define TRAPVISOR_LIB_TSC_H

#include <stdint.h>

static inline uint64_t tsc_read(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* A TSC read ordered against the instructions around it. */
static inline uint64_t tsc_read_ordered(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

#endif
