/* Host replay of one MMIO exit's software path, for
 *   valgrind --tool=callgrind build/perf/mmio_replay
 * (`make perf-mmio` runs it through tests/perf/perf_mmio.sh and prints the per-exit counts),
 * whose per-function instruction counts track the path length Bochs measures. The guest runs
 * `mov eax, [rbx]` and `mov [rbx], eax` in 64-bit code (4-level paging) against edu's BAR0
 * (devices/edu.c behind pci/pci.c, as in the hypervisor). Each path is what boot/mmio.c does
 * (VMREADs become loads from `struct replay_exit`; the retire's VMWRITEs are left out):
 *
 *   replay_general   the general path: ept_region_lookup, fetch_insn (the full walk),
 *                    x86_decode, x86_emulate whose access goes through the exit's translation
 *                    to pci_mmio_read/write (mmio_general, mem_access, phys_access);
 *   replay_new_site  a site used once (what every exit costs with make MMIO_CACHES=0):
 *                    ept_region_lookup, fetch_insn_fast, then describe and run it;
 *   replay_site_hit  a remembered site, as the light hook replays it (mmio_site_replay, the
 *                    common case): the slot by RIP, ept_region_cache_hit, fetch_bound_code,
 *                    the 15-byte compare, the access kind, x86_mov_offset, the linear-address
 *                    and page check, pci_bar_route_offset, the plain register's load
 *                    (device_plain_load: the identification register, which the site was
 *                    filled for), x86_mov_load, RIP after it;
 *   replay_site_hit_ops_read  the same site reading another register (liveness): the value
 *                    through dev->ops->read;
 *   replay_general_store, replay_site_hit_store  the store, through pci_mmio_write and
 *                    x86_mov_store_value + dev->ops->write.
 *
 * After every exit the registers must be exactly the expected ones (RAX the zero-extended
 * register value, RIP past the instruction), a store must have reached the device, and every
 * site replay must have handled the exit itself: otherwise a line says what differs and the
 * exit status is 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "decode/emulate.h"
#include "decode/fetch.h"
#include "decode/mov.h"
#include "decode/walk.h"
#include "devices/edu.h"
#include "ept/region.h"
#include "pci/pci.h"
#include "tests/support/replay_guest.h"

#define CODE_LA   0x400000ull
#define LOAD_RIP  CODE_LA            /* 8b 03: mov eax, [rbx] */
#define STORE_RIP (CODE_LA + 0x10)   /* 89 03: mov [rbx], eax */
#define DEV_LA    (CODE_LA + 0x1000) /* shares the page tables with the code page */
#define BAR_GPA   0xC1000000ull      /* edu BAR0, trapped */
#define BAR_BDF   PCI_BDF(0, 2, 0)
/* CR0.PE (bit 0) and CR0.PG (bit 31), SDM Vol. 3A, 2.5: all a fetch in IA-32e mode reads of CR0. */
#define CR0_PE_PG 0x80000001ull

/* The VMCS fields the MMIO path reads at an EPT violation (SDM Vol. 3C, 28.2.1, Table 28-7 for
 * the qualification; 25.4.1 for the guest state). */
struct replay_exit {
    uint64_t gpa, qual, gla;
    uint64_t rip, cr0, cr3, cr4, efer, rflags;
    uint32_t cs_ar;
    unsigned cpl;
};

static struct pci_bus bus;
static struct pci_function edu_fn;
static struct edu edu;
static struct ept_region_table regions;
static struct guest_mem view; /* boot_guest_mem: gpa callbacks and the direct view */
static unsigned maxphyaddr = 39;

/* ---- the general path (boot/mmio.c mmio_general) ----------------------------------------- */

struct replay_ctx {
    const struct replay_exit *e;
    struct ept_region region;
};

/* mem_access + phys_access for the one case the replay reaches: the exit's own translation
 * (qualification bits 7 and 8), inside the exit's region, routed by the bus. */
