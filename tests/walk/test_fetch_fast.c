/* decode/fetch: fetch_insn_fast against fetch_insn.
 *
 * The contract: fetch_insn_fast returns true only when fetch_insn returns FETCH_OK with the
 * same 15 bytes and writes nothing to guest memory; it never writes guest memory itself. The
 * random test builds many thousands of 4-level/5-level page-table trees (guest_tables.c) with
 * random present/RW/US/PS/A/D/XD/PAT/ignored/reserved bits at every level, random CR0.WP,
 * CR4.SMEP/SMAP/LA57/PSE, EFER.NXE/LME/LMA, CS.L/D, CPL and MAXPHYADDR, RIPs at page ends and
 * non-canonical, code and tables in the hole or beyond the direct view's limit, and checks the
 * contract on each; it also proves the fast path accepts every kind of plain case it covers,
 * so the check is not vacuous. The bound cache (fetch_insn_bound and the MMIO sites'
 * fetch_bound_code) is checked against fetch_insn_fast and an independent walk model across
 * random changes to the tables, the code, the registers and the view, and across page-table
 * roots: another root whose top entry for RIP is the same hits (with the bytes a fresh walk
 * under it gives), one whose top entry differs or lies outside the view (the hole, at or above
 * the limit) misses without a read there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/fetch.h"
#include "tests/walk/guest_tables.h"
#include "tests/support/rng.h"

/* Guest memory with a direct view: read_gpa answers exactly as the view promises (refuses
 * beyond `limit` and anything overlapping the hole), so the view is faithful. */
struct view {
    struct guest_ram ram;
    struct guest_mem ram_mem; /* guest_ram's own callbacks */
    uint64_t limit, hole_base, hole_size;
    unsigned reads, writes;
};

static bool view_allows(const struct view *v, uint64_t gpa, size_t len)
{
    if (gpa + len < gpa || gpa + len > v->limit)
        return false;
    if (v->hole_size && gpa < v->hole_base + v->hole_size && v->hole_base < gpa + len)
        return false;
    return true;
}

static bool view_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct view *v = ctx;
    v->reads++;
    return view_allows(v, gpa, len) && v->ram_mem.read_gpa(v->ram_mem.ctx, gpa, buf, len);
}

static bool view_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    struct view *v = ctx;
    if (!view_allows(v, gpa, len))
        return false;
    v->writes++;
    return v->ram_mem.write_gpa(v->ram_mem.ctx, gpa, buf, len);
}

static struct view view;

static struct guest_mem view_mem(bool writable)
{
    return (struct guest_mem){.read_gpa = view_read,
                              .write_gpa = writable ? view_write : NULL,
                              .ctx = &view,
                              .direct = true,
                              .direct_va = (uintptr_t)view.ram.bytes,
                              .direct_limit = view.limit,
                              .hole_base = view.hole_base,
                              .hole_size = view.hole_size};
}

/* Deterministic pseudo-random numbers (xorshift64*), so a failure repeats. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    return xorshift64star(&rng_state);
}
static uint64_t below(uint64_t n)
{
    return rnd() % n;
}
static bool chance(unsigned percent)
{
    return below(100) < percent;
}

static int setup_view(void **state)
{
    (void)state;
    view.ram_mem = guest_ram_init(&view.ram, true);
    for (uint64_t a = 0; a < GUEST_RAM_SIZE; a += 8) {
        const uint64_t r = rnd();
        memcpy(view.ram.bytes + a, &r, 8);
    }
    view.limit = GUEST_RAM_SIZE;
    view.hole_base = view.hole_size = 0;
    return 0;
}

static int teardown_view(void **state)
{
    (void)state;
    guest_ram_free(&view.ram);
    return 0;
}

static const struct fetch_cs cs64 = {.base = 0, .limit = 0, .ar = 0xA09B}; /* OVMF's CS */

static struct guest_paging paging64(uint64_t cr3, bool la57)
{
    return (struct guest_paging){.cr0 = CR0_PE | CR0_PG | CR0_WP,
                                 .cr3 = cr3,
                                 .cr4 = CR4_PAE | (la57 ? CR4_LA57 : 0),
                                 .efer = EFER_LME | EFER_LMA | EFER_NXE,
                                 .maxphyaddr = 39};
}

/* Fetches where fetch_insn succeeded without writing but the fast path declined (not wrong,
 * only slower): counted for the random test's summary. */
static unsigned declined_but_general_clean;

/* Runs both and checks the contract; returns whether the fast path accepted. */
static bool check_fast_against_general(const struct guest_paging *pg, const struct guest_mem *mem,
                                       const struct fetch_cs *cs, uint64_t rip, uint64_t tables_lo,
                                       uint64_t tables_hi)
{
    /* Memory the fast path could conceivably touch: the tables and the code around rip's
     * translation are what the walk reads; keep a copy of the tables to prove no writes. */
    static uint8_t before[1u << 20];
    const size_t tables_len = (size_t)(tables_hi - tables_lo);
    assert_true(tables_len <= sizeof before);
    memcpy(before, view.ram.bytes + tables_lo, tables_len);
    const unsigned writes0 = view.writes, reads0 = view.reads;

    uint8_t fast[FETCH_MAX_BYTES];
    memset(fast, 0xCC, sizeof fast);
    const bool ok = fetch_insn_fast(pg, mem, cs, rip, fast);
    /* The fast path never writes guest memory (and never needs read_gpa). */
    assert_int_equal(view.writes, writes0);
    assert_int_equal(view.reads, reads0);
    assert_memory_equal(before, view.ram.bytes + tables_lo, tables_len);

    struct fetch_result general;
    fetch_insn(pg, mem, cs, rip, &general);
    if (ok) {
        if (general.status != FETCH_OK)
            fail_msg("fast accepted rip %#llx but fetch_insn stopped after %u bytes (fault %d, "
                     "walk %d, err %#x)",
                     (unsigned long long)rip, general.len, general.fault, general.walk.status,
                     general.walk.error_code);
        assert_int_equal(general.len, FETCH_MAX_BYTES);
        assert_memory_equal(fast, general.bytes, FETCH_MAX_BYTES);
        if (view.writes != writes0)
            fail_msg("fast accepted rip %#llx but fetch_insn wrote guest memory",
                     (unsigned long long)rip);
    } else if (general.status == FETCH_OK && view.writes == writes0) {
        declined_but_general_clean++;
    }
    return ok;
}

static uint64_t tables_start(void)
{
    return 1u << 20; /* guest_ram_init's bump allocator */
}

/* New tables from `start` on (guest_ram_table zeroes each one it hands out). */
static void reset_tables(uint64_t start)
{
    view.ram.next_table = start;
}

/* --- plain cases: the fast path must take them ----------------------------------------- */

struct plain {
    bool la57;
    uint64_t page_size;
    unsigned cpl;
    uint64_t cr4_extra;
    uint64_t rip;
    uint64_t gpa; /* of the page */
};

static void fast_accepts_plain_64_bit_fetches(void **state)
{
    (void)state;
    static const struct plain cases[] = {
        {false, 4096, 0, 0, 0xFFFFFFFF80001234ull, 0x9000},
        {false, 4096, 0, 0, 0xFFFFFFFF80001FF1ull, 0x9000}, /* last byte at the page end */
        {false, 4096, 0, 0, 0x0000000000400000ull, 0x5000},
        {false, 4096, 0, 0, 0x00007FFFFFFFF000ull, 0xA000}, /* top of the lower half */
        {false, 4096, 0, 0, 0xFFFF800000000000ull, 0xB000}, /* bottom of the upper half */
        {false, 4096, 3, CR4_SMEP | CR4_SMAP, 0x0000000000401000ull, 0xC000},
        {false, 4096, 0, CR4_SMEP, 0xFFFFFFFF80002000ull, 0xD000},
        {false, 1ull << 21, 0, 0, 0xFFFFFFFF80200ABCull, 0x400000},
        {false, 1ull << 30, 0, 0, 0x0000004000123456ull, 0},
        {true, 4096, 0, 0, 0xFF00000000001234ull, 0x9000},
        {true, 4096, 3, 0, 0x00FFFFFFFFFFF000ull, 0x9000}, /* top of the 57-bit lower half */
        {true, 1ull << 21, 0, CR4_SMEP, 0x0001000000200FF0ull, 0x600000},
        {true, 1ull << 30, 3, 0, 0x0000000040ABCDEFull, 0},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct plain *c = &cases[i];
        const enum paging_mode mode = c->la57 ? PAGING_5LEVEL : PAGING_4LEVEL;
        reset_tables(tables_start());
        const uint64_t cr3 = guest_tables_root(&view.ram);
        const uint64_t user = c->cpl == 3 ? E_US : 0;
        guest_map(&view.ram, mode, cr3, c->rip, c->gpa, c->page_size, E_P | E_RW | user | E_A);
        const unsigned leaf = c->page_size == 4096 ? 1 : c->page_size == (1ull << 21) ? 2 : 3;
        for (unsigned l = leaf + 1; l <= (c->la57 ? 5u : 4u); l++)
            guest_entry_change(&view.ram, mode, cr3, c->rip, l, E_A, user ? 0 : E_US);
        struct guest_paging pg = paging64(cr3, c->la57);
        pg.cpl = c->cpl;
        pg.cr4 |= c->cr4_extra;
        const struct guest_mem mem = view_mem(true);
        if (!check_fast_against_general(&pg, &mem, &cs64, c->rip, tables_start(),
                                        view.ram.next_table))
            fail_msg("case %u (rip %#llx) declined", i, (unsigned long long)c->rip);
        /* And the bytes are the ones at the translated address. */
        uint8_t out[FETCH_MAX_BYTES];
        assert_true(fetch_insn_fast(&pg, &mem, &cs64, c->rip, out));
        const uint64_t gpa = c->gpa + (c->rip & (c->page_size - 1));
        assert_memory_equal(out, view.ram.bytes + gpa, FETCH_MAX_BYTES);
    }
}

/* Each reason to decline, one at a time, on an otherwise plain 4-level fetch; the same setup
 * without that one change is accepted, so the change is what declined it. */
enum decline_reason {
    NO_VIEW,
    COMPAT_MODE,
    PAGING_OFF_LMA,
    NOT_ACCESSED,
    PAGE_END,
    NON_CANONICAL,
    NOT_PRESENT,
    XD_WITH_NXE,
    XD_WITHOUT_NXE,
    SMEP_USER_PAGE,
    USER_ON_SUPERVISOR,
    RESERVED_ADDRESS_BIT,
    RESERVED_BIT_AT_MAXPHYADDR,
    RESERVED_2M_BIT,
    VIEW_BEYOND_MAXPHYADDR,
    PS_IN_PML4E,
    TABLE_IN_HOLE,
    TABLE_BEYOND_LIMIT,
    CODE_IN_HOLE,
    CODE_BEYOND_LIMIT,
    NO_1G_PAGES,
    REASON_COUNT
};

