/* The guest-physical map. See ept/ept.h for the contract.
 *
 * One recursive engine applies an operation to a guest-physical range: at each entry whose
 * reach lies wholly inside the range it tries to express the result as one entry (a leaf of
 * that size, or not present); otherwise it makes sure a table exists there (splitting a
 * large leaf into 512 equivalent children, or creating an empty table) and descends. On the
 * way back up, a table whose 512 entries have become uniform again is merged into one entry
 * and its page returned to the pool. A dry run of the same decisions counts the tables a
 * runtime operation will need, so they are taken from the pool before anything changes. */
#include "ept/ept.h"

#define EPT_ENTRIES 512u
#define EPT_AD_BITS (EPT_ENTRY_ACCESSED | EPT_ENTRY_DIRTY)
/* Bits that describe a leaf apart from its address and the A/D flags the CPU may set. */
#define EPT_LEAF_ATTR (EPT_PERM_MASK | EPT_ENTRY_MT_MASK | EPT_ENTRY_IGNORE_PAT)
/* A NOT_PRESENT operation needs new tables only at its two edges, one per level below the
 * PML4 on each side (levels 4, 3 and 2 may each need a child table). */
#define EPT_EDGE_TABLES (2u * (EPT_LEVELS - 1))

enum ept_op_kind {
    EPT_OP_IDENTITY,    /* back to the identity map of the recorded ranges */
    EPT_OP_NOT_PRESENT, /* hidden or trapped */
    EPT_OP_READONLY,    /* read-only onto host pages at hpa */
};

struct ept_op {
    enum ept_op_kind kind;
    uint64_t start, end; /* [start, end), 4 KiB aligned */
    uint64_t hpa;        /* EPT_OP_READONLY: host address of `start` */
};

const char *ept_status_name(int status)
{
    switch (status) {
    case EPT_OK:
        return "ok";
    case EPT_ERR_ALIGN:
        return "unaligned";
    case EPT_ERR_RANGE:
        return "out of range";
    case EPT_ERR_OVERLAP:
        return "overlaps a region";
    case EPT_ERR_HIDDEN:
        return "overlaps the hidden region";
    case EPT_ERR_NOMEM:
        return "page-table pool exhausted";
    case EPT_ERR_FULL:
        return "table full";
    case EPT_ERR_NOT_FOUND:
        return "no such region";
    case EPT_ERR_TOO_BIG:
        return "change too large for one operation";
    case EPT_ERR_INVAL:
        return "invalid argument";
    default:
        return "unknown status";
    }
}

/* ---- encodings ------------------------------------------------------------------------ */

uint64_t ept_eptp_encode(uint64_t pml4_phys, uint64_t cap, bool want_ad)
{
    if (!(cap & EPT_CAP_PWL4))
        return 0;
    uint64_t mt;
    if (cap & EPT_CAP_WB)
        mt = MEM_TYPE_WB;
    else if (cap & EPT_CAP_UC)
        mt = MEM_TYPE_UC;
    else
        return 0;
    /* Page-walk length field holds the number of levels minus one (SDM Vol. 3C, 25.6.11). */
    uint64_t eptp = (pml4_phys & EPT_ENTRY_ADDR_MASK) | mt | (3ull << EPTP_PWL_SHIFT);
    if (want_ad && (cap & EPT_CAP_AD))
        eptp |= EPTP_AD_ENABLE;
    return eptp;
}

struct ept_violation ept_decode_violation(uint64_t q)
{
    struct ept_violation v;
    v.read = q & (1ull << 0);
    v.write = q & (1ull << 1);
    v.fetch = q & (1ull << 2);
    v.readable = q & (1ull << 3);
    v.writable = q & (1ull << 4);
    v.executable = q & (1ull << 5);
    v.user_executable = q & (1ull << 6);
    v.gla_valid = q & (1ull << 7);
    /* Bit 8 is defined only when bit 7 is set (SDM Vol. 3C, Table 28-7). */
    v.gla_translation = v.gla_valid && (q & (1ull << 8));
    v.user_linear = q & (1ull << 9);
    v.writable_linear = q & (1ull << 10);
    v.nx_linear = q & (1ull << 11);
    v.nmi_unblocking = q & (1ull << 12);
    v.shadow_stack = q & (1ull << 13);
    v.supervisor_ss = q & (1ull << 14);
    v.paging_verify = q & (1ull << 15);
    v.asynchronous = q & (1ull << 16);
    v.perm = (uint8_t)((q >> 3) & EPT_PERM_MASK);
    return v;
}

