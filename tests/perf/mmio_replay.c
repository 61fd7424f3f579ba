/* Host replay of one MMIO exit's software path, for
 *   valgrind --tool=callgrind build/perf/mmio_replay
 * (`make perf-mmio` runs it through tests/perf/perf_mmio.sh and prints the per-exit counts),
 * whose per-function instruction counts track the path length Bochs measures. The guest runs
 * `mov eax, [rbx]` and `mov [rbx], eax` in 64-bit code (4-level paging) against edu's BAR0
 * (devices/edu.c behind pci/pci.c, as in the hypervisor). Each path is what boot/mmio.c does,
 * check for check and in the same order, with the same precomputed site fields; the VMCS is
 * `struct replay_vmcs` (a VMREAD is a load of one of its fields, a VMWRITE a store), the vcpu
 * `struct replay_vcpu` (the fields of vmx/vmx.h's struct vcpu the path touches), the statistics
 * vmx/stats.c itself:
 *
 *   replay_general   the general path (mmio_exit_slow from its lookup, the site fill not
 *                    tried): ept_region_lookup, stats_count_mmio_path, then mmio_general --
 *                    the guest paging state, fetch_insn (the full walk), x86_decode,
 *                    x86_emulate whose access goes through the exit's translation to
 *                    pci_mmio_read/write (mem_access, phys_access), the retire;
 *   replay_new_site  a site used once (what every exit costs with make MMIO_CACHES=0:
 *                    boot_mmio_exit -> mmio_exit_slow): the IDT-vectoring check,
 *                    ept_region_lookup, mmio_fetch_state, fetch_insn_fast, describe (no plain
 *                    register in that build), run (so the load goes through dev->ops->read),
 *                    stats_count_mmio_path;
 *   replay_site_hit  a remembered site as the light hook replays it (boot_mmio_exit_light, the
 *                    common case): mmio_site_find (the multiplicative hash of RIP, the sites
 *                    from vcpu->mmio_sites, light_rip), mmio_site_holds (the region table's
 *                    seq, fetch_bound_code_ia32e_executed with CR3 and CS.ar, the 15-byte
 *                    compare), mmio_site_run (the qualification, the operand the short way,
 *                    the linear address, page_last, pci_bar_route_current, the one window,
 *                    plain_gpa: one aligned 8-byte load, x86_mov_load) and mmio_site_retire
 *                    (the device slot, vmx_retire_instruction_inline_handled with next_rip);
 *   replay_site_hit_ops_read  the same site reading another register (liveness): the value
 *                    through mmio_site_load_through_ops (dev->ops->read), out of line, last;
 *   replay_general_store, replay_site_hit_store  the store, through pci_mmio_write and
 *                    through mmio_site_store (x86_mov_store_value + dev->ops->write).
 *
 * The sites are filled as the hypervisor fills them, by the full hook at the first exit of each
 * instruction (boot_mmio_exit: the replay misses, mmio_site_fill fills and replays).
 *
 * Self-checks, each failure a line saying what differs and exit status 1: the general path's
 * result (x86_emulate) must be the architectural one (RAX the zero-extended register value,
 * RIP past the instruction, the store in the device); every other path must leave exactly the
 * general path's registers and VMCS RIP, inject nothing, name edu for the statistics and
 * count the path the hypervisor counts (FILL for a new site, nothing for the light hook,
 * GENERAL for the general path); no replay of a site may decline or fall back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "decode/emulate.h"
#include "decode/fetch.h"
#include "decode/mov.h"
#include "decode/walk.h"
#include "devices/device.h"
#include "devices/edu.h"
#include "ept/region.h"
#include "pci/pci.h"
#include "tests/support/replay_guest.h"
#include "vmx/stats.h"
#include "vmx/vmcs.h"

/* The commit of boot/mmio.c this replay mirrors: perf_mmio.sh names the commits that changed
 * boot/mmio.c since, so a stale mirror shows. Move it with the mirror. */
#define MMIO_REPLAY_MIRRORS "b9274c3"

#define CODE_LA   0x400000ull
#define LOAD_RIP  CODE_LA            /* 8b 03: mov eax, [rbx] */
#define STORE_RIP (CODE_LA + 0x10)   /* 89 03: mov [rbx], eax */
#define DEV_LA    (CODE_LA + 0x1000) /* shares the page tables with the code page */
#define BAR_GPA   0xC1000000ull      /* edu BAR0, trapped */
#define BAR_BDF   PCI_BDF(0, 2, 0)
#define GUEST_RSP 0x7ff0ull /* in the VMCS only: the exit stub does not save RSP */

/* CR0.PE (bit 0) and CR0.PG (bit 31), SDM Vol. 3A, 2.5 (vmx/arch.h X86_CR0_PE, X86_CR0_PG). */
#define CR0_PE    (1ull << 0)
#define CR0_PG    (1ull << 31)
#define CR4_PAE   (1ull << 5)
#define EFER_LMA  (1ull << 10)
#define RFLAGS_TF (1ull << 8) /* vmx/arch.h RFLAGS_TF_BIT */

/* Exit-qualification bits of an EPT violation (SDM Vol. 3C, 28.2.1, Table 28-7), as
 * boot/mmio.c names them: 0 data read, 1 data write, 2 instruction fetch, 7 guest linear
 * address valid, 8 the access was to that linear address. */
#define QUAL_GLA           (3u << 7)
#define QUAL_BITS          (QUAL_GLA | 7u)
#define QUAL_NMI_UNBLOCKED (1u << 12)

/* boot/platform.h BOOT_STATS_SLOT_EDU: edu's statistics slot. */
#define STATS_SLOT_EDU 0

/* The current VMCS: the fields the MMIO path reads or writes at an EPT violation (SDM Vol. 3C,
 * 28.2.1 for the qualification and the addresses; 25.4 for the guest state). A VMREAD of a
 * constant field is a load of its member here, a VMWRITE a store. */
struct replay_vmcs {
    uint64_t guest_phys_addr, exit_qual, guest_linear_addr;
    uint32_t idt_vectoring_info;
    uint64_t rip, rflags, rsp;
    uint64_t cr0, cr3, cr4, efer;
    uint64_t pdpte[4];
    uint64_t seg_base[X86_SEG_COUNT]; /* ES, CS, SS, DS, FS, GS (enum x86_seg's order) */
    uint32_t cs_limit, cs_ar, ss_ar;
    uint64_t interruptibility, pending_dbg;
    uint32_t entry_intr_info, entry_exc_errcode; /* an event injected at the next entry */
};
static struct replay_vmcs vmcs;

