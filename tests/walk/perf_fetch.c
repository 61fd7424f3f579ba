/* Host driver for counting instructions of one instruction fetch, for
 *   valgrind --tool=callgrind build/tools/perf_fetch [rounds]
 * (`make perf-fetch` runs it and prints the per-call counts). 4-level paging, 4 KiB pages,
 * accessed flags set, a direct view over the whole guest buffer: the fetch of every MMIO exit
 * in 64-bit code; fetch_insn_cached's count is nearly all warm calls (the first fills it). Exit
 * status 1 when a fast path declines or differs from fetch_insn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/fetch.h"
#include "tests/support/replay_guest.h"

#define CODE_LA 0x400000ull

/* Separate, non-inlined callers so callgrind shows each path on its own line. */
__attribute__((noinline)) static bool run_fast(const struct guest_paging *pg,
                                               const struct guest_mem *mem,
                                               const struct fetch_cs *cs, uint8_t *out)
{
    return fetch_insn_fast(pg, mem, cs, CODE_LA + 0x10, out);
}

__attribute__((noinline)) static bool run_cached(struct fetch_cache *cache,
                                                 const struct guest_paging *pg,
                                                 const struct guest_mem *mem,
                                                 const struct fetch_cs *cs, uint8_t *out)
{
    return fetch_insn_cached(cache, pg, mem, cs, CODE_LA + 0x10, out);
}

/* The exit path's way (boot/mmio.c): the registers arrive as values (VMREADs), the view and
 * MAXPHYADDR are globals, and fetch_insn_cached_hit is inlined, fetch_insn_cached called only
 * on a miss. Its count is the whole caller, building the registers included. */
static struct guest_mem exit_mem;
static unsigned exit_maxphyaddr;

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
    pg.maxphyaddr = exit_maxphyaddr;
    pg.no_1g_pages = false;
    pg.pae_pdptes_valid = false;
    return pg;
}
__attribute__((noinline)) static bool run_hit_inline(struct fetch_cache *cache, uint64_t cr0,
                                                     uint64_t cr3, uint64_t cr4, uint64_t efer,
                                                     uint32_t cs_ar, unsigned cpl, uint64_t rip,
                                                     uint8_t *out)
{
    const struct guest_paging pg = exit_paging(cr0, cr3, cr4, efer, cpl);
    const struct fetch_cs cs = {.base = 0, .limit = 0, .ar = cs_ar};
    if (fetch_insn_cached_hit(cache, &pg, &exit_mem, &cs, rip, out))
        return true;
    return fetch_insn_cached(cache, &pg, &exit_mem, &cs, rip, out);
}

__attribute__((noinline)) static bool run_bound(struct fetch_cache *cache,
                                                const struct guest_paging *pg,
                                                const struct fetch_cs *cs, uint8_t *out)
{
    return fetch_insn_bound(cache, pg, cs, CODE_LA + 0x10, out);
}

/* As run_hit_inline, with a bound cache (fetch_insn_bound_hit inlined). */
__attribute__((noinline)) static bool run_bound_inline(struct fetch_cache *cache, uint64_t cr0,
                                                       uint64_t cr3, uint64_t cr4, uint64_t efer,
                                                       uint32_t cs_ar, unsigned cpl, uint64_t rip,
                                                       uint8_t *out)
{
    const struct guest_paging pg = exit_paging(cr0, cr3, cr4, efer, cpl);
    const struct fetch_cs cs = {.base = 0, .limit = 0, .ar = cs_ar};
    if (fetch_insn_bound_hit(cache, &pg, &cs, rip, out))
        return true;
    return fetch_insn_bound(cache, &pg, &cs, rip, out);
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
    const struct guest_paging pg = {.cr0 = 0x80050033,
                                    .cr3 = 0x1000,
                                    .cr4 = 0x20,
                                    .efer = 0xd00,
                                    .rflags = 2,
                                    .cpl = 0,
                                    .maxphyaddr = 39};
    const struct guest_mem mem = {.read_gpa = replay_gpa_read,
                                  .write_gpa = replay_gpa_write,
                                  .direct = true,
                                  .direct_va = (uintptr_t)replay_guest,
                                  .direct_limit = sizeof replay_guest,
                                  .hole_base = 0x7000,
                                  .hole_size = 0x1000};
    const struct fetch_cs cs = {.base = 0, .limit = 0xffffffff, .ar = 0xa09b};
    unsigned fast_ok = 0, general_ok = 0, cached_ok = 0, inline_ok = 0;
    exit_mem = mem;
    exit_maxphyaddr = pg.maxphyaddr;
    static struct fetch_cache exit_cache, bound_cache, exit_bound_cache;
    fetch_cache_bind(&bound_cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    fetch_cache_bind(&exit_bound_cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    unsigned bound_ok = 0;
    uint8_t out_bound[FETCH_MAX_BYTES], out_bound_inline[FETCH_MAX_BYTES];
    uint8_t out_inline[FETCH_MAX_BYTES];
    static struct fetch_cache cache; /* warm after the first call */
    uint8_t out[FETCH_MAX_BYTES], out_cached[FETCH_MAX_BYTES];
    struct fetch_result f;
    for (unsigned i = 0; i < rounds; i++) {
        fast_ok += run_fast(&pg, &mem, &cs, out);
        cached_ok += run_cached(&cache, &pg, &mem, &cs, out_cached);
        general_ok += run_general(&pg, &mem, &cs, &f) == FETCH_OK;
        inline_ok += run_hit_inline(&exit_cache, pg.cr0, pg.cr3, pg.cr4, pg.efer, cs.ar, pg.cpl,
                                    CODE_LA + 0x10, out_inline);
        bound_ok += run_bound(&bound_cache, &pg, &cs, out_bound);
        bound_ok += run_bound_inline(&exit_bound_cache, pg.cr0, pg.cr3, pg.cr4, pg.efer, cs.ar,
                                     pg.cpl, CODE_LA + 0x10, out_bound_inline);
    }
    const bool same = memcmp(out, f.bytes, FETCH_MAX_BYTES) == 0 &&
                      memcmp(out_cached, f.bytes, FETCH_MAX_BYTES) == 0 &&
                      memcmp(out_inline, f.bytes, FETCH_MAX_BYTES) == 0 &&
                      memcmp(out_bound, f.bytes, FETCH_MAX_BYTES) == 0 &&
                      memcmp(out_bound_inline, f.bytes, FETCH_MAX_BYTES) == 0;
    printf("perf_fetch: %u rounds, fast accepted %u, cached accepted %u, inline hit path "
           "accepted %u, bound accepted %u, fetch_insn ok %u, bytes %s\n",
           rounds, fast_ok, cached_ok, inline_ok, bound_ok, general_ok, same ? "same" : "DIFFER");
    return fast_ok == rounds && cached_ok == rounds && inline_ok == rounds &&
                   bound_ok == 2 * rounds && general_ok == rounds && same
               ? 0
               : 1;
}
