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
 *   cr0-pg-clear-in-64-bit-mode-gp   a MOV to CR0 clearing PG in 64-bit mode: #GP, CR0 as it
 *                        was (Trapvisor owns CR0.PG, so the fault is its own to raise)
 *   bar-move-every-cpu   a BAR the guest moves is re-trapped: every CPU sees the device at
 *                        the new address only, and again after moving it back
 *   bar-unsupported-ud   an instruction the decoder does not emulate, on edu's BAR0, gives
 *                        #UD, and the device and hypervisor keep working afterwards
 *   single-step-*        an emulated MMIO read and CPUID end in the single-step #DB
 *   mmio-site-page-end   MMIO instructions in the last 14 bytes of a page get sites too
 *                        (replayed by the full hook); one crossing into the next page is
 *                        the general path's
 *   mmio-site-*          remembered MMIO sites (boot/mmio.c) replay only what the instruction
 *                        at RIP does now: new bytes at the same RIP, RBP/R12-R15 operands,
 *                        every width, one RIP reaching two registers, one RIP under
 *                        page-table roots that map it to other code, more MMIO
 *                        instructions at once than a CPU keeps sites, and operands other than
 *                        base + displacement (index * scale, FS/GS base, 32-bit address with
 *                        its wrap, RIP-relative) replayed after one fill, never the general path
 *   long-mode-round-trip from 64-bit code to compatibility mode, CR0.PG cleared (EFER.LMA 0),
 *                        EFER.LME cleared, edu's registers read and written in 32-bit
 *                        protected mode without paging and read under PAE paging (PDPTEs
 *                        loaded) and 32-bit paging (4 MiB pages), LME and PG set again with
 *                        the same CR3 (LMA 1), back to 64-bit code: CR0/CR4/EFER/CR3, GDT
 *                        and selectors as before, and edu's ID through one 64-bit RIP
 *                        replayed before the trip and filled again after it (the sites
 *                        forgotten); the six MOVs to CR0 and seven edu accesses exited, no #GP
 *   pae-pdpte-checked    the same trip, first trying PAE paging with PDPTs Trapvisor must refuse
 *                        (a reserved bit in a present PDPTE; the hypervisor's hidden memory,
 *                        all ones to the guest): each MOV to CR0 gives one #GP(0) and leaves
 *                        CR0.PG clear and EFER as it was; then the good PDPT serves edu
 * With --delivery-into-bar it only raises an exception whose frame goes into edu's BAR (see
 * delivery_into_bar); with --x2apic it only switches the BSP's local APIC to x2APIC mode;
 * with --long-mode-upper-halves it only makes the long-mode round trip with bits 63:32 of the
 * registers it moves to CR0 from 32-bit code set (the CPU ignores them there: SDM Vol. 2A, MOV
 * to CR0 outside 64-bit mode takes 32 bits). Not in check-bochs: Trapvisor at this tree
 * injects #GP for it (vmx/exit.c handle_cr_access takes all 64 bits).
 * Exceptions are caught by temporarily replacing the #UD and #GP gates of the current IDT;
 * each probe names the length of its faulting instruction so the handler can skip it. */
#include <efi.h>
#include <efilib.h>
#include <stdbool.h>

#include "lib/efi_mp.h"
#include "lib/cr.h"
#include "lib/fmt.h"
#include "vmx/hypercall_abi.h"
#include "vmx/stats_abi.h"

static unsigned passed, failed;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[320];
    CHAR16 w[320];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    unsigned i = 0, j = 0;
    for (; buf[i] && j + 2 < sizeof(w) / sizeof(w[0]); i++) {
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

/* edu's BAR0 (memory BAR, 32-bit), or 0 when there is no edu on bus 0. */
static uint32_t edu_bar0(void)
{
    unsigned dev = edu_device();
    return dev < 32 ? cfg_read32(0, dev, 0, 0x10) & ~0xFu : 0;
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
    /* MOV to CR0 clearing PG in 64-bit mode: #GP(0) (SDM Vol. 2A, MOV to CR0). Trapvisor owns
     * CR0.PG (every change of the paging mode exits, so the MMIO sites can be forgotten then),
     * so the fault is its to raise, and CR0 must stay as it was. 0f 22 c0 is 3 bytes. */
    const uint64_t cr0 = read_cr0();
    tv_gp_count = 0;
    tv_skip = 3;
    __asm__ volatile("mov %0, %%cr0" : : "a"(cr0 & ~(1ull << 31)) : "memory");
    uint64_t pg_gp = tv_gp_count;
    catch_end(idt);
    check("vmxon-ud", ud == 1, "");
    check("vmx-msr-gp", gp == 1, "");
    char d[80];
    fmt_snprintf(d, sizeof(d), "(%llu #GP, cr0 0x%llx -> 0x%llx)", (unsigned long long)pg_gp,
                 (unsigned long long)cr0, (unsigned long long)read_cr0());
    check("cr0-pg-clear-in-64-bit-mode-gp", pg_gp == 1 && read_cr0() == cr0, d);
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
    uint32_t bar = edu_bar0();
    if (!bar) {
        check("single-step-after-mmio-read", false, "(no edu on bus 0)");
        return;
    }
    single_step_over("single-step-after-mmio-read", 0, bar);
    single_step_over("single-step-after-cpuid", 1, 0);
}

static void test_bar_unsupported(void)
{
    uint32_t bar = edu_bar0();
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

/* --- MMIO sites (boot/mmio.c): a replay must do what the instruction at RIP does now ------- */

#define EDU_ID 0x010000edu

/* A loop count the compiler cannot see, so it cannot unroll a loop: each asm statement below
 * stays one instruction at one RIP, which exits the first time (the site is filled) and is
 * replayed after that. */
static volatile unsigned site_reps = 5;

/* Calls the code at fn with RAX, RCX, RDI and RSI as given; RAX and RCX come back as the code
 * left them (the stubs below touch nothing else). */
static void call_stub(void *fn, uint64_t *rax, uint64_t *rcx, uint64_t rdi, uint64_t rsi)
{
    uint64_t a = *rax, c = *rcx;
    __asm__ volatile("call *%[fn]"
                     : "+a"(a), "+c"(c)
                     : [fn] "r"(fn), "D"(rdi), "S"(rsi)
                     : "memory", "cc");
    *rax = a;
    *rcx = c;
}

/* Writes a stub at the start of the code page and serializes, so the next call executes the
 * new bytes (SDM Vol. 3A, 8.1.3: a serializing instruction after modifying code). The rest of
 * the page stays int3 (0xcc): the 15 bytes a site remembers change only where the stub does. */
static void patch_stub(volatile uint8_t *code, const uint8_t *bytes, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        code[i] = bytes[i];
    uint32_t r[4];
    cpuid(0, r);
}

/* One phase of test_site_new_bytes_same_rip: the stub's bytes and what each call must do. */
struct stub_phase {
    const uint8_t *bytes;
    unsigned len;
    uint32_t bar_offset; /* RDI = BAR + this: 0 the ID register, 4 liveness */
    uint64_t rax, rcx;   /* preset before each call */
    char loads;          /* 'a': RAX gets the value read, 'c': RCX; 0: a store of ESI to liveness */
    uint64_t rsi;        /* RSI for a load */
    const char *name;
};

/* One RIP, one address, one size, new bytes: `mov eax,[rdi]` (filled and replayed), patched in
 * place to `mov ecx,[rdi]`, then to the store `mov [rdi+4],esi`, then back to the load (at
 * BAR+4). A replay that trusted the remembered instruction would write the wrong register,
 * load instead of store or store instead of load. */
static void test_site_new_bytes_same_rip(uint32_t bar)
{
    static const uint8_t load_eax[] = {0x8b, 0x07, 0xc3};        /* mov eax,[rdi]; ret */
    static const uint8_t load_ecx[] = {0x8b, 0x0f, 0xc3};        /* mov ecx,[rdi]; ret */
    static const uint8_t store_esi[] = {0x89, 0x77, 0x04, 0xc3}; /* mov [rdi+4],esi; ret */
    static const uint8_t load_eax_again[] = {0x8b, 0x07, 0xc3, 0xcc};
    static const struct stub_phase phases[] = {
        {load_eax, sizeof load_eax, 0, 0xA5A5A5A511111111ull, 0xC3C3C3C322222222ull, 'a', 0,
         "the eax load"},
        {load_ecx, sizeof load_ecx, 0, 0xA5A5A5A533333333ull, 0xC3C3C3C344444444ull, 'c', 0,
         "the ecx load"},
        {store_esi, sizeof store_esi, 0, 0xA5A5A5A555555555ull, 0xC3C3C3C366666666ull, 0, 0,
         "the store"},
        {load_eax_again, sizeof load_eax_again, 4, 0xA5A5A5A577777777ull, 0xC3C3C3C388888888ull,
         'a', 0x0123456789abcdefull, "the load after the store"},
    };
    const unsigned n_phases = sizeof phases / sizeof phases[0];
    EFI_PHYSICAL_ADDRESS page = 0;
    if (EFI_ERROR(
            uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode, 1, &page))) {
        check("mmio-site-new-bytes-same-rip", false, "(no EfiLoaderCode page)");
        return;
    }
    volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)page;
    for (unsigned i = 0; i < 4096; i++)
        code[i] = 0xcc;
    void *fn = (void *)(uintptr_t)page;
    const unsigned n = site_reps;
    unsigned good = 0, total = 0;
    const char *first_wrong = 0;
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    const uint32_t liveness_before = mmio[1];
    uint32_t last = 0;   /* the last value stored to liveness */
    bool stored = false; /* from then on liveness must read ~last */
    for (unsigned p = 0; p < n_phases; p++) {
        const struct stub_phase *ph = &phases[p];
        patch_stub(code, ph->bytes, ph->len);
        for (unsigned i = 0; i < n; i++) {
            uint64_t rsi = ph->rsi;
            if (!ph->loads) {
                last = 0x5eed0000u + i * 0x101u;
                rsi = 0xFFFFFFFF00000000ull | last;
                stored = true;
            }
            uint64_t a = ph->rax, c = ph->rcx;
            call_stub(fn, &a, &c, bar + ph->bar_offset, rsi);
            const uint64_t value = ph->bar_offset == 0 ? EDU_ID : (uint32_t)~last;
            bool ok = a == (ph->loads == 'a' ? value : ph->rax) &&
                      c == (ph->loads == 'c' ? value : ph->rcx) && (!stored || mmio[1] == ~last);
            good += ok;
            total++;
            if (!ok && !first_wrong)
                first_wrong = ph->name;
        }
    }
    mmio[1] = ~liveness_before; /* liveness reads the inverse of what was written */
    uefi_call_wrapper(BS->FreePages, 2, page, 1);
    char d[120];
    fmt_snprintf(d, sizeof(d),
                 "(code at 0x%llx: eax load, ecx load, store, load, %u each: %u of %u right%s%s)",
                 (unsigned long long)page, n, good, total, first_wrong ? ", first wrong in " : "",
                 first_wrong ? first_wrong : "");
    check("mmio-site-new-bytes-same-rip", good == total && total == n_phases * n && n > 1, d);
}

/* Sites naming RBP or R12-R15 (which the light hook does not have: the full hook replays
 * them) as base, index, destination and source. Each destination is all ones before its
 * 32-bit load, so the load must zero-extend into the upper half (SDM Vol. 1, 3.4.1.1). RBP is
 * saved and restored inside the asm (it may be the frame pointer). */