/* A VMREAD of a field named at run time (a site's FS or GS base). */
static uint64_t vmcs_read_seg_base(uint32_t field)
{
    return field == VMCS_GUEST_FS_BASE ? vmcs.seg_base[X86_SEG_FS] : vmcs.seg_base[X86_SEG_GS];
}

/* The fields of vmx/vmx.h's struct vcpu the MMIO path touches; the registers in struct
 * x86_regs's layout, as boot/mmio.c requires of struct vcpu. */
struct replay_vcpu {
    uint64_t gpr[16]; /* gpr[4] (RSP) only after load_guest_rsp */
    uint64_t rip, rflags;
    int last_device; /* the device slot named for the statistics, or -1 */
    struct tv_stats_cpu *stats_cpu;
    volatile int *stats_lock;
    uint64_t rsp_loaded;
    bool rsp_valid;
    uint64_t finish_generation;
    void *mmio_sites;
    uint8_t xmm[16][16]; /* the guest's XMM registers (in the hypervisor: the CPU's own) */
};
_Static_assert(__builtin_offsetof(struct replay_vcpu, gpr) ==
                   __builtin_offsetof(struct x86_regs, gpr),
               "vcpu registers alias struct x86_regs");
_Static_assert(__builtin_offsetof(struct replay_vcpu, rip) ==
                   __builtin_offsetof(struct x86_regs, rip),
               "vcpu rip aliases struct x86_regs");
_Static_assert(__builtin_offsetof(struct replay_vcpu, rflags) ==
                   __builtin_offsetof(struct x86_regs, rflags),
               "vcpu rflags aliases struct x86_regs");

static struct pci_bus bus;
static struct pci_function edu_fn;
static struct edu edu;
static char ecam_owner; /* boot_ecam_owner: no ECAM window in the replay, so no region owns it */
static struct ept_region_table regions;
static struct guest_mem view; /* boot_guest_mem: gpa callbacks and the direct view */
static unsigned maxphyaddr = 39;

/* boot_device_stats_slot */
static int device_stats_slot(const void *owner)
{
    return owner == &edu_fn ? STATS_SLOT_EDU : -1;
}

/* vmx_guest_cpl: SS.DPL (SDM Vol. 3C, 25.4.1). */
static unsigned guest_cpl(void)
{
    return (vmcs.ss_ar >> 5) & 3;
}

/* vmx_load_guest_rsp */
static inline uint64_t load_guest_rsp(struct replay_vcpu *v)
{
    if (!v->rsp_valid) {
        v->rsp_loaded = vmcs.rsp;
        v->gpr[4] = v->rsp_loaded;
        v->rsp_valid = true;
        v->finish_generation = ~0ull;
    }
    return v->gpr[4];
}

/* ---- the retire (vmx/exit.h, vmx/exit.c) -------------------------------------------------- */

/* vmx_retire_slow: blocking by STI and MOV SS ends with the instruction (SDM Vol. 3C, 25.4.2,
 * Table 25-3); TF raises a single-step trap after it (the replay's exit does not save DEBUGCTL,
 * so BTF cannot turn it off). noipa: boot/mmio.c sees it as an ordinary function of another
 * file (its `cold` is on the definition in vmx/exit.c), so neither may the replay's callers
 * know more of it; then the site hit's code keeps its push for the slow call, as the
 * hypervisor's does. */
__attribute__((noipa)) static void retire_slow(uint64_t intr, uint64_t rflags)
{
    if (intr & INTERRUPTIBILITY_STI_MOVSS)
        vmcs.interruptibility = intr & ~INTERRUPTIBILITY_STI_MOVSS;
    if (rflags & RFLAGS_TF)
        vmcs.pending_dbg |= PENDING_DBG_BS;
}

/* The RIP write, the interruptibility read and two tests (vmx_retire_instruction_inline_handled).
 */
__attribute__((always_inline)) static inline void retire_inline(uint64_t next_rip, uint64_t rflags)
{
    vmcs.rip = next_rip;
    uint64_t intr = vmcs.interruptibility;
    __asm__ goto("test %2, %0\n\t"
                 "jnz %l[slow]\n\t"
                 "test %3, %1\n\t"
                 "jnz %l[slow]"
                 :
                 : "r"(intr), "r"(rflags), "i"(INTERRUPTIBILITY_STI_MOVSS), "i"(RFLAGS_TF)
                 : "cc"
                 : slow);
    return;
slow:
    retire_slow(intr, rflags);
}

/* vmx_retire_slow_handled: the rare half, then true (a tail call from the replay). */
__attribute__((noinline)) static bool retire_slow_handled(uint64_t intr, uint64_t rflags)
{
    retire_slow(intr, rflags);
    return true;
}

/* vmx_retire_instruction_inline_handled: the same as the replay's last act. */
__attribute__((always_inline)) static inline bool retire_inline_handled(uint64_t next_rip,
                                                                        uint64_t rflags)
{
    vmcs.rip = next_rip;
    uint64_t intr = vmcs.interruptibility;
    __asm__ goto("test %2, %0\n\t"
                 "jnz %l[slow]\n\t"
                 "test %3, %1\n\t"
                 "jnz %l[slow]"
                 :
                 : "r"(intr), "r"(rflags), "i"(INTERRUPTIBILITY_STI_MOVSS), "i"(RFLAGS_TF)
                 : "cc"
                 : slow);
    return true;
slow:
    return retire_slow_handled(intr, rflags);
}

/* vmx_retire_instruction_set_rflags */
__attribute__((noinline)) static void retire_set_rflags(uint64_t next_rip, uint64_t rflags)
{
    vmcs.rflags = rflags;
    retire_inline(next_rip, rflags);
}

/* vmx_inject_exception: the event the next VM entry delivers, with its error code when it has
 * one (SDM Vol. 3C, 25.8.3). */
static void inject_exception(unsigned vector, bool has_error, uint32_t error)
{
    uint32_t info = INTR_INFO_VALID | INTR_TYPE_HW_EXC | (vector & 0xFF);
    if (has_error) {
        info |= INTR_INFO_DELIVER_ERR;
        vmcs.entry_exc_errcode = error;
    }
    vmcs.entry_intr_info = info;
}

/* CR2 as the general path leaves it for a #PF (the register is not switched by VM entry). */
static uint64_t guest_cr2;

/* ---- the general path (boot/mmio.c mmio_general) ----------------------------------------- */

struct replay_ctx {
    struct replay_vcpu *v;
    struct guest_paging pg;
    struct guest_mem mem;
    struct ept_region region; /* the region the exit was for */
    int device;
    bool exit_xlat_ok;
    bool exit_was_write;
    uint64_t exit_gla;
    uint64_t exit_gpa;
};

