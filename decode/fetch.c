/* Instruction fetch at CS.base + RIP (decode/fetch.h). */
#include "decode/fetch.h"

enum cpu_mode cpu_mode_of(uint64_t cr0, uint64_t efer, uint64_t rflags, uint32_t cs_ar)
{
    /* SDM Vol. 3A, 2.2: real mode until CR0.PE; IA-32e mode when EFER.LMA, 64-bit for a
     * CS with L = 1, compatibility otherwise (RFLAGS.VM cannot be set in IA-32e mode);
     * virtual-8086 mode is protected mode with RFLAGS.VM. CS.D picks 16/32 (Vol. 1, 3.6). */
    if (!(cr0 & CR0_PE))
        return CPU_MODE_REAL;
    if (efer & EFER_LMA) {
        if (cs_ar & SEG_AR_L)
            return CPU_MODE_LONG64;
        return (cs_ar & SEG_AR_D) ? CPU_MODE_COMPAT32 : CPU_MODE_COMPAT16;
    }
    if (rflags & RFLAGS_VM_BIT)
        return CPU_MODE_VM86;
    return (cs_ar & SEG_AR_D) ? CPU_MODE_PROT32 : CPU_MODE_PROT16;
}

unsigned cpu_mode_operand_bits(enum cpu_mode mode)
{
    switch (mode) {
    case CPU_MODE_PROT32:
    case CPU_MODE_COMPAT32:
    case CPU_MODE_LONG64:
        return 32;
    default:
        return 16;
    }
}

unsigned cpu_mode_address_bits(enum cpu_mode mode)
{
    switch (mode) {
    case CPU_MODE_LONG64:
        return 64;
    case CPU_MODE_PROT32:
    case CPU_MODE_COMPAT32:
        return 32;
    default:
        return 16;
    }
}

static enum fetch_status stop(struct fetch_result *out, enum fetch_fault_kind kind)
{
    out->status = FETCH_TRUNCATED;
    out->fault = kind;
    return FETCH_TRUNCATED;
}

enum fetch_status fetch_insn(const struct guest_paging *pg, const struct guest_mem *mem,
                             const struct fetch_cs *cs, uint64_t rip, struct fetch_result *out)
{
    *out = (struct fetch_result){0};
    out->mode = cpu_mode_of(pg->cr0, pg->efer, pg->rflags, cs->ar);
    const bool long64 = out->mode == CPU_MODE_LONG64;

    while (out->len < FETCH_MAX_BYTES) {
        uint64_t want = FETCH_MAX_BYTES - out->len;
        uint64_t la;
        if (long64) {
            /* 64-bit mode: CS base is 0 and no limit is checked (SDM Vol. 3A, 3.4.4, 5.3.1);
             * canonical form is the walk's check. */
            la = rip + out->len;
        } else {
            /* EIP wraps at 32 bits; every byte's offset must be within the CS limit,
             * else #GP(0) (SDM Vol. 3A, 5.3). The linear address is 32 bits, so it runs on
             * contiguously when the offset wraps from FFFFFFFF to 0. */
            const uint64_t off = (rip + out->len) & 0xFFFFFFFFu;
            la = (cs->base + off) & 0xFFFFFFFFu;
            if (off > cs->limit) {
                out->walk.status = WALK_GP;
                out->walk.fault_addr = la;
                return stop(out, FETCH_FAULT_GP);
            }
            if (want > (uint64_t)cs->limit - off + 1)
                want = (uint64_t)cs->limit - off + 1;
        }
        if (walk_translate(pg, mem, la, WALK_FETCH, 0, &out->walk) != WALK_OK) {
            switch (out->walk.status) {
            case WALK_PF:
                return stop(out, FETCH_FAULT_PF);
            case WALK_BAD_GPA:
                return stop(out, FETCH_FAULT_BAD_GPA);
            default:
                return stop(out, FETCH_FAULT_GP);
            }
        }
        /* Up to the end of this 4 KiB frame; the next one is translated on its own. The
         * walk's pages are 4 KiB-aligned in both linear and physical space, so this never
         * runs past the page; and guest RAM and MMIO meet at 4 KiB boundaries, so bytes
         * before an unreadable frame still arrive (paging off is one 4 GiB "page"). */
        if (want > 4096 - (out->walk.gpa & 0xFFF))
            want = 4096 - (out->walk.gpa & 0xFFF);
        if (!mem->read_gpa(mem->ctx, out->walk.gpa, out->bytes + out->len, (size_t)want)) {
            out->walk.status = WALK_BAD_GPA;
            out->walk.bad_gpa = out->walk.gpa;
            return stop(out, FETCH_FAULT_BAD_GPA);
        }
        out->len += (unsigned)want;
    }
    out->status = FETCH_OK;
    out->fault = FETCH_FAULT_NONE;
    out->walk = (struct walk_result){0};
    out->walk.status = WALK_OK;
    return FETCH_OK;
}