static bool fast_with(enum decline_reason why, bool apply)
{
    const enum paging_mode mode = PAGING_4LEVEL;
    const uint64_t code_gpa = 0xF00000; /* above the tables (1 MiB up) */
    reset_tables(tables_start());
    const uint64_t cr3 = guest_tables_root(&view.ram);
    uint64_t rip = 0xFFFFFFFF80001234ull;
    uint64_t page_size = 4096;
    if (why == NO_1G_PAGES)
        page_size = 1ull << 30;
    else if (why == RESERVED_2M_BIT)
        page_size = 1ull << 21;
    const uint64_t page_gpa = page_size == 4096 ? code_gpa : 0;
    guest_map(&view.ram, mode, cr3, rip, page_gpa, page_size, E_P | E_RW | E_A);
    if (page_size == 4096)
        guest_map(&view.ram, mode, cr3, rip + 0x1000, code_gpa + 0x1000, 4096, E_P | E_RW | E_A);
    const unsigned leaf = page_size == 4096 ? 1 : page_size == (1ull << 21) ? 2 : 3;
    for (unsigned l = leaf + 1; l <= 4; l++)
        guest_entry_change(&view.ram, mode, cr3, rip, l, E_A, E_US);
    const uint64_t code = page_gpa + (rip & (page_size - 1)); /* 15 bytes here */
    struct guest_paging pg = paging64(cr3, false);
    struct fetch_cs cs = cs64;
    view.limit = GUEST_RAM_SIZE;
    view.hole_base = view.hole_size = 0;
    bool direct = true;
    if (why == VIEW_BEYOND_MAXPHYADDR)
        view.limit = 1ull << 33; /* fine for MAXPHYADDR 39, not for 32 */
    if (apply) {
        switch (why) {
        case NO_VIEW:
            direct = false;
            break;
        case COMPAT_MODE:
            cs.ar = 0xC09B;
            break;
        case PAGING_OFF_LMA:
            pg.cr0 &= ~CR0_PG;
            break;
        case NOT_ACCESSED:
            guest_entry_change(&view.ram, mode, cr3, rip, 3, 0, E_A);
            break;
        case PAGE_END:
            rip = (rip & ~0xFFFull) + 0xFF2;
            break;
        case NON_CANONICAL:
            rip ^= 1ull << 50;
            break;
        case NOT_PRESENT:
            guest_entry_change(&view.ram, mode, cr3, rip, 2, 0, E_P);
            break;
        case XD_WITH_NXE:
            guest_entry_change(&view.ram, mode, cr3, rip, 4, E_XD, 0);
            break;
        case XD_WITHOUT_NXE:
            guest_entry_change(&view.ram, mode, cr3, rip, 1, E_XD, 0);
            pg.efer &= ~EFER_NXE;
            break;
        case SMEP_USER_PAGE:
            for (unsigned l = 1; l <= 4; l++)
                guest_entry_change(&view.ram, mode, cr3, rip, l, E_US, 0);
            pg.cr4 |= CR4_SMEP;
            break;
        case USER_ON_SUPERVISOR:
            pg.cpl = 3;
            break;
        case RESERVED_ADDRESS_BIT:
            guest_entry_change(&view.ram, mode, cr3, rip, 1, 1ull << 45, 0);
            break;
        case RESERVED_BIT_AT_MAXPHYADDR:
            guest_entry_change(&view.ram, mode, cr3, rip, 3, 1ull << 39, 0);
            break;
        case VIEW_BEYOND_MAXPHYADDR:
            pg.maxphyaddr = 32;
            break;
        case RESERVED_2M_BIT:
            guest_entry_change(&view.ram, mode, cr3, rip, 2, 1ull << 13, 0);
            break;
        case PS_IN_PML4E:
            guest_entry_change(&view.ram, mode, cr3, rip, 4, E_PS, 0);
            break;
        case TABLE_IN_HOLE:
            view.hole_base = guest_entry_gpa(&view.ram, mode, cr3, rip, 2) + 7;
            view.hole_size = 1;
            break;
        case TABLE_BEYOND_LIMIT:
            view.limit = guest_entry_gpa(&view.ram, mode, cr3, rip, 1) + 7;
            break;
        case CODE_IN_HOLE:
            view.hole_base = code + FETCH_MAX_BYTES - 1;
            view.hole_size = 0x100;
            break;
        case CODE_BEYOND_LIMIT:
            view.limit = code + FETCH_MAX_BYTES - 1;
            break;
        case NO_1G_PAGES:
            pg.no_1g_pages = true;
            break;
        case REASON_COUNT:
            break;
        }
    }
    struct guest_mem mem = view_mem(true);
    mem.direct = direct;
    uint8_t out[FETCH_MAX_BYTES];
    const bool ok = fetch_insn_fast(&pg, &mem, &cs, rip, out);
    if (ok)
        assert_memory_equal(out, view.ram.bytes + code, FETCH_MAX_BYTES);
    /* Whatever it answered, it is the contract's answer. */
    assert_int_equal(
        check_fast_against_general(&pg, &mem, &cs, rip, tables_start(), view.ram.next_table), ok);
    view.limit = GUEST_RAM_SIZE;
    view.hole_base = view.hole_size = 0;
    return ok;
}

static void fast_declines_each_uncovered_case_alone(void **state)
{
    (void)state;
    for (unsigned why = 0; why < REASON_COUNT; why++) {
        if (!fast_with(why, false))
            fail_msg("reason %u: the plain setup is declined", why);
        if (fast_with(why, true))
            fail_msg("reason %u: fast path accepted", why);
    }
}

/* --- random trees ------------------------------------------------------------------------ */

static uint64_t random_canonical_page(bool la57)
{
    const unsigned bits = la57 ? 57 : 48;
    uint64_t la = rnd() & ((1ull << bits) - 1) & ~0xFFFull;
    if (la & (1ull << (bits - 1)))
        la |= ~((1ull << bits) - 1); /* sign-extend */
    return la;
}

static uint64_t random_page_offset(void)
{
    switch (below(6)) {
    case 0:
        return 0;
    case 1:
        return 0xFF1; /* last byte exactly at the page end */
    case 2:
        return 0xFF2 + below(14); /* crosses into the next page */
    case 3:
        return 0xFF0;
    default:
        return below(4096);
    }
}

/* Random bits on one paging-structure entry at `level` (1 = PTE) of a `levels`-deep tree. */
static void perturb_entry(enum paging_mode mode, uint64_t cr3, uint64_t la, unsigned level,
                          bool leaf, uint64_t page_size, unsigned m)
{
    uint64_t set = 0, clear = 0;
    if (chance(88))
        set |= E_A;
    if (chance(3))
        clear |= E_P;
    if (chance(8))
        clear |= E_US;
    if (chance(10))
        clear |= E_RW;
    if (chance(8))
        set |= E_XD;
    if (chance(30))
        set |= (rnd() & 0xF00) | (rnd() & 0x7FF0000000000000ull); /* G, ignored, 62:52 */
    if (chance(30))
        set |= E_D;
    if (!leaf && level >= 4 && chance(2))
        set |= E_PS;
    if (leaf && page_size > 4096 && chance(30))
        set |= 1ull << 12; /* PAT */
    if (chance(3)) {
        /* A reserved bit: above MAXPHYADDR, or in a large page's 20:13 / 29:13. */
        if (leaf && page_size > 4096 && chance(50))
            set |= 1ull << (13 + below(page_size == (1ull << 21) ? 8 : 17));
        else if (m < 52)
            set |= 1ull << (m + below(52 - m));
    }
    guest_entry_change(&view.ram, mode, cr3, la, level, set, clear & ~set);
}

static unsigned effective_m(unsigned m)
{
    return (m == 0 || m > 52) ? 52 : m < 32 ? 32 : m;
}

/* One random case: a fresh page-table tree for a random RIP (4-level or 5-level, random
 * bits at every level), random registers, CS and view. */
struct random_case {
    struct guest_paging pg;
    struct guest_mem mem;
    struct fetch_cs cs;
    uint64_t rip, tstart;
    bool la57;
    unsigned leaf_level;
    uint64_t entry_gpa[6]; /* [level]: where the walk's entry is (0: none) */
};

static struct random_case random_case(void)
{
    static const unsigned maxphyaddrs[] = {0, 20, 32, 36, 39, 40, 46, 48, 52, 57};
    static const uint32_t cs_ars[] = {0xA09B, 0xA09B, 0xA09B, 0xA09B, 0xA09B,
                                      0xA09B, 0xE09B, 0xC09B, 0x809B, 0x9B};
    struct random_case rc = {0};
    /* Tables somewhere in the 16 MiB, so the hole and the limit can meet them. */
    const uint64_t tstart = (1u << 20) + below(14u << 8) * 4096;
    reset_tables(tstart);
    const bool la57 = chance(40);
    const enum paging_mode mode = la57 ? PAGING_5LEVEL : PAGING_4LEVEL;
    const unsigned levels = la57 ? 5 : 4;
    const uint64_t cr3 = guest_tables_root(&view.ram);
    const unsigned m_raw = maxphyaddrs[below(10)], m = effective_m(m_raw);

    const unsigned size_pick = (unsigned)below(10);
    const uint64_t page_size = size_pick < 6 ? 4096 : size_pick < 8 ? 1ull << 21 : 1ull << 30;
    const unsigned leaf_level = page_size == 4096 ? 1 : page_size == (1ull << 21) ? 2 : 3;
    uint64_t rip = random_canonical_page(la57);
    uint64_t gpa;
    if (page_size == 4096) {
        gpa = below(chance(95) ? GUEST_RAM_SIZE / 4096 : 1u << 20) * 4096;
        rip |= random_page_offset();
    } else if (page_size == (1ull << 21)) {
        gpa = below(chance(95) ? 8 : 1u << 10) << 21;
        rip = (rip & ~(page_size - 1)) | (below(512) << 12) | random_page_offset();
    } else {
        gpa = chance(95) ? 0 : below(64) << 30;
        rip = (rip & ~(page_size - 1)) | (below(chance(90) ? 4096 : 1u << 18) << 12) |
              random_page_offset();
    }
    const uint64_t leaf_flags = E_P | (chance(90) ? E_RW : 0) | (chance(60) ? E_US : 0);
    guest_map(&view.ram, mode, cr3, rip, gpa, page_size, leaf_flags);
    /* The next page too, so fetches that cross pages can complete in fetch_insn. */
    const uint64_t next = (rip & ~(page_size - 1)) + page_size;
    if ((rip & (page_size - 1)) + FETCH_MAX_BYTES > page_size && next != 0 && page_size == 4096)
        guest_map(&view.ram, mode, cr3, next, below(GUEST_RAM_SIZE / 4096) * 4096, 4096,
                  E_ALL | E_A);
    for (unsigned l = leaf_level; l <= levels; l++)
        rc.entry_gpa[l] = guest_entry_gpa(&view.ram, mode, cr3, rip, l);
    for (unsigned l = leaf_level; l <= levels; l++)
        perturb_entry(mode, cr3, rip, l, l == leaf_level, page_size, m);
    if (chance(2))
        rip ^= 1ull << (la57 ? 57 + below(7) : 48 + below(16)); /* non-canonical */

    struct guest_paging pg = {.cr0 = CR0_PE | CR0_PG | (chance(50) ? CR0_WP : 0),
                              .cr3 = cr3 | (chance(10) ? (rnd() & 0xFFF) : 0),
                              .cr4 = CR4_PAE | (la57 ? CR4_LA57 : 0),
                              .efer = EFER_LME | EFER_LMA | (chance(75) ? EFER_NXE : 0),
                              .rflags = chance(50) ? RFLAGS_AC_BIT : 0,
                              .cpl = (unsigned)below(4),
                              .maxphyaddr = m_raw,
                              .no_1g_pages = chance(10)};
    if (m < 52 && chance(3))
        pg.cr3 |= 1ull << (m + below(52 - m)); /* CR3 bits above MAXPHYADDR */
    if (chance(30))
        pg.cr4 |= CR4_SMEP;
    if (chance(30))
        pg.cr4 |= CR4_SMAP;
    if (chance(10))
        pg.cr4 |= CR4_PSE;
    if (chance(2))
        pg.cr4 ^= CR4_LA57; /* the tables were built for the other depth */
    switch (below(60)) {
    case 0:
        pg.cr0 &= ~CR0_PG;
        break;
    case 1:
        pg.cr0 &= ~CR0_PE;
        break;
    case 2:
        pg.cr4 &= ~CR4_PAE;
        break;
    case 3:
        pg.efer &= ~EFER_LME;
        break;
    case 4:
        pg.efer &= ~EFER_LMA;
        break;
    default:
        break;
    }
    struct fetch_cs cs = {
        .base = rnd() & 0xFFFFF000u, .limit = (uint32_t)rnd(), .ar = cs_ars[below(10)]};

    /* The view: limit and hole, sometimes right at a table or at the code. */
    view.limit = GUEST_RAM_SIZE;
    view.hole_base = view.hole_size = 0;
    switch (below(8)) {
    case 0: /* limit somewhere in the tables */
        view.limit = tstart + below(view.ram.next_table - tstart + 8);
        break;
    case 1: /* limit near the code */
        view.limit = gpa + (rip & (page_size - 1) & 0x3FFFFFFF) + below(32);
        if (view.limit > GUEST_RAM_SIZE)
            view.limit = GUEST_RAM_SIZE;
        break;
    case 2: /* hole over part of the tables */
        view.hole_base = tstart + below(view.ram.next_table - tstart);
        view.hole_size = 1 + below(chance(50) ? 16 : 8192);
        break;
    case 3: /* hole near the code */
        view.hole_base = gpa + (rip & (page_size - 1) & 0x3FFFFFFF) - 16 + below(48);
        view.hole_size = 1 + below(32);
        break;
    case 4: /* a hole elsewhere, zero-sized or not */
        view.hole_base = below(GUEST_RAM_SIZE);
        view.hole_size = below(4) * 4096;
        break;
    default:
        break;
    }
    struct guest_mem mem = view_mem(chance(85));
    if (chance(3))
        mem.direct = false; /* no view */

    rc.pg = pg;
    rc.mem = mem;
    rc.cs = cs;
    rc.rip = rip;
    rc.tstart = tstart;
    rc.la57 = la57;
    rc.leaf_level = leaf_level;
    return rc;
}

static void fast_agrees_with_fetch_insn_on_random_trees(void **state)
{
    (void)state;
    enum { ITERATIONS = 200000 };
    /* accepted[la57][leaf level 1..3][cpl 3]: every kind the fast path covers is seen. */
    unsigned accepted[2][4][2] = {{{0}}};
    unsigned total_accepted = 0;
    declined_but_general_clean = 0;

    for (unsigned it = 0; it < ITERATIONS; it++) {
        const struct random_case rc = random_case();
        const bool ok = check_fast_against_general(&rc.pg, &rc.mem, &rc.cs, rc.rip, rc.tstart,
                                                   view.ram.next_table);
        if (ok) {
            total_accepted++;
            accepted[rc.la57][rc.leaf_level][rc.pg.cpl == 3]++;
            assert_true(rc.mem.direct);
        }
    }
    view.limit = GUEST_RAM_SIZE;
    view.hole_base = view.hole_size = 0;
    print_message("fetch_insn_fast: accepted %u of %u random fetches; declined %u that "
                  "fetch_insn completed without writes (other modes, page ends, ...)\n",
                  total_accepted, (unsigned)ITERATIONS, declined_but_general_clean);
    assert_true(total_accepted > ITERATIONS / 20);
    for (unsigned d = 0; d < 2; d++)
        for (unsigned l = 1; l <= 3; l++)
            for (unsigned u = 0; u < 2; u++)
                if (accepted[d][l][u] == 0)
                    fail_msg("no accepted fetch with %s paging, leaf level %u, cpl %s",
                             d ? "5-level" : "4-level", l, u ? "3" : "0-2");
}

