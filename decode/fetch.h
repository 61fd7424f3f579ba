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

/* Longest x86 instruction (SDM Vol. 2A, 2.3.11 "AVX Instruction Length"; a longer one is
 * #GP(0)). */
#define FETCH_MAX_BYTES 15

/* Segment access-rights bits, VMCS format (SDM Vol. 3C, 25.4.1, Table 25-2). */
#define SEG_AR_L (1u << 13) /* 64-bit code segment */
#define SEG_AR_D (1u << 14) /* default operation size 32 bits (D/B) */

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

/* fetch_insn_fast with a memory of its last walk, for the exit path: the same contract (true
 * only with fetch_insn's bytes and no guest-memory write; false = use fetch_insn). When RIP is
 * in the same page as last time, the registers, CS.ar and the view (*mem's fields) are the same,
 * and each paging-structure entry that walk read still holds the same value, the walk is not
 * redone: only those entries and the code bytes are read. One cache per CPU (it is written on
 * every call); zero-initialised or fetch_cache_reset() is empty.
 *
 * The layout serves the hit (fetch_insn_cached_hit): the key is compared word by word as the
 * caller's structures hold it, and the walk's entries sit at the end of ea[]/entry[], so a
 * 2-, 3- or 4-level walk is checked by the same four comparisons (slots before the walk's
 * first entry repeat it) and only a 5-level walk checks slot 0. Only walks whose entries all
 * had their accessed flag are remembered, so write_gpa is no part of the key. */
struct fetch_cache {
    uint64_t rip_page; /* rip & ~0xFFF of the remembered fetch */
    uint64_t cr3, cr0, cr4, efer;
    uint64_t cpl_maxphyaddr; /* pg->cpl and pg->maxphyaddr as they lie in guest_paging */
    uint64_t full_cs_ar;     /* 0: empty; else FETCH_CACHE_FULL | cs->ar */
    uint64_t direct_limit, hole_base, hole_size;
    uint64_t code_delta; /* code frame - rip_page: code bytes at direct_va + code_delta + rip */
    bool no_1g_pages;
    bool five_levels;  /* the walk read a PML5E: slot 0 is its own entry */
    unsigned levels;   /* entries the walk read (2..5); 0: empty */
    uint64_t ea[5];    /* guest-physical address of each entry the walk read, in order, */
    uint64_t entry[5]; /* ending at slot 4; earlier slots repeat the walk's first entry */
    unsigned cpl;      /* pg->cpl of the remembered fetch */
    /* fetch_cache_bind: the view and CPU facts fetch_insn_bound uses (not its arguments). */
    struct guest_mem bound_mem;
    unsigned bound_maxphyaddr;
    bool bound_no_1g_pages;
};
/* In full_cs_ar: the cache holds a walk made by fetch_insn_cached (FULL) or by
 * fetch_insn_bound (BOUND), so one compare tests that, which kind, and CS.ar. */
#define FETCH_CACHE_FULL  (1ull << 32)
#define FETCH_CACHE_BOUND (1ull << 33)
void fetch_cache_reset(struct fetch_cache *cache);

/* guest_paging's cpl and maxphyaddr as one word (they are adjacent, see walk.h). */
static inline uint64_t fetch_pg_cpl_maxphyaddr(const struct guest_paging *pg)
{
    uint64_t w;
    __builtin_memcpy(&w, (const char *)pg + offsetof(struct guest_paging, cpl), sizeof w);
    return w;
}
_Static_assert(offsetof(struct guest_paging, maxphyaddr) ==
                       offsetof(struct guest_paging, cpl) + sizeof(unsigned) &&
                   sizeof(unsigned) == 4,
               "cpl and maxphyaddr are compared as one word");

static inline uint64_t fetch_direct_load64(uintptr_t va)
{
    uint64_t v;
    __builtin_memcpy(&v, (const void *)va, sizeof v);
    return v;
}

/* The common end of every hit: the remembered walk's entries re-read and compared (the slots
 * before a shallow walk repeat its first entry). */
static inline bool fetch_cache_entries_hold(const struct fetch_cache *cache, uintptr_t va)
{
    if (cache->five_levels && fetch_direct_load64(va + cache->ea[0]) != cache->entry[0])
        return false;
    return fetch_direct_load64(va + cache->ea[1]) == cache->entry[1] &&
           fetch_direct_load64(va + cache->ea[2]) == cache->entry[2] &&
           fetch_direct_load64(va + cache->ea[3]) == cache->entry[3] &&
           fetch_direct_load64(va + cache->ea[4]) == cache->entry[4];
}

