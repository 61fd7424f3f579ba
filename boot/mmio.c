/* The MMIO path (DESIGN.md): EPT violation -> region lookup -> fetch (guest page walk) ->
 * decode -> emulate with callbacks routing to the device or guest memory -> registers and
 * RIP written back. No allocation, no floating point; logging only once per kind of
 * failure (log_once), never on the success path. */
#include "boot/platform.h"
#include "decode/decode.h"
#include "decode/emulate.h"
#include "decode/fetch.h"
#include "decode/mov.h"
#include "decode/walk.h"
#include "ept/invept.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"
#include "tools/edutest/acpi_mcfg.h"
#include "vmx/arch.h"
#include "vmx/exit.h"
#include "vmx/stats.h"
#include "vmx/vmcs.h"

/* `make MMIO_CACHES=0` builds the MMIO fast path without its per-CPU caches (region, code
 * translation, decoded instruction), so their effect can be measured (make bench-exits). */
#ifndef TRAPVISOR_MMIO_CACHES
#define TRAPVISOR_MMIO_CACHES 1
#endif

/* Exit-qualification bits of an EPT violation (SDM Vol. 3C, 28.2.1, Table 28-7): 0 data read,
 * 1 data write, 2 instruction fetch, 7 guest linear address valid, 8 the access was to that
 * linear address (not to a paging-structure entry on its way). */
#define MMIO_QUAL_GLA  (3u << 7)
#define MMIO_QUAL_BITS (MMIO_QUAL_GLA | 7u)
/* Bit 12, NMI unblocking due to IRET (28.2.3): in the bits a site's qualification is compared
 * with, so that no site matches it -- a MOV never sets it, and the light hook must decline it
 * (vmx/exit.h). */
#define MMIO_QUAL_NMI_UNBLOCKED (1u << 12)

extern struct pci_bus boot_bus __attribute__((visibility("hidden")));
extern char boot_ecam_owner;
extern struct ecam_window boot_ecam;

_Static_assert(__builtin_offsetof(struct vcpu, gpr) == __builtin_offsetof(struct x86_regs, gpr),
               "vcpu registers alias struct x86_regs");
_Static_assert(__builtin_offsetof(struct vcpu, rip) == __builtin_offsetof(struct x86_regs, rip),
               "vcpu rip aliases struct x86_regs");
_Static_assert(__builtin_offsetof(struct vcpu, rflags) ==
                   __builtin_offsetof(struct x86_regs, rflags),
               "vcpu rflags aliases struct x86_regs");
_Static_assert(__builtin_offsetof(struct vcpu, exit_tsc) == 144, "stub.asm offset");
_Static_assert(__builtin_offsetof(struct vcpu, resume_tsc) == 152, "stub.asm offset");

/* Guest-physical memory as the walk and the emulator see it: the hypervisor's region reads
 * all ones and ignores writes; everything else is the identity map (RAM and real MMIO). */
static bool in_hidden(uint64_t gpa, size_t len)
{
    return gpa < vmx.hidden_base + vmx.hidden_size && vmx.hidden_base < gpa + len;
}

static bool gpa_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (in_hidden(gpa, len) || gpa + len < gpa || gpa + len > boot.ept_limit)
        return false;
    memcpy(buf, (const void *)(uintptr_t)gpa, len);
    return true;
}

static bool gpa_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (!boot_is_guest_ram(gpa, len))
        return false;
    memcpy((void *)(uintptr_t)gpa, buf, len);
    return true;
}

/* The hypervisor reaches guest-physical memory through the identity map (the host page tables,
 * boot/): guest-physical address = host virtual address. */
#define BOOT_DIRECT_VA 0

/* Guest-physical memory as the page walks see it (both paths), with the direct view the fast
 * fetch uses: the identity map below the EPT limit, the hidden region excluded -- exactly what
 * gpa_read answers (boot_mmio_init fills it once the region and the limit are known). */
static struct guest_mem boot_guest_mem = {.read_gpa = gpa_read, .write_gpa = gpa_write};

struct mmio_ctx {
    struct vcpu *v;
    struct guest_paging pg;
    struct guest_mem mem;
    struct ept_region region; /* the region the exit was for */
    int device;               /* statistics slot of the device, or -1 */
    /* The translation the CPU itself made for the access that exited (SDM Vol. 3C, 28.2.1,
     * Table 28-7: qualification bit 7 = guest linear address valid, bit 8 = the access was to
     * that linear address, not to a paging-structure entry; bits 0/1 = read/write). While
     * `exit_xlat_ok`, an access by the emulator to the same linear page goes to the same
     * guest-physical page without a page walk: the guest paging already allowed this access. */
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
        exc->vector = X86_VEC_GP; /* #GP(0); also for a walk through memory we cannot read */
        exc->error_code = 0;
        exc->address = 0;
    }
    return X86_EMU_EXCEPTION;
}

