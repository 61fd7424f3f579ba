/* pci/ access paths: the 0xCF8 latch and 0xCFC-0xCFF data port (widths, offsets, the enable
 * bit, forwarding of non-virtual functions and of non-dword 0xCF8 accesses to the real bus),
 * the ECAM window (decoding, alignment, extended space), and the latch staying atomic while
 * two threads hammer it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "tests/pci/testdev.h"

#define VBDF PCI_BDF(0, 3, 0)

static struct pci_bus bus;
static struct pci_function fn;
static struct testdev td;
static struct fakebus fb;

static uint32_t cf8(uint16_t bdf, uint16_t reg)
{
    return PCI_CF8_ENABLE | (uint32_t)bdf << 8 | (reg & 0xFC);
}

static uint32_t port_rd(uint16_t port, unsigned size)
{
    uint32_t v;
    assert_true(pci_cfg_port_read(&bus, port, size, &v));
    return v;
}

static void port_wr(uint16_t port, unsigned size, uint32_t v)
{
    assert_true(pci_cfg_port_write(&bus, port, size, v));
}

static int setup(void **state)
{
    (void)state;
    memset(&fb, 0, sizeof fb);
    testdev_init(&td);
    td.ops.bars[0] = (struct pci_bar_decl){.size = 0x1000, .kind = PCI_BAR_MEM32};
    pci_bus_init(&bus, &fakebus_backend, &fb, NULL, NULL);
    assert_true(pci_bus_add(&bus, &fn, &td.dev, VBDF));
    return 0;
}

static void cf8_dword_is_the_latch_and_reads_back(void **state)
{
    (void)state;
    port_wr(0xCF8, 4, 0x80001808);
    assert_int_equal(port_rd(0xCF8, 4), 0x80001808);
    assert_int_equal(fb.port_ins + fb.port_outs, 0);
}

static void cf8_other_widths_reach_the_real_port(void **state)
{
    (void)state;
    port_wr(0xCF9, 1, 0x06); /* the reset control register on PC chipsets */
    assert_int_equal(fb.port_outs, 1);
    assert_int_equal(fb.last_port, 0xCF9);
    assert_int_equal(fb.last_size, 1);
    assert_int_equal(fb.last_value, 0x06);
    assert_int_equal(port_rd(0xCF8, 2), 0x5678);
    assert_int_equal(fb.port_ins, 1);
    assert_int_equal(fb.last_port, 0xCF8);
    port_wr(0xCF8, 4, 0x80000000);
    assert_int_equal(port_rd(0xCF8, 4), 0x80000000); /* the latch was not disturbed */
}

static void cfc_reads_every_width_at_every_offset(void **state)
{
    (void)state;
    /* Vendor 0x1b36, device 0x0005 at register 0. */
    port_wr(0xCF8, 4, cf8(VBDF, 0));
    assert_int_equal(port_rd(0xCFC, 4), 0x00051b36);
    assert_int_equal(port_rd(0xCFC, 2), 0x1b36);
    assert_int_equal(port_rd(0xCFE, 2), 0x0005);
    assert_int_equal(port_rd(0xCFD, 2), 0x051b);
    assert_int_equal(port_rd(0xCFC, 1), 0x36);
    assert_int_equal(port_rd(0xCFD, 1), 0x1b);
    assert_int_equal(port_rd(0xCFE, 1), 0x05);
    assert_int_equal(port_rd(0xCFF, 1), 0x00);
    /* Register bits 1:0 of the latch are ignored: the port supplies the byte offset. */
    port_wr(0xCF8, 4, cf8(VBDF, 0x3C) | 3);
    assert_int_equal(port_rd(0xCFD, 1), 1); /* interrupt pin */
}

static void cfc_writes_reach_the_right_bytes(void **state)
{
    (void)state;
    port_wr(0xCF8, 4, cf8(VBDF, 0x3C));
    port_wr(0xCFC, 1, 0x0A);
    port_wr(0xCF8, 4, cf8(VBDF, 0x04));
    port_wr(0xCFC, 2, PCI_COMMAND_MEMORY);
    port_wr(0xCF8, 4, cf8(VBDF, 0x10));
    port_wr(0xCFE, 2, 0xC100);
    uint32_t v;
    pci_cfg_read(&bus, VBDF, 0x3C, 1, &v);
    assert_int_equal(v, 0x0A);
    pci_cfg_read(&bus, VBDF, PCI_COMMAND, 2, &v);
    assert_int_equal(v, PCI_COMMAND_MEMORY);
    pci_cfg_read(&bus, VBDF, 0x10, 4, &v);
    assert_int_equal(v, 0xC1000000);
}

