/* decode/walk: the guest page walk on synthetic page tables for every paging mode and page
 * size, every fault kind with its exact error code, accessed/dirty updates, and the
 * multi-page linear read/write helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "decode/fetch.h"
#include "decode/walk.h"
#include "tests/walk/guest_tables.h"
#include "tests/support/rng.h"

static struct guest_ram ram;
static struct guest_mem mem;

static int fresh_ram(void **state)
{
    (void)state;
    mem = guest_ram_init(&ram, true);
    return 0;
}

static int free_ram(void **state)
{
    (void)state;
    guest_ram_free(&ram);
    return 0;
}

/* Registers that select `mode`, with WP on, NXE on where it exists, MAXPHYADDR 40. */
static struct guest_paging regs_for(enum paging_mode mode, uint64_t cr3)
{
    struct guest_paging pg = {.cr3 = cr3, .maxphyaddr = 40};
    pg.cr0 = CR0_PE | CR0_WP | (mode == PAGING_NONE ? 0 : CR0_PG);
    switch (mode) {
    case PAGING_NONE:
        break;
    case PAGING_32BIT:
        pg.cr4 = CR4_PSE;
        break;
    case PAGING_PAE:
        pg.cr4 = CR4_PAE;
        pg.efer = EFER_NXE;
        break;
    case PAGING_4LEVEL:
        pg.cr4 = CR4_PAE;
        pg.efer = EFER_LME | EFER_LMA | EFER_NXE;
        break;
    case PAGING_5LEVEL:
        pg.cr4 = CR4_PAE | CR4_LA57;
        pg.efer = EFER_LME | EFER_LMA | EFER_NXE;
        break;
    }
    return pg;
}

static struct walk_result translate(const struct guest_paging *pg, uint64_t la,
                                    enum walk_access access, unsigned flags)
{
    struct walk_result r;
    enum walk_status st = walk_translate(pg, &mem, la, access, flags, &r);
    assert_int_equal(st, r.status);
    return r;
}

static void expect_pf(const struct guest_paging *pg, uint64_t la, enum walk_access access,
                      unsigned flags, uint32_t error_code)
{
    struct walk_result r = translate(pg, la, access, flags);
    if (r.status != WALK_PF || r.error_code != error_code)
        fail_msg("la %#llx access %d: status %d error %#x, want #PF error %#x",
                 (unsigned long long)la, access, r.status, r.error_code, error_code);
    assert_int_equal(r.fault_addr, la);
}

static void expect_ok(const struct guest_paging *pg, uint64_t la, enum walk_access access,
                      unsigned flags, uint64_t gpa)
{
    struct walk_result r = translate(pg, la, access, flags);
    if (r.status != WALK_OK)
        fail_msg("la %#llx access %d: status %d error %#x, want OK", (unsigned long long)la, access,
                 r.status, r.error_code);
    assert_int_equal(r.gpa, gpa);
}

/* One linear address per mode, in the upper half where the mode has one. */
static uint64_t la_for(enum paging_mode mode)
{
    switch (mode) {
    case PAGING_4LEVEL:
        return 0xFFFF8000123456F8ull;
    case PAGING_5LEVEL:
        return 0xFF123456789ABCF8ull;
    default:
        return 0xC03456F8u;
    }
}

static unsigned top_level_of(enum paging_mode mode)
{
    return mode == PAGING_5LEVEL ? 5 : mode == PAGING_4LEVEL ? 4 : mode == PAGING_PAE ? 3 : 2;
}

static unsigned leaf_level_of(uint64_t page_size)
{
    return page_size == 4096 ? 1 : page_size == (1ull << 30) ? 3 : 2;
}

struct mode_size {
    enum paging_mode mode;
    uint64_t page_size;
    uint64_t page_gpa; /* page base, beyond guest RAM for large pages (only tables are read) */
};

static const struct mode_size every_mode_size[] = {
    {PAGING_32BIT, 4096, 0x00ABC000},
    {PAGING_32BIT, 4ull << 20, 0x0000001200400000ull}, /* PSE-36: physical bits 39:32 */
    {PAGING_PAE, 4096, 0x00ABC000},
    {PAGING_PAE, 2ull << 20, 0x000000FF00200000ull},
    {PAGING_4LEVEL, 4096, 0x00ABC000},
    {PAGING_4LEVEL, 2ull << 20, 0x000000FF00200000ull},
    {PAGING_4LEVEL, 1ull << 30, 0x000000FF40000000ull},
    {PAGING_5LEVEL, 4096, 0x00ABC000},
    {PAGING_5LEVEL, 2ull << 20, 0x000000FF00200000ull},
    {PAGING_5LEVEL, 1ull << 30, 0x000000FF40000000ull},
};
#define N_MODE_SIZES (sizeof every_mode_size / sizeof every_mode_size[0])

/* Sets up `ms` in fresh RAM and returns the registers. */
static struct guest_paging setup_mapping(const struct mode_size *ms, uint64_t leaf_flags)
{
    guest_ram_free(&ram);
    mem = guest_ram_init(&ram, true);
    const uint64_t cr3 = guest_tables_root(&ram);
    guest_map(&ram, ms->mode, cr3, la_for(ms->mode), ms->page_gpa, ms->page_size, leaf_flags);
    return regs_for(ms->mode, cr3);
}

