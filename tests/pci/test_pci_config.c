/* pci/ configuration space: read-only, writable and write-1-to-clear bytes, BAR sizing for
 * 32-bit, 64-bit, I/O and ROM BARs, COMMAND, the capability list and the MSI capability,
 * malformed accesses, declaration checks, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/pci/testdev.h"

#define BDF PCI_BDF(0, 3, 0)

static struct pci_bus bus;
static struct pci_function fn;
static struct testdev td;
static struct map_log ml;

static uint32_t rd(uint16_t off, unsigned size)
{
    uint32_t v;
    assert_true(pci_cfg_read(&bus, BDF, off, size, &v));
    return v;
}

static void wr(uint16_t off, unsigned size, uint32_t v)
{
    assert_true(pci_cfg_write(&bus, BDF, off, size, v));
}

/* A function with every kind of BAR: 0 mem32 1 MiB, 1 mem32 prefetchable 4 KiB, 2-3 mem64
 * 16 KiB, 4 I/O 32 bytes, 5 unused, ROM 64 KiB; MSI 64-bit with 4 vectors. */
static int setup_full(void **state)
{
    (void)state;
    memset(&ml, 0, sizeof ml);
    testdev_init(&td);
    td.ops.bars[0] = (struct pci_bar_decl){.size = 0x100000, .kind = PCI_BAR_MEM32};
    td.ops.bars[1] =
        (struct pci_bar_decl){.size = 0x1000, .kind = PCI_BAR_MEM32, .prefetchable = true};
    td.ops.bars[2] = (struct pci_bar_decl){.size = 0x4000, .kind = PCI_BAR_MEM64};
    td.ops.bars[4] = (struct pci_bar_decl){.size = 32, .kind = PCI_BAR_IO};
    td.ops.bars[PCI_ROM_SLOT] = (struct pci_bar_decl){.size = 0x10000, .kind = PCI_BAR_ROM};
    td.ops.msi_vectors = 4;
    td.ops.msi_64bit = true;
    pci_bus_init(&bus, NULL, NULL, map_log_record, &ml);
    assert_true(pci_bus_add(&bus, &fn, &td.dev, BDF));
    return 0;
}