/* --- the bound cache: fetch_insn_bound --------------------------------------------------- */

/* One bound cache for the whole run, bound again (as its contract asks) whenever the view,
 * MAXPHYADDR or the 1 GiB-page support changed; its fetch and its hit give exactly the fast
 * fetch's answer (`f`, `fast`). */
static struct fetch_cache bound_cache;
static unsigned bound_hits, bound_binds, bound_warm;

static bool same_view(const struct guest_mem *a, const struct guest_mem *b)
{
    return a->read_gpa == b->read_gpa && a->write_gpa == b->write_gpa && a->ctx == b->ctx &&
           a->direct == b->direct && a->direct_va == b->direct_va &&
           a->direct_limit == b->direct_limit && a->hole_base == b->hole_base &&
           a->hole_size == b->hole_size;
}

static void check_bound(const struct random_case *rc, bool f, const uint8_t fast[FETCH_MAX_BYTES])
{
    if (!same_view(&bound_cache.bound_mem, &rc->mem) ||
        bound_cache.bound_maxphyaddr != rc->pg.maxphyaddr ||
        bound_cache.bound_no_1g_pages != rc->pg.no_1g_pages) {
        fetch_cache_bind(&bound_cache, &rc->mem, rc->pg.maxphyaddr, rc->pg.no_1g_pages);
        bound_binds++;
    }
    bound_warm += bound_cache.levels != 0;
    /* The bound calls ignore pg's maxphyaddr and no_1g_pages: give them wrong ones. */
    struct guest_paging pg = rc->pg;
    pg.maxphyaddr = 60;
    pg.no_1g_pages = !pg.no_1g_pages;
    const unsigned writes0 = view.writes;
    uint8_t out[FETCH_MAX_BYTES];
    const struct fetch_cache before = bound_cache;
    const bool h = fetch_insn_bound_hit(&bound_cache, &pg, &rc->cs, rc->rip, out);
    assert_memory_equal(&before, &bound_cache, sizeof before); /* the hit never writes it */
    if (h) {
        bound_hits++;
        if (!f)
            fail_msg("bound hit answered where the fast fetch declines, rip %#llx",
                     (unsigned long long)rc->rip);
        assert_memory_equal(fast, out, FETCH_MAX_BYTES);
    }
    const bool k = fetch_insn_bound(&bound_cache, &pg, &rc->cs, rc->rip, out);
    assert_int_equal(view.writes, writes0);
    if (k != f)
        fail_msg("bound %d, fast %d at rip %#llx", k, f, (unsigned long long)rc->rip);
    if (k)
        assert_memory_equal(fast, out, FETCH_MAX_BYTES);
    /* A hit leaves the cache as it was; a miss refills it (or empties it). */
    if (h)
        assert_memory_equal(&before, &bound_cache, sizeof before);
}

/* A copy of the root table at a fresh page (the same top entries: another process's root
 * sharing the kernel half); returns its address, or 0 when the RAM has no room. */
static uint64_t copy_root(uint64_t cr3)
{
    const uint64_t root = cr3 & 0x000FFFFFFFFFF000ull;
    if (root + 4096 > GUEST_RAM_SIZE || view.ram.next_table + 4096 > GUEST_RAM_SIZE)
        return 0;
    const uint64_t copy = guest_ram_table(&view.ram);
    memcpy(view.ram.bytes + copy, view.ram.bytes + root, 4096);
    return copy;
}

/* Episodes of several fetches on one random tree with the bound cache (kept across episodes,
 * so it also meets stale trees and other views): between fetches, nothing changes, or RIP
 * moves within its page, or one bit of one entry of the walk flips, or a register (CR3 to
 * another table or to a copy of the root), CS, the view or write_gpa changes. */
static void bound_fetch_agrees_with_fast_fetch_across_changes(void **state)
{
    (void)state;
    enum { EPISODES = 28000, STEPS = 8 };
    static const unsigned bits[] = {0, 1, 2, 5, 6, 7, 8, 12, 13, 21, 30, 39, 45, 51, 52, 58, 63};
    unsigned accepted = 0, calls = 0, root_copies = 0;
    bound_hits = bound_binds = bound_warm = 0;
    for (unsigned ep = 0; ep < EPISODES; ep++) {
        struct random_case rc = random_case();
        const bool writable = rc.mem.write_gpa != NULL;
        for (unsigned step = 0; step < STEPS; step++) {
            switch (below(10)) {
            case 0:
            case 1:
            case 2:
                break;
            case 3:
                rc.rip = (rc.rip & ~0xFFFull) | random_page_offset();
                break;
            case 4:
            case 5: {
                const unsigned l =
                    rc.leaf_level + (unsigned)below((rc.la57 ? 6 : 5) - rc.leaf_level);
                const uint64_t at = rc.entry_gpa[l];
                guest_ram_wr64(&view.ram, at,
                               guest_ram_rd64(&view.ram, at) ^ (1ull << bits[below(17)]));
                break;
            }
            case 6:
                switch (below(8)) {
                case 0:
                    rc.pg.cr4 ^= CR4_SMEP;
                    break;
                case 1:
                    rc.pg.cpl = (unsigned)below(4);
                    break;
                case 2:
                    rc.pg.efer ^= chance(50) ? EFER_NXE : chance(50) ? EFER_LMA : EFER_LME;
                    break;
                case 3:
                    rc.pg.cr3 ^= 0x1000; /* another table */
                    break;
                case 4:
                    rc.cs.ar ^= SEG_AR_L;
                    break;
                case 5:
                    rc.pg.no_1g_pages = !rc.pg.no_1g_pages;
                    break;
                case 6: { /* a copy of the root (another process), PCID bits maybe */
                    const uint64_t copy = copy_root(rc.pg.cr3);
                    if (copy) {
                        rc.pg.cr3 = copy | (chance(50) ? below(4096) : 0);
                        root_copies++;
                    }
                    break;
                }
                default:
                    rc.pg.cr0 ^= chance(50) ? CR0_PG : chance(50) ? CR0_PE : CR0_WP;
                    break;
                }
                break;
            case 7:
                switch (below(3)) {
                case 0:
                    view.limit = rc.tstart + below(GUEST_RAM_SIZE - rc.tstart + 1);
                    break;
                case 1: /* the hole moves (onto the leaf entry, or anywhere) */
                    view.hole_base =
                        chance(50) ? below(GUEST_RAM_SIZE) : rc.entry_gpa[rc.leaf_level] - below(8);
                    break;
                default: /* the hole changes size */
                    view.hole_size = below(0x3000);
                    break;
                }
                rc.mem = view_mem(writable);
                break;
            case 8:
                if (chance(50))
                    rc.mem.write_gpa = rc.mem.write_gpa ? NULL : view_write;
                else
                    rc.mem.direct = !rc.mem.direct;
                break;
            default:
                rc.rip ^= 1ull << below(21); /* another offset, maybe another page */
                break;
            }
            uint8_t fast[FETCH_MAX_BYTES];
            const bool f = fetch_insn_fast(&rc.pg, &rc.mem, &rc.cs, rc.rip, fast);
            accepted += f;
            calls++;
            check_bound(&rc, f, fast);
            check_fast_against_general(&rc.pg, &rc.mem, &rc.cs, rc.rip, rc.tstart,
                                       view.ram.next_table);
        }
    }
    view.limit = GUEST_RAM_SIZE;
    view.hole_base = view.hole_size = 0;
    print_message("fetch_insn_bound: %u fetches, %u accepted, %u with a warm cache, %u hits, "
                  "%u bindings, %u root copies\n",
                  calls, accepted, bound_warm, bound_hits, bound_binds, root_copies);
    /* Not vacuous: thousands of accepted fetches, most of them with a warm cache, thousands
     * answered by the hit. */
    assert_true(accepted > calls / 40);
    assert_true(bound_warm > calls / 40);
    assert_true(bound_hits > calls / 80);
    assert_true(root_copies > EPISODES / 20);
}

/* Fresh 4-level tables with one supervisor 4 KiB page at `rip` -> guest-physical 0x9000, every
 * entry present and accessed; returns CR3. */
static uint64_t map_supervisor_code_page(uint64_t rip)
{
    reset_tables(tables_start());
    const uint64_t cr3 = guest_tables_root(&view.ram);
    guest_map(&view.ram, PAGING_4LEVEL, cr3, rip, 0x9000, 4096, E_P | E_RW | E_A);
    for (unsigned l = 2; l <= 4; l++)
        guest_entry_change(&view.ram, PAGING_4LEVEL, cr3, rip, l, E_A, E_US);
    return cr3;
}

/* The cache re-reads what the walk depends on: a changed PTE (another frame) or changed code
 * bytes are seen on the next fetch of the same RIP; the binding's MAXPHYADDR decides whether a
 * view beyond 4 GiB suits the fast path. */
