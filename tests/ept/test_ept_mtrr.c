/* MTRR memory-type computation (SDM Vol. 3A, 12.11): fixed ranges, variable ranges and their
 * precedence, default type, disabled MTRRs, and the uniform-block query the map builder
 * uses to pick page sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ept/mtrr.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Contiguous mask for a power-of-two size, valid bit set, with 36 address bits. */
static uint64_t var_mask(uint64_t size, unsigned maxphy)
{
    return (((1ull << maxphy) - 1) & ~(size - 1)) | MTRR_PHYSMASK_VALID;
}

static struct mtrr_state mtrr_enabled_state(uint8_t def)
{
    struct mtrr_state st = {0};
    st.cap = 8 | MTRRCAP_FIX | MTRRCAP_WC;
    st.def_type = MTRR_DEF_E | MTRR_DEF_FE | def;
    st.maxphyaddr = 36;
    return st;
}

static void set_var(struct mtrr_state *st, unsigned i, uint64_t base, uint64_t size, uint8_t type)
{
    st->var[i].base = base | type;
    st->var[i].mask = var_mask(size, st->maxphyaddr);
}

static uint64_t fill_bytes(uint8_t t)
{
    return 0x0101010101010101ull * t;
}

static void test_mtrr_disabled_gives_uc_everywhere(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_WB);
    set_var(&st, 0, 0, 2 * GiB, MEM_TYPE_WB);
    for (unsigned i = 0; i < MTRR_FIXED_MSRS; i++)
        st.fixed[i] = fill_bytes(MEM_TYPE_WB);
    st.def_type &= ~MTRR_DEF_E; /* E clear: FE and everything else ignored */
    assert_int_equal(mtrr_type_at(&st, 0), MEM_TYPE_UC);
    assert_int_equal(mtrr_type_at(&st, 0xC0000), MEM_TYPE_UC);
    assert_int_equal(mtrr_type_at(&st, GiB), MEM_TYPE_UC);
    uint8_t t = 0xEE;
    assert_true(mtrr_uniform_type(&st, 0, GiB, &t));
    assert_int_equal(t, MEM_TYPE_UC);
}

static void test_mtrr_default_type_where_no_variable_range_matches(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_UC);
    set_var(&st, 0, 0, 2 * GiB, MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 2 * GiB - 4096), MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 2 * GiB), MEM_TYPE_UC);
    assert_int_equal(mtrr_type_at(&st, 63 * GiB), MEM_TYPE_UC);
}

static void test_mtrr_fixed_ranges_map_each_slot(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_UC);
    set_var(&st, 0, 0, GiB, MEM_TYPE_WB);
    /* 64K_00000: slot k covers k*64K; put WT in slot 3 only. */
    st.fixed[0] = fill_bytes(MEM_TYPE_WB) & ~(0xFFull << 24);
    st.fixed[0] |= (uint64_t)MEM_TYPE_WT << 24;
    /* 16K_A0000 (VGA): UC; 16K_80000: WB except slot 7 (0x9C000) WP. */
    st.fixed[1] = (fill_bytes(MEM_TYPE_WB) & ~(0xFFull << 56)) | ((uint64_t)MEM_TYPE_WP << 56);
    st.fixed[2] = fill_bytes(MEM_TYPE_UC);
    /* 4K_C0000..: WP for the option ROMs at C0000..C7FFF, then WB, F8000 register: slot 5
     * (0xFD000) WC. */
    st.fixed[3] = fill_bytes(MEM_TYPE_WP);
    for (unsigned i = 4; i < 11; i++)
        st.fixed[i] = fill_bytes(MEM_TYPE_WB);
    st.fixed[10] = (st.fixed[10] & ~(0xFFull << 40)) | ((uint64_t)MEM_TYPE_WC << 40);

    assert_int_equal(mtrr_type_at(&st, 0x2FFFF), MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 0x30000), MEM_TYPE_WT);
    assert_int_equal(mtrr_type_at(&st, 0x3FFFF), MEM_TYPE_WT);
    assert_int_equal(mtrr_type_at(&st, 0x40000), MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 0x9BFFF), MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 0x9C000), MEM_TYPE_WP);
    assert_int_equal(mtrr_type_at(&st, 0xA0000), MEM_TYPE_UC);
    assert_int_equal(mtrr_type_at(&st, 0xBFFFF), MEM_TYPE_UC);
    assert_int_equal(mtrr_type_at(&st, 0xC7FFF), MEM_TYPE_WP);
    assert_int_equal(mtrr_type_at(&st, 0xC8000), MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 0xFCFFF), MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 0xFD000), MEM_TYPE_WC);
    assert_int_equal(mtrr_type_at(&st, 0xFE000), MEM_TYPE_WB);
    /* Past 1 MiB the variable ranges apply again. */
    assert_int_equal(mtrr_type_at(&st, 0x100000), MEM_TYPE_WB);
}

