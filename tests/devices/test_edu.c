/* devices/edu against QEMU 7.2's edu rules, through the PCI bus as a guest reaches it:
 * PCI identity and MSI capability, every BAR0 register, access sizes, factorial (including
 * 32-bit wrap), status, interrupt raise/ack over INTx and MSI, DMA both directions with data
 * compared, DMA outside the buffer or to refused guest memory rejected and logged once, the
 * 28-bit DMA mask, bus mastering, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "devices/edu.h"
#include "lib/log.h"
#include "pci/pci.h"

#define BDF      PCI_BDF(0, 2, 0)
#define BAR0     0xC1000000ull
#define RAM_BASE 0x00100000ull
#define RAM_SIZE 0x10000u

/* --- a fake platform: a little guest RAM, MSI and INTx recorders -------------------------- */

static struct {
    uint8_t ram[RAM_SIZE];
    unsigned dma_calls, refusals;
    uint64_t msi_addr[16];
    uint32_t msi_data[16];
    unsigned n_msi;
    int intx;
    unsigned intx_calls;
} plat;

static bool in_ram(uint64_t gpa, size_t len)
{
    return gpa >= RAM_BASE && len <= RAM_SIZE && gpa - RAM_BASE <= RAM_SIZE - len;
}

static bool fake_dma_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    plat.dma_calls++;
    if (!in_ram(gpa, len)) {
        plat.refusals++;
        return false;
    }
    memcpy(buf, plat.ram + (gpa - RAM_BASE), len);
    return true;
}

static bool fake_dma_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    plat.dma_calls++;
    if (!in_ram(gpa, len)) {
        plat.refusals++;
        return false;
    }
    memcpy(plat.ram + (gpa - RAM_BASE), buf, len);
    return true;
}

static void fake_msi_send(void *ctx, uint64_t address, uint32_t data)
{
    (void)ctx;
    if (plat.n_msi < 16) {
        plat.msi_addr[plat.n_msi] = address;
        plat.msi_data[plat.n_msi] = data;
    }
    plat.n_msi++;
}

static void fake_intx_set(void *ctx, int level)
{
    (void)ctx;
    plat.intx = level;
    plat.intx_calls++;
}

static const struct platform_ops fake_platform = {fake_dma_read, fake_dma_write, fake_msi_send,
                                                  fake_intx_set, NULL};

/* --- log capture ---------------------------------------------------------------------------- */

static char logbuf[4096];
static size_t loglen;

static void log_sink(void *ctx, char c)
{
    (void)ctx;
    if (loglen < sizeof logbuf - 1)
        logbuf[loglen++] = c;
    logbuf[loglen] = 0;
}

