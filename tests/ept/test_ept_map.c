/* The guest-physical map: EPTP encoding, exit-qualification decoding, large-page choice,
 * splits around holes and type changes, hide/trap/read-only/restore/merge with pool
 * accounting, idempotence, all-or-nothing error paths, and a randomized comparison with a
 * simple model. Every test ends by checking the tables' invariants (valid entries, no leaked
 * or foreign table pages). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ept/ept.h"
#include "ept/invept.h"
#include "tests/ept/test_pool.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

#define CAP_BASIC (EPT_CAP_PWL4 | EPT_CAP_WB | EPT_CAP_UC | EPT_CAP_2M | EPT_CAP_INVEPT)
#define CAP_1G    (CAP_BASIC | EPT_CAP_1G)
#define RWX       ((uint8_t)EPT_PERM_RWX)

struct fixture {
    struct test_pool pool;
    struct ept ept;
    struct mtrr_state mtrr;
};

static int owner_edu, owner_stats, owner_other;

/* MTRRs as OVMF leaves them on a small machine: default UC, WB for RAM below 2 GiB, the
 * first MiB's fixed ranges WB with the VGA window UC. */
static struct mtrr_state mtrr_typical(void)
{
    struct mtrr_state st = {0};
    st.cap = 8 | MTRRCAP_FIX | MTRRCAP_WC;
    st.def_type = MTRR_DEF_E | MTRR_DEF_FE | MEM_TYPE_UC;
    st.maxphyaddr = 39;
    for (unsigned i = 0; i < MTRR_FIXED_MSRS; i++)
        st.fixed[i] = 0x0606060606060606ull;
    st.fixed[2] = 0; /* 16K_A0000: UC */
    st.var[0].base = 0 | MEM_TYPE_WB;
    st.var[0].mask = (((1ull << 39) - 1) & ~(2 * GiB - 1)) | MTRR_PHYSMASK_VALID;
    return st;
}

static struct fixture *fixture_new(uint64_t cap, const struct mtrr_state *mtrr, size_t pages)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    test_pool_init(&f->pool, pages);
    struct ept_page_alloc a = test_pool_alloc(&f->pool);
    if (mtrr)
        f->mtrr = *mtrr;
    struct ept_config cfg = {cap, 39, false, false, mtrr ? &f->mtrr : NULL};
    assert_int_equal(ept_init(&f->ept, &a, &cfg), EPT_OK);
    return f;
}

/* Walks every table: entries valid per SDM Vol. 3C 29.3.3.1 (no write-only, valid memory
 * type, ignore-PAT clear, aligned leaves, no address bits at or above MAXPHYADDR, no page
 * bit in a PML4E), every table page a live pool page used once. Returns the table count. */
static uint32_t check_table(struct fixture *f, uint64_t phys, int level, bool *seen)
{
    assert_true(test_pool_owns(&f->pool, phys));
    size_t idx = (phys - TEST_POOL_PHYS_BASE) / 4096;
    assert_false(seen[idx]);
    seen[idx] = true;
    const uint64_t *t = (const uint64_t *)(f->pool.mem + idx * 4096);
    uint32_t n = 1;
    for (unsigned i = 0; i < 512; i++) {
        uint64_t v = t[i];
        if (!(v & EPT_PERM_MASK)) {
            assert_int_equal(v, 0); /* ept/ writes not-present entries as 0 */
            continue;
        }
        assert_false((v & EPT_PERM_W) && !(v & EPT_PERM_R));
        assert_int_equal(v >> 39 & ((1ull << (52 - 39)) - 1), 0);
        bool leaf = level == 1 || (v & EPT_ENTRY_LARGE);
        if (level == 4)
            assert_false(v & EPT_ENTRY_LARGE);
        if (!leaf) {
            assert_int_equal(v & EPT_PERM_MASK, EPT_PERM_RWX);
            n += check_table(f, v & EPT_ENTRY_ADDR_MASK, level - 1, seen);
            continue;
        }
        uint8_t mt = (v & EPT_ENTRY_MT_MASK) >> EPT_ENTRY_MT_SHIFT;
        assert_true(mt == 0 || mt == 1 || mt == 4 || mt == 5 || mt == 6);
        assert_false(v & EPT_ENTRY_IGNORE_PAT);
        uint64_t size = 1ull << (12 + 9 * (level - 1));
        assert_int_equal((v & EPT_ENTRY_ADDR_MASK) & (size - 1), 0);
    }
    return n;
}

static void check_invariants(struct fixture *f)
{
    bool *seen = calloc(f->pool.pages, sizeof(bool));
    uint32_t n = check_table(f, f->ept.pml4_phys, 4, seen);
    free(seen);
    assert_int_equal(n, f->ept.tables);
    assert_int_equal(f->pool.in_use, f->ept.tables); /* nothing leaked, nothing held back */
    assert_int_equal(f->pool.bad_frees, 0);
    assert_int_equal(f->ept.reserve_count, 0);
}

static void fixture_free(struct fixture *f)
{
    check_invariants(f);
    ept_destroy(&f->ept);
    assert_int_equal(f->pool.in_use, 0);
    assert_int_equal(f->pool.bad_frees, 0);
    test_pool_fini(&f->pool);
    free(f);
}

static struct ept_leaf walk(struct fixture *f, uint64_t gpa)
{
    struct ept_leaf l;
    memset(&l, 0xCC, sizeof(l));
    assert_true(ept_walk(&f->ept, gpa, &l));
    return l;
}

static void assert_identity(struct fixture *f, uint64_t gpa, int level, uint8_t type)
{
    struct ept_leaf l = walk(f, gpa);
    assert_true(l.present);
    assert_int_equal(l.level, level);
    assert_int_equal(l.hpa, gpa);
    assert_int_equal(l.mem_type, type);
    assert_int_equal(l.perm, EPT_PERM_RWX);
    assert_false(l.ignore_pat);
}

static void assert_not_present(struct fixture *f, uint64_t gpa)
{
    struct ept_leaf l = walk(f, gpa);
    assert_false(l.present);
}

/* ---- encodings ------------------------------------------------------------------------- */

