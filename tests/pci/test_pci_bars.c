/* pci/ BAR decoding: which range changes a BAR write or a COMMAND toggle reports (and that
 * sizing reports no move to the sizing pattern), and MMIO dispatch over the mapped BARs
 * (routing, offsets, unclaimed addresses, accesses straddling a BAR's end, bad sizes), and the
 * remembered route of the MMIO fast path against that dispatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <cmocka.h>

#include "tests/pci/testdev.h"
#include "tests/support/rng.h"

#define BDF PCI_BDF(0, 3, 0)

static struct pci_bus bus;
static struct pci_function fn;
static struct testdev td;
static struct map_log ml;

static void wr(uint16_t off, unsigned size, uint32_t v)
{
    assert_true(pci_cfg_write(&bus, BDF, off, size, v));
}

/* BAR0 mem32 1 MiB, BAR1 mem32 4 KiB backed, BAR2-3 mem64 16 KiB, BAR4 I/O 32, ROM 64 KiB. */
static int setup(void **state)
{
    (void)state;
    memset(&ml, 0, sizeof ml);
    testdev_init(&td);
    td.ops.bars[0] = (struct pci_bar_decl){.size = 0x100000, .kind = PCI_BAR_MEM32};
    td.ops.bars[1] = (struct pci_bar_decl){.size = 0x1000, .kind = PCI_BAR_MEM32, .backed = true};
    td.ops.bars[2] = (struct pci_bar_decl){.size = 0x4000, .kind = PCI_BAR_MEM64};
    td.ops.bars[4] = (struct pci_bar_decl){.size = 32, .kind = PCI_BAR_IO};
    td.ops.bars[PCI_ROM_SLOT] = (struct pci_bar_decl){.size = 0x10000, .kind = PCI_BAR_ROM};
    pci_bus_init(&bus, NULL, NULL, map_log_record, &ml);
    assert_true(pci_bus_add(&bus, &fn, &td.dev, BDF));
    return 0;
}

static void assert_event(unsigned i, int bar, bool old_mapped, uint64_t old_base, bool now_mapped,
                         uint64_t now_base)
{
    assert_true(i < ml.n);
    assert_int_equal(ml.ev[i].bar, bar);
    assert_int_equal(ml.ev[i].old.mapped, old_mapped);
    if (old_mapped)
        assert_int_equal(ml.ev[i].old.base, old_base);
    assert_int_equal(ml.ev[i].now.mapped, now_mapped);
    if (now_mapped)
        assert_int_equal(ml.ev[i].now.base, now_base);
}

static void bar_write_with_decode_off_reports_nothing(void **state)
{
    (void)state;
    wr(0x10, 4, 0xC1000000);
    wr(0x10, 4, 0xFFFFFFFF);
    wr(0x10, 4, 0xC2000000);
    assert_int_equal(ml.n, 0);
}

static void memory_enable_reports_each_assigned_bar_mapped_once(void **state)
{
    (void)state;
    wr(0x10, 4, 0xC1000000);
    wr(0x14, 4, 0xC1100000);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(ml.n, 2); /* BAR2 and ROM are unassigned (0), I/O decode is off */
    assert_event(0, 0, false, 0, true, 0xC1000000);
    assert_int_equal(ml.ev[0].now.size, 0x100000);
    assert_false(ml.ev[0].now.backed);
    assert_event(1, 1, false, 0, true, 0xC1100000);
    assert_true(ml.ev[1].now.backed);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER); /* no decode change */
    assert_int_equal(ml.n, 2);
    wr(PCI_COMMAND, 2, 0);
    assert_int_equal(ml.n, 4);
    assert_event(2, 0, true, 0xC1000000, false, 0);
    assert_event(3, 1, true, 0xC1100000, false, 0);
}

static void bar_move_while_enabled_reports_old_and_new_range(void **state)
{
    (void)state;
    wr(0x10, 4, 0xC1000000);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ml.n = 0;
    wr(0x10, 4, 0xD0000000);
    assert_int_equal(ml.n, 1);
    assert_event(0, 0, true, 0xC1000000, true, 0xD0000000);
    wr(0x10, 4, 0xD0000000); /* same address again: nothing */
    wr(0x10, 4, 0xD00FFFFF); /* only read-only bits differ: nothing */
    assert_int_equal(ml.n, 1);
    /* Byte-wise writes: each byte that changes the address is a move. */
    wr(0x13, 1, 0xE0);
    assert_int_equal(ml.n, 2);
    assert_event(1, 0, true, 0xD0000000, true, 0xE0000000);
}

static void sizing_with_decode_on_never_maps_the_sizing_pattern(void **state)
{
    (void)state;
    wr(0x10, 4, 0xC1000000);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ml.n = 0;
    wr(0x10, 4, 0xFFFFFFFF); /* reads back 0xFFF00000: the BAR stops decoding */
    wr(0x10, 4, 0xC1000000);
    assert_int_equal(ml.n, 2);
    assert_event(0, 0, true, 0xC1000000, false, 0);
    assert_event(1, 0, false, 0, true, 0xC1000000);
    for (unsigned i = 0; i < ml.n; i++)
        assert_false(ml.ev[i].now.mapped && ml.ev[i].now.base >= 0xFFF00000);
}