static unsigned log_count(const char *needle)
{
    unsigned n = 0;
    for (const char *p = logbuf; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* --- the device on a bus --------------------------------------------------------------------- */

static struct pci_bus bus;
static struct pci_function fn;
static struct edu edu;

static uint32_t cfg_rd(uint16_t off, unsigned size)
{
    uint32_t v;
    assert_true(pci_cfg_read(&bus, BDF, off, size, &v));
    return v;
}

static void cfg_wr(uint16_t off, unsigned size, uint32_t v)
{
    assert_true(pci_cfg_write(&bus, BDF, off, size, v));
}

static uint64_t rd(uint64_t off, unsigned size)
{
    uint64_t v;
    assert_int_equal(pci_mmio_read(&bus, BAR0 + off, size, &v), PCI_MMIO_OK);
    return v;
}

static void wr(uint64_t off, unsigned size, uint64_t v)
{
    assert_int_equal(pci_mmio_write(&bus, BAR0 + off, size, v), PCI_MMIO_OK);
}

/* As firmware leaves it: BAR0 assigned, memory decode and bus mastering on. */
static int setup(void **state)
{
    (void)state;
    memset(&plat, 0, sizeof plat);
    loglen = 0;
    logbuf[0] = 0;
    edu_init(&edu, &fake_platform, NULL);
    pci_bus_init(&bus, NULL, NULL, NULL, NULL);
    assert_true(pci_bus_add(&bus, &fn, &edu.dev, BDF));
    cfg_wr(0x10, 4, (uint32_t)BAR0);
    cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    log_add_sink(log_sink, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_remove_sink(log_sink, NULL);
    return 0;
}

static void enable_msi(uint64_t address, uint16_t data)
{
    cfg_wr(0x44, 4, (uint32_t)address);
    cfg_wr(0x48, 4, (uint32_t)(address >> 32));
    cfg_wr(0x4C, 2, data);
    cfg_wr(0x42, 2, PCI_MSI_FLAGS_ENABLE);
}

/* --- PCI identity -------------------------------------------------------------------------- */

static void pci_identity_matches_qemu_edu(void **state)
{
    (void)state;
    assert_int_equal(cfg_rd(0x00, 4), 0x11e81234);
    assert_int_equal(cfg_rd(PCI_REVISION_ID, 1), 0x10);
    assert_int_equal(cfg_rd(PCI_CLASS_PROG, 1), 0x00);
    assert_int_equal(cfg_rd(0x0A, 2), 0x00ff);
    assert_int_equal(cfg_rd(PCI_HEADER_TYPE, 1), 0);
    assert_int_equal(cfg_rd(PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
    assert_int_equal(cfg_rd(PCI_SUBSYSTEM_ID, 2), 0x1100);
    assert_int_equal(cfg_rd(PCI_INTERRUPT_PIN, 1), 1);
}

static void bar0_sizes_as_one_mib_32bit_non_prefetchable_memory(void **state)
{
    (void)state;
    cfg_wr(PCI_COMMAND, 2, 0);
    cfg_wr(0x10, 4, 0xFFFFFFFF);
    assert_int_equal(cfg_rd(0x10, 4), 0xFFF00000);
    for (uint16_t off = 0x14; off <= 0x24; off += 4) {
        cfg_wr(off, 4, 0xFFFFFFFF);
        assert_int_equal(cfg_rd(off, 4), 0);
    }
    cfg_wr(PCI_ROM_ADDRESS, 4, 0xFFFFFFFF);
    assert_int_equal(cfg_rd(PCI_ROM_ADDRESS, 4), 0);
}

static void msi_capability_is_64bit_one_vector_without_masking(void **state)
{
    (void)state;
    assert_true(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    assert_int_equal(cfg_rd(PCI_CAPABILITY_LIST, 1), 0x40);
    assert_int_equal(cfg_rd(0x40, 1), PCI_CAP_ID_MSI);
    assert_int_equal(cfg_rd(0x41, 1), 0);      /* last capability */
    assert_int_equal(cfg_rd(0x42, 2), 0x0080); /* 64-bit, 1 vector, no per-vector mask */
    cfg_wr(0x42, 2, 0xFFFF);
    assert_int_equal(cfg_rd(0x42, 2), 0x0081); /* only enable sticks: QSIZE clamped to 0 */
}

/* --- registers ------------------------------------------------------------------------------ */

static void identification_register_reads_0x010000ed(void **state)
{
    (void)state;
    assert_int_equal(rd(EDU_REG_ID, 4), 0x010000ed);
    wr(EDU_REG_ID, 4, 0);
    assert_int_equal(rd(EDU_REG_ID, 4), 0x010000ed);
}

static void liveness_reads_the_inverse_of_what_was_written(void **state)
{
    (void)state;
    assert_int_equal(rd(EDU_REG_LIVENESS, 4), 0);
    wr(EDU_REG_LIVENESS, 4, 0x12345678);
    assert_int_equal(rd(EDU_REG_LIVENESS, 4), 0xEDCBA987);
    wr(EDU_REG_LIVENESS, 4, 0);
    assert_int_equal(rd(EDU_REG_LIVENESS, 4), 0xFFFFFFFF);
}

static void factorial_computes_and_wraps_at_32_bits(void **state)
{
    (void)state;
    static const struct {
        uint32_t n, f;
    } cases[] = {
        {0, 1},
        {1, 1},
        {5, 120},
        {10, 3628800},
        {12, 479001600},
        {13, 1932053504},
        /* 6227020800 mod 2^32 */ {20, 2192834560u},
        {33, 2147483648u},
        {34, 0},
        {0xFFFFFFFF, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wr(EDU_REG_FACTORIAL, 4, cases[i].n);
        assert_int_equal(rd(EDU_REG_STATUS, 4) & EDU_STATUS_COMPUTING, 0);
        assert_int_equal(rd(EDU_REG_FACTORIAL, 4), cases[i].f);
    }
}

static void factorial_shortcut_matches_the_plain_loop(void **state)
{
    (void)state;
    for (uint32_t n = 0; n < 300; n++) {
        uint32_t r = 1;
        for (uint32_t k = n; k > 0; k--)
            r *= k;
        assert_int_equal(edu_factorial(n), r);
    }
}

static void status_has_only_the_interrupt_bit_writable(void **state)
{
    (void)state;
    assert_int_equal(rd(EDU_REG_STATUS, 4), 0);
    wr(EDU_REG_STATUS, 4, 0xFFFFFFFF);
    assert_int_equal(rd(EDU_REG_STATUS, 4), 0x80);
    wr(EDU_REG_STATUS, 4, 0x7F);
    assert_int_equal(rd(EDU_REG_STATUS, 4), 0);
}

static void unlisted_offsets_read_all_ones(void **state)
{
    (void)state;
    static const uint64_t offs[] = {
        0x0C, 0x10, 0x1C, 0x28, 0x5C, 0x68, 0x7C, 0x84, 0xA0, 0x1000, EDU_DMA_BUF_ADDR, 0xFFFFC};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        assert_int_equal(rd(offs[i], 4), 0xFFFFFFFF);
    assert_int_equal(rd(0xA0, 8), ~0ull);
}

static void one_and_two_byte_accesses_read_zero_and_writes_are_ignored(void **state)
{
    (void)state;
    wr(EDU_REG_LIVENESS, 4, 0x0F0F0F0F);
    for (unsigned size = 1; size <= 2; size++) {
        assert_int_equal(rd(EDU_REG_ID, size), 0);
        assert_int_equal(rd(EDU_REG_LIVENESS, size), 0);
        assert_int_equal(rd(0x10, size), 0); /* even where a 4-byte read gives all ones */
        assert_int_equal(rd(EDU_REG_DMA_SRC, size), 0);
        wr(EDU_REG_LIVENESS, size, 0);
        wr(EDU_REG_IRQ_RAISE, size, 1);
    }
    assert_int_equal(rd(EDU_REG_LIVENESS, 4), 0xF0F0F0F0);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0);
}

static void misaligned_accesses_are_refused_like_small_ones(void **state)
{
    (void)state;
    assert_int_equal(rd(0x02, 4), 0);
    assert_int_equal(rd(0x84, 8), 0);
    wr(EDU_REG_DMA_SRC, 8, 0x1111);
    wr(0x84, 8, 0x2222);
    wr(0x06, 4, 0x3333);
    assert_int_equal(rd(EDU_REG_DMA_SRC, 8), 0x1111);
    assert_int_equal(rd(EDU_REG_LIVENESS, 4), 0);
}

static void eight_byte_accesses_below_0x80_read_all_ones_and_do_not_write(void **state)
{
    (void)state;
    assert_int_equal(rd(EDU_REG_ID, 8), ~0ull);
    wr(EDU_REG_LIVENESS, 4, 1);
    assert_int_equal(rd(EDU_REG_LIVENESS - 4, 8), ~0ull);
    wr(0x00, 8, 0x5555555555555555ull); /* would cover liveness: ignored */
    wr(EDU_REG_FACTORIAL, 8, 5);
    assert_int_equal(rd(EDU_REG_LIVENESS, 4), 0xFFFFFFFE);
    assert_int_equal(rd(EDU_REG_FACTORIAL, 4), 0);
}

static void dma_registers_take_4_and_8_bytes_and_4_byte_writes_zero_extend(void **state)
{
    (void)state;
    static const uint64_t regs[] = {EDU_REG_DMA_SRC, EDU_REG_DMA_DST, EDU_REG_DMA_COUNT};
    for (size_t i = 0; i < 3; i++) {
        wr(regs[i], 8, 0x123456789ABCDEF0ull);
        assert_int_equal(rd(regs[i], 8), 0x123456789ABCDEF0ull);
        assert_int_equal(rd(regs[i], 4), 0x9ABCDEF0);
        assert_int_equal(rd(regs[i] + 4, 4), 0xFFFFFFFF); /* the upper half is no register */
        wr(regs[i], 4, 0xCAFEBABE);
        assert_int_equal(rd(regs[i], 8), 0xCAFEBABEull);
        wr(regs[i] + 4, 4, 0x1); /* ignored */
        assert_int_equal(rd(regs[i], 8), 0xCAFEBABEull);
    }
}

/* --- interrupts ------------------------------------------------------------------------------ */

static void raise_and_ack_drive_intx_like_qemu(void **state)
{
    (void)state;
    wr(EDU_REG_IRQ_RAISE, 4, 0x5);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0x5);
    assert_int_equal(plat.intx, 1);
    assert_true(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    wr(EDU_REG_IRQ_ACK, 4, 0x1);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0x4);
    assert_int_equal(plat.intx, 1);
    wr(EDU_REG_IRQ_ACK, 4, 0xFFFFFFFF);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0);
    assert_int_equal(plat.intx, 0);
    assert_false(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    assert_int_equal(plat.intx_calls, 2);
    wr(EDU_REG_IRQ_RAISE, 4, 0); /* nothing pending: no interrupt */
    assert_int_equal(plat.intx_calls, 2);
    assert_int_equal(plat.n_msi, 0);
}

static void intx_disable_masks_the_line_but_not_the_status_bit(void **state)
{
    (void)state;
    cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
    wr(EDU_REG_IRQ_RAISE, 4, 0x2);
    assert_int_equal(plat.intx, 0);
    assert_int_equal(plat.intx_calls, 0);
    assert_true(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(plat.intx, 1);
    cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(plat.intx, 0);
}

static void msi_sends_the_programmed_message_on_every_raise(void **state)
{
    (void)state;
    enable_msi(0x00000000FEE01000ull, 0x4041);
    wr(EDU_REG_IRQ_RAISE, 4, 0x1);
    wr(EDU_REG_IRQ_RAISE, 4, 0x2); /* already pending: QEMU still sends another */
    assert_int_equal(plat.n_msi, 2);
    assert_int_equal(plat.msi_addr[0], 0xFEE01000ull);
    assert_int_equal(plat.msi_data[0], 0x4041);
    assert_int_equal(plat.intx_calls, 0);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0x3);
    wr(EDU_REG_IRQ_ACK, 4, 0x3);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0);
    assert_int_equal(plat.intx_calls, 0);
    /* The 64-bit address's upper half is used. */
    enable_msi(0x00000001FEE00000ull, 0x31);
    wr(EDU_REG_IRQ_RAISE, 4, 0x1);
    assert_int_equal(plat.msi_addr[2], 0x1FEE00000ull);
    assert_int_equal(plat.msi_data[2], 0x31);
}

static void msi_is_not_sent_without_bus_mastering(void **state)
{
    (void)state;
    enable_msi(0xFEE00000ull, 0x30);
    cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    wr(EDU_REG_IRQ_RAISE, 4, 0x1);
    assert_int_equal(plat.n_msi, 0);
    assert_int_equal(plat.intx_calls, 0);
}

static void enabling_msi_drops_an_asserted_intx(void **state)
{
    (void)state;
    wr(EDU_REG_IRQ_RAISE, 4, 0x1);
    assert_int_equal(plat.intx, 1);
    enable_msi(0xFEE00000ull, 0x30);
    assert_int_equal(plat.intx, 0);
}

static void factorial_raises_interrupt_1_only_when_status_bit_7_is_set(void **state)
{
    (void)state;
    wr(EDU_REG_FACTORIAL, 4, 4);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0);
    assert_int_equal(plat.intx, 0);
    wr(EDU_REG_STATUS, 4, EDU_STATUS_IRQFACT);
    wr(EDU_REG_FACTORIAL, 4, 4);
    assert_int_equal(rd(EDU_REG_FACTORIAL, 4), 24);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), EDU_IRQ_FACT);
    assert_int_equal(plat.intx, 1);
    wr(EDU_REG_IRQ_ACK, 4, EDU_IRQ_FACT);
    assert_int_equal(plat.intx, 0);
}

/* --- DMA ---------------------------------------------------------------------------------------
 */

static void dma_start(uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd)
{
    wr(EDU_REG_DMA_SRC, 8, src);
    wr(EDU_REG_DMA_DST, 8, dst);
    wr(EDU_REG_DMA_COUNT, 8, count);
    wr(EDU_REG_DMA_CMD, 8, cmd);
}

static void dma_round_trip_ram_to_device_to_ram_keeps_the_data(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 256; i++)
        plat.ram[0x100 + i] = (uint8_t)(i * 7 + 3);
    dma_start(RAM_BASE + 0x100, EDU_DMA_BUF_ADDR + 0x80, 256, EDU_DMA_RUN);
    assert_int_equal(rd(EDU_REG_DMA_CMD, 4) & EDU_DMA_RUN, 0);
    assert_memory_equal(edu.dma_buf + 0x80, plat.ram + 0x100, 256);
    dma_start(EDU_DMA_BUF_ADDR + 0x80, RAM_BASE + 0x2000, 256, EDU_DMA_RUN | EDU_DMA_TO_RAM);
    assert_memory_equal(plat.ram + 0x2000, plat.ram + 0x100, 256);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0); /* no interrupt was asked for */
    assert_int_equal(plat.dma_calls, 2);
    /* The whole buffer, edge to edge. */
    memset(plat.ram, 0xA5, EDU_DMA_BUF_SIZE);
    dma_start(RAM_BASE, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, EDU_DMA_RUN);
    dma_start(EDU_DMA_BUF_ADDR, RAM_BASE + 0x8000, EDU_DMA_BUF_SIZE, EDU_DMA_RUN | EDU_DMA_TO_RAM);
    assert_memory_equal(plat.ram + 0x8000, plat.ram, EDU_DMA_BUF_SIZE);
}

