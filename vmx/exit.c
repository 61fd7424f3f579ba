/* VM-exit handling: the three entries stub.asm calls, and the handlers that need no device
 * knowledge.
 *
 * stub.asm reads the exit reason once and picks the entry:
 *   - vmx_exit_cpuid: CPUID, the most frequent exit (firmware timer code, OS TSC calibration),
 *     when the stub's own CPUID route declines it (STI/MOV-SS blocking, RFLAGS.TF, an EPT
 *     generation to catch up, leaf 1 or a hypervisor leaf); otherwise the stub does what this
 *     function would do for it, without the call;
 *   - vmx_exit_light(v, reason): the exits in vmx_light_exits, whose handlers touch only RAX,
 *     RBX, RCX and RDX of the guest (the stub saved only ten GPRs for these two entries);
 *   - EPT violations (the MMIO path), all fifteen GPRs saved: the stub calls
 *     vmx_hooks.ept_violation itself when the hook loads RSP itself (its cold branches call
 *     vmx_ept_violation_events, vmx_ept_violation_unhandled, vmx_ept_violation_finish), or
 *     vmx_exit_ept_violation(v) otherwise;
 *   - vmx_exit_dispatch(v, reason): everything else, all fifteen GPRs saved.
 * Per-exit work that every exit needs is only the end-of-exit EPT generation check
 * (exit_finish). IDT-vectoring re-injection is done only for the exits that can happen during
 * event delivery (SDM Vol. 3C, 28.2.4); CPUID, VMCALL, I/O and the other instruction exits
 * cannot. The guest RSP is read only by handlers that need it (vmx_load_guest_rsp).
 * Paths that run often (CPUID, I/O, EPT violation, INIT/SIPI) do not log. */
#include "vmx/exit.h"

#include "lib/io.h"
#include "lib/log.h"
#include "lib/string.h"
#include "vmx/arch.h"
#include "vmx/hypercall_abi.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

/* Until boot/ plugs its own in: every EPT violation to ept_violation. */
static bool ept_violation_light_none(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
    (void)v;
    (void)gpa;
    (void)qual;
    return false;
}

struct vmx_hooks vmx_hooks = {.ept_violation_light = ept_violation_light_none};

/* --- helpers ------------------------------------------------------------------------- */

_Static_assert(__builtin_offsetof(struct vcpu, exit_tsc) == 144, "stub.asm VCPU_EXIT_TSC");
_Static_assert(__builtin_offsetof(struct vcpu, resume_tsc) == 152, "stub.asm VCPU_RESUME_TSC");
/* The stub's record reads vcpu + 160 as a struct stats_record_ctx (vmx/stats_record.inc). */
_Static_assert(__builtin_offsetof(struct vcpu, last_reason) ==
                   160 + __builtin_offsetof(struct stats_record_ctx, reason),
               "stub.asm VCPU_REC");
_Static_assert(__builtin_offsetof(struct vcpu, last_device) ==
                   160 + __builtin_offsetof(struct stats_record_ctx, device),
               "record device");
_Static_assert(__builtin_offsetof(struct vcpu, stats_cpu) ==
                   160 + __builtin_offsetof(struct stats_record_ctx, cpu),
               "record cpu");
_Static_assert(__builtin_offsetof(struct vcpu, stats_lock) ==
                   160 + __builtin_offsetof(struct stats_record_ctx, lock),
               "record lock");
_Static_assert(__builtin_offsetof(struct vcpu, ept_generation) == 184,
               "stub.asm VCPU_EPT_GENERATION");
_Static_assert(__builtin_offsetof(struct vmx_global, ept_generation) == 864,
               "stub.asm VMX_EPT_GENERATION");
_Static_assert(sizeof(int) == sizeof(int32_t), "last_device is the record's int32_t device");
_Static_assert(__builtin_offsetof(struct vcpu, finish_generation) == 440,
               "stub.asm VCPU_FINISH_GENERATION");
_Static_assert(__builtin_offsetof(struct vmx_hooks, ept_violation) == 0,
               "stub.asm HOOKS_EPT_VIOLATION");
_Static_assert(__builtin_offsetof(struct vmx_hooks, ept_violation_loads_rsp) == 8,
               "stub.asm HOOKS_EPT_LOADS_RSP");
_Static_assert(__builtin_offsetof(struct vmx_hooks, ept_violation_light) == 16,
               "stub.asm HOOKS_EPT_LIGHT");

/* Blocking to end or a single-step trap to raise: both rare. */
static void retire_slow(uint64_t intr, uint64_t rflags)
{
    if (intr & INTERRUPTIBILITY_STI_MOVSS)
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY, vmx_interruptibility_after_retire(intr));
    if (rflags & RFLAGS_TF_BIT) {
        bool saved = (vmx.ctl.exit & EXIT_SAVE_DEBUG) != 0;
        if (vmx_retire_single_steps(rflags, saved, saved ? vmread(VMCS_GUEST_DEBUGCTL) : 0))
            vmwrite(VMCS_GUEST_PENDING_DBG, vmread(VMCS_GUEST_PENDING_DBG) | PENDING_DBG_BS);
    }
}

__attribute__((noinline, cold)) bool vmx_retire_slow_handled(uint64_t intr, uint64_t rflags)
{
    retire_slow(intr, rflags);
    return true;
}

__attribute__((always_inline)) static inline void retire(uint64_t next_rip, uint64_t rflags)
{
    (void)vmx_retire_instruction_inline_handled(next_rip, rflags);
}