/* ---- entries and levels ----------------------------------------------------------------- */

static uint64_t level_size(int level)
{
    return 1ull << (12 + 9 * (level - 1));
}

static unsigned level_index(uint64_t gpa, int level)
{
    return (unsigned)(gpa >> (12 + 9 * (level - 1))) & (EPT_ENTRIES - 1);
}

/* Which levels may hold a leaf: PTEs always, PDEs with 2 MiB support, PDPTEs with 1 GiB
 * support (SDM Vol. 3C, 29.3.2); a PML4E never maps a page. */
static bool level_leaf_ok(const struct ept *e, int level)
{
    return level == 1 || (level == 2 && e->page_2m) || (level == 3 && e->page_1g);
}

static bool entry_present(uint64_t v)
{
    return (v & EPT_PERM_MASK) != 0;
}

static bool entry_is_table(uint64_t v, int level)
{
    return level > 1 && entry_present(v) && !(v & EPT_ENTRY_LARGE);
}

static uint64_t make_leaf(int level, uint64_t hpa, uint64_t perm, uint8_t type)
{
    /* Ignore-PAT (bit 6) stays clear: the effective type then combines this EPT type (in the
     * place of the MTRR type) with the guest's PAT entry, exactly as MTRR and PAT combine on
     * bare metal (SDM Vol. 3C, 29.3.7.2; Vol. 3A, 12.5.2.2), so the guest's own WC/UC-
     * mappings of framebuffers and MMIO keep working. Setting it would force our type on
     * every guest mapping of the page. */
    uint64_t v = (hpa & EPT_ENTRY_ADDR_MASK) | (perm & EPT_PERM_MASK) |
                 ((uint64_t)type << EPT_ENTRY_MT_SHIFT);
    if (level > 1)
        v |= EPT_ENTRY_LARGE;
    return v;
}

/* Entries are live: one 64-bit store, ordered after the writes that filled a new table. */
static void entry_store(struct ept *e, uint64_t *p, uint64_t v)
{
    if ((*p & ~EPT_AD_BITS) == (v & ~EPT_AD_BITS))
        return;
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
    e->changed = true;
}

static uint64_t *table_of(const struct ept *e, uint64_t v)
{
    return (uint64_t *)e->alloc.phys_to_virt(e->alloc.ctx, v & EPT_ENTRY_ADDR_MASK);
}

/* Child i of a leaf (the same page cut into 512 pieces) or of a not-present entry. */
static uint64_t entry_child(uint64_t v, int level, unsigned i)
{
    if (!entry_present(v))
        return 0;
    uint64_t c = ((v & EPT_ENTRY_ADDR_MASK) + i * level_size(level - 1)) | (v & EPT_LEAF_ATTR);
    if (level - 1 > 1)
        c |= EPT_ENTRY_LARGE;
    return c;
}

/* ---- the page pool --------------------------------------------------------------------- */

static uint64_t *table_take(struct ept *e, uint64_t *phys)
{
    void *virt;
    if (e->reserve_count > 0) {
        e->reserve_count--;
        virt = e->reserve[e->reserve_count].virt;
        *phys = e->reserve[e->reserve_count].phys;
    } else {
        virt = e->alloc.alloc_page(e->alloc.ctx, phys);
        if (!virt)
            return NULL;
    }
    e->tables++;
    return (uint64_t *)virt;
}

static void table_free(struct ept *e, uint64_t *virt, uint64_t phys)
{
    e->alloc.free_page(e->alloc.ctx, virt, phys);
    e->tables--;
}

