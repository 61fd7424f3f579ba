/* Instruction fetch: the bytes at CS.base + RIP, read the way the guest CPU would fetch them.
 *
 * The CPU mode comes from CR0.PE, RFLAGS.VM, EFER.LMA and CS.L/CS.D (SDM Vol. 3A, 2.2
 * "Modes of Operation"; Vol. 1, 3.6 "Operand-size and Address-size Attributes"; the CS
 * attributes in VMCS access-rights format, SDM Vol. 3C, 25.4.1 Table 25-2). Bytes go through
 * decode/walk with the instruction-fetch access kind, each page translated separately.
 *
 * Pure C: no allocation, no libc; runs in VMX root and in host tests. */
#ifndef TRAPVISOR_DECODE_FETCH_H
#define TRAPVISOR_DECODE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/walk.h"
#include "lib/segment.h"

/* Longest x86 instruction (SDM Vol. 2A, 2.3.11 "AVX Instruction Length"; a longer one is
 * #GP(0)). */
#define FETCH_MAX_BYTES 15

#define RFLAGS_VM_BIT (1ull << 17) /* virtual-8086 mode */

enum cpu_mode {
    CPU_MODE_REAL,     /* CR0.PE = 0: 16-bit, segment limit from the descriptor cache */
    CPU_MODE_VM86,     /* virtual-8086 mode (RFLAGS.VM): 16-bit, CPL 3 */
    CPU_MODE_PROT16,   /* protected mode, CS.D = 0 */
    CPU_MODE_PROT32,   /* protected mode, CS.D = 1 */
    CPU_MODE_COMPAT16, /* IA-32e compatibility mode, CS.L = 0, CS.D = 0 */
    CPU_MODE_COMPAT32, /* IA-32e compatibility mode, CS.L = 0, CS.D = 1 */
    CPU_MODE_LONG64,   /* IA-32e 64-bit mode, CS.L = 1 */
};

/* The mode the CPU runs in. `cs_ar` is CS's access rights in VMCS format. (CS.L with CS.D
 * set is reserved and fails VM entry; it is taken as 64-bit here.) */
enum cpu_mode cpu_mode_of(uint64_t cr0, uint64_t efer, uint64_t rflags, uint32_t cs_ar);

/* Default operand size in bits: 16 or 32 (64-bit mode defaults to 32; REX.W makes 64). */
unsigned cpu_mode_operand_bits(enum cpu_mode mode);
/* Default address size in bits: 16, 32 or 64. */
unsigned cpu_mode_address_bits(enum cpu_mode mode);

/* The code segment, as in the VMCS guest-state area (limit already byte-granular). */
struct fetch_cs {
    uint64_t base;
    uint32_t limit;
    uint32_t ar;
};

enum fetch_status {
    FETCH_OK,        /* all FETCH_MAX_BYTES bytes were fetched */
    FETCH_TRUNCATED, /* fewer: `len` bytes were fetched, then `fault` stopped the fetch.
                        Decode the `len` bytes; only if the instruction is longer than
                        `len` does the CPU raise `fault` (inject it then). len may be 0. */
};

/* Why a truncated fetch stopped. */
enum fetch_fault_kind {
    FETCH_FAULT_NONE,
    FETCH_FAULT_PF,      /* #PF: walk.error_code, walk.fault_addr */
    FETCH_FAULT_GP,      /* #GP(0): past the CS limit, or non-canonical RIP in 64-bit mode */
    FETCH_FAULT_BAD_GPA, /* the code (or a paging structure) is not readable guest RAM:
                            walk.bad_gpa; the hypervisor cannot emulate this */
};

struct fetch_result {
    enum fetch_status status;
    enum cpu_mode mode;
    unsigned len; /* bytes valid in bytes[] */
    uint8_t bytes[FETCH_MAX_BYTES];
    enum fetch_fault_kind fault;
    struct walk_result walk; /* for FETCH_FAULT_PF/GP/BAD_GPA: the walk's answer */
};

/* Fetches up to FETCH_MAX_BYTES at CS.base + RIP. Outside 64-bit mode RIP wraps at 32 bits
 * (16-bit modes: the offset is still 32-bit, so the CS limit, normally 0xFFFF, bounds it),
 * the CS limit bounds the fetch and the linear address is 32-bit; in 64-bit mode the CS base
 * is 0 and there is no limit (SDM Vol. 3A, 3.4.4 and 5.3.1). `pg` must describe the same
 * CPU (its cpl is used for the fetch's access rights). Returns out->status. */
enum fetch_status fetch_insn(const struct guest_paging *pg, const struct guest_mem *mem,
                             const struct fetch_cs *cs, uint64_t rip, struct fetch_result *out);

