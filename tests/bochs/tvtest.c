/* tvtest.efi: guest-side checks of a running Trapvisor that edutest does not make.
 *
 * Run from the UEFI shell after trapvisor.efi. One line per check
 * ("tvtest: <check> ... ok|FAIL"), then "tvtest: <N> passed, <M> failed"; returns
 * EFI_SUCCESS only when every check passed. What each check proves:
 *   cpuid-*              CPUID.1:ECX[31] set, VMX hidden, the 0x40000000 signature
 *   signature-every-cpu  each CPU, the BSP and every AP (through MP Services, each call an
 *                        INIT-SIPI-SIPI to the AP in OVMF), reports the signature, five times
 *   hypercall-*          VMCALL version / bad function / bad arguments get status codes
 *   hidden-*             the hypervisor's own memory reads all ones from the guest and a
 *                        guest write there changes nothing (read back through the
 *                        hypervisor with TV_HC_HIDDEN_PROBE)
 *   vmxon-ud, vmx-msr-gp, feature-control-locked   VMX is hidden as on a CPU without it
 *   bar-move-every-cpu   a BAR the guest moves is re-trapped: every CPU sees the device at
 *                        the new address only, and again after moving it back
 *   bar-unsupported-ud   an instruction the decoder does not emulate, on edu's BAR0, gives
 *                        #UD, and the device and hypervisor keep working afterwards
 * Exceptions are caught by temporarily replacing the #UD and #GP gates of the current IDT;
 * each probe names the length of its faulting instruction so the handler can skip it. */
#include <efi.h>
#include <efilib.h>
#include <stdbool.h>

#include "lib/efi_mp.h"
#include "lib/fmt.h"
#include "vmx/hypercall_abi.h"

static unsigned passed, failed;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[200];
    CHAR16 w[200];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    unsigned i = 0, j = 0;
    for (; buf[i] && j + 2 < 200; i++) {
        if (buf[i] == '\n')
            w[j++] = '\r';
        w[j++] = (CHAR16)(unsigned char)buf[i];
    }
    w[j] = 0;
    ST->ConOut->OutputString(ST->ConOut, w);
}

static void check(const char *name, bool ok, const char *detail)
{
    if (ok)
        passed++;
    else
        failed++;
    out("tvtest: %s ... %s%s%s\n", name, ok ? "ok" : "FAIL", detail[0] ? " " : "", detail);
}

/* --- exception catching --------------------------------------------------------------- */

volatile uint64_t tv_ud_count, tv_gp_count, tv_skip;

__asm__(".text\n"
        ".globl tv_ud_handler\n"
        "tv_ud_handler:\n"
        "  push %rax\n"
        "  lock incq tv_ud_count(%rip)\n"
        "  mov tv_skip(%rip), %rax\n"
        "  add %rax, 8(%rsp)\n" /* RIP of the faulting instruction */
        "  pop %rax\n"
        "  iretq\n"
        ".globl tv_gp_handler\n"
        "tv_gp_handler:\n"
        "  push %rax\n"
        "  lock incq tv_gp_count(%rip)\n"
        "  mov tv_skip(%rip), %rax\n"
        "  add %rax, 16(%rsp)\n" /* error code at 8, RIP at 16 */
        "  pop %rax\n"
        "  add $8, %rsp\n"
        "  iretq\n");
extern char tv_ud_handler[], tv_gp_handler[];

/* #DB (a trap: the frame's RIP is the next instruction, RFLAGS at 16): counts it, keeps that
 * RIP and DR6, and clears TF in the saved RFLAGS so the single step ends there. */
volatile uint64_t tv_db_count, tv_db_rip, tv_db_dr6;
__asm__(".text\n"
        ".globl tv_db_handler\n"
        "tv_db_handler:\n"
        "  push %rax\n"
        "  lock incq tv_db_count(%rip)\n"
        "  mov 8(%rsp), %rax\n"
        "  mov %rax, tv_db_rip(%rip)\n"
        "  mov %dr6, %rax\n"
        "  mov %rax, tv_db_dr6(%rip)\n"
        "  andq $~0x100, 24(%rsp)\n"
        "  pop %rax\n"
        "  iretq\n");
extern char tv_db_handler[];

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

static uint64_t saved_gate[2][2];