/* One access of `size` bytes at guest-physical gpa (inside one page). */
static void phys_access(struct mmio_ctx *m, uint64_t gpa, void *buf, unsigned size, bool write)
{
    struct ept_region r;
    bool in_exit_region = gpa - m->region.base < m->region.size; /* looked up at the exit */
    if (in_exit_region)
        r = m->region;
    if (in_exit_region || ept_lookup_region(&boot.ept, gpa, &r)) {
        if (r.kind == EPT_REGION_HIDDEN) {
            log_once("ept: guest %s of the hypervisor's memory at 0x%llx: %s\n",
                     write ? "write" : "read", (unsigned long long)gpa,
                     write ? "dropped" : "all ones");
            if (!write)
                memset(buf, 0xFF, size);
            return;
        }
        uint64_t val = 0;
        if (r.owner == &boot_ecam_owner) { /* ECAM: a configuration access */
            uint32_t v32 = 0xFFFFFFFFu;
            if (write) {
                memcpy(&val, buf, size);
                pci_ecam_write(&boot_bus, gpa - boot_ecam.base, size, (uint32_t)val);
            } else {
                pci_ecam_read(&boot_bus, gpa - boot_ecam.base, size, &v32);
                val = v32;
                memcpy(buf, &val, size);
            }
            return;
        }
        if (write) {
            memcpy(&val, buf, size);
            pci_mmio_write(&boot_bus, gpa, size, val);
        } else {
            pci_mmio_read(&boot_bus, gpa, size, &val);
            memcpy(buf, &val, size);
        }
        return;
    }
    if (write) {
        if (!gpa_write(0, gpa, buf, size))
            memcpy((void *)(uintptr_t)gpa, buf, size); /* real MMIO outside RAM: identity */
    } else if (!gpa_read(0, gpa, buf, size)) {
        memset(buf, 0xFF, size);
    }
}

