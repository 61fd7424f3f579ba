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

/* A TSC read ordered against the instructions around it.
 *
 * The taken JMP to the next instruction costs nothing measurable on hardware but makes the read
 * exact in Bochs, whose TSC counts instructions: Bochs runs straight-line code as one trace and
 * brings its clock up to date only where a trace ends (a taken branch, an exit, a
 * trace-ending instruction; cpu/cpu.cc, BX_SYNC_TIME_IF_SINGLE_PROCESSOR in cpu_loop and
 * linkTrace), so a plain RDTSC reads the count at the start of its trace and misses the
 * instructions before it in that trace. */
static inline uint64_t tsc_read_ordered(void)
{
    uint32_t lo, hi;
    __asm__ volatile("jmp 1f\n1:\n\tlfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

#endif