static enum x86_emu_status replay_emu_access(const struct replay_ctx *m, uint64_t la, void *buf,
                                             unsigned size, bool write, struct x86_exception *exc)
{
    if (((la ^ m->e->gla) >> 12) != 0 || (la & 4095) + size > 4096) {
        exc->vector = X86_VEC_GP; /* not this replay's access: fails the comparison */
        exc->error_code = 0;
        exc->address = 0;
        return X86_EMU_EXCEPTION;
    }
    uint64_t gpa = (m->e->gpa & ~4095ull) | (la & 4095), val = 0;
    if (gpa - m->region.base >= m->region.size) {
        if (!write)
            memset(buf, 0xFF, size);
    } else if (write) {
        memcpy(&val, buf, size);
        pci_mmio_write(&bus, gpa, size, val);
    } else {
        pci_mmio_read(&bus, gpa, size, &val);
        memcpy(buf, &val, size);
    }
    return X86_EMU_OK;
}

static enum x86_emu_status replay_emu_read(void *ctx, uint64_t la, void *buf, unsigned size,
                                           struct x86_exception *exc)
{
    return replay_emu_access(ctx, la, buf, size, false, exc);
}

static enum x86_emu_status replay_emu_write(void *ctx, uint64_t la, const void *buf, unsigned size,
                                            struct x86_exception *exc)
{
    return replay_emu_access(ctx, la, (void *)buf, size, true, exc);
}

__attribute__((always_inline)) static inline bool general_path(const struct replay_exit *e,
                                                               struct x86_regs *regs)
{
    struct replay_ctx m = {.e = e};
    if (!ept_region_lookup(&regions, e->gpa, &m.region))
        return false;
    const struct guest_paging pg = {.cr0 = e->cr0,
                                    .cr3 = e->cr3,
                                    .cr4 = e->cr4,
                                    .efer = e->efer,
                                    .rflags = e->rflags,
                                    .cpl = e->cpl,
                                    .maxphyaddr = maxphyaddr};
    const struct fetch_cs cs = {.base = 0, .limit = 0, .ar = e->cs_ar};
    struct fetch_result f;
    fetch_insn(&pg, &view, &cs, e->rip, &f);
    struct x86_insn insn;
    if (x86_decode(f.bytes, f.len, X86_MODE_64, &insn) != X86_DECODE_OK)
        return false;
    struct x86_emu_env env = {
        .mode = X86_MODE_64, .ctx = &m, .read = replay_emu_read, .write = replay_emu_write};
    regs->rip = e->rip;
    regs->rflags = e->rflags;
    struct x86_exception exc;
    return x86_emulate(&insn, regs, &env, 4096, &exc) == X86_EMU_OK;
}

/* Two callers so callgrind counts loads and stores apart. */
__attribute__((noinline)) static bool replay_general(const struct replay_exit *e,
                                                     struct x86_regs *regs)
{
    return general_path(e, regs);
}

__attribute__((noinline)) static bool replay_general_store(const struct replay_exit *e,
                                                           struct x86_regs *regs)
{
    return general_path(e, regs);
}

/* ---- MMIO sites (boot/mmio.c "MMIO sites") ------------------------------------------------ */

struct replay_site {
    uint64_t rip;       /* SITE_EMPTY: none */
    uint64_t light_rip; /* rip when the light hook may replay it (no RBP or R12-R15 named) */
    uint64_t bytes_lo, bytes_hi;
    struct ept_region_cache region;
    struct pci_bar_route route;
    struct x86_mov_access mov;
    uint64_t value_mask;
    const void *plain; /* a load of a plain register (device_ops.plain_read) at plain_offset */
    uint64_t plain_offset;
    uint32_t qual_kind; /* QUAL_GLA | 1 read, | 2 write; 0 the general path's */
    struct fetch_cache fc;
};

#define SITE_EMPTY    (1ull << 63)
#define QUAL_GLA      (3u << 7) /* qualification bits 7 and 8 (boot/mmio.c MMIO_QUAL_GLA) */
#define SITE_SETS     16
#define SITE_WAYS     4
#define SITES_PER_CPU (SITE_SETS * SITE_WAYS)
/* One site per 512 bytes, as boot/mmio.c lays them out. */
struct replay_site_slot {
    struct replay_site site;
} __attribute__((aligned(512)));
_Static_assert(sizeof(struct replay_site_slot) == 512, "one site per 512 bytes");
static struct replay_site_slot sites[SITES_PER_CPU];

