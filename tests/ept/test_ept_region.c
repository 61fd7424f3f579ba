/* The GPA -> owner table: ordering, lookup at edges and between adjacent regions, overlap
 * and argument errors, idempotent insert, capacity, remove and move. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ept/region.h"

static int owner_a, owner_b, owner_c;

static struct ept_region region(uint64_t base, uint64_t size, enum ept_region_kind kind,
                                void *owner, uint32_t tag)
{
    struct ept_region r = {base, size, kind, tag, owner};
    return r;
}

static void assert_sorted_disjoint(const struct ept_region_table *t)
{
    for (uint32_t i = 0; i < t->count; i++) {
        assert_int_equal(t->bases[i], t->regions[i].base);
        if (i > 0)
            assert_true(t->regions[i - 1].base + t->regions[i - 1].size <= t->regions[i].base);
    }
}

static void test_region_insert_keeps_table_sorted(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    uint64_t bases[] = {0xC1000000, 0x1000, 0xFEB00000, 0x80000000, 0x2000};
    for (unsigned i = 0; i < 5; i++) {
        struct ept_region r = region(bases[i], 0x1000, EPT_REGION_TRAPPED, &owner_a, i);
        assert_int_equal(ept_region_insert(&t, &r), EPT_OK);
    }
    assert_int_equal(t.count, 5);
    assert_sorted_disjoint(&t);
    assert_int_equal(t.regions[0].base, 0x1000);
    assert_int_equal(t.regions[4].base, 0xFEB00000);
}

static void test_region_lookup_hits_first_and_last_byte_and_misses_outside(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    struct ept_region a = region(0xC1000000, 0x1000, EPT_REGION_TRAPPED, &owner_a, 0);
    struct ept_region b = region(0xC1001000, 0x3000, EPT_REGION_BACKED, &owner_b, 1); /* adjacent */
    struct ept_region h = region(0x7E000000, 0x2000000, EPT_REGION_HIDDEN, NULL, 0);
    assert_int_equal(ept_region_insert(&t, &a), EPT_OK);
    assert_int_equal(ept_region_insert(&t, &b), EPT_OK);
    assert_int_equal(ept_region_insert(&t, &h), EPT_OK);

    struct ept_region out;
    assert_false(ept_region_lookup(&t, 0xC0FFFFFF, &out));
    assert_true(ept_region_lookup(&t, 0xC1000000, &out));
    assert_ptr_equal(out.owner, &owner_a);
    assert_true(ept_region_lookup(&t, 0xC1000FFF, &out));
    assert_ptr_equal(out.owner, &owner_a);
    assert_true(ept_region_lookup(&t, 0xC1001000, &out)); /* the adjacent one starts here */
    assert_ptr_equal(out.owner, &owner_b);
    assert_int_equal(out.kind, EPT_REGION_BACKED);
    assert_int_equal(out.tag, 1);
    assert_true(ept_region_lookup(&t, 0xC1003FFF, &out));
    assert_false(ept_region_lookup(&t, 0xC1004000, &out));
    assert_true(ept_region_lookup(&t, 0x7FFFFFFF, &out));
    assert_int_equal(out.kind, EPT_REGION_HIDDEN);
    assert_false(ept_region_lookup(&t, 0x80000000, &out));
    assert_false(ept_region_lookup(&t, 0, &out));
    assert_false(ept_region_lookup(&t, UINT64_MAX, &out));
}

static void test_region_lookup_on_empty_table_misses(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    struct ept_region out;
    assert_false(ept_region_lookup(&t, 0, &out));
    assert_false(ept_region_lookup(&t, 0x1000, &out));
}

static void test_region_region_at_top_of_address_space(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    struct ept_region r = region(0xFFFFFFFFFFFFE000ull, 0x2000, EPT_REGION_TRAPPED, &owner_a, 0);
    assert_int_equal(ept_region_insert(&t, &r), EPT_ERR_RANGE); /* base + size wraps to 0 */
    r.size = 0x1000;
    assert_int_equal(ept_region_insert(&t, &r), EPT_OK);
    struct ept_region out;
    assert_true(ept_region_lookup(&t, 0xFFFFFFFFFFFFEFFFull, &out));
    assert_false(ept_region_lookup(&t, 0xFFFFFFFFFFFFF000ull, &out));
}