static int reserve_fill(struct ept *e, uint32_t n)
{
    if (n > EPT_OP_MAX_NEW_TABLES)
        return EPT_ERR_TOO_BIG;
    while (e->reserve_count < n) {
        uint64_t phys;
        void *virt = e->alloc.alloc_page(e->alloc.ctx, &phys);
        if (!virt)
            return EPT_ERR_NOMEM;
        e->reserve[e->reserve_count].virt = virt;
        e->reserve[e->reserve_count].phys = phys;
        e->reserve_count++;
    }
    return EPT_OK;
}

static void reserve_drain(struct ept *e)
{
    while (e->reserve_count > 0) {
        e->reserve_count--;
        e->alloc.free_page(e->alloc.ctx, e->reserve[e->reserve_count].virt,
                           e->reserve[e->reserve_count].phys);
    }
}

/* Frees the table v points to and every table below it. */
static void subtree_free(struct ept *e, uint64_t v, int level)
{
    if (!entry_is_table(v, level))
        return;
    uint64_t *t = table_of(e, v);
    if (level - 1 > 1)
        for (unsigned i = 0; i < EPT_ENTRIES; i++)
            subtree_free(e, t[i], level - 1);
    table_free(e, t, v & EPT_ENTRY_ADDR_MASK);
}

/* ---- what an entry should hold -------------------------------------------------------- */

static uint64_t range_end(const struct ept_range *r)
{
    return r->base + r->size;
}