static void bound_fetch_sees_changed_pte_and_code(void **state)
{
    (void)state;
    const enum paging_mode mode = PAGING_4LEVEL;
    const uint64_t rip = 0xFFFFFFFF80001234ull;
    const uint64_t cr3 = map_supervisor_code_page(rip);
    const struct guest_paging pg = paging64(cr3, false);
    const struct guest_mem mem = view_mem(true);
    struct fetch_cache cache;
    fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    uint8_t out[FETCH_MAX_BYTES];
    assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    assert_memory_equal(out, view.ram.bytes + 0x9234, FETCH_MAX_BYTES);
    assert_true(cache.levels == 4);
    /* The same again, then with changed code bytes. */
    assert_true(fetch_insn_bound_hit(&cache, &pg, &cs64, rip, out));
    assert_memory_equal(out, view.ram.bytes + 0x9234, FETCH_MAX_BYTES);
    view.ram.bytes[0x9234 + 14] ^= 0xFF;
    assert_true(fetch_insn_bound_hit(&cache, &pg, &cs64, rip, out));
    assert_memory_equal(out, view.ram.bytes + 0x9234, FETCH_MAX_BYTES);
    /* The PTE now maps another frame: the hit declines, the fetch walks again. */
    guest_entry_change(&view.ram, mode, cr3, rip, 1, 0xB000, 0x9000);
    assert_false(fetch_insn_bound_hit(&cache, &pg, &cs64, rip, out));
    assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    assert_memory_equal(out, view.ram.bytes + 0xB234, FETCH_MAX_BYTES);
    /* A view beyond 2^32 suits MAXPHYADDR 39, not 32 (the binding's, not pg's). */
    view.limit = 1ull << 33;
    const struct guest_mem big = view_mem(true);
    fetch_cache_bind(&cache, &big, 39, false);
    assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    fetch_cache_bind(&cache, &big, 32, false);
    assert_false(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    view.limit = GUEST_RAM_SIZE;
    /* The PDE loses A: fetch_insn would set it, so no fast answer. */
    fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    guest_entry_change(&view.ram, mode, cr3, rip, 2, 0, E_A);
    assert_false(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    assert_int_equal(cache.levels, 0);
}

/* Every walk shape: 4-level and 5-level; 4 KiB, 2 MiB and 1 GiB leaves. */
static const struct {
    bool la57;
    uint64_t page_size;
    uint64_t rip, gpa;
} walk_shapes[] = {
    {false, 4096, 0xFFFFFFFF80001234ull, 0x9000},
    {false, 1ull << 21, 0xFFFFFFFF80200ABCull, 0x400000},
    {false, 1ull << 30, 0x0000004000123456ull, 0},
    {true, 4096, 0xFF00000000001234ull, 0x9000},
    {true, 1ull << 21, 0x0001000000200FF0ull, 0x600000},
    {true, 1ull << 30, 0x0000000040ABCDEFull, 0},
};
#define WALK_SHAPES (sizeof walk_shapes / sizeof walk_shapes[0])

static enum paging_mode walk_shape_mode(unsigned i)
{
    return walk_shapes[i].la57 ? PAGING_5LEVEL : PAGING_4LEVEL;
}

/* The level of the leaf entry (1: PTE, 2: PDE, 3: PDPTE). */
static unsigned walk_shape_leaf(unsigned i)
{
    return walk_shapes[i].page_size == 4096 ? 1 : walk_shapes[i].page_size == (1ull << 21) ? 2 : 3;
}

/* The level of the top entry (5: PML5E, 4: PML4E). */
static unsigned walk_shape_top(unsigned i)
{
    return walk_shapes[i].la57 ? 5 : 4;
}

/* Fresh tables for walk_shapes[i], every entry present and accessed, supervisor; returns CR3. */
static uint64_t map_walk_shape(unsigned i)
{
    const enum paging_mode mode = walk_shape_mode(i);
    const unsigned top = walk_shape_top(i);
    const unsigned leaf = walk_shape_leaf(i);
    reset_tables(tables_start());
    const uint64_t cr3 = guest_tables_root(&view.ram);
    guest_map(&view.ram, mode, cr3, walk_shapes[i].rip, walk_shapes[i].gpa,
              walk_shapes[i].page_size, E_P | E_RW | E_A);
    for (unsigned l = leaf + 1; l <= top; l++)
        guest_entry_change(&view.ram, mode, cr3, walk_shapes[i].rip, l, E_A, E_US);
    return cr3;
}

/* The inline hit on every walk shape (4-level and 5-level; 4 KiB, 2 MiB and 1 GiB leaves):
 * after one fill it answers for any offset of the page with the bytes there, and a change to
 * any one entry the walk read (the top one, held on its own, and those below, repeated in the
 * first slots or not) makes it decline, while fetch_insn_bound still gives the fast fetch's
 * answer. */
static void bound_hit_answers_each_walk_shape_and_declines_on_each_entry_change(void **state)
{
    (void)state;
    for (unsigned i = 0; i < WALK_SHAPES; i++) {
        const enum paging_mode mode = walk_shape_mode(i);
        const unsigned top = walk_shape_top(i);
        const unsigned leaf = walk_shape_leaf(i);
        const uint64_t rip = walk_shapes[i].rip;
        const uint64_t cr3 = map_walk_shape(i);
        const struct guest_paging pg = paging64(cr3, walk_shapes[i].la57);
        const struct guest_mem mem = view_mem(true);
        struct fetch_cache cache;
        fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
        uint8_t out[FETCH_MAX_BYTES], fast[FETCH_MAX_BYTES];
        assert_false(fetch_insn_bound_hit(&cache, &pg, &cs64, rip, out)); /* empty */
        assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
        assert_int_equal(cache.levels, top + 1 - leaf);
        assert_int_equal(cache.four_below, top + 1 - leaf == 5);
        /* Another offset in the same page: a hit, with the bytes there. */
        const uint64_t rip2 = (rip & ~0xFFFull) | 0x0F0;
        assert_true(fetch_insn_bound_hit(&cache, &pg, &cs64, rip2, out));
        const uint64_t gpa2 = walk_shapes[i].gpa + (rip2 & (walk_shapes[i].page_size - 1));
        assert_memory_equal(out, view.ram.bytes + gpa2, FETCH_MAX_BYTES);
        /* The next page or a page end: no hit. */
        assert_false(fetch_insn_bound_hit(&cache, &pg, &cs64, rip2 + 0x1000, out));
        assert_false(fetch_insn_bound_hit(&cache, &pg, &cs64, rip2 | 0xFF2, out));
        for (unsigned l = leaf; l <= top; l++) {
            /* An ignored bit (11) changes the entry, not the translation: the hit declines
             * (the entry is not the remembered one), the bound fetch walks again. */
            guest_entry_change(&view.ram, mode, cr3, rip, l, 1ull << 11, 0);
            if (fetch_insn_bound_hit(&cache, &pg, &cs64, rip2, out))
                fail_msg("shape %u: hit despite a changed level-%u entry", i, l);
            assert_true(fetch_insn_fast(&pg, &mem, &cs64, rip2, fast));
            assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip2, out));
            assert_memory_equal(out, fast, FETCH_MAX_BYTES);
            /* Not present: neither answers. */
            guest_entry_change(&view.ram, mode, cr3, rip, l, 0, E_P);
            assert_false(fetch_insn_bound_hit(&cache, &pg, &cs64, rip2, out));
            assert_false(fetch_insn_bound(&cache, &pg, &cs64, rip2, out));
            assert_int_equal(cache.levels, 0);
            guest_entry_change(&view.ram, mode, cr3, rip, l, E_P, 1ull << 11);
            assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip2, out));
            assert_true(fetch_insn_bound_hit(&cache, &pg, &cs64, rip2, out));
        }
    }
}

/* The cache answers only through a binding: never bound (no view), nothing; bound, a miss then
 * the walk, remembered; bound again to another view, empty, and the walk declines there. */
static void bound_cache_answers_only_through_its_binding(void **state)
{
    (void)state;
    const uint64_t rip = 0xFFFFFFFF80001234ull;
    const uint64_t cr3 = map_supervisor_code_page(rip);
    const struct guest_paging pg = paging64(cr3, false);
    const struct guest_mem mem = view_mem(true);
    struct fetch_cache cache;
    memset(&cache, 0, sizeof cache);
    uint8_t out[FETCH_MAX_BYTES];
    assert_false(fetch_insn_bound(&cache, &pg, &cs64, rip, out)); /* never bound: no view */
    fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    assert_false(fetch_insn_bound_hit(&cache, &pg, &cs64, rip, out));
    assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    assert_memory_equal(out, view.ram.bytes + 0x9234, FETCH_MAX_BYTES);
    assert_true(fetch_insn_bound_hit(&cache, &pg, &cs64, rip, out));
    /* Bound again to a view without the code page: empty, and the walk declines. */
    struct guest_mem small = mem;
    small.direct_limit = 0x9000;
    fetch_cache_bind(&cache, &small, pg.maxphyaddr, pg.no_1g_pages);
    assert_false(fetch_insn_bound_hit(&cache, &pg, &cs64, rip, out));
    assert_false(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    /* Back to the full view: remembered again. */
    fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    assert_true(fetch_insn_bound_hit(&cache, &pg, &cs64, rip, out));
}

/* A zeroed cache never answers, not even for all-zero inputs or another CR3 (its remembered
 * entries would be read at guest-physical 0); neither does a bound cache that was never
 * filled or was emptied. */
static void bound_hit_never_answers_from_an_empty_cache(void **state)
{
    (void)state;
    struct fetch_cache cache;
    memset(&cache, 0, sizeof cache);
    const struct guest_paging pg = {0};
    const struct fetch_cs cs = {0};
    uint8_t out[FETCH_MAX_BYTES];
    for (uint64_t rip = 0; rip < 4096; rip += 15) {
        assert_false(fetch_insn_bound_hit(&cache, &pg, &cs, rip, out));
        assert_null(fetch_bound_code(&cache, 0, 0, 0, 0, 0, rip));
        assert_null(fetch_bound_code(&cache, 0x1000, 0, 0, 0, 0, rip));
    }
    const struct guest_mem mem = view_mem(true);
    fetch_cache_bind(&cache, &mem, 39, false);
    for (uint64_t rip = 0; rip < 4096; rip += 15) {
        assert_false(fetch_insn_bound_hit(&cache, &pg, &cs, rip, out));
        assert_null(fetch_bound_code(&cache, 0x1000, 0, 0, 0, 0, rip));
    }
    fetch_cache_reset(&cache);
    assert_false(fetch_insn_bound_hit(&cache, &pg, &cs, 0, out));
}

/* --- fetch_bound_code -------------------------------------------------------------------- */

/* The entries a successful IA-32e fetch walk read, found here independently of the cache:
 * from CR3 down to the leaf (PS in a PDPTE or PDE), one entry per level (SDM Vol. 3A, 4.5,
 * Tables 4-14..4-20). Only called after a fetch succeeded, so every entry lies in the RAM. */
struct walk_path {
    unsigned n;
    uint64_t ea[5], entry[5];
    uint64_t frame; /* guest-physical 4 KiB frame of RIP's page */
    bool all_accessed;
};

#define PATH_ADDR 0x000FFFFFFFFFF000ull /* bits 51:12 */

static void walk_path_of(uint64_t cr3, bool la57, uint64_t rip, struct walk_path *p)
{
    uint64_t table = cr3 & PATH_ADDR;
    p->n = 0;
    p->all_accessed = true;
    for (unsigned l = la57 ? 5 : 4;; l--) {
        const unsigned shift = 12 + 9 * (l - 1);
        const uint64_t ea = table + ((rip >> shift) & 511) * 8;
        assert_true(ea + 8 <= GUEST_RAM_SIZE);
        const uint64_t e = guest_ram_rd64(&view.ram, ea);
        p->ea[p->n] = ea;
        p->entry[p->n++] = e;
        p->all_accessed &= (e & E_A) != 0;
        if (l == 1 || ((l == 2 || l == 3) && (e & E_PS))) {
            const uint64_t size = 1ull << shift;
            p->frame = ((e & PATH_ADDR & ~(size - 1)) | (rip & (size - 1))) & ~0xFFFull;
            return;
        }
        table = e & PATH_ADDR;
    }
}

/* Where the walk reads the top entry under `cr3`: the root page (CR3 bits 51:12; bits 11:0 are
 * the PCID or PWT/PCD, SDM Vol. 3A, 4.5.2) at the remembered top entry's offset (RIP's top
 * index). */
static uint64_t path_top_ea(const struct walk_path *p, uint64_t cr3)
{
    return (cr3 & PATH_ADDR) | (p->ea[0] & 0xFFF);
}

/* An 8-byte load at `ea` through the view: below the limit (and in the RAM), clear of the
 * hole. With `margin`, a zero-sized hole counts as one byte: the fast path may decline next to
 * one (walk.h), so there a hit is allowed, not required. */
static bool load_in_view(const struct guest_mem *mem, uint64_t ea, bool margin)
{
    if (ea + 8 > mem->direct_limit || ea + 8 > GUEST_RAM_SIZE)
        return false;
    const uint64_t hole = mem->hole_size ? mem->hole_size : margin ? 1 : 0;
    return !(hole && ea < mem->hole_base + hole && mem->hole_base < ea + 8);
}

/* The remembered walk holds under `cr3`: the top entry the walk reads under it -- inside the
 * view, with CR3 bit 63 clear (the fast walk takes it as an address bit, which no view
 * reaches) -- is the remembered one, and so is every entry below it, at its place. */
static bool path_holds_under(const struct walk_path *p, const struct guest_mem *mem, uint64_t cr3,
                             bool margin)
{
    const uint64_t top = path_top_ea(p, cr3);
    if ((cr3 >> 63) || !load_in_view(mem, top, margin) ||
        guest_ram_rd64(&view.ram, top) != p->entry[0])
        return false;
    for (unsigned i = 1; i < p->n; i++)
        if (guest_ram_rd64(&view.ram, p->ea[i]) != p->entry[i])
            return false;
    return true;
}

/* [gpa, gpa + len) meets an entry the walk reads under `cr3` (or the remembered top one). */
static bool path_has(const struct walk_path *p, uint64_t cr3, uint64_t gpa, uint64_t len)
{
    const uint64_t top = path_top_ea(p, cr3);
    if (gpa < top + 8 && top < gpa + len)
        return true;
    for (unsigned i = 0; i < p->n; i++)
        if (gpa < p->ea[i] + 8 && p->ea[i] < gpa + len)
            return true;
    return false;
}

/* The whole 4 KiB frame inside the view (limit and hole): what lets the cache answer for any
 * offset of the page without a view test (decode/fetch.c remembers only such walks). A
 * zero-sized hole counts as a page: the fast path may decline more than the view needs
 * (walk.h), so near one a hit is allowed, not required. */
static bool frame_in_view(const struct guest_mem *mem, uint64_t frame)
{
    if (frame + 4096 > mem->direct_limit)
        return false;
    const uint64_t hole = mem->hole_size ? mem->hole_size : 4096;
    return !(frame < mem->hole_base + hole && mem->hole_base < frame + 4096);
}

/* The pg a bound cache's calls stand for: the binding's MAXPHYADDR and 1 GiB-page support. */
static struct guest_paging bound_pg(const struct fetch_cache *cache, const struct guest_paging *pg)
{
    struct guest_paging b = *pg;
    b.maxphyaddr = cache->bound_maxphyaddr;
    b.no_1g_pages = cache->bound_no_1g_pages;
    return b;
}

/* A non-NULL answer: the code bytes at the remembered frame, the very bytes fetch_insn_fast
 * and fetch_insn give now (same pg, CS, RIP and view). */
static void check_bound_code_bytes(const uint8_t *code, const struct fetch_cache *cache,
                                   const struct guest_paging *pg, const struct fetch_cs *cs,
                                   uint64_t rip, uint64_t frame)
{
    assert_ptr_equal(code, view.ram.bytes + frame + (rip & 0xFFF));
    const struct guest_paging b = bound_pg(cache, pg);
    uint8_t fast[FETCH_MAX_BYTES];
    if (!fetch_insn_fast(&b, &cache->bound_mem, cs, rip, fast))
        fail_msg("fetch_bound_code answered at rip %#llx where fetch_insn_fast declines",
                 (unsigned long long)rip);
    assert_memory_equal(code, fast, FETCH_MAX_BYTES);
    struct guest_mem no_writes = cache->bound_mem;
    no_writes.write_gpa = NULL;
    struct fetch_result general;
    assert_int_equal(fetch_insn(&b, &no_writes, cs, rip, &general), FETCH_OK);
    assert_memory_equal(code, general.bytes, FETCH_MAX_BYTES);
}

/* After fetch_insn_bound answers, with nothing changed, fetch_bound_code points at the very
 * bytes it gave (and fetch_insn_fast gives), at every walk shape and at other offsets of the
 * page; an emptied or never-filled cache gives NULL. */
static void bound_code_points_at_the_bytes_fetch_insn_bound_gave(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof walk_shapes / sizeof walk_shapes[0]; i++) {
        const uint64_t rip = walk_shapes[i].rip;
        const struct guest_paging pg = paging64(map_walk_shape(i), walk_shapes[i].la57);
        const struct guest_mem mem = view_mem(true);
        struct fetch_cache cache;
        memset(&cache, 0xA5, sizeof cache); /* bind must not depend on the old contents */
        fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
        assert_null(fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip));
        uint8_t out[FETCH_MAX_BYTES], fast[FETCH_MAX_BYTES];
        assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
        assert_true(fetch_insn_fast(&pg, &mem, &cs64, rip, fast));
        assert_memory_equal(out, fast, FETCH_MAX_BYTES);
        const uint8_t *code =
            fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip);
        if (!code)
            fail_msg("shape %u: no code pointer right after fetch_insn_bound", i);
        assert_memory_equal(code, out, FETCH_MAX_BYTES);
        const uint64_t gpa = walk_shapes[i].gpa + (rip & (walk_shapes[i].page_size - 1));
        assert_ptr_equal(code, view.ram.bytes + gpa);
        /* Any offset of the remembered page with all 15 bytes in it. */
        for (uint64_t off = 0; off <= 4096 - FETCH_MAX_BYTES; off += 0x3F7) {
            const uint64_t rip2 = (rip & ~0xFFFull) | off;
            code = fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip2);
            assert_non_null(code);
            assert_true(fetch_insn_fast(&pg, &mem, &cs64, rip2, fast));
            assert_memory_equal(code, fast, FETCH_MAX_BYTES);
        }
        /* Changed code bytes are read at the pointer, not remembered. */
        view.ram.bytes[gpa + 3] ^= 0x5A;
        code = fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip);
        assert_non_null(code);
        assert_true(fetch_insn_fast(&pg, &mem, &cs64, rip, fast));
        assert_memory_equal(code, fast, FETCH_MAX_BYTES);
        /* Emptied: nothing answers. */
        fetch_cache_reset(&cache);
        assert_null(fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip));
    }
}