static void dma_completion_raises_0x100_and_command_keeps_its_other_bits(void **state)
{
    (void)state;
    dma_start(RAM_BASE, EDU_DMA_BUF_ADDR, 16, EDU_DMA_RUN | EDU_DMA_TO_RAM | EDU_DMA_IRQ);
    assert_int_equal(rd(EDU_REG_DMA_CMD, 4), EDU_DMA_TO_RAM | EDU_DMA_IRQ);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), EDU_IRQ_DMA);
    assert_int_equal(plat.intx, 1);
}

static void dma_with_count_zero_completes_without_moving_data(void **state)
{
    (void)state;
    dma_start(RAM_BASE, EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE, 0, EDU_DMA_RUN | EDU_DMA_IRQ);
    assert_int_equal(plat.dma_calls, 0);
    assert_int_equal(rd(EDU_REG_DMA_CMD, 4), EDU_DMA_IRQ);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), EDU_IRQ_DMA);
    assert_int_equal(log_count("edu:"), 0);
}

static void dma_command_without_start_bit_is_ignored(void **state)
{
    (void)state;
    wr(EDU_REG_DMA_CMD, 4, EDU_DMA_TO_RAM | EDU_DMA_IRQ);
    assert_int_equal(rd(EDU_REG_DMA_CMD, 4), 0);
    assert_int_equal(plat.dma_calls, 0);
}

