/* exitbench.efi: VM-exit round trips timed from inside the guest (issue 5).
 *
 * Each operation runs N times after a warm-up, each run timed with serialized TSC reads, with
 * interrupts masked (TPL_HIGH_LEVEL on the BSP, CLI on an AP) so a timer tick never lands in
 * a sample. One line per operation:
 *   exitbench: op=<name> n=<N> min=<a> median=<b> p99=<c> max=<d> hv_median=<e>
 * and every sample into a CSV on the ESP (\trapvisor\exitbench.csv by default).
 *
 * hv_median comes from Trapvisor's own accounting: when the statistics function is present
 * its BAR is read (without an exit) after every sample; if this CPU's exit sequence number
 * advanced by exactly one, that exit's root-mode time is the sample's hypervisor share.
 *
 * Without Trapvisor (a KVM guest with -device edu, or QEMU TCG) the operations that exist
 * there run the same way, so one binary compares both. VMCALL only runs under a hypervisor
 * that answers it (Trapvisor, KVM); elsewhere it would be #UD. An operation that cannot run
 * gets one `exitbench: <op> skipped: <why>` line instead of its op= line.
 *
 * Under Trapvisor, one more line per CPU that ran after the operations' lines:
 *   exitbench: mmio-paths cpu=<n> light=<a> full=<b> fill=<c> general=<d> retry=<e> refused=<f>
 * how many of that CPU's EPT-violation exits took each path of the MMIO handler over the whole
 * run (warm-ups included): the difference of two readings of the statistics pages, one before
 * the first operation and one after the last (docs/exitbench.md, docs/stats.md).
 *
 * --alternate-cr3: consecutive samples run under two page-table roots, the firmware's and a
 * copy of its top-level table (the same translations), as a guest OS runs the same code under
 * the roots of different processes. CR3 is loaded before each sample's first TSC read. */
#include <efi.h>
#include <efilib.h>
#include <stdbool.h>

#include "lib/cr.h" /* a MOV to CR3 also empties the non-global TLB, as a process switch does */
#include "lib/efi_mp.h"
#include "lib/fmt.h"
#include "lib/io.h"
#include "lib/string.h"
#include "lib/tsc.h"
#include "tools/exitbench/samples.h"
#include "vmx/hypercall_abi.h"
#include "vmx/stats_abi.h"

#define EDU_VENDOR       0x1234u
#define EDU_DEVICE       0x11e8u
#define EDU_REG_ID       0x00u
#define EDU_REG_LIVENESS 0x04u
#define PCI_CF8          0xCF8u
#define PCI_CFC          0xCFCu
#define MAX_SAMPLES      100000u
#define MAX_CPUS         TV_STATS_MAX_CPUS
#define AP_TIMEOUT_US    (60ull * 1000 * 1000)
#define MAX_SITES        64u
#define SITE_PAGES       4u /* where --sites places its instruction copies */

enum op_id {
    OP_CPUID,
    OP_VMCALL,
    OP_PIO_CFC,
    OP_MMIO_READ,
    OP_MMIO_WRITE,
    OP_RAM_READ,
    OP_STATS_READ,
    OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "cpuid", "vmcall", "pio-cfc", "mmio-read-edu", "mmio-write-edu", "ram-read", "stats-read",
};

/* What the measurement needs to know about the machine; shared with APs read-only. */
struct bench {
    unsigned n, warmup;
    bool hv_trapvisor, hv_answers_vmcall;
    uint32_t edu_cf8;       /* CF8 address of the edu function's vendor/device dword */
    volatile uint32_t *edu; /* BAR0, or NULL */
    volatile const struct tv_stats *stats; /* statistics BAR0, or NULL */
    bool enabled[OP_COUNT];
    /* --alternate-cr3: the firmware's CR3 and the same with the copy's table; 0 = off. A CPU
     * whose own CR3 is not cr3[0] (an AP with other tables) keeps its own. */
    uint64_t cr3[2];
    /* --sites N: the MMIO operations run through N copies of their instruction at as many
     * addresses (call_site), sample i through copy i mod N; 0 = inline, one instruction. */
    unsigned nsites;
    void *load_site[MAX_SITES];  /* mov eax, [rdi]; ret */
    void *store_site[MAX_SITES]; /* mov [rdi], esi; ret */
};