/* Index of the last recorded range with base <= addr, or -1. */
static int range_search(const struct ept *e, uint64_t addr)
{
    int lo = 0, hi = (int)e->range_count - 1, found = -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (e->ranges[mid].base <= addr) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

/* The identity entry for [base, base + size of level): a leaf if one range covers it with
 * one memory type, 0 if no range touches it; false if it must be split. */
static bool identity_entry(const struct ept *e, int level, uint64_t base, uint64_t *val)
{
    uint64_t size = level_size(level);
    uint64_t end = base + size;
    int k = range_search(e, base);
    if (k >= 0 && range_end(&e->ranges[k]) >= end) {
        const struct ept_range *r = &e->ranges[k];
        if (!level_leaf_ok(e, level))
            return false;
        uint8_t type = r->mem_type;
        if (type == EPT_MT_FROM_MTRR && !mtrr_uniform_type(&e->mtrr, base, size, &type))
            return false;
        *val = make_leaf(level, base, r->perm, type);
        return true;
    }
    bool touches = (k >= 0 && range_end(&e->ranges[k]) > base) ||
                   (k + 1 < (int)e->range_count && e->ranges[k + 1].base < end);
    if (touches)
        return false;
    *val = 0;
    return true;
}

/* The single entry an operation wants for [base, base + size of level), which lies wholly
 * inside the operation's range; false if that cannot be one entry at this level. */
static bool op_entry(const struct ept *e, const struct ept_op *op, int level, uint64_t base,
                     uint64_t *val)
{
    switch (op->kind) {
    case EPT_OP_NOT_PRESENT:
        *val = 0;
        return true;
    case EPT_OP_IDENTITY:
        return identity_entry(e, level, base, val);
    case EPT_OP_READONLY: {
        uint64_t size = level_size(level);
        uint64_t hpa = op->hpa + (base - op->start);
        uint8_t type;
        if (!level_leaf_ok(e, level) || (hpa & (size - 1)) != 0 ||
            !mtrr_uniform_type(&e->mtrr, hpa, size, &type))
            return false;
        *val = make_leaf(level, hpa, EPT_PERM_R, type);
        return true;
    }
    }
    return false;
}

/* ---- the engine ------------------------------------------------------------------------ */

/* Whether the leaf or not-present entry v at `level`, which the operation covers only in
 * part, already holds what the operation wants for that part (then nothing needs splitting:
 * this keeps a repeated request from splitting and merging back, and from needing pages). */
static bool entry_already_right(const struct ept *e, const struct ept_op *op, int level,
                                uint64_t base, uint64_t v)
{
    if (entry_is_table(v, level))
        return false;
    struct ept_op whole = *op;
    whole.start = base;
    whole.end = base + level_size(level);
    if (op->kind == EPT_OP_READONLY) {
        /* The host address the entry's first byte would need. */
        if (op->start > base && op->hpa < op->start - base)
            return false;
        whole.hpa = op->hpa + base - op->start;
    }
    uint64_t val;
    return op_entry(e, &whole, level, base, &val) && (v & ~EPT_AD_BITS) == (val & ~EPT_AD_BITS);
}

/* If the 512 entries of table t (below the entry at `level`) are all not present, or are
 * leaves with the same attributes mapping one contiguous, aligned block that this level can
 * map as one leaf, replaces the table with that one entry. */
static void table_try_merge(struct ept *e, uint64_t *p, int level, uint64_t *t)
{
    uint64_t first = t[0];
    uint64_t merged;
    if (!entry_present(first)) {
        for (unsigned i = 1; i < EPT_ENTRIES; i++)
            if (t[i] != 0)
                return;
        merged = 0;
    } else {
        if (!level_leaf_ok(e, level) || entry_is_table(first, level - 1))
            return;
        uint64_t addr = first & EPT_ENTRY_ADDR_MASK;
        if (addr & (level_size(level) - 1))
            return;
        uint64_t attr = first & EPT_LEAF_ATTR;
        uint64_t step = level_size(level - 1);
        for (unsigned i = 1; i < EPT_ENTRIES; i++) {
            uint64_t c = t[i];
            if (!entry_present(c) || entry_is_table(c, level - 1) || (c & EPT_LEAF_ATTR) != attr ||
                (c & EPT_ENTRY_ADDR_MASK) != addr + i * step)
                return;
        }
        merged = make_leaf(level, addr, attr & EPT_PERM_MASK,
                           (uint8_t)((attr & EPT_ENTRY_MT_MASK) >> EPT_ENTRY_MT_SHIFT));
    }
    uint64_t old = *p;
    entry_store(e, p, merged);
    table_free(e, t, old & EPT_ENTRY_ADDR_MASK);
}

static bool op_covers(const struct ept_op *op, uint64_t base, uint64_t size)
{
    return op->start <= base && base + size <= op->end;
}

/* Child indexes of an entry at `level` starting at base that the operation touches. */
static void op_child_span(const struct ept_op *op, int level, uint64_t base, unsigned *first,
                          unsigned *last)
{
    uint64_t csize = level_size(level - 1);
    uint64_t lo = op->start > base ? op->start : base;
    uint64_t end = base + level_size(level);
    uint64_t hi = op->end < end ? op->end : end;
    *first = (unsigned)((lo - base) / csize);
    *last = (unsigned)((hi - 1 - base) / csize);
}

/* Tables the operation would create below the entry v at `level` (dry run, no change). */
static uint32_t op_count(const struct ept *e, const struct ept_op *op, uint64_t v, int level,
                         uint64_t base, uint32_t limit)
{
    uint64_t val;
    if (op_covers(op, base, level_size(level)) && op_entry(e, op, level, base, &val))
        return 0;
    if (level == 1 || entry_already_right(e, op, level, base, v))
        return 0; /* level 1: unreachable, see op_apply */
    uint32_t n = 0;
    const uint64_t *t = NULL;
    if (entry_is_table(v, level))
        t = table_of(e, v);
    else
        n = 1;
    unsigned first, last;
    op_child_span(op, level, base, &first, &last);
    for (unsigned i = first; i <= last && n <= limit; i++) {
        uint64_t c = t ? t[i] : entry_child(v, level, i);
        n += op_count(e, op, c, level - 1, base + i * level_size(level - 1), limit - n);
    }
    return n;
}

static int op_apply(struct ept *e, const struct ept_op *op, uint64_t *p, int level, uint64_t base)
{
    uint64_t v = *p;
    uint64_t val;
    if (op_covers(op, base, level_size(level)) && op_entry(e, op, level, base, &val)) {
        entry_store(e, p, val);
        subtree_free(e, v, level); /* a table replaced by one entry goes back to the pool */
        return EPT_OK;
    }
    if (level == 1)
        return EPT_ERR_INVAL; /* unreachable: every 4 KiB entry inside a range is expressible */
    if (entry_already_right(e, op, level, base, v))
        return EPT_OK;
    uint64_t *t;
    if (entry_is_table(v, level)) {
        t = table_of(e, v);
    } else {
        uint64_t phys;
        t = table_take(e, &phys);
        if (!t)
            return EPT_ERR_NOMEM;
        /* Fill the new table with the same translation before linking it (a split), so a
         * CPU walking now sees the old mapping either way. Non-leaf entries allow RWX:
         * access is decided by the leaves (SDM Vol. 3C, 29.3.2). */
        for (unsigned i = 0; i < EPT_ENTRIES; i++)
            t[i] = entry_child(v, level, i);
        __atomic_store_n(p, (phys & EPT_ENTRY_ADDR_MASK) | EPT_PERM_RWX, __ATOMIC_RELEASE);
        e->changed = true;
    }
    unsigned first, last;
    op_child_span(op, level, base, &first, &last);
    for (unsigned i = first; i <= last; i++) {
        int st = op_apply(e, op, &t[i], level - 1, base + i * level_size(level - 1));
        if (st != EPT_OK)
            return st;
    }
    table_try_merge(e, p, level, t);
    return EPT_OK;
}

/* Applies an operation over the whole map (from the PML4 entries down). */
static int op_apply_root(struct ept *e, const struct ept_op *op)
{
    unsigned first = level_index(op->start, EPT_LEVELS);
    unsigned last = level_index(op->end - 1, EPT_LEVELS);
    for (unsigned i = first; i <= last; i++) {
        int st = op_apply(e, op, &e->pml4[i], EPT_LEVELS, (uint64_t)i * level_size(EPT_LEVELS));
        if (st != EPT_OK)
            return st;
    }
    return EPT_OK;
}

static uint32_t op_count_root(const struct ept *e, const struct ept_op *op, uint32_t limit)
{
    unsigned first = level_index(op->start, EPT_LEVELS);
    unsigned last = level_index(op->end - 1, EPT_LEVELS);
    uint32_t n = 0;
    for (unsigned i = first; i <= last && n <= limit; i++)
        n += op_count(e, op, e->pml4[i], EPT_LEVELS, (uint64_t)i * level_size(EPT_LEVELS),
                      limit - n);
    return n;
}

/* Runs one or two operations all-or-nothing: the tables they need (counted on the current
 * map, plus `extra` for a second operation whose needs depend on the first) are taken from
 * the pool first. Leftover pages go back. */
static int op_run(struct ept *e, const struct ept_op *a, const struct ept_op *b, uint32_t extra)
{
    uint32_t need = op_count_root(e, a, EPT_OP_MAX_NEW_TABLES) + extra;
    if (b && !extra)
        need += op_count_root(e, b, EPT_OP_MAX_NEW_TABLES);
    int st = reserve_fill(e, need);
    if (st == EPT_OK)
        st = op_apply_root(e, a);
    if (st == EPT_OK && b)
        st = op_apply_root(e, b);
    reserve_drain(e);
    return st;
}

/* ---- setup ---------------------------------------------------------------------------- */

static void map_clear(struct ept *e)
{
    for (unsigned i = 0; i < EPT_ENTRIES; i++) {
        uint64_t v = e->pml4[i];
        if (v) {
            __atomic_store_n(&e->pml4[i], 0, __ATOMIC_RELEASE);
            e->changed = true;
        }
        subtree_free(e, v, EPT_LEVELS);
    }
}

int ept_init(struct ept *e, const struct ept_page_alloc *alloc, const struct ept_config *cfg)
{
    if (!alloc || !cfg || !alloc->alloc_page || !alloc->free_page || !alloc->phys_to_virt)
        return EPT_ERR_INVAL;
    if (cfg->maxphyaddr < 32 || cfg->maxphyaddr > 52)
        return EPT_ERR_INVAL;
    if (ept_eptp_encode(0, cfg->ept_vpid_cap, false) == 0)
        return EPT_ERR_INVAL;
    e->alloc = *alloc;
    e->cap = cfg->ept_vpid_cap;
    unsigned bits = cfg->maxphyaddr < EPT_GPA_BITS ? cfg->maxphyaddr : EPT_GPA_BITS;
    e->gpa_limit = 1ull << bits;
    e->page_2m = (cfg->ept_vpid_cap & EPT_CAP_2M) != 0;
    e->page_1g = (cfg->ept_vpid_cap & EPT_CAP_1G) != 0 && !cfg->no_1g;
    e->changed = false;
    e->tables = 0;
    e->reserve_count = 0;
    if (cfg->mtrr) {
        e->mtrr = *cfg->mtrr;
    } else {
        e->mtrr = (struct mtrr_state){0}; /* E = 0: everything UC */
    }
    if (e->mtrr.maxphyaddr == 0)
        e->mtrr.maxphyaddr = cfg->maxphyaddr;
    e->range_count = 0;
    ept_region_table_init(&e->regions);
    uint64_t phys;
    e->pml4 = table_take(e, &phys);
    if (!e->pml4)
        return EPT_ERR_NOMEM;
    for (unsigned i = 0; i < EPT_ENTRIES; i++)
        e->pml4[i] = 0;
    e->pml4_phys = phys;
    e->eptp = ept_eptp_encode(phys, cfg->ept_vpid_cap, cfg->want_ad);
    return EPT_OK;
}

void ept_destroy(struct ept *e)
{
    if (!e->pml4)
        return;
    map_clear(e);
    reserve_drain(e);
    table_free(e, e->pml4, e->pml4_phys);
    e->pml4 = NULL;
    e->range_count = 0;
    ept_region_table_init(&e->regions);
}

static bool mem_type_valid(uint8_t t)
{
    return t == MEM_TYPE_UC || t == MEM_TYPE_WC || t == MEM_TYPE_WT || t == MEM_TYPE_WP ||
           t == MEM_TYPE_WB || t == EPT_MT_FROM_MTRR;
}

/* Permissions that make a valid leaf (SDM Vol. 3C, 29.3.3.1: write without read is a
 * misconfiguration; execute-only needs the capability). */
static bool perm_valid(const struct ept *e, uint8_t perm)
{
    if (perm == 0 || (perm & ~EPT_PERM_MASK))
        return false;
    if ((perm & EPT_PERM_W) && !(perm & EPT_PERM_R))
        return false;
    if (perm == EPT_PERM_X && !(e->cap & EPT_CAP_EXEC_ONLY))
        return false;
    return true;
}

static int range_check(const struct ept *e, uint64_t base, uint64_t size)
{
    if ((base | size) & (EPT_PAGE_4K - 1))
        return EPT_ERR_ALIGN;
    if (size == 0 || base + size < base || base + size > e->gpa_limit)
        return EPT_ERR_RANGE;
    return EPT_OK;
}

int ept_build(struct ept *e, const struct ept_range *ranges, size_t count)
{
    if (!e->pml4 || (count > 0 && !ranges))
        return EPT_ERR_INVAL;
    if (count > EPT_MAX_RANGES)
        return EPT_ERR_FULL;
    for (size_t i = 0; i < count; i++) {
        int st = range_check(e, ranges[i].base, ranges[i].size);
        if (st != EPT_OK)
            return st;
        if (!perm_valid(e, ranges[i].perm) || !mem_type_valid(ranges[i].mem_type))
            return EPT_ERR_INVAL;
    }
    /* Overlaps are checked on the caller's array, so a refused build leaves the recorded
     * ranges (which restores rely on) untouched. n <= EPT_MAX_RANGES keeps this bounded. */
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            if (ranges[i].base < range_end(&ranges[j]) && ranges[j].base < range_end(&ranges[i]))
                return EPT_ERR_OVERLAP;
    /* Sort by base (insertion sort: bounded, small, no allocation) and merge neighbours
     * with the same attributes. */
    struct ept_range *r = e->ranges;
    uint32_t n = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t j = n++;
        while (j > 0 && r[j - 1].base > ranges[i].base) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = ranges[i];
    }
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m > 0 && r[i].base == range_end(&r[m - 1]) && r[i].perm == r[m - 1].perm &&
            r[i].mem_type == r[m - 1].mem_type)
            r[m - 1].size += r[i].size;
        else
            r[m++] = r[i];
    }
    e->range_count = m;
    map_clear(e);
    ept_region_table_init(&e->regions);
    if (m == 0)
        return EPT_OK;
    struct ept_op op = {EPT_OP_IDENTITY, r[0].base, range_end(&r[m - 1]), 0};
    int st = op_apply_root(e, &op);
    if (st != EPT_OK) {
        map_clear(e);
        e->range_count = 0;
    }
    return st;
}