__attribute__((always_inline)) static inline void skip_instruction(void)
{
    uint64_t rip = vmread(VMCS_GUEST_RIP);
    uint64_t len = vmread(VMCS_EXIT_INSTR_LEN);
    retire(rip + len, vmread(VMCS_GUEST_RFLAGS));
}

void vmx_retire_instruction(struct vcpu *v, uint64_t next_rip, uint64_t rflags)
{
    (void)v;
    retire(next_rip, rflags);
}

void vmx_retire_instruction_set_rflags(struct vcpu *v, uint64_t next_rip, uint64_t rflags)
{
    (void)v;
    vmwrite_unchecked(VMCS_GUEST_RFLAGS, rflags);
    retire(next_rip, rflags);
}

void vmx_skip_instruction(struct vcpu *v)
{
    (void)v;
    skip_instruction();
}

void vmx_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error)
{
    (void)v;
    uint32_t info = INTR_INFO_VALID | INTR_TYPE_HW_EXC | (vector & 0xFF);
    if (has_error) {
        info |= INTR_INFO_DELIVER_ERR;
        vmwrite(VMCS_ENTRY_EXC_ERRCODE, error);
    }
    vmwrite(VMCS_ENTRY_INTR_INFO, info);
}

void vmx_inject_ud(struct vcpu *v)
{
    vmx_inject_exception(v, 6, false, 0);
}

void vmx_inject_gp(struct vcpu *v)
{
    vmx_inject_exception(v, 13, true, 0);
}

unsigned vmx_guest_cpl(void)
{
    /* CPL is SS.DPL (SDM Vol. 3C, 25.4.1: "SS.DPL always equals the CPL"). */
    return (unsigned)(vmread(VMCS_GUEST_SS_AR) >> 5) & 3;
}

void vmx_dump_state(struct vcpu *v, const char *why)
{
    vmx_load_guest_rsp(v);
    log_printf("vmx: CPU %u %s: exit reason %llu qual 0x%llx\n", v->index, why,
               (unsigned long long)vmread(VMCS_EXIT_REASON),
               (unsigned long long)vmread(VMCS_EXIT_QUALIFICATION));
    log_printf("vmx:  rip 0x%llx rsp 0x%llx rflags 0x%llx cs 0x%llx/0x%llx ss 0x%llx\n",
               (unsigned long long)vmread(VMCS_GUEST_RIP),
               (unsigned long long)vmread(VMCS_GUEST_RSP),
               (unsigned long long)vmread(VMCS_GUEST_RFLAGS),
               (unsigned long long)vmread(VMCS_GUEST_CS_SEL),
               (unsigned long long)vmread(VMCS_GUEST_CS_BASE),
               (unsigned long long)vmread(VMCS_GUEST_SS_SEL));
    log_printf(
        "vmx:  cr0 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx gpa 0x%llx gla 0x%llx\n",
        (unsigned long long)vmread(VMCS_GUEST_CR0), (unsigned long long)vmread(VMCS_GUEST_CR3),
        (unsigned long long)vmread(VMCS_GUEST_CR4), (unsigned long long)vmread(VMCS_GUEST_EFER),
        (unsigned long long)vmread(VMCS_GUEST_PHYS_ADDR),
        (unsigned long long)vmread(VMCS_GUEST_LINEAR_ADDR));
    log_printf("vmx:  intr-info 0x%llx idt-vec 0x%llx interruptibility 0x%llx activity %llu\n",
               (unsigned long long)vmread(VMCS_EXIT_INTR_INFO),
               (unsigned long long)vmread(VMCS_IDT_VECTORING_INFO),
               (unsigned long long)vmread(VMCS_GUEST_INTERRUPTIBILITY),
               (unsigned long long)vmread(VMCS_GUEST_ACTIVITY));
    log_printf("vmx:  ds %llx es %llx fs %llx/%llx gs %llx/%llx tr %llx ldtr %llx\n",
               (unsigned long long)vmread(VMCS_GUEST_DS_SEL),
               (unsigned long long)vmread(VMCS_GUEST_ES_SEL),
               (unsigned long long)vmread(VMCS_GUEST_FS_SEL),
               (unsigned long long)vmread(VMCS_GUEST_FS_BASE),
               (unsigned long long)vmread(VMCS_GUEST_GS_SEL),
               (unsigned long long)vmread(VMCS_GUEST_GS_BASE),
               (unsigned long long)vmread(VMCS_GUEST_TR_SEL),
               (unsigned long long)vmread(VMCS_GUEST_LDTR_SEL));
    log_printf(
        "vmx:  gdtr 0x%llx/0x%llx idtr 0x%llx/0x%llx dr7 0x%llx cs-ar 0x%llx ss-ar 0x%llx "
        "vm-instruction-error %llu\n",
        (unsigned long long)vmread(VMCS_GUEST_GDTR_BASE),
        (unsigned long long)vmread(VMCS_GUEST_GDTR_LIMIT),
        (unsigned long long)vmread(VMCS_GUEST_IDTR_BASE),
        (unsigned long long)vmread(VMCS_GUEST_IDTR_LIMIT),
        (unsigned long long)vmread(VMCS_GUEST_DR7), (unsigned long long)vmread(VMCS_GUEST_CS_AR),
        (unsigned long long)vmread(VMCS_GUEST_SS_AR), (unsigned long long)vmread(VMCS_INSTR_ERROR));
    static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    for (unsigned i = 0; i < 16; i += 4)
        log_printf("vmx:  %s 0x%llx %s 0x%llx %s 0x%llx %s 0x%llx\n", names[i],
                   (unsigned long long)v->gpr[i], names[i + 1], (unsigned long long)v->gpr[i + 1],
                   names[i + 2], (unsigned long long)v->gpr[i + 2], names[i + 3],
                   (unsigned long long)v->gpr[i + 3]);
}