/* fetch_bound_code_executed: for a RIP the CPU has just fetched, the same answer as
 * fetch_bound_code at the remembered CPL, whatever the CPL now (the mapping does not depend on
 * it); every other part of the key still counts. */
static void bound_code_executed_ignores_only_the_cpl(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof walk_shapes / sizeof walk_shapes[0]; i++) {
        const uint64_t rip = walk_shapes[i].rip;
        const struct guest_paging pg = paging64(map_walk_shape(i), walk_shapes[i].la57);
        const struct guest_mem mem = view_mem(true);
        struct fetch_cache cache;
        fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
        assert_null(fetch_bound_code_executed(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, rip));
        uint8_t out[FETCH_MAX_BYTES];
        assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
        const uint8_t *code =
            fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip);
        assert_non_null(code);
        assert_ptr_equal(fetch_bound_code_executed(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, rip),
                         code);
        for (unsigned cpl = 0; cpl < 4; cpl++)
            if (cpl != pg.cpl)
                assert_null(fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, cpl, rip));
        assert_null(
            fetch_bound_code_executed(&cache, pg.cr3 ^ 0x1000, pg.cr4, pg.efer, cs64.ar, rip));
        assert_null(
            fetch_bound_code_executed(&cache, pg.cr3, pg.cr4 ^ CR4_LA57, pg.efer, cs64.ar, rip));
        assert_null(
            fetch_bound_code_executed(&cache, pg.cr3, pg.cr4, pg.efer ^ EFER_NXE, cs64.ar, rip));
        assert_null(
            fetch_bound_code_executed(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar ^ SEG_AR_L, rip));
        fetch_cache_reset(&cache);
        assert_null(fetch_bound_code_executed(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, rip));
    }
}

/* fetch_bound_code_ia32e_executed (the MMIO sites' hit, for a caller that forgets the cache at
 * every change of CR0.PG): in IA-32e mode only CS.ar and the entries count. Under every CR4 and
 * EFER an IA-32e guest can switch to without leaving IA-32e mode (NXE, PSE, PGE, PCIDE, SMEP,
 * SMAP, PKE, together or alone) it answers with the remembered frame, and wherever a fresh walk
 * under that CR4 and EFER fetches at all (SMEP or NXE may refuse it), it fetches those very
 * bytes. A changed CS.ar, a root with another top entry, a changed entry below and an emptied
 * cache still miss. */
static void bound_code_ia32e_executed_ignores_cr4_and_efer_but_not_cs_or_entries(void **state)
{
    (void)state;
    static const uint64_t cr4_bits[] = {
        CR4_PSE,  1ull << 7 /* PGE */, 1ull << 17 /* PCIDE */, CR4_SMEP,
        CR4_SMAP, 1ull << 22 /* PKE */};
    const unsigned ncr4 = sizeof cr4_bits / sizeof cr4_bits[0];
    unsigned fresh_fetched = 0;
    for (unsigned i = 0; i < sizeof walk_shapes / sizeof walk_shapes[0]; i++) {
        const uint64_t rip = walk_shapes[i].rip;
        const struct guest_paging pg = paging64(map_walk_shape(i), walk_shapes[i].la57);
        const struct guest_mem mem = view_mem(true);
        struct fetch_cache cache;
        fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
        assert_null(fetch_bound_code_ia32e_executed(&cache, pg.cr3, cs64.ar, rip));
        uint8_t out[FETCH_MAX_BYTES];
        assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
        const uint8_t *code =
            fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip);
        assert_non_null(code);
        /* Every combination of the CR4 bits, with NXE set and clear. */
        for (unsigned combo = 0; combo < (2u << ncr4); combo++) {
            struct guest_paging now = pg;
            for (unsigned b = 0; b < ncr4; b++)
                if (combo & (1u << b))
                    now.cr4 ^= cr4_bits[b];
            if (combo & (1u << ncr4))
                now.efer ^= EFER_NXE;
            assert_ptr_equal(fetch_bound_code_ia32e_executed(&cache, now.cr3, cs64.ar, rip), code);
            uint8_t fresh[FETCH_MAX_BYTES];
            if (fetch_insn_fast(&now, &mem, &cs64, rip, fresh)) {
                assert_memory_equal(code, fresh, FETCH_MAX_BYTES);
                fresh_fetched++;
            }
        }
        assert_null(fetch_bound_code_ia32e_executed(&cache, pg.cr3, cs64.ar ^ SEG_AR_L, rip));
        assert_null(fetch_bound_code_ia32e_executed(&cache, pg.cr3, cs64.ar ^ 0x60, rip));
        /* An entry below the top changes (the leaf's frame moves by a page): a miss, under the
         * walk's root and under a root that copies its top entry. */
        const uint64_t root_copy = copy_root(pg.cr3);
        assert_true(root_copy != 0);
        assert_ptr_equal(fetch_bound_code_ia32e_executed(&cache, root_copy, cs64.ar, rip), code);
        const uint64_t leaf_ea = cache.ea[3], leaf = cache.entry[3];
        memcpy(view.ram.bytes + leaf_ea, &(uint64_t){leaf ^ 0x1000}, 8);
        assert_null(fetch_bound_code_ia32e_executed(&cache, pg.cr3, cs64.ar, rip));
        assert_null(fetch_bound_code_ia32e_executed(&cache, root_copy, cs64.ar, rip));
        memcpy(view.ram.bytes + leaf_ea, &leaf, 8);
        assert_ptr_equal(fetch_bound_code_ia32e_executed(&cache, pg.cr3, cs64.ar, rip), code);
        /* A root whose top entry differs. */
        memcpy(view.ram.bytes + (root_copy & ~0xFFFull) + (cache.top_ea & 0xFFF),
               &(uint64_t){cache.top_entry ^ 0x1000}, 8);
        assert_null(fetch_bound_code_ia32e_executed(&cache, root_copy, cs64.ar, rip));
        fetch_cache_reset(&cache);
        assert_null(fetch_bound_code_ia32e_executed(&cache, pg.cr3, cs64.ar, rip));
    }
    /* The fresh walks did run (SMEP and NXE do not refuse every combination). */
    assert_true(fresh_fetched > 0);
}

/* Only walks whose entries all had A are remembered (the answer must not depend on whether A
 * would be set): with no write_gpa, fetch_insn_bound answers for a walk through an entry
 * without A, but gives fetch_bound_code nothing to point at. And after a fill fails, NULL. */
static void bound_code_is_null_for_a_walk_not_remembered(void **state)
{
    (void)state;
    const uint64_t rip = 0xFFFFFFFF80001234ull;
    const uint64_t cr3 = map_supervisor_code_page(rip);
    guest_entry_change(&view.ram, PAGING_4LEVEL, cr3, rip, 2, 0, E_A);
    const struct guest_paging pg = paging64(cr3, false);
    const struct guest_mem mem = view_mem(false);
    struct fetch_cache cache;
    fetch_cache_bind(&cache, &mem, pg.maxphyaddr, pg.no_1g_pages);
    uint8_t out[FETCH_MAX_BYTES];
    assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    assert_memory_equal(out, view.ram.bytes + 0x9234, FETCH_MAX_BYTES);
    assert_null(fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip));
    /* With A back it is remembered; then a fill that fails (PDE not present) empties it. */
    guest_entry_change(&view.ram, PAGING_4LEVEL, cr3, rip, 2, E_A, 0);
    assert_true(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    assert_non_null(fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip));
    guest_entry_change(&view.ram, PAGING_4LEVEL, cr3, rip, 2, 0, E_P);
    assert_null(fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip));
    assert_false(fetch_insn_bound(&cache, &pg, &cs64, rip, out));
    guest_entry_change(&view.ram, PAGING_4LEVEL, cr3, rip, 2, E_P, 0);
    assert_null(fetch_bound_code(&cache, pg.cr3, pg.cr4, pg.efer, cs64.ar, pg.cpl, rip));
}

/* --- the bound cache across page-table roots ------------------------------------------------ */

/* A filled bound cache for walk_shapes[i] under fresh tables: its pg, the frame of RIP's page
 * and the top entry's place and value. */
struct shape_fill {
    struct guest_paging pg;
    uint64_t frame, top_ea, top;
};

static void fill_shape(unsigned i, struct fetch_cache *cache, const struct guest_mem *mem,
                       struct shape_fill *sf)
{
    const uint64_t rip = walk_shapes[i].rip;
    const uint64_t cr3 = map_walk_shape(i);
    sf->pg = paging64(cr3, walk_shapes[i].la57);
    sf->frame = (walk_shapes[i].gpa + (rip & (walk_shapes[i].page_size - 1))) & ~0xFFFull;
    sf->top_ea = guest_entry_gpa(&view.ram, walk_shape_mode(i), cr3, rip, walk_shape_top(i));
    sf->top = guest_ram_rd64(&view.ram, sf->top_ea);
    fetch_cache_bind(cache, mem, sf->pg.maxphyaddr, sf->pg.no_1g_pages);
    uint8_t out[FETCH_MAX_BYTES];
    assert_true(fetch_insn_bound(cache, &sf->pg, &cs64, rip, out));
    assert_non_null(
        fetch_bound_code(cache, cr3, sf->pg.cr4, sf->pg.efer, cs64.ar, sf->pg.cpl, rip));
}

/* fetch_bound_code under `cr3` (the rest of sf's key): the answer, checked against a fresh walk
 * under that root when there is one. */
static const uint8_t *bound_code_under(const struct fetch_cache *cache, const struct shape_fill *sf,
                                       uint64_t cr3, uint64_t rip)
{
    struct guest_paging other = sf->pg;
    other.cr3 = cr3;
    const uint8_t *code =
        fetch_bound_code(cache, cr3, other.cr4, other.efer, cs64.ar, other.cpl, rip);
    if (code) {
        check_bound_code_bytes(code, cache, &other, &cs64, rip, sf->frame);
        uint8_t out[FETCH_MAX_BYTES];
        assert_true(fetch_insn_bound_hit(cache, &other, &cs64, rip, out));
        assert_memory_equal(out, code, FETCH_MAX_BYTES);
        assert_ptr_equal(fetch_bound_code_executed(cache, cr3, other.cr4, other.efer, cs64.ar, rip),
                         code);
    }
    return code;
}

/* The remembered walk answers under another root whose top entry for RIP (PML4E, or PML5E with
 * LA57) is the same: a copy of the root page at another address (another process's root that
 * shares the kernel half), with PCID bits or PWT/PCD or none, a root page holding that one entry
 * and nothing else, and the remembered root with PCID bits; every walk shape. Each answer is what
 * a fresh walk under that root gives (fetch_insn_fast, fetch_insn), at the remembered frame; the
 * cache is not refilled in between (the remembered root still answers). */
