/* VMX root: CPU checks, controls, host environment, VMCS set-up and launch. */
#include "vmx/vmx.h"

#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/string.h"
#include "vmx/arch.h"
#include "vmx/caps.h"
#include "vmx/vmcs.h"

struct vmx_global vmx;
uint64_t vmx_last_error;

static bool fail(char *why, unsigned whylen, const char *msg)
{
    fmt_snprintf(why, whylen, "%s", msg);
    return false;
}

bool vmx_check_cpu(char *why, unsigned whylen)
{
    uint32_t r[4];
    cpuid_count(0, 0, r);
    /* "GenuineIntel" (SDM Vol. 2A, CPUID leaf 0). */
    if (r[1] != 0x756e6547u || r[3] != 0x49656e69u || r[2] != 0x6c65746eu)
        return fail(why, whylen, "not an Intel CPU (VT-x needs GenuineIntel)");
    cpuid_count(1, 0, r);
    if (r[2] & (1u << 31)) {
        cpuid_count(0x40000000u, 0, r);
        if (r[1] == 0x70617254u && r[2] == 0x6f736976u && r[3] == 0x4d564872u)
            return fail(why, whylen, "already running under Trapvisor");
        cpuid_count(1, 0, r);
    }
    if (!(r[2] & (1u << 5))) /* CPUID.1:ECX.VMX[bit 5] (SDM Vol. 3C, 24.6) */
        return fail(why, whylen, "no VT-x: CPUID.1:ECX.VMX is 0");

    /* SDM Vol. 3C, 24.7: VMXON needs IA32_FEATURE_CONTROL locked with VMX-outside-SMX. */
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if ((fc & FEATURE_CONTROL_LOCK) && !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX))
        return fail(why, whylen, "VT-x is disabled in firmware setup");

    uint64_t basic = rdmsr(MSR_IA32_VMX_BASIC);
    /* SDM Vol. 3D, A.1: bits 53:50 memory type of the VMCS (6 = WB); bit 48 = 32-bit limit. */
    if (((basic >> 50) & 0xF) != 6)
        return fail(why, whylen, "VMX regions must be write-back (IA32_VMX_BASIC[53:50] != 6)");
    if (basic & (1ull << 48))
        return fail(why, whylen, "VMX limited to 32-bit addresses (IA32_VMX_BASIC[48])");
    uint64_t proc = rdmsr(MSR_IA32_VMX_PROCBASED);
    if (!((proc >> 32) & PROC_SECONDARY))
        return fail(why, whylen, "no secondary processor-based controls (needed for EPT)");
    uint64_t proc2 = rdmsr(MSR_IA32_VMX_PROCBASED2);
    if (!((proc2 >> 32) & PROC2_ENABLE_EPT))
        return fail(why, whylen, "no EPT");
    if (!((proc2 >> 32) & PROC2_UNRESTRICTED))
        return fail(why, whylen, "no unrestricted guest");
    /* SDM Vol. 3D, A.10: bit 6 4-level walk, bit 14 WB, bit 16 2 MiB pages,
     * bit 20 INVEPT, bit 25 single-context, bit 26 all-context. */
    uint64_t ept = rdmsr(MSR_IA32_VMX_EPT_VPID);
    if (!(ept & (1ull << 6)))
        return fail(why, whylen, "no 4-level EPT page walk");
    if (!(ept & (1ull << 14)))
        return fail(why, whylen, "no write-back EPT memory type");
    if (!(ept & (1ull << 16)))
        return fail(why, whylen, "no 2 MiB EPT pages");
    if (!(ept & (1ull << 20)) || !(ept & (1ull << 26)))
        return fail(why, whylen, "no INVEPT all-context");
    /* SDM Vol. 3D, A.6: activity state wait-for-SIPI (bit 8) is needed for APs. */
    uint64_t misc = rdmsr(MSR_IA32_VMX_MISC);
    if (!(misc & (1ull << 8)))
        return fail(why, whylen, "no wait-for-SIPI activity state (IA32_VMX_MISC[8])");

    return true;
}