static void bar64_moves_with_each_half_and_sizing_never_maps(void **state)
{
    (void)state;
    wr(0x18, 4, 0xC0000000);
    wr(0x1C, 4, 0x00000001);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(ml.n, 1);
    assert_event(0, 2, false, 0, true, 0x1C0000000ull);
    ml.n = 0;
    wr(0x18, 4, 0xFFFFFFFF);
    wr(0x1C, 4, 0xFFFFFFFF);
    wr(0x18, 4, 0xC0000000);
    wr(0x1C, 4, 0x00000002);
    for (unsigned i = 0; i < ml.n; i++)
        assert_false(ml.ev[i].now.mapped && (ml.ev[i].now.base & 0xFFFFFFFF) == 0xFFFFC000);
    assert_true(ml.n >= 2);
    assert_event(0, 2, true, 0x1C0000000ull, false, 0);
    assert_event(ml.n - 1, 2, ml.ev[ml.n - 1].old.mapped, ml.ev[ml.n - 1].old.base, true,
                 0x2C0000000ull);
    /* The published window is the final one. */
    assert_true(fn.win[2].mapped);
    assert_int_equal(fn.win[2].base, 0x2C0000000ull);
}

static void rom_maps_only_with_its_enable_bit_and_memory_decode(void **state)
{
    (void)state;
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    wr(PCI_ROM_ADDRESS, 4, 0xC2000000);
    assert_int_equal(ml.n, 0);
    wr(PCI_ROM_ADDRESS, 4, 0xC2000001);
    assert_int_equal(ml.n, 1);
    assert_event(0, PCI_ROM_SLOT, false, 0, true, 0xC2000000);
    wr(PCI_ROM_ADDRESS, 4, 0xFFFFFFFF); /* sizing with the enable bit set */
    assert_int_equal(ml.n, 2);
    assert_event(1, PCI_ROM_SLOT, true, 0xC2000000, false, 0);
}