/* Per CPU and operation: samples and the hypervisor's share of each. */
struct cpu_result {
    bool ran;
    uint32_t apic_id;
    uint64_t *ticks[OP_COUNT];
    uint64_t *hv[OP_COUNT];
    unsigned nhv[OP_COUNT];
    bool roots_alternated;
};

static struct bench B;
static struct cpu_result results[MAX_CPUS];
static volatile uint32_t ram_word = 0x12345678;

/* --- output: console (OVMF mirrors it to serial) ------------------------------------------- */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    Print(L"%a", line);
}

/* --- the operations ------------------------------------------------------------------------ */

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline void op_vmcall(void)
{
    uint64_t rax = TV_HC_VERSION, rbx = 0, rcx = 0, rdx = 0;
    __asm__ volatile("vmcall" : "+a"(rax), "+b"(rbx), "+c"(rcx), "+d"(rdx) : : "memory");
}

static inline uint32_t apic_id_of_this_cpu(void)
{
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    return b >> 24;
}

/* One instruction copy of --sites: RDI the address, ESI the value of a store; EAX comes back
 * (the load's value). */
static inline void call_site(void *fn, volatile uint32_t *addr, uint32_t value)
{
    uint64_t rax = 0;
    __asm__ volatile("call *%[fn]"
                     : "+a"(rax)
                     : [fn] "r"(fn), "D"(addr), "S"(value)
                     : "memory", "cc");
}

/* --sites: the copy sample i of an MMIO operation runs through, its address and value. */
struct site_call {
    void *fn;
    volatile uint32_t *addr;
    uint32_t value;
};

static struct site_call site_of_sample(enum op_id op, unsigned i)
{
    const unsigned k = i % B.nsites;
    if (op == OP_MMIO_READ)
        return (struct site_call){B.load_site[k], &B.edu[EDU_REG_ID / 4], 0};
    return (struct site_call){B.store_site[k], &B.edu[EDU_REG_LIVENESS / 4], 0x5a5a5a5a};
}

static void run_op(enum op_id op)
{
    uint32_t a, b, c, d;
    switch (op) {
    case OP_CPUID:
        cpuid(0, &a, &b, &c, &d);
        break;
    case OP_VMCALL:
        op_vmcall();
        break;
    case OP_PIO_CFC:
        (void)inl(PCI_CFC);
        break;
    case OP_MMIO_READ:
        (void)B.edu[EDU_REG_ID / 4];
        break;
    case OP_MMIO_WRITE:
        B.edu[EDU_REG_LIVENESS / 4] = 0x5a5a5a5a;
        break;
    case OP_RAM_READ:
        (void)ram_word;
        break;
    case OP_STATS_READ:
        (void)B.stats->hdr.generation;
        break;
    default:
        break;
    }
}

static int stats_cpu_index(uint32_t apic_id)
{
    if (!B.stats)
        return -1;
    uint32_t n = B.stats->hdr.ncpus;
    for (uint32_t i = 0; i < n && i < TV_STATS_MAX_CPUS; i++)
        if (B.stats->cpu[i].apic_id == apic_id)
            return (int)i;
    return -1;
}

/* Before sample i: the root of its parity when roots alternate on this CPU. */
static inline void select_root(bool alternate, unsigned i)
{
    if (alternate)
        write_cr3(B.cr3[i & 1]);
}

/* Sample i of `op`: its round trip, and the hypervisor's share when exactly one exit happened
 * (this CPU's exit sequence number moved by one since seq0). The stats BAR is read-only mapped:
 * these reads cause no exit. */
static inline void keep_sample(struct cpu_result *r, enum op_id op, unsigned i, uint64_t ticks,
                               volatile const struct tv_stats_cpu *sc, uint64_t seq0)
{
    r->ticks[op][i] = ticks;
    if (sc && sc->seq == seq0 + 1)
        r->hv[op][r->nhv[op]++] = sc->last_ticks;
}