static enum x86_emu_status fault_from_walk(const struct walk_result *w, struct x86_exception *exc)
{
    if (w->status == WALK_PF) {
        exc->vector = X86_VEC_PF;
        exc->error_code = w->error_code;
        exc->address = w->fault_addr;
    } else {
        exc->vector = X86_VEC_GP;
        exc->error_code = 0;
        exc->address = 0;
    }
    return X86_EMU_EXCEPTION;
}

/* phys_access: one access inside one page, to the exit's region, another region (ECAM, the
 * hidden region, a BAR) or guest memory. */
static void phys_access(struct replay_ctx *m, uint64_t gpa, void *buf, unsigned size, bool write)
{
    struct ept_region r;
    bool in_exit_region = gpa - m->region.base < m->region.size;
    if (in_exit_region)
        r = m->region;
    if (in_exit_region || ept_region_lookup(&regions, gpa, &r)) {
        if (r.kind == EPT_REGION_HIDDEN) {
            if (!write)
                memset(buf, 0xFF, size);
            return;
        }
        uint64_t val = 0;
        if (r.owner == &ecam_owner) {
            uint32_t v32 = 0xFFFFFFFFu;
            if (write) {
                memcpy(&val, buf, size);
                pci_ecam_write(&bus, gpa - r.base, size, (uint32_t)val);
            } else {
                pci_ecam_read(&bus, gpa - r.base, size, &v32);
                val = v32;
                memcpy(buf, &val, size);
            }
            return;
        }
        if (write) {
            memcpy(&val, buf, size);
            pci_mmio_write(&bus, gpa, size, val);
        } else {
            pci_mmio_read(&bus, gpa, size, &val);
            memcpy(buf, &val, size);
        }
        return;
    }
    if (write)
        replay_gpa_write(0, gpa, buf, size);
    else if (!replay_gpa_read(0, gpa, buf, size))
        memset(buf, 0xFF, size);
}

/* mem_access: the exit's own translation when it covers the access, else a walk per page. */
static enum x86_emu_status mem_access(struct replay_ctx *m, uint64_t la, void *buf, unsigned size,
                                      bool write, struct x86_exception *exc)
{
    if (m->exit_xlat_ok && ((la ^ m->exit_gla) >> 12) == 0 && (la & 4095) + size <= 4096 &&
        (!write || m->exit_was_write)) {
        phys_access(m, (m->exit_gpa & ~4095ull) | (la & 4095), buf, size, write);
        return X86_EMU_OK;
    }
    if (write)
        m->exit_xlat_ok = false;
    unsigned done = 0;
    while (done < size) {
        struct walk_result w;
        if (walk_translate(&m->pg, &m->mem, la + done, write ? WALK_WRITE : WALK_READ, 0, &w) !=
            WALK_OK)
            return fault_from_walk(&w, exc);
        unsigned chunk = size - done;
        uint64_t room = 4096 - ((la + done) & 4095);
        if (chunk > room)
            chunk = (unsigned)room;
        phys_access(m, w.gpa, (uint8_t *)buf + done, chunk, write);
        done += chunk;
    }
    return X86_EMU_OK;
}

static enum x86_emu_status emu_read(void *ctx, uint64_t la, void *buf, unsigned size,
                                    struct x86_exception *exc)
{
    return mem_access(ctx, la, buf, size, false, exc);
}

static enum x86_emu_status emu_write(void *ctx, uint64_t la, const void *buf, unsigned size,
                                     struct x86_exception *exc)
{
    return mem_access(ctx, la, (void *)buf, size, true, exc);
}

/* xmm_read/xmm_write: the guest's XMM registers, which the hypervisor reads and writes in the
 * CPU itself; the replay keeps them in the vcpu. */
static void xmm_read(void *ctx, unsigned reg, uint8_t out[16])
{
    const struct replay_ctx *m = ctx;
    memcpy(out, m->v->xmm[reg & 15], 16);
}

static void xmm_write(void *ctx, unsigned reg, const uint8_t in[16])
{
    struct replay_ctx *m = ctx;
    memcpy(m->v->xmm[reg & 15], in, 16);
}

/* unsupported: #UD (the hypervisor also logs the bytes once). */
static void unsupported(void)
{
    inject_exception(6, false, 0);
}

/* inject: #PF with CR2, or the vector with its error code. */
static void inject(const struct x86_exception *exc)
{
    if (exc->vector == X86_VEC_PF)
        guest_cr2 = exc->address;
    inject_exception(exc->vector, true, exc->error_code);
}

static bool mmio_general(struct replay_vcpu *v, uint64_t gpa, uint64_t qual,
                         const struct ept_region *region)
{
    struct replay_ctx m;
    m.region = *region;
    load_guest_rsp(v);
    m.v = v;
    m.exit_xlat_ok = (qual & QUAL_GLA) == QUAL_GLA;
    m.exit_was_write = (qual & 2) != 0;
    m.exit_gla = m.exit_xlat_ok ? vmcs.guest_linear_addr : 0;
    m.exit_gpa = gpa;
    m.device = m.region.kind == EPT_REGION_HIDDEN ? -1 : device_stats_slot(m.region.owner);
    m.mem = view;
    m.pg.cr0 = vmcs.cr0;
    m.pg.cr3 = vmcs.cr3;
    m.pg.cr4 = vmcs.cr4;
    m.pg.efer = vmcs.efer;
    m.pg.rflags = vmcs.rflags;
    m.pg.cpl = guest_cpl();
    m.pg.maxphyaddr = maxphyaddr;
    m.pg.no_1g_pages = false;
    m.pg.pae_pdptes_valid = false;
    if ((m.pg.cr0 & CR0_PG) && (m.pg.cr4 & CR4_PAE) && !(m.pg.efer & EFER_LMA)) {
        m.pg.pae_pdptes_valid = true;
        for (unsigned i = 0; i < 4; i++)
            m.pg.pae_pdptes[i] = vmcs.pdpte[i];
    }

    struct fetch_cs cs = {
        .base = vmcs.seg_base[X86_SEG_CS], .limit = vmcs.cs_limit, .ar = vmcs.cs_ar};
    uint64_t rip = vmcs.rip;
    struct fetch_result f;
    fetch_insn(&m.pg, &m.mem, &cs, rip, &f);
    enum x86_mode mode = f.mode == CPU_MODE_LONG64             ? X86_MODE_64
                         : cpu_mode_operand_bits(f.mode) == 32 ? X86_MODE_32
                                                               : X86_MODE_16;
    struct x86_insn insn;
    enum x86_decode_status ds = x86_decode(f.bytes, f.len, mode, &insn);
    if (ds == X86_DECODE_TRUNCATED && f.status == FETCH_TRUNCATED) {
        struct x86_exception exc;
        if (f.fault == FETCH_FAULT_BAD_GPA) {
            unsupported();
            return true;
        }
        fault_from_walk(&f.walk, &exc);
        inject(&exc);
        return true;
    }
    if (ds != X86_DECODE_OK) {
        unsupported();
        return true;
    }

    struct x86_emu_env env = {.mode = mode,
                              .ctx = &m,
                              .read = emu_read,
                              .write = emu_write,
                              .xmm_read = xmm_read,
                              .xmm_write = xmm_write,
                              .rep_next = 0};
    /* 64-bit mode uses only the FS and GS bases (SDM Vol. 3A, 3.4.4). */
    for (unsigned s = 0; s < X86_SEG_COUNT; s++)
        env.seg_base[s] =
            mode != X86_MODE_64 || s == X86_SEG_FS || s == X86_SEG_GS ? vmcs.seg_base[s] : 0;
    struct x86_regs *regs = (struct x86_regs *)(void *)v;
    v->rip = rip;
    v->rflags = m.pg.rflags;
    struct x86_exception exc;
    enum x86_emu_status es = x86_emulate(&insn, regs, &env, 4096, &exc);
    switch (es) {
    case X86_EMU_OK:
        retire_set_rflags(v->rip, v->rflags);
        v->last_device = m.device;
        return true;
    case X86_EMU_CONTINUE:
        vmcs.rip = v->rip;
        vmcs.rflags = v->rflags;
        v->last_device = m.device;
        return true;
    case X86_EMU_EXCEPTION:
        vmcs.rflags = v->rflags;
        inject(&exc);
        return true;
    case X86_EMU_UNSUPPORTED:
    default:
        unsupported();
        return true;
    }
}