/* The 15 code bytes at `code` (two overlapping loads). */
static inline void fetch_code_copy(uintptr_t code, uint8_t out[FETCH_MAX_BYTES])
{
    const uint64_t w0 = fetch_direct_load64(code), w1 = fetch_direct_load64(code + 7);
    __builtin_memcpy(out, &w0, 8);
    __builtin_memcpy(out + 7, &w1, 8);
}

/* The entries, then the 15 code bytes. */
static inline bool fetch_cache_replay(const struct fetch_cache *cache, uintptr_t va, uint64_t rip,
                                      uint8_t out[FETCH_MAX_BYTES])
{
    if (!fetch_cache_entries_hold(cache, va))
        return false;
    fetch_code_copy(va + cache->code_delta + rip, out);
    return true;
}

/* The hit of fetch_insn_cached alone: true with the 15 bytes in `out` when the cache answers
 * for these inputs (then fetch_insn_fast would give the same bytes); false when it does not,
 * and `out` is unspecified -- then call fetch_insn_cached (which walks and remembers). Inline so
 * the exit path carries no call for the common case; it never writes the cache. */
static inline bool fetch_insn_cached_hit(const struct fetch_cache *cache,
                                         const struct guest_paging *pg, const struct guest_mem *mem,
                                         const struct fetch_cs *cs, uint64_t rip,
                                         uint8_t out[FETCH_MAX_BYTES])
{
    /* Same page and all 15 bytes in it (the fast walk's own condition); an empty cache has
     * full_cs_ar 0, which no call matches. */
    if (rip - cache->rip_page > 4096 - FETCH_MAX_BYTES || pg->cr3 != cache->cr3 ||
        pg->cr0 != cache->cr0 || pg->cr4 != cache->cr4 || pg->efer != cache->efer ||
        (FETCH_CACHE_FULL | cs->ar) != cache->full_cs_ar ||
        fetch_pg_cpl_maxphyaddr(pg) != cache->cpl_maxphyaddr ||
        pg->no_1g_pages != cache->no_1g_pages || !mem->direct ||
        mem->direct_limit != cache->direct_limit || mem->hole_base != cache->hole_base ||
        mem->hole_size != cache->hole_size)
        return false;
    const uintptr_t va = mem->direct_va;
    return fetch_cache_replay(cache, va, rip, out);
}

/* A cache bound to one view and one CPU's paging facts, for a caller whose view and CPU never
 * change between fetches (the hypervisor: the identity map, the hidden region, MAXPHYADDR):
 * fetch_cache_bind copies *mem, maxphyaddr and no_1g_pages into the cache and empties it;
 * fetch_insn_bound(cache, pg, cs, rip, out) then answers exactly as fetch_insn_fast(pg', mem,
 * cs, rip, out) with pg' = *pg but maxphyaddr and no_1g_pages from the binding, so its hit
 * compares only RIP's page, CR0, CR3, CR4, EFER, CS.ar and CPL, and re-reads the entries. To
 * change the view, bind again. fetch_insn_cached and fetch_insn_bound may share a cache: each
 * misses on the other's walk. */
void fetch_cache_bind(struct fetch_cache *cache, const struct guest_mem *mem, unsigned maxphyaddr,
                      bool no_1g_pages);

/* Where the code bytes at RIP are, through the bound cache's remembered translation, when it
 * still holds: the same CR3, CR4, EFER, CS.ar and CPL (CR0 is the caller's: a fetch in IA-32e
 * mode reads only PE and PG, both implied), and every entry the walk read unchanged. NULL when
 * it does not hold. The caller guarantees that RIP is in the remembered page with all
 * FETCH_MAX_BYTES in it -- fetch_insn_bound last filled this cache for this very RIP, for
 * instance (the MMIO fast path's sites, boot/mmio.c, keep one cache per instruction). */
static inline const uint8_t *fetch_bound_code(const struct fetch_cache *cache, uint64_t cr3,
                                              uint64_t cr4, uint64_t efer, uint32_t cs_ar,
                                              unsigned cpl, uint64_t rip)
{
    if (cr3 != cache->cr3 || cr4 != cache->cr4 || efer != cache->efer ||
        (FETCH_CACHE_BOUND | cs_ar) != cache->full_cs_ar || cpl != cache->cpl)
        return 0;
    const uintptr_t va = cache->bound_mem.direct_va;
    if (!fetch_cache_entries_hold(cache, va))
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

/* fetch_insn_cached_hit, else the fast walk (remembered for the next call). */
bool fetch_insn_cached(struct fetch_cache *cache, const struct guest_paging *pg,
                       const struct guest_mem *mem, const struct fetch_cs *cs, uint64_t rip,
                       uint8_t out[FETCH_MAX_BYTES]);

#endif
