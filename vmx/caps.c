/* The VT-x capability report and control-value computation; see caps.h.
 *
 * Control names and bit positions: SDM Vol. 3C, 25.6.1 (pin-based, Table 25-5), 25.6.2
 * (primary, secondary and tertiary processor-based, Tables 25-6, 25-7, 25-8), 25.7.1 (VM-exit,
 * Table 25-13), 25.8.1 (VM-entry, Table 25-15). Capability MSR layouts: SDM Vol. 3D,
 * Appendix A. */
#include "vmx/caps.h"

#include <stdarg.h>
#include <stddef.h>

/* --- reading --------------------------------------------------------------------------------- */

#define MSR_FEATURE_CONTROL  0x03Au
#define MSR_VMX_BASIC        0x480u
#define MSR_VMX_PINBASED     0x481u
#define MSR_VMX_PROCBASED    0x482u
#define MSR_VMX_EXIT         0x483u
#define MSR_VMX_ENTRY        0x484u
#define MSR_VMX_MISC         0x485u
#define MSR_VMX_CR0_FIXED0   0x486u
#define MSR_VMX_CR0_FIXED1   0x487u
#define MSR_VMX_CR4_FIXED0   0x488u
#define MSR_VMX_CR4_FIXED1   0x489u
#define MSR_VMX_VMCS_ENUM    0x48Au
#define MSR_VMX_PROCBASED2   0x48Bu
#define MSR_VMX_EPT_VPID_CAP 0x48Cu
#define MSR_VMX_TRUE_PIN     0x48Du
#define MSR_VMX_TRUE_PROC    0x48Eu
#define MSR_VMX_TRUE_EXIT    0x48Fu
#define MSR_VMX_TRUE_ENTRY   0x490u
#define MSR_VMX_VMFUNC       0x491u
#define MSR_VMX_PROCBASED3   0x492u

static bool allowed1(uint64_t cap, unsigned bit)
{
    return (cap >> 32) & (1ull << bit);
}

void vmx_caps_collect(struct vmx_caps_raw *raw, vmx_rdmsr_fn rdmsr, vmx_cpuid_fn cpuid, void *ctx)
{
    uint32_t r[4];
    unsigned char *p = (unsigned char *)raw;
    for (size_t i = 0; i < sizeof *raw; i++)
        p[i] = 0;

    cpuid(ctx, 0, 0, r);
    uint32_t max_leaf = r[0];
    const uint32_t order[3] = {r[1], r[3], r[2]}; /* "Genu" "ineI" "ntel" */
    for (int w = 0; w < 3; w++)
        for (int b = 0; b < 4; b++)
            raw->vendor[4 * w + b] = (char)(order[w] >> (8 * b));
    raw->vendor[12] = '\0';
    if (max_leaf >= 1) {
        cpuid(ctx, 1, 0, r);
        raw->cpuid1_ecx = r[2];
    }
    cpuid(ctx, 0x80000000u, 0, r);
    uint32_t max_ext = r[0];
    if (max_ext >= 0x80000001u && max_ext < 0x8000FFFFu) {
        cpuid(ctx, 0x80000001u, 0, r);
        raw->cpuid_ext_edx = r[3];
    }
    if (max_ext >= 0x80000008u && max_ext < 0x8000FFFFu) {
        cpuid(ctx, 0x80000008u, 0, r);
        raw->cpuid_addr_sizes = r[0];
        raw->has_ext_leaves = true;
    }

    /* SDM Vol. 3C, 24.6: VMX support is CPUID.1:ECX[5]; the VMX MSRs exist only then. */
    raw->has_vmx = raw->cpuid1_ecx & (1u << 5);
    if (!raw->has_vmx)
        return;
    raw->feature_control = rdmsr(ctx, MSR_FEATURE_CONTROL);
    raw->basic = rdmsr(ctx, MSR_VMX_BASIC);
    raw->pinbased = rdmsr(ctx, MSR_VMX_PINBASED);
    raw->procbased = rdmsr(ctx, MSR_VMX_PROCBASED);
    raw->exit = rdmsr(ctx, MSR_VMX_EXIT);
    raw->entry = rdmsr(ctx, MSR_VMX_ENTRY);
    raw->misc = rdmsr(ctx, MSR_VMX_MISC);
    raw->cr0_fixed0 = rdmsr(ctx, MSR_VMX_CR0_FIXED0);
    raw->cr0_fixed1 = rdmsr(ctx, MSR_VMX_CR0_FIXED1);
    raw->cr4_fixed0 = rdmsr(ctx, MSR_VMX_CR4_FIXED0);
    raw->cr4_fixed1 = rdmsr(ctx, MSR_VMX_CR4_FIXED1);
    raw->vmcs_enum = rdmsr(ctx, MSR_VMX_VMCS_ENUM);
    /* A.1: IA32_VMX_BASIC[55] = 1 means the TRUE_ capability MSRs exist. */
    raw->has_true = raw->basic & (1ull << 55);
    if (raw->has_true) {
        raw->true_pinbased = rdmsr(ctx, MSR_VMX_TRUE_PIN);
        raw->true_procbased = rdmsr(ctx, MSR_VMX_TRUE_PROC);
        raw->true_exit = rdmsr(ctx, MSR_VMX_TRUE_EXIT);
        raw->true_entry = rdmsr(ctx, MSR_VMX_TRUE_ENTRY);
    }
    /* A.3.3: IA32_VMX_PROCBASED_CTLS2 exists if "activate secondary controls" (bit 31) may
     * be 1; A.3.4: IA32_VMX_PROCBASED_CTLS3 if "activate tertiary controls" (bit 17) may be 1. */
    raw->has_procbased2 = allowed1(raw->procbased, 31);
    if (raw->has_procbased2) {
        raw->procbased2 = rdmsr(ctx, MSR_VMX_PROCBASED2);
        /* A.10: IA32_VMX_EPT_VPID_CAP exists if "enable EPT" (bit 1) or "enable VPID"
         * (bit 5) may be 1; A.11: IA32_VMX_VMFUNC if "enable VM functions" (bit 13) may be 1. */
        raw->has_ept_vpid = allowed1(raw->procbased2, 1) || allowed1(raw->procbased2, 5);
        if (raw->has_ept_vpid)
            raw->ept_vpid = rdmsr(ctx, MSR_VMX_EPT_VPID_CAP);
        raw->has_vmfunc = allowed1(raw->procbased2, 13);
        if (raw->has_vmfunc)
            raw->vmfunc = rdmsr(ctx, MSR_VMX_VMFUNC);
    }
    raw->has_procbased3 = allowed1(raw->procbased, 17);
    if (raw->has_procbased3)
        raw->procbased3 = rdmsr(ctx, MSR_VMX_PROCBASED3);
}

