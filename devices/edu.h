/* A device compatible with QEMU's educational PCI device "edu" (hw/misc/edu.c,
 * docs/specs/edu.rst), checked against QEMU 7.2's behaviour. docs/devices.md has the full
 * register table and every place this model differs from QEMU (and why).
 *
 * PCI: 1234:11e8 rev 0x10, class 0x00ff00, subsystem 1af4:1100, INTA#, BAR0 1 MiB 32-bit
 * non-prefetchable memory, MSI capability at 0x40 (64-bit, one vector, no masking).
 *
 * BAR0 registers (offset: access):
 *   0x00 R   identification 0x010000ed
 *   0x04 RW  liveness: reads the bitwise inverse of what was written
 *   0x08 RW  factorial: a write starts n! (32-bit wrapping); ignored while computing
 *   0x20 RW  status: bit 0 computing (RO), bit 7 raise interrupt 0x001 when a factorial ends
 *   0x24 R   interrupt status
 *   0x60 W   interrupt raise: status |= value, then interrupt if status != 0
 *   0x64 W   interrupt acknowledge: status &= ~value; INTx deasserts when it reaches 0
 *   0x80 RW  DMA source (64-bit)        0x88 RW DMA destination (64-bit)
 *   0x90 RW  DMA count (64-bit)         0x98 RW DMA command: bit 0 start, bit 1 direction
 *            (0 RAM -> device, 1 device -> RAM), bit 2 raise interrupt 0x100 when done
 * The DMA buffer is 4 KiB at device address 0x40000 (not visible through BAR0); RAM-side
 * addresses are masked with dma_mask (28 bits).
 * Access sizes (QEMU MemoryRegionOps valid 4..8, aligned): 1-/2-byte and misaligned accesses
 * are refused before the registers see them (read 0, write ignored); below 0x80 only 4-byte
 * accesses work (8-byte: read all ones, write ignored); from 0x80 4 and 8 bytes work; any
 * other offset reads all ones. A 4-byte write to a 64-bit register zero-extends.
 * Factorials and DMA complete at once, inside the write that starts them.
 *
 * Safer than QEMU (docs/devices.md): a DMA whose device-side range leaves the buffer moves
 * nothing (QEMU 7.2 stops the VM; later QEMU copies out of bounds), guest memory is reached
 * only through platform_ops (which refuse anything but guest RAM), no DMA while bus mastering
 * is off; each of these is logged once per device as "edu: ...". The command still completes
 * (start bit clears, interrupt 0x100 if asked) so drivers do not hang. */
#ifndef TRAPVISOR_DEVICES_EDU_H
#define TRAPVISOR_DEVICES_EDU_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "lib/spinlock.h"

#define EDU_VENDOR_ID 0x1234
#define EDU_DEVICE_ID 0x11e8
#define EDU_BAR0_SIZE 0x100000u

#define EDU_REG_ID         0x00
#define EDU_REG_LIVENESS   0x04
#define EDU_REG_FACTORIAL  0x08
#define EDU_REG_STATUS     0x20
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE  0x60
#define EDU_REG_IRQ_ACK    0x64
#define EDU_REG_DMA_SRC    0x80
#define EDU_REG_DMA_DST    0x88
#define EDU_REG_DMA_COUNT  0x90
#define EDU_REG_DMA_CMD    0x98

#define EDU_ID_VALUE         0x010000edu
#define EDU_STATUS_COMPUTING 0x01u
#define EDU_STATUS_IRQFACT   0x80u
#define EDU_IRQ_FACT         0x001u
#define EDU_IRQ_DMA          0x100u
#define EDU_DMA_RUN          0x1u
#define EDU_DMA_TO_RAM       0x2u /* direction bit: device buffer -> guest RAM */
#define EDU_DMA_IRQ          0x4u
#define EDU_DMA_BUF_ADDR     0x40000u
#define EDU_DMA_BUF_SIZE     4096u
#define EDU_DMA_MASK_DEFAULT ((1ull << 28) - 1)

struct edu {
    struct device dev; /* first: handlers cast struct device * back to struct edu * */
    struct spinlock lock;
    uint32_t liveness; /* stored inverted, as QEMU's addr4 */
    uint32_t fact;
    uint32_t status;
    uint32_t irq_status;
    uint64_t dma_src, dma_dst, dma_count, dma_cmd;
    uint64_t dma_mask;
    bool logged_dma_range; /* "logged once" flags, per device */
    bool logged_dma_refused;
    bool logged_dma_no_master;
    uint8_t dma_buf[EDU_DMA_BUF_SIZE];
};

extern const struct device_ops edu_ops;

/* Power-on state, ops table and platform set; then pci_bus_add(bus, fn, &edu->dev, bdf). */
void edu_init(struct edu *edu, const struct platform_ops *platform, void *platform_ctx);

/* n! modulo 2^32, as the device computes it (0! = 1; n >= 34 gives 0, since 34! has 32
 * factors of two), in at most 33 multiplications whatever n is. */
uint32_t edu_factorial(uint32_t n);

#endif