static void test_site_callee_saved_registers(uint32_t bar)
{
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    const uint32_t liveness_before = mmio[1];
    const unsigned n = site_reps;
    unsigned good = 0, total = 0;
    uint64_t seen[4] = {0};
    for (unsigned i = 0; i < n; i++) {
        uint64_t value = 0xF00DF00D00000000ull | (0x600d0000u + i * 0x111u);
        uint64_t rbp_id, r13_id, r15_live;
        register uint64_t r12_live __asm__("r8");
        __asm__ volatile("push %%rbp\n\t"
                         "mov %%rdi, %%r12\n\t"
                         "mov $-1, %%r13\n\t"
                         "mov $-1, %%rbp\n\t"
                         "mov (%%r12), %%r13d\n\t" /* base r12, destination r13 */
                         "mov (%%r12), %%ebp\n\t"  /* destination rbp */
                         "mov %%rbp, %%rax\n\t"
                         "mov %%r13, %%rdx\n\t"
                         "mov %%rsi, %%r14\n\t"
                         "mov %%r14d, 4(%%r12)\n\t" /* source r14 */
                         "mov $-1, %%r15\n\t"
                         "mov 4(%%r12), %%r15d\n\t" /* destination r15 */
                         "mov %%r15, %%rcx\n\t"
                         "mov %%rdi, %%rbp\n\t"
                         "mov $4, %%r13\n\t"
                         "mov $-1, %%r12\n\t"
                         "mov (%%rbp,%%r13,1), %%r12d\n\t" /* base rbp, index r13, dest r12 */
                         "mov %%r12, %%r8\n\t"
                         "pop %%rbp\n\t"
                         : "=a"(rbp_id), "=d"(r13_id), "=c"(r15_live), "=r"(r12_live)
                         : "D"((uint64_t)bar), "S"(value)
                         : "memory", "r12", "r13", "r14", "r15");
        const uint64_t want_live = (uint32_t) ~(uint32_t)value;
        bool ok =
            rbp_id == EDU_ID && r13_id == EDU_ID && r15_live == want_live && r12_live == want_live;
        good += ok;
        total++;
        if (!ok) {
            seen[0] = rbp_id;
            seen[1] = r13_id;
            seen[2] = r15_live;
            seen[3] = r12_live;
        }
    }
    mmio[1] = ~liveness_before;
    char d[160];
    if (good == total)
        fmt_snprintf(d, sizeof(d), "(r13/rbp/r15/r12 loads, r14 store, %u rounds right)", total);
    else
        fmt_snprintf(d, sizeof(d),
                     "(%u of %u rounds right; wrong: rbp 0x%llx r13 0x%llx "
                     "r15 0x%llx r12 0x%llx)",
                     good, total, (unsigned long long)seen[0], (unsigned long long)seen[1],
                     (unsigned long long)seen[2], (unsigned long long)seen[3]);
    check("mmio-site-callee-saved-registers", good == total && n > 1, d);
}

/* Every access width a site can have, at fixed RIPs, filled then replayed. By QEMU's rules
 * (devices/edu.c, edu_access_valid) a 1- or 2-byte read of edu reads 0 and such a write is
 * dropped, so a replay that used the size of another access shows. Partial-register rules
 * (SDM Vol. 1, 3.4.1.1): an 8- or 16-bit load keeps the register's other bits, AH is bits 15:8,
 * a 32-bit load zero-extends, MOVSXD sign-extends. 0x80 is the DMA source (a 64-bit register);
 * 0x84, its upper half, is no register of its own for a 4-byte read: all ones. */
static void test_site_widths(uint32_t bar)
{
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    volatile uint64_t *dma_src = (volatile uint64_t *)(uintptr_t)(bar + 0x80u);
    const uint32_t liveness_before = mmio[1];
    const uint64_t src_before = *dma_src;
    const uint64_t b = bar, mix = 0x1122334455667788ull;
    const unsigned n = site_reps;
    unsigned good = 0, total = 0, wrong = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned bad = 0;
        uint64_t r = ~0ull;
        __asm__ volatile("movzbl (%1), %k0" : "+a"(r) : "D"(b) : "memory");
        bad |= (r != 0) << 0;
        r = ~0ull;
        __asm__ volatile("movzwl (%1), %k0" : "+a"(r) : "D"(b) : "memory");
        bad |= (r != 0) << 1;
        r = ~0ull;
        __asm__ volatile("movsbq (%1), %0" : "+a"(r) : "D"(b) : "memory");
        bad |= (r != 0) << 2;
        r = ~0ull;
        __asm__ volatile("movswq (%1), %0" : "+a"(r) : "D"(b) : "memory");
        bad |= (r != 0) << 3;
        r = mix;
        __asm__ volatile("movb (%1), %b0" : "+a"(r) : "D"(b) : "memory");
        bad |= (r != 0x1122334455667700ull) << 4;
        r = mix;
        __asm__ volatile("movw (%1), %w0" : "+a"(r) : "D"(b) : "memory");
        bad |= (r != 0x1122334455660000ull) << 5;
        r = mix;
        __asm__ volatile("movb (%1), %h0" : "+a"(r) : "D"(b) : "memory");
        bad |= (r != 0x1122334455660088ull) << 6;
        /* 1- and 2-byte stores to liveness change nothing. */
        const uint32_t live = 0x71570000u + i;
        mmio[1] = live;
        __asm__ volatile("movb %b0, 4(%1)" : : "a"(0x5au + i), "D"(b) : "memory");
        __asm__ volatile("movw %w0, 4(%1)" : : "a"(0xa5a5u + i), "D"(b) : "memory");
        bad |= (mmio[1] != ~live) << 7;
        /* 8-byte store and load of the DMA source; its low half by a 4-byte load. */
        const uint64_t v = 0x0123456789abcdefull ^ ((uint64_t)i << 44) ^ i;
        __asm__ volatile("movq %0, 0x80(%1)" : : "S"(v), "D"(b) : "memory");
        r = ~v;
        __asm__ volatile("movq 0x80(%1), %0" : "+d"(r) : "D"(b) : "memory");
        bad |= (r != v) << 8;
        r = ~0ull;
        __asm__ volatile("movl 0x80(%1), %k0" : "+d"(r) : "D"(b) : "memory");
        bad |= (r != (uint32_t)v) << 9;
        r = 0x5555555555555555ull;
        __asm__ volatile("movl 0x84(%1), %k0" : "+c"(r) : "D"(b) : "memory");
        bad |= (r != 0xFFFFFFFFull) << 10;
        r = 0;
        __asm__ volatile("movslq 0x84(%1), %0" : "+c"(r) : "D"(b) : "memory");
        bad |= (r != ~0ull) << 11;
        good += !bad;
        total++;
        wrong |= bad;
    }
    *dma_src = src_before;
    mmio[1] = ~liveness_before;
    char d[120];
    fmt_snprintf(d, sizeof(d), "(12 accesses of 1/2/4/8 bytes, %u of %u rounds right, wrong 0x%x)",
                 good, total, wrong);
    check("mmio-site-widths", good == total && n > 1, d);
}

/* One instruction, `mov eax,[rdi]`, with RDI alternating between the ID register (BAR+0) and
 * liveness (BAR+4): the same RIP and bytes, another address and another plain register (the
 * site keeps the one it was filled with, boot/mmio.c plain_offset). Twice: one copy of the
 * instruction first meets the ID, the other first meets liveness. The copies are stubs of
 * their own (a compiler may duplicate an asm statement; these stay one RIP each). Liveness is
 * rewritten before every read. */
__asm__(".text\n"
        ".globl tv_site_load_eax_a\n"
        "tv_site_load_eax_a:\n"
        "  mov (%rdi), %eax\n"
        "  ret\n"
        ".globl tv_site_load_eax_b\n"
        "tv_site_load_eax_b:\n"
        "  mov (%rdi), %eax\n"
        "  ret\n");
extern char tv_site_load_eax_a[], tv_site_load_eax_b[];

static void test_site_two_addresses_one_rip(uint32_t bar)
{
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    const uint32_t liveness_before = mmio[1];
    const unsigned n = 2 * site_reps;
    unsigned good = 0, total = 0;
    for (unsigned copy = 0; copy < 2; copy++) {
        void *fn = copy == 0 ? tv_site_load_eax_a : tv_site_load_eax_b;
        for (unsigned i = 0; i < n; i++) {
            const uint32_t live = 0x2a2a0000u + copy * 0x100u + i;
            mmio[1] = live;
            const uint64_t off = ((i + copy) & 1) ? 4 : 0;
            uint64_t a = 0xAAAAAAAAAAAAAAAAull, c = 0xCCCCCCCCCCCCCCCCull;
            call_stub(fn, &a, &c, bar + off, 0);
            good += a == (off ? (uint64_t)(uint32_t)~live : EDU_ID) && c == 0xCCCCCCCCCCCCCCCCull;
            total++;
        }
    }
    mmio[1] = ~liveness_before;
    char d[80];
    fmt_snprintf(d, sizeof(d), "(ID and liveness alternating, %u of %u reads right)", good, total);
    check("mmio-site-two-addresses-one-rip", good == total && n > 2, d);
}

static volatile const struct tv_stats_cpu *stats_of_this_cpu(void);

/* Writes a marked copy at `at`: the instruction's `len` bytes, then `mov edx,<k>; ret` (the
 * marker: a replay that went on after another copy returns its number). */
static void write_marked_copy(uint8_t *at, const uint8_t *bytes, unsigned len, uint32_t k)
{
    for (unsigned b = 0; b < len; b++)
        at[b] = bytes[b];
    at[len] = 0xba; /* mov edx, k; ret */
    __builtin_memcpy(at + len + 1, &k, 4);
    at[len + 5] = 0xc3;
}

/* Calls a copy of test_site_many_instructions: call_stub's registers, and EDX, which the copy's
 * marker sets. */
static void call_marked_copy(void *fn, uint64_t *rax, uint64_t *rcx, uint64_t rdi, uint64_t rsi,
                             uint64_t *rdx)
{
    uint64_t a = *rax, c = *rcx, d = *rdx;
    __asm__ volatile("call *%[fn]"
                     : "+a"(a), "+c"(c), "+d"(d)
                     : [fn] "r"(fn), "D"(rdi), "S"(rsi)
                     : "memory", "cc");
    *rax = a;
    *rcx = c;
    *rdx = d;
}

/* Many MMIO instructions at once: 192 copies at pseudo-random places in four pages of code (more
 * than a CPU's 128 sites in boot/mmio.c's 32 sets of 4, so sites are evicted and several sets
 * overflow; about six to a set), each a load of edu's ID register into EAX or ECX or a store of
 * ESI to liveness, followed by `mov edx,<copy number>; ret`, run in a scrambled order for several
 * rounds. A site found under another instruction's RIP, or a way refilled for the wrong one,
 * would load the wrong register, store where a load was, or go on after the other copy (its
 * number in EDX). Every MMIO exit of the check is a site's (filled or replayed): the statistics
 * must show none on the general path. */
static void test_site_many_instructions(uint32_t bar)
{
    enum { COPIES = 192, PAGES = 4, SLOTS = PAGES * 4096 / 16 };
    static const char name[] = "mmio-site-many-instructions";
    static const uint8_t forms[3][3] = {
        {0x8b, 0x07},       /* mov eax,[rdi] */
        {0x8b, 0x0f},       /* mov ecx,[rdi] */
        {0x89, 0x77, 0x04}, /* mov [rdi+4],esi */
    };
    static const uint8_t form_len[3] = {2, 2, 3};
    EFI_PHYSICAL_ADDRESS base = 0;
    if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode, PAGES,
                                    &base))) {
        check(name, false, "(no pages)");
        return;
    }
    uint8_t *code = (uint8_t *)(uintptr_t)base;
    for (unsigned i = 0; i < PAGES * 4096; i++)
        code[i] = 0xcc;
    static bool taken[SLOTS];
    for (unsigned i = 0; i < SLOTS; i++)
        taken[i] = false;
    uint8_t *at[COPIES];
    uint32_t x = 0x9e3779b9u;
    for (unsigned k = 0; k < COPIES; k++) {
        unsigned slot;
        do {
            x = x * 1664525u + 1013904223u;
            slot = (x >> 8) % SLOTS;
        } while (taken[slot]);
        taken[slot] = true;
        /* 9 bytes from there stay in the slot; in a page's last slot the 15 bytes a site
         * fetches stay in the page too (boot/mmio.c fills no site for an instruction whose 15
         * bytes reach into the next page: each of its exits takes the general path). */
        unsigned off = (x >> 27) % 8;
        if ((slot & 255) == 255 && off > 1)
            off = 1;
        at[k] = code + slot * 16 + off;
        write_marked_copy(at[k], forms[k % 3], form_len[k % 3], k);
    }
    uint32_t r[4];
    cpuid(0, r); /* serialize after writing code (SDM Vol. 3A, 8.1.3) */
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    const uint32_t liveness_before = mmio[1];
    unsigned good = 0, total = 0, first_wrong = ~0u;
    const unsigned rounds = site_reps;
    volatile const struct tv_stats_cpu *stats = stats_of_this_cpu();
    uint64_t general = 0, retry = 0, fill = 0, seen[3] = {0};
    if (stats) {
        general = stats->mmio_path[TV_MMIO_PATH_GENERAL];
        retry = stats->mmio_path[TV_MMIO_PATH_RETRY];
        fill = stats->mmio_path[TV_MMIO_PATH_FILL];
    }
    for (unsigned round = 0; round < rounds; round++) {
        for (unsigned j = 0; j < COPIES; j++) {
            const unsigned k = (j * 37u + round * 11u) % COPIES; /* 37 is prime to 192 */
            uint64_t a = 0xAAAAAAAAAAAAAAAAull, c = 0xCCCCCCCCCCCCCCCCull, dx = ~0ull;
            const uint32_t live = 0x51e00000u + round * 0x1000u + k;
            call_marked_copy(at[k], &a, &c, bar, live, &dx);
            bool ok = dx == k;
            if (k % 3 == 0)
                ok = ok && a == EDU_ID && c == 0xCCCCCCCCCCCCCCCCull;
            else if (k % 3 == 1)
                ok = ok && a == 0xAAAAAAAAAAAAAAAAull && c == EDU_ID;
            else
                ok = ok && a == 0xAAAAAAAAAAAAAAAAull && c == 0xCCCCCCCCCCCCCCCCull &&
                     mmio[1] == ~live;
            good += ok;
            total++;
            if (!ok && first_wrong == ~0u) {
                first_wrong = k;
                seen[0] = a;
                seen[1] = c;
                seen[2] = dx;
            }
        }
    }
    if (stats) {
        general = stats->mmio_path[TV_MMIO_PATH_GENERAL] - general;
        retry = stats->mmio_path[TV_MMIO_PATH_RETRY] - retry;
        fill = stats->mmio_path[TV_MMIO_PATH_FILL] - fill;
    }
    mmio[1] = ~liveness_before;
    uefi_call_wrapper(BS->FreePages, 2, base, PAGES);
    char d[240];
    char wrong[96] = "";
    if (first_wrong != ~0u)
        fmt_snprintf(wrong, sizeof(wrong),
                     ", first wrong: copy %u (rax 0x%llx rcx 0x%llx rdx 0x%llx)", first_wrong,
                     (unsigned long long)seen[0], (unsigned long long)seen[1],
                     (unsigned long long)seen[2]);
    fmt_snprintf(d, sizeof(d),
                 "(%u copies of 3 forms, %u rounds: %u of %u right%s; sites filled %llu, general "
                 "%llu, retried %llu%s)",
                 COPIES, rounds, good, total, wrong, (unsigned long long)fill,
                 (unsigned long long)general, (unsigned long long)retry,
                 stats ? "" : ", no statistics");
    check(name,
          good == total && total == COPIES * rounds && rounds > 1 && general == 0 && retry == 0, d);
}