/* The general path as mmio_exit_slow takes it when no site was tried: the lookup (an address no
 * region owns is mmio_retry_if_restored's, an EPT walk the replay has no EPT for: declined),
 * the count, mmio_general. */
__attribute__((always_inline)) static inline bool general_path(struct replay_vcpu *v, uint64_t gpa,
                                                               uint64_t qual)
{
    struct ept_region found;
    const struct ept_region *region = ept_region_lookup(&regions, gpa, &found) ? &found : 0;
    if (!region)
        return false;
    stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_GENERAL);
    return mmio_general(v, gpa, qual, region);
}

/* Two callers so callgrind counts loads and stores apart. */
__attribute__((noinline)) static bool replay_general(struct replay_vcpu *v, uint64_t gpa,
                                                     uint64_t qual)
{
    return general_path(v, gpa, qual);
}

__attribute__((noinline)) static bool replay_general_store(struct replay_vcpu *v, uint64_t gpa,
                                                           uint64_t qual)
{
    return general_path(v, gpa, qual);
}

/* The references every path is compared with: the general path again, under a name of its own
 * so that callgrind's counts of the two above cover exactly their `rounds` exits. */
__attribute__((noinline)) static bool general_reference(struct replay_vcpu *v, uint64_t gpa,
                                                        uint64_t qual)
{
    return general_path(v, gpa, qual);
}

/* ---- MMIO sites (boot/mmio.c "MMIO sites") ------------------------------------------------ */

/* struct mmio_site, field for field. */
struct replay_site {
    uint64_t rip;       /* SITE_EMPTY: none */
    uint64_t light_rip; /* rip when the light hook may replay it (no RBP or R12-R15 named) */
    uint64_t bytes_lo, bytes_hi; /* the 15 code bytes from rip - code_back */
    uint64_t code_back;          /* 0, or for an instruction in its page's last 14 bytes how far
                                    before RIP the page's last 15 bytes start (full hook only) */
    struct ept_region_cache region;
    struct pci_bar_route route;
    struct x86_mov_access mov;
    uint64_t next_rip;
    uint64_t win_base; /* its access may start at win_base .. win_base + win_last */
    uint64_t win_last;
    uint64_t page_last; /* 4096 - size */
    bool operand_base_only;
    uint8_t base_gpr, reg_gpr; /* mov.base & 15, mov.reg & 15 */
    bool plain_dword_whole;    /* ... into the whole register (load_whole) */
    const uint32_t *plain_reg;
    uint64_t value_mask;
    uint64_t plain_gpa; /* ~0: no plain register */
    const uint64_t *plain_word;
    unsigned plain_shift;
    uint32_t seg_base_field; /* VMCS_GUEST_FS_BASE or VMCS_GUEST_GS_BASE, or 0 */
    uint32_t qual_kind;      /* QUAL_GLA | 1 read, | 2 write; 0 the general path's */
    int stats_slot;
    struct fetch_cache fc; /* (absent from a MMIO_CACHES=0 build's sites) */
};

#define SITE_EMPTY     (1ull << 63)
#define SITE_SETS_LOG2 5
#define SITE_SETS      (1u << SITE_SETS_LOG2)
#define SITE_WAYS      4
#define SITES_PER_CPU  (SITE_SETS * SITE_WAYS)
/* One site per 512 bytes, as boot/mmio.c lays them out. */
struct replay_site_slot {
    struct replay_site site;
} __attribute__((aligned(512)));
_Static_assert(sizeof(struct replay_site_slot) == 512, "one site per 512 bytes");
static struct replay_site_slot sites[SITES_PER_CPU]; /* boot_alloc'd per CPU in the hypervisor */
static uint8_t site_next_way[SITE_SETS];

/* mmio_site_set_index: Fibonacci hashing of RIP's low 32 bits, the top five bits. */
static inline unsigned site_set_index(uint64_t rip)
{
    return ((uint32_t)rip * 0x9E3779B1u) >> (32 - SITE_SETS_LOG2);
}

/* mmio_site_set: the set's byte offset in one shift of the index, from vcpu->mmio_sites. */
static inline struct replay_site_slot *site_set(const struct replay_vcpu *v, uint64_t rip)
{
    const uintptr_t set_bytes = SITE_WAYS * sizeof(struct replay_site_slot);
    _Static_assert((SITE_WAYS * sizeof(struct replay_site_slot) &
                    (SITE_WAYS * sizeof(struct replay_site_slot) - 1)) == 0,
                   "a set's size is a power of two");
    return (struct replay_site_slot *)((uintptr_t)v->mmio_sites +
                                       (uintptr_t)site_set_index(rip) * set_bytes);
}

