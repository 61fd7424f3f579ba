/* QEMU-compatible edu device; see edu.h and docs/devices.md. */
#include "devices/edu.h"

#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"

/* The registers are read without the device lock (edu_plain_read: a guest read of one is a single
 * load, device_plain_load), so each change to one is a single atomic store, made under the lock;
 * release order keeps a register's new value from being seen before an earlier one's (factorial:
 * the result before "computing" clears). Reads under the lock need no atomics: only lock holders
 * store. */
static void edu_set32(uint32_t *reg, uint32_t value)
{
    __atomic_store_n(reg, value, __ATOMIC_RELEASE);
}

static void edu_set64(uint64_t *reg, uint64_t value)
{
    __atomic_store_n(reg, value, __ATOMIC_RELEASE);
}

uint32_t edu_factorial(uint32_t n)
{
    /* n! for n >= 34 has at least 32 factors of two (17 + 8 + 4 + 2 + 1), so it is 0 modulo
     * 2^32: QEMU's loop would spend up to 2^32 multiplications to reach the same answer, which
     * here would stall the CPU inside one VM exit. */
    if (n >= 34)
        return 0;
    uint32_t r = 1;
    while (n > 0)
        r *= n--;
    return r;
}

void edu_init(struct edu *edu, const struct platform_ops *platform, void *platform_ctx)
{
    memset(edu, 0, sizeof *edu);
    edu->dev.ops = &edu_ops;
    edu->dev.platform = platform;
    edu->dev.platform_ctx = platform_ctx;
    edu->dma_mask = EDU_DMA_MASK_DEFAULT;
}

/* --- interrupts (device lock held), as QEMU's edu_raise_irq / edu_lower_irq -------------- */

static void edu_raise_irq(struct edu *edu, uint32_t bits)
{
    struct pci_function *fn = edu->dev.fn;
    edu_set32(&edu->irq_status, edu->irq_status | bits);
    if (!edu->irq_status || !fn)
        return;
    /* With MSI every raise sends a message, even when bits were already pending. */
    if (pci_msi_enabled(fn))
        pci_msi_notify(fn, 0);
    else
        pci_intx_set(fn, 1);
}

static void edu_lower_irq(struct edu *edu, uint32_t bits)
{
    struct pci_function *fn = edu->dev.fn;
    edu_set32(&edu->irq_status, edu->irq_status & ~bits);
    if (!edu->irq_status && fn && !pci_msi_enabled(fn))
        pci_intx_set(fn, 0);
}

/* --- DMA ----------------------------------------------------------------------------------- */

/* [addr, addr + count) inside the 4 KiB buffer at device address 0x40000. QEMU only logs a
 * range outside it and copies anyway (past the end of its buffer); here it is refused. */
static bool edu_dma_in_buffer(uint64_t addr, uint64_t count)
{
    return addr >= EDU_DMA_BUF_ADDR && count <= EDU_DMA_BUF_SIZE &&
           addr - EDU_DMA_BUF_ADDR <= EDU_DMA_BUF_SIZE - count;
}

static void edu_dma_run(struct edu *edu)
{
    bool to_ram = edu->dma_cmd & EDU_DMA_TO_RAM;
    uint64_t dev_addr = to_ram ? edu->dma_src : edu->dma_dst;
    /* The RAM side is clamped to the device's DMA mask, as QEMU's edu_clamp_addr. */
    uint64_t ram_addr = (to_ram ? edu->dma_dst : edu->dma_src) & edu->dma_mask;
    uint64_t count = edu->dma_count;
    const struct platform_ops *p = edu->dev.platform;
    struct pci_function *fn = edu->dev.fn;

    if (!edu_dma_in_buffer(dev_addr, count)) {
        if (!edu->logged_dma_range) {
            edu->logged_dma_range = true;
            log_printf("edu: DMA 0x%llx+0x%llx leaves the buffer 0x40000-0x40fff, rejected\n",
                       (unsigned long long)dev_addr, (unsigned long long)count);
        }
    } else if (!fn || !pci_bus_master_enabled(fn)) {
        /* A function issues no memory transactions while COMMAND.bus-master is clear
         * (PCI 3.0, 6.2.2); QEMU's bus-master address space drops them too. */
        if (!edu->logged_dma_no_master) {
            edu->logged_dma_no_master = true;
            log_printf("edu: DMA with bus mastering disabled, dropped\n");
        }
    } else if (count) {
        uint8_t *buf = edu->dma_buf + (dev_addr - EDU_DMA_BUF_ADDR);
        bool ok = false;
        if (p && to_ram && p->dma_write)
            ok = p->dma_write(edu->dev.platform_ctx, ram_addr, buf, (size_t)count);
        else if (p && !to_ram && p->dma_read)
            ok = p->dma_read(edu->dev.platform_ctx, ram_addr, buf, (size_t)count);
        if (!ok && !edu->logged_dma_refused) {
            edu->logged_dma_refused = true;
            log_printf("edu: DMA %s guest 0x%llx+0x%llx refused (not guest RAM)\n",
                       to_ram ? "to" : "from", (unsigned long long)ram_addr,
                       (unsigned long long)count);
        }
    }

    /* The command completes either way (a driver waiting for the interrupt is not left
     * hanging); a refused transfer simply moved no data. */
    edu_set64(&edu->dma_cmd, edu->dma_cmd & ~(uint64_t)EDU_DMA_RUN);
    if (edu->dma_cmd & EDU_DMA_IRQ)
        edu_raise_irq(edu, EDU_IRQ_DMA);
}

