/* pci/place: device numbers on bus 0 and BAR addresses that are naturally aligned, inside a
 * host-bridge window, below 4 GiB for 32-bit BARs, and clear of RAM, busy ranges and each
 * other; clear errors when nothing fits. Includes a randomized check of those invariants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pci/place.h"

static struct device_ops one_mib32 = {
    .bars = {[0] = {.size = 0x100000, .kind = PCI_BAR_MEM32}},
};
static struct device_ops mixed = {
    .bars = {[0] = {.size = 0x4000, .kind = PCI_BAR_MEM32},
             [2] = {.size = 0x200000, .kind = PCI_BAR_MEM64, .prefetchable = true},
             [PCI_ROM_SLOT] = {.size = 0x10000, .kind = PCI_BAR_ROM}},
};
static struct device_ops io_bar = {
    .bars = {[0] = {.size = 32, .kind = PCI_BAR_IO}},
};

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a < b + bs && b < a + as;
}

static void picks_the_lowest_free_device_number_after_zero(void **state)
{
    (void)state;
    struct pci_range win = {0xC0000000, 0x10000000};
    struct pci_place_input in = {.taken_slots = 0x0000000F, .windows = &win, .n_windows = 1};
    struct pci_place_fn f = {.ops = &one_mib32};
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_OK);
    assert_int_equal(f.slot, 4);
    in.taken_slots = 0; /* device 0 is still never offered */
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_OK);
    assert_int_equal(f.slot, 1);
}

static void reports_no_slot_when_bus_zero_is_full(void **state)
{
    (void)state;
    struct pci_range win = {0xC0000000, 0x10000000};
    struct pci_place_input in = {.taken_slots = 0xFFFFFFFE, .windows = &win, .n_windows = 1};
    struct pci_place_fn f = {.ops = &one_mib32};
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_NO_SLOT);
    in.taken_slots = 0x7FFFFFFE; /* one slot left, two functions */
    struct pci_place_fn two[2] = {{.ops = &one_mib32}, {.ops = &one_mib32}};
    assert_int_equal(pci_place(&in, two, 2), PCI_PLACE_NO_SLOT);
    assert_string_equal(pci_place_strerror(PCI_PLACE_NO_SLOT), "no free device number on bus 0");
}

static void skips_ram_and_busy_ranges_and_aligns_naturally(void **state)
{
    (void)state;
    struct pci_range win = {0x80000000, 0x40000000};
    struct pci_range ram[] = {{0, 0x80880000}}; /* RAM pokes 8.5 MiB into the window */
    struct pci_range busy[] = {{0x80900000, 0x1000}, {0x80A00000, 0x100000}};
    struct pci_place_input in = {
        .ram = ram, .n_ram = 1, .busy = busy, .n_busy = 2, .windows = &win, .n_windows = 1};
    struct pci_place_fn f = {.ops = &one_mib32};
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_OK);
    assert_int_equal(f.base[0], 0x80B00000); /* 0x808.. and 0x809.. and 0x80A.. are taken */
    for (int s = 1; s < PCI_NUM_SLOTS; s++)
        assert_int_equal(f.base[s], 0);
}

static void two_functions_get_distinct_slots_and_disjoint_bars(void **state)
{
    (void)state;
    struct pci_range win = {0xC0000000, 0x01000000};
    struct pci_place_input in = {.taken_slots = 0x3, .windows = &win, .n_windows = 1};
    struct pci_place_fn f[2] = {{.ops = &one_mib32}, {.ops = &mixed}};
    assert_int_equal(pci_place(&in, f, 2), PCI_PLACE_OK);
    assert_int_equal(f[0].slot, 2);
    assert_int_equal(f[1].slot, 3);
    /* Largest first: the 2 MiB BAR at the window base, then 1 MiB, 64 KiB, 16 KiB. */
    assert_int_equal(f[1].base[2], 0xC0000000);
    assert_int_equal(f[0].base[0], 0xC0200000);
    assert_int_equal(f[1].base[PCI_ROM_SLOT], 0xC0300000);
    assert_int_equal(f[1].base[0], 0xC0310000);
}

static void bars_stay_inside_the_window_or_fail_with_no_space(void **state)
{
    (void)state;
    struct pci_range win = {0xC0000000, 0x00180000}; /* 1.5 MiB */
    struct pci_range busy = {0xC0000000, 0x1000};
    struct pci_place_input in = {.busy = &busy, .n_busy = 1, .windows = &win, .n_windows = 1};
    struct pci_place_fn f = {.ops = &one_mib32};
    /* The only 1 MiB-aligned slot, 0xC0000000, is partly busy; 0xC0100000 ends past the
     * window. */
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_NO_SPACE);
    in.n_windows = 0;
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_NO_SPACE);
    /* A second window with room is used. */
    struct pci_range wins[] = {win, {0xE0000000, 0x100000}};
    in.windows = wins;
    in.n_windows = 2;
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_OK);
    assert_int_equal(f.base[0], 0xE0000000);
}

static void bars_32bit_stay_below_4gib_and_64bit_may_go_above(void **state)
{
    (void)state;
    struct pci_range win = {0xFFF00000, 0x100100000ull}; /* crosses 4 GiB */
    struct pci_range busy = {0xFFF00000, 0x100000};
    struct pci_place_input in = {.busy = &busy, .n_busy = 1, .windows = &win, .n_windows = 1};
    struct pci_place_fn f = {.ops = &one_mib32};
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_NO_SPACE);
    static struct device_ops m64 = {
        .bars = {[0] = {.size = 0x100000, .kind = PCI_BAR_MEM64}},
    };
    f.ops = &m64;
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_OK);
    assert_int_equal(f.base[0], 0x100000000ull);
}