/* Stops this guest for good: the CPU stays in VMX root with interrupts off. */
__attribute__((noreturn, cold)) static void stop_guest(struct vcpu *v, const char *why)
{
    vmx_dump_state(v, why);
    log_printf("vmx: CPU %u stopped\n", v->index);
    v->stopped = true;
    cpu_halt_forever();
}

/* --- handlers ------------------------------------------------------------------------ */

/* CPUID leaves the hypervisor changes: 1 and 0x40000000-0x4FFFFFFF. */
__attribute__((noinline, cold)) static void cpuid_special(struct vcpu *v)
{
    uint32_t leaf = (uint32_t)v->gpr[GPR_RAX], sub = (uint32_t)v->gpr[GPR_RCX];
    uint32_t r[4];
    if (leaf >= 0x40000000u && leaf <= 0x4FFFFFFFu) {
        r[0] = r[1] = r[2] = r[3] = 0;
        if (leaf == TV_CPUID_LEAF_SIGNATURE) {
            r[0] = TV_CPUID_LEAF_SIGNATURE;
            r[1] = TV_CPUID_SIG_EBX;
            r[2] = TV_CPUID_SIG_ECX;
            r[3] = TV_CPUID_SIG_EDX;
        }
    } else {
        cpuid_count(leaf, sub, r);
        if (leaf == 1) {
            r[2] |= 1u << 31;   /* hypervisor present */
            r[2] &= ~(1u << 5); /* VMX hidden */
            /* OSXSAVE mirrors the guest's CR4, not the host's (SDM Vol. 2A, CPUID, ECX[27]). */
            if (vmread(VMCS_GUEST_CR4) & X86_CR4_OSXSAVE)
                r[2] |= 1u << 27;
            else
                r[2] &= ~(1u << 27);
        }
    }
    v->gpr[GPR_RAX] = r[0];
    v->gpr[GPR_RBX] = r[1];
    v->gpr[GPR_RCX] = r[2];
    v->gpr[GPR_RDX] = r[3];
}

__attribute__((always_inline)) static inline void handle_cpuid_inline(struct vcpu *v)
{
    uint32_t leaf = (uint32_t)v->gpr[GPR_RAX];
    if (__builtin_expect(leaf - 0x40000000u <= 0x0FFFFFFFu, 0) || __builtin_expect(leaf == 1, 0)) {
        cpuid_special(v);
    } else {
        /* CPUID writes 32-bit registers, which zero-extends them (SDM Vol. 1, 3.4.1.1). */
        uint64_t a, b, c, d;
        __asm__ volatile("cpuid"
                         : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                         : "a"(leaf), "c"((uint32_t)v->gpr[GPR_RCX]));
        v->gpr[GPR_RAX] = a;
        v->gpr[GPR_RBX] = b;
        v->gpr[GPR_RCX] = c;
        v->gpr[GPR_RDX] = d;
    }
    skip_instruction();
}

static void handle_cpuid(struct vcpu *v)
{
    handle_cpuid_inline(v);
}

static void handle_ud(struct vcpu *v)
{
    /* VMX instructions, GETSEC and INVD: VMX is hidden, so the guest gets what a CPU
     * without VMX gives (SDM Vol. 3C, 31.3: #UD when not in VMX operation... here CPUID says
     * there is no VMX at all). */
    vmx_inject_ud(v);
}

static bool msr_is_vmx_cap(uint32_t msr)
{
    return msr >= MSR_IA32_VMX_BASIC && msr <= MSR_IA32_VMX_VMFUNC;
}

static void handle_rdmsr(struct vcpu *v)
{
    uint32_t msr = (uint32_t)v->gpr[GPR_RCX];
    if (msr == MSR_IA32_FEATURE_CONTROL) {
        /* Locked, VMX off: what a firmware that disabled VT-x leaves (SDM Vol. 3C, 24.7). */
        v->gpr[GPR_RAX] = FEATURE_CONTROL_LOCK;
        v->gpr[GPR_RDX] = 0;
        vmx_skip_instruction(v);
        return;
    }
    /* The VMX capability MSRs #GP on a CPU without VMX; MSRs outside the bitmap's ranges
     * are not architectural MSRs on Intel and #GP as well. */
    (void)msr_is_vmx_cap;
    vmx_inject_gp(v);
}

static void handle_wrmsr(struct vcpu *v)
{
    /* IA32_FEATURE_CONTROL is locked (writes #GP); VMX MSRs are read-only or absent. */
    vmx_inject_gp(v);
}

static bool guest_ram_contains(uint64_t gpa, uint64_t len)
{
    if (!vmx_hooks.is_guest_ram)
        return false;
    return vmx_hooks.is_guest_ram(gpa, len);
}

/* The four PDPTEs a MOV to CR0 loads when it results in PAE paging (SDM Vol. 3A, 4.4.1: from the
 * 32-byte table at CR3 bits 31:5), checked as the CPU checks them: false -- #GP(0), nothing
 * changed -- when a present one has a reserved bit set (bits 2:1 and 8:5, and bits 63:MAXPHYADDR,
 * Table 4-8). A table that is not wholly guest RAM reads as all ones (as the hypervisor's own
 * region reads to a guest; the hypervisor reads no other memory for it), so it faults. */