/* mmio_site_find: RIP's set, its ways in order. */
__attribute__((always_inline)) static inline struct replay_site *site_find(uint64_t rip,
                                                                           bool light)
{
    struct replay_site_slot *set = &sites[((rip ^ (rip >> 4)) % SITE_SETS) * SITE_WAYS];
    for (unsigned w = 0; w < SITE_WAYS; w++)
        if ((light ? set[w].site.light_rip : set[w].site.rip) == rip)
            return &set[w].site;
    return 0;
}

/* mmio_site_way_for without the turn (the replay fills two sites): RIP's own way, else an
 * empty one, else the first. */
static struct replay_site *site_way_for(uint64_t rip)
{
    struct replay_site_slot *set = &sites[((rip ^ (rip >> 4)) % SITE_SETS) * SITE_WAYS];
    for (unsigned w = 0; w < SITE_WAYS; w++)
        if (set[w].site.rip == rip)
            return &set[w].site;
    for (unsigned w = 0; w < SITE_WAYS; w++)
        if (set[w].site.rip == SITE_EMPTY)
            return &set[w].site;
    return &set[0].site;
}

/* RBP and R12-R15: the registers the light hook (vmx/exit.h) does not have in the GPR array. */
static bool gpr_is_callee_saved(unsigned gpr)
{
    return gpr == 5 || (gpr >= 12 && gpr <= 15);
}

/* mmio_site_describe */
static bool site_describe(struct replay_site *s, uint64_t rip, const uint8_t bytes[15],
                          uint64_t gpa, const struct ept_region *r)
{
    if (r->kind != EPT_REGION_TRAPPED)
        return false;
    if (!pci_bar_route_take(&bus, r->owner, (int)(r->tag & 0xFF), &s->route))
        return false;
    struct x86_insn insn;
    s->qual_kind = 0;
    s->light_rip = SITE_EMPTY;
    s->plain = 0;
    s->plain_offset = ~0ull;
    if (x86_decode(bytes, FETCH_MAX_BYTES, X86_MODE_64, &insn) == X86_DECODE_OK &&
        x86_mov_access_of(&insn, rip, &s->mov) && !x86_mov_uses_rsp(&s->mov)) {
        /* mmio_site_describe_mov */
        s->qual_kind = QUAL_GLA | (s->mov.store ? 2 : 1);
        const bool uses_callee_gprs = gpr_is_callee_saved(s->mov.base) ||
                                      gpr_is_callee_saved(s->mov.index) ||
                                      (!s->mov.store_imm && gpr_is_callee_saved(s->mov.reg));
        s->light_rip = uses_callee_gprs ? SITE_EMPTY : rip;
        s->value_mask = ~0ull >> (64 - 8 * s->mov.size);
        const struct device *dev = s->route.dev;
        const uint64_t offset = gpa - s->route.base;
        if (!s->mov.store && dev->ops->plain_read)
            s->plain = dev->ops->plain_read(s->route.dev, s->route.bar, offset, s->mov.size);
        if (s->plain)
            s->plain_offset = offset;
    }
    memcpy(&s->bytes_lo, bytes, 8);
    memcpy(&s->bytes_hi, bytes + 7, 8);
    s->rip = rip;
    return true;
}

/* mmio_site_run: the access must be the one that exited; then the device access, the register
 * write and RIP (the retire's VMWRITEs are the hypervisor's). */
__attribute__((always_inline)) static inline bool
site_run(const struct replay_site *s, const struct replay_exit *e, struct x86_regs *regs)
{
    const struct x86_mov_access *a = &s->mov;
    if ((e->qual & (QUAL_GLA | 7)) != s->qual_kind)
        return false;
    uint64_t la = x86_mov_offset(a, regs->gpr); /* no FS/GS prefix in the replayed form */
    uint64_t offset;
    if (a->seg == X86_SEG_FS || a->seg == X86_SEG_GS || la != e->gla ||
        (la & 4095) + a->size > 4096 ||
        !pci_bar_route_offset(&bus, &s->route, e->gpa, a->size, &offset))
        return false;
    struct device *dev = s->route.dev;
    if (a->store) {
        dev->ops->write(dev, s->route.bar, offset, a->size, x86_mov_store_value(a, regs->gpr));
    } else {
        uint64_t value;
        if (offset == s->plain_offset) {
            value = device_plain_load(s->plain, a->size);
        } else {
            value = ~0ull;
            dev->ops->read(dev, s->route.bar, offset, a->size, &value);
            value &= s->value_mask;
        }
        x86_mov_load(a, regs->gpr, value);
    }
    regs->rip = s->rip + a->len;
    return true;
}

