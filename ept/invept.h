/* INVEPT wrappers for VMX root mode (header-only; the hypervisor calls them, host tests only
 * compile them).
 *
 * INVEPT (SDM Vol. 3C, 31.3 "VMX Instructions", INVEPT) invalidates the cached EPT
 * translations of one EPTP (single-context, type 1) or of all EPTPs (all-context, type 2).
 * It only affects the CPU that executes it, so after a map change the vmx/ code runs it on
 * every CPU (ept/ept.h, "Rules for the caller").
 *
 * Outcome per SDM Vol. 3C, 31.2 "Conventions": VMsucceed clears CF and ZF; VMfailInvalid
 * sets CF (no current VMCS is needed for INVEPT, so this is the usual failure); VMfailValid
 * sets ZF and writes the VM-instruction error field (e.g. 28, "invalid operand to
 * INVEPT/INVVPID", for an unsupported type or a bad EPTP). */
#ifndef TRAPVISOR_EPT_INVEPT_H
#define TRAPVISOR_EPT_INVEPT_H

#include <stdint.h>

#include "ept/ept.h"

#define INVEPT_SINGLE_CONTEXT 1ull
#define INVEPT_ALL_CONTEXT    2ull

enum invept_result {
    INVEPT_OK = 0,
    INVEPT_FAIL_INVALID = 1, /* CF = 1 */
    INVEPT_FAIL_VALID = 2,   /* ZF = 1; see the VM-instruction error field */
    INVEPT_UNSUPPORTED = 3,  /* the capability MSR does not offer that type */
};

/* The INVEPT descriptor: EPTP then 64 reserved bits that must be zero (SDM Vol. 3C, INVEPT,
 * "INVEPT Descriptor"). */
struct invept_desc {
    uint64_t eptp;
    uint64_t reserved;
};

static inline enum invept_result invept_raw(uint64_t type, uint64_t eptp)
{
    struct invept_desc desc = {eptp, 0};
    uint8_t cf, zf;
    __asm__ volatile("invept %[desc], %[type]\n\t"
                     "setc %[cf]\n\t"
                     "setz %[zf]"
                     : [cf] "=qm"(cf), [zf] "=qm"(zf)
                     : [desc] "m"(desc), [type] "r"(type)
                     : "cc", "memory");
    if (cf)
        return INVEPT_FAIL_INVALID;
    if (zf)
        return INVEPT_FAIL_VALID;
    return INVEPT_OK;
}

/* Invalidates the translations of one EPTP, if the CPU supports single-context INVEPT;
 * otherwise falls back to all-context (always correct, just broader). */
static inline enum invept_result invept_single_context(uint64_t ept_vpid_cap, uint64_t eptp)
{
    if (!(ept_vpid_cap & EPT_CAP_INVEPT))
        return INVEPT_UNSUPPORTED;
    if (ept_vpid_cap & EPT_CAP_INVEPT_SINGLE)
        return invept_raw(INVEPT_SINGLE_CONTEXT, eptp);
    if (ept_vpid_cap & EPT_CAP_INVEPT_ALL)
        return invept_raw(INVEPT_ALL_CONTEXT, 0);
    return INVEPT_UNSUPPORTED;
}

static inline enum invept_result invept_all_context(uint64_t ept_vpid_cap)
{
    if (!(ept_vpid_cap & EPT_CAP_INVEPT) || !(ept_vpid_cap & EPT_CAP_INVEPT_ALL))
        return INVEPT_UNSUPPORTED;
    return invept_raw(INVEPT_ALL_CONTEXT, 0);
}

#endif