static void dma_leaving_the_buffer_is_rejected_and_logged_once(void **state)
{
    (void)state;
    memset(plat.ram, 0x11, RAM_SIZE);
    memset(edu.dma_buf, 0x22, sizeof edu.dma_buf);
    /* Ends past the buffer; starts before it; count larger than the buffer; wraps. */
    dma_start(RAM_BASE, EDU_DMA_BUF_ADDR + 0xF00, 0x200, EDU_DMA_RUN);
    dma_start(RAM_BASE, EDU_DMA_BUF_ADDR - 0x10, 0x20, EDU_DMA_RUN);
    dma_start(EDU_DMA_BUF_ADDR, RAM_BASE, EDU_DMA_BUF_SIZE + 1, EDU_DMA_RUN | EDU_DMA_TO_RAM);
    dma_start(EDU_DMA_BUF_ADDR + 0x10, RAM_BASE, ~0ull - 8, EDU_DMA_RUN | EDU_DMA_TO_RAM);
    assert_int_equal(plat.dma_calls, 0);
    for (unsigned i = 0; i < sizeof edu.dma_buf; i++)
        assert_int_equal(edu.dma_buf[i], 0x22);
    for (unsigned i = 0; i < RAM_SIZE; i++)
        assert_int_equal(plat.ram[i], 0x11);
    assert_int_equal(log_count("edu: DMA"), 1);
    assert_int_equal(log_count("leaves the buffer"), 1);
    /* The command still completes (so a driver waiting for it is not stuck). */
    assert_int_equal(rd(EDU_REG_DMA_CMD, 4) & EDU_DMA_RUN, 0);
}

