/* VMCS field encodings, control bits and exit reasons.
 *
 * Encodings: SDM Vol. 3D, Appendix B "Field Encoding in VMCS". Control bits: SDM Vol. 3C,
 * 25.6 "VM-Execution Control Fields", 25.7 "VM-Exit Control Fields", 25.8 "VM-Entry Control
 * Fields". Exit reasons: SDM Vol. 3D, Appendix C "VMX Basic Exit Reasons". */
#ifndef TRAPVISOR_VMX_VMCS_H
#define TRAPVISOR_VMX_VMCS_H

/* 16-bit fields. */
#define VMCS_VPID           0x0000u
#define VMCS_GUEST_ES_SEL   0x0800u
#define VMCS_GUEST_CS_SEL   0x0802u
#define VMCS_GUEST_SS_SEL   0x0804u
#define VMCS_GUEST_DS_SEL   0x0806u
#define VMCS_GUEST_FS_SEL   0x0808u
#define VMCS_GUEST_GS_SEL   0x080Au
#define VMCS_GUEST_LDTR_SEL 0x080Cu
#define VMCS_GUEST_TR_SEL   0x080Eu
#define VMCS_HOST_ES_SEL    0x0C00u
#define VMCS_HOST_CS_SEL    0x0C02u
#define VMCS_HOST_SS_SEL    0x0C04u
#define VMCS_HOST_DS_SEL    0x0C06u
#define VMCS_HOST_FS_SEL    0x0C08u
#define VMCS_HOST_GS_SEL    0x0C0Au
#define VMCS_HOST_TR_SEL    0x0C0Cu

/* 64-bit fields. */
#define VMCS_IO_BITMAP_A     0x2000u
#define VMCS_IO_BITMAP_B     0x2002u
#define VMCS_MSR_BITMAP      0x2004u
#define VMCS_EXIT_MSR_STORE  0x2006u
#define VMCS_EXIT_MSR_LOAD   0x2008u
#define VMCS_ENTRY_MSR_LOAD  0x200Au
#define VMCS_TSC_OFFSET      0x2010u
#define VMCS_EPT_POINTER     0x201Au
#define VMCS_GUEST_PHYS_ADDR 0x2400u
#define VMCS_LINK_POINTER    0x2800u
#define VMCS_GUEST_DEBUGCTL  0x2802u
#define VMCS_GUEST_PAT       0x2804u
#define VMCS_GUEST_EFER      0x2806u
#define VMCS_GUEST_PDPTE0    0x280Au
#define VMCS_GUEST_PDPTE1    0x280Cu
#define VMCS_GUEST_PDPTE2    0x280Eu
#define VMCS_GUEST_PDPTE3    0x2810u
#define VMCS_HOST_PAT        0x2C00u
#define VMCS_HOST_EFER       0x2C02u

/* 32-bit fields. */
#define VMCS_PIN_CTLS               0x4000u
#define VMCS_PROC_CTLS              0x4002u
#define VMCS_EXCEPTION_BITMAP       0x4004u
#define VMCS_PF_ERR_MASK            0x4006u
#define VMCS_PF_ERR_MATCH           0x4008u
#define VMCS_CR3_TARGET_COUNT       0x400Au
#define VMCS_EXIT_CTLS              0x400Cu
#define VMCS_EXIT_MSR_STORE_COUNT   0x400Eu
#define VMCS_EXIT_MSR_LOAD_COUNT    0x4010u
#define VMCS_ENTRY_CTLS             0x4012u
#define VMCS_ENTRY_MSR_LOAD_COUNT   0x4014u
#define VMCS_ENTRY_INTR_INFO        0x4016u
#define VMCS_ENTRY_EXC_ERRCODE      0x4018u
#define VMCS_ENTRY_INSTR_LEN        0x401Au
#define VMCS_PROC_CTLS2             0x401Eu
#define VMCS_INSTR_ERROR            0x4400u
#define VMCS_EXIT_REASON            0x4402u
#define VMCS_EXIT_INTR_INFO         0x4404u
#define VMCS_EXIT_INTR_ERRCODE      0x4406u
#define VMCS_IDT_VECTORING_INFO     0x4408u
#define VMCS_IDT_VECTORING_ERRCODE  0x440Au
#define VMCS_EXIT_INSTR_LEN         0x440Cu
#define VMCS_EXIT_INSTR_INFO        0x440Eu
#define VMCS_GUEST_ES_LIMIT         0x4800u
#define VMCS_GUEST_CS_LIMIT         0x4802u
#define VMCS_GUEST_SS_LIMIT         0x4804u
#define VMCS_GUEST_DS_LIMIT         0x4806u
#define VMCS_GUEST_FS_LIMIT         0x4808u
#define VMCS_GUEST_GS_LIMIT         0x480Au
#define VMCS_GUEST_LDTR_LIMIT       0x480Cu
#define VMCS_GUEST_TR_LIMIT         0x480Eu
#define VMCS_GUEST_GDTR_LIMIT       0x4810u
#define VMCS_GUEST_IDTR_LIMIT       0x4812u
#define VMCS_GUEST_ES_AR            0x4814u
#define VMCS_GUEST_CS_AR            0x4816u
#define VMCS_GUEST_SS_AR            0x4818u
#define VMCS_GUEST_DS_AR            0x481Au
#define VMCS_GUEST_FS_AR            0x481Cu
#define VMCS_GUEST_GS_AR            0x481Eu
#define VMCS_GUEST_LDTR_AR          0x4820u
#define VMCS_GUEST_TR_AR            0x4822u
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824u
#define VMCS_GUEST_ACTIVITY         0x4826u
#define VMCS_PREEMPT_TIMER          0x482Eu
#define VMCS_GUEST_SYSENTER_CS      0x482Au
#define VMCS_HOST_SYSENTER_CS       0x4C00u

