/* Memory types from the MTRRs, as a pure function of MSR values the caller read.
 *
 * Under EPT the processor uses the EPT memory type *in place of* the MTRR type for guest
 * accesses (SDM Vol. 3C, 29.3.7.2), so an identity map that keeps the machine behaving as
 * before must put into every leaf the type the MTRRs give that page. This module computes
 * that type (SDM Vol. 3A, 12.11 "Memory Type Range Registers", 12.11.4.1 precedence).
 *
 * Pure and freestanding: no MSR access here. The hypervisor fills struct mtrr_state with
 * RDMSR (mtrr_state_fixed_msr() names the MSR of each fixed slot) before building the map. */
#ifndef TRAPVISOR_EPT_MTRR_H
#define TRAPVISOR_EPT_MTRR_H

#include <stdbool.h>
#include <stdint.h>

/* Memory-type encodings shared by MTRRs, PAT and EPT (SDM Vol. 3A, Table 12-8). 2, 3 and
 * 7..255 are reserved. */
enum mem_type {
    MEM_TYPE_UC = 0,
    MEM_TYPE_WC = 1,
    MEM_TYPE_WT = 4,
    MEM_TYPE_WP = 5,
    MEM_TYPE_WB = 6,
};

/* MSR numbers (SDM Vol. 4, Table 2-2). */
#define MSR_IA32_MTRRCAP          0xFEu
#define MSR_IA32_MTRR_DEF_TYPE    0x2FFu
#define MSR_IA32_MTRR_PHYSBASE(n) (0x200u + 2u * (n))
#define MSR_IA32_MTRR_PHYSMASK(n) (0x201u + 2u * (n))

/* IA32_MTRRCAP fields (SDM Vol. 3A, 12.11.1). */
#define MTRRCAP_VCNT_MASK 0xFFull
#define MTRRCAP_FIX       (1ull << 8)
#define MTRRCAP_WC        (1ull << 10)

/* IA32_MTRR_DEF_TYPE fields (SDM Vol. 3A, 12.11.2.1). */
#define MTRR_DEF_TYPE_MASK 0xFFull
#define MTRR_DEF_FE        (1ull << 10) /* fixed-range MTRRs enabled */
#define MTRR_DEF_E         (1ull << 11) /* MTRRs enabled */

/* IA32_MTRR_PHYSMASKn valid bit (SDM Vol. 3A, 12.11.2.3). */
#define MTRR_PHYSMASK_VALID (1ull << 11)

/* The 11 fixed-range MSRs, in this order, hold 8 one-byte types each (SDM Vol. 3A,
 * 12.11.2.2, Table 12-9): one 64 KiB x 8 (0..7FFFF), two 16 KiB x 8 (80000..BFFFF), eight
 * 4 KiB x 8 (C0000..FFFFF). */
#define MTRR_FIXED_MSRS 11u
#define MTRR_MAX_VAR    32u /* VCNT above this is clamped (real parts have 8..10) */
#define MTRR_FIXED_END  0x100000ull

struct mtrr_var {
    uint64_t base; /* IA32_MTRR_PHYSBASEn as read */
    uint64_t mask; /* IA32_MTRR_PHYSMASKn as read */
};

struct mtrr_state {
    uint64_t cap;      /* IA32_MTRRCAP */
    uint64_t def_type; /* IA32_MTRR_DEF_TYPE */
    uint64_t fixed[MTRR_FIXED_MSRS];
    struct mtrr_var var[MTRR_MAX_VAR]; /* the first min(VCNT, MTRR_MAX_VAR) are used */
    unsigned maxphyaddr;               /* CPUID.80000008H:EAX[7:0]; 36 if unknown */
};

/* The MSR number of fixed-range register i (0..10), for the caller's RDMSR loop. */
uint32_t mtrr_state_fixed_msr(unsigned i);

/* The memory type of one physical address. Disabled MTRRs (E = 0) give UC for everything;
 * reserved type values in a register are treated as UC. */
uint8_t mtrr_type_at(const struct mtrr_state *st, uint64_t addr);

/* Whether every byte of [base, base + size) has the same type; if so *type gets it.
 * base and size must be 4 KiB multiples and the range naturally aligned to a power-of-two
 * size (as a page is); otherwise the answer is false. Exact, except that it may answer false for a
 * uniform block when a variable range with a non-contiguous mask partly covers it, or when
 * the block straddles 1 MiB (fixed and variable ranges meet); it never accepts a mixed one. */
bool mtrr_uniform_type(const struct mtrr_state *st, uint64_t base, uint64_t size, uint8_t *type);

/* Combines the types of all matching variable ranges (SDM Vol. 3A, 12.11.4.1): one type ->
 * that type; UC among them -> UC; only WT and WB -> WT; any other mix is undefined in the
 * SDM and gives UC here. `present` is a bit set indexed by type (bit t for type t). */
uint8_t mtrr_combine_types(uint32_t present, uint8_t def_type);

#endif
