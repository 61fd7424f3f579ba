/* The GPA -> owner table. See ept/region.h. */
#include "ept/region.h"

#include <stddef.h>

#define REGION_PAGE_MASK 0xFFFull

void ept_region_table_init(struct ept_region_table *t)
{
    t->seq = 0;
    t->count = 0;
    for (unsigned i = 0; i < EPT_MAX_REGIONS; i++) {
        t->bases[i] = 0;
        t->regions[i] = (struct ept_region){0};
    }
}

static int region_check(uint64_t base, uint64_t size)
{
    if ((base | size) & REGION_PAGE_MASK)
        return EPT_ERR_ALIGN;
    if (size == 0 || base + size < base)
        return EPT_ERR_RANGE;
    return EPT_OK;
}

/* Writers bracket a change with seq odd/even so a concurrent lookup can tell it raced. */
static void region_write_begin(struct ept_region_table *t)
{
    __atomic_store_n(&t->seq, t->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void region_write_end(struct ept_region_table *t)
{
    __atomic_store_n(&t->seq, t->seq + 1, __ATOMIC_RELEASE);
}

/* Index of the last region whose base <= gpa, or -1. Branch-light: the loop has a fixed trip
 * count for a given count and the compare becomes a conditional move. */
static int region_search(const uint64_t *bases, uint32_t count, uint64_t gpa)
{
    if (count == 0)
        return -1;
    const uint64_t *b = bases;
    uint32_t n = count;
    while (n > 1) {
        uint32_t half = n / 2;
        b = (b[half] <= gpa) ? b + half : b;
        n -= half;
    }
    return (*b <= gpa) ? (int)(b - bases) : -1;
}

static bool ranges_intersect(uint64_t a, uint64_t asz, uint64_t b, uint64_t bsz)
{
    return a < b + bsz && b < a + asz;
}

bool ept_region_find_overlap(const struct ept_region_table *t, uint64_t base, uint64_t size,
                             struct ept_region *out)
{
    uint32_t count = t->count;
    if (count > EPT_MAX_REGIONS)
        count = EPT_MAX_REGIONS;
    if (size == 0)
        return false;
    /* Candidates: the last region starting at or before base, and the next one. */
    int i = region_search(t->bases, count, base);
    for (int k = (i < 0 ? 0 : i); k < (int)count && k <= i + 1; k++) {
        const struct ept_region *r = &t->regions[k];
        if (ranges_intersect(base, size, r->base, r->size)) {
            if (out)
                *out = *r;
            return true;
        }
    }
    return false;
}

static bool region_same(const struct ept_region *a, const struct ept_region *b)
{
    return a->base == b->base && a->size == b->size && a->kind == b->kind && a->owner == b->owner &&
           a->tag == b->tag;
}

static void region_insert_at(struct ept_region_table *t, uint32_t pos, const struct ept_region *r)
{
    for (uint32_t k = t->count; k > pos; k--) {
        t->bases[k] = t->bases[k - 1];
        t->regions[k] = t->regions[k - 1];
    }
    t->bases[pos] = r->base;
    t->regions[pos] = *r;
    t->count++;
}

static void region_remove_at(struct ept_region_table *t, uint32_t pos)
{
    for (uint32_t k = pos; k + 1 < t->count; k++) {
        t->bases[k] = t->bases[k + 1];
        t->regions[k] = t->regions[k + 1];
    }
    t->count--;
    t->bases[t->count] = 0;
    t->regions[t->count] = (struct ept_region){0};
}

int ept_region_insert(struct ept_region_table *t, const struct ept_region *r)
{
    int st = region_check(r->base, r->size);
    if (st != EPT_OK)
        return st;
    if (r->kind != EPT_REGION_TRAPPED && r->kind != EPT_REGION_HIDDEN &&
        r->kind != EPT_REGION_BACKED)
        return EPT_ERR_INVAL;
    struct ept_region old;
    if (ept_region_find_overlap(t, r->base, r->size, &old))
        return region_same(&old, r) ? EPT_OK : EPT_ERR_OVERLAP;
    if (t->count >= EPT_MAX_REGIONS)
        return EPT_ERR_FULL;
    int i = region_search(t->bases, t->count, r->base);
    region_write_begin(t);
    region_insert_at(t, (uint32_t)(i + 1), r);
    region_write_end(t);
    return EPT_OK;
}

static int region_index_of(const struct ept_region_table *t, uint64_t base)
{
    int i = region_search(t->bases, t->count, base);
    return (i >= 0 && t->bases[i] == base) ? i : -1;
}

int ept_region_remove(struct ept_region_table *t, uint64_t base)
{
    int i = region_index_of(t, base);
    if (i < 0)
        return EPT_ERR_NOT_FOUND;
    region_write_begin(t);
    region_remove_at(t, (uint32_t)i);
    region_write_end(t);
    return EPT_OK;
}

int ept_region_move(struct ept_region_table *t, uint64_t old_base, uint64_t new_base)
{
    int i = region_index_of(t, old_base);
    if (i < 0)
        return EPT_ERR_NOT_FOUND;
    struct ept_region r = t->regions[i];
    int st = region_check(new_base, r.size);
    if (st != EPT_OK)
        return st;
    if (new_base == old_base)
        return EPT_OK;
    /* Check the new place against every region but this one. */
    for (uint32_t k = 0; k < t->count; k++)
        if ((int)k != i &&
            ranges_intersect(new_base, r.size, t->regions[k].base, t->regions[k].size))
            return EPT_ERR_OVERLAP;
    r.base = new_base;
    region_write_begin(t);
    region_remove_at(t, (uint32_t)i);
    int j = region_search(t->bases, t->count, new_base);
    region_insert_at(t, (uint32_t)(j + 1), &r);
    region_write_end(t);
    return EPT_OK;
}

/* One consistent lookup; *seq_out is the (even) table sequence number it was made under. */
static bool lookup_at_seq(const struct ept_region_table *t, uint64_t gpa, struct ept_region *out,
                          uint64_t *seq_out)
{
    for (;;) {
        uint64_t seq = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            __builtin_ia32_pause();
            continue;
        }
        uint32_t count = __atomic_load_n(&t->count, __ATOMIC_RELAXED);
        if (count > EPT_MAX_REGIONS) /* only possible mid-change: clamp, then retry below */
            count = EPT_MAX_REGIONS;
        int i = region_search(t->bases, count, gpa);
        bool hit = false;
        struct ept_region r = {0};
        if (i >= 0) {
            r = t->regions[i];
            hit = gpa - r.base < r.size; /* r.base <= gpa: unsigned compare is the range test */
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&t->seq, __ATOMIC_RELAXED) != seq)
            continue;
        if (hit && out)
            *out = r;
        *seq_out = seq;
        return hit;
    }
}

bool ept_region_lookup(const struct ept_region_table *t, uint64_t gpa, struct ept_region *out)
{
    uint64_t seq;
    return lookup_at_seq(t, gpa, out, &seq);
}

void ept_region_cache_init(struct ept_region_cache *c)
{
    c->seq = 1; /* odd: never equal to a stable table's sequence number */
}

const struct ept_region *ept_region_lookup_cached(const struct ept_region_table *t, uint64_t gpa,
                                                  struct ept_region_cache *c)
{
    const struct ept_region *hit = ept_region_cache_hit(t, gpa, c);
    if (hit)
        return hit;
    uint64_t seq;
    struct ept_region r;
    if (!lookup_at_seq(t, gpa, &r, &seq))
        return 0;
    c->region = r;
    c->seq = seq;
    return &c->region;
}