static void test_eptp_is_wb_walk4_and_ad_only_when_supported(void **state)
{
    (void)state;
    uint64_t pml4 = 0x12345000;
    assert_int_equal(ept_eptp_encode(pml4, CAP_BASIC, false), pml4 | 6 | (3 << 3));
    assert_int_equal(ept_eptp_encode(pml4, CAP_BASIC, true), pml4 | 6 | (3 << 3));
    assert_int_equal(ept_eptp_encode(pml4, CAP_BASIC | EPT_CAP_AD, true),
                     pml4 | 6 | (3 << 3) | (1 << 6));
    assert_int_equal(ept_eptp_encode(pml4, CAP_BASIC | EPT_CAP_AD, false), pml4 | 6 | (3 << 3));
    /* UC only when WB is not offered; nothing without a 4-level walk or a type. */
    assert_int_equal(ept_eptp_encode(pml4, EPT_CAP_PWL4 | EPT_CAP_UC, false), pml4 | 0 | (3 << 3));
    assert_int_equal(ept_eptp_encode(pml4, EPT_CAP_WB | EPT_CAP_UC, false), 0);
    assert_int_equal(ept_eptp_encode(pml4, EPT_CAP_PWL4, false), 0);
    /* Low bits of a misaligned table address never leak into the control bits. */
    assert_int_equal(ept_eptp_encode(pml4 | 0xFFF, CAP_BASIC, false), pml4 | 6 | (3 << 3));
}

static void test_qualification_decodes_access_and_entry_permissions(void **state)
{
    (void)state;
    /* A read of a not-present page with a valid linear address that is the translation. */
    struct ept_violation v = ept_decode_violation(0x181);
    assert_true(v.read);
    assert_false(v.write);
    assert_false(v.fetch);
    assert_int_equal(v.perm, 0);
    assert_true(v.gla_valid);
    assert_true(v.gla_translation);
    /* A write to a read-only (R+X) page. */
    v = ept_decode_violation(0x2 | (0x5 << 3) | 0x80);
    assert_true(v.write);
    assert_false(v.read);
    assert_true(v.readable);
    assert_false(v.writable);
    assert_true(v.executable);
    assert_int_equal(v.perm, EPT_PERM_R | EPT_PERM_X);
    assert_false(v.gla_translation); /* bit 8 clear: a guest paging-structure access */
    /* An instruction fetch. */
    v = ept_decode_violation(0x4);
    assert_true(v.fetch);
    assert_false(v.gla_valid);
    /* Bit 8 means nothing without bit 7. */
    v = ept_decode_violation(0x100 | 0x1);
    assert_false(v.gla_valid);
    assert_false(v.gla_translation);
    /* The upper flags, one by one. */
    assert_true(ept_decode_violation(1ull << 9).user_linear);
    assert_true(ept_decode_violation(1ull << 10).writable_linear);
    assert_true(ept_decode_violation(1ull << 11).nx_linear);
    assert_true(ept_decode_violation(1ull << 12).nmi_unblocking);
    assert_true(ept_decode_violation(1ull << 13).shadow_stack);
    assert_true(ept_decode_violation(1ull << 14).supervisor_ss);
    assert_true(ept_decode_violation(1ull << 15).paging_verify);
    assert_true(ept_decode_violation(1ull << 16).asynchronous);
    assert_true(ept_decode_violation(1ull << 6).user_executable);
    v = ept_decode_violation(0);
    assert_false(v.read || v.write || v.fetch || v.nmi_unblocking || v.asynchronous);
}

static void test_status_names_are_distinct(void **state)
{
    (void)state;
    for (int a = EPT_ERR_INVAL; a <= 0; a++)
        for (int b = EPT_ERR_INVAL; b < a; b++)
            assert_string_not_equal(ept_status_name(a), ept_status_name(b));
    assert_string_equal(ept_status_name(42), "unknown status");
}

/* ---- init and build ----------------------------------------------------------------- */

static void test_init_rejects_unusable_capabilities(void **state)
{
    (void)state;
    struct test_pool pool;
    test_pool_init(&pool, 4);
    struct ept_page_alloc a = test_pool_alloc(&pool);
    struct ept *e = calloc(1, sizeof(*e));
    struct ept_config cfg = {EPT_CAP_WB | EPT_CAP_2M, 39, false, false, NULL}; /* no 4-level */
    assert_int_equal(ept_init(e, &a, &cfg), EPT_ERR_INVAL);
    cfg.ept_vpid_cap = CAP_BASIC;
    cfg.maxphyaddr = 60;
    assert_int_equal(ept_init(e, &a, &cfg), EPT_ERR_INVAL);
    assert_int_equal(pool.in_use, 0);
    pool.limit = 0;
    cfg.maxphyaddr = 39;
    assert_int_equal(ept_init(e, &a, &cfg), EPT_ERR_NOMEM);
    pool.limit = 4;
    assert_int_equal(ept_init(e, &a, &cfg), EPT_OK);
    assert_int_equal(e->eptp, e->pml4_phys | 6 | (3 << 3));
    ept_destroy(e);
    assert_int_equal(pool.in_use, 0);
    free(e);
    test_pool_fini(&pool);
}

static void test_build_uses_1g_pages_when_supported(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(CAP_1G, NULL, 64);
    struct ept_range r[] = {{0, 4 * GiB, RWX, MEM_TYPE_WB}};
    assert_int_equal(ept_build(&f->ept, r, 1), EPT_OK);
    assert_int_equal(f->ept.tables, 2); /* PML4 + one PDPT */
    assert_identity(f, 0, 3, MEM_TYPE_WB);
    assert_identity(f, 3 * GiB + 12345, 3, MEM_TYPE_WB);
    struct ept_leaf l = walk(f, 4 * GiB);
    assert_false(l.present);
    assert_int_equal(l.level, 3);
    fixture_free(f);
}

static void test_build_uses_2m_pages_without_1g_support(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(CAP_BASIC, NULL, 64);
    struct ept_range r[] = {{0, 4 * GiB, RWX, MEM_TYPE_WB}};
    assert_int_equal(ept_build(&f->ept, r, 1), EPT_OK);
    assert_int_equal(f->ept.tables, 1 + 1 + 4); /* PML4, PDPT, 4 PDs */
    assert_identity(f, 0, 2, MEM_TYPE_WB);
    assert_identity(f, 4 * GiB - 1, 2, MEM_TYPE_WB);
    fixture_free(f);
}

static void test_build_honours_no_1g_option(void **state)
{
    (void)state;
    struct fixture *f = calloc(1, sizeof(*f));
    test_pool_init(&f->pool, 16);
    struct ept_page_alloc a = test_pool_alloc(&f->pool);
    struct ept_config cfg = {CAP_1G, 39, false, true, NULL};
    assert_int_equal(ept_init(&f->ept, &a, &cfg), EPT_OK);
    struct ept_range r[] = {{0, GiB, RWX, MEM_TYPE_WB}};
    assert_int_equal(ept_build(&f->ept, r, 1), EPT_OK);
    assert_identity(f, 0, 2, MEM_TYPE_WB);
    fixture_free(f);
}