static enum x86_emu_status mem_access(struct mmio_ctx *m, uint64_t la, void *buf, unsigned size,
                                      bool write, struct x86_exception *exc)
{
    if (m->exit_xlat_ok && ((la ^ m->exit_gla) >> 12) == 0 && (la & 4095) + size <= 4096 &&
        (!write || m->exit_was_write)) {
        phys_access(m, (m->exit_gpa & ~4095ull) | (la & 4095), buf, size, write);
        return X86_EMU_OK;
    }
    /* A write through a walked translation may change guest page tables: from here on the
     * exit's translation is not trusted any more (the walk sees the new tables). */
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

/* SSE moves to a device: the XMM registers are the guest's (the host never touches FP/SSE
 * state: it is compiled without it), so they are read and written in place. */
static void xmm_read(void *ctx, unsigned reg, uint8_t out[16])
{
    (void)ctx;
    uint8_t tmp[16] __attribute__((aligned(16)));
#define XR(n)                                                                                      \
    case n:                                                                                        \
        __asm__ volatile("movdqu %%xmm" #n ", %0" : "=m"(tmp));                                    \
        break;
    switch (reg) {
        /* clang-format off */
        XR(0)
        XR(1)
        XR(2)
        XR(3)
        XR(4)
        XR(5)
        XR(6)
        XR(7)
        XR(8)
        XR(9)
        XR(10)
        XR(11)
        XR(12)
        XR(13)
        XR(14)
        XR(15)
    default:
        memset(tmp, 0, 16);
        /* clang-format on */
    }
#undef XR
    memcpy(out, tmp, 16);
}

static void xmm_write(void *ctx, unsigned reg, const uint8_t in[16])
{
    (void)ctx;
    uint8_t tmp[16] __attribute__((aligned(16)));
    memcpy(tmp, in, 16);
#define XW(n)                                                                                      \
    case n:                                                                                        \
        __asm__ volatile("movdqu %0, %%xmm" #n : : "m"(tmp));                                      \
        break;
    switch (reg) {
        /* clang-format off */
        XW(0)
        XW(1)
        XW(2)
        XW(3)
        XW(4)
        XW(5)
        XW(6)
        XW(7)
        XW(8)
        XW(9)
        XW(10)
        XW(11)
        XW(12)
        XW(13)
        XW(14)
        XW(15)
    default:
        break;
        /* clang-format on */
    }
#undef XW
}

static void inject(struct vcpu *v, const struct x86_exception *exc)
{
    if (exc->vector == X86_VEC_PF) {
        write_cr2(exc->address); /* CR2 is not switched by VM entry: the guest sees this */
        vmx_inject_exception(v, X86_VEC_PF, true, exc->error_code);
    } else {
        vmx_inject_exception(v, exc->vector, true, exc->error_code);
    }
}

static void unsupported(struct vcpu *v, const struct fetch_result *f, const char *why)
{
    uint8_t b[8] = {0};
    for (unsigned i = 0; i < 8 && i < f->len; i++)
        b[i] = f->bytes[i];
    log_once("decode: %s at rip 0x%llx: %02x %02x %02x %02x %02x %02x %02x %02x: #UD\n", why,
             (unsigned long long)vmread(VMCS_GUEST_RIP), b[0], b[1], b[2], b[3], b[4], b[5], b[6],
             b[7]);
    vmx_inject_ud(v);
}

/* The general path: any instruction the decoder knows, any mode, accesses through guest paging
 * to the device, guest RAM or the hidden region. */
static bool mmio_general(struct vcpu *v, uint64_t gpa, uint64_t qual,
                         const struct ept_region *region)
{
    struct mmio_ctx m;
    m.region = *region;
    vmx_load_guest_rsp(v); /* any operand may use it (vmx_hooks.ept_violation_loads_rsp) */
    m.v = v;
    m.exit_xlat_ok = (qual & MMIO_QUAL_GLA) == MMIO_QUAL_GLA;
    m.exit_was_write = (qual & 2) != 0;
    m.exit_gla = m.exit_xlat_ok ? vmread(VMCS_GUEST_LINEAR_ADDR) : 0;
    m.exit_gpa = gpa;
    m.device = m.region.kind == EPT_REGION_HIDDEN ? -1 : boot_device_stats_slot(m.region.owner);
    m.mem = boot_guest_mem;
    m.pg.cr0 = vmread(VMCS_GUEST_CR0);
    m.pg.cr3 = vmread(VMCS_GUEST_CR3);
    m.pg.cr4 = vmread(VMCS_GUEST_CR4);
    m.pg.efer = vmread(VMCS_GUEST_EFER);
    m.pg.rflags = vmread(VMCS_GUEST_RFLAGS);
    m.pg.cpl = vmx_guest_cpl();
    m.pg.maxphyaddr = boot.ept.mtrr.maxphyaddr;
    m.pg.no_1g_pages = false;
    m.pg.pae_pdptes_valid = false;
    if ((m.pg.cr0 & X86_CR0_PG) && (m.pg.cr4 & X86_CR4_PAE) && !(m.pg.efer & X86_EFER_LMA)) {
        m.pg.pae_pdptes_valid = true;
        m.pg.pae_pdptes[0] = vmread(VMCS_GUEST_PDPTE0);
        m.pg.pae_pdptes[1] = vmread(VMCS_GUEST_PDPTE1);
        m.pg.pae_pdptes[2] = vmread(VMCS_GUEST_PDPTE2);
        m.pg.pae_pdptes[3] = vmread(VMCS_GUEST_PDPTE3);
    }

    struct fetch_cs cs = {.base = vmread(VMCS_GUEST_CS_BASE),
                          .limit = (uint32_t)vmread(VMCS_GUEST_CS_LIMIT),
                          .ar = (uint32_t)vmread(VMCS_GUEST_CS_AR)};
    uint64_t rip = vmread(VMCS_GUEST_RIP);
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
            unsupported(v, &f, "instruction fetch from memory the hypervisor cannot read");
            return true;
        }
        fault_from_walk(&f.walk, &exc);
        inject(v, &exc);
        return true;
    }
    if (ds != X86_DECODE_OK) {
        unsupported(v, &f, x86_decode_status_name(ds));
        return true;
    }

    struct x86_emu_env env = {.mode = mode,
                              .ctx = &m,
                              .read = emu_read,
                              .write = emu_write,
                              .xmm_read = xmm_read,
                              .xmm_write = xmm_write,
                              .rep_next = 0};
    static const uint32_t seg_base_field[X86_SEG_COUNT] = {VMCS_GUEST_ES_BASE, VMCS_GUEST_CS_BASE,
                                                           VMCS_GUEST_SS_BASE, VMCS_GUEST_DS_BASE,
                                                           VMCS_GUEST_FS_BASE, VMCS_GUEST_GS_BASE};
    /* 64-bit mode uses only the FS and GS bases (SDM Vol. 3A, 3.4.4): skip the other VMREADs. */
    for (unsigned s = 0; s < X86_SEG_COUNT; s++)
        env.seg_base[s] = mode != X86_MODE_64 || s == X86_SEG_FS || s == X86_SEG_GS
                              ? vmread(seg_base_field[s])
                              : 0;
    struct x86_regs *regs = (struct x86_regs *)(void *)v;
    v->rip = rip;
    v->rflags = m.pg.rflags;
    struct x86_exception exc;
    enum x86_emu_status es = x86_emulate(&insn, regs, &env, 4096, &exc);
    switch (es) {
    case X86_EMU_OK:
        vmx_retire_instruction_set_rflags(v, v->rip, v->rflags);
        v->last_device = m.device;
        return true;
    case X86_EMU_CONTINUE:
        /* A REP string form stopped between iterations: RIP stays on it, the guest executes
         * it again and the next exit resumes it (the registers say where). */
        vmwrite(VMCS_GUEST_RIP, v->rip);
        vmwrite(VMCS_GUEST_RFLAGS, v->rflags);
        v->last_device = m.device;
        return true;
    case X86_EMU_EXCEPTION:
        vmwrite(VMCS_GUEST_RFLAGS, v->rflags);
        inject(v, &exc);
        return true;
    case X86_EMU_UNSUPPORTED:
    default:
        unsupported(v, &f, "instruction form not emulated");
        return true;
    }
}

/* The common case, without the general path's generality: a MOV load or store (also MOVZX,
 * MOVSX and MOVSXD loads) of a device register by 64-bit code, for which the exit itself gives
 * the access's linear and guest-physical address (SDM Vol. 3C, 28.2.1, Table 28-7:
 * qualification bits 7 and 8).
 *
 * An MMIO site is one such instruction as the fast path has seen it: where it is (RIP, and the
 * guest's translation of it: decode/fetch.h's cache, whose entries are re-read at every use),
 * its 15 bytes, what it does (decode/mov.h: address form, size, register, extension), the EPT
 * region it reached (ept/region.h's cache, valid while the region table is unchanged) and the
 * BAR behind it (pci/pci.h's remembered route, valid while the bus's map is unchanged).
 * Replaying a site checks that all of it still holds -- the same bytes at the same RIP through
 * the same translation in the same mode, the operand's address is the one that exited, the
 * access kind is the one that exited, the table and the map are the same and the access lies
 * in the window -- and then does only the access, the register write and the retire. Each step
 * declines (returns false) before anything is changed, and the general path then handles the
 * exit from the start; what a replay does is what the general path would do (each shortcut is
 * checked against its general code by host tests: decode/mov.h against x86_emulate, the fetch
 * cache against fetch_insn, the region cache against the table search, the route against the
 * bus search). */
struct mmio_site {
    uint64_t rip;                /* MMIO_SITE_EMPTY: none */
    uint64_t light_rip;          /* rip when the light hook may replay it: a MOV form naming no
                                    RBP or R12-R15, which that hook does not have (vmx/exit.h,
                                    ept_violation_light); else MMIO_SITE_EMPTY */
    uint64_t bytes_lo, bytes_hi; /* the 15 code bytes from rip - code_back: 0..7 and 7..14 */
    uint64_t code_back;          /* 0; for an instruction in the last 14 bytes of its page, how
                                    far before RIP the 15 compared bytes start (the page's
                                    last 15: a fetch of 15 bytes at RIP would leave the page).
                                    Such a site is the full hook's (light_rip empty), so the
                                    light replay never subtracts it */
    struct ept_region_cache region;
    struct pci_bar_route route;
    struct x86_mov_access mov;
    uint64_t next_rip; /* rip + the instruction's length */
    uint64_t win_base; /* its access may start at win_base .. win_base + win_last: all
                          of it then lies in the region and in the BAR's window */
    uint64_t win_last;
    uint64_t page_last;        /* its access stays in its page when it starts at an offset
                                  up to this: 4096 - size */
    bool operand_base_only;    /* its address is base + displacement: no index, no FS/GS
                                  base, no 32-bit wrap (x86_mov_offset, the short way) */
    uint8_t base_gpr, reg_gpr; /* mov.base & 15 and mov.reg & 15, masked once at the fill */
    bool plain_dword_whole;    /* the plain register is 4 bytes and the load writes the whole
                                  register with it (MOV r32, MOVZX: zero-extended,
                                  x86_mov_access.load_whole): one 32-bit load at plain_reg */
    const uint32_t *plain_reg;
    uint64_t value_mask;        /* the access's bytes */
    uint64_t plain_gpa;         /* a load of a plain register (device_ops.plain_read) at this
                                   address (the route's window is the site's, so the offset is
                                   too); ~0 (no access starts there) when there is none */
    const uint64_t *plain_word; /* the naturally aligned 8 bytes that hold it */
    unsigned plain_shift;       /* its bit position in them */
    uint32_t seg_base_field;    /* VMCS field of the FS or GS base its operand adds, or 0 */
    uint32_t qual_kind;         /* MMIO_QUAL_BITS of an exit from its access: linear address valid
                                   and translated (bits 7, 8) and a data read (1) or write (2) alone;
                                   0: the instruction is not a form the fast path takes */
    int stats_slot;             /* boot_device_stats_slot of the region's function */
#if TRAPVISOR_MMIO_CACHES
    struct fetch_cache fc; /* RIP's translation, bound to boot_guest_mem */
#endif
};

/* No RIP is non-canonical (SDM Vol. 1, 3.3.7.1), so this matches none. */
#define MMIO_SITE_EMPTY (1ull << 63)

/* The guest state the fetch reads in 64-bit mode: CR3, CR4, EFER, CS.ar and CPL. A fetch reads
 * only CR0.PE and CR0.PG (WP matters to writes), and IA-32e mode implies both (SDM Vol. 3A,
 * 10.8.5: LMA = LME and PG; PG needs PE): no VMREAD. MAXPHYADDR and 1 GiB support come from
 * the fetch cache's binding (boot_mmio_init); the PDPTEs belong to PAE paging, not IA-32e. */
static void mmio_fetch_state(struct guest_paging *pg, struct fetch_cs *cs)
{
    pg->cr0 = X86_CR0_PE | X86_CR0_PG;
    pg->cr3 = vmread(VMCS_GUEST_CR3);
    pg->cr4 = vmread(VMCS_GUEST_CR4);
    pg->efer = vmread(VMCS_GUEST_EFER);
    pg->cpl = vmx_guest_cpl();
    cs->base = 0;
    cs->limit = 0;
    cs->ar = (uint32_t)vmread(VMCS_GUEST_CS_AR);
}

/* RBP and R12-R15: the registers the C ABI preserves, which the light hook does not have in
 * vcpu->gpr (vmx/exit.h, ept_violation_light). */
static bool mmio_gpr_is_callee_saved(unsigned gpr)
{
    return gpr == 5 || (gpr >= 12 && gpr <= 15);
}

/* The parts of a site that follow from its MOV form (s->mov, s->route filled; r the region the
 * access reached). */
static void mmio_site_describe_mov(struct mmio_site *s, uint64_t rip, uint64_t gpa,
                                   const struct ept_region *r)
{
    /* Where its access may start: inside the region and the BAR's window, both (replays check
     * one range instead of two). Empty: the general path's. */
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
    s->qual_kind = MMIO_QUAL_GLA | (s->mov.store ? 2 : 1);
    s->next_rip = rip + s->mov.len;
    const bool uses_callee_gprs = mmio_gpr_is_callee_saved(s->mov.base) ||
                                  mmio_gpr_is_callee_saved(s->mov.index) ||
                                  (!s->mov.store_imm && mmio_gpr_is_callee_saved(s->mov.reg));
    /* The light hook takes only base + displacement operands (what readl/writel compile to),
     * without the general form's branch; the others are the full hook's. */
    s->light_rip = uses_callee_gprs || !s->operand_base_only ? MMIO_SITE_EMPTY : rip;
    /* In 64-bit mode only FS and GS have a base (SDM Vol. 3A, 3.4.4). */
    s->seg_base_field = s->mov.seg == X86_SEG_FS   ? VMCS_GUEST_FS_BASE
                        : s->mov.seg == X86_SEG_GS ? VMCS_GUEST_GS_BASE
                                                   : 0;
    s->value_mask = ~0ull >> (64 - 8 * s->mov.size);
    /* A load of a plain register is served by one load while the access stays the same (a
     * site used once, MMIO_CACHES=0, would not gain from it). */
#if TRAPVISOR_MMIO_CACHES
    const struct device *dev = s->route.dev;
    const void *plain = 0;
    if (!s->mov.store && dev->ops->plain_read)
        plain = dev->ops->plain_read(s->route.dev, s->route.bar, gpa - s->route.base, s->mov.size);
    if (plain) {
        s->plain_gpa = gpa;
        s->plain_word = device_plain_word(plain, &s->plain_shift);
        /* Naturally aligned (device_ops.plain_read): a 4-byte one is one 32-bit load, which
         * zero-extends as the site's mask would; other sizes and partial-register loads take
         * the aligned 8 bytes (plain_word). */
        s->plain_dword_whole = s->mov.size == 4 && s->mov.load_whole;
        s->plain_reg = plain;
    }
#else
    (void)gpa;
#endif
}

/* Fills the parts of a site that do not depend on the fetch: what the instruction does and
 * where it went (region r, found for gpa). False: not a region or a route the fast path takes
 * now (nothing is kept). True with qual_kind 0: the instruction is not a form the fast path
 * takes (kept, so the next exit from it goes to the general path at once). */
static bool mmio_site_describe(struct mmio_site *s, uint64_t rip, const uint8_t fetched[15],
                               unsigned back, uint64_t gpa, const struct ept_region *r)
{
    if (r->kind != EPT_REGION_TRAPPED || r->owner == &boot_ecam_owner)
        return false;
    struct pci_function *fn = r->owner;
    if (!pci_bar_route_take(&boot_bus, fn, (int)(r->tag & 0xFF), &s->route))
        return false;
    s->stats_slot = boot_device_stats_slot(fn);
    s->qual_kind = 0; /* until it is known to be a form the fast path takes */
    s->light_rip = MMIO_SITE_EMPTY;
    s->plain_gpa = ~0ull;
    s->plain_word = 0;
    s->plain_shift = 0;
    s->plain_dword_whole = false;
    s->plain_reg = 0;
    /* RSP is in the VMCS, loaded on demand: the general path does that. */
    /* The instruction starts `back` bytes into the fetched ones; the bytes after them are the
     * next page's, unknown: an instruction that needs them is truncated, the general path's. */
    struct x86_insn insn;
    if (x86_decode(fetched + back, FETCH_MAX_BYTES - back, X86_MODE_64, &insn) == X86_DECODE_OK &&
        x86_mov_access_of(&insn, rip, &s->mov) && !x86_mov_uses_rsp(&s->mov))
        mmio_site_describe_mov(s, rip, gpa, r);
    if (back)
        s->light_rip = MMIO_SITE_EMPTY; /* the full hook's (mmio_site_holds) */
    __builtin_memcpy(&s->bytes_lo, fetched, 8);
    __builtin_memcpy(&s->bytes_hi, fetched + 7, 8);
    s->code_back = back;
    s->rip = rip;
    return true;
}

/* The end of every replay (the access done, a load's register written): the device named for
 * the statistics, the instruction retired. */
__attribute__((always_inline)) static inline bool mmio_site_retire(struct vcpu *v,
                                                                   const struct mmio_site *s)
{
    v->last_device = s->stats_slot;
    return vmx_retire_instruction_inline_handled(s->next_rip, vmread(VMCS_GUEST_RFLAGS));
}

/* A replayed store, through the device's write. Out of line and called last, as is
 * mmio_site_load_through_ops: the plain load, the common replay, then makes no call and keeps
 * no register across one (no stack frame). */
__attribute__((noinline)) static bool mmio_site_store(struct vcpu *v, const struct mmio_site *s,
                                                      uint64_t gpa)
{
    struct device *dev = s->route.dev;
    dev->ops->write(dev, s->route.bar, gpa - s->route.base, s->mov.size,
                    x86_mov_store_value(&s->mov, v->gpr));
    return mmio_site_retire(v, s);
}

/* A replayed load of a register that is not plain (or not the site's plain one), through the
 * device's read. */
__attribute__((noinline)) static bool
mmio_site_load_through_ops(struct vcpu *v, const struct mmio_site *s, uint64_t gpa)
{
    struct device *dev = s->route.dev;
    uint64_t value = ~0ull;
    dev->ops->read(dev, s->route.bar, gpa - s->route.base, s->mov.size, &value);
    x86_mov_load(&s->mov, v->gpr, value & s->value_mask);
    return mmio_site_retire(v, s);
}

/* The exit-specific part of a replay: the access must be the one that exited, then it is done.
 * The code bytes, their translation and the region have been checked by the caller. */
__attribute__((always_inline)) static inline bool
mmio_site_run(struct vcpu *v, const struct mmio_site *s, uint64_t gpa, uint64_t qual, bool light)
{
    const struct x86_mov_access *a = &s->mov;
    /* The exit gives the access's linear address, translated (bits 7 and 8: the address the
     * operand must have), and the access is only a data read (a load) or only a data write (a
     * store): not a fetch, not both (SDM Vol. 3C, 28.2.1, Table 28-7). A site of the general
     * path's (qual_kind 0) matches no exit: every violation has one of bits 0-2. */
    if ((qual ^ s->qual_kind) & (MMIO_QUAL_BITS | MMIO_QUAL_NMI_UNBLOCKED))
        return false;
    uint64_t la;
    if (light || s->operand_base_only) {    /* the light hook's sites all are (light_rip) */
        la = v->gpr[s->base_gpr] + a->disp; /* x86_mov_offset without index, wrap or segment */
    } else {
        la = x86_mov_offset(a, v->gpr);
        if (s->seg_base_field)
            la += vmread(s->seg_base_field);
    }
    /* The operand's linear address must be the one that exited, with the whole access in its
     * page: then the access is exactly at gpa (a translation keeps the offset in the page). An
     * access reaching into the next page is the general path's (it may be told of either part).
     * The bus map must be the one the route was taken in (pci_bar_route_current: then the BAR's
     * window is where it was), and the access inside the region and the window. */
    if (la != vmread(VMCS_GUEST_LINEAR_ADDR) || (la & 4095) > s->page_last ||
        !pci_bar_route_current(&boot_bus, &s->route) || gpa - s->win_base > s->win_last)
        return false;
    /* The site's plain register (a load's; a store's plain_gpa is ~0 and no access starts
     * there): one load of the naturally aligned 8 bytes around it, which hold it whole
     * (device_plain_word). */
    if (gpa == s->plain_gpa) {
        if (s->plain_dword_whole) { /* x86_mov_load_into's whole write of a 32-bit value */
            v->gpr[(size_t)s->reg_gpr] = __atomic_load_n(s->plain_reg, __ATOMIC_ACQUIRE);
            return mmio_site_retire(v, s);
        }
        const uint64_t value = device_plain_word_load(s->plain_word, s->plain_shift, s->value_mask);
        x86_mov_load_into(a, &v->gpr[(size_t)s->reg_gpr], value);
        return mmio_site_retire(v, s);
    }
    if (a->store)
        return mmio_site_store(v, s, gpa);
    return mmio_site_load_through_ops(v, s, gpa);
}

#if TRAPVISOR_MMIO_CACHES
/* Each CPU's sites: 32 sets of 4, a set chosen by RIP. A driver reaches its registers from many
 * instructions (every inlined readl/writel is one), so one site per set would have two of them
 * evict each other at every exit once a few are in use (exitbench --sites). A set keeps up to
 * four; its ways are searched in order and a new site takes an empty way, else the set's ways in
 * turn, so a working set of up to four instructions per set stays once filled. A hit writes
 * nothing. 32 sets rather than 16: with 48 hot instructions (exitbench --sites 48, both MMIO
 * operations: 96) 16 sets overflowed often enough to put refills into the p99; the lookup costs
 * the same, and the 64 KiB per CPU come from the region's heap (boot/boot.h). */
#define MMIO_SITE_SETS_LOG2 5
#define MMIO_SITE_SETS      (1u << MMIO_SITE_SETS_LOG2)
#define MMIO_SITE_WAYS      4
#define MMIO_SITES_PER_CPU  (MMIO_SITE_SETS * MMIO_SITE_WAYS)
/* A power of two per site, so that a site's address is one shift away. */
struct mmio_site_slot {
    struct mmio_site site;
} __attribute__((aligned(512)));
_Static_assert(sizeof(struct mmio_site_slot) == 512, "one site per 512 bytes");
/* MMIO_SITES_PER_CPU slots per CPU, from the region's heap (boot_mmio_cpu_init), at
 * vcpu->mmio_sites. */
static uint8_t mmio_site_next_way[VMX_MAX_CPUS][MMIO_SITE_SETS]; /* the way a full set refills */

/* RIP's set. */
static inline unsigned mmio_site_set_index(uint64_t rip)
{
    /* Multiplicative (Fibonacci) hashing of RIP's low 32 bits: the top bits of the product
     * depend on all of them, so nearby instructions spread over the sets. */
    return ((uint32_t)rip * 0x9E3779B1u) >> (32 - MMIO_SITE_SETS_LOG2);
}

/* The first way of RIP's set (the set's byte offset in one shift of the index). */
static inline struct mmio_site_slot *mmio_site_set(const struct vcpu *v, uint64_t rip)
{
    const uintptr_t set_bytes = MMIO_SITE_WAYS * sizeof(struct mmio_site_slot);
    _Static_assert((MMIO_SITE_WAYS * sizeof(struct mmio_site_slot) &
                    (MMIO_SITE_WAYS * sizeof(struct mmio_site_slot) - 1)) == 0,
                   "a set's size is a power of two");
    return (struct mmio_site_slot *)((uintptr_t)v->mmio_sites +
                                     (uintptr_t)mmio_site_set_index(rip) * set_bytes);
}

/* The site of RIP in its set under either key (light_rip or rip), or NULL. */
__attribute__((always_inline)) static inline const struct mmio_site *
mmio_site_find(const struct vcpu *v, uint64_t rip, bool light)
{
    const struct mmio_site_slot *set = mmio_site_set(v, rip);
#pragma GCC unroll 4 /* two instructions per way */
    for (unsigned w = 0; w < MMIO_SITE_WAYS; w++) {
        const struct mmio_site *s = &set[w].site;
        if ((light ? s->light_rip : s->rip) == rip)
            return s;
    }
    return 0;
}

/* What a site did for an exit. */
enum mmio_site_result {
    MMIO_SITE_MISS,    /* no site, or it no longer holds: fill one */
    MMIO_SITE_DONE,    /* the exit is handled */
    MMIO_SITE_GENERAL, /* the instruction or this access is the general path's */
};

/* Whether a remembered site still holds for this exit: the same bytes at the same RIP through
 * the same translation, the same region table. `light`: a site of the light hook's, whose
 * code_back is 0. */
__attribute__((always_inline)) static inline bool mmio_site_holds(const struct mmio_site *s,
                                                                  uint64_t rip, bool light)
{
    /* The region table as it was at the fill (whether the access lies in the region,
     * mmio_site_run checks with the BAR's window: win_base, win_last). */
    if (__atomic_load_n(&boot.ept.regions.seq, __ATOMIC_ACQUIRE) != s->region.seq)
        return false;
    /* The state a fetch in IA-32e mode reads (see mmio_fetch_state) but the CPL -- the guest has
     * just fetched this instruction -- and CR4 and EFER: a site lives only while the paging mode
     * of its fill lasts (boot_mmio_paging_mode_changed; fetch_bound_code_ia32e_executed). */
    const uint64_t from = light ? rip : rip - s->code_back; /* where the compared bytes start */
    const uint8_t *code;
    if (!fetch_bound_ia32e_executed_at(&s->fc, BOOT_DIRECT_VA, vmread(VMCS_GUEST_CR3),
                                       (uint32_t)vmread(VMCS_GUEST_CS_AR), from, &code))
        return false;
    uint64_t lo, hi;
    __builtin_memcpy(&lo, code, 8);
    __builtin_memcpy(&hi, code + 7, 8);
    return lo == s->bytes_lo && hi == s->bytes_hi;
}

/* The site of the instruction at RIP, replayed when it still holds. Runs first at every EPT
 * violation, before any lookup. */
__attribute__((always_inline)) static inline enum mmio_site_result
mmio_site_replay(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
    const uint64_t rip = vmread(VMCS_GUEST_RIP);
    const struct mmio_site *s = mmio_site_find(v, rip, false);
    if (!s || !mmio_site_holds(s, rip, false))
        return MMIO_SITE_MISS;
    if (mmio_site_run(v, s, gpa, qual, false))
        return MMIO_SITE_DONE;
    /* Declined for this access; after a bus map change, for every later one too: fill again. */
    return pci_bar_route_current(&boot_bus, &s->route) ? MMIO_SITE_GENERAL : MMIO_SITE_MISS;
}

/* Where a new site for RIP goes: its own way when it has one (it no longer holds), else an empty
 * way, else the set's next way in turn. */
static struct mmio_site *mmio_site_way_for(const struct vcpu *v, uint64_t rip)
{
    const struct mmio_site *own = mmio_site_find(v, rip, false);
    if (own)
        return (struct mmio_site *)own; /* a site of this CPU's own (writable) array */
    struct mmio_site_slot *set = mmio_site_set(v, rip);
    for (unsigned w = 0; w < MMIO_SITE_WAYS; w++)
        if (set[w].site.rip == MMIO_SITE_EMPTY)
            return &set[w].site;
    uint8_t *next = &mmio_site_next_way[v->index % VMX_MAX_CPUS][mmio_site_set_index(rip)];
    struct mmio_site *s = &set[*next].site;
    *next = (uint8_t)((*next + 1) % MMIO_SITE_WAYS);
    return s;
}

/* A new site (or one whose instruction, translation, region or route changed): look up, walk,
 * decode, route; then replay it. */
__attribute__((noinline)) static enum mmio_site_result mmio_site_fill(struct vcpu *v, uint64_t gpa,
                                                                      uint64_t qual)
{
    if ((qual & MMIO_QUAL_GLA) != MMIO_QUAL_GLA)
        return MMIO_SITE_GENERAL; /* no linear address to check the operand against */
    const uint64_t rip = vmread(VMCS_GUEST_RIP);
    struct mmio_site *s = mmio_site_way_for(v, rip);
    s->rip = s->light_rip = MMIO_SITE_EMPTY;
    struct guest_paging pg;
    struct fetch_cs cs;
    mmio_fetch_state(&pg, &cs);
    /* The fetch cache answers for 15 bytes in one page: for an instruction in the last 14 bytes
     * of its page, fetch the page's last 15 (the same translation) and find it `back` in. */
    const unsigned back = (rip & 0xFFF) > 4096 - FETCH_MAX_BYTES
                              ? (unsigned)((rip & 0xFFF) - (4096 - FETCH_MAX_BYTES))
                              : 0;
    uint8_t fetched[FETCH_MAX_BYTES];
    const struct ept_region *r = ept_region_lookup_cached(&boot.ept.regions, gpa, &s->region);
    if (!r || !fetch_insn_bound(&s->fc, &pg, &cs, rip - back, fetched) ||
        !mmio_site_describe(s, rip, fetched, back, gpa, r))
        return MMIO_SITE_GENERAL;
    return mmio_site_replay(v, gpa, qual) == MMIO_SITE_DONE ? MMIO_SITE_DONE : MMIO_SITE_GENERAL;
}
#endif

void boot_mmio_init(void)
{
    boot_guest_mem.direct = true;
    boot_guest_mem.direct_va = BOOT_DIRECT_VA;
    boot_guest_mem.direct_limit = boot.ept_limit;
    boot_guest_mem.hole_base = vmx.hidden_base;
    boot_guest_mem.hole_size = vmx.hidden_size;
}

bool boot_mmio_cpu_init(struct vcpu *v, unsigned index)
{
#if TRAPVISOR_MMIO_CACHES
    if (index >= VMX_MAX_CPUS)
        return false;
    struct mmio_site_slot *sites = boot_alloc(MMIO_SITES_PER_CPU * sizeof *sites, 512);
    if (!sites)
        return false;
    /* The view and the CPU's paging facts never change after boot_mmio_init: each site's
     * code-translation cache is bound to them (decode/fetch.h), so its hit compares only the
     * guest's state. */
    for (unsigned i = 0; i < MMIO_SITES_PER_CPU; i++) {
        struct mmio_site *s = &sites[i].site;
        s->rip = s->light_rip = MMIO_SITE_EMPTY;
        ept_region_cache_init(&s->region);
        fetch_cache_bind(&s->fc, &boot_guest_mem, boot.ept.mtrr.maxphyaddr, false);
    }
    v->mmio_sites = sites;
#else
    (void)v;
    (void)index;
#endif
    return true;
}

/* vmx_hooks.paging_mode_changed: CR0.PG changed on this CPU, or an INIT reset it. Its sites'
 * translations were made in the paging mode that has just ended (they are checked against CR3,
 * CS.ar and the entries, not CR4 or EFER: fetch_bound_code_ia32e_executed), so all of them are
 * forgotten. */
void boot_mmio_paging_mode_changed(struct vcpu *v)
{
#if TRAPVISOR_MMIO_CACHES
    struct mmio_site_slot *sites = v->mmio_sites;
    if (!sites)
        return;
    for (unsigned i = 0; i < MMIO_SITES_PER_CPU; i++) {
        sites[i].site.rip = sites[i].site.light_rip = MMIO_SITE_EMPTY;
        fetch_cache_reset(&sites[i].site.fc);
    }
#else
    (void)v;
#endif
}

/* An EPT violation at an address no region owns: a translation another CPU has just restored,
 * still cached here, is flushed and the access retried (true); anything else is not the MMIO
 * path's (false). */
static bool mmio_retry_if_restored(struct vcpu *v, uint64_t gpa)
{
    struct ept_leaf leaf;
    if (ept_walk(&boot.ept, gpa, &leaf) && leaf.present) {
        invept_all_context(vmx.ept_vpid_cap);
        stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_RETRY);
        return true;
    }
    return false;
}