static void test_mtrr_fixed_ranges_ignored_when_fe_clear_or_unsupported(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_UC);
    set_var(&st, 0, 0, GiB, MEM_TYPE_WB);
    st.fixed[2] = fill_bytes(MEM_TYPE_UC);
    assert_int_equal(mtrr_type_at(&st, 0xA0000), MEM_TYPE_UC);
    st.def_type &= ~MTRR_DEF_FE;
    assert_int_equal(mtrr_type_at(&st, 0xA0000), MEM_TYPE_WB);
    st.def_type |= MTRR_DEF_FE;
    st.cap &= ~MTRRCAP_FIX;
    assert_int_equal(mtrr_type_at(&st, 0xA0000), MEM_TYPE_WB);
}

static void test_mtrr_overlap_uc_wins_over_everything(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_WB);
    set_var(&st, 0, 0, 4 * GiB, MEM_TYPE_WB);
    set_var(&st, 1, 3 * GiB, GiB, MEM_TYPE_UC);
    set_var(&st, 2, 3 * GiB, 512 * MiB, MEM_TYPE_WT);
    assert_int_equal(mtrr_type_at(&st, 3 * GiB), MEM_TYPE_UC);
    assert_int_equal(mtrr_type_at(&st, 3 * GiB - 4096), MEM_TYPE_WB);
}

static void test_mtrr_overlap_wt_wins_over_wb(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_UC);
    set_var(&st, 0, 0, 4 * GiB, MEM_TYPE_WB);
    set_var(&st, 1, 2 * GiB, 256 * MiB, MEM_TYPE_WT);
    assert_int_equal(mtrr_type_at(&st, 2 * GiB + 4096), MEM_TYPE_WT);
    assert_int_equal(mtrr_type_at(&st, 2 * GiB + 256 * MiB), MEM_TYPE_WB);
}

static void test_mtrr_undefined_overlap_gives_uc(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_UC);
    set_var(&st, 0, 0, 4 * GiB, MEM_TYPE_WB);
    set_var(&st, 1, 2 * GiB, 256 * MiB, MEM_TYPE_WC);
    assert_int_equal(mtrr_type_at(&st, 2 * GiB), MEM_TYPE_UC);
    /* The same type twice is that type. */
    set_var(&st, 1, 2 * GiB, 256 * MiB, MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 2 * GiB), MEM_TYPE_WB);
}

static void test_mtrr_invalid_variable_range_is_ignored(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_WB);
    set_var(&st, 0, 0, GiB, MEM_TYPE_UC);
    st.var[0].mask &= ~MTRR_PHYSMASK_VALID;
    assert_int_equal(mtrr_type_at(&st, 0x200000), MEM_TYPE_WB);
    /* A valid range beyond VCNT is ignored too. */
    st.cap = (st.cap & ~MTRRCAP_VCNT_MASK) | 1;
    set_var(&st, 1, 0, GiB, MEM_TYPE_UC);
    assert_int_equal(mtrr_type_at(&st, 0x200000), MEM_TYPE_WB);
}

static void test_mtrr_reserved_type_value_reads_as_uc(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_WB);
    set_var(&st, 0, GiB, GiB, 2 /* reserved */);
    assert_int_equal(mtrr_type_at(&st, GiB), MEM_TYPE_UC);
    st.def_type = MTRR_DEF_E | 7; /* reserved default */
    assert_int_equal(mtrr_type_at(&st, 8 * GiB), MEM_TYPE_UC);
}

static void test_mtrr_mask_compares_only_bits_below_maxphyaddr(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_UC);
    st.maxphyaddr = 39;
    /* A 2 GiB WB range whose mask also has bits above MAXPHYADDR (reserved, ignored). */
    st.var[0].base = MEM_TYPE_WB;
    st.var[0].mask = (0xFFFFFFFFFFFFF000ull & ~(2 * GiB - 1)) | MTRR_PHYSMASK_VALID;
    assert_int_equal(mtrr_type_at(&st, GiB), MEM_TYPE_WB);
    assert_int_equal(mtrr_type_at(&st, 2 * GiB), MEM_TYPE_UC);
}