/* --- control arithmetic ------------------------------------------------------------------------
 */

enum vmx_control_setting vmx_control_setting(uint64_t cap, uint64_t true_cap, bool has_true,
                                             unsigned bit)
{
    uint64_t eff = has_true ? true_cap : cap;
    uint32_t m = 1u << (bit & 31);
    bool may_be_0 = !((uint32_t)eff & m);
    bool may_be_1 = (uint32_t)(eff >> 32) & m;
    bool legacy_forces_1 = (uint32_t)cap & m;
    if (has_true && may_be_0 && may_be_1 && legacy_forces_1)
        return VMX_CONTROL_DEFAULT;
    if (!may_be_1)
        return VMX_CONTROL_NO;
    if (!may_be_0)
        return VMX_CONTROL_FORCED;
    return VMX_CONTROL_YES;
}

uint32_t vmx_controls_unsupported(uint64_t cap, uint32_t want)
{
    return want & ~(uint32_t)(cap >> 32);
}

bool vmx_adjust_controls(uint64_t cap, uint32_t want, uint32_t *value)
{
    uint32_t must_be_1 = (uint32_t)cap, may_be_1 = (uint32_t)(cap >> 32);
    /* SDM Vol. 3D, A.3.1: VM entry fails if a control is 1 where the allowed 1-setting is 0,
     * or 0 where the allowed 0-setting is 1. A bit that must be 1 but may not be 1 (an
     * inconsistent MSR) cannot be satisfied either. */
    if ((want & ~may_be_1) || (must_be_1 & ~may_be_1))
        return false;
    *value = want | must_be_1;
    return true;
}

/* --- printing ------------------------------------------------------------------------------------
 */

struct out {
    fmt_putc_fn putc;
    void *ctx;
};

static void say(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct out *o, const char *fmt, ...)
{
    va_list ap;
    for (const char *p = "caps: "; *p; p++)
        o->putc(o->ctx, *p);
    va_start(ap, fmt);
    fmt_vformat(o->putc, o->ctx, fmt, ap);
    va_end(ap);
    o->putc(o->ctx, '\n');
}

static const char *yes_no(bool b)
{
    return b ? "yes" : "no";
}

