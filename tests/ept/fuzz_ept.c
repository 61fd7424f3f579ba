/* libFuzzer target for ept/: arbitrary MTRR values, identity ranges and sequences of
 * hide/trap/read-only/restore/move calls with arbitrary (often bad) arguments, over an
 * identity map of one range or of a few pieces with holes and explicit types. After every
 * call: a failed call changed nothing; the tables are well formed and every table page is a
 * live pool page used once; and every 4 KiB page of a 4 MiB window (across a 1 GiB and a
 * 2 MiB boundary) translates as a per-page model says. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ept/ept.h"
#include "tests/ept/test_pool.h"

#define WIN_BASE  (0x40000000ull - 0x200000ull)
#define WIN_PAGES 1024u
#define MAXPHY    39

struct input {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v <<= 8;
        if (in->n) {
            v |= *in->p++;
            in->n--;
        }
    }
    return v;
}

enum page_kind { PG_IDENTITY, PG_NONE, PG_RO };
struct page_model {
    uint8_t kind;
    uint64_t hpa;
};

static struct page_model model[WIN_PAGES];
static struct ept e;
static struct ept_range built[4];
static unsigned nbuilt;
static struct test_pool pool;
static bool pool_ready;

static void check_table(uint64_t phys, int level, bool *seen, uint32_t *count)
{
    if (!test_pool_owns(&pool, phys))
        abort();
    size_t idx = (phys - TEST_POOL_PHYS_BASE) / 4096;
    if (seen[idx])
        abort();
    seen[idx] = true;
    (*count)++;
    const uint64_t *t = (const uint64_t *)(pool.mem + idx * 4096);
    for (unsigned i = 0; i < 512; i++) {
        uint64_t v = t[i];
        if (!(v & EPT_PERM_MASK)) {
            if (v)
                abort();
            continue;
        }
        if ((v & EPT_PERM_W) && !(v & EPT_PERM_R))
            abort();
        if (v >> MAXPHY & ((1ull << (52 - MAXPHY)) - 1))
            abort();
        bool leaf = level == 1 || (v & EPT_ENTRY_LARGE);
        if (level == 4 && (v & EPT_ENTRY_LARGE))
            abort();
        if (!leaf) {
            check_table(v & EPT_ENTRY_ADDR_MASK, level - 1, seen, count);
            continue;
        }
        uint8_t mt = (v & EPT_ENTRY_MT_MASK) >> EPT_ENTRY_MT_SHIFT;
        if (!(mt == 0 || mt == 1 || mt == 4 || mt == 5 || mt == 6) || (v & EPT_ENTRY_IGNORE_PAT))
            abort();
        if ((v & EPT_ENTRY_ADDR_MASK) & ((1ull << (12 + 9 * (level - 1))) - 1))
            abort();
    }
}

static void check_all(void)
{
    bool *seen = calloc(pool.pages, 1);
    uint32_t count = 0;
    check_table(e.pml4_phys, 4, seen, &count);
    free(seen);
    if (count != e.tables || pool.in_use != e.tables || pool.bad_frees || e.reserve_count)
        abort();
    for (unsigned i = 0; i < WIN_PAGES; i++) {
        uint64_t gpa = WIN_BASE + (uint64_t)i * 4096;
        struct ept_leaf l;
        if (!ept_walk(&e, gpa, &l))
            abort();
        switch (model[i].kind) {
        case PG_IDENTITY: {
            /* What the recorded ranges say: RWX or RW, explicit or MTRR type, or a hole. */
            const struct ept_range *rg = NULL;
            for (unsigned k = 0; k < nbuilt; k++)
                if (gpa >= built[k].base && gpa - built[k].base < built[k].size)
                    rg = &built[k];
            if (!rg) {
                if (l.present)
                    abort();
                break;
            }
            uint8_t want =
                rg->mem_type == EPT_MT_FROM_MTRR ? mtrr_type_at(&e.mtrr, gpa) : rg->mem_type;
            if (!l.present || l.hpa != gpa || l.perm != rg->perm || l.mem_type != want)
                abort();
            break;
        }
        case PG_NONE:
            if (l.present)
                abort();
            break;
        case PG_RO:
            if (!l.present || l.hpa != model[i].hpa || l.perm != EPT_PERM_R ||
                l.mem_type != mtrr_type_at(&e.mtrr, model[i].hpa))
                abort();
            break;
        }
        struct ept_region r;
        if (ept_lookup_region(&e, gpa, &r) != (model[i].kind != PG_IDENTITY))
            abort();
    }
}

static void model_set(uint64_t gpa, uint64_t size, uint8_t kind, uint64_t hpa)
{
    for (uint64_t a = gpa; a < gpa + size; a += 4096) {
        if (a < WIN_BASE || a >= WIN_BASE + WIN_PAGES * 4096ull)
            continue;
        struct page_model *m = &model[(a - WIN_BASE) / 4096];
        m->kind = kind;
        m->hpa = hpa + (a - gpa);
    }
}

/* An address mostly inside the window, sometimes anywhere (and unaligned). */
static uint64_t pick_addr(struct input *in)
{
    uint8_t how = (uint8_t)take(in, 1);
    if (how < 200)
        return WIN_BASE + (take(in, 2) % WIN_PAGES) * 4096;
    if (how < 240)
        return take(in, 5) << 12;
    return take(in, 8);
}