static void window_at_the_top_of_the_address_space_does_not_wrap(void **state)
{
    (void)state;
    static struct device_ops m64 = {
        .bars = {[0] = {.size = 0x100000, .kind = PCI_BAR_MEM64}},
    };
    struct pci_range win = {0xFFFFFFFFFFF00000ull, 0x100000};
    struct pci_range busy = {0xFFFFFFFFFFF00000ull, 0x100000};
    struct pci_place_input in = {.windows = &win, .n_windows = 1};
    struct pci_place_fn f = {.ops = &m64};
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_OK);
    assert_int_equal(f.base[0], 0xFFFFFFFFFFF00000ull);
    in.busy = &busy;
    in.n_busy = 1;
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_NO_SPACE);
}

static void io_bars_and_bad_arguments_are_bad_requests(void **state)
{
    (void)state;
    struct pci_range win = {0xC0000000, 0x10000000};
    struct pci_place_input in = {.windows = &win, .n_windows = 1};
    struct pci_place_fn f = {.ops = &io_bar};
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_BAD_REQUEST);
    f.ops = NULL;
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_BAD_REQUEST);
    assert_int_equal(pci_place(NULL, &f, 1), PCI_PLACE_BAD_REQUEST);
    static struct device_ops odd = {.bars = {[0] = {.size = 0x3000, .kind = PCI_BAR_MEM32}}};
    f.ops = &odd;
    assert_int_equal(pci_place(&in, &f, 1), PCI_PLACE_BAD_REQUEST);
}

/* Random machines: RAM below the window, random busy ranges inside it; whatever pci_place
 * returns must satisfy every rule, and NO_SPACE must only happen when the window is crowded. */
static void random_layouts_always_satisfy_the_placement_rules(void **state)
{
    (void)state;
    srand(12345);
    unsigned ok = 0;
    for (int round = 0; round < 2000; round++) {
        struct pci_range win = {0x80000000ull + ((uint64_t)(rand() % 64) << 20),
                                (uint64_t)(rand() % 256 + 1) << 20};
        struct pci_range ram = {0, 0x80000000ull + ((uint64_t)(rand() % 32) << 20)};
        struct pci_range busy[16];
        size_t nb = (size_t)(rand() % 16);
        for (size_t i = 0; i < nb; i++)
            busy[i] = (struct pci_range){win.base + (uint64_t)(rand() % 4096) * 0x10000,
                                         (uint64_t)(rand() % 64 + 1) * 0x1000};
        struct pci_place_input in = {.taken_slots = (uint32_t)rand(),
                                     .ram = &ram,
                                     .n_ram = 1,
                                     .busy = busy,
                                     .n_busy = nb,
                                     .windows = &win,
                                     .n_windows = 1};
        struct pci_place_fn f[2] = {{.ops = &one_mib32}, {.ops = &mixed}};
        enum pci_place_result r = pci_place(&in, f, 2);
        if (r == PCI_PLACE_NO_SLOT) {
            assert_true(__builtin_popcount(in.taken_slots | 1u) >= 31);
            continue;
        }
        if (r != PCI_PLACE_OK) {
            assert_int_equal(r, PCI_PLACE_NO_SPACE);
            continue;
        }
        ok++;
        assert_int_not_equal(f[0].slot, f[1].slot);
        for (int i = 0; i < 2; i++) {
            assert_true(f[i].slot >= 1 && f[i].slot < 32);
            assert_false(in.taken_slots & (1u << f[i].slot));
            for (int s = 0; s < PCI_NUM_SLOTS; s++) {
                const struct pci_bar_decl *b = &f[i].ops->bars[s];
                if (b->kind == PCI_BAR_NONE)
                    continue;
                uint64_t base = f[i].base[s];
                assert_int_equal(base & (b->size - 1), 0);
                assert_true(base >= win.base && base + b->size <= win.base + win.size);
                if (b->kind != PCI_BAR_MEM64)
                    assert_true(base + b->size <= 0x100000000ull);
                assert_false(overlaps(base, b->size, ram.base, ram.size));
                for (size_t k = 0; k < nb; k++)
                    assert_false(overlaps(base, b->size, busy[k].base, busy[k].size));
                for (int j = 0; j < 2; j++)
                    for (int t = 0; t < PCI_NUM_SLOTS; t++) {
                        if ((i == j && s == t) || f[j].ops->bars[t].kind == PCI_BAR_NONE)
                            continue;
                        assert_false(overlaps(base, b->size, f[j].base[t], f[j].ops->bars[t].size));
                    }
            }
        }
    }
    assert_true(ok > 1000); /* the generator mostly produces machines with room */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(picks_the_lowest_free_device_number_after_zero),
        cmocka_unit_test(reports_no_slot_when_bus_zero_is_full),
        cmocka_unit_test(skips_ram_and_busy_ranges_and_aligns_naturally),
        cmocka_unit_test(two_functions_get_distinct_slots_and_disjoint_bars),
        cmocka_unit_test(bars_stay_inside_the_window_or_fail_with_no_space),
        cmocka_unit_test(bars_32bit_stay_below_4gib_and_64bit_may_go_above),
        cmocka_unit_test(window_at_the_top_of_the_address_space_does_not_wrap),
        cmocka_unit_test(io_bars_and_bad_arguments_are_bad_requests),
        cmocka_unit_test(random_layouts_always_satisfy_the_placement_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