static void paging_off_is_identity_on_32_bits(void **state)
{
    (void)state;
    struct guest_paging pg = regs_for(PAGING_NONE, 0);
    struct walk_result r = translate(&pg, 0xABCD12345678ull, WALK_WRITE, 0);
    assert_int_equal(r.status, WALK_OK);
    assert_int_equal(r.gpa, 0x12345678);
    assert_int_equal(r.page_size, 1ull << 32);
    assert_true(r.writable && r.user && r.executable);
    assert_int_equal(paging_mode_of(pg.cr0, pg.cr4, pg.efer), PAGING_NONE);
}

static void paging_mode_follows_cr0_cr4_efer(void **state)
{
    (void)state;
    assert_int_equal(paging_mode_of(CR0_PG, 0, 0), PAGING_32BIT);
    assert_int_equal(paging_mode_of(CR0_PG, CR4_PAE, 0), PAGING_PAE);
    assert_int_equal(paging_mode_of(CR0_PG, CR4_PAE, EFER_LME | EFER_LMA), PAGING_4LEVEL);
    assert_int_equal(paging_mode_of(CR0_PG, CR4_PAE | CR4_LA57, EFER_LME | EFER_LMA),
                     PAGING_5LEVEL);
    assert_int_equal(paging_mode_of(0, CR4_PAE, EFER_LME), PAGING_NONE);
}

static void every_mode_and_page_size_translates(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N_MODE_SIZES; i++) {
        const struct mode_size *ms = &every_mode_size[i];
        struct guest_paging pg = setup_mapping(ms, E_ALL);
        const uint64_t la = la_for(ms->mode);
        struct walk_result r = translate(&pg, la, WALK_READ, 0);
        if (r.status != WALK_OK)
            fail_msg("mode %d size %#llx: status %d error %#x", ms->mode,
                     (unsigned long long)ms->page_size, r.status, r.error_code);
        assert_int_equal(r.gpa, ms->page_gpa + (la & (ms->page_size - 1)));
        assert_int_equal(r.page_size, ms->page_size);
        assert_true(r.writable && r.user && r.executable);
    }
}

static void translation_sets_accessed_then_dirty_on_write(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N_MODE_SIZES; i++) {
        const struct mode_size *ms = &every_mode_size[i];
        struct guest_paging pg = setup_mapping(ms, E_ALL);
        const uint64_t la = la_for(ms->mode), cr3 = pg.cr3;
        const unsigned leaf = leaf_level_of(ms->page_size), top = top_level_of(ms->mode);
        assert_int_equal(translate(&pg, la, WALK_READ, 0).status, WALK_OK);
        for (unsigned l = leaf; l <= top; l++) {
            const uint64_t e = guest_entry(&ram, ms->mode, cr3, la, l);
            /* PAE PDPTEs have no accessed flag (bit 5 is reserved there). */
            const bool want_a = !(ms->mode == PAGING_PAE && l == 3);
            assert_int_equal((e & E_A) != 0, want_a);
            assert_false(e & E_D);
        }
        assert_int_equal(translate(&pg, la, WALK_WRITE, 0).status, WALK_OK);
        assert_true(guest_entry(&ram, ms->mode, cr3, la, leaf) & E_D);
        for (unsigned l = leaf + 1; l <= top; l++)
            assert_false(guest_entry(&ram, ms->mode, cr3, la, l) & E_D);
        /* Nothing more to set: a third access writes nothing. */
        const unsigned writes = ram.writes;
        assert_int_equal(translate(&pg, la, WALK_WRITE, 0).status, WALK_OK);
        assert_int_equal(ram.writes, writes);
    }
}

static void failed_access_or_no_write_callback_leaves_ad_alone(void **state)
{
    (void)state;
    struct guest_paging pg = setup_mapping(&every_mode_size[4], E_P | E_US); /* 4-level, RO */
    const uint64_t la = la_for(PAGING_4LEVEL);
    expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_P | PF_ERR_W);
    assert_int_equal(ram.writes, 0);
    for (unsigned l = 1; l <= 4; l++)
        assert_false(guest_entry(&ram, PAGING_4LEVEL, pg.cr3, la, l) & E_A);
    mem.write_gpa = NULL;
    expect_ok(&pg, la, WALK_READ, 0, 0x00ABC000 + (la & 0xFFF));
    for (unsigned l = 1; l <= 4; l++)
        assert_false(guest_entry(&ram, PAGING_4LEVEL, pg.cr3, la, l) & E_A);
}

static void not_present_at_each_level_is_pf_with_p_clear(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N_MODE_SIZES; i++) {
        const struct mode_size *ms = &every_mode_size[i];
        const unsigned leaf = leaf_level_of(ms->page_size), top = top_level_of(ms->mode);
        for (unsigned l = leaf; l <= top; l++) {
            struct guest_paging pg = setup_mapping(ms, E_ALL);
            const uint64_t la = la_for(ms->mode);
            guest_entry_change(&ram, ms->mode, pg.cr3, la, l, 0, E_P);
            expect_pf(&pg, la, WALK_READ, 0, 0);
            expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_W);
            pg.cpl = 3;
            expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_W | PF_ERR_U);
            expect_pf(&pg, la, WALK_READ, WALK_IMPLICIT_SUPERVISOR, 0);
            assert_int_equal(ram.writes, 0);
        }
    }
}