static void disabled_latch_reads_all_ones_and_drops_writes(void **state)
{
    (void)state;
    port_wr(0xCF8, 4, cf8(VBDF, 0x3C) & ~PCI_CF8_ENABLE);
    assert_int_equal(port_rd(0xCFC, 4), 0xFFFFFFFF);
    assert_int_equal(port_rd(0xCFE, 2), 0xFFFF);
    port_wr(0xCFC, 1, 0x0A);
    uint32_t v;
    pci_cfg_read(&bus, VBDF, 0x3C, 1, &v);
    assert_int_equal(v, 0);
    port_wr(0xCF8, 4, cf8(PCI_BDF(0, 1, 0), 0) & ~PCI_CF8_ENABLE);
    port_rd(0xCFC, 4);
    assert_int_equal(fb.reads + fb.writes, 0);
}

static void non_virtual_functions_reach_the_backend(void **state)
{
    (void)state;
    uint16_t real = PCI_BDF(2, 31, 7);
    port_wr(0xCF8, 4, cf8(real, 0x44));
    assert_int_equal(port_rd(0xCFE, 2), fakebus_value(real, 0x46, 2));
    assert_int_equal(fb.reads, 1);
    assert_int_equal(fb.last_bdf, real);
    assert_int_equal(fb.last_offset, 0x46);
    assert_int_equal(fb.last_size, 2);
    port_wr(0xCFD, 1, 0xAB);
    assert_int_equal(fb.writes, 1);
    assert_int_equal(fb.last_offset, 0x45);
    assert_int_equal(fb.last_value, 0xAB);
    /* Function 1 of the virtual device's slot is not virtual either. */
    port_wr(0xCF8, 4, cf8(PCI_BDF(0, 3, 1), 0));
    port_rd(0xCFC, 4);
    assert_int_equal(fb.reads, 2);
    assert_int_equal(fb.last_bdf, PCI_BDF(0, 3, 1));
    /* AMD extended configuration: latch bits 27:24 are register bits 11:8. */
    port_wr(0xCF8, 4, cf8(real, 0x10) | (0x1u << 24));
    port_rd(0xCFC, 4);
    assert_int_equal(fb.last_offset, 0x110);
}

static void widths_leaving_the_dword_are_refused(void **state)
{
    (void)state;
    port_wr(0xCF8, 4, cf8(VBDF, 0));
    assert_int_equal(port_rd(0xCFF, 2), 0xFFFF);
    assert_int_equal(port_rd(0xCFE, 4), 0xFFFFFFFF);
    assert_int_equal(port_rd(0xCFA, 4), 0xFFFFFFFF); /* would straddle latch and data */
    assert_int_equal(port_rd(0xCFC, 3), 0xFFFFFF);
    port_wr(0xCF8, 4, cf8(PCI_BDF(0, 1, 0), 0));
    port_rd(0xCFF, 2);
    port_wr(0xCFD, 4, 0);
    assert_int_equal(fb.reads + fb.writes + fb.port_ins + fb.port_outs, 0);
    uint32_t v = 0;
    assert_false(pci_cfg_port_read(&bus, 0xCF7, 1, &v));
    assert_false(pci_cfg_port_write(&bus, 0xD00, 1, 0));
}

static void ecam_decodes_bus_device_function_register(void **state)
{
    (void)state;
    uint32_t v;
    uint64_t voff = (uint64_t)3 << 15; /* bus 0, device 3, function 0 */
    assert_true(pci_ecam_read(&bus, voff + 0x00, 4, &v));
    assert_int_equal(v, 0x00051b36);
    assert_true(pci_ecam_read(&bus, voff + 0x02, 2, &v));
    assert_int_equal(v, 0x0005);
    assert_true(pci_ecam_read(&bus, voff + 0x3D, 1, &v));
    assert_int_equal(v, 1);
    assert_true(pci_ecam_write(&bus, voff + 0x3C, 1, 0x0B));
    pci_cfg_read(&bus, VBDF, 0x3C, 1, &v);
    assert_int_equal(v, 0x0B);
    assert_int_equal(fb.reads + fb.writes, 0);

    uint64_t roff = (uint64_t)5 << 20 | (uint64_t)2 << 15 | (uint64_t)1 << 12 | 0x104;
    assert_true(pci_ecam_read(&bus, roff, 4, &v));
    assert_int_equal(v, fakebus_value(PCI_BDF(5, 2, 1), 0x104, 4));
    assert_int_equal(fb.last_bdf, PCI_BDF(5, 2, 1));
    assert_int_equal(fb.last_offset, 0x104);
}

static void ecam_window_may_start_at_a_later_bus(void **state)
{
    (void)state;
    bus.ecam_start_bus = 0x40;
    uint32_t v;
    assert_true(pci_ecam_read(&bus, (uint64_t)1 << 20, 4, &v));
    assert_int_equal(fb.last_bdf, PCI_BDF(0x41, 0, 0));
    assert_false(pci_ecam_read(&bus, (uint64_t)0xC0 << 20, 4, &v)); /* bus 256 */
}