static void item(struct out *o, const char *name, const char *value)
{
    say(o, "  %-46s %s", name, value);
}

static void item_bool(struct out *o, const char *name, bool b)
{
    item(o, name, yes_no(b));
}

struct control_name {
    uint8_t bit;
    const char *name;
};

static const struct control_name pin_controls[] = {
    {0, "External-interrupt exiting"},
    {3, "NMI exiting"},
    {5, "Virtual NMIs"},
    {6, "Activate VMX-preemption timer"},
    {7, "Process posted interrupts"},
};

static const struct control_name proc_controls[] = {
    {2, "Interrupt-window exiting"},
    {3, "Use TSC offsetting"},
    {7, "HLT exiting"},
    {9, "INVLPG exiting"},
    {10, "MWAIT exiting"},
    {11, "RDPMC exiting"},
    {12, "RDTSC exiting"},
    {15, "CR3-load exiting"},
    {16, "CR3-store exiting"},
    {17, "Activate tertiary controls"},
    {19, "CR8-load exiting"},
    {20, "CR8-store exiting"},
    {21, "Use TPR shadow"},
    {22, "NMI-window exiting"},
    {23, "MOV-DR exiting"},
    {24, "Unconditional I/O exiting"},
    {25, "Use I/O bitmaps"},
    {27, "Monitor trap flag"},
    {28, "Use MSR bitmaps"},
    {29, "MONITOR exiting"},
    {30, "PAUSE exiting"},
    {31, "Activate secondary controls"},
};

static const struct control_name proc2_controls[] = {
    {0, "Virtualize APIC accesses"},
    {1, "Enable EPT"},
    {2, "Descriptor-table exiting"},
    {3, "Enable RDTSCP"},
    {4, "Virtualize x2APIC mode"},
    {5, "Enable VPID"},
    {6, "WBINVD exiting"},
    {7, "Unrestricted guest"},
    {8, "APIC-register virtualization"},
    {9, "Virtual-interrupt delivery"},
    {10, "PAUSE-loop exiting"},
    {11, "RDRAND exiting"},
    {12, "Enable INVPCID"},
    {13, "Enable VM functions"},
    {14, "VMCS shadowing"},
    {15, "Enable ENCLS exiting"},
    {16, "RDSEED exiting"},
    {17, "Enable PML"},
    {18, "EPT-violation #VE"},
    {19, "Conceal VMX from PT"},
    {20, "Enable XSAVES/XRSTORS"},
    {22, "Mode-based execute control for EPT"},
    {23, "Sub-page write permissions for EPT"},
    {24, "Intel PT uses guest physical addresses"},
    {25, "Use TSC scaling"},
    {26, "Enable user wait and pause"},
    {27, "Enable PCONFIG"},
    {28, "Enable ENCLV exiting"},
};

static const struct control_name proc3_controls[] = {
    {0, "LOADIWKEY exiting"},         {1, "Enable HLAT"},        {2, "EPT paging-write control"},
    {3, "Guest-paging verification"}, {4, "IPI virtualization"}, {7, "Virtualize IA32_SPEC_CTRL"},
};

static const struct control_name exit_controls[] = {
    {2, "Save debug controls"},
    {9, "Host address-space size"},
    {12, "Load IA32_PERF_GLOBAL_CTRL"},
    {15, "Acknowledge interrupt on exit"},
    {18, "Save IA32_PAT"},
    {19, "Load IA32_PAT"},
    {20, "Save IA32_EFER"},
    {21, "Load IA32_EFER"},
    {22, "Save VMX-preemption timer value"},
    {23, "Clear IA32_BNDCFGS"},
    {24, "Conceal VMX from PT"},
    {25, "Clear IA32_RTIT_CTL"},
    {26, "Clear IA32_LBR_CTL"},
    {27, "Clear UINV"},
    {28, "Load CET state"},
    {29, "Load PKRS"},
    {30, "Save IA32_PERF_GLOBAL_CTL"},
    {31, "Activate secondary VM-exit controls"},
};

static const struct control_name entry_controls[] = {
    {2, "Load debug controls"},
    {9, "IA-32e mode guest"},
    {10, "Entry to SMM"},
    {11, "Deactivate dual-monitor treatment"},
    {13, "Load IA32_PERF_GLOBAL_CTRL"},
    {14, "Load IA32_PAT"},
    {15, "Load IA32_EFER"},
    {16, "Load IA32_BNDCFGS"},
    {17, "Conceal VMX from PT"},
    {18, "Load IA32_RTIT_CTL"},
    {19, "Load UINV"},
    {20, "Load CET state"},
    {21, "Load guest IA32_LBR_CTL"},
    {22, "Load PKRS"},
};