static bool load_pae_pdptes(uint64_t cr3, uint64_t pdpte[4])
{
    const uint64_t table = cr3 & 0xFFFFFFE0u;
    uint32_t r[4];
    cpuid_count(0x80000008u, 0, r);
    const unsigned maxphyaddr = (r[0] & 0xFF) >= 36 && (r[0] & 0xFF) <= 52 ? r[0] & 0xFF : 36;
    const uint64_t reserved = 0x1E6ull | ~((1ull << maxphyaddr) - 1);
    const bool readable = guest_ram_contains(table, 32);
    for (unsigned i = 0; i < 4; i++) {
        pdpte[i] = readable ? ((const volatile uint64_t *)(uintptr_t)table)[i] : ~0ull;
        if ((pdpte[i] & 1) && (pdpte[i] & reserved))
            return false;
    }
    return true;
}

/* Whether a MOV to CR0 that changes PG to real's faults (#GP(0), SDM Vol. 2A, "MOV--Move
 * to/from Control Registers", and Vol. 3A, 10.8.5): clearing PG in 64-bit mode (IA-32e mode
 * is left from compatibility mode only, 10.8.5.4) or with CR4.PCIDE set (Vol. 3A, 4.10.1);
 * setting it with EFER.LME and without CR4.PAE (IA-32e paging needs PAE, 10.8.5). */
static bool cr0_pg_change_faults(uint64_t real, uint64_t efer, uint64_t cr4, bool in_64bit_mode)
{
    if (!(real & X86_CR0_PG))
        return in_64bit_mode || (cr4 & X86_CR4_PCIDE);
    return (efer & X86_EFER_LME) && !(cr4 & X86_CR4_PAE);
}

static void handle_cr_access(struct vcpu *v)
{
    uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
    unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
    if (type != 0) {
        stop_guest(v, "unexpected CR access");
        return;
    }
    uint64_t val = reg == GPR_RSP ? vmread(VMCS_GUEST_RSP) : v->gpr[reg];
    uint64_t efer = vmread(VMCS_GUEST_EFER);
    /* 64-bit mode: IA-32e mode and CS.L (access-rights bit 13; SDM Vol. 3A, 3.4.5). */
    const bool in_64bit_mode = (efer & X86_EFER_LMA) && (vmread(VMCS_GUEST_CS_AR) & SEG_AR_L);
    /* Outside 64-bit mode the operand is the register's low 32 bits (SDM Vol. 2A, MOV to/from
     * Control Registers); bits 63:32 are then undefined and must not be taken as reserved bits. */
    if (!in_64bit_mode)
        val = (uint32_t)val;
    if (cr == 4) {
        /* Only CR4.VMXE is owned, so this exit means the guest sets VMXE: VMX is hidden,
         * the bit is reserved for it, #GP (SDM Vol. 3A, 2.5, CR4 reserved bits). */
        vmx_inject_gp(v);
        return;
    }
    if (cr != 0) {
        stop_guest(v, "unexpected CR access");
        return;
    }
    /* MOV to CR0 that changes NE or PG against the shadow (the owned bits, vmx.c). The guest
     * sees its value; the real CR0 keeps NE = 1 (CR0 fixed bits, SDM Vol. 3D, A.7), and PG as
     * the guest has it. */
    if ((val >> 32) || ((val & X86_CR0_PG) && !(val & X86_CR0_PE)) ||
        ((val & (1ull << 29)) && !(val & (1ull << 30)))) {
        vmx_inject_gp(v); /* SDM Vol. 2A, MOV to CR0: reserved bits, PG without PE, NW without CD */
        return;
    }
    uint64_t old = vmread(VMCS_GUEST_CR0);
    uint64_t real = val | X86_CR0_NE;
    const uint64_t cr4 = vmread(VMCS_GUEST_CR4);
    const bool pg_changes = ((old ^ real) & X86_CR0_PG) != 0;
    if (pg_changes && cr0_pg_change_faults(real, efer, cr4, in_64bit_mode)) {
        vmx_inject_gp(v);
        return;
    }
    /* PAE paging after it: the PDPTEs are loaded (and checked) when PG, CD or NW change (SDM Vol.
     * 3A, 4.4.1); VM entry then takes them from the VMCS (SDM Vol. 3C, 27.3.2.4). */
    const bool pae_paging = (real & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & X86_EFER_LME);
    const bool loads_pdptes = pae_paging && ((old ^ real) & (X86_CR0_PG | (3ull << 29)));
    uint64_t pdpte[4];
    if (loads_pdptes && !load_pae_pdptes(vmread(VMCS_GUEST_CR3), pdpte)) {
        vmx_inject_gp(v);
        return;
    }
    uint64_t entry = vmread(VMCS_ENTRY_CTLS);
    if (!(old & X86_CR0_PG) && (real & X86_CR0_PG) && (efer & X86_EFER_LME)) {
        efer |= X86_EFER_LMA; /* SDM Vol. 3A, 10.8.5: paging on with LME activates IA-32e */
        entry |= ENTRY_IA32E_GUEST;
    } else if ((old & X86_CR0_PG) && !(real & X86_CR0_PG)) {
        efer &= ~X86_EFER_LMA;
        entry &= ~ENTRY_IA32E_GUEST;
    }
    vmwrite(VMCS_GUEST_EFER, efer);
    vmwrite(VMCS_ENTRY_CTLS, entry);
    vmwrite(VMCS_GUEST_CR0, real);
    vmwrite(VMCS_CR0_SHADOW, val);
    if (loads_pdptes) {
        vmwrite(VMCS_GUEST_PDPTE0, pdpte[0]);
        vmwrite(VMCS_GUEST_PDPTE1, pdpte[1]);
        vmwrite(VMCS_GUEST_PDPTE2, pdpte[2]);
        vmwrite(VMCS_GUEST_PDPTE3, pdpte[3]);
    }
    if (pg_changes && vmx_hooks.paging_mode_changed)
        vmx_hooks.paging_mode_changed(v);
    vmx_skip_instruction(v);
}