static void identity_and_header_are_read_only(void **state)
{
    (void)state;
    assert_int_equal(rd(PCI_VENDOR_ID, 4), 0x00051b36);
    assert_int_equal(rd(PCI_REVISION_ID, 4), 0x02000001);
    assert_int_equal(rd(PCI_HEADER_TYPE, 1), 0);
    assert_int_equal(rd(PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
    assert_int_equal(rd(PCI_INTERRUPT_PIN, 1), 1);
    for (uint16_t off = 0; off < 0x40; off += 4) {
        if (off == PCI_COMMAND || (off >= 0x10 && off <= 0x30) || off == 0x0C || off == 0x3C)
            continue;
        uint32_t before = rd(off, 4);
        wr(off, 4, 0xFFFFFFFF);
        wr(off, 4, 0);
        assert_int_equal(rd(off, 4), before);
    }
}

static void command_keeps_only_io_mem_master_serr_intx_disable(void **state)
{
    (void)state;
    wr(PCI_COMMAND, 2, 0xFFFF);
    assert_int_equal(rd(PCI_COMMAND, 2), 0x0507);
    wr(PCI_COMMAND, 2, 0);
    assert_int_equal(rd(PCI_COMMAND, 2), 0);
    wr(PCI_COMMAND + 1, 1, 0x04); /* byte write to the upper half: INTx disable */
    assert_int_equal(rd(PCI_COMMAND, 2), 0x0400);
}

static void cache_line_and_interrupt_line_are_read_write(void **state)
{
    (void)state;
    wr(PCI_CACHE_LINE_SIZE, 1, 0x10);
    wr(PCI_INTERRUPT_LINE, 1, 0x0B);
    assert_int_equal(rd(PCI_CACHE_LINE_SIZE, 1), 0x10);
    assert_int_equal(rd(PCI_INTERRUPT_LINE, 1), 0x0B);
    wr(PCI_INTERRUPT_PIN, 1, 3);
    assert_int_equal(rd(PCI_INTERRUPT_PIN, 1), 1);
}

static void status_error_bits_are_write_one_to_clear(void **state)
{
    (void)state;
    /* Errors are set by the function itself; model that by poking the register. */
    fn.cfg[PCI_STATUS + 1] = 0xF9;
    uint16_t before = (uint16_t)rd(PCI_STATUS, 2);
    assert_int_equal(before, 0xF910);
    wr(PCI_STATUS, 2, 0); /* writing zeros changes nothing */
    assert_int_equal(rd(PCI_STATUS, 2), 0xF910);
    wr(PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
    assert_int_equal(rd(PCI_STATUS, 2), 0xD910); /* only bit 13 cleared; cap list read-only */
    wr(PCI_STATUS, 2, 0xFFFF);
    assert_int_equal(rd(PCI_STATUS, 2), 0x0010);
}

static void bar32_sizing_returns_size_mask_and_type_bits(void **state)
{
    (void)state;
    assert_int_equal(rd(0x10, 4), 0x00000000);
    wr(0x10, 4, 0xFFFFFFFF);
    assert_int_equal(rd(0x10, 4), 0xFFF00000); /* 1 MiB, 32-bit, non-prefetchable */
    wr(0x14, 4, 0xFFFFFFFF);
    assert_int_equal(rd(0x14, 4), 0xFFFFF008); /* 4 KiB, prefetchable */
    wr(0x10, 4, 0xC1000007);                   /* type bits are read-only */
    assert_int_equal(rd(0x10, 4), 0xC1000000);
    wr(0x10, 4, 0xC10FF000); /* address bits below the size are read-only */
    assert_int_equal(rd(0x10, 4), 0xC1000000);
}

static void bar64_sizing_spans_two_registers(void **state)
{
    (void)state;
    assert_int_equal(rd(0x18, 4), 0x00000004);
    wr(0x18, 4, 0xFFFFFFFF);
    wr(0x1C, 4, 0xFFFFFFFF);
    assert_int_equal(rd(0x18, 4), 0xFFFFC004);
    assert_int_equal(rd(0x1C, 4), 0xFFFFFFFF);
    wr(0x18, 4, 0x00004000);
    wr(0x1C, 4, 0x00000012);
    assert_int_equal(rd(0x18, 4), 0x00004004);
    assert_int_equal(rd(0x1C, 4), 0x00000012);
}

static void bar64_of_eight_gib_sizes_through_the_high_register(void **state)
{
    (void)state;
    struct pci_bus b;
    struct pci_function f;
    struct testdev t;
    testdev_init(&t);
    t.ops.bars[0] =
        (struct pci_bar_decl){.size = 1ull << 33, .kind = PCI_BAR_MEM64, .prefetchable = true};
    pci_bus_init(&b, NULL, NULL, NULL, NULL);
    assert_true(pci_bus_add(&b, &f, &t.dev, BDF));
    uint32_t v;
    pci_cfg_write(&b, BDF, 0x10, 4, 0xFFFFFFFF);
    pci_cfg_write(&b, BDF, 0x14, 4, 0xFFFFFFFF);
    pci_cfg_read(&b, BDF, 0x10, 4, &v);
    assert_int_equal(v, 0x0000000C);
    pci_cfg_read(&b, BDF, 0x14, 4, &v);
    assert_int_equal(v, 0xFFFFFFFE);
}

static void io_bar_sizing_keeps_the_io_bit(void **state)
{
    (void)state;
    assert_int_equal(rd(0x20, 4), 0x00000001);
    wr(0x20, 4, 0xFFFFFFFF);
    assert_int_equal(rd(0x20, 4), 0xFFFFFFE1);
}

static void rom_sizing_keeps_the_enable_bit_writable(void **state)
{
    (void)state;
    wr(PCI_ROM_ADDRESS, 4, 0xFFFFFFFF);
    assert_int_equal(rd(PCI_ROM_ADDRESS, 4), 0xFFFF0001);
    wr(PCI_ROM_ADDRESS, 4, 0xFFFFFFFE);
    assert_int_equal(rd(PCI_ROM_ADDRESS, 4), 0xFFFF0000);
}

static void unused_bar_reads_zero_and_ignores_writes(void **state)
{
    (void)state;
    wr(0x24, 4, 0xFFFFFFFF);
    assert_int_equal(rd(0x24, 4), 0);
}

static void capability_list_walk_finds_msi_at_0x40(void **state)
{
    (void)state;
    assert_true(rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    uint8_t ptr = (uint8_t)rd(PCI_CAPABILITY_LIST, 1);
    unsigned found = 0, hops = 0;
    while (ptr && hops++ < 48) {
        assert_int_equal(ptr & 3, 0);
        if (rd(ptr, 1) == PCI_CAP_ID_MSI) {
            assert_int_equal(ptr, 0x40);
            found++;
        }
        ptr = (uint8_t)rd(ptr + 1, 1);
    }
    assert_int_equal(found, 1);
    /* 64-bit, 4 vectors capable (log2 2 in bits 3:1), not enabled. */
    assert_int_equal(rd(0x42, 2), 0x0084);
}

static void msi_fields_have_the_specified_writable_bits(void **state)
{
    (void)state;
    /* MSI off: multiple-message-enable keeps what was written (QEMU clamps only while
     * enabled); the 64-bit and capable fields are read-only. */
    wr(0x42, 2, 0xFF7E);
    assert_int_equal(rd(0x42, 2), 0x00F4);
    wr(0x42, 2, 0xFFFF);
    /* enable + multiple-message-enable clamped to the capable count (log2 4 = 2) */
    assert_int_equal(rd(0x42, 2), 0x00A5);
    wr(0x44, 4, 0xFFFFFFFF);
    assert_int_equal(rd(0x44, 4), 0xFFFFFFFC); /* dword-aligned address */
    wr(0x48, 4, 0x12345678);
    assert_int_equal(rd(0x48, 4), 0x12345678);
    wr(0x4C, 4, 0xFFFFFFFF);
    assert_int_equal(rd(0x4C, 2), 0xFFFF);
    wr(0x40, 2, 0xFFFF); /* id and next pointer are read-only */
    assert_int_equal(rd(0x40, 2), 0x0005);
    assert_true(pci_msi_enabled(&fn));
}

static void device_specific_area_is_read_write_like_qemu(void **state)
{
    (void)state;
    wr(0x80, 4, 0xDEADBEEF);
    assert_int_equal(rd(0x80, 4), 0xDEADBEEF);
    wr(0xFC, 4, 0x01020304);
    assert_int_equal(rd(0xFF, 1), 0x01);
}

static void malformed_accesses_are_rejected_with_all_ones(void **state)
{
    (void)state;
    uint32_t v = 0;
    assert_false(pci_cfg_read(&bus, BDF, 0x03, 2, &v)); /* leaves the dword */
    assert_int_equal(v, 0xFFFF);
    assert_false(pci_cfg_read(&bus, BDF, 0x00, 3, &v));
    assert_false(pci_cfg_read(&bus, BDF, 4096, 4, &v));
    assert_false(pci_cfg_read(&bus, PCI_BDF(0, 4, 0), 0, 4, &v)); /* not virtual */
    assert_int_equal(v, 0xFFFFFFFF);
    assert_false(pci_cfg_write(&bus, BDF, 0x3E, 4, 0));
    /* Extended space of a conventional function: all ones, writes ignored. */
    assert_true(pci_cfg_read(&bus, BDF, 0x100, 4, &v));
    assert_int_equal(v, 0xFFFFFFFF);
    assert_true(pci_cfg_write(&bus, BDF, 0x100, 4, 0));
    assert_int_equal(rd(0x100, 4), 0xFFFFFFFF);
    /* Word at an odd offset inside the dword is fine (CFC+1). */
    assert_int_equal(rd(0x01, 2), 0x051b); /* vendor high byte, device low byte */
}

static void cfg_write_hook_sees_each_write_after_it_is_applied(void **state)
{
    (void)state;
    wr(0x42, 1, 0x01);
    assert_int_equal(td.cfg_writes, 1);
    assert_int_equal(td.last_cfg_offset, 0x42);
    assert_int_equal(td.last_cfg_size, 1);
    assert_int_equal(td.last_cfg_value, 1);
    assert_true(pci_msi_enabled(&fn));
}

static void bus_add_rejects_invalid_declarations(void **state)
{
    (void)state;
    struct pci_bus b;
    struct pci_function f[6];
    struct testdev t;
    pci_bus_init(&b, NULL, NULL, NULL, NULL);

    testdev_init(&t);
    t.ops.bars[0] = (struct pci_bar_decl){.size = 0x3000, .kind = PCI_BAR_MEM32};
    assert_false(pci_bus_add(&b, &f[0], &t.dev, BDF)); /* not a power of two */
    t.ops.bars[0] = (struct pci_bar_decl){.size = 8, .kind = PCI_BAR_MEM32};
    assert_false(pci_bus_add(&b, &f[0], &t.dev, BDF)); /* below 16 bytes */
    t.ops.bars[0] = (struct pci_bar_decl){0};
    t.ops.bars[5] = (struct pci_bar_decl){.size = 0x1000, .kind = PCI_BAR_MEM64};
    assert_false(pci_bus_add(&b, &f[0], &t.dev, BDF)); /* 64-bit needs a second register */
    t.ops.bars[5] = (struct pci_bar_decl){0};
    t.ops.bars[0] = (struct pci_bar_decl){.size = 0x10000, .kind = PCI_BAR_ROM};
    assert_false(pci_bus_add(&b, &f[0], &t.dev, BDF)); /* ROM only in its own slot */
    t.ops.bars[0] = (struct pci_bar_decl){.size = 512, .kind = PCI_BAR_IO};
    assert_false(pci_bus_add(&b, &f[0], &t.dev, BDF)); /* I/O BARs are at most 256 bytes */
    t.ops.bars[0] = (struct pci_bar_decl){0};
    t.ops.msi_vectors = 3;
    assert_false(pci_bus_add(&b, &f[0], &t.dev, BDF));
    t.ops.msi_vectors = 1;
    assert_int_equal(b.n_fns, 0);

    assert_true(pci_bus_add(&b, &f[0], &t.dev, BDF));
    assert_false(pci_bus_add(&b, &f[1], &t.dev, BDF)); /* bdf taken */
    for (int i = 1; i < PCI_BUS_MAX_FUNCTIONS; i++)
        assert_true(pci_bus_add(&b, &f[i], &t.dev, PCI_BDF(0, 10 + i, 0)));
    assert_false(pci_bus_add(&b, &f[5], &t.dev, PCI_BDF(0, 20, 0))); /* bus full */
}

static void reset_restores_power_on_space_and_unmaps_bars(void **state)
{
    (void)state;
    uint8_t before[256];
    memcpy(before, fn.cfg, sizeof before);
    wr(0x10, 4, 0xC1000000);
    wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    wr(0x42, 2, 1);
    wr(0x80, 4, 0x1234);
    assert_int_equal(ml.n, 1);
    pci_function_reset(&fn);
    assert_memory_equal(fn.cfg, before, sizeof before);
    assert_int_equal(td.resets, 1);
    assert_int_equal(ml.n, 2);
    assert_true(ml.ev[1].old.mapped);
    assert_false(ml.ev[1].now.mapped);
    assert_false(pci_msi_enabled(&fn));
}

static void function_without_msi_has_no_capability_list(void **state)
{
    (void)state;
    struct pci_bus b;
    struct pci_function f;
    struct testdev t;
    testdev_init(&t);
    pci_bus_init(&b, NULL, NULL, NULL, NULL);
    assert_true(pci_bus_add(&b, &f, &t.dev, BDF));
    uint32_t v;
    pci_cfg_read(&b, BDF, PCI_STATUS, 2, &v);
    assert_int_equal(v & PCI_STATUS_CAP_LIST, 0);
    pci_cfg_read(&b, BDF, PCI_CAPABILITY_LIST, 1, &v);
    assert_int_equal(v, 0);
    assert_false(pci_msi_enabled(&f));
    pci_cfg_write(&b, BDF, 0x42, 2, 0xFFFF); /* plain device-specific bytes now */
    assert_false(pci_msi_enabled(&f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(identity_and_header_are_read_only, setup_full),
        cmocka_unit_test_setup(command_keeps_only_io_mem_master_serr_intx_disable, setup_full),
        cmocka_unit_test_setup(cache_line_and_interrupt_line_are_read_write, setup_full),
        cmocka_unit_test_setup(status_error_bits_are_write_one_to_clear, setup_full),
        cmocka_unit_test_setup(bar32_sizing_returns_size_mask_and_type_bits, setup_full),
        cmocka_unit_test_setup(bar64_sizing_spans_two_registers, setup_full),
        cmocka_unit_test_setup(bar64_of_eight_gib_sizes_through_the_high_register, setup_full),
        cmocka_unit_test_setup(io_bar_sizing_keeps_the_io_bit, setup_full),
        cmocka_unit_test_setup(rom_sizing_keeps_the_enable_bit_writable, setup_full),
        cmocka_unit_test_setup(unused_bar_reads_zero_and_ignores_writes, setup_full),
        cmocka_unit_test_setup(capability_list_walk_finds_msi_at_0x40, setup_full),
        cmocka_unit_test_setup(msi_fields_have_the_specified_writable_bits, setup_full),
        cmocka_unit_test_setup(device_specific_area_is_read_write_like_qemu, setup_full),
        cmocka_unit_test_setup(malformed_accesses_are_rejected_with_all_ones, setup_full),
        cmocka_unit_test_setup(cfg_write_hook_sees_each_write_after_it_is_applied, setup_full),
        cmocka_unit_test_setup(bus_add_rejects_invalid_declarations, setup_full),
        cmocka_unit_test(function_without_msi_has_no_capability_list),
        cmocka_unit_test_setup(reset_restores_power_on_space_and_unmaps_bars, setup_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
