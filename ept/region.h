/* The GPA -> owner table: which guest-physical ranges Trapvisor owns, and who serves them.
 *
 * Used on every EPT-violation exit (DESIGN.md, "The MMIO path"), so lookup is a branch-light
 * binary search over a sorted array of fixed capacity: no allocation, O(log n).
 *
 * Concurrency: writers (insert/remove/move) must be serialized by the caller (the EPT owner
 * holds one lock for map changes). Lookups may run on any CPU at the same time as a writer:
 * a sequence counter makes a lookup retry when it overlapped a change, and every index is
 * clamped to the capacity, so a racing reader never reads out of bounds. */
#ifndef TRAPVISOR_EPT_REGION_H
#define TRAPVISOR_EPT_REGION_H

#include <stdbool.h>
#include <stdint.h>

#include "ept/status.h"

#define EPT_MAX_REGIONS 64u

enum ept_region_kind {
    EPT_REGION_TRAPPED = 1, /* not present in EPT; accesses go to a device model */
    EPT_REGION_HIDDEN = 2,  /* not present in EPT; Trapvisor's own memory */
    EPT_REGION_BACKED = 3,  /* read-only mapping of hypervisor pages; writes exit */
};

struct ept_region {
    uint64_t base; /* guest-physical, 4 KiB aligned */
    uint64_t size; /* bytes, 4 KiB multiple, > 0 */
    enum ept_region_kind kind;
    uint32_t tag; /* owner's own number (e.g. BAR index) */
    void *owner;  /* e.g. the struct pci_function / device serving it */
};

struct ept_region_table {
    uint64_t seq;   /* odd while a writer is changing the table (64 bits: never wraps) */
    uint32_t count; /* entries in use, sorted by base, never overlapping */
    /* Bases in their own array so the search touches as few cache lines as possible. */
    uint64_t bases[EPT_MAX_REGIONS];
    struct ept_region regions[EPT_MAX_REGIONS];
};

void ept_region_table_init(struct ept_region_table *t);

/* Adds a region. EPT_OK; EPT_ERR_RANGE (size 0, base + size wraps), EPT_ERR_ALIGN (not
 * 4 KiB aligned), EPT_ERR_OVERLAP (intersects an existing region; an identical region, same
 * base/size/kind/owner/tag, is not an error: inserting twice is a no-op), EPT_ERR_FULL. */
int ept_region_insert(struct ept_region_table *t, const struct ept_region *r);

/* Removes the region that starts exactly at base. EPT_OK or EPT_ERR_NOT_FOUND. */
int ept_region_remove(struct ept_region_table *t, uint64_t base);

/* Moves the region starting at old_base to new_base (same size, kind, owner, tag).
 * EPT_OK; EPT_ERR_NOT_FOUND; EPT_ERR_ALIGN/EPT_ERR_RANGE for a bad new_base;
 * EPT_ERR_OVERLAP if the new place intersects another region (the table is unchanged). */
int ept_region_move(struct ept_region_table *t, uint64_t old_base, uint64_t new_base);

/* Finds the region containing gpa and copies it to *out. Safe against concurrent writers. */
bool ept_region_lookup(const struct ept_region_table *t, uint64_t gpa, struct ept_region *out);

/* A one-entry cache of the last region found, for a lookup that runs on every exit (the MMIO
 * path keeps one per CPU; a cache is used by one CPU at a time). */
struct ept_region_cache {
    uint64_t seq; /* table seq the region was read under; odd = empty (so is all zeroes:
                     a region of size 0 holds no address) */
    struct ept_region region;
};

void ept_region_cache_init(struct ept_region_cache *c);

/* ept_region_lookup with the cache: the same answer (tests/ept check it), without the search
 * while the table is unchanged since the cached region was found and gpa is in it. Returns the
 * cache's copy of the region (valid until the next lookup with this cache), NULL for none. */
const struct ept_region *ept_region_lookup_cached(const struct ept_region_table *t, uint64_t gpa,
                                                  struct ept_region_cache *c);

/* The cache's answer alone, inline for the exit path: the cached region when the table is
 * unchanged (writers make seq odd before they change anything and bump it again after, so an
 * equal even seq means the table the region was read from) and gpa is in it, else NULL (then
 * ept_region_lookup_cached). */
static inline const struct ept_region *ept_region_cache_hit(const struct ept_region_table *t,
                                                            uint64_t gpa,
                                                            const struct ept_region_cache *c)
{
    if (__atomic_load_n(&t->seq, __ATOMIC_ACQUIRE) == c->seq &&
        gpa - c->region.base < c->region.size)
        return &c->region;
    return 0;
}

/* Whether any region intersects [base, base + size); the first one found goes to *out
 * (may be NULL). */
bool ept_region_find_overlap(const struct ept_region_table *t, uint64_t base, uint64_t size,
                             struct ept_region *out);

#endif