static void bound_code_hits_under_another_root_with_the_same_top_entry(void **state)
{
    (void)state;
    for (unsigned i = 0; i < WALK_SHAPES; i++) {
        const uint64_t rip = walk_shapes[i].rip;
        const struct guest_mem mem = view_mem(true);
        struct fetch_cache cache;
        struct shape_fill sf;
        fill_shape(i, &cache, &mem, &sf);
        const uint64_t copy = copy_root(sf.pg.cr3);
        const uint64_t lone = guest_ram_table(&view.ram);
        guest_ram_wr64(&view.ram, lone + (sf.top_ea & 0xFFF), sf.top);
        const uint64_t roots[] = {copy, copy | 0x001, copy | 0xFFF,      copy | 0x018,
                                  lone, lone | 0x5A5, sf.pg.cr3 | 0x123, sf.pg.cr3 | 0x018};
        for (unsigned r = 0; r < sizeof roots / sizeof roots[0]; r++) {
            if (!bound_code_under(&cache, &sf, roots[r], rip))
                fail_msg("shape %u: no hit under root %#llx with the same top entry", i,
                         (unsigned long long)roots[r]);
            const uint64_t rip2 = (rip & ~0xFFFull) | 0xFF1; /* the last 15 bytes of the page */
            assert_non_null(bound_code_under(&cache, &sf, roots[r], rip2));
        }
        assert_int_equal(cache.cr3, sf.pg.cr3); /* never refilled */
        assert_non_null(bound_code_under(&cache, &sf, sf.pg.cr3, rip));
        /* The remembered root's own top entry changes (that process's mapping goes away): the
         * copy still hits -- no check reads the old root under another CR3 -- and the
         * remembered root misses. */
        guest_ram_wr64(&view.ram, sf.top_ea, sf.top & ~E_P);
        for (unsigned r = 0; r < sizeof roots / sizeof roots[0]; r++)
            if (roots[r] >> 12 != sf.pg.cr3 >> 12 && !bound_code_under(&cache, &sf, roots[r], rip))
                fail_msg("shape %u: root %#llx read the remembered root's entry", i,
                         (unsigned long long)roots[r]);
        assert_null(bound_code_under(&cache, &sf, sf.pg.cr3, rip));
        guest_ram_wr64(&view.ram, sf.top_ea, sf.top);
    }
}

/* Under a root whose top entry for RIP differs from the remembered one in any way, no hit: it
 * points at another next-level table (even a copy with the same contents, under which a walk
 * gives the same bytes), an ignored bit or RW or U/S or XD differs, A is clear, P is clear.
 * With the entry put back, the same root hits. */
static void bound_code_misses_under_a_root_whose_top_entry_differs(void **state)
{
    (void)state;
    for (unsigned i = 0; i < WALK_SHAPES; i++) {
        const uint64_t rip = walk_shapes[i].rip;
        const struct guest_mem mem = view_mem(true);
        struct fetch_cache cache;
        struct shape_fill sf;
        fill_shape(i, &cache, &mem, &sf);
        const uint64_t copy = copy_root(sf.pg.cr3);
        const uint64_t slot = copy + (sf.top_ea & 0xFFF);
        /* A copy of the next-level table the top entry points at. */
        const uint64_t next = guest_ram_table(&view.ram);
        memcpy(view.ram.bytes + next, view.ram.bytes + (sf.top & PATH_ADDR), 4096);
        const uint64_t variants[] = {
            (sf.top & ~PATH_ADDR) | next,
            sf.top ^ (1ull << 11),
            sf.top ^ E_RW,
            sf.top ^ E_US,
            sf.top ^ E_XD,
            sf.top & ~E_A,
            sf.top & ~E_P,
        };
        for (unsigned v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            guest_ram_wr64(&view.ram, slot, variants[v]);
            if (bound_code_under(&cache, &sf, copy, rip))
                fail_msg("shape %u: hit under a root whose top entry is %#llx, not %#llx", i,
                         (unsigned long long)variants[v], (unsigned long long)sf.top);
            assert_null(bound_code_under(&cache, &sf, copy | 0x001, rip));
        }
        /* The same bytes through the copied next-level table: a walk answers, the cache does
         * not (the entry is not the remembered one), and a fill under that root remembers it. */
        guest_ram_wr64(&view.ram, slot, variants[0]);
        struct guest_paging other = sf.pg;
        other.cr3 = copy;
        uint8_t fast[FETCH_MAX_BYTES], out[FETCH_MAX_BYTES];
        assert_true(fetch_insn_fast(&other, &mem, &cs64, rip, fast));
        assert_false(fetch_insn_bound_hit(&cache, &other, &cs64, rip, out));
        assert_true(fetch_insn_bound(&cache, &other, &cs64, rip, out));
        assert_memory_equal(out, fast, FETCH_MAX_BYTES);
        assert_non_null(bound_code_under(&cache, &sf, copy, rip));
        /* Now the original root is the one that differs. */
        assert_null(bound_code_under(&cache, &sf, sf.pg.cr3, rip));
        guest_ram_wr64(&view.ram, slot, sf.top);
        assert_null(bound_code_under(&cache, &sf, copy, rip));
        assert_true(fetch_insn_bound(&cache, &other, &cs64, rip, out));
        assert_non_null(bound_code_under(&cache, &sf, sf.pg.cr3, rip));
    }
}

/* A root whose top entry would lie in the hole (the hypervisor's memory) or at or above the
 * view's limit is never read: the remembered top entry's very value is written there (in the
 * host buffer, which goes on past the limit), so a read would compare equal and hit -- each
 * NULL shows the address was refused before any read. Roots just clear of the hole or just
 * below the limit, with the same value, hit (the bound is exact). CR3 bit 63, and a bit above
 * MAXPHYADDR, miss too (the walk declines them as well). 4-level and 5-level. */
static void bound_code_never_reads_a_root_in_the_hole_or_beyond_the_limit(void **state)
{
    (void)state;
    static const unsigned shapes[] = {0, 3}; /* 4 KiB pages at 0x9000, 4-level and 5-level */
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const unsigned i = shapes[s];
        const uint64_t rip = walk_shapes[i].rip;
        /* The top entry's offset in a root page, from a first mapping (the same next time). */
        map_walk_shape(i);
        const uint64_t off =
            guest_entry_gpa(&view.ram, walk_shape_mode(i), tables_start(), rip, walk_shape_top(i)) &
            0xFFF;
        /* The hole begins 4 bytes into the slot of root 0x400000 and ends 4 bytes into the slot
         * of root 0x410000; the limit lies 4 bytes into the slot of root 0x800000. */
        const uint64_t hole_base = 0x400000 + off + 4, hole_size = 0x10000;
        view.hole_base = hole_base;
        view.hole_size = hole_size;
        view.limit = 0x800000 + off + 4;
        const struct guest_mem mem = view_mem(true);
        struct fetch_cache cache;
        struct shape_fill sf;
        fill_shape(i, &cache, &mem, &sf);
        assert_int_equal(sf.top_ea & 0xFFF, off);
        static const uint64_t outside[] = {0x400000, 0x401000, 0x408000, 0x410000,
                                           0x800000, 0x801000, 0xF00000, 0xFFF000};
        static const uint64_t inside[] = {0x3FF000, 0x411000, 0x7FF000};
        for (unsigned r = 0; r < sizeof outside / sizeof outside[0]; r++) {
            guest_ram_wr64(&view.ram, outside[r] + off, sf.top);
            if (bound_code_under(&cache, &sf, outside[r], rip))
                fail_msg("shape %u: root %#llx read outside the view", i,
                         (unsigned long long)outside[r]);
            assert_null(bound_code_under(&cache, &sf, outside[r] | 0x7, rip));
            struct guest_paging other = sf.pg;
            other.cr3 = outside[r];
            uint8_t fast[FETCH_MAX_BYTES];
            assert_false(fetch_insn_fast(&other, &mem, &cs64, rip, fast));
        }
        for (unsigned r = 0; r < sizeof inside / sizeof inside[0]; r++) {
            guest_ram_wr64(&view.ram, inside[r] + off, sf.top);
            if (!bound_code_under(&cache, &sf, inside[r], rip))
                fail_msg("shape %u: no hit under root %#llx, inside the view", i,
                         (unsigned long long)inside[r]);
        }
        assert_null(bound_code_under(&cache, &sf, sf.pg.cr3 | (1ull << 63), rip));
        assert_null(bound_code_under(&cache, &sf, sf.pg.cr3 | (1ull << 40), rip)); /* M = 39 */
        assert_non_null(bound_code_under(&cache, &sf, sf.pg.cr3, rip));
        view.limit = GUEST_RAM_SIZE;
        view.hole_base = view.hole_size = 0;
    }
}

/* RIP's page reached from two roots through the same top entry: a change to any entry below the
 * top (shared by both) makes both miss; a fill under either then answers for both; the entry
 * put back, both miss again. */
static void bound_code_misses_under_every_root_when_an_entry_below_the_top_changes(void **state)
{
    (void)state;
    for (unsigned i = 0; i < WALK_SHAPES; i++) {
        const uint64_t rip = walk_shapes[i].rip;
        const struct guest_mem mem = view_mem(true);
        struct fetch_cache cache;
        struct shape_fill sf;
        fill_shape(i, &cache, &mem, &sf);
        const uint64_t copy = copy_root(sf.pg.cr3) | 0x042;
        struct guest_paging other = sf.pg;
        other.cr3 = copy;
        assert_non_null(bound_code_under(&cache, &sf, copy, rip));
        uint8_t out[FETCH_MAX_BYTES];
        for (unsigned l = walk_shape_leaf(i); l < walk_shape_top(i); l++) {
            guest_entry_change(&view.ram, walk_shape_mode(i), sf.pg.cr3, rip, l, 1ull << 11, 0);
            if (bound_code_under(&cache, &sf, copy, rip) ||
                bound_code_under(&cache, &sf, sf.pg.cr3, rip))
                fail_msg("shape %u: hit despite a changed level-%u entry", i, l);
            assert_true(fetch_insn_bound(&cache, &other, &cs64, rip, out));
            assert_non_null(bound_code_under(&cache, &sf, copy, rip));
            assert_non_null(bound_code_under(&cache, &sf, sf.pg.cr3, rip));
            guest_entry_change(&view.ram, walk_shape_mode(i), sf.pg.cr3, rip, l, 0, 1ull << 11);
            assert_null(bound_code_under(&cache, &sf, copy, rip));
            assert_null(bound_code_under(&cache, &sf, sf.pg.cr3, rip));
            assert_true(fetch_insn_bound(&cache, &sf.pg, &cs64, rip, out));
        }
    }
}

/* What changes between two exits at one MMIO site. The first group leaves the remembered
 * translation as it was (a hit is required); the second changes a key field or an entry the
 * walk reads (NULL is required). */
enum bound_change {
    BC_NONE,
    BC_RIP_IN_PAGE,     /* another offset of the same page */
    BC_CODE_BYTES,      /* the instruction's bytes rewritten */
    BC_OFF_PATH_ENTRY,  /* another entry of a table on the walk's path, any value */
    BC_OFF_PATH_A,      /* A flipped in such an entry */
    BC_ENTRY_REWRITTEN, /* a walked entry written with its own value */
    BC_CR0_WP,          /* CR0 is no part of the key: a fetch does not read WP */
    BC_RFLAGS_AC,       /* nor RFLAGS.AC: SMAP is for data accesses */
    BC_CR3_PCID,        /* CR3 bits 11:0 (PCID, or PWT/PCD): the same root */
    BC_ROOT_COPY,       /* CR3 -> a copy of the root table (another process), PCID bits maybe */
    BC_ROOT_TOP_ONLY,   /* CR3 -> a page holding only the same top entry, random elsewhere */
    BC_OLD_ROOT_ENTRY,  /* under another root: the remembered root's top entry, any value */
    BC_HOLDING_KINDS,
    BC_PATH_ENTRY_BIT = BC_HOLDING_KINDS, /* one bit of a walked entry (ignored bits too) */
    BC_PATH_A_CLEARED,                    /* A cleared in a walked entry */
    BC_REMAP_FRAME,                       /* the leaf maps the code page to another frame */
    BC_CR3_HIGH,                          /* CR3 bit 63 or one of 51:32 (a root beyond the view) */
    BC_ROOT_TOP_DIFFERS,                  /* CR3 -> a root copy whose top entry differs */
    BC_ROOT_OUTSIDE_VIEW, /* CR3 -> a root whose top entry, the same value, is in the hole or
                             at/above the limit */
    BC_CR4_BIT,           /* LA57, SMEP, SMAP, PKE, PCIDE, PGE, PSE, ... */
    BC_EFER_BIT,          /* NXE, SCE */
    BC_CS_AR_BIT,         /* L, D, DPL, accessed, G, AVL */
    BC_CPL,               /* another CPL */
    BC_UNDO,              /* the last change undone (an entry back: ABA) */
    BC_KINDS
};