static void pae_pdptes_come_from_the_vmcs_when_given(void **state)
{
    (void)state;
    struct guest_paging pg = setup_mapping(&every_mode_size[2], E_ALL);
    const uint64_t la = la_for(PAGING_PAE);
    const uint64_t pdpte = guest_entry(&ram, PAGING_PAE, pg.cr3, la, 3);
    /* The in-memory PDPT now says "not present"; the CPU's loaded copy still maps it. */
    guest_entry_change(&ram, PAGING_PAE, pg.cr3, la, 3, 0, E_P);
    expect_pf(&pg, la, WALK_READ, 0, 0);
    pg.pae_pdptes_valid = true;
    pg.pae_pdptes[(la >> 30) & 3] = pdpte;
    expect_ok(&pg, la, WALK_READ, 0, 0x00ABC000 + (la & 0xFFF));
    pg.pae_pdptes[(la >> 30) & 3] = 0;
    expect_pf(&pg, la, WALK_FETCH, 0, PF_ERR_I); /* PAE + NXE: I/D reported */
}

/* A reserved bit set in one entry: `level` and `bit` per mode and page size. */
struct rsvd_case {
    enum paging_mode mode;
    uint64_t page_size;
    unsigned level;
    uint64_t bits;
    uint64_t efer_clear; /* e.g. NXE off, which makes XD reserved */
    unsigned maxphyaddr; /* 0: the default 40 */
    bool no_1g_pages;
    enum walk_status want; /* WALK_PF (RSVD), WALK_GP or WALK_OK (bit is not reserved) */
};

static const struct rsvd_case rsvd_cases[] = {
    /* 32-bit paging: only 4 MiB PDEs have reserved bits (Table 4-4). */
    {PAGING_32BIT, 4ull << 20, 2, 1ull << 21, 0, 0, false, WALK_PF},
    {PAGING_32BIT, 4ull << 20, 2, 1ull << 17, 0, 36, false, WALK_PF}, /* PA bit 36 >= M */
    {PAGING_32BIT, 4ull << 20, 2, 1ull << 16, 0, 36, false, WALK_OK}, /* PA bit 35 < M */
    {PAGING_32BIT, 4096, 1, 1ull << 7, 0, 0, false, WALK_OK},         /* PTE bit 7 is PAT */
    /* PAE: PDPTE reserved bits are a #GP at load; PDE/PTE bits 62:M, XD without NXE. */
    {PAGING_PAE, 4096, 3, 1ull << 1, 0, 0, false, WALK_GP},
    {PAGING_PAE, 4096, 3, 1ull << 5, 0, 0, false, WALK_GP},
    {PAGING_PAE, 4096, 3, 1ull << 63, 0, 0, false, WALK_GP},
    {PAGING_PAE, 2ull << 20, 2, 1ull << 13, 0, 0, false, WALK_PF},
    {PAGING_PAE, 4096, 2, 1ull << 62, 0, 0, false, WALK_PF},
    {PAGING_PAE, 4096, 1, 1ull << 40, 0, 0, false, WALK_PF},
    {PAGING_PAE, 4096, 1, 1ull << 52, 0, 0, false, WALK_PF}, /* PAE reserves 62:M, not 51:M */
    {PAGING_PAE, 4096, 1, 1ull << 63, EFER_NXE, 0, false, WALK_PF},
    {PAGING_PAE, 4096, 1, 1ull << 63, 0, 0, false, WALK_OK},
    /* 4-level. */
    {PAGING_4LEVEL, 4096, 4, E_PS, 0, 0, false, WALK_PF},
    {PAGING_4LEVEL, 4096, 4, 1ull << 40, 0, 0, false, WALK_PF},
    {PAGING_4LEVEL, 4096, 4, 1ull << 63, EFER_NXE, 0, false, WALK_PF},
    {PAGING_4LEVEL, 4096, 3, 1ull << 45, 0, 0, false, WALK_PF},
    {PAGING_4LEVEL, 1ull << 30, 3, 1ull << 13, 0, 0, false, WALK_PF},
    {PAGING_4LEVEL, 1ull << 30, 3, 1ull << 29, 0, 0, false, WALK_PF},
    {PAGING_4LEVEL, 1ull << 30, 3, 1ull << 12, 0, 0, false, WALK_OK}, /* PAT */
    {PAGING_4LEVEL, 1ull << 30, 3, 0, 0, 0, true, WALK_PF}, /* PS reserved without 1G pages */
    {PAGING_4LEVEL, 2ull << 20, 2, 1ull << 20, 0, 0, false, WALK_PF},
    {PAGING_4LEVEL, 4096, 2, 1ull << 51, 0, 0, false, WALK_PF},
    {PAGING_4LEVEL, 4096, 1, 1ull << 40, 0, 0, false, WALK_PF},
    {PAGING_4LEVEL, 4096, 1, 1ull << 40, 0, 52, false, WALK_OK}, /* M = 52: an address bit */
    {PAGING_4LEVEL, 4096, 1, 1ull << 52, 0, 0, false, WALK_OK},  /* ignored in 4-level */
    {PAGING_4LEVEL, 4096, 1, 1ull << 63, EFER_NXE, 0, false, WALK_PF},
    /* 5-level: the PML5E too. */
    {PAGING_5LEVEL, 4096, 5, E_PS, 0, 0, false, WALK_PF},
    {PAGING_5LEVEL, 4096, 5, 1ull << 41, 0, 0, false, WALK_PF},
    {PAGING_5LEVEL, 4096, 5, 1ull << 63, EFER_NXE, 0, false, WALK_PF},
    {PAGING_5LEVEL, 4096, 4, E_PS, 0, 0, false, WALK_PF},
    {PAGING_5LEVEL, 2ull << 20, 2, 1ull << 13, 0, 0, false, WALK_PF},
    {PAGING_5LEVEL, 1ull << 30, 3, 1ull << 20, 0, 0, false, WALK_PF},
    {PAGING_5LEVEL, 4096, 1, 1ull << 50, 0, 0, false, WALK_PF},
};