/* edu's liveness register through one instruction, out of line so that every call is the same
 * RIP: its MMIO site is filled at the first call and replayed by the light hook after it. */
__attribute__((noinline)) static uint32_t read_liveness(volatile uint32_t *mmio)
{
    return mmio[1];
}

/* MMIO instructions in the last 14 bytes of a page: a site compares 15 code bytes, which from
 * such a RIP would reach into the next page, so boot/mmio.c compares the page's last 15 bytes
 * instead (code_back) and replays the site in the full hook. Copies that fit in the page at
 * offsets 4082..4094 (loads into EAX and ECX, a store of ESI to liveness) must each fill once
 * and then be replayed (the full path), none on the general path; one load whose 6 bytes cross
 * into the next page must take the general path every time. All must give the right values;
 * the tail `mov edx,<copy>; ret` lies in the next page. */
static void test_site_page_end(uint32_t bar)
{
    static const char name[] = "mmio-site-page-end";
    static const struct {
        uint16_t off;
        uint8_t len, form; /* form: 0 load EAX, 1 load ECX, 2 store ESI */
        uint8_t bytes[6];
    } copies[] = {
        {4082, 2, 0, {0x8b, 0x07}},       {4085, 2, 1, {0x8b, 0x0f}},
        {4088, 3, 2, {0x89, 0x77, 0x04}}, {4091, 2, 0, {0x8b, 0x07}},
        {4093, 3, 2, {0x89, 0x77, 0x04}}, {4094, 2, 1, {0x8b, 0x0f}},
    };
    enum { FITTING = sizeof copies / sizeof copies[0], ROUNDS = 6 };
    /* The crossing one: mov eax,[rdi+0] with a 32-bit displacement (8b 87 00 00 00 00) at 4092:
     * bytes 4092..4097. */
    static const uint8_t crossing[6] = {0x8b, 0x87, 0, 0, 0, 0};
    const unsigned crossing_off = 4092;
    EFI_PHYSICAL_ADDRESS base = 0;
    /* Two pages for the crossing one, and a pair for each fitting copy (the tails would
     * overlap otherwise). */
    if (EFI_ERROR(
            uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode, 2, &base))) {
        check(name, false, "(no pages)");
        return;
    }
    uint8_t *code = (uint8_t *)(uintptr_t)base;
    for (unsigned i = 0; i < 2 * 4096; i++)
        code[i] = 0xcc;
    uint8_t *at[FITTING + 1];
    EFI_PHYSICAL_ADDRESS more = 0;
    if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode,
                                    2 * FITTING, &more))) {
        uefi_call_wrapper(BS->FreePages, 2, base, 2);
        check(name, false, "(no pages)");
        return;
    }
    uint8_t *pairs = (uint8_t *)(uintptr_t)more;
    for (unsigned i = 0; i < 2 * FITTING * 4096; i++)
        pairs[i] = 0xcc;
    for (unsigned k = 0; k <= FITTING; k++) {
        const uint8_t *bytes = k < FITTING ? copies[k].bytes : crossing;
        const unsigned len = k < FITTING ? copies[k].len : 6;
        at[k] = k < FITTING ? pairs + 2 * 4096 * k + copies[k].off : code + crossing_off;
        write_marked_copy(at[k], bytes, len, k);
    }
    uint32_t r[4];
    cpuid(0, r); /* serialize after writing code (SDM Vol. 3A, 8.1.3) */
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    /* The checks' own read of liveness fills its site here, before the counts are taken. */
    const uint32_t liveness_before = read_liveness(mmio);
    volatile const struct tv_stats_cpu *stats = stats_of_this_cpu();
    uint64_t before[TV_MMIO_PATH_COUNT] = {0};
    if (stats)
        for (unsigned p = 0; p < TV_MMIO_PATH_COUNT; p++)
            before[p] = stats->mmio_path[p];
    unsigned good = 0, total = 0, first_wrong = ~0u;
    for (unsigned round = 0; round < ROUNDS; round++)
        for (unsigned k = 0; k <= FITTING; k++) {
            uint64_t a = 0xAAAAAAAAAAAAAAAAull, c = 0xCCCCCCCCCCCCCCCCull, dx = ~0ull;
            const uint32_t live = 0x7e000000u + round * 0x100u + k;
            call_marked_copy(at[k], &a, &c, bar, live, &dx);
            const unsigned form = k < FITTING ? copies[k].form : 0;
            bool ok = dx == k;
            if (form == 0)
                ok = ok && a == EDU_ID && c == 0xCCCCCCCCCCCCCCCCull;
            else if (form == 1)
                ok = ok && a == 0xAAAAAAAAAAAAAAAAull && c == EDU_ID;
            else
                ok = ok && a == 0xAAAAAAAAAAAAAAAAull && c == 0xCCCCCCCCCCCCCCCCull &&
                     read_liveness(mmio) == ~live;
            good += ok;
            total++;
            if (!ok && first_wrong == ~0u)
                first_wrong = k;
        }
    uint64_t d_fill = 0, d_full = 0, d_general = 0, d_retry = 0;
    if (stats) {
        d_fill = stats->mmio_path[TV_MMIO_PATH_FILL] - before[TV_MMIO_PATH_FILL];
        d_full = stats->mmio_path[TV_MMIO_PATH_FULL] - before[TV_MMIO_PATH_FULL];
        d_general = stats->mmio_path[TV_MMIO_PATH_GENERAL] - before[TV_MMIO_PATH_GENERAL];
        d_retry = stats->mmio_path[TV_MMIO_PATH_RETRY] - before[TV_MMIO_PATH_RETRY];
    }
    mmio[1] = ~liveness_before;
    uefi_call_wrapper(BS->FreePages, 2, more, 2 * FITTING);
    uefi_call_wrapper(BS->FreePages, 2, base, 2);
    char d[200];
    fmt_snprintf(d, sizeof(d),
                 "(%u of %u right, first wrong %d; filled %llu, full %llu, general %llu, retried "
                 "%llu%s)",
                 good, total, first_wrong == ~0u ? -1 : (int)first_wrong,
                 (unsigned long long)d_fill, (unsigned long long)d_full,
                 (unsigned long long)d_general, (unsigned long long)d_retry,
                 stats ? "" : ", no statistics");
    check(name,
          good == total && stats && d_fill == FITTING && d_full == FITTING * (ROUNDS - 1) &&
              d_general == ROUNDS && d_retry == 0,
          d);
}

/* One RIP under three page-table roots (SDM Vol. 3A, 4.5). Roots A and C are two copies of the
 * firmware's top-level table whose entry for an unused linear slot L names the same tables,
 * which map L to a page holding `mov eax,[rdi]; ret` -- as the kernel half of two processes'
 * roots does. Root B names other tables for L, which map it to `mov ecx,[rdi]; ret`. Calls
 * through L alternate A, B, C (each MOV to CR3 also empties the non-global TLB entries, SDM
 * Vol. 3A, 4.10.4.1), each reading edu's ID register: under A and C EAX gets it, under B ECX
 * does. A site that kept its instruction across roots would load EAX under B. */
static void test_site_two_roots(uint32_t bar)
{
    enum { ROOT_A, ROOT_B, ROOT_C, PDPT_A, PD_A, PT_A, PDPT_B, PD_B, PT_B, CODE_A, CODE_B, PAGES };
    static const char name[] = "mmio-site-same-rip-other-root";
    EFI_PHYSICAL_ADDRESS base = 0;
    if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode, PAGES,
                                    &base))) {
        check(name, false, "(no pages)");
        return;
    }
    uint64_t *page[PAGES];
    for (unsigned i = 0; i < PAGES; i++) {
        page[i] = (uint64_t *)(uintptr_t)(base + 4096ull * i);
        for (unsigned k = 0; k < 512; k++)
            page[i][k] = 0;
    }
    const uint64_t cr3 = read_cr3();
    const uint64_t *firmware_root = (const uint64_t *)(uintptr_t)(cr3 & 0x000FFFFFFFFFF000ull);
    /* An unused slot in the lower half, so L is canonical and maps nothing of the firmware's. */
    unsigned slot = 255;
    while (slot > 1 && firmware_root[slot])
        slot--;
    if (firmware_root[slot] || (read_cr4() & (1ull << 12))) { /* CR4.LA57: 5-level roots */
        uefi_call_wrapper(BS->FreePages, 2, base, PAGES);
        check(name, false, "(no free top-level slot in 4-level paging)");
        return;
    }
    /* Present, writable, accessed (and dirty for the leaf): the CPU has nothing to set. */
    const uint64_t table = 0x23, leaf = 0x63;
#define PA(i) ((uint64_t)(uintptr_t)page[i])
    for (unsigned r = ROOT_A; r <= ROOT_C; r++)
        for (unsigned k = 0; k < 512; k++)
            page[r][k] = firmware_root[k];
    page[ROOT_A][slot] = page[ROOT_C][slot] = PA(PDPT_A) | table;
    page[ROOT_B][slot] = PA(PDPT_B) | table;
    page[PDPT_A][0] = PA(PD_A) | table;
    page[PD_A][0] = PA(PT_A) | table;
    page[PT_A][0] = PA(CODE_A) | leaf;
    page[PDPT_B][0] = PA(PD_B) | table;
    page[PD_B][0] = PA(PT_B) | table;
    page[PT_B][0] = PA(CODE_B) | leaf;
    static const uint8_t load_eax[] = {0x8b, 0x07, 0xc3}; /* mov eax,[rdi]; ret */
    static const uint8_t load_ecx[] = {0x8b, 0x0f, 0xc3}; /* mov ecx,[rdi]; ret */
    uint8_t *code_a = (uint8_t *)page[CODE_A], *code_b = (uint8_t *)page[CODE_B];
    for (unsigned k = 0; k < 4096; k++)
        code_a[k] = code_b[k] = 0xcc;
    for (unsigned k = 0; k < sizeof load_eax; k++) {
        code_a[k] = load_eax[k];
        code_b[k] = load_ecx[k];
    }
    const uint64_t roots[3] = {PA(ROOT_A) | (cr3 & 0xFFF), PA(ROOT_B) | (cr3 & 0xFFF),
                               PA(ROOT_C) | (cr3 & 0xFFF)};