static uint64_t pick_size(struct input *in)
{
    uint8_t how = (uint8_t)take(in, 1);
    if (how < 200)
        return (1 + take(in, 1) % 64) * 4096;
    if (how < 245)
        return (take(in, 2) % 4096) * 4096; /* up to 16 MiB, possibly 0 */
    return take(in, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    if (!pool_ready) {
        test_pool_init(&pool, 512);
        pool_ready = true;
    }
    pool.limit = pool.pages;

    struct mtrr_state m = {0};
    m.cap = 4 | MTRRCAP_FIX;
    m.def_type = take(&in, 2) & (MTRR_DEF_E | MTRR_DEF_FE | 0xFF);
    m.maxphyaddr = MAXPHY;
    for (unsigned i = 0; i < 4; i++) {
        /* Ranges near the window so type boundaries fall inside it. */
        uint64_t sz = 4096ull << (take(&in, 1) % 20);
        uint64_t base = (WIN_BASE - 0x1000000 + take(&in, 2) * 4096) & ~(sz - 1);
        m.var[i].base = base | (take(&in, 1) & 7);
        m.var[i].mask =
            (((1ull << MAXPHY) - 1) & ~(sz - 1)) | (take(&in, 1) & 1 ? MTRR_PHYSMASK_VALID : 0);
    }
    uint64_t cap = EPT_CAP_PWL4 | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_INVEPT;
    if (take(&in, 1) & 1)
        cap |= EPT_CAP_1G;
    struct ept_page_alloc a = test_pool_alloc(&pool);
    struct ept_config cfg = {cap, MAXPHY, false, false, &m};
    if (ept_init(&e, &a, &cfg) != EPT_OK)
        abort();
    /* Either one identity range over 4 GiB, or a few pieces with holes, RW-only parts and
     * explicit types cutting through the window. */
    nbuilt = 0;
    if (take(&in, 1) & 1) {
        built[nbuilt++] = (struct ept_range){0, 4ull << 30, EPT_PERM_RWX, EPT_MT_FROM_MTRR};
    } else {
        static const uint8_t types[] = {MEM_TYPE_UC, MEM_TYPE_WC,      MEM_TYPE_WT,     MEM_TYPE_WP,
                                        MEM_TYPE_WB, EPT_MT_FROM_MTRR, EPT_MT_FROM_MTRR};
        uint64_t at = WIN_BASE - 0x200000 + (take(&in, 1) % 64) * 4096;
        for (unsigned k = 0; k < 4; k++) {
            uint64_t sz = (1 + take(&in, 2) % 1024) * 4096;
            uint8_t bits = (uint8_t)take(&in, 1);
            built[nbuilt++] = (struct ept_range){
                at, sz, (bits & 1) ? (uint8_t)(EPT_PERM_R | EPT_PERM_W) : (uint8_t)EPT_PERM_RWX,
                types[(bits >> 1) % 7]};
            at += sz + (take(&in, 1) % 4) * 4096; /* a hole or adjacent */
        }
    }
    if (ept_build(&e, built, nbuilt) != EPT_OK)
        abort();
    for (unsigned i = 0; i < WIN_PAGES; i++)
        model[i].kind = PG_IDENTITY;
    check_all();

    static int owners[4];
    while (in.n > 0) {
        uint8_t op = (uint8_t)take(&in, 1);
        uint64_t gpa = pick_addr(&in), sz = pick_size(&in);
        void *owner = &owners[take(&in, 1) & 3];
        uint32_t tables = e.tables;
        size_t used = pool.in_use;
        uint32_t nregions = e.regions.count;
        e.changed = false;
        int st;
        if ((op & 7) == 7) /* now and then, a nearly empty pool */
            pool.limit = pool.in_use + (take(&in, 1) & 3);
        switch ((op >> 3) % 5) {
        case 0:
            st = ept_hide_range(&e, gpa, sz);
            if (st == EPT_OK)
                model_set(gpa, sz, PG_NONE, 0);
            break;
        case 1:
            st = ept_trap_range(&e, gpa, sz, owner, 0);
            if (st == EPT_OK)
                model_set(gpa, sz, PG_NONE, 0);
            break;
        case 2: {
            uint64_t hpa = pick_addr(&in);
            st = ept_map_readonly(&e, gpa, hpa, sz, owner, 0);
            if (st == EPT_OK)
                model_set(gpa, sz, PG_RO, hpa);
            break;
        }
        case 3:
            st = ept_restore_range(&e, gpa, sz);
            if (st == EPT_OK)
                model_set(gpa, sz, PG_IDENTITY, 0);
            break;
        default: {
            struct ept_region old;
            uint64_t from = gpa;
            if (e.regions.count > 0 && (op & 0x80)) {
                old = e.regions.regions[take(&in, 1) % e.regions.count];
                from = old.base;
            }
            st = ept_move_trap(&e, from, pick_addr(&in));
            if (st == EPT_OK) {
                /* Re-derive: the region moved; rebuild the model from the region table. */
                struct ept_region moved;
                (void)moved;
                for (unsigned i = 0; i < WIN_PAGES; i++)
                    if (model[i].kind == PG_NONE &&
                        !ept_lookup_region(&e, WIN_BASE + (uint64_t)i * 4096, &moved))
                        model[i].kind = PG_IDENTITY;
                for (uint32_t k = 0; k < e.regions.count; k++)
                    if (e.regions.regions[k].kind == EPT_REGION_TRAPPED)
                        model_set(e.regions.regions[k].base, e.regions.regions[k].size, PG_NONE, 0);
            }
            break;
        }
        }
        pool.limit = pool.pages;
        if (st != EPT_OK &&
            (e.changed || e.tables != tables || pool.in_use != used || e.regions.count != nregions))
            abort(); /* a failed call changed something */
        check_all();
    }
    ept_destroy(&e);
    if (pool.in_use != 0 || pool.bad_frees != 0)
        abort();
    return 0;
}