/* mmio_site_find */
__attribute__((always_inline)) static inline const struct replay_site *
site_find(const struct replay_vcpu *v, uint64_t rip, bool light)
{
    const struct replay_site_slot *set = site_set(v, rip);
#pragma GCC unroll 4
    for (unsigned w = 0; w < SITE_WAYS; w++) {
        const struct replay_site *s = &set[w].site;
        if ((light ? s->light_rip : s->rip) == rip)
            return s;
    }
    return 0;
}

/* mmio_site_way_for: RIP's own way, else an empty one, else the set's ways in turn. */
static struct replay_site *site_way_for(const struct replay_vcpu *v, uint64_t rip)
{
    const struct replay_site *own = site_find(v, rip, false);
    if (own)
        return (struct replay_site *)own;
    struct replay_site_slot *set = site_set(v, rip);
    for (unsigned w = 0; w < SITE_WAYS; w++)
        if (set[w].site.rip == SITE_EMPTY)
            return &set[w].site;
    uint8_t *next = &site_next_way[site_set_index(rip)];
    struct replay_site *s = &set[*next].site;
    *next = (uint8_t)((*next + 1) % SITE_WAYS);
    return s;
}

/* mmio_fetch_state: CR0 is PE | PG in IA-32e mode (no VMREAD), CS base and limit 0. */
static void fetch_state(struct guest_paging *pg, struct fetch_cs *cs)
{
    pg->cr0 = CR0_PE | CR0_PG;
    pg->cr3 = vmcs.cr3;
    pg->cr4 = vmcs.cr4;
    pg->efer = vmcs.efer;
    pg->cpl = guest_cpl();
    cs->base = 0;
    cs->limit = 0;
    cs->ar = vmcs.cs_ar;
}

/* RBP and R12-R15: the registers the light hook (vmx/exit.h) does not have in the GPR array. */
static bool gpr_is_callee_saved(unsigned gpr)
{
    return gpr == 5 || (gpr >= 12 && gpr <= 15);
}

/* mmio_site_describe_mov; `remember_plain` is TRAPVISOR_MMIO_CACHES (a site used once does not
 * look for a plain register). */
static void site_describe_mov(struct replay_site *s, uint64_t rip, uint64_t gpa,
                              const struct ept_region *r, bool remember_plain)
{
    const uint64_t lo = r->base > s->route.base ? r->base : s->route.base;
    const uint64_t r_end = r->base + r->size, w_end = s->route.base + s->route.size;
    const uint64_t hi = r_end < w_end ? r_end : w_end;
    if (hi <= lo || hi - lo < s->mov.size)
        return;
    s->win_base = lo;
    s->win_last = hi - lo - s->mov.size;
    s->page_last = 4096 - s->mov.size;
    s->base_gpr = s->mov.base & 15;
    s->reg_gpr = s->mov.reg & 15;
    s->operand_base_only = s->mov.base != X86_MOV_NO_REG && s->mov.index == X86_MOV_NO_REG &&
                           s->mov.seg != X86_SEG_FS && s->mov.seg != X86_SEG_GS &&
                           s->mov.addr_mask == ~0ull;
    s->qual_kind = QUAL_GLA | (s->mov.store ? 2 : 1);
    s->next_rip = rip + s->mov.len;
    const bool uses_callee_gprs = gpr_is_callee_saved(s->mov.base) ||
                                  gpr_is_callee_saved(s->mov.index) ||
                                  (!s->mov.store_imm && gpr_is_callee_saved(s->mov.reg));
    s->light_rip = uses_callee_gprs || !s->operand_base_only ? SITE_EMPTY : rip;
    s->seg_base_field = s->mov.seg == X86_SEG_FS   ? VMCS_GUEST_FS_BASE
                        : s->mov.seg == X86_SEG_GS ? VMCS_GUEST_GS_BASE
                                                   : 0;
    s->value_mask = ~0ull >> (64 - 8 * s->mov.size);
    if (!remember_plain)
        return;
    const struct device *dev = s->route.dev;
    const void *plain = 0;
    if (!s->mov.store && dev->ops->plain_read)
        plain = dev->ops->plain_read(s->route.dev, s->route.bar, gpa - s->route.base, s->mov.size);
    if (plain) {
        s->plain_gpa = gpa;
        s->plain_word = device_plain_word(plain, &s->plain_shift);
        s->plain_dword_whole = s->mov.size == 4 && s->mov.load_whole;
        s->plain_reg = plain;
    }
}

/* mmio_site_describe */
static bool site_describe(struct replay_site *s, uint64_t rip, const uint8_t fetched[15],
                          unsigned back, uint64_t gpa, const struct ept_region *r,
                          bool remember_plain)
{
    if (r->kind != EPT_REGION_TRAPPED || r->owner == &ecam_owner)
        return false;
    struct pci_function *fn = r->owner;
    if (!pci_bar_route_take(&bus, fn, (int)(r->tag & 0xFF), &s->route))
        return false;
    s->stats_slot = device_stats_slot(fn);
    s->qual_kind = 0;
    s->light_rip = SITE_EMPTY;
    s->plain_gpa = ~0ull;
    s->plain_word = 0;
    s->plain_shift = 0;
    s->plain_dword_whole = false;
    s->plain_reg = 0;
    struct x86_insn insn;
    if (x86_decode(fetched + back, FETCH_MAX_BYTES - back, X86_MODE_64, &insn) == X86_DECODE_OK &&
        x86_mov_access_of(&insn, rip, &s->mov) && !x86_mov_uses_rsp(&s->mov))
        site_describe_mov(s, rip, gpa, r, remember_plain);
    if (back)
        s->light_rip = SITE_EMPTY;
    memcpy(&s->bytes_lo, fetched, 8);
    memcpy(&s->bytes_hi, fetched + 7, 8);
    s->code_back = back;
    s->rip = rip;
    return true;
}

/* mmio_site_retire: the device slot, the retire with the precomputed next RIP. */
__attribute__((always_inline)) static inline bool site_retire(struct replay_vcpu *v,
                                                              const struct replay_site *s)
{
    v->last_device = s->stats_slot;
    return retire_inline_handled(s->next_rip, vmcs.rflags);
}

/* mmio_site_store: out of line, called last. */
__attribute__((noinline)) static bool site_store(struct replay_vcpu *v, const struct replay_site *s,
                                                 uint64_t gpa)
{
    struct device *dev = s->route.dev;
    dev->ops->write(dev, s->route.bar, gpa - s->route.base, s->mov.size,
                    x86_mov_store_value(&s->mov, v->gpr));
    return site_retire(v, s);
}

