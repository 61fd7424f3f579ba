/* Exit handling helpers shared by vmx/ handlers and the parts boot/ plugs in. */
#ifndef TRAPVISOR_VMX_EXIT_H
#define TRAPVISOR_VMX_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/arch.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

/* What boot/ plugs into the exit handlers (vmx/ knows no devices, EPT layout or PCI). */
struct vmx_hooks {
    /* EPT violation at `gpa` with exit qualification `qual`; true when handled (RIP advanced
     * or an event injected); false stops this guest CPU ("EPT violation not handled", after the
     * hook has logged why). */
    bool (*ept_violation)(struct vcpu *v, uint64_t gpa, uint64_t qual);
    /* Set when ept_violation calls vmx_load_guest_rsp() itself before it uses gpr[GPR_RSP];
     * while false the dispatcher loads RSP for it before every call. While true, stub.asm
     * calls ept_violation straight from the exit stub (no C frame in between): the IDT-vectoring
     * re-injection and the NMI blocking of qualification bit 12 are done before it, the RSP
     * write-back and the EPT generation check after it. The hook must then not rely on
     * v->last_device being set to -1 for it: it is -1 at every exit until a handler names a
     * device (the record resets it after counting). */
    bool ept_violation_loads_rsp;
    /* The common case of ept_violation, which stub.asm calls first at every EPT violation
     * (vmx_hooks starts with one that declines everything) with only the light set in
     * v->gpr: RAX, RCX, RDX, RBX, RSI, RDI and R8-R11. RBP and R12-R15 are still in the CPU's
     * registers (C code keeps them), so it must neither read nor write gpr[5] or gpr[12..15],
     * nor RSP. It returns false having changed nothing -- the stub then saves the rest and calls
     * ept_violation for the same exit -- or true having handled the exit, which spares the
     * five stores and five loads of those registers. The IDT-vectoring re-injection, the NMI
     * blocking, the RSP write-back and the EPT generation check are done around it as around
     * ept_violation. */
    /* It must decline an exit whose qualification has bit 12 set (an IRET that unblocked NMIs,
     * SDM Vol. 3C, 28.2.3): the stub re-blocks NMIs only on the full route, so it does not test
     * the bit before this hook. */
    bool (*ept_violation_light)(struct vcpu *v, uint64_t gpa, uint64_t qual);
    /* An intercepted I/O port access (only the PCI configuration ports are intercepted). */
    uint32_t (*io)(uint16_t port, unsigned size, bool write, uint32_t value);
    /* [gpa, gpa+len) is wholly guest RAM (not hidden, not MMIO). */
    bool (*is_guest_ram)(uint64_t gpa, uint64_t len);
    void (*seal)(void); /* TV_HC_SEAL: hide the hypervisor's region */
    /* This CPU's guest paging mode may have changed: a MOV to CR0 changed PG, or an INIT reset
     * the CPU. Called before the guest runs again, in VMX root on that CPU. A hook that keeps
     * the guest's translations between exits on the understanding that the paging mode is
     * unchanged (the MMIO sites, decode/fetch.h's fetch_bound_code_ia32e_executed) forgets
     * them here. May be NULL. */
    void (*paging_mode_changed)(struct vcpu *v);
};
extern struct vmx_hooks vmx_hooks;

/* Exit reasons (bit n = basic reason n) whose handlers read and write only the guest's RAX,
 * RBX, RCX and RDX: stub.asm saves and restores ten GPRs for them instead of fifteen. */
extern const uint64_t vmx_light_exits __attribute__((visibility("hidden")));

/* The guest's RSP is not saved by the stub (it is in the VMCS). A handler that needs it calls
 * this: it reads it once per exit into v->gpr[GPR_RSP]; if the handler then changes
 * gpr[GPR_RSP], the dispatcher writes it back before VM entry. Exits through the full
 * dispatcher only (not CPUID or the light exits). */
static inline uint64_t vmx_load_guest_rsp(struct vcpu *v)
{
    if (!v->rsp_valid) {
        v->rsp_loaded = vmread(VMCS_GUEST_RSP);
        v->gpr[GPR_RSP] = v->rsp_loaded;
        v->rsp_valid = true;
        v->finish_generation = VCPU_FINISH_PENDING; /* stub.asm's EPT route writes it back */
    }
    return v->gpr[GPR_RSP];
}

/* What retiring an emulated instruction does to the interruptibility state: blocking by STI
 * and by MOV SS ends with the instruction (SDM Vol. 3C, 25.4.2, Table 25-3); blocking by SMI
 * and NMI and the enclave bit stay. */