/* ---- runtime operations -------------------------------------------------------------- */

int ept_hide_range(struct ept *e, uint64_t gpa, uint64_t size)
{
    int st = range_check(e, gpa, size);
    if (st != EPT_OK)
        return st;
    struct ept_region r = {gpa, size, EPT_REGION_HIDDEN, 0, NULL};
    struct ept_region old;
    if (ept_region_find_overlap(&e->regions, gpa, size, &old) &&
        !(old.kind == EPT_REGION_HIDDEN && old.base == gpa && old.size == size))
        return EPT_ERR_OVERLAP;
    if (e->regions.count >= EPT_MAX_REGIONS &&
        !ept_region_find_overlap(&e->regions, gpa, size, NULL))
        return EPT_ERR_FULL;
    struct ept_op op = {EPT_OP_NOT_PRESENT, gpa, gpa + size, 0};
    st = op_run(e, &op, NULL, 0);
    if (st != EPT_OK)
        return st;
    return ept_region_insert(&e->regions, &r);
}

/* Checks a new trapped/backed region against the table: the hidden region wins. */
static int region_admit(const struct ept *e, const struct ept_region *r)
{
    struct ept_region old;
    if (!ept_region_find_overlap(&e->regions, r->base, r->size, &old))
        return e->regions.count >= EPT_MAX_REGIONS ? EPT_ERR_FULL : EPT_OK;
    if (old.base == r->base && old.size == r->size && old.kind == r->kind &&
        old.owner == r->owner && old.tag == r->tag)
        return EPT_OK; /* the same request again */
    /* Report the hidden region even if another region is found first. */
    for (uint32_t i = 0; i < e->regions.count; i++) {
        const struct ept_region *h = &e->regions.regions[i];
        if (h->kind == EPT_REGION_HIDDEN && h->base < r->base + r->size &&
            r->base < h->base + h->size)
            return EPT_ERR_HIDDEN;
    }
    return EPT_ERR_OVERLAP;
}

