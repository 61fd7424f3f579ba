/* Placement of virtual functions: see place.h. Ranges are handled with inclusive ends so a
 * range that reaches the top of the 64-bit space needs no overflow special case. */
#include "pci/place.h"

#define FOUR_GIB (1ull << 32)

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* Last byte of [base, base + size), saturating at the top of the address space. */
static uint64_t range_last(uint64_t base, uint64_t size)
{
    uint64_t last = base + (size - 1);
    return last < base ? ~0ull : last;
}

static bool overlaps(uint64_t a, uint64_t a_last, uint64_t b, uint64_t b_last)
{
    return a <= b_last && b <= a_last;
}

/* Memory BARs only: the launcher has no I/O window to place an I/O BAR in. */
static bool placeable(const struct pci_bar_decl *b, int slot)
{
    switch (b->kind) {
    case PCI_BAR_NONE:
        return true;
    case PCI_BAR_MEM32:
        return slot < PCI_NUM_BARS && is_pow2(b->size) && b->size >= 16 && b->size <= 0x80000000ull;
    case PCI_BAR_MEM64:
        return slot < PCI_NUM_BARS - 1 && is_pow2(b->size) && b->size >= 16;
    case PCI_BAR_ROM:
        return slot == PCI_ROM_SLOT && is_pow2(b->size) && b->size >= 2048 &&
               b->size <= 0x80000000ull;
    default:
        return false;
    }
}

/* If [cand, last] hits a range of the list, returns true and that range's last byte (the
 * caller skips past it and tries again; any hit will do, the scan only moves upwards). */
static bool hit_list(const struct pci_range *r, size_t n, uint64_t cand, uint64_t last,
                     uint64_t *hit_last)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].size == 0)
            continue;
        uint64_t rl = range_last(r[i].base, r[i].size);
        if (overlaps(cand, last, r[i].base, rl)) {
            *hit_last = rl;
            return true;
        }
    }
    return false;
}

static bool hit_placed(const struct pci_place_fn *fns, size_t n, uint64_t cand, uint64_t last,
                       uint64_t *hit_last)
{
    for (size_t i = 0; i < n; i++) {
        for (int s = 0; s < PCI_NUM_SLOTS; s++) {
            if (!fns[i].base[s])
                continue;
            uint64_t rl = range_last(fns[i].base[s], fns[i].ops->bars[s].size);
            if (overlaps(cand, last, fns[i].base[s], rl)) {
                *hit_last = rl;
                return true;
            }
        }
    }
    return false;
}

/* Lowest naturally aligned address for `size` bytes in window w below `limit_last`, clear of
 * RAM, busy ranges and BARs placed so far; 0 when none. */
static uint64_t fit_in_window(const struct pci_place_input *in, const struct pci_place_fn *fns,
                              size_t n, const struct pci_range *w, uint64_t size,
                              uint64_t limit_last)
{
    if (w->size == 0)
        return 0;
    uint64_t w_last = range_last(w->base, w->size);
    if (w_last > limit_last)
        w_last = limit_last;
    uint64_t cand = (w->base + size - 1) & ~(size - 1);
    if (cand < w->base) /* aligning wrapped */
        return 0;
    if (cand == 0) /* address 0 means "unassigned" in a BAR */
        cand = size;
    for (;;) {
        uint64_t last = cand + (size - 1);
        if (last < cand || last > w_last || cand < w->base)
            return 0;
        uint64_t hit;
        if (!hit_list(in->ram, in->n_ram, cand, last, &hit) &&
            !hit_list(in->busy, in->n_busy, cand, last, &hit) &&
            !hit_placed(fns, n, cand, last, &hit))
            return cand;
        if (hit == ~0ull)
            return 0;
        uint64_t next = (hit + 1 + size - 1) & ~(size - 1);
        if (next <= cand) /* wrapped */
            return 0;
        cand = next;
    }
}

enum pci_place_result pci_place(const struct pci_place_input *in, struct pci_place_fn *fns,
                                size_t n)
{
    if (!in || (n && !fns))
        return PCI_PLACE_BAD_REQUEST;
    for (size_t i = 0; i < n; i++) {
        if (!fns[i].ops)
            return PCI_PLACE_BAD_REQUEST;
        for (int s = 0; s < PCI_NUM_SLOTS; s++)
            if (!placeable(&fns[i].ops->bars[s], s))
                return PCI_PLACE_BAD_REQUEST;
    }

    /* Device numbers: device 0 is the host bridge's by convention, so never offered. */
    uint32_t taken = in->taken_slots | 1u;
    for (size_t i = 0; i < n; i++) {
        int d = 1;
        while (d < 32 && (taken & (1u << d)))
            d++;
        if (d == 32)
            return PCI_PLACE_NO_SLOT;
        taken |= 1u << d;
        fns[i].slot = (uint8_t)d;
        for (int s = 0; s < PCI_NUM_SLOTS; s++)
            fns[i].base[s] = 0;
    }

    /* BARs, largest first (natural alignment packs best that way). */
    for (;;) {
        size_t bi = 0;
        int bs = -1;
        uint64_t best = 0;
        for (size_t i = 0; i < n; i++)
            for (int s = 0; s < PCI_NUM_SLOTS; s++) {
                const struct pci_bar_decl *b = &fns[i].ops->bars[s];
                if (b->kind != PCI_BAR_NONE && !fns[i].base[s] && b->size > best) {
                    best = b->size;
                    bi = i;
                    bs = s;
                }
            }
        if (bs < 0)
            return PCI_PLACE_OK;

        const struct pci_bar_decl *b = &fns[bi].ops->bars[bs];
        uint64_t limit_last = b->kind == PCI_BAR_MEM64 ? ~0ull : FOUR_GIB - 1;
        uint64_t at = 0;
        for (size_t w = 0; w < in->n_windows && !at; w++)
            at = fit_in_window(in, fns, n, &in->windows[w], b->size, limit_last);
        if (!at)
            return PCI_PLACE_NO_SPACE;
        fns[bi].base[bs] = at;
    }
}

const char *pci_place_strerror(enum pci_place_result r)
{
    switch (r) {
    case PCI_PLACE_OK:
        return "ok";
    case PCI_PLACE_NO_SLOT:
        return "no free device number on bus 0";
    case PCI_PLACE_NO_SPACE:
        return "no free, aligned MMIO range in the host bridge windows";
    case PCI_PLACE_BAD_REQUEST:
        return "invalid BAR layout (I/O BARs cannot be placed)";
    }
    return "unknown placement error";
}
