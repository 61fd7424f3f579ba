/* pci/ BAR decoding: which range changes a BAR write or a COMMAND toggle reports (and that
 * sizing reports no move to the sizing pattern), and MMIO dispatch over the mapped BARs
 * (routing, offsets, unclaimed addresses, accesses straddling a BAR's end, bad sizes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* pci_bar_read/write with a guessed BAR (the EPT region's owner and tag) must answer exactly
 * as the search does: the same result, value and device access, also for wrong guesses, moved
 * or disabled BARs, overlapping BARs of two functions, straddling and bad sizes. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    return xorshift64(&rng_state);
}

static void bar_access_with_a_guess_answers_as_the_search(void **state)
{
    (void)state;
    static struct pci_function fn2;
    static struct testdev td2;
    testdev_init(&td2);
    td2.ops.bars[0] = (struct pci_bar_decl){.size = 0x10000, .kind = PCI_BAR_MEM32};
    assert_true(pci_bus_add(&bus, &fn2, &td2.dev, PCI_BDF(0, 4, 0)));
    static const uint32_t bases[] = {0xC1000000, 0xC1100000, 0xC1008000, 0xC2000000, 0};
    static const unsigned sizes[] = {1, 2, 3, 4, 8, 16, 0};
    unsigned guessed_right = 0, overlaps = 0;
    for (unsigned i = 0; i < 20000; i++) {
        unsigned r = (unsigned)rng();
        /* Reprogram a BAR of either function, or its decode. */
        uint16_t bdf = (r & 1) ? PCI_BDF(0, 4, 0) : BDF;
        switch ((r >> 1) % 4) {
        case 0:
            assert_true(pci_cfg_write(&bus, bdf, 0x10, 4, bases[(r >> 3) % 5]));
            break;
        case 1:
            assert_true(pci_cfg_write(&bus, BDF, 0x14, 4, bases[(r >> 3) % 5] + 0x1000));
            break;
        case 2:
            assert_true(
                pci_cfg_write(&bus, bdf, PCI_COMMAND, 2, (r >> 3) & 1 ? PCI_COMMAND_MEMORY : 0));
            break;
        default:
            break;
        }
        overlaps += bus.mem_overlap;
        /* Addresses inside the windows and around every window size's end (straddling). */
        static const uint64_t ends[] = {0, 0x1000, 0x4000, 0x10000, 0x100000};
        uint64_t x = rng();
        uint64_t gpa = bases[(r >> 5) % 4] +
                       ((x & 1) ? x % 0x10008 - 4 : ends[(x >> 1) % 5] + (x >> 4) % 16 - 8);
        unsigned size = sizes[(r >> 8) % 7];
        /* Half the time the right BAR (as the EPT region would say), else any guess. */
        struct pci_function *guess = (r >> 11) % 3 == 0 ? NULL : (r >> 11) % 3 == 1 ? &fn : &fn2;
        int bar = (int)((r >> 13) % 9) - 1;
        struct pci_function *found_fn;
        int found_bar;
        uint64_t found_off;
        if (pci_mmio_find(&bus, gpa, &found_fn, &found_bar, &found_off) && ((r >> 18) & 1)) {
            guess = found_fn;
            bar = found_bar;
            guessed_right++;
        }
        bool write = (r >> 17) & 1;
        uint64_t wval = rng();
        uint64_t v_search = 1, v_guess = 2;
        td.n_log = td2.n_log = 0;
        enum pci_mmio_result r_search = write ? pci_mmio_write(&bus, gpa, size, wval)
                                              : pci_mmio_read(&bus, gpa, size, &v_search);
        struct testdev_access a1 = td.log[0], b1 = td2.log[0];
        unsigned n1 = td.n_log, m1 = td2.n_log;
        td.n_log = td2.n_log = 0;
        memset(td.log, 0, sizeof td.log);
        memset(td2.log, 0, sizeof td2.log);
        enum pci_mmio_result r_guess = write ? pci_bar_write(&bus, guess, bar, gpa, size, wval)
                                             : pci_bar_read(&bus, guess, bar, gpa, size, &v_guess);
        assert_int_equal(r_guess, r_search);
        if (!write)
            assert_int_equal(v_guess, v_search);
        assert_int_equal(td.n_log, n1);
        assert_int_equal(td2.n_log, m1);
        if (n1)
            assert_memory_equal(&td.log[0], &a1, sizeof a1);
        if (m1)
            assert_memory_equal(&td2.log[0], &b1, sizeof b1);
    }
    /* Not vacuous: right guesses (the fast route) and overlapping BARs both happened. */
    assert_true(guessed_right > 500);
    assert_true(overlaps > 500);
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
        cmocka_unit_test_setup(bar_access_with_a_guess_answers_as_the_search, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
