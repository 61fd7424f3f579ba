/* Host driver for counting instructions of one instruction fetch, for
 *   valgrind --tool=callgrind build/tools/perf_fetch [rounds]
 * (`make perf-fetch` runs it and prints the per-call counts). 4-level paging, 4 KiB pages,
 * accessed flags set, a direct view over the whole guest buffer: the fetch of every MMIO exit
 * in 64-bit code. The bound cache's counts are nearly all warm calls (the first fills it), under
 * the root it was filled under and under a second root (a copy of the PML4 at another address,
 * with a PCID: another process running the same kernel code). Exit status 1 when a fast path
 * declines or differs from fetch_insn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/fetch.h"
#include "tests/support/replay_guest.h"

#define CODE_LA    0x400000ull
#define OTHER_ROOT 0x6000ull /* a copy of the PML4 at 0x1000 */

/* Separate, non-inlined callers so callgrind shows each path on its own line (noipa: the
 * compiler would otherwise fold the callers with identical bodies into one). */
__attribute__((noinline)) static bool run_fast(const struct guest_paging *pg,
                                               const struct guest_mem *mem,
                                               const struct fetch_cs *cs, uint8_t *out)
{
    return fetch_insn_fast(pg, mem, cs, CODE_LA + 0x10, out);
}

__attribute__((noinline)) static bool run_bound(struct fetch_cache *cache,
                                                const struct guest_paging *pg,
                                                const struct fetch_cs *cs, uint8_t *out)
{
    return fetch_insn_bound(cache, pg, cs, CODE_LA + 0x10, out);
}

/* The registers as the exit path builds them from its VMREADs (inlined into each caller, so
 * the callers' counts include it). */
static inline struct guest_paging exit_paging(uint64_t cr0, uint64_t cr3, uint64_t cr4,
                                              uint64_t efer, unsigned cpl)
{
    struct guest_paging pg;
    pg.cr0 = cr0;
    pg.cr3 = cr3;
    pg.cr4 = cr4;
    pg.efer = efer;
    pg.rflags = 2;
    pg.cpl = cpl;
    pg.maxphyaddr = 0; /* the bound calls take it from the binding */
    pg.no_1g_pages = false;
    pg.pae_pdptes_valid = false;
    return pg;
}

/* The exit path's way: the registers arrive as values, fetch_insn_bound_hit is inlined and
 * fetch_insn_bound called only on a miss. Its count is the whole caller, building the registers
 * included. */
__attribute__((noinline, noipa)) static bool
run_bound_inline(struct fetch_cache *cache, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer,
                 uint32_t cs_ar, unsigned cpl, uint64_t rip, uint8_t *out)
{
    const struct guest_paging pg = exit_paging(cr0, cr3, cr4, efer, cpl);
    const struct fetch_cs cs = {.base = 0, .limit = 0, .ar = cs_ar};
    if (fetch_insn_bound_hit(cache, &pg, &cs, rip, out))
        return true;
    return fetch_insn_bound(cache, &pg, &cs, rip, out);
}

/* As run_bound_inline, under the second root: every call is a hit through the other-root check
 * (the top entry's address computed from CR3 and bounded by the view), never a refill. */
__attribute__((noinline, noipa)) static bool
run_bound_inline_other_root(struct fetch_cache *cache, uint64_t cr0, uint64_t cr3, uint64_t cr4,
                            uint64_t efer, uint32_t cs_ar, unsigned cpl, uint64_t rip, uint8_t *out)
{
    const struct guest_paging pg = exit_paging(cr0, cr3, cr4, efer, cpl);
    const struct fetch_cs cs = {.base = 0, .limit = 0, .ar = cs_ar};
    if (fetch_insn_bound_hit(cache, &pg, &cs, rip, out))
        return true;
    return fetch_insn_bound(cache, &pg, &cs, rip, out);
}

/* The MMIO sites' question (boot/mmio.c): where the code is, by fetch_bound_code_executed, and
 * the 15 bytes copied from there; under the remembered root and under the second one. */
__attribute__((noinline, noipa)) static bool run_bound_code(const struct fetch_cache *cache,
                                                            uint64_t cr3, uint64_t cr4,
                                                            uint64_t efer, uint32_t cs_ar,
                                                            uint64_t rip, uint8_t *out)
{
    const uint8_t *code = fetch_bound_code_executed(cache, cr3, cr4, efer, cs_ar, rip);
    if (!code)
        return false;
    fetch_code_copy((uintptr_t)code, out);
    return true;
}

