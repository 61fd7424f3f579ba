/* libFuzzer target: fetch_insn_fast, fetch_insn_bound and fetch_bound_code against fetch_insn.
 *
 * The input is the guest: a header (registers, CS, RIP, the view's limit and hole) and then
 * the contents of a small guest-physical memory holding the page tables and the code. The
 * contract is checked on every input: when the fast fetch answers, fetch_insn completed with
 * the same 15 bytes and wrote nothing; the bound fetch (one cache for the whole run, so it also
 * meets memories that changed under it) answers exactly as the fast one; fetch_bound_code (the
 * MMIO sites' question) answers exactly when the key and the walk still hold -- the top entry
 * the walk reads under the current CR3 (any root: a CR3 whose top entry lies outside the view
 * must miss) equals the remembered one and every entry below it is unchanged -- with the fast
 * fetch's bytes. An input may be the next exit at the same site under another root. Any
 * difference aborts. Built and run from tests/walk/build.mk (`make fuzz-fetch-fast`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/fetch.h"

#define MEM_SIZE (64u * 1024)
static uint8_t guest[MEM_SIZE];

struct view {
    uint64_t limit, hole_base, hole_size;
    unsigned writes;
};
static struct view v;

static bool allowed(uint64_t gpa, size_t len)
{
    if (gpa + len < gpa || gpa + len > v.limit)
        return false;
    if (v.hole_size && gpa < v.hole_base + v.hole_size && v.hole_base < gpa + len)
        return false;
    return true;
}

static bool rd(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (!allowed(gpa, len))
        return false;
    memcpy(buf, guest + gpa, len);
    return true;
}

static bool wr(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (!allowed(gpa, len))
        return false;
    memcpy(guest + gpa, buf, len);
    v.writes++;
    return true;
}

static uint64_t take(const uint8_t **p, size_t *n, unsigned bytes)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
        x |= (uint64_t) * *p << (8 * i);
    return x;
}

/* What the MMIO sites remember of the bound cache's last fill, found here independently of the
 * cache: the key and the entries that walk read (SDM Vol. 3A, 4.5: CR3 down to the leaf, PS in
 * a PDPTE or PDE ends it). */
static struct {
    bool valid;    /* the last bound fetch answered, every entry it read accessed */
    bool required; /* ... and its code frame well inside the view: the cache must remember it */
    uint64_t cr3, cr4, efer, rip_page, frame;
    uint32_t cs_ar;
    unsigned cpl, n;
    uint64_t ea[5], entry[5];
} site;

#define ADDR_BITS 0x000FFFFFFFFFF000ull /* bits 51:12 */

static uint64_t rd64(uint64_t gpa)
{
    if (gpa > MEM_SIZE - 8)
        abort(); /* a walk that succeeded read only the view */
    uint64_t x;
    memcpy(&x, guest + gpa, 8);
    return x;
}

/* An 8-byte load at `ea` through the view (below the limit, clear of the hole); with `margin`, a
 * zero-sized hole counts as one byte. */
static bool view_has8(uint64_t ea, bool margin)
{
    if (ea + 8 > v.limit || ea + 8 > MEM_SIZE)
        return false;
    const uint64_t hole = v.hole_size ? v.hole_size : margin ? 1 : 0;
    return !(hole && ea < v.hole_base + hole && v.hole_base < ea + 8);
}

/* After a bound fetch answered: the entries it read, and whether the cache may remember them
 * (every entry accessed) and must (also the whole code frame in the view; a zero-sized hole
 * counted as a page, since the fast path may decline more than the view needs, walk.h). */
static bool site_remember(const struct guest_paging *pg, const struct fetch_cs *cs, uint64_t rip)
{
    uint64_t table = pg->cr3 & ADDR_BITS;
    bool all_accessed = true;
    site.n = 0;
    for (unsigned l = (pg->cr4 & CR4_LA57) ? 5 : 4;; l--) {
        const unsigned shift = 12 + 9 * (l - 1);
        const uint64_t ea = table + ((rip >> shift) & 511) * 8, e = rd64(ea);
        site.ea[site.n] = ea;
        site.entry[site.n++] = e;
        all_accessed &= (e >> 5) & 1;
        if (l == 1 || ((l == 2 || l == 3) && (e & (1u << 7)))) {
            const uint64_t size = 1ull << shift;
            site.frame = ((e & ADDR_BITS & ~(size - 1)) | (rip & (size - 1))) & ~0xFFFull;
            break;
        }
        table = e & ADDR_BITS;
    }
    site.cr3 = pg->cr3;
    site.cr4 = pg->cr4;
    site.efer = pg->efer;
    site.cs_ar = cs->ar;
    site.cpl = pg->cpl;
    site.rip_page = rip & ~0xFFFull;
    const uint64_t hole = v.hole_size ? v.hole_size : 4096;
    const bool in_view = site.frame + 4096 <= v.limit &&
                         !(site.frame < v.hole_base + hole && v.hole_base < site.frame + 4096);
    site.valid = all_accessed;
    site.required = all_accessed && in_view;
    return site.valid;
}