static void reserved_bits_at_each_level_are_pf_with_rsvd(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof rsvd_cases / sizeof rsvd_cases[0]; i++) {
        const struct rsvd_case *c = &rsvd_cases[i];
        struct mode_size ms = {c->mode, c->page_size, 0};
        for (unsigned k = 0; k < N_MODE_SIZES; k++)
            if (every_mode_size[k].mode == c->mode && every_mode_size[k].page_size == c->page_size)
                ms.page_gpa = every_mode_size[k].page_gpa;
        if (c->maxphyaddr == 36)
            ms.page_gpa &= 0xFFFFFFFFFull;
        struct guest_paging pg = setup_mapping(&ms, E_ALL);
        pg.efer &= ~c->efer_clear;
        if (c->maxphyaddr)
            pg.maxphyaddr = c->maxphyaddr;
        pg.no_1g_pages = c->no_1g_pages;
        const uint64_t la = la_for(c->mode);
        guest_entry_change(&ram, c->mode, pg.cr3, la, c->level, c->bits, 0);
        struct walk_result r = translate(&pg, la, WALK_WRITE, 0);
        if (r.status != c->want)
            fail_msg("case %u (mode %d level %u bits %#llx): status %d, want %d", i, c->mode,
                     c->level, (unsigned long long)c->bits, r.status, c->want);
        if (c->want == WALK_PF) {
            assert_int_equal(r.error_code, PF_ERR_P | PF_ERR_RSVD | PF_ERR_W);
            assert_int_equal(r.fault_addr, la);
            pg.cpl = 3;
            expect_pf(&pg, la, WALK_FETCH, 0,
                      PF_ERR_P | PF_ERR_RSVD | PF_ERR_U |
                          ((pg.efer & EFER_NXE) && c->mode != PAGING_32BIT ? PF_ERR_I : 0));
        }
        if (c->want == WALK_GP)
            assert_int_equal(r.error_code, 0);
        if (c->want != WALK_OK)
            assert_int_equal(ram.writes, 0);
    }
}

/* 4-level, 4 KiB page at la_for(PAGING_4LEVEL), with `leaf` flags. */
static struct guest_paging four_level(uint64_t leaf)
{
    return setup_mapping(&every_mode_size[4], leaf);
}

static void maxphyaddr_out_of_range_is_taken_as_52(void **state)
{
    (void)state;
    const uint64_t la = la_for(PAGING_4LEVEL), gpa = 0x00ABC000 + (la & 0xFFF);
    const unsigned odd[] = {0, 53, 64, 200, 0xFFFFFFFFu};
    for (unsigned i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        struct guest_paging pg = four_level(E_ALL | (1ull << 51)); /* an address bit at 52 */
        pg.maxphyaddr = odd[i];
        expect_ok(&pg, la, WALK_READ, 0, gpa | (1ull << 51));
        guest_entry_change(&ram, PAGING_4LEVEL, pg.cr3, la, 1, 1ull << 52, 0); /* ignored */
        expect_ok(&pg, la, WALK_READ, 0, gpa | (1ull << 51));
    }
}

static void write_to_read_only_page_obeys_cr0_wp(void **state)
{
    (void)state;
    const uint64_t la = la_for(PAGING_4LEVEL), gpa = 0x00ABC000 + (la & 0xFFF);
    struct guest_paging pg = four_level(E_P | E_US);
    expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_P | PF_ERR_W);
    expect_ok(&pg, la, WALK_READ, 0, gpa);
    assert_false(translate(&pg, la, WALK_READ, 0).writable);
    pg.cr0 &= ~CR0_WP;
    expect_ok(&pg, la, WALK_WRITE, 0, gpa); /* supervisor ignores R/W without WP */
    pg.cpl = 3;
    expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_P | PF_ERR_W | PF_ERR_U); /* user: never */
    /* R/W = 0 at an upper level is as good as at the leaf (rights combine over levels). */
    pg = four_level(E_ALL);
    guest_entry_change(&ram, PAGING_4LEVEL, pg.cr3, la, 3, 0, E_RW);
    expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_P | PF_ERR_W);
    /* Same in 32-bit paging. */
    struct guest_paging p32 = setup_mapping(&every_mode_size[0], E_P | E_US);
    expect_pf(&p32, la_for(PAGING_32BIT), WALK_WRITE, 0, PF_ERR_P | PF_ERR_W);
    p32.cr0 &= ~CR0_WP;
    expect_ok(&p32, la_for(PAGING_32BIT), WALK_WRITE, 0, 0x00ABC000 + 0x6F8);
}