static void dma_to_refused_guest_memory_is_rejected_and_logged_once(void **state)
{
    (void)state;
    memset(edu.dma_buf, 0x33, sizeof edu.dma_buf);
    dma_start(0x0FF00000, EDU_DMA_BUF_ADDR, 64, EDU_DMA_RUN | EDU_DMA_IRQ);
    dma_start(EDU_DMA_BUF_ADDR, 0x0FF00000, 64, EDU_DMA_RUN | EDU_DMA_TO_RAM);
    dma_start(RAM_BASE + RAM_SIZE - 32, EDU_DMA_BUF_ADDR, 64, EDU_DMA_RUN); /* runs off RAM */
    assert_int_equal(plat.refusals, 3);
    for (unsigned i = 0; i < sizeof edu.dma_buf; i++)
        assert_int_equal(edu.dma_buf[i], 0x33);
    assert_int_equal(log_count("refused"), 1);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), EDU_IRQ_DMA);
}

static void dma_masks_the_ram_address_to_28_bits(void **state)
{
    (void)state;
    memcpy(plat.ram + 0x40, "trapvisor-edu-dma", 17);
    dma_start(0xABC0000000000000ull | (RAM_BASE + 0x40), EDU_DMA_BUF_ADDR, 17, EDU_DMA_RUN);
    assert_memory_equal(edu.dma_buf, "trapvisor-edu-dma", 17);
    dma_start(EDU_DMA_BUF_ADDR, 0x10000000ull | (RAM_BASE + 0x400), 17,
              EDU_DMA_RUN | EDU_DMA_TO_RAM); /* bit 28 dropped */
    assert_memory_equal(plat.ram + 0x400, "trapvisor-edu-dma", 17);
    assert_int_equal(rd(EDU_REG_DMA_SRC, 8), EDU_DMA_BUF_ADDR); /* registers keep raw values */
    assert_int_equal(rd(EDU_REG_DMA_DST, 8), 0x10000000ull | (RAM_BASE + 0x400));
}

