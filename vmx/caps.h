/* The VT-x capability report (`trapvisor.efi --caps`) and control-value computation.
 *
 * Pure code: the raw MSR and CPUID values come in a struct (read on the machine through
 * vmx_caps_collect() with the caller's rdmsr/cpuid), so the report and the control arithmetic
 * are host-tested with the values Bochs's corei7_skylake_x model reports.
 *
 * Capability MSR semantics (SDM Vol. 3D, Appendix A.3-A.5): bits 31:0 are the allowed
 * 0-settings (a 1 there means the control must be 1), bits 63:32 the allowed 1-settings (a 0
 * there means the control must be 0). When IA32_VMX_BASIC[55] is 1 the TRUE_ MSRs report
 * which "default1" controls may in fact be 0 (Appendix A.2). */
#ifndef TRAPVISOR_VMX_CAPS_H
#define TRAPVISOR_VMX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/fmt.h"

/* Raw values. `has_*` says whether the CPU enumerates the MSR (reading one it does not raises
 * #GP), so a missing MSR is reported as missing rather than as zero capabilities. */
struct vmx_caps_raw {
    /* CPUID (SDM Vol. 2A, CPUID). */
    char vendor[13];           /* leaf 0, EBX EDX ECX, NUL-terminated */
    uint32_t cpuid1_ecx;       /* leaf 1 ECX: bit 5 VMX, bit 6 SMX, bit 31 hypervisor */
    uint32_t cpuid_ext_edx;    /* leaf 0x80000001 EDX: bit 26 1-GByte pages */
    uint32_t cpuid_addr_sizes; /* leaf 0x80000008 EAX: bits 7:0 MAXPHYADDR */
    bool has_ext_leaves;       /* leaf 0x80000008 exists */

    bool has_vmx;             /* CPUID.1:ECX.VMX: every field below is valid only when set */
    uint64_t feature_control; /* IA32_FEATURE_CONTROL (0x3A) */
    uint64_t basic;           /* IA32_VMX_BASIC (0x480) */
    uint64_t pinbased, procbased, exit, entry;                     /* 0x481-0x484 */
    uint64_t misc;                                                 /* 0x485 */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;       /* 0x486-0x489 */
    uint64_t vmcs_enum;                                            /* 0x48A */
    bool has_true;                                                 /* IA32_VMX_BASIC[55] */
    uint64_t true_pinbased, true_procbased, true_exit, true_entry; /* 0x48D-0x490 */
    bool has_procbased2; /* primary processor-based controls allow bit 31 */
    uint64_t procbased2; /* 0x48B */
    bool has_ept_vpid;   /* secondary controls allow bit 1 (EPT) or bit 5 (VPID) */
    uint64_t ept_vpid;   /* 0x48C */
    bool has_vmfunc;     /* secondary controls allow bit 13 (VM functions) */
    uint64_t vmfunc;     /* 0x491 */
    bool has_procbased3; /* primary processor-based controls allow bit 17 */
    uint64_t procbased3; /* 0x492: allowed 1-settings only, all 64 bits */
};

/* Reads everything through the callbacks, touching only the MSRs the CPU enumerates (the
 * rules of SDM Vol. 3D, Appendix A.1, A.3.2-A.3.4, A.10, A.11). */
typedef uint64_t (*vmx_rdmsr_fn)(void *ctx, uint32_t msr);
typedef void (*vmx_cpuid_fn)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);
void vmx_caps_collect(struct vmx_caps_raw *raw, vmx_rdmsr_fn rdmsr, vmx_cpuid_fn cpuid, void *ctx);

/* How one control may be set, from a capability MSR (and its TRUE_ variant, or 0). */
enum vmx_control_setting {
    VMX_CONTROL_NO,      /* must be 0 */
    VMX_CONTROL_YES,     /* 0 or 1 */
    VMX_CONTROL_FORCED,  /* must be 1 */
    VMX_CONTROL_DEFAULT, /* must be 1 in the legacy MSR, but the TRUE_ MSR allows 0 */
};
enum vmx_control_setting vmx_control_setting(uint64_t cap, uint64_t true_cap, bool has_true,
                                             unsigned bit);

/* A 32-bit VM-execution, VM-exit or VM-entry control value: `want` | the bits that must be 1,
 * from capability MSR `cap` (use the TRUE_ MSR when IA32_VMX_BASIC[55] is 1). Returns false,
 * leaving *value untouched, if a bit of `want` is not allowed to be 1 (SDM Vol. 3D, A.3.1). */
bool vmx_adjust_controls(uint64_t cap, uint32_t want, uint32_t *value);

/* The bits of `want` that `cap` does not allow to be 1 (0 when all are allowed). */
uint32_t vmx_controls_unsupported(uint64_t cap, uint32_t want);

/* Prints the report, vmxcap style: one "caps: ..." line per fact, through `putc`. */
void vmx_caps_print(const struct vmx_caps_raw *raw, fmt_putc_fn putc, void *ctx);

#endif