/* The samples of one operation: only the operation lies between the two TSC reads. */
static void measure_op(struct cpu_result *r, enum op_id op, bool alternate,
                       volatile const struct tv_stats_cpu *sc)
{
    for (unsigned i = 0; i < B.warmup; i++) {
        select_root(alternate, i);
        run_op(op);
    }
    for (unsigned i = 0; i < B.n; i++) {
        select_root(alternate, i);
        uint64_t seq0 = sc ? sc->seq : 0;
        uint64_t t0 = tsc_read_ordered();
        run_op(op);
        uint64_t t1 = tsc_read_ordered();
        keep_sample(r, op, i, t1 - t0, sc, seq0);
    }
}

/* measure_op through --sites' copies (out of line, so measure_op's loop stays as it is): the
 * copy is chosen before the first TSC read; the call and return are inside the window. */
__attribute__((noinline)) static void measure_through_sites(struct cpu_result *r, enum op_id op,
                                                            bool alternate,
                                                            volatile const struct tv_stats_cpu *sc)
{
    for (unsigned i = 0; i < B.warmup; i++) {
        select_root(alternate, i);
        const struct site_call c = site_of_sample(op, i);
        call_site(c.fn, c.addr, c.value);
    }
    for (unsigned i = 0; i < B.n; i++) {
        select_root(alternate, i);
        const struct site_call c = site_of_sample(op, i);
        uint64_t seq0 = sc ? sc->seq : 0;
        uint64_t t0 = tsc_read_ordered();
        call_site(c.fn, c.addr, c.value);
        uint64_t t1 = tsc_read_ordered();
        keep_sample(r, op, i, t1 - t0, sc, seq0);
    }
}

/* Runs every enabled operation on the calling CPU; interrupts must already be masked. */
static void measure_on_this_cpu(struct cpu_result *r)
{
    r->apic_id = apic_id_of_this_cpu();
    int si = stats_cpu_index(r->apic_id);
    volatile const struct tv_stats_cpu *sc = si >= 0 ? &B.stats->cpu[si] : NULL;
    const uint64_t own_cr3 = read_cr3();
    const bool alternate = B.cr3[0] && own_cr3 == B.cr3[0];
    r->roots_alternated = alternate;

    for (int op = 0; op < OP_COUNT; op++) {
        if (!B.enabled[op] || !r->ticks[op])
            continue;
        if (op == OP_PIO_CFC)
            outl(PCI_CF8, B.edu_cf8); /* latch once: each sample is one CFC read */
        r->nhv[op] = 0;
        if (B.nsites && (op == OP_MMIO_READ || op == OP_MMIO_WRITE))
            measure_through_sites(r, op, alternate, sc);
        else
            measure_op(r, op, alternate, sc);
    }
    if (alternate)
        write_cr3(own_cr3);
    r->ran = true;
}

static VOID EFIAPI ap_measure(VOID *arg)
{
    uint64_t flags;
    __asm__ volatile("pushfq; pop %0; cli" : "=r"(flags) : : "memory");
    measure_on_this_cpu(arg);
    if (flags & (1u << 9))
        __asm__ volatile("sti");
}

/* --- MMIO exits by path over the run (statistics version 2) ------------------------------- */

/* One CPU block's MMIO figures: its EPT-violation exits and its counted paths. */
struct path_reading {
    bool ok;
    uint64_t ept_violations;
    uint64_t path[TV_STATS_MMIO_PATHS];
};

struct path_snapshot {
    uint64_t generation;
    struct path_reading cpu[TV_STATS_MAX_CPUS];
};

static struct path_snapshot paths_before, paths_after;

/* Reads every CPU block in use from the live pages (no exit: they are mapped read-only). A block
 * whose seq moved while it was read is read again, so the figures belong together: a CPU's
 * record bumps seq last (docs/stats.md). */