/* A control word: `need` must be allowed (else false), `nice` bits are added where the CPU
 * allows them, and the bits that must be 1 are set (vmx/caps.h, SDM Vol. 3D, A.3-A.5). */
static bool controls(uint32_t msr, uint32_t need, uint32_t nice, uint32_t *out)
{
    uint64_t cap = rdmsr(msr);
    uint32_t want = need | (nice & ~vmx_controls_unsupported(cap, nice));
    return vmx_adjust_controls(cap, want, out);
}

bool vmx_global_init(char *why, unsigned whylen)
{
    uint64_t basic = rdmsr(MSR_IA32_VMX_BASIC);
    bool true_msrs = basic & (1ull << 55); /* SDM Vol. 3D, A.1: TRUE_* MSRs exist */
    vmx.vmcs_revision = (uint32_t)basic & 0x7FFFFFFFu;

    struct vmx_controls *c = &vmx.ctl;
    /* The VMX-preemption timer bounds how long a CPU runs its guest without an exit, so
     * that an EPT change reaches every CPU in bounded time (vmx_ept_changed). */
    if (!controls(true_msrs ? MSR_IA32_VMX_TRUE_PIN : MSR_IA32_VMX_PINBASED, 0, PIN_PREEMPT_TIMER,
                  &c->pin))
        return fail(why, whylen, "no usable pin-based controls");
    vmx.preempt_ticks = 0;
    if (c->pin & PIN_PREEMPT_TIMER) {
        /* SDM Vol. 3C, 26.5.1: the timer counts down by 1 every 2^X TSC ticks, X =
         * IA32_VMX_MISC[4:0]. 2^22 TSC ticks: about 1 ms at 4 GHz, 84 ms in Bochs (50 M
         * instructions a second). */
        unsigned x = (unsigned)(rdmsr(MSR_IA32_VMX_MISC) & 0x1F);
        vmx.preempt_ticks = x >= 22 ? 1u : (1u << (22 - x));
    }
    /* With TRUE_* MSRs, CR3 load/store exiting may be 0 (a guest changes CR3 freely). */
    if (!controls(true_msrs ? MSR_IA32_VMX_TRUE_PROC : MSR_IA32_VMX_PROCBASED,
                  PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | PROC_SECONDARY, 0, &c->proc))
        return fail(why, whylen, "no I/O bitmaps, MSR bitmaps or secondary controls");
    if (!controls(MSR_IA32_VMX_PROCBASED2, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED,
                  PROC2_ENABLE_RDTSCP | PROC2_ENABLE_INVPCID | PROC2_ENABLE_XSAVES, &c->proc2))
        return fail(why, whylen, "EPT or unrestricted guest cannot be enabled");
    if (!controls(true_msrs ? MSR_IA32_VMX_TRUE_EXIT : MSR_IA32_VMX_EXIT,
                  EXIT_HOST_ADDR64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_LOAD_PAT,
                  EXIT_SAVE_DEBUG | EXIT_SAVE_PAT, &c->exit))
        return fail(why, whylen, "no 64-bit host or no save/load of IA32_EFER and IA32_PAT");
    if (!controls(true_msrs ? MSR_IA32_VMX_TRUE_ENTRY : MSR_IA32_VMX_ENTRY,
                  ENTRY_LOAD_EFER | ENTRY_LOAD_PAT, ENTRY_LOAD_DEBUG, &c->entry))
        return fail(why, whylen, "no load of IA32_EFER and IA32_PAT at VM entry");
    /* DR7/DEBUGCTL: loaded at entry only when saved at exit (else a stale value would be
     * loaded), so both or neither. */
    if (!(c->exit & EXIT_SAVE_DEBUG) || !(c->entry & ENTRY_LOAD_DEBUG)) {
        c->exit &= ~EXIT_SAVE_DEBUG;
        c->entry &= ~ENTRY_LOAD_DEBUG;
    }
    if (c->proc & (PROC_CR3_LOAD_EXIT | PROC_CR3_STORE_EXIT))
        return fail(why, whylen, "CR3 exiting cannot be turned off");
    return true;
}

/* --- host environment ---------------------------------------------------------------- */