static void test_build_splits_to_4k_only_around_a_hole(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(CAP_1G, NULL, 64);
    /* Conventional memory up to 0x9F000, a hole, then RAM from 1 MiB to 3 GiB. */
    struct ept_range r[] = {{0x100000, 3 * GiB - 0x100000, RWX, MEM_TYPE_WB},
                            {0, 0x9F000, RWX, MEM_TYPE_WB}};
    assert_int_equal(ept_build(&f->ept, r, 2), EPT_OK);
    /* PML4, PDPT, the PD of the first GiB, the PT of the first 2 MiB. */
    assert_int_equal(f->ept.tables, 4);
    assert_identity(f, 0x9E000, 1, MEM_TYPE_WB);
    assert_not_present(f, 0x9F000);
    assert_not_present(f, 0xFF000);
    assert_identity(f, 0x100000, 1, MEM_TYPE_WB);
    assert_identity(f, 0x200000, 2, MEM_TYPE_WB);
    assert_identity(f, GiB - 1, 2, MEM_TYPE_WB);
    assert_identity(f, GiB, 3, MEM_TYPE_WB);
    assert_identity(f, 2 * GiB, 3, MEM_TYPE_WB);
    struct ept_leaf l = walk(f, 3 * GiB);
    assert_false(l.present);
    fixture_free(f);
}

static void test_build_splits_where_the_mtrr_type_changes(void **state)
{
    (void)state;
    struct mtrr_state m = mtrr_typical();
    /* A 4 KiB UC page (e.g. firmware MMIO in RAM) at 1 GiB + 6 MiB. */
    m.var[1].base = (GiB + 6 * MiB) | MEM_TYPE_UC;
    m.var[1].mask = (((1ull << 39) - 1) & ~0xFFFull) | MTRR_PHYSMASK_VALID;
    struct fixture *f = fixture_new(CAP_1G, &m, 64);
    struct ept_range r[] = {{0, 4 * GiB, RWX, EPT_MT_FROM_MTRR}};
    assert_int_equal(ept_build(&f->ept, r, 1), EPT_OK);
    /* First 2 MiB: fixed ranges (VGA UC) -> 4 KiB pages. */
    assert_identity(f, 0x9F000, 1, MEM_TYPE_WB);
    assert_identity(f, 0xA0000, 1, MEM_TYPE_UC);
    assert_identity(f, 0xBF000, 1, MEM_TYPE_UC);
    assert_identity(f, 0xC0000, 1, MEM_TYPE_WB);
    assert_identity(f, 0x100000, 1, MEM_TYPE_WB);
    assert_identity(f, 0x200000, 2, MEM_TYPE_WB);
    /* Around the UC page: 4 KiB pages in that 2 MiB only. */
    assert_identity(f, GiB, 2, MEM_TYPE_WB);
    assert_identity(f, GiB + 6 * MiB - 4096, 2, MEM_TYPE_WB);
    assert_identity(f, GiB + 6 * MiB, 1, MEM_TYPE_UC);
    assert_identity(f, GiB + 6 * MiB + 4096, 1, MEM_TYPE_WB);
    assert_identity(f, GiB + 8 * MiB, 2, MEM_TYPE_WB);
    /* Above 2 GiB the default (UC) in 1 GiB pages. */
    assert_identity(f, 2 * GiB, 3, MEM_TYPE_UC);
    assert_identity(f, 3 * GiB + 5, 3, MEM_TYPE_UC);
    /* PML4, PDPT, PD for GiB 0, PT for 0..2M, PD for GiB 1, PT for the UC page. */
    assert_int_equal(f->ept.tables, 6);
    fixture_free(f);
}

static void test_build_per_range_type_overrides_mtrr(void **state)
{
    (void)state;
    struct mtrr_state m = mtrr_typical();
    struct fixture *f = fixture_new(CAP_1G, &m, 64);
    struct ept_range r[] = {{GiB, GiB, RWX, EPT_MT_FROM_MTRR},
                            {3 * GiB, 16 * MiB, RWX, MEM_TYPE_WC}}; /* a framebuffer */
    assert_int_equal(ept_build(&f->ept, r, 2), EPT_OK);
    assert_identity(f, GiB, 3, MEM_TYPE_WB);
    assert_identity(f, 3 * GiB + 4 * MiB, 2, MEM_TYPE_WC);
    assert_not_present(f, 3 * GiB + 16 * MiB);
    assert_not_present(f, 0);
    fixture_free(f);
}

static void test_build_merges_adjacent_ranges_with_equal_attributes(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(CAP_1G, NULL, 64);
    struct ept_range r[] = {{0, 512 * MiB, RWX, MEM_TYPE_WB},
                            {512 * MiB, 512 * MiB, RWX, MEM_TYPE_WB},
                            {GiB, 512 * MiB, RWX, MEM_TYPE_UC}};
    assert_int_equal(ept_build(&f->ept, r, 3), EPT_OK);
    assert_int_equal(f->ept.range_count, 2);
    assert_identity(f, 0, 3, MEM_TYPE_WB);
    assert_identity(f, GiB, 2, MEM_TYPE_UC);
    fixture_free(f);
}