/* mmio_site_replay as the light hook runs it first at every EPT violation (boot_mmio_exit_light):
 * true when the remembered site handled the exit. */
__attribute__((always_inline)) static inline bool site_replay(const struct replay_exit *e,
                                                              struct x86_regs *regs)
{
    const uint64_t rip = e->rip;
    const struct replay_site *s = site_find(rip, true);
    if (!s)
        return false;
    __asm__("" : "+r"(s)); /* as boot/mmio.c: one register for the site from here on */
    if (!ept_region_cache_hit(&regions, e->gpa, &s->region))
        return false;
    const uint8_t *code = fetch_bound_code_executed(&s->fc, e->cr3, e->cr4, e->efer, e->cs_ar, rip);
    if (!code)
        return false;
    uint64_t lo, hi;
    memcpy(&lo, code, 8);
    memcpy(&hi, code + 7, 8);
    if (lo != s->bytes_lo || hi != s->bytes_hi)
        return false;
    return site_run(s, e, regs);
}

/* The same replay, called for three kinds of exit so callgrind counts each on its own: the
 * register the site was filled for (a plain one: device_plain_load), another register read by
 * the same instruction (dev->ops->read), and a store's site (dev->ops->write). */
__attribute__((noinline)) static bool replay_site_hit(const struct replay_exit *e,
                                                      struct x86_regs *regs)
{
    return site_replay(e, regs);
}

__attribute__((noinline)) static bool replay_site_hit_ops_read(const struct replay_exit *e,
                                                               struct x86_regs *regs)
{
    return site_replay(e, regs);
}

__attribute__((noinline)) static bool replay_site_hit_store(const struct replay_exit *e,
                                                            struct x86_regs *regs)
{
    return site_replay(e, regs);
}

/* mmio_site_fill: the lookup, the walk (remembered in the site's fetch cache), the decode and
 * the route, once per instruction. */
static bool site_fill(const struct replay_exit *e)
{
    struct replay_site *s = site_way_for(e->rip);
    s->rip = s->light_rip = SITE_EMPTY;
    const struct guest_paging pg = {
        .cr0 = CR0_PE_PG, .cr3 = e->cr3, .cr4 = e->cr4, .efer = e->efer, .cpl = e->cpl};
    const struct fetch_cs cs = {.base = 0, .limit = 0, .ar = e->cs_ar};
    uint8_t bytes[FETCH_MAX_BYTES];
    const struct ept_region *r = ept_region_lookup_cached(&regions, e->gpa, &s->region);
    return r && fetch_insn_bound(&s->fc, &pg, &cs, e->rip, bytes) &&
           site_describe(s, e->rip, bytes, e->gpa, r);
}

/* The MMIO_CACHES=0 build's exit (mmio_exit_slow): lookup, fast walk, decode, route, run. */
__attribute__((noinline)) static bool replay_new_site(const struct replay_exit *e,
                                                      struct x86_regs *regs)
{
    struct ept_region found;
    if (!ept_region_lookup(&regions, e->gpa, &found) || (e->qual & (3u << 7)) != (3u << 7))
        return false;
    const struct guest_paging pg = {.cr0 = CR0_PE_PG,
                                    .cr3 = e->cr3,
                                    .cr4 = e->cr4,
                                    .efer = e->efer,
                                    .cpl = e->cpl,
                                    .maxphyaddr = maxphyaddr};
    const struct fetch_cs cs = {.base = 0, .limit = 0, .ar = e->cs_ar};
    uint8_t bytes[FETCH_MAX_BYTES];
    struct replay_site s;
    return fetch_insn_fast(&pg, &view, &cs, e->rip, bytes) &&
           site_describe(&s, e->rip, bytes, e->gpa, &found) && site_run(&s, e, regs);
}

