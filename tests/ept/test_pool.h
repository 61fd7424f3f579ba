/* A page pool for ept/ host tests: a malloc'd arena standing in for the hypervisor's
 * reserved region, with accounting so tests can prove every table page comes back.
 *
 * Physical addresses are deliberately unrelated to the host pointers (a fake base), so a
 * confusion of the two in ept/ shows up as a wrong walk or a crash under ASan. Pages are
 * handed out dirty (0xA5) because ept/ promises to fill every page it takes. */
#ifndef TRAPVISOR_TESTS_EPT_TEST_POOL_H
#define TRAPVISOR_TESTS_EPT_TEST_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ept/ept.h"

#define TEST_POOL_PHYS_BASE 0x0000007F00000000ull

struct test_pool {
    uint8_t *mem;
    size_t pages;
    bool *used;
    size_t in_use;    /* pages currently handed out */
    size_t limit;     /* alloc fails once in_use reaches this (tests of exhaustion) */
    size_t bad_frees; /* frees of pages not handed out (double free, foreign page) */
};

void test_pool_init(struct test_pool *p, size_t pages);
void test_pool_fini(struct test_pool *p);
struct ept_page_alloc test_pool_alloc(struct test_pool *p);
/* Whether phys is a page of this pool that is currently handed out. */
bool test_pool_owns(const struct test_pool *p, uint64_t phys);

#endif