/* Everything but a replayed site: a new one, the general path, a stale translation. */
__attribute__((noinline)) static bool mmio_exit_slow(struct vcpu *v, uint64_t gpa, uint64_t qual,
                                                     bool site_missed)
{
#if TRAPVISOR_MMIO_CACHES
    if (site_missed && mmio_site_fill(v, gpa, qual) == MMIO_SITE_DONE) {
        stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_FILL);
        return true;
    }
#else
    (void)site_missed;
#endif
    struct ept_region found;
    const struct ept_region *region =
        ept_region_lookup(&boot.ept.regions, gpa, &found) ? &found : 0;
    if (!region)
        return mmio_retry_if_restored(v, gpa);
#if !TRAPVISOR_MMIO_CACHES
    /* What every exit costs without the per-CPU caches (make MMIO_CACHES=0): the walk, the
     * decode and the route each time, into a site used once. */
    if ((qual & MMIO_QUAL_GLA) == MMIO_QUAL_GLA) {
        struct guest_paging pg;
        struct fetch_cs cs;
        mmio_fetch_state(&pg, &cs);
        pg.maxphyaddr = boot.ept.mtrr.maxphyaddr;
        pg.no_1g_pages = false;
        const uint64_t rip = vmread(VMCS_GUEST_RIP);
        uint8_t bytes[FETCH_MAX_BYTES];
        struct mmio_site s;
        if (fetch_insn_fast(&pg, &boot_guest_mem, &cs, rip, bytes) &&
            mmio_site_describe(&s, rip, bytes, 0, gpa, region) &&
            mmio_site_run(v, &s, gpa, qual, false)) {
            stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_FILL);
            return true;
        }
    }