/* ---- the guest, the bus and the comparison ------------------------------------------------ */

/* The exit of the instruction at `rip` (`mov eax, [rbx]` at LOAD_RIP, `mov [rbx], eax` at
 * STORE_RIP) for the edu register at `offset`: a data read or write (qualification bit 0 or 1)
 * with a valid linear address that was the access's own (bits 7 and 8, SDM Vol. 3C, Table
 * 28-7), from 64-bit code at CPL 0 with 4-level paging. */
static struct replay_exit exit_at(uint64_t rip, uint64_t offset)
{
    return (struct replay_exit){.gpa = BAR_GPA + offset,
                                .qual = (rip == STORE_RIP ? 2 : 1) | (1u << 7) | (1u << 8),
                                .gla = DEV_LA + offset,
                                .rip = rip,
                                .cr0 = 0x80050033,
                                .cr3 = 0x1000,
                                .cr4 = 0x20,
                                .efer = 0xd00,
                                .rflags = 2,
                                .cs_ar = 0xa09b,
                                .cpl = 0};
}

/* The registers at the exit: RBX the operand's address, RAX's upper half set (so a load that
 * failed to zero-extend shows). */
static void regs_at_exit(struct x86_regs *regs, const struct replay_exit *e)
{
    memset(regs, 0, sizeof *regs);
    regs->gpr[0] = 0xdeadbeefcafef00dull;
    regs->gpr[3] = e->gla;
    regs->rip = e->rip;
    regs->rflags = e->rflags;
}

/* The registers after a load: RAX the 32 bits read, zero-extended (SDM Vol. 1, 3.4.1.1), RIP
 * past the 2-byte instruction. */
static void regs_after_load(struct x86_regs *regs, const struct replay_exit *e, uint32_t value)
{
    regs_at_exit(regs, e);
    regs->gpr[0] = value;
    regs->rip = e->rip + 2;
}

/* After a store only RIP moves. */
static void regs_after_store(struct x86_regs *regs, const struct replay_exit *e)
{
    regs_at_exit(regs, e);
    regs->rip = e->rip + 2;
}

typedef bool (*replay_fn)(const struct replay_exit *, struct x86_regs *);

static uint32_t edu_liveness_read(void)
{
    uint64_t v = 0;
    pci_mmio_read(&bus, BAR_GPA + EDU_REG_LIVENESS, 4, &v);
    return (uint32_t)v;
}

/* `rounds` exits through `fn`; each must be handled and leave exactly `want`. With `stored`, the
 * exit is a store to liveness: it is reset first and must read back ~*stored after. */