static void read_mmio_paths(struct path_snapshot *s)
{
    s->generation = B.stats->hdr.generation;
    uint32_t n = B.stats->hdr.ncpus;
    if (n > TV_STATS_MAX_CPUS)
        n = TV_STATS_MAX_CPUS;
    for (uint32_t i = 0; i < n; i++) {
        volatile const struct tv_stats_cpu *c = &B.stats->cpu[i];
        struct path_reading *r = &s->cpu[i];
        r->ok = false;
        for (unsigned tries = 0; tries < 1000 && !r->ok; tries++) {
            const uint64_t seq = c->seq;
            r->ept_violations = c->reason[48].count;
            for (unsigned p = 0; p < TV_STATS_MMIO_PATHS; p++)
                r->path[p] = c->mmio_path[p];
            r->ok = c->seq == seq;
        }
    }
}

/* The mmio-paths line of each CPU that ran, from the two readings around the run. */
static void report_mmio_paths(unsigned ncpus)
{
    if (!(B.stats->hdr.flags & TV_STATS_F_ACCOUNTING)) {
        out("exitbench: mmio-paths skipped: Trapvisor built without accounting (ACCOUNTING=0)\n");
        return;
    }
    if (paths_after.generation != paths_before.generation) {
        out("exitbench: mmio-paths skipped: the statistics were reset during the run\n");
        return;
    }
    for (unsigned cpu = 0; cpu < ncpus; cpu++) {
        if (!results[cpu].ran)
            continue;
        const int si = stats_cpu_index(results[cpu].apic_id);
        const struct path_reading *a = si >= 0 ? &paths_before.cpu[si] : NULL;
        const struct path_reading *b = si >= 0 ? &paths_after.cpu[si] : NULL;
        if (!a || !a->ok || !b->ok) {
            out("exitbench: mmio-paths cpu=%u skipped: no consistent statistics block\n", cpu);
            continue;
        }
        uint64_t d[TV_STATS_MMIO_PATHS];
        for (unsigned p = 0; p < TV_STATS_MMIO_PATHS; p++)
            d[p] = b->path[p] - a->path[p];
        const uint64_t light = tv_stats_mmio_light(b->ept_violations - a->ept_violations, d);
        out("exitbench: mmio-paths cpu=%u light=%llu full=%llu fill=%llu general=%llu retry=%llu "
            "refused=%llu\n",
            cpu, (unsigned long long)light, (unsigned long long)d[TV_MMIO_PATH_FULL],
            (unsigned long long)d[TV_MMIO_PATH_FILL], (unsigned long long)d[TV_MMIO_PATH_GENERAL],
            (unsigned long long)d[TV_MMIO_PATH_RETRY], (unsigned long long)d[TV_MMIO_PATH_REFUSED]);
    }
}

/* --- discovery ----------------------------------------------------------------------------- */

static uint32_t cf8_address(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xFC);
}

static uint32_t cfg_read32(uint32_t addr)
{
    outl(PCI_CF8, addr);
    return inl(PCI_CFC);
}

/* Finds the first function with vendor:device; returns its CF8 address of offset 0, or 0. */
static uint32_t pci_find(uint16_t vendor, uint16_t device)
{
    uint32_t want = (uint32_t)device << 16 | vendor;
    for (unsigned bus = 0; bus < 256; bus++) {
        for (unsigned dev = 0; dev < 32; dev++) {
            uint32_t id0 = cfg_read32(cf8_address(bus, dev, 0, 0));
            if ((id0 & 0xFFFF) == 0xFFFF)
                continue;
            bool multi = (cfg_read32(cf8_address(bus, dev, 0, 0x0C)) >> 16) & 0x80;
            for (unsigned fn = 0; fn < (multi ? 8u : 1u); fn++) {
                uint32_t id = fn ? cfg_read32(cf8_address(bus, dev, fn, 0)) : id0;
                if (id == want)
                    return cf8_address(bus, dev, fn, 0);
            }
        }
    }
    return 0;
}