/* The common case of fetch_insn, fast: IA-32e 64-bit mode (CR0.PE/PG, CR4.PAE, EFER.LME/LMA,
 * CS.L) with 4-level or 5-level paging, all FETCH_MAX_BYTES bytes inside one 4 KiB page, every
 * paging-structure entry and the code bytes read through mem's direct view (guest_mem.direct,
 * direct_va, direct_limit, hole_*),
 * which must end at or below 2^MAXPHYADDR (else it declines).
 * Returns true only when it has put all FETCH_MAX_BYTES bytes in `out` and fetch_insn would
 * have returned FETCH_OK with the same bytes without writing guest memory (every entry used
 * already has its accessed flag, or mem->write_gpa is NULL). Returns false ("use fetch_insn")
 * for anything else: another mode, a non-canonical RIP, a fetch reaching into the next page,
 * a fault, an A flag to set, an entry or the code outside the view. Never writes guest memory;
 * `out` is unspecified after false. */
bool fetch_insn_fast(const struct guest_paging *pg, const struct guest_mem *mem,
                     const struct fetch_cs *cs, uint64_t rip, uint8_t out[FETCH_MAX_BYTES]);

/* A fetch cache bound to one view and one CPU's paging facts, for a caller whose view and CPU
 * never change between fetches (the hypervisor: the identity map, the hidden region,
 * MAXPHYADDR). fetch_cache_bind copies *mem, maxphyaddr and no_1g_pages into the cache and
 * empties it; fetch_insn_bound(cache, pg, cs, rip, out) then answers exactly as
 * fetch_insn_fast(pg', mem, cs, rip, out) with pg' = *pg but maxphyaddr and no_1g_pages from
 * the binding (true only with fetch_insn's bytes and no guest-memory write; false = use
 * fetch_insn), and remembers the walk it made: every paging-structure entry it read, where, and
 * the code frame. To change the view, bind again. One cache per instruction or per CPU (it is
 * written on every miss); fetch_cache_reset() empties it and keeps the binding.
 *
 * The walk is a pure function of its inputs (CR0, CR4, EFER, CS.ar, CPL, RIP, the binding)
 * and of the entries it reads. A hit compares those inputs and re-reads the entries; CR3 takes
 * part only through the top-level entry it selects. The top-level table is the page at CR3
 * bits M-1:12 (M = MAXPHYADDR; bits 11:0 are the PCID or PWT/PCD and do not move it: SDM Vol.
 * 3A, 4.5.2, Tables 4-12 and 4-13), and RIP's top index picks the entry (the PML5E with
 * CR4.LA57, else the PML4E: 4.5.4). When that entry equals the remembered one, the next-level
 * table is the same page, and so is everything below it: a guest that runs the same kernel
 * code under many roots (one per process, PTI, PCIDs) hits under each of them. So:
 * - the top entry is held on its own (top_ea, top_entry): with CR3 equal to the remembered one
 *   it is re-read at top_ea; with another CR3 its address is computed from that CR3 and must
 *   lie in the bound view (below direct_limit, outside the hole, as the walk's own loads) or
 *   the hit misses without a read -- a guest can load any CR3 and still run kernel code
 *   through global TLB entries, and a read in the hole would compare the hypervisor's memory
 *   with a value the guest chose;
 * - the entries below it sit at the end of ea[]/entry[], so 1..3 of them (a 4-level walk, or a
 *   5-level walk to a 2 MiB or 1 GiB page) are checked by the same three comparisons (slots
 *   before the first one repeat it: none reads the old root), and only a 5-level walk to a
 *   4 KiB page, with four below the top, checks slot 0 too.
 * Only walks whose entries all had their accessed flag and whose whole 4 KiB code frame lies
 * in the view are remembered, so write_gpa is no part of the key and any offset of the page
 * needs no view test. */
struct fetch_cache {
    /* What every hit compares, together. */
    uint64_t cr3, cr4, efer;
    uint64_t bound_cs_ar; /* 0: empty; else FETCH_CACHE_BOUND | cs->ar */
    uint64_t top_ea;      /* guest-physical address of the top-level entry under cr3 */
    uint64_t top_entry;   /* its value */
    uint64_t ea[4];       /* guest-physical address of each entry below the top, in walk */
    uint64_t entry[4];    /* order, ending at slot 3; earlier slots repeat the first one */
    uint64_t code_delta;  /* code frame - rip_page: code bytes at direct_va + code_delta + rip */
    unsigned cpl;         /* pg->cpl of the remembered fetch */
    bool four_below;      /* four entries below the top (5-level, 4 KiB): slot 0 is its own */
    unsigned levels;      /* entries the walk read, the top one included (2..5); 0: empty */
    uint64_t rip_page;    /* rip & ~0xFFF of the remembered fetch */
    uint64_t cr0;         /* fetch_insn_bound_hit's: CR0 as the fill had it */
    /* fetch_cache_bind: the view and CPU facts fetch_insn_bound uses (not its arguments). */
    struct guest_mem bound_mem;
    unsigned bound_maxphyaddr;
    bool bound_no_1g_pages;
};
/* In bound_cs_ar: the cache holds a walk, so one compare tests that and CS.ar. */
#define FETCH_CACHE_BOUND (1ull << 33)
void fetch_cache_bind(struct fetch_cache *cache, const struct guest_mem *mem, unsigned maxphyaddr,
                      bool no_1g_pages);