static void io_bar_follows_the_io_enable_bit(void **state)
{
    (void)state;
    wr(0x20, 4, 0xC000);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(ml.n, 0);
    wr(PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_int_equal(ml.n, 1);
    assert_event(0, 4, false, 0, true, 0xC000);
    assert_true(ml.ev[0].now.io);
    wr(0x20, 4, 0x1FFE0); /* past port 0xFFFF: not decoded */
    assert_int_equal(ml.n, 2);
    assert_false(ml.ev[1].now.mapped);
}

static void enable_bars(void)
{
    wr(0x10, 4, 0xC1000000);
    wr(0x14, 4, 0xC1100000);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
}

static void mmio_find_returns_function_bar_and_offset(void **state)
{
    (void)state;
    enable_bars();
    struct pci_function *f = NULL;
    int bar = -1;
    uint64_t off = 0;
    assert_true(pci_mmio_find(&bus, 0xC1000000, &f, &bar, &off));
    assert_ptr_equal(f, &fn);
    assert_int_equal(bar, 0);
    assert_int_equal(off, 0);
    assert_true(pci_mmio_find(&bus, 0xC10FFFFF, &f, &bar, &off));
    assert_int_equal(off, 0xFFFFF);
    assert_true(pci_mmio_find(&bus, 0xC1100FFC, &f, &bar, &off));
    assert_int_equal(bar, 1);
    assert_int_equal(off, 0xFFC);
    assert_false(pci_mmio_find(&bus, 0xC1101000, &f, &bar, &off));
    assert_false(pci_mmio_find(&bus, 0xC0FFFFFF, &f, &bar, &off));
}

static void mmio_read_and_write_reach_the_device_with_offset_and_size(void **state)
{
    (void)state;
    enable_bars();
    uint64_t v = 0;
    assert_int_equal(pci_mmio_read(&bus, 0xC1000080, 4, &v), PCI_MMIO_OK);
    assert_int_equal(v, 0x80); /* zero-extended from 4 bytes: testdev's bar tag is cut */
    assert_int_equal(pci_mmio_read(&bus, 0xC1000088, 8, &v), PCI_MMIO_OK);
    assert_int_equal(v, 0xA000000000000088ull);
    assert_int_equal(pci_mmio_write(&bus, 0xC1100010, 2, 0xABCDEF), PCI_MMIO_OK);
    struct testdev_access *a = &td.log[td.n_log - 1];
    assert_int_equal(a->is_write, 1);
    assert_int_equal(a->bar, 1);
    assert_int_equal(a->offset, 0x10);
    assert_int_equal(a->size, 2);
    assert_int_equal(a->value, 0xCDEF);
}

static void mmio_outside_mapped_bars_is_unclaimed(void **state)
{
    (void)state;
    enable_bars();
    uint64_t v = 0;
    unsigned before = td.n_log;
    assert_int_equal(pci_mmio_read(&bus, 0xB0000000, 4, &v), PCI_MMIO_UNCLAIMED);
    assert_int_equal(v, 0xFFFFFFFF);
    wr(PCI_COMMAND, 2, 0); /* decode off: the BAR no longer claims */
    assert_int_equal(pci_mmio_read(&bus, 0xC1000000, 2, &v), PCI_MMIO_UNCLAIMED);
    assert_int_equal(v, 0xFFFF);
    assert_int_equal(pci_mmio_write(&bus, 0xC1000000, 4, 1), PCI_MMIO_UNCLAIMED);
    assert_int_equal(td.n_log, before);
}

static void mmio_straddling_a_bar_end_is_refused_whole(void **state)
{
    (void)state;
    enable_bars();
    uint64_t v = 0;
    unsigned before = td.n_log;
    assert_int_equal(pci_mmio_read(&bus, 0xC1100FFC, 8, &v), PCI_MMIO_STRADDLE);
    assert_int_equal(v, ~0ull);
    assert_int_equal(pci_mmio_write(&bus, 0xC1100FFE, 4, 0), PCI_MMIO_STRADDLE);
    assert_int_equal(td.n_log, before);
    assert_int_equal(pci_mmio_read(&bus, 0xC1100FF8, 8, &v), PCI_MMIO_OK);
}

static void mmio_bad_sizes_are_refused(void **state)
{
    (void)state;
    enable_bars();
    uint64_t v = 0;
    unsigned before = td.n_log;
    assert_int_equal(pci_mmio_read(&bus, 0xC1000000, 3, &v), PCI_MMIO_BAD_SIZE);
    assert_int_equal(v, ~0ull);
    assert_int_equal(pci_mmio_read(&bus, 0xC1000000, 16, &v), PCI_MMIO_BAD_SIZE);
    assert_int_equal(pci_mmio_write(&bus, 0xC1000000, 0, 0), PCI_MMIO_BAD_SIZE);
    assert_int_equal(td.n_log, before);
}

static void mmio_follows_a_moved_bar(void **state)
{
    (void)state;
    enable_bars();
    wr(0x10, 4, 0xD0000000);
    uint64_t v;
    assert_int_equal(pci_mmio_read(&bus, 0xC1000000, 4, &v), PCI_MMIO_UNCLAIMED);
    assert_int_equal(pci_mmio_read(&bus, 0xD0000010, 4, &v), PCI_MMIO_OK);
    assert_int_equal(v, 0x10);
}

static void pio_reaches_a_mapped_io_bar_only(void **state)
{
    (void)state;
    uint32_t v = 0;
    wr(0x20, 4, 0xC000);
    assert_int_equal(pci_pio_read(&bus, 0xC004, 4, &v), PCI_MMIO_UNCLAIMED); /* I/O off */
    assert_int_equal(v, 0xFFFFFFFF);
    wr(PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_int_equal(pci_pio_read(&bus, 0xC004, 2, &v), PCI_MMIO_OK);
    assert_int_equal(v, 0x0004);
    assert_int_equal(td.log[td.n_log - 1].bar, 4);
    assert_int_equal(pci_pio_write(&bus, 0xC01F, 1, 0x1AB), PCI_MMIO_OK);
    assert_int_equal(td.log[td.n_log - 1].offset, 0x1F);
    assert_int_equal(td.log[td.n_log - 1].value, 0xAB);
    assert_int_equal(pci_pio_read(&bus, 0xC01E, 4, &v), PCI_MMIO_STRADDLE);
    assert_int_equal(pci_pio_read(&bus, 0xC000, 8, &v), PCI_MMIO_BAD_SIZE);
    assert_int_equal(pci_pio_read(&bus, 0xC020, 1, &v), PCI_MMIO_UNCLAIMED);
    /* Memory BARs are not reachable through port I/O, nor the I/O BAR through MMIO. */
    uint64_t m;
    assert_int_equal(pci_mmio_read(&bus, 0xC004, 4, &m), PCI_MMIO_UNCLAIMED);
}

/* --- the remembered BAR route (pci_bar_route_take / pci_bar_route_offset) ---------------------
 *
 * The MMIO fast path (boot/mmio.c) keeps, per guest instruction, the route to the BAR it
 * reached and later answers with one compare of map_seq instead of the bus search. These tests
 * hold it to the search: whenever pci_bar_route_offset says yes, pci_mmio_find routes the
 * access to the same device, BAR and offset and pci_mmio_read/write serve it whole; a route
 * never answers for a map other than the one it was taken in; and pci_bar_route_take refuses
 * whatever the search could route differently (I/O BARs, unmapped BARs, overlapping windows). */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    return xorshift64(&rng_state);
}

/* A second and third function, and one on another bus, for the route tests.
 * fn2: BAR0 mem32 64 KiB, BAR1 I/O 16, BAR2-3 mem64 4 KiB, BAR4 mem32 16 bytes.
 * fn3: BAR0-1 mem64 8 KiB, BAR2 mem32 4 KiB, BAR3 I/O 4, BAR5 mem32 32 bytes. */
#define BDF2 PCI_BDF(0, 4, 0)
#define BDF3 PCI_BDF(0, 5, 0)
static struct pci_function fn2, fn3, fn_other;
static struct testdev td2, td3, td_other;
static struct pci_bus other_bus;

static void add_route_functions(void)
{
    testdev_init(&td2);
    td2.ops.bars[0] = (struct pci_bar_decl){.size = 0x10000, .kind = PCI_BAR_MEM32};
    td2.ops.bars[1] = (struct pci_bar_decl){.size = 16, .kind = PCI_BAR_IO};
    td2.ops.bars[2] = (struct pci_bar_decl){.size = 0x1000, .kind = PCI_BAR_MEM64};
    td2.ops.bars[4] = (struct pci_bar_decl){.size = 16, .kind = PCI_BAR_MEM32};
    assert_true(pci_bus_add(&bus, &fn2, &td2.dev, BDF2));
    testdev_init(&td3);
    td3.ops.bars[0] = (struct pci_bar_decl){.size = 0x2000, .kind = PCI_BAR_MEM64};
    td3.ops.bars[2] = (struct pci_bar_decl){.size = 0x1000, .kind = PCI_BAR_MEM32};
    td3.ops.bars[3] = (struct pci_bar_decl){.size = 4, .kind = PCI_BAR_IO};
    td3.ops.bars[5] = (struct pci_bar_decl){.size = 32, .kind = PCI_BAR_MEM32};
    assert_true(pci_bus_add(&bus, &fn3, &td3.dev, BDF3));
    /* fn's BAR0, mapped at the same place, but by a function of another bus. */
    testdev_init(&td_other);
    td_other.ops.bars[0] = td.ops.bars[0];
    pci_bus_init(&other_bus, NULL, NULL, NULL, NULL);
    assert_true(pci_bus_add(&other_bus, &fn_other, &td_other.dev, BDF));
    assert_true(pci_cfg_write(&other_bus, BDF, 0x10, 4, 0xC1000000));
    assert_true(pci_cfg_write(&other_bus, BDF, PCI_COMMAND, 2, PCI_COMMAND_MEMORY));
}

/* Whether two mapped memory windows on the bus intersect, worked out here from the published
 * windows (not from bus.mem_overlap). */
static bool windows_overlap(void)
{
    struct pci_function *fns[] = {&fn, &fn2, &fn3};
    for (int i = 0; i < 3; i++)
        for (int s = 0; s < PCI_NUM_SLOTS; s++)
            for (int j = 0; j < 3; j++)
                for (int t = 0; t < PCI_NUM_SLOTS; t++) {
                    const struct pci_bar_window *a = &fns[i]->win[s], *b = &fns[j]->win[t];
                    if ((i == j && s == t) || !a->mapped || a->io || !b->mapped || b->io)
                        continue;
                    if (a->base < b->base + b->size && b->base < a->base + a->size)
                        return true;
                }
    return false;
}

static void route_take_refuses_io_unmapped_out_of_range_null_foreign_and_overlap(void **state)
{
    (void)state;
    add_route_functions();
    struct pci_bar_route r;
    memset(&r, 0x5A, sizeof r);
    const struct pci_bar_route untouched = r;
    /* Nothing mapped yet (decode off, BARs unassigned). */
    for (int s = 0; s < PCI_NUM_SLOTS; s++)
        assert_false(pci_bar_route_take(&bus, &fn, s, &r));
    wr(0x10, 4, 0xC1000000);
    assert_false(pci_bar_route_take(&bus, &fn, 0, &r)); /* assigned, memory decode off */
    wr(0x20, 4, 0xC000);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    assert_true(fn.win[4].mapped);
    assert_false(pci_bar_route_take(&bus, &fn, 4, &r));  /* a mapped I/O BAR */
    assert_false(pci_bar_route_take(&bus, &fn, 1, &r));  /* memory decode on, BAR unassigned */
    assert_false(pci_bar_route_take(&bus, &fn, -1, &r)); /* out of range */
    assert_false(pci_bar_route_take(&bus, &fn, PCI_NUM_SLOTS, &r));
    assert_false(pci_bar_route_take(&bus, &fn, 1000, &r));
    assert_false(pci_bar_route_take(&bus, NULL, 0, &r));
    /* fn_other is mapped at the same address, but on other_bus: this bus's map_seq says
     * nothing about its windows. */
    assert_true(fn_other.win[0].mapped);
    assert_false(pci_bar_route_take(&bus, &fn_other, 0, &r));
    assert_memory_equal(&r, &untouched, sizeof r);

    assert_true(pci_bar_route_take(&bus, &fn, 0, &r));
    assert_ptr_equal(r.dev, &td.dev);
    assert_int_equal(r.bar, 0);
    assert_int_equal(r.base, 0xC1000000);
    assert_int_equal(r.size, 0x100000);
    assert_int_equal(r.map_seq, bus.map_seq);
    assert_int_equal(r.map_seq & 1, 0);

    /* fn2's BAR0 inside fn's BAR0: while they overlap no memory BAR of the bus gives a route,
     * not even a third one clear of both. */
    assert_true(pci_cfg_write(&bus, BDF3, 0x18, 4, 0xD0000000));
    assert_true(pci_cfg_write(&bus, BDF3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY));
    assert_true(pci_bar_route_take(&bus, &fn3, 2, &r));
    assert_true(pci_cfg_write(&bus, BDF2, 0x10, 4, 0xC1080000));
    assert_true(pci_cfg_write(&bus, BDF2, PCI_COMMAND, 2, PCI_COMMAND_MEMORY));
    assert_true(windows_overlap());
    memset(&r, 0x5A, sizeof r);
    assert_false(pci_bar_route_take(&bus, &fn, 0, &r));
    assert_false(pci_bar_route_take(&bus, &fn2, 0, &r));
    assert_false(pci_bar_route_take(&bus, &fn3, 2, &r));
    assert_memory_equal(&r, &untouched, sizeof r);
    /* Moved clear again: routes again. */
    assert_true(pci_cfg_write(&bus, BDF2, 0x10, 4, 0xC1100000));
    assert_false(windows_overlap());
    assert_true(pci_bar_route_take(&bus, &fn2, 0, &r));
    assert_int_equal(r.base, 0xC1100000);
    assert_true(pci_bar_route_take(&bus, &fn3, 2, &r));
}

static void route_offset_answers_inside_the_window_only(void **state)
{
    (void)state;
    wr(0x14, 4, 0xC1100000); /* BAR1, 4 KiB */
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    struct pci_bar_route r;
    assert_true(pci_bar_route_take(&bus, &fn, 1, &r));
    uint64_t off = 0;
    assert_true(pci_bar_route_offset(&bus, &r, 0xC1100000, 1, &off));
    assert_int_equal(off, 0);
    assert_true(pci_bar_route_offset(&bus, &r, 0xC1100FF8, 8, &off));
    assert_int_equal(off, 0xFF8);
    assert_true(pci_bar_route_offset(&bus, &r, 0xC1100FFF, 1, &off));
    assert_int_equal(off, 0xFFF);
    assert_false(pci_bar_route_offset(&bus, &r, 0xC1100FFC, 8, &off)); /* straddles the end */
    assert_false(pci_bar_route_offset(&bus, &r, 0xC1100FFF, 2, &off));
    assert_false(pci_bar_route_offset(&bus, &r, 0xC1101000, 1, &off)); /* just past */
    assert_false(pci_bar_route_offset(&bus, &r, 0xC10FFFFF, 1, &off)); /* just below */
    assert_false(pci_bar_route_offset(&bus, &r, 0xC10FFFFC, 8, &off)); /* starts below */
    assert_false(pci_bar_route_offset(&bus, &r, 0, 4, &off));
    assert_false(pci_bar_route_offset(&bus, &r, ~0ull, 1, &off));
    assert_false(pci_bar_route_offset(&bus, &r, ~0ull - 3, 8, &off));
}

/* Every kind of map change leaves a route taken before it unanswered, even where the window
 * it remembers is back in the same place; a configuration write that changes no window (a
 * sizing write with decode off, the same address again, read-only bits, bus master) keeps it. */
static void route_is_refused_after_any_map_change_and_kept_otherwise(void **state)
{
    (void)state;
    add_route_functions();
    wr(0x10, 4, 0xC1000000);
    wr(0x18, 4, 0xC0000000); /* BAR2-3, 64-bit */
    wr(0x1C, 4, 1);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_true(pci_cfg_write(&bus, BDF2, 0x10, 4, 0xC2000000));
    struct pci_bar_route r0, r2;
    uint64_t off;
#define TAKE_BOTH()                                                                                \
    do {                                                                                           \
        assert_true(pci_bar_route_take(&bus, &fn, 0, &r0));                                        \
        assert_true(pci_bar_route_take(&bus, &fn, 2, &r2));                                        \
    } while (0)
#define BOTH_ANSWER(yes)                                                                           \
    do {                                                                                           \
        assert_int_equal(pci_bar_route_offset(&bus, &r0, 0xC1000010, 4, &off), (yes));             \
        assert_int_equal(pci_bar_route_offset(&bus, &r2, 0x1C0000010ull, 4, &off), (yes));         \
        assert_int_equal(pci_bar_route_current(&bus, &r0), (yes));                                 \
        assert_int_equal(pci_bar_route_current(&bus, &r2), (yes));                                 \
    } while (0)
    TAKE_BOTH();
    assert_int_equal(r2.base, 0x1C0000000ull);
    BOTH_ANSWER(true);

    /* Writes that change no window. */
    wr(0x10, 4, 0xC1000000);
    wr(0x10, 4, 0xC10FFFFF); /* only read-only address bits differ */
    wr(0x1C, 4, 1);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    wr(0x14, 4, 0xFFFFFFFF); /* sizing an unassigned BAR: stays unmapped */
    wr(0x14, 4, 0);
    wr(PCI_ROM_ADDRESS, 4, 0xFFFFFFFE); /* sizing the ROM, enable bit clear */
    assert_true(pci_cfg_write(&bus, BDF2, 0x10, 4, 0xFFFFFFFF)); /* fn2: decode off */
    assert_true(pci_cfg_write(&bus, BDF2, 0x10, 4, 0xC2000000));
    assert_true(pci_cfg_write(&bus, BDF2, 0x3C, 1, 0x0B)); /* interrupt line */
    BOTH_ANSWER(true);

    /* Sizing with decode on unmaps, and putting the address back maps again. */
    uint64_t seq = bus.map_seq;
    wr(0x10, 4, 0xFFFFFFFF);
    wr(0x10, 4, 0xC1000000);
    assert_int_not_equal(bus.map_seq, seq);
    BOTH_ANSWER(false);
    TAKE_BOTH();
    BOTH_ANSWER(true);
    /* A move and back. */
    wr(0x10, 4, 0xD0000000);
    wr(0x10, 4, 0xC1000000);
    BOTH_ANSWER(false);
    TAKE_BOTH();
    /* The high dword of the 64-bit BAR alone. */
    wr(0x1C, 4, 2);
    BOTH_ANSWER(false);
    assert_true(pci_bar_route_take(&bus, &fn, 2, &r2));
    assert_int_equal(r2.base, 0x2C0000000ull);
    assert_true(pci_bar_route_offset(&bus, &r2, 0x2C0000010ull, 4, &off));
    assert_false(pci_bar_route_offset(&bus, &r2, 0x1C0000010ull, 4, &off));
    wr(0x1C, 4, 1);
    TAKE_BOTH();
    /* Memory decode off and on. */
    wr(PCI_COMMAND, 2, 0);
    assert_false(pci_bar_route_take(&bus, &fn, 0, &r0));
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    BOTH_ANSWER(false);
    TAKE_BOTH();
    /* Another function's BAR mapping or moving (clear of both windows). */
    assert_true(pci_cfg_write(&bus, BDF2, PCI_COMMAND, 2, PCI_COMMAND_MEMORY));
    BOTH_ANSWER(false);
    TAKE_BOTH();
    assert_true(pci_cfg_write(&bus, BDF2, 0x10, 4, 0xC3000000));
    BOTH_ANSWER(false);
    TAKE_BOTH();
    /* The I/O BAR is on the same map. */
    wr(0x20, 4, 0xC000);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    BOTH_ANSWER(false);
    TAKE_BOTH();
    /* The ROM enable bit. */
    wr(PCI_ROM_ADDRESS, 4, 0xC4000001);
    BOTH_ANSWER(false);
    TAKE_BOTH();
    /* A function reset (BARs back to unassigned). */
    pci_function_reset(&fn2);
    BOTH_ANSWER(false);
    TAKE_BOTH();
    pci_function_reset(&fn);
    BOTH_ANSWER(false);
    assert_false(pci_bar_route_take(&bus, &fn, 0, &r0));
#undef TAKE_BOTH
#undef BOTH_ANSWER
}

/* Routes held across random reprogramming of three functions' BARs, COMMAND and ROM (overlaps,
 * decode off, 64-bit BARs above 4 GiB, I/O BARs, sizing, byte writes, resets), taken at random
 * moments (also with bad arguments), asked about random accesses near every window: the route
 * answers exactly when its map is current and the access lies in its window, and then the
 * search agrees on device, BAR and offset and serves the access whole. */
struct held_route {
    struct pci_bar_route r;
    bool taken;
    bool crossed_config_write; /* a configuration write since taken, same map */
};

static uint32_t pick32(const uint32_t *v, size_t n)
{
    return v[rng() % n];
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* One random configuration write (or a function reset), checked against the rule routes rely
 * on: map_seq moves exactly when some window's mapped state, or a mapped window's base, changes,
 * and is even (stable) again afterwards. */
static void random_config_write(struct pci_function *const *fns, unsigned *sizing_kept)
{
    struct pci_bar_window before[3][PCI_NUM_SLOTS];
    for (int i = 0; i < 3; i++)
        memcpy(before[i], fns[i]->win, sizeof before[i]);
    static const uint32_t mem_lo[] = {0xC1000000, 0xC1008000, 0xC10FF000, 0xC1100000, 0xC1101000,
                                      0xC2000000, 0xC3000000, 0xC3010000, 0xD0000000, 0xD0001000,
                                      0xE0000000, 0xFFFFFFFF, 0x00000000};
    static const uint32_t mem_hi[] = {0, 0, 0, 1, 0xFFFFFFFF};
    static const uint32_t io_lo[] = {0xC000, 0xC010, 0xC020, 0xFFFFFFFF, 0};
    struct pci_function *f = fns[rng() % 3];
    uint64_t x = rng();
    uint64_t seq = bus.map_seq;
    bool decode_on = get_le16(f->cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY;
    bool sizing = false;
    switch (x % 16) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5: { /* a BAR's low dword */
        int s = (int)((x >> 8) % PCI_NUM_BARS);
        bool io = f->dev->ops->bars[s].kind == PCI_BAR_IO;
        uint32_t v = io ? pick32(io_lo, 5) : pick32(mem_lo, 13);
        sizing = v == 0xFFFFFFFF;
        assert_true(pci_cfg_write(&bus, f->bdf, (uint16_t)(0x10 + 4 * s), 4, v));
        break;
    }
    case 6:
    case 7: { /* a 64-bit BAR's high dword (or whatever that slot holds) */
        int s = (int)((x >> 8) % (PCI_NUM_BARS - 1));
        assert_true(pci_cfg_write(&bus, f->bdf, (uint16_t)(0x14 + 4 * s), 4, pick32(mem_hi, 5)));
        break;
    }
    case 8: { /* one byte of a BAR */
        uint16_t reg = (uint16_t)(0x10 + (x >> 8) % 24);
        assert_true(pci_cfg_write(&bus, f->bdf, reg, 1, (uint32_t)(x >> 16) & 0xFF));
        break;
    }
    case 9:
    case 10:
    case 11:
    case 12: { /* COMMAND: memory decode on three times in four */
        uint32_t cmd = ((x >> 8) % 4 ? PCI_COMMAND_MEMORY : 0) |
                       ((x >> 10) & 1 ? PCI_COMMAND_IO : 0) |
                       ((x >> 11) & 1 ? PCI_COMMAND_MASTER : 0);
        assert_true(pci_cfg_write(&bus, f->bdf, PCI_COMMAND, 2, cmd));
        break;
    }
    case 13: { /* the ROM (only fn has one; the others' register is read-only zero) */
        uint32_t v = pick32(mem_lo, 13) | (uint32_t)((x >> 8) & 1);
        sizing = (v | 1) == 0xFFFFFFFF;
        assert_true(pci_cfg_write(&bus, f->bdf, PCI_ROM_ADDRESS, 4, v));
        break;
    }
    case 14:
        if ((x >> 8) % 64 == 0)
            pci_function_reset(f);
        break;
    default: /* not a BAR or COMMAND: the map never changes */
        assert_true(pci_cfg_write(&bus, f->bdf, PCI_INTERRUPT_LINE, 1, (uint32_t)x & 0xFF));
        break;
    }
    bool changed = false;
    for (int i = 0; i < 3; i++)
        for (int s = 0; s < PCI_NUM_SLOTS; s++) {
            const struct pci_bar_window *a = &before[i][s], *b = &fns[i]->win[s];
            changed |= a->mapped != b->mapped || (b->mapped && a->base != b->base);
        }
    assert_int_equal(bus.map_seq != seq, changed);
    assert_int_equal(bus.map_seq & 1, 0);
    if (sizing && !decode_on && !changed)
        (*sizing_kept)++;
}

struct route_counts {
    unsigned taken, taken_above_4g,
        refused[6]; /* NULL, range, foreign bus, unmapped, I/O, overlap */
    unsigned answered, kept_across_writes, map_changed, stale_differs, outside, straddle;
    unsigned overlap_steps, sizing_kept;
};

static struct pci_function *const route_fns[] = {&fn, &fn2, &fn3};
static struct testdev *const route_tds[] = {&td, &td2, &td3};

/* Takes a route of a function of the bus (or NULL, or one on another bus) and a slot from -1 to
 * PCI_NUM_SLOTS: it must be given exactly when the slot is a mapped memory BAR and no two mapped
 * windows overlap, and then describe the published window at the current, even map_seq. */
static void take_random_route(uint64_t x, struct held_route *h, struct route_counts *c)
{
    unsigned pick = (unsigned)(x % 8);
    struct pci_function *f = pick < 6 ? route_fns[pick % 3] : pick == 6 ? NULL : &fn_other;
    int bar = (int)((x >> 4) % (PCI_NUM_SLOTS + 2)) - 1;
    struct pci_bar_route r;
    bool ok = pci_bar_route_take(&bus, f, bar, &r);
    int why = !f                                ? 0
              : bar < 0 || bar >= PCI_NUM_SLOTS ? 1
              : f->bus != &bus                  ? 2
              : !f->win[bar].mapped             ? 3
              : f->win[bar].io                  ? 4
              : windows_overlap()               ? 5
                                                : -1;
    assert_int_equal(ok, why < 0);
    if (!ok) {
        c->refused[why]++;
        return;
    }
    assert_ptr_equal(r.dev, f->dev);
    assert_int_equal(r.bar, bar);
    assert_int_equal(r.base, f->win[bar].base);
    assert_int_equal(r.size, f->win[bar].size);
    assert_int_equal(r.map_seq, bus.map_seq);
    assert_int_equal(r.map_seq & 1, 0);
    *h = (struct held_route){.r = r, .taken = true};
    c->taken++;
    c->taken_above_4g += r.base >= 0x100000000ull;
}

/* An access through a held route: near its window's start or end, inside it, or near any
 * window of the bus (mapped or not). */
static void check_route_access(uint64_t x, const struct held_route *h, struct route_counts *c)
{
    static const unsigned sizes[] = {1, 2, 4, 8};
    unsigned size = sizes[x % 4];
    const struct pci_bar_route *r = &h->r;
    uint64_t base = r->base, len = r->size;
    if ((x >> 2) % 4 == 0) {
        const struct pci_bar_window *w = &route_fns[(x >> 4) % 3]->win[(x >> 6) % PCI_NUM_SLOTS];
        base = w->base;
        len = w->size;
    }
    uint64_t k = (x >> 12) % 16;
    uint64_t gpa;
    switch ((x >> 9) % 4) {
    case 0:
        gpa = base - 8 + k;
        break;
    case 1:
        gpa = base + len - 8 + k;
        break;
    default:
        gpa = base + (x >> 20) % (len ? len : 1);
        break;
    }

    bool same_map = bus.map_seq == r->map_seq;
    bool inside = gpa >= r->base && gpa - r->base < r->size;
    bool fits = inside && size <= r->size - (gpa - r->base);
    uint64_t off = 0xDEAD;
    assert_int_equal(pci_bar_route_offset(&bus, r, gpa, size, &off), same_map && fits);

    struct pci_function *sf = NULL;
    int sbar = -1;
    uint64_t soff = 0;
    bool found = pci_mmio_find(&bus, gpa, &sf, &sbar, &soff);
    if (!same_map) {
        c->map_changed++;
        /* Would the stale route have sent this access somewhere the search does not? */
        if (fits && (!found || sf->dev != r->dev || sbar != r->bar || soff != gpa - r->base))
            c->stale_differs++;
        return;
    }
    if (!inside) {
        c->outside++;
        return;
    }
    if (!fits) {
        c->straddle++;
        return;
    }
    c->answered++;
    c->kept_across_writes += h->crossed_config_write;
    assert_int_equal(off, gpa - r->base);
    /* The search: same device, BAR and offset, and the access's last byte in the same window. */
    assert_true(found);
    assert_ptr_equal(sf->dev, r->dev);
    assert_int_equal(sbar, r->bar);
    assert_int_equal(soff, off);
    assert_true(pci_mmio_find(&bus, gpa + size - 1, &sf, &sbar, &soff));
    assert_ptr_equal(sf->dev, r->dev);
    assert_int_equal(sbar, r->bar);
    assert_int_equal(soff, off + size - 1);
    assert_true(sf->win[sbar].mapped && !sf->win[sbar].io);
    assert_int_equal(sf->win[sbar].base, r->base);
    assert_int_equal(sf->win[sbar].size, r->size);

    /* The access through the route (as boot/mmio.c makes it) and through pci_mmio_read/write:
     * one identical device access each, on the route's device only, and the same value. */
    bool write = (x >> 62) & 1;
    uint64_t mask = ~0ull >> (64 - 8 * size);
    uint64_t wval = rng();
    for (int i = 0; i < 3; i++)
        route_tds[i]->n_log = 0;
    uint64_t v_route = ~0ull;
    if (write)
        r->dev->ops->write(r->dev, r->bar, off, size, wval & mask);
    else
        r->dev->ops->read(r->dev, r->bar, off, size, &v_route);
    v_route &= mask;
    struct testdev_access a_route[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(route_tds[i]->n_log, &route_tds[i]->dev == r->dev);
        a_route[i] = route_tds[i]->log[0];
        route_tds[i]->n_log = 0;
    }
    uint64_t v_search = 0;
    enum pci_mmio_result res =
        write ? pci_mmio_write(&bus, gpa, size, wval) : pci_mmio_read(&bus, gpa, size, &v_search);
    assert_int_equal(res, PCI_MMIO_OK);
    if (!write)
        assert_int_equal(v_search, v_route);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(route_tds[i]->n_log, &route_tds[i]->dev == r->dev);
        if (route_tds[i]->n_log)
            assert_memory_equal(&route_tds[i]->log[0], &a_route[i], sizeof a_route[i]);
    }
}

static void route_answers_only_where_the_search_routes_the_same(void **state)
{
    (void)state;
    add_route_functions();
    struct held_route held[6];
    memset(held, 0, sizeof held);
    struct route_counts c;
    memset(&c, 0, sizeof c);

    for (unsigned step = 0; step < 150000; step++) {
        uint64_t x = rng();
        /* Reprogram something in one step of eight. */
        if (x % 8 == 0) {
            uint64_t seq = bus.map_seq;
            random_config_write(route_fns, &c.sizing_kept);
            for (unsigned i = 0; i < 6; i++)
                if (held[i].taken && bus.map_seq == seq && held[i].r.map_seq == seq)
                    held[i].crossed_config_write = true;
        }
        c.overlap_steps += windows_overlap();
        /* Take a route in one step of two. */
        if ((x >> 3) % 2 == 0)
            take_random_route(x >> 8, &held[(x >> 5) % 6], &c);
        /* Four accesses through held routes. */
        for (int i = 0; i < 4; i++) {
            const struct held_route *h = &held[rng() % 6];
            if (h->taken)
                check_route_access(rng(), h, &c);
        }
    }
    printf("route: %u taken (%u above 4 GiB), refused null %u range %u foreign %u unmapped %u "
           "io %u overlap %u; answered %u (%u across config writes), refused: map changed %u "
           "(%u would misroute), outside %u, straddle %u; overlap steps %u, sizing kept %u\n",
           c.taken, c.taken_above_4g, c.refused[0], c.refused[1], c.refused[2], c.refused[3],
           c.refused[4], c.refused[5], c.answered, c.kept_across_writes, c.map_changed,
           c.stale_differs, c.outside, c.straddle, c.overlap_steps, c.sizing_kept);
    /* Not vacuous: every outcome and every refusal happened, often. */
    assert_true(c.taken > 1000);
    assert_true(c.taken_above_4g > 50);
    for (int i = 0; i < 6; i++)
        assert_true(c.refused[i] > 100);
    assert_true(c.answered > 5000);
    assert_true(c.kept_across_writes > 500);
    assert_true(c.map_changed > 5000);
    assert_true(c.stale_differs > 500);
    assert_true(c.outside > 1000);
    assert_true(c.straddle > 500);
    assert_true(c.overlap_steps > 5000);
    assert_true(c.sizing_kept > 100);
}

/* pci_bar_route_take reads the window lock-free, so a route taken while another CPU moves the
 * BAR must still describe the window of the map_seq it carries (never an old base with a new
 * map_seq or the reverse). Another thread moves fn's BAR0 between two bases, one map change
 * (map_seq + 2) per write, so the base of every map_seq is known: seq0 + 4k has base A,
 * seq0 + 4k + 2 base B. */
#define MOVE_A 0xC1000000u
#define MOVE_B 0xD0000000u

struct bar_mover {
    int stop;
    unsigned writes, failed;
};

static void *bar_mover_thread(void *arg)
{
    struct bar_mover *m = arg;
    while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
        m->writes++;
        if (!pci_cfg_write(&bus, BDF, 0x10, 4, m->writes & 1 ? MOVE_B : MOVE_A))
            m->failed++;
    }
    return NULL;
}

