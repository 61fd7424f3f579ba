/* The statistics function; see statsdev.h. */
#include "devices/statsdev.h"

#include "lib/string.h"

static void statsdev_mmio_read(struct device *dev, int bar, uint64_t offset, unsigned size,
                               uint64_t *value)
{
    struct statsdev *sd = (struct statsdev *)dev;
    *value = ~0ull;
    if (bar != 0 || size == 0 || size > 8 || offset >= STATSDEV_BAR0_SIZE ||
        size > STATSDEV_BAR0_SIZE - offset)
        return;
    if (offset + size <= sizeof(struct tv_stats)) {
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= (uint64_t)sd->pages[offset + i] << (8 * i);
        *value = v;
    } else if (offset >= TV_STATS_CTRL_OFFSET && offset + size <= TV_STATS_CTRL_OFFSET + 4) {
        *value = 0; /* the control register is write-only */
    }
}

static void statsdev_mmio_write(struct device *dev, int bar, uint64_t offset, unsigned size,
                                uint64_t value)
{
    struct statsdev *sd = (struct statsdev *)dev;
    if (bar != 0 || offset != TV_STATS_CTRL_OFFSET || size != 4)
        return; /* the statistics are read-only: other writes are dropped */
    if ((uint32_t)value == TV_STATS_CTRL_RESET && sd->reset_stats) {
        __atomic_add_fetch(&sd->resets, 1, __ATOMIC_RELAXED);
        sd->reset_stats(sd->reset_ctx);
    }
}

static void statsdev_reset(struct device *dev)
{
    (void)dev; /* no register state besides the counters, which a device reset keeps */
}

const struct device_ops statsdev_ops = {
    .name = "stats",
    .id =
        {
            .vendor_id = TV_STATS_PCI_VENDOR,
            .device_id = TV_STATS_PCI_DEVICE,
            .revision = 1,
            .class_code = 0x118000, /* data acquisition and signal processing, other */
            .subsystem_vendor_id = TV_STATS_PCI_VENDOR,
            .subsystem_id = TV_STATS_PCI_DEVICE,
            .interrupt_pin = 0,
        },
    .bars = {[0] = {.size = STATSDEV_BAR0_SIZE, .kind = PCI_BAR_MEM32, .backed = true}},
    .read = statsdev_mmio_read,
    .write = statsdev_mmio_write,
    .reset = statsdev_reset,
};

void statsdev_init(struct statsdev *sd, const struct tv_stats *pages,
                   void (*reset_stats)(void *ctx), void *reset_ctx)
{
    memset(sd, 0, sizeof *sd);
    sd->dev.ops = &statsdev_ops;
    sd->pages = (const volatile uint8_t *)pages;
    sd->reset_stats = reset_stats;
    sd->reset_ctx = reset_ctx;
}