static void thirty_two_bit_paging_combines_pde_rights_and_needs_pse_for_4m(void **state)
{
    (void)state;
    const uint64_t la = la_for(PAGING_32BIT), gpa = 0x00ABC000 + (la & 0xFFF);
    struct guest_paging pg = setup_mapping(&every_mode_size[0], E_ALL);
    guest_entry_change(&ram, PAGING_32BIT, pg.cr3, la, 2, 0, E_US);
    pg.cpl = 3;
    expect_pf(&pg, la, WALK_READ, 0, PF_ERR_P | PF_ERR_U);
    pg = setup_mapping(&every_mode_size[0], E_ALL);
    guest_entry_change(&ram, PAGING_32BIT, pg.cr3, la, 2, 0, E_RW);
    expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_P | PF_ERR_W);
    pg.cpl = 3;
    expect_ok(&pg, la, WALK_READ, 0, gpa);
    /* The linear address is 32 bits: high bits of `la` are dropped, also in CR2. */
    expect_ok(&pg, la | 0xABCD00000000ull, WALK_READ, 0, gpa);
    pg.cpl = 0;
    struct walk_result r = translate(&pg, la | 0xABCD00000000ull, WALK_WRITE, 0);
    assert_int_equal(r.status, WALK_PF);
    assert_int_equal(r.fault_addr, la);
    struct guest_paging pae = setup_mapping(&every_mode_size[2], E_P);
    r = translate(&pae, la_for(PAGING_PAE) | 0xF00000000ull, WALK_WRITE, 0);
    assert_int_equal(r.status, WALK_PF);
    assert_int_equal(r.fault_addr, la_for(PAGING_PAE));
    /* Without CR4.PSE the PS bit is ignored: the PDE points to a page table. */
    pg = setup_mapping(&every_mode_size[1], E_ALL); /* a 4 MiB page */
    const uint64_t pde = guest_entry(&ram, PAGING_32BIT, pg.cr3, la, 2);
    expect_ok(&pg, la, WALK_READ, 0, 0x0000001200400000ull + (la & 0x3FFFFF));
    pg.cr4 &= ~CR4_PSE;
    const uint64_t table = pde & 0xFFFFF000u; /* 0x00400000: inside guest RAM */
    guest_ram_wr32(&ram, table + ((la >> 12) & 0x3FF) * 4, 0x00777000 | (uint32_t)E_ALL);
    expect_ok(&pg, la, WALK_READ, 0, 0x00777000 + (la & 0xFFF));
}

static void user_access_to_supervisor_page_faults(void **state)
{
    (void)state;
    const uint64_t la = la_for(PAGING_4LEVEL), gpa = 0x00ABC000 + (la & 0xFFF);
    for (unsigned level = 1; level <= 4; level++) {
        struct guest_paging pg = four_level(E_ALL);
        guest_entry_change(&ram, PAGING_4LEVEL, pg.cr3, la, level, 0, E_US);
        expect_ok(&pg, la, WALK_READ, 0, gpa);
        pg.cpl = 3;
        expect_pf(&pg, la, WALK_READ, 0, PF_ERR_P | PF_ERR_U);
        expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_P | PF_ERR_W | PF_ERR_U);
        expect_pf(&pg, la, WALK_FETCH, 0, PF_ERR_P | PF_ERR_U | PF_ERR_I);
        /* An implicit supervisor access from CPL 3 (e.g. the GDT) may use it. */
        expect_ok(&pg, la, WALK_READ, WALK_IMPLICIT_SUPERVISOR, gpa);
    }
}

static void smep_blocks_supervisor_fetch_from_user_page(void **state)
{
    (void)state;
    const uint64_t la = la_for(PAGING_4LEVEL), gpa = 0x00ABC000 + (la & 0xFFF);
    struct guest_paging pg = four_level(E_ALL);
    expect_ok(&pg, la, WALK_FETCH, 0, gpa);
    pg.cr4 |= CR4_SMEP;
    expect_pf(&pg, la, WALK_FETCH, 0, PF_ERR_P | PF_ERR_I);
    expect_ok(&pg, la, WALK_READ, 0, gpa); /* SMEP is about fetches only */
    pg.cpl = 3;
    expect_ok(&pg, la, WALK_FETCH, 0, gpa); /* and about supervisor mode only */
    pg = four_level(E_P | E_RW);            /* supervisor page */
    pg.cr4 |= CR4_SMEP;
    expect_ok(&pg, la, WALK_FETCH, 0, gpa);
    /* 32-bit paging has no NX, but SMEP works there, and the fault then reports I/D. */
    struct guest_paging p32 = setup_mapping(&every_mode_size[0], E_ALL);
    p32.cr4 |= CR4_SMEP;
    expect_pf(&p32, la_for(PAGING_32BIT), WALK_FETCH, 0, PF_ERR_P | PF_ERR_I);
}

static void smap_blocks_supervisor_data_access_unless_ac(void **state)
{
    (void)state;
    const uint64_t la = la_for(PAGING_4LEVEL), gpa = 0x00ABC000 + (la & 0xFFF);
    struct guest_paging pg = four_level(E_ALL);
    pg.cr4 |= CR4_SMAP;
    expect_pf(&pg, la, WALK_READ, 0, PF_ERR_P);
    expect_pf(&pg, la, WALK_WRITE, 0, PF_ERR_P | PF_ERR_W);
    expect_ok(&pg, la, WALK_FETCH, 0, gpa); /* SMAP is about data only */
    pg.rflags = RFLAGS_AC_BIT;
    expect_ok(&pg, la, WALK_READ, 0, gpa);
    expect_ok(&pg, la, WALK_WRITE, 0, gpa);
    /* Implicit supervisor accesses: AC does not lift SMAP, at any CPL (SDM Vol. 3A 4.6.1). */
    expect_pf(&pg, la, WALK_READ, WALK_IMPLICIT_SUPERVISOR, PF_ERR_P);
    expect_pf(&pg, la, WALK_WRITE, WALK_IMPLICIT_SUPERVISOR, PF_ERR_P | PF_ERR_W);
    pg.cpl = 3;
    expect_pf(&pg, la, WALK_READ, WALK_IMPLICIT_SUPERVISOR, PF_ERR_P);
    expect_ok(&pg, la, WALK_READ, 0, gpa); /* user access: SMAP does not apply */
    pg.rflags = 0;
    expect_ok(&pg, la, WALK_WRITE, 0, gpa);
    /* Supervisor pages are not affected. */
    pg = four_level(E_P | E_RW);
    pg.cr4 |= CR4_SMAP;
    expect_ok(&pg, la, WALK_WRITE, 0, gpa);
}