static void test_mtrr_uniform_block_inside_and_across_a_boundary(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_UC);
    set_var(&st, 0, 0, 2 * GiB, MEM_TYPE_WB);
    set_var(&st, 1, GiB + 1 * MiB, MiB, MEM_TYPE_UC); /* a 1 MiB hole in a 2 MiB page */
    uint8_t t = 0;
    assert_true(mtrr_uniform_type(&st, GiB + 2 * MiB, 2 * MiB, &t));
    assert_int_equal(t, MEM_TYPE_WB);
    assert_false(mtrr_uniform_type(&st, GiB, 2 * MiB, &t));
    assert_false(mtrr_uniform_type(&st, GiB, GiB, &t));
    assert_true(mtrr_uniform_type(&st, GiB + MiB, 4096, &t));
    assert_int_equal(t, MEM_TYPE_UC);
    assert_true(mtrr_uniform_type(&st, GiB + MiB - 4096, 4096, &t));
    assert_int_equal(t, MEM_TYPE_WB);
    /* The 2 GiB boundary: a 1 GiB block on either side is uniform, the 4 GiB block not. */
    assert_true(mtrr_uniform_type(&st, 2 * GiB, GiB, &t));
    assert_int_equal(t, MEM_TYPE_UC);
    assert_false(mtrr_uniform_type(&st, 0, 4 * GiB, &t));
}

static void test_mtrr_uniform_rejects_unaligned_or_odd_blocks(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_WB);
    uint8_t t;
    assert_false(mtrr_uniform_type(&st, 4096, 2 * MiB, &t));
    assert_false(mtrr_uniform_type(&st, 0, 3 * 4096, &t));
    assert_false(mtrr_uniform_type(&st, 0, 0, &t));
    assert_false(mtrr_uniform_type(&st, 0, 512, &t));
}

static void test_mtrr_uniform_first_mib_follows_fixed_ranges(void **state)
{
    (void)state;
    struct mtrr_state st = mtrr_enabled_state(MEM_TYPE_UC);
    set_var(&st, 0, 0, GiB, MEM_TYPE_WB);
    for (unsigned i = 0; i < MTRR_FIXED_MSRS; i++)
        st.fixed[i] = fill_bytes(MEM_TYPE_WB);
    uint8_t t = 0;
    assert_true(mtrr_uniform_type(&st, 0, 2 * MiB, &t));
    assert_int_equal(t, MEM_TYPE_WB);
    st.fixed[2] = fill_bytes(MEM_TYPE_UC); /* VGA window UC */
    assert_false(mtrr_uniform_type(&st, 0, 2 * MiB, &t));
    assert_true(mtrr_uniform_type(&st, 0x80000, 0x20000, &t));
    assert_int_equal(t, MEM_TYPE_WB);
    assert_true(mtrr_uniform_type(&st, 0xA0000, 4096, &t));
    assert_int_equal(t, MEM_TYPE_UC);
    assert_true(mtrr_uniform_type(&st, 0x9F000, 4096, &t));
    assert_int_equal(t, MEM_TYPE_WB);
    assert_true(mtrr_uniform_type(&st, 0x100000, 4096, &t));
    assert_int_equal(t, MEM_TYPE_WB);
    /* Fixed ranges WB but the variable ranges say UC above 1 MiB: the 2 MiB block at 0
     * mixes the two. */
    for (unsigned i = 0; i < MTRR_FIXED_MSRS; i++)
        st.fixed[i] = fill_bytes(MEM_TYPE_WB);
    st.var[0].mask &= ~MTRR_PHYSMASK_VALID;
    assert_false(mtrr_uniform_type(&st, 0, 2 * MiB, &t));
    assert_true(mtrr_uniform_type(&st, 0, MiB, &t));
    assert_int_equal(t, MEM_TYPE_WB);
}

/* Property: on random MTRR sets with contiguous masks, the block query is exact — it says
 * uniform with type T exactly when every 4 KiB page of the block has type T; with a
 * non-contiguous mask (or across 1 MiB) it may refuse, but a "uniform" answer is right. */