static const char *const setting_names[] = {"no", "yes", "forced", "default"};

static void print_controls(struct out *o, const char *title, const char *msr_name, uint64_t cap,
                           const char *true_name, uint64_t true_cap, bool has_true,
                           const struct control_name *c, size_t n)
{
    say(o, "%s (%s 0x%016llx)", title, msr_name, (unsigned long long)cap);
    if (has_true)
        say(o, "  %-46s 0x%016llx", true_name, (unsigned long long)true_cap);
    for (size_t i = 0; i < n; i++)
        item(o, c[i].name, setting_names[vmx_control_setting(cap, true_cap, has_true, c[i].bit)]);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *memory_type_name(unsigned t)
{
    /* SDM Vol. 3D, A.1 (and Vol. 3A, 12.3 for the encodings). */
    switch (t) {
    case 0:
        return "uncacheable (0)";
    case 6:
        return "write-back (6)";
    default:
        return "reserved";
    }
}

struct bit_name {
    uint8_t bit;
    const char *name;
};

static const struct bit_name ept_bits[] = {
    {0, "Execute-only EPT translations"},
    {6, "Page-walk length 4"},
    {7, "Page-walk length 5"},
    {8, "Paging-structure memory type UC"},
    {14, "Paging-structure memory type WB"},
    {16, "2-MByte EPT pages"},
    {17, "1-GByte EPT pages"},
    {20, "INVEPT supported"},
    {21, "EPT accessed and dirty flags"},
    {22, "Advanced VM-exit info for EPT violations"},
    {23, "Supervisor shadow-stack control"},
    {25, "INVEPT single-context"},
    {26, "INVEPT all-context"},
    {32, "INVVPID supported"},
    {40, "INVVPID individual-address"},
    {41, "INVVPID single-context"},
    {42, "INVVPID all-context"},
    {43, "INVVPID single-context-retaining-globals"},
};

static void print_cpu(struct out *o, const struct vmx_caps_raw *r)
{
    say(o, "CPU");
    item(o, "Vendor", r->vendor[0] ? r->vendor : "?");
    item_bool(o, "VMX (CPUID.1:ECX[5])", r->cpuid1_ecx & (1u << 5));
    item_bool(o, "SMX (CPUID.1:ECX[6])", r->cpuid1_ecx & (1u << 6));
    item_bool(o, "Running under a hypervisor (CPUID.1:ECX[31])", r->cpuid1_ecx & (1u << 31));
    item_bool(o, "1-GByte pages (CPUID.80000001H:EDX[26])", r->cpuid_ext_edx & (1u << 26));
    if (r->has_ext_leaves)
        say(o, "  %-46s %u", "Physical address bits (MAXPHYADDR)",
            (unsigned)(r->cpuid_addr_sizes & 0xFF));
}

static void print_feature_control(struct out *o, uint64_t fc)
{
    /* SDM Vol. 3C, 24.7: bit 0 lock, bit 1 VMX inside SMX, bit 2 VMX outside SMX. */
    bool locked = fc & 1, outside = fc & 4;
    say(o, "IA32_FEATURE_CONTROL 0x%llx", (unsigned long long)fc);
    item_bool(o, "Locked", locked);
    item_bool(o, "VMX inside SMX operation", fc & 2);
    item_bool(o, "VMX outside SMX operation", outside);
    if (!locked)
        item(o, "VMXON", "allowed once Trapvisor sets and locks it");
    else if (outside)
        item(o, "VMXON", "allowed");
    else
        item(o, "VMXON", "not allowed: VT-x is disabled in firmware setup");
}

static void print_basic(struct out *o, uint64_t b)
{
    /* SDM Vol. 3D, A.1. */
    say(o, "Basic VMX information (IA32_VMX_BASIC 0x%016llx)", (unsigned long long)b);
    say(o, "  %-46s %u", "Revision", (unsigned)(b & 0x7FFFFFFF));
    say(o, "  %-46s %u", "VMCS size in bytes", (unsigned)((b >> 32) & 0x1FFF));
    item_bool(o, "VMCS restricted to 32-bit addresses", b & (1ull << 48));
    item_bool(o, "Dual-monitor SMIs and SMM", b & (1ull << 49));
    item(o, "VMCS memory type", memory_type_name((unsigned)((b >> 50) & 0xF)));
    item_bool(o, "INS/OUTS instruction information", b & (1ull << 54));
    item_bool(o, "IA32_VMX_TRUE_*_CTLS", b & (1ull << 55));
    item_bool(o, "Exceptions with any error code at VM entry", b & (1ull << 56));
}

static void print_misc(struct out *o, uint64_t m)
{
    /* SDM Vol. 3D, A.6. */
    say(o, "Miscellaneous data (IA32_VMX_MISC 0x%016llx)", (unsigned long long)m);
    say(o, "  %-46s TSC >> %u", "VMX-preemption timer rate", (unsigned)(m & 0x1F));
    item_bool(o, "Stores EFER.LMA into IA-32e mode guest", m & (1u << 5));
    item_bool(o, "Activity state HLT", m & (1u << 6));
    item_bool(o, "Activity state shutdown", m & (1u << 7));
    item_bool(o, "Activity state wait-for-SIPI", m & (1u << 8));
    item_bool(o, "Intel PT in VMX operation", m & (1u << 14));
    item_bool(o, "RDMSR of IA32_SMBASE in SMM", m & (1u << 15));
    say(o, "  %-46s %u", "CR3-target values", (unsigned)((m >> 16) & 0x1FF));
    say(o, "  %-46s %u", "MSR-load/store list entries (maximum)",
        (unsigned)(512u * (((m >> 25) & 7u) + 1u)));
    item_bool(o, "IA32_SMM_MONITOR_CTL[2] can be set", m & (1u << 28));
    item_bool(o, "VMWRITE to VM-exit information fields", m & (1u << 29));
    item_bool(o, "Injection with instruction length 0", m & (1u << 30));
    say(o, "  %-46s 0x%x", "MSEG revision", (unsigned)(m >> 32));
}

static void print_fixed(struct out *o, const char *cr, uint64_t fixed0, uint64_t fixed1,
                        const struct bit_name *names, size_t n)
{
    /* SDM Vol. 3D, A.7 and A.8: a bit set in FIXED0 must be 1, a bit clear in FIXED1 must be
     * 0 (in VMX operation, for the host, and for a guest apart from the unrestricted-guest
     * exceptions of SDM Vol. 3C, 27.3.1.1). */
    char ones[96];
    size_t k = 0;
    ones[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!(fixed0 & (1ull << names[i].bit)))
            continue;
        for (const char *s = names[i].name; *s && k + 2 < sizeof ones; s++)
            ones[k++] = *s;
        if (k + 2 < sizeof ones)
            ones[k++] = ' ';
        ones[k] = '\0';
    }
    if (k > 0)
        ones[k - 1] = '\0';
    say(o, "%s fixed bits (FIXED0 0x%llx, FIXED1 0x%llx)", cr, (unsigned long long)fixed0,
        (unsigned long long)fixed1);
    say(o, "  %-46s 0x%llx%s%s%s", "Must be 1", (unsigned long long)fixed0, k ? " (" : "", ones,
        k ? ")" : "");
    say(o, "  %-46s 0x%llx", "Must be 0 (bits 31:0)",
        (unsigned long long)(~fixed1 & 0xFFFFFFFFull));
}