static void test_region_overlap_is_rejected_and_identical_insert_is_a_no_op(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    struct ept_region a = region(0x10000, 0x4000, EPT_REGION_TRAPPED, &owner_a, 2);
    assert_int_equal(ept_region_insert(&t, &a), EPT_OK);
    assert_int_equal(ept_region_insert(&t, &a), EPT_OK);
    assert_int_equal(t.count, 1);
    struct ept_region overl[] = {
        region(0xF000, 0x2000, EPT_REGION_TRAPPED, &owner_b, 0),  /* over the start */
        region(0x13000, 0x1000, EPT_REGION_TRAPPED, &owner_b, 0), /* the last page */
        region(0x8000, 0x10000, EPT_REGION_TRAPPED, &owner_b, 0), /* covers it all */
        region(0x10000, 0x4000, EPT_REGION_TRAPPED, &owner_b, 2), /* same place, other owner */
        region(0x10000, 0x4000, EPT_REGION_BACKED, &owner_a, 2),  /* same place, other kind */
        region(0x10000, 0x4000, EPT_REGION_TRAPPED, &owner_a, 3), /* same place, other tag */
    };
    for (unsigned i = 0; i < sizeof(overl) / sizeof(overl[0]); i++)
        assert_int_equal(ept_region_insert(&t, &overl[i]), EPT_ERR_OVERLAP);
    assert_int_equal(t.count, 1);
    struct ept_region before = region(0xF000, 0x1000, EPT_REGION_TRAPPED, &owner_b, 0);
    struct ept_region after = region(0x14000, 0x1000, EPT_REGION_TRAPPED, &owner_c, 0);
    assert_int_equal(ept_region_insert(&t, &before), EPT_OK);
    assert_int_equal(ept_region_insert(&t, &after), EPT_OK);
    assert_int_equal(t.count, 3);
    assert_sorted_disjoint(&t);
}

static void test_region_bad_arguments_are_rejected(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    struct ept_region r = region(0x1800, 0x1000, EPT_REGION_TRAPPED, &owner_a, 0);
    assert_int_equal(ept_region_insert(&t, &r), EPT_ERR_ALIGN);
    r = region(0x1000, 0x800, EPT_REGION_TRAPPED, &owner_a, 0);
    assert_int_equal(ept_region_insert(&t, &r), EPT_ERR_ALIGN);
    r = region(0x1000, 0, EPT_REGION_TRAPPED, &owner_a, 0);
    assert_int_equal(ept_region_insert(&t, &r), EPT_ERR_RANGE);
    r = region(0x1000, 0x1000, (enum ept_region_kind)7, &owner_a, 0);
    assert_int_equal(ept_region_insert(&t, &r), EPT_ERR_INVAL);
    assert_int_equal(t.count, 0);
}

static void test_region_full_table_refuses_without_change(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    for (uint32_t i = 0; i < EPT_MAX_REGIONS; i++) {
        struct ept_region r =
            region(0x100000 + 0x2000ull * i, 0x1000, EPT_REGION_TRAPPED, &owner_a, i);
        assert_int_equal(ept_region_insert(&t, &r), EPT_OK);
    }
    struct ept_region extra = region(0x1000, 0x1000, EPT_REGION_TRAPPED, &owner_b, 0);
    assert_int_equal(ept_region_insert(&t, &extra), EPT_ERR_FULL);
    assert_int_equal(t.count, EPT_MAX_REGIONS);
    assert_sorted_disjoint(&t);
    struct ept_region out;
    for (uint32_t i = 0; i < EPT_MAX_REGIONS; i++) {
        assert_true(ept_region_lookup(&t, 0x100000 + 0x2000ull * i + 0xFFF, &out));
        assert_int_equal(out.tag, i);
        assert_false(ept_region_lookup(&t, 0x101000 + 0x2000ull * i, &out));
    }
}

static void test_region_remove_by_exact_base(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    struct ept_region a = region(0x1000, 0x1000, EPT_REGION_TRAPPED, &owner_a, 0);
    struct ept_region b = region(0x2000, 0x2000, EPT_REGION_TRAPPED, &owner_b, 0);
    struct ept_region c = region(0x8000, 0x1000, EPT_REGION_TRAPPED, &owner_c, 0);
    ept_region_insert(&t, &a);
    ept_region_insert(&t, &b);
    ept_region_insert(&t, &c);
    assert_int_equal(ept_region_remove(&t, 0x3000), EPT_ERR_NOT_FOUND); /* inside b, not base */
    assert_int_equal(ept_region_remove(&t, 0x2000), EPT_OK);
    assert_int_equal(ept_region_remove(&t, 0x2000), EPT_ERR_NOT_FOUND);
    assert_int_equal(t.count, 2);
    struct ept_region out;
    assert_false(ept_region_lookup(&t, 0x2000, &out));
    assert_true(ept_region_lookup(&t, 0x8000, &out));
    assert_ptr_equal(out.owner, &owner_c);
    assert_sorted_disjoint(&t);
}

