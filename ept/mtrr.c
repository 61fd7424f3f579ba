/* Memory types from MTRR values (SDM Vol. 3A, 12.11). See ept/mtrr.h. */
#include "ept/mtrr.h"

static const uint32_t mtrr_fixed_msr_numbers[MTRR_FIXED_MSRS] = {
    0x250,                                                  /* MTRRfix64K_00000 */
    0x258,                                                  /* MTRRfix16K_80000 */
    0x259,                                                  /* MTRRfix16K_A0000 */
    0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F, /* MTRRfix4K_C0000..F8000 */
};

uint32_t mtrr_state_fixed_msr(unsigned i)
{
    return i < MTRR_FIXED_MSRS ? mtrr_fixed_msr_numbers[i] : 0;
}

/* Reserved encodings (2, 3, 7..255) in a register are undefined behaviour on hardware; the
 * safe reading is UC. */
static uint8_t mtrr_sanitize(uint64_t t)
{
    t &= 0xFF;
    switch (t) {
    case MEM_TYPE_UC:
    case MEM_TYPE_WC:
    case MEM_TYPE_WT:
    case MEM_TYPE_WP:
    case MEM_TYPE_WB:
        return (uint8_t)t;
    default:
        return MEM_TYPE_UC;
    }
}

uint8_t mtrr_combine_types(uint32_t present, uint8_t def_type)
{
    if (present == 0)
        return def_type;
    if (present & (1u << MEM_TYPE_UC))
        return MEM_TYPE_UC;
    if ((present & (present - 1)) == 0) /* exactly one type */
        return (uint8_t)__builtin_ctz(present);
    if (present == ((1u << MEM_TYPE_WT) | (1u << MEM_TYPE_WB)))
        return MEM_TYPE_WT;
    /* Any other overlap is undefined (SDM Vol. 3A, 12.11.4.1); UC is the safe choice. */
    return MEM_TYPE_UC;
}

static bool mtrr_enabled(const struct mtrr_state *st)
{
    return (st->def_type & MTRR_DEF_E) != 0;
}

static bool mtrr_fixed_active(const struct mtrr_state *st)
{
    return (st->def_type & MTRR_DEF_FE) && (st->cap & MTRRCAP_FIX);
}

/* Physical-address bits a PHYSBASE/PHYSMASK pair compares: MAXPHYADDR-1..12. */
static uint64_t mtrr_addr_bits(const struct mtrr_state *st)
{
    unsigned bits = st->maxphyaddr;
    if (bits < 32 || bits > 52)
        bits = 36; /* SDM Vol. 3A, 12.11.2.3: 36 when CPUID does not report it */
    return ((1ull << bits) - 1) & ~0xFFFull;
}

static unsigned mtrr_var_count(const struct mtrr_state *st)
{
    unsigned n = (unsigned)(st->cap & MTRRCAP_VCNT_MASK);
    return n > MTRR_MAX_VAR ? MTRR_MAX_VAR : n;
}

/* Type of the fixed-range slot holding addr (< 1 MiB), Table 12-9 layout. */
static uint8_t mtrr_fixed_type(const struct mtrr_state *st, uint64_t addr)
{
    unsigned reg, byte;
    if (addr < 0x80000) {
        reg = 0;
        byte = (unsigned)(addr >> 16);
    } else if (addr < 0xC0000) {
        reg = 1 + (unsigned)((addr - 0x80000) >> 17);
        byte = (unsigned)((addr - 0x80000) >> 14) & 7;
    } else {
        reg = 3 + (unsigned)((addr - 0xC0000) >> 15);
        byte = (unsigned)((addr - 0xC0000) >> 12) & 7;
    }
    return mtrr_sanitize(st->fixed[reg] >> (8 * byte));
}

/* The type the variable ranges (and the default) give addr. */
static uint8_t mtrr_var_type_at(const struct mtrr_state *st, uint64_t addr)
{
    uint64_t bits = mtrr_addr_bits(st);
    uint32_t present = 0;
    unsigned n = mtrr_var_count(st);
    for (unsigned i = 0; i < n; i++) {
        const struct mtrr_var *v = &st->var[i];
        if (!(v->mask & MTRR_PHYSMASK_VALID))
            continue;
        uint64_t m = v->mask & bits;
        if (((addr ^ v->base) & m) == 0)
            present |= 1u << mtrr_sanitize(v->base);
    }
    return mtrr_combine_types(present, mtrr_sanitize(st->def_type));
}