static bool run_exits(const char *name, replay_fn fn, const struct replay_exit *e, unsigned rounds,
                      const struct x86_regs *want, const uint32_t *stored)
{
    for (unsigned i = 0; i < rounds; i++) {
        struct x86_regs regs;
        regs_at_exit(&regs, e);
        if (stored)
            pci_mmio_write(&bus, BAR_GPA + EDU_REG_LIVENESS, 4, 0);
        if (!fn(e, &regs)) {
            printf("mmio_replay: %s did not handle exit %u\n", name, i);
            return false;
        }
        if (memcmp(&regs, want, sizeof regs) != 0) {
            printf("mmio_replay: %s left rax 0x%llx rip 0x%llx, want rax 0x%llx rip 0x%llx\n", name,
                   (unsigned long long)regs.gpr[0], (unsigned long long)regs.rip,
                   (unsigned long long)want->gpr[0], (unsigned long long)want->rip);
            return false;
        }
        if (stored && edu_liveness_read() != (uint32_t) ~*stored) {
            printf("mmio_replay: %s stored 0x%x to liveness, want 0x%x\n", name,
                   ~edu_liveness_read(), *stored);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
    if (rounds == 0)
        rounds = 1;
    static const uint8_t code[] = {
        0x8b, 0x03, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, /* mov eax,[rbx] */
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0x89, 0x03, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, /* mov [rbx],eax */
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90};
    /* Accessed flags already set, as after the guest's first run of the code (the fast walks
     * decline to set them, SDM Vol. 3A, 4.8; the general one would, at its first exit). */
    replay_map(CODE_LA, 0x5000, 0x27);
    replay_map(DEV_LA, BAR_GPA, 0x27);
    memcpy(replay_guest + 0x5000, code, sizeof code);
    view = (struct guest_mem){.read_gpa = replay_gpa_read,
                              .write_gpa = replay_gpa_write,
                              .direct = true,
                              .direct_va = (uintptr_t)replay_guest,
                              .direct_limit = sizeof replay_guest};

    /* edu at 00:02.0 with BAR0 assigned and memory decode on, as boot/devices.c leaves it; its
     * BAR trapped in the region table next to a hidden region (the hypervisor's own). */
    edu_init(&edu, NULL, NULL);
    pci_bus_init(&bus, NULL, NULL, NULL, NULL);
    if (!pci_bus_add(&bus, &edu_fn, &edu.dev, BAR_BDF))
        return 1;
    pci_cfg_write(&bus, BAR_BDF, 0x10, 4, (uint32_t)BAR_GPA);
    pci_cfg_write(&bus, BAR_BDF, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ept_region_table_init(&regions);
    const struct ept_region bar = {.base = BAR_GPA,
                                   .size = EDU_BAR0_SIZE,
                                   .kind = EPT_REGION_TRAPPED,
                                   .tag = 0,
                                   .owner = &edu_fn};
    const struct ept_region hidden = {
        .base = 0x7000000, .size = 0x1000000, .kind = EPT_REGION_HIDDEN, .tag = 0, .owner = 0};
    if (ept_region_insert(&regions, &bar) != EPT_OK ||
        ept_region_insert(&regions, &hidden) != EPT_OK)
        return 1;

    /* Liveness reads back the inverse of what was written (devices/edu.h). */
    pci_mmio_write(&bus, BAR_GPA + EDU_REG_LIVENESS, 4, 0x5a5a5a5a);
    const struct replay_exit id = exit_at(LOAD_RIP, EDU_REG_ID),
                             live = exit_at(LOAD_RIP, EDU_REG_LIVENESS),
                             store = exit_at(STORE_RIP, EDU_REG_LIVENESS);
    struct x86_regs want_id, want_live, want_store;
    regs_after_load(&want_id, &id, EDU_ID_VALUE);
    regs_after_load(&want_live, &live, 0xa5a5a5a5u);
    regs_after_store(&want_store, &store);
    const uint32_t stored = (uint32_t)want_store.gpr[0]; /* EAX */

    /* The site is filled at the identification register (a plain register: the site loads it
     * itself); the same instruction reading liveness then goes through dev->ops->read. */
    for (unsigned i = 0; i < SITES_PER_CPU; i++) {
        sites[i].site.rip = sites[i].site.light_rip = SITE_EMPTY;
        ept_region_cache_init(&sites[i].site.region);
        fetch_cache_bind(&sites[i].site.fc, &view, maxphyaddr, false);
    }
    if (!site_fill(&id) || !site_find(id.rip, false)->plain || !site_fill(&store) ||
        site_find(store.rip, false) == site_find(id.rip, false)) {
        printf("mmio_replay: the sites could not be filled (a plain register for the load)\n");
        return 1;
    }
    if (!run_exits("the general path", replay_general, &id, rounds, &want_id, 0) ||
        !run_exits("the general path (liveness)", replay_general, &live, 1, &want_live, 0) ||
        !run_exits("a new site", replay_new_site, &id, rounds, &want_id, 0) ||
        !run_exits("the site hit", replay_site_hit, &id, rounds, &want_id, 0) ||
        !run_exits("the site hit (liveness)", replay_site_hit_ops_read, &live, rounds, &want_live,
                   0) ||
        !run_exits("the general path (store)", replay_general_store, &store, rounds, &want_store,
                   &stored) ||
        !run_exits("the site hit (store)", replay_site_hit_store, &store, rounds, &want_store,
                   &stored))
        return 1;
    printf("mmio_replay: %u rounds of each path, value 0x%llx (liveness 0x%llx)\n", rounds,
           (unsigned long long)want_id.gpr[0], (unsigned long long)want_live.gpr[0]);
    return 0;
}