/* Memory BAR0's address (32- or 64-bit), with memory decode on; NULL if unassigned. */
static volatile void *pci_bar0(uint32_t cf8)
{
    uint32_t lo = cfg_read32(cf8 + 0x10);
    if (lo & 1)
        return NULL; /* an I/O BAR */
    uint64_t base = lo & ~0xFull;
    if ((lo & 6) == 4)
        base |= (uint64_t)cfg_read32(cf8 + 0x14) << 32;
    uint32_t cmd = cfg_read32(cf8 + 0x04);
    if (!(cmd & 2)) {
        outl(PCI_CF8, cf8 + 0x04);
        outl(PCI_CFC, cmd | 2);
    }
    return base ? (volatile void *)(uintptr_t)base : NULL;
}

static void detect_hypervisor(void)
{
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    if (!(c & (1u << 31))) {
        out("exitbench: hypervisor none\n");
        return;
    }
    cpuid(TV_CPUID_LEAF_SIGNATURE, &a, &b, &c, &d);
    B.hv_trapvisor = b == TV_CPUID_SIG_EBX && c == TV_CPUID_SIG_ECX && d == TV_CPUID_SIG_EDX;
    /* KVM answers VMCALL too ("KVMKVMKVM\0\0\0"), with -KVM_ENOSYS for unknown numbers. */
    bool kvm = b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d;
    B.hv_answers_vmcall = B.hv_trapvisor || kvm;
    char sig[13];
    uint32_t regs[3] = {b, c, d};
    for (int i = 0; i < 12; i++) {
        char ch = (char)(regs[i / 4] >> (8 * (i % 4)));
        sig[i] = ch >= 0x20 && ch < 0x7f ? ch : '.';
    }
    sig[12] = 0;
    out("exitbench: hypervisor %s (signature \"%s\")\n",
        B.hv_trapvisor ? "trapvisor"
        : kvm          ? "kvm"
                       : "other",
        sig);
}

/* --- options ------------------------------------------------------------------------------- */

struct options {
    unsigned n, warmup, sites;
    bool all_cpus, alternate_cr3;
    CHAR16 csv[128];
    char only[128]; /* comma-separated op names, "" = all */
};

static bool parse_uint(const char *s, unsigned max, unsigned *v)
{
    unsigned x = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (max - (unsigned)(*s - '0')) / 10)
            return false;
        x = x * 10 + (unsigned)(*s - '0');
    }
    *v = x;
    return true;
}

/* Load options as the shell passes them: "exitbench.efi -n 1000 --all-cpus". */
static bool parse_options(EFI_LOADED_IMAGE *li, struct options *o)
{
    char cmd[512];
    size_t len = 0;
    const CHAR16 *w = li->LoadOptions;
    size_t wn = li->LoadOptionsSize / sizeof(CHAR16);
    for (size_t i = 0; w && i < wn && w[i] && len < sizeof cmd - 1; i++)
        cmd[len++] = w[i] < 128 ? (char)w[i] : '?';
    cmd[len] = 0;

    char *argv[32];
    int argc = 0;
    for (char *p = cmd; *p && argc < 32;) {
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    for (int i = 1; i < argc; i++) { /* argv[0] is the image path */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-n") && v && parse_uint(v, MAX_SAMPLES, &o->n) && o->n > 0) {
            i++;
        } else if (!strcmp(a, "--warmup") && v && parse_uint(v, MAX_SAMPLES, &o->warmup)) {
            i++;
        } else if (!strcmp(a, "--all-cpus")) {
            o->all_cpus = true;
        } else if (!strcmp(a, "--alternate-cr3")) {
            o->alternate_cr3 = true;
        } else if (!strcmp(a, "--sites") && v && parse_uint(v, MAX_SITES, &o->sites) &&
                   o->sites > 0) {
            i++;
        } else if (!strcmp(a, "--csv") && v && strlen(v) < 127) {
            for (size_t k = 0; k <= strlen(v); k++)
                o->csv[k] = (CHAR16)v[k];
            i++;
        } else if (!strcmp(a, "--ops") && v && strlen(v) < sizeof o->only) {
            memcpy(o->only, v, strlen(v) + 1);
            i++;
        } else {
            out("exitbench: bad option '%s' (usage: exitbench.efi [-n N] [--warmup N] "
                "[--all-cpus] [--alternate-cr3] [--sites N] [--ops a,b] [--csv \\path])\n",
                a);
            return false;
        }
    }
    return true;
}