static void test_build_rejects_bad_ranges_without_building(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(CAP_1G, NULL, 64);
    struct ept_range bad[][1] = {
        {{0x800, 0x1000, RWX, MEM_TYPE_WB}},                 /* unaligned base */
        {{0x1000, 0x1800, RWX, MEM_TYPE_WB}},                /* unaligned size */
        {{0x1000, 0, RWX, MEM_TYPE_WB}},                     /* empty */
        {{(1ull << 39) - 4096, 8192, RWX, MEM_TYPE_WB}},     /* beyond MAXPHYADDR */
        {{0xFFFFFFFFFFFFF000ull, 0x2000, RWX, MEM_TYPE_WB}}, /* wraps */
        {{0, GiB, EPT_PERM_W, MEM_TYPE_WB}},                 /* write-only */
        {{0, GiB, EPT_PERM_W | EPT_PERM_X, MEM_TYPE_WB}},    /* write without read */
        {{0, GiB, EPT_PERM_X, MEM_TYPE_WB}},                 /* exec-only, no cap */
        {{0, GiB, 0, MEM_TYPE_WB}},                          /* no access */
        {{0, GiB, 0x17, MEM_TYPE_WB}},                       /* stray bit */
        {{0, GiB, RWX, 2}},                                  /* reserved type */
        {{0, GiB, RWX, 7}},                                  /* reserved type */
    };
    int want[] = {EPT_ERR_ALIGN, EPT_ERR_ALIGN, EPT_ERR_RANGE, EPT_ERR_RANGE,
                  EPT_ERR_RANGE, EPT_ERR_INVAL, EPT_ERR_INVAL, EPT_ERR_INVAL,
                  EPT_ERR_INVAL, EPT_ERR_INVAL, EPT_ERR_INVAL, EPT_ERR_INVAL};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(ept_build(&f->ept, bad[i], 1), want[i]);
        assert_int_equal(f->ept.tables, 1);
        assert_false(f->ept.changed);
    }
    struct ept_range overlap[] = {{0, 2 * MiB, RWX, MEM_TYPE_WB}, {MiB, 2 * MiB, RWX, MEM_TYPE_UC}};
    assert_int_equal(ept_build(&f->ept, overlap, 2), EPT_ERR_OVERLAP);
    assert_int_equal(f->ept.tables, 1);
    /* A refused rebuild keeps the map and the ranges restores rely on. */
    struct ept_range good[] = {{0, GiB, RWX, MEM_TYPE_WB}};
    assert_int_equal(ept_build(&f->ept, good, 1), EPT_OK);
    assert_int_equal(ept_trap_range(&f->ept, 0x5000, 0x1000, &owner_edu, 0), EPT_OK);
    assert_int_equal(ept_build(&f->ept, overlap, 2), EPT_ERR_OVERLAP);
    assert_int_equal(ept_build(&f->ept, bad[0], 1), EPT_ERR_ALIGN);
    assert_int_equal(f->ept.range_count, 1);
    assert_not_present(f, 0x5000);
    assert_int_equal(ept_restore_range(&f->ept, 0x5000, 0x1000), EPT_OK);
    assert_identity(f, 0x5000, 3, MEM_TYPE_WB);
    assert_int_equal(ept_build(&f->ept, NULL, 1), EPT_ERR_INVAL);
    fixture_free(f);
}

static void test_build_out_of_pool_returns_every_page(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(CAP_BASIC, NULL, 64);
    f->pool.limit = 4; /* PML4 + 3 more; 4 GiB in 2 MiB pages needs 6 */
    struct ept_range r[] = {{0, 4 * GiB, RWX, MEM_TYPE_WB}};
    assert_int_equal(ept_build(&f->ept, r, 1), EPT_ERR_NOMEM);
    assert_int_equal(f->ept.tables, 1);
    assert_int_equal(f->pool.in_use, 1);
    assert_not_present(f, 0);
    f->pool.limit = 64;
    assert_int_equal(ept_build(&f->ept, r, 1), EPT_OK);
    assert_identity(f, 0, 2, MEM_TYPE_WB);
    fixture_free(f);
}

static void test_build_twice_replaces_the_map(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(CAP_1G, NULL, 64);
    struct ept_range r1[] = {{0x1000, 0x5000, RWX, MEM_TYPE_WB}};
    struct ept_range r2[] = {{GiB, GiB, RWX, MEM_TYPE_UC}};
    assert_int_equal(ept_build(&f->ept, r1, 1), EPT_OK);
    assert_int_equal(f->ept.tables, 4);
    assert_int_equal(ept_build(&f->ept, r2, 1), EPT_OK);
    assert_int_equal(f->ept.tables, 2);
    assert_not_present(f, 0x1000);
    assert_identity(f, GiB, 3, MEM_TYPE_UC);
    fixture_free(f);
}

/* ---- runtime operations --------------------------------------------------------------- */

static struct fixture *fixture_ram_4g(uint64_t cap)
{
    struct mtrr_state m = mtrr_typical();
    struct fixture *f = fixture_new(cap, &m, 256);
    struct ept_range r[] = {{0, 4 * GiB, RWX, EPT_MT_FROM_MTRR}};
    assert_int_equal(ept_build(&f->ept, r, 1), EPT_OK);
    f->ept.changed = false;
    return f;
}

static void test_hide_range_makes_pages_not_present_and_is_idempotent(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint32_t before = f->ept.tables;
    /* The reserved region: 32 MiB + 12 KiB at an unaligned end. */
    uint64_t base = 0x7C000000, size = 32 * MiB + 0x3000;
    assert_int_equal(ept_hide_range(&f->ept, base, size), EPT_OK);
    assert_true(f->ept.changed);
    assert_identity(f, base - 4096, 2, MEM_TYPE_WB);
    assert_not_present(f, base);
    assert_not_present(f, base + size - 4096);
    assert_identity(f, base + size, 1, MEM_TYPE_WB);
    /* 1 GiB page at 1 GiB split to 2 MiB (1 PD), the 2 MiB page at the end to 4 KiB (1 PT). */
    assert_int_equal(f->ept.tables, before + 2);
    struct ept_region reg;
    assert_true(ept_lookup_region(&f->ept, base + 5, &reg));
    assert_int_equal(reg.kind, EPT_REGION_HIDDEN);
    check_invariants(f);
    f->ept.changed = false;
    assert_int_equal(ept_hide_range(&f->ept, base, size), EPT_OK);
    assert_false(f->ept.changed);
    assert_int_equal(f->ept.tables, before + 2);
    assert_int_equal(f->ept.regions.count, 1);
    /* A different range overlapping it is refused. */
    assert_int_equal(ept_hide_range(&f->ept, base + size - 4096, 8192), EPT_ERR_OVERLAP);
    fixture_free(f);
}

static void test_trap_range_splits_to_4k_at_the_edges_only(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint32_t before = f->ept.tables;
    uint64_t bar = 3 * GiB + 0x1005000; /* inside a 1 GiB UC page */
    assert_int_equal(ept_trap_range(&f->ept, bar, 0x1000, &owner_edu, 0), EPT_OK);
    assert_int_equal(f->ept.tables, before + 2); /* one PD, one PT */
    assert_not_present(f, bar);
    assert_not_present(f, bar + 0xFFF);
    assert_identity(f, bar - 4096, 1, MEM_TYPE_UC);
    assert_identity(f, bar + 4096, 1, MEM_TYPE_UC);
    assert_identity(f, bar - 0x5000 + 2 * MiB, 2, MEM_TYPE_UC);
    assert_identity(f, bar - 0x5000 - 1, 2, MEM_TYPE_UC);
    struct ept_region reg;
    assert_true(ept_lookup_region(&f->ept, bar + 0x10, &reg));
    assert_int_equal(reg.kind, EPT_REGION_TRAPPED);
    assert_ptr_equal(reg.owner, &owner_edu);
    assert_false(ept_lookup_region(&f->ept, bar + 0x1000, &reg));
    /* Same request again: nothing changes. */
    f->ept.changed = false;
    assert_int_equal(ept_trap_range(&f->ept, bar, 0x1000, &owner_edu, 0), EPT_OK);
    assert_false(f->ept.changed);
    assert_int_equal(f->ept.tables, before + 2);
    assert_int_equal(f->ept.regions.count, 1);
    fixture_free(f);
}

