/* VMX root: per-CPU state, launch, and the exit dispatcher.
 *
 * Lifetime: boot/ reserves memory and fills `struct vmx_global` (host page tables, bitmaps,
 * EPT pointer, controls) once, then calls vmx_cpu_launch() on each CPU with that CPU's
 * `struct vcpu`. vmx_cpu_launch() returns as a guest. From then on every VM exit lands in
 * vmx/stub.asm, which saves the guest GPRs into vcpu->gpr and calls vmx_exit_dispatch(). */
#ifndef TRAPVISOR_VMX_VMX_H
#define TRAPVISOR_VMX_VMX_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/stats.h"
#include "vmx/stats_abi.h"

#define VMX_MAX_CPUS   TV_STATS_MAX_CPUS
#define VMX_STACK_SIZE (32u * 1024u)

/* Indices of vcpu->gpr[]: the order of the ModRM/REX register numbers (SDM Vol. 2A, 2.1.5),
 * so decode/'s register file can alias it. */
enum gpr_index {
    GPR_RAX,
    GPR_RCX,
    GPR_RDX,
    GPR_RBX,
    GPR_RSP,
    GPR_RBP,
    GPR_RSI,
    GPR_RDI,
    GPR_R8,
    GPR_R9,
    GPR_R10,
    GPR_R11,
    GPR_R12,
    GPR_R13,
    GPR_R14,
    GPR_R15,
};

/* A 64-bit TSS (SDM Vol. 3A, 8.7 "Task Management in 64-bit Mode", Figure 8-11). */
struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

/* Host GDT selectors (each CPU has its own GDT because the TSS descriptor is per CPU). */
#define HOST_SEL_CODE 0x08
#define HOST_SEL_DATA 0x10
#define HOST_SEL_TSS  0x18

struct vcpu {
    uint64_t gpr[16];     /* offset 0: the guest's GPRs as stub.asm saved them (ModRM order);
                           * gpr[GPR_RSP] only after vmx_load_guest_rsp() */
    uint64_t rip, rflags; /* filled by the MMIO path only (decode/'s struct x86_regs layout) */
    uint64_t exit_tsc;    /* offset 144: the stub's first TSC read of this exit */
    uint64_t resume_tsc;  /* offset 152: its last TSC read, just before VMRESUME */
    /* Offsets 160-183: the exit stub's record reads these as a struct stats_record_ctx. */
    uint32_t last_reason;           /* exit reason of the exit being handled (VMREAD value) */
    int last_device;                /* its device slot for the MMIO counters, or -1 */
    struct tv_stats_cpu *stats_cpu; /* this CPU's statistics block (or a sink) */
    volatile int *stats_lock;       /* its lock word */
    uint64_t ept_generation;        /* the EPT generation this CPU last flushed for */
    uint64_t rsp_loaded;            /* guest RSP as vmx_load_guest_rsp read it; see rsp_valid */
    bool rsp_valid;                 /* gpr[GPR_RSP] holds the guest's RSP for this exit */
    uint32_t index;                 /* 0 = BSP */
    uint32_t apic_id;
    uint8_t *vmxon; /* 4 KiB, page aligned */
    uint8_t *vmcs;  /* 4 KiB, page aligned */
    uint8_t *stack; /* VMX_STACK_SIZE bytes, the host stack of this CPU */
    uint64_t gdt[5] __attribute__((aligned(16)));
    struct tss64 tss __attribute__((aligned(16)));
    int launch_rc;         /* vmx_cpu_launch's result, for APs */
    uint64_t launch_error; /* VM-instruction error of a failed launch */
    uint32_t sig[4];       /* CPUID 0x40000000 as this CPU's guest saw it (boot check) */
    bool launched;
    bool stopped;             /* the guest was stopped (unhandled exit, triple fault) */
    volatile bool in_init;    /* between INIT and SIPI (wait-for-SIPI) */
    uint64_t sync_generation; /* this exit changed the EPT: wait for every CPU to flush */
    /* What stub.asm's EPT route compares with vmx.ept_generation after the hook, so that one
     * compare covers both pieces of end-of-exit work: ept_generation while rsp_valid is false,
     * VCPU_FINISH_PENDING (never a generation) while it is true. vmx/exit.c keeps it so. */
    uint64_t finish_generation;
    /* The MMIO hooks' per-CPU state (boot/mmio.c: this CPU's MMIO sites), one load away from
     * the vcpu the hooks get. */
    void *mmio_sites;
};
#define VCPU_FINISH_PENDING (~0ull)

