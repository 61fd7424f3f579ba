/* A virtual PCI device: an ops table (identity, BAR layout, MMIO handlers, hooks) plus the
 * device's own state, the way a QEMU device is a class plus an instance struct.
 *
 * A device model embeds `struct device` as the first member of its state struct and casts
 * back in its handlers. Adding a device means writing one `struct device_ops` (identity,
 * BARs, MSI vector count, read/write/reset) and its state struct; pci/ builds config space
 * from the ops table alone (pci_bus_add), and the MMIO path reaches `read`/`write` through
 * pci_mmio_read/pci_mmio_write.
 *
 * Pure C, freestanding: no allocation, no libc. State lives in caller-provided structs. */
#ifndef TRAPVISOR_DEVICES_DEVICE_H
#define TRAPVISOR_DEVICES_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct device;
struct pci_function;

/* How the device reaches the world outside itself. The hypervisor implements these over
 * guest RAM, the local APIC and the IOAPIC; host tests implement fakes.
 *
 * dma_read/dma_write move len bytes between guest-physical address gpa and buf. They return
 * false and copy NOTHING when any byte of [gpa, gpa+len) is not guest RAM (hypervisor memory,
 * MMIO, a hole, or an address that wraps): the platform checks the whole range before it
 * copies. msi_send delivers one MSI as the memory write the function would issue (address and
 * data exactly as the guest programmed the capability). intx_set drives the function's INTx
 * line (level 1 asserted, 0 deasserted); it is called only when the effective level changes.
 * now_ns may be NULL (devices then complete work at once). */
struct platform_ops {
    bool (*dma_read)(void *ctx, uint64_t gpa, void *buf, size_t len);
    bool (*dma_write)(void *ctx, uint64_t gpa, const void *buf, size_t len);
    void (*msi_send)(void *ctx, uint64_t address, uint32_t data);
    void (*intx_set)(void *ctx, int level);
    uint64_t (*now_ns)(void *ctx);
};

/* BAR kinds (PCI Local Bus Spec 3.0, 6.2.5.1: bit 0 I/O space; bits 2:1 memory type, 00b
 * 32-bit, 10b 64-bit; bit 3 prefetchable). Slot PCI_ROM_SLOT is the expansion ROM (6.2.5.2). */
enum pci_bar_kind {
    PCI_BAR_NONE = 0,
    PCI_BAR_MEM32,
    PCI_BAR_MEM64, /* occupies this slot and the next one */
    PCI_BAR_IO,
    PCI_BAR_ROM, /* only in slot PCI_ROM_SLOT */
};

#define PCI_NUM_BARS  6
#define PCI_ROM_SLOT  6
#define PCI_NUM_SLOTS 7 /* six BARs plus the ROM */

struct pci_bar_decl {
    uint64_t size; /* power of two; 0 = slot unused. Memory >= 16, I/O >= 4, ROM >= 2 KiB */
    enum pci_bar_kind kind;
    bool prefetchable; /* memory BARs only */
    bool backed;       /* reads served from read-only pages, no exit; writes still trap */
};

/* What the function answers in its configuration header (PCI 3.0, 6.2.1). */
struct pci_identity {
    uint16_t vendor_id, device_id;
    uint8_t revision;
    uint32_t class_code; /* 24 bits: base class, sub-class, programming interface */
    uint16_t subsystem_vendor_id, subsystem_id;
    uint8_t interrupt_pin; /* 0 none, 1 INTA# .. 4 INTD# */
};

struct device_ops {
    const char *name; /* log prefix, e.g. "edu" */
    struct pci_identity id;
    struct pci_bar_decl bars[PCI_NUM_SLOTS];
    uint8_t msi_vectors; /* 0: no MSI capability; else 1, 2, 4, .. 32 */
    bool msi_64bit;

    /* MMIO/PIO access at byte `offset` inside BAR `bar`, `size` 1, 2, 4 or 8. Every access
     * the guest makes reaches these (the device applies its own access-size rules); read
     * always stores a value (only the low `size` bytes are used). */
    void (*read)(struct device *dev, int bar, uint64_t offset, unsigned size, uint64_t *value);
    void (*write)(struct device *dev, int bar, uint64_t offset, unsigned size, uint64_t value);
    /* A plain register: when a read of `size` bytes at `offset` in `bar` has no effect and its
     * value is `size` bytes of device state, the address of those bytes (little-endian,
     * naturally aligned, the same for the device's life, and the naturally aligned 8 bytes
     * around them the device's own memory too: device_plain_word); NULL when the read must go
     * through `read`. A caller that has seen the access before may then load the value itself with
     * device_plain_load, without the call: the device changes such state only with single
     * atomic stores. The value is always exactly what `read` returns. May be NULL. */
    const void *(*plain_read)(struct device *dev, int bar, uint64_t offset, unsigned size);
    /* After a configuration write has been applied (e.g. MSI enable changed). May be NULL.
     * Called with the bus configuration lock held: it may take the device's own lock but must
     * not access configuration space through the bus. */
    void (*cfg_write)(struct device *dev, uint16_t offset, unsigned size, uint32_t value);
    /* Back to power-on state (device registers only; pci/ resets configuration space). */
    void (*reset)(struct device *dev);
};

/* The value of a plain register (device_ops.plain_read), `size` 1, 2, 4 or 8. */
__attribute__((always_inline)) static inline uint64_t device_plain_load(const void *p,
                                                                        unsigned size)
{
    switch (size) {
    case 1:
        return __atomic_load_n((const uint8_t *)p, __ATOMIC_ACQUIRE);
    case 2:
        return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
    case 4:
        return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
    default:
        return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
    }
}

/* The naturally aligned 8 bytes that hold a plain register p (device_ops.plain_read: naturally
 * aligned, so they hold it whole) and its bit position in them (*shift), for a caller that
 * loads it many times: device_plain_word_load then reads the register with one 8-byte load,
 * which never crosses a page (the register's page is mapped, so the load is too) and is
 * single-copy atomic (SDM Vol. 3A, 10.1.1: an aligned quadword), so it sees each of the
 * device's atomic stores to the register whole, as device_plain_load does. The other bytes
 * are masked off. */
static inline const uint64_t *device_plain_word(const void *p, unsigned *shift)
{
    const uintptr_t a = (uintptr_t)p;
    *shift = (unsigned)(a & 7) * 8;
    return (const uint64_t *)(a & ~(uintptr_t)7);
}

/* The register's value: `mask` keeps its size's bytes (2^(8 * size) - 1). */
__attribute__((always_inline)) static inline uint64_t
device_plain_word_load(const uint64_t *word, unsigned shift, uint64_t mask)
{
    return (__atomic_load_n(word, __ATOMIC_ACQUIRE) >> shift) & mask;
}

struct device {
    const struct device_ops *ops;
    struct pci_function *fn; /* set by pci_bus_add */
    const struct platform_ops *platform;
    void *platform_ctx;
};

#endif