static void nx_blocks_fetch_only_with_nxe(void **state)
{
    (void)state;
    const uint64_t la = la_for(PAGING_4LEVEL), gpa = 0x00ABC000 + (la & 0xFFF);
    for (unsigned level = 1; level <= 4; level++) {
        struct guest_paging pg = four_level(E_ALL);
        guest_entry_change(&ram, PAGING_4LEVEL, pg.cr3, la, level, E_XD, 0);
        expect_pf(&pg, la, WALK_FETCH, 0, PF_ERR_P | PF_ERR_I);
        expect_ok(&pg, la, WALK_READ, 0, gpa);
        expect_ok(&pg, la, WALK_WRITE, 0, gpa);
        assert_false(translate(&pg, la, WALK_READ, 0).executable);
        pg.cpl = 3;
        expect_pf(&pg, la, WALK_FETCH, 0, PF_ERR_P | PF_ERR_U | PF_ERR_I);
        pg.efer &= ~EFER_NXE; /* XD is then a reserved bit */
        expect_pf(&pg, la, WALK_READ, 0, PF_ERR_P | PF_ERR_RSVD | PF_ERR_U);
    }
    /* PAE too. */
    struct guest_paging pae = setup_mapping(&every_mode_size[2], E_ALL | E_XD);
    expect_pf(&pae, la_for(PAGING_PAE), WALK_FETCH, 0, PF_ERR_P | PF_ERR_I);
}

static void fetch_error_code_reports_id_only_with_nxe_or_smep(void **state)
{
    (void)state;
    struct guest_paging p32 = setup_mapping(&every_mode_size[0], E_ALL);
    const uint64_t la32 = la_for(PAGING_32BIT);
    guest_entry_change(&ram, PAGING_32BIT, p32.cr3, la32, 1, 0, E_P);
    expect_pf(&p32, la32, WALK_FETCH, 0, 0);
    p32.efer |= EFER_NXE; /* NXE counts only with PAE=1 (SDM Vol. 3A, 4.7) */
    expect_pf(&p32, la32, WALK_FETCH, 0, 0);
    p32.cr4 |= CR4_SMEP;
    expect_pf(&p32, la32, WALK_FETCH, 0, PF_ERR_I);
    struct guest_paging pae = setup_mapping(&every_mode_size[2], E_ALL);
    const uint64_t lap = la_for(PAGING_PAE);
    guest_entry_change(&ram, PAGING_PAE, pae.cr3, lap, 1, 0, E_P);
    expect_pf(&pae, lap, WALK_FETCH, 0, PF_ERR_I);
    pae.efer &= ~EFER_NXE;
    expect_pf(&pae, lap, WALK_FETCH, 0, 0);
}

static void non_canonical_address_is_gp_or_ss(void **state)
{
    (void)state;
    struct guest_paging pg = four_level(E_ALL);
    const uint64_t bad4[] = {0x0000800000000000ull, 0xFFFF7FFFFFFFFFFFull, 0x8000000000000000ull};
    for (unsigned i = 0; i < 3; i++) {
        struct walk_result r = translate(&pg, bad4[i], WALK_READ, 0);
        assert_int_equal(r.status, WALK_GP);
        assert_int_equal(r.error_code, 0);
        assert_int_equal(r.fault_addr, bad4[i]);
        assert_int_equal(translate(&pg, bad4[i], WALK_WRITE, WALK_STACK).status, WALK_SS);
    }
    /* With LA57 the same address is canonical and translates. */
    guest_ram_free(&ram);
    mem = guest_ram_init(&ram, true);
    const uint64_t cr3 = guest_tables_root(&ram);
    guest_map(&ram, PAGING_5LEVEL, cr3, 0x0000800000000000ull, 0x5000, 4096, E_ALL);
    struct guest_paging p5 = regs_for(PAGING_5LEVEL, cr3);
    expect_ok(&p5, 0x0000800000000123ull, WALK_READ, 0, 0x5123);
    assert_int_equal(translate(&p5, 0x0100000000000000ull, WALK_READ, 0).status, WALK_GP);
    assert_int_equal(translate(&p5, 0xFEFFFFFFFFFFF000ull, WALK_READ, WALK_STACK).status, WALK_SS);
}

static bool refuse_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx, (void)gpa, (void)buf, (void)len;
    return false;
}

static void table_outside_guest_ram_is_bad_gpa(void **state)
{
    (void)state;
    struct guest_paging pg = four_level(E_ALL);
    const uint64_t la = la_for(PAGING_4LEVEL);
    const uint64_t pde = guest_entry(&ram, PAGING_4LEVEL, pg.cr3, la, 2);
    guest_entry_change(&ram, PAGING_4LEVEL, pg.cr3, la, 2, 0x40000000ull, pde & ~0xFFFull);
    struct walk_result r = translate(&pg, la, WALK_READ, 0);
    assert_int_equal(r.status, WALK_BAD_GPA);
    assert_int_equal(r.bad_gpa, 0x40000000ull + ((la >> 12) & 0x1FF) * 8);
    /* CR3 itself outside RAM. */
    pg.cr3 = 1ull << 32;
    r = translate(&pg, la, WALK_READ, 0);
    assert_int_equal(r.status, WALK_BAD_GPA);
    assert_int_equal(r.bad_gpa, (1ull << 32) + ((la >> 39) & 0x1FF) * 8);
    /* Tables readable but not writable: the accessed-flag update is refused. */
    pg = four_level(E_ALL);
    mem.write_gpa = refuse_write;
    r = translate(&pg, la, WALK_READ, 0);
    assert_int_equal(r.status, WALK_BAD_GPA);
    assert_int_equal(r.bad_gpa, guest_entry_gpa(&ram, PAGING_4LEVEL, pg.cr3, la, 4));
}