/* --- BAR0 ------------------------------------------------------------------------------------ */

/* QEMU's memory core checks MemoryRegionOps.valid (min 4, max 8, aligned) before edu's
 * handlers run; an access that fails it never reaches the device (memory_region_access_valid):
 * a read returns 0 (unassigned_mem_read) and a write is dropped. */
static bool edu_access_valid(unsigned size, uint64_t offset)
{
    return (size == 4 || size == 8) && !(offset & (size - 1));
}

/* The registers a read returns as they are: all of them (edu's reads have no effect). Offsets
 * it does not list, and 8-byte reads below 0x80, read all ones and are not plain. A 4-byte read
 * of a 64-bit register is its low half: its first four bytes. */
/* Eight bytes, aligned, as every plain register's naturally aligned 8 bytes must be the device's
 * own (device_ops.plain_read): the ID in the low four. */
static const uint64_t edu_id_value __attribute__((aligned(8))) = EDU_ID_VALUE;

static const void *edu_plain_read(struct device *dev, int bar, uint64_t offset, unsigned size)
{
    struct edu *edu = (struct edu *)dev;
    if (bar != 0 || !edu_access_valid(size, offset))
        return 0;
    if (size == 4) {
        switch (offset) {
        case EDU_REG_ID:
            return &edu_id_value;
        case EDU_REG_LIVENESS:
            return &edu->liveness;
        case EDU_REG_FACTORIAL:
            return &edu->fact;
        case EDU_REG_STATUS:
            return &edu->status;
        case EDU_REG_IRQ_STATUS:
            return &edu->irq_status;
        default:
            break;
        }
    }
    switch (offset) {
    case EDU_REG_DMA_SRC:
        return &edu->dma_src;
    case EDU_REG_DMA_DST:
        return &edu->dma_dst;
    case EDU_REG_DMA_COUNT:
        return &edu->dma_count;
    case EDU_REG_DMA_CMD:
        return &edu->dma_cmd;
    default:
        return 0;
    }
}

static void edu_mmio_read(struct device *dev, int bar, uint64_t offset, unsigned size,
                          uint64_t *value)
{
    const void *reg = edu_plain_read(dev, bar, offset, size);
    if (reg)
        *value = device_plain_load(reg, size);
    else if (bar != 0)
        *value = ~0ull;
    else if (!edu_access_valid(size, offset))
        *value = 0;
    else
        *value = size == 4 ? 0xFFFFFFFFu : ~0ull; /* unlisted, or 8 bytes below 0x80 */
}

/* The registers whose write does more than store: factorial, interrupt raise and
 * acknowledge, the DMA command. Out of line, so the plain stores below run without this
 * code's register pressure (every guest write to BAR0 comes through edu_mmio_write). Device
 * lock held. */