static inline uint64_t vmx_interruptibility_after_retire(uint64_t intr)
{
    return intr & ~INTERRUPTIBILITY_STI_MOVSS;
}

/* The interruptibility state to resume with after an EPT violation that the hypervisor
 * handles without completing the guest's instruction (an emulated MOV is never an IRET, and
 * an IRET is never emulated: it gets an exception). `qual` is the exit qualification, `idt`
 * the IDT-vectoring information. The IRET that exited unblocked NMIs before the exit (SDM
 * Vol. 3C, 27.1: "any blocking by NMI is cleared before the VM exit commences"); bit 12 says
 * it did, and since that IRET did not complete, blocking by NMI is set again (SDM Vol. 3C,
 * 28.2.3, and 29.2.1.2 for the same bit of an exception exit). Bit 12 means nothing when the
 * exit happened during event delivery (the IDT-vectoring field is valid; the event is
 * delivered again instead, and an NMI injected with blocking by NMI set would fail the VM
 * entry, SDM Vol. 3C, 27.3.1.5). */
static inline uint64_t vmx_interruptibility_after_ept_violation(uint64_t intr, uint64_t qual,
                                                                uint32_t idt)
{
    if ((qual & EPT_QUAL_NMI_UNBLOCKED) && !(idt & INTR_INFO_VALID))
        return intr | INTERRUPTIBILITY_NMI;
    return intr;
}

/* Whether retiring an emulated (non-branch) instruction raises a single-step trap: RFLAGS.TF
 * at the instruction, unless IA32_DEBUGCTL.BTF asks for single-step on branches only (SDM Vol.
 * 3B, 18.4.3). `debugctl_is_guests` is false when the VMCS does not hold the guest's
 * IA32_DEBUGCTL (not saved at exit): BTF then counts as clear. */
static inline bool vmx_retire_single_steps(uint64_t rflags, bool debugctl_is_guests,
                                           uint64_t debugctl)
{
    return (rflags & RFLAGS_TF_BIT) && !(debugctl_is_guests && (debugctl & DEBUGCTL_BTF));
}

/* Retires an emulated instruction (every handler and the MMIO path end with this): guest RIP
 * = next_rip, STI and MOV-SS blocking ended (SDM Vol. 3C, 25.4.2, Table 25-3), and when
 * RFLAGS.TF is set (and IA32_DEBUGCTL.BTF clear) the single-step trap the instruction would
 * have raised: BS in the pending debug exceptions field, delivered after VM entry (SDM Vol.
 * 3C, 25.4.2 and 27.3.1.5). `rflags` is the guest's RFLAGS (the caller has it already; none of
 * the instructions emulated changes TF). RFLAGS in the VMCS is not written. */
void vmx_retire_instruction(struct vcpu *v, uint64_t next_rip, uint64_t rflags);
/* Its rare half (blocking to end, a single-step trap to raise), then true: for a handler whose
 * retire is its last act (a tail call, so the handler's fast path needs no stack frame for it). */
bool vmx_retire_slow_handled(uint64_t intr, uint64_t rflags);
/* vmx_retire_instruction, inline, for a handler whose whole path is counted (the MMIO sites),
 * as its last act: the RIP write, the interruptibility read and two tests; the rest only when
 * one is set. Returns true (handled). */
__attribute__((always_inline)) static inline bool
vmx_retire_instruction_inline_handled(uint64_t next_rip, uint64_t rflags)
{
    vmwrite_unchecked(VMCS_GUEST_RIP, next_rip);
    uint64_t intr = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    /* Two tests and two branches (the compiler merges the conditions into more). */
    __asm__ goto("test %2, %0\n\t"
                 "jnz %l[slow]\n\t"
                 "test %3, %1\n\t"
                 "jnz %l[slow]"
                 :
                 : "r"(intr), "r"(rflags), "i"(INTERRUPTIBILITY_STI_MOVSS), "i"(RFLAGS_TF_BIT)
                 : "cc"
                 : slow);
    return true;
slow:
    return vmx_retire_slow_handled(intr, rflags);
}
/* The same, for an instruction that changed RFLAGS: also writes `rflags` into the VMCS. */
void vmx_retire_instruction_set_rflags(struct vcpu *v, uint64_t next_rip, uint64_t rflags);
/* Retires the instruction that exited: next_rip = RIP + the exit's instruction length. */
void vmx_skip_instruction(struct vcpu *v);

void vmx_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error);
void vmx_inject_ud(struct vcpu *v);
void vmx_inject_gp(struct vcpu *v);
unsigned vmx_guest_cpl(void);
void vmx_dump_state(struct vcpu *v, const char *why);
void vmx_host_exception(const uint64_t *frame);

#endif