/* --- fetch_insn_fast ------------------------------------------------------------------------
 *
 * One straight walk for IA-32e paging (SDM Vol. 3A, 4.5, Tables 4-14..4-20) with walk.c's
 * checks folded into as few tests as possible; it may decline more than fetch_insn faults,
 * never less:
 * - P, A and U/S are ANDed over the entries and checked once at the end. An entry that is not
 *   present gives garbage for the next table; that is harmless because every load is first
 *   checked against the direct view (limit and hole), and such a walk declines at the end.
 * - The next table's address is taken from bits 51:12 and 63 (XD) of an entry: the fast path
 *   runs only when the view ends at or below 2^MAXPHYADDR (<= 2^52), so an entry with any of
 *   bits 51:MAXPHYADDR or 63 set sends the next load out of the view and declines. That covers
 *   the reserved bits MAXPHYADDR..51 and XD in the upper levels (a fault either way: with NXE
 *   the page is not executable, without it XD is reserved, 4.6.1). Bits 62:52 are ignored.
 * - The leaf's XD and its reserved bits are tested. */

#define FAST_P       (1ull << 0)
#define FAST_US      (1ull << 2)
#define FAST_A       (1ull << 5)
#define FAST_PS      (1ull << 7)
#define FAST_FRAME   0x000FFFFFFFFFF000ull /* address bits 51:12 of a leaf entry */
#define FAST_NEXT    0x800FFFFFFFFFF000ull /* bits 51:12 and XD of an upper entry */
#define FAST_RSVD_2M 0x00000000001FE000ull /* bits 20:13 of a 2 MiB PDE (Table 4-18) */
#define FAST_RSVD_1G 0x000000003FFFE000ull /* bits 29:13 of a 1 GiB PDPTE (Table 4-16) */
#define FAST_PAGE_2M (1ull << 21)
#define FAST_PAGE_1G (1ull << 30)
#define FAST_CR0     (CR0_PE | CR0_PG)
#define FAST_EFER    (EFER_LME | EFER_LMA)

#define direct_load64 fetch_direct_load64

/* The view's less common shapes: whether a view of `limit` bytes with a hole of `hole_size`
 * bytes suits the fast path (limit >= 15, limit <= 2^MAXPHYADDR, hole_size + 14 does not
 * wrap). */
static bool fast_view_usable(const struct guest_paging *pg, uint64_t limit, uint64_t hole_size)
{
    unsigned m = pg->maxphyaddr; /* as walk.c takes it: 0 or above 52 is 52, below 32 is 32 */
    if (m == 0 || m > 52)
        m = 52;
    else if (m < 32)
        m = 32;
    return limit >= FETCH_MAX_BYTES && ((limit - 1) >> m) == 0 && (hole_size >> 62) == 0;
}

/* fetch_insn_fast, and with `rec` also remembered in the bound cache `rec` (the entries it read,
 * in order, and where). Inlined into both, so fetch_insn_fast carries no recording. */