#undef PA
    void *fn = (void *)(uintptr_t)((uint64_t)slot << 39);
    const unsigned n = 3 * 2 * site_reps;
    unsigned good = 0, total = 0, first_wrong = ~0u;
    uint64_t flags;
    __asm__ volatile("pushfq; pop %0; cli" : "=r"(flags) : : "memory");
    for (unsigned i = 0; i < n; i++) {
        const unsigned r = i % 3;
        write_cr3(roots[r]);
        uint64_t a = 0xAAAAAAAAAAAAAAAAull, c = 0xCCCCCCCCCCCCCCCCull;
        call_stub(fn, &a, &c, bar, 0);
        const bool ok = r == ROOT_B ? a == 0xAAAAAAAAAAAAAAAAull && c == EDU_ID
                                    : a == EDU_ID && c == 0xCCCCCCCCCCCCCCCCull;
        good += ok;
        total++;
        if (!ok && first_wrong == ~0u)
            first_wrong = i;
    }
    write_cr3(cr3);
    if (flags & (1u << 9))
        __asm__ volatile("sti");
    uefi_call_wrapper(BS->FreePages, 2, base, PAGES);
    char d[120];
    char wrong[24] = "";
    if (first_wrong != ~0u)
        fmt_snprintf(wrong, sizeof(wrong), ", first wrong under %c", "ABC"[first_wrong % 3]);
    fmt_snprintf(d, sizeof(d), "(code at 0x%llx under roots A, B, C in turn: %u of %u right%s)",
                 (unsigned long long)((uint64_t)slot << 39), good, total, wrong);
    check(name, good == total && total == n && n >= 6, d);
}

/* --- leaving IA-32e mode and coming back (SDM Vol. 3A, 10.8.5 and 10.8.5.4) ------------------ */

/* The trip's block, shared with tv_lm_round_trip below, which reads and writes it at these
 * offsets (also from 32-bit code, with EDI as its address: it must lie below 4 GiB). Inputs
 * first, then what the 32-bit code saw. */
struct lm_trip {
    uint64_t gdtr_copy;  /* address of a struct dtr for the GDT copy (with the 32-bit segments) */
    uint64_t gdtr_orig;  /* address of a struct dtr for the firmware's GDT */
    uint64_t sel_code32; /* compatibility-mode / 32-bit code segment in the copy */
    uint64_t sel_data32; /* flat 32-bit data segment in the copy */
    uint64_t sel_code64; /* the firmware's 64-bit CS, to come back to */
    uint64_t cr3;        /* the 4-level root to load before setting PG again (below 4 GiB) */
    uint64_t bar;        /* edu's BAR0 */
    uint64_t live_write; /* written to edu's liveness register in 32-bit mode */
    uint64_t saved_rsp;  /* kept by the 64-bit code */
    uint64_t ret64;      /* address of the 64-bit code to come back to */
    uint64_t saved_ds, saved_es, saved_ss;
    uint64_t cs32;          /* CS in compatibility mode */
    uint64_t efer_pg_off;   /* EFER after PG was cleared */
    uint64_t efer_lme_off;  /* EFER after LME was cleared */
    uint64_t cr0_pg_off;    /* CR0 in protected mode without paging */
    uint64_t id[3];         /* edu's ID register three times at one EIP, no paging */
    uint64_t live_read;     /* edu's liveness register after the write */
    uint64_t efer_pg_on;    /* EFER after PG was set again with LME */
    uint64_t cr0_pg_on;     /* CR0 then */
    uint64_t cr0_off_value; /* moved to CR0 from EDX in compatibility mode (PG clear) */
    uint64_t cr0_on_value;  /* moved to CR0 from ESI without paging (PG set) */
    uint64_t pae_pdpt;      /* a PAE page-directory-pointer table mapping 4 GiB 1:1, or 0 */
    uint64_t cr0_pae;       /* CR0 under PAE paging */
    uint64_t efer_pae;      /* EFER then */
    uint64_t id_pae;        /* edu's ID register read then */
    uint64_t pse_pd;        /* a 32-bit paging page directory mapping 4 GiB 1:1, or 0 */
    uint64_t cr4;           /* CR4 to restore after 32-bit paging */
    uint64_t cr4_pse;       /* CR4 under 32-bit paging */
    uint64_t id_pse;        /* edu's ID register read then */
    uint64_t probes;        /* PDPT addresses in probe_cr3 to try PAE paging with (#GP), or 0 */
    uint64_t probe_cr3[5];  /* CR3 for each try */
    uint64_t probe_cr0[5];  /* CR0 after it (the #GP handler skipped the MOV) */
    uint64_t probe_efer[5]; /* EFER then */
    uint64_t gp32_count;    /* #GPs the 32-bit handler (tv_lm_gp32) caught */
    uint64_t gp32_err;      /* their error codes, ORed */
    uint64_t idtr32;        /* address of a struct dtr for the 32-bit IDT (gate 13: tv_lm_gp32) */
    uint64_t idtr_orig;     /* address of a struct dtr for the firmware's IDT, or 0 */
};
#define LM_GDTR_COPY    0
#define LM_GDTR_ORIG    8
#define LM_SEL_CODE32   16
#define LM_SEL_DATA32   24
#define LM_SEL_CODE64   32
#define LM_CR3          40
#define LM_BAR          48
#define LM_LIVE_WRITE   56
#define LM_SAVED_RSP    64
#define LM_RET64        72
#define LM_SAVED_DS     80
#define LM_SAVED_ES     88
#define LM_SAVED_SS     96
#define LM_CS32         104
#define LM_EFER_PG_OFF  112
#define LM_EFER_LME_OFF 120
#define LM_CR0_PG_OFF   128
#define LM_ID           136
#define LM_LIVE_READ    160
#define LM_EFER_PG_ON   168
#define LM_CR0_PG_ON    176
#define LM_CR0_OFF_VAL  184
#define LM_CR0_ON_VAL   192
#define LM_PAE_PDPT     200
#define LM_CR0_PAE      208
#define LM_EFER_PAE     216
#define LM_ID_PAE       224
#define LM_PSE_PD       232
#define LM_CR4          240
#define LM_CR4_PSE      248
#define LM_ID_PSE       256
#define LM_PROBES       264
#define LM_PROBE_CR3    272
#define LM_PROBE_CR0    312
#define LM_PROBE_EFER   352
#define LM_GP32_COUNT   392
#define LM_GP32_ERR     400
#define LM_IDTR32       408
#define LM_IDTR_ORIG    416
/* The asm below uses the offsets; the compiler lays out the struct: they must agree. */
#define LM_AT(field, off) _Static_assert(__builtin_offsetof(struct lm_trip, field) == off, #field)
LM_AT(gdtr_copy, LM_GDTR_COPY);
LM_AT(gdtr_orig, LM_GDTR_ORIG);
LM_AT(sel_code32, LM_SEL_CODE32);
LM_AT(sel_data32, LM_SEL_DATA32);
LM_AT(sel_code64, LM_SEL_CODE64);
LM_AT(cr3, LM_CR3);
LM_AT(bar, LM_BAR);
LM_AT(live_write, LM_LIVE_WRITE);
LM_AT(saved_rsp, LM_SAVED_RSP);
LM_AT(ret64, LM_RET64);
LM_AT(saved_ds, LM_SAVED_DS);
LM_AT(saved_es, LM_SAVED_ES);
LM_AT(saved_ss, LM_SAVED_SS);
LM_AT(cs32, LM_CS32);
LM_AT(efer_pg_off, LM_EFER_PG_OFF);
LM_AT(efer_lme_off, LM_EFER_LME_OFF);
LM_AT(cr0_pg_off, LM_CR0_PG_OFF);
LM_AT(id, LM_ID);
LM_AT(live_read, LM_LIVE_READ);
LM_AT(efer_pg_on, LM_EFER_PG_ON);
LM_AT(cr0_pg_on, LM_CR0_PG_ON);
LM_AT(cr0_off_value, LM_CR0_OFF_VAL);
LM_AT(cr0_on_value, LM_CR0_ON_VAL);
LM_AT(pae_pdpt, LM_PAE_PDPT);
LM_AT(cr0_pae, LM_CR0_PAE);
LM_AT(efer_pae, LM_EFER_PAE);
LM_AT(id_pae, LM_ID_PAE);
LM_AT(pse_pd, LM_PSE_PD);
LM_AT(cr4, LM_CR4);
LM_AT(cr4_pse, LM_CR4_PSE);
LM_AT(id_pse, LM_ID_PSE);
LM_AT(probes, LM_PROBES);
LM_AT(probe_cr3, LM_PROBE_CR3);
LM_AT(probe_cr0, LM_PROBE_CR0);
LM_AT(probe_efer, LM_PROBE_EFER);
LM_AT(gp32_count, LM_GP32_COUNT);
LM_AT(gp32_err, LM_GP32_ERR);
LM_AT(idtr32, LM_IDTR32);
LM_AT(idtr_orig, LM_IDTR_ORIG);
#undef LM_AT

#define LM_STR_(x) #x
#define LM_STR(x)  LM_STR_(x)
#define LM(off)    LM_STR(off)

/* tv_lm_round_trip(struct lm_trip *t), interrupts off, everything it touches identity-mapped
 * below 4 GiB. From 64-bit mode: load the GDT copy, far return to its 32-bit code segment
 * (compatibility mode, still IA-32e). There, as SDM Vol. 3A 10.8.5.4 says to leave IA-32e mode:
 * clear CR0.PG (LMA goes to 0: protected mode without paging), then EFER.LME. In that mode it
 * reads and writes edu's registers (the MMIO path with no paging and a 32-bit CS); with
 * t->probes, it loads the 32-bit IDT t->idtr32 (its #GP gate: tv_lm_gp32, which counts the fault
 * and skips the 3-byte MOV) and tries to turn PAE paging on with CR3 = each of t->probe_cr3,
 * keeping CR0 and EFER after each try (turning PG off again should it have been set), then loads
 * the firmware's IDT again (64-bit code reloads all of its base); then, with t->pae_pdpt, it turns
 * PAE paging on (CR4.PAE is still set, LME is 0), reads edu's ID through it and turns paging off
 * again; with t->pse_pd, the same under 32-bit paging (CR4.PAE off, CR4.PSE on; CR4 as before
 * afterwards: CR4 writes do not exit). Then back as 10.8.5 says to enter it: CR4.PAE is still set,
 * CR3 = the 4-level root, EFER.LME = 1, CR0.PG = 1 (LMA goes to 1: compatibility mode), a branch,
 * and a far return to the 64-bit CS. The two CR0 values come from RDX and RSI, loaded in 64-bit
 * mode: outside 64-bit mode a MOV to CR0 takes the register's low 32 bits (SDM Vol. 2A, "MOV--Move
 * to/from Control Registers": 32-bit operands), whatever the upper halves hold. If the first MOV
 * faults (a #GP handler skipped it: PG still set) the code goes straight back. Upper halves of the
 * registers are undefined after 32-bit code (SDM Vol. 1, 3.4.1.1), so the 64-bit code takes EDI
 * zero-extended and RSP from the block; the callee-saved registers are on the stack.
 * tv_lm_load_eax: `mov eax,[rdi]` at one RIP in 64-bit mode, before and after. */