/* fetch_bound_code against the site: NULL when a key field or a walked entry changed (or the
 * cache is empty); a pointer when neither did and the walk must be remembered; and at a
 * pointer, the bytes fetch_insn_fast gives now (`f`, `fast`). */
static void site_check(const struct fetch_cache *bound, const struct guest_paging *pg,
                       const struct fetch_cs *cs, uint64_t rip, bool f,
                       const uint8_t fast[FETCH_MAX_BYTES])
{
    /* The caller's guarantees: RIP in the remembered page, all 15 bytes in it (an empty cache
     * must refuse any RIP); CR0.PE and CR0.PG set, as EFER.LMA and CS.L (in the key) imply in
     * a running guest (SDM Vol. 3A, 9.8.5: PG cannot be cleared in 64-bit mode). */
    if (site.valid &&
        ((rip & ~0xFFFull) != site.rip_page || (rip & 0xFFF) > 4096 - FETCH_MAX_BYTES ||
         (pg->cr0 & (CR0_PE | CR0_PG)) != (CR0_PE | CR0_PG)))
        return;
    const uint8_t *code = fetch_bound_code(bound, pg->cr3, pg->cr4, pg->efer, cs->ar, pg->cpl, rip);
    bool holds = site.valid && pg->cr4 == site.cr4 && pg->efer == site.efer &&
                 cs->ar == site.cs_ar && pg->cpl == site.cpl;
    /* CR3 counts through the top entry it leads to: the root page (bits 51:12; 11:0 are the
     * PCID or PWT/PCD), at RIP's top index, read only inside the view (and never with bit 63,
     * which the walk takes as an address bit); with a margin, where the fast path may decline
     * next to a zero-sized hole (walk.h), a hit is allowed, not required. */
    const uint64_t top = (pg->cr3 & ADDR_BITS) | (site.ea[0] & 0xFFF);
    bool margin_ok = holds;
    if (holds) {
        holds = !(pg->cr3 >> 63) && view_has8(top, false) && rd64(top) == site.entry[0];
        margin_ok = holds && view_has8(top, true);
    }
    for (unsigned i = 1; holds && i < site.n; i++)
        holds = rd64(site.ea[i]) == site.entry[i];
    if ((code && !holds) || (!code && holds && margin_ok && site.required))
        abort();
    if (code && (code != guest + site.frame + (rip & 0xFFF) || !f ||
                 memcmp(code, fast, FETCH_MAX_BYTES) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t n = size;
    /* Header: flags select the usual 64-bit-mode values most of the time, so the fuzzer spends
     * its effort on the tables. */
    uint64_t flags = take(&p, &n, 2);
    struct guest_paging pg = {0};
    pg.cr0 = (flags & 1) ? take(&p, &n, 4) : (CR0_PE | CR0_PG | CR0_WP);
    pg.cr4 = (flags & 2) ? take(&p, &n, 4) : CR4_PAE;
    if (flags & 4)
        pg.cr4 |= CR4_LA57;
    if (flags & 8)
        pg.cr4 |= CR4_SMEP;
    pg.efer = (flags & 16) ? take(&p, &n, 2) : (EFER_LME | EFER_LMA | EFER_NXE);
    pg.cr3 = take(&p, &n, 3) & 0xFFFFF;
    pg.cpl = (unsigned)((flags >> 5) & 3);
    pg.maxphyaddr = (unsigned)take(&p, &n, 1);
    pg.no_1g_pages = (flags & 128) != 0;
    struct fetch_cs cs = {.ar = (flags & 256) ? (uint32_t)take(&p, &n, 2) : 0xA09B};
    uint64_t rip = take(&p, &n, 8);
    if (!(flags & 512)) /* a canonical RIP in the low half, offset from the input */
        rip &= 0x00007FFFFFFFFFFFull;
    v.limit = (flags & 1024) ? take(&p, &n, 3) % (MEM_SIZE + 1) : MEM_SIZE;
    v.hole_base = (flags & 2048) ? take(&p, &n, 3) % MEM_SIZE : 0;
    v.hole_size = (flags & 2048) ? take(&p, &n, 2) : 0;
    /* Flag 16384: the next exit at the same MMIO site. The previous input's registers, CS,
     * RIP and view are kept (this header is read and dropped), and the rest of the input
     * patches guest memory at an offset it gives: a table entry, the code, or neither. */
    static struct {
        uint64_t flags, rip;
        struct guest_paging pg;
        struct fetch_cs cs;
        struct view v;
    } last;
    size_t at = 0;
    /* Flag 32768 on a fresh input: after the checks, the same exit again under a second root,
     * a copy of this one's root page at the page the input names (PCID bits included). */
    const uint64_t second_cr3 = (flags & (16384 | 32768)) == 32768 ? take(&p, &n, 3) & 0xFFFFF : 0;
    if (flags & 16384) {
        at = (size_t)take(&p, &n, 2) % MEM_SIZE;
        /* Flag 32768: under another root -- CR3 (with its PCID bits) from the input, the rest
         * as last time; and (flag 1) the patch is a copy of the last root page there. */
        const bool other_root = (flags & 32768) != 0, copy_root = (flags & 1) != 0;
        const uint64_t cr3 = take(&p, &n, 3) & 0xFFFFF;
        const unsigned writes = v.writes;
        flags = last.flags;
        pg = last.pg;
        cs = last.cs;
        rip = last.rip;
        v = last.v;
        v.writes = writes;
        if (other_root) {
            const uint64_t from = pg.cr3 & 0xFF000, to = cr3 & 0xFF000;
            if (copy_root && from + 4096 <= MEM_SIZE && to + 4096 <= MEM_SIZE)
                memmove(guest + to, guest + from, 4096);
            pg.cr3 = cr3;
        }
    }
    last.flags = flags;
    last.pg = pg;
    last.cs = cs;
    last.rip = rip;
    last.v = v;
    /* The rest is guest memory (what is not given stays from earlier inputs, as the cache
     * does). */
    memcpy(guest + at, p, n < MEM_SIZE - at ? n : MEM_SIZE - at);

    const struct guest_mem mem = {.read_gpa = rd,
                                  .write_gpa = (flags & 4096) ? NULL : wr,
                                  .direct = (flags & 8192) == 0,
                                  .direct_va = (uintptr_t)guest,
                                  .direct_limit = v.limit,
                                  .hole_base = v.hole_base,
                                  .hole_size = v.hole_size};
    uint8_t fast[FETCH_MAX_BYTES], cached[FETCH_MAX_BYTES], hit[FETCH_MAX_BYTES];
    const unsigned w0 = v.writes;
    const bool f = fetch_insn_fast(&pg, &mem, &cs, rip, fast);
    if (v.writes != w0)
        abort();
    /* The bound cache, bound again when this input's view or CPU facts differ (its contract);
     * its calls take MAXPHYADDR and 1 GiB support from the binding, not from pg. */
    static struct fetch_cache bound;
    if (bound.bound_mem.write_gpa != mem.write_gpa || bound.bound_mem.direct != mem.direct ||
        bound.bound_mem.direct_va != mem.direct_va ||
        bound.bound_mem.direct_limit != mem.direct_limit ||
        bound.bound_mem.hole_base != mem.hole_base || bound.bound_mem.hole_size != mem.hole_size ||
        bound.bound_mem.read_gpa != mem.read_gpa || bound.bound_maxphyaddr != pg.maxphyaddr ||
        bound.bound_no_1g_pages != pg.no_1g_pages) {
        fetch_cache_bind(&bound, &mem, pg.maxphyaddr, pg.no_1g_pages);
        site.valid = site.required = false;
    }
    /* The MMIO site's question, before the fetch: does the last translation still hold? */
    site_check(&bound, &pg, &cs, rip, f, fast);
    struct guest_paging other = pg;
    other.maxphyaddr ^= 7;
    other.no_1g_pages = !other.no_1g_pages;
    if (fetch_insn_bound_hit(&bound, &other, &cs, rip, hit) &&
        (!f || memcmp(fast, hit, FETCH_MAX_BYTES) != 0))
        abort();
    const bool b = fetch_insn_bound(&bound, &other, &cs, rip, cached);
    if (v.writes != w0 || b != f || (f && memcmp(fast, cached, FETCH_MAX_BYTES) != 0))
        abort();
    /* Right after the fill, nothing changed: the pointer, at the bytes it gave, whenever the
     * walk is one the cache must remember. */
    site.valid = site.required = false;
    if (b && site_remember(&pg, &cs, rip)) {
        const uint8_t *code = fetch_bound_code(&bound, pg.cr3, pg.cr4, pg.efer, cs.ar, pg.cpl, rip);
        if ((!code && site.required) || (code && memcmp(code, cached, FETCH_MAX_BYTES) != 0))
            abort();
    }
    site_check(&bound, &pg, &cs, rip, f, fast);
    struct fetch_result r;
    fetch_insn(&pg, &mem, &cs, rip, &r);
    if (f &&
        (r.status != FETCH_OK || memcmp(fast, r.bytes, FETCH_MAX_BYTES) != 0 || v.writes != w0))
        abort();
    if (second_cr3) {
        const uint64_t from = pg.cr3 & 0xFF000, to = second_cr3 & 0xFF000;
        if (from + 4096 <= MEM_SIZE && to + 4096 <= MEM_SIZE)
            memmove(guest + to, guest + from, 4096);
        pg.cr3 = second_cr3;
        const unsigned w1 = v.writes; /* fetch_insn may have set accessed flags */
        const bool f2 = fetch_insn_fast(&pg, &mem, &cs, rip, fast);
        site_check(&bound, &pg, &cs, rip, f2, fast);
        other.cr3 = pg.cr3;
        const bool b2 = fetch_insn_bound(&bound, &other, &cs, rip, cached);
        if (v.writes != w1 || b2 != f2 || (f2 && memcmp(fast, cached, FETCH_MAX_BYTES) != 0))
            abort();
        /* The site now remembers this root's walk (the copy may have landed on a table). */
        site.valid = site.required = false;
        if (b2)
            site_remember(&pg, &cs, rip);
        site_check(&bound, &pg, &cs, rip, f2, fast);
    }
    return 0;
}