static void dma_without_bus_mastering_moves_nothing(void **state)
{
    (void)state;
    cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    memset(plat.ram, 0x44, 64);
    dma_start(RAM_BASE, EDU_DMA_BUF_ADDR, 64, EDU_DMA_RUN);
    assert_int_equal(plat.dma_calls, 0);
    assert_int_equal(edu.dma_buf[0], 0);
    assert_int_equal(log_count("bus mastering disabled"), 1);
}

/* --- concurrency ------------------------------------------------------------------------------ */

/* Two CPUs each raise and acknowledge their own interrupt bit through the MMIO path. The
 * device lock must keep every read-modify-write of the interrupt status whole: each CPU always
 * sees its own bit after raising it, and at the end nothing is pending and INTx is low. */
struct irq_cpu {
    uint32_t bit;
    unsigned lost;
};

static pthread_barrier_t irq_start;

static void *irq_cpu_thread(void *arg)
{
    struct irq_cpu *c = arg;
    pthread_barrier_wait(&irq_start); /* both CPUs start together */
    for (int i = 0; i < 100000; i++) {
        uint64_t v;
        pci_mmio_write(&bus, BAR0 + EDU_REG_IRQ_RAISE, 4, c->bit);
        pci_mmio_read(&bus, BAR0 + EDU_REG_IRQ_STATUS, 4, &v);
        if (!(v & c->bit))
            c->lost++;
        pci_mmio_write(&bus, BAR0 + EDU_REG_IRQ_ACK, 4, c->bit);
    }
    return NULL;
}