/* clang-format off */
__asm__(
        ".text\n"
        ".globl tv_lm_round_trip\n"
        "tv_lm_round_trip:\n"
        "  push %rbx\n"
        "  push %rbp\n"
        "  push %r12\n"
        "  push %r13\n"
        "  push %r14\n"
        "  push %r15\n"
        "  mov %rsp, " LM(LM_SAVED_RSP) "(%rdi)\n"
        "  mov %ds, " LM(LM_SAVED_DS) "(%rdi)\n"
        "  mov %es, " LM(LM_SAVED_ES) "(%rdi)\n"
        "  mov %ss, " LM(LM_SAVED_SS) "(%rdi)\n"
        "  lea 6f(%rip), %rax\n"
        "  mov %rax, " LM(LM_RET64) "(%rdi)\n"
        "  mov " LM(LM_GDTR_COPY) "(%rdi), %rax\n"
        "  lgdt (%rax)\n"
        "  mov " LM(LM_CR0_OFF_VAL) "(%rdi), %rdx\n"
        "  mov " LM(LM_CR0_ON_VAL) "(%rdi), %rsi\n"
        "  pushq " LM(LM_SEL_CODE32) "(%rdi)\n"
        "  lea 1f(%rip), %rax\n"
        "  push %rax\n"
        "  lretq\n"
        ".code32\n"
        "1:\n" /* compatibility mode */
        "  mov " LM(LM_SEL_DATA32) "(%edi), %eax\n"
        "  mov %ax, %ds\n"
        "  mov %ax, %es\n"
        "  mov %ax, %ss\n"
        "  mov %cs, %eax\n"
        "  mov %eax, " LM(LM_CS32) "(%edi)\n"
        "  mov %edx, %cr0\n" /* IA-32e mode off (0f 22 c2) */
        "  jmp 2f\n"
        "2:\n" /* protected mode, no paging; unless the MOV faulted: back */
        "  mov %cr0, %eax\n"
        "  test $0x80000000, %eax\n"
        "  jnz 5f\n"
        "  mov $0xc0000080, %ecx\n"
        "  rdmsr\n"
        "  mov %eax, " LM(LM_EFER_PG_OFF) "(%edi)\n"
        "  and $0xfffffeff, %eax\n"
        "  wrmsr\n" /* LME off */
        "  rdmsr\n"
        "  mov %eax, " LM(LM_EFER_LME_OFF) "(%edi)\n"
        "  mov %cr0, %eax\n"
        "  mov %eax, " LM(LM_CR0_PG_OFF) "(%edi)\n"
        "  mov " LM(LM_BAR) "(%edi), %ebx\n"
        "  xor %ebp, %ebp\n"
        "3:\n"
        "  mov (%ebx), %eax\n" /* edu ID, one EIP three times */
        "  mov %eax, " LM(LM_ID) "(%edi,%ebp,8)\n"
        "  inc %ebp\n"
        "  cmp $3, %ebp\n"
        "  jb 3b\n"
        "  mov " LM(LM_LIVE_WRITE) "(%edi), %eax\n"
        "  mov %eax, 4(%ebx)\n"
        "  mov 4(%ebx), %eax\n"
        "  mov %eax, " LM(LM_LIVE_READ) "(%edi)\n"
        "  mov " LM(LM_PROBES) "(%edi), %eax\n"
        "  test %eax, %eax\n"
        "  jz 12f\n"
        "  mov " LM(LM_IDTR32) "(%edi), %eax\n"
        "  lidt (%eax)\n" /* #GP to tv_lm_gp32 */
        "  xor %ebp, %ebp\n"
        "13:\n"
        "  mov " LM(LM_PROBE_CR3) "(%edi,%ebp,8), %eax\n"
        "  mov %eax, %cr3\n"
        "  mov %cr0, %eax\n"
        "  or $0x80000000, %eax\n"
        "  mov %eax, %cr0\n" /* PAE paging with a bad PDPT: #GP, skipped (0f 22 c0) */
        "  jmp 14f\n"
        "14:\n"
        "  mov %cr0, %eax\n"
        "  mov %eax, " LM(LM_PROBE_CR0) "(%edi,%ebp,8)\n"
        "  test $0x80000000, %eax\n"
        "  jz 15f\n"
        "  and $0x7fffffff, %eax\n"
        "  mov %eax, %cr0\n" /* it took: paging off again */
        "  jmp 15f\n"
        "15:\n"
        "  mov $0xc0000080, %ecx\n"
        "  rdmsr\n"
        "  mov %eax, " LM(LM_PROBE_EFER) "(%edi,%ebp,8)\n"
        "  inc %ebp\n"
        "  cmp " LM(LM_PROBES) "(%edi), %ebp\n"
        "  jb 13b\n"
        "  mov " LM(LM_IDTR_ORIG) "(%edi), %eax\n"
        "  lidt (%eax)\n" /* bits 31:0 of its base; 64-bit code loads all of it */
        "12:\n"
        "  mov " LM(LM_PAE_PDPT) "(%edi), %eax\n"
        "  test %eax, %eax\n"
        "  jz 7f\n"
        "  mov %eax, %cr3\n"
        "  mov %cr0, %eax\n"
        "  or $0x80000000, %eax\n"
        "  mov %eax, %cr0\n" /* PAE paging (LME is 0) */
        "  jmp 8f\n"
        "8:\n"
        "  mov %cr0, %eax\n"
        "  mov %eax, " LM(LM_CR0_PAE) "(%edi)\n"
        "  rdmsr\n"
        "  mov %eax, " LM(LM_EFER_PAE) "(%edi)\n"
        "  mov (%ebx), %eax\n" /* edu ID through PAE paging */
        "  mov %eax, " LM(LM_ID_PAE) "(%edi)\n"
        "  mov %cr0, %eax\n"
        "  and $0x7fffffff, %eax\n"
        "  mov %eax, %cr0\n" /* paging off again */
        "  jmp 7f\n"
        "7:\n"
        "  mov " LM(LM_PSE_PD) "(%edi), %eax\n"
        "  test %eax, %eax\n"
        "  jz 9f\n"
        "  mov %eax, %cr3\n"
        "  mov %cr4, %eax\n"
        "  and $0xffffffdf, %eax\n" /* PAE off */
        "  or $0x10, %eax\n" /* PSE on: 4 MiB pages */
        "  mov %eax, %cr4\n"
        "  mov %cr0, %eax\n"
        "  or $0x80000000, %eax\n"
        "  mov %eax, %cr0\n" /* 32-bit paging */
        "  jmp 10f\n"
        "10:\n"
        "  mov %cr4, %eax\n"
        "  mov %eax, " LM(LM_CR4_PSE) "(%edi)\n"
        "  mov (%ebx), %eax\n" /* edu ID through 32-bit paging */
        "  mov %eax, " LM(LM_ID_PSE) "(%edi)\n"
        "  mov %cr0, %eax\n"
        "  and $0x7fffffff, %eax\n"
        "  mov %eax, %cr0\n" /* paging off again */
        "  jmp 11f\n"
        "11:\n"
        "  mov " LM(LM_CR4) "(%edi), %eax\n"
        "  mov %eax, %cr4\n" /* PAE again */
        "9:\n"
        "  mov " LM(LM_CR3) "(%edi), %eax\n"
        "  mov %eax, %cr3\n"
        "  mov $0xc0000080, %ecx\n"
        "  rdmsr\n"
        "  or $0x100, %eax\n"
        "  wrmsr\n" /* LME on */
        "  mov %esi, %cr0\n" /* IA-32e mode on: compatibility mode (0f 22 c6) */
        "  jmp 4f\n"
        "4:\n"
        "  rdmsr\n"
        "  mov %eax, " LM(LM_EFER_PG_ON) "(%edi)\n"
        "5:\n"
        "  mov %cr0, %eax\n"
        "  mov %eax, " LM(LM_CR0_PG_ON) "(%edi)\n"
        "  pushl " LM(LM_SEL_CODE64) "(%edi)\n"
        "  pushl " LM(LM_RET64) "(%edi)\n"
        "  lret\n"
        ".globl tv_lm_gp32\n"
        "tv_lm_gp32:\n" /* 32-bit #GP handler: error code at 0, EIP at 4 (SDM Vol. 3A, 6.13) */
        "  push %eax\n"
        "  mov 4(%esp), %eax\n"
        "  or %eax, " LM(LM_GP32_ERR) "(%edi)\n"
        "  incl " LM(LM_GP32_COUNT) "(%edi)\n"
        "  addl $3, 8(%esp)\n" /* past the 3-byte MOV to CR0 */
        "  pop %eax\n"
        "  add $4, %esp\n"
        "  iret\n"
        ".code64\n"
        "6:\n" /* 64-bit mode again */
        "  mov %edi, %edi\n"
        "  mov " LM(LM_SAVED_RSP) "(%rdi), %rsp\n"
        "  mov " LM(LM_GDTR_ORIG) "(%rdi), %rax\n"
        "  lgdt (%rax)\n"
        "  mov " LM(LM_IDTR_ORIG) "(%rdi), %rax\n"
        "  test %rax, %rax\n"
        "  jz 16f\n"
        "  lidt (%rax)\n"
        "16:\n"
        "  mov " LM(LM_SAVED_SS) "(%rdi), %ss\n"
        "  mov " LM(LM_SAVED_DS) "(%rdi), %ds\n"
        "  mov " LM(LM_SAVED_ES) "(%rdi), %es\n"
        "  pop %r15\n"
        "  pop %r14\n"
        "  pop %r13\n"
        "  pop %r12\n"
        "  pop %rbp\n"
        "  pop %rbx\n"
        "  ret\n"
        ".globl tv_lm_load_eax\n"
        "tv_lm_load_eax:\n"
        "  mov (%rdi), %eax\n"
        "  ret\n"
        ".globl tv_lm_round_trip_end\n"
        "tv_lm_round_trip_end:\n");
/* clang-format on */
extern char tv_lm_load_eax[], tv_lm_gp32[], tv_lm_round_trip_end[];
void tv_lm_round_trip(struct lm_trip *t);

/* Whether linear address la translates to itself under the 4-level root cr3 (SDM Vol. 3A, 4.5:
 * 1 GiB, 2 MiB and 4 KiB pages) and lies below 4 GiB: code and data the trip uses while paging
 * is off are then the same bytes as with paging on. The firmware's paging structures are
 * themselves identity-mapped. */
static bool identity_below_4g(uint64_t cr3, uint64_t la)
{
    const uint64_t addr = 0x000FFFFFFFFFF000ull;
    if (la >> 32)
        return false;
    uint64_t e = ((const uint64_t *)(uintptr_t)(cr3 & addr))[(la >> 39) & 511];
    if (!(e & 1))
        return false;
    e = ((const uint64_t *)(uintptr_t)(e & addr))[(la >> 30) & 511];
    if (!(e & 1))
        return false;
    if (e & 0x80)
        return (e & 0x000FFFFFC0000000ull) + (la & 0x3FFFFFFFull) == la;
    e = ((const uint64_t *)(uintptr_t)(e & addr))[(la >> 21) & 511];
    if (!(e & 1))
        return false;
    if (e & 0x80)
        return (e & 0x000FFFFFFFE00000ull) + (la & 0x1FFFFFull) == la;
    e = ((const uint64_t *)(uintptr_t)(e & addr))[(la >> 12) & 511];
    return (e & 1) && (e & addr) + (la & 0xFFFull) == la;
}

static bool range_identity_below_4g(uint64_t cr3, uint64_t start, uint64_t len)
{
    for (uint64_t p = start & ~0xFFFull; p < start + len; p += 4096)
        if (!identity_below_4g(cr3, p))
            return false;
    return true;
}

/* Trapvisor's live statistics (vmx/stats_abi.h) through its PCI function's BAR0 (read-only
 * pages: reading them is no exit), and this CPU's entry; NULL if absent. */
static volatile const struct tv_stats_cpu *stats_of_this_cpu(void)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        if (cfg_read32(0, dev, 0, 0) != (TV_STATS_PCI_DEVICE << 16 | TV_STATS_PCI_VENDOR))
            continue;
        uint32_t lo = cfg_read32(0, dev, 0, 0x10);
        uint64_t base = lo & ~0xFull;
        if ((lo & 6) == 4)
            base |= (uint64_t)cfg_read32(0, dev, 0, 0x14) << 32;
        volatile const struct tv_stats *s = (volatile const struct tv_stats *)(uintptr_t)base;
        if (!base || (lo & 1) || s->hdr.magic != TV_STATS_MAGIC ||
            s->hdr.version != TV_STATS_VERSION || !(s->hdr.flags & TV_STATS_F_ACCOUNTING))
            return 0;
        uint32_t r[4];
        cpuid(1, r);
        for (uint32_t i = 0; i < s->hdr.ncpus && i < TV_STATS_MAX_CPUS; i++)
            if (s->cpu[i].apic_id == r[1] >> 24)
                return &s->cpu[i];
        return 0;
    }
    return 0;
}

/* The path (enum tv_mmio_path) of this CPU's latest exit, -1 if it was no EPT violation or
 * there are no statistics. Call right after the MMIO access, with no exit in between. */
static int last_mmio_path(volatile const struct tv_stats_cpu *c)
{
    if (!c)
        return -1;
    return tv_stats_last_mmio_path(c->seq, c->last_reason, c->mmio_path_seq, c->mmio_path_last);
}