/* Natural-width fields. */
#define VMCS_CR0_MASK           0x6000u
#define VMCS_CR4_MASK           0x6002u
#define VMCS_CR0_SHADOW         0x6004u
#define VMCS_CR4_SHADOW         0x6006u
#define VMCS_EXIT_QUALIFICATION 0x6400u
#define VMCS_GUEST_LINEAR_ADDR  0x640Au
#define VMCS_GUEST_CR0          0x6800u
#define VMCS_GUEST_CR3          0x6802u
#define VMCS_GUEST_CR4          0x6804u
#define VMCS_GUEST_ES_BASE      0x6806u
#define VMCS_GUEST_CS_BASE      0x6808u
#define VMCS_GUEST_SS_BASE      0x680Au
#define VMCS_GUEST_DS_BASE      0x680Cu
#define VMCS_GUEST_FS_BASE      0x680Eu
#define VMCS_GUEST_GS_BASE      0x6810u
#define VMCS_GUEST_LDTR_BASE    0x6812u
#define VMCS_GUEST_TR_BASE      0x6814u
#define VMCS_GUEST_GDTR_BASE    0x6816u
#define VMCS_GUEST_IDTR_BASE    0x6818u
#define VMCS_GUEST_DR7          0x681Au
#define VMCS_GUEST_RSP          0x681Cu
#define VMCS_GUEST_RIP          0x681Eu
#define VMCS_GUEST_RFLAGS       0x6820u
#define VMCS_GUEST_PENDING_DBG  0x6822u
#define VMCS_GUEST_SYSENTER_ESP 0x6824u
#define VMCS_GUEST_SYSENTER_EIP 0x6826u
#define VMCS_HOST_CR0           0x6C00u
#define VMCS_HOST_CR3           0x6C02u
#define VMCS_HOST_CR4           0x6C04u
#define VMCS_HOST_FS_BASE       0x6C06u
#define VMCS_HOST_GS_BASE       0x6C08u
#define VMCS_HOST_TR_BASE       0x6C0Au
#define VMCS_HOST_GDTR_BASE     0x6C0Cu
#define VMCS_HOST_IDTR_BASE     0x6C0Eu
#define VMCS_HOST_SYSENTER_ESP  0x6C10u
#define VMCS_HOST_SYSENTER_EIP  0x6C12u
#define VMCS_HOST_RSP           0x6C14u
#define VMCS_HOST_RIP           0x6C16u

/* Pin-based controls (SDM Vol. 3C, Table 25-5). */
#define PIN_EXT_INTR_EXIT (1u << 0)
#define PIN_NMI_EXIT      (1u << 3)
#define PIN_VIRTUAL_NMI   (1u << 5)
#define PIN_PREEMPT_TIMER (1u << 6)

/* Primary processor-based controls (SDM Vol. 3C, Table 25-6). */
#define PROC_HLT_EXIT        (1u << 7)
#define PROC_CR3_LOAD_EXIT   (1u << 15)
#define PROC_CR3_STORE_EXIT  (1u << 16)
#define PROC_USE_IO_BITMAPS  (1u << 25)
#define PROC_USE_MSR_BITMAPS (1u << 28)
#define PROC_SECONDARY       (1u << 31)

/* Secondary processor-based controls (SDM Vol. 3C, Table 25-7). */
#define PROC2_ENABLE_EPT     (1u << 1)
#define PROC2_ENABLE_RDTSCP  (1u << 3)
#define PROC2_ENABLE_VPID    (1u << 5)
#define PROC2_UNRESTRICTED   (1u << 7)
#define PROC2_ENABLE_INVPCID (1u << 12)
#define PROC2_ENABLE_XSAVES  (1u << 20)