static void concurrent_raise_and_ack_keep_the_interrupt_status_whole(void **state)
{
    (void)state;
    struct irq_cpu c[2] = {{0x1, 0}, {0x100, 0}};
    pthread_t t[2];
    pthread_barrier_init(&irq_start, NULL, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, irq_cpu_thread, &c[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&irq_start);
    assert_int_equal(c[0].lost, 0);
    assert_int_equal(c[1].lost, 0);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0);
    assert_int_equal(plat.intx, 0);
    assert_false(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
}

/* --- plain registers ------------------------------------------------------------------------ */

/* device_ops.plain_read: wherever it names a register, a load there (device_plain_load, and the
 * MMIO sites' device_plain_word_load of the aligned 8 bytes around it) gives exactly what `read`
 * returns, in every state random guest writes reach; it names exactly edu's 13 plain
 * (bar, offset, size) reads, and nothing for another BAR, a bad size or alignment, an unlisted
 * offset or an 8-byte read below 0x80. */
static void plain_registers_load_exactly_what_read_returns(void **state)
{
    (void)state;
    static const uint64_t offsets[] = {EDU_REG_LIVENESS,  EDU_REG_FACTORIAL, EDU_REG_STATUS,
                                       EDU_REG_IRQ_RAISE, EDU_REG_IRQ_ACK,   EDU_REG_DMA_SRC,
                                       EDU_REG_DMA_DST,   EDU_REG_DMA_COUNT};
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    unsigned compared = 0;
    for (unsigned round = 0; round < 200; round++) {
        /* A few random writes (DMA never started: its command needs guest RAM set up). */
        for (unsigned w = 0; w < 4; w++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            uint64_t off = offsets[rng % 8];
            unsigned size = off >= 0x80 && (rng >> 8) % 2 ? 8 : 4;
            wr(off, size, (rng >> 16) % 40);
        }
        unsigned plain = 0;
        for (int bar = 0; bar < 2; bar++)
            for (uint64_t off = 0; off < 0x110; off++)
                for (unsigned size = 1; size <= 8; size *= 2) {
                    const void *reg = edu.dev.ops->plain_read(&edu.dev, bar, off, size);
                    if (!reg)
                        continue;
                    plain++;
                    uint64_t want = 0;
                    edu.dev.ops->read(&edu.dev, bar, off, size, &want);
                    assert_int_equal(device_plain_load(reg, size), want);
                    /* The MMIO sites' load: the aligned 8 bytes around it, shifted and masked
                     * (ASan: those 8 bytes are the device's own memory). */
                    unsigned shift = 99;
                    const uint64_t *word = device_plain_word(reg, &shift);
                    assert_true(((uintptr_t)word & 7) == 0 && shift < 64);
                    assert_int_equal(device_plain_word_load(word, shift, ~0ull >> (64 - 8 * size)),
                                     want);
                    compared++;
                }
        assert_int_equal(plain, 13);
    }
    assert_int_equal(compared, 200 * 13);
    assert_null(edu.dev.ops->plain_read(&edu.dev, 0, EDU_REG_ID, 2));
    assert_null(edu.dev.ops->plain_read(&edu.dev, 0, EDU_REG_ID + 1, 4));
    assert_null(edu.dev.ops->plain_read(&edu.dev, 0, EDU_REG_ID, 8));
    assert_null(edu.dev.ops->plain_read(&edu.dev, 0, 0x28, 4));
    assert_null(edu.dev.ops->plain_read(&edu.dev, 0, EDU_REG_DMA_SRC + 4, 4));
    assert_null(edu.dev.ops->plain_read(&edu.dev, 1, EDU_REG_ID, 4));
    assert_int_equal(device_plain_load(edu.dev.ops->plain_read(&edu.dev, 0, EDU_REG_ID, 4), 4),
                     EDU_ID_VALUE);
}

/* --- reset -------------------------------------------------------------------------------------
 */

static void reset_returns_registers_and_config_to_power_on(void **state)
{
    (void)state;
    wr(EDU_REG_LIVENESS, 4, 1);
    wr(EDU_REG_STATUS, 4, EDU_STATUS_IRQFACT);
    wr(EDU_REG_FACTORIAL, 4, 5);
    dma_start(RAM_BASE, EDU_DMA_BUF_ADDR, 16, EDU_DMA_RUN | EDU_DMA_IRQ);
    assert_int_equal(plat.intx, 1);
    pci_function_reset(&fn);
    assert_int_equal(plat.intx, 0);
    assert_int_equal(cfg_rd(PCI_COMMAND, 2), 0);
    assert_int_equal(cfg_rd(0x10, 4), 0);
    uint64_t v;
    assert_int_equal(pci_mmio_read(&bus, BAR0, 4, &v), PCI_MMIO_UNCLAIMED);
    cfg_wr(0x10, 4, (uint32_t)BAR0);
    cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(rd(EDU_REG_LIVENESS, 4), 0);
    assert_int_equal(rd(EDU_REG_STATUS, 4), 0);
    assert_int_equal(rd(EDU_REG_FACTORIAL, 4), 0);
    assert_int_equal(rd(EDU_REG_IRQ_STATUS, 4), 0);
    assert_int_equal(rd(EDU_REG_DMA_SRC, 8), 0);
    assert_int_equal(rd(EDU_REG_DMA_CMD, 8), 0);
    assert_int_equal(edu.dma_mask, EDU_DMA_MASK_DEFAULT);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(pci_identity_matches_qemu_edu),
        T(bar0_sizes_as_one_mib_32bit_non_prefetchable_memory),
        T(msi_capability_is_64bit_one_vector_without_masking),
        T(identification_register_reads_0x010000ed),
        T(liveness_reads_the_inverse_of_what_was_written),
        T(factorial_computes_and_wraps_at_32_bits),
        T(factorial_shortcut_matches_the_plain_loop),
        T(status_has_only_the_interrupt_bit_writable),
        T(unlisted_offsets_read_all_ones),
        T(one_and_two_byte_accesses_read_zero_and_writes_are_ignored),
        T(misaligned_accesses_are_refused_like_small_ones),
        T(eight_byte_accesses_below_0x80_read_all_ones_and_do_not_write),
        T(dma_registers_take_4_and_8_bytes_and_4_byte_writes_zero_extend),
        T(raise_and_ack_drive_intx_like_qemu),
        T(intx_disable_masks_the_line_but_not_the_status_bit),
        T(msi_sends_the_programmed_message_on_every_raise),
        T(msi_is_not_sent_without_bus_mastering),
        T(enabling_msi_drops_an_asserted_intx),
        T(factorial_raises_interrupt_1_only_when_status_bit_7_is_set),
        T(dma_round_trip_ram_to_device_to_ram_keeps_the_data),
        T(dma_completion_raises_0x100_and_command_keeps_its_other_bits),
        T(dma_command_without_start_bit_is_ignored),
        T(dma_with_count_zero_completes_without_moving_data),
        T(dma_leaving_the_buffer_is_rejected_and_logged_once),
        T(dma_to_refused_guest_memory_is_rejected_and_logged_once),
        T(dma_masks_the_ram_address_to_28_bits),
        T(dma_without_bus_mastering_moves_nothing),
        T(concurrent_raise_and_ack_keep_the_interrupt_status_whole),
        T(reset_returns_registers_and_config_to_power_on),
        T(plain_registers_load_exactly_what_read_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