/* Page tables mapping the low 4 GiB 1:1, in LM_TABLE_PAGES pages below 4 GiB (CR3 holds 32 bits
 * outside IA-32e mode). For PAE paging (SDM Vol. 3A, 4.4), 2 MiB pages: a page-directory-pointer
 * table (page 0) whose four PDPTEs (present, no R/W or U/S: those bits are reserved in a PDPTE,
 * Table 4-8) name four page directories (pages 1-4). For 32-bit paging (4.3) with CR4.PSE, 4 MiB
 * pages: one page directory (page 5). Every PDE is present, writable, accessed and dirty, so the
 * CPU writes nothing. Page 6 is left for PDPTs with reserved bits (pae_bad_pdpts). Returns the
 * address of page 0, 0 if no such pages. */
#define LM_TABLE_PAGES 7
static uint64_t pae_identity_tables(void)
{
    EFI_PHYSICAL_ADDRESS base = 0xFFFFFFFFull;
    if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress, EfiLoaderData,
                                    LM_TABLE_PAGES, &base)))
        return 0;
    uint64_t *pdpt = (uint64_t *)(uintptr_t)base;
    for (unsigned k = 0; k < 512; k++)
        pdpt[k] = 0;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t *pd = (uint64_t *)(uintptr_t)(base + 4096ull * (i + 1));
        pdpt[i] = (uint64_t)(uintptr_t)pd | 1;
        for (unsigned k = 0; k < 512; k++)
            pd[k] = ((uint64_t)i << 30 | (uint64_t)k << 21) | 0xE3; /* P RW A D PS */
    }
    uint32_t *pse = (uint32_t *)(uintptr_t)(base + 4096ull * 5);
    for (unsigned k = 0; k < 1024; k++)
        pse[k] = (uint32_t)k << 22 | 0xE3; /* P RW A D PS */
    return base;
}

/* An offset in the hypervisor's hidden region (base, size) of 32 bytes, 32-byte aligned, whose
 * four qwords the hypervisor sees (TV_HC_HIDDEN_PROBE) with bit 0 clear: as PDPTEs they are not
 * present, so a PDPT there would pass the reserved-bit check -- only reading it as the guest
 * sees it (all ones) makes it fault. Searched from the region's end down (its last pages are
 * the least used), 4096 places at most; ~0 when there is none. */
static uint64_t hidden_not_present_pdpt(uint64_t size)
{
    for (uint64_t k = 1; k <= 4096 && 32 * k <= size; k++) {
        const uint64_t off = (size & ~31ull) - 32 * k;
        unsigned clear = 0;
        for (unsigned i = 0; i < 4; i++) {
            const struct hc q = vmcall(TV_HC_HIDDEN_PROBE, off + 8 * i, 0, 0);
            clear += q.a == TV_HC_OK && !(q.d & 1);
        }
        if (clear == 4)
            return off;
    }
    return ~0ull;
}

/* The PDPTs the pae-pdpte-checked trip tries before the good one (tables, its page 0), each of
 * which must give #GP(0) at the MOV to CR0 that turns PAE paging on and change nothing (SDM Vol.
 * 3A, 4.4.1; Vol. 2A, MOV to CR0): copies of the good one in page 6 (32 bytes each, the
 * alignment CR3 bits 31:5 give) with one reserved bit set in one present PDPTE (Table 4-8):
 * bit 1 (bits 2:1) in PDPTE 3, bit 7 (bits 8:5) in PDPTE 1, bit MAXPHYADDR (bits 63:MAXPHYADDR;
 * CPUID 80000008H:EAX[7:0], SDM Vol. 3A 4.1.4) in PDPTE 2 -- not PDPTE 0, which maps the code:
 * should one of them be taken after all, the code goes on to report it -- then, when the
 * hypervisor's hidden region lies below 4 GiB (CR3 holds 32 bits there) and is 32-byte aligned,
 * its base (where the hypervisor's own bytes have reserved bits too) and a place in it whose
 * bytes would be not-present PDPTEs (hidden_not_present_pdpt): both read as all ones to the
 * guest, so every PDPTE is present with reserved bits. Returns how many (in cr3[5]); what they
 * are in what[]. */
static unsigned pae_bad_pdpts(uint64_t tables, uint64_t cr3[5], char *what, unsigned what_len)
{
    const uint64_t *good = (const uint64_t *)(uintptr_t)tables;
    uint64_t *bad = (uint64_t *)(uintptr_t)(tables + 4096 * 6);
    uint32_t r[4];
    cpuid(0x80000000u, r);
    unsigned maxphyaddr = 36;
    if (r[0] >= 0x80000008u) {
        cpuid(0x80000008u, r);
        maxphyaddr = r[0] & 0xFF;
    }
    const unsigned high_bit = maxphyaddr >= 36 && maxphyaddr < 52 ? maxphyaddr : 63;
    static const unsigned entry[3] = {3, 1, 2};
    const uint64_t bit[3] = {1ull << 1, 1ull << 7, 1ull << high_bit};
    for (unsigned k = 0; k < 3; k++) {
        for (unsigned i = 0; i < 4; i++)
            bad[4 * k + i] = good[i];
        bad[4 * k + entry[k]] |= bit[k];
        cr3[k] = (uint64_t)(uintptr_t)&bad[4 * k];
    }
    unsigned n = 3;
    const struct hc p = vmcall(TV_HC_HIDDEN_PROBE, 0, 0, 0);
    const bool hidden = p.a == TV_HC_OK && p.b && p.b + p.c <= 0x100000000ull && !(p.b & 31);
    uint64_t quiet = ~0ull;
    if (hidden) {
        cr3[n++] = p.b;
        quiet = hidden_not_present_pdpt(p.c);
        if (quiet != ~0ull)
            cr3[n++] = p.b + quiet;
    }
    char place[48] = ", no not-present place";
    if (quiet != ~0ull)
        fmt_snprintf(place, sizeof(place), " and +0x%llx (not present to it)",
                     (unsigned long long)quiet);
    if (hidden)
        fmt_snprintf(what, what_len, "PDPTE3 bit 1, PDPTE1 bit 7, PDPTE2 bit %u, hidden 0x%llx%s",
                     high_bit, (unsigned long long)p.b, place);
    else
        fmt_snprintf(what, what_len,
                     "PDPTE3 bit 1, PDPTE1 bit 7, PDPTE2 bit %u; hidden 0x%llx not tried: not "
                     "below 4 GiB, 32-byte aligned",
                     high_bit, (unsigned long long)p.b);
    return n;
}

/* A round trip out of IA-32e mode and back, as a real OS makes it (kexec, reboot paths,
 * firmware calls). Trapvisor owns CR0.PG (vmx/vmx.c), so both MOVs to CR0 exit (two CR-access
 * exits): it must clear and set EFER.LMA and the "IA-32e mode guest" entry control, which VM
 * entry checks against each other and against CR0.PG (SDM Vol. 3C, 27.3.1.1), serve edu in
 * 32-bit protected mode without paging (five EPT violations: no paging, CS.D = 1), load the
 * PDPTEs when the guest turns PAE paging on there (two more CR-access exits; VM entry takes the
 * PDPTEs from the VMCS with EPT, Vol. 3C 27.3.2.4) and serve edu through it (one more EPT
 * violation), as 10.8.5.4 leaves IA-32e mode for legacy paging, the same with 32-bit paging
 * (two and one more), and forget the CPU's remembered MMIO sites (boot/mmio.c), so `mov eax,[rdi]`
 * at one RIP, a replayed site before the trip, is filled again after it (the statistics' last
 * path). CR0, CR4, EFER, CR3, the GDT and the selectors must be as before, and no #GP. upper: the
 * upper halves of RDX and RSI when they are moved to CR0 from 32-bit code (ignored by the CPU
 * there). pdpte_probes: before the good PAE tables, try the bad PDPTs of pae_bad_pdpts (one more
 * CR-access exit each): each must give one #GP(0) and leave CR0.PG clear and EFER unchanged
 * (SDM Vol. 3A, 4.4.1: the PDPTEs are loaded and checked by the MOV to CR0 itself). */