static const char *const bound_change_names[BC_KINDS] = {
    [BC_NONE] = "none",
    [BC_RIP_IN_PAGE] = "rip-in-page",
    [BC_CODE_BYTES] = "code-bytes",
    [BC_OFF_PATH_ENTRY] = "off-path-entry",
    [BC_OFF_PATH_A] = "off-path-A",
    [BC_ENTRY_REWRITTEN] = "entry-same",
    [BC_CR0_WP] = "cr0-wp",
    [BC_RFLAGS_AC] = "rflags-ac",
    [BC_CR3_PCID] = "cr3-pcid",
    [BC_ROOT_COPY] = "root-copy",
    [BC_ROOT_TOP_ONLY] = "root-top-only",
    [BC_OLD_ROOT_ENTRY] = "old-root-entry",
    [BC_PATH_ENTRY_BIT] = "path-entry-bit",
    [BC_PATH_A_CLEARED] = "path-A-cleared",
    [BC_REMAP_FRAME] = "remap-frame",
    [BC_CR3_HIGH] = "cr3-high",
    [BC_ROOT_TOP_DIFFERS] = "root-top-differs",
    [BC_ROOT_OUTSIDE_VIEW] = "root-outside-view",
    [BC_CR4_BIT] = "cr4-bit",
    [BC_EFER_BIT] = "efer-bit",
    [BC_CS_AR_BIT] = "cs-ar-bit",
    [BC_CPL] = "cpl",
    [BC_UNDO] = "undo",
};

/* What fetch_bound_code's caller remembers of its last fetch_insn_bound: the key and, found
 * independently, the entries that walk read. */
struct bound_model {
    bool filled; /* the last fetch_insn_bound answered */
    uint64_t cr3, cr4, efer;
    uint32_t cs_ar;
    unsigned cpl;
    struct walk_path path;
};

/* The last change, to undo: registers and up to 16 bytes of guest memory. */
struct bound_undo {
    bool valid;
    struct guest_paging pg;
    struct fetch_cs cs;
    uint64_t rip;
    uint64_t gpa;
    unsigned len;
    uint8_t old[16];
};

static void save_memory(struct bound_undo *u, uint64_t gpa, unsigned len)
{
    u->gpa = gpa;
    u->len = len;
    memcpy(u->old, view.ram.bytes + gpa, len);
}

/* Where the walk reads entry `i` of the remembered path under the current CR3: the top one in
 * the current root (0 when that lies outside the RAM), the others where they were. */
static uint64_t path_ea_now(const struct walk_path *p, uint64_t cr3, unsigned i)
{
    if (i != 0)
        return p->ea[i];
    const uint64_t top = path_top_ea(p, cr3);
    return (cr3 >> 63) || top + 8 > GUEST_RAM_SIZE ? 0 : top;
}

/* A root page whose top-entry slot (at `off`) lies in the hole or ends above the limit, inside
 * the RAM; 0 when the view leaves no such page. */
static uint64_t root_outside_view(const struct guest_mem *mem, uint64_t off)
{
    /* Candidate root pages [lo, hi]: 0 for slots overlapping the hole (starting in
     * [hole_base - 7, hole_base + hole_size - 1]), 1 for slots ending above the limit. */
    uint64_t lo[2] = {1, 1}, hi[2] = {0, 0};
    if (mem->hole_size && mem->hole_base + mem->hole_size - 1 >= off) {
        const uint64_t first = mem->hole_base >= 7 + off ? mem->hole_base - 7 - off : 0;
        lo[0] = (first + 4095) & ~0xFFFull;
        hi[0] = (mem->hole_base + mem->hole_size - 1 - off) & ~0xFFFull;
    }
    lo[1] = mem->direct_limit >= 8 + off ? ((mem->direct_limit - 8 - off) & ~0xFFFull) : 0;
    if (lo[1] + off + 8 <= mem->direct_limit)
        lo[1] += 4096;
    hi[1] = GUEST_RAM_SIZE - 4096;
    for (unsigned k = 0; k < 2; k++)
        if (hi[k] > GUEST_RAM_SIZE - 4096)
            hi[k] = GUEST_RAM_SIZE - 4096;
    const bool ok0 = lo[0] <= hi[0], ok1 = lo[1] <= hi[1];
    if (!ok0 && !ok1)
        return 0;
    const unsigned k = ok0 && ok1 ? (unsigned)below(2) : ok0 ? 0 : 1;
    return lo[k] + (below((hi[k] - lo[k]) / 4096 + 1) << 12);
}

/* Applies one change of `kind` to the case and guest memory (recording the undo); returns the
 * kind applied (BC_NONE when it cannot apply here). */
static enum bound_change apply_bound_change(enum bound_change kind, struct random_case *rc,
                                            const struct bound_model *m,
                                            const struct guest_mem *mem, struct bound_undo *u)
{
    static const unsigned entry_bits[] = {0,  1,  2,  5,  6,  7,  8,  9,  10, 11, 12,
                                          13, 21, 30, 39, 45, 51, 52, 58, 62, 63};
    static const uint64_t cr4_bits[] = {CR4_LA57, CR4_SMEP,   CR4_SMAP,  1ull << 22 /* PKE */,
                                        CR4_PSE,  1ull << 17, 1ull << 7, 1ull << 18,
                                        CR4_PAE};
    static const uint32_t cs_ar_bits[] = {SEG_AR_L, SEG_AR_D, 1u << 0, 1u << 5,
                                          1u << 6,  1u << 15, 1u << 12};
    const struct walk_path *p = &m->path;
    if (kind == BC_UNDO) {
        if (!u->valid)
            return BC_NONE;
        rc->pg = u->pg;
        rc->cs = u->cs;
        rc->rip = u->rip;
        memcpy(view.ram.bytes + u->gpa, u->old, u->len);
        u->valid = false;
        return BC_UNDO;
    }
    /* Entries, frames and the top entry's offset are known only after a fill. */
    const bool needs_path =
        kind == BC_OFF_PATH_ENTRY || kind == BC_OFF_PATH_A || kind == BC_ENTRY_REWRITTEN ||
        kind == BC_PATH_ENTRY_BIT || kind == BC_PATH_A_CLEARED || kind == BC_REMAP_FRAME ||
        kind == BC_CODE_BYTES || kind == BC_ROOT_COPY || kind == BC_ROOT_TOP_ONLY ||
        kind == BC_ROOT_TOP_DIFFERS || kind == BC_ROOT_OUTSIDE_VIEW || kind == BC_OLD_ROOT_ENTRY;
    if (needs_path && !m->filled)
        return BC_NONE;
    const uint64_t cr3 = rc->pg.cr3, off = p->ea[0] & 0xFFF;
    const unsigned i = p->n ? (unsigned)below(p->n) : 0;
    const uint64_t ea_i = needs_path ? path_ea_now(p, cr3, i) : 0;
    if (needs_path && ea_i == 0)
        return BC_NONE; /* the current root is outside the RAM (a CR3 with high bits) */
    const struct guest_paging pg0 = rc->pg;
    const struct fetch_cs cs0 = rc->cs;
    const uint64_t rip0 = rc->rip;
    u->len = 0;
    u->gpa = 0;
    switch (kind) {
    case BC_NONE:
        break;
    case BC_RIP_IN_PAGE:
        rc->rip = (rc->rip & ~0xFFFull) | below(4096 - FETCH_MAX_BYTES + 1);
        break;
    case BC_CODE_BYTES: {
        const uint64_t at = p->frame + (rc->rip & 0xFFF) + below(8);
        if (path_has(p, cr3, at, 8))
            return BC_NONE; /* code inside a table the walk reads: not this kind */
        save_memory(u, at, 8);
        const uint64_t r = rnd();
        memcpy(view.ram.bytes + at, &r, 8);
        break;
    }
    case BC_OFF_PATH_ENTRY:
    case BC_OFF_PATH_A: {
        const uint64_t ea = ea_i ^ (8 * (1 + below(511)));
        const uint64_t code = p->frame + (rc->rip & 0xFFF);
        if (path_has(p, cr3, ea, 8) || (ea < code + FETCH_MAX_BYTES && code < ea + 8))
            return BC_NONE;
        save_memory(u, ea, 8);
        guest_ram_wr64(&view.ram, ea,
                       kind == BC_OFF_PATH_A ? guest_ram_rd64(&view.ram, ea) ^ E_A : rnd());
        break;
    }
    case BC_ENTRY_REWRITTEN:
        save_memory(u, ea_i, 8);
        guest_ram_wr64(&view.ram, ea_i, guest_ram_rd64(&view.ram, ea_i));
        break;
    case BC_CR0_WP:
        rc->pg.cr0 ^= CR0_WP;
        break;
    case BC_RFLAGS_AC:
        rc->pg.rflags ^= RFLAGS_AC_BIT;
        break;
    case BC_CR3_PCID:
        rc->pg.cr3 ^= 1 + below(0xFFF);
        break;
    case BC_ROOT_COPY:
    case BC_ROOT_TOP_ONLY:
    case BC_ROOT_TOP_DIFFERS: {
        const uint64_t root =
            kind == BC_ROOT_TOP_ONLY
                ? (view.ram.next_table + 4096 <= GUEST_RAM_SIZE ? guest_ram_table(&view.ram) : 0)
                : copy_root(cr3);
        /* A root the walk could not read (outside the view) is another kind's. */
        if (!root || !load_in_view(mem, root + off, true) || path_has(p, cr3, root, 4096))
            return BC_NONE;
        const uint64_t top = guest_ram_rd64(&view.ram, path_ea_now(p, cr3, 0));
        if (kind == BC_ROOT_TOP_ONLY) {
            for (uint64_t a = 0; a < 4096; a += 8)
                if (a != off)
                    guest_ram_wr64(&view.ram, root + a, rnd());
            guest_ram_wr64(&view.ram, root + off, top);
        } else if (kind == BC_ROOT_TOP_DIFFERS) {
            if (top != p->entry[0])
                return BC_NONE; /* the current root already differs */
            uint64_t e = top;
            switch (below(4)) {
            case 0:
                e ^= 1ull << entry_bits[below(sizeof entry_bits / sizeof entry_bits[0])];
                break;
            case 1:
                e ^= E_A;
                break;
            case 2:
                e &= ~E_P;
                break;
            default: /* another next-level table with the same contents */
                if (view.ram.next_table + 4096 > GUEST_RAM_SIZE ||
                    (top & PATH_ADDR) + 4096 > GUEST_RAM_SIZE)
                    return BC_NONE;
                const uint64_t next = guest_ram_table(&view.ram);
                memcpy(view.ram.bytes + next, view.ram.bytes + (top & PATH_ADDR), 4096);
                e = (e & ~PATH_ADDR) | next;
                break;
            }
            guest_ram_wr64(&view.ram, root + off, e);
        }
        rc->pg.cr3 = root | (chance(50) ? below(4096) : 0);
        break;
    }
    case BC_ROOT_OUTSIDE_VIEW: {
        const uint64_t root = root_outside_view(mem, off);
        const uint64_t code = p->frame + (rc->rip & 0xFFF);
        if (!root || path_has(p, cr3, root + off, 8) ||
            (root + off < code + FETCH_MAX_BYTES && code < root + off + 8))
            return BC_NONE;
        save_memory(u, root + off, 8);
        guest_ram_wr64(&view.ram, root + off, p->entry[0]);
        rc->pg.cr3 = root | (chance(50) ? below(4096) : 0);
        break;
    }
    case BC_OLD_ROOT_ENTRY: {
        /* Under another root page with the same top entry (a copy of the current one, unless
         * CR3 names another root already), the remembered root's top entry changes: it is off
         * the path now. */
        const uint64_t old = p->ea[0];
        const uint64_t code = p->frame + (rc->rip & 0xFFF);
        if (old < code + FETCH_MAX_BYTES && code < old + 8)
            return BC_NONE;
        for (unsigned k = 1; k < p->n; k++)
            if (p->ea[k] >> 12 == old >> 12)
                return BC_NONE; /* a table below shares the page (a self-map) */
        const uint64_t now = path_ea_now(p, cr3, 0);
        if (now == 0)
            return BC_NONE;
        if (now >> 12 == old >> 12) {
            const uint64_t root = copy_root(cr3);
            if (!root || !load_in_view(mem, root + off, true) || path_has(p, cr3, root, 4096))
                return BC_NONE;
            rc->pg.cr3 = root | (cr3 & 0xFFF);
        }
        if (guest_ram_rd64(&view.ram, path_ea_now(p, rc->pg.cr3, 0)) != p->entry[0]) {
            rc->pg.cr3 = cr3;
            return BC_NONE; /* the current root leads elsewhere already */
        }
        save_memory(u, old, 8);
        guest_ram_wr64(&view.ram, old, chance(50) ? rnd() : p->entry[0] & ~E_P);
        break;
    }
    case BC_PATH_ENTRY_BIT:
        save_memory(u, ea_i, 8);
        guest_ram_wr64(&view.ram, ea_i,
                       guest_ram_rd64(&view.ram, ea_i) ^
                           (1ull << entry_bits[below(sizeof entry_bits / sizeof entry_bits[0])]));
        break;
    case BC_PATH_A_CLEARED:
        save_memory(u, ea_i, 8);
        guest_ram_wr64(&view.ram, ea_i, guest_ram_rd64(&view.ram, ea_i) & ~E_A);
        break;
    case BC_REMAP_FRAME: {
        /* 4 KiB: another frame in the RAM; 2 MiB / 1 GiB: the neighbouring page. */
        const unsigned leaf = p->n - 1, top = (m->cr4 & CR4_LA57) ? 5 : 4;
        const uint64_t size = 1ull << (12 + 9 * (top - leaf - 1));
        const uint64_t e = guest_ram_rd64(&view.ram, p->ea[leaf]), frame = e & PATH_ADDR;
        const uint64_t moved =
            size == 4096 ? (frame + ((1 + below(GUEST_RAM_SIZE / 4096 - 1)) << 12)) % GUEST_RAM_SIZE
                         : frame ^ size;
        save_memory(u, p->ea[leaf], 8);
        guest_ram_wr64(&view.ram, p->ea[leaf], (e & ~PATH_ADDR) | moved);
        break;
    }
    case BC_CR3_HIGH:
        /* Bit 63 (which the fast walk takes as an address bit) or one of 51:32: a root far
         * beyond the view (and beyond MAXPHYADDR 32..51). */
        rc->pg.cr3 ^= chance(20) ? 1ull << 63 : 1ull << (32 + below(20));
        break;
    case BC_CR4_BIT:
        rc->pg.cr4 ^= cr4_bits[below(sizeof cr4_bits / sizeof cr4_bits[0])];
        break;
    case BC_EFER_BIT:
        rc->pg.efer ^= chance(70) ? EFER_NXE : 1ull << 0 /* SCE */;
        break;
    case BC_CS_AR_BIT:
        rc->cs.ar ^= cs_ar_bits[below(sizeof cs_ar_bits / sizeof cs_ar_bits[0])];
        break;
    case BC_CPL:
        rc->pg.cpl = (rc->pg.cpl + 1 + (unsigned)below(3)) & 3;
        break;
    default:
        break;
    }
    u->valid = true;
    u->pg = pg0;
    u->cs = cs0;
    u->rip = rip0;
    return kind;
}

