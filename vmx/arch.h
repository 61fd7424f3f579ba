/* Single-instruction helpers for VMX root code: control registers, MSRs, descriptor tables
 * and the VMX instructions (SDM Vol. 3C, chapter 31 "VMX Instruction Reference").
 * Header-only, freestanding. */
#ifndef TRAPVISOR_VMX_ARCH_H
#define TRAPVISOR_VMX_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/cr.h"      /* read_crN, write_crN */
#include "lib/segment.h" /* SEG_AR_* */

/* Architectural MSRs (SDM Vol. 4, Table 2-2). */
#define MSR_IA32_FEATURE_CONTROL 0x03Au
#define MSR_IA32_SYSENTER_CS     0x174u
#define MSR_IA32_SYSENTER_ESP    0x175u
#define MSR_IA32_SYSENTER_EIP    0x176u
#define MSR_IA32_DEBUGCTL        0x1D9u
#define MSR_IA32_PAT             0x277u
#define MSR_IA32_VMX_BASIC       0x480u
#define MSR_IA32_VMX_PINBASED    0x481u
#define MSR_IA32_VMX_PROCBASED   0x482u
#define MSR_IA32_VMX_EXIT        0x483u
#define MSR_IA32_VMX_ENTRY       0x484u
#define MSR_IA32_VMX_MISC        0x485u
#define MSR_IA32_VMX_CR0_FIXED0  0x486u
#define MSR_IA32_VMX_CR0_FIXED1  0x487u
#define MSR_IA32_VMX_CR4_FIXED0  0x488u
#define MSR_IA32_VMX_CR4_FIXED1  0x489u
#define MSR_IA32_VMX_PROCBASED2  0x48Bu
#define MSR_IA32_VMX_EPT_VPID    0x48Cu
#define MSR_IA32_VMX_TRUE_PIN    0x48Du
#define MSR_IA32_VMX_TRUE_PROC   0x48Eu
#define MSR_IA32_VMX_TRUE_EXIT   0x48Fu
#define MSR_IA32_VMX_TRUE_ENTRY  0x490u
#define MSR_IA32_VMX_VMFUNC      0x491u
#define MSR_IA32_EFER            0xC0000080u
#define MSR_IA32_FS_BASE         0xC0000100u
#define MSR_IA32_GS_BASE         0xC0000101u
#define MSR_IA32_X2APIC_ICR      0x830u
#define MSR_IA32_APIC_BASE       0x01Bu

/* IA32_FEATURE_CONTROL bits (SDM Vol. 3C, 24.7 "Enabling and Entering VMX Operation"). */
#define FEATURE_CONTROL_LOCK            (1ull << 0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)

#define X86_CR0_PE      (1ull << 0)
#define X86_CR0_NE      (1ull << 5)
#define X86_CR0_PG      (1ull << 31)
#define X86_CR4_PAE     (1ull << 5)
#define X86_CR4_VMXE    (1ull << 13)
#define X86_CR4_PCIDE   (1ull << 17)
#define X86_CR4_OSXSAVE (1ull << 18)
#define X86_EFER_LME    (1ull << 8)
#define X86_EFER_LMA    (1ull << 10)
#define RFLAGS_CF_BIT   (1ull << 0)
#define RFLAGS_TF_BIT   (1ull << 8)
#define DEBUGCTL_BTF    (1ull << 1) /* single-step on branches (SDM Vol. 3B, 18.4.1) */
#define RFLAGS_ZF_BIT   (1ull << 6)

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid_count(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

static inline uint64_t read_dr7(void)
{
    uint64_t v;
    __asm__ volatile("mov %%dr7, %0" : "=r"(v));
    return v;
}

static inline uint64_t read_rflags(void)
{
    uint64_t v;
    __asm__ volatile("pushfq; popq %0" : "=r"(v));
    return v;
}

static inline void sgdt(struct dtr *d)
{
    __asm__ volatile("sgdt %0" : "=m"(*d));
}

static inline void sidt(struct dtr *d)
{
    __asm__ volatile("sidt %0" : "=m"(*d));
}

#define DEFINE_SEL(name, insn)                                                                     \
    static inline uint16_t read_##name(void)                                                       \
    {                                                                                              \
        uint16_t v;                                                                                \
        __asm__ volatile(insn : "=r"(v));                                                          \
        return v;                                                                                  \
    }
DEFINE_SEL(cs, "mov %%cs, %0")
DEFINE_SEL(ss, "mov %%ss, %0")
DEFINE_SEL(ds, "mov %%ds, %0")
DEFINE_SEL(es, "mov %%es, %0")
DEFINE_SEL(fs, "mov %%fs, %0")
DEFINE_SEL(gs, "mov %%gs, %0")
DEFINE_SEL(tr, "str %0")
DEFINE_SEL(ldtr, "sldt %0")
#undef DEFINE_SEL

/* VMX instructions report failure through CF (VMfailInvalid) or ZF (VMfailValid)
 * (SDM Vol. 3C, 31.2 "Conventions"). Each wrapper returns true on success. */
static inline bool vmxon(uint64_t pa)
{
    uint8_t bad;
    __asm__ volatile("vmxon %1; setbe %0" : "=q"(bad) : "m"(pa) : "cc", "memory");
    return !bad;
}

static inline bool vmclear(uint64_t pa)
{
    uint8_t bad;
    __asm__ volatile("vmclear %1; setbe %0" : "=q"(bad) : "m"(pa) : "cc", "memory");
    return !bad;
}

static inline bool vmptrld(uint64_t pa)
{
    uint8_t bad;
    __asm__ volatile("vmptrld %1; setbe %0" : "=q"(bad) : "m"(pa) : "cc", "memory");
    return !bad;
}

static inline uint64_t vmread(uint64_t field)
{
    uint64_t v = 0;
    __asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
    return v;
}

static inline bool vmwrite(uint64_t field, uint64_t v)
{
    uint8_t bad;
    __asm__ volatile("vmwrite %2, %1; setbe %0" : "=q"(bad) : "r"(field), "rm"(v) : "cc");
    return !bad;
}

/* VMWRITE without the success check, for fields the exit path writes with values that are
 * valid by construction (guest RIP): one instruction less on every exit. */
static inline void vmwrite_unchecked(uint64_t field, uint64_t v)
{
    __asm__ volatile("vmwrite %1, %0" : : "r"(field), "rm"(v) : "cc");
}

static inline void vmx_invept_all(void)
{
    struct {
        uint64_t eptp, zero;
    } desc = {0, 0};
    __asm__ volatile("invept %0, %1" : : "m"(desc), "r"(2ull) : "cc", "memory");
}

__attribute__((noreturn)) static inline void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

#endif