static void handle_xsetbv(struct vcpu *v)
{
    uint32_t idx = (uint32_t)v->gpr[GPR_RCX];
    uint64_t val = (uint32_t)v->gpr[GPR_RAX] | (v->gpr[GPR_RDX] << 32);
    uint32_t r[4];
    cpuid_count(0xD, 0, r);
    uint64_t supported = r[0] | ((uint64_t)r[3] << 32);
    /* SDM Vol. 2C, XSETBV: #GP(0) for CPL > 0, ECX != 0, bit 0 clear, bits not supported,
     * AVX (bit 2) without SSE (bit 1), bits 3/4 not equal, AVX-512 bits 7:5 not all equal
     * or set without AVX. */
    bool bad = vmx_guest_cpl() != 0 || idx != 0 || !(val & 1) || (val & ~supported) ||
               ((val & 4) && !(val & 2)) || (((val >> 3) & 1) != ((val >> 4) & 1));
    unsigned avx512 = (val >> 5) & 7;
    if (avx512 && (avx512 != 7 || !(val & 4)))
        bad = true;
    if (!(vmread(VMCS_GUEST_CR4) & X86_CR4_OSXSAVE)) {
        vmx_inject_ud(v);
        return;
    }
    if (bad) {
        vmx_inject_gp(v);
        return;
    }
    /* XSETBV needs CR4.OSXSAVE in the host too; XCR0 is not switched by VM entry/exit, so
     * the guest's value stays in force. */
    uint64_t cr4 = read_cr4();
    write_cr4(cr4 | X86_CR4_OSXSAVE);
    __asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)));
    write_cr4(cr4);
    vmx_skip_instruction(v);
}

static void handle_vmcall(struct vcpu *v)
{
    if (vmx_guest_cpl() != 0) {
        vmx_inject_ud(v);
        return;
    }
    uint64_t fn = v->gpr[GPR_RAX];
    uint64_t a1 = v->gpr[GPR_RBX], a2 = v->gpr[GPR_RCX];
    uint64_t status = TV_HC_OK;
    switch (fn) {
    case TV_HC_VERSION:
        v->gpr[GPR_RBX] = TV_ABI_VERSION;
        v->gpr[GPR_RCX] = vmx.ncpus;
        break;
    case TV_HC_STATS_SNAPSHOT: {
        uint64_t need = sizeof(struct tv_stats);
        v->gpr[GPR_RBX] = need;
        if (!vmx.stats)
            status = TV_HC_ENOSYS;
        else if (a2 < need)
            status = TV_HC_ETOOSMALL;
        else if (a1 + need < a1 || !guest_ram_contains(a1, need))
            status = TV_HC_EFAULT;
        else
            stats_snapshot(vmx.stats, (void *)(uintptr_t)a1, need);
        break;
    }
    case TV_HC_STATS_RESET:
        if (vmx.stats)
            stats_reset(vmx.stats);
        else
            status = TV_HC_ENOSYS;
        break;
    case TV_HC_SEAL:
        if (vmx_hooks.seal)
            vmx_hooks.seal();
        break;
    case TV_HC_HIDDEN_PROBE:
        if (a1 >= vmx.hidden_size || vmx.hidden_size - a1 < 8) {
            status = TV_HC_EINVAL;
        } else {
            v->gpr[GPR_RBX] = vmx.hidden_base;
            v->gpr[GPR_RCX] = vmx.hidden_size;
            v->gpr[GPR_RDX] = *(const volatile uint64_t *)(uintptr_t)(vmx.hidden_base + a1);
        }
        break;
    default:
        status = TV_HC_ENOSYS;
        break;
    }
    v->gpr[GPR_RAX] = status;
    vmx_skip_instruction(v);
}

static void handle_io(struct vcpu *v)
{
    uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
    unsigned size = (q & 7) + 1;
    bool in = q & 8, string = q & 16;
    uint16_t port = (uint16_t)(q >> 16);
    if (string || !vmx_hooks.io) {
        log_once("vmx: string or unrouted I/O to port 0x%x: #UD\n", port);
        vmx_inject_ud(v);
        return;
    }
    uint32_t mask = size == 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;
    if (in) {
        uint32_t val = vmx_hooks.io(port, size, false, 0) & mask;
        if (size == 4)
            v->gpr[GPR_RAX] = val; /* a 32-bit result zero-extends into RAX */
        else
            v->gpr[GPR_RAX] = (v->gpr[GPR_RAX] & ~(uint64_t)mask) | val;
    } else {
        vmx_hooks.io(port, size, true, (uint32_t)v->gpr[GPR_RAX] & mask);
    }
    vmx_skip_instruction(v);
}

