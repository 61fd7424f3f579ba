/* Control-register reads and writes (header-only), for the hypervisor (vmx/arch.h) and the
 * guest-side tools alike. SDM Vol. 3A, 2.5: CR0, CR2 (page-fault address), CR3 (paging-structure
 * root), CR4; a MOV to CR3 also invalidates the non-global TLB entries (4.10.4.1). */
#ifndef TRAPVISOR_LIB_CR_H
#define TRAPVISOR_LIB_CR_H

#include <stdint.h>

#define DEFINE_CR(n)                                                                               \
    static inline uint64_t read_cr##n(void)                                                        \
    {                                                                                              \
        uint64_t v;                                                                                \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                          \
        return v;                                                                                  \
    }                                                                                              \
    static inline void write_cr##n(uint64_t v)                                                     \
    {                                                                                              \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");                                 \
    }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

#endif