void vmx_host_idt_init(void)
{
    uint64_t isr0 = (uint64_t)(uintptr_t)vmx_host_isr_table;
    for (unsigned v = 0; v < 32; v++) {
        uint64_t h = isr0 + 16u * v;
        /* 64-bit interrupt gate (SDM Vol. 3A, 6.14.1, Figure 6-8): type 0xE, P=1, DPL 0. */
        vmx.idt[2 * v] = (h & 0xFFFFull) | ((uint64_t)HOST_SEL_CODE << 16) | (0x8Eull << 40) |
                         ((h >> 16) & 0xFFFFull) << 48;
        vmx.idt[2 * v + 1] = h >> 32;
    }
}

unsigned vmx_host_paging_pages(uint64_t limit)
{
    uint64_t gib = (limit + (1ull << 30) - 1) >> 30;
    if (gib > 512)
        gib = 512;
    return 2 + (unsigned)gib; /* PML4, PDPT, one PD per GiB */
}

uint64_t vmx_host_paging_build(uint64_t *pages, uint64_t limit)
{
    /* 4-level paging, 2 MiB pages, identity (SDM Vol. 3A, 4.5, Table 4-17/4-18). PAT index
     * 0 (WB) lets the MTRRs decide memory types, as the firmware's own map does. */
    uint64_t gib = (limit + (1ull << 30) - 1) >> 30;
    if (gib > 512)
        gib = 512;
    uint64_t *pml4 = pages, *pdpt = pages + 512;
    pml4[0] = (uint64_t)(uintptr_t)pdpt | 0x3;
    for (uint64_t g = 0; g < gib; g++) {
        uint64_t *pd = pages + 512 * (2 + g);
        pdpt[g] = (uint64_t)(uintptr_t)pd | 0x3;
        for (uint64_t i = 0; i < 512; i++)
            pd[i] = ((g << 30) | (i << 21)) | 0x83; /* P, RW, PS */
    }
    return (uint64_t)(uintptr_t)pml4;
}

static void host_gdt_init(struct vcpu *v)
{
    uint64_t tss = (uint64_t)(uintptr_t)&v->tss;
    uint64_t lim = sizeof(v->tss) - 1;
    memset(&v->tss, 0, sizeof(v->tss));
    v->tss.iomap_base = sizeof(v->tss);
    v->gdt[0] = 0;
    v->gdt[1] = 0x00AF9B000000FFFFull; /* 64-bit code, accessed */
    v->gdt[2] = 0x00CF93000000FFFFull; /* data, accessed */
    /* 16-byte TSS descriptor, type 0xB (busy 64-bit TSS) (SDM Vol. 3A, 8.2.3). */
    v->gdt[3] = (lim & 0xFFFF) | ((tss & 0xFFFFFF) << 16) | (0x8Bull << 40) |
                (((lim >> 16) & 0xF) << 48) | (((tss >> 24) & 0xFF) << 56);
    v->gdt[4] = tss >> 32;
}

/* --- guest state from the current CPU ------------------------------------------------ */

struct seg {
    uint16_t sel;
    uint64_t base;
    uint32_t limit, ar;
};

/* Reads a segment's hidden part from the current GDT (the CPU has no instruction to read
 * its descriptor cache). AR is in VMCS format (SDM Vol. 3C, 25.4.1, Table 25-2). */
static struct seg seg_from_gdt(const struct dtr *gdtr, uint16_t sel, bool system)
{
    struct seg s = {.sel = sel, .base = 0, .limit = 0, .ar = 1u << 16 /* unusable */};
    if ((sel & ~3u) == 0 || (sel & 4) || (uint32_t)(sel | 7) > gdtr->limit)
        return s;
    const uint64_t *d = (const uint64_t *)(uintptr_t)(gdtr->base + (sel & ~7u));
    uint64_t lo = d[0];
    s.base = ((lo >> 16) & 0xFFFFFF) | (((lo >> 56) & 0xFF) << 24);
    if (system)
        s.base |= (d[1] & 0xFFFFFFFFull) << 32;
    s.limit = (uint32_t)((lo & 0xFFFF) | (((lo >> 48) & 0xF) << 16));
    if (lo & (1ull << 55)) /* G */
        s.limit = (s.limit << 12) | 0xFFF;
    s.ar = (uint32_t)((lo >> 40) & 0xF0FF);
    if (!system)
        s.ar |= 1; /* VM entry requires the accessed bit on usable code/data segments */
    return s;
}