static void handle_init(struct vcpu *v)
{
    /* The register state after INIT (SDM Vol. 3A, 10.1.1, Table 10-1), then wait-for-SIPI
     * (SDM Vol. 3C, 26.2 and 28.4.1). No logging: the SIPI follows within 10 ms. */
    v->in_init = true;
    if (vmx_hooks.paging_mode_changed)
        vmx_hooks.paging_mode_changed(v);
    uint64_t cr0 = (vmread(VMCS_CR0_SHADOW) & 0x60000000ull) | 0x10;
    vmwrite(VMCS_CR0_SHADOW, cr0);
    vmwrite(VMCS_GUEST_CR0, cr0 | X86_CR0_NE);
    vmwrite(VMCS_GUEST_CR3, 0);
    vmwrite(VMCS_CR4_SHADOW, 0);
    vmwrite(VMCS_GUEST_CR4, X86_CR4_VMXE);
    vmwrite(VMCS_GUEST_EFER, 0);
    vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) & ~(uint64_t)ENTRY_IA32E_GUEST);
    vmwrite(VMCS_GUEST_DR7, 0x400);
    vmwrite(VMCS_GUEST_RFLAGS, 2);
    vmwrite(VMCS_GUEST_RIP, 0xFFF0);
    vmwrite(VMCS_GUEST_RSP, 0);
    vmwrite(VMCS_GUEST_CS_SEL, 0xF000);
    vmwrite(VMCS_GUEST_CS_BASE, 0xFFFF0000ull);
    vmwrite(VMCS_GUEST_CS_LIMIT, 0xFFFF);
    vmwrite(VMCS_GUEST_CS_AR, 0x9B);
    static const uint32_t data_sel[] = {VMCS_GUEST_ES_SEL, VMCS_GUEST_SS_SEL, VMCS_GUEST_DS_SEL,
                                        VMCS_GUEST_FS_SEL, VMCS_GUEST_GS_SEL};
    for (unsigned i = 0; i < 5; i++) {
        uint32_t f = data_sel[i];
        unsigned n = (f - VMCS_GUEST_ES_SEL) / 2;
        vmwrite(f, 0);
        vmwrite(VMCS_GUEST_ES_BASE + 2 * n, 0);
        vmwrite(VMCS_GUEST_ES_LIMIT + 2 * n, 0xFFFF);
        vmwrite(VMCS_GUEST_ES_AR + 2 * n, 0x93);
    }
    vmwrite(VMCS_GUEST_LDTR_SEL, 0);
    vmwrite(VMCS_GUEST_LDTR_BASE, 0);
    vmwrite(VMCS_GUEST_LDTR_LIMIT, 0xFFFF);
    vmwrite(VMCS_GUEST_LDTR_AR, 0x82);
    vmwrite(VMCS_GUEST_TR_SEL, 0);
    vmwrite(VMCS_GUEST_TR_BASE, 0);
    vmwrite(VMCS_GUEST_TR_LIMIT, 0xFFFF);
    vmwrite(VMCS_GUEST_TR_AR, 0x8B);
    vmwrite(VMCS_GUEST_GDTR_BASE, 0);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, 0xFFFF);
    vmwrite(VMCS_GUEST_IDTR_BASE, 0);
    vmwrite(VMCS_GUEST_IDTR_LIMIT, 0xFFFF);
    uint32_t r[4];
    cpuid_count(1, 0, r);
    for (unsigned i = 0; i < 16; i++)
        v->gpr[i] = 0;
    v->gpr[GPR_RDX] = r[0]; /* EDX = processor signature after INIT */
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmwrite(VMCS_GUEST_PENDING_DBG, 0);
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    vmwrite(VMCS_GUEST_ACTIVITY, ACTIVITY_WAIT_SIPI);
}