int ept_trap_range(struct ept *e, uint64_t gpa, uint64_t size, void *owner, uint32_t tag)
{
    int st = range_check(e, gpa, size);
    if (st != EPT_OK)
        return st;
    struct ept_region r = {gpa, size, EPT_REGION_TRAPPED, tag, owner};
    st = region_admit(e, &r);
    if (st != EPT_OK)
        return st;
    struct ept_op op = {EPT_OP_NOT_PRESENT, gpa, gpa + size, 0};
    st = op_run(e, &op, NULL, 0);
    if (st != EPT_OK)
        return st;
    return ept_region_insert(&e->regions, &r);
}

int ept_map_readonly(struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t size, void *owner,
                     uint32_t tag)
{
    int st = range_check(e, gpa, size);
    if (st != EPT_OK)
        return st;
    st = range_check(e, hpa, size);
    if (st != EPT_OK)
        return st;
    struct ept_region r = {gpa, size, EPT_REGION_BACKED, tag, owner};
    st = region_admit(e, &r);
    if (st != EPT_OK)
        return st;
    struct ept_op op = {EPT_OP_READONLY, gpa, gpa + size, hpa};
    st = op_run(e, &op, NULL, 0);
    if (st != EPT_OK)
        return st;
    return ept_region_insert(&e->regions, &r);
}