static void test_mtrr_uniform_is_exact_for_contiguous_masks_and_never_wrong(void **state)
{
    (void)state;
    static const uint8_t types[] = {MEM_TYPE_UC, MEM_TYPE_WC, MEM_TYPE_WT, MEM_TYPE_WP,
                                    MEM_TYPE_WB};
    srand(4);
    for (int iter = 0; iter < 300; iter++) {
        struct mtrr_state st = mtrr_enabled_state(types[rand() % 5]);
        st.maxphyaddr = 36;
        if (rand() % 4 == 0)
            st.def_type &= ~MTRR_DEF_FE;
        for (unsigned i = 0; i < MTRR_FIXED_MSRS; i++)
            st.fixed[i] = fill_bytes(types[rand() % 2 ? 4 : rand() % 5]);
        bool noncontig = rand() % 5 == 0;
        unsigned n = 1 + rand() % 5;
        for (unsigned i = 0; i < n; i++) {
            uint64_t size = 4096ull << (rand() % 12); /* 4 KiB .. 8 MiB */
            uint64_t base = ((uint64_t)(rand() % 8) * size) & ((1ull << 24) - 1);
            set_var(&st, i, base & ~(size - 1), size, types[rand() % 5]);
            if (noncontig && i == 0)
                st.var[i].mask &= ~(size << 1); /* a hole in the mask: scattered matches */
        }
        uint64_t size = 4096ull << (rand() % 12);
        uint64_t base = ((uint64_t)(rand() % 8) * size) & ((1ull << 24) - 1);
        uint8_t first = mtrr_type_at(&st, base);
        bool same = true;
        for (uint64_t a = base; a < base + size; a += 4096) {
            uint8_t ta = mtrr_type_at(&st, a);
            assert_int_equal(ta, mtrr_type_at(&st, a + 4095)); /* constant inside 4 KiB */
            if (ta != first)
                same = false;
        }
        uint8_t t = 0xEE;
        bool uni = mtrr_uniform_type(&st, base, size, &t);
        if (noncontig || (base < MTRR_FIXED_END && base + size > MTRR_FIXED_END)) {
            /* Here the query may be conservative, never wrong. */
            if (uni) {
                assert_true(same);
                assert_int_equal(t, first);
            }
            continue;
        }
        assert_int_equal(uni, same);
        if (uni)
            assert_int_equal(t, first);
    }
}

static void test_mtrr_fixed_msr_numbers(void **state)
{
    (void)state;
    assert_int_equal(mtrr_state_fixed_msr(0), 0x250);
    assert_int_equal(mtrr_state_fixed_msr(1), 0x258);
    assert_int_equal(mtrr_state_fixed_msr(2), 0x259);
    assert_int_equal(mtrr_state_fixed_msr(3), 0x268);
    assert_int_equal(mtrr_state_fixed_msr(10), 0x26F);
    assert_int_equal(mtrr_state_fixed_msr(11), 0);
}

static void test_mtrr_combine_rules(void **state)
{
    (void)state;
    assert_int_equal(mtrr_combine_types(0, MEM_TYPE_WP), MEM_TYPE_WP);
    assert_int_equal(mtrr_combine_types(1u << MEM_TYPE_WC, MEM_TYPE_UC), MEM_TYPE_WC);
    assert_int_equal(mtrr_combine_types((1u << MEM_TYPE_WT) | (1u << MEM_TYPE_WB), MEM_TYPE_UC),
                     MEM_TYPE_WT);
    assert_int_equal(mtrr_combine_types((1u << MEM_TYPE_UC) | (1u << MEM_TYPE_WB), MEM_TYPE_WB),
                     MEM_TYPE_UC);
    assert_int_equal(mtrr_combine_types((1u << MEM_TYPE_WP) | (1u << MEM_TYPE_WB), MEM_TYPE_WB),
                     MEM_TYPE_UC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mtrr_disabled_gives_uc_everywhere),
        cmocka_unit_test(test_mtrr_default_type_where_no_variable_range_matches),
        cmocka_unit_test(test_mtrr_fixed_ranges_map_each_slot),
        cmocka_unit_test(test_mtrr_fixed_ranges_ignored_when_fe_clear_or_unsupported),
        cmocka_unit_test(test_mtrr_overlap_uc_wins_over_everything),
        cmocka_unit_test(test_mtrr_overlap_wt_wins_over_wb),
        cmocka_unit_test(test_mtrr_undefined_overlap_gives_uc),
        cmocka_unit_test(test_mtrr_invalid_variable_range_is_ignored),
        cmocka_unit_test(test_mtrr_reserved_type_value_reads_as_uc),
        cmocka_unit_test(test_mtrr_mask_compares_only_bits_below_maxphyaddr),
        cmocka_unit_test(test_mtrr_uniform_block_inside_and_across_a_boundary),
        cmocka_unit_test(test_mtrr_uniform_rejects_unaligned_or_odd_blocks),
        cmocka_unit_test(test_mtrr_uniform_first_mib_follows_fixed_ranges),
        cmocka_unit_test(test_mtrr_uniform_is_exact_for_contiguous_masks_and_never_wrong),
        cmocka_unit_test(test_mtrr_fixed_msr_numbers),
        cmocka_unit_test(test_mtrr_combine_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