static void set_gate(uint64_t *idt, unsigned v, void *handler, uint16_t cs)
{
    uint64_t h = (uint64_t)(uintptr_t)handler;
    idt[2 * v] = (h & 0xFFFF) | ((uint64_t)cs << 16) | (0x8Eull << 40) | ((h >> 16) & 0xFFFF) << 48;
    idt[2 * v + 1] = h >> 32;
}

static uint64_t *catch_begin(void)
{
    struct dtr idtr;
    uint16_t cs;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    uint64_t *idt = (uint64_t *)(uintptr_t)idtr.base;
    __asm__ volatile("cli");
    saved_gate[0][0] = idt[12];
    saved_gate[0][1] = idt[13];
    saved_gate[1][0] = idt[26];
    saved_gate[1][1] = idt[27];
    set_gate(idt, 6, tv_ud_handler, cs);
    set_gate(idt, 13, tv_gp_handler, cs);
    return idt;
}

static void catch_end(uint64_t *idt)
{
    idt[12] = saved_gate[0][0];
    idt[13] = saved_gate[0][1];
    idt[26] = saved_gate[1][0];
    idt[27] = saved_gate[1][1];
    __asm__ volatile("sti");
}

/* --- helpers -------------------------------------------------------------------------- */

static void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static bool sig_ok(const uint32_t r[4])
{
    return r[1] == TV_CPUID_SIG_EBX && r[2] == TV_CPUID_SIG_ECX && r[3] == TV_CPUID_SIG_EDX;
}

struct hc {
    uint64_t a, b, c, d;
};

static struct hc vmcall(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    struct hc r = {a, b, c, d};
    __asm__ volatile("vmcall" : "+a"(r.a), "+b"(r.b), "+c"(r.c), "+d"(r.d) : : "memory");
    return r;
}

static uint32_t cfg_read32(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    uint32_t v;
    uint32_t addr = 0x80000000u | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xFC);
    __asm__ volatile("outl %0, %1" : : "a"(addr), "Nd"((uint16_t)0xCF8));
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"((uint16_t)0xCFC));
    return v;
}

/* --- MP Services (PI Spec Vol. 2, 13.4) ----------------------------------------------- */

static VOID EFIAPI read_sig(VOID *arg)
{
    cpuid(TV_CPUID_LEAF_SIGNATURE, arg);
}

static struct mp_services *find_mp(UINTN *n, UINTN *self)
{
    static EFI_GUID mp_guid = MP_SERVICES_GUID;
    struct mp_services *mp = 0;
    UINTN en = 1;
    *n = 1;
    *self = 0;
    if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp)) || !mp)
        return 0;
    mp->get_number_of_processors(mp, n, &en);
    mp->who_am_i(mp, self);
    return mp;
}

struct bar_probe {
    uint64_t addr_new, addr_old;
    uint32_t id_new, id_old;
};

static VOID EFIAPI read_ids(VOID *arg)
{
    struct bar_probe *p = arg;
    p->id_new = *(volatile uint32_t *)(uintptr_t)p->addr_new;
    p->id_old = *(volatile uint32_t *)(uintptr_t)p->addr_old;
}

static void cfg_write32(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v)
{
    uint32_t addr = 0x80000000u | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xFC);
    __asm__ volatile("outl %0, %1" : : "a"(addr), "Nd"((uint16_t)0xCF8));
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"((uint16_t)0xCFC));
}

/* The device number of edu (1234:11e8) on bus 0, or 32 when there is none. */
static unsigned edu_device(void)
{
    for (unsigned dev = 0; dev < 32; dev++)
        if (cfg_read32(0, dev, 0, 0) == 0x11e81234u)
            return dev;
    return 32;
}

/* The guest moves edu's BAR0 16 MiB up (memory decode stays on): Trapvisor restores the old
 * pages, traps the new ones and flushes every CPU before the writing CPU goes on. Every CPU
 * then finds the device at the new address and not at the old one; then it moves back. */