static void read_linear_crosses_pages_translated_separately(void **state)
{
    (void)state;
    guest_ram_free(&ram);
    mem = guest_ram_init(&ram, true);
    const uint64_t cr3 = guest_tables_root(&ram);
    const uint64_t la = 0x400000;
    guest_map(&ram, PAGING_4LEVEL, cr3, la, 0x9000, 4096, E_ALL);
    guest_map(&ram, PAGING_4LEVEL, cr3, la + 4096, 0x3000, 4096, E_ALL); /* lower frame */
    memcpy(ram.bytes + 0x9FFC, "abcd", 4);
    memcpy(ram.bytes + 0x3000, "efgh", 4);
    struct guest_paging pg = regs_for(PAGING_4LEVEL, cr3);
    char buf[8];
    size_t done = 99;
    struct walk_result r;
    assert_int_equal(walk_read_linear(&pg, &mem, la + 4092, buf, 8, WALK_READ, 0, &done, &r),
                     WALK_OK);
    assert_int_equal(done, 8);
    assert_memory_equal(buf, "abcdefgh", 8);
    /* Second page gone: the first four bytes arrive, the fault is for the second page. */
    guest_entry_change(&ram, PAGING_4LEVEL, cr3, la + 4096, 1, 0, E_P);
    memset(buf, 0, sizeof buf);
    assert_int_equal(walk_read_linear(&pg, &mem, la + 4092, buf, 8, WALK_READ, 0, &done, &r),
                     WALK_PF);
    assert_int_equal(done, 4);
    assert_memory_equal(buf, "abcd", 4);
    assert_int_equal(r.fault_addr, la + 4096);
    assert_int_equal(r.error_code, 0);
    /* Write across the same boundary: nothing written when the second page faults. */
    assert_int_equal(walk_write_linear(&pg, &mem, la + 4092, "WXYZwxyz", 8, 0, &r), WALK_PF);
    assert_int_equal(r.error_code, PF_ERR_W);
    assert_memory_equal(ram.bytes + 0x9FFC, "abcd", 4);
    guest_entry_change(&ram, PAGING_4LEVEL, cr3, la + 4096, 1, E_P, 0);
    assert_int_equal(walk_write_linear(&pg, &mem, la + 4092, "WXYZwxyz", 8, 0, &r), WALK_OK);
    assert_memory_equal(ram.bytes + 0x9FFC, "WXYZ", 4);
    assert_memory_equal(ram.bytes + 0x3000, "wxyz", 4);
    assert_true(guest_entry(&ram, PAGING_4LEVEL, cr3, la + 4096, 1) & E_D);
}

static void linear_addresses_wrap_at_4g_outside_long_mode(void **state)
{
    (void)state;
    struct guest_paging pg = regs_for(PAGING_NONE, 0);
    memcpy(ram.bytes, "tail", 4);
    char buf[8];
    size_t done;
    struct walk_result r;
    /* 0xFFFFFFFE.. wraps to 0; physical 4G-2 is not RAM here, so it is a BAD_GPA at once. */
    assert_int_equal(walk_read_linear(&pg, &mem, 0xFFFFFFFEull, buf, 4, WALK_READ, 0, &done, &r),
                     WALK_BAD_GPA);
    assert_int_equal(done, 0);
    assert_int_equal(r.bad_gpa, 0xFFFFFFFEull);
    assert_int_equal(walk_read_linear(&pg, &mem, 0x100000000ull, buf, 4, WALK_READ, 0, &done, &r),
                     WALK_OK);
    assert_memory_equal(buf, "tail", 4);
    /* Reading across the end of guest RAM: the RAM part arrives, then BAD_GPA. */
    memcpy(ram.bytes + GUEST_RAM_SIZE - 4, "last", 4);
    assert_int_equal(
        walk_read_linear(&pg, &mem, GUEST_RAM_SIZE - 4, buf, 8, WALK_READ, 0, &done, &r),
        WALK_BAD_GPA);
    assert_int_equal(done, 4);
    assert_memory_equal(buf, "last", 4);
    assert_int_equal(r.bad_gpa, GUEST_RAM_SIZE);
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    return xorshift64star(&rng);
}

/* Guest-controlled garbage: page tables full of random entries that mostly point into a
 * pool of 64 table frames (so walks go deep), random modes and control bits, random
 * addresses. Every result must be well-formed; ASan/UBSan catch any bad access. */