#define W(f, v)                                                                                    \
    do {                                                                                           \
        if (!vmwrite((f), (v)))                                                                    \
            err = err ? err : (f);                                                                 \
    } while (0)

static uint64_t vmcs_setup(struct vcpu *v)
{
    uint64_t err = 0;
    struct dtr gdtr, idtr;
    sgdt(&gdtr);
    sidt(&idtr);

    /* Controls. */
    W(VMCS_PIN_CTLS, vmx.ctl.pin);
    W(VMCS_PROC_CTLS, vmx.ctl.proc);
    W(VMCS_PROC_CTLS2, vmx.ctl.proc2);
    W(VMCS_EXIT_CTLS, vmx.ctl.exit);
    uint32_t entry = vmx.ctl.entry;
    if (rdmsr(MSR_IA32_EFER) & X86_EFER_LMA)
        entry |= ENTRY_IA32E_GUEST;
    W(VMCS_ENTRY_CTLS, entry);
    W(VMCS_EXCEPTION_BITMAP, 0);
    W(VMCS_PF_ERR_MASK, 0);
    W(VMCS_PF_ERR_MATCH, 0);
    W(VMCS_CR3_TARGET_COUNT, 0);
    W(VMCS_EXIT_MSR_STORE_COUNT, 0);
    W(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    W(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    W(VMCS_ENTRY_INTR_INFO, 0);
    W(VMCS_IO_BITMAP_A, (uint64_t)(uintptr_t)vmx.io_bitmap_a);
    W(VMCS_IO_BITMAP_B, (uint64_t)(uintptr_t)vmx.io_bitmap_b);
    W(VMCS_MSR_BITMAP, (uint64_t)(uintptr_t)vmx.msr_bitmap);
    W(VMCS_EPT_POINTER, vmx.eptp);
    W(VMCS_LINK_POINTER, ~0ull);

    /* CR0.NE and CR4.VMXE belong to the hypervisor: the guest sees the shadow
     * (SDM Vol. 3C, 25.6.6 "Guest/Host Masks and Read Shadows for CR0 and CR4"). So does
     * CR0.PG, whose shadow is always the real value: a MOV to CR0 that changes it exits (SDM
     * Vol. 3C, 26.1.3), so every change of the guest's paging mode is seen (IA-32e mode is left
     * only by clearing PG, SDM Vol. 3A, 10.8.5.4) and caches of the guest's translations kept
     * across exits (the MMIO sites) are forgotten then (vmx_hooks.paging_mode_changed). Guests
     * change PG at mode switches only (boot, an AP's start, kexec), never in steady state. */
    uint64_t cr0 = read_cr0(), cr4 = read_cr4();
    W(VMCS_CR0_MASK, X86_CR0_NE | X86_CR0_PG);
    W(VMCS_CR0_SHADOW, cr0);
    W(VMCS_CR4_MASK, X86_CR4_VMXE);
    W(VMCS_CR4_SHADOW, cr4 & ~X86_CR4_VMXE);

    /* Host state (SDM Vol. 3C, 25.5): our own GDT, IDT, TSS, page tables and stack. */
    host_gdt_init(v);
    W(VMCS_HOST_CR0, cr0);
    W(VMCS_HOST_CR3, vmx.host_cr3);
    W(VMCS_HOST_CR4, cr4);
    W(VMCS_HOST_CS_SEL, HOST_SEL_CODE);
    W(VMCS_HOST_SS_SEL, HOST_SEL_DATA);
    W(VMCS_HOST_DS_SEL, HOST_SEL_DATA);
    W(VMCS_HOST_ES_SEL, HOST_SEL_DATA);
    W(VMCS_HOST_FS_SEL, HOST_SEL_DATA);
    W(VMCS_HOST_GS_SEL, HOST_SEL_DATA);
    W(VMCS_HOST_TR_SEL, HOST_SEL_TSS);
    W(VMCS_HOST_FS_BASE, 0);
    W(VMCS_HOST_GS_BASE, (uint64_t)(uintptr_t)v);
    W(VMCS_HOST_TR_BASE, (uint64_t)(uintptr_t)&v->tss);
    W(VMCS_HOST_GDTR_BASE, (uint64_t)(uintptr_t)v->gdt);
    W(VMCS_HOST_IDTR_BASE, (uint64_t)(uintptr_t)vmx.idt);
    W(VMCS_HOST_SYSENTER_CS, 0);
    W(VMCS_HOST_SYSENTER_ESP, 0);
    W(VMCS_HOST_SYSENTER_EIP, 0);
    W(VMCS_HOST_PAT, rdmsr(MSR_IA32_PAT));
    W(VMCS_HOST_EFER, rdmsr(MSR_IA32_EFER));
    uint64_t *slot = (uint64_t *)(uintptr_t)(v->stack + VMX_STACK_SIZE - 16);
    slot[0] = (uint64_t)(uintptr_t)v;
    slot[1] = 0;
    W(VMCS_HOST_RSP, (uint64_t)(uintptr_t)slot);
    W(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);

    /* Guest state: this CPU as it is now (RSP, RIP, RFLAGS written by vmx_launch_here). */
    W(VMCS_GUEST_CR0, cr0);
    W(VMCS_GUEST_CR3, read_cr3());
    W(VMCS_GUEST_CR4, cr4);
    W(VMCS_GUEST_DR7, read_dr7());
    struct {
        uint16_t sel;
        uint32_t f_sel, f_base, f_limit, f_ar;
    } segs[] = {
        {read_es(), VMCS_GUEST_ES_SEL, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR},
        {read_cs(), VMCS_GUEST_CS_SEL, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR},
        {read_ss(), VMCS_GUEST_SS_SEL, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR},
        {read_ds(), VMCS_GUEST_DS_SEL, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR},
        {read_fs(), VMCS_GUEST_FS_SEL, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR},
        {read_gs(), VMCS_GUEST_GS_SEL, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR},
    };
    for (unsigned i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        struct seg s = seg_from_gdt(&gdtr, segs[i].sel, false);
        W(segs[i].f_sel, s.sel);
        W(segs[i].f_base, s.base);
        W(segs[i].f_limit, s.limit);
        W(segs[i].f_ar, s.ar);
    }
    W(VMCS_GUEST_FS_BASE, rdmsr(MSR_IA32_FS_BASE));
    W(VMCS_GUEST_GS_BASE, rdmsr(MSR_IA32_GS_BASE));

    /* TR: OVMF runs with TR = 0, which VM entry refuses (SDM Vol. 3C, 27.3.1.2: TR must be
     * usable, type 11 busy 64-bit TSS). A zero selector with a 0x67 limit, base 0 and type 11
     * passes the checks; it is only consulted if the guest takes a task-related action. */
    uint16_t tr = read_tr();
    struct seg trs = seg_from_gdt(&gdtr, tr, true);
    if (trs.ar & (1u << 16)) {
        trs.sel = 0;
        trs.base = 0;
        trs.limit = 0x67;
        trs.ar = 0x8B;
    }
    W(VMCS_GUEST_TR_SEL, trs.sel);
    W(VMCS_GUEST_TR_BASE, trs.base);
    W(VMCS_GUEST_TR_LIMIT, trs.limit);
    W(VMCS_GUEST_TR_AR, trs.ar | 0x2); /* busy */
    struct seg ldt = seg_from_gdt(&gdtr, read_ldtr(), true);
    W(VMCS_GUEST_LDTR_SEL, ldt.sel);
    W(VMCS_GUEST_LDTR_BASE, ldt.base);
    W(VMCS_GUEST_LDTR_LIMIT, ldt.limit);
    W(VMCS_GUEST_LDTR_AR, ldt.ar);

    W(VMCS_GUEST_GDTR_BASE, gdtr.base);
    W(VMCS_GUEST_GDTR_LIMIT, gdtr.limit);
    W(VMCS_GUEST_IDTR_BASE, idtr.base);
    W(VMCS_GUEST_IDTR_LIMIT, idtr.limit);
    W(VMCS_GUEST_DEBUGCTL, rdmsr(MSR_IA32_DEBUGCTL));
    W(VMCS_GUEST_PAT, rdmsr(MSR_IA32_PAT));
    W(VMCS_GUEST_EFER, rdmsr(MSR_IA32_EFER));
    W(VMCS_GUEST_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
    W(VMCS_GUEST_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
    W(VMCS_GUEST_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
    W(VMCS_GUEST_INTERRUPTIBILITY, 0);
    W(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
    W(VMCS_GUEST_PENDING_DBG, 0);
    if (vmx.ctl.pin & PIN_PREEMPT_TIMER)
        W(VMCS_PREEMPT_TIMER, vmx.preempt_ticks);
    return err;
}

int vmx_cpu_launch(struct vcpu *v, bool verbose)
{
    /* SDM Vol. 3C, 24.8 "Restrictions on VMX Operation": CR0/CR4 fixed bits before VMXON. */
    uint64_t cr0 = read_cr0(), cr4 = read_cr4();
    uint64_t f0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0), f1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    if ((cr0 & f0) != f0 || (cr0 & ~f1)) {
        if (verbose)
            log_printf("vmx: CR0 0x%llx breaks the fixed bits (0x%llx/0x%llx)\n",
                       (unsigned long long)cr0, (unsigned long long)f0, (unsigned long long)f1);
        return -3;
    }
    /* Each CPU has its own IA32_FEATURE_CONTROL: lock it with VMX enabled if the firmware
     * left it unlocked (SDM Vol. 3C, 24.7). */
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_IA32_FEATURE_CONTROL,
              fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
    else if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX))
        return -7;
    write_cr4(cr4 | X86_CR4_VMXE);
    *(uint32_t *)v->vmxon = vmx.vmcs_revision;
    *(uint32_t *)v->vmcs = vmx.vmcs_revision;
    uint64_t vmxon_pa = (uint64_t)(uintptr_t)v->vmxon, vmcs_pa = (uint64_t)(uintptr_t)v->vmcs;
    if (!vmxon(vmxon_pa)) {
        write_cr4(cr4);
        if (verbose)
            log_printf("vmx: VMXON failed on CPU %u\n", v->index);
        return -4;
    }
    if (!vmclear(vmcs_pa) || !vmptrld(vmcs_pa)) {
        __asm__ volatile("vmxoff");
        write_cr4(cr4);
        if (verbose)
            log_printf("vmx: VMCLEAR/VMPTRLD failed on CPU %u\n", v->index);
        return -5;
    }
    uint64_t bad = vmcs_setup(v);
    if (bad) {
        vmclear(vmcs_pa);
        __asm__ volatile("vmxoff");
        write_cr4(cr4);
        if (verbose)
            log_printf("vmx: VMWRITE of field 0x%llx failed on CPU %u\n", (unsigned long long)bad,
                       v->index);
        return -6;
    }
    /* The exit stub's record of this CPU's exits (vmx/stats_record.inc). The cost of one
     * record is measured once, on the BSP, before any exit is counted. */
    struct stats_record_ctx rec;
    stats_record_ctx_init(vmx.stats, v->index, &rec);
    v->last_reason = 0;
    v->last_device = -1;
    v->stats_cpu = rec.cpu;
    v->stats_lock = rec.lock;
    v->rsp_valid = false;
    if (TRAPVISOR_ACCOUNTING && vmx.stats && v->index == 0)
        stats_measure_overhead(vmx.stats, 0, 64, stats_record_fast);
    v->launched = true;
    v->ept_generation = vmx.ept_generation;
    int rc = vmx_launch_here();
    if (rc != 0) {
        v->launched = false;
        vmx_last_error = vmread(VMCS_INSTR_ERROR);
        v->launch_error = vmx_last_error;
        vmclear(vmcs_pa);
        __asm__ volatile("vmxoff");
        write_cr4(cr4);
        if (verbose)
            log_printf("vmx: VMLAUNCH failed on CPU %u (VM-instruction error %llu)\n", v->index,
                       (unsigned long long)vmx_last_error);
        return rc;
    }
    return 0;
}