/* mmio_site_load_through_ops: out of line, called last. */
__attribute__((noinline)) static bool
site_load_through_ops(struct replay_vcpu *v, const struct replay_site *s, uint64_t gpa)
{
    struct device *dev = s->route.dev;
    uint64_t value = ~0ull;
    dev->ops->read(dev, s->route.bar, gpa - s->route.base, s->mov.size, &value);
    x86_mov_load(&s->mov, v->gpr, value & s->value_mask);
    return site_retire(v, s);
}

/* mmio_site_run */
__attribute__((always_inline)) static inline bool site_run(struct replay_vcpu *v,
                                                           const struct replay_site *s,
                                                           uint64_t gpa, uint64_t qual, bool light)
{
    const struct x86_mov_access *a = &s->mov;
    if ((qual ^ s->qual_kind) & (QUAL_BITS | QUAL_NMI_UNBLOCKED))
        return false;
    uint64_t la;
    if (light || s->operand_base_only) {
        la = v->gpr[s->base_gpr] + a->disp;
    } else {
        la = x86_mov_offset(a, v->gpr);
        if (s->seg_base_field)
            la += vmcs_read_seg_base(s->seg_base_field);
    }
    if (la != vmcs.guest_linear_addr || (la & 4095) > s->page_last ||
        !pci_bar_route_current(&bus, &s->route) || gpa - s->win_base > s->win_last)
        return false;
    if (gpa == s->plain_gpa) {
        if (s->plain_dword_whole) {
            v->gpr[(size_t)s->reg_gpr] = __atomic_load_n(s->plain_reg, __ATOMIC_ACQUIRE);
            return site_retire(v, s);
        }
        const uint64_t value = device_plain_word_load(s->plain_word, s->plain_shift, s->value_mask);
        x86_mov_load_into(a, &v->gpr[(size_t)s->reg_gpr], value);
        return site_retire(v, s);
    }
    if (a->store)
        return site_store(v, s, gpa);
    return site_load_through_ops(v, s, gpa);
}

/* mmio_site_holds: the region table's seq (whether the access lies in the region, site_run
 * checks with the window), the translation (CR3, CS.ar, the entries), the bytes. */
__attribute__((always_inline)) static inline bool site_holds(const struct replay_site *s,
                                                             uint64_t rip, bool light)
{
    if (__atomic_load_n(&regions.seq, __ATOMIC_ACQUIRE) != s->region.seq)
        return false;
    const uint64_t from = light ? rip : rip - s->code_back;
    const uint8_t *code = fetch_bound_code_ia32e_executed(&s->fc, vmcs.cr3, vmcs.cs_ar, from);
    if (!code)
        return false;
    uint64_t lo, hi;
    memcpy(&lo, code, 8);
    memcpy(&hi, code + 7, 8);
    return lo == s->bytes_lo && hi == s->bytes_hi;
}

enum site_result { SITE_MISS, SITE_DONE, SITE_GENERAL };

/* mmio_site_replay: the full hook's replay (any site, light or not). */
__attribute__((always_inline)) static inline enum site_result
site_replay(struct replay_vcpu *v, uint64_t gpa, uint64_t qual)
{
    const uint64_t rip = vmcs.rip;
    const struct replay_site *s = site_find(v, rip, false);
    if (!s || !site_holds(s, rip, false))
        return SITE_MISS;
    if (site_run(v, s, gpa, qual, false))
        return SITE_DONE;
    return pci_bar_route_current(&bus, &s->route) ? SITE_GENERAL : SITE_MISS;
}

/* mmio_site_fill: lookup, walk, decode, route; then replay. */
__attribute__((noinline)) static enum site_result site_fill(struct replay_vcpu *v, uint64_t gpa,
                                                            uint64_t qual)
{
    if ((qual & QUAL_GLA) != QUAL_GLA)
        return SITE_GENERAL;
    const uint64_t rip = vmcs.rip;
    struct replay_site *s = site_way_for(v, rip);
    s->rip = s->light_rip = SITE_EMPTY;
    struct guest_paging pg;
    struct fetch_cs cs;
    fetch_state(&pg, &cs);
    const unsigned back = (rip & 0xFFF) > 4096 - FETCH_MAX_BYTES
                              ? (unsigned)((rip & 0xFFF) - (4096 - FETCH_MAX_BYTES))
                              : 0;
    uint8_t fetched[FETCH_MAX_BYTES];
    const struct ept_region *r = ept_region_lookup_cached(&regions, gpa, &s->region);
    if (!r || !fetch_insn_bound(&s->fc, &pg, &cs, rip - back, fetched) ||
        !site_describe(s, rip, fetched, back, gpa, r, true))
        return SITE_GENERAL;
    return site_replay(v, gpa, qual) == SITE_DONE ? SITE_DONE : SITE_GENERAL;
}

/* boot_mmio_exit with the caches (the full hook, after the light one declined): the replay, else
 * mmio_exit_slow -- the fill, else the general path. The replay fills its sites with it. */
static bool full_exit(struct replay_vcpu *v, uint64_t gpa, uint64_t qual)
{
    if (vmcs.idt_vectoring_info & INTR_INFO_VALID)
        return false; /* mmio_exit_during_delivery: not replayed */
    const enum site_result done = site_replay(v, gpa, qual);
    if (done == SITE_DONE) {
        stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_FULL);
        return true;
    }
    if (done == SITE_MISS && site_fill(v, gpa, qual) == SITE_DONE) {
        stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_FILL);
        return true;
    }
    return general_path(v, gpa, qual);
}

/* boot_mmio_exit_light: the sites it may replay only (light_rip), one register for the site. */
__attribute__((always_inline)) static inline bool light_exit(struct replay_vcpu *v, uint64_t gpa,
                                                             uint64_t qual)
{
    const uint64_t rip = vmcs.rip;
    const struct replay_site *s = site_find(v, rip, true);
    if (!s)
        return false;
    __asm__("" : "+r"(s));
    if (!site_holds(s, rip, true))
        return false;
    return site_run(v, s, gpa, qual, true);
}

/* The light hook, called for three kinds of exit so callgrind counts each on its own: the
 * register the site was filled for (a plain one: device_plain_word_load), another register read
 * by the same instruction (mmio_site_load_through_ops), and a store's site (mmio_site_store). */
__attribute__((noinline)) static bool replay_site_hit(struct replay_vcpu *v, uint64_t gpa,
                                                      uint64_t qual)
{
    return light_exit(v, gpa, qual);
}

__attribute__((noinline)) static bool replay_site_hit_ops_read(struct replay_vcpu *v, uint64_t gpa,
                                                               uint64_t qual)
{
    return light_exit(v, gpa, qual);
}