void fetch_cache_reset(struct fetch_cache *cache);

static inline uint64_t fetch_direct_load64(uintptr_t va)
{
    uint64_t v;
    __builtin_memcpy(&v, (const void *)va, sizeof v);
    return v;
}

/* The entries below the top, re-read in the walk's order and compared (the slots before a short
 * walk's first one repeat it). */
static inline bool fetch_cache_below_top_holds(const struct fetch_cache *cache, uintptr_t va)
{
    if (cache->four_below && fetch_direct_load64(va + cache->ea[0]) != cache->entry[0])
        return false;
    return fetch_direct_load64(va + cache->ea[1]) == cache->entry[1] &&
           fetch_direct_load64(va + cache->ea[2]) == cache->entry[2] &&
           fetch_direct_load64(va + cache->ea[3]) == cache->entry[3];
}

/* Where the top-level entry is under a CR3 other than the remembered one, or ~0 when the walk
 * would not read it through the view. The top-level table is the page at CR3 bits 51:12 (SDM
 * Vol. 3A, 4.5.2; bits 11:0 are the PCID or PWT/PCD and do not move it, Tables 4-12 and 4-13),
 * the entry at RIP's top index (the remembered offset: the same RIP page, the same CR4.LA57).
 * The address is checked exactly as the walk checks its own loads (decode/fetch.c, fast_fetch):
 * an 8-byte load below direct_limit that misses the hole. CR3 bit 63 sends it out of any view,
 * as the walk takes it, and so do bits at or above MAXPHYADDR (the view ends at or below
 * 2^MAXPHYADDR). Inline, on the hit's unlikely branch: a call there would make the exit path
 * keep more registers across it. */
static inline uint64_t fetch_cache_root_top_ea(const struct fetch_cache *cache, uint64_t cr3)
{
    const uint64_t ea = (cr3 & 0x800FFFFFFFFFF000ull) | (cache->top_ea & 0xFFF);
    const struct guest_mem *m = &cache->bound_mem;
    if (ea > m->direct_limit - 8 || ea - (m->hole_base - 7) < m->hole_size + 7)
        return ~0ull;
    return ea;
}

/* The common end of every hit: the top entry under `cr3` -- at the remembered address when CR3
 * is the remembered one -- then the entries below it. When the top entry under another root is
 * the remembered one, the next-level table is the same page, so the entries below are re-read
 * at their remembered addresses. */
static inline bool fetch_cache_entries_hold(const struct fetch_cache *cache, uintptr_t va,
                                            uint64_t cr3)
{
    if (__builtin_expect(cr3 == cache->cr3, 1)) {
        if (fetch_direct_load64(va + cache->top_ea) != cache->top_entry)
            return false;
    } else {
        const uint64_t top_ea = fetch_cache_root_top_ea(cache, cr3);
        if (top_ea == ~0ull || fetch_direct_load64(va + top_ea) != cache->top_entry)
            return false;
    }
    return fetch_cache_below_top_holds(cache, va);
}

/* The 15 code bytes at `code` (two overlapping loads). */
static inline void fetch_code_copy(uintptr_t code, uint8_t out[FETCH_MAX_BYTES])
{
    const uint64_t w0 = fetch_direct_load64(code), w1 = fetch_direct_load64(code + 7);
    __builtin_memcpy(out, &w0, 8);
    __builtin_memcpy(out + 7, &w1, 8);
}

/* Where the code bytes at RIP are, through the bound cache's remembered translation, when it
 * still holds: the same CR4, EFER, CS.ar and CPL (CR0 is the caller's: a fetch in IA-32e mode
 * reads only PE and PG, both implied), a CR3 whose top-level entry for RIP is the remembered
 * one (the remembered CR3, or another root, read only inside the view), and every entry below
 * it unchanged. NULL when it does not hold. The caller guarantees that RIP is in the remembered
 * page with all FETCH_MAX_BYTES in it -- fetch_insn_bound last filled this cache for this very
 * RIP, for instance (the MMIO fast path's sites, boot/mmio.c, keep one cache per
 * instruction). */