static void test_trap_2m_aligned_bar_needs_no_4k_table(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint32_t before = f->ept.tables;
    assert_int_equal(ept_trap_range(&f->ept, 3 * GiB, 4 * MiB, &owner_edu, 0), EPT_OK);
    assert_int_equal(f->ept.tables, before + 1);
    struct ept_leaf l = walk(f, 3 * GiB + MiB);
    assert_false(l.present);
    assert_int_equal(l.level, 2);
    fixture_free(f);
}

static void test_trap_refuses_bad_arguments_and_changes_nothing(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    assert_int_equal(ept_hide_range(&f->ept, 0x7E000000, 32 * MiB), EPT_OK);
    assert_int_equal(ept_trap_range(&f->ept, 3 * GiB, 0x4000, &owner_edu, 0), EPT_OK);
    f->ept.changed = false;
    uint32_t tables = f->ept.tables;
    size_t in_use = f->pool.in_use;
    struct {
        uint64_t gpa, size;
        void *owner;
        int want;
    } cases[] = {
        {0x7F000000, 0x1000, &owner_other, EPT_ERR_HIDDEN},        /* inside the hidden region */
        {0x7DFFF000, 0x2000, &owner_other, EPT_ERR_HIDDEN},        /* straddles its start */
        {3 * GiB + 0x3000, 0x2000, &owner_other, EPT_ERR_OVERLAP}, /* over the edu BAR */
        {3 * GiB, 0x4000, &owner_other, EPT_ERR_OVERLAP},          /* same place, other owner */
        {3 * GiB + 0x10800, 0x1000, &owner_other, EPT_ERR_ALIGN},
        {3 * GiB + 0x10000, 0x10, &owner_other, EPT_ERR_ALIGN},
        {3 * GiB + 0x10000, 0, &owner_other, EPT_ERR_RANGE},
        {(1ull << 39) - 0x1000, 0x2000, &owner_other, EPT_ERR_RANGE}, /* past MAXPHYADDR */
        {0xFFFFFFFFFFFFF000ull, 0x2000, &owner_other, EPT_ERR_RANGE}, /* wraps */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ept_trap_range(&f->ept, cases[i].gpa, cases[i].size, cases[i].owner, 0),
                         cases[i].want);
        assert_false(f->ept.changed);
        assert_int_equal(f->ept.tables, tables);
        assert_int_equal(f->pool.in_use, in_use);
        assert_int_equal(f->ept.regions.count, 2);
    }
    assert_identity(f, 3 * GiB + 0x10000, 1, MEM_TYPE_UC);
    /* Hiding over a trapped BAR is refused too. */
    assert_int_equal(ept_hide_range(&f->ept, 3 * GiB, 2 * MiB), EPT_ERR_OVERLAP);
    assert_false(f->ept.changed);
    fixture_free(f);
}

static void test_restore_merges_back_and_returns_every_page(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint32_t before = f->ept.tables;
    size_t pool_before = f->pool.in_use;
    uint64_t bar = 3 * GiB + 0x1000000 + 0x5000;
    assert_int_equal(ept_trap_range(&f->ept, bar, 0x3000, &owner_edu, 0), EPT_OK);
    assert_int_equal(ept_map_readonly(&f->ept, GiB + 0x3000, 0x10000, 0x2000, &owner_stats, 1),
                     EPT_OK);
    assert_true(f->ept.tables > before);
    f->ept.changed = false;
    assert_int_equal(ept_restore_range(&f->ept, bar, 0x3000), EPT_OK);
    assert_true(f->ept.changed);
    assert_int_equal(ept_restore_range(&f->ept, GiB + 0x3000, 0x2000), EPT_OK);
    assert_int_equal(f->ept.tables, before);
    assert_int_equal(f->pool.in_use, pool_before);
    assert_identity(f, bar, 3, MEM_TYPE_UC);
    assert_identity(f, GiB + 0x3000, 3, MEM_TYPE_WB);
    assert_int_equal(f->ept.regions.count, 0);
    /* Restoring again is a no-op. */
    f->ept.changed = false;
    assert_int_equal(ept_restore_range(&f->ept, bar, 0x3000), EPT_OK);
    assert_false(f->ept.changed);
    assert_int_equal(f->ept.tables, before);
    fixture_free(f);
}

static void test_restore_keeps_mtrr_splits_that_build_made(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint32_t before = f->ept.tables;
    /* Trap a page next to the VGA window and restore it: the first 2 MiB stay 4 KiB pages
     * with their fixed-range types, exactly as built. */
    assert_int_equal(ept_trap_range(&f->ept, 0xA0000, 0x1000, &owner_edu, 0), EPT_OK);
    assert_int_equal(f->ept.tables, before);
    assert_int_equal(ept_restore_range(&f->ept, 0xA0000, 0x1000), EPT_OK);
    assert_identity(f, 0xA0000, 1, MEM_TYPE_UC);
    assert_identity(f, 0x9F000, 1, MEM_TYPE_WB);
    assert_int_equal(f->ept.tables, before);
    fixture_free(f);
}

static void test_restore_refuses_to_cut_a_region(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    assert_int_equal(ept_hide_range(&f->ept, 0x7E000000, 32 * MiB), EPT_OK);
    f->ept.changed = false;
    assert_int_equal(ept_restore_range(&f->ept, 0x7E000000, 16 * MiB), EPT_ERR_OVERLAP);
    assert_int_equal(ept_restore_range(&f->ept, 0x7D000000, 32 * MiB), EPT_ERR_OVERLAP);
    assert_false(f->ept.changed);
    assert_not_present(f, 0x7E000000);
    assert_int_equal(ept_restore_range(&f->ept, 0x7E000000, 16 * MiB + 1), EPT_ERR_ALIGN);
    /* The whole region (and more) may be restored: the hypervisor's teardown. */
    assert_int_equal(ept_restore_range(&f->ept, 0x7C000000, 64 * MiB), EPT_OK);
    assert_identity(f, 0x7E000000, 3, MEM_TYPE_WB);
    assert_int_equal(f->ept.regions.count, 0);
    fixture_free(f);
}