static void test_bar_move_every_cpu(void)
{
    unsigned dev = edu_device();
    if (dev == 32) {
        check("bar-move-every-cpu", false, "(no edu on bus 0)");
        return;
    }
    uint32_t old = cfg_read32(0, dev, 0, 0x10) & ~0xFu;
    uint32_t moved = old + 0x01000000u;
    UINTN n, self;
    struct mp_services *mp = find_mp(&n, &self);
    unsigned good = 0, total = 0;
    for (unsigned round = 0; round < 2; round++) {
        cfg_write32(0, dev, 0, 0x10, moved);
        for (UINTN i = 0; i < n; i++) {
            struct bar_probe p = {moved, old, 0, 0};
            if (i == self)
                read_ids(&p);
            else if (!mp ||
                     EFI_ERROR(mp->startup_this_ap(mp, read_ids, i, NULL, 2000000, &p, NULL)))
                continue;
            total++;
            good += p.id_new == 0x010000edu && p.id_old != 0x010000edu;
        }
        cfg_write32(0, dev, 0, 0x10, old);
        struct bar_probe back = {old, moved, 0, 0};
        read_ids(&back);
        total++;
        good += back.id_new == 0x010000edu && back.id_old != 0x010000edu;
    }
    char d[80];
    fmt_snprintf(d, sizeof(d), "(0x%x -> 0x%x and back, %u of %u views right)", old, moved, good,
                 total);
    check("bar-move-every-cpu", good == total && total == 2 * (n + 1), d);
}

static void test_signature_every_cpu(void)
{
    static EFI_GUID mp_guid = MP_SERVICES_GUID;
    struct mp_services *mp = 0;
    UINTN n = 1, en = 1;
    if (!EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp)) && mp)
        mp->get_number_of_processors(mp, &n, &en);
    UINTN self = 0;
    if (mp)
        mp->who_am_i(mp, &self);
    unsigned good = 0, total = 0;
    for (unsigned round = 0; round < 5; round++) {
        for (UINTN i = 0; i < n; i++) {
            uint32_t r[4] = {0};
            if (i == self)
                read_sig(r);
            else if (EFI_ERROR(mp->startup_this_ap(mp, read_sig, i, NULL, 2000000, r, NULL)))
                continue;
            total++;
            good += sig_ok(r);
        }
    }
    char d[64];
    fmt_snprintf(d, sizeof(d), "(%u of %u answers, %u CPU(s), 5 rounds)", good, total, (unsigned)n);
    check("signature-every-cpu", good == total && total == 5 * n, d);
}

/* --- the checks ----------------------------------------------------------------------- */

static void test_cpuid(void)
{
    uint32_t r[4];
    cpuid(1, r);
    check("cpuid-hypervisor-bit", r[2] & (1u << 31), "");
    check("cpuid-vmx-hidden", !(r[2] & (1u << 5)), "");
    cpuid(TV_CPUID_LEAF_SIGNATURE, r);
    check("cpuid-signature", sig_ok(r) && r[0] >= TV_CPUID_LEAF_SIGNATURE, "");
}

static void test_hypercalls(void)
{
    struct hc r = vmcall(TV_HC_VERSION, 0, 0, 0);
    char d[64];
    fmt_snprintf(d, sizeof(d), "(abi 0x%x, %u CPU(s))", (unsigned)r.b, (unsigned)r.c);
    check("hypercall-version", r.a == TV_HC_OK && r.b == TV_ABI_VERSION && r.c >= 1, d);
    r = vmcall(0x7777, 0, 0, 0);
    check("hypercall-unknown-enosys", r.a == TV_HC_ENOSYS, "");
    r = vmcall(TV_HC_HIDDEN_PROBE, ~0ull, 0, 0);
    check("hypercall-probe-out-of-range-einval", r.a == TV_HC_EINVAL, "");
    r = vmcall(TV_HC_STATS_SNAPSHOT, 0x1000, 8, 0);
    check("hypercall-snapshot-small-etoosmall", r.a == TV_HC_ETOOSMALL && r.b > 8, "");
    struct hc p = vmcall(TV_HC_HIDDEN_PROBE, 0, 0, 0);
    r = vmcall(TV_HC_STATS_SNAPSHOT, p.b, 1u << 30, 0);
    check("hypercall-snapshot-into-hidden-efault", r.a == TV_HC_EFAULT, "");
}

static void test_hidden(void)
{
    struct hc p = vmcall(TV_HC_HIDDEN_PROBE, 0, 0, 0);
    char d[96];
    fmt_snprintf(d, sizeof(d), "(region 0x%llx, %llu KiB)", (unsigned long long)p.b,
                 (unsigned long long)(p.c >> 10));
    check("hidden-probe", p.a == TV_HC_OK && p.c >= 4096, d);
    if (p.a != TV_HC_OK)
        return;
    volatile uint64_t *g = (volatile uint64_t *)(uintptr_t)p.b;
    uint64_t before = p.d;
    uint64_t seen = g[0];
    fmt_snprintf(d, sizeof(d), "(guest 0x%llx, hypervisor 0x%llx)", (unsigned long long)seen,
                 (unsigned long long)before);
    check("hidden-read-all-ones", seen == ~0ull && before != ~0ull, d);
    g[0] = 0x5a5a5a5a5a5a5a5aull;
    struct hc q = vmcall(TV_HC_HIDDEN_PROBE, 0, 0, 0);
    fmt_snprintf(d, sizeof(d), "(hypervisor 0x%llx after)", (unsigned long long)q.d);
    check("hidden-write-changes-nothing", q.a == TV_HC_OK && q.d == before && g[0] == ~0ull, d);
}

