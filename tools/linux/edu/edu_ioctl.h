/* The edu driver's user interface: ioctls on /dev/eduN (tools/linux/edu/edu.c) used by
 * tools/linux/edutest. Shared by the kernel module and user space, so only
 * types from <linux/types.h>.
 *
 * Register offsets and bits are those of QEMU's edu device (docs/specs/edu.rst in QEMU). */
#ifndef TRAPVISOR_EDU_IOCTL_H
#define TRAPVISOR_EDU_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* BAR0 registers. */
#define EDU_REG_IDENT      0x00 /* RO: 0xRRrr00ed (major, minor) */
#define EDU_REG_LIVENESS   0x04 /* RW: reads back the bitwise inverse of the last write */
#define EDU_REG_FACTORIAL  0x08 /* RW: write n, read n! (32-bit, wrapping) */
#define EDU_REG_STATUS     0x20 /* RW: bit 0 computing (RO), bit 7 irq on factorial done */
#define EDU_REG_IRQ_STATUS 0x24 /* RO: pending interrupt bits */
#define EDU_REG_IRQ_RAISE  0x60 /* WO: OR the value into the interrupt status, interrupt */
#define EDU_REG_IRQ_ACK    0x64 /* WO: clear these bits; deassert when zero */
#define EDU_REG_DMA_SRC    0x80 /* RW, 64-bit */
#define EDU_REG_DMA_DST    0x88 /* RW, 64-bit */
#define EDU_REG_DMA_COUNT  0x90 /* RW, 64-bit */
#define EDU_REG_DMA_CMD    0x98 /* RW, 64-bit */

#define EDU_STATUS_COMPUTING 0x01u
#define EDU_STATUS_IRQFACT   0x80u
#define EDU_IRQ_FACT         0x00000001u /* raised when a factorial finishes (STATUS bit 7) */
#define EDU_IRQ_DMA          0x00000100u /* raised when a DMA finishes (command bit 2) */
#define EDU_DMA_CMD_START    0x1u
#define EDU_DMA_CMD_TO_RAM   0x2u /* direction: 0 = RAM -> device, 1 = device -> RAM */
#define EDU_DMA_CMD_IRQ      0x4u
#define EDU_DMA_BUF_ADDR     0x40000u /* the device's 4 KiB buffer in its DMA address space */
#define EDU_DMA_BUF_SIZE     4096u
#define EDU_DMA_MASK_BITS    28u

/* EDU_IOC_INFO: what the driver set up. */
struct edu_info {
    __u32 ident;      /* EDU_REG_IDENT at probe */
    __u32 irq_mode;   /* EDU_IRQ_MODE_* */
    __u32 irq;        /* Linux IRQ number */
    __u32 dma_bits;   /* DMA mask the device got (28) */
    __u64 irq_count;  /* interrupts handled since probe */
    __u64 bar0_start; /* physical address of BAR0 */
    __u64 bar0_len;
};
#define EDU_IRQ_MODE_MSI  1u
#define EDU_IRQ_MODE_INTX 2u

/* EDU_IOC_RAISE_WAIT: write `value` to EDU_REG_IRQ_RAISE on the calling CPU and wait until
 * the interrupt handler has seen (and acknowledged) all of its bits. */
struct edu_raise {
    __u32 value;      /* in: non-zero bits to raise */
    __u32 timeout_ms; /* in: 0 means 1000 */
    __u32 seen;       /* out: interrupt status bits the handler acknowledged meanwhile */
    __u32 cpu;        /* out: CPU the raise was written from */
    __u64 irq_count;  /* out: interrupt count after the wait */
};

/* EDU_IOC_FACTORIAL: n! by the device; with EDU_FACT_F_IRQ completion is signalled by the
 * factorial interrupt (STATUS bit 7) instead of polling STATUS bit 0. */
struct edu_factorial {
    __u32 n;          /* in */
    __u32 flags;      /* in: EDU_FACT_F_* */
    __u32 timeout_ms; /* in: 0 means 1000 */
    __u32 result;     /* out */
    __u32 seen;       /* out: interrupt bits seen (EDU_IRQ_FACT with EDU_FACT_F_IRQ) */
    __u32 pad;
};
#define EDU_FACT_F_IRQ 1u

/* EDU_IOC_DMA_TO_DEVICE / EDU_IOC_DMA_FROM_DEVICE: move `len` bytes between a user buffer
 * and the device buffer at `dev_offset`, through a DMA-API coherent buffer. From-device
 * poisons the coherent buffer first, so a DMA that did nothing cannot pass a compare. */
struct edu_dma {
    __u64 user_buf;   /* in: user pointer */
    __u32 len;        /* in: 1..EDU_DMA_BUF_SIZE */
    __u32 dev_offset; /* in: dev_offset + len <= EDU_DMA_BUF_SIZE */
    __u32 flags;      /* in: EDU_DMA_F_* */
    __u32 timeout_ms; /* in: 0 means 2000 */
    __u32 seen;       /* out: interrupt bits seen (EDU_IRQ_DMA with EDU_DMA_F_IRQ) */
    __u32 pad;
    __u64 dma_addr; /* out: bus address of the coherent buffer used */
};
#define EDU_DMA_F_IRQ 1u

#define EDU_IOC_MAGIC           'e'
#define EDU_IOC_INFO            _IOR(EDU_IOC_MAGIC, 1, struct edu_info)
#define EDU_IOC_RAISE_WAIT      _IOWR(EDU_IOC_MAGIC, 2, struct edu_raise)
#define EDU_IOC_FACTORIAL       _IOWR(EDU_IOC_MAGIC, 3, struct edu_factorial)
#define EDU_IOC_DMA_TO_DEVICE   _IOWR(EDU_IOC_MAGIC, 4, struct edu_dma)
#define EDU_IOC_DMA_FROM_DEVICE _IOWR(EDU_IOC_MAGIC, 5, struct edu_dma)

#endif