static void test_map_readonly_maps_host_pages_for_reads_only(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint64_t gpa = 3 * GiB + 0x200000; /* a BAR in the UC MMIO area */
    uint64_t hpa = 0x7E010000;         /* hypervisor pages in WB RAM */
    assert_int_equal(ept_map_readonly(&f->ept, gpa, hpa, 0x2000, &owner_stats, 7), EPT_OK);
    struct ept_leaf l = walk(f, gpa + 0x1234);
    assert_true(l.present);
    assert_int_equal(l.level, 1);
    assert_int_equal(l.perm, EPT_PERM_R);
    assert_int_equal(l.hpa, hpa + 0x1234);
    assert_int_equal(l.mem_type, MEM_TYPE_WB); /* the host pages' type, not the BAR's */
    assert_identity(f, gpa + 0x2000, 1, MEM_TYPE_UC);
    struct ept_region reg;
    assert_true(ept_lookup_region(&f->ept, gpa + 0x1FFF, &reg));
    assert_int_equal(reg.kind, EPT_REGION_BACKED);
    assert_int_equal(reg.tag, 7);
    /* Idempotent; a different hpa for the same region is a different request. */
    f->ept.changed = false;
    assert_int_equal(ept_map_readonly(&f->ept, gpa, hpa, 0x2000, &owner_stats, 7), EPT_OK);
    assert_false(f->ept.changed);
    assert_int_equal(ept_map_readonly(&f->ept, gpa, hpa + 0x800, 0x2000, &owner_stats, 7),
                     EPT_ERR_ALIGN);
    assert_int_equal(ept_map_readonly(&f->ept, gpa + 0x4000, 1ull << 39, 0x1000, &owner_stats, 8),
                     EPT_ERR_RANGE);
    fixture_free(f);
}

static void test_map_readonly_uses_large_pages_when_aligned(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint32_t before = f->ept.tables;
    assert_int_equal(ept_map_readonly(&f->ept, 3 * GiB, GiB + 4 * MiB, 4 * MiB, &owner_stats, 0),
                     EPT_OK);
    struct ept_leaf l = walk(f, 3 * GiB + 3 * MiB);
    assert_int_equal(l.level, 2);
    assert_int_equal(l.perm, EPT_PERM_R);
    assert_int_equal(l.hpa, GiB + 7 * MiB);
    assert_int_equal(f->ept.tables, before + 1);
    fixture_free(f);
}

static void test_out_of_pool_changes_nothing(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    f->pool.limit = f->pool.in_use + 1; /* a 4 KiB trap in a 1 GiB page needs 2 */
    uint32_t tables = f->ept.tables;
    assert_int_equal(ept_trap_range(&f->ept, 3 * GiB + 0x5000, 0x1000, &owner_edu, 0),
                     EPT_ERR_NOMEM);
    assert_false(f->ept.changed);
    assert_int_equal(f->ept.tables, tables);
    assert_int_equal(f->pool.in_use, tables);
    assert_int_equal(f->ept.regions.count, 0);
    assert_identity(f, 3 * GiB + 0x5000, 3, MEM_TYPE_UC);
    f->pool.limit = f->pool.pages;
    assert_int_equal(ept_trap_range(&f->ept, 3 * GiB + 0x5000, 0x1000, &owner_edu, 0), EPT_OK);
    fixture_free(f);
}

static void test_full_region_table_refuses_before_touching_the_map(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    for (uint32_t i = 0; i < EPT_MAX_REGIONS; i++)
        assert_int_equal(ept_trap_range(&f->ept, 3 * GiB + i * 0x2000ull, 0x1000, &owner_edu, i),
                         EPT_OK);
    f->ept.changed = false;
    uint32_t tables = f->ept.tables;
    assert_int_equal(ept_trap_range(&f->ept, 2 * GiB, 0x1000, &owner_edu, 0), EPT_ERR_FULL);
    assert_int_equal(ept_hide_range(&f->ept, 2 * GiB, 0x1000), EPT_ERR_FULL);
    assert_int_equal(ept_map_readonly(&f->ept, 2 * GiB, 0, 0x1000, &owner_stats, 0), EPT_ERR_FULL);
    assert_false(f->ept.changed);
    assert_int_equal(f->ept.tables, tables);
    assert_identity(f, 2 * GiB, 3, MEM_TYPE_UC);
    /* The same request again is still fine: it needs no new entry. */
    assert_int_equal(ept_trap_range(&f->ept, 3 * GiB, 0x1000, &owner_edu, 0), EPT_OK);
    fixture_free(f);
}

static void test_change_needing_too_many_tables_is_refused_unchanged(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    /* 256 MiB read-only onto host pages that are only 4 KiB aligned: 128 page tables. */
    uint32_t tables = f->ept.tables;
    assert_int_equal(ept_map_readonly(&f->ept, 3 * GiB, GiB + 0x1000, 256 * MiB, &owner_stats, 0),
                     EPT_ERR_TOO_BIG);
    assert_false(f->ept.changed);
    assert_int_equal(f->ept.tables, tables);
    assert_int_equal(f->ept.regions.count, 0);
    fixture_free(f);
}