__attribute__((noinline)) static bool replay_site_hit_store(struct replay_vcpu *v, uint64_t gpa,
                                                            uint64_t qual)
{
    return light_exit(v, gpa, qual);
}

/* boot_mmio_exit in the MMIO_CACHES=0 build (every exit a site used once): the IDT-vectoring
 * check, then mmio_exit_slow -- the lookup, the fast walk, describe, run -- else the general
 * path. */
__attribute__((noinline)) static bool replay_new_site(struct replay_vcpu *v, uint64_t gpa,
                                                      uint64_t qual)
{
    if (vmcs.idt_vectoring_info & INTR_INFO_VALID)
        return false; /* mmio_exit_during_delivery: not replayed */
    struct ept_region found;
    const struct ept_region *region = ept_region_lookup(&regions, gpa, &found) ? &found : 0;
    if (!region)
        return false; /* mmio_retry_if_restored: not replayed */
    if ((qual & QUAL_GLA) == QUAL_GLA) {
        struct guest_paging pg;
        struct fetch_cs cs;
        fetch_state(&pg, &cs);
        pg.maxphyaddr = maxphyaddr;
        pg.no_1g_pages = false;
        const uint64_t rip = vmcs.rip;
        uint8_t bytes[FETCH_MAX_BYTES];
        struct replay_site s;
        if (fetch_insn_fast(&pg, &view, &cs, rip, bytes) &&
            site_describe(&s, rip, bytes, 0, gpa, region, false) &&
            site_run(v, &s, gpa, qual, false)) {
            stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_FILL);
            return true;
        }
    }
    stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_GENERAL);
    return mmio_general(v, gpa, qual, region);
}

/* ---- the guest, the bus and the comparison ------------------------------------------------ */

static struct tv_stats_cpu stats_cpu;
static volatile int stats_lock;

/* The VMCS at the exit of the instruction at `rip` (`mov eax, [rbx]` at LOAD_RIP, `mov [rbx],
 * eax` at STORE_RIP) for the edu register at `offset`: a data read or write (qualification bit
 * 0 or 1) with a valid linear address that was the access's own (bits 7 and 8, SDM Vol. 3C,
 * Table 28-7), from 64-bit code at CPL 0 with 4-level paging, nothing blocking, TF clear. */
static struct replay_vmcs exit_at(uint64_t rip, uint64_t offset)
{
    return (struct replay_vmcs){.guest_phys_addr = BAR_GPA + offset,
                                .exit_qual = (rip == STORE_RIP ? 2 : 1) | (1u << 7) | (1u << 8),
                                .guest_linear_addr = DEV_LA + offset,
                                .rip = rip,
                                .rflags = 2,
                                .rsp = GUEST_RSP,
                                .cr0 = 0x80050033,
                                .cr3 = 0x1000,
                                .cr4 = 0x20,
                                .efer = 0xd00,
                                .cs_limit = 0xffffffff,
                                .cs_ar = 0xa09b,
                                .ss_ar = 0xc093};
}

/* The vcpu at the exit as the stub leaves it: RBX the operand's address, RAX's upper half set
 * (so a load that failed to zero-extend shows), RBP and R12-R15 holding values no path may
 * change, RSP not loaded, no device named. */
static void vcpu_at_exit(struct replay_vcpu *v, const struct replay_vmcs *e)
{
    memset(v, 0, sizeof *v);
    v->gpr[0] = 0xdeadbeefcafef00dull;
    v->gpr[3] = e->guest_linear_addr;
    v->gpr[5] = 0x5555555555555555ull;
    for (unsigned r = 12; r <= 15; r++)
        v->gpr[r] = 0x1212121212121212ull * r;
    v->last_device = -1;
    v->stats_cpu = &stats_cpu;
    v->stats_lock = &stats_lock;
    v->mmio_sites = sites;
}

typedef bool (*replay_fn)(struct replay_vcpu *, uint64_t, uint64_t);

/* What an exit left: the GPRs but RSP (only the general path loads it from the VMCS), the VMCS
 * RIP and RFLAGS, the event to inject, the device named. */
struct exit_outcome {
    uint64_t gpr[16];
    uint64_t rip, rflags;
    uint32_t entry_intr_info;
    int last_device;
};

static struct exit_outcome outcome_of(const struct replay_vcpu *v)
{
    struct exit_outcome o;
    memset(&o, 0, sizeof o);
    memcpy(o.gpr, v->gpr, sizeof o.gpr);
    o.gpr[4] = 0;
    o.rip = vmcs.rip;
    o.rflags = vmcs.rflags;
    o.entry_intr_info = vmcs.entry_intr_info;
    o.last_device = v->last_device;
    return o;
}

static uint32_t edu_liveness_read(void)
{
    uint64_t v = 0;
    pci_mmio_read(&bus, BAR_GPA + EDU_REG_LIVENESS, 4, &v);
    return (uint32_t)v;
}

/* One exit through `fn` from the VMCS `e`; false (with a line) when it declined. */
static bool one_exit(const char *name, replay_fn fn, const struct replay_vmcs *e,
                     struct replay_vcpu *v, unsigned i)
{
    vmcs = *e;
    vcpu_at_exit(v, e);
    if (!fn(v, vmcs.guest_phys_addr, vmcs.exit_qual)) {
        printf("mmio_replay: %s did not handle exit %u\n", name, i);
        return false;
    }
    return true;
}

/* `rounds` exits through `fn`; each must be handled and leave exactly `want`, and together they
 * must move the statistics' path counters by exactly `counted` (TV_MMIO_PATH_*, or -1 for none:
 * the light hook counts nothing). With `stored`, the exit is a store to liveness: it is reset
 * first and must read back ~*stored after. A site replay must never reach the general path. */