/* One exit at the site: fetch_bound_code against the model, then the refill the MMIO path does
 * on a miss (fetch_insn_bound) and, right after it, the unchanged case again. */
struct bound_counts {
    /* Per kind: changes made, made to a warm cache (a remembered walk), answered, and declined
     * although warm. */
    unsigned steps[BC_KINDS], warm[BC_KINDS], hits[BC_KINDS], misses[BC_KINDS];
    unsigned fills, remembered /* must be */, hits_after_fill, not_remembered;
    unsigned other_root_hits; /* answered under a CR3 other than the remembered one */
};

static bool bound_step(struct fetch_cache *cache, const struct random_case *rc,
                       struct bound_model *m, struct bound_counts *c)
{
    const struct guest_paging *pg = &rc->pg;
    const bool key_same = m->filled && pg->cr4 == m->cr4 && pg->efer == m->efer &&
                          rc->cs.ar == m->cs_ar && pg->cpl == m->cpl;
    /* CR3 counts only through the top entry it leads to (read in the view), the rest as it was. */
    const bool allowed = key_same && m->path.all_accessed &&
                         path_holds_under(&m->path, &cache->bound_mem, pg->cr3, false);
    const bool required = allowed && frame_in_view(&cache->bound_mem, m->path.frame) &&
                          path_holds_under(&m->path, &cache->bound_mem, pg->cr3, true);
    const uint8_t *code =
        fetch_bound_code(cache, pg->cr3, pg->cr4, pg->efer, rc->cs.ar, pg->cpl, rc->rip);
    if (code && !allowed)
        fail_msg("fetch_bound_code answered at rip %#llx though %s", (unsigned long long)rc->rip,
                 !m->filled  ? "the last fill failed"
                 : !key_same ? "a key field changed"
                 : !m->path.all_accessed
                     ? "the walk was not remembered"
                     : "the top entry under this CR3 or an entry below changed");
    if (!code && required)
        fail_msg("fetch_bound_code declined at rip %#llx with the translation unchanged",
                 (unsigned long long)rc->rip);
    if (code) {
        check_bound_code_bytes(code, cache, pg, &rc->cs, rc->rip, m->path.frame);
        if (c)
            c->other_root_hits += pg->cr3 != m->cr3;
    }
    return code != NULL;
}

static void bound_refill(struct fetch_cache *cache, const struct random_case *rc,
                         struct bound_model *m, struct bound_counts *c)
{
    /* The bound calls ignore pg's maxphyaddr and no_1g_pages: give them wrong ones. */
    struct guest_paging wrong = rc->pg;
    wrong.maxphyaddr = 60;
    wrong.no_1g_pages = !wrong.no_1g_pages;
    const struct guest_paging b = bound_pg(cache, &rc->pg);
    uint8_t out[FETCH_MAX_BYTES], fast[FETCH_MAX_BYTES];
    const unsigned writes0 = view.writes;
    const bool k = fetch_insn_bound(cache, &wrong, &rc->cs, rc->rip, out);
    const bool f = fetch_insn_fast(&b, &cache->bound_mem, &rc->cs, rc->rip, fast);
    assert_int_equal(view.writes, writes0);
    if (k != f)
        fail_msg("bound %d, fast %d at rip %#llx", k, f, (unsigned long long)rc->rip);
    m->filled = k;
    if (!k)
        return;
    assert_memory_equal(out, fast, FETCH_MAX_BYTES);
    c->fills++;
    m->cr3 = rc->pg.cr3;
    m->cr4 = rc->pg.cr4;
    m->efer = rc->pg.efer;
    m->cs_ar = rc->cs.ar;
    m->cpl = rc->pg.cpl;
    walk_path_of(rc->pg.cr3, (rc->pg.cr4 & CR4_LA57) != 0, rc->rip, &m->path);
    const bool required = m->path.all_accessed && frame_in_view(&cache->bound_mem, m->path.frame);
    c->remembered += required;
    c->not_remembered += !m->path.all_accessed;
    /* Nothing changed since the fill: the pointer, at `out`'s bytes. */
    const bool hit = bound_step(cache, rc, m, NULL);
    if (required && !hit)
        fail_msg("no code pointer right after fetch_insn_bound at rip %#llx",
                 (unsigned long long)rc->rip);
    if (hit) {
        c->hits_after_fill++;
        const uint8_t *code = fetch_bound_code(cache, rc->pg.cr3, rc->pg.cr4, rc->pg.efer,
                                               rc->cs.ar, rc->pg.cpl, rc->rip);
        assert_memory_equal(code, out, FETCH_MAX_BYTES);
    }
}

/* Many random trees (random_case: 4/5-level, 4 KiB/2 MiB/1 GiB leaves, random bits at every
 * level, random view), each the site of one instruction with its own bound cache; between
 * exits, one random change, switches to other page-table roots among them. Whenever
 * fetch_bound_code answers, the bytes there are those fetch_insn_fast and fetch_insn give for
 * the same state; whenever a key field, the top entry under the current CR3 (or its place in
 * the view) or an entry below it differs from the last fill, it answers NULL; with neither, it
 * answers. */
static void bound_code_agrees_with_fast_fetch_across_changes(void **state)
{
    (void)state;
    enum { EPISODES = 2500, STEPS = 32, MIN_PER_KIND = 1000 };
    struct bound_counts c;
    memset(&c, 0, sizeof c);
    unsigned tries = 0;
    for (unsigned ep = 0; ep < EPISODES; ep++) {
        /* A case whose first fetch the bound cache answers (most random ones fault or
         * decline: other modes, page ends, missing A with write_gpa...). */
        struct random_case rc;
        struct fetch_cache cache;
        struct bound_model m;
        memset(&m, 0, sizeof m);
        do {
            tries++;
            rc = random_case();
            fetch_cache_bind(&cache, &rc.mem, rc.pg.maxphyaddr, rc.pg.no_1g_pages);
            bound_refill(&cache, &rc, &m, &c);
        } while (!m.filled);
        struct bound_undo undo = {0};
        for (unsigned step = 0; step < STEPS; step++) {
            const bool warm =
                m.filled && m.path.all_accessed && frame_in_view(&cache.bound_mem, m.path.frame);
            /* Roots outside the view need a view with room for them: asked for more often. */
            const unsigned pick = (unsigned)below(BC_KINDS + 3);
            enum bound_change kind =
                pick < BC_KINDS ? (enum bound_change)pick : BC_ROOT_OUTSIDE_VIEW;
            kind = apply_bound_change(kind, &rc, &m, &cache.bound_mem, &undo);
            const bool hit = bound_step(&cache, &rc, &m, &c);
            c.steps[kind]++;
            c.warm[kind] += warm;
            c.hits[kind] += hit;
            c.misses[kind] += warm && !hit;
            /* The MMIO path refills on a miss (and a hit may be refilled too: the same). */
            if (!hit || chance(50))
                bound_refill(&cache, &rc, &m, &c);
            /* A change the fetch cannot take (a fault, a decline) is mostly undone, so the
             * site keeps being exercised warm. */
            if (!m.filled && undo.valid && chance(80)) {
                apply_bound_change(BC_UNDO, &rc, &m, &cache.bound_mem, &undo);
                bound_refill(&cache, &rc, &m, &c);
            }
        }
    }
    view.limit = GUEST_RAM_SIZE;
    view.hole_base = view.hole_size = 0;
    print_message("fetch_bound_code: %u episodes (%u random cases), %u fills, %u to be remembered, "
                  "%u answered right after the fill, %u not remembered (an entry without A), "
                  "%u hits under another CR3\n",
                  (unsigned)EPISODES, tries, c.fills, c.remembered, c.hits_after_fill,
                  c.not_remembered, c.other_root_hits);
    for (unsigned k = 0; k < BC_KINDS; k++)
        print_message("  %-17s %6u changes, %6u to a warm cache: %6u hits, %6u misses\n",
                      bound_change_names[k], c.steps[k], c.warm[k], c.hits[k], c.misses[k]);
    assert_true(c.hits_after_fill >= c.remembered && c.remembered > c.fills / 2);
    assert_true(c.not_remembered > 0);
    assert_true(c.other_root_hits > MIN_PER_KIND);
    /* Not vacuous: every kind of change met a warm cache often; the translation-keeping ones
     * were answered every time (bound_step requires it) and the others missed every time. */
    for (unsigned k = 0; k < BC_HOLDING_KINDS; k++) {
        if (c.hits[k] < MIN_PER_KIND)
            fail_msg("%s: only %u hits", bound_change_names[k], c.hits[k]);
        assert_int_equal(c.misses[k], 0);
    }
    for (unsigned k = BC_HOLDING_KINDS; k < BC_UNDO; k++) {
        assert_int_equal(c.misses[k], c.warm[k]);
        if (c.misses[k] < MIN_PER_KIND)
            fail_msg("%s: only %u misses", bound_change_names[k], c.misses[k]);
        if (c.hits[k] != 0)
            fail_msg("%s: %u hits", bound_change_names[k], c.hits[k]);
    }
    assert_true(c.hits[BC_UNDO] >= MIN_PER_KIND / 4 && c.misses[BC_UNDO] >= MIN_PER_KIND / 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fast_accepts_plain_64_bit_fetches),
        cmocka_unit_test(fast_declines_each_uncovered_case_alone),
        cmocka_unit_test(fast_agrees_with_fetch_insn_on_random_trees),
        cmocka_unit_test(bound_fetch_sees_changed_pte_and_code),
        cmocka_unit_test(bound_fetch_agrees_with_fast_fetch_across_changes),
        cmocka_unit_test(bound_hit_answers_each_walk_shape_and_declines_on_each_entry_change),
        cmocka_unit_test(bound_hit_never_answers_from_an_empty_cache),
        cmocka_unit_test(bound_cache_answers_only_through_its_binding),
        cmocka_unit_test(bound_code_points_at_the_bytes_fetch_insn_bound_gave),
        cmocka_unit_test(bound_code_is_null_for_a_walk_not_remembered),
        cmocka_unit_test(bound_code_executed_ignores_only_the_cpl),
        cmocka_unit_test(bound_code_ia32e_executed_ignores_cr4_and_efer_but_not_cs_or_entries),
        cmocka_unit_test(bound_code_hits_under_another_root_with_the_same_top_entry),
        cmocka_unit_test(bound_code_misses_under_a_root_whose_top_entry_differs),
        cmocka_unit_test(bound_code_never_reads_a_root_in_the_hole_or_beyond_the_limit),
        cmocka_unit_test(bound_code_misses_under_every_root_when_an_entry_below_the_top_changes),
        cmocka_unit_test(bound_code_agrees_with_fast_fetch_across_changes),
    };
    return cmocka_run_group_tests(tests, setup_view, teardown_view);
}