__attribute__((noinline)) static void edu_write_with_effect(struct edu *edu, uint64_t offset,
                                                            uint64_t value)
{
    uint32_t v32 = (uint32_t)value;
    switch (offset) {
    case EDU_REG_FACTORIAL:
        if (edu->status & EDU_STATUS_COMPUTING)
            break;
        edu_set32(&edu->fact, v32);
        edu_set32(&edu->status, edu->status | EDU_STATUS_COMPUTING);
        edu_set32(&edu->fact, edu_factorial(v32)); /* completes at once: no worker thread */
        edu_set32(&edu->status, edu->status & ~EDU_STATUS_COMPUTING);
        if (edu->status & EDU_STATUS_IRQFACT)
            edu_raise_irq(edu, EDU_IRQ_FACT);
        break;
    case EDU_REG_IRQ_RAISE:
        edu_raise_irq(edu, v32);
        break;
    case EDU_REG_IRQ_ACK:
        edu_lower_irq(edu, v32);
        break;
    case EDU_REG_DMA_CMD:
        /* A command without the start bit is ignored entirely (the register keeps its old
         * value), as is any command while one is running. */
        if (!(value & EDU_DMA_RUN) || (edu->dma_cmd & EDU_DMA_RUN))
            break;
        edu_set64(&edu->dma_cmd, value);
        edu_dma_run(edu);
        break;
    default:
        break;
    }
}

static void edu_mmio_write(struct device *dev, int bar, uint64_t offset, unsigned size,
                           uint64_t value)
{
    struct edu *edu = (struct edu *)dev;
    if (bar != 0 || !edu_access_valid(size, offset))
        return;
    if (offset < 0x80 && size != 4)
        return;
    if (size == 4)
        value &= 0xFFFFFFFFu; /* a 4-byte write to a 64-bit register zero-extends */
    uint32_t v32 = (uint32_t)value;
    if (offset == EDU_REG_LIVENESS) {
        /* One store to a register no other write reads: no lock to order it against them. */
        edu_set32(&edu->liveness, ~v32);
        return;
    }

    spin_lock(&edu->lock);
    switch (offset) {
    case EDU_REG_STATUS:
        /* Only bit 7 is writable; "computing" belongs to the device. */
        if (v32 & EDU_STATUS_IRQFACT)
            edu_set32(&edu->status, edu->status | EDU_STATUS_IRQFACT);
        else
            edu_set32(&edu->status, edu->status & ~EDU_STATUS_IRQFACT);
        break;
    case EDU_REG_DMA_SRC:
    case EDU_REG_DMA_DST:
    case EDU_REG_DMA_COUNT:
        /* QEMU's dma_rw: registers are frozen while a transfer runs. */
        if (edu->dma_cmd & EDU_DMA_RUN)
            break;
        if (offset == EDU_REG_DMA_SRC)
            edu_set64(&edu->dma_src, value);
        else if (offset == EDU_REG_DMA_DST)
            edu_set64(&edu->dma_dst, value);
        else
            edu_set64(&edu->dma_count, value);
        break;
    default:
        edu_write_with_effect(edu, offset, value);
        break;
    }
    spin_unlock(&edu->lock);
}

static void edu_reset(struct device *dev)
{
    struct edu *edu = (struct edu *)dev;
    spin_lock(&edu->lock);
    edu_set32(&edu->liveness, 0);
    edu_set32(&edu->fact, 0);
    edu_set32(&edu->status, 0);
    edu_set32(&edu->irq_status, 0);
    edu_set64(&edu->dma_src, 0);
    edu_set64(&edu->dma_dst, 0);
    edu_set64(&edu->dma_count, 0);
    edu_set64(&edu->dma_cmd, 0);
    memset(edu->dma_buf, 0, sizeof edu->dma_buf);
    if (edu->dev.fn)
        pci_intx_set(edu->dev.fn, 0);
    spin_unlock(&edu->lock);
}

const struct device_ops edu_ops = {
    .name = "edu",
    .id =
        {
            .vendor_id = EDU_VENDOR_ID,
            .device_id = EDU_DEVICE_ID,
            .revision = 0x10,
            .class_code = 0x00ff00,        /* PCI_CLASS_OTHERS */
            .subsystem_vendor_id = 0x1af4, /* QEMU's default subsystem (Red Hat / Qumranet) */
            .subsystem_id = 0x1100,
            .interrupt_pin = 1, /* INTA# */
        },
    .bars = {[0] = {.size = EDU_BAR0_SIZE, .kind = PCI_BAR_MEM32}},
    .msi_vectors = 1,
    .msi_64bit = true,
    .read = edu_mmio_read,
    .write = edu_mmio_write,
    .plain_read = edu_plain_read,
    .cfg_write = NULL,
    .reset = edu_reset,
};