static const struct bit_name cr0_names[] = {{0, "PE"},  {1, "MP"},  {2, "EM"},  {3, "TS"},
                                            {4, "ET"},  {5, "NE"},  {16, "WP"}, {18, "AM"},
                                            {29, "NW"}, {30, "CD"}, {31, "PG"}};
static const struct bit_name cr4_names[] = {
    {0, "VME"}, {5, "PAE"}, {7, "PGE"}, {13, "VMXE"}, {14, "SMXE"}, {17, "PCIDE"}, {18, "OSXSAVE"}};

/* What Trapvisor itself needs (DESIGN.md, "Lifetime of one boot", step 2). */
static void print_verdict(struct out *o, const struct vmx_caps_raw *r)
{
    const char *missing = 0;
    bool p2 = r->has_procbased2, ev = r->has_ept_vpid;
    bool fc_ok = !(r->feature_control & 1) || (r->feature_control & 4);
    if (!fc_ok)
        missing = "VT-x enabled in firmware setup";
    else if (((r->basic >> 50) & 0xF) != 6)
        missing = "write-back VMCS memory";
    else if (!p2 || !allowed1(r->procbased2, 1))
        missing = "EPT";
    else if (!allowed1(r->procbased2, 7))
        missing = "unrestricted guest";
    else if (!ev || !(r->ept_vpid & (1ull << 6)))
        missing = "4-level EPT page walk";
    else if (!(r->ept_vpid & (1ull << 14)))
        missing = "write-back EPT paging structures";
    else if (!(r->ept_vpid & (1ull << 16)))
        missing = "2-MByte EPT pages";
    else if (!(r->ept_vpid & (1ull << 20)))
        missing = "INVEPT";
    if (missing)
        say(o, "Verdict: Trapvisor cannot run here: no %s", missing);
    else
        say(o, "Verdict: Trapvisor can run here");
}