static void test_vmx_hidden(void)
{
    static uint64_t region[512] __attribute__((aligned(4096)));
    uint64_t pa = (uint64_t)(uintptr_t)region;
    uint64_t *idt = catch_begin();
    tv_ud_count = tv_gp_count = 0;
    tv_skip = 4; /* vmxon (%rax) = f3 0f c7 30 */
    __asm__ volatile("vmxon (%0)" : : "a"(&pa) : "memory");
    uint64_t ud = tv_ud_count;
    /* RDMSR 0x480 (IA32_VMX_BASIC): #GP on a CPU without VMX. 0f 32 is 2 bytes. */
    tv_skip = 2;
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(0x480u));
    uint64_t gp = tv_gp_count;
    catch_end(idt);
    check("vmxon-ud", ud == 1, "");
    check("vmx-msr-gp", gp == 1, "");
    uint64_t fc;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x3Au));
    fc = ((uint64_t)hi << 32) | lo;
    check("feature-control-locked-vmx-off", (fc & 1) && !(fc & 6), "");
}

/* An instruction Trapvisor emulates (an edu MMIO read through the fast path, CPUID through
 * the C path since TF is set) must end in the single-step trap the CPU would raise: #DB after
 * it, RIP at the next instruction, DR6.BS set (SDM Vol. 3A, 18.3.1.4; Trapvisor sets BS in the
 * pending debug exceptions, Vol. 3C 25.4.2). POPF sets TF, so the trap follows the instruction
 * after it (SDM Vol. 3A, 18.3.1.4). */
static void single_step_over(const char *name, int which, uint32_t bar)
{
    struct dtr idtr;
    uint16_t cs;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    uint64_t *idt = (uint64_t *)(uintptr_t)idtr.base;
    __asm__ volatile("cli");
    uint64_t saved[2] = {idt[2], idt[3]};
    set_gate(idt, 1, tv_db_handler, cs);
    tv_db_count = tv_db_rip = 0;
    __asm__ volatile("mov %0, %%dr6" : : "r"(0xFFFF0FF0ull));
    uint64_t next = 0;
    uint32_t value = 0;
    if (which == 0) {
        __asm__ volatile("pushfq\n\t"
                         "orq $0x100, (%%rsp)\n\t"
                         "popfq\n\t"
                         "movl (%2), %0\n\t"
                         "1:\n\t"
                         "lea 1b(%%rip), %1\n\t"
                         : "=&r"(value), "=&r"(next)
                         : "r"((uint64_t)bar)
                         : "memory", "cc");
    } else {
        uint32_t b, c, d;
        __asm__ volatile("pushfq\n\t"
                         "orq $0x100, (%%rsp)\n\t"
                         "popfq\n\t"
                         "cpuid\n\t"
                         "1:\n\t"
                         "lea 1b(%%rip), %1\n\t"
                         : "=a"(value), "=&r"(next), "=b"(b), "=c"(c), "=d"(d)
                         : "a"(TV_CPUID_LEAF_SIGNATURE), "c"(0)
                         : "memory", "cc");
    }
    idt[2] = saved[0];
    idt[3] = saved[1];
    __asm__ volatile("sti");
    bool value_ok = which == 0 ? value == 0x010000edu : value == TV_CPUID_LEAF_SIGNATURE;
    char d[96];
    fmt_snprintf(d, sizeof(d), "(#DB %u at 0x%llx, expected 0x%llx, DR6 0x%llx, value 0x%x)",
                 (unsigned)tv_db_count, (unsigned long long)tv_db_rip, (unsigned long long)next,
                 (unsigned long long)tv_db_dr6, value);
    check(name, tv_db_count == 1 && tv_db_rip == next && (tv_db_dr6 & (1u << 14)) && value_ok, d);
}

