/* See testdev.h. */
#include "tests/pci/testdev.h"

#include <string.h>

static void testdev_read(struct device *dev, int bar, uint64_t offset, unsigned size,
                         uint64_t *value)
{
    struct testdev *td = (struct testdev *)dev;
    if (td->n_log < 64)
        td->log[td->n_log++] = (struct testdev_access){0, bar, offset, size, 0};
    /* A recognisable answer: bar in the top byte, offset below. */
    *value = ((uint64_t)(bar + 0xA0) << 56) | offset;
}

static void testdev_write(struct device *dev, int bar, uint64_t offset, unsigned size,
                          uint64_t value)
{
    struct testdev *td = (struct testdev *)dev;
    if (td->n_log < 64)
        td->log[td->n_log++] = (struct testdev_access){1, bar, offset, size, value};
}

static void testdev_cfg_write(struct device *dev, uint16_t offset, unsigned size, uint32_t value)
{
    struct testdev *td = (struct testdev *)dev;
    td->cfg_writes++;
    td->last_cfg_offset = offset;
    td->last_cfg_size = size;
    td->last_cfg_value = value;
}

static void testdev_reset(struct device *dev)
{
    ((struct testdev *)dev)->resets++;
}

void testdev_init(struct testdev *td)
{
    memset(td, 0, sizeof *td);
    td->ops.name = "testdev";
    td->ops.id.vendor_id = 0x1b36;
    td->ops.id.device_id = 0x0005;
    td->ops.id.revision = 0x01;
    td->ops.id.class_code = 0x020000;
    td->ops.id.subsystem_vendor_id = 0x1af4;
    td->ops.id.subsystem_id = 0x1100;
    td->ops.id.interrupt_pin = 1;
    td->ops.read = testdev_read;
    td->ops.write = testdev_write;
    td->ops.cfg_write = testdev_cfg_write;
    td->ops.reset = testdev_reset;
    td->dev.ops = &td->ops;
}

uint32_t fakebus_value(uint16_t bdf, uint16_t offset, unsigned size)
{
    uint32_t v = ((uint32_t)bdf << 16) ^ ((uint32_t)offset << 4) ^ size ^ 0x5A000000u;
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void enter(struct fakebus *fb)
{
    if (__atomic_exchange_n(&fb->busy, 1, __ATOMIC_ACQUIRE))
        __atomic_store_n(&fb->interleaved, 1, __ATOMIC_RELAXED);
    /* Stay "on the bus" long enough for an unlocked second CPU to be caught. */
    for (volatile int i = 0; i < 50; i++)
        ;
}

static void leave(struct fakebus *fb)
{
    __atomic_store_n(&fb->busy, 0, __ATOMIC_RELEASE);
}

static uint32_t fb_cfg_read(void *ctx, uint16_t bdf, uint16_t offset, unsigned size)
{
    struct fakebus *fb = ctx;
    enter(fb);
    fb->reads++;
    fb->last_bdf = bdf;
    fb->last_offset = offset;
    fb->last_size = size;
    uint32_t v = fakebus_value(bdf, offset, size);
    leave(fb);
    return v;
}

static void fb_cfg_write(void *ctx, uint16_t bdf, uint16_t offset, unsigned size, uint32_t value)
{
    struct fakebus *fb = ctx;
    enter(fb);
    fb->writes++;
    fb->last_bdf = bdf;
    fb->last_offset = offset;
    fb->last_size = size;
    fb->last_value = value;
    leave(fb);
}

static uint32_t fb_port_in(void *ctx, uint16_t port, unsigned size)
{
    struct fakebus *fb = ctx;
    fb->port_ins++;
    fb->last_port = port;
    fb->last_size = size;
    return 0x12345678u;
}

static void fb_port_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
    struct fakebus *fb = ctx;
    fb->port_outs++;
    fb->last_port = port;
    fb->last_size = size;
    fb->last_value = value;
}

const struct pci_backend fakebus_backend = {fb_cfg_read, fb_cfg_write, fb_port_in, fb_port_out};

void map_log_record(void *ctx, struct pci_function *fn, int bar, const struct pci_bar_window *old,
                    const struct pci_bar_window *now)
{
    (void)fn;
    struct map_log *ml = ctx;
    if (ml->n < 32)
        ml->ev[ml->n++] = (struct map_event){bar, *old, *now};
}