static inline __attribute__((always_inline)) bool
fast_fetch(const struct guest_paging *pg, const struct guest_mem *mem, const struct fetch_cs *cs,
           uint64_t rip, uint8_t out[FETCH_MAX_BYTES], struct fetch_cache *rec)
{
    const uint64_t cr4 = pg->cr4, limit = mem->direct_limit, hole_size = mem->hole_size;
    /* 64-bit mode (cpu_mode_of: CR0.PE, EFER.LMA, CS.L) and IA-32e paging (paging_mode_of:
     * CR0.PG, CR4.PAE, EFER.LME): both must hold for fetch_insn to take a 64-bit RIP through a
     * 4/5-level walk (SDM Vol. 3A, 2.2 and 4.1.1). All 15 bytes in one 4 KiB page: one walk,
     * one read (and canonical when RIP is, the canonical edges being page boundaries). */
    if (!mem->direct || (pg->cr0 & FAST_CR0) != FAST_CR0 || !(cr4 & CR4_PAE) ||
        (pg->efer & FAST_EFER) != FAST_EFER || !(cs->ar & SEG_AR_L) ||
        (rip & 0xFFF) > 4096 - FETCH_MAX_BYTES)
        return false;
    /* A view of 15 bytes to 4 GiB with a hole under 4 GiB long suits every MAXPHYADDR (>= 32). */
    if (((limit - FETCH_MAX_BYTES) | hole_size) > (1ull << 32) - FETCH_MAX_BYTES &&
        !fast_view_usable(pg, limit, hole_size))
        return false;

    /* A load of n bytes at a is allowed when a <= limit - n and [a, a + n) misses the hole:
     * a - (hole_base - (n - 1)) >= hole_size + n - 1, unsigned. */
    const uintptr_t va = mem->direct_va;
    const uint64_t last8 = limit - 8, lo8 = mem->hole_base - 7, span8 = hole_size + 7;
    uint64_t all_and = ~0ull, ea, e = pg->cr3;
    /* With `rec`: the entries the walk read, in order, and where (n of them). */
    uint64_t walk_ea[5], walk_entry[5];
    unsigned n = 0;
    /* One level: the entry for the linear-address bits at `shift` in the table `e` points to
     * (4.5.4). */
#define FAST_STEP(shift)                                                                           \
    do {                                                                                           \
        ea = (e & FAST_NEXT) | ((rip >> ((shift)-3)) & 0xFF8);                                     \
        if (ea > last8 || ea - lo8 < span8)                                                        \
            return false;                                                                          \
        e = direct_load64(va + ea);                                                                \
        all_and &= e;                                                                              \
        if (rec) {                                                                                 \
            walk_ea[n] = ea;                                                                       \
            walk_entry[n++] = e;                                                                   \
        }                                                                                          \
    } while (0)

    /* Canonical RIP (4.5.1): bits 63:47 (63:56 with LA57) equal, i.e. rip + 2^47 < 2^48. */
    if (cr4 & CR4_LA57) {
        if ((rip + (1ull << 56)) >> 57)
            return false;
        FAST_STEP(48); /* PML5E */
        if (e & FAST_PS)
            return false; /* reserved in a PML5E (Table 4-14) */
    } else if ((rip + (1ull << 47)) >> 48) {
        return false;
    }
    FAST_STEP(39); /* PML4E */
    if (e & FAST_PS)
        return false; /* reserved in a PML4E (Table 4-15) */
    FAST_STEP(30);    /* PDPTE */
    uint64_t gpa;
    if (e & FAST_PS) {
        /* 1 GiB page (Table 4-16): only with CPUID.80000001H:EDX[26]; 29:13 reserved. */
        if (pg->no_1g_pages || (e & FAST_RSVD_1G))
            return false;
        gpa = (e & FAST_FRAME & ~(FAST_PAGE_1G - 1)) | (rip & (FAST_PAGE_1G - 1));
    } else {
        FAST_STEP(21); /* PDE */
        if (e & FAST_PS) {
            /* 2 MiB page (Table 4-18): 20:13 reserved, 12 is PAT. */
            if (e & FAST_RSVD_2M)
                return false;
            gpa = (e & FAST_FRAME & ~(FAST_PAGE_2M - 1)) | (rip & (FAST_PAGE_2M - 1));
        } else {
            FAST_STEP(12); /* PTE (Table 4-20) */
            gpa = (e & FAST_FRAME) | (rip & 0xFFF);
        }
    }
#undef FAST_STEP
    /* The leaf's XD: not executable with NXE, reserved without (4.6.1, 4.5). */
    if ((int64_t)e < 0)
        return false;
    /* Present at every level; accessed at every level unless no A/D update can happen (4.8:
     * fetch_insn would set A). */
    if ((all_and & (FAST_P | FAST_A)) != (FAST_P | FAST_A) &&
        (!(all_and & FAST_P) || mem->write_gpa))
        return false;
    /* U/S = 1 at every level for CPL 3; with SMEP, not for CPL 0-2 (4.6.1). */
    if (pg->cpl == 3 ? !(all_and & FAST_US) : (cr4 & CR4_SMEP) && (all_and & FAST_US))
        return false;

    /* The code bytes: 15 bytes at gpa (one read_gpa in fetch_insn), as two overlapping
     * 8-byte loads. */
    if (gpa > last8 - (FETCH_MAX_BYTES - 8) ||
        gpa - (lo8 - (FETCH_MAX_BYTES - 8)) < span8 + (FETCH_MAX_BYTES - 8))
        return false;
    const uint64_t w0 = direct_load64(va + gpa), w1 = direct_load64(va + gpa + 7);
    __builtin_memcpy(out, &w0, 8);
    __builtin_memcpy(out + 7, &w1, 8);
    if (rec) {
        /* Remembered only when the whole 4 KiB code frame is inside the view, so a later fetch
         * at any offset of the page needs no view test, and when every entry has its accessed
         * flag, so the answer does not depend on write_gpa. */
        const uint64_t frame = gpa & ~0xFFFull;
        if ((all_and & FAST_A) && frame <= limit - 4096 && limit >= 4096 &&
            frame - (mem->hole_base - 4095) >= hole_size + 4095) {
            /* The top entry on its own (its address under another CR3 is computed at the hit);
             * the n - 1 below it to the end of the slots, the slots before repeating the first
             * of them (never the top one: it belongs to this root). */
            rec->top_ea = walk_ea[0];
            rec->top_entry = walk_entry[0];
            const unsigned below = n - 1, first = 4 - below;
            for (unsigned i = 0; i < 4; i++) {
                const unsigned from = 1 + (i >= first ? i - first : 0);
                rec->ea[i] = walk_ea[from];
                rec->entry[i] = walk_entry[from];
            }
            rec->four_below = below == 4;
            rec->levels = n;
            rec->code_delta = frame - (rip & ~0xFFFull);
            rec->rip_page = rip & ~0xFFFull;
            rec->cr0 = pg->cr0;
            rec->cr3 = pg->cr3;
            rec->cr4 = pg->cr4;
            rec->efer = pg->efer;
            rec->bound_cs_ar = FETCH_CACHE_BOUND | cs->ar;
            rec->cpl = pg->cpl;
        }
    }
    return true;
}