/* Regions wholly inside [gpa, gpa + size) are removed by a restore; one that straddles an
 * edge makes the restore fail. */
static int restore_check(const struct ept *e, uint64_t gpa, uint64_t size)
{
    for (uint32_t i = 0; i < e->regions.count; i++) {
        const struct ept_region *r = &e->regions.regions[i];
        bool meets = r->base < gpa + size && gpa < r->base + r->size;
        bool inside = gpa <= r->base && r->base + r->size <= gpa + size;
        if (meets && !inside)
            return EPT_ERR_OVERLAP;
    }
    return EPT_OK;
}

static void regions_remove_inside(struct ept *e, uint64_t gpa, uint64_t size)
{
    uint32_t i = 0;
    while (i < e->regions.count) {
        const struct ept_region *r = &e->regions.regions[i];
        if (gpa <= r->base && r->base + r->size <= gpa + size)
            ept_region_remove(&e->regions, r->base);
        else
            i++;
    }
}

int ept_restore_range(struct ept *e, uint64_t gpa, uint64_t size)
{
    int st = range_check(e, gpa, size);
    if (st != EPT_OK)
        return st;
    st = restore_check(e, gpa, size);
    if (st != EPT_OK)
        return st;
    struct ept_op op = {EPT_OP_IDENTITY, gpa, gpa + size, 0};
    st = op_run(e, &op, NULL, 0);
    if (st != EPT_OK)
        return st;
    regions_remove_inside(e, gpa, size);
    return EPT_OK;
}