static void test_long_mode_round_trip(uint32_t bar, const char *name, uint32_t upper,
                                      bool pdpte_probes)
{
    static struct lm_trip t;
    static uint64_t gdt[64] __attribute__((aligned(16)));
    static struct dtr gdtr_orig, gdtr_copy;
    static uint64_t idt32[14] __attribute__((aligned(16))); /* vectors 0-13 */
    static struct dtr idtr32, idtr_orig;
    const uint64_t cr0 = read_cr0(), cr3 = read_cr3(), cr4 = read_cr4();
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000080u));
    const uint64_t efer = (uint64_t)hi << 32 | lo;
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    __asm__ volatile("sgdt %0" : "=m"(gdtr_orig));
    const unsigned n = ((unsigned)gdtr_orig.limit + 1) / 8;
    const char *why = 0;
    if ((efer & 0x500) != 0x500 || !(cr4 & (1u << 5)) || (cr4 & (1u << 12)))
        why = "not in IA-32e mode with 4-level paging";
    else if (cr4 & (1u << 17))
        why = "CR4.PCIDE set: PG cannot be cleared";
    else if ((cr3 >> 32) || (cr0 >> 32) || n + 2 > 64)
        why = "CR3 above 4 GiB or a GDT of more than 62 entries";
    else if (!range_identity_below_4g(cr3, (uintptr_t)tv_lm_round_trip,
                                      (uintptr_t)tv_lm_round_trip_end -
                                          (uintptr_t)tv_lm_round_trip) ||
             !range_identity_below_4g(cr3, (uintptr_t)&t, sizeof t) ||
             !range_identity_below_4g(cr3, (uintptr_t)gdt, sizeof gdt) ||
             !range_identity_below_4g(cr3, (uintptr_t)&gdtr_copy, sizeof gdtr_copy) ||
             !range_identity_below_4g(cr3, (uintptr_t)idt32, sizeof idt32) ||
             !range_identity_below_4g(cr3, (uintptr_t)&idtr32, sizeof idtr32) ||
             !range_identity_below_4g(cr3, (uintptr_t)&idtr_orig, sizeof idtr_orig) ||
             !range_identity_below_4g(cr3, rsp - 512, 512))
        why = "code, data or stack not identity-mapped below 4 GiB";
    if (why) {
        char d[96];
        fmt_snprintf(d, sizeof(d), "(skipped: %s)", why);
        check(name, false, d);
        return;
    }
    /* The firmware's descriptors, then a 32-bit code and a flat data segment (SDM Vol. 3A, 3.4.5:
     * base 0, limit 4 GiB, G = 1, D = 1, L = 0; accessed already set). */
    const uint64_t *orig = (const uint64_t *)(uintptr_t)gdtr_orig.base;
    for (unsigned i = 0; i < n; i++)
        gdt[i] = orig[i];
    gdt[n] = 0x00CF9B000000FFFFull;
    gdt[n + 1] = 0x00CF93000000FFFFull;
    gdtr_copy.limit = (uint16_t)((n + 2) * 8 - 1);
    gdtr_copy.base = (uint64_t)(uintptr_t)gdt;
    uint16_t cs, ds, es, ss;
    __asm__ volatile("mov %%cs, %0; mov %%ds, %1; mov %%es, %2; mov %%ss, %3"
                     : "=r"(cs), "=r"(ds), "=r"(es), "=r"(ss));
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    const uint32_t liveness_before = mmio[1];
    const uint64_t pg = 1u << 31;
    const uint64_t pdpt = pae_identity_tables();
    if (!pdpt) {
        check(name, false, "(skipped: no pages below 4 GiB for PAE tables)");
        return;
    }
    /* A 32-bit IDT whose only gate is #GP's (SDM Vol. 3A, 6.11, Figure 6-2: a 32-bit interrupt
     * gate, P = 1, DPL 0, type 0xE) to tv_lm_gp32 in the 32-bit code segment; the firmware's IDT
     * is put back after the tries. */
    __asm__ volatile("sidt %0" : "=m"(idtr_orig));
    const uint64_t gp32 = (uintptr_t)tv_lm_gp32;
    for (unsigned v = 0; v < 14; v++)
        idt32[v] = 0;
    idt32[13] =
        (gp32 & 0xFFFF) | (uint64_t)(n * 8) << 16 | 0x8Eull << 40 | (gp32 & 0xFFFF0000ull) << 32;
    idtr32.limit = sizeof idt32 - 1;
    idtr32.base = (uintptr_t)idt32;
    char probe_what[160] = "";
    uint64_t probe_cr3[5] = {0};
    const unsigned probes =
        pdpte_probes ? pae_bad_pdpts(pdpt, probe_cr3, probe_what, sizeof probe_what) : 0;
    t = (struct lm_trip){
        .gdtr_copy = (uintptr_t)&gdtr_copy,
        .gdtr_orig = (uintptr_t)&gdtr_orig,
        .sel_code32 = n * 8,
        .sel_data32 = (n + 1) * 8,
        .sel_code64 = cs,
        .cr3 = cr3,
        .bar = bar,
        .live_write = 0x1e32a000u,
        .cr0_off_value = (uint64_t)upper << 32 | (cr0 & ~pg),
        .cr0_on_value = (uint64_t)upper << 32 | cr0,
        .pae_pdpt = pdpt,
        .pse_pd = pdpt + 4096 * 5,
        .cr4 = cr4,
        .probes = probes,
        .probe_cr3 = {probe_cr3[0], probe_cr3[1], probe_cr3[2], probe_cr3[3], probe_cr3[4]},
        .idtr32 = (uintptr_t)&idtr32,
        .idtr_orig = (uintptr_t)&idtr_orig,
    };
    volatile const struct tv_stats_cpu *stats = stats_of_this_cpu();
    uint64_t flags;
    __asm__ volatile("pushfq; pop %0" : "=r"(flags));
    uint64_t *idt = catch_begin(); /* interrupts off: the IDT is 64-bit, no exit but the trip's */
    tv_ud_count = tv_gp_count = 0;
    tv_skip = 3; /* a MOV to CR0 from EDX or ESI */
    /* The 64-bit load twice: filled, then replayed. */
    uint64_t id64[3], c = 0;
    int path[3];
    for (unsigned i = 0; i < 2; i++) {
        id64[i] = 0;
        call_stub(tv_lm_load_eax, &id64[i], &c, bar, 0);
        path[i] = last_mmio_path(stats);
    }
    uint64_t cr_exits = 0, ept_exits = 0;
    if (stats) {
        cr_exits = stats->reason[28].count; /* CR access (SDM Vol. 3D, Appendix C) */
        ept_exits = stats->reason[48].count;
    }
    tv_lm_round_trip(&t);
    if (stats) {
        cr_exits = stats->reason[28].count - cr_exits;
        ept_exits = stats->reason[48].count - ept_exits;
    }
    id64[2] = 0;
    call_stub(tv_lm_load_eax, &id64[2], &c, bar, 0);
    path[2] = last_mmio_path(stats);
    const uint64_t faults = tv_gp_count + tv_ud_count;
    catch_end(idt);
    if (!(flags & (1u << 9)))
        __asm__ volatile("cli");
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000080u));
    const uint64_t efer_after = (uint64_t)hi << 32 | lo;
    struct dtr gdtr_after;
    __asm__ volatile("sgdt %0" : "=m"(gdtr_after));
    uint16_t cs2, ds2, es2, ss2;
    __asm__ volatile("mov %%cs, %0; mov %%ds, %1; mov %%es, %2; mov %%ss, %3"
                     : "=r"(cs2), "=r"(ds2), "=r"(es2), "=r"(ss2));
    mmio[1] = ~liveness_before;
    uefi_call_wrapper(BS->FreePages, 2, pdpt, LM_TABLE_PAGES);

    const uint64_t lma = 1u << 10, lme = 1u << 8;
    const bool state_back = read_cr0() == cr0 && read_cr4() == cr4 && read_cr3() == cr3 &&
                            efer_after == efer && gdtr_after.base == gdtr_orig.base &&
                            gdtr_after.limit == gdtr_orig.limit && cs2 == cs && ds2 == ds &&
                            es2 == es && ss2 == ss;
    const bool off_ok = t.cs32 == t.sel_code32 && (t.efer_pg_off & (lma | lme)) == lme &&
                        !(t.efer_lme_off & (lma | lme)) && t.cr0_pg_off == (uint32_t)(cr0 & ~pg);
    const bool mmio32_ok = t.id[0] == EDU_ID && t.id[1] == EDU_ID && t.id[2] == EDU_ID &&
                           t.live_read == (uint32_t)~t.live_write;
    const bool pae_ok = t.cr0_pae == cr0 && !(t.efer_pae & (lma | lme)) && t.id_pae == EDU_ID;
    const bool pse_ok = t.cr4_pse == ((cr4 & ~(uint64_t)0x20) | 0x10) && t.id_pse == EDU_ID;
    const bool on_ok = (t.efer_pg_on & (lma | lme)) == (lma | lme) && t.cr0_pg_on == cr0;
    const bool mmio64_ok = id64[0] == EDU_ID && id64[1] == EDU_ID && id64[2] == EDU_ID;
    /* With statistics (absent: said in the line): the six PG changes and the seven edu accesses
     * exited, and the 64-bit load was replayed (light or full hook) before the trip and filled
     * again after it. */
    /* Each try with a bad PDPT: one MOV to CR0 (one more CR-access exit), one #GP(0) through
     * the 32-bit IDT, CR0.PG still clear and EFER as it was. */
    unsigned pg_clear = 0, efer_kept = 0;
    for (unsigned k = 0; k < probes; k++) {
        pg_clear += t.probe_cr0[k] == t.cr0_pg_off;
        efer_kept += t.probe_efer[k] == t.efer_lme_off;
    }
    const bool probes_ok =
        t.gp32_count == probes && t.gp32_err == 0 && pg_clear == probes && efer_kept == probes;
    const bool exits_ok =
        !stats || (cr_exits == 6 + probes && ept_exits == 7 &&
                   (path[1] == TV_MMIO_PATH_LIGHT || path[1] == TV_MMIO_PATH_FULL) &&
                   path[2] == TV_MMIO_PATH_FILL);
    char edu32[48] = "ok";
    if (!mmio32_ok)
        fmt_snprintf(edu32, sizeof(edu32), "id 0x%x 0x%x 0x%x live 0x%x", (unsigned)t.id[0],
                     (unsigned)t.id[1], (unsigned)t.id[2], (unsigned)t.live_read);
    const bool trip_ok = faults == 0 && state_back && off_ok && mmio32_ok && pae_ok && pse_ok &&
                         on_ok && mmio64_ok && exits_ok;
    if (pdpte_probes) {
        char d[300];
        fmt_snprintf(d, sizeof(d),
                     "(tried %s: #GP(0) %llu of %u, error 0x%llx, PG clear %u, EFER 0x%llx kept "
                     "%u; good PDPT: edu %s; exits cr %llu = 6 + %u, ept %llu; trip %s%s)",
                     probe_what, (unsigned long long)t.gp32_count, probes,
                     (unsigned long long)t.gp32_err, pg_clear, (unsigned long long)t.efer_lme_off,
                     efer_kept, pae_ok ? "ok" : "wrong", (unsigned long long)cr_exits, probes,
                     (unsigned long long)ept_exits, trip_ok ? "ok" : "wrong",
                     stats ? "" : ", no statistics");
        check(name, probes_ok && trip_ok && probes >= 3, d);
        return;
    }
    char d[200];
    fmt_snprintf(d, sizeof(d),
                 "(efer 0x%llx 0x%llx 0x%llx 0x%llx, cr0 0x%llx, 32-bit edu %s, pae %s, 32-bit "
                 "paging %s, exits cr %llu ept %llu, 64-bit paths %d %d %d, #GP %llu%s%s)",
                 (unsigned long long)efer, (unsigned long long)t.efer_pg_off,
                 (unsigned long long)t.efer_lme_off, (unsigned long long)t.efer_pg_on,
                 (unsigned long long)t.cr0_pg_off, edu32, pae_ok ? "ok" : "wrong",
                 pse_ok ? "ok" : "wrong", (unsigned long long)cr_exits,
                 (unsigned long long)ept_exits, path[0], path[1], path[2],
                 (unsigned long long)faults, stats ? "" : ", no statistics",
                 state_back ? "" : ", state not restored");
    check(name, trip_ok, d);
}

/* --- MMIO sites with operands other than base + displacement -------------------------------- */

/* One stub per operand form (boot/mmio.c mmio_site_run: the short way takes base + displacement
 * only; these need x86_mov_offset and, for FS and GS, the segment's base): each loads edu's
 * register into EAX. tv_site_store_live writes ESI to edu's liveness register (RDX = BAR0). */
/* clang-format off */
__asm__(".text\n"
        ".globl tv_site_form_index\n"
        "tv_site_form_index:\n"
        "  mov 0x40(%rbx,%rcx,4), %eax\n" /* base + index * 4 + disp8 (8b 44 8b 40) */
        "  ret\n"
        ".globl tv_site_form_fs\n"
        "tv_site_form_fs:\n"
        "  mov %fs:(%rdi), %eax\n" /* FS base + RDI (64 8b 07) */
        "  ret\n"
        ".globl tv_site_form_gs\n"
        "tv_site_form_gs:\n"
        "  mov %gs:(%rdi), %eax\n" /* GS base + RDI (65 8b 07) */
        "  ret\n"
        ".globl tv_site_form_addr32\n"
        "tv_site_form_addr32:\n"
        "  mov (%edi), %eax\n" /* 32-bit address: EDI (67 8b 07) */
        "  ret\n"
        ".globl tv_site_form_addr32_wrap\n"
        "tv_site_form_addr32_wrap:\n"
        "  mov (%edi,%ecx,4), %eax\n" /* 32-bit address: EDI + ECX * 4 mod 2^32 (67 8b 04 8f) */
        "  ret\n"
        ".globl tv_site_store_live\n"
        "tv_site_store_live:\n"
        "  mov %esi, 4(%rdx)\n" /* 89 72 04 */
        "  ret\n");
/* clang-format on */
extern char tv_site_form_index[], tv_site_form_fs[], tv_site_form_gs[], tv_site_form_addr32[],
    tv_site_form_addr32_wrap[], tv_site_store_live[];

/* The registers a form stub reads and writes. */
struct form_regs {
    uint64_t rax, rbx, rcx, rdx, rdi, rsi;
};

static void call_form(void *fn, struct form_regs *r)
{
    __asm__ volatile("call *%[fn]"
                     : "+a"(r->rax), "+b"(r->rbx), "+c"(r->rcx), "+d"(r->rdx), "+D"(r->rdi),
                       "+S"(r->rsi)
                     : [fn] "r"(fn)
                     : "memory", "cc");
}

#define MSR_IA32_FS_BASE 0xC0000100u
#define MSR_IA32_GS_BASE 0xC0000101u

static uint64_t rdmsr64(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static void wrmsr64(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* A page of code within +-2 GiB of BAR0 (a RIP-relative displacement is 32 bits, SDM Vol. 2A,
 * 2.2.1.6) holding `mov eax,[rip+d]; ret` at 0 (reaching edu's ID register) and
 * `mov ecx,[rip+d]; ret` at 16 (liveness). Any page first, then pages at chosen addresses 256 MiB
 * apart on either side of the BAR. 0 when no page is within reach. */
static uint64_t rip_relative_page(uint32_t bar)
{
    const int64_t reach = 0x7FFFFFFFll - 0x1000;
    EFI_PHYSICAL_ADDRESS page = 0;
    if (!EFI_ERROR(
            uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode, 1, &page))) {
        const int64_t dist = (int64_t)bar - (int64_t)page;
        if (dist < reach && dist > -reach)
            goto fill;
        uefi_call_wrapper(BS->FreePages, 2, page, 1);
    }
    for (int k = 1; k < 8; k++) {
        for (int side = -1; side <= 1; side += 2) {
            const int64_t at = (int64_t)bar + side * k * 0x10000000ll;
            if (at < 0x100000 || at > 0xFFFFFFFFFFFll)
                continue;
            page = (EFI_PHYSICAL_ADDRESS)at;
            if (!EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderCode,
                                             1, &page)))
                goto fill;
        }
    }
    return 0;
fill:;
    uint8_t *code = (uint8_t *)(uintptr_t)page;
    for (unsigned i = 0; i < 4096; i++)
        code[i] = 0xcc;
    const int32_t d_id = (int32_t)((int64_t)bar - (int64_t)(page + 6));
    const int32_t d_live = (int32_t)((int64_t)bar + 4 - (int64_t)(page + 16 + 6));
    const uint8_t load_id[] = {0x8b, 0x05}, load_live[] = {0x8b, 0x0d}; /* ModRM 00 r 101 */
    code[0] = load_id[0];
    code[1] = load_id[1];
    __builtin_memcpy(code + 2, &d_id, 4);
    code[6] = 0xc3;
    code[16] = load_live[0];
    code[17] = load_live[1];
    __builtin_memcpy(code + 18, &d_live, 4);
    code[22] = 0xc3;
    uint32_t r[4];
    cpuid(0, r); /* serialize after writing code (SDM Vol. 3A, 8.1.3) */
    return page;
}