bool fetch_insn_fast(const struct guest_paging *pg, const struct guest_mem *mem,
                     const struct fetch_cs *cs, uint64_t rip, uint8_t out[FETCH_MAX_BYTES])
{
    return fast_fetch(pg, mem, cs, rip, out, NULL);
}

/* --- the bound cache ----------------------------------------------------------------------
 *
 * The walk is a pure function of its inputs (the registers, the view) and of the entries it
 * reads. When the inputs equal those of the remembered walk and every remembered entry still
 * holds the same value at the same place, the walk would read exactly those entries again and
 * take exactly the same decisions (that walk succeeded, with every A already set), so only the
 * code bytes need reading. CR3 is an input only through the address of the top-level entry:
 * another CR3 whose top entry (read inside the view) equals the remembered one leads the walk
 * to the same next-level table, hence to the same entries below (decode/fetch.h). Entries are
 * re-read in the walk's order, as a walk would (the first one below the top perhaps more than
 * once, from the slots that repeat it): a concurrent change by another CPU is seen as a fresh
 * walk at that moment would see it, or makes a miss. The hit itself is fetch_bound_code in
 * fetch.h. */

void fetch_cache_reset(struct fetch_cache *cache)
{
    cache->levels = 0;
    cache->bound_cs_ar = 0;
}

void fetch_cache_bind(struct fetch_cache *cache, const struct guest_mem *mem, unsigned maxphyaddr,
                      bool no_1g_pages)
{
    fetch_cache_reset(cache);
    cache->bound_mem = *mem;
    cache->bound_maxphyaddr = maxphyaddr;
    cache->bound_no_1g_pages = no_1g_pages;
}

/* A miss: the fast walk with the bound facts, remembered. Out of line, so the hit path keeps its
 * few registers. */
static __attribute__((noinline)) bool fetch_bound_fill(struct fetch_cache *cache,
                                                       const struct guest_paging *pg,
                                                       const struct fetch_cs *cs, uint64_t rip,
                                                       uint8_t out[FETCH_MAX_BYTES])
{
    struct guest_paging bound_pg = *pg;
    bound_pg.maxphyaddr = cache->bound_maxphyaddr;
    bound_pg.no_1g_pages = cache->bound_no_1g_pages;
    fetch_cache_reset(cache);
    const bool ok = fast_fetch(&bound_pg, &cache->bound_mem, cs, rip, out, cache);
    if (!ok)
        fetch_cache_reset(cache);
    return ok;
}

bool fetch_insn_bound(struct fetch_cache *cache, const struct guest_paging *pg,
                      const struct fetch_cs *cs, uint64_t rip, uint8_t out[FETCH_MAX_BYTES])
{
    if (fetch_insn_bound_hit(cache, pg, cs, rip, out))
        return true;
    return fetch_bound_fill(cache, pg, cs, rip, out);
}