static void random_tables_give_well_formed_results(void **state)
{
    (void)state;
    const uint64_t pool = 1u << 20, frames = 64;
    const uint64_t pool_end = pool + frames * 4096;
    unsigned outcome[5] = {0};
    const struct guest_mem full = mem;
    for (unsigned round = 0; round < 24; round++) {
        for (uint64_t a = pool; a < pool_end; a += 8) {
            uint64_t e = rnd() & 0xFFF;
            const uint64_t r = rnd();
            if ((r & 15) == 0)
                e |= rnd() & ~0xFFFull; /* anything at all */
            else
                e |= pool + ((r >> 8) % frames) * 4096 + ((r >> 20) & 1) * (1ull << 63);
            if ((r & 0xF0) == 0x10)
                e |= (uint64_t)(pool + ((r >> 24) % frames) * 4096) << 32; /* 32-bit hi entry */
            guest_ram_wr64(&ram, a, e);
        }
        for (unsigned n = 0; n < 2500; n++) {
            struct guest_paging pg = {0};
            const uint64_t r = rnd();
            pg.cr0 = (r & 1 ? CR0_PG : 0) | (r & 2 ? CR0_WP : 0) | CR0_PE;
            pg.cr4 = (r & 4 ? CR4_PAE : 0) | (r & 8 ? CR4_PSE : 0) | (r & 16 ? CR4_LA57 : 0) |
                     (r & 32 ? CR4_SMEP : 0) | (r & 64 ? CR4_SMAP : 0);
            pg.efer = (r & 128 ? EFER_LME | EFER_LMA : 0) | (r & 256 ? EFER_NXE : 0);
            pg.rflags = r & 512 ? RFLAGS_AC_BIT : 0;
            pg.cpl = (r >> 10) & 3;
            pg.maxphyaddr = (unsigned)((r >> 12) & 63);
            pg.no_1g_pages = (r >> 18) & 1;
            pg.pae_pdptes_valid = (r >> 19) & 1;
            for (unsigned i = 0; i < 4; i++)
                pg.pae_pdptes[i] = rnd() & 0x80000000FFFFF1FFull;
            pg.cr3 =
                ((r >> 20) & 7) == 0 ? rnd() : pool + ((r >> 23) % frames) * 4096 + (rnd() & 0xFE0);
            const uint64_t la = rnd() >> ((r >> 32) & 63);
            const enum walk_access access = (enum walk_access)((r >> 40) % 3);
            const unsigned flags = (unsigned)(r >> 42) & 3;
            mem = full;
            if ((r >> 44) & 1)
                mem.write_gpa = NULL; /* no A/D updates */
            struct walk_result res;
            const enum walk_status st = walk_translate(&pg, &mem, la, access, flags, &res);
            assert_int_equal(st, res.status);
            assert_true(st <= WALK_BAD_GPA);
            outcome[st]++;
            const enum paging_mode mode = paging_mode_of(pg.cr0, pg.cr4, pg.efer);
            const bool wide = mode == PAGING_4LEVEL || mode == PAGING_5LEVEL;
            const uint64_t la_used = wide ? la : (la & 0xFFFFFFFFu);
            switch (st) {
            case WALK_OK:
                assert_true(res.page_size == 4096 || res.page_size == (2ull << 20) ||
                            res.page_size == (4ull << 20) || res.page_size == (1ull << 30) ||
                            res.page_size == (1ull << 32));
                assert_int_equal(res.gpa & (res.page_size - 1), la_used & (res.page_size - 1));
                assert_true(res.gpa < (1ull << 52));
                break;
            case WALK_PF:
                assert_int_equal(res.error_code & ~0x1Fu, 0);
                if (res.error_code & PF_ERR_RSVD)
                    assert_true(res.error_code & PF_ERR_P);
                assert_int_equal((res.error_code & PF_ERR_W) != 0, access == WALK_WRITE);
                assert_int_equal(res.fault_addr, la_used);
                break;
            case WALK_GP:
            case WALK_SS:
                assert_int_equal(res.error_code, 0);
                break;
            case WALK_BAD_GPA:
                break;
            }
            struct fetch_result fr;
            const struct fetch_cs cs = {
                .base = rnd() >> (r & 63), .limit = (uint32_t)rnd(), .ar = (uint32_t)rnd()};
            fetch_insn(&pg, &mem, &cs, rnd() >> ((r >> 50) & 63), &fr);
            assert_true(fr.len <= FETCH_MAX_BYTES);
            assert_int_equal(fr.status == FETCH_OK, fr.len == FETCH_MAX_BYTES);
            assert_int_equal(fr.status == FETCH_OK, fr.fault == FETCH_FAULT_NONE);
        }
    }
    mem = full;
    printf("walk: random tables: %u ok, %u #PF, %u #GP, %u #SS, %u bad gpa\n", outcome[0],
           outcome[1], outcome[2], outcome[3], outcome[4]);
    /* The generator must reach every outcome, or the test proves little. */
    for (unsigned i = 0; i < 5; i++)
        assert_true(outcome[i] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(paging_off_is_identity_on_32_bits, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(paging_mode_follows_cr0_cr4_efer, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(every_mode_and_page_size_translates, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(translation_sets_accessed_then_dirty_on_write, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(failed_access_or_no_write_callback_leaves_ad_alone,
                                        fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(not_present_at_each_level_is_pf_with_p_clear, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(pae_pdptes_come_from_the_vmcs_when_given, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(reserved_bits_at_each_level_are_pf_with_rsvd, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(maxphyaddr_out_of_range_is_taken_as_52, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(write_to_read_only_page_obeys_cr0_wp, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(
            thirty_two_bit_paging_combines_pde_rights_and_needs_pse_for_4m, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(user_access_to_supervisor_page_faults, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(smep_blocks_supervisor_fetch_from_user_page, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(smap_blocks_supervisor_data_access_unless_ac, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(nx_blocks_fetch_only_with_nxe, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(fetch_error_code_reports_id_only_with_nxe_or_smep,
                                        fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(non_canonical_address_is_gp_or_ss, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(table_outside_guest_ram_is_bad_gpa, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(read_linear_crosses_pages_translated_separately, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(linear_addresses_wrap_at_4g_outside_long_mode, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(random_tables_give_well_formed_results, fresh_ram,
                                        free_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