static inline const uint8_t *fetch_bound_code(const struct fetch_cache *cache, uint64_t cr3,
                                              uint64_t cr4, uint64_t efer, uint32_t cs_ar,
                                              unsigned cpl, uint64_t rip)
{
    if (cr4 != cache->cr4 || efer != cache->efer ||
        (FETCH_CACHE_BOUND | cs_ar) != cache->bound_cs_ar || cpl != cache->cpl)
        return 0;
    const uintptr_t va = cache->bound_mem.direct_va;
    if (!fetch_cache_entries_hold(cache, va, cr3))
        return 0;
    return (const uint8_t *)(va + cache->code_delta + rip);
}

/* fetch_bound_code for an instruction the CPU has just fetched at RIP and started -- the RIP of
 * a fault-like VM exit it caused (an EPT violation of its data access): which bytes the CPU
 * fetched depends on the mapping alone, and the CPL takes part only in the permission checks
 * (SDM Vol. 3A, 4.6), which the CPU's own fetch has passed. So the CPL is not compared; the rest
 * is, as fetch_bound_code compares it. */
static inline const uint8_t *fetch_bound_code_executed(const struct fetch_cache *cache,
                                                       uint64_t cr3, uint64_t cr4, uint64_t efer,
                                                       uint32_t cs_ar, uint64_t rip)
{
    return fetch_bound_code(cache, cr3, cr4, efer, cs_ar, cache->cpl, rip);
}

/* fetch_bound_code_executed for a caller that also knows that the paging mode has not changed
 * since the cache was filled: the guest has been in IA-32e mode all along (a hypervisor that
 * owns CR0.PG sees every change of it -- clearing PG is the only way out of IA-32e mode, SDM
 * Vol. 3A, 10.8.5.4 -- and empties the cache then). A fill is made in IA-32e mode only
 * (fetch_insn_fast), and in IA-32e mode no change of CR4 or EFER alters which bytes the CPU
 * fetched at RIP through the same entries: CR4.PAE cannot be cleared nor CR4.LA57 changed
 * (#GP, SDM Vol. 2A, MOV to CR4), EFER.LME cannot change with paging on (#GP, Vol. 3A, 10.8.5),
 * CR4.PSE is ignored (4.5), CR4.PCIDE changes only what CR3 bits 11:0 mean, not where the table
 * is (Tables 4-12, 4-13); NXE, WP, SMEP, SMAP, PKE, PKS and CET take part only in permission or
 * reserved-bit checks, which the CPU's own fetch through these very entries has passed; PGE in
 * the TLB only. So only CS.ar (64-bit or compatibility mode) and the entries are compared: two
 * VMREADs fewer on the MMIO path than fetch_bound_code_executed.
 * fetch_bound_ia32e_executed_at is the same with the binding's direct_va passed in (`va` must
 * equal cache->bound_mem.direct_va: a caller whose view is the identity map passes the constant
 * 0, and the loads need no base) and the code pointer returned through `code`. */
__attribute__((always_inline)) static inline bool
fetch_bound_ia32e_executed_at(const struct fetch_cache *cache, uintptr_t va, uint64_t cr3,
                              uint32_t cs_ar, uint64_t rip, const uint8_t **code)
{
    /* CS.ar's 32 bits alone: an empty cache holds 0 there (fetch_cache_reset), which no CS of
     * a CPU that fetches is (a code segment has S and P set, SDM Vol. 3C, 27.3.1.2). */
    if (cs_ar != (uint32_t)cache->bound_cs_ar || !fetch_cache_entries_hold(cache, va, cr3))
        return false;
    *code = (const uint8_t *)(va + cache->code_delta + rip);
    return true;
}

static inline const uint8_t *fetch_bound_code_ia32e_executed(const struct fetch_cache *cache,
                                                             uint64_t cr3, uint32_t cs_ar,
                                                             uint64_t rip)
{
    const uint8_t *code;
    return fetch_bound_ia32e_executed_at(cache, cache->bound_mem.direct_va, cr3, cs_ar, rip, &code)
               ? code
               : 0;
}

/* The hit of fetch_insn_bound alone (never writes the cache): false = call fetch_insn_bound. */
static inline bool fetch_insn_bound_hit(const struct fetch_cache *cache,
                                        const struct guest_paging *pg, const struct fetch_cs *cs,
                                        uint64_t rip, uint8_t out[FETCH_MAX_BYTES])
{
    if (rip - cache->rip_page > 4096 - FETCH_MAX_BYTES || pg->cr0 != cache->cr0)
        return false;
    const uint8_t *code = fetch_bound_code(cache, pg->cr3, pg->cr4, pg->efer, cs->ar, pg->cpl, rip);
    if (!code)
        return false;
    fetch_code_copy((uintptr_t)code, out);
    return true;
}

/* fetch_insn_bound_hit, else the fast walk through the bound view (remembered). */
bool fetch_insn_bound(struct fetch_cache *cache, const struct guest_paging *pg,
                      const struct fetch_cs *cs, uint64_t rip, uint8_t out[FETCH_MAX_BYTES]);

#endif