static void test_single_step(void)
{
    unsigned dev = edu_device();
    uint32_t bar = dev < 32 ? cfg_read32(0, dev, 0, 0x10) & ~0xFu : 0;
    if (!bar) {
        check("single-step-after-mmio-read", false, "(no edu on bus 0)");
        return;
    }
    single_step_over("single-step-after-mmio-read", 0, bar);
    single_step_over("single-step-after-cpuid", 1, 0);
}

static void test_bar_unsupported(void)
{
    unsigned dev = edu_device();
    uint32_t bar = dev < 32 ? cfg_read32(0, dev, 0, 0x10) & ~0xFu : 0;
    if (!bar) {
        check("bar-unsupported-ud", false, "(no edu on bus 0)");
        return;
    }
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    uint64_t *idt = catch_begin();
    tv_ud_count = tv_gp_count = 0;
    tv_skip = 2; /* flds (%rax) = d9 00 */
    __asm__ volatile("flds (%0)" : : "a"((uint64_t)bar) : "memory");
    uint64_t ud = tv_ud_count;
    catch_end(idt);
    uint32_t id = mmio[0];
    uint32_t r[4];
    cpuid(TV_CPUID_LEAF_SIGNATURE, r);
    char d[64];
    fmt_snprintf(d, sizeof(d), "(#UD %u, then edu id 0x%x)", (unsigned)ud, id);
    check("bar-unsupported-ud", ud == 1 && id == 0x010000edu && sig_ok(r), d);
}

/* --x2apic: switch this CPU's local APIC from xAPIC to x2APIC mode (IA32_APIC_BASE bit 10
 * with bit 11 still set: the one legal direct transition, SDM Vol. 3A 11.12.5, Figure 11-27)
 * so that a following edutest proves MSI delivery to an x2APIC guest. OVMF's local-APIC
 * library reads the mode on every access, so the firmware keeps working. */
#define MSR_IA32_APIC_BASE 0x1Bu
#define APIC_BASE_ENABLE   (1ull << 11)
#define APIC_BASE_X2APIC   (1ull << 10)

static bool has_option(EFI_HANDLE image, const CHAR16 *opt)
{
    EFI_LOADED_IMAGE *li = NULL;
    if (EFI_ERROR(
            uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li)) ||
        !li || !li->LoadOptions)
        return false;
    const CHAR16 *w = li->LoadOptions;
    UINTN n = li->LoadOptionsSize / sizeof(CHAR16), len = StrLen((CHAR16 *)opt);
    for (UINTN i = 0; i + len <= n; i++) {
        UINTN k = 0;
        while (k < len && w[i + k] == opt[k])
            k++;
        if (k == len)
            return true;
    }
    return false;
}

static void switch_to_x2apic(void)
{
    uint32_t r[4];
    cpuid(1, r);
    if (!(r[2] & (1u << 21))) {
        check("x2apic-enabled", false, "(CPUID.1:ECX.x2APIC is 0)");
        return;
    }
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_IA32_APIC_BASE));
    uint64_t base = (uint64_t)hi << 32 | lo;
    if (!(base & APIC_BASE_X2APIC)) {
        base |= APIC_BASE_ENABLE | APIC_BASE_X2APIC;
        __asm__ volatile("wrmsr"
                         :
                         : "c"(MSR_IA32_APIC_BASE), "a"((uint32_t)base),
                           "d"((uint32_t)(base >> 32)));
    }
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_IA32_APIC_BASE));
    bool on = (lo & APIC_BASE_X2APIC) != 0;
    check("x2apic-enabled", on, on ? "" : "(IA32_APIC_BASE.EXTD did not stick)");
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    InitializeLib(image, st);
    if (has_option(image, L"--x2apic")) {
        switch_to_x2apic();
        out("tvtest: %u passed, %u failed\n", passed, failed);
        return failed ? EFI_ABORTED : EFI_SUCCESS;
    }
    out("tvtest: start\n");
    uint32_t r[4];
    cpuid(TV_CPUID_LEAF_SIGNATURE, r);
    if (!sig_ok(r)) {
        check("trapvisor-running", false, "(no signature: start trapvisor.efi first)");
    } else {
        test_cpuid();
        test_hypercalls();
        test_hidden();
        test_vmx_hidden();
        test_bar_unsupported();
        test_single_step();
        test_signature_every_cpu();
        test_bar_move_every_cpu();
    }
    out("tvtest: %u passed, %u failed\n", passed, failed);
    return failed ? EFI_ABORTED : EFI_SUCCESS;
}