static bool op_listed(const char *list, const char *name)
{
    if (!*list)
        return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len + (e ? 1 : 0);
    }
    return false;
}

/* --- CSV on the ESP ------------------------------------------------------------------------ */

struct csv {
    char *buf;
    size_t len, cap;
};

static void csv_line(struct csv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void csv_line(struct csv *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->len < c->cap)
        c->len += (size_t)fmt_vsnprintf(c->buf + c->len, c->cap - c->len, fmt, ap);
    if (c->len > c->cap)
        c->len = c->cap; /* truncated: reported when written */
    va_end(ap);
}

static EFI_STATUS csv_write(EFI_LOADED_IMAGE *li, const CHAR16 *path, const struct csv *c)
{
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle), dir = NULL, f = NULL;
    if (!root)
        return EFI_NOT_FOUND;
    /* Make sure the folder exists (the default path is \trapvisor\exitbench.csv). */
    CHAR16 folder[128];
    StrCpy(folder, (CHAR16 *)path);
    for (INTN i = (INTN)StrLen(folder) - 1; i > 0; i--) {
        if (folder[i] == L'\\') {
            folder[i] = 0;
            if (!EFI_ERROR(
                    root->Open(root, &dir, folder,
                               EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE,
                               EFI_FILE_DIRECTORY)))
                dir->Close(dir);
            break;
        }
    }
    EFI_STATUS st = root->Open(root, &f, (CHAR16 *)path,
                               EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE, 0);
    if (!EFI_ERROR(st)) {
        f->SetPosition(f, 0);
        /* Truncate an older, longer file: delete and recreate. */
        f->Delete(f);
        st = root->Open(root, &f, (CHAR16 *)path,
                        EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE, 0);
    }
    if (!EFI_ERROR(st)) {
        UINTN n = c->len;
        st = f->Write(f, &n, c->buf);
        f->Close(f);
    }
    root->Close(root);
    return st;
}

/* --- main ---------------------------------------------------------------------------------- */

static bool alloc_result(struct cpu_result *r, unsigned n)
{
    for (int op = 0; op < OP_COUNT; op++) {
        if (!B.enabled[op])
            continue;
        r->ticks[op] = AllocatePool(n * sizeof(uint64_t));
        r->hv[op] = AllocatePool(n * sizeof(uint64_t));
        if (!r->ticks[op] || !r->hv[op])
            return false;
    }
    return true;
}