static void test_region_move_reorders_and_rejects_collisions(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    struct ept_region a = region(0x1000, 0x2000, EPT_REGION_TRAPPED, &owner_a, 5);
    struct ept_region b = region(0x10000, 0x1000, EPT_REGION_TRAPPED, &owner_b, 0);
    ept_region_insert(&t, &a);
    ept_region_insert(&t, &b);
    assert_int_equal(ept_region_move(&t, 0x1000, 0x20000), EPT_OK);
    assert_sorted_disjoint(&t);
    struct ept_region out;
    assert_false(ept_region_lookup(&t, 0x1000, &out));
    assert_true(ept_region_lookup(&t, 0x21FFF, &out));
    assert_ptr_equal(out.owner, &owner_a);
    assert_int_equal(out.tag, 5);
    /* Onto b: refused, table unchanged. */
    assert_int_equal(ept_region_move(&t, 0x20000, 0xF000), EPT_ERR_OVERLAP);
    assert_true(ept_region_lookup(&t, 0x20000, &out));
    assert_ptr_equal(out.owner, &owner_a);
    /* Overlapping its own old place is fine. */
    assert_int_equal(ept_region_move(&t, 0x20000, 0x21000), EPT_OK);
    assert_true(ept_region_lookup(&t, 0x22FFF, &out));
    assert_int_equal(ept_region_move(&t, 0x21000, 0x21800), EPT_ERR_ALIGN);
    assert_int_equal(ept_region_move(&t, 0x21000, 0xFFFFFFFFFFFFF000ull), EPT_ERR_RANGE);
    assert_int_equal(ept_region_move(&t, 0x5000, 0x30000), EPT_ERR_NOT_FOUND);
    assert_sorted_disjoint(&t);
}

/* Random inserts/removes/moves against a brute-force list: lookup agrees at region edges,
 * just outside them, and at random addresses. */
static void test_region_lookup_agrees_with_linear_scan_under_random_changes(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    srand(11);
    for (int step = 0; step < 3000; step++) {
        uint64_t base = (uint64_t)(rand() % 512) << 12;
        uint64_t size = (uint64_t)(1 + rand() % 4) << 12;
        int op = rand() % 3;
        if (op == 0) {
            struct ept_region r = region(base, size, EPT_REGION_TRAPPED, &owner_a, (uint32_t)step);
            ept_region_insert(&t, &r);
        } else if (op == 1 && t.count > 0) {
            ept_region_remove(&t, t.regions[rand() % t.count].base);
        } else if (t.count > 0) {
            ept_region_move(&t, t.regions[rand() % t.count].base, base);
        }
        assert_sorted_disjoint(&t);
        for (int probe = 0; probe < 8; probe++) {
            uint64_t gpa;
            if (probe < 4 && t.count > 0) {
                const struct ept_region *r = &t.regions[rand() % t.count];
                uint64_t cand[] = {r->base, r->base + r->size - 1, r->base + r->size, r->base - 1};
                gpa = cand[probe];
            } else {
                gpa = (uint64_t)rand() % (520ull << 12);
            }
            const struct ept_region *want = NULL;
            for (uint32_t i = 0; i < t.count; i++)
                if (gpa >= t.regions[i].base && gpa - t.regions[i].base < t.regions[i].size)
                    want = &t.regions[i];
            struct ept_region out;
            bool hit = ept_region_lookup(&t, gpa, &out);
            assert_int_equal(hit, want != NULL);
            if (hit) {
                assert_int_equal(out.base, want->base);
                assert_int_equal(out.tag, want->tag);
            }
        }
    }
}

/* The cached lookup answers as the search does after every kind of change (a move that keeps
 * the base but changes the owner's tag, removal, a move elsewhere), and it does hit. */