static void route_taken_while_another_cpu_moves_the_bar_matches_its_map_seq(void **state)
{
    (void)state;
    wr(0x10, 4, MOVE_A);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    const uint64_t seq0 = bus.map_seq;
    struct bar_mover m = {0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bar_mover_thread, &m), 0);
    unsigned taken = 0, answered = 0, seqs_seen = 0, refused = 0;
    uint32_t last_seq = seq0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool ok = true;
    for (unsigned i = 0; ok; i++) {
        struct pci_bar_route r;
        if (pci_bar_route_take(&bus, &fn, 0, &r)) {
            taken++;
            uint64_t k = (r.map_seq - seq0) / 2;
            ok = !(r.map_seq & 1) && r.base == (k % 2 ? MOVE_B : MOVE_A) && r.size == 0x100000 &&
                 r.bar == 0 && r.dev == &td.dev;
            seqs_seen += r.map_seq != last_seq;
            last_seq = r.map_seq;
            /* The route answers only for its own map: in its window when the map is still that
             * one. */
            uint64_t off;
            if (pci_bar_route_offset(&bus, &r, r.base + 0x10, 4, &off)) {
                answered++;
                ok &= off == 0x10;
            }
        } else {
            refused++; /* caught mid-update (odd map_seq) */
        }
        if (i % 1024 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            /* Enough once many maps were seen and many takes met a writer mid-update (the two
             * threads really ran at once); at most about 3 s on a busy machine. */
            if ((seqs_seen >= 500 && refused >= 1000) || now.tv_sec - t0.tv_sec >= 3)
                break;
        }
    }
    __atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(t, NULL), 0);
    printf("route under moves: %u taken (%u map_seqs), %u answered, %u refused mid-update, "
           "%u moves\n",
           taken, seqs_seen, answered, refused, m.writes);
    assert_true(ok);
    assert_int_equal(m.failed, 0);
    /* Not vacuous: routes were taken in many different maps while the BAR was moving. */
    assert_true(seqs_seen >= 50);
    assert_true(answered > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(bar_write_with_decode_off_reports_nothing, setup),
        cmocka_unit_test_setup(memory_enable_reports_each_assigned_bar_mapped_once, setup),
        cmocka_unit_test_setup(bar_move_while_enabled_reports_old_and_new_range, setup),
        cmocka_unit_test_setup(sizing_with_decode_on_never_maps_the_sizing_pattern, setup),
        cmocka_unit_test_setup(bar64_moves_with_each_half_and_sizing_never_maps, setup),
        cmocka_unit_test_setup(rom_maps_only_with_its_enable_bit_and_memory_decode, setup),
        cmocka_unit_test_setup(io_bar_follows_the_io_enable_bit, setup),
        cmocka_unit_test_setup(mmio_find_returns_function_bar_and_offset, setup),
        cmocka_unit_test_setup(mmio_read_and_write_reach_the_device_with_offset_and_size, setup),
        cmocka_unit_test_setup(mmio_outside_mapped_bars_is_unclaimed, setup),
        cmocka_unit_test_setup(mmio_straddling_a_bar_end_is_refused_whole, setup),
        cmocka_unit_test_setup(mmio_bad_sizes_are_refused, setup),
        cmocka_unit_test_setup(mmio_follows_a_moved_bar, setup),
        cmocka_unit_test_setup(pio_reaches_a_mapped_io_bar_only, setup),
        cmocka_unit_test_setup(route_take_refuses_io_unmapped_out_of_range_null_foreign_and_overlap,
                               setup),
        cmocka_unit_test_setup(route_offset_answers_inside_the_window_only, setup),
        cmocka_unit_test_setup(route_is_refused_after_any_map_change_and_kept_otherwise, setup),
        cmocka_unit_test_setup(route_answers_only_where_the_search_routes_the_same, setup),
        cmocka_unit_test_setup(route_taken_while_another_cpu_moves_the_bar_matches_its_map_seq,
                               setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