static void test_move_trap_restores_old_pages_and_traps_new_ones(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint32_t before = f->ept.tables;
    uint64_t old_bar = 3 * GiB + 0x1000000, new_bar = 3 * GiB + 0x2345000;
    assert_int_equal(ept_hide_range(&f->ept, 0x7E000000, 32 * MiB), EPT_OK);
    uint32_t with_hidden = f->ept.tables;
    assert_int_equal(ept_trap_range(&f->ept, old_bar, 0x1000, &owner_edu, 3), EPT_OK);
    assert_int_equal(ept_move_trap(&f->ept, old_bar, new_bar), EPT_OK);
    assert_identity(f, old_bar, 2, MEM_TYPE_UC); /* its 2 MiB page merged back */
    assert_not_present(f, new_bar);
    struct ept_region reg;
    assert_false(ept_lookup_region(&f->ept, old_bar, &reg));
    assert_true(ept_lookup_region(&f->ept, new_bar, &reg));
    assert_ptr_equal(reg.owner, &owner_edu);
    assert_int_equal(reg.tag, 3);
    /* Move by one page (the ranges overlap) inside the same 2 MiB page. */
    assert_int_equal(ept_trap_range(&f->ept, 3 * GiB + 0x3000000, 0x2000, &owner_other, 0), EPT_OK);
    assert_int_equal(ept_move_trap(&f->ept, 3 * GiB + 0x3000000, 3 * GiB + 0x3001000), EPT_OK);
    assert_identity(f, 3 * GiB + 0x3000000, 1, MEM_TYPE_UC);
    assert_not_present(f, 3 * GiB + 0x3001000);
    assert_not_present(f, 3 * GiB + 0x3002000);
    /* Errors: onto the hidden region, onto another BAR, unaligned, unknown, not a trap. */
    f->ept.changed = false;
    assert_int_equal(ept_move_trap(&f->ept, new_bar, 0x7E001000), EPT_ERR_HIDDEN);
    assert_int_equal(ept_move_trap(&f->ept, new_bar, 3 * GiB + 0x3002000), EPT_ERR_OVERLAP);
    assert_int_equal(ept_move_trap(&f->ept, new_bar, new_bar + 0x10), EPT_ERR_ALIGN);
    assert_int_equal(ept_move_trap(&f->ept, new_bar + 0x1000, 0), EPT_ERR_NOT_FOUND);
    assert_int_equal(ept_move_trap(&f->ept, 0x7E000000, 0), EPT_ERR_NOT_FOUND);
    assert_false(f->ept.changed);
    /* Moving everything back out and restoring leaves only the hidden region's tables. */
    assert_int_equal(ept_restore_range(&f->ept, new_bar, 0x1000), EPT_OK);
    assert_int_equal(ept_restore_range(&f->ept, 3 * GiB + 0x3001000, 0x2000), EPT_OK);
    assert_int_equal(f->ept.tables, with_hidden);
    assert_true(with_hidden > before);
    fixture_free(f);
}

static void test_merge_ignores_accessed_and_dirty_flags(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    uint32_t before = f->ept.tables;
    assert_int_equal(ept_trap_range(&f->ept, GiB + 0x5000, 0x1000, &owner_edu, 0), EPT_OK);
    /* The CPU sets A and D in the leaves it used (SDM Vol. 3C, 29.3.5). */
    struct ept_leaf l = walk(f, GiB + 0x4000);
    assert_int_equal(l.level, 1);
    struct ept_page_alloc a = test_pool_alloc(&f->pool);
    uint64_t *pdpt = a.phys_to_virt(a.ctx, f->ept.pml4[0] & EPT_ENTRY_ADDR_MASK);
    uint64_t *pd = a.phys_to_virt(a.ctx, pdpt[1] & EPT_ENTRY_ADDR_MASK);
    uint64_t *pt = a.phys_to_virt(a.ctx, pd[0] & EPT_ENTRY_ADDR_MASK);
    pt[4] |= EPT_ENTRY_ACCESSED | EPT_ENTRY_DIRTY;
    pt[100] |= EPT_ENTRY_ACCESSED;
    assert_int_equal(ept_restore_range(&f->ept, GiB + 0x5000, 0x1000), EPT_OK);
    assert_int_equal(f->ept.tables, before);
    assert_identity(f, GiB, 3, MEM_TYPE_WB);
    fixture_free(f);
}

static void test_walk_beyond_reach_fails_cleanly(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    struct ept_leaf l;
    assert_false(ept_walk(&f->ept, 1ull << 39, &l));
    assert_false(ept_walk(&f->ept, UINT64_MAX, &l));
    assert_true(ept_walk(&f->ept, (1ull << 39) - 1, &l));
    assert_false(l.present);
    assert_int_equal(l.level, 3); /* PML4 entry 0 reaches 512 GiB; its PDPT exists */
    fixture_free(f);
}

static void test_leaf_description_names_size_permissions_and_type(void **state)
{
    (void)state;
    struct fixture *f = fixture_ram_4g(CAP_1G);
    assert_int_equal(ept_map_readonly(&f->ept, 3 * GiB, 0x7E010000, 0x1000, &owner_stats, 0),
                     EPT_OK);
    assert_int_equal(ept_trap_range(&f->ept, 3 * GiB + 0x1000, 0x1000, &owner_edu, 0), EPT_OK);
    char buf[96];
    struct ept_leaf l = walk(f, GiB + 0x123);
    ept_leaf_describe(GiB + 0x123, &l, buf, sizeof(buf));
    assert_string_equal(buf, "gpa 0x40000123 -> hpa 0x40000123 1G RWX WB");
    l = walk(f, 3 * GiB + 8);
    ept_leaf_describe(3 * GiB + 8, &l, buf, sizeof(buf));
    assert_string_equal(buf, "gpa 0xc0000008 -> hpa 0x7e010008 4K R-- WB");
    l = walk(f, 3 * GiB + 0x1000);
    ept_leaf_describe(3 * GiB + 0x1000, &l, buf, sizeof(buf));
    assert_string_equal(buf, "gpa 0xc0001000 not present (4K)");
    l = walk(f, 3 * GiB + 2 * MiB);
    ept_leaf_describe(3 * GiB + 2 * MiB, &l, buf, sizeof(buf));
    assert_string_equal(buf, "gpa 0xc0200000 -> hpa 0xc0200000 2M RWX UC");
    /* Truncation is bounded and NUL-terminated. */
    int n = ept_leaf_describe(3 * GiB + 2 * MiB, &l, buf, 8);
    assert_int_equal(n, 42);
    assert_string_equal(buf, "gpa 0xc");
    assert_string_equal(mem_type_name(3), "??");
    fixture_free(f);
}

static void test_invept_picks_supported_type(void **state)
{
    (void)state;
    /* Only the capability checks run on the host; the instruction itself needs VMX root. */
    assert_int_equal(invept_single_context(0, 0), INVEPT_UNSUPPORTED);
    assert_int_equal(invept_single_context(EPT_CAP_INVEPT, 0), INVEPT_UNSUPPORTED);
    assert_int_equal(invept_all_context(EPT_CAP_INVEPT | EPT_CAP_INVEPT_SINGLE),
                     INVEPT_UNSUPPORTED);
    assert_int_equal(sizeof(struct invept_desc), 16);
}

/* ---- randomized comparison with a model -------------------------------------------------- */

enum model_kind { M_IDENTITY, M_NOT_PRESENT, M_READONLY };
struct model_op {
    uint64_t start, end, hpa;
    enum model_kind kind;
};

static uint8_t model_identity_type(const struct mtrr_state *m, uint64_t gpa)
{
    return mtrr_type_at(m, gpa);
}

/* Random hide/trap/read-only/restore/move sequences inside a 64 MiB window that straddles a
 * 1 GiB and an MTRR type boundary; after each step, sampled addresses (edges of every op and
 * random ones) translate as the model says, and the invariants hold. At the end everything
 * is restored and the table count is back to the built map's. */