static void report_cpu(const struct cpu_result *r, unsigned cpu, struct csv *c)
{
    out("exitbench: cpu %u apic_id %u\n", cpu, r->apic_id);
    for (int op = 0; op < OP_COUNT; op++) {
        if (!B.enabled[op] || !r->ticks[op])
            continue;
        for (unsigned i = 0; i < B.n; i++)
            csv_line(c, "%s,%u,%u,%llu\n", op_names[op], cpu, i,
                     (unsigned long long)r->ticks[op][i]);
        struct sample_summary s = samples_summarize(r->ticks[op], B.n);
        struct sample_summary hv = samples_summarize(r->hv[op], r->nhv[op]);
        char line[256];
        samples_format_line(line, sizeof line, op_names[op], &s, hv.median);
        out("%s", line);
    }
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    EFI_LOADED_IMAGE *li = NULL;
    if (EFI_ERROR(BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&li)))
        return EFI_LOAD_ERROR;

    struct options o = {.n = 1000, .warmup = 100};
    StrCpy(o.csv, L"\\trapvisor\\exitbench.csv");
    if (!parse_options(li, &o))
        return EFI_INVALID_PARAMETER;
    B.n = o.n;
    B.warmup = o.warmup;

    detect_hypervisor();
    uint32_t edu = pci_find(EDU_VENDOR, EDU_DEVICE);
    if (edu) {
        B.edu_cf8 = edu;
        B.edu = pci_bar0(edu);
        out("exitbench: edu at %02x:%02x.%x bar0=%p\n", (edu >> 16) & 0xFF, (edu >> 11) & 0x1F,
            (edu >> 8) & 7, (void *)B.edu);
    } else {
        out("exitbench: no edu function found: pio-cfc and mmio-*-edu skipped\n");
    }
    uint32_t st = pci_find(TV_STATS_PCI_VENDOR, TV_STATS_PCI_DEVICE);
    if (st) {
        volatile const struct tv_stats *s = pci_bar0(st);
        if (s && s->hdr.magic == TV_STATS_MAGIC && s->hdr.version == TV_STATS_VERSION)
            B.stats = s;
        out("exitbench: statistics function %s\n", B.stats ? "found" : "has a bad header");
    }

    bool present[OP_COUNT] = {
        [OP_CPUID] = true,
        [OP_VMCALL] = B.hv_answers_vmcall,
        [OP_PIO_CFC] = edu != 0,
        [OP_MMIO_READ] = B.edu != NULL,
        [OP_MMIO_WRITE] = B.edu != NULL,
        [OP_RAM_READ] = true,
        [OP_STATS_READ] = B.stats != NULL,
    };
    static const char *const absent_why[OP_COUNT] = {
        [OP_VMCALL] = "no hypervisor that answers VMCALL (Trapvisor, KVM)",
        [OP_PIO_CFC] = "no edu function",
        [OP_MMIO_READ] = "no edu memory BAR",
        [OP_MMIO_WRITE] = "no edu memory BAR",
        [OP_STATS_READ] = "no Trapvisor statistics function",
    };
    for (int op = 0; op < OP_COUNT; op++) {
        const bool listed = op_listed(o.only, op_names[op]);
        B.enabled[op] = present[op] && listed;
        if (listed && !present[op])
            out("exitbench: %s skipped: %s\n", op_names[op], absent_why[op]);
    }

    /* --alternate-cr3: a copy of the top-level paging table (PML4, or PML5 with CR4.LA57), so
     * the copy's root translates exactly as the firmware's; CR3 bits 11:0 (PCID, or PWT/PCD)
     * are kept (SDM Vol. 3A, 4.5, Tables 4-12 and 4-13). */
    EFI_PHYSICAL_ADDRESS root_copy = 0;
    if (o.alternate_cr3) {
        const uint64_t cr3 = read_cr3(), table = cr3 & 0x000FFFFFFFFFF000ull;
        if (EFI_ERROR(BS->AllocatePages(AllocateAnyPages, EfiBootServicesData, 1, &root_copy))) {
            out("exitbench: no page for a second page-table root\n");
            return EFI_OUT_OF_RESOURCES;
        }
        memcpy((void *)(uintptr_t)root_copy, (const void *)(uintptr_t)table, 4096);
        B.cr3[0] = cr3;
        B.cr3[1] = root_copy | (cr3 & 0xFFF);
        out("exitbench: page-table roots alternate: cr3 0x%llx and 0x%llx\n",
            (unsigned long long)B.cr3[0], (unsigned long long)B.cr3[1]);
    }

    /* --sites N: N copies of each MMIO instruction at pseudo-random places in SITE_PAGES pages
     * of code, as the register accesses of a driver lie in its code: each copy in a 16-byte slot
     * of its own (distinct slots, drawn with a fixed seed so every run uses the same places) at
     * a byte offset 0..12 in it. A hypervisor that remembers MMIO instructions then holds N of
     * them at once (docs/exitbench.md). */
    EFI_PHYSICAL_ADDRESS site_code = 0;
    if (o.sites && B.edu) {
        if (EFI_ERROR(BS->AllocatePages(AllocateAnyPages, EfiLoaderCode, SITE_PAGES, &site_code))) {
            out("exitbench: no pages for --sites\n");
            return EFI_OUT_OF_RESOURCES;
        }
        static const uint8_t load[3] = {0x8b, 0x07, 0xc3};  /* mov eax, [rdi]; ret */
        static const uint8_t store[3] = {0x89, 0x37, 0xc3}; /* mov [rdi], esi; ret */
        static bool taken[SITE_PAGES * 4096 / 16];
        uint8_t *code = (uint8_t *)(uintptr_t)site_code;
        memset(code, 0xcc, SITE_PAGES * 4096); /* int3 around the copies */
        uint32_t x = 0x2545f491u;
        for (unsigned k = 0; k < 2 * o.sites; k++) {
            unsigned slot;
            do {
                x = x * 1664525u + 1013904223u; /* Numerical Recipes' LCG */
                slot = (x >> 8) % (SITE_PAGES * 4096 / 16);
            } while (taken[slot]);
            taken[slot] = true;
            uint8_t *at = code + slot * 16 + (x >> 27) % 13;
            memcpy(at, k < o.sites ? load : store, 3);
            if (k < o.sites)
                B.load_site[k] = at;
            else
                B.store_site[k - o.sites] = at;
        }
        B.nsites = o.sites;
        out("exitbench: the MMIO operations run through %u copies of their instruction\n", o.sites);
    }

    struct mp_services *mp = NULL;
    UINTN ncpus = 1, nenabled = 1, self = 0;
    if (o.all_cpus) {
        EFI_GUID guid = MP_SERVICES_GUID;
        if (!EFI_ERROR(BS->LocateProtocol(&guid, NULL, (void **)&mp))) {
            mp->get_number_of_processors(mp, &ncpus, &nenabled);
            mp->who_am_i(mp, &self);
        } else {
            out("exitbench: no MP services: measuring this CPU only\n");
        }
        if (ncpus > MAX_CPUS)
            ncpus = MAX_CPUS;
    }

    if (B.stats)
        read_mmio_paths(&paths_before);
    for (UINTN cpu = 0; cpu < ncpus; cpu++) {
        if (!alloc_result(&results[cpu], B.n)) {
            out("exitbench: out of memory for %u samples\n", B.n);
            return EFI_OUT_OF_RESOURCES;
        }
        if (cpu == self || !mp) {
            EFI_TPL old = BS->RaiseTPL(TPL_HIGH_LEVEL);
            measure_on_this_cpu(&results[cpu]);
            BS->RestoreTPL(old);
        } else {
            EFI_STATUS s =
                mp->startup_this_ap(mp, ap_measure, cpu, NULL, AP_TIMEOUT_US, &results[cpu], NULL);
            if (EFI_ERROR(s))
                out("exitbench: cpu %u did not run (status 0x%llx)\n", (unsigned)cpu,
                    (unsigned long long)s);
        }
    }
    if (B.stats)
        read_mmio_paths(&paths_after);

    if (root_copy) {
        for (UINTN cpu = 0; cpu < ncpus; cpu++)
            if (results[cpu].ran && !results[cpu].roots_alternated)
                out("exitbench: cpu %u kept its own page-table root (not the firmware's)\n",
                    (unsigned)cpu);
        BS->FreePages(root_copy, 1);
    }

    if (site_code)
        BS->FreePages(site_code, SITE_PAGES);

    struct csv c = {.cap = (size_t)ncpus * OP_COUNT * B.n * 40 + 64};
    c.buf = AllocatePool(c.cap);
    if (!c.buf)
        c.cap = 0;
    csv_line(&c, "op,cpu,iteration,ticks\n");
    for (UINTN cpu = 0; cpu < ncpus; cpu++)
        if (results[cpu].ran)
            report_cpu(&results[cpu], (unsigned)cpu, &c);
    if (B.stats)
        report_mmio_paths((unsigned)ncpus);

    EFI_STATUS ws = c.cap ? csv_write(li, o.csv, &c) : EFI_OUT_OF_RESOURCES;
    if (EFI_ERROR(ws))
        out("exitbench: could not write the CSV (status 0x%llx)\n", (unsigned long long)ws);
    else
        Print(L"exitbench: samples in %s\n", o.csv);
    return EFI_SUCCESS;
}