static void handle_sipi(struct vcpu *v)
{
    /* Real-mode start at vector << 12 (SDM Vol. 3C, 28.4.1 and Vol. 3A, 9.4.4.1).
     * Bochs saves a non-zero interruptibility on this exit: set it explicitly. */
    uint64_t vector = vmread(VMCS_EXIT_QUALIFICATION) & 0xFF;
    vmwrite(VMCS_GUEST_CS_SEL, vector << 8);
    vmwrite(VMCS_GUEST_CS_BASE, vector << 12);
    vmwrite(VMCS_GUEST_RIP, 0);
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmwrite(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
    v->in_init = false;
}

static void handle_triple_fault(struct vcpu *v)
{
    stop_guest(v, "triple fault");
}

__attribute__((always_inline)) static inline void handle_ept_violation(struct vcpu *v)
{
    uint64_t gpa = vmread(VMCS_GUEST_PHYS_ADDR);
    uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
    v->last_device = -1; /* the MMIO path names the device for the statistics */
    if (!vmx_hooks.ept_violation_loads_rsp)
        vmx_load_guest_rsp(v);
    if (vmx_hooks.ept_violation && vmx_hooks.ept_violation(v, gpa, q))
        return;
    stop_guest(v, "EPT violation not handled");
}

static void handle_ept_misconfig(struct vcpu *v)
{
    stop_guest(v, "EPT misconfiguration");
}

static void handle_preempt_timer(struct vcpu *v)
{
    /* Nothing to do: the exit itself lets this CPU pick up EPT changes (below). Without
     * "save VMX-preemption timer value" the timer restarts from its full value at entry. */
    (void)v;
}

static void handle_unknown(struct vcpu *v)
{
    stop_guest(v, "unhandled exit");
}

typedef void exit_handler(struct vcpu *v);

static exit_handler *const handlers[EXIT_REASON_COUNT] = {
    [EXIT_TRIPLE_FAULT] = handle_triple_fault,
    [EXIT_INIT] = handle_init,
    [EXIT_SIPI] = handle_sipi,
    [EXIT_CPUID] = handle_cpuid,
    [EXIT_GETSEC] = handle_ud,
    [EXIT_INVD] = handle_ud,
    [EXIT_VMCALL] = handle_vmcall,
    [EXIT_VMCLEAR] = handle_ud,
    [EXIT_VMLAUNCH] = handle_ud,
    [EXIT_VMPTRLD] = handle_ud,
    [EXIT_VMPTRST] = handle_ud,
    [EXIT_VMREAD] = handle_ud,
    [EXIT_VMRESUME] = handle_ud,
    [EXIT_VMWRITE] = handle_ud,
    [EXIT_VMXOFF] = handle_ud,
    [EXIT_VMXON] = handle_ud,
    [EXIT_INVEPT] = handle_ud,
    [EXIT_INVVPID] = handle_ud,
    [EXIT_VMFUNC] = handle_ud,
    [EXIT_CR_ACCESS] = handle_cr_access,
    [EXIT_IO] = handle_io,
    [EXIT_RDMSR] = handle_rdmsr,
    [EXIT_WRMSR] = handle_wrmsr,
    [EXIT_EPT_VIOLATION] = handle_ept_violation,
    [EXIT_EPT_MISCONFIG] = handle_ept_misconfig,
    [EXIT_XSETBV] = handle_xsetbv,
    [EXIT_PREEMPT_TIMER] = handle_preempt_timer,
};

struct vcpu *vmx_this_cpu(void)
{
    return (struct vcpu *)(uintptr_t)rdmsr(MSR_IA32_GS_BASE);
}

void vmx_ept_changed(void)
{
    uint64_t gen = __atomic_add_fetch(&vmx.ept_generation, 1, __ATOMIC_SEQ_CST);
    vmx_invept_all();
    /* v->ept_generation stays behind: exit_finish() then takes its slow path at the end of
     * this exit, which publishes the generation and waits for the other CPUs. */
    vmx_this_cpu()->sync_generation = gen;
}

/* Waits until every other CPU that runs a guest has flushed generation `gen` (SDM Vol. 3C,
 * 29.4.3.3: INVEPT only affects the executing CPU). CPUs in wait-for-SIPI or stopped run no
 * guest code; they flush before their next entry anyway. */
static void wait_for_flush(struct vcpu *self, uint64_t gen)
{
    for (unsigned i = 0; i < VMX_MAX_CPUS; i++) {
        struct vcpu *o = vmx.cpus[i];
        if (!o || o == self)
            continue;
        for (uint64_t spin = 0;; spin++) {
            if (__atomic_load_n(&o->ept_generation, __ATOMIC_ACQUIRE) >= gen ||
                __atomic_load_n(&o->in_init, __ATOMIC_ACQUIRE) || o->stopped)
                break;
            if (spin == (1ull << 28)) {
                __atomic_add_fetch(&vmx.sync_timeouts, 1, __ATOMIC_RELAXED);
                break;
            }
            __builtin_ia32_pause();
        }
    }
}

/* The EPT changed since this CPU last flushed: invalidate before running the guest again
 * (SDM Vol. 3C, 29.4.3.1 "Operations that Invalidate Cached Mappings"); publish it; and if this
 * exit changed the EPT itself, wait until every other CPU has flushed. */
__attribute__((noinline, cold)) static void ept_catch_up(struct vcpu *v)
{
    uint64_t gen = __atomic_load_n(&vmx.ept_generation, __ATOMIC_ACQUIRE);
    vmx_invept_all();
    __atomic_store_n(&v->ept_generation, gen, __ATOMIC_RELEASE);
    v->finish_generation = v->rsp_valid ? VCPU_FINISH_PENDING : gen;
    if (v->sync_generation) {
        wait_for_flush(v, v->sync_generation);
        v->sync_generation = 0;
    }
}

/* The only work every exit does after its handler: one load and one compare (x86 loads have
 * acquire semantics, SDM Vol. 3A, 10.2.3.2). */
__attribute__((always_inline)) static inline void exit_finish(struct vcpu *v)
{
    /* A plain (non-volatile) read lets the compiler compare straight from memory; the
     * handler's calls order it after any EPT change this exit made. */
    uint64_t gen = *(const uint64_t *)(const void *)&vmx.ept_generation;
    if (__builtin_expect(v->ept_generation != gen, 0))
        ept_catch_up(v);
}

#define EXIT_BIT(r) (1ull << (r))

const uint64_t vmx_light_exits =
    EXIT_BIT(EXIT_CPUID) | EXIT_BIT(EXIT_GETSEC) | EXIT_BIT(EXIT_INVD) | EXIT_BIT(EXIT_VMCALL) |
    EXIT_BIT(EXIT_VMCLEAR) | EXIT_BIT(EXIT_VMLAUNCH) | EXIT_BIT(EXIT_VMPTRLD) |
    EXIT_BIT(EXIT_VMPTRST) | EXIT_BIT(EXIT_VMREAD) | EXIT_BIT(EXIT_VMRESUME) |
    EXIT_BIT(EXIT_VMWRITE) | EXIT_BIT(EXIT_VMXOFF) | EXIT_BIT(EXIT_VMXON) | EXIT_BIT(EXIT_IO) |
    EXIT_BIT(EXIT_RDMSR) | EXIT_BIT(EXIT_WRMSR) | EXIT_BIT(EXIT_INVEPT) |
    EXIT_BIT(EXIT_PREEMPT_TIMER) | EXIT_BIT(EXIT_INVVPID) | EXIT_BIT(EXIT_XSETBV) |
    EXIT_BIT(EXIT_VMFUNC);

/* Exits that can happen during the delivery of an event, which then has to be delivered again
 * (SDM Vol. 3C, 28.2.4 "Information for VM Exits During Event Delivery"). */
#define EVENT_DELIVERY_EXITS                                                                       \
    (EXIT_BIT(EXIT_EXCEPTION_NMI) | EXIT_BIT(EXIT_TRIPLE_FAULT) | EXIT_BIT(EXIT_TASK_SWITCH) |     \
     EXIT_BIT(EXIT_APIC_ACCESS) | EXIT_BIT(EXIT_EPT_VIOLATION) | EXIT_BIT(EXIT_EPT_MISCONFIG) |    \
     EXIT_BIT(EXIT_PML_FULL))

void vmx_exit_cpuid(struct vcpu *v)
{
    handle_cpuid_inline(v);
    exit_finish(v);
}

void vmx_exit_light(struct vcpu *v, uint32_t reason)
{
    /* stub.asm calls this only for reason < 64 with its bit in vmx_light_exits, each of
     * which has a handler. */
    handlers[reason](v);
    exit_finish(v);
}

/* An exit during event delivery: deliver the event again on the next entry unless the
 * handler injects something else (SDM Vol. 3C, 28.2.4 and 29.2.1.1). */
__attribute__((noinline, cold)) static void reinject_event(uint32_t idt)
{
    vmwrite(VMCS_ENTRY_INTR_INFO, idt & ~(1u << 12));
    if (idt & INTR_INFO_DELIVER_ERR)
        vmwrite(VMCS_ENTRY_EXC_ERRCODE, vmread(VMCS_IDT_VECTORING_ERRCODE));
    vmwrite(VMCS_ENTRY_INSTR_LEN, vmread(VMCS_EXIT_INSTR_LEN));
}

__attribute__((always_inline)) static inline void reinject_if_vectoring(void)
{
    uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
    if (__builtin_expect((idt & INTR_INFO_VALID) != 0, 0))
        reinject_event(idt);
}

/* A handler changed the guest's RSP: write it back. Either way the next exit starts with RSP
 * not loaded. */
__attribute__((always_inline)) static inline void rsp_write_back(struct vcpu *v)
{
    if (v->rsp_valid) {
        if (v->gpr[GPR_RSP] != v->rsp_loaded)
            vmwrite(VMCS_GUEST_RSP, v->gpr[GPR_RSP]);
        v->rsp_valid = false;
        v->finish_generation = v->ept_generation;
    }
}

/* The events an EPT violation can leave to the hypervisor: the event whose delivery it
 * interrupted (SDM Vol. 3C, 28.2.4) and the blocking by NMI that an IRET's exit cleared
 * (qualification bit 12; vmx/exit.h, vmx_interruptibility_after_ept_violation). Both rare:
 * stub.asm tests the two fields itself and calls this only when one is set. */
void vmx_ept_violation_events(struct vcpu *v)
{
    (void)v;
    uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
    if (idt & INTR_INFO_VALID)
        reinject_event(idt);
    uint64_t qual = vmread(VMCS_EXIT_QUALIFICATION);
    if (qual & EPT_QUAL_NMI_UNBLOCKED) {
        uint64_t intr = vmread(VMCS_GUEST_INTERRUPTIBILITY);
        uint64_t after = vmx_interruptibility_after_ept_violation(intr, qual, idt);
        if (after != intr)
            vmwrite(VMCS_GUEST_INTERRUPTIBILITY, after);
    }
}

/* stub.asm's EPT route: the hook returned false (no region owns the address, or an event's delivery
 * reached one: the hook says which). */
__attribute__((noreturn, cold)) void vmx_ept_violation_unhandled(struct vcpu *v)
{
    stop_guest(v, "EPT violation not handled");
}

/* stub.asm's EPT route after the hook when v->finish_generation differs from
 * vmx.ept_generation, that is when RSP was loaded (rsp_valid) or the EPT changed since this
 * CPU last flushed: the write-back and the catch-up every other route does in C. Either way
 * it leaves finish_generation equal to ept_generation. Before the first such call it is 0
 * (the vcpu is zeroed), never above ept_generation, so it cannot hide a generation to catch
 * up: finish_generation == vmx.ept_generation implies ept_generation == vmx.ept_generation
 * and rsp_valid false. */
void vmx_ept_violation_finish(struct vcpu *v)
{
    rsp_write_back(v);
    exit_finish(v);
    v->finish_generation = v->ept_generation;
}

/* EPT violations come here from stub.asm, all GPRs saved, when the hook does not load RSP
 * itself (vmx_hooks.ept_violation_loads_rsp false); otherwise the stub calls the hook
 * directly and does what this function does around it. */
void vmx_exit_ept_violation(struct vcpu *v)
{
    vmx_ept_violation_events(v);
    handle_ept_violation(v);
    rsp_write_back(v);
    exit_finish(v);
}

void vmx_exit_dispatch(struct vcpu *v, uint32_t reason_full)
{
    unsigned reason = reason_full & 0xFFFF;
    if (reason_full & (1u << 31)) {
        stop_guest(v, "VM-entry failure");
        return;
    }
    if (reason < 64 && ((EVENT_DELIVERY_EXITS >> reason) & 1))
        reinject_if_vectoring();

    if (reason < EXIT_REASON_COUNT && handlers[reason])
        handlers[reason](v);
    else
        handle_unknown(v);

    rsp_write_back(v);
    exit_finish(v);
}

void vmx_resume_failed(struct vcpu *v)
{
    vmx_last_error = vmread(VMCS_INSTR_ERROR);
    log_printf("vmx: VMRESUME failed on CPU %u: VM-instruction error %llu\n", v->index,
               (unsigned long long)vmx_last_error);
    stop_guest(v, "VMRESUME failure");
}

/* Host exception (vmx/stub.asm isr_common): the frame holds r15..rax, vector, error code,
 * then the CPU's RIP, CS, RFLAGS, RSP, SS. */
void vmx_host_exception(const uint64_t *frame)
{
    log_printf("vmx: host exception %llu error 0x%llx at rip 0x%llx rsp 0x%llx cr2 0x%llx\n",
               (unsigned long long)frame[15], (unsigned long long)frame[16],
               (unsigned long long)frame[17], (unsigned long long)frame[20],
               (unsigned long long)read_cr2());
    log_printf("vmx: hypervisor stopped\n");
    cpu_halt_forever();
}