static void test_region_cached_lookup_agrees_with_search_under_random_changes(void **state)
{
    (void)state;
    struct ept_region_table t;
    ept_region_table_init(&t);
    struct ept_region_cache c;
    ept_region_cache_init(&c);
    srand(17);
    unsigned cache_hits = 0;
    for (int step = 0; step < 3000; step++) {
        uint64_t base = (uint64_t)(rand() % 64) << 12;
        uint64_t size = (uint64_t)(1 + rand() % 4) << 12;
        int op = rand() % 8; /* mostly lookups between changes, as on the exit path */
        if (op == 0) {
            struct ept_region r = region(base, size, EPT_REGION_TRAPPED, &owner_a, (uint32_t)step);
            ept_region_insert(&t, &r);
        } else if (op == 1 && t.count > 0) {
            ept_region_remove(&t, t.regions[rand() % t.count].base);
        } else if (op == 2 && t.count > 0) {
            ept_region_move(&t, t.regions[rand() % t.count].base, base);
        } else if (op == 3 && t.count > 0) {
            /* Remove and re-insert at the same place with another tag and kind. */
            struct ept_region r = t.regions[rand() % t.count];
            ept_region_remove(&t, r.base);
            r.tag ^= 0x55;
            r.kind = r.kind == EPT_REGION_TRAPPED ? EPT_REGION_HIDDEN : EPT_REGION_TRAPPED;
            ept_region_insert(&t, &r);
        }
        for (int probe = 0; probe < 6; probe++) {
            uint64_t gpa = probe < 3 && c.region.size
                               ? c.region.base + (uint64_t)rand() % (c.region.size + 8192) - 4096
                               : (uint64_t)rand() % (70ull << 12);
            struct ept_region want, got;
            memset(&want, 0, sizeof want);
            memset(&got, 0, sizeof got);
            uint64_t seq_before = c.seq;
            bool want_hit = ept_region_lookup(&t, gpa, &want);
            const struct ept_region *found = ept_region_lookup_cached(&t, gpa, &c);
            bool hit = found != NULL;
            if (hit)
                got = *found;
            cache_hits += hit && c.seq == seq_before;
            assert_int_equal(hit, want_hit);
            if (hit)
                assert_memory_equal(&got, &want, sizeof got);
        }
    }
    assert_true(cache_hits > 1000);
}

/* A lookup racing with a writer never returns a torn or wrong region: one thread keeps
 * inserting, moving and removing regions around a fixed one while another looks up the
 * fixed region (always a hit, always its own owner) and a never-covered address (always a
 * miss), and checks every hit on a moving region is one the writer really wrote. */
struct race {
    struct ept_region_table t;
    volatile int stop;
};

static void *race_writer(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 200000; i++) {
        uint64_t a = 0x10000 + ((uint64_t)(i % 7) << 12);
        struct ept_region m = region(a, 0x1000, EPT_REGION_TRAPPED, &owner_b, (uint32_t)(a >> 12));
        ept_region_insert(&r->t, &m);
        ept_region_move(&r->t, a, a + 0x20000);
        ept_region_remove(&r->t, a + 0x20000);
    }
    r->stop = 1;
    return NULL;
}

static void test_region_lookup_is_consistent_under_a_concurrent_writer(void **state)
{
    (void)state;
    static struct race r;
    ept_region_table_init(&r.t);
    r.stop = 0;
    struct ept_region fixed = region(0x18000, 0x2000, EPT_REGION_HIDDEN, &owner_a, 99);
    assert_int_equal(ept_region_insert(&r.t, &fixed), EPT_OK);
    pthread_t w;
    assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
    unsigned long checks = 0, moving_hits = 0;
    while (!r.stop) {
        struct ept_region out;
        assert_true(ept_region_lookup(&r.t, 0x19FFF, &out));
        assert_ptr_equal(out.owner, &owner_a);
        assert_int_equal(out.base, 0x18000);
        assert_false(ept_region_lookup(&r.t, 0x1A000 + 0x20000 * 4, &out));
        for (uint64_t a = 0x10000; a < 0x37000; a += 0x1000) {
            if (a >= 0x18000 && a < 0x1A000)
                continue;
            if (ept_region_lookup(&r.t, a, &out)) {
                moving_hits++;
                assert_ptr_equal(out.owner, &owner_b);
                assert_int_equal(out.base, a);
                assert_int_equal(out.size, 0x1000);
                assert_int_equal(out.tag, (a >= 0x30000 ? a - 0x20000 : a) >> 12);
            }
        }
        checks++;
    }
    pthread_join(w, NULL);
    assert_true(checks > 0);
    (void)moving_hits;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_insert_keeps_table_sorted),
        cmocka_unit_test(test_region_lookup_hits_first_and_last_byte_and_misses_outside),
        cmocka_unit_test(test_region_lookup_on_empty_table_misses),
        cmocka_unit_test(test_region_region_at_top_of_address_space),
        cmocka_unit_test(test_region_overlap_is_rejected_and_identical_insert_is_a_no_op),
        cmocka_unit_test(test_region_bad_arguments_are_rejected),
        cmocka_unit_test(test_region_full_table_refuses_without_change),
        cmocka_unit_test(test_region_remove_by_exact_base),
        cmocka_unit_test(test_region_move_reorders_and_rejects_collisions),
        cmocka_unit_test(test_region_lookup_agrees_with_linear_scan_under_random_changes),
        cmocka_unit_test(test_region_lookup_is_consistent_under_a_concurrent_writer),
        cmocka_unit_test(test_region_cached_lookup_agrees_with_search_under_random_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