/* VM-exit controls (SDM Vol. 3C, Table 25-13). */
#define EXIT_SAVE_DEBUG  (1u << 2)
#define EXIT_HOST_ADDR64 (1u << 9)
#define EXIT_SAVE_PAT    (1u << 18)
#define EXIT_LOAD_PAT    (1u << 19)
#define EXIT_SAVE_EFER   (1u << 20)
#define EXIT_LOAD_EFER   (1u << 21)

/* VM-entry controls (SDM Vol. 3C, Table 25-15). */
#define ENTRY_LOAD_DEBUG  (1u << 2)
#define ENTRY_IA32E_GUEST (1u << 9)
#define ENTRY_LOAD_PAT    (1u << 14)
#define ENTRY_LOAD_EFER   (1u << 15)

/* Guest activity states (SDM Vol. 3C, 25.4.2 "Guest Non-Register State"). */
#define ACTIVITY_ACTIVE    0u
#define ACTIVITY_HLT       1u
#define ACTIVITY_SHUTDOWN  2u
#define ACTIVITY_WAIT_SIPI 3u

/* Pending debug exceptions field (SDM Vol. 3C, 25.4.2, Table 25-4): BS, a pending
 * single-step trap. */
#define PENDING_DBG_BS (1ull << 14)

/* Interruptibility state (SDM Vol. 3C, 25.4.2, Table 25-3): blocking by STI and by MOV SS;
 * blocking by NMI (bit 3). */
#define INTERRUPTIBILITY_STI_MOVSS 3ull
#define INTERRUPTIBILITY_NMI       (1ull << 3)

/* EPT-violation exit qualification bit 12, "NMI unblocking due to IRET" (SDM Vol. 3C, 28.2.1,
 * Table 28-7, and 28.2.3). */
#define EPT_QUAL_NMI_UNBLOCKED (1ull << 12)

/* VM-entry interruption information (SDM Vol. 3C, Table 25-17). */
#define INTR_INFO_VALID       (1u << 31)
#define INTR_INFO_DELIVER_ERR (1u << 11)
#define INTR_TYPE_EXT_INTR    (0u << 8)
#define INTR_TYPE_NMI         (2u << 8)
#define INTR_TYPE_HW_EXC      (3u << 8)

/* Basic exit reasons (SDM Vol. 3D, Appendix C). */
enum vmx_exit_reason {
    EXIT_EXCEPTION_NMI = 0,
    EXIT_EXTERNAL_INTR = 1,
    EXIT_TRIPLE_FAULT = 2,
    EXIT_INIT = 3,
    EXIT_SIPI = 4,
    EXIT_IO_SMI = 5,
    EXIT_OTHER_SMI = 6,
    EXIT_INTR_WINDOW = 7,
    EXIT_NMI_WINDOW = 8,
    EXIT_TASK_SWITCH = 9,
    EXIT_CPUID = 10,
    EXIT_GETSEC = 11,
    EXIT_HLT = 12,
    EXIT_INVD = 13,
    EXIT_INVLPG = 14,
    EXIT_RDPMC = 15,
    EXIT_RDTSC = 16,
    EXIT_RSM = 17,
    EXIT_VMCALL = 18,
    EXIT_VMCLEAR = 19,
    EXIT_VMLAUNCH = 20,
    EXIT_VMPTRLD = 21,
    EXIT_VMPTRST = 22,
    EXIT_VMREAD = 23,
    EXIT_VMRESUME = 24,
    EXIT_VMWRITE = 25,
    EXIT_VMXOFF = 26,
    EXIT_VMXON = 27,
    EXIT_CR_ACCESS = 28,
    EXIT_DR_ACCESS = 29,
    EXIT_IO = 30,
    EXIT_RDMSR = 31,
    EXIT_WRMSR = 32,
    EXIT_BAD_GUEST_STATE = 33,
    EXIT_MSR_LOADING = 34,
    EXIT_MWAIT = 36,
    EXIT_MTF = 37,
    EXIT_MONITOR = 39,
    EXIT_PAUSE = 40,
    EXIT_MACHINE_CHECK = 41,
    EXIT_TPR_BELOW = 43,
    EXIT_APIC_ACCESS = 44,
    EXIT_GDTR_IDTR = 46,
    EXIT_LDTR_TR = 47,
    EXIT_EPT_VIOLATION = 48,
    EXIT_EPT_MISCONFIG = 49,
    EXIT_INVEPT = 50,
    EXIT_RDTSCP = 51,
    EXIT_PREEMPT_TIMER = 52,
    EXIT_INVVPID = 53,
    EXIT_WBINVD = 54,
    EXIT_XSETBV = 55,
    EXIT_APIC_WRITE = 56,
    EXIT_RDRAND = 57,
    EXIT_INVPCID = 58,
    EXIT_VMFUNC = 59,
    EXIT_ENCLS = 60,
    EXIT_RDSEED = 61,
    EXIT_PML_FULL = 62,
    EXIT_XSAVES = 63,
    EXIT_XRSTORS = 64,
    EXIT_REASON_COUNT = 80,
};

#endif