void vmx_caps_print(const struct vmx_caps_raw *r, fmt_putc_fn putc, void *ctx)
{
    struct out o = {putc, ctx};
    print_cpu(&o, r);
    if (!r->has_vmx) {
        say(&o, "Verdict: Trapvisor cannot run here: no VT-x (CPUID.1:ECX.VMX = 0)");
        return;
    }
    print_feature_control(&o, r->feature_control);
    print_basic(&o, r->basic);
    print_controls(&o, "Pin-based VM-execution controls", "IA32_VMX_PINBASED_CTLS", r->pinbased,
                   "IA32_VMX_TRUE_PINBASED_CTLS", r->true_pinbased, r->has_true, pin_controls,
                   COUNT(pin_controls));
    print_controls(&o, "Primary processor-based VM-execution controls", "IA32_VMX_PROCBASED_CTLS",
                   r->procbased, "IA32_VMX_TRUE_PROCBASED_CTLS", r->true_procbased, r->has_true,
                   proc_controls, COUNT(proc_controls));
    if (r->has_procbased2)
        print_controls(&o, "Secondary processor-based VM-execution controls",
                       "IA32_VMX_PROCBASED_CTLS2", r->procbased2, "", 0, false, proc2_controls,
                       COUNT(proc2_controls));
    else
        say(&o, "Secondary processor-based VM-execution controls: not available");
    if (r->has_procbased3) {
        /* A.3.4: IA32_VMX_PROCBASED_CTLS3 reports allowed 1-settings only, one per bit. */
        say(&o,
            "Tertiary processor-based VM-execution controls (IA32_VMX_PROCBASED_CTLS3 "
            "0x%016llx)",
            (unsigned long long)r->procbased3);
        for (size_t i = 0; i < COUNT(proc3_controls); i++)
            item(&o, proc3_controls[i].name,
                 (r->procbased3 >> proc3_controls[i].bit) & 1 ? "yes" : "no");
    }
    print_controls(&o, "VM-exit controls", "IA32_VMX_EXIT_CTLS", r->exit, "IA32_VMX_TRUE_EXIT_CTLS",
                   r->true_exit, r->has_true, exit_controls, COUNT(exit_controls));
    print_controls(&o, "VM-entry controls", "IA32_VMX_ENTRY_CTLS", r->entry,
                   "IA32_VMX_TRUE_ENTRY_CTLS", r->true_entry, r->has_true, entry_controls,
                   COUNT(entry_controls));
    print_misc(&o, r->misc);
    if (r->has_ept_vpid) {
        say(&o, "VPID and EPT capabilities (IA32_VMX_EPT_VPID_CAP 0x%016llx)",
            (unsigned long long)r->ept_vpid);
        for (size_t i = 0; i < COUNT(ept_bits); i++)
            item_bool(&o, ept_bits[i].name, (r->ept_vpid >> ept_bits[i].bit) & 1);
    } else {
        say(&o, "VPID and EPT capabilities: not available");
    }
    if (r->has_vmfunc) {
        say(&o, "VM functions (IA32_VMX_VMFUNC 0x%016llx)", (unsigned long long)r->vmfunc);
        item_bool(&o, "EPTP switching", r->vmfunc & 1);
    }
    print_fixed(&o, "CR0", r->cr0_fixed0, r->cr0_fixed1, cr0_names, COUNT(cr0_names));
    print_fixed(&o, "CR4", r->cr4_fixed0, r->cr4_fixed1, cr4_names, COUNT(cr4_names));
    /* A.9: bits 9:1 of IA32_VMX_VMCS_ENUM are the highest index in VMCS field encodings. */
    say(&o, "VMCS enumeration (IA32_VMX_VMCS_ENUM 0x%llx)", (unsigned long long)r->vmcs_enum);
    say(&o, "  %-46s 0x%x", "Highest field index", (unsigned)((r->vmcs_enum >> 1) & 0x1FF));
    print_verdict(&o, r);
}