static bool run_exits(const char *name, replay_fn fn, const struct replay_vmcs *e, unsigned rounds,
                      const struct exit_outcome *want, const uint32_t *stored, int counted)
{
    uint64_t before[TV_STATS_MMIO_PATHS];
    memcpy(before, stats_cpu.mmio_path, sizeof before);
    for (unsigned i = 0; i < rounds; i++) {
        struct replay_vcpu v;
        if (stored)
            pci_mmio_write(&bus, BAR_GPA + EDU_REG_LIVENESS, 4, 0);
        if (!one_exit(name, fn, e, &v, i))
            return false;
        const struct exit_outcome got = outcome_of(&v);
        if (memcmp(&got, want, sizeof got) != 0) {
            printf("mmio_replay: %s left rax 0x%llx rip 0x%llx device %d event 0x%x, want rax "
                   "0x%llx rip 0x%llx device %d event 0x%x\n",
                   name, (unsigned long long)got.gpr[0], (unsigned long long)got.rip,
                   got.last_device, got.entry_intr_info, (unsigned long long)want->gpr[0],
                   (unsigned long long)want->rip, want->last_device, want->entry_intr_info);
            return false;
        }
        if (fn != replay_general && fn != replay_general_store && fn != general_reference &&
            (v.rsp_valid || v.gpr[4])) {
            printf("mmio_replay: %s loaded RSP: the general path ran (no site names RSP)\n", name);
            return false;
        }
        if (stored && edu_liveness_read() != (uint32_t) ~*stored) {
            printf("mmio_replay: %s stored 0x%x to liveness, want 0x%x\n", name,
                   ~edu_liveness_read(), *stored);
            return false;
        }
    }
    for (unsigned p = 0; p < TV_STATS_MMIO_PATHS; p++) {
        const uint64_t want_delta = (int)p == counted ? rounds : 0;
        if (stats_cpu.mmio_path[p] - before[p] != want_delta) {
            printf("mmio_replay: %s counted %llu exits on MMIO path %u, want %llu\n", name,
                   (unsigned long long)(stats_cpu.mmio_path[p] - before[p]), p,
                   (unsigned long long)want_delta);
            return false;
        }
    }
    return true;
}

/* The general path's outcome for `e` (x86_emulate, through general_reference), which every other
 * path must reproduce; it must itself be the architectural one: RAX `value` zero-extended for a
 * load (SDM Vol. 1, 3.4.1.1), RIP past the 2-byte instruction, RFLAGS unchanged, nothing injected,
 * edu named. */
static bool reference(const char *name, const struct replay_vmcs *e, bool load, uint32_t value,
                      struct exit_outcome *out)
{
    struct replay_vcpu v;
    if (!one_exit(name, general_reference, e, &v, 0))
        return false;
    *out = outcome_of(&v);
    struct replay_vcpu arch;
    vcpu_at_exit(&arch, e);
    if (load)
        arch.gpr[0] = value;
    arch.gpr[4] = 0;
    if (memcmp(out->gpr, arch.gpr, sizeof out->gpr) != 0 || out->rip != e->rip + 2 ||
        out->rflags != e->rflags || out->entry_intr_info != 0 ||
        out->last_device != STATS_SLOT_EDU || v.gpr[4] != GUEST_RSP) {
        printf("mmio_replay: %s (x86_emulate) left rax 0x%llx rip 0x%llx, want rax 0x%llx rip "
               "0x%llx\n",
               name, (unsigned long long)out->gpr[0], (unsigned long long)out->rip,
               (unsigned long long)arch.gpr[0], (unsigned long long)(e->rip + 2));
        return false;
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
    const struct replay_vmcs id = exit_at(LOAD_RIP, EDU_REG_ID),
                             live = exit_at(LOAD_RIP, EDU_REG_LIVENESS),
                             store = exit_at(STORE_RIP, EDU_REG_LIVENESS);
    struct exit_outcome want_id, want_live, want_store;
    if (!reference("the general path", &id, true, EDU_ID_VALUE, &want_id) ||
        !reference("the general path (liveness)", &live, true, 0xa5a5a5a5u, &want_live))
        return 1;
    pci_mmio_write(&bus, BAR_GPA + EDU_REG_LIVENESS, 4, 0);
    if (!reference("the general path (store)", &store, false, 0, &want_store))
        return 1;
    const uint32_t stored = (uint32_t)want_store.gpr[0]; /* EAX */
    if (edu_liveness_read() != (uint32_t)~stored) {
        printf("mmio_replay: the general path (store) stored 0x%x to liveness, want 0x%x\n",
               ~edu_liveness_read(), stored);
        return 1;
    }

    /* The sites, as boot_mmio_cpu_init leaves them, are filled by the full hook at each
     * instruction's first exit: the load's at the identification register (a plain register:
     * the site loads it itself; the same instruction reading liveness then goes through
     * dev->ops->read), the store's at liveness. */
    for (unsigned i = 0; i < SITES_PER_CPU; i++) {
        sites[i].site.rip = sites[i].site.light_rip = SITE_EMPTY;
        ept_region_cache_init(&sites[i].site.region);
        fetch_cache_bind(&sites[i].site.fc, &view, maxphyaddr, false);
    }
    struct replay_vcpu fill_vcpu;
    memset(&fill_vcpu, 0, sizeof fill_vcpu);
    fill_vcpu.mmio_sites = sites;
    if (!run_exits("the site fill", full_exit, &id, 1, &want_id, 0, TV_MMIO_PATH_FILL) ||
        !run_exits("the site fill (store)", full_exit, &store, 1, &want_store, &stored,
                   TV_MMIO_PATH_FILL) ||
        !run_exits("the full hook's replay", full_exit, &id, 1, &want_id, 0, TV_MMIO_PATH_FULL))
        return 1;
    const struct replay_site *load_site = site_find(&fill_vcpu, id.rip, true),
                             *store_site = site_find(&fill_vcpu, store.rip, true);
    if (!load_site || !store_site || load_site == store_site ||
        load_site->plain_gpa != id.guest_phys_addr || store_site->plain_gpa != ~0ull) {
        printf("mmio_replay: the sites were not filled as light sites (a plain register for the "
               "load)\n");
        return 1;
    }
    pci_mmio_write(&bus, BAR_GPA + EDU_REG_LIVENESS, 4, 0x5a5a5a5a); /* reads 0xa5a5a5a5 again */
    if (!run_exits("the general path", replay_general, &id, rounds, &want_id, 0,
                   TV_MMIO_PATH_GENERAL) ||
        !run_exits("a new site", replay_new_site, &id, rounds, &want_id, 0, TV_MMIO_PATH_FILL) ||
        !run_exits("the site hit", replay_site_hit, &id, rounds, &want_id, 0, -1) ||
        !run_exits("the site hit (liveness)", replay_site_hit_ops_read, &live, rounds, &want_live,
                   0, -1) ||
        !run_exits("the general path (store)", replay_general_store, &store, rounds, &want_store,
                   &stored, TV_MMIO_PATH_GENERAL) ||
        !run_exits("the site hit (store)", replay_site_hit_store, &store, rounds, &want_store,
                   &stored, -1))
        return 1;
    printf("mmio_replay: %u rounds of each path, value 0x%llx (liveness 0x%llx)\n", rounds,
           (unsigned long long)want_id.gpr[0], (unsigned long long)want_live.gpr[0]);
    return 0;
}