enum site_form {
    FORM_INDEX,
    FORM_FS,
    FORM_GS,
    FORM_ADDR32,
    FORM_ADDR32_WRAP,
    FORM_RIP_ID,
    FORM_RIP_LIVE,
    FORMS
};

/* edu's registers through MMIO sites whose operand is not base + displacement: base + index *
 * scale + displacement, an FS or a GS override (the base set with WRMSR, SDM Vol. 3A, 3.4.4),
 * a 32-bit address (0x67: EDI alone with bits 63:32 of RDI set, and EDI + ECX * 4 carrying past
 * 4 GiB, which the address drops, SDM Vol. 1, 3.3.7) and RIP-relative (base none). Each
 * instruction runs several times, its registers chosen anew each time so the same address comes
 * from other register values (a base with a larger index, a segment base that moved, other upper
 * halves), alternating edu's ID register and liveness (written first through
 * tv_site_store_live, read back inverted): a replay that computed another address or wrote
 * another register shows in the values. The statistics show each instruction's path: its first
 * exit fills a site, every later one is replayed (light or full hook), none goes to the general
 * path. */
static void test_site_operand_forms(uint32_t bar)
{
    static const char name[] = "mmio-site-operand-forms";
    static const char *const form_name[FORMS] = {"index*4",
                                                 "fs:",
                                                 "gs:",
                                                 "addr32",
                                                 "addr32 wrap",
                                                 "rip-relative id",
                                                 "rip-relative liveness"};
    static const uint8_t form_len[FORMS] = {4, 3, 3, 3, 4, 6, 6};
    const uint64_t rip_page = rip_relative_page(bar);
    void *const fn[FORMS] = {tv_site_form_index,
                             tv_site_form_fs,
                             tv_site_form_gs,
                             tv_site_form_addr32,
                             tv_site_form_addr32_wrap,
                             (void *)(uintptr_t)rip_page,
                             (void *)(uintptr_t)(rip_page + 16)};
    const unsigned forms = rip_page ? FORMS : FORM_RIP_ID;
    volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)bar;
    const uint32_t liveness_before = mmio[1];
    const uint64_t fs_before = rdmsr64(MSR_IA32_FS_BASE), gs_before = rdmsr64(MSR_IA32_GS_BASE);
    volatile const struct tv_stats_cpu *stats = stats_of_this_cpu();
    uint64_t paths_before[TV_STATS_MMIO_PATHS] = {0}, ept_before = 0;
    const unsigned n = 2 * site_reps;
    unsigned good = 0, total = 0, loads = 0, stores = 0, replays = 0, wraps = 0;
    int first_path[FORMS], bad_path = -1;
    unsigned first_wrong = ~0u, bad_path_form = ~0u;
    uint64_t wrong_value = 0;
    uint64_t *idt = catch_begin(); /* interrupts off: no exit but the check's own */
    tv_ud_count = tv_gp_count = 0;
    if (stats) {
        ept_before = stats->reason[48].count;
        for (unsigned k = 0; k < TV_STATS_MMIO_PATHS; k++)
            paths_before[k] = stats->mmio_path[k];
    }
    for (unsigned f = 0; f < forms; f++) {
        first_path[f] = -1;
        for (unsigned i = 0; i < n; i++) {
            /* The RIP-relative loads have one address each; the others alternate. */
            const bool live = f == FORM_RIP_LIVE || (f != FORM_RIP_ID && ((i + f) & 1));
            const uint64_t off = live ? 4 : 0;
            const uint32_t written = 0x0f0f0000u + f * 0x100u + i;
            const uint64_t garbage = 0xA5A5A5A5A5A5A5A5ull;
            struct form_regs r = {garbage,     garbage ^ 1, garbage ^ 2,
                                  garbage ^ 3, garbage ^ 4, garbage ^ 5};
            const uint64_t moved = (i & 2) ? 0x100 : 0; /* the segment base moves, RDI follows */
            const uint64_t upper = (i & 2) ? 0xDEADBEEF00000000ull : 0;
            switch (f) {
            case FORM_INDEX:
                r.rcx = 3 * i + 1;
                r.rbx = bar + off - 0x40 - 4 * r.rcx;
                break;
            case FORM_FS:
                wrmsr64(MSR_IA32_FS_BASE, bar + moved);
                r.rdi = off - moved;
                break;
            case FORM_GS:
                wrmsr64(MSR_IA32_GS_BASE, bar + moved);
                r.rdi = off - moved;
                break;
            case FORM_ADDR32:
                r.rdi = upper | (uint32_t)(bar + off);
                break;
            case FORM_ADDR32_WRAP: {
                const uint32_t ecx = 0x3FFFFF00u + i; /* ECX * 4 above any BAR */
                const uint32_t edi = (uint32_t)(bar + off - 4ull * ecx);
                wraps += (uint64_t)edi + 4ull * ecx > 0xFFFFFFFFull;
                r.rcx = (upper ^ 0x00C0FFEE00000000ull) | ecx;
                r.rdi = upper | edi;
                break;
            }
            default:
                break;
            }
            if (live) {
                struct form_regs w = {0, 0, 0, bar, 0, written};
                tv_skip = 3;
                call_form(tv_site_store_live, &w);
                stores++;
            }
            const struct form_regs before = r;
            tv_skip = form_len[f];
            call_form(fn[f], &r);
            loads++;
            const int path = last_mmio_path(stats);
            const uint64_t want = live ? (uint32_t)~written : EDU_ID;
            const uint64_t got = f == FORM_RIP_LIVE ? r.rcx : r.rax;
            struct form_regs expect = before;
            if (f == FORM_RIP_LIVE)
                expect.rcx = want;
            else
                expect.rax = want;
            const bool ok = __builtin_memcmp(&r, &expect, sizeof r) == 0;
            good += ok;
            total++;
            if (!ok && first_wrong == ~0u) {
                first_wrong = f;
                wrong_value = got;
            }
            if (i == 0) {
                first_path[f] = path;
            } else if (path == TV_MMIO_PATH_LIGHT || path == TV_MMIO_PATH_FULL) {
                replays++;
            } else if (bad_path_form == ~0u) {
                bad_path_form = f;
                bad_path = path;
            }
        }
    }
    uint64_t paths[TV_STATS_MMIO_PATHS] = {0}, ept = 0;
    if (stats) {
        ept = stats->reason[48].count - ept_before;
        for (unsigned k = 0; k < TV_STATS_MMIO_PATHS; k++)
            paths[k] = stats->mmio_path[k] - paths_before[k];
    }
    wrmsr64(MSR_IA32_FS_BASE, fs_before);
    wrmsr64(MSR_IA32_GS_BASE, gs_before);
    const uint64_t faults = tv_ud_count + tv_gp_count;
    catch_end(idt);
    mmio[1] = ~liveness_before;
    if (rip_page)
        uefi_call_wrapper(BS->FreePages, 2, rip_page, 1);
    const bool restored =
        rdmsr64(MSR_IA32_FS_BASE) == fs_before && rdmsr64(MSR_IA32_GS_BASE) == gs_before;
    unsigned filled_first = 0;
    for (unsigned f = 0; f < forms; f++)
        filled_first += first_path[f] == TV_MMIO_PATH_FILL;
    /* Every access exited (the loads and the stores); each load instruction's first exit filled
     * its site and the rest were replayed; the general path took none. */
    const uint64_t light = tv_stats_mmio_light(ept, paths);
    const bool paths_ok =
        !stats || (ept == loads + stores && filled_first == forms && replays == loads - forms &&
                   paths[TV_MMIO_PATH_GENERAL] == 0 && paths[TV_MMIO_PATH_RETRY] == 0);
    char wrong[64] = "";
    if (first_wrong != ~0u)
        fmt_snprintf(wrong, sizeof(wrong), ", first wrong: %s read 0x%llx", form_name[first_wrong],
                     (unsigned long long)wrong_value);
    char path_wrong[64] = "";
    if (bad_path_form != ~0u)
        fmt_snprintf(path_wrong, sizeof(path_wrong), ", %s replay took path %d",
                     form_name[bad_path_form], bad_path);
    char rip_what[64] = " (no rip-relative: no code page within 2 GiB of BAR0)";
    if (rip_page)
        fmt_snprintf(rip_what, sizeof(rip_what), ", rip-relative from 0x%llx",
                     (unsigned long long)rip_page);
    char d[300];
    fmt_snprintf(d, sizeof(d),
                 "(%u forms%s, %u rounds: %u of %u loads right, %u wrapped at 4 GiB%s; exits %llu: "
                 "light %llu full %llu fill %llu general %llu, %u of %u firsts filled, %u of %u "
                 "replayed%s%s%s%s)",
                 forms, rip_what, n, good, total, wraps, wrong, (unsigned long long)ept,
                 (unsigned long long)light, (unsigned long long)paths[TV_MMIO_PATH_FULL],
                 (unsigned long long)paths[TV_MMIO_PATH_FILL],
                 (unsigned long long)paths[TV_MMIO_PATH_GENERAL], filled_first, forms, replays,
                 loads - forms, path_wrong, stats ? "" : ", no statistics",
                 faults ? ", faulted" : "", restored ? "" : ", FS/GS base not restored");
    check(name,
          good == total && total == forms * n && n > 2 && wraps == n && faults == 0 && restored &&
              paths_ok,
          d);
}

static void test_mmio_sites(void)
{
    uint32_t bar = edu_bar0();
    if (!bar) {
        check("mmio-site-new-bytes-same-rip", false, "(no edu on bus 0)");
        return;
    }
    test_site_new_bytes_same_rip(bar);
    test_site_callee_saved_registers(bar);
    test_site_widths(bar);
    test_site_two_addresses_one_rip(bar);
    test_site_two_roots(bar);
    test_site_many_instructions(bar);
    test_site_page_end(bar);
    test_site_operand_forms(bar);
    test_long_mode_round_trip(bar, "long-mode-round-trip", 0, false);
    test_long_mode_round_trip(bar, "pae-pdpte-checked", 0, true);
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

/* --delivery-into-bar: INT3 with RSP inside edu's BAR0, so the CPU's push of the exception
 * frame (SDM Vol. 3A, 6.14.1) goes to device memory during the delivery: an EPT violation with
 * IDT-vectoring information valid (SDM Vol. 3C, 28.2.4). Trapvisor does not emulate an event
 * delivery into a trapped region; it must say so and stop this CPU (tests/bochs/delivery.sh
 * judges the serial log), not handle the instruction at RIP in the delivery's place. Returns
 * only if the guest went on. */
static void delivery_into_bar(void)
{
    uint32_t bar = edu_bar0();
    if (!bar) {
        check("delivery-into-bar", false, "(no edu on bus 0)");
        return;
    }
    const uint64_t stack = (uint64_t)bar + 0x2000; /* the frame's first push is at 0x1ff8 */
    out("tvtest: delivery-into-bar: int3 with rsp 0x%llx\n", (unsigned long long)stack);
    __asm__ volatile("mov %%rsp, %%rbx\n\tmov %0, %%rsp\n\tint3\n\tmov %%rbx, %%rsp"
                     :
                     : "r"(stack)
                     : "rbx", "memory");
    check("delivery-into-bar", false, "(the guest went on)");
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    InitializeLib(image, st);
    if (has_option(image, L"--x2apic")) {
        switch_to_x2apic();
        out("tvtest: %u passed, %u failed\n", passed, failed);
        return failed ? EFI_ABORTED : EFI_SUCCESS;
    }
    if (has_option(image, L"--long-mode-upper-halves")) {
        uint32_t bar = edu_bar0();
        if (bar)
            test_long_mode_round_trip(bar, "long-mode-round-trip-upper-halves", 0xa5a5a5a5u, false);
        else
            check("long-mode-round-trip-upper-halves", false, "(no edu on bus 0)");
        out("tvtest: %u passed, %u failed\n", passed, failed);
        return failed ? EFI_ABORTED : EFI_SUCCESS;
    }
    if (has_option(image, L"--delivery-into-bar")) {
        delivery_into_bar();
        out("tvtest: %u passed, %u failed\n", passed, failed);
        return EFI_ABORTED;
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
        test_mmio_sites();
        test_signature_every_cpu();
        test_bar_move_every_cpu();
    }
    out("tvtest: %u passed, %u failed\n", passed, failed);
    return failed ? EFI_ABORTED : EFI_SUCCESS;
}