int ept_move_trap(struct ept *e, uint64_t old_gpa, uint64_t new_gpa)
{
    struct ept_region old;
    if (!ept_region_lookup(&e->regions, old_gpa, &old) || old.base != old_gpa ||
        old.kind != EPT_REGION_TRAPPED)
        return EPT_ERR_NOT_FOUND;
    int st = range_check(e, new_gpa, old.size);
    if (st != EPT_OK)
        return st;
    if (new_gpa == old_gpa)
        return EPT_OK;
    /* The new place may overlap the old one (a small move), but no other region. */
    for (uint32_t i = 0; i < e->regions.count; i++) {
        const struct ept_region *r = &e->regions.regions[i];
        if (r->base == old_gpa || !(r->base < new_gpa + old.size && new_gpa < r->base + r->size))
            continue;
        return r->kind == EPT_REGION_HIDDEN ? EPT_ERR_HIDDEN : EPT_ERR_OVERLAP;
    }
    /* Restore first, then trap: the restore's merges may undo tables the trap needs again,
     * so the trap is budgeted at its worst case (its two edges) instead of counted now. */
    struct ept_op restore = {EPT_OP_IDENTITY, old_gpa, old_gpa + old.size, 0};
    struct ept_op trap = {EPT_OP_NOT_PRESENT, new_gpa, new_gpa + old.size, 0};
    st = op_run(e, &restore, &trap, EPT_EDGE_TABLES);
    if (st != EPT_OK)
        return st;
    return ept_region_move(&e->regions, old_gpa, new_gpa);
}

bool ept_lookup_region(const struct ept *e, uint64_t gpa, struct ept_region *out)
{
    return ept_region_lookup(&e->regions, gpa, out);
}

/* ---- inspection ---------------------------------------------------------------------- */

bool ept_walk(const struct ept *e, uint64_t gpa, struct ept_leaf *out)
{
    if (!e->pml4 || gpa >= e->gpa_limit)
        return false;
    const uint64_t *t = e->pml4;
    for (int level = EPT_LEVELS; level >= 1; level--) {
        uint64_t v = __atomic_load_n(&t[level_index(gpa, level)], __ATOMIC_ACQUIRE);
        uint64_t size = level_size(level);
        if (!entry_present(v) || !entry_is_table(v, level)) {
            out->level = level;
            out->present = entry_present(v);
            out->page_size = size;
            out->entry = v;
            out->perm = (uint8_t)(v & EPT_PERM_MASK);
            out->mem_type = (uint8_t)((v & EPT_ENTRY_MT_MASK) >> EPT_ENTRY_MT_SHIFT);
            out->ignore_pat = (v & EPT_ENTRY_IGNORE_PAT) != 0;
            out->hpa =
                out->present ? (v & EPT_ENTRY_ADDR_MASK & ~(size - 1)) | (gpa & (size - 1)) : 0;
            return true;
        }
        t = table_of(e, v);
    }
    return false; /* not reached: level 1 entries are never tables */
}