__attribute__((noinline, noipa)) static bool
run_bound_code_other_root(const struct fetch_cache *cache, uint64_t cr3, uint64_t cr4,
                          uint64_t efer, uint32_t cs_ar, uint64_t rip, uint8_t *out)
{
    const uint8_t *code = fetch_bound_code_executed(cache, cr3, cr4, efer, cs_ar, rip);
    if (!code)
        return false;
    fetch_code_copy((uintptr_t)code, out);
    return true;
}

__attribute__((noinline)) static enum fetch_status run_general(const struct guest_paging *pg,
                                                               const struct guest_mem *mem,
                                                               const struct fetch_cs *cs,
                                                               struct fetch_result *f)
{
    return fetch_insn(pg, mem, cs, CODE_LA + 0x10, f);
}

int main(int argc, char **argv)
{
    const unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
    replay_map(CODE_LA, 0x5000, 0x27);
    for (unsigned i = 0; i < 4096; i++)
        replay_guest[0x5000 + i] = (uint8_t)(i * 7 + 1);
    memcpy(replay_guest + OTHER_ROOT, replay_guest + 0x1000, 4096);
    const struct guest_paging pg = {.cr0 = 0x80050033,
                                    .cr3 = 0x1000,
                                    .cr4 = 0x20,
                                    .efer = 0xd00,
                                    .rflags = 2,
                                    .cpl = 0,
                                    .maxphyaddr = 39};
    const uint64_t other_cr3 = OTHER_ROOT | 0x005; /* PCID 5 */
    const struct guest_mem mem = {.read_gpa = replay_gpa_read,
                                  .write_gpa = replay_gpa_write,
                                  .direct = true,
                                  .direct_va = (uintptr_t)replay_guest,
                                  .direct_limit = sizeof replay_guest,
                                  .hole_base = 0x7000,
                                  .hole_size = 0x1000};
    const struct fetch_cs cs = {.base = 0, .limit = 0xffffffff, .ar = 0xa09b};
    const uint64_t rip = CODE_LA + 0x10;
    static struct fetch_cache bound_cache, exit_cache, other_cache;
    fetch_cache_bind(&bound_cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    fetch_cache_bind(&exit_cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    fetch_cache_bind(&other_cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    uint8_t out[FETCH_MAX_BYTES], tmp[FETCH_MAX_BYTES];
    /* Filled under the first root; the other-root runs then only hit. */
    const bool filled = fetch_insn_bound(&other_cache, &pg, &cs, rip, tmp);
    unsigned fast_ok = 0, general_ok = 0, bound_ok = 0, code_ok = 0, other_ok = 0;
    bool same = true;
    struct fetch_result f;
    for (unsigned i = 0; i < rounds; i++) {
        general_ok += run_general(&pg, &mem, &cs, &f) == FETCH_OK;
        fast_ok += run_fast(&pg, &mem, &cs, out);
        same &= memcmp(out, f.bytes, FETCH_MAX_BYTES) == 0;
        bound_ok += run_bound(&bound_cache, &pg, &cs, out);
        same &= memcmp(out, f.bytes, FETCH_MAX_BYTES) == 0;
        bound_ok +=
            run_bound_inline(&exit_cache, pg.cr0, pg.cr3, pg.cr4, pg.efer, cs.ar, pg.cpl, rip, out);
        same &= memcmp(out, f.bytes, FETCH_MAX_BYTES) == 0;
        code_ok += run_bound_code(&other_cache, pg.cr3, pg.cr4, pg.efer, cs.ar, rip, out);
        same &= memcmp(out, f.bytes, FETCH_MAX_BYTES) == 0;
        other_ok += run_bound_inline_other_root(&other_cache, pg.cr0, other_cr3, pg.cr4, pg.efer,
                                                cs.ar, pg.cpl, rip, out);
        same &= memcmp(out, f.bytes, FETCH_MAX_BYTES) == 0;
        other_ok +=
            run_bound_code_other_root(&other_cache, other_cr3, pg.cr4, pg.efer, cs.ar, rip, out);
        same &= memcmp(out, f.bytes, FETCH_MAX_BYTES) == 0;
    }
    /* The other-root runs never refilled: the cache still holds the first root's walk. */
    const bool never_refilled = other_cache.cr3 == pg.cr3;
    printf("perf_fetch: %u rounds, fetch_insn ok %u, fast accepted %u, bound accepted %u, "
           "bound code found %u, under another root %u (never refilled: %s), bytes %s\n",
           rounds, general_ok, fast_ok, bound_ok, code_ok, other_ok, never_refilled ? "yes" : "NO",
           same ? "same" : "DIFFER");
    return filled && general_ok == rounds && fast_ok == rounds && bound_ok == 2 * rounds &&
                   code_ok == rounds && other_ok == 2 * rounds && never_refilled && same
               ? 0
               : 1;
}