/* Computed once from the capability MSRs (SDM Vol. 3D, Appendix A) by vmx_global_init. */
struct vmx_controls {
    uint32_t pin, proc, proc2, exit, entry;
};

struct vmx_global {
    uint64_t host_cr3;                             /* the hypervisor's identity page tables */
    uint64_t idt[64] __attribute__((aligned(16))); /* 32 exception gates (16 bytes each) */
    uint8_t *msr_bitmap;                           /* 4 KiB */
    uint8_t *io_bitmap_a;                          /* 4 KiB: ports 0000-7FFF */
    uint8_t *io_bitmap_b;                          /* 4 KiB: ports 8000-FFFF */
    uint64_t eptp;                                 /* EPT pointer (SDM Vol. 3C, 25.6.11) */
    struct vmx_controls ctl;
    uint32_t vmcs_revision;
    uint64_t hidden_base, hidden_size; /* the hypervisor's own memory (hidden from guests) */
    uint32_t ncpus;                    /* CPUs that became guests */
    struct vcpu *cpus[VMX_MAX_CPUS];
    volatile uint64_t ept_generation; /* bumped when the EPT changes; each CPU INVEPTs */
    uint32_t preempt_ticks;           /* VMX-preemption timer value (0: timer not used) */
    uint64_t sync_timeouts;           /* EPT flush waits that gave up (a CPU never exited) */
    struct stats_state *stats;
    uint64_t ept_vpid_cap;
};

/* Hidden: one module, so code reaches it RIP-relative, without a GOT load (the exit path
 * reads vmx.ept_generation at every exit). */
extern struct vmx_global vmx __attribute__((visibility("hidden")));

/* Checks the CPU (DESIGN step 2). On failure writes one line naming what is missing into
 * `why` and returns false, having changed nothing. Sets IA32_FEATURE_CONTROL's lock with VMX
 * enabled when the firmware left it unlocked. */
bool vmx_check_cpu(char *why, unsigned whylen);

/* Computes the controls from the capability MSRs; returns false with a reason on failure. */
bool vmx_global_init(char *why, unsigned whylen);

/* Installs the exception gates into vmx.idt (host exceptions print state and stop). */
void vmx_host_idt_init(void);

/* Builds identity page tables for the host covering [0, limit) with 2 MiB pages into
 * `pages` (needs vmx_host_paging_pages(limit) zeroed pages); returns the CR3 value. */
unsigned vmx_host_paging_pages(uint64_t limit);
uint64_t vmx_host_paging_build(uint64_t *pages, uint64_t limit);

/* VMXON, VMCS from this CPU's current state, VMLAUNCH. Returns 0 as a guest, or a negative
 * code (and the CPU left out of VMX operation) on failure. Safe on APs: no printing unless
 * `verbose`. */
int vmx_cpu_launch(struct vcpu *v, bool verbose);

/* Called from stub.asm (vmx/exit.c explains the three entries); each returns when the guest
 * should be resumed. `reason` is the exit-reason field as VMREAD gave it. */
void vmx_exit_cpuid(struct vcpu *v);
void vmx_exit_light(struct vcpu *v, uint32_t reason);
void vmx_exit_ept_violation(struct vcpu *v);
/* The cold branches of stub.asm's direct EPT route (vmx/exit.c). */
void vmx_ept_violation_events(struct vcpu *v);
__attribute__((noreturn)) void vmx_ept_violation_unhandled(struct vcpu *v);
void vmx_ept_violation_finish(struct vcpu *v);
void vmx_exit_dispatch(struct vcpu *v, uint32_t reason);
void vmx_resume_failed(struct vcpu *v);

/* stub.asm */
extern void vmx_exit_stub(void);
extern int vmx_launch_here(void);
extern void vmx_host_isr_table(void);

/* In VMX root: the vcpu of the executing CPU (HOST_GS_BASE holds it). */
struct vcpu *vmx_this_cpu(void);

/* In VMX root, after changing the EPT: bumps the generation, flushes this CPU, and makes
 * this CPU wait, before it resumes its guest, until every other running CPU has flushed
 * too (each does at its next exit; the preemption timer bounds how long that takes). */
void vmx_ept_changed(void);

/* The last launch failure, for the log. */
extern uint64_t vmx_last_error;

#endif