static void test_random_operations_match_model_and_merge_back(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        struct fixture *f = fixture_ram_4g(variant ? CAP_BASIC : CAP_1G);
        uint32_t built = f->ept.tables;
        const uint64_t win = 2 * GiB - 32 * MiB; /* WB below 2 GiB, UC above */
        struct model_op ops[400];
        unsigned nops = 0;
        srand(1234 + variant);
        for (int step = 0; step < 200; step++) {
            uint64_t start = win + ((uint64_t)(rand() % 16384) << 12);
            uint64_t size = (uint64_t)(1 + rand() % (rand() % 4 ? 8 : 1024)) << 12;
            if (start + size > win + 64 * MiB)
                size = win + 64 * MiB - start;
            int kind = rand() % 4;
            int st;
            struct model_op op = {start, start + size, 0, M_IDENTITY};
            if (kind == 0) {
                st = ept_trap_range(&f->ept, start, size, &owner_edu, (uint32_t)step);
                op.kind = M_NOT_PRESENT;
            } else if (kind == 1) {
                op.hpa = (uint64_t)(rand() % 64) << (rand() % 2 ? 12 : 21);
                st = ept_map_readonly(&f->ept, start, op.hpa, size, &owner_stats, (uint32_t)step);
                op.kind = M_READONLY;
            } else if (kind == 2 && f->ept.regions.count > 0) {
                struct ept_region r = f->ept.regions.regions[rand() % f->ept.regions.count];
                st = ept_restore_range(&f->ept, r.base, r.size);
                op.start = r.base;
                op.end = r.base + r.size;
            } else {
                st = ept_restore_range(&f->ept, start, size);
            }
            if (st == EPT_OK)
                ops[nops++] = op;
            else
                assert_true(st == EPT_ERR_OVERLAP || st == EPT_ERR_TOO_BIG);
            if (nops == 400)
                break;
            check_invariants(f);
            /* Sample: the edges of the recent ops and random addresses. */
            for (int probe = 0; probe < 40; probe++) {
                uint64_t gpa;
                if (probe < 20 && nops > 0) {
                    const struct model_op *o =
                        &ops[nops - 1 - (unsigned)(rand() % (nops < 10 ? nops : 10))];
                    uint64_t cand[] = {o->start, o->end - 1, o->end, o->start - 1};
                    gpa = cand[probe % 4];
                } else {
                    gpa = win - 4 * MiB + (uint64_t)rand() % (72 * MiB);
                }
                const struct model_op *last = NULL;
                for (unsigned i = nops; i-- > 0;)
                    if (gpa >= ops[i].start && gpa < ops[i].end) {
                        last = &ops[i];
                        break;
                    }
                struct ept_leaf l = walk(f, gpa);
                if (!last || last->kind == M_IDENTITY) {
                    assert_true(l.present);
                    assert_int_equal(l.hpa, gpa);
                    assert_int_equal(l.perm, EPT_PERM_RWX);
                    assert_int_equal(l.mem_type, model_identity_type(&f->mtrr, gpa));
                } else if (last->kind == M_NOT_PRESENT) {
                    assert_false(l.present);
                } else {
                    assert_true(l.present);
                    assert_int_equal(l.perm, EPT_PERM_R);
                    uint64_t hpa = last->hpa + (gpa - last->start);
                    assert_int_equal(l.hpa, hpa);
                    assert_int_equal(l.mem_type, model_identity_type(&f->mtrr, hpa));
                }
                struct ept_region reg;
                bool in_region = ept_lookup_region(&f->ept, gpa, &reg);
                assert_int_equal(in_region, last && last->kind != M_IDENTITY);
            }
        }
        assert_int_equal(ept_restore_range(&f->ept, win, 64 * MiB), EPT_OK);
        assert_int_equal(f->ept.regions.count, 0);
        assert_int_equal(f->ept.tables, built);
        fixture_free(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eptp_is_wb_walk4_and_ad_only_when_supported),
        cmocka_unit_test(test_qualification_decodes_access_and_entry_permissions),
        cmocka_unit_test(test_status_names_are_distinct),
        cmocka_unit_test(test_init_rejects_unusable_capabilities),
        cmocka_unit_test(test_build_uses_1g_pages_when_supported),
        cmocka_unit_test(test_build_uses_2m_pages_without_1g_support),
        cmocka_unit_test(test_build_honours_no_1g_option),
        cmocka_unit_test(test_build_splits_to_4k_only_around_a_hole),
        cmocka_unit_test(test_build_splits_where_the_mtrr_type_changes),
        cmocka_unit_test(test_build_per_range_type_overrides_mtrr),
        cmocka_unit_test(test_build_merges_adjacent_ranges_with_equal_attributes),
        cmocka_unit_test(test_build_rejects_bad_ranges_without_building),
        cmocka_unit_test(test_build_out_of_pool_returns_every_page),
        cmocka_unit_test(test_build_twice_replaces_the_map),
        cmocka_unit_test(test_hide_range_makes_pages_not_present_and_is_idempotent),
        cmocka_unit_test(test_trap_range_splits_to_4k_at_the_edges_only),
        cmocka_unit_test(test_trap_2m_aligned_bar_needs_no_4k_table),
        cmocka_unit_test(test_trap_refuses_bad_arguments_and_changes_nothing),
        cmocka_unit_test(test_restore_merges_back_and_returns_every_page),
        cmocka_unit_test(test_restore_keeps_mtrr_splits_that_build_made),
        cmocka_unit_test(test_restore_refuses_to_cut_a_region),
        cmocka_unit_test(test_map_readonly_maps_host_pages_for_reads_only),
        cmocka_unit_test(test_map_readonly_uses_large_pages_when_aligned),
        cmocka_unit_test(test_out_of_pool_changes_nothing),
        cmocka_unit_test(test_full_region_table_refuses_before_touching_the_map),
        cmocka_unit_test(test_change_needing_too_many_tables_is_refused_unchanged),
        cmocka_unit_test(test_move_trap_restores_old_pages_and_traps_new_ones),
        cmocka_unit_test(test_merge_ignores_accessed_and_dirty_flags),
        cmocka_unit_test(test_walk_beyond_reach_fails_cleanly),
        cmocka_unit_test(test_leaf_description_names_size_permissions_and_type),
        cmocka_unit_test(test_invept_picks_supported_type),
        cmocka_unit_test(test_random_operations_match_model_and_merge_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