#endif
    stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_GENERAL);
    return mmio_general(v, gpa, qual, region);
}

bool boot_mmio_exit_light(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
#if TRAPVISOR_MMIO_CACHES
    /* Only the sites it may replay (light_rip): for the others it declines before any check,
     * and the full hook replays them. Every call in mmio_site_run is its last act, so this path
     * keeps no register across a call. */
    const uint64_t rip = vmread(VMCS_GUEST_RIP);
    const struct mmio_site *s = mmio_site_find(v, rip, true);
    if (!s)
        return false;
    /* One register for the site from here on (the compiler would otherwise recompute its
     * address from the index at each use). */
    __asm__("" : "+r"(s));
    if (!mmio_site_holds(s, rip, true))
        return false;
    return mmio_site_run(v, s, gpa, qual, true);
#else
    (void)v;
    (void)gpa;
    (void)qual;
    return false;
#endif
}

/* An EPT violation during event delivery (IDT-vectoring information valid, SDM Vol. 3C,
 * 28.2.4): the access that exited was the delivery's own -- a push of the interrupt or exception
 * frame, a read of the IDT, GDT or TSS (SDM Vol. 3A, 6.14) -- not one by the instruction at RIP,
 * which has not run (or has, for INT n, and is re-injected with the event). The event is already
 * re-injected (vmx_ept_violation_events). When the address is no region's, another CPU has just
 * restored its translation: flush and let the delivery run again. Delivery into a region (a
 * device's BAR, the ECAM window, the statistics pages, the hypervisor's memory) would need the
 * whole delivery emulated around the device access; that is not done: the hook declines and vmx
 * stops this guest CPU (as KVM ends the VM with KVM_INTERNAL_ERROR_DELIVERY_EV), never handling
 * the instruction at RIP in its place. */
__attribute__((noinline, cold)) static bool mmio_exit_during_delivery(struct vcpu *v, uint64_t gpa,
                                                                      uint32_t idt)
{
    struct ept_region r;
    if (!ept_region_lookup(&boot.ept.regions, gpa, &r))
        return mmio_retry_if_restored(v, gpa);
    stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_REFUSED);
    log_printf("ept: event delivery (vector %u) reached %s at 0x%llx: not emulated\n", idt & 0xFF,
               r.kind == EPT_REGION_HIDDEN ? "the hypervisor's memory" : "a trapped region",
               (unsigned long long)gpa);
    return false;
}

bool boot_mmio_exit(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
    const uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
    if (idt & INTR_INFO_VALID)
        return mmio_exit_during_delivery(v, gpa, idt);
#if TRAPVISOR_MMIO_CACHES
    const enum mmio_site_result done = mmio_site_replay(v, gpa, qual);
    if (done == MMIO_SITE_DONE) {
        stats_count_mmio_path(v->stats_cpu, v->stats_lock, TV_MMIO_PATH_FULL);
        return true;
    }
    return mmio_exit_slow(v, gpa, qual, done == MMIO_SITE_MISS);
#else
    return mmio_exit_slow(v, gpa, qual, false);
#endif
}
