#include "tests/ept/test_pool.h"

#include <stdlib.h>
#include <string.h>

void test_pool_init(struct test_pool *p, size_t pages)
{
    p->mem = aligned_alloc(4096, pages * 4096);
    p->used = calloc(pages, sizeof(bool));
    p->pages = pages;
    p->in_use = 0;
    p->limit = pages;
    p->bad_frees = 0;
    if (!p->mem || !p->used)
        abort();
}

void test_pool_fini(struct test_pool *p)
{
    free(p->mem);
    free(p->used);
    p->mem = NULL;
    p->used = NULL;
}

static void *pool_alloc_page(void *ctx, uint64_t *phys)
{
    struct test_pool *p = ctx;
    if (p->in_use >= p->limit)
        return NULL;
    for (size_t i = 0; i < p->pages; i++) {
        if (!p->used[i]) {
            p->used[i] = true;
            p->in_use++;
            memset(p->mem + i * 4096, 0xA5, 4096);
            *phys = TEST_POOL_PHYS_BASE + i * 4096;
            return p->mem + i * 4096;
        }
    }
    return NULL;
}

static void pool_free_page(void *ctx, void *virt, uint64_t phys)
{
    struct test_pool *p = ctx;
    uint64_t i = (phys - TEST_POOL_PHYS_BASE) / 4096;
    if (phys < TEST_POOL_PHYS_BASE || i >= p->pages || !p->used[i] || virt != p->mem + i * 4096 ||
        (phys & 4095)) {
        p->bad_frees++;
        return;
    }
    p->used[i] = false;
    p->in_use--;
    memset(virt, 0x5A, 4096); /* a freed table still in use would now read as garbage */
}

static void *pool_phys_to_virt(void *ctx, uint64_t phys)
{
    struct test_pool *p = ctx;
    uint64_t i = (phys - TEST_POOL_PHYS_BASE) / 4096;
    if (phys < TEST_POOL_PHYS_BASE || i >= p->pages)
        abort(); /* ept/ followed an entry that is not one of our tables */
    return p->mem + i * 4096;
}

struct ept_page_alloc test_pool_alloc(struct test_pool *p)
{
    struct ept_page_alloc a = {p, pool_alloc_page, pool_free_page, pool_phys_to_virt};
    return a;
}

bool test_pool_owns(const struct test_pool *p, uint64_t phys)
{
    uint64_t i = (phys - TEST_POOL_PHYS_BASE) / 4096;
    return phys >= TEST_POOL_PHYS_BASE && i < p->pages && p->used[i] && !(phys & 4095);
}
