/* libFuzzer target: arbitrary guest sequences against the virtual bus with an edu function.
 * Every input is a list of 12-byte operations (CF8/CFC port accesses of any width, ECAM and
 * direct config accesses, MMIO and port I/O near the BAR, function reset). Besides ASan/UBSan
 * finding any out-of-bounds access or overflow, after each operation it checks:
 *   - the map_changed reports form a consistent history (each report's `old` is what the
 *     previous report said) that matches the published windows;
 *   - no BAR is ever mapped at its sizing pattern;
 *   - the INTx line the platform sees is the device's request unless INTx is disabled;
 *   - edu never leaves a DMA running, and an idle interrupt status without MSI means INTx low;
 *   - DMA only ever touched the fake guest RAM (the platform refuses the rest). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/edu.h"
#include "pci/pci.h"

#define BDF      PCI_BDF(0, 2, 0)
#define RAM_BASE 0x100000ull
#define RAM_SIZE 0x4000u

static struct pci_bus bus;
static struct pci_function fn;
static struct edu edu;
static uint8_t ram[RAM_SIZE];
static int intx;
static struct pci_bar_window shadow[PCI_NUM_SLOTS];

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool in_ram(uint64_t gpa, size_t len)
{
    return gpa >= RAM_BASE && len <= RAM_SIZE && gpa - RAM_BASE <= RAM_SIZE - len;
}

static bool f_dma_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (!in_ram(gpa, len))
        return false;
    memcpy(buf, ram + (gpa - RAM_BASE), len);
    return true;
}

static bool f_dma_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (!in_ram(gpa, len))
        return false;
    memcpy(ram + (gpa - RAM_BASE), buf, len);
    return true;
}

static void f_msi(void *ctx, uint64_t a, uint32_t d)
{
    (void)ctx;
    (void)a;
    (void)d;
}

static void f_intx(void *ctx, int level)
{
    (void)ctx;
    check(level != intx); /* only changes are reported */
    intx = level;
}

static const struct platform_ops plat = {f_dma_read, f_dma_write, f_msi, f_intx, NULL};

static uint32_t empty_cfg_read(void *ctx, uint16_t bdf, uint16_t off, unsigned size)
{
    (void)ctx;
    (void)bdf;
    check(off < 4096 && (size == 1 || size == 2 || size == 4));
    return 0xFFFFFFFFu;
}

static void empty_cfg_write(void *ctx, uint16_t bdf, uint16_t off, unsigned size, uint32_t v)
{
    (void)ctx;
    (void)bdf;
    (void)v;
    check(off < 4096 && (size == 1 || size == 2 || size == 4));
}

static uint32_t empty_port_in(void *ctx, uint16_t port, unsigned size)
{
    (void)ctx;
    check(port >= 0xCF8 && port + size <= 0xCFC);
    return 0xFFFFFFFFu;
}

static void empty_port_out(void *ctx, uint16_t port, unsigned size, uint32_t v)
{
    (void)ctx;
    (void)v;
    check(port >= 0xCF8 && port + size <= 0xCFC);
}

static const struct pci_backend empty_bus = {empty_cfg_read, empty_cfg_write, empty_port_in,
                                             empty_port_out};

static void on_map(void *ctx, struct pci_function *f, int bar, const struct pci_bar_window *old,
                   const struct pci_bar_window *now)
{
    (void)ctx;
    check(f == &fn && bar >= 0 && bar < PCI_NUM_SLOTS);
    check(old->mapped == shadow[bar].mapped);
    check(!old->mapped || old->base == shadow[bar].base);
    check(old->mapped != now->mapped || (now->mapped && old->base != now->base));
    if (now->mapped) {
        uint32_t lo = (uint32_t)now->base;
        check(lo != 0xFFF00000u); /* edu BAR0's sizing pattern */
        check((now->base & (now->size - 1)) == 0);
    }
    shadow[bar] = *now;
}

static void check_invariants(void)
{
    for (int s = 0; s < PCI_NUM_SLOTS; s++) {
        check(fn.win[s].mapped == shadow[s].mapped);
        check(!fn.win[s].mapped || fn.win[s].base == shadow[s].base);
    }
    uint16_t cmd = (uint16_t)(fn.cfg[PCI_COMMAND] | fn.cfg[PCI_COMMAND + 1] << 8);
    check(intx == (fn.intx_level && !(cmd & PCI_COMMAND_INTX_DISABLE)));
    check(!(edu.dma_cmd & EDU_DMA_RUN));
    if (!edu.irq_status && !pci_msi_enabled(&fn))
        check(fn.intx_level == 0);
    check(!(edu.status & EDU_STATUS_COMPUTING));
}

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    memset(shadow, 0, sizeof shadow);
    memset(ram, 0x5A, sizeof ram);
    intx = 0;
    edu_init(&edu, &plat, NULL);
    pci_bus_init(&bus, &empty_bus, NULL, on_map, NULL);
    if (!pci_bus_add(&bus, &fn, &edu.dev, BDF))
        abort();
    for (int s = 0; s < PCI_NUM_SLOTS; s++)
        shadow[s] = fn.win[s];

    for (size_t i = 0; i + 12 <= len; i += 12) {
        const uint8_t *op = data + i;
        unsigned size = op[1] % 10; /* includes 0, 3, 5-7 and 9: invalid sizes */
        uint16_t a = (uint16_t)le(op + 2, 2);
        uint64_t v = le(op + 4, 8);
        uint32_t r32;
        uint64_t r64;
        switch (op[0] % 10) {
        case 0:
            pci_cfg_port_write(&bus, (uint16_t)(0xCF6 + (a & 0xF)), size, (uint32_t)v);
            break;
        case 1:
            pci_cfg_port_read(&bus, (uint16_t)(0xCF6 + (a & 0xF)), size, &r32);
            break;
        case 2: /* bias toward the virtual function: bus 0, device 2 */
            pci_ecam_read(&bus, ((a & 0x8000) ? (uint64_t)a << 12 : 0x10000u) | (v & 0xFFF), size,
                          &r32);
            break;
        case 3:
            pci_ecam_write(&bus, ((a & 0x8000) ? (uint64_t)a << 12 : 0x10000u) | (v & 0xFFF), size,
                           (uint32_t)(v >> 16));
            break;
        case 4:
            pci_cfg_write(&bus, BDF, (uint16_t)(a & 0x1FF), size, (uint32_t)v);
            break;
        case 5:
            pci_cfg_read(&bus, BDF, (uint16_t)(a & 0x1FF), size, &r32);
            break;
        case 6:
            pci_mmio_read(&bus, fn.win[0].base + (v & 0x1FFFFF) - 0x800, size, &r64);
            break;
        case 7: /* mostly edu registers, so the DMA and interrupt logic gets exercised */
            pci_mmio_write(&bus, fn.win[0].base + ((a & 0x8000) ? (a & 0x7FFF) : (a & 0xFC)), size,
                           v);
            break;
        case 8:
            if (a & 1)
                pci_pio_write(&bus, (uint16_t)v, size, (uint32_t)(v >> 16));
            else
                pci_pio_read(&bus, (uint16_t)v, size, &r32);
            break;
        case 9:
            if ((a & 0xFF) == 0x5A)
                pci_function_reset(&fn);
            break;
        }
        check_invariants();
    }
    return 0;
}