static void ecam_rejects_misaligned_and_odd_sizes(void **state)
{
    (void)state;
    uint64_t voff = (uint64_t)3 << 15;
    uint32_t v = 0;
    assert_false(pci_ecam_read(&bus, voff + 1, 2, &v));
    assert_int_equal(v, 0xFFFF);
    assert_false(pci_ecam_read(&bus, voff + 2, 4, &v));
    assert_int_equal(v, 0xFFFFFFFF);
    assert_false(pci_ecam_read(&bus, voff, 8, &v));
    assert_false(pci_ecam_write(&bus, voff + 0x3D, 2, 0xFFFF));
    assert_false(pci_ecam_write(&bus, voff + 0x3C, 3, 0xFFFF));
    pci_cfg_read(&bus, VBDF, 0x3C, 1, &v);
    assert_int_equal(v, 0);
    /* Extended space of the (conventional) virtual function reads all ones. */
    assert_true(pci_ecam_read(&bus, voff + 0x100, 4, &v));
    assert_int_equal(v, 0xFFFFFFFF);
}

/* Two "CPUs": each alternates between a real function (its own) and the virtual function's
 * ID, one CF8 write + one CFC read per access. With a guest-side lock around each pair (as an
 * OS holds pci_config_lock) every answer must be exact; without it, every answer must still
 * be one of the valid values (never torn), and the fake real bus must never see two forwarded
 * accesses overlap (the bus lock makes the hypervisor's real CF8+CFC pair indivisible). */
struct hammer {
    int use_guest_lock;
    int which;
    unsigned bad;
};

static pthread_mutex_t guest_lock = PTHREAD_MUTEX_INITIALIZER;
#define REAL_BDF(which) PCI_BDF(1, (which) + 1, 0)
#define ROUNDS          100000

static bool valid_answer(uint32_t v)
{
    return v == 0x00051b36 || v == fakebus_value(REAL_BDF(0), 0x08, 4) ||
           v == fakebus_value(REAL_BDF(1), 0x08, 4);
}

static pthread_barrier_t start_line;

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    pthread_barrier_wait(&start_line); /* both CPUs start together */
    for (int i = 0; i < ROUNDS; i++) {
        bool real = i & 1;
        uint32_t want = real ? fakebus_value(REAL_BDF(h->which), 0x08, 4) : 0x00051b36;
        uint32_t latch = real ? cf8(REAL_BDF(h->which), 0x08) : cf8(VBDF, 0x00);
        uint32_t v;
        if (h->use_guest_lock)
            pthread_mutex_lock(&guest_lock);
        pci_cfg_port_write(&bus, 0xCF8, 4, latch);
        pci_cfg_port_read(&bus, 0xCFC, 4, &v);
        if (h->use_guest_lock)
            pthread_mutex_unlock(&guest_lock);
        if (h->use_guest_lock ? v != want : !valid_answer(v))
            h->bad++;
    }
    return NULL;
}

static void run_hammer(int use_guest_lock)
{
    struct hammer h[2] = {{use_guest_lock, 0, 0}, {use_guest_lock, 1, 0}};
    pthread_t t[2];
    pthread_barrier_init(&start_line, NULL, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_line);
    assert_int_equal(h[0].bad, 0);
    assert_int_equal(h[1].bad, 0);
    assert_int_equal(fb.interleaved, 0);
    assert_true(fb.reads > 0);
}

static void latch_pairs_from_two_threads_are_exact_under_a_guest_lock(void **state)
{
    (void)state;
    run_hammer(1);
    assert_int_equal(fb.reads, ROUNDS); /* half of each thread's accesses */
}

static void latch_from_two_threads_never_tears_and_forwarding_never_interleaves(void **state)
{
    (void)state;
    run_hammer(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(cf8_dword_is_the_latch_and_reads_back, setup),
        cmocka_unit_test_setup(cf8_other_widths_reach_the_real_port, setup),
        cmocka_unit_test_setup(cfc_reads_every_width_at_every_offset, setup),
        cmocka_unit_test_setup(cfc_writes_reach_the_right_bytes, setup),
        cmocka_unit_test_setup(disabled_latch_reads_all_ones_and_drops_writes, setup),
        cmocka_unit_test_setup(non_virtual_functions_reach_the_backend, setup),
        cmocka_unit_test_setup(widths_leaving_the_dword_are_refused, setup),
        cmocka_unit_test_setup(ecam_decodes_bus_device_function_register, setup),
        cmocka_unit_test_setup(ecam_window_may_start_at_a_later_bus, setup),
        cmocka_unit_test_setup(ecam_rejects_misaligned_and_odd_sizes, setup),
        cmocka_unit_test_setup(latch_pairs_from_two_threads_are_exact_under_a_guest_lock, setup),
        cmocka_unit_test_setup(latch_from_two_threads_never_tears_and_forwarding_never_interleaves,
                               setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