uint8_t mtrr_type_at(const struct mtrr_state *st, uint64_t addr)
{
    if (!mtrr_enabled(st))
        return MEM_TYPE_UC;
    if (addr < MTRR_FIXED_END && mtrr_fixed_active(st))
        return mtrr_fixed_type(st, addr);
    return mtrr_var_type_at(st, addr);
}

/* Variable-range type over a naturally aligned block [base, base + size). Each range either
 * matches every address of the block, none, or some (its mask has bits below the block
 * size). A range with a contiguous mask (the normal case) that matches some addresses is one
 * interval, so the type can only change at the interval edges: evaluating the type at the
 * block start and at each edge inside the block is exact. A non-contiguous mask (legal, but
 * discouraged by SDM Vol. 3A, 12.11.3) matches a scattered set; then every combination of
 * the partly matching types must give the same result (at most 2^5 combinations), which
 * may refuse a block that is in fact uniform, but never accepts a mixed one. */
static bool mtrr_var_uniform(const struct mtrr_state *st, uint64_t base, uint64_t size,
                             uint8_t *type)
{
    uint64_t bits = mtrr_addr_bits(st);
    uint64_t low_bits = size - 1;
    uint64_t end = base + size;
    uint32_t full = 0, partial = 0;
    bool exact = true;
    uint64_t edges[2 * MTRR_MAX_VAR + 1];
    unsigned nedges = 0;
    edges[nedges++] = base;
    unsigned n = mtrr_var_count(st);
    for (unsigned i = 0; i < n; i++) {
        const struct mtrr_var *v = &st->var[i];
        if (!(v->mask & MTRR_PHYSMASK_VALID))
            continue;
        uint64_t m = v->mask & bits;
        if (((base ^ v->base) & m & ~low_bits) != 0)
            continue; /* matches nothing in the block */
        uint32_t t = 1u << mtrr_sanitize(v->base);
        if (!(m & low_bits)) {
            full |= t;
            continue;
        }
        partial |= t;
        uint64_t rsize = m & -m; /* lowest mask bit: the range size if contiguous */
        if (m != (bits & ~(rsize - 1))) {
            exact = false;
            continue;
        }
        uint64_t rbase = v->base & m;
        if (rbase > base)
            edges[nedges++] = rbase;
        if (rbase + rsize < end)
            edges[nedges++] = rbase + rsize;
    }
    uint8_t def = mtrr_sanitize(st->def_type);
    if (exact) {
        uint8_t t0 = mtrr_var_type_at(st, base);
        for (unsigned i = 1; i < nedges; i++)
            if (mtrr_var_type_at(st, edges[i]) != t0)
                return false;
        *type = t0;
        return true;
    }
    uint8_t result = mtrr_combine_types(full, def);
    /* Enumerate the subsets of `partial` (standard submask walk, including the empty one). */
    uint32_t sub = partial;
    for (;;) {
        if (mtrr_combine_types(full | sub, def) != result)
            return false;
        if (sub == 0)
            break;
        sub = (sub - 1) & partial;
    }
    *type = result;
    return true;
}

bool mtrr_uniform_type(const struct mtrr_state *st, uint64_t base, uint64_t size, uint8_t *type)
{
    if (size < 0x1000 || (size & (size - 1)) != 0 || (base & (size - 1)) != 0)
        return false;
    if (!mtrr_enabled(st)) {
        *type = MEM_TYPE_UC;
        return true;
    }
    uint64_t end = base + size; /* cannot wrap: base is size-aligned and size a power of 2 */
    if (base < MTRR_FIXED_END && mtrr_fixed_active(st)) {
        uint64_t fixed_end = end < MTRR_FIXED_END ? end : MTRR_FIXED_END;
        uint8_t t = mtrr_fixed_type(st, base);
        for (uint64_t a = base + 0x1000; a < fixed_end; a += 0x1000)
            if (mtrr_fixed_type(st, a) != t)
                return false;
        if (end > MTRR_FIXED_END) {
            /* The rest of the block is typed by the variable ranges; checking them over
             * the whole block is conservative (it may only refuse, never mistype). */
            uint8_t vt;
            if (!mtrr_var_uniform(st, base, size, &vt) || vt != t)
                return false;
        }
        *type = t;
        return true;
    }
    return mtrr_var_uniform(st, base, size, type);
}
